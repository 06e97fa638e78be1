#include "layersift/engine/rule_check.h"

#include <algorithm>

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
