#include "layersift/engine/rule_set.h"

#include <algorithm>
#include <cstdio>

#include "layersift/engine/digest.h"

namespace layersift {
namespace {

// Length-prefixed fields: no two different rules serialise to the same bytes.
void Field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out.push_back(':');
  out.append(value);
}

void Fields(std::string& out, const std::vector<std::string>& values) {
  Field(out, std::to_string(values.size()));
  for (const std::string& value : values) Field(out, value);
}

void AllowlistFields(std::string& out, const Allowlist& allow) {
  Fields(out, allow.secrets);
  Fields(out, allow.matches);
  Fields(out, allow.lines);
  Fields(out, allow.paths);
  Fields(out, allow.stopwords);
}

}  // namespace

std::string_view EngineVersion() { return LAYERSIFT_VERSION; }

std::string RuleSetHash(const std::vector<Rule>& rules) {
  std::vector<const Rule*> enabled;
  for (const Rule& rule : rules) {
    if (rule.enabled) enabled.push_back(&rule);
  }
  std::sort(enabled.begin(), enabled.end(),
            [](const Rule* a, const Rule* b) { return a->id < b->id; });
  std::string text;
  Field(text, "layersift");
  Field(text, EngineVersion());
  for (const Rule* rule : enabled) {
    Field(text, rule->id);
    Field(text, rule->kind);
    Field(text, rule->vendor);
    Field(text, ConfidenceName(rule->confidence));
    Field(text, rule->pattern);
    Fields(text, rule->keywords);
    char entropy[32];
    std::snprintf(entropy, sizeof(entropy), "%.6f", rule->min_entropy.value_or(-1));
    Field(text, entropy);
    Field(text, std::to_string(rule->max_match_bytes));
    Fields(text, rule->paths);
    AllowlistFields(text, rule->allow);
    if (rule->shared_allow) {
      AllowlistFields(text, *rule->shared_allow);
    } else {
      AllowlistFields(text, Allowlist{});
    }
    Field(text, ValidatorName(rule->validate));
    Field(text, rule->on_invalid == OnInvalid::kSuppress ? "suppress" : "downgrade");
  }
  return "sha256:" + Sha256::HexOf(text);
}

Confidence EffectiveConfidence(const Rule& rule, CheckResult check) {
  return check == CheckResult::kFailed ? Confidence::kLow : rule.confidence;
}

}  // namespace layersift
