// What identifies a rule set: its hash (the incremental scanner rescans when it changes) and the
// engine version that goes into it.
#ifndef LAYERSIFT_ENGINE_RULE_SET_H_
#define LAYERSIFT_ENGINE_RULE_SET_H_

#include <string>
#include <string_view>
#include <vector>

#include "layersift/engine/matcher.h"
#include "layersift/rules/rule.h"

namespace layersift {

// The project's version, as in CMakeLists.txt.
std::string_view EngineVersion();

// "sha256:<hex>" over the engine version and the definition of every enabled rule (everything
// that changes what it finds or how it is reported: pattern, keywords, limits, filters, checks,
// confidence, kind), in id order. Independent of rule file order, examples, names, references
// and of the matcher backend (both find the same).
std::string RuleSetHash(const std::vector<Rule>& rules);

// The confidence a finding is reported with: the rule's, or low when its check failed and the
// rule downgrades instead of suppressing.
Confidence EffectiveConfidence(const Rule& rule, CheckResult check);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_RULE_SET_H_
