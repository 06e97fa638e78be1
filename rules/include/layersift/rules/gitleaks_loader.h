// Imports gitleaks TOML configurations (https://github.com/gitleaks/gitleaks, config/gitleaks.toml
// format) into layersift's rule model. See rules/README.md, "Importing gitleaks rules", for the
// mapping and for what cannot be carried over.
#ifndef LAYERSIFT_RULES_GITLEAKS_LOADER_H_
#define LAYERSIFT_RULES_GITLEAKS_LOADER_H_

#include <string>
#include <string_view>
#include <vector>

#include "layersift/rules/rule.h"

namespace layersift {

// The outcome of importing one gitleaks configuration (and the files it extends).
struct GitleaksImport {
  // Rules ready for PatternDatabase::Compile: ids "gitleaks.<id>", kind "gitleaks", each pattern
  // RE2-compiled (Latin-1) with exactly one `secret` group. Rules of one import share one
  // `shared_allow` (the global allowlists), or none when there are no global allowlists.
  std::vector<Rule> rules;
  // One entry per gitleaks rule that was not imported: "<gitleaks id>: <reason>".
  std::vector<std::string> skipped;
  // What was imported only approximately or ignored (allowlists, extend, composite rules, ...),
  // one sentence each, naming the rule where there is one.
  std::vector<std::string> warnings;
  // `[extend] useDefault = true`: the configuration builds on gitleaks's default rules, which are
  // not bundled; the caller should keep layersift's built-in rules alongside the imported ones.
  bool use_default = false;
};

// Parses the text of a gitleaks TOML configuration. `source_name` names it in messages and in
// each rule's `source`; an `[extend] path` is resolved relative to its directory. Throws RuleError
// naming `source_name` (or the extended file) on invalid TOML or a malformed field (a value of the
// wrong type, an unknown regexTarget or condition, an extend depth over gitleaks's limit of 2).
// Rules that cannot be represented are not errors: they are listed in `skipped`.
GitleaksImport ParseGitleaksToml(std::string_view text, const std::string& source_name);

// Reads and parses the file at `path`. Throws RuleError naming the file when it cannot be read or
// is not a valid configuration.
GitleaksImport LoadGitleaksConfig(const std::string& path);

}  // namespace layersift

#endif  // LAYERSIFT_RULES_GITLEAKS_LOADER_H_
