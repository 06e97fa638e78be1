#ifndef LAYERSIFT_ENGINE_RULE_CHECK_H_
#define LAYERSIFT_ENGINE_RULE_CHECK_H_

#include <string>
#include <vector>

#include "layersift/engine/matcher.h"

namespace layersift {

struct RuleCheckFailure {
  std::string rule_id;
  std::string message;
};

// Proves every rule (disabled ones included) against its own examples with `engine`: each
// example must yield a finding of the rule, no negative example may. A rule without examples or
// negative examples fails too. Throws RuleError if the rules do not compile.
std::vector<RuleCheckFailure> CheckRuleExamples(const std::vector<Rule>& rules, MatchEngine engine);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_RULE_CHECK_H_
