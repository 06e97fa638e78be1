// The registry flags shared by `scan` and `ls`: TLS, credentials (AWS ones for ECR included), and
// how blobs are downloaded.
#ifndef LAYERSIFT_TOOLS_REGISTRY_FLAGS_H_
#define LAYERSIFT_TOOLS_REGISTRY_FLAGS_H_

#include <CLI/CLI.hpp>

#include <string>

#include "aws_flags.h"
#include "layersift/fetch/registry_client.h"

namespace layersift {

struct RegistryFlags {
  bool plain_http = false;
  bool insecure_tls = false;
  std::string username;
  bool password_stdin = false;
  unsigned fetch_connections = 4;
  std::string range_size = "16MiB";
  int max_retries = 5;
  double stall_timeout_seconds = 30;
  double retry_backoff_seconds = 0.5;
  bool ecr_public_auth = false;
  AwsFlags aws;

  void AddTo(CLI::App& app);
  // The HTTP options alone (for `ecr` commands, which download nothing).
  HttpOptions Http() const;

  // The client options; reads the password from stdin when --password-stdin was given. Throws
  // std::invalid_argument for inconsistent flags.
  RegistryOptions Options() const;
};

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_REGISTRY_FLAGS_H_
