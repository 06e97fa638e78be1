#include "layersift/engine/rule_check.h"

namespace layersift {
namespace {

// Whether scanning `text` as a whole file yields a finding of rule `rule_index`.
bool Fires(ScanContext& context, uint32_t rule_index, const std::string& text,
           std::vector<RuleMatch>& matches) {
  matches.clear();
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  context.Scan(bytes, 0, bytes.size(), matches);
  for (const RuleMatch& m : matches) {
    if (m.rule_index == rule_index) return true;
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
    if (rule.examples.empty()) failures.push_back({rule.id, "has no examples"});
    if (rule.negative_examples.empty()) failures.push_back({rule.id, "has no negative_examples"});
    for (const std::string& example : rule.examples) {
      if (!Fires(*context, r, example, matches)) {
        failures.push_back({rule.id, "does not fire on its example " + Quote(example)});
      }
    }
    for (const std::string& example : rule.negative_examples) {
      if (Fires(*context, r, example, matches)) {
        failures.push_back({rule.id, "fires on its negative example " + Quote(example)});
      }
    }
  }
  return failures;
}

}  // namespace layersift
