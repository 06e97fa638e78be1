#include "layersift/rules/gitleaks_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "layersift/engine/matcher.h"

namespace layersift {
namespace {

constexpr MatchEngine kEngines[] = {MatchEngine::kRe2, MatchEngine::kVectorscan};

std::string DefaultConfigPath() {
  return std::string(LAYERSIFT_SOURCE_DIR) + "/tests/data/third_party/gitleaks/gitleaks.toml";
}

struct Found {
  std::string rule_id;
  std::string secret;
  uint32_t secret_begin;
  friend bool operator==(const Found&, const Found&) = default;
};

// Every finding in `text` scanned as the file `path`, with one engine.
std::vector<Found> Scan(const std::vector<Rule>& rules, MatchEngine engine, const std::string& text,
                        std::string_view path = "/app/config.txt") {
  MatcherOptions options;
  options.engine = engine;
  const auto db = PatternDatabase::Compile(rules, options);
  const auto context = db->NewContext();
  std::vector<RuleMatch> matches;
  context->Scan(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0,
                text.size(), path, matches);
  std::vector<Found> found;
  for (const RuleMatch& m : matches) {
    found.push_back({db->rules()[m.rule_index].id,
                     text.substr(m.secret_begin, m.secret_end - m.secret_begin), m.secret_begin});
  }
  return found;
}

// The same with both engines, which must agree.
std::vector<Found> ScanBoth(const std::vector<Rule>& rules, const std::string& text,
                            std::string_view path = "/app/config.txt") {
  const std::vector<Found> re2 = Scan(rules, MatchEngine::kRe2, text, path);
  EXPECT_EQ(re2, Scan(rules, MatchEngine::kVectorscan, text, path)) << text;
  return re2;
}

std::vector<std::string> Secrets(const std::vector<Found>& found) {
  std::vector<std::string> out;
  for (const Found& f : found) out.push_back(f.secret);
  return out;
}

bool Contains(const std::vector<std::string>& lines, std::string_view fragment) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
    return line.find(fragment) != std::string::npos;
  });
}

TEST(GitleaksLoaderTest, DefaultConfigLoadsAndCompilesWithBothEngines) {
  std::ifstream in(DefaultConfigPath());
  ASSERT_TRUE(in) << DefaultConfigPath();
  size_t rule_tables = 0;
  for (std::string line; std::getline(in, line);) rule_tables += line == "[[rules]]";
  ASSERT_GE(rule_tables, 200u);

  const GitleaksImport imported = LoadGitleaksConfig(DefaultConfigPath());
  EXPECT_GE(imported.rules.size(), 150u);
  EXPECT_EQ(imported.rules.size() + imported.skipped.size(), rule_tables);
  EXPECT_FALSE(imported.use_default);
  for (const std::string& skipped : imported.skipped) {
    const size_t colon = skipped.find(": ");
    ASSERT_NE(colon, std::string::npos) << skipped;
    EXPECT_GT(colon, 0u) << skipped;
    EXPECT_GT(skipped.size(), colon + 2) << skipped;
    std::cout << "skipped " << skipped << "\n";
  }
  for (const std::string& warning : imported.warnings) std::cout << "warning " << warning << "\n";
  std::cout << imported.rules.size() << " loaded, " << imported.skipped.size() << " skipped, "
            << imported.warnings.size() << " warnings\n";
  // The one path-only rule of the default config.
  EXPECT_TRUE(Contains(imported.skipped, "pkcs12-file: path-only rules are not supported"));

  // The global [allowlist] is one object shared by every rule.
  ASSERT_NE(imported.rules.front().shared_allow, nullptr);
  EXPECT_FALSE(imported.rules.front().shared_allow->paths.empty());
  for (const Rule& rule : imported.rules) {
    EXPECT_EQ(rule.shared_allow, imported.rules.front().shared_allow) << rule.id;
    EXPECT_EQ(rule.kind, "gitleaks");
    EXPECT_EQ(rule.id.rfind("gitleaks.", 0), 0u) << rule.id;
    EXPECT_EQ(rule.max_match_bytes, 1024u);
    EXPECT_FALSE(rule.keywords.empty()) << rule.id;
  }

  for (MatchEngine engine : kEngines) {
    MatcherOptions options;
    options.engine = engine;
    EXPECT_NO_THROW(PatternDatabase::Compile(imported.rules, options)) << MatchEngineName(engine);
  }

  // A real-looking token is found by the imported rule, with gitleaks's secret group.
  const std::string text = "GITHUB_TOKEN=ghp_Xq7Rb2Lm9Vt4Kc8Ns1Pw6Yd3Hf5Jg0Za2Bq7\n";
  bool found = false;
  for (const Found& f : ScanBoth(imported.rules, text)) {
    if (f.rule_id == "gitleaks.github-pat") {
      found = true;
      EXPECT_EQ(f.secret, "ghp_Xq7Rb2Lm9Vt4Kc8Ns1Pw6Yd3Hf5Jg0Za2Bq7");
    }
  }
  EXPECT_TRUE(found);
}

TEST(GitleaksLoaderTest, SecretGroupBecomesTheSecret) {
  const GitleaksImport imported = ParseGitleaksToml(R"(
[[rules]]
id = "demo-token"
description = "Demo token"
regex = '''\((demo)\)[(]_(?:key)=(?P<ver>v\d)-([a-z0-9]{16})\b'''
secretGroup = 3
entropy = 3
keywords = ["DEMO"]
tags = ["demo"]
)",
                                                    "inline.toml");
  ASSERT_EQ(imported.rules.size(), 1u) << ::testing::PrintToString(imported.skipped);
  const Rule& rule = imported.rules[0];
  EXPECT_EQ(rule.id, "gitleaks.demo-token");
  EXPECT_EQ(rule.name, "Demo token");
  EXPECT_EQ(rule.vendor, "demo");
  EXPECT_EQ(rule.kind, "gitleaks");
  EXPECT_EQ(rule.confidence, Confidence::kMedium);
  EXPECT_EQ(rule.keywords, std::vector<std::string>{"demo"});
  EXPECT_DOUBLE_EQ(rule.min_entropy.value_or(0), 3.0);
  EXPECT_EQ(rule.source, "inline.toml");
  // Group 3 is named secret; the other named group lost its name; escaped and bracketed
  // parentheses are not groups.
  EXPECT_EQ(rule.pattern, R"(\((demo)\)[(]_(?:key)=(v\d)-(?P<secret>[a-z0-9]{16})\b)");

  const std::string text = "x (demo)(_key=v1-k3y9q2w8e7r6t5y4 y";
  const std::vector<Found> found = ScanBoth(imported.rules, text);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].secret, "k3y9q2w8e7r6t5y4");
  EXPECT_EQ(found[0].secret_begin, text.find("k3y9"));
}

TEST(GitleaksLoaderTest, WithoutSecretGroupTheFirstGroupOrTheWholeMatch) {
  const GitleaksImport imported = ParseGitleaksToml(R"(
[[rules]]
id = "Whole_Match!"
regex = '''tok_[a-z0-9]{12}'''
keywords = ["tok_"]

[[rules]]
id = "first-group"
regex = '''ref=((alpha|beta)_[a-z0-9]{10})'''
keywords = ["ref="]

[[rules]]
id = "alternation"
regex = '''alt1=([a-z]{8})|alt2=([0-9]{8})'''
keywords = ["alt1=", "alt2="]
)",
                                                    "inline.toml");
  ASSERT_EQ(imported.rules.size(), 3u) << ::testing::PrintToString(imported.skipped);
  EXPECT_EQ(imported.rules[0].id, "gitleaks.whole_match-");
  EXPECT_EQ(imported.rules[0].pattern, "(?P<secret>tok_[a-z0-9]{12})");
  EXPECT_EQ(imported.rules[1].pattern, "ref=(?P<secret>(alpha|beta)_[a-z0-9]{10})");
  EXPECT_EQ(imported.rules[2].pattern, "(?P<secret>alt1=([a-z]{8})|alt2=([0-9]{8}))");
  EXPECT_TRUE(Contains(imported.warnings, "rule 'alternation': no secretGroup"));

  const std::string text = "a tok_abcdef123456 b ref=beta_0123456789 c alt2=12345678\n";
  EXPECT_EQ(Secrets(ScanBoth(imported.rules, text)),
            (std::vector<std::string>{"tok_abcdef123456", "beta_0123456789", "alt2=12345678"}));
}

TEST(GitleaksLoaderTest, RuleAllowlistsSuppressBySecretMatchLineAndStopword) {
  const GitleaksImport imported = ParseGitleaksToml(R"(
[[rules]]
id = "key-rule"
regex = '''key=([a-z0-9]{12})'''
keywords = ["key="]
[[rules.allowlists]]
regexes = ['''^abc''']
[[rules.allowlists]]
regexTarget = "match"
regexes = ['''key=dead''']
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''#\s*nosecret''']
[[rules.allowlists]]
stopwords = ["EXAMPLE"]
[[rules.allowlists]]
condition = "AND"
regexes = ['''^zzz''']
[[rules.allowlists]]
condition = "AND"
paths = ['''\.md$''']
regexes = ['''^q''']
[[rules.allowlists]]
commits = ["0123abcd"]
)",
                                                    "inline.toml");
  ASSERT_EQ(imported.rules.size(), 1u);
  const Allowlist& allow = imported.rules[0].allow;
  EXPECT_EQ(allow.secrets, (std::vector<std::string>{"^abc", "^zzz"}));
  EXPECT_EQ(allow.matches, std::vector<std::string>{"key=dead"});
  EXPECT_EQ(allow.lines, std::vector<std::string>{R"(#\s*nosecret)"});
  EXPECT_EQ(allow.stopwords, std::vector<std::string>{"example"});
  EXPECT_TRUE(allow.paths.empty());  // the AND allowlist over paths and regexes is left out
  EXPECT_TRUE(Contains(imported.warnings, "condition AND over several criteria"));
  EXPECT_TRUE(Contains(imported.warnings, "commits ignored"));
  EXPECT_EQ(imported.rules[0].shared_allow, nullptr);

  const std::string text =
      "key=abcdef123456\n"
      "key=dead00000001\n"
      "key=k9x8c7v6b5n4 # nosecret\n"
      "key=example12345\n"
      "key=zzzz11112222\n"
      "key=q1w2e3r4t5y6\n";
  EXPECT_EQ(Secrets(ScanBoth(imported.rules, text)), std::vector<std::string>{"q1w2e3r4t5y6"});
}

// Two plain rules for the allowlist tests to put a global allowlist in front of.
constexpr std::string_view kRulesOneAndTwo = R"(
[[rules]]
id = "one"
regex = '''one=([a-z0-9]{10})'''
keywords = ["one="]

[[rules]]
id = "two"
regex = '''two=([a-z0-9]{10})'''
keywords = ["two="]
)";

TEST(GitleaksLoaderTest, GlobalAllowlistIsSharedAndTargetRulesAreRuleOwn) {
  const GitleaksImport imported = ParseGitleaksToml(R"(
[allowlist]
description = "global"
regexes = ['''^glob''']
paths = ['''\.lock$''']
)" + std::string(kRulesOneAndTwo),
                                                    "inline.toml");
  ASSERT_EQ(imported.rules.size(), 2u);
  ASSERT_NE(imported.rules[0].shared_allow, nullptr);
  EXPECT_EQ(imported.rules[0].shared_allow, imported.rules[1].shared_allow);
  EXPECT_EQ(imported.rules[0].shared_allow->secrets, std::vector<std::string>{"^glob"});

  const std::string text = "one=globabc123 two=a1b2c3d4e5 one=z9y8x7w6v5\n";
  EXPECT_EQ(Secrets(ScanBoth(imported.rules, text)),
            (std::vector<std::string>{"a1b2c3d4e5", "z9y8x7w6v5"}));
  EXPECT_TRUE(ScanBoth(imported.rules, text, "/app/yarn.lock").empty());

  const GitleaksImport targeted = ParseGitleaksToml(R"(
[[allowlists]]
targetRules = ["two"]
stopwords = ["a1b2"]
)" + std::string(kRulesOneAndTwo),
                                                    "inline.toml");
  ASSERT_EQ(targeted.rules.size(), 2u);
  EXPECT_EQ(targeted.rules[0].shared_allow, nullptr);
  EXPECT_TRUE(targeted.rules[0].allow.stopwords.empty());
  EXPECT_EQ(targeted.rules[1].allow.stopwords, std::vector<std::string>{"a1b2"});
  EXPECT_EQ(Secrets(ScanBoth(targeted.rules, "one=a1b2c3d4e5 two=a1b2c3d4e5\n")),
            std::vector<std::string>{"a1b2c3d4e5"});
}

TEST(GitleaksLoaderTest, PathConditionLimitsTheRuleToMatchingFiles) {
  const GitleaksImport imported = ParseGitleaksToml(R"(
[[rules]]
id = "env-secret"
regex = '''SECRET=([A-Za-z0-9]{12})'''
path = '''(?:^|/)\.env$'''
keywords = ["secret="]

[[rules]]
id = "p12-file"
path = '''\.p12$'''
)",
                                                    "inline.toml");
  ASSERT_EQ(imported.rules.size(), 1u);
  EXPECT_EQ(imported.rules[0].paths, std::vector<std::string>{R"((?:^|/)\.env$)"});
  EXPECT_EQ(imported.skipped,
            std::vector<std::string>{"p12-file: path-only rules are not supported"});
  const std::string text = "SECRET=Q8w7E6r5T4y3\n";
  EXPECT_EQ(Secrets(ScanBoth(imported.rules, text, "/app/.env")),
            std::vector<std::string>{"Q8w7E6r5T4y3"});
  EXPECT_TRUE(ScanBoth(imported.rules, text, "/app/config.txt").empty());
}

TEST(GitleaksLoaderTest, UnrepresentableRulesAreSkippedWithTheirReason) {
  const GitleaksImport imported = ParseGitleaksToml(R"(
[[rules]]
id = "lookahead-token"
regex = '''tok(?=[0-9])([0-9]{8})'''
keywords = ["tok"]

[[rules]]
id = "no-keywords"
regex = '''nk_([a-z]{8})'''

[[rules]]
id = "bad-group"
regex = '''bg_([a-z]{8})'''
secretGroup = 2
keywords = ["bg_"]

[[rules]]
id = "helper"
regex = '''hp_([a-z]{8})'''
keywords = ["hp_"]
skipReport = true

[[rules]]
id = "good"
regex = '''gd_([a-z]{8})'''
keywords = ["gd_"]
)",
                                                    "inline.toml");
  ASSERT_EQ(imported.rules.size(), 1u);
  EXPECT_EQ(imported.rules[0].id, "gitleaks.good");
  ASSERT_EQ(imported.skipped.size(), 4u);
  EXPECT_EQ(imported.skipped[0].rfind("lookahead-token: RE2 rejects the regex: ", 0), 0u)
      << imported.skipped[0];
  EXPECT_EQ(imported.skipped[1], "no-keywords: no keywords: layersift needs prefilter literals");
  EXPECT_EQ(imported.skipped[2],
            "bad-group: secretGroup 2 but the regex has 1 capturing groups");
  EXPECT_EQ(imported.skipped[3].rfind("helper: skipReport", 0), 0u) << imported.skipped[3];
}

TEST(GitleaksLoaderTest, ExtendUseDefaultAndExtendPathWithDisabledRules) {
  const GitleaksImport with_default = ParseGitleaksToml(R"(
[extend]
useDefault = true

[[rules]]
id = "own"
regex = '''own_([a-z]{8})'''
keywords = ["own_"]
)",
                                                        "inline.toml");
  EXPECT_TRUE(with_default.use_default);
  EXPECT_EQ(with_default.rules.size(), 1u);
  EXPECT_TRUE(Contains(with_default.warnings, "default rules are not bundled"));

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("gitleaks_loader_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "base.toml") << R"(
[allowlist]
stopwords = ["basestop"]

[[rules]]
id = "alpha"
regex = '''alpha_([a-z]{8})'''
entropy = 1
keywords = ["alpha_"]

[[rules]]
id = "beta"
regex = '''beta_([a-z]{8})'''
keywords = ["beta_"]
)";
  std::ofstream(dir / "child.toml") << R"(
[extend]
path = "base.toml"
disabledRules = ["beta"]

[[rules]]
id = "alpha"
entropy = 2.5
keywords = ["alpha-"]

[[rules]]
id = "gamma"
regex = '''gamma_([a-z]{8})'''
keywords = ["gamma_"]
)";
  const GitleaksImport extended = LoadGitleaksConfig((dir / "child.toml").string());
  std::filesystem::remove_all(dir);
  ASSERT_EQ(extended.rules.size(), 2u) << ::testing::PrintToString(extended.skipped);
  EXPECT_FALSE(extended.use_default);
  EXPECT_EQ(extended.rules[0].id, "gitleaks.alpha");
  EXPECT_EQ(extended.rules[0].pattern, "alpha_(?P<secret>[a-z]{8})");  // from the base
  EXPECT_DOUBLE_EQ(extended.rules[0].min_entropy.value_or(0), 2.5);   // from the child
  EXPECT_EQ(extended.rules[0].keywords, (std::vector<std::string>{"alpha_", "alpha-"}));
  EXPECT_EQ(extended.rules[1].id, "gitleaks.gamma");
  ASSERT_NE(extended.rules[0].shared_allow, nullptr);
  EXPECT_EQ(extended.rules[0].shared_allow->stopwords, std::vector<std::string>{"basestop"});
}

TEST(GitleaksLoaderTest, InvalidConfigsThrowNamingTheFile) {
  auto expect_error = [](const std::string& toml, const std::string& fragment) {
    try {
      ParseGitleaksToml(toml, "bad.toml");
      ADD_FAILURE() << "accepted: " << toml;
    } catch (const RuleError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.toml"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error("[[rules]\nid = 'x'\n", "invalid TOML");
  expect_error("[[rules]]\nid = 'x'\nregex = 1\n", "field 'regex' must be a string");
  expect_error("[[rules]]\nid = 'x'\nregex = 'a'\nkeywords = ['a']\n"
               "[[rules.allowlists]]\nregexTarget = 'file'\nregexes = ['b']\n",
               "unknown regexTarget 'file'");
  expect_error("[extend]\nuseDefault = true\npath = 'x.toml'\n", "cannot both be set");
  EXPECT_THROW(LoadGitleaksConfig("/nonexistent/gitleaks.toml"), RuleError);
  try {
    LoadGitleaksConfig("/nonexistent/gitleaks.toml");
  } catch (const RuleError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/gitleaks.toml"), std::string::npos);
  }
}

}  // namespace
}  // namespace layersift
