// The same inputs scanned whole, in tiny chunks and in random chunk sizes, with both engines and
// 1 and N threads, must give identical findings (ripgrep's SearcherTester idea).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "scan_util.h"

namespace layersift {
namespace {

using testing::Canonical;
using testing::CorpusDir;
using testing::RunScan;
using testing::ScanSetup;

std::vector<std::string> CorpusSpecs() {
  std::vector<std::string> specs;
  for (const auto& [name, spec] : testing::CorpusTargets(testing::LoadGolden())) specs.push_back(spec);
  return specs;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

TEST(EquivalenceTest, CorpusFindingsDoNotDependOnChunkingEngineOrThreads) {
  const auto specs = CorpusSpecs();
  ASSERT_FALSE(specs.empty());
  std::vector<Rule> rules;
  const ScanResult reference = RunScan(specs, ScanSetup{}, &rules);
  const auto expected = Canonical(reference, rules);
  ASSERT_GT(expected.size(), 10u);

  std::mt19937 rng(20261122);
  std::vector<ScanSetup> setups;
  for (MatchEngine engine : {MatchEngine::kVectorscan, MatchEngine::kRe2}) {
    for (unsigned threads : {1u, 4u}) {
      for (size_t chunk : {size_t{1}, size_t{4096}, size_t{65536}, size_t{1} << 20, size_t{64} << 20}) {
        ScanSetup setup;
        setup.engine = engine;
        setup.threads = threads;
        setup.chunk_bytes = chunk;
        setups.push_back(setup);
      }
    }
  }
  for (int i = 0; i < 6; ++i) {
    ScanSetup setup;
    setup.engine = i % 2 ? MatchEngine::kRe2 : MatchEngine::kVectorscan;
    setup.threads = 1 + rng() % 3;
    setup.chunk_bytes = 1 + rng() % 300000;
    setup.max_memory_bytes = kMinimumMaxMemoryBytes;
    setups.push_back(setup);
  }
  for (const ScanSetup& setup : setups) {
    const ScanResult result = RunScan(specs, setup);
    EXPECT_EQ(Join(Canonical(result, rules)), Join(expected))
        << MatchEngineName(setup.engine) << " threads=" << setup.threads
        << " chunk=" << setup.chunk_bytes;
    EXPECT_EQ(result.errors.size(), reference.errors.size());
  }
}

// A large file with secrets at known places, lines of varied length and one very long line:
// offsets, lines and columns must be exact whatever the chunking.
TEST(EquivalenceTest, LineAndColumnAreExactAcrossPieces) {
  Rule rule;
  rule.id = "test-key";
  rule.name = "Test key";
  rule.kind = "test";
  rule.pattern = R"((?P<secret>TSTK[0-9A-Z]{16}))";
  rule.keywords = {"tstk"};
  rule.max_match_bytes = 64;
  rule.source = "equivalence_test";

  const auto dir = std::filesystem::temp_directory_path() / "layersift_equivalence_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::mt19937 rng(7);
  std::string text;
  struct Planted {
    uint64_t offset, line, column;
    std::string secret;
  };
  std::vector<Planted> planted;
  uint64_t line = 1;
  size_t line_start = 0;
  const size_t edges[] = {4096, 65536, 1 << 20, 2 << 20};
  size_t next_edge = 0;
  while (text.size() < (3 << 20)) {
    std::string secret = "TSTK";
    for (int i = 0; i < 16; ++i) secret.push_back("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"[rng() % 34]);
    size_t filler = rng() % 3000;
    if (rng() % 50 == 0) filler = 200000;  // a line far longer than any chunk's context
    // Straddle the next 4 KiB / 64 KiB / 1 MiB edge exactly.
    if (next_edge < std::size(edges) && text.size() + filler + 10 > edges[next_edge] - 8) {
      filler = edges[next_edge] - 8 > text.size() ? edges[next_edge] - 8 - text.size() : 0;
      ++next_edge;
    }
    for (size_t i = 0; i < filler; ++i) {
      const char c = "abcdefgh ijk\n"[rng() % 13];
      text.push_back(c);
      if (c == '\n') {
        ++line;
        line_start = text.size();
      }
    }
    planted.push_back({text.size(), line, text.size() - line_start + 1, secret});
    text += secret;
  }
  std::ofstream(dir / "big.txt", std::ios::binary) << text;

  for (size_t chunk : {size_t{1}, size_t{5000}, size_t{65536}, size_t{1} << 20, size_t{8} << 20}) {
    for (MatchEngine engine : {MatchEngine::kVectorscan, MatchEngine::kRe2}) {
      ScanSetup setup;
      setup.rules = {rule};
      setup.chunk_bytes = chunk;
      setup.engine = engine;
      const ScanResult result = RunScan({"dir:" + dir.string()}, setup);
      ASSERT_EQ(result.findings.size(), planted.size()) << "chunk " << chunk;
      for (size_t i = 0; i < planted.size(); ++i) {
        const Finding& f = result.findings[i];
        EXPECT_EQ(f.secret, planted[i].secret) << "chunk " << chunk << " #" << i;
        EXPECT_EQ(f.offset, planted[i].offset) << "chunk " << chunk << " #" << i;
        EXPECT_EQ(f.line, planted[i].line) << "chunk " << chunk << " #" << i;
        EXPECT_EQ(f.column, planted[i].column) << "chunk " << chunk << " #" << i;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace layersift
