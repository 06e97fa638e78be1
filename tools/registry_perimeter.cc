#include "registry_perimeter.h"

#include <algorithm>
#include <stdexcept>

#include "layersift/fetch/ecr.h"
#include "layersift/fetch/image_reference.h"

namespace layersift {
namespace {

constexpr const char* kLatestTag = "latest";

[[noreturn]] void FailSpec(const std::string& spec, const std::string& why) {
  throw std::invalid_argument(
      spec + ": " + why + "; a registry perimeter is registry://HOST[/PREFIX] (e.g. " +
      "registry://localhost:5000 or registry://registry.example.com/team-a)");
}

}  // namespace

std::optional<RegistryPerimeterSpec> ParseRegistryPerimeterSpec(const std::string& spec) {
  const std::string scheme = kRegistryPerimeterScheme;
  if (spec.rfind(scheme, 0) != 0) return std::nullopt;
  const std::string rest = spec.substr(scheme.size());
  const std::string host = rest.substr(0, rest.find('/'));
  if (host.empty()) FailSpec(spec, "no registry host");
  RegistryPerimeterSpec parsed;
  try {
    // The host alone must come back as a registry (not as a docker.io repository), and the whole
    // rest as that registry and a repository path: the same rules as the image references the
    // perimeter turns into.
    const auto [registry, repository] = ParseRegistryAndRepository(host);
    if (!repository.empty()) {
      FailSpec(spec, "'" + host +
                         "' is not a registry host (a host has a '.' or a :PORT, or is localhost)");
    }
    parsed.host = registry;
    parsed.prefix = ParseRegistryAndRepository(rest).second;
  } catch (const ReferenceError& e) {
    FailSpec(spec, e.what());
  }
  return parsed;
}

RegistryPerimeter ResolveRegistryPerimeter(RegistryClient& client,
                                           const RegistryPerimeterSpec& spec,
                                           const RegistryPerimeterOptions& options) {
  RegistryPerimeter perimeter;
  // "team-a" covers team-a/api but neither team-a itself nor team-ab/api.
  const std::string under = spec.prefix.empty() ? "" : spec.prefix + "/";
  for (const std::string& repository : client.ListRepositories(spec.host)) {
    if (repository.compare(0, under.size(), under) != 0) continue;
    if (RepositoryChosen(options.include_repositories, options.exclude_repositories, repository)) {
      perimeter.repositories.push_back(repository);
    }
  }
  std::sort(perimeter.repositories.begin(), perimeter.repositories.end());
  // A catalog that pages badly can name a repository twice; it is one repository to scan.
  perimeter.repositories.erase(
      std::unique(perimeter.repositories.begin(), perimeter.repositories.end()),
      perimeter.repositories.end());
  for (const std::string& repository : perimeter.repositories) {
    const std::string name = spec.host + "/" + repository;
    std::vector<std::string> tags;
    try {
      tags = client.ListTags(spec.host, repository);
    } catch (const RegistryError& e) {
      perimeter.images.push_back({name, "", std::string("cannot list the tags: ") + e.what()});
      continue;
    }
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    if (tags.empty()) {
      // Its images, if any, are reachable by digest only, which the distribution API cannot list.
      perimeter.images.push_back({name, "the repository has no tags", ""});
    } else if (options.all_tags) {
      for (const std::string& tag : tags) perimeter.images.push_back({name + ":" + tag, "", ""});
    } else if (std::binary_search(tags.begin(), tags.end(), kLatestTag)) {
      perimeter.images.push_back({name + ":" + kLatestTag, "", ""});
    } else {
      // A plain registry gives no push times, so there is no "most recent" tag to fall back on as
      // ECR perimeters do; the repository is reported rather than guessed at.
      perimeter.images.push_back({name,
                                  "no latest tag (" + std::to_string(tags.size()) +
                                      (tags.size() == 1 ? " other tag" : " other tags") +
                                      "); --tags all scans every tag",
                                  ""});
    }
  }
  return perimeter;
}

}  // namespace layersift
