// Runs scans for the tests and reduces their findings to comparable records.
#ifndef LAYERSIFT_TESTS_SCAN_UTIL_H_
#define LAYERSIFT_TESTS_SCAN_UTIL_H_

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

struct ScanSetup {
  MatchEngine engine = MatchEngine::kVectorscan;
  unsigned threads = 2;
  size_t chunk_bytes = 1 << 20;
  uint64_t max_memory_bytes = 512ull << 20;
  std::vector<Rule> rules = BuiltinRules();
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
