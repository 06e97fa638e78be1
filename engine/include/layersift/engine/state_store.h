// The state store: a SQLite database of what scans found, keyed by blob digest and rule set.
// Incremental scans recall from it what was scanned before instead of downloading it again, a run
// killed at any point resumes from it, reports come from it without scanning, and the state files
// of shards merge into one. It never holds a raw secret: findings keep the secret's SHA-256, its
// redacted preview and its length; image history keeps only the redacted text.
#ifndef LAYERSIFT_ENGINE_STATE_STORE_H_
#define LAYERSIFT_ENGINE_STATE_STORE_H_

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "layersift/engine/scanner.h"
#include "layersift/rules/rule.h"

namespace layersift {

// A state file that cannot be opened, migrated, read or written. The message names the file.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The schema version this build writes; older files are migrated when opened, newer ones refused.
inline constexpr int kStateSchemaVersion = 1;

// $XDG_CACHE_HOME/layersift/state.db, else ~/.cache/layersift/state.db.
std::string DefaultStatePath();

// What `layersift report` reads from the store.
struct StateQuery {
  std::vector<std::string> repository_globs;  // fnmatch on the repository or REGISTRY/REPOSITORY
  std::string seen_since;                     // ISO 8601 UTC: images seen by a run since then
};

struct StateStatus {
  uint64_t runs = 0;
  uint64_t runs_unfinished = 0;  // started and never ended: killed, or still running
  std::string last_run_started;
  std::string last_run_ended;
  int last_run_exit_status = -1;  // -1: unfinished
  uint64_t images = 0;
  uint64_t repositories = 0;
  uint64_t layers_scanned = 0;  // blobs (layers and configs) with a complete scan
  uint64_t layers_failed = 0;   // blobs whose only scans failed
  uint64_t findings = 0;        // in the latest complete scan of each blob
  uint64_t rule_sets = 0;
  uint64_t database_bytes = 0;  // the file with its write-ahead log
  int schema_version = 0;
};

// Thread-safe. Blobs handed to RememberBlob are committed by a writer thread, one transaction per
// blob (its scan record, findings, skips and entries together), so the scan never waits on the
// disk and a kill loses only the blobs not yet committed.
class StateStore final : public ScanMemory {
 public:
  // Opens the database at `path`, creating it (and its directory) or migrating an older schema.
  // Throws StateError.
  static std::unique_ptr<StateStore> Open(const std::string& path);
  ~StateStore() override;
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  const std::string& path() const { return path_; }

  // The rules of this scan: their metadata is recorded, and only scans made with exactly these
  // rules (RuleSetHash) are recalled.
  void UseRules(const std::vector<Rule>& rules, const std::string& rule_set_hash);

  // Records a run as started (so that a run that is killed shows), and ends it.
  void BeginRun(const std::string& arguments, const std::string& shard);
  void EndRun(const ScanResult& result, int exit_status);

  // Records the images of a finished scan: references, manifests, layer order, attribution.
  void RememberImages(const ScanResult& result);

  // Blocks until every blob handed over so far is committed. Throws StateError if a commit failed.
  void Flush();

  // ScanMemory.
  std::optional<ImageDescriptor> RecallImage(const std::string& manifest_digest) override;
  std::optional<RecalledBlob> RecallBlob(const std::string& digest) override;
  std::string LastError(const std::string& digest) override;
  void RememberBlob(const LayerResult& blob, const std::vector<Finding>& findings,
                    const std::vector<std::string>& errors) override;

  // The images matching `query`, rebuilt for AssembleFromMemory, and the rules their findings
  // refer to (every rule set recorded; the newest metadata of a rule id wins). Afterwards the
  // store recalls each blob's newest complete scan, whatever its rules.
  std::vector<Target> LoadTargets(const StateQuery& query, std::vector<Rule>* rules);

  StateStatus Status();

  // Adds the content of the state file `input` (another shard's, or any run's): images, layers,
  // runs and rule sets are united; for a blob scanned in both, a complete scan wins over a failed
  // one, then the newer. Merging the same file twice changes nothing.
  void Merge(const std::string& input);

 private:
  explicit StateStore(std::string path);
  class Impl;
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_STATE_STORE_H_
