// Choosing which rules run: the CLI's --enable-rule, --disable-rule, --only-rules and
// --enable-kind, applied to a loaded rule set.
#ifndef LAYERSIFT_RULES_SELECTION_H_
#define LAYERSIFT_RULES_SELECTION_H_

#include <string>
#include <vector>

#include "layersift/rules/rule.h"

namespace layersift {

struct RuleSelection {
  std::vector<std::string> only;          // if not empty: exactly these rules, enabled or not
  std::vector<std::string> enable_kinds;  // switch on every rule of these kinds
  std::vector<std::string> enable;        // switch on these rules
  std::vector<std::string> disable;       // switch off these rules (applied last)
};

// Applies `selection` to `rules` in the order above. Throws RuleError naming any id or kind that
// matches no rule, so a typo never silently scans with the wrong set.
void ApplyRuleSelection(std::vector<Rule>& rules, const RuleSelection& selection);

}  // namespace layersift

#endif  // LAYERSIFT_RULES_SELECTION_H_
