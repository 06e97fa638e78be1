#ifndef LAYERSIFT_ENGINE_PATH_FILTER_H_
#define LAYERSIFT_ENGINE_PATH_FILTER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace layersift {

// Decides which paths are not scanned: RE2 regexes matched anywhere in the path written with a
// leading '/' (so "/node_modules/" also excludes a top-level node_modules directory).
// Not thread-safe (it reuses a buffer); give each thread its own copy.
class PathFilter {
 public:
  // Throws std::invalid_argument naming the first pattern that does not compile.
  explicit PathFilter(const std::vector<std::string>& patterns);
  ~PathFilter();
  PathFilter(const PathFilter& other);

  // True if `path` (normalised, without a leading '/') is excluded.
  bool Excludes(std::string_view path);

  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Compiled;
  std::vector<std::string> patterns_;
  std::unique_ptr<Compiled> compiled_;
  std::string rooted_;
};

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_PATH_FILTER_H_
