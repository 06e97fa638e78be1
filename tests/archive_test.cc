// Archives inside layers: expansion, paths, depth, zip-bomb guards, and robustness against
// damaged archives (random and truncated zip/jar/tar.gz data must never crash or fail the layer).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "archive_builder.h"
#include "layersift/engine/validate.h"
#include "scan_util.h"

namespace layersift {
namespace {

using testing::Gzip;
using testing::RunScan;
using testing::ScanSetup;
using testing::TarBuilder;
using testing::ZipBuilder;

// A GitHub token with valid check digits, different for every seed.
std::string Token(uint32_t seed) {
  std::mt19937 rng(seed);
  constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string body;
  for (int i = 0; i < 30; ++i) body.push_back(kAlnum[rng() % kAlnum.size()]);
  return "ghp_" + body + Crc32Base62(body);
}

std::string Secret(uint32_t seed) { return "GITHUB_TOKEN=" + Token(seed) + "\n"; }

// Writes `tar` as a layer file and scans it.
ScanResult ScanLayer(const std::string& tar, const std::string& name,
                     std::function<void(ScanOptions&)> tune = nullptr) {
  const std::string path = ::testing::TempDir() + "/" + name + ".tar";
  std::ofstream(path, std::ios::binary) << tar;
  ScanSetup setup;
  setup.threads = 1;
  setup.tune = std::move(tune);
  ScanResult result = RunScan({"layer:" + path}, setup);
  std::filesystem::remove(path);
  return result;
}

std::set<std::string> PathsOf(const ScanResult& result) {
  std::set<std::string> paths;
  for (const Finding& f : result.findings) paths.insert(f.path);
  return paths;
}

std::string SkipReasonFor(const ScanResult& result, const std::string& path) {
  for (const ScanSkip& skip : result.skipped) {
    if (skip.path == path) return skip.reason;
  }
  return "";
}

TEST(ArchiveTest, MembersOfNestedArchivesAreScannedWithBangPaths) {
  const std::string inner = ZipBuilder().File("config.properties", Secret(2)).Finish();
  const std::string jar = ZipBuilder()
                              .File("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
                              .File("BOOT-INF/classes/application.properties", Secret(1))
                              .File("BOOT-INF/lib/inner.jar", inner)
                              .Finish();
  const std::string tgz = Gzip(TarBuilder().Directory("etc/").File("etc/app.env", Secret(3)).Finish());
  const std::string layer = TarBuilder()
                                .File("app/app.jar", jar)
                                .File("app/vendor.tgz", tgz)
                                .File("app/plain.env", Secret(4))
                                .Finish();
  const ScanResult result = ScanLayer(layer, "nested");
  EXPECT_EQ(PathsOf(result), (std::set<std::string>{
                                 "app/app.jar!BOOT-INF/classes/application.properties",
                                 "app/app.jar!BOOT-INF/lib/inner.jar!config.properties",
                                 "app/vendor.tgz!etc/app.env",
                                 "app/plain.env",
                             }));
  for (const Finding& f : result.findings) {
    EXPECT_EQ(f.line, 1u);
    EXPECT_EQ(f.column, 14u) << f.path;  // after "GITHUB_TOKEN="
  }
  EXPECT_TRUE(result.errors.empty());
  EXPECT_TRUE(result.skipped.empty());
  EXPECT_EQ(result.totals.archives_expanded, 3u);
  EXPECT_EQ(result.totals.archive_members, 5u);
}

TEST(ArchiveTest, ArchivesDeeperThanTheLimitAreReportedNotExpanded) {
  const std::string level3 = ZipBuilder().File("deep.properties", Secret(5)).Finish();
  const std::string level2 = ZipBuilder().File("deep.jar", level3).File("two.properties", Secret(6)).Finish();
  const std::string level1 = ZipBuilder().File("lib/two.jar", level2).Finish();
  const std::string layer = TarBuilder().File("one.jar", level1).Finish();

  const ScanResult two = ScanLayer(layer, "depth2");
  EXPECT_EQ(PathsOf(two), (std::set<std::string>{"one.jar!lib/two.jar!two.properties"}));
  EXPECT_NE(SkipReasonFor(two, "one.jar!lib/two.jar!deep.jar").find("--max-archive-depth 2"), std::string::npos);

  const ScanResult three = ScanLayer(layer, "depth3", [](ScanOptions& o) { o.max_archive_depth = 3; });
  EXPECT_EQ(PathsOf(three).size(), 2u);
  EXPECT_TRUE(three.skipped.empty());

  // Depth 0: archives are plain files again (binary here, so skipped as binary, not reported).
  const ScanResult none = ScanLayer(layer, "depth0", [](ScanOptions& o) { o.max_archive_depth = 0; });
  EXPECT_TRUE(none.findings.empty());
  EXPECT_TRUE(none.skipped.empty());
  EXPECT_EQ(none.totals.files_binary_skipped, 1u);
}

TEST(ArchiveTest, ZipBombStopsAtTheRatioGuardAndKeepsWhatCameBefore) {
  std::string filler;
  while (filler.size() < (8u << 20)) filler += "all work and no play makes a dull layer\n";
  const std::string bomb = ZipBuilder()
                               .File("a.properties", Secret(7))
                               .File("big.txt", filler)
                               .File("z.properties", Secret(8))
                               .Finish();
  ASSERT_LT(bomb.size() * 100, filler.size());
  const std::string layer = TarBuilder().File("bomb.zip", bomb).File("after.env", Secret(9)).Finish();
  const ScanResult result = ScanLayer(layer, "bomb");
  EXPECT_EQ(PathsOf(result), (std::set<std::string>{"bomb.zip!a.properties", "after.env"}));
  const std::string reason = SkipReasonFor(result, "bomb.zip");
  EXPECT_NE(reason.find("zip-bomb"), std::string::npos) << reason;
  EXPECT_NE(reason.find("--max-archive-ratio"), std::string::npos) << reason;
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(result.totals.archives_skipped, 1u);

  // The total-size guard, with the ratio guard out of the way.
  const ScanResult total = ScanLayer(layer, "bomb-total", [](ScanOptions& o) {
    o.max_archive_ratio = 1000000;
    o.max_archive_expanded_bytes = 2 << 20;
  });
  EXPECT_NE(SkipReasonFor(total, "bomb.zip").find("--max-archive-expanded"), std::string::npos);
}

TEST(ArchiveTest, ZipOverTheMemoryLimitIsReportedNotExpanded) {
  const std::string zip = ZipBuilder().File("x.properties", Secret(10)).Finish();
  const std::string layer = TarBuilder().File("x.zip", zip).Finish();
  const ScanResult result = ScanLayer(layer, "zipsize", [](ScanOptions& o) { o.max_zip_bytes = 64; });
  EXPECT_TRUE(result.findings.empty());
  EXPECT_NE(SkipReasonFor(result, "x.zip").find("--max-zip-size"), std::string::npos);
}

TEST(ArchiveTest, ANameLikeAnArchiveWithOtherContentIsScannedAsAFile) {
  const std::string layer = TarBuilder().File("notes.zip", Secret(11)).File("x.tar.gz", Secret(12)).Finish();
  const ScanResult result = ScanLayer(layer, "notarchive");
  EXPECT_EQ(PathsOf(result), (std::set<std::string>{"notes.zip", "x.tar.gz"}));
  EXPECT_TRUE(result.skipped.empty());
}

// Random, truncated and bit-flipped archives: each run must finish the layer (a damaged archive
// is a skip, never a layer error), keep the layer's other files, and never crash (this test is
// meant to run under ASan/UBSan too).
TEST(ArchiveFuzzTest, DamagedZipJarAndTarGzNeverCrashOrFailTheLayer) {
  const std::string jar = ZipBuilder()
                              .File("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
                              .File("BOOT-INF/classes/application.properties", Secret(13))
                              .File("BOOT-INF/lib/inner.jar", ZipBuilder().File("c.properties", Secret(14)).Finish())
                              .Finish();
  const std::string tgz = Gzip(TarBuilder().File("etc/app.env", Secret(15)).Finish());
  // A fresh seed every run (printed, and LAYERSIFT_FUZZ_SEED replays one), like the corpus.
  const char* replay = std::getenv("LAYERSIFT_FUZZ_SEED");
  const uint32_t seed = replay ? static_cast<uint32_t>(std::strtoul(replay, nullptr, 10)) : std::random_device{}();
  std::printf("fuzz seed %u (LAYERSIFT_FUZZ_SEED=%u replays it)\n", seed, seed);
  SCOPED_TRACE("LAYERSIFT_FUZZ_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<std::pair<std::string, std::string>> cases;  // name, bytes
  for (const auto& [name, good] : {std::pair<std::string, std::string>{"app.jar", jar}, {"vendor.tar.gz", tgz}}) {
    for (size_t cut = 0; cut < good.size(); cut += 1 + good.size() / 40) cases.emplace_back(name, good.substr(0, cut));
    for (int i = 0; i < 40; ++i) {
      std::string flipped = good;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 8); ++k) flipped[rng() % flipped.size()] ^= static_cast<char>(1 + rng() % 255);
      cases.emplace_back(name, flipped);
    }
    for (int i = 0; i < 10; ++i) {
      std::string noise = good.substr(0, 4);  // keep the magic, so the archive path is taken
      for (size_t k = 0; k < 64 + rng() % 4096; ++k) noise.push_back(static_cast<char>(rng()));
      cases.emplace_back(name, noise);
    }
  }
  // All damaged archives in one layer, each next to a good file: the layer must stay complete.
  TarBuilder layer;
  for (size_t i = 0; i < cases.size(); ++i) {
    layer.File("c" + std::to_string(i) + "/" + cases[i].first, cases[i].second);
  }
  layer.File("z/good.env", Secret(16));
  const ScanResult result = ScanLayer(layer.Finish(), "fuzz");
  EXPECT_TRUE(result.errors.empty()) << result.errors.front().message;
  ASSERT_EQ(result.layers.size(), 1u);
  EXPECT_TRUE(result.layers[0].complete);
  EXPECT_EQ(PathsOf(result).count("z/good.env"), 1u);
  // Every damaged archive is either expanded (damage the reader tolerates), scanned as a file
  // (the magic itself was hit), or reported as skipped with a reason.
  for (const ScanSkip& skip : result.skipped) EXPECT_FALSE(skip.reason.empty()) << skip.path;
  EXPECT_GT(result.skipped.size(), cases.size() / 4);
  std::printf("%zu damaged archives: %zu skipped, %llu expanded, %zu findings\n", cases.size(),
              result.skipped.size(), static_cast<unsigned long long>(result.totals.archives_expanded),
              result.findings.size());
  for (const Finding& f : result.findings) {
    EXPECT_EQ(f.secret.rfind("ghp_", 0), 0u) << f.path;
  }
}

}  // namespace
}  // namespace layersift
