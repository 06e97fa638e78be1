#ifndef LAYERSIFT_RULES_RULE_LOADER_H_
#define LAYERSIFT_RULES_RULE_LOADER_H_

#include <string>
#include <string_view>
#include <vector>

#include "layersift/rules/rule.h"

namespace layersift {

// Parses one YAML rule document (see rules/README.md). `source_name` is used in messages and
// stored in each rule. Throws RuleError on any missing or malformed field; the regex itself is
// compiled (and rejected) by the engine.
std::vector<Rule> ParseRulesYaml(std::string_view yaml_text, const std::string& source_name);

// Loads a rule file, or every *.yaml / *.yml file of a directory (sorted by name, not recursive).
std::vector<Rule> LoadRulesFromPath(const std::string& path);

// The rule set compiled into the binary (rules/builtin/*.yaml).
std::vector<Rule> BuiltinRules();

// Appends `more` to `rules`; throws RuleError naming both sources on a duplicate id.
void MergeRules(std::vector<Rule>& rules, std::vector<Rule> more);

// The default path exclusions (rules/default-excluded-paths.txt): RE2 regexes matched anywhere in
// a path written with a leading '/'. Blank lines and lines starting with '#' are skipped.
std::vector<std::string> DefaultExcludedPathPatterns();

}  // namespace layersift

#endif  // LAYERSIFT_RULES_RULE_LOADER_H_
