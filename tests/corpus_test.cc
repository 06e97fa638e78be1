// Scans the generated corpus (corpus/generate.py) and compares with its golden findings.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "scan_util.h"

namespace layersift {
namespace {

using nlohmann::json;
using testing::CorpusDir;
using testing::RunScan;
using testing::ScanSetup;

json Golden() {
  json golden = testing::LoadGolden();
  EXPECT_FALSE(golden["targets"].empty()) << "run corpus/generate.py first (ctest's fixture does)";
  return golden;
}

std::string SpecOf(const json& golden, const std::string& name) {
  for (const auto& [target, spec] : testing::CorpusTargets(golden)) {
    if (target == name) return spec;
  }
  ADD_FAILURE() << "no target " << name << " in golden.json";
  return "";
}

using Key = std::tuple<int, std::string, std::string, std::string>;  // layer, path, rule, sha256

std::multiset<Key> Expected(const json& golden, const std::string& target) {
  std::multiset<Key> keys;
  for (const json& e : golden["expected"]) {
    if (e["target"] != target) continue;
    keys.emplace(e["layer_index"].is_null() ? kNoLayer : e["layer_index"].get<int>(),
                 e["path"].get<std::string>(), e["rule_id"].get<std::string>(),
                 e["secret_sha256"].get<std::string>());
  }
  return keys;
}

std::multiset<Key> Actual(const ScanResult& result, const std::vector<Rule>& rules) {
  std::multiset<Key> keys;
  for (const Finding& f : result.findings) {
    keys.emplace(f.layer_index, f.path, rules[f.rule_index].id, SecretSha256(f.secret));
  }
  return keys;
}

std::string Describe(const std::multiset<Key>& keys) {
  std::string out;
  for (const auto& [layer, path, rule, sha] : keys) {
    out += "  layer " + std::to_string(layer) + " " + path + " " + rule + " " + sha.substr(0, 12) + "\n";
  }
  return out;
}

class CorpusTargetTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusTargetTest, FindingsAndErrorsMatchTheGoldenList) {
  const json golden = Golden();
  const std::string name = GetParam();
  const std::string spec = SpecOf(golden, name);
  std::vector<Rule> rules;
  const ScanResult result = RunScan({spec}, ScanSetup{}, &rules);

  const auto expected = Expected(golden, name);
  const auto actual = Actual(result, rules);
  std::multiset<Key> missing, unexpected;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(),
                      std::inserter(missing, missing.end()));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                      std::inserter(unexpected, unexpected.end()));
  EXPECT_TRUE(missing.empty()) << "missed:\n" << Describe(missing);
  EXPECT_TRUE(unexpected.empty()) << "not in the golden list:\n" << Describe(unexpected);

  std::vector<json> expected_errors;
  for (const json& e : golden.value("expected_errors", json::array())) {
    if (e["target"] == name) expected_errors.push_back(e);
  }
  EXPECT_EQ(result.errors.size(), expected_errors.size());
  for (const json& e : expected_errors) {
    const int layer = e["layer_index"].is_null() ? kNoLayer : e["layer_index"].get<int>();
    std::string fragment = e["contains"];
    std::transform(fragment.begin(), fragment.end(), fragment.begin(), ::tolower);
    const bool found = std::any_of(result.errors.begin(), result.errors.end(), [&](const ScanIssue& issue) {
      std::string message = issue.message;
      std::transform(message.begin(), message.end(), message.begin(), ::tolower);
      return issue.layer_index == layer && message.find(fragment) != std::string::npos;
    });
    EXPECT_TRUE(found) << "no error for layer " << layer << " containing '" << fragment << "'";
  }
  for (const ScanIssue& issue : result.errors) {
    EXPECT_FALSE(issue.message.empty());
    EXPECT_EQ(issue.target_index, 0u);
  }
  EXPECT_EQ(result.incomplete(), !expected_errors.empty());
}

std::vector<std::string> TargetNames() {
  std::vector<std::string> names;
  for (const auto& [name, spec] : testing::CorpusTargets(testing::LoadGolden())) names.push_back(name);
  if (names.empty()) names.push_back("missing-corpus");  // fails loudly instead of running nothing
  return names;
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusTargetTest, ::testing::ValuesIn(TargetNames()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// What the walker saw in the demo image: links and devices skipped, whiteouts recorded (for the
// image semantics), exclusions and binaries counted.
TEST(CorpusTest, WalkerAccountsForEveryEntryKind) {
  const json golden = Golden();
  const ScanResult result = RunScan({SpecOf(golden, "oci-demo")}, ScanSetup{});
  StageStats totals;
  std::vector<std::string> whiteouts;
  for (const LayerResult& layer : result.layers) {
    EXPECT_TRUE(layer.complete);
    EXPECT_FALSE(layer.compression.empty());
    EXPECT_EQ(layer.digest.rfind("sha256:", 0), 0u);
    totals.Add(layer.stats);
    whiteouts.insert(whiteouts.end(), layer.whiteouts.begin(), layer.whiteouts.end());
  }
  EXPECT_EQ(result.layers.size(), golden["layer_counts"]["oci-demo"].get<size_t>());
  EXPECT_GE(totals.links_skipped, 2u);
  EXPECT_GE(totals.files_excluded, 1u);
  EXPECT_GE(totals.files_binary_skipped, 1u);
  EXPECT_GE(totals.files_empty, 1u);
  EXPECT_GT(totals.bytes_scanned, 2u << 20);
  EXPECT_GT(totals.uncompressed_bytes, totals.bytes_scanned);
  EXPECT_TRUE(std::any_of(whiteouts.begin(), whiteouts.end(),
                          [](const std::string& p) { return p.find(".wh..wh..opq") != std::string::npos; }));
  EXPECT_TRUE(std::any_of(whiteouts.begin(), whiteouts.end(), [](const std::string& p) {
    return p.find(".wh.") != std::string::npos && p.find(".wh..wh..opq") == std::string::npos;
  }));
  std::set<std::string> compressions;
  for (const LayerResult& layer : result.layers) compressions.insert(layer.compression);
  EXPECT_EQ(compressions, (std::set<std::string>{"gzip", "zstd", "none"}));
}

// All targets in one run: a broken layer or target costs only itself.
TEST(CorpusTest, OneRunOverEveryTargetKeepsEverythingElse) {
  const json golden = Golden();
  std::vector<std::string> specs;
  std::vector<std::string> names;
  for (const auto& [name, spec] : testing::CorpusTargets(golden)) {
    names.push_back(name);
    specs.push_back(spec);
  }
  specs.push_back(std::string(CorpusDir()) + "/does-not-exist.tar");
  std::vector<Rule> rules;
  const ScanResult result = RunScan(specs, ScanSetup{}, &rules);
  size_t expected_findings = golden["expected"].size();
  EXPECT_EQ(result.findings.size(), expected_findings);
  for (const Finding& f : result.findings) {
    ASSERT_LT(f.target_index, names.size());
    EXPECT_GT(Expected(golden, names[f.target_index])
                  .count(Key{f.layer_index, f.path, rules[f.rule_index].id, SecretSha256(f.secret)}),
              0u)
        << names[f.target_index] << " " << f.path;
  }
  const auto missing_target = std::count_if(result.errors.begin(), result.errors.end(),
                                            [&](const ScanIssue& e) { return e.target_index == specs.size() - 1; });
  EXPECT_EQ(missing_target, 1);
  EXPECT_EQ(result.errors.size(), golden.value("expected_errors", json::array()).size() + 1);
}

}  // namespace
}  // namespace layersift
