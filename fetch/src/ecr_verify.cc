#include <functional>
#include <nlohmann/json.hpp>

#include "layersift/fetch/ecr.h"

namespace layersift {
namespace {

using nlohmann::json;

constexpr const char* kProbeRepository = "layersift-verify-probe";
constexpr const char* kProbeDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

std::string Partition(const std::string& region) {
  if (region.rfind("cn-", 0) == 0) return "aws-cn";
  if (region.rfind("us-gov-", 0) == 0) return "aws-us-gov";
  return "aws";
}

// Actions whose IAM resource is "*": they are not about one repository.
bool IsRegistryWide(const std::string& action) {
  return action == "ecr:GetAuthorizationToken" || action == "ecr:DescribeRepositories";
}

// Answers that come after AWS has authorised the call: the action is allowed, the thing asked
// for just is not there (the probe asks for made-up images and layers on purpose).
bool ProvesAllowed(const AwsError& e) {
  return e.code() == "RepositoryNotFoundException" || e.code() == "ImageNotFoundException" ||
         e.code() == "LayersNotFoundException" || e.code() == "LayerInaccessibleException";
}

void Classify(const AwsError& e, EcrPermissionProbe& probe) {
  const std::string& message = e.aws_message();
  if (e.IsAccessDenied()) {
    if (message.find("service control policy") != std::string::npos) {
      probe.denial = EcrPermissionProbe::Denial::kServiceControlPolicy;
      probe.detail = "denied by an explicit deny in a service control policy (SCP) of the AWS Organization: "
                     "an administrator of the organization must change it";
    } else if (message.find("resource-based policy") != std::string::npos) {
      probe.denial = EcrPermissionProbe::Denial::kResourcePolicy;
      probe.detail = "denied by the repository policy: it must allow this principal";
    } else {
      probe.denial = EcrPermissionProbe::Denial::kIdentityPolicy;
      probe.detail = "denied: no identity-based policy allows it";
    }
  } else {
    probe.denial = EcrPermissionProbe::Denial::kError;
    probe.detail = e.what();
  }
}

}  // namespace

bool EcrVerification::AllAllowed() const {
  if (!credentials_valid || !repository_found) return false;
  for (const EcrPermissionProbe& probe : probes) {
    if (!probe.allowed) return false;
  }
  return true;
}

const std::vector<std::string>& EcrScanActions() {
  static const std::vector<std::string> actions = {
      "ecr:GetAuthorizationToken", "ecr:DescribeRepositories", "ecr:ListImages",
      "ecr:DescribeImages",        "ecr:BatchGetImage",        "ecr:GetDownloadUrlForLayer"};
  return actions;
}

EcrVerification VerifyEcrAccess(const std::shared_ptr<AwsSession>& session, const std::string& region,
                                const std::string& account, const std::string& repository) {
  EcrVerification verification;
  verification.region = region;
  try {
    verification.identity = session->GetCallerIdentity();
    verification.credential_source = session->Credentials().source;
    verification.credentials_valid = true;
  } catch (const AwsError& e) {
    verification.credentials_error = std::string("credentials verification failed: ") + e.what();
    return verification;
  }
  verification.account = account.empty() ? verification.identity.account : account;
  EcrClient client(session, region, account);
  verification.repository = repository;
  const bool repository_given = !repository.empty();
  EcrImageId image{"", ""};
  std::string layer_digest = kProbeDigest;

  const auto probe = [&](const std::string& action, const std::function<void()>& call) {
    EcrPermissionProbe result;
    result.action = action;
    try {
      call();
      result.allowed = true;
      result.detail = "allowed";
    } catch (const AwsError& e) {
      if (ProvesAllowed(e)) {
        result.allowed = true;
        result.detail = "allowed";
        if (e.code() == "RepositoryNotFoundException" && repository_given) {
          verification.repository_found = false;
          result.detail = "allowed, but repository " + verification.repository + " not found in " + region;
        }
      } else {
        Classify(e, result);
      }
    }
    verification.probes.push_back(std::move(result));
  };

  probe("ecr:GetAuthorizationToken", [&] { client.GetAuthorizationToken(); });
  probe("ecr:DescribeRepositories", [&] {
    const std::vector<EcrRepository> repositories = client.DescribeRepositories();
    if (!repository_given && !repositories.empty()) verification.repository = repositories.front().name;
  });
  if (verification.repository.empty()) verification.repository = kProbeRepository;
  probe("ecr:ListImages", [&] {
    for (const EcrImageId& id : client.ListImages(verification.repository)) {
      image = id;
      break;
    }
  });
  probe("ecr:DescribeImages", [&] { client.DescribeImages(verification.repository); });
  probe("ecr:BatchGetImage", [&] {
    const std::string manifest =
        client.BatchGetImage(verification.repository, image.digest.empty() && image.tag.empty()
                                                          ? EcrImageId{kProbeDigest, ""}
                                                          : image);
    const json parsed = json::parse(manifest, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.contains("config") && parsed["config"].is_object() &&
        parsed["config"].contains("digest") && parsed["config"]["digest"].is_string()) {
      layer_digest = parsed["config"]["digest"];
    }
  });
  probe("ecr:GetDownloadUrlForLayer",
        [&] { client.GetDownloadUrlForLayer(verification.repository, layer_digest); });
  return verification;
}

std::string EcrIdentityPolicy(const std::vector<std::string>& actions, const std::string& region,
                              const std::string& account) {
  json registry_wide = json::array();
  json repository_scoped = json::array();
  for (const std::string& action : actions) (IsRegistryWide(action) ? registry_wide : repository_scoped).push_back(action);
  json statements = json::array();
  if (!registry_wide.empty()) {
    statements.push_back({{"Sid", "LayersiftRegistryWide"}, {"Effect", "Allow"}, {"Action", registry_wide},
                          {"Resource", "*"}});
  }
  if (!repository_scoped.empty()) {
    statements.push_back({{"Sid", "LayersiftReadRepositories"},
                          {"Effect", "Allow"},
                          {"Action", repository_scoped},
                          {"Resource", "arn:" + Partition(region) + ":ecr:" + region + ":" + account + ":repository/*"}});
  }
  return json{{"Version", "2012-10-17"}, {"Statement", statements}}.dump(2);
}

std::string EcrRepositoryPolicy(const std::vector<std::string>& actions, const std::string& principal_arn) {
  // A policy names the role, not one of its sessions:
  // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION becomes arn:aws:iam::ACCOUNT:role/ROLE.
  std::string principal = principal_arn;
  const size_t assumed = principal.find(":assumed-role/");
  if (principal.find(":sts::") != std::string::npos && assumed != std::string::npos) {
    const std::string role = principal.substr(assumed + 14, principal.find('/', assumed + 14) - (assumed + 14));
    principal = principal.substr(0, assumed) + ":role/" + role;
    principal.replace(principal.find(":sts::"), 6, ":iam::");
  }
  json repository_scoped = json::array();
  for (const std::string& action : actions) {
    if (!IsRegistryWide(action)) repository_scoped.push_back(action);
  }
  return json{{"Version", "2012-10-17"},
              {"Statement",
               json::array({{{"Sid", "LayersiftScanner"},
                             {"Effect", "Allow"},
                             {"Principal", {{"AWS", principal}}},
                             {"Action", repository_scoped}}})}}
      .dump(2);
}

}  // namespace layersift
