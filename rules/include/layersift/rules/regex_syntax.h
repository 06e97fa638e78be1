// Just enough RE2/Go regex syntax to see a pattern's structure without compiling it: where its
// tokens, groups and alternatives are. Used to import gitleaks patterns (which group captures the
// secret) and to lint rules (what a pattern can begin with).
#ifndef LAYERSIFT_RULES_REGEX_SYNTAX_H_
#define LAYERSIFT_RULES_REGEX_SYNTAX_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace layersift {

struct RegexGroup {
  size_t open = 0;      // offset of '('
  size_t open_len = 1;  // "(" or "(?P<name>" / "(?<name>" or "(?:" / "(?i:"; 2 ("(?") for "(?i)"
  size_t close = std::string_view::npos;  // offset of its ')'; npos when unbalanced
  int parent = -1;
  bool capturing = false;
  bool alternation = false;  // a '|' directly inside

  // A flag group such as (?i): it sets flags for what follows and holds no expression.
  bool flags_only() const { return open_len == 2 && close != std::string_view::npos; }
};

struct RegexShape {
  std::vector<RegexGroup> groups;  // in order of '('
  std::vector<int> capturing;      // indices into groups, numbered 1.. by gitleaks/RE2
  bool top_alternation = false;

  // The group whose '(' is at `offset`, or nullptr.
  const RegexGroup* GroupAt(size_t offset) const;
};

// One past the token that starts at `i` (< re.size()): an escape (\x, \p{Name}, \Q...\E), a
// character class (a leading ']' and [:name:] inside are literal), or a single byte.
size_t RegexTokenEnd(std::string_view re, size_t i);

RegexShape ScanRegex(std::string_view re);

}  // namespace layersift

#endif  // LAYERSIFT_RULES_REGEX_SYNTAX_H_
