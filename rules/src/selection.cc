#include "layersift/rules/selection.h"

#include <algorithm>

namespace layersift {
namespace {

Rule& FindRule(std::vector<Rule>& rules, const std::string& id, const char* flag) {
  auto it = std::find_if(rules.begin(), rules.end(), [&](const Rule& r) { return r.id == id; });
  if (it == rules.end()) {
    throw RuleError(std::string(flag) + ": no rule with id '" + id +
                    "' (see 'layersift rules list')");
  }
  return *it;
}

}  // namespace

void ApplyRuleSelection(std::vector<Rule>& rules, const RuleSelection& selection) {
  if (!selection.only.empty()) {
    for (const std::string& id : selection.only) FindRule(rules, id, "--only-rules");
    for (Rule& rule : rules) {
      rule.enabled = std::find(selection.only.begin(), selection.only.end(), rule.id) !=
                     selection.only.end();
    }
  }
  for (const std::string& kind : selection.enable_kinds) {
    bool any = false;
    for (Rule& rule : rules) {
      if (rule.kind == kind) {
        rule.enabled = true;
        any = true;
      }
    }
    if (!any) {
      throw RuleError("--enable-kind: no rule of kind '" + kind + "' (see 'layersift rules list')");
    }
  }
  for (const std::string& id : selection.enable) FindRule(rules, id, "--enable-rule").enabled = true;
  for (const std::string& id : selection.disable) {
    FindRule(rules, id, "--disable-rule").enabled = false;
  }
}

}  // namespace layersift
