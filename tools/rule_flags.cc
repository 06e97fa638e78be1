#include "rule_flags.h"

#include "layersift/rules/rule_loader.h"

namespace layersift {

void RuleFlags::AddTo(CLI::App& app, bool with_selection) {
  app.add_option("--rules", rule_paths,
                 "Add the rules of a YAML file, or of every .yaml/.yml file in a directory "
                 "(repeatable). See rules/README.md for the format.");
  app.add_flag("--no-builtin-rules", no_builtin, "Use only the rules given with --rules");
  app.add_option("--engine", engine, "Matcher backend: vectorscan (default, fast) or re2")
      ->check(CLI::IsMember({"vectorscan", "re2"}));
  if (!with_selection) return;
  app.add_option("--only-rules", only_rules,
                 "Run exactly these rules (comma-separated ids), enabled by default or not")
      ->delimiter(',');
  app.add_option("--enable-kind", selection.enable_kinds,
                 "Switch on every rule of this kind, e.g. generic-password (repeatable)");
  app.add_option("--enable-rule", selection.enable,
                 "Switch on a rule that is off by default (repeatable)");
  app.add_option("--disable-rule", selection.disable, "Switch off a rule (repeatable)");
}

std::vector<Rule> RuleFlags::Load() const {
  std::vector<Rule> rules;
  if (!no_builtin) rules = BuiltinRules();
  for (const std::string& path : rule_paths) MergeRules(rules, LoadRulesFromPath(path));
  if (rules.empty()) throw RuleError("no rules: --no-builtin-rules needs --rules");
  RuleSelection effective = selection;
  effective.only = only_rules;
  ApplyRuleSelection(rules, effective);
  return rules;
}

}  // namespace layersift
