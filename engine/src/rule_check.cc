#include "layersift/engine/rule_check.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace layersift {
namespace {

constexpr size_t kMinKeywordBytes = 3;

// The secrets rule `rule_index` reports when `example` is scanned as a whole file.
std::vector<std::string> SecretsFound(ScanContext& context, uint32_t rule_index,
                                      const RuleExample& example, std::vector<RuleMatch>& matches) {
  matches.clear();
  const std::string& text = example.text;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  context.Scan(bytes, 0, bytes.size(), example.path.empty() ? "example.txt" : example.path, matches);
  std::vector<std::string> secrets;
  for (const RuleMatch& m : matches) {
    if (m.rule_index == rule_index) {
      secrets.push_back(text.substr(m.secret_begin, m.secret_end - m.secret_begin));
    }
  }
  return secrets;
}

// --- Lint: a rule must not begin with a repeated character class --------------------------------
// A pattern that can start at any byte of a class (`[0-9]{8,10}:AA...`, `\w+@`) makes every DFA
// start state expensive: in RE2::Set (the re2 backend, and Vectorscan's fallback for dense regions)
// nine such rules cost a factor of 2.5 (shared/PERFORMANCE.md). The scanner below reads just enough
// RE2 syntax to find the first atom of every alternative the pattern can start with.

// The index one past the class that starts at `i` (pattern[i] == '[').
size_t SkipClass(std::string_view p, size_t i) {
  size_t j = i + 1;
  if (j < p.size() && p[j] == '^') ++j;
  if (j < p.size() && p[j] == ']') ++j;  // a leading ']' is a literal member
  while (j < p.size() && p[j] != ']') {
    if (p[j] == '\\') {
      j += 2;
    } else if (p.compare(j, 2, "[:") == 0) {
      const size_t close = p.find(":]", j + 2);
      j = close == std::string_view::npos ? p.size() : close + 2;
    } else {
      ++j;
    }
  }
  return std::min(j + 1, p.size());
}

// The index of the ')' closing the group that opens at `i`, or p.size().
size_t GroupEnd(std::string_view p, size_t i) {
  int depth = 0;
  for (size_t j = i; j < p.size();) {
    if (p[j] == '\\') { j += 2; continue; }
    if (p[j] == '[') { j = SkipClass(p, j); continue; }
    if (p[j] == '(') ++depth;
    if (p[j] == ')' && --depth == 0) return j;
    ++j;
  }
  return p.size();
}

bool IsQuantifierAt(std::string_view p, size_t j) {
  if (j >= p.size()) return false;
  if (p[j] == '*' || p[j] == '+' || p[j] == '?') return true;
  return p[j] == '{' && j + 1 < p.size() && (std::isdigit(static_cast<unsigned char>(p[j + 1])) ||
                                             p[j + 1] == ',');
}

bool StartsWithRepeatedClass(std::string_view p, size_t begin, size_t end);

// Whether any top-level alternative of p[begin, end) starts with a repeated class.
bool AnyAlternativeStartsWithRepeatedClass(std::string_view p, size_t begin, size_t end) {
  int depth = 0;
  size_t start = begin;
  for (size_t j = begin; j < end;) {
    if (p[j] == '\\') { j += 2; continue; }
    if (p[j] == '[') { j = SkipClass(p, j); continue; }
    if (p[j] == '(') ++depth;
    if (p[j] == ')') --depth;
    if (p[j] == '|' && depth == 0) {
      if (StartsWithRepeatedClass(p, start, j)) return true;
      start = j + 1;
    }
    ++j;
  }
  return StartsWithRepeatedClass(p, start, end);
}

bool StartsWithRepeatedClass(std::string_view p, size_t begin, size_t end) {
  size_t j = begin;
  while (j < end) {
    if (p[j] == '^') { ++j; continue; }
    if (p[j] == '\\' && j + 1 < end && (p[j + 1] == 'b' || p[j + 1] == 'B' || p[j + 1] == 'A')) {
      j += 2;
      continue;
    }
    if (p[j] == '(') {
      const size_t close = std::min(GroupEnd(p, j), end);
      size_t inner = j + 1;
      if (inner < close && p[inner] == '?') {
        // (?flags) applies to what follows; (?:...), (?flags:...), (?P<name>...) are groups.
        size_t k = inner + 1;
        if (k < close && p[k] == 'P') {
          k = p.find('>', k);
          if (k == std::string_view::npos || k >= close) return false;
          inner = k + 1;
        } else {
          while (k < close && p[k] != ':' && p[k] != ')') ++k;
          if (k >= close) { j = close + 1; continue; }  // a flag group such as (?i)
          inner = k + 1;
        }
      }
      return AnyAlternativeStartsWithRepeatedClass(p, inner, close);
    }
    size_t next = j + 1;
    bool is_class = false;
    if (p[j] == '[') {
      next = SkipClass(p, j);
      is_class = true;
    } else if (p[j] == '.') {
      is_class = true;
    } else if (p[j] == '\\' && j + 1 < end) {
      const char e = p[j + 1];
      is_class = std::string_view("wdsWDSpP").find(e) != std::string_view::npos;
      next = j + 2;
      if ((e == 'p' || e == 'P') && next < end && p[next] == '{') {
        const size_t close = p.find('}', next);
        next = close == std::string_view::npos ? end : close + 1;
      }
    }
    return is_class && IsQuantifierAt(p, next);
  }
  return false;
}

std::string Quote(const std::string& text) {
  constexpr size_t kShown = 60;
  std::string shown = text.size() > kShown ? text.substr(0, kShown) + "..." : text;
  for (char& c : shown) {
    if (c == '\n') c = ' ';
  }
  return "'" + shown + "'";
}

}  // namespace

std::vector<RuleCheckFailure> CheckRuleExamples(const std::vector<Rule>& rules, MatchEngine engine) {
  std::vector<Rule> all = rules;
  for (Rule& rule : all) rule.enabled = true;
  MatcherOptions options;
  options.engine = engine;
  const auto database = PatternDatabase::Compile(all, options);
  const auto context = database->NewContext();
  std::vector<RuleMatch> matches;
  std::vector<RuleCheckFailure> failures;
  for (uint32_t r = 0; r < database->rules().size(); ++r) {
    const Rule& rule = database->rules()[r];
    for (const std::string& keyword : rule.keywords) {
      if (keyword.size() < kMinKeywordBytes) {
        failures.push_back({rule.id, "keyword '" + keyword + "' is shorter than " +
                                         std::to_string(kMinKeywordBytes) +
                                         " characters: it occurs everywhere, and every "
                                         "occurrence costs a regex pass"});
      }
    }
    if (StartsWithRepeatedClass(rule.pattern, 0, rule.pattern.size())) {
      failures.push_back({rule.id, "pattern begins with a repeated character class: start it at a "
                                   "literal (a keyword, a name, a delimiter) so that the regex "
                                   "engines do not try a match at every byte"});
    }
    if (rule.examples.empty()) failures.push_back({rule.id, "has no examples"});
    if (rule.negative_examples.empty()) failures.push_back({rule.id, "has no negative_examples"});
    for (const RuleExample& example : rule.examples) {
      const auto secrets = SecretsFound(*context, r, example, matches);
      if (secrets.empty()) {
        failures.push_back({rule.id, "does not fire on its example " + Quote(example.text)});
      } else if (!example.secret.empty() &&
                 std::find(secrets.begin(), secrets.end(), example.secret) == secrets.end()) {
        failures.push_back({rule.id, "reports " + Quote(secrets.front()) + " instead of " +
                                         Quote(example.secret) + " on its example " +
                                         Quote(example.text)});
      }
    }
    for (const RuleExample& example : rule.negative_examples) {
      const auto secrets = SecretsFound(*context, r, example, matches);
      if (!secrets.empty()) {
        failures.push_back({rule.id, "fires on its negative example " + Quote(example.text) +
                                         " (reports " + Quote(secrets.front()) + ")"});
      }
    }
  }
  return failures;
}

}  // namespace layersift
