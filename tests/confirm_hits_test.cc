// Confirmer::ConfirmHits reads a rule's clustered keyword occurrences in one sweep instead of one
// regex pass per occurrence. It must give exactly what confirming each occurrence on its own
// gives: this holds it to that on text dense with keywords, near misses and real matches, for
// every built-in rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "layersift/rules/rule_loader.h"
#include "matcher_internal.h"

namespace layersift::matcher_internal {
namespace {

// Text made of the built-in rules' own examples (which must match), their negative examples,
// and keyword-laden filler, in random order with random separators.
std::string DenseText(const RuleTable& table, std::mt19937& rng, size_t pieces) {
  std::vector<std::string> parts;
  for (const Rule& rule : table.rules) {
    for (const RuleExample& e : rule.examples) parts.push_back(e.text);
    for (const RuleExample& e : rule.negative_examples) parts.push_back(e.text);
  }
  for (const std::string& keyword : table.keywords) {
    parts.push_back(keyword + " = \"placeholder\"");
    parts.push_back(keyword + "=");
  }
  const char* const kSeparators[] = {" ", "\n", "; ", "\t", "=", "\"", ": ", "\n\n"};
  std::string text;
  for (size_t i = 0; i < pieces; ++i) {
    text += parts[rng() % parts.size()];
    text += kSeparators[rng() % std::size(kSeparators)];
  }
  return text;
}

std::vector<KeywordHit> HitsOf(const RuleTable& table, uint32_t rule, std::string_view text) {
  std::vector<KeywordHit> hits;
  for (uint32_t k : table.rule_keywords[rule]) {
    const std::string& keyword = table.keywords[k];
    for (size_t pos = 0; pos + keyword.size() <= text.size(); ++pos) {
      bool equal = true;
      for (size_t i = 0; i < keyword.size() && equal; ++i) {
        equal = std::tolower(static_cast<unsigned char>(text[pos + i])) == keyword[i];
      }
      if (equal) hits.push_back(KeywordHit{k, static_cast<uint32_t>(pos)});
    }
  }
  std::sort(hits.begin(), hits.end(),
            [](const KeywordHit& a, const KeywordHit& b) { return a.begin < b.begin; });
  return hits;
}

TEST(ConfirmHitsTest, SameMatchesAsConfirmingEachOccurrence) {
  const RuleTable table(BuiltinRules(), MatcherOptions{});
  Confirmer swept(table);
  Confirmer one_by_one(table);
  std::mt19937 rng(20261130);
  size_t total_matches = 0, clustered_rules = 0;
  for (int round = 0; round < 3; ++round) {
    const std::string text = DenseText(table, rng, 2000);
    std::vector<std::vector<KeywordHit>> hits_of_rule;
    for (uint32_t rule = 0; rule < table.rules.size(); ++rule) {
      hits_of_rule.push_back(HitsOf(table, rule, text));
    }
    for (const char* path : {"app/config.yaml", "home/user/.npmrc", "etc/odbc.ini"}) {
      swept.SetPath(path);
      one_by_one.SetPath(path);
      for (uint32_t rule = 0; rule < table.rules.size(); ++rule) {
        const std::vector<KeywordHit>& hits = hits_of_rule[rule];
        if (hits.empty()) continue;
        if (hits.size() > 1) ++clustered_rules;
        std::vector<RuleMatch> expected, actual;
        for (const KeywordHit& hit : hits) one_by_one.Confirm(rule, hit, text, expected);
        swept.ConfirmHits(rule, hits, text, actual);
        SortAndDeduplicate(expected, 0);
        SortAndDeduplicate(actual, 0);
        ASSERT_EQ(actual, expected) << "rule " << table.rules[rule].id << ", round " << round
                                    << ", path " << path;
        total_matches += expected.size();
      }
    }
  }
  // The text really exercised both the matches and the clustered sweeps.
  EXPECT_GT(total_matches, 1000u);
  EXPECT_GT(clustered_rules, 500u);
}

}  // namespace
}  // namespace layersift::matcher_internal
