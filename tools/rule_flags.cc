#include "rule_flags.h"

#include <cstdio>

#include "layersift/rules/gitleaks_loader.h"
#include "layersift/rules/rule_loader.h"

namespace layersift {

void RuleFlags::AddTo(CLI::App& app, bool with_selection) {
  // Every repeatable flag takes one value per occurrence, so `--disable-rule X TARGET` does not
  // swallow the target.
  app.add_option("--rules", rule_paths,
                 "Add the rules of a YAML file, or of every .yaml/.yml file in a directory "
                 "(repeatable). See rules/README.md for the format.")
      ->allow_extra_args(false);
  app.add_option("--rules-gitleaks", gitleaks_paths,
                 "Add the rules of a gitleaks TOML config (repeatable); rules RE2 cannot run are "
                 "skipped and listed on stderr")
      ->allow_extra_args(false);
  app.add_flag("--no-builtin-rules", no_builtin,
               "Use only the rules given with --rules / --rules-gitleaks");
  app.add_option("--engine", engine, "Matcher backend: vectorscan (default, fast) or re2")
      ->check(CLI::IsMember({"vectorscan", "re2"}));
  if (!with_selection) return;
  app.add_option("--only-rules", only_rules,
                 "Run exactly these rules (comma-separated ids), enabled by default or not")
      ->delimiter(',')
      ->allow_extra_args(false);
  app.add_option("--enable-kind", selection.enable_kinds,
                 "Switch on every rule of this kind, e.g. generic-password (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--enable-rule", selection.enable,
                 "Switch on a rule that is off by default (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--disable-rule", selection.disable, "Switch off a rule (repeatable)")
      ->allow_extra_args(false);
}

std::vector<Rule> RuleFlags::Load() const {
  std::vector<Rule> rules;
  if (!no_builtin) rules = BuiltinRules();
  for (const std::string& path : rule_paths) MergeRules(rules, LoadRulesFromPath(path));
  for (const std::string& path : gitleaks_paths) {
    GitleaksImport imported = LoadGitleaksConfig(path);
    std::fprintf(stderr, "layersift: gitleaks config %s: %zu rules loaded, %zu skipped\n",
                 path.c_str(), imported.rules.size(), imported.skipped.size());
    for (const std::string& skipped : imported.skipped) {
      std::fprintf(stderr, "layersift:   skipped %s\n", skipped.c_str());
    }
    for (const std::string& warning : imported.warnings) {
      std::fprintf(stderr, "layersift:   warning: %s\n", warning.c_str());
    }
    if (imported.use_default && no_builtin) {
      std::fprintf(stderr,
                   "layersift:   the config extends gitleaks's default rules, which are not "
                   "bundled; drop --no-builtin-rules to scan with layersift's built-in set too\n");
    }
    MergeRules(rules, std::move(imported.rules));
  }
  if (rules.empty()) {
    throw RuleError("no rules: --no-builtin-rules needs --rules or --rules-gitleaks");
  }
  RuleSelection effective = selection;
  effective.only = only_rules;
  ApplyRuleSelection(rules, effective);
  return rules;
}

}  // namespace layersift
