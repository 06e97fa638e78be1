// Scans the generated corpus (corpus/generate.py) and compares with its golden findings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

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

// Everything golden.json says about one finding. Unknowns: platform "" (null), presence -1
// (null), removed_layer kNoLayer and reason "" (removed_by null), created_by "" (null).
struct Key {
  int layer = kNoLayer;
  std::string path;
  std::string rule;
  std::string sha256;
  std::string platform;
  int present = -1;  // present_in_final_image: -1 unknown, 0 false, 1 true
  int removed_layer = kNoLayer;
  std::string reason;
  std::string created_by;

  auto Tie() const {
    return std::tie(layer, path, rule, sha256, platform, present, removed_layer, reason, created_by);
  }
  bool operator<(const Key& other) const { return Tie() < other.Tie(); }
  bool operator==(const Key& other) const { return Tie() == other.Tie(); }
};

std::string NullOr(const json& value) { return value.is_null() ? std::string() : value.get<std::string>(); }

Key KeyOf(const json& e) {
  Key key;
  key.layer = e["layer_index"].is_null() ? kNoLayer : e["layer_index"].get<int>();
  key.path = e["path"].get<std::string>();
  key.rule = e["rule_id"].get<std::string>();
  key.sha256 = e["secret_sha256"].get<std::string>();
  key.platform = NullOr(e.at("platform"));
  const json& present = e.at("present_in_final_image");
  key.present = present.is_null() ? -1 : present.get<bool>() ? 1 : 0;
  const json& removed_by = e.at("removed_by");
  if (!removed_by.is_null()) {
    key.removed_layer = removed_by.at("layer_index").get<int>();
    key.reason = removed_by.at("reason").get<std::string>();
  }
  key.created_by = NullOr(e.at("created_by"));
  return key;
}

Key KeyOf(const ScanResult& result, const std::vector<Rule>& rules, const Finding& f) {
  Key key;
  key.layer = f.layer_index;
  key.path = f.path;
  key.rule = rules[f.rule_index].id;
  key.sha256 = SecretSha256(f.secret);
  const Target& target = result.targets[f.target_index];
  if (!target.images.empty()) {
    if (f.image_index >= target.images.size()) {
      key.platform = "<image index out of range>";
    } else {
      const ImageDescriptor& image = target.images[f.image_index];
      key.platform = image.platform;
      if (f.layer_index != kNoLayer) {
        key.created_by = static_cast<size_t>(f.layer_index) < image.layers.size()
                             ? image.layers[static_cast<size_t>(f.layer_index)].created_by_redacted
                             : "<layer index out of range>";
      }
    }
  }
  if (f.presence.known) {
    key.present = f.presence.present ? 1 : 0;
    if (!f.presence.present) {
      key.removed_layer = f.presence.removed_by_layer;
      key.reason = std::string(RemovalReasonName(f.presence.reason));
    }
  }
  return key;
}

std::multiset<Key> Expected(const json& golden, const std::string& target) {
  std::multiset<Key> keys;
  for (const json& e : golden["expected"]) {
    if (e["target"] == target) keys.insert(KeyOf(e));
  }
  return keys;
}

std::multiset<Key> Actual(const ScanResult& result, const std::vector<Rule>& rules) {
  std::multiset<Key> keys;
  for (const Finding& f : result.findings) keys.insert(KeyOf(result, rules, f));
  return keys;
}

std::string Describe(const Key& k) {
  const auto null_or = [](const std::string& s) { return s.empty() ? std::string("null") : "\"" + s + "\""; };
  std::string out = "layer " + (k.layer == kNoLayer ? std::string("null") : std::to_string(k.layer)) + " " +
                    k.path + " " + k.rule + " " + k.sha256.substr(0, 12) + " platform=" + null_or(k.platform) +
                    " present=" + (k.present < 0 ? "null" : k.present ? "true" : "false") + " removed_by=";
  out += k.reason.empty() && k.removed_layer == kNoLayer
             ? std::string("null")
             : "{layer " + std::to_string(k.removed_layer) + ", " + null_or(k.reason) + "}";
  return out + " created_by=" + null_or(k.created_by);
}

std::string Describe(const std::multiset<Key>& keys) {
  std::string out;
  for (const Key& key : keys) out += "  " + Describe(key) + "\n";
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Describe(const ScanSkip& skip) {
  return "  target " + std::to_string(skip.target_index) + " image " + std::to_string(skip.image_index) + " layer " +
         std::to_string(skip.layer_index) + " " + skip.path + ": " + skip.reason + "\n";
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

  // Skips: each expected one matched by its own actual skip (layer, path, reason fragment), and
  // no other skip.
  std::vector<bool> used(result.skipped.size(), false);
  for (const json& e : golden.value("expected_skips", json::array())) {
    if (e["target"] != name) continue;
    const int layer = e["layer_index"].is_null() ? kNoLayer : e["layer_index"].get<int>();
    const std::string path = e["path"];
    const std::string fragment = Lower(e["contains"]);
    bool found = false;
    for (size_t i = 0; i < result.skipped.size() && !found; ++i) {
      const ScanSkip& skip = result.skipped[i];
      if (used[i] || skip.layer_index != layer || skip.path != path) continue;
      if (Lower(skip.reason).find(fragment) == std::string::npos) continue;
      used[i] = found = true;
    }
    EXPECT_TRUE(found) << "no skip of layer " << layer << " " << path << " with a reason containing '" << fragment
                       << "'; skips:\n"
                       << [&] {
                            std::string all;
                            for (const ScanSkip& skip : result.skipped) all += Describe(skip);
                            return all;
                          }();
  }
  for (size_t i = 0; i < result.skipped.size(); ++i) {
    EXPECT_EQ(result.skipped[i].target_index, 0u);
    EXPECT_TRUE(used[i]) << "skip not in the golden list:\n" << Describe(result.skipped[i]);
  }

  // Layer uses and distinct blobs read (a blob shared by two platform images is read once).
  if (spec.rfind("dir:", 0) != 0) {
    EXPECT_EQ(result.layer_uses, golden["layer_counts"][name].get<uint64_t>());
  }
  const json blob_counts = golden.value("blob_counts", json::object());
  if (blob_counts.contains(name)) {
    EXPECT_EQ(result.blobs_scanned, blob_counts[name].get<uint64_t>());
  }
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

// What the walker saw in the demo image: links and devices skipped, whiteouts counted (for the
// image semantics), exclusions and binaries counted; the image config scanned as its own job.
TEST(CorpusTest, WalkerAccountsForEveryEntryKind) {
  const json golden = Golden();
  const ScanResult result = RunScan({SpecOf(golden, "oci-demo")}, ScanSetup{});
  StageStats totals;
  size_t layers = 0, configs = 0;
  std::set<std::string> compressions;
  std::set<int> layer_indexes;
  for (const LayerResult& layer : result.layers) {
    EXPECT_TRUE(layer.complete);
    ASSERT_FALSE(layer.uses.empty());
    if (layer.kind == JobKind::kConfig) {  // its digest is the config blob's (scanner.h)
      ++configs;
      const LayerUse& use = layer.uses[0];
      EXPECT_EQ(layer.digest, result.targets[use.target_index].images[use.image_index].config_digest);
      EXPECT_EQ(use.layer_index, kNoLayer);
      continue;
    }
    EXPECT_EQ(layer.kind, JobKind::kLayer);
    EXPECT_EQ(layer.digest.rfind("sha256:", 0), 0u);
    EXPECT_FALSE(layer.compression.empty());
    EXPECT_EQ(layer.uses.size(), 1u);
    layer_indexes.insert(layer.uses[0].layer_index);
    compressions.insert(layer.compression);
    totals.Add(layer.stats);
    ++layers;
  }
  EXPECT_EQ(layers, golden["layer_counts"]["oci-demo"].get<size_t>());
  EXPECT_EQ(layer_indexes, (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(configs, 1u);
  EXPECT_GE(totals.links_skipped, 2u);
  EXPECT_GE(totals.files_excluded, 1u);
  EXPECT_GE(totals.files_binary_skipped, 1u);
  EXPECT_GE(totals.files_empty, 1u);
  EXPECT_GE(totals.whiteouts, 2u);  // opt/legacy/.wh.oldfile and srv/somedir/.wh..wh..opq
  EXPECT_GT(totals.bytes_scanned, 2u << 20);
  EXPECT_GT(totals.uncompressed_bytes, totals.bytes_scanned);
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
    EXPECT_GT(Expected(golden, names[f.target_index]).count(KeyOf(result, rules, f)), 0u)
        << names[f.target_index] << " " << Describe(KeyOf(result, rules, f));
  }
  EXPECT_EQ(result.skipped.size(), golden.value("expected_skips", json::array()).size());
  const auto missing_target = std::count_if(result.errors.begin(), result.errors.end(),
                                            [&](const ScanIssue& e) { return e.target_index == specs.size() - 1; });
  EXPECT_EQ(missing_target, 1);
  EXPECT_EQ(result.errors.size(), golden.value("expected_errors", json::array()).size() + 1);
}

}  // namespace
}  // namespace layersift
