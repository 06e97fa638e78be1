// AWS access for ECR: the credential chain in the AWS SDKs' order, a cross-account role on top of
// it, region and endpoint resolution (with the SDKs' endpoint overrides), and signed calls to the
// JSON 1.1 and query protocols. Credentials never appear in messages or logs.
#ifndef LAYERSIFT_FETCH_AWS_H_
#define LAYERSIFT_FETCH_AWS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "layersift/fetch/http_options.h"

namespace layersift {

struct AwsOptions {
  std::string profile;            // --aws-profile; else $AWS_PROFILE, else "default"
  std::string region;             // --aws-region; else $AWS_REGION, $AWS_DEFAULT_REGION, the profile, IMDS
  // --aws-role-arn: a role assumed with whatever the chain found (a cross-account role), with
  // --aws-external-id when its trust policy asks for one.
  std::string role_arn;
  std::string external_id;
  std::string role_session_name;  // default "layersift-<unix time>"
  HttpOptions http;
};

using AwsClock = std::chrono::system_clock;

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;                       // temporary credentials only
  std::optional<AwsClock::time_point> expiration;  // none for long-term keys
  std::string source;  // where they came from, e.g. "environment", "profile dev (role_arn)"
};

// An AWS answer that is an error, or a credential source that failed. code() is AWS's error code
// ("AccessDeniedException", "ExpiredToken") or "" for errors of layersift's own (no answer, a
// malformed file); aws_message() AWS's message as sent. what() says all of it in one line.
class AwsError : public std::runtime_error {
 public:
  AwsError(const std::string& what, std::string code = "", std::string aws_message = "", long status = 0)
      : std::runtime_error(what), code_(std::move(code)), aws_message_(std::move(aws_message)), status_(status) {}
  const std::string& code() const { return code_; }
  const std::string& aws_message() const { return aws_message_; }
  long status() const { return status_; }
  // Invalid, deactivated or expired keys and signatures: retrying cannot help.
  bool IsCredentialError() const;
  bool IsAccessDenied() const;

 private:
  std::string code_;
  std::string aws_message_;
  long status_;
};

struct AwsIdentity {
  std::string account;
  std::string arn;
  std::string user_id;
};

// Resolves credentials lazily (the first call that needs them), caches them and refreshes
// temporary ones before they expire, so that a scan of many hours never signs with expired
// credentials. Thread-safe; a refresh blocks the callers that need it.
class AwsSession {
 public:
  explicit AwsSession(AwsOptions options);
  ~AwsSession();
  AwsSession(const AwsSession&) = delete;
  AwsSession& operator=(const AwsSession&) = delete;

  // The region: the option, the environment, the profile's `region`, then EC2 instance metadata.
  // Throws AwsError telling how to set one when none is found.
  std::string Region();
  // Current credentials, refreshed when they are within their refresh margin of expiring. Throws
  // AwsError naming each source tried when no source has credentials.
  AwsCredentials Credentials();
  // Forgets cached credentials (after an answer said they expired early).
  void InvalidateCredentials();
  // How often credentials were obtained (first time and refreshes): for tests and --stats.
  uint64_t credential_fetches() const;

  // A signed JSON 1.1 call: POST `body` to `service`'s endpoint for `region` (its FIPS one when
  // `fips`) with X-Amz-Target `target` ("AmazonEC2ContainerRegistry_V20150921.ListImages").
  // `service` is the SigV4 signing name and the endpoint's service id: "ecr", "ecr-public".
  // Returns the answer body; throws AwsError for an error answer (throttling is retried with
  // backoff first; credentials that AWS says expired are refreshed and the call made once more).
  std::string CallJson(const std::string& service, const std::string& region, const std::string& target,
                       const std::string& body, bool fips = false);
  // sts:GetCallerIdentity with the session's credentials.
  AwsIdentity GetCallerIdentity();

  // The https://... endpoint of a service in a region, after overrides (AWS_ENDPOINT_URL_<ID>,
  // AWS_ENDPOINT_URL; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns them off). Services: "sts" (the
  // global endpoint for an empty region), "ecr", "ecr-public"; China regions get .amazonaws.com.cn.
  static std::string Endpoint(const std::string& service, const std::string& region, bool fips = false);

  const AwsOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_AWS_H_
