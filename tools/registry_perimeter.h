// Perimeters of plain OCI Distribution registries (`scan registry://HOST[/PREFIX]`): which
// repositories of the registry's catalog, and which of their tags, a scan covers.
#ifndef LAYERSIFT_TOOLS_REGISTRY_PERIMETER_H_
#define LAYERSIFT_TOOLS_REGISTRY_PERIMETER_H_

#include <optional>
#include <string>
#include <vector>

#include "layersift/fetch/registry_client.h"

namespace layersift {

inline constexpr const char* kRegistryPerimeterScheme = "registry://";

struct RegistryPerimeterSpec {
  std::string host;    // normalised as image references have it: "localhost:5000", "ghcr.io"
  std::string prefix;  // "" (the whole catalog) or "team-a": the repositories under "team-a/"
};

// nullopt when `spec` does not start with registry://. Throws std::invalid_argument naming the
// spec when it does but is malformed, or when HOST does not read as a registry host (a '.', a
// :PORT, or localhost): the images are scanned as docker://HOST/REPO:TAG, where any other first
// component would name a docker.io repository instead.
std::optional<RegistryPerimeterSpec> ParseRegistryPerimeterSpec(const std::string& spec);

struct RegistryPerimeterOptions {
  // Repository globs, as for ECR perimeters (RepositoryChosen). No includes = every repository.
  std::vector<std::string> include_repositories;
  std::vector<std::string> exclude_repositories;
  // false: the tag `latest` of each repository; true: every tag.
  bool all_tags = false;
};

// One image of the perimeter, or a repository of it that gives no image to scan.
struct RegistryPerimeterImage {
  std::string reference;    // HOST/REPOSITORY:TAG; HOST/REPOSITORY when skip_reason or error is set
  std::string skip_reason;  // not empty: reported as skipped (no `latest` tag, no tag at all)
  std::string error;        // not empty: the repository's tags could not be listed
};

struct RegistryPerimeter {
  std::vector<std::string> repositories;       // chosen, in name order
  std::vector<RegistryPerimeterImage> images;  // by repository, then tag
};

// Lists the catalog on every call, so repositories pushed since the last scan are in the
// perimeter without anyone naming them. Throws RegistryError when the catalog cannot be listed;
// a repository whose tags cannot be listed is an image entry with `error`, so the others are
// still scanned.
RegistryPerimeter ResolveRegistryPerimeter(RegistryClient& client,
                                           const RegistryPerimeterSpec& spec,
                                           const RegistryPerimeterOptions& options);

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_REGISTRY_PERIMETER_H_
