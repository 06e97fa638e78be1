#include "layersift/engine/rule_check.h"

#include "layersift/rules/regex_syntax.h"

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
// nine such rules cost a factor of 2.5 (shared/PERFORMANCE.md). The check walks the pattern's
// structure (regex_syntax.h) to the first atom of every alternative the pattern can start with.

bool IsQuantifierAt(std::string_view p, size_t j) {
  if (j >= p.size()) return false;
  if (p[j] == '*' || p[j] == '+' || p[j] == '?') return true;
  return p[j] == '{' && j + 1 < p.size() && (std::isdigit(static_cast<unsigned char>(p[j + 1])) ||
                                             p[j + 1] == ',');
}

bool StartsWithRepeatedClass(std::string_view p, const RegexShape& shape, size_t begin, size_t end);

// Whether any alternative of p[begin, end) (split at the '|' outside nested groups) does.
bool AnyAlternativeStartsWithRepeatedClass(std::string_view p, const RegexShape& shape,
                                           size_t begin, size_t end) {
  size_t start = begin;
  for (size_t j = begin; j < end;) {
    if (p[j] == '(') {
      const RegexGroup* group = shape.GroupAt(j);
      j = group != nullptr && group->close < end ? group->close + 1 : end;
    } else if (p[j] == '|') {
      if (StartsWithRepeatedClass(p, shape, start, j)) return true;
      start = ++j;
    } else {
      j = RegexTokenEnd(p, j);
    }
  }
  return StartsWithRepeatedClass(p, shape, start, end);
}

bool StartsWithRepeatedClass(std::string_view p, const RegexShape& shape, size_t begin,
                             size_t end) {
  size_t j = begin;
  while (j < end) {
    if (p[j] == '^') {
      ++j;
      continue;
    }
    if (p[j] == '\\' && j + 1 < end && (p[j + 1] == 'b' || p[j + 1] == 'B' || p[j + 1] == 'A')) {
      j += 2;
      continue;
    }
    if (p[j] == '(') {
      const RegexGroup* group = shape.GroupAt(j);
      if (group == nullptr || group->close >= end) return false;  // unbalanced: RE2 rejects it
      if (group->flags_only()) {
        j = group->close + 1;
        continue;
      }
      return AnyAlternativeStartsWithRepeatedClass(p, shape, j + group->open_len, group->close);
    }
    const bool is_class =
        p[j] == '[' || p[j] == '.' ||
        (p[j] == '\\' && j + 1 < end &&
         std::string_view("wdsWDSpP").find(p[j + 1]) != std::string_view::npos);
    return is_class && IsQuantifierAt(p, RegexTokenEnd(p, j));
  }
  return false;
}

bool StartsWithRepeatedClass(std::string_view pattern) {
  return StartsWithRepeatedClass(pattern, ScanRegex(pattern), 0, pattern.size());
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
    if (StartsWithRepeatedClass(rule.pattern)) {
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
