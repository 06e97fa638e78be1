// The AWS flags shared by `scan`, `ls` and `ecr`: which credentials, region and role to use.
#ifndef LAYERSIFT_TOOLS_AWS_FLAGS_H_
#define LAYERSIFT_TOOLS_AWS_FLAGS_H_

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "layersift/fetch/aws.h"

namespace layersift {

struct AwsFlags {
  std::string profile;
  std::string region;
  std::string role_arn;
  std::string external_id;
  std::string role_session_name;

  void AddTo(CLI::App& app);
  // A session (nothing is resolved until a call needs it). Throws std::invalid_argument for
  // inconsistent flags.
  std::shared_ptr<AwsSession> Session(const HttpOptions& http) const;
};

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_AWS_FLAGS_H_
