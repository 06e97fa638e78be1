// The rule model: what a detector is, independent of the engine that runs it.
#ifndef LAYERSIFT_RULES_RULE_H_
#define LAYERSIFT_RULES_RULE_H_

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace layersift {

// A rule file that cannot be used. The message names the file, the rule (when known) and the
// field at fault.
class RuleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Rule {
  static constexpr size_t kDefaultMaxMatchBytes = 256;

  std::string id;    // unique, [a-z0-9-]+
  std::string name;  // human readable
  std::string kind;  // coarse kind: aws, github, private-key, ...
  // RE2 syntax, with a named group `secret`. A match only counts if it contains one of `keywords`.
  std::string pattern;
  // Literals for the prefilter, stored lower-case; matched case-insensitively (ASCII).
  std::vector<std::string> keywords;
  std::optional<double> min_entropy;  // Shannon entropy of the secret, bits per byte
  // The longest whole match possible, in bytes. Bounds the window searched around a keyword and
  // the overlap between chunks of a large file; longer matches are dropped.
  size_t max_match_bytes = kDefaultMaxMatchBytes;
  bool enabled = true;
  std::vector<std::string> examples;           // each must yield a finding of this rule
  std::vector<std::string> negative_examples;  // none may yield a finding of this rule
  std::string source;                          // where the rule was read from, for messages
};

}  // namespace layersift

#endif  // LAYERSIFT_RULES_RULE_H_
