#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "layersift/engine/matcher.h"
#include "layersift/engine/rule_check.h"
#include "layersift/rules/rule_loader.h"

namespace layersift {
namespace {

TEST(BuiltinRulesTest, LoadAndProveTheirExamplesWithBothEngines) {
  const std::vector<Rule> rules = BuiltinRules();
  EXPECT_GE(rules.size(), 20u);
  for (MatchEngine engine : {MatchEngine::kVectorscan, MatchEngine::kRe2}) {
    for (const RuleCheckFailure& failure : CheckRuleExamples(rules, engine)) {
      ADD_FAILURE() << MatchEngineName(engine) << ": " << failure.rule_id << " " << failure.message;
    }
  }
}

TEST(BuiltinRulesTest, DefaultExclusionsShipAndCompile) {
  const auto patterns = DefaultExcludedPathPatterns();
  EXPECT_GE(patterns.size(), 50u);
  EXPECT_NE(std::find(patterns.begin(), patterns.end(), "/node_modules/"), patterns.end());
}

TEST(RuleLoaderTest, ParsesEveryField) {
  const auto rules = ParseRulesYaml(R"(
rules:
  - id: demo-token
    name: Demo token
    kind: demo
    pattern: 'demo_(?P<secret>[a-z0-9]{20})'
    keywords: [DEMO_, demo_]
    min_entropy: 3.5
    max_match_bytes: 64
    enabled: false
    examples: ['demo_abcdefghij0123456789']
    negative_examples: ['demo_short']
)", "inline.yaml");
  ASSERT_EQ(rules.size(), 1u);
  const Rule& r = rules[0];
  EXPECT_EQ(r.id, "demo-token");
  EXPECT_EQ(r.keywords, std::vector<std::string>{"demo_"});  // lower-cased, de-duplicated
  EXPECT_DOUBLE_EQ(*r.min_entropy, 3.5);
  EXPECT_EQ(r.max_match_bytes, 64u);
  EXPECT_FALSE(r.enabled);
  EXPECT_EQ(r.source, "inline.yaml");
}

void ExpectRuleError(const std::string& yaml, const std::string& fragment) {
  try {
    ParseRulesYaml(yaml, "bad.yaml");
    ADD_FAILURE() << "accepted: " << yaml;
  } catch (const RuleError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.yaml"), std::string::npos) << e.what();
  }
}

TEST(RuleLoaderTest, RejectsMalformedRulesWithAClearMessage) {
  ExpectRuleError("rules: [", "invalid YAML");
  ExpectRuleError("other: 1", "'rules' list");
  ExpectRuleError("rules:\n  - id: x\n    name: X\n    kind: k\n    pattern: '(?P<secret>a)'\n",
                  "keywords");
  ExpectRuleError("rules:\n  - id: x\n    kind: k\n    pattern: p\n    keywords: [a]\n", "'name'");
  ExpectRuleError("rules:\n  - id: Bad Id\n    name: X\n    kind: k\n    pattern: p\n    keywords: [a]\n",
                  "id may hold");
  ExpectRuleError("rules:\n  - id: x\n    name: X\n    kind: k\n    pattern: p\n    keywords: [a]\n"
                  "    colour: red\n",
                  "unknown field 'colour'");
  ExpectRuleError("rules:\n  - id: x\n    name: X\n    kind: k\n    pattern: p\n    keywords: [a]\n"
                  "    min_entropy: lots\n",
                  "rule 'x'");
  ExpectRuleError("rules:\n  - {id: x, name: X, kind: k, pattern: p, keywords: [a]}\n"
                  "  - {id: x, name: Y, kind: k, pattern: q, keywords: [b]}\n",
                  "duplicate rule id 'x'");
}

TEST(RuleLoaderTest, LoadsADirectoryAndRejectsDuplicatesAcrossFiles) {
  const auto dir = std::filesystem::temp_directory_path() / "layersift_rules_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.yaml") << "rules:\n  - {id: one, name: One, kind: k, pattern: '(?P<secret>x1)', keywords: [x1]}\n";
  std::ofstream(dir / "b.yml") << "rules:\n  - {id: two, name: Two, kind: k, pattern: '(?P<secret>x2)', keywords: [x2]}\n";
  std::ofstream(dir / "notes.txt") << "ignored";
  const auto rules = LoadRulesFromPath(dir.string());
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].id, "one");
  EXPECT_EQ(rules[1].id, "two");
  std::vector<Rule> merged = rules;
  EXPECT_THROW(MergeRules(merged, LoadRulesFromPath((dir / "a.yaml").string())), RuleError);
  EXPECT_THROW(LoadRulesFromPath((dir / "missing.yaml").string()), RuleError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace layersift
