// Findings the user has already seen and accepted: a baseline (an earlier layersift JSON report)
// and ignore files (.layersiftignore) name them by fingerprint (FindingFingerprint).
#ifndef LAYERSIFT_ENGINE_SUPPRESSION_H_
#define LAYERSIFT_ENGINE_SUPPRESSION_H_

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "layersift/engine/scanner.h"
#include "layersift/rules/rule.h"

namespace layersift {

// The name of the ignore file picked up from the working directory.
inline constexpr std::string_view kIgnoreFileName = ".layersiftignore";

class Suppressions {
 public:
  // Adds every finding's fingerprint of a layersift JSON report (--format json). Throws
  // std::invalid_argument naming the file if it cannot be read or is not such a report.
  void AddBaselineReport(const std::string& path);

  // Adds the fingerprints of an ignore file: one per line, optionally followed by a comment;
  // '#' starts a comment, blank lines are ignored. Throws std::invalid_argument naming the file
  // and line of anything else (a typo must not silently suppress nothing).
  void AddIgnoreFile(const std::string& path);

  bool Contains(std::string_view fingerprint) const;
  size_t size() const { return fingerprints_.size(); }

 private:
  std::unordered_set<std::string> fingerprints_;
};

// Removes the suppressed findings from `result`, counting them in result.findings_suppressed.
void ApplySuppressions(const Suppressions& suppressions, const std::vector<Rule>& rules,
                       ScanResult& result);

// Removes findings known to be gone from the final image (--present-only), counting them in
// result.findings_not_present. Findings whose presence is unknown are kept.
void KeepPresentOnly(ScanResult& result);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SUPPRESSION_H_
