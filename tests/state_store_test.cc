// The state store (engine/src/state_store.cc) and what the scanner does with it: recall of blobs
// scanned before, reports assembled from the store alone, shards merged, a stop, the schema and
// its refusals; and LayerEntries serialization, which the store keeps for presence.
#include "layersift/engine/state_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "layersift/engine/image_semantics.h"
#include "layersift/engine/report.h"
#include "layersift/engine/rule_set.h"
#include "layersift/rules/rule_loader.h"
#include "scan_util.h"
#include "test_util.h"

namespace layersift {
namespace {

namespace fs = std::filesystem;
using testing::ScopedEnv;
using testing::TempDir;

std::string ReadFileBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFileBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string RandomDigest(std::mt19937_64& random) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digest = "sha256:";
  for (int i = 0; i < 64; ++i) digest.push_back(kHex[random() % 16]);
  return digest;
}

// ---------------------------------------------------------------------------------------------
// LayerEntries::Serialize / Deserialize

// A layer from tar entry names; a trailing '/' marks a directory.
std::unique_ptr<LayerEntries> EntriesOf(const std::vector<std::string>& names) {
  auto entries = std::make_unique<LayerEntries>();
  for (const std::string& name : names) entries->Add(name, name.ends_with('/'));
  entries->Index();
  return entries;
}

// "kept", or the reason the layer removes `path` from the layers below.
std::string RemovalOf(const LayerEntries& entries, std::string_view path) {
  RemovalReason reason;
  return entries.Removes(path, &reason) ? std::string(RemovalReasonName(reason)) : "kept";
}

// Paths to ask about: each name, below it, beside it with a shared prefix, and its ancestors.
std::vector<std::string> QueriesFor(const std::vector<std::string>& names) {
  std::set<std::string> queries = {"", "x", "etc", "etc/x", "zzz/deep/file"};
  for (std::string name : names) {
    while (name.ends_with('/')) name.pop_back();
    for (const std::string& p : {name, name + "/child", name + "x", name + ".bak", name + "/a/b"}) {
      queries.insert(p);
    }
    // What a whiteout or opaque marker names, and every ancestor.
    const size_t slash = name.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : name.substr(0, slash);
    const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
    if (base.starts_with(".wh.")) {
      const std::string target = (dir.empty() ? "" : dir + "/") + base.substr(4);
      queries.insert(target);
      queries.insert(target + "/inner");
    }
    for (size_t s = name.find('/'); s != std::string::npos; s = name.find('/', s + 1)) {
      queries.insert(name.substr(0, s));
      queries.insert(name.substr(0, s) + "/other");
    }
  }
  return {queries.begin(), queries.end()};
}

// The serialized form answers every query as the original does; returns how many it removes.
size_t ExpectSameAnswers(const LayerEntries& original, const std::vector<std::string>& names) {
  const std::string bytes = original.Serialize();
  const std::shared_ptr<LayerEntries> copy = LayerEntries::Deserialize(bytes);
  EXPECT_EQ(copy->size(), original.size());
  EXPECT_EQ(copy->Serialize(), bytes) << "the serialized form is canonical";
  size_t removed = 0;
  for (const std::string& query : QueriesFor(names)) {
    const std::string expected = RemovalOf(original, query);
    EXPECT_EQ(RemovalOf(*copy, query), expected) << "path '" << query << "'";
    removed += expected != "kept";
  }
  return removed;
}

TEST(LayerEntriesSerializeTest, RoundTripAnswersEveryPathAsTheOriginal) {
  const std::vector<std::string> names = {
      "etc/",
      "etc/app/",
      "etc/app/config.yaml",
      "etc/app/config.yaml.d/",  // shares a long prefix with the file above
      "etc/app/config.yaml.d/extra",
      "etc/.wh.secret.env",  // whiteout of a file
      "root/.wh..ssh",       // whiteout of a directory
      "opt/cache/",
      "opt/cache/.wh..wh..opq",  // opaque directory
      "opt/cache/new-token",
      "opt/cached",  // beside the opaque directory, shares its prefix
      "usr/bin/tool",
      "usr/bin/tool2",
      "usr/lib/libx.so.1",
      "usr/lib/libx.so",  // a symlink or a file: replaces what was there
      "srv/.wh..wh.plnk",  // aufs bookkeeping: no removal
      "srv/.wh..wh.aufs",
      "var/run",                   // a file where lower layers may have a directory
      "home/user/.wh.notes.txt",
      "home/user/notes.txt",  // the same name whited out and added again in one layer
  };
  const auto entries = EntriesOf(names);
  const size_t removed = ExpectSameAnswers(*entries, names);
  // The original must decide both ways, or the comparison proves nothing.
  EXPECT_GT(removed, 10u);
  EXPECT_EQ(RemovalOf(*entries, "etc/secret.env"), "whiteout");
  EXPECT_EQ(RemovalOf(*entries, "root/.ssh/id_rsa"), "whiteout");
  EXPECT_EQ(RemovalOf(*entries, "opt/cache/old-token"), "opaque-directory");
  EXPECT_EQ(RemovalOf(*entries, "var/run/app.pid"), "overwritten");
  EXPECT_EQ(RemovalOf(*entries, "home/user/notes.txt"), "whiteout");
  EXPECT_EQ(RemovalOf(*entries, "opt/cached.d/x"), "kept");
  EXPECT_EQ(RemovalOf(*entries, "srv/plnk"), "kept");
  EXPECT_EQ(RemovalOf(*entries, "srv/.wh..wh.plnk"), "kept");
  EXPECT_EQ(RemovalOf(*entries, "etc/other"), "kept");
}

TEST(LayerEntriesSerializeTest, RoundTripOfARootOpaqueLayer) {
  const std::vector<std::string> names = {".wh..wh..opq", "app/", "app/main", "a", "ab/", "ab/c"};
  const auto entries = EntriesOf(names);
  ExpectSameAnswers(*entries, names);
  const auto copy = LayerEntries::Deserialize(entries->Serialize());
  EXPECT_EQ(RemovalOf(*copy, "etc/passwd"), "opaque-directory");
  EXPECT_EQ(RemovalOf(*copy, "toplevel"), "opaque-directory");
  EXPECT_EQ(RemovalOf(*copy, "app/main"), "overwritten");
}

TEST(LayerEntriesSerializeTest, RoundTripOfAnEmptyLayer) {
  LayerEntries indexed;
  indexed.Index();
  const std::string bytes = indexed.Serialize();
  const auto copy = LayerEntries::Deserialize(bytes);
  EXPECT_EQ(copy->size(), 0u);
  EXPECT_EQ(copy->Serialize(), bytes);
  for (const char* path : {"", "a", "etc/passwd", ".wh.a"}) EXPECT_EQ(RemovalOf(*copy, path), "kept") << path;
}

TEST(LayerEntriesSerializeTest, RoundTripOfRandomLayers) {
  // Few distinct names, so that paths share prefixes, repeat, and whiteouts hit added paths.
  const std::vector<std::string> parts = {"a", "ab", "a.b", "b", "c"};
  std::mt19937 random(20240611);
  size_t removed = 0;
  size_t queried = 0;
  for (int layer = 0; layer < 40; ++layer) {
    std::vector<std::string> names;
    const int count = static_cast<int>(random() % 60);
    for (int n = 0; n < count; ++n) {
      std::string dir;
      for (int depth = static_cast<int>(random() % 3); depth > 0; --depth) dir += parts[random() % parts.size()] + "/";
      const std::string part = parts[random() % parts.size()];
      switch (random() % 6) {
        case 0: names.push_back(dir + part + "/"); break;
        case 1: names.push_back(dir + ".wh." + part); break;
        case 2: names.push_back(dir + ".wh..wh..opq"); break;
        case 3: names.push_back(dir + ".wh..wh.plnk"); break;
        default: names.push_back(dir + part); break;
      }
    }
    const auto entries = EntriesOf(names);
    removed += ExpectSameAnswers(*entries, names);
    queried += QueriesFor(names).size();
  }
  EXPECT_GT(removed, queried / 10);
  EXPECT_LT(removed, queried);
}

void ExpectRejected(const std::string& bytes, const std::string& what) {
  EXPECT_THROW(LayerEntries::Deserialize(bytes), std::runtime_error) << what;
}

TEST(LayerEntriesSerializeTest, DeserializeRejectsTruncatedInput) {
  const auto entries = EntriesOf({"etc/", "etc/app.env", "etc/.wh.old", "opt/.wh..wh..opq"});
  const std::string bytes = entries->Serialize();
  ASSERT_GT(bytes.size(), 8u);
  for (size_t n = 0; n < bytes.size(); ++n) ExpectRejected(bytes.substr(0, n), "prefix of " + std::to_string(n));
  LayerEntries empty;
  empty.Index();
  const std::string empty_bytes = empty.Serialize();
  for (size_t n = 0; n < empty_bytes.size(); ++n) ExpectRejected(empty_bytes.substr(0, n), "empty, cut");
}

TEST(LayerEntriesSerializeTest, DeserializeRejectsTrailingBytes) {
  const auto entries = EntriesOf({"etc/", "etc/app.env"});
  const std::string bytes = entries->Serialize();
  ASSERT_NO_THROW(LayerEntries::Deserialize(bytes));
  ExpectRejected(bytes + std::string(1, '\0'), "one NUL more");
  ExpectRejected(bytes + "x", "one byte more");
  LayerEntries empty;
  empty.Index();
  ExpectRejected(empty.Serialize() + std::string(1, '\0'), "empty plus a byte");
}

TEST(LayerEntriesSerializeTest, DeserializeRejectsBadKinds) {
  // Format 1, one entry: kind, shared 0, rest 1, "a".
  const auto one = [](uint8_t kind) { return std::string{'\x01', '\x01', static_cast<char>(kind), '\x00', '\x01', 'a'}; };
  ASSERT_NO_THROW(LayerEntries::Deserialize(one(0)));
  ASSERT_NO_THROW(LayerEntries::Deserialize(one(3)));
  ExpectRejected(one(4), "kind 4");
  ExpectRejected(one(0x7f), "kind 0x7f");
  ExpectRejected(one(0xff), "kind 0xff");
}

TEST(LayerEntriesSerializeTest, DeserializeRejectsUnknownFormatsAndBadLengths) {
  const auto entries = EntriesOf({"etc/", "etc/app.env"});
  std::string bytes = entries->Serialize();
  ExpectRejected("", "empty");
  for (const char format : {'\x00', '\x02', '\xff'}) {
    bytes[0] = format;
    ExpectRejected(bytes, "format " + std::to_string(static_cast<uint8_t>(format)));
  }
  // The first path cannot share a prefix with a path before it.
  ExpectRejected(std::string{'\x01', '\x01', '\x00', '\x02', '\x01', 'a'}, "shared prefix of the first path");
  // The second path shares more than the first has.
  ExpectRejected(std::string{'\x01', '\x02', '\x00', '\x00', '\x01', 'a', '\x00', '\x02', '\x01', 'b'},
                 "shared prefix longer than the previous path");
  ExpectRejected(std::string{'\x01', '\x01', '\x00', '\x00', '\x05', 'a'}, "path longer than the data");
  ExpectRejected(std::string{'\x01', '\xff', '\xff', '\xff', '\xff', '\x0f'}, "count larger than the data");
  ExpectRejected(std::string(1, '\x01') + std::string(11, '\x80') + "\x01", "endless varint");
}

// ---------------------------------------------------------------------------------------------
// ShardOfDigest

TEST(ShardOfDigestTest, EveryDigestFallsToOneShardInRange) {
  std::mt19937_64 random(7);
  for (const unsigned count : {1u, 2u, 3u, 4u, 5u, 8u, 16u, 255u}) {
    for (int i = 0; i < 300; ++i) {
      const std::string digest = RandomDigest(random);
      const unsigned shard = ShardOfDigest(digest, count);
      EXPECT_LT(shard, count) << digest;
      EXPECT_EQ(ShardOfDigest(digest, count), shard) << "the same digest, another shard";
    }
  }
}

TEST(ShardOfDigestTest, OneShardTakesEverything) {
  std::mt19937_64 random(11);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ShardOfDigest(RandomDigest(random), 1), 0u);
  EXPECT_EQ(ShardOfDigest("sha256:" + std::string(64, 'f'), 1), 0u);
  EXPECT_EQ(ShardOfDigest("", 1), 0u);
}

TEST(ShardOfDigestTest, LeadingSixtyFourBitsModuloTheCount) {
  const std::string ten = "sha256:000000000000000a" + std::string(48, 'f');
  EXPECT_EQ(ShardOfDigest(ten, 4), 2u);
  EXPECT_EQ(ShardOfDigest(ten, 3), 1u);
  EXPECT_EQ(ShardOfDigest(ten, 16), 10u);
  const std::string all_ones = "sha256:" + std::string(64, 'f');
  for (const unsigned count : {2u, 3u, 7u, 10u, 1000u}) {
    EXPECT_EQ(ShardOfDigest(all_ones, count), static_cast<unsigned>(UINT64_MAX % count)) << count;
  }
}

TEST(ShardOfDigestTest, RandomDigestsSpreadEvenlyOverThreeShards) {
  std::mt19937_64 random(20240611);
  constexpr int kDigests = 1000;
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < kDigests; ++i) {
    const unsigned shard = ShardOfDigest(RandomDigest(random), 3);
    ASSERT_LT(shard, 3u);
    ++counts[shard];
  }
  for (int shard = 0; shard < 3; ++shard) {
    EXPECT_GE(counts[shard], kDigests * 20 / 100) << "shard " << shard;
    EXPECT_LE(counts[shard], kDigests * 47 / 100) << "shard " << shard;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers for the store

// A plain SQLite connection, to look at and tamper with state files from outside the store.
class RawDatabase {
 public:
  explicit RawDatabase(const fs::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << "cannot open " << path;
  }
  ~RawDatabase() { sqlite3_close(db_); }
  RawDatabase(const RawDatabase&) = delete;
  RawDatabase& operator=(const RawDatabase&) = delete;

  void Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error ? error : "?");
    }
    sqlite3_free(error);
  }
  // The first column of the first row, as text ("" without a row).
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return "";
    }
    std::string text;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return text;
  }

 private:
  sqlite3* db_ = nullptr;
};

enum class Place {
  kIndexes,      // target and image index: the same targets scanned in the same order
  kImageDigest,  // manifest digest and platform: targets rebuilt from the store
};

std::string PlaceOf(const ScanResult& result, size_t target_index, size_t image_index, Place place) {
  std::ostringstream out;
  if (place == Place::kIndexes) {
    out << "t" << target_index << " i" << image_index;
  } else {
    const Target& target = result.targets.at(target_index);
    if (image_index < target.images.size()) {
      out << target.images[image_index].image_digest << " " << target.images[image_index].platform;
    } else {
      out << "<no image " << image_index << ">";
    }
  }
  return out.str();
}

// Everything a finding says but its raw secret and its target's spec, one line per finding.
std::vector<std::string> FindingLines(const ScanResult& result, const std::vector<Rule>& rules, Place place) {
  std::vector<std::string> lines;
  for (const Finding& f : result.findings) {
    std::ostringstream line;
    line.precision(17);
    line << PlaceOf(result, f.target_index, f.image_index, place) << " L" << f.layer_index << " "
         << rules.at(f.rule_index).id << " " << f.path << ":" << f.line << ":" << f.column << " @" << f.offset
         << " sha256=" << f.facts.sha256 << " redacted=" << f.facts.redacted << " bytes=" << f.facts.size_bytes
         << " end=" << f.facts.end_line << ":" << f.facts.end_column << " last=" << f.facts.last_line << ":"
         << f.facts.last_column << " entropy=" << f.facts.entropy << " check=" << CheckResultName(f.check);
    // The attribution the store keeps: the redacted instruction that made the layer.
    const Target& target = result.targets.at(f.target_index);
    if (f.layer_index != kNoLayer && f.image_index < target.images.size() &&
        static_cast<size_t>(f.layer_index) < target.images[f.image_index].layers.size()) {
      line << " created_by=" << target.images[f.image_index].layers[static_cast<size_t>(f.layer_index)].created_by_redacted;
    }
    if (!f.presence.known) {
      line << " presence=unknown";
    } else if (f.presence.present) {
      line << " presence=present";
    } else {
      line << " presence=removed-by-L" << f.presence.removed_by_layer << "-"
           << RemovalReasonName(f.presence.reason);
    }
    lines.push_back(line.str());
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

std::vector<std::string> SkipLines(const ScanResult& result, Place place) {
  std::vector<std::string> lines;
  for (const ScanSkip& s : result.skipped) {
    lines.push_back(PlaceOf(result, s.target_index, s.image_index, place) + " L" + std::to_string(s.layer_index) +
                    " " + s.layer_digest + " " + s.path + ": " + s.reason);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The findings of the blobs: those of each blob's first use, so that a shared blob counts once.
uint64_t BlobFindings(const ScanResult& result) {
  uint64_t count = 0;
  for (const Finding& f : result.findings) {
    const LayerUse& first = result.layers.at(f.layer_result_index).uses.front();
    count += f.target_index == first.target_index && f.image_index == first.image_index &&
             f.layer_index == first.layer_index;
  }
  return count;
}

std::string ErrorsOf(const ScanResult& result) {
  std::string text;
  for (const ScanIssue& e : result.errors) {
    text += "  t" + std::to_string(e.target_index) + " L" + std::to_string(e.layer_index) + ": " + e.message + "\n";
  }
  return text;
}

// The statistics a merge must leave as they are (the file's size may change).
std::string StatusLine(const StateStatus& s) {
  std::ostringstream out;
  out << "runs=" << s.runs << " unfinished=" << s.runs_unfinished << " last_started=" << s.last_run_started
      << " last_ended=" << s.last_run_ended << " exit=" << s.last_run_exit_status << " images=" << s.images
      << " repositories=" << s.repositories << " scanned=" << s.layers_scanned << " failed=" << s.layers_failed
      << " findings=" << s.findings << " rule_sets=" << s.rule_sets << " schema=" << s.schema_version;
  return out.str();
}

// Scans of the generated corpus with one compiled rule set.
class StateStoreScanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { database_ = PatternDatabase::Compile(BuiltinRules(), MatcherOptions{}); }
  static void TearDownTestSuite() { database_.reset(); }

  static const std::vector<Rule>& Rules() { return database_->rules(); }
  static std::string Hash() { return RuleSetHash(Rules()); }

  // golden.json's specs of these corpus targets, in this order.
  static std::vector<std::string> Specs(const std::vector<std::string>& names) {
    const auto targets = testing::CorpusTargets(testing::LoadGolden());
    std::vector<std::string> specs;
    for (const std::string& name : names) {
      for (const auto& [target, spec] : targets) {
        if (target == name) specs.push_back(spec);
      }
    }
    EXPECT_EQ(specs.size(), names.size()) << "run corpus/generate.py first (the build does)";
    return specs;
  }
  // Images with layers shared between platforms, whiteouts, opaque directories and skips.
  static std::vector<std::string> ImageSpecs() { return Specs({"oci-demo", "oci-semantics", "oci-multiarch"}); }

  static std::unique_ptr<StateStore> OpenStore(const fs::path& path, const std::string& hash = Hash(),
                                               const std::string& shard = "") {
    std::unique_ptr<StateStore> store = StateStore::Open(path.string());
    store->UseRules(Rules(), hash);
    store->BeginRun("state_store_test", shard);
    return store;
  }

  static ScanResult Scan(const std::vector<std::string>& specs, ScanMemory* memory,
                         const std::function<void(ScanOptions&)>& tune = {}) {
    ScanOptions options;
    options.threads = 2;
    options.excluded_path_patterns = DefaultExcludedPathPatterns();
    options.memory = memory;
    if (tune) tune(options);
    return Scanner(*database_, options).Scan(specs);
  }

  // What the CLI does once a scan is over.
  static void Record(StateStore& store, const ScanResult& result) {
    store.RememberImages(result);
    store.EndRun(result, result.incomplete() ? 1 : 0);
  }

  // An assembled report of everything in the store, and its rules.
  static ScanResult Assemble(StateStore& store, std::vector<Rule>* rules, const StateQuery& query = {}) {
    std::vector<Target> targets = store.LoadTargets(query, rules);
    return AssembleFromMemory(std::move(targets), *rules, store);
  }

  static std::unique_ptr<const PatternDatabase> database_;
};

std::unique_ptr<const PatternDatabase> StateStoreScanTest::database_;

TEST_F(StateStoreScanTest, SecondScanRecallsEveryBlobWithTheSameFindings) {
  TempDir dir;
  const auto store = OpenStore(dir.path() / "state.db");
  const std::vector<std::string> specs = ImageSpecs();

  const ScanResult first = Scan(specs, store.get());
  ASSERT_TRUE(first.errors.empty()) << ErrorsOf(first);
  ASSERT_FALSE(first.findings.empty());
  ASSERT_FALSE(first.skipped.empty()) << "oci-semantics has archives over the limits";
  EXPECT_GT(first.blobs_scanned, 0u);
  EXPECT_EQ(first.blobs_recalled, 0u);
  EXPECT_GT(first.totals.uncompressed_bytes, 0u);
  for (const LayerResult& blob : first.layers) EXPECT_EQ(blob.source, BlobSource::kRead) << blob.digest;
  for (const Finding& f : first.findings) {
    ASSERT_FALSE(f.secret.empty());
    EXPECT_EQ(f.facts.sha256, SecretSha256(f.secret));
    EXPECT_EQ(f.facts.redacted, RedactSecret(f.secret));
  }
  Record(*store, first);
  store->Flush();
  const StateStatus status = store->Status();
  EXPECT_EQ(status.runs, 1u);
  EXPECT_EQ(status.runs_unfinished, 0u);
  EXPECT_EQ(status.last_run_exit_status, 0);
  EXPECT_EQ(status.layers_scanned, first.layers.size()) << "layers and configs";
  EXPECT_EQ(status.findings, BlobFindings(first));
  EXPECT_LT(status.findings, first.findings.size()) << "oci-multiarch shares a layer with findings";

  const ScanResult second = Scan(specs, store.get());
  EXPECT_TRUE(second.errors.empty()) << ErrorsOf(second);
  EXPECT_EQ(second.blobs_scanned, first.blobs_scanned);
  EXPECT_EQ(second.blobs_recalled, second.blobs_scanned);
  EXPECT_EQ(second.totals.uncompressed_bytes, 0u);
  EXPECT_EQ(second.totals.stored_bytes, 0u);
  EXPECT_EQ(second.totals.files_scanned, 0u);
  EXPECT_EQ(second.layers.size(), first.layers.size());
  for (const LayerResult& blob : second.layers) {
    EXPECT_EQ(blob.source, BlobSource::kRecalled) << blob.digest;
    EXPECT_TRUE(blob.complete) << blob.digest;
  }
  EXPECT_EQ(FindingLines(second, Rules(), Place::kIndexes), FindingLines(first, Rules(), Place::kIndexes));
  EXPECT_EQ(SkipLines(second, Place::kIndexes), SkipLines(first, Place::kIndexes));
  for (const Finding& f : second.findings) {
    EXPECT_TRUE(f.secret.empty()) << f.path << ": a recalled finding has no raw secret";
    EXPECT_EQ(f.facts.sha256.size(), 64u) << f.path;
    EXPECT_FALSE(f.facts.redacted.empty()) << f.path;
    EXPECT_GT(f.facts.size_bytes, 0u) << f.path;
  }
}

TEST_F(StateStoreScanTest, RecallOffReadsEveryBlobAgain) {
  TempDir dir;
  const auto store = OpenStore(dir.path() / "state.db");
  const std::vector<std::string> specs = ImageSpecs();
  const ScanResult first = Scan(specs, store.get());
  ASSERT_TRUE(first.errors.empty()) << ErrorsOf(first);
  Record(*store, first);

  const ScanResult again = Scan(specs, store.get(), [](ScanOptions& o) { o.recall = false; });
  EXPECT_TRUE(again.errors.empty()) << ErrorsOf(again);
  EXPECT_EQ(again.blobs_recalled, 0u);
  EXPECT_EQ(again.totals.uncompressed_bytes, first.totals.uncompressed_bytes);
  for (const LayerResult& blob : again.layers) EXPECT_EQ(blob.source, BlobSource::kRead) << blob.digest;
  EXPECT_EQ(FindingLines(again, Rules(), Place::kIndexes), FindingLines(first, Rules(), Place::kIndexes));
  for (const Finding& f : again.findings) EXPECT_FALSE(f.secret.empty()) << f.path;
}

TEST_F(StateStoreScanTest, OtherRulesRecallNothingAndLeaveTheFirstRulesScans) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  const std::vector<std::string> specs = ImageSpecs();
  std::vector<std::string> first_lines;
  {
    const auto store = OpenStore(path);
    const ScanResult first = Scan(specs, store.get());
    ASSERT_TRUE(first.errors.empty()) << ErrorsOf(first);
    Record(*store, first);
    first_lines = FindingLines(first, Rules(), Place::kIndexes);
    ASSERT_FALSE(first_lines.empty());
  }
  const std::string other_hash = "sha256:" + std::string(64, '0');
  ASSERT_NE(other_hash, Hash());
  {
    const auto store = OpenStore(path, other_hash);
    const ScanResult other = Scan(specs, store.get());
    EXPECT_TRUE(other.errors.empty()) << ErrorsOf(other);
    EXPECT_EQ(other.blobs_recalled, 0u);
    EXPECT_GT(other.totals.uncompressed_bytes, 0u);
    for (const LayerResult& blob : other.layers) EXPECT_EQ(blob.source, BlobSource::kRead) << blob.digest;
    Record(*store, other);
    EXPECT_EQ(store->Status().rule_sets, 2u);
  }
  // The scans made with the first rules are still there for them.
  const auto store = OpenStore(path);
  const ScanResult back = Scan(specs, store.get());
  EXPECT_EQ(back.blobs_recalled, back.blobs_scanned);
  for (const LayerResult& blob : back.layers) EXPECT_EQ(blob.source, BlobSource::kRecalled) << blob.digest;
  EXPECT_EQ(FindingLines(back, Rules(), Place::kIndexes), first_lines);
  // A report takes each blob's newest complete scan, whichever rules made it.
  std::vector<Rule> rules;
  const ScanResult assembled = Assemble(*store, &rules);
  EXPECT_TRUE(assembled.errors.empty()) << ErrorsOf(assembled);
  EXPECT_EQ(FindingLines(assembled, rules, Place::kImageDigest), FindingLines(back, Rules(), Place::kImageDigest));
}

TEST_F(StateStoreScanTest, AssembledReportEqualsTheScan) {
  TempDir dir;
  const auto store = OpenStore(dir.path() / "state.db");
  const ScanResult scan = Scan(ImageSpecs(), store.get());
  ASSERT_TRUE(scan.errors.empty()) << ErrorsOf(scan);
  Record(*store, scan);

  std::vector<Rule> rules;
  const ScanResult assembled = Assemble(*store, &rules);
  EXPECT_TRUE(assembled.errors.empty()) << ErrorsOf(assembled);
  EXPECT_EQ(assembled.targets.size(), 3u);
  EXPECT_EQ(assembled.blobs_scanned, scan.blobs_scanned);
  EXPECT_EQ(assembled.blobs_recalled, assembled.blobs_scanned);
  EXPECT_EQ(assembled.totals.uncompressed_bytes, 0u);
  EXPECT_EQ(FindingLines(assembled, rules, Place::kImageDigest), FindingLines(scan, Rules(), Place::kImageDigest));
  EXPECT_EQ(SkipLines(assembled, Place::kImageDigest), SkipLines(scan, Place::kImageDigest));
  for (const Finding& f : assembled.findings) EXPECT_TRUE(f.secret.empty()) << f.path;
}

TEST_F(StateStoreScanTest, QuerySelectsImagesByRepositoryAndLastSeen) {
  TempDir dir;
  const auto store = OpenStore(dir.path() / "state.db");
  const ScanResult scan = Scan(ImageSpecs(), store.get());
  ASSERT_TRUE(scan.errors.empty()) << ErrorsOf(scan);
  Record(*store, scan);

  const auto specs_of = [&](const StateQuery& query) {
    std::vector<Rule> rules;
    std::vector<std::string> specs;
    for (const Target& target : store->LoadTargets(query, &rules)) specs.push_back(target.spec);
    return specs;
  };
  StateQuery one;
  one.repository_globs = {"*/oci-semantics"};
  const std::vector<std::string> semantics = specs_of(one);
  ASSERT_EQ(semantics.size(), 1u);
  EXPECT_NE(semantics[0].find("oci-semantics"), std::string::npos) << semantics[0];

  StateQuery two;
  two.repository_globs = {"*/oci-demo", "*multiarch"};
  const std::vector<std::string> demo_and_multiarch = specs_of(two);
  ASSERT_EQ(demo_and_multiarch.size(), 2u);
  EXPECT_EQ(demo_and_multiarch[0].find("oci-semantics"), std::string::npos);
  EXPECT_EQ(demo_and_multiarch[1].find("oci-semantics"), std::string::npos);

  StateQuery none;
  none.repository_globs = {"oci-demo"};  // a glob matches the whole path, not its last part
  EXPECT_TRUE(specs_of(none).empty());

  StateQuery recent;
  recent.seen_since = "2000-01-01T00:00:00Z";
  EXPECT_EQ(specs_of(recent).size(), 3u);
  StateQuery future;
  future.seen_since = "9999-01-01T00:00:00Z";
  EXPECT_TRUE(specs_of(future).empty());

  // The report of one repository is the scan's findings of that target only.
  std::vector<Rule> rules;
  const ScanResult assembled = Assemble(*store, &rules, one);
  EXPECT_TRUE(assembled.errors.empty()) << ErrorsOf(assembled);
  std::vector<std::string> expected;
  for (const std::string& line : FindingLines(scan, Rules(), Place::kImageDigest)) {
    for (const ImageDescriptor& image : scan.targets[1].images) {
      if (line.starts_with(image.image_digest + " ")) expected.push_back(line);
    }
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(FindingLines(assembled, rules, Place::kImageDigest), expected);
}

// A LayerResult and a finding as the scan hands them over, for the store alone.
struct HandedBlob {
  LayerResult blob;
  Finding finding;
};

HandedBlob MakeBlob(const std::string& digest) {
  HandedBlob h;
  h.blob.kind = JobKind::kLayer;
  h.blob.digest = digest;
  h.blob.complete = true;
  h.blob.compression = "gzip";
  h.blob.stats.stored_bytes = 4321;
  h.blob.stats.uncompressed_bytes = 12345;
  h.blob.stats.files_seen = 3;
  h.blob.stats.files_scanned = 2;
  auto entries = std::make_shared<LayerEntries>();
  entries->Add("etc/", true);
  entries->Add("etc/.wh.old.env", false);
  entries->Add("etc/app/.env", false);
  entries->Index();
  h.blob.entries = entries;
  ScanSkip skip;
  skip.path = "app/bomb.zip";
  skip.reason = "zip-bomb: expands past the limit";
  h.blob.skipped.push_back(skip);
  h.finding.rule_index = 1;
  h.finding.path = "etc/app/.env";
  h.finding.line = 3;
  h.finding.column = 7;
  h.finding.offset = 42;
  h.finding.secret = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
  h.finding.facts = SecretFactsOf(h.finding.secret, h.finding.line, h.finding.column);
  h.finding.check = CheckResult::kPassed;
  return h;
}

std::vector<Rule> TwoRules() {
  std::vector<Rule> rules(2);
  rules[0].id = "rule-zero";
  rules[1].id = "rule-one";
  return rules;
}

// Hands the store one complete (or failed) blob with one finding at `path`.
void RememberOne(StateStore& store, const std::string& digest, const std::string& path, bool complete) {
  HandedBlob h = MakeBlob(digest);
  h.finding.path = path;
  h.blob.complete = complete;
  store.RememberBlob(h.blob, {h.finding}, complete ? std::vector<std::string>{} : std::vector<std::string>{"boom"});
}

std::string RecalledPath(StateStore& store, const std::string& digest) {
  const std::optional<RecalledBlob> blob = store.RecallBlob(digest);
  if (!blob) return "<not recalled>";
  std::string paths;
  for (const Finding& f : blob->findings) paths += (paths.empty() ? "" : ",") + f.path;
  return paths;
}

TEST(StateStoreMemoryTest, BlobHandedOverSurvivesTheStoreDestroyedWithoutEndRun) {
  TempDir dir;
  const std::string path = (dir.path() / "state.db").string();
  const std::string hash = "sha256:" + std::string(64, '1');
  const HandedBlob h = MakeBlob("sha256:" + std::string(64, 'a'));
  {
    const auto store = StateStore::Open(path);
    store->UseRules(TwoRules(), hash);
    store->BeginRun("crash test", "");
    store->RememberBlob(h.blob, {h.finding}, {});
    // No Flush, no EndRun: as if the process ended here. The destructor must drain the writer.
  }
  const auto store = StateStore::Open(path);
  std::vector<Rule> reordered = TwoRules();
  std::swap(reordered[0], reordered[1]);  // the same rules, listed the other way round
  store->UseRules(reordered, hash);
  const std::optional<RecalledBlob> recalled = store->RecallBlob(h.blob.digest);
  ASSERT_TRUE(recalled.has_value());
  EXPECT_EQ(recalled->compression, "gzip");
  EXPECT_EQ(recalled->stats.stored_bytes, 4321u);
  EXPECT_EQ(recalled->stats.uncompressed_bytes, 12345u);
  EXPECT_EQ(recalled->stats.files_seen, 3u);
  EXPECT_EQ(recalled->stats.files_scanned, 2u);
  ASSERT_EQ(recalled->findings.size(), 1u);
  const Finding& f = recalled->findings[0];
  EXPECT_EQ(reordered.at(f.rule_index).id, "rule-one") << "rule indexes follow the rule ids";
  EXPECT_EQ(f.path, h.finding.path);
  EXPECT_EQ(f.line, h.finding.line);
  EXPECT_EQ(f.column, h.finding.column);
  EXPECT_EQ(f.offset, h.finding.offset);
  EXPECT_TRUE(f.secret.empty());
  EXPECT_EQ(f.facts.sha256, h.finding.facts.sha256);
  EXPECT_EQ(f.facts.redacted, h.finding.facts.redacted);
  EXPECT_EQ(f.facts.size_bytes, h.finding.secret.size());
  EXPECT_EQ(f.facts.end_line, h.finding.facts.end_line);
  EXPECT_EQ(f.facts.end_column, h.finding.facts.end_column);
  EXPECT_EQ(f.facts.entropy, h.finding.facts.entropy);
  EXPECT_EQ(f.check, CheckResult::kPassed);
  ASSERT_EQ(recalled->skipped.size(), 1u);
  EXPECT_EQ(recalled->skipped[0].path, "app/bomb.zip");
  EXPECT_EQ(recalled->skipped[0].reason, "zip-bomb: expands past the limit");
  ASSERT_NE(recalled->entries, nullptr);
  EXPECT_EQ(RemovalOf(*recalled->entries, "etc/old.env"), "whiteout");
  EXPECT_EQ(RemovalOf(*recalled->entries, "etc/app/.env"), "overwritten");
  EXPECT_EQ(RemovalOf(*recalled->entries, "etc/other"), "kept");

  const StateStatus status = store->Status();
  EXPECT_EQ(status.runs, 1u);
  EXPECT_EQ(status.runs_unfinished, 1u);
  EXPECT_EQ(status.last_run_exit_status, -1);
  EXPECT_EQ(status.layers_scanned, 1u);
  EXPECT_EQ(status.findings, 1u);
}

TEST(StateStoreMemoryTest, FailedBlobIsNotRecalledAndGivesItsError) {
  TempDir dir;
  const auto store = StateStore::Open((dir.path() / "state.db").string());
  const std::string hash = "sha256:" + std::string(64, '2');
  store->UseRules(TwoRules(), hash);
  const std::string digest = "sha256:" + std::string(64, 'b');
  EXPECT_FALSE(store->RecallBlob(digest).has_value());
  EXPECT_EQ(store->LastError(digest), "");

  HandedBlob h = MakeBlob(digest);
  h.blob.complete = false;
  store->RememberBlob(h.blob, {h.finding}, {"gzip: unexpected end of stream"});
  store->Flush();
  EXPECT_FALSE(store->RecallBlob(digest).has_value());
  EXPECT_NE(store->LastError(digest).find("unexpected end of stream"), std::string::npos) << store->LastError(digest);
  EXPECT_EQ(store->Status().layers_failed, 1u);

  // A complete scan later replaces it.
  h.blob.complete = true;
  store->RememberBlob(h.blob, {h.finding}, {});
  store->Flush();
  ASSERT_TRUE(store->RecallBlob(digest).has_value());
  EXPECT_EQ(store->RecallBlob(digest)->findings.size(), 1u);
  EXPECT_EQ(store->Status().layers_failed, 0u);
  EXPECT_EQ(store->Status().layers_scanned, 1u);

  // Other rules do not recall it.
  store->UseRules(TwoRules(), "sha256:" + std::string(64, '3'));
  EXPECT_FALSE(store->RecallBlob(digest).has_value());
}

TEST_F(StateStoreScanTest, ScanOfAStoreDestroyedWithoutEndRunIsRecalled) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  const std::vector<std::string> specs = ImageSpecs();
  ScanResult first;
  {
    const auto store = OpenStore(path);
    first = Scan(specs, store.get());
    ASSERT_TRUE(first.errors.empty()) << ErrorsOf(first);
    // Killed before RememberImages and EndRun: only the blobs were handed over.
  }
  const auto store = OpenStore(path);
  const ScanResult second = Scan(specs, store.get());
  EXPECT_TRUE(second.errors.empty()) << ErrorsOf(second);
  EXPECT_EQ(second.blobs_recalled, second.blobs_scanned);
  EXPECT_EQ(FindingLines(second, Rules(), Place::kIndexes), FindingLines(first, Rules(), Place::kIndexes));
  EXPECT_EQ(store->Status().runs_unfinished, 2u);
}

TEST_F(StateStoreScanTest, UnreadableStoredEntriesAreReadAgainAndRewritten) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  const auto store = OpenStore(path);
  const std::vector<std::string> specs = ImageSpecs();
  const ScanResult first = Scan(specs, store.get());
  ASSERT_TRUE(first.errors.empty()) << ErrorsOf(first);
  Record(*store, first);
  std::string digest;
  for (const LayerResult& blob : first.layers) {
    if (blob.kind == JobKind::kLayer && digest.empty()) digest = blob.digest;
  }
  ASSERT_FALSE(digest.empty());
  {
    RawDatabase raw(path);
    raw.Exec("UPDATE layer_scans SET entries=x'28b52ffd0000' WHERE digest='" + digest + "'");
  }
  const ScanResult second = Scan(specs, store.get());
  EXPECT_TRUE(second.errors.empty()) << ErrorsOf(second);
  EXPECT_EQ(second.blobs_recalled + 1, second.blobs_scanned);
  for (const LayerResult& blob : second.layers) {
    EXPECT_EQ(blob.source, blob.digest == digest ? BlobSource::kRead : BlobSource::kRecalled) << blob.digest;
  }
  EXPECT_EQ(FindingLines(second, Rules(), Place::kIndexes), FindingLines(first, Rules(), Place::kIndexes));
  store->Flush();
  const ScanResult third = Scan(specs, store.get());
  EXPECT_EQ(third.blobs_recalled, third.blobs_scanned) << "the rescan rewrote the entries";
  EXPECT_EQ(FindingLines(third, Rules(), Place::kIndexes), FindingLines(first, Rules(), Place::kIndexes));
}

TEST(StateStoreMemoryTest, FlushReportsACommitThatFailed) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  const auto store = StateStore::Open(path.string());
  store->UseRules(TwoRules(), "sha256:" + std::string(64, '7'));
  {
    RawDatabase raw(path);
    raw.Exec("DROP TABLE skips");  // the writer's transaction fails on it
  }
  const std::string digest = "sha256:" + std::string(64, '9');
  RememberOne(*store, digest, "etc/app/.env", true);
  try {
    store->Flush();
    ADD_FAILURE() << "a failed commit went unreported";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find(digest), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(store->Flush()) << "reported once";
  EXPECT_FALSE(store->RecallBlob(digest).has_value()) << "the blob's transaction was rolled back";
}

TEST(StateStoreMergeTest, CompleteScanBeatsAFailedOneThenTheNewerWins) {
  TempDir dir;
  const std::string hash = "sha256:" + std::string(64, '4');
  const fs::path main_path = dir.path() / "main.db";
  const fs::path src_path = dir.path() / "src.db";
  const std::string x = "sha256:" + std::string(64, 'c');  // failed here, complete there
  const std::string y = "sha256:" + std::string(64, 'd');  // complete here, failed (later) there
  const std::string z = "sha256:" + std::string(64, 'e');  // complete in both, newer there
  const std::string w = "sha256:" + std::string(64, 'f');  // complete in both, newer here
  {
    const auto store = StateStore::Open(main_path.string());
    store->UseRules(TwoRules(), hash);
    RememberOne(*store, x, "x-main", false);
    RememberOne(*store, y, "y-main", true);
    RememberOne(*store, z, "z-main", true);
    RememberOne(*store, w, "w-main", true);
  }
  {
    const auto store = StateStore::Open(src_path.string());
    store->UseRules(TwoRules(), hash);
    RememberOne(*store, x, "x-src", true);
    RememberOne(*store, y, "y-src", false);
    RememberOne(*store, z, "z-src", true);
    RememberOne(*store, w, "w-src", true);
  }
  // Times set explicitly: two scans within one millisecond would have none to compare.
  const auto set_times = [](const fs::path& path, const std::map<std::string, std::string>& times) {
    RawDatabase raw(path);
    for (const auto& [digest, time] : times) {
      raw.Exec("UPDATE layer_scans SET scanned_at='" + time + "' WHERE digest='" + digest + "'");
    }
  };
  set_times(main_path, {{x, "2023-01-01T00:00:00.000Z"},
                        {y, "2020-01-01T00:00:00.000Z"},
                        {z, "2020-01-01T00:00:00.000Z"},
                        {w, "2022-01-01T00:00:00.000Z"}});
  set_times(src_path, {{x, "2020-01-01T00:00:00.000Z"},
                       {y, "2023-01-01T00:00:00.000Z"},
                       {z, "2021-01-01T00:00:00.000Z"},
                       {w, "2021-01-01T00:00:00.000Z"}});

  const auto store = StateStore::Open(main_path.string());
  store->Merge(src_path.string());
  store->UseRules(TwoRules(), hash);
  EXPECT_EQ(RecalledPath(*store, x), "x-src");
  EXPECT_EQ(RecalledPath(*store, y), "y-main");
  EXPECT_EQ(RecalledPath(*store, z), "z-src");
  EXPECT_EQ(RecalledPath(*store, w), "w-main");
  const StateStatus status = store->Status();
  EXPECT_EQ(status.layers_scanned, 4u);
  EXPECT_EQ(status.layers_failed, 0u);
  EXPECT_EQ(status.findings, 4u);
}

TEST(StateStoreMemoryTest, LoadTargetsGivesTheNewestMetadataOfARule) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  std::vector<Rule> old_rules = TwoRules();
  old_rules[1].description = "old words";
  std::vector<Rule> new_rules = TwoRules();
  new_rules[1].description = "new words";
  new_rules.emplace_back().id = "rule-two";
  const std::string old_hash = "sha256:" + std::string(64, '5');
  const std::string new_hash = "sha256:" + std::string(64, '6');
  const auto store = StateStore::Open(path.string());
  store->UseRules(old_rules, old_hash);
  store->UseRules(new_rules, new_hash);
  const auto dated = [&](const std::string& old_time, const std::string& new_time) {
    {
      RawDatabase raw(path);
      raw.Exec("UPDATE rule_sets SET first_used='" + old_time + "' WHERE rule_set_hash='" + old_hash + "'");
      raw.Exec("UPDATE rule_sets SET first_used='" + new_time + "' WHERE rule_set_hash='" + new_hash + "'");
    }
    std::vector<Rule> rules;
    store->LoadTargets({}, &rules);
    std::string described;
    for (const Rule& rule : rules) described += rule.id + "=" + rule.description + ";";
    return described;
  };
  EXPECT_EQ(dated("2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z"),
            "rule-zero=;rule-one=new words;rule-two=;");
  EXPECT_EQ(dated("2022-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z"),
            "rule-zero=;rule-one=old words;rule-two=;");
}

// Forwards to a store; sets the stop flag when the scan first asks for a blob, which is after the
// targets are resolved and before any blob is read. Counts the blobs handed over.
class StopAtFirstRecall final : public ScanMemory {
 public:
  StopAtFirstRecall(ScanMemory& inner, std::atomic<bool>& stop) : inner_(inner), stop_(stop) {}
  std::optional<ImageDescriptor> RecallImage(const std::string& digest) override { return inner_.RecallImage(digest); }
  std::optional<RecalledBlob> RecallBlob(const std::string& digest) override {
    stop_.store(true);
    return inner_.RecallBlob(digest);
  }
  std::string LastError(const std::string& digest) override { return inner_.LastError(digest); }
  void RememberBlob(const LayerResult& blob, const std::vector<Finding>& findings,
                    const std::vector<std::string>& errors) override {
    ++remembered;
    inner_.RememberBlob(blob, findings, errors);
  }
  std::atomic<int> remembered{0};

 private:
  ScanMemory& inner_;
  std::atomic<bool>& stop_;
};

TEST_F(StateStoreScanTest, StopBeforeTheScanResolvesNothingAndRemembersNothing) {
  TempDir dir;
  const auto store = OpenStore(dir.path() / "state.db");
  const std::vector<std::string> specs = ImageSpecs();
  std::atomic<bool> stop{true};
  const ScanResult result = Scan(specs, store.get(), [&](ScanOptions& o) { o.stop = &stop; });
  EXPECT_TRUE(result.stopped);
  EXPECT_TRUE(result.findings.empty());
  EXPECT_TRUE(result.layers.empty());
  ASSERT_EQ(result.errors.size(), specs.size()) << ErrorsOf(result);
  for (const ScanIssue& e : result.errors) EXPECT_NE(e.message.find("stopped"), std::string::npos) << e.message;
  const StateStatus status = store->Status();
  EXPECT_EQ(status.layers_scanned, 0u);
  EXPECT_EQ(status.layers_failed, 0u);
}

TEST_F(StateStoreScanTest, StopBeforeReadingReportsEveryLayerAndRemembersNothing) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  const std::vector<std::string> specs = ImageSpecs();
  std::atomic<bool> stop{false};
  {
    const auto store = OpenStore(path);
    StopAtFirstRecall memory(*store, stop);
    const ScanResult result = Scan(specs, &memory, [&](ScanOptions& o) { o.stop = &stop; });
    EXPECT_TRUE(result.stopped);
    EXPECT_TRUE(result.findings.empty());
    EXPECT_EQ(memory.remembered.load(), 0);
    ASSERT_FALSE(result.layers.empty());
    for (const LayerResult& blob : result.layers) EXPECT_FALSE(blob.complete) << blob.digest;
    // An error at every layer (and config) of every image.
    std::set<std::tuple<size_t, size_t, int>> places;
    for (const ScanIssue& e : result.errors) {
      EXPECT_NE(e.message.find("stopped"), std::string::npos) << e.message;
      places.emplace(e.target_index, e.image_index, e.layer_index);
    }
    size_t images = 0;
    ASSERT_EQ(result.targets.size(), specs.size());
    for (size_t t = 0; t < result.targets.size(); ++t) {
      for (size_t i = 0; i < result.targets[t].images.size(); ++i) {
        ++images;
        EXPECT_TRUE(places.count({t, i, kNoLayer})) << "config of t" << t << " i" << i;
        for (const LayerDescriptor& layer : result.targets[t].images[i].layers) {
          EXPECT_TRUE(places.count({t, i, layer.index})) << "t" << t << " i" << i << " L" << layer.index;
        }
      }
    }
    EXPECT_GE(images, specs.size());
    const StateStatus status = store->Status();
    EXPECT_EQ(status.layers_scanned, 0u);
    EXPECT_EQ(status.layers_failed, 0u);
  }
  // Nothing to recall: the next run reads everything.
  const auto store = OpenStore(path);
  const ScanResult next = Scan(specs, store.get());
  EXPECT_EQ(next.blobs_recalled, 0u);
  EXPECT_TRUE(next.errors.empty()) << ErrorsOf(next);
}

// Forwards to a store; sets the stop flag when the first blob is handed over, so that the scan
// stops midway (how far the other blobs got varies). Records the complete blobs handed over.
class StopAtFirstRemember final : public ScanMemory {
 public:
  StopAtFirstRemember(ScanMemory& inner, std::atomic<bool>& stop) : inner_(inner), stop_(stop) {}
  std::optional<ImageDescriptor> RecallImage(const std::string& digest) override { return inner_.RecallImage(digest); }
  std::optional<RecalledBlob> RecallBlob(const std::string& digest) override { return inner_.RecallBlob(digest); }
  std::string LastError(const std::string& digest) override { return inner_.LastError(digest); }
  void RememberBlob(const LayerResult& blob, const std::vector<Finding>& findings,
                    const std::vector<std::string>& errors) override {
    stop_.store(true);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (blob.complete && errors.empty()) complete_.insert(blob.digest);
      ++handed_over_;
    }
    inner_.RememberBlob(blob, findings, errors);
  }
  std::set<std::string> complete() {
    std::lock_guard<std::mutex> lock(mutex_);
    return complete_;
  }
  size_t handed_over() {
    std::lock_guard<std::mutex> lock(mutex_);
    return handed_over_;
  }

 private:
  ScanMemory& inner_;
  std::atomic<bool>& stop_;
  std::mutex mutex_;
  std::set<std::string> complete_;
  size_t handed_over_ = 0;
};

TEST_F(StateStoreScanTest, StopMidwayKeepsWhatWasDoneAndTheNextRunDoesTheRest) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  const std::vector<std::string> specs = ImageSpecs();
  const ScanResult full = Scan(specs, nullptr);
  ASSERT_TRUE(full.errors.empty()) << ErrorsOf(full);
  std::atomic<bool> stop{false};
  uint64_t layers_done = 0;
  {
    const auto store = OpenStore(path);
    StopAtFirstRemember memory(*store, stop);
    const ScanResult stopped = Scan(specs, &memory, [&](ScanOptions& o) {
      o.stop = &stop;
      o.threads = 1;
    });
    Record(*store, stopped);
    EXPECT_TRUE(stopped.stopped);
    // Every blob done is handed over, and only those: a blob cut short is read again next time.
    std::set<std::string> done;
    for (const LayerResult& blob : stopped.layers) {
      if (blob.complete) done.insert(blob.digest);
      if (blob.complete && blob.kind == JobKind::kLayer) ++layers_done;
    }
    EXPECT_FALSE(done.empty());
    EXPECT_EQ(memory.complete(), done);
    EXPECT_EQ(memory.handed_over(), done.size()) << "a blob cut short was handed over";
    EXPECT_EQ(store->Status().layers_scanned, done.size());
    EXPECT_EQ(store->Status().layers_failed, 0u);
    for (const ScanIssue& e : stopped.errors) EXPECT_NE(e.message.find("stopped"), std::string::npos) << e.message;
  }
  const auto store = OpenStore(path);
  const ScanResult resumed = Scan(specs, store.get());
  EXPECT_TRUE(resumed.errors.empty()) << ErrorsOf(resumed);
  EXPECT_EQ(resumed.blobs_recalled, layers_done);
  EXPECT_EQ(FindingLines(resumed, Rules(), Place::kIndexes), FindingLines(full, Rules(), Place::kIndexes));
  Record(*store, resumed);
  std::vector<Rule> rules;
  const ScanResult assembled = Assemble(*store, &rules);
  EXPECT_TRUE(assembled.errors.empty()) << ErrorsOf(assembled);
  EXPECT_EQ(FindingLines(assembled, rules, Place::kImageDigest), FindingLines(full, Rules(), Place::kImageDigest));
}

TEST_F(StateStoreScanTest, MergedShardsEqualTheUnshardedScan) {
  TempDir dir;
  const std::vector<std::string> specs = ImageSpecs();
  const fs::path shard_paths[2] = {dir.path() / "shard0.db", dir.path() / "shard1.db"};
  ScanResult shards[2];
  for (unsigned s = 0; s < 2; ++s) {
    const auto store = OpenStore(shard_paths[s], Hash(), std::to_string(s) + "/2");
    shards[s] = Scan(specs, store.get(), [s](ScanOptions& o) {
      o.shard_index = s;
      o.shard_count = 2;
    });
    EXPECT_TRUE(shards[s].errors.empty()) << ErrorsOf(shards[s]);
    Record(*store, shards[s]);
  }
  // Each blob is read by exactly one shard.
  EXPECT_EQ(shards[0].blobs_scanned, shards[1].blobs_scanned);
  EXPECT_EQ(shards[0].blobs_other_shard + shards[1].blobs_other_shard, shards[0].blobs_scanned);
  std::map<std::string, int> readers;
  for (const ScanResult& shard : shards) {
    for (const LayerResult& blob : shard.layers) {
      readers[blob.digest] += blob.source == BlobSource::kRead;
      EXPECT_NE(blob.source, BlobSource::kRecalled) << blob.digest;
    }
  }
  for (const auto& [digest, count] : readers) EXPECT_EQ(count, 1) << digest;

  const auto unsharded = OpenStore(dir.path() / "all.db");
  const ScanResult all = Scan(specs, unsharded.get());
  ASSERT_TRUE(all.errors.empty()) << ErrorsOf(all);
  Record(*unsharded, all);
  std::vector<Rule> all_rules;
  const ScanResult all_assembled = Assemble(*unsharded, &all_rules);
  ASSERT_TRUE(all_assembled.errors.empty()) << ErrorsOf(all_assembled);
  const std::vector<std::string> expected = FindingLines(all_assembled, all_rules, Place::kImageDigest);
  ASSERT_EQ(expected, FindingLines(all, Rules(), Place::kImageDigest));

  const auto merged = StateStore::Open((dir.path() / "merged.db").string());
  merged->Merge(shard_paths[0].string());
  merged->Merge(shard_paths[1].string());
  std::vector<Rule> rules;
  const ScanResult assembled = Assemble(*merged, &rules);
  EXPECT_TRUE(assembled.errors.empty()) << ErrorsOf(assembled);
  EXPECT_EQ(FindingLines(assembled, rules, Place::kImageDigest), expected);
  EXPECT_EQ(SkipLines(assembled, Place::kImageDigest), SkipLines(all_assembled, Place::kImageDigest));

  const StateStatus status = merged->Status();
  const StateStatus all_status = unsharded->Status();
  EXPECT_EQ(status.runs, 2u);
  EXPECT_EQ(status.runs_unfinished, 0u);
  EXPECT_EQ(status.images, all_status.images);
  EXPECT_EQ(status.repositories, all_status.repositories);
  EXPECT_EQ(status.layers_scanned, all_status.layers_scanned);
  EXPECT_EQ(status.layers_failed, 0u);
  EXPECT_EQ(status.findings, all_status.findings);
  EXPECT_EQ(status.rule_sets, 1u);

  // Merging the same files again changes nothing.
  merged->Merge(shard_paths[1].string());
  merged->Merge(shard_paths[0].string());
  EXPECT_EQ(StatusLine(merged->Status()), StatusLine(status));
  std::vector<Rule> rules_again;
  const ScanResult again = Assemble(*merged, &rules_again);
  EXPECT_TRUE(again.errors.empty()) << ErrorsOf(again);
  EXPECT_EQ(FindingLines(again, rules_again, Place::kImageDigest), expected);

  EXPECT_THROW(merged->Merge((dir.path() / "merged.db").string()), StateError) << "into itself";
  EXPECT_THROW(merged->Merge((dir.path() / "missing.db").string()), StateError);
}

TEST_F(StateStoreScanTest, StateFileNeverHoldsARawSecret) {
  TempDir dir;
  std::vector<std::string> names;
  for (const auto& [name, spec] : testing::CorpusTargets(testing::LoadGolden())) names.push_back(name);
  const std::vector<std::string> specs = Specs(names);
  ASSERT_FALSE(specs.empty());

  // The secrets, from a scan without a state file.
  const ScanResult plain = Scan(specs, nullptr);
  std::set<std::string> secrets;
  for (const Finding& f : plain.findings) {
    if (f.secret.size() >= 8) secrets.insert(f.secret);
  }
  ASSERT_GT(secrets.size(), 10u);

  const fs::path path = dir.path() / "state.db";
  const auto check = [&](const std::string& bytes, const std::string& file) {
    ASSERT_FALSE(bytes.empty()) << file;
    for (const std::string& secret : secrets) {
      EXPECT_EQ(bytes.find(secret), std::string::npos) << file << " holds the secret " << RedactSecret(secret);
    }
  };
  {
    const auto store = OpenStore(path);
    const ScanResult scan = Scan(specs, store.get());
    EXPECT_EQ(scan.findings.size(), plain.findings.size());
    Record(*store, scan);
    // While the store is open, the recent transactions are in the write-ahead log.
    check(ReadFileBytes(path) + ReadFileBytes(path.string() + "-wal"), "state.db and state.db-wal");
  }
  check(ReadFileBytes(path) + ReadFileBytes(path.string() + "-wal"), "state.db after closing");
}

// ---------------------------------------------------------------------------------------------
// The file: schema, refusals, where it lives

TEST(StateStoreSchemaTest, FreshFileHasTheCurrentSchemaVersion) {
  TempDir dir;
  const fs::path path = dir.path() / "nested" / "dirs" / "state.db";
  {
    const auto store = StateStore::Open(path.string());
    EXPECT_EQ(store->path(), path.string());
    EXPECT_EQ(store->Status().schema_version, kStateSchemaVersion);
  }
  ASSERT_TRUE(fs::exists(path)) << "the directories are created";
  RawDatabase raw(path);
  EXPECT_EQ(raw.Text("PRAGMA user_version"), std::to_string(kStateSchemaVersion));
  EXPECT_NE(raw.Text("PRAGMA application_id"), "0");
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  // Opening again keeps it as it is.
  EXPECT_NO_THROW(StateStore::Open(path.string()));
}

TEST(StateStoreSchemaTest, EmptyFileIsMadeAStateFile) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  WriteFileBytes(path, "");
  const auto store = StateStore::Open(path.string());
  EXPECT_EQ(store->Status().schema_version, kStateSchemaVersion);
}

TEST(StateStoreSchemaTest, NewerSchemaIsRefused) {
  TempDir dir;
  const fs::path path = dir.path() / "state.db";
  StateStore::Open(path.string());
  {
    RawDatabase raw(path);
    raw.Exec("PRAGMA user_version=" + std::to_string(kStateSchemaVersion + 1));
  }
  try {
    StateStore::Open(path.string());
    ADD_FAILURE() << "a newer schema was opened";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  RawDatabase raw(path);
  EXPECT_EQ(raw.Text("PRAGMA user_version"), std::to_string(kStateSchemaVersion + 1)) << "left as it was";
}

TEST(StateStoreSchemaTest, FileThatIsNoDatabaseIsRefusedByName) {
  TempDir dir;
  const fs::path path = dir.path() / "notes.txt";
  std::string text;
  for (int i = 0; i < 200; ++i) text += "this is a text file, not a database: line " + std::to_string(i) + "\n";
  WriteFileBytes(path, text);
  try {
    StateStore::Open(path.string());
    ADD_FAILURE() << "a text file was opened";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ReadFileBytes(path), text) << "left as it was";
}

TEST(StateStoreSchemaTest, DatabaseOfAnotherProgramIsRefusedByName) {
  TempDir dir;
  const fs::path path = dir.path() / "other.db";
  {
    RawDatabase raw(path);
    raw.Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('keep me')");
  }
  try {
    StateStore::Open(path.string());
    ADD_FAILURE() << "another program's database was opened";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("another program"), std::string::npos) << e.what();
  }
  RawDatabase raw(path);
  EXPECT_EQ(raw.Text("SELECT text FROM notes"), "keep me");
  EXPECT_EQ(raw.Text("PRAGMA user_version"), "0");
  EXPECT_EQ(raw.Text("SELECT count(*) FROM sqlite_master WHERE name='layer_scans'"), "0");
}

// Regression: Open switched the file to WAL before checking whose it was, so another program's
// database that it refused stayed changed.
TEST(StateStoreSchemaTest, DatabaseOfAnotherProgramKeepsItsJournalMode) {
  TempDir dir;
  const fs::path path = dir.path() / "other.db";
  {
    RawDatabase raw(path);
    raw.Exec("CREATE TABLE notes (text TEXT)");
    ASSERT_EQ(raw.Text("PRAGMA journal_mode"), "delete");
  }
  EXPECT_THROW(StateStore::Open(path.string()), StateError);
  RawDatabase raw(path);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "delete") << "a refused file must not be changed";
}

TEST(StateStorePathTest, DefaultPathHonoursXdgCacheHome) {
  ScopedEnv home("HOME", "/home/someone");
  ScopedEnv cache("XDG_CACHE_HOME", "/var/cache/someone");
  EXPECT_EQ(DefaultStatePath(), "/var/cache/someone/layersift/state.db");
}

TEST(StateStorePathTest, DefaultPathFallsBackToHomeCache) {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv cache("XDG_CACHE_HOME", "");
    EXPECT_EQ(DefaultStatePath(), "/home/someone/.cache/layersift/state.db");
  }
  {
    // The XDG spec ignores relative paths.
    ScopedEnv cache("XDG_CACHE_HOME", "relative/cache");
    EXPECT_EQ(DefaultStatePath(), "/home/someone/.cache/layersift/state.db");
  }
}

TEST(StateStorePathTest, NoCacheDirectoryIsAnError) {
  ScopedEnv home("HOME", "");
  ScopedEnv cache("XDG_CACHE_HOME", "");
  EXPECT_THROW(DefaultStatePath(), StateError);
}

}  // namespace
}  // namespace layersift
