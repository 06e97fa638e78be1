// Translating a rule's RE2 pattern into the regex syntax of ripgrep 13 (Rust's `regex` crate,
// regex-syntax 0.6), so that `rg -f` can search with the same patterns layersift runs
// (`layersift rules export`).
//
// What the translation keeps exactly: the bytes a pattern matches as layersift compiles it, RE2 in
// Latin-1 mode, where every byte is one character and \d \w \s \b and case folding follow RE2's
// ASCII/Latin-1 definitions. The exported pattern therefore runs with Unicode off (`(?-u:...)`),
// and every class is written out as the set of bytes RE2 gives it. What it cannot keep, because
// rg has no notion of them, is everything about a rule besides its regex: keywords, entropy,
// allowlists, path scoping, max_match_bytes and validation. rg reports a superset.
#ifndef LAYERSIFT_RULES_REGEX_EXPORT_H_
#define LAYERSIFT_RULES_REGEX_EXPORT_H_

#include <cstddef>
#include <string>

#include "layersift/rules/rule.h"

namespace layersift {

// Measured on the built-in rules: ripgrep 13 needs 53 to 78 bytes of --regex-size-limit per
// instruction of RE2's program for the same rule (about 60 over the whole set), so this rounds up.
inline constexpr size_t kRipgrepBytesPerRe2Instruction = 80;

struct RipgrepPattern {
  // One line, with no raw newline (rg -f reads one pattern per line); empty when not exported.
  std::string pattern;
  // Why the rule cannot be exported; empty when it was.
  std::string reason;
  // The pattern holds a literal newline. rg refuses such a pattern unless given -U (--multiline),
  // because in its default, line-by-line mode no match may contain one.
  bool needs_multiline = false;
  // About how many bytes ripgrep 13 compiles the pattern to, which its --regex-size-limit bounds
  // for all patterns together (over it, rg refuses the file): kRipgrepBytesPerRe2Instruction
  // times the size of RE2's program for the rule. An estimate, not a promise.
  size_t ripgrep_bytes_estimate = 0;

  bool ok() const { return reason.empty(); }
};

// Translates `rule.pattern` (RE2 syntax, as the engine compiles it: Latin-1) for ripgrep 13, when
// rg searches with -U (--multiline): then a match may span lines as it does in layersift, and the
// anchors mean what they mean in RE2 (`^`/`$` without (?m): start/end of the file, written \A and
// \z; with (?m): of a line). Without -U, rg treats each line as the whole text, so \A and \z match
// at every line's start and end: a superset on one-line matches.
//
// - Every pattern is wrapped in its own `(?-u:...)`: rg joins the lines of a -f file with '|'
//   into one regex, so a leading `(?i)` would otherwise reach into the next rule's pattern.
// - Capturing groups become non-capturing: rg needs no captures, and the joined regex would
//   repeat the name `secret` once per rule, which Rust's regex crate rejects.
// - Classes, \d \s \w (and their negations) and \p{...} are written as explicit byte sets (RE2's
//   \s is [\t\n\f\r ], without the \v Rust's ASCII \s has), and so are non-ASCII literals under
//   (?i), which RE2 folds as Latin-1 (\xC9 with \xE9); \Q...\E becomes escaped literals; octal
//   and \x{...} escapes become \xHH; \C becomes (?s:.).
// - Escapes of punctuation Rust's parser does not accept (\/ \" \: ...) become the plain
//   character.
//
// Fails (a `reason` naming the construct) when RE2 itself rejects the pattern, or a construct has
// no Rust equivalent (a class that matches no byte, a character above \xFF). Pure: the same rule
// gives the same result; safe to call from several threads.
RipgrepPattern ExportForRipgrep(const Rule& rule);

}  // namespace layersift

#endif  // LAYERSIFT_RULES_REGEX_EXPORT_H_
