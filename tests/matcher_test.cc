#include "layersift/engine/matcher.h"

#include <gtest/gtest.h>

#include <random>

namespace layersift {
namespace {

Rule MakeRule(std::string id, std::string pattern, std::vector<std::string> keywords) {
  Rule rule;
  rule.id = std::move(id);
  rule.name = rule.id;
  rule.kind = "test";
  rule.pattern = std::move(pattern);
  rule.keywords = std::move(keywords);
  rule.source = "matcher_test";
  return rule;
}

std::vector<Rule> TestRules() {
  std::vector<Rule> rules;
  rules.push_back(MakeRule("key-id", R"((?P<secret>AKIA[A-Z2-7]{16})\b)", {"akia"}));
  rules.push_back(MakeRule("assigned", R"re(token\s*=\s*"(?P<secret>[a-zA-Z0-9]{12,32})")re", {"token"}));
  Rule entropy = MakeRule("entropic", R"(pw:(?P<secret>[a-z0-9]{10}))", {"pw:"});
  entropy.min_entropy = 2.5;
  rules.push_back(entropy);
  Rule block = MakeRule("block", R"((?s)-----BEGIN X-----(?P<secret>.{1,200}?)-----END X-----)",
                        {"-----begin x"});
  block.max_match_bytes = 240;
  rules.push_back(block);
  return rules;
}

std::vector<RuleMatch> Scan(MatchEngine engine, const std::vector<Rule>& rules,
                            std::string_view text, size_t own_begin = 0,
                            size_t own_end = std::string_view::npos) {
  MatcherOptions options;
  options.engine = engine;
  auto db = PatternDatabase::Compile(rules, options);
  auto context = db->NewContext();
  std::vector<RuleMatch> out;
  context->Scan({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, own_begin,
                std::min(own_end, text.size()), out);
  return out;
}

class MatcherTest : public ::testing::TestWithParam<MatchEngine> {};

TEST_P(MatcherTest, FindsTheSecretGroup) {
  const std::string text = "x = 1\naws_access_key_id=AKIAQWERTYUIOPASDF23 # prod\n";
  const auto matches = Scan(GetParam(), TestRules(), text);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].rule_index, 0u);
  EXPECT_EQ(text.substr(matches[0].secret_begin, matches[0].secret_end - matches[0].secret_begin),
            "AKIAQWERTYUIOPASDF23");
}

TEST_P(MatcherTest, KeywordsAreCaseInsensitive) {
  // The keyword prefilter ignores case; whether the match does is up to the regex.
  std::vector<Rule> rules = {MakeRule("any-case", R"((?i)token=(?P<secret>[a-z0-9]{8}))", {"ToKeN="})};
  EXPECT_EQ(Scan(GetParam(), rules, "TOKEN=abcd1234").size(), 1u);
  EXPECT_EQ(Scan(GetParam(), rules, "token=abcd1234").size(), 1u);
  EXPECT_TRUE(Scan(GetParam(), TestRules(), "TOKEN = \"abcdefABCDEF1234\"").empty());
}

TEST_P(MatcherTest, MatchMustContainAKeyword) {
  // The regex matches "x123456", but no keyword occurrence lies inside the match.
  std::vector<Rule> rules = {MakeRule("outside", R"(x(?P<secret>[0-9]{6}))", {"marker"})};
  EXPECT_TRUE(Scan(GetParam(), rules, "marker then x123456").empty());
  std::vector<Rule> inside = {MakeRule("inside", R"(marker x(?P<secret>[0-9]{6}))", {"marker"})};
  EXPECT_EQ(Scan(GetParam(), inside, "marker x123456").size(), 1u);
}

TEST_P(MatcherTest, MinEntropyRejectsLowEntropySecrets) {
  EXPECT_TRUE(Scan(GetParam(), TestRules(), "pw:aaaaaaaaaa").empty());
  EXPECT_EQ(Scan(GetParam(), TestRules(), "pw:a8f3k29dz1").size(), 1u);
}

TEST_P(MatcherTest, MatchesLongerThanMaxMatchBytesAreDropped) {
  const std::string short_block = "-----BEGIN X-----" + std::string(100, 'q') + "-----END X-----";
  const std::string long_block = "-----BEGIN X-----" + std::string(230, 'q') + "-----END X-----";
  EXPECT_EQ(Scan(GetParam(), TestRules(), short_block).size(), 1u);
  EXPECT_TRUE(Scan(GetParam(), TestRules(), long_block).empty());
}

TEST_P(MatcherTest, OnlyOccurrencesInTheOwnedRegionAreReported) {
  const std::string text = "AKIAQWERTYUIOPASDF23 and AKIAZXCVBNMQWERTYU45";
  EXPECT_EQ(Scan(GetParam(), TestRules(), text).size(), 2u);
  const auto second_only = Scan(GetParam(), TestRules(), text, 10);
  ASSERT_EQ(second_only.size(), 1u);
  EXPECT_EQ(second_only[0].secret_begin, 25u);
  // An occurrence owned here whose secret extends past own_end is still found in full.
  const auto first_only = Scan(GetParam(), TestRules(), text, 0, 5);
  ASSERT_EQ(first_only.size(), 1u);
  EXPECT_EQ(first_only[0].secret_end, 20u);
}

TEST_P(MatcherTest, RepeatedKeywordInsideOneSecretGivesOneMatch) {
  const auto matches = Scan(GetParam(), TestRules(), "token = \"tokentokentoken12\"");
  EXPECT_EQ(matches.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Engines, MatcherTest,
                         ::testing::Values(MatchEngine::kVectorscan, MatchEngine::kRe2),
                         [](const auto& info) { return std::string(MatchEngineName(info.param)); });

TEST(MatcherCompileTest, RejectsBadPatternsNamingTheRule) {
  for (MatchEngine engine : {MatchEngine::kVectorscan, MatchEngine::kRe2}) {
    MatcherOptions options;
    options.engine = engine;
    try {
      PatternDatabase::Compile({MakeRule("broken", "(?P<secret>[a-z", {"a"})}, options);
      FAIL() << "compiled a broken pattern";
    } catch (const RuleError& e) {
      EXPECT_NE(std::string(e.what()).find("broken"), std::string::npos) << e.what();
    }
    try {
      PatternDatabase::Compile({MakeRule("nogroup", "abc[0-9]+", {"abc"})}, options);
      FAIL() << "compiled a pattern without a secret group";
    } catch (const RuleError& e) {
      EXPECT_NE(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    }
    Rule disabled = MakeRule("off", "(?P<secret>abc)", {"abc"});
    disabled.enabled = false;
    EXPECT_THROW(PatternDatabase::Compile({disabled}, options), RuleError);
  }
}

TEST(MatcherCompileTest, ContextCoversTheLongestMatchAndKeyword) {
  auto db = PatternDatabase::Compile(TestRules(), MatcherOptions{});
  EXPECT_EQ(db->context_bytes(), 256u + std::string("-----begin x").size());
  EXPECT_EQ(db->rules().size(), 4u);
}

// A regex engine that runs out of memory must say so, never report "no match". The re2
// backend's RE2::Set is compiled when a worker scans its first buffer, and RE2 proves at that
// point that its DFA can run in the budget: a budget too small is a MatcherError from Scan, which
// the scanner reports against the layer. (The vectorscan backend has no set.)
TEST(MatcherCompileTest, Re2BudgetTooSmallIsAnError) {
  std::vector<Rule> rules;
  for (int i = 0; i < 40; ++i) {
    rules.push_back(MakeRule("r" + std::to_string(i),
                             "k" + std::to_string(i) + R"([a-z]{3,30}[0-9]{2,9}(?P<secret>[a-f0-9]{8,40}))",
                             {"k" + std::to_string(i)}));
  }
  std::string dense;
  for (int i = 0; i < 400; ++i) dense += "k" + std::to_string(i % 40) + " ";
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(dense.data()), dense.size());
  for (MatchEngine engine : {MatchEngine::kRe2}) {
    MatcherOptions options;
    options.engine = engine;
    options.re2_set_max_mem_bytes = 16 << 10;
    std::vector<RuleMatch> out;
    try {
      const auto db = PatternDatabase::Compile(rules, options);
      db->NewContext()->Scan(bytes, 0, bytes.size(), out);
      ADD_FAILURE() << "a 16 KiB RE2 budget was accepted by " << MatchEngineName(engine);
    } catch (const MatcherError& e) {
      EXPECT_NE(std::string(e.what()).find("memory"), std::string::npos) << e.what();
    }
    options.re2_set_max_mem_bytes = 64 << 20;
    const auto db = PatternDatabase::Compile(rules, options);
    EXPECT_NO_THROW(db->NewContext()->Scan(bytes, 0, bytes.size(), out));
  }
}

// Random text dense with keywords and near misses: both engines must agree exactly.
TEST(MatcherEquivalenceTest, EnginesAgreeOnRandomText) {
  const char* const kPieces[] = {"AKIA", "AKIAQWERTYUIOPASDF23", "token = \"", "abcdEFGH1234", "\"",
                                 "pw:", "a8f3k29dz1", "-----BEGIN X-----", "-----END X-----",
                                 " ", "\n", "ZZ", "token=", "akia2345"};
  const auto rules = TestRules();
  MatcherOptions re2_options;
  re2_options.engine = MatchEngine::kRe2;
  auto vs = PatternDatabase::Compile(rules, MatcherOptions{});
  auto re2 = PatternDatabase::Compile(rules, re2_options);
  auto vs_context = vs->NewContext();
  auto re2_context = re2->NewContext();
  std::mt19937 rng(11);
  size_t total = 0;
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int pieces = 1 + static_cast<int>(rng() % 200);
    for (int i = 0; i < pieces; ++i) text += kPieces[rng() % std::size(kPieces)];
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    const size_t own_begin = rng() % (text.size() + 1);
    const size_t own_end = own_begin + rng() % (text.size() - own_begin + 1);
    std::vector<RuleMatch> a, b;
    vs_context->Scan(bytes, own_begin, own_end, a);
    re2_context->Scan(bytes, own_begin, own_end, b);
    ASSERT_EQ(a, b) << "round " << round << " text: " << text;
    total += a.size();
  }
  EXPECT_GT(total, 100u);  // the text really exercised the rules
}

TEST(EntropyTest, KnownValues) {
  EXPECT_DOUBLE_EQ(ShannonEntropy(""), 0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("aaaa"), 0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abab"), 1);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abcd"), 2);
}

}  // namespace
}  // namespace layersift
