// Amazon ECR: registry host names, the ECR API (JSON 1.1, SigV4-signed through an AwsSession),
// registry logins from GetAuthorizationToken, and perimeters (which images of a registry a scan
// covers).
#ifndef LAYERSIFT_FETCH_ECR_H_
#define LAYERSIFT_FETCH_ECR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layersift/fetch/aws.h"

namespace layersift {

// A private ECR registry host: ACCOUNT.dkr.ecr.REGION.amazonaws.com, .amazonaws.com.cn in the
// China partition, ACCOUNT.dkr.ecr-fips.REGION.amazonaws.com (FIPS), ACCOUNT.dkr-ecr.REGION.on.aws
// (dual-stack); GovCloud regions (us-gov-west-1) have the same shapes.
struct EcrRegistryHost {
  std::string account;
  std::string region;
  bool fips = false;
  bool dual_stack = false;
};
std::optional<EcrRegistryHost> ParseEcrRegistryHost(const std::string& host);
// The standard host of a registry: ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn].
std::string EcrRegistryHostName(const std::string& account, const std::string& region);
inline constexpr const char* kEcrPublicHost = "public.ecr.aws";
// ECR Public's API lives in one region.
inline constexpr const char* kEcrPublicRegion = "us-east-1";

// The perimeter a scan names: ecr://ACCOUNT/REGION, or a registry host (ecr://HOST or a bare
// ECR host). nullopt when `spec` is neither; AwsError for an ecr:// spec that is malformed.
std::optional<EcrRegistryHost> ParseEcrPerimeterSpec(const std::string& spec);

struct EcrRepository {
  std::string name;
  std::string uri;
  std::string arn;
  double created_at = 0;  // unix seconds
  std::string tag_mutability;
};

struct EcrImageId {
  std::string digest;
  std::string tag;  // "" for an untagged image
};

struct EcrImage {
  std::string repository;
  std::string digest;
  std::vector<std::string> tags;
  uint64_t size_bytes = 0;
  double pushed_at = 0;  // unix seconds
  std::string manifest_media_type;
  std::string artifact_media_type;
  std::string status;  // "ACTIVE", "ARCHIVED", ... ("" when ECR does not say)
};

// Basic credentials for a registry and where to send them.
struct EcrAuthorization {
  std::string username;
  std::string password;
  std::string endpoint;          // proxyEndpoint: "https://ACCOUNT.dkr.ecr.REGION.amazonaws.com"
  AwsClock::time_point expires;  // expiresAt
};

// The ECR API of one region (and registry id: another account's registry, for cross-account
// access; "" = the caller's). Every call pages through nextToken to the end. Thread-safe.
class EcrClient {
 public:
  EcrClient(std::shared_ptr<AwsSession> session, std::string region, std::string registry_id = "", bool fips = false);

  EcrAuthorization GetAuthorizationToken();
  std::vector<EcrRepository> DescribeRepositories();
  // tag_status: "ANY", "TAGGED" or "UNTAGGED".
  std::vector<EcrImage> DescribeImages(const std::string& repository, const std::string& tag_status = "ANY");
  std::vector<EcrImageId> ListImages(const std::string& repository, const std::string& tag_status = "ANY");
  // The manifest of one image (BatchGetImage); AwsError "ImageNotFoundException" when it has none.
  std::string BatchGetImage(const std::string& repository, const EcrImageId& image);
  // A presigned download URL for a layer (GetDownloadUrlForLayer).
  std::string GetDownloadUrlForLayer(const std::string& repository, const std::string& layer_digest);
  // ecr-public:GetAuthorizationToken (always in us-east-1) for public.ecr.aws.
  static EcrAuthorization GetPublicAuthorizationToken(AwsSession& session);

  static constexpr int kPageSize = 1000;  // the API's maximum maxResults

  const std::string& region() const { return region_; }
  const std::string& registry_id() const { return registry_id_; }

 private:
  std::string Call(const std::string& action, const std::string& body);

  std::shared_ptr<AwsSession> session_;
  std::string region_;
  std::string registry_id_;
  bool fips_;
};

// Which images of a registry a perimeter scan covers.
struct EcrPerimeterOptions {
  // Repository name globs (fnmatch: `*` also matches '/'). No includes = every repository.
  std::vector<std::string> include_repositories;
  std::vector<std::string> exclude_repositories;
  // false ("latest"): per repository the image tagged `latest`, or else the most recently pushed
  // tagged image; true ("all"): every tagged image, each digest once.
  bool all_tags = false;
  bool untagged = false;  // also every untagged image
  // Unix seconds; 0 = no limit. Of the images chosen above, those pushed (imagePushedAt) before
  // this are left out of the perimeter and only counted: it narrows what the tags chose rather
  // than what they choose from, so "latest" stays the image tagged `latest` and is left out when
  // that image is older. An image whose push time ECR does not give is kept: unknown is not old.
  double pushed_since = 0;
};

struct EcrPerimeterImage {
  std::string repository;
  std::string digest;
  std::vector<std::string> tags;
  std::string reference;    // HOST/REPOSITORY@DIGEST: what is scanned
  std::string skip_reason;  // not empty: reported as skipped, not scanned (archived images)
};

struct EcrPerimeter {
  std::string host;                       // the registry host references use
  std::vector<std::string> repositories;  // chosen, in name order
  std::vector<EcrPerimeterImage> images;  // chosen (and skipped), by repository then push time
  size_t images_pushed_before = 0;        // chosen, but left out by pushed_since
};

EcrPerimeter ResolveEcrPerimeter(EcrClient& client, const std::string& host, const EcrPerimeterOptions& options);

// `layersift ecr verify`: whether the credentials can do what a scan needs.
struct EcrPermissionProbe {
  std::string action;  // "ecr:ListImages"
  bool allowed = false;
  // Why: "allowed", or how it was denied ("no identity-based policy allows it", "an explicit
  // deny in a service control policy", "the repository policy"), or the error.
  std::string detail;
  enum class Denial { kNone, kIdentityPolicy, kServiceControlPolicy, kResourcePolicy, kError } denial = Denial::kNone;
};

struct EcrVerification {
  bool credentials_valid = false;
  std::string credentials_error;  // "credentials verification failed: ..." when not valid
  AwsIdentity identity;
  std::string credential_source;
  std::string region;
  std::string account;     // the registry's account
  std::string repository;  // the repository the repository-scoped actions were tried on
  bool repository_found = true;
  std::vector<EcrPermissionProbe> probes;  // in the order a scan needs them
  bool AllAllowed() const;
};

// The actions a scan needs, in the order it needs them.
const std::vector<std::string>& EcrScanActions();

// Calls sts:GetCallerIdentity, then tries each action of EcrScanActions() against `repository`
// (or the first repository the registry lists, or a made-up name: AWS checks permissions before
// existence, so "not found" still proves the action allowed). Never throws for AWS answers: they
// end up in the result. `account` "" = the caller's.
EcrVerification VerifyEcrAccess(const std::shared_ptr<AwsSession>& session, const std::string& region,
                                const std::string& account, const std::string& repository);

// The least-privilege IAM identity policy (JSON) that allows `actions` on the registry's
// repositories (GetAuthorizationToken and DescribeRepositories need Resource "*").
std::string EcrIdentityPolicy(const std::vector<std::string>& actions, const std::string& region,
                              const std::string& account);
// A repository policy statement (JSON) that lets `principal_arn` do `actions` on the repository.
std::string EcrRepositoryPolicy(const std::vector<std::string>& actions, const std::string& principal_arn);

// Whether a repository name matches a glob (fnmatch without flags: `*` also matches '/').
bool RepositoryGlobMatch(const std::string& glob, const std::string& name);
// Whether a perimeter takes the repository `name`: it matches one of `include` (or `include` is
// empty) and none of `exclude`. ECR and plain-registry perimeters choose their repositories by
// this one rule, so --include-repo and --exclude-repo mean the same for both.
bool RepositoryChosen(const std::vector<std::string>& include,
                      const std::vector<std::string>& exclude, const std::string& name);

// The DATE of `scan --since`: YYYY-MM-DD (midnight UTC) or an ISO 8601 UTC time
// ("2026-01-01T12:00:00Z", also with fractional seconds, which are dropped, or "+00:00"), as unix
// seconds. nullopt when it is neither, or names no real day or time (2026-02-30, 2026-1-1).
std::optional<double> ParseUtcDateTime(const std::string& text);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_ECR_H_
