#include "ecr_commands.h"

#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "exit_codes.h"
#include "size_parse.h"
#include "registry_perimeter.h"

namespace layersift {
namespace {

using nlohmann::ordered_json;

std::string IsoTime(double unix_seconds) {
  if (unix_seconds <= 0) return "";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}


std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : separator) + item;
  return joined;
}

// A repository the API does not know: the message users need names the region, because a wrong
// region is the usual cause.
[[noreturn]] void RethrowRepositoryError(const AwsError& e, const std::string& repository, const std::string& region) {
  if (e.code() == "RepositoryNotFoundException") {
    throw AwsError("repository " + repository + " not found in " + region +
                       " (is the region right? give --aws-region or a registry host)",
                   e.code(), e.aws_message(), e.status());
  }
  throw e;
}

const char* DenialName(EcrPermissionProbe::Denial denial) {
  switch (denial) {
    case EcrPermissionProbe::Denial::kNone: return "";
    case EcrPermissionProbe::Denial::kIdentityPolicy: return "identity-policy";
    case EcrPermissionProbe::Denial::kServiceControlPolicy: return "service-control-policy";
    case EcrPermissionProbe::Denial::kResourcePolicy: return "repository-policy";
    case EcrPermissionProbe::Denial::kError: return "error";
  }
  return "";
}

// What went into the targets from one perimeter, for its summary line.
struct PerimeterCounts {
  size_t scanned = 0;
  size_t skipped = 0;
  size_t failed = 0;
};

// Adds one image (or repository) of a perimeter: scanned, or left out with a reason or an error.
void AddPerimeterEntry(const std::string& reference, const std::string& skip_reason,
                       const std::string& error, ExpandedTargets& expanded,
                       PerimeterCounts& counts) {
  const std::string spec = "docker://" + reference;
  if (!error.empty()) {
    expanded.left_out.push_back({spec, error, true});
    ++counts.failed;
  } else if (!skip_reason.empty()) {
    expanded.left_out.push_back({spec, skip_reason, false});
    ++counts.skipped;
  } else {
    expanded.specs.push_back(spec);
    ++counts.scanned;
  }
}

// One line on stderr per perimeter: what it came to before the scan starts. `more` is appended.
void PrintPerimeterSummary(const std::string& spec, size_t repositories,
                           const PerimeterCounts& counts, const std::string& more) {
  std::string line = "layersift: " + spec + ": " + std::to_string(repositories) +
                     " repositories, " + std::to_string(counts.scanned) + " images to scan, " +
                     std::to_string(counts.skipped) + " skipped";
  if (counts.failed > 0) line += ", " + std::to_string(counts.failed) + " repositories not listed";
  std::fprintf(stderr, "%s%s\n", line.c_str(), more.c_str());
}

// `since`: the --since text, for the summary ("" = not given).
void ExpandEcrPerimeter(const std::string& spec, const EcrRegistryHost& registry,
                        const EcrPerimeterOptions& options, const std::string& since,
                        const std::shared_ptr<AwsSession>& session, bool quiet,
                        ExpandedTargets& expanded) {
  // A perimeter given as a host keeps that host (FIPS, dual-stack) in its references.
  const std::string bare = spec.rfind("ecr://", 0) == 0 ? spec.substr(6) : spec;
  const std::string host = bare.find('/') == std::string::npos
                               ? bare
                               : EcrRegistryHostName(registry.account, registry.region);
  try {
    EcrClient client(session, registry.region, registry.account, registry.fips);
    const EcrPerimeter perimeter = ResolveEcrPerimeter(client, host, options);
    PerimeterCounts counts;
    for (const EcrPerimeterImage& image : perimeter.images) {
      AddPerimeterEntry(image.reference, image.skip_reason, "", expanded, counts);
    }
    if (!quiet) {
      const std::string older = since.empty()
                                    ? ""
                                    : ", " + std::to_string(perimeter.images_pushed_before) +
                                          " pushed before --since " + since;
      PrintPerimeterSummary(spec, perimeter.repositories.size(), counts, older);
    }
  } catch (const AwsError& e) {
    expanded.left_out.push_back(
        {spec, std::string("cannot list the ECR perimeter: ") + e.what(), true});
  }
}

void ExpandRegistryPerimeter(const std::string& spec, const RegistryPerimeterSpec& where,
                             const RegistryPerimeterOptions& options, RegistryClient& client,
                             bool quiet, ExpandedTargets& expanded) {
  try {
    const RegistryPerimeter perimeter = ResolveRegistryPerimeter(client, where, options);
    PerimeterCounts counts;
    for (const RegistryPerimeterImage& image : perimeter.images) {
      AddPerimeterEntry(image.reference, image.skip_reason, image.error, expanded, counts);
    }
    if (!quiet) PrintPerimeterSummary(spec, perimeter.repositories.size(), counts, "");
  } catch (const RegistryError& e) {
    expanded.left_out.push_back(
        {spec, std::string("cannot list the registry perimeter: ") + e.what(), true});
  }
}

}  // namespace

void PerimeterFlags::AddTo(CLI::App& app) {
  const std::string group = "Perimeters (scan ecr://ACCOUNT/REGION or registry://HOST[/PREFIX])";
  app.add_option("--include-repo", include_repositories,
                 "Scan only repositories whose name matches this glob (`*` also matches `/`; "
                 "repeatable; default: every repository, new ones included)")
      ->allow_extra_args(false)
      ->group(group);
  app.add_option("--exclude-repo", exclude_repositories,
                 "Do not scan repositories whose name matches this glob (repeatable; wins over "
                 "--include-repo)")
      ->allow_extra_args(false)
      ->group(group);
  app.add_option("--tags", tags,
                 "latest (default): per repository the image tagged `latest`; in ECR, else the "
                 "most recently pushed tagged image; in other registries a repository without "
                 "`latest` is reported as skipped. all: every tag (in ECR every tagged image, each "
                 "digest once)")
      ->check(CLI::IsMember({"latest", "all"}))
      ->group(group);
  app.add_flag("--untagged", untagged,
               "Also scan untagged images (ECR only: the distribution API of other registries "
               "cannot list them)")
      ->group(group);
  app.add_option("--since", since,
                 "Only images pushed at or after DATE: YYYY-MM-DD or an ISO 8601 UTC time such as "
                 "2026-01-01T12:00:00Z (ECR only: other registries do not report push times)")
      ->type_name("DATE")
      ->group(group);
}

bool PerimeterFlags::Given() const {
  return !include_repositories.empty() || !exclude_repositories.empty() || tags != "latest" ||
         untagged || !since.empty();
}

void ExpandedTargets::AddTo(ScanResult& result) const {
  for (const Left& left : left_out) {
    Target target;
    target.spec = left.spec;
    target.kind = TargetKind::kRegistry;
    target.path = left.spec;
    result.targets.push_back(std::move(target));
    const size_t index = result.targets.size() - 1;
    if (left.error) {
      ScanIssue issue;
      issue.target_index = index;
      issue.message = left.message;
      result.errors.push_back(std::move(issue));
    } else {
      ScanSkip skip;
      skip.target_index = index;
      skip.path = left.spec;
      skip.reason = left.message;
      result.skipped.push_back(std::move(skip));
    }
  }
}

ExpandedTargets ExpandPerimeters(const std::vector<std::string>& specs, const PerimeterFlags& flags,
                                 const RegistryOptions& registry_options, bool quiet) {
  // Every target is classified and every flag checked before the first listing: a usage error
  // should not come after minutes of listing a large registry.
  struct Classified {
    std::string spec;
    std::optional<EcrRegistryHost> ecr;
    std::optional<RegistryPerimeterSpec> registry;
  };
  std::vector<Classified> targets;
  bool any_ecr = false;
  bool any_registry = false;
  for (const std::string& spec : specs) {
    Classified target{spec, std::nullopt, ParseRegistryPerimeterSpec(spec)};
    if (!target.registry) {
      try {
        target.ecr = ParseEcrPerimeterSpec(spec);
      } catch (const AwsError& e) {
        throw std::invalid_argument(e.what());
      }
    }
    any_ecr = any_ecr || target.ecr.has_value();
    any_registry = any_registry || target.registry.has_value();
    targets.push_back(std::move(target));
  }
  if (!any_ecr && !any_registry && flags.Given()) {
    throw std::invalid_argument(
        "--include-repo, --exclude-repo, --tags, --untagged and --since apply to perimeters "
        "(ecr://ACCOUNT/REGION, registry://HOST[/PREFIX]), and no target is one");
  }
  if (any_registry && flags.untagged) {
    throw std::invalid_argument(
        "--untagged cannot be used with a registry:// perimeter: the OCI distribution API lists "
        "tags, not untagged manifests (only ECR perimeters, ecr://ACCOUNT/REGION, can list "
        "untagged images)");
  }
  if (any_registry && !flags.since.empty()) {
    throw std::invalid_argument(
        "--since cannot be used with a registry:// perimeter: plain registries do not report when "
        "an image was pushed (only ECR perimeters, ecr://ACCOUNT/REGION, do)");
  }
  EcrPerimeterOptions ecr_options;
  ecr_options.include_repositories = flags.include_repositories;
  ecr_options.exclude_repositories = flags.exclude_repositories;
  ecr_options.all_tags = flags.tags == "all";
  ecr_options.untagged = flags.untagged;
  if (!flags.since.empty()) {
    const std::optional<double> since = ParseUtcDateTime(flags.since);
    if (!since) {
      throw std::invalid_argument("--since " + flags.since +
                                  ": not a date; give YYYY-MM-DD or an ISO 8601 UTC time such as "
                                  "2026-01-01T12:00:00Z");
    }
    ecr_options.pushed_since = *since;
  }
  RegistryPerimeterOptions registry_perimeter_options;
  registry_perimeter_options.include_repositories = flags.include_repositories;
  registry_perimeter_options.exclude_repositories = flags.exclude_repositories;
  registry_perimeter_options.all_tags = flags.tags == "all";
  // Made only when needed: a client holds a transfer thread and a connection pool.
  std::unique_ptr<RegistryClient> registry_client;
  if (any_registry) registry_client = std::make_unique<RegistryClient>(registry_options);

  ExpandedTargets expanded;
  for (const Classified& target : targets) {
    if (target.ecr) {
      ExpandEcrPerimeter(target.spec, *target.ecr, ecr_options, flags.since, registry_options.aws,
                         quiet, expanded);
    } else if (target.registry) {
      ExpandRegistryPerimeter(target.spec, *target.registry, registry_perimeter_options,
                              *registry_client, quiet, expanded);
    } else {
      expanded.specs.push_back(target.spec);
    }
  }
  return expanded;
}

void EcrCommands::AddTo(CLI::App& app) {
  CLI::App* ecr = app.add_subcommand("ecr", "Amazon ECR: browse registries and check permissions");
  ecr->require_subcommand(1);
  const auto add_common = [this](CLI::App* command) {
    command->add_option("--format", format_, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
    command->add_option("--max-retries", max_retries_,
                        "Retries of a throttled or failed AWS call, with exponential backoff (default 5)")
        ->check(CLI::Range(0, 100));
    command->add_option("--retry-backoff", retry_backoff_seconds_, "Seconds before the first retry (default 0.5)")
        ->check(CLI::Range(0.0, 60.0));
    aws_.AddTo(*command);
  };
  const char* registry_help =
      "ecr://ACCOUNT/REGION or ACCOUNT.dkr.ecr.REGION.amazonaws.com (default: the caller's own "
      "account, in the region of --aws-region or the AWS configuration)";
  repos_ = ecr->add_subcommand("repos", "List the registry's repositories (ecr:DescribeRepositories)");
  repos_->add_option("registry", registry_, registry_help);
  add_common(repos_);
  images_ = ecr->add_subcommand(
      "images", "List a repository's images: tags, digest, size, push time, media type, status "
                "(ecr:DescribeImages)");
  images_->add_option("repository", repository_, "Repository name")->required();
  images_->add_option("--registry", registry_, registry_help);
  images_->add_option("--tag-status", tag_status_, "any (default), tagged or untagged")
      ->check(CLI::IsMember({"any", "tagged", "untagged"}));
  add_common(images_);
  verify_ = ecr->add_subcommand(
      "verify",
      "Check the AWS credentials and every permission a scan needs: prints who the credentials are "
      "(sts:GetCallerIdentity), a table of allowed and denied actions, and the IAM policy that "
      "would allow what is denied. Exit code 0: everything allowed; 1: something denied or the "
      "credentials invalid");
  verify_->add_option("registry", registry_, registry_help);
  verify_->add_option("--repository", repository_,
                      "Repository to try the repository actions on (default: the first one listed)");
  add_common(verify_);
}

std::shared_ptr<AwsSession> EcrCommands::Session() const {
  HttpOptions http;
  http.max_retries = max_retries_;
  http.retry_base_seconds = retry_backoff_seconds_;
  return aws_.Session(http);
}

EcrCommands::Where EcrCommands::Resolve(AwsSession& session) const {
  Where where;
  if (!registry_.empty()) {
    std::optional<EcrRegistryHost> host;
    try {
      host = ParseEcrPerimeterSpec(registry_);
    } catch (const AwsError& e) {
      throw std::invalid_argument(e.what());
    }
    if (!host) {
      throw std::invalid_argument(registry_ + " is not an ECR registry (ecr://ACCOUNT/REGION or "
                                  "ACCOUNT.dkr.ecr.REGION.amazonaws.com)");
    }
    where.region = host->region;
    where.account = host->account;
    where.fips = host->fips;
    where.label = EcrRegistryHostName(host->account, host->region);
  } else {
    where.region = session.Region();
    where.label = "the caller's registry in " + where.region;
  }
  return where;
}

int EcrCommands::Run() {
  if (repos_ != nullptr && repos_->parsed()) return Repos();
  if (images_ != nullptr && images_->parsed()) return Images();
  if (verify_ != nullptr && verify_->parsed()) return Verify();
  return -1;
}

int EcrCommands::Repos() {
  const std::shared_ptr<AwsSession> session = Session();
  const Where where = Resolve(*session);
  EcrClient client(session, where.region, where.account, where.fips);
  const std::vector<EcrRepository> repositories = client.DescribeRepositories();
  if (format_ == "json") {
    ordered_json out = {{"region", where.region}, {"repositories", ordered_json::array()}};
    if (!where.account.empty()) out["registry_id"] = where.account;
    for (const EcrRepository& r : repositories) {
      out["repositories"].push_back({{"name", r.name},
                                     {"uri", r.uri},
                                     {"arn", r.arn},
                                     {"created_at", IsoTime(r.created_at)},
                                     {"tag_mutability", r.tag_mutability}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("%-40s %-20s %s\n", "REPOSITORY", "CREATED", "URI");
    for (const EcrRepository& r : repositories) {
      std::printf("%-40s %-20s %s\n", r.name.c_str(), IsoTime(r.created_at).c_str(), r.uri.c_str());
    }
    std::fprintf(stderr, "%zu repositories in %s\n", repositories.size(), where.label.c_str());
  }
  return kExitClean;
}

int EcrCommands::Images() {
  const std::shared_ptr<AwsSession> session = Session();
  const Where where = Resolve(*session);
  EcrClient client(session, where.region, where.account, where.fips);
  std::string status = tag_status_;
  for (char& c : status) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::vector<EcrImage> images;
  try {
    images = client.DescribeImages(repository_, status);
  } catch (const AwsError& e) {
    RethrowRepositoryError(e, repository_, where.region);
  }
  if (format_ == "json") {
    ordered_json out = {{"region", where.region}, {"repository", repository_}, {"images", ordered_json::array()}};
    for (const EcrImage& i : images) {
      out["images"].push_back({{"digest", i.digest},
                               {"tags", i.tags},
                               {"size_bytes", i.size_bytes},
                               {"pushed_at", IsoTime(i.pushed_at)},
                               {"manifest_media_type", i.manifest_media_type},
                               {"artifact_media_type", i.artifact_media_type},
                               {"status", i.status}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("%-30s %-71s %10s  %-20s %-8s %s\n", "TAGS", "DIGEST", "SIZE", "PUSHED", "STATUS", "MEDIA TYPE");
    for (const EcrImage& i : images) {
      const std::string tags = i.tags.empty() ? "<untagged>" : Join(i.tags, ",");
      std::printf("%-30s %-71s %10s  %-20s %-8s %s\n", tags.c_str(), i.digest.c_str(), HumanSize(i.size_bytes).c_str(),
                  IsoTime(i.pushed_at).c_str(), i.status.empty() ? "-" : i.status.c_str(),
                  i.manifest_media_type.c_str());
    }
    std::fprintf(stderr, "%zu images in %s\n", images.size(), repository_.c_str());
  }
  return kExitClean;
}

int EcrCommands::Verify() {
  const std::shared_ptr<AwsSession> session = Session();
  const Where where = Resolve(*session);
  const EcrVerification v = VerifyEcrAccess(session, where.region, where.account, repository_);
  std::vector<std::string> identity_denied;
  std::vector<std::string> resource_denied;
  for (const EcrPermissionProbe& p : v.probes) {
    if (p.denial == EcrPermissionProbe::Denial::kIdentityPolicy) identity_denied.push_back(p.action);
    if (p.denial == EcrPermissionProbe::Denial::kResourcePolicy) resource_denied.push_back(p.action);
  }
  const std::string identity_policy =
      identity_denied.empty() ? "" : EcrIdentityPolicy(identity_denied, where.region, v.account);
  const std::string repository_policy =
      resource_denied.empty() ? "" : EcrRepositoryPolicy(resource_denied, v.identity.arn);
  if (format_ == "json") {
    ordered_json out;
    out["credentials_valid"] = v.credentials_valid;
    if (!v.credentials_valid) out["error"] = v.credentials_error;
    out["identity"] = {{"arn", v.identity.arn}, {"account", v.identity.account}, {"user_id", v.identity.user_id}};
    out["credential_source"] = v.credential_source;
    out["region"] = where.region;
    out["registry_account"] = v.account;
    out["repository"] = v.repository;
    out["repository_found"] = v.repository_found;
    out["actions"] = ordered_json::array();
    for (const EcrPermissionProbe& p : v.probes) {
      out["actions"].push_back({{"action", p.action}, {"allowed", p.allowed}, {"denied_by", DenialName(p.denial)},
                                {"detail", p.detail}});
    }
    if (!identity_policy.empty()) out["identity_policy"] = ordered_json::parse(identity_policy);
    if (!repository_policy.empty()) out["repository_policy"] = ordered_json::parse(repository_policy);
    out["all_allowed"] = v.AllAllowed();
    std::cout << out.dump(2) << "\n";
    return v.AllAllowed() ? kExitClean : kExitFindings;
  }
  if (!v.credentials_valid) {
    std::printf("%s\n", v.credentials_error.c_str());
    return kExitFindings;
  }
  std::printf("identity:    %s\naccount:     %s\ncredentials: %s\nregistry:    %s in %s\nrepository:  %s\n\n",
              v.identity.arn.c_str(), v.identity.account.c_str(), v.credential_source.c_str(), v.account.c_str(),
              where.region.c_str(), v.repository.c_str());
  std::printf("%-30s %-8s %s\n", "ACTION", "RESULT", "DETAIL");
  for (const EcrPermissionProbe& p : v.probes) {
    std::printf("%-30s %-8s %s\n", p.action.c_str(), p.allowed ? "allowed" : "denied",
                p.allowed && p.detail == "allowed" ? "" : p.detail.c_str());
  }
  if (!v.repository_found) {
    std::printf("\nrepository %s not found in %s: check the name and the region (--aws-region, or the "
                "registry host)\n", v.repository.c_str(), where.region.c_str());
  }
  if (!identity_policy.empty()) {
    std::printf("\nAccessDenied for %s: attach this policy to %s:\n%s\n", Join(identity_denied, ", ").c_str(),
                v.identity.arn.c_str(), identity_policy.c_str());
  }
  if (!repository_policy.empty()) {
    std::printf("\nThe repository policy of %s denies %s: add this statement to it:\n%s\n", v.repository.c_str(),
                Join(resource_denied, ", ").c_str(), repository_policy.c_str());
  }
  for (const EcrPermissionProbe& p : v.probes) {
    if (p.denial == EcrPermissionProbe::Denial::kServiceControlPolicy) {
      std::printf("\n%s is denied by a service control policy of the AWS Organization: no policy in this "
                  "account can allow it; ask the organization's administrators.\n", p.action.c_str());
    }
  }
  std::printf("\n%s\n", v.AllAllowed() ? "all permissions a scan needs are allowed"
                                       : "some permissions a scan needs are missing");
  return v.AllAllowed() ? kExitClean : kExitFindings;
}

}  // namespace layersift
