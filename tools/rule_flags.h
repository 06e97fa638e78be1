// The rule-set flags shared by `scan` and the `rules` subcommands: where rules come from and
// which of them run.
#ifndef LAYERSIFT_TOOLS_RULE_FLAGS_H_
#define LAYERSIFT_TOOLS_RULE_FLAGS_H_

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "layersift/rules/rule.h"
#include "layersift/rules/selection.h"

namespace layersift {

struct RuleFlags {
  std::vector<std::string> rule_paths;
  std::vector<std::string> gitleaks_paths;
  bool no_builtin = false;
  std::string engine = "vectorscan";
  std::vector<std::string> only_rules;  // comma-separated on the command line
  RuleSelection selection;

  // `with_selection`: also the flags that switch rules on and off.
  void AddTo(CLI::App& app, bool with_selection = true);

  // The built-in rules (unless --no-builtin-rules), then each --rules path, then each gitleaks
  // config, then the selection. What a gitleaks import skipped or only approximated is printed
  // on stderr. Throws RuleError on a bad file, a duplicate id or a selection naming no rule.
  std::vector<Rule> Load() const;
};

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_RULE_FLAGS_H_
