#include "layersift/engine/path_filter.h"

#include <re2/set.h>

#include <stdexcept>

namespace layersift {

struct PathFilter::Compiled {
  explicit Compiled(const std::vector<std::string>& patterns)
      : set(Options(), RE2::UNANCHORED) {
    for (const std::string& pattern : patterns) {
      std::string error;
      if (set.Add(pattern, &error) < 0) {
        throw std::invalid_argument("invalid path exclusion '" + pattern + "': " + error);
      }
    }
    if (!set.Compile()) throw std::invalid_argument("path exclusions do not compile (out of memory)");
  }
  static RE2::Options Options() {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_never_capture(true);
    return options;
  }
  RE2::Set set;
};

PathFilter::PathFilter(const std::vector<std::string>& patterns)
    : patterns_(patterns), compiled_(patterns.empty() ? nullptr : std::make_unique<Compiled>(patterns)) {}

PathFilter::~PathFilter() = default;

PathFilter::PathFilter(const PathFilter& other) : PathFilter(other.patterns_) {}

bool PathFilter::Excludes(std::string_view path) {
  if (!compiled_) return false;
  rooted_.assign("/");
  rooted_.append(path);
  RE2::Set::ErrorInfo info{};
  // No match list wanted: with one, RE2::Set allocates a SparseSet on every call.
  const bool hit = compiled_->set.Match(rooted_, nullptr, &info);
  // An out-of-memory DFA here would hide nothing: fail open (scan the file) rather than skip it.
  return hit && info.kind == RE2::Set::kNoError;
}

}  // namespace layersift
