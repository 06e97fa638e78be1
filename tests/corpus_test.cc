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
