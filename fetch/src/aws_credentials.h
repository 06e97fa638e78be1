// The sources of AWS credentials and the chain that picks one, in the AWS SDKs' order:
// environment, shared profiles (static keys, or a role assumed from a source profile or a
// credential_source), web identity, container credentials (ECS, EKS Pod Identity), EC2 IMDSv2.
#ifndef LAYERSIFT_FETCH_AWS_CREDENTIALS_H_
#define LAYERSIFT_FETCH_AWS_CREDENTIALS_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "aws_config_file.h"
#include "http_client.h"
#include "layersift/fetch/aws.h"

namespace layersift {

class AwsCredentialSource {
 public:
  virtual ~AwsCredentialSource() = default;
  // Fresh credentials from the source. Throws AwsError naming the source when it fails.
  virtual AwsCredentials Fetch() = 0;
};

// A source with its credentials cached until they come within their refresh margin of expiring:
// the smaller of five minutes and half their lifetime, so that short-lived ones (minutes, in
// tests) are refreshed too. When a refresh fails while the cached ones are still valid, those are
// used and the refresh is tried again on the next call.
class CachedCredentials {
 public:
  explicit CachedCredentials(std::unique_ptr<AwsCredentialSource> source);
  AwsCredentials Get();
  void Invalidate();
  uint64_t fetches() const;

 private:
  std::unique_ptr<AwsCredentialSource> source_;
  mutable std::mutex mutex_;  // held across a fetch: concurrent callers wait for its result
  std::optional<AwsCredentials> current_;
  AwsClock::time_point refresh_at_;
  uint64_t fetches_ = 0;
};

// What the STS calls of the sources need from the session: its HTTP client and a region.
struct StsContext {
  const HttpClient* http = nullptr;
  std::function<std::string()> region;  // "" = the global endpoint (us-east-1)
};

// The chain for `options` (its profile, then role_arn on top when set). Throws AwsError listing
// every source tried when none has credentials.
std::unique_ptr<AwsCredentialSource> MakeCredentialChain(const AwsOptions& options, const AwsSharedConfig& config,
                                                         StsContext sts);

// sts:AssumeRole signed with `source`'s credentials: temporary credentials of the role.
AwsCredentials AssumeRole(const StsContext& sts, const AwsCredentials& source, const std::string& role_arn,
                          const std::string& session_name, const std::string& external_id, int duration_seconds);

// The default role session name: "layersift-<unix seconds>".
std::string DefaultRoleSessionName();

// The EC2 instance metadata endpoint ($AWS_EC2_METADATA_SERVICE_ENDPOINT or
// http://169.254.169.254), or "" when $AWS_EC2_METADATA_DISABLED is true.
std::string ImdsEndpoint();
// An IMDSv2 session token (PUT /latest/api/token). Throws AwsError.
std::string ImdsToken(const HttpClient& http, const std::string& endpoint);

// The timeouts of a link-local metadata service: off EC2 nothing answers, and that must cost a
// second, not the registry timeouts.
HttpOptions MetadataHttpOptions(const HttpOptions& base);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_AWS_CREDENTIALS_H_
