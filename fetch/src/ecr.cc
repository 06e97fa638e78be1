#include "layersift/fetch/ecr.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "aws_call.h"
#include "layersift/fetch/http_parse.h"

namespace layersift {
namespace {

using nlohmann::json;

constexpr const char* kEcrTargetPrefix = "AmazonEC2ContainerRegistry_V20150921.";
constexpr int kMaxPages = 100000;  // a nextToken that never ends is a server bug, not a loop

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (;;) {
    const size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

bool IsAccountId(const std::string& text) {
  return text.size() == 12 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsRegionName(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string String(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

double Number(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_number() ? object[key].get<double>() : 0;
}

json ParseAnswer(const std::string& body, const std::string& action) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) throw AwsError(action + ": the answer is not a JSON object");
  return parsed;
}

// Sends `request` for `action` page by page, following nextToken, and hands every element of each
// answer's `list` to `each`.
template <typename Call, typename Each>
void ForEachListed(Call&& call, const std::string& action, json request, const char* list, Each&& each) {
  for (int page = 0; page < kMaxPages; ++page) {
    const json answer = ParseAnswer(call(action, request.dump()), "ecr:" + action);
    for (const json& item : answer.value(list, json::array())) each(item);
    const std::string next = String(answer, "nextToken");
    if (next.empty()) return;
    request["nextToken"] = next;
  }
}

EcrAuthorization AuthorizationFrom(const json& data, const std::string& action) {
  const std::optional<std::string> decoded = Base64Decode(String(data, "authorizationToken"));
  const size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) throw AwsError(action + ": the answer has no usable authorizationToken");
  EcrAuthorization authorization;
  authorization.username = decoded->substr(0, colon);
  authorization.password = decoded->substr(colon + 1);
  authorization.endpoint = String(data, "proxyEndpoint");
  while (!authorization.endpoint.empty() && authorization.endpoint.back() == '/') authorization.endpoint.pop_back();
  const double expires_at = Number(data, "expiresAt");
  authorization.expires = expires_at > 0 ? AwsClock::time_point(std::chrono::duration_cast<AwsClock::duration>(
                                               std::chrono::duration<double>(expires_at)))
                                         : AwsClock::now() + std::chrono::hours(12);
  return authorization;
}

}  // namespace

std::optional<EcrRegistryHost> ParseEcrRegistryHost(const std::string& host) {
  std::string lower;
  for (const char c : host) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  EcrRegistryHost parsed;
  std::vector<std::string> labels;
  if (EndsWith(lower, ".on.aws")) {
    // ACCOUNT.dkr-ecr[-fips].REGION.on.aws
    labels = Split(lower.substr(0, lower.size() - 7), '.');
    if (labels.size() != 3 || (labels[1] != "dkr-ecr" && labels[1] != "dkr-ecr-fips")) return std::nullopt;
    parsed.dual_stack = true;
    parsed.fips = labels[1] == "dkr-ecr-fips";
    parsed.region = labels[2];
  } else {
    std::string rest;
    if (EndsWith(lower, ".amazonaws.com.cn")) {
      rest = lower.substr(0, lower.size() - 17);
    } else if (EndsWith(lower, ".amazonaws.com")) {
      rest = lower.substr(0, lower.size() - 14);
    } else {
      return std::nullopt;
    }
    // ACCOUNT.dkr.ecr[-fips].REGION
    labels = Split(rest, '.');
    if (labels.size() != 4 || labels[1] != "dkr" || (labels[2] != "ecr" && labels[2] != "ecr-fips")) {
      return std::nullopt;
    }
    parsed.fips = labels[2] == "ecr-fips";
    parsed.region = labels[3];
  }
  parsed.account = labels[0];
  if (!IsAccountId(parsed.account) || !IsRegionName(parsed.region)) return std::nullopt;
  return parsed;
}

std::string EcrRegistryHostName(const std::string& account, const std::string& region) {
  return account + ".dkr.ecr." + region + (region.rfind("cn-", 0) == 0 ? ".amazonaws.com.cn" : ".amazonaws.com");
}

std::optional<EcrRegistryHost> ParseEcrPerimeterSpec(const std::string& spec) {
  if (spec.rfind("ecr://", 0) != 0) {
    if (spec.find('/') != std::string::npos) return std::nullopt;  // HOST/REPO is an image reference
    return ParseEcrRegistryHost(spec);
  }
  std::string rest = spec.substr(6);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const std::vector<std::string> parts = Split(rest, '/');
  if (parts.size() == 1) {
    if (auto host = ParseEcrRegistryHost(parts[0])) return host;
  } else if (parts.size() == 2 && IsAccountId(parts[0]) && IsRegionName(parts[1])) {
    return EcrRegistryHost{parts[0], parts[1], false, false};
  }
  throw AwsError(spec + ": an ECR perimeter is ecr://ACCOUNT/REGION (e.g. ecr://123456789012/us-east-1) or "
                 "ecr://ACCOUNT.dkr.ecr.REGION.amazonaws.com");
}

EcrClient::EcrClient(std::shared_ptr<AwsSession> session, std::string region, std::string registry_id, bool fips)
    : session_(std::move(session)), region_(std::move(region)), registry_id_(std::move(registry_id)), fips_(fips) {}

std::string EcrClient::Call(const std::string& action, const std::string& body) {
  return session_->CallJson("ecr", region_, kEcrTargetPrefix + action, body, fips_);
}

EcrAuthorization EcrClient::GetAuthorizationToken() {
  json request = json::object();
  if (!registry_id_.empty()) request["registryIds"] = json::array({registry_id_});
  const json answer = ParseAnswer(Call("GetAuthorizationToken", request.dump()), "ecr:GetAuthorizationToken");
  if (!answer.contains("authorizationData") || !answer["authorizationData"].is_array() ||
      answer["authorizationData"].empty()) {
    throw AwsError("ecr:GetAuthorizationToken: the answer has no authorizationData");
  }
  return AuthorizationFrom(answer["authorizationData"][0], "ecr:GetAuthorizationToken");
}

EcrAuthorization EcrClient::GetPublicAuthorizationToken(AwsSession& session) {
  const std::string body =
      session.CallJson("ecr-public", kEcrPublicRegion, "SpencerFrontendService.GetAuthorizationToken", "{}");
  const json answer = ParseAnswer(body, "ecr-public:GetAuthorizationToken");
  EcrAuthorization authorization =
      AuthorizationFrom(answer.value("authorizationData", json::object()), "ecr-public:GetAuthorizationToken");
  authorization.endpoint = std::string("https://") + kEcrPublicHost;
  return authorization;
}

std::vector<EcrRepository> EcrClient::DescribeRepositories() {
  std::vector<EcrRepository> repositories;
  json request = {{"maxResults", kPageSize}};
  if (!registry_id_.empty()) request["registryId"] = registry_id_;
  ForEachListed(
      [this](const std::string& action, const std::string& body) { return Call(action, body); },
      "DescribeRepositories", request, "repositories", [&](const json& item) {
        EcrRepository repository;
        repository.name = String(item, "repositoryName");
        repository.uri = String(item, "repositoryUri");
        repository.arn = String(item, "repositoryArn");
        repository.created_at = Number(item, "createdAt");
        repository.tag_mutability = String(item, "imageTagMutability");
        if (!repository.name.empty()) repositories.push_back(std::move(repository));
      });
  return repositories;
}

std::vector<EcrImage> EcrClient::DescribeImages(const std::string& repository, const std::string& tag_status) {
  std::vector<EcrImage> images;
  // imageStatus ANY: archived images are listed too (reported as skipped, never silently left out).
  json request = {{"repositoryName", repository},
                  {"maxResults", kPageSize},
                  {"filter", {{"tagStatus", tag_status}, {"imageStatus", "ANY"}}}};
  if (!registry_id_.empty()) request["registryId"] = registry_id_;
  ForEachListed(
      [this](const std::string& action, const std::string& body) { return Call(action, body); },
      "DescribeImages", request, "imageDetails", [&](const json& item) {
        EcrImage image;
        image.repository = repository;
        image.digest = String(item, "imageDigest");
        if (item.contains("imageTags") && item["imageTags"].is_array()) {
          for (const json& tag : item["imageTags"]) {
            if (tag.is_string()) image.tags.push_back(tag.get<std::string>());
          }
        }
        image.size_bytes = static_cast<uint64_t>(Number(item, "imageSizeInBytes"));
        image.pushed_at = Number(item, "imagePushedAt");
        image.manifest_media_type = String(item, "imageManifestMediaType");
        image.artifact_media_type = String(item, "artifactMediaType");
        image.status = String(item, "imageStatus");
        if (!image.digest.empty()) images.push_back(std::move(image));
      });
  return images;
}

std::vector<EcrImageId> EcrClient::ListImages(const std::string& repository, const std::string& tag_status) {
  std::vector<EcrImageId> ids;
  json request = {{"repositoryName", repository}, {"maxResults", kPageSize}, {"filter", {{"tagStatus", tag_status}}}};
  if (!registry_id_.empty()) request["registryId"] = registry_id_;
  ForEachListed(
      [this](const std::string& action, const std::string& body) { return Call(action, body); }, "ListImages",
      request, "imageIds",
      [&](const json& item) { ids.push_back(EcrImageId{String(item, "imageDigest"), String(item, "imageTag")}); });
  return ids;
}

std::string EcrClient::BatchGetImage(const std::string& repository, const EcrImageId& image) {
  json id = json::object();
  if (!image.digest.empty()) id["imageDigest"] = image.digest;
  if (!image.tag.empty()) id["imageTag"] = image.tag;
  json request = {{"repositoryName", repository},
                  {"imageIds", json::array({id})},
                  {"acceptedMediaTypes",
                   {"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"}}};
  if (!registry_id_.empty()) request["registryId"] = registry_id_;
  const json answer = ParseAnswer(Call("BatchGetImage", request.dump()), "ecr:BatchGetImage");
  const json images = answer.value("images", json::array());
  if (!images.empty()) return String(images[0], "imageManifest");
  const json failures = answer.value("failures", json::array());
  const std::string reason = failures.empty() ? "" : String(failures[0], "failureReason");
  throw AwsError("ecr:BatchGetImage: no such image in " + repository + (reason.empty() ? "" : ": " + reason),
                 "ImageNotFoundException", reason, 400);
}

std::string EcrClient::GetDownloadUrlForLayer(const std::string& repository, const std::string& layer_digest) {
  json request = {{"repositoryName", repository}, {"layerDigest", layer_digest}};
  if (!registry_id_.empty()) request["registryId"] = registry_id_;
  return String(ParseAnswer(Call("GetDownloadUrlForLayer", request.dump()), "ecr:GetDownloadUrlForLayer"),
                "downloadUrl");
}

bool RepositoryGlobMatch(const std::string& glob, const std::string& name) {
  return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

bool RepositoryChosen(const std::vector<std::string>& include,
                      const std::vector<std::string>& exclude, const std::string& name) {
  const auto matches_any = [&name](const std::vector<std::string>& globs) {
    return std::any_of(globs.begin(), globs.end(),
                       [&](const std::string& glob) { return RepositoryGlobMatch(glob, name); });
  };
  return (include.empty() || matches_any(include)) && !matches_any(exclude);
}

std::optional<double> ParseUtcDateTime(const std::string& text) {
  constexpr size_t kDateLength = 10;  // YYYY-MM-DD
  const bool date_only = text.size() == kDateLength;
  const std::optional<AwsClock::time_point> parsed =
      ParseIso8601(date_only ? text + "T00:00:00Z" : text);
  if (!parsed) return std::nullopt;
  // strptime takes "2026-1-1" and "2026-02-30" (which timegm turns into March 2): printing the
  // time back and comparing refuses both, so a typo is an error instead of another day.
  const std::time_t seconds = AwsClock::to_time_t(*parsed);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char canonical[32];
  std::strftime(canonical, sizeof canonical, "%Y-%m-%dT%H:%M:%S", &tm);
  const std::string expected = date_only ? text + "T00:00:00" : text.substr(0, 19);
  if (expected != canonical) return std::nullopt;
  return static_cast<double>(seconds);
}

EcrPerimeter ResolveEcrPerimeter(EcrClient& client, const std::string& host, const EcrPerimeterOptions& options) {
  EcrPerimeter perimeter;
  perimeter.host = host;
  for (const EcrRepository& repository : client.DescribeRepositories()) {
    if (RepositoryChosen(options.include_repositories, options.exclude_repositories,
                         repository.name)) {
      perimeter.repositories.push_back(repository.name);
    }
  }
  std::sort(perimeter.repositories.begin(), perimeter.repositories.end());
  for (const std::string& repository : perimeter.repositories) {
    std::vector<EcrImage> images = client.DescribeImages(repository, "ANY");
    // Newest first: "latest" falls back to the most recent push, and reports read naturally.
    std::stable_sort(images.begin(), images.end(),
                     [](const EcrImage& a, const EcrImage& b) { return a.pushed_at > b.pushed_at; });
    // "latest": the image tagged `latest`, or else the most recently pushed tagged one.
    const EcrImage* latest = nullptr;
    for (const EcrImage& image : images) {
      if (std::find(image.tags.begin(), image.tags.end(), "latest") != image.tags.end()) latest = &image;
    }
    if (latest == nullptr) {
      const auto tagged = std::find_if(images.begin(), images.end(), [](const EcrImage& i) { return !i.tags.empty(); });
      if (tagged != images.end()) latest = &*tagged;
    }
    std::vector<const EcrImage*> chosen;
    std::set<std::string> digests;
    for (const EcrImage& image : images) {
      const bool pick = image.tags.empty() ? options.untagged : options.all_tags || &image == latest;
      if (pick && digests.insert(image.digest).second) chosen.push_back(&image);
    }
    for (const EcrImage* image : chosen) {
      if (image->pushed_at > 0 && image->pushed_at < options.pushed_since) {
        ++perimeter.images_pushed_before;
        continue;
      }
      EcrPerimeterImage entry;
      entry.repository = repository;
      entry.digest = image->digest;
      entry.tags = image->tags;
      entry.reference = host + "/" + repository + "@" + image->digest;
      if (!image->status.empty() && image->status != "ACTIVE") {
        entry.skip_reason = "image status is " + image->status +
                            (image->status == "ARCHIVED" ? " (restore it from the archive to scan it)" : "");
      }
      perimeter.images.push_back(std::move(entry));
    }
  }
  return perimeter;
}

}  // namespace layersift
