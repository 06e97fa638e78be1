// The RE2 -> ripgrep translation behind `layersift rules export`: each construct on its own, then
// the built-in set end to end with the real rg.
#include "layersift/rules/regex_export.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "layersift/rules/rule_loader.h"
#include "scan_util.h"

namespace layersift {
namespace {

namespace fs = std::filesystem;

RipgrepPattern Export(const std::string& pattern) {
  Rule rule;
  rule.id = "test";
  rule.pattern = pattern;
  return ExportForRipgrep(rule);
}

// The translation of `pattern`, without the (?-u:...) every pattern is wrapped in; "" (and a test
// failure) when it was not exported.
std::string Body(const std::string& pattern) {
  const RipgrepPattern exported = Export(pattern);
  EXPECT_TRUE(exported.ok()) << pattern << ": " << exported.reason;
  const std::string& p = exported.pattern;
  if (p.size() < 6 || p.compare(0, 5, "(?-u:") != 0 || p.back() != ')') {
    ADD_FAILURE() << pattern << " -> " << p << ": not wrapped in (?-u:...)";
    return "";
  }
  return p.substr(5, p.size() - 6);
}

std::string Reason(const std::string& pattern) {
  const RipgrepPattern exported = Export(pattern);
  EXPECT_FALSE(exported.ok()) << pattern << " was exported as " << exported.pattern;
  EXPECT_TRUE(exported.pattern.empty());
  return exported.reason;
}

TEST(RegexExportTest, EveryPatternIsScopedSoThatRgCanJoinThem) {
  // rg joins the lines of -f with '|': a bare (?i) would reach into the next rule's pattern.
  EXPECT_EQ(Export("(?i)abc").pattern, "(?-u:(?i)abc)");
  EXPECT_EQ(Export("a|b").pattern, "(?-u:a|b)");
}

TEST(RegexExportTest, GroupsLoseTheirCaptures) {
  // One regex with `secret` twice is an error in Rust's regex crate ("duplicate capture group
  // name"), and rg joins all lines into one.
  EXPECT_EQ(Body("ghp_(?P<secret>[A-Za-z0-9]{36})"), "ghp_(?:[0-9A-Za-z]{36})");
  EXPECT_EQ(Body("(?P<secret>a)|(?P<b>c)(d)"), "(?:a)|(?:c)(?:d)");
  EXPECT_EQ(Body("(?:a)(?i:b)"), "(?:a)(?i:b)");
}

TEST(RegexExportTest, PerlClassesAreAsciiAsInRe2) {
  // Rust's \d \w \s are Unicode by default, and its ASCII \s includes \v, which RE2's lacks.
  EXPECT_EQ(Body("\\d\\D"), "[0-9][^0-9]");
  EXPECT_EQ(Body("\\w\\W"), "[0-9A-Z_a-z][^0-9A-Z_a-z]");
  EXPECT_EQ(Body("\\s\\S"), "[\\t\\n\\f\\r ][^\\t\\n\\f\\r ]");
  EXPECT_EQ(Body("[^\\s\"'<>]"), "[^\\t\\n\\f\\r \"'<>]");
  EXPECT_EQ(Body("[\\w.-]"), "[\\-.0-9A-Z_a-z]");
}

TEST(RegexExportTest, WordBoundariesStayAndAreAsciiBecauseUnicodeIsOff) {
  EXPECT_EQ(Body("\\bx\\B"), "\\bx\\B");
}

TEST(RegexExportTest, PosixClassesFollowRe2) {
  // RE2's [[:space:]] has \v, its \s has not.
  EXPECT_EQ(Body("[[:alpha:]][[:space:]][[:^digit:]]"), "[A-Za-z][\\t-\\r ][^0-9]");
}

TEST(RegexExportTest, AnchorsMeanTheTextUnlessMultiLine) {
  // RE2's ^ and $ without (?m) are the start and end of the text; rg turns multi-line on, so they
  // are written as \A and \z. With (?m) they are written so, and the m flag itself is dropped.
  EXPECT_EQ(Body("^a$"), "\\Aa\\z");
  EXPECT_EQ(Body("\\Aa\\z"), "\\Aa\\z");
  EXPECT_EQ(Body("(?m)^a$"), "(?m:^)a(?m:$)");
  EXPECT_EQ(Body("(?m:^a)$"), "(?:(?m:^)a)\\z");
  EXPECT_EQ(Body("(?im:^a)$"), "(?i:(?m:^)a)\\z");
  EXPECT_EQ(Body("x(?m)(?-m:$)$"), "x(?:\\z)(?m:$)");
  EXPECT_EQ(Body("(?:\\r?\\n|^)a"), "(?:\\r?\\n|\\A)a");
}

TEST(RegexExportTest, RemainingFlagsPassThrough) {
  EXPECT_EQ(Body("(?U)a+(?s:.)(?i-s:b.)"), "(?U)a+(?s:.)(?i-s:b.)");
  EXPECT_EQ(Body(".(?s)."), ".(?s).");
}

TEST(RegexExportTest, QuotedTextBecomesEscapedLiterals) {
  EXPECT_EQ(Body("\\Qa.b*c\\E+"), "a\\.b\\*c+");
  EXPECT_EQ(Body("x\\Q(y|z"), "x\\(y\\|z");  // unterminated: to the end
  EXPECT_EQ(Body("\\Q[\\d]\\E"), "\\[\\\\d\\]");
}

TEST(RegexExportTest, AnyByteEscape) { EXPECT_EQ(Body("a\\Cb"), "a(?s:.)b"); }

TEST(RegexExportTest, OctalAndHexEscapesBecomeBytes) {
  EXPECT_EQ(Body("\\101\\0\\12\\011"), "A\\x00\\n\\t");
  EXPECT_EQ(Body("\\x41\\x{42}\\xe9\\x7F"), "AB\\xE9\\x7F");
  EXPECT_EQ(Body("\\a\\f\\v\\r\\t"), "\\x07\\f\\v\\r\\t");
}

TEST(RegexExportTest, PunctuationEscapesRustRejectsBecomeTheCharacter) {
  // regex-syntax 0.6 rejects \/ \" \: \@ ("unrecognized escape sequence").
  EXPECT_EQ(Body("\\/\\\"\\:\\@\\'\\`\\%\\=\\<\\>\\,\\!"), "/\":@'`%=<>,!");
  EXPECT_EQ(Body("\\.\\-\\#\\&\\~\\\\\\{\\}\\[\\]"), "\\.-\\#&~\\\\\\{\\}\\[\\]");
  EXPECT_EQ(Body("[\\]\\-^&~\\\\]"), "[\\&\\-\\\\-\\^\\~]");
  EXPECT_EQ(Body("[$.*+?(){}|/\"]"), "[\"$(-+./?{-}]");  // ( ) * + and { | } are runs
}

TEST(RegexExportTest, BracesThatAreNotRepetitionAreLiterals) {
  // RE2 reads a '{' that starts no {n}, {n,} or {n,m} as itself; Rust's parser rejects it.
  EXPECT_EQ(Body("a{,3}b{2,3}?c{2}d{2,}"), "a\\{,3\\}b{2,3}?c{2}d{2,}");
  EXPECT_EQ(Body("{x}"), "\\{x\\}");
  EXPECT_EQ(Body("a{"), "a\\{");
}

TEST(RegexExportTest, NonAsciiIsBytesAsLayersiftReadsIt) {
  // The engine compiles rules as Latin-1: é in a UTF-8 rule file is the two bytes C3 A9.
  EXPECT_EQ(Body("caf\xC3\xA9"), "caf\\xC3\\xA9");
  EXPECT_EQ(Body("[\\x80-\\xff]"), "[\\x80-\\xFF]");
  // Under (?i) RE2 folds Latin-1 letters too (É with é), Rust without Unicode only ASCII.
  EXPECT_EQ(Body("(?i)\\xC9\\xD7\\xFF"), "(?i)[\\xC9\\xE9]\\xD7\\xFF");
  EXPECT_EQ(Body("(?i)[\\xE0-\\xE3k]"), "(?i)[Kk\\xC0-\\xC3\\xE0-\\xE3]");
}

TEST(RegexExportTest, UnicodeClassesAreTheirLatin1Bytes) {
  EXPECT_EQ(Body("\\p{Lu}"), "[A-Z\\xC0-\\xD6\\xD8-\\xDE]");
  EXPECT_EQ(Body("\\pN"), "[0-9\\xB2\\xB3\\xB9\\xBC-\\xBE]");
  EXPECT_EQ(Body("\\PN"), "[^0-9\\xB2\\xB3\\xB9\\xBC-\\xBE]");
  EXPECT_EQ(Body("\\pLx"), "[A-Za-z\\xAA\\xB5\\xBA\\xC0-\\xD6\\xD8-\\xF6\\xF8-\\xFF]x");
}

TEST(RegexExportTest, CaseFoldedClassesAreClosedAndNegatedAfterFolding) {
  EXPECT_EQ(Body("(?i)[^k]"), "(?i)[^Kk]");
  EXPECT_EQ(Body("(?i)[a-c]"), "(?i)[A-Ca-c]");
  EXPECT_EQ(Body("(?i)\\W"), "(?i)[^0-9A-Z_a-z]");
}

TEST(RegexExportTest, ClassesAreWrittenTheShorterWay) {
  EXPECT_EQ(Body("[^\"]"), "[^\"]");
  EXPECT_EQ(Body("[\\x00-\\xfe]"), "[^\\xFF]");
  EXPECT_EQ(Body("[\\x00-\\xff]"), "(?s:.)");
  EXPECT_EQ(Body("[a]"), "a");
  EXPECT_EQ(Body("[.]"), "\\.");
}

TEST(RegexExportTest, NewlinesAreEscapedAndFlagMultiline) {
  // rg -f reads one pattern per line, and refuses a literal newline without -U.
  const RipgrepPattern literal = Export("a\\r?\\nb");
  EXPECT_EQ(literal.pattern, "(?-u:a\\r?\\nb)");
  EXPECT_TRUE(literal.needs_multiline);
  EXPECT_TRUE(Export("a[\\n]b").needs_multiline);
  EXPECT_TRUE(Export("a\\Q\nb\\E").needs_multiline);
  // A class with more than the newline is fine for rg without -U: it drops the newline.
  EXPECT_FALSE(Export("a\\sb").needs_multiline);
  EXPECT_FALSE(Export("a[^x]b").needs_multiline);
  EXPECT_EQ(Export("a\nb").pattern.find('\n'), std::string::npos);
}

TEST(RegexExportTest, WhatCannotBeExportedSaysWhy) {
  // RE2 itself rejects these, so layersift would not run them either.
  EXPECT_NE(Reason("(?=x)").find("RE2 rejects the pattern"), std::string::npos);
  EXPECT_NE(Reason("a\\Z").find("RE2 rejects the pattern"), std::string::npos);
  EXPECT_NE(Reason("(a").find("RE2 rejects the pattern"), std::string::npos);
  EXPECT_NE(Reason("a*+").find("RE2 rejects the pattern"), std::string::npos);
  // Valid RE2, no Rust equivalent: Rust refuses a class that matches nothing, and no Greek
  // letter is a Latin-1 byte.
  EXPECT_NE(Reason("tok_\\p{Greek}+").find("\\p{Greek} matches no byte"), std::string::npos);
  EXPECT_NE(Reason("[^\\x00-\\xff]").find("matches no byte"), std::string::npos);
}

TEST(RegexExportTest, EveryBuiltinRuleExports) {
  for (const Rule& rule : BuiltinRules()) {
    const RipgrepPattern exported = ExportForRipgrep(rule);
    EXPECT_TRUE(exported.ok()) << rule.id << ": " << exported.reason;
    EXPECT_EQ(exported.pattern.find('\n'), std::string::npos) << rule.id;
    EXPECT_EQ(exported.pattern.find("(?P<"), std::string::npos) << rule.id;
  }
}

// --- End to end with the real rg ----------------------------------------------------------------

// The executable `name` on PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path == nullptr ? "" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Runs `command` with sh; its stdout into `out`. Returns the exit status (-1 if it did not exit).
int RunCommand(const std::string& command, std::string& out) {
  out.clear();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "layersift_regex_export_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every positive example of every built-in rule (disabled ones too) becomes a file; layersift
// scans them, rg searches them with the exported patterns, and every line layersift reports a
// secret on must be a line rg reports: rg, lacking keywords, entropy and allowlists, reports a
// superset, never less.
TEST(RegexExportRipgrepTest, RgReportsTheLineOfEveryFindingOnTheBuiltinExamples) {
  const std::string rg = FindOnPath("rg");
  ASSERT_FALSE(rg.empty())
      << "ripgrep (rg) is not installed, so the exported rules cannot be proved against it: "
         "apt-get install -y ripgrep";
  std::vector<Rule> rules = BuiltinRules();
  for (Rule& rule : rules) rule.enabled = true;

  const TempDir temp;
  const fs::path patterns_file = temp.path() / "patterns.rg";
  const fs::path root = temp.path() / "examples";
  {
    std::ofstream patterns(patterns_file, std::ios::binary);
    for (const Rule& rule : rules) {
      const RipgrepPattern exported = ExportForRipgrep(rule);
      ASSERT_TRUE(exported.ok()) << rule.id << ": " << exported.reason;
      patterns << exported.pattern << '\n';
    }
  }
  size_t examples = 0;
  for (const Rule& rule : rules) {
    for (size_t i = 0; i < rule.examples.size(); ++i) {
      const RuleExample& example = rule.examples[i];
      // Under its own path when it has one: rules scoped to paths need it.
      const std::string name = example.path.empty()
                                   ? "example.txt"
                                   : example.path.substr(example.path.find_first_not_of('/'));
      const fs::path file = root / rule.id / std::to_string(i) / name;
      fs::create_directories(file.parent_path());
      std::ofstream(file, std::ios::binary) << example.text;
      ++examples;
    }
  }
  ASSERT_GE(examples, rules.size());

  testing::ScanSetup setup;
  setup.rules = rules;
  setup.tune = [](ScanOptions& options) {
    options.excluded_path_patterns.clear();
    options.scan_binaries = true;
  };
  std::vector<Rule> scanned;  // the database's order, which finding.rule_index refers to
  const ScanResult result = testing::RunScan({"dir:" + root.string()}, setup, &scanned);
  ASSERT_TRUE(result.errors.empty()) << result.errors.front().message;
  // `rules check` proves every example yields a finding.
  EXPECT_GE(result.findings.size(), examples);

  // -U: rules match across lines, and rg refuses a literal newline without it. --null: the path
  // ends at a NUL, the line number at the first ':'. In -U mode every line of a match is printed.
  std::string out;
  const int rc = RunCommand(rg + " --no-config -U -uu -a -n -H --no-heading --null -f '" +
                                patterns_file.string() + "' '" + root.string() + "'",
                            out);
  ASSERT_EQ(rc, 0) << "rg refused the exported patterns or found nothing";
  std::set<std::pair<std::string, uint64_t>> rg_lines;
  std::istringstream lines(out);
  std::string line;
  const std::string prefix = root.string() + "/";
  while (std::getline(lines, line)) {
    const size_t nul = line.find('\0');
    ASSERT_NE(nul, std::string::npos) << line;
    std::string path = line.substr(0, nul);
    if (path.compare(0, prefix.size(), prefix) == 0) path.erase(0, prefix.size());
    rg_lines.emplace(path, std::stoull(line.substr(nul + 1)));
  }
  for (const Finding& finding : result.findings) {
    std::string path = finding.path;
    path.erase(0, path.find_first_not_of("./"));
    EXPECT_TRUE(rg_lines.count({path, finding.line}) > 0)
        << "rg does not report " << path << ":" << finding.line << ", where layersift finds "
        << scanned[finding.rule_index].id << " (" << finding.secret << ")";
  }
}

}  // namespace
}  // namespace layersift
