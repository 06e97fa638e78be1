// How every rule pattern is compiled, wherever it is compiled (the matcher, the gitleaks
// importer, the ripgrep export): a pattern that compiles in one compiles in all, with one meaning.
#ifndef LAYERSIFT_RULES_RULE_REGEX_H_
#define LAYERSIFT_RULES_RULE_REGEX_H_

#include <re2/re2.h>

namespace layersift {

// Byte semantics (Latin-1: each byte is one character, so a class is a set of bytes and \xE9 is
// the byte 0xE9), since layer contents are arbitrary bytes and secrets are ASCII; errors are
// returned, not logged.
inline RE2::Options RuleRegexOptions() {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  return options;
}

}  // namespace layersift

#endif  // LAYERSIFT_RULES_RULE_REGEX_H_
