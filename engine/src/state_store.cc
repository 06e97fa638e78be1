// The state store's SQLite side. This is the only file that includes sqlite3.h.
#include "layersift/engine/state_store.h"

#include <fnmatch.h>
#include <sqlite3.h>
#include <unistd.h>
#include <zstd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "layersift/engine/image_semantics.h"
#include "layersift/engine/report.h"
#include "layersift/engine/rule_set.h"
#include "layersift/fetch/image_reference.h"

namespace layersift {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Marks the file as ours in its header, so that another program's SQLite file is refused by name.
constexpr int kApplicationId = 0x4C534654;  // "LSFT"

// Each entry takes the schema from the version before it to its own; applied in one transaction.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,           -- random: unique across machines, so shards merge
  started_at TEXT NOT NULL,
  ended_at TEXT,                     -- NULL: killed, or still running
  arguments TEXT NOT NULL,
  host TEXT,
  engine_version TEXT NOT NULL,
  rule_set_hash TEXT,
  shard TEXT,
  stats TEXT,                        -- JSON
  exit_status INTEGER
);
CREATE TABLE rule_sets (
  rule_set_hash TEXT PRIMARY KEY,
  rules TEXT NOT NULL,               -- JSON: the metadata reports need, no patterns
  first_used TEXT NOT NULL
);
CREATE TABLE images (
  reference TEXT NOT NULL,           -- docker://REGISTRY/REPO:TAG, oci:DIR:TAG, ...
  registry TEXT NOT NULL,            -- "" for local images
  repository TEXT NOT NULL,          -- the repository, or the local path
  tag TEXT,
  manifest_digest TEXT NOT NULL,     -- of the image manifest (of this platform)
  index_digest TEXT,                 -- the index it was reached through
  platform TEXT,
  config_digest TEXT,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  PRIMARY KEY (reference, manifest_digest)
);
CREATE INDEX images_by_manifest ON images (manifest_digest);
CREATE TABLE layers (
  digest TEXT PRIMARY KEY,
  diff_id TEXT,
  size_bytes INTEGER,
  media_type TEXT,
  urls TEXT                          -- JSON array, for non-distributable layers
);
CREATE TABLE image_layers (
  manifest_digest TEXT NOT NULL,
  position INTEGER NOT NULL,         -- from the base layer up
  layer_digest TEXT NOT NULL,
  history_index INTEGER,
  created_by TEXT,                   -- redacted; NULL when the config's findings were not known
  PRIMARY KEY (manifest_digest, position)
);
CREATE TABLE layer_scans (
  digest TEXT NOT NULL,              -- of the layer or the image config
  rule_set_hash TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('layer', 'config')),
  engine_version TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('complete', 'error')),
  error TEXT,
  compression TEXT,
  stored_bytes INTEGER NOT NULL,
  uncompressed_bytes INTEGER NOT NULL,
  files_seen INTEGER NOT NULL,
  files_scanned INTEGER NOT NULL,
  bytes_scanned INTEGER NOT NULL,
  cpu_seconds REAL NOT NULL,
  stats TEXT NOT NULL,               -- JSON: every stage counter
  scanned_at TEXT NOT NULL,
  run_id TEXT,
  entries BLOB,                      -- zstd of LayerEntries::Serialize, for presence
  PRIMARY KEY (digest, rule_set_hash)
);
CREATE TABLE findings (
  digest TEXT NOT NULL,
  rule_set_hash TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  path TEXT NOT NULL,
  line INTEGER NOT NULL,
  column INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL,
  secret_redacted TEXT NOT NULL,
  secret_bytes INTEGER NOT NULL,
  end_line INTEGER NOT NULL,
  end_column INTEGER NOT NULL,
  last_line INTEGER NOT NULL,
  last_column INTEGER NOT NULL,
  entropy REAL NOT NULL,
  check_result TEXT NOT NULL,
  PRIMARY KEY (digest, rule_set_hash, path, offset, rule_id, secret_sha256)
);
CREATE TABLE skips (
  digest TEXT NOT NULL,
  rule_set_hash TEXT NOT NULL,
  path TEXT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (digest, rule_set_hash, path, reason)
);
)sql"},
};

std::string NowIso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof text - n, ".%03lldZ", static_cast<long long>(millis));
  return text;
}

std::string RandomHex(size_t bytes) {
  std::random_device random;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const unsigned byte = random() & 0xff;
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

json StatsToJson(const StageStats& s) {
  return json{{"stored_bytes", s.stored_bytes},
              {"uncompressed_bytes", s.uncompressed_bytes},
              {"files_seen", s.files_seen},
              {"files_scanned", s.files_scanned},
              {"files_excluded", s.files_excluded},
              {"files_binary_skipped", s.files_binary_skipped},
              {"files_empty", s.files_empty},
              {"links_skipped", s.links_skipped},
              {"whiteouts", s.whiteouts},
              {"bytes_scanned", s.bytes_scanned},
              {"archives_expanded", s.archives_expanded},
              {"archive_members", s.archive_members},
              {"archives_skipped", s.archives_skipped},
              {"read_seconds", s.read_seconds},
              {"decompress_seconds", s.decompress_seconds},
              {"walk_seconds", s.walk_seconds},
              {"match_seconds", s.match_seconds}};
}

StageStats StatsFromJson(const json& j) {
  StageStats s;
  const auto u = [&](const char* key) { return j.value(key, uint64_t{0}); };
  const auto d = [&](const char* key) { return j.value(key, 0.0); };
  s.stored_bytes = u("stored_bytes");
  s.uncompressed_bytes = u("uncompressed_bytes");
  s.files_seen = u("files_seen");
  s.files_scanned = u("files_scanned");
  s.files_excluded = u("files_excluded");
  s.files_binary_skipped = u("files_binary_skipped");
  s.files_empty = u("files_empty");
  s.links_skipped = u("links_skipped");
  s.whiteouts = u("whiteouts");
  s.bytes_scanned = u("bytes_scanned");
  s.archives_expanded = u("archives_expanded");
  s.archive_members = u("archive_members");
  s.archives_skipped = u("archives_skipped");
  s.read_seconds = d("read_seconds");
  s.decompress_seconds = d("decompress_seconds");
  s.walk_seconds = d("walk_seconds");
  s.match_seconds = d("match_seconds");
  return s;
}

// What reports need of a rule; its patterns stay in the rule files.
json RuleToJson(const Rule& rule) {
  return json{{"id", rule.id},
              {"name", rule.name},
              {"kind", rule.kind},
              {"vendor", rule.vendor},
              {"confidence", std::string(ConfidenceName(rule.confidence))},
              {"description", rule.description},
              {"references", rule.references},
              {"validate", std::string(ValidatorName(rule.validate))},
              {"on_invalid", rule.on_invalid == OnInvalid::kDowngrade ? "downgrade" : "suppress"}};
}

Rule RuleFromJson(const json& j) {
  Rule rule;
  rule.id = j.value("id", "");
  rule.name = j.value("name", "");
  rule.kind = j.value("kind", "");
  rule.vendor = j.value("vendor", "");
  rule.confidence = ParseConfidence(j.value("confidence", "medium")).value_or(Confidence::kMedium);
  rule.description = j.value("description", "");
  rule.references = j.value("references", std::vector<std::string>{});
  rule.validate = ParseValidator(j.value("validate", "")).value_or(Validator::kNone);
  rule.on_invalid = j.value("on_invalid", "") == "downgrade" ? OnInvalid::kDowngrade : OnInvalid::kSuppress;
  return rule;
}

CheckResult ParseCheck(std::string_view name) {
  for (const CheckResult c : {CheckResult::kNotChecked, CheckResult::kPassed, CheckResult::kFailed}) {
    if (CheckResultName(c) == name) return c;
  }
  return CheckResult::kNotChecked;
}

std::string Compress(const std::string& bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  if (ZSTD_isError(n)) throw StateError(std::string("compressing layer entries: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::string Decompress(const void* data, size_t size) {
  const unsigned long long expected = ZSTD_getFrameContentSize(data, size);
  if (expected == ZSTD_CONTENTSIZE_ERROR || expected == ZSTD_CONTENTSIZE_UNKNOWN || expected > (1ull << 32)) {
    throw StateError("stored layer entries are corrupt");
  }
  std::string out(expected, '\0');
  const size_t n = ZSTD_decompress(out.data(), out.size(), data, size);
  if (ZSTD_isError(n) || n != expected) throw StateError("stored layer entries are corrupt");
  return out;
}

// One prepared statement: binds by position (1-based), steps, reads columns, resets on reuse.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
      throw StateError(path + ": " + sqlite3_errmsg(db) + " (in: " + sql.substr(0, 80) + ")");
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, std::string_view text) {
    Check(sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& Bind(int i, const std::string& text) { return Bind(i, std::string_view(text)); }
  Statement& Bind(int i, const char* text) { return Bind(i, std::string_view(text)); }
  Statement& Bind(int i, int64_t value) {
    Check(sqlite3_bind_int64(stmt_, i, value));
    return *this;
  }
  Statement& Bind(int i, uint64_t value) { return Bind(i, static_cast<int64_t>(value)); }
  Statement& Bind(int i, int value) { return Bind(i, static_cast<int64_t>(value)); }
  Statement& Bind(int i, double value) {
    Check(sqlite3_bind_double(stmt_, i, value));
    return *this;
  }
  Statement& BindNull(int i) {
    Check(sqlite3_bind_null(stmt_, i));
    return *this;
  }
  Statement& BindBlob(int i, const std::string& bytes) {
    Check(sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& BindOptional(int i, const std::string& text) { return text.empty() ? BindNull(i) : Bind(i, text); }

  // True while there is a row.
  bool Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StateError(path_ + ": " + sqlite3_errmsg(db_));
  }
  void Run() {
    while (Step()) {
    }
    Reset();
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text ? std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column)) : "";
  }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  uint64_t Uint(int column) const { return static_cast<uint64_t>(Int(column)); }
  double Real(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string Blob(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    return data ? std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, column)) : "";
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK) throw StateError(path_ + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  const std::string& path_;
};

// A blob handed over by the scan, waiting for the writer thread.
struct BlobRecord {
  std::string digest;
  JobKind kind = JobKind::kLayer;
  bool complete = false;
  std::string error;
  std::string compression;
  StageStats stats;
  std::vector<ScanSkip> skipped;
  std::shared_ptr<const LayerEntries> entries;
  struct Row {
    std::string rule_id;
    Finding finding;  // without the raw secret
  };
  std::vector<Row> findings;
};

}  // namespace

std::string DefaultStatePath() {
  const char* cache = std::getenv("XDG_CACHE_HOME");
  std::string base;
  if (cache != nullptr && cache[0] == '/') {
    base = cache;
  } else {
    const char* home = std::getenv("HOME");
    if (home == nullptr || home[0] == '\0') {
      throw StateError("no cache directory: set XDG_CACHE_HOME or HOME, or give --state PATH (or --no-state)");
    }
    base = std::string(home) + "/.cache";
  }
  return base + "/layersift/state.db";
}

class StateStore::Impl {
 public:
  explicit Impl(const std::string& path) : path_(path) {}

  ~Impl() {
    StopWriter();
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  void Open() {
    std::error_code ec;
    const fs::path parent = fs::path(path_).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      throw StateError("cannot open the state file " + path_ + ": " + message);
    }
    // Concurrent runs on one file (two scans, a report during a scan) wait for each other's
    // transactions instead of failing.
    sqlite3_busy_timeout(db_, 60000);
    const int version = CheckOwnership();  // before anything changes a file that is not ours
    Exec("PRAGMA journal_mode=WAL");
    // In WAL mode a commit survives the process being killed without an fsync per transaction;
    // only a power loss can take the last ones back, and the next run redoes those.
    Exec("PRAGMA synchronous=NORMAL");
    Exec("PRAGMA foreign_keys=OFF");
    Migrate(version);
  }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      if (message.find("file is not a database") != std::string::npos) {
        throw StateError(path_ + " is not a layersift state file (not an SQLite database)");
      }
      throw StateError(path_ + ": " + message);
    }
  }

  int PragmaInt(const std::string& name) {
    Statement stmt(db_, "PRAGMA " + name, path_);
    return stmt.Step() ? static_cast<int>(stmt.Int(0)) : 0;
  }

  // Refuses another program's database and one of a newer schema; returns the schema version.
  int CheckOwnership() {
    const int version = PragmaInt("user_version");
    const int application = PragmaInt("application_id");
    if (version == 0) {
      Statement tables(db_, "SELECT count(*) FROM sqlite_master", path_);
      if (tables.Step() && tables.Int(0) > 0 && application != kApplicationId) {
        throw StateError(path_ + " is an SQLite database of another program, not a layersift state file");
      }
    } else if (application != kApplicationId) {
      throw StateError(path_ + " is an SQLite database of another program, not a layersift state file");
    }
    if (version > kStateSchemaVersion) {
      throw StateError(path_ + " has state schema version " + std::to_string(version) + ", newer than this layersift knows (" +
                       std::to_string(kStateSchemaVersion) + "): use a newer layersift");
    }
    return version;
  }

  void Migrate(int version) {
    for (const Migration& migration : kMigrations) {
      if (migration.version <= version) continue;
      Exec("BEGIN IMMEDIATE");
      try {
        // Another process may have migrated between our check and our lock.
        if (PragmaInt("user_version") < migration.version) {
          Exec(migration.sql);
          Exec("PRAGMA application_id=" + std::to_string(kApplicationId));
          Exec("PRAGMA user_version=" + std::to_string(migration.version));
        }
        Exec("COMMIT");
      } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    }
  }

  // Runs `body` in one write transaction.
  template <typename F>
  void Transaction(F&& body) {
    Exec("BEGIN IMMEDIATE");
    try {
      body();
      Exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  // --- the writer thread ---

  void Enqueue(BlobRecord record) {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    if (!writer_.joinable()) writer_ = std::thread([this] { WriterLoop(); });
    queue_.push_back(std::move(record));
    queue_cv_.notify_all();
  }

  void Flush() {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    done_cv_.wait(lock, [this] { return queue_.empty() && !writing_; });
    if (!writer_error_.empty()) {
      const std::string error = std::move(writer_error_);
      writer_error_.clear();
      throw StateError(error);
    }
  }

  void StopWriter() {
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      stopping_ = true;
      queue_cv_.notify_all();
    }
    if (writer_.joinable()) writer_.join();
  }

  void WriterLoop() {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    for (;;) {
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, with everything written
      BlobRecord record = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      lock.unlock();
      try {
        WriteBlob(record);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> error_lock(queue_mutex_);
        if (writer_error_.empty()) writer_error_ = std::string("recording layer ") + record.digest + ": " + e.what();
      }
      lock.lock();
      writing_ = false;
      done_cv_.notify_all();
    }
  }

  void WriteBlob(const BlobRecord& r) {
    const std::string entries = r.entries ? Compress(r.entries->Serialize()) : std::string();
    std::lock_guard<std::mutex> db_lock(db_mutex_);
    Transaction([&] {
      // A rescan replaces the blob's earlier scan with these rules, findings included.
      for (const char* table : {"findings", "skips"}) {
        Statement del(db_, std::string("DELETE FROM ") + table + " WHERE digest=?1 AND rule_set_hash=?2", path_);
        del.Bind(1, r.digest).Bind(2, rule_set_hash_).Run();
      }
      Statement scan(db_,
                     "INSERT OR REPLACE INTO layer_scans (digest, rule_set_hash, kind, engine_version, status, error, "
                     "compression, stored_bytes, uncompressed_bytes, files_seen, files_scanned, bytes_scanned, "
                     "cpu_seconds, stats, scanned_at, run_id, entries) "
                     "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
                     path_);
      const StageStats& s = r.stats;
      scan.Bind(1, r.digest)
          .Bind(2, rule_set_hash_)
          .Bind(3, r.kind == JobKind::kConfig ? "config" : "layer")
          .Bind(4, EngineVersion())
          .Bind(5, r.complete ? "complete" : "error")
          .BindOptional(6, r.error)
          .BindOptional(7, r.compression)
          .Bind(8, s.stored_bytes)
          .Bind(9, s.uncompressed_bytes)
          .Bind(10, s.files_seen)
          .Bind(11, s.files_scanned)
          .Bind(12, s.bytes_scanned)
          .Bind(13, s.read_seconds + s.decompress_seconds + s.walk_seconds + s.match_seconds)
          .Bind(14, StatsToJson(s).dump())
          .Bind(15, NowIso())
          .BindOptional(16, run_id_);
      if (entries.empty()) {
        scan.BindNull(17);
      } else {
        scan.BindBlob(17, entries);
      }
      scan.Run();
      Statement finding(db_,
                        "INSERT OR IGNORE INTO findings (digest, rule_set_hash, rule_id, path, line, column, offset, "
                        "fingerprint, secret_sha256, secret_redacted, secret_bytes, end_line, end_column, last_line, "
                        "last_column, entropy, check_result) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
                        "?15,?16,?17)",
                        path_);
      for (const BlobRecord::Row& row : r.findings) {
        const Finding& f = row.finding;
        finding.Bind(1, r.digest)
            .Bind(2, rule_set_hash_)
            .Bind(3, row.rule_id)
            .Bind(4, f.path)
            .Bind(5, f.line)
            .Bind(6, f.column)
            .Bind(7, f.offset)
            .Bind(8, FingerprintOf(row.rule_id, r.digest, f.path, f.offset, f.facts.sha256))
            .Bind(9, f.facts.sha256)
            .Bind(10, f.facts.redacted)
            .Bind(11, f.facts.size_bytes)
            .Bind(12, f.facts.end_line)
            .Bind(13, f.facts.end_column)
            .Bind(14, f.facts.last_line)
            .Bind(15, f.facts.last_column)
            .Bind(16, f.facts.entropy)
            .Bind(17, CheckResultName(f.check))
            .Run();
      }
      Statement skip(db_, "INSERT OR IGNORE INTO skips (digest, rule_set_hash, path, reason) VALUES (?1,?2,?3,?4)",
                     path_);
      for (const ScanSkip& s2 : r.skipped) skip.Bind(1, r.digest).Bind(2, rule_set_hash_).Bind(3, s2.path).Bind(4, s2.reason).Run();
    });
  }

  // --- recall ---

  // The scan of `digest` to recall: with this run's rules, or the newest complete one when
  // reporting.
  std::string ScanCondition() const {
    return any_rule_set_ ? "digest=?1 AND status='complete' ORDER BY scanned_at DESC LIMIT 1"
                         : "digest=?1 AND rule_set_hash=?2 AND status='complete'";
  }

  std::optional<RecalledBlob> RecallBlob(const std::string& digest) {
    std::lock_guard<std::mutex> db_lock(db_mutex_);
    Statement scan(db_,
                   "SELECT rule_set_hash, compression, stats, entries FROM layer_scans WHERE " + ScanCondition(),
                   path_);
    scan.Bind(1, digest);
    if (!any_rule_set_) scan.Bind(2, rule_set_hash_);
    if (!scan.Step()) return std::nullopt;
    RecalledBlob blob;
    const std::string hash = scan.Text(0);
    blob.compression = scan.Text(1);
    blob.stats = StatsFromJson(json::parse(scan.Text(2), nullptr, false));
    if (!scan.IsNull(3)) {
      const std::string compressed = scan.Blob(3);
      try {
        blob.entries = LayerEntries::Deserialize(Decompress(compressed.data(), compressed.size()));
      } catch (const std::exception&) {
        return std::nullopt;  // unreadable: the blob is read again, which rewrites it
      }
    }
    Statement findings(db_,
                       "SELECT rule_id, path, line, column, offset, secret_sha256, secret_redacted, secret_bytes, "
                       "end_line, end_column, last_line, last_column, entropy, check_result FROM findings "
                       "WHERE digest=?1 AND rule_set_hash=?2",
                       path_);
    findings.Bind(1, digest).Bind(2, hash);
    while (findings.Step()) {
      const auto rule = rule_index_.find(findings.Text(0));
      if (rule == rule_index_.end()) return std::nullopt;  // rules differ after all: read again
      Finding f;
      f.rule_index = rule->second;
      f.path = findings.Text(1);
      f.line = findings.Uint(2);
      f.column = findings.Uint(3);
      f.offset = findings.Uint(4);
      f.facts.sha256 = findings.Text(5);
      f.facts.redacted = findings.Text(6);
      f.facts.size_bytes = findings.Uint(7);
      f.facts.end_line = findings.Uint(8);
      f.facts.end_column = findings.Uint(9);
      f.facts.last_line = findings.Uint(10);
      f.facts.last_column = findings.Uint(11);
      f.facts.entropy = findings.Real(12);
      f.check = ParseCheck(findings.Text(13));
      blob.findings.push_back(std::move(f));
    }
    Statement skips(db_, "SELECT path, reason FROM skips WHERE digest=?1 AND rule_set_hash=?2 ORDER BY path", path_);
    skips.Bind(1, digest).Bind(2, hash);
    while (skips.Step()) {
      ScanSkip skip;
      skip.path = skips.Text(0);
      skip.reason = skips.Text(1);
      blob.skipped.push_back(std::move(skip));
    }
    return blob;
  }

  bool HasCompleteScan(const std::string& digest) {
    Statement scan(db_, "SELECT 1 FROM layer_scans WHERE " + ScanCondition(), path_);
    scan.Bind(1, digest);
    if (!any_rule_set_) scan.Bind(2, rule_set_hash_);
    return scan.Step();
  }

  std::optional<ImageDescriptor> RecallImage(const std::string& manifest_digest) {
    std::lock_guard<std::mutex> db_lock(db_mutex_);
    Statement image_row(db_, "SELECT platform, config_digest FROM images WHERE manifest_digest=?1 LIMIT 1", path_);
    image_row.Bind(1, manifest_digest);
    if (!image_row.Step()) return std::nullopt;
    ImageDescriptor image;
    image.platform = image_row.Text(0);
    image.config_digest = image_row.Text(1);
    // Its config's findings must be there to be recalled, or the config must be read.
    if (!image.config_digest.empty() && !HasCompleteScan(image.config_digest)) return std::nullopt;
    image.layers = LayersOf(manifest_digest);
    return image;
  }

  std::vector<LayerDescriptor> LayersOf(const std::string& manifest_digest) {
    Statement rows(db_,
                   "SELECT il.position, il.layer_digest, il.history_index, il.created_by, l.size_bytes, "
                   "l.media_type, l.urls, l.diff_id FROM image_layers il LEFT JOIN layers l "
                   "ON l.digest = il.layer_digest WHERE il.manifest_digest=?1 ORDER BY il.position",
                   path_);
    rows.Bind(1, manifest_digest);
    std::vector<LayerDescriptor> layers;
    while (rows.Step()) {
      LayerDescriptor layer;
      layer.index = static_cast<int>(rows.Int(0));
      layer.digest = rows.Text(1);
      layer.history_index = rows.IsNull(2) ? -1 : static_cast<int>(rows.Int(2));
      layer.created_by_redacted = rows.Text(3);
      layer.size_bytes = rows.Uint(4);
      layer.media_type = rows.Text(5);
      if (!rows.IsNull(6)) layer.urls = json::parse(rows.Text(6), nullptr, false).get<std::vector<std::string>>();
      layer.diff_id = rows.Text(7);
      layers.push_back(std::move(layer));
    }
    return layers;
  }

  std::string LastError(const std::string& digest) {
    std::lock_guard<std::mutex> db_lock(db_mutex_);
    Statement scan(db_, "SELECT error FROM layer_scans WHERE digest=?1 ORDER BY scanned_at DESC LIMIT 1", path_);
    scan.Bind(1, digest);
    return scan.Step() ? scan.Text(0) : "";
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex db_mutex_;  // one connection: statements from several threads take turns
  std::string rule_set_hash_;
  bool any_rule_set_ = false;
  std::unordered_map<std::string, uint32_t> rule_index_;
  std::vector<std::string> rule_ids_;  // by rule index
  std::string run_id_;
  std::string run_started_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::condition_variable done_cv_;
  std::deque<BlobRecord> queue_;
  bool writing_ = false;
  bool stopping_ = false;
  std::string writer_error_;
  std::thread writer_;
};

StateStore::StateStore(std::string path) : path_(std::move(path)), impl_(std::make_unique<Impl>(path_)) {}

StateStore::~StateStore() = default;

std::unique_ptr<StateStore> StateStore::Open(const std::string& path) {
  std::unique_ptr<StateStore> store(new StateStore(path));
  store->impl_->Open();
  return store;
}

void StateStore::UseRules(const std::vector<Rule>& rules, const std::string& rule_set_hash) {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> db_lock(impl.db_mutex_);
  impl.rule_set_hash_ = rule_set_hash;
  impl.any_rule_set_ = false;
  impl.rule_index_.clear();
  impl.rule_ids_.clear();
  json list = json::array();
  for (uint32_t i = 0; i < rules.size(); ++i) {
    impl.rule_index_.emplace(rules[i].id, i);
    impl.rule_ids_.push_back(rules[i].id);
    list.push_back(RuleToJson(rules[i]));
  }
  impl.Transaction([&] {
    Statement insert(impl.db_, "INSERT OR IGNORE INTO rule_sets (rule_set_hash, rules, first_used) VALUES (?1,?2,?3)",
                     impl.path_);
    insert.Bind(1, rule_set_hash).Bind(2, list.dump()).Bind(3, NowIso()).Run();
  });
}

void StateStore::BeginRun(const std::string& arguments, const std::string& shard) {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> db_lock(impl.db_mutex_);
  impl.run_id_ = RandomHex(16);
  impl.run_started_ = NowIso();
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  impl.Transaction([&] {
    Statement insert(impl.db_,
                     "INSERT INTO runs (run_id, started_at, arguments, host, engine_version, rule_set_hash, shard) "
                     "VALUES (?1,?2,?3,?4,?5,?6,?7)",
                     impl.path_);
    insert.Bind(1, impl.run_id_)
        .Bind(2, impl.run_started_)
        .Bind(3, arguments)
        .Bind(4, host)
        .Bind(5, EngineVersion())
        .BindOptional(6, impl.rule_set_hash_)
        .BindOptional(7, shard)
        .Run();
  });
}

void StateStore::EndRun(const ScanResult& result, int exit_status) {
  Flush();
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> db_lock(impl.db_mutex_);
  const json stats = {{"targets", result.targets.size()},
                      {"blobs", result.blobs_scanned},
                      {"blobs_recalled", result.blobs_recalled},
                      {"blobs_other_shard", result.blobs_other_shard},
                      {"findings", result.findings.size()},
                      {"errors", result.errors.size()},
                      {"skipped", result.skipped.size()},
                      {"stored_bytes", result.totals.stored_bytes},
                      {"uncompressed_bytes", result.totals.uncompressed_bytes},
                      {"blob_requests", result.downloads.requests},
                      {"blob_bytes", result.downloads.bytes_received},
                      {"registry_requests", result.registry_requests},
                      {"wall_seconds", result.wall_seconds},
                      {"stopped", result.stopped}};
  impl.Transaction([&] {
    Statement update(impl.db_, "UPDATE runs SET ended_at=?1, stats=?2, exit_status=?3 WHERE run_id=?4", impl.path_);
    update.Bind(1, NowIso()).Bind(2, stats.dump()).Bind(3, exit_status).Bind(4, impl.run_id_).Run();
  });
}

void StateStore::RememberImages(const ScanResult& result) {
  Impl& impl = *impl_;
  // A config's findings are known here when it was read or recalled: only then is the history
  // text redacted. Otherwise (another shard's config) no history text is stored at all.
  std::map<std::string, bool> config_known;
  for (const LayerResult& blob : result.layers) {
    if (blob.kind == JobKind::kConfig) {
      config_known[blob.digest] = blob.complete && blob.source != BlobSource::kOtherShard;
    }
  }
  const std::string now = NowIso();
  std::lock_guard<std::mutex> db_lock(impl.db_mutex_);
  impl.Transaction([&] {
    Statement image_row(impl.db_,
                        "INSERT INTO images (reference, registry, repository, tag, manifest_digest, index_digest, "
                        "platform, config_digest, first_seen, last_seen) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?9) "
                        "ON CONFLICT (reference, manifest_digest) DO UPDATE SET last_seen=excluded.last_seen, "
                        "index_digest=excluded.index_digest, platform=excluded.platform, "
                        "config_digest=excluded.config_digest",
                        impl.path_);
    Statement layer_row(impl.db_,
                        "INSERT INTO layers (digest, diff_id, size_bytes, media_type, urls) VALUES (?1,?2,?3,?4,?5) "
                        "ON CONFLICT (digest) DO UPDATE SET diff_id=coalesce(diff_id, excluded.diff_id), "
                        "urls=coalesce(urls, excluded.urls)",
                        impl.path_);
    Statement order_row(impl.db_,
                        "INSERT INTO image_layers (manifest_digest, position, layer_digest, history_index, created_by) "
                        "VALUES (?1,?2,?3,?4,?5) ON CONFLICT (manifest_digest, position) DO UPDATE SET "
                        "created_by=coalesce(excluded.created_by, created_by)",
                        impl.path_);
    for (const Target& target : result.targets) {
      if (!HasImageSemantics(target.kind)) continue;
      for (const ImageDescriptor& image : target.images) {
        if (image.image_digest.empty()) continue;  // docker-archive images have no manifest digest
        std::string reference, registry, repository, tag;
        if (target.kind == TargetKind::kRegistry) {
          const ImageReference parsed = ParseImageReference(target.path);
          registry = parsed.registry;
          repository = parsed.repository;
          tag = parsed.digest.empty() ? parsed.tag : "";
          reference = "docker://" + target.path;
        } else {
          repository = fs::absolute(target.path).lexically_normal().string();
          tag = image.reference;
          reference = std::string(TargetKindName(target.kind)) + ":" + repository + (tag.empty() ? "" : ":" + tag);
        }
        image_row.Bind(1, reference)
            .Bind(2, registry)
            .Bind(3, repository)
            .BindOptional(4, tag)
            .Bind(5, image.image_digest)
            .BindOptional(6, image.index_digest)
            .BindOptional(7, image.platform)
            .BindOptional(8, image.config_digest)
            .Bind(9, now)
            .Run();
        const bool history_known = image.config_digest.empty() || image.recalled || config_known[image.config_digest];
        for (const LayerDescriptor& layer : image.layers) {
          layer_row.Bind(1, layer.digest)
              .BindOptional(2, layer.diff_id)
              .Bind(3, layer.size_bytes)
              .BindOptional(4, layer.media_type);
          if (layer.urls.empty()) {
            layer_row.BindNull(5);
          } else {
            layer_row.Bind(5, json(layer.urls).dump());
          }
          layer_row.Run();
          order_row.Bind(1, image.image_digest).Bind(2, layer.index).Bind(3, layer.digest);
          if (layer.history_index >= 0) {
            order_row.Bind(4, layer.history_index);
          } else {
            order_row.BindNull(4);
          }
          if (history_known && layer.history_index >= 0) {
            order_row.Bind(5, layer.created_by_redacted);
          } else {
            order_row.BindNull(5);
          }
          order_row.Run();
        }
      }
    }
  });
}

void StateStore::Flush() { impl_->Flush(); }

std::optional<ImageDescriptor> StateStore::RecallImage(const std::string& manifest_digest) {
  return impl_->RecallImage(manifest_digest);
}

std::optional<RecalledBlob> StateStore::RecallBlob(const std::string& digest) { return impl_->RecallBlob(digest); }

std::string StateStore::LastError(const std::string& digest) { return impl_->LastError(digest); }

void StateStore::RememberBlob(const LayerResult& blob, const std::vector<Finding>& findings,
                              const std::vector<std::string>& errors) {
  if (blob.digest.empty() || blob.kind == JobKind::kDirectory) return;  // nothing to key it by
  BlobRecord record;
  record.digest = blob.digest;
  record.kind = blob.kind;
  record.complete = blob.complete && errors.empty();
  for (const std::string& error : errors) record.error += (record.error.empty() ? "" : "; ") + error;
  record.compression = blob.compression;
  record.stats = blob.stats;
  record.skipped = blob.skipped;
  record.entries = blob.entries;
  record.findings.reserve(findings.size());
  for (const Finding& f : findings) {
    BlobRecord::Row row;
    // Set by UseRules before the scan started, and not changed during it.
    row.rule_id = impl_->rule_ids_.at(f.rule_index);
    row.finding = f;
    row.finding.secret.clear();  // never stored
    record.findings.push_back(std::move(row));
  }
  impl_->Enqueue(std::move(record));
}

std::vector<Target> StateStore::LoadTargets(const StateQuery& query, std::vector<Rule>* rules) {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> db_lock(impl.db_mutex_);
  // Every rule set's metadata, oldest first, so the newest description of a rule id wins.
  rules->clear();
  impl.rule_index_.clear();
  impl.rule_ids_.clear();
  Statement sets(impl.db_, "SELECT rules FROM rule_sets ORDER BY first_used, rule_set_hash", impl.path_);
  while (sets.Step()) {
    const json list = json::parse(sets.Text(0), nullptr, false);
    if (!list.is_array()) throw StateError(impl.path_ + ": a stored rule set is corrupt");
    for (const json& item : list) {
      Rule rule = RuleFromJson(item);
      const auto [it, inserted] = impl.rule_index_.emplace(rule.id, static_cast<uint32_t>(rules->size()));
      if (inserted) {
        impl.rule_ids_.push_back(rule.id);
        rules->push_back(std::move(rule));
      } else {
        (*rules)[it->second] = std::move(rule);
      }
    }
  }
  impl.any_rule_set_ = true;

  Statement images(impl.db_,
                   "SELECT reference, registry, repository, tag, manifest_digest, index_digest, platform, "
                   "config_digest FROM images WHERE last_seen >= ?1 ORDER BY reference, platform, manifest_digest",
                   impl.path_);
  images.Bind(1, query.seen_since);
  std::vector<Target> targets;
  while (images.Step()) {
    const std::string reference = images.Text(0);
    const std::string registry = images.Text(1);
    const std::string repository = images.Text(2);
    if (!query.repository_globs.empty()) {
      bool matched = false;
      const std::string full = registry.empty() ? repository : registry + "/" + repository;
      for (const std::string& glob : query.repository_globs) {
        // No FNM_PATHNAME: `*` also matches `/`, as in --include-repo.
        matched |= fnmatch(glob.c_str(), repository.c_str(), 0) == 0 || fnmatch(glob.c_str(), full.c_str(), 0) == 0;
      }
      if (!matched) continue;
    }
    if (targets.empty() || targets.back().spec != reference) {
      Target target;
      target.spec = reference;
      target.kind = registry.empty() ? (reference.rfind("docker-archive:", 0) == 0 ? TargetKind::kDockerArchive
                                                                                   : TargetKind::kOciLayout)
                                     : TargetKind::kRegistry;
      target.path = reference.rfind("docker://", 0) == 0 ? reference.substr(9) : repository;
      targets.push_back(std::move(target));
    }
    ImageDescriptor image;
    image.reference = images.Text(3);
    image.image_digest = images.Text(4);
    image.index_digest = images.Text(5);
    image.platform = images.Text(6);
    image.config_digest = images.Text(7);
    image.recalled = true;
    image.layers = impl.LayersOf(image.image_digest);
    targets.back().images.push_back(std::move(image));
  }
  return targets;
}

StateStatus StateStore::Status() {
  Impl& impl = *impl_;
  Flush();
  std::lock_guard<std::mutex> db_lock(impl.db_mutex_);
  StateStatus status;
  const auto count = [&](const std::string& sql) {
    Statement stmt(impl.db_, sql, impl.path_);
    return stmt.Step() ? stmt.Uint(0) : 0;
  };
  status.schema_version = impl.PragmaInt("user_version");
  status.runs = count("SELECT count(*) FROM runs");
  status.runs_unfinished = count("SELECT count(*) FROM runs WHERE ended_at IS NULL");
  status.images = count("SELECT count(*) FROM images");
  status.repositories = count("SELECT count(DISTINCT registry || '/' || repository) FROM images");
  status.layers_scanned = count("SELECT count(DISTINCT digest) FROM layer_scans WHERE status='complete'");
  status.layers_failed =
      count("SELECT count(DISTINCT digest) FROM layer_scans s WHERE status='error' AND NOT EXISTS "
            "(SELECT 1 FROM layer_scans c WHERE c.digest=s.digest AND c.status='complete')");
  status.rule_sets = count("SELECT count(*) FROM rule_sets");
  // The findings a report would show: those of each blob's newest complete scan.
  status.findings = count(
      "SELECT count(*) FROM findings f JOIN (SELECT digest, rule_set_hash, max(scanned_at) FROM layer_scans "
      "WHERE status='complete' GROUP BY digest) s ON s.digest=f.digest AND s.rule_set_hash=f.rule_set_hash");
  Statement last(impl.db_, "SELECT started_at, ended_at, exit_status FROM runs ORDER BY started_at DESC LIMIT 1",
                 impl.path_);
  if (last.Step()) {
    status.last_run_started = last.Text(0);
    status.last_run_ended = last.Text(1);
    status.last_run_exit_status = last.IsNull(2) ? -1 : static_cast<int>(last.Int(2));
  }
  std::error_code ec;
  for (const std::string& file : {impl.path_, impl.path_ + "-wal"}) {
    const auto size = fs::file_size(file, ec);
    if (!ec) status.database_bytes += size;
  }
  return status;
}

void StateStore::Merge(const std::string& input) {
  Impl& impl = *impl_;
  Flush();
  std::error_code ec;
  if (!fs::is_regular_file(input, ec)) throw StateError("cannot merge " + input + ": no such file");
  if (fs::equivalent(input, impl.path_, ec)) throw StateError("cannot merge " + input + " into itself");
  {
    // Checked through its own connection first, for a clear message about a foreign or newer
    // file; opening also migrates an older one.
    std::unique_ptr<StateStore> checked = Open(input);
  }
  std::lock_guard<std::mutex> db_lock(impl.db_mutex_);
  Statement attach(impl.db_, "ATTACH DATABASE ?1 AS src", impl.path_);
  attach.Bind(1, input).Run();
  try {
    impl.Transaction([&] {
      impl.Exec("INSERT OR IGNORE INTO runs SELECT * FROM src.runs");
      impl.Exec("INSERT OR IGNORE INTO rule_sets SELECT * FROM src.rule_sets");
      impl.Exec(
          "INSERT INTO images SELECT * FROM src.images WHERE true ON CONFLICT (reference, manifest_digest) DO UPDATE "
          "SET first_seen=min(first_seen, excluded.first_seen), last_seen=max(last_seen, excluded.last_seen)");
      impl.Exec(
          "INSERT INTO layers SELECT * FROM src.layers WHERE true ON CONFLICT (digest) DO UPDATE SET "
          "diff_id=coalesce(diff_id, excluded.diff_id), urls=coalesce(urls, excluded.urls)");
      // The shard that scanned an image's config stored its redacted history; the others none.
      impl.Exec(
          "INSERT INTO image_layers SELECT * FROM src.image_layers WHERE true ON CONFLICT (manifest_digest, position) "
          "DO UPDATE SET created_by=coalesce(created_by, excluded.created_by)");
      impl.Exec(
          "CREATE TEMP TABLE winners AS SELECT s.digest, s.rule_set_hash FROM src.layer_scans s LEFT JOIN "
          "main.layer_scans m ON m.digest=s.digest AND m.rule_set_hash=s.rule_set_hash WHERE m.digest IS NULL OR "
          "(m.status='error' AND s.status='complete') OR (m.status=s.status AND s.scanned_at > m.scanned_at)");
      impl.Exec("DELETE FROM main.findings WHERE (digest, rule_set_hash) IN (SELECT digest, rule_set_hash FROM winners)");
      impl.Exec("DELETE FROM main.skips WHERE (digest, rule_set_hash) IN (SELECT digest, rule_set_hash FROM winners)");
      impl.Exec(
          "INSERT OR REPLACE INTO main.layer_scans SELECT s.* FROM src.layer_scans s JOIN winners w "
          "ON w.digest=s.digest AND w.rule_set_hash=s.rule_set_hash");
      impl.Exec(
          "INSERT OR IGNORE INTO main.findings SELECT f.* FROM src.findings f JOIN winners w "
          "ON w.digest=f.digest AND w.rule_set_hash=f.rule_set_hash");
      impl.Exec(
          "INSERT OR IGNORE INTO main.skips SELECT k.* FROM src.skips k JOIN winners w "
          "ON w.digest=k.digest AND w.rule_set_hash=k.rule_set_hash");
      impl.Exec("DROP TABLE temp.winners");
    });
  } catch (...) {
    sqlite3_exec(impl.db_, "DETACH DATABASE src", nullptr, nullptr, nullptr);
    throw;
  }
  impl.Exec("DETACH DATABASE src");
}

}  // namespace layersift
