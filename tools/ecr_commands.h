// The `layersift ecr` subcommands (repos, images, verify) and the expansion of perimeters
// (`scan ecr://ACCOUNT/REGION`, `scan registry://HOST[/PREFIX]`) into the images a scan covers.
#ifndef LAYERSIFT_TOOLS_ECR_COMMANDS_H_
#define LAYERSIFT_TOOLS_ECR_COMMANDS_H_

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "aws_flags.h"
#include "layersift/engine/scanner.h"
#include "layersift/fetch/ecr.h"

namespace layersift {

// The perimeter flags of `scan`.
struct PerimeterFlags {
  std::vector<std::string> include_repositories;
  std::vector<std::string> exclude_repositories;
  std::string tags = "latest";
  bool untagged = false;  // ECR only
  std::string since;      // ECR only; as given (YYYY-MM-DD or an ISO 8601 UTC time), "" = none

  void AddTo(CLI::App& app);
  bool Given() const;
};

// What `scan` does with its targets before scanning: perimeters replaced by the images they
// cover; the images not scanned (archived in ECR, repositories without `latest`) and perimeters
// or repositories that could not be listed are kept to be added to the result.
struct ExpandedTargets {
  std::vector<std::string> specs;
  struct Left {
    std::string spec;
    std::string message;  // skip reason or error
    bool error = false;
  };
  std::vector<Left> left_out;
  // Adds the left-out ones to `result` as targets with a skip or an error.
  void AddTo(ScanResult& result) const;
};

// Replaces perimeter targets (ecr://, a bare ECR host, registry://) by the images they cover,
// listing each registry on every call. Throws std::invalid_argument, before anything is listed,
// for a malformed perimeter, perimeter flags without a perimeter target, a malformed --since, and
// --untagged or --since with a registry:// perimeter. A perimeter that cannot be listed is an
// error of that target only.
ExpandedTargets ExpandPerimeters(const std::vector<std::string>& specs, const PerimeterFlags& flags,
                                 const RegistryOptions& registry, bool quiet);

class EcrCommands {
 public:
  void AddTo(CLI::App& app);
  // Runs the subcommand that was parsed; returns the exit code, or -1 if none of ours ran.
  int Run();

 private:
  struct Where {
    std::string region;
    std::string account;  // "" = the caller's
    bool fips = false;
    std::string label;    // for messages
  };
  Where Resolve(AwsSession& session) const;
  std::shared_ptr<AwsSession> Session() const;
  int Repos();
  int Images();
  int Verify();

  CLI::App* repos_ = nullptr;
  CLI::App* images_ = nullptr;
  CLI::App* verify_ = nullptr;
  AwsFlags aws_;
  std::string registry_;
  std::string repository_;
  std::string format_ = "text";
  std::string tag_status_ = "any";
  int max_retries_ = 5;
  double retry_backoff_seconds_ = 0.5;
};

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_ECR_COMMANDS_H_
