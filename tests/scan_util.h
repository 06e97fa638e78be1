// Runs scans for the tests and reduces their findings to comparable records.
#ifndef LAYERSIFT_TESTS_SCAN_UTIL_H_
#define LAYERSIFT_TESTS_SCAN_UTIL_H_

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "layersift/engine/report.h"
#include "layersift/engine/scanner.h"
#include "layersift/rules/rule_loader.h"

namespace layersift::testing {

inline const char* CorpusDir() { return LAYERSIFT_CORPUS_DIR; }

// golden.json's targets, name -> spec, with its OUTDIR placeholder replaced by the corpus dir.
inline std::vector<std::pair<std::string, std::string>> CorpusTargets(const nlohmann::json& golden) {
  std::vector<std::pair<std::string, std::string>> targets;
  for (const auto& [name, spec_json] : golden["targets"].items()) {
    std::string spec = spec_json.get<std::string>();
    const size_t at = spec.find("OUTDIR");
    if (at != std::string::npos) spec.replace(at, 6, CorpusDir());
    targets.emplace_back(name, spec);
  }
  return targets;
}

inline nlohmann::json LoadGolden() {
  std::ifstream in(std::string(CorpusDir()) + "/golden.json");
  if (!in) return nlohmann::json::object({{"targets", nlohmann::json::object()}});
  return nlohmann::json::parse(in);
}

struct ScanSetup {
  MatchEngine engine = MatchEngine::kVectorscan;
  unsigned threads = 2;
  size_t chunk_bytes = 1 << 20;
  uint64_t max_memory_bytes = 512ull << 20;
  std::vector<Rule> rules = BuiltinRules();
  std::function<void(ScanOptions&)> tune;  // anything else to set
};

inline ScanResult RunScan(const std::vector<std::string>& targets, const ScanSetup& setup,
                          std::vector<Rule>* effective_rules = nullptr) {
  MatcherOptions matcher;
  matcher.engine = setup.engine;
  auto db = PatternDatabase::Compile(setup.rules, matcher);
  ScanOptions options;
  options.threads = setup.threads;
  options.chunk_bytes = setup.chunk_bytes;
  options.max_memory_bytes = setup.max_memory_bytes;
  options.excluded_path_patterns = DefaultExcludedPathPatterns();
  if (setup.tune) setup.tune(options);
  ScanResult result = Scanner(*db, options).Scan(targets);
  if (effective_rules) *effective_rules = db->rules();
  return result;
}

// Everything a finding says, as one line, for exact comparisons between scans.
inline std::vector<std::string> Canonical(const ScanResult& result, const std::vector<Rule>& rules) {
  std::vector<std::string> lines;
  for (const Finding& f : result.findings) {
    std::ostringstream line;
    line << result.targets[f.target_index].spec << " img" << f.image_index << " L" << f.layer_index
         << " " << f.path << ":" << f.line << ":" << f.column << " @" << f.offset << " "
         << rules[f.rule_index].id << " " << SecretSha256(f.secret);
    lines.push_back(line.str());
  }
  return lines;
}

}  // namespace layersift::testing

#endif  // LAYERSIFT_TESTS_SCAN_UTIL_H_
