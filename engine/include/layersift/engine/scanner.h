// The scan: targets in, findings, per-layer errors and statistics out.
#ifndef LAYERSIFT_ENGINE_SCANNER_H_
#define LAYERSIFT_ENGINE_SCANNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layersift/engine/matcher.h"
#include "layersift/engine/target.h"

namespace layersift {

// Below this, the fixed buffers of one layer reader (read-ahead rings, decompressor output) and
// a minimal chunk pool do not fit.
inline constexpr uint64_t kMinimumMaxMemoryBytes = 32ull << 20;

class ScanMemory;

struct ScanOptions {
  unsigned threads = 0;                      // matcher threads; 0 = all cores
  uint64_t max_memory_bytes = 512ull << 20;  // ceiling for chunk buffers and layers in flight
  size_t chunk_bytes = 1 << 20;              // new bytes per chunk buffer (context comes on top)
  bool scan_binaries = false;                // scan files with a NUL byte in their first 8 KiB
  std::vector<std::string> excluded_path_patterns;  // the effective list (defaults + user)
  // Platforms to scan in multi-platform images ("linux/arm64", "linux/arm/v7"); empty = all.
  std::vector<std::string> platforms;
  // Archives inside layers (zip, jar, war, ear, whl, apk, tar, tar.gz, tar.zst) are expanded and
  // their members scanned, nested up to this depth (0: archives are not expanded).
  int max_archive_depth = 2;
  // Zip-bomb guards, per archive found in a layer (its nested archives included): the rest of
  // the archive is skipped, and reported, once its members expand to more than
  // max_archive_expanded_bytes, or to more than max_archive_ratio times the archive's own size
  // (checked once past kArchiveRatioFloorBytes).
  uint64_t max_archive_expanded_bytes = 1ull << 30;
  uint64_t max_archive_ratio = 100;
  // Zip archives are read from memory (their index is at the end): larger ones are skipped, and
  // reported.
  uint64_t max_zip_bytes = 256ull << 20;
  // How registry targets (docker://...) are pulled: auth, TLS, connections and range size per
  // layer, retries. A remote layer's download buffers count against max_memory_bytes.
  RegistryOptions registry;
  // Called about five times a second while scanning, from a separate thread, if set.
  std::function<void(const struct ScanProgress&)> on_progress;
  // What the scan remembers between runs (the state store), or null. Blobs it recalls are not
  // read again (unless `recall` is false); every blob read is handed to it as soon as it is done.
  ScanMemory* memory = nullptr;
  bool recall = true;
  // One of several machines splitting a scan: only the blobs whose digest falls to shard
  // `shard_index` of `shard_count` are read (ShardOfDigest); the others are left to the other
  // shards. Blobs whose digest is unknown before reading (bare layer files) and directories
  // belong to shard 0.
  unsigned shard_index = 0;
  unsigned shard_count = 1;
  // Set (by a SIGINT handler) to stop early: blobs not started are not read and those being read
  // are cut short; both are reported as errors. What was done is kept (and remembered).
  const std::atomic<bool>* stop = nullptr;
};

// The shard of `shard_count` that a blob belongs to: its digest's leading 64 bits modulo the
// count, so that shards split any registry evenly with no coordination.
unsigned ShardOfDigest(const std::string& digest, unsigned shard_count);

struct ScanProgress {
  uint64_t stored_bytes_done = 0;   // compressed bytes read so far
  uint64_t stored_bytes_total = 0;  // of all layers whose size is known
  uint64_t layers_done = 0;
  uint64_t layers_total = 0;
  double elapsed_seconds = 0;
};

inline constexpr int kNoLayer = -1;  // a directory target's files belong to no layer

// Below this many expanded bytes an archive's compression ratio is not checked: small members of
// repetitive text legitimately compress far beyond any sane ratio limit.
inline constexpr uint64_t kArchiveRatioFloorBytes = 1ull << 20;

// Why a file that a layer added is not in the final image.
enum class RemovalReason {
  kWhiteout,         // a later layer has a .wh.<name> for it or for a directory above it
  kOpaqueDirectory,  // a later layer marked a directory above it opaque (.wh..wh..opq)
  kOverwritten,      // a later layer put another entry at its path, or a non-directory above it
};

std::string_view RemovalReasonName(RemovalReason reason);  // "whiteout", "opaque-directory", ...

// Whether a finding's file is still in the image a container would run. Known only for findings
// in image layers and image configs; unknown for bare layers and directories, and when a later
// layer of the image could not be read completely.
struct Presence {
  bool known = false;
  bool present = false;
  int removed_by_layer = kNoLayer;  // when known and not present
  RemovalReason reason = RemovalReason::kOverwritten;
};

// What reports say about a secret without holding it. Every finding has them: computed from the
// secret for findings of this run, read back from the state store for recalled ones, which have no
// raw secret.
struct SecretFacts {
  std::string sha256;    // hex SHA-256 of the secret bytes
  std::string redacted;  // RedactSecret(secret)
  uint64_t size_bytes = 0;
  uint64_t end_line = 0;    // the position just past the secret (a PEM key spans lines)
  uint64_t end_column = 0;
  uint64_t last_line = 0;   // the position of its last byte
  uint64_t last_column = 0;
  double entropy = 0;  // Shannon, bits per byte
};

struct Finding {
  size_t target_index = 0;
  size_t image_index = 0;
  int layer_index = kNoLayer;     // kNoLayer also for the image config's virtual files
  size_t layer_result_index = 0;  // into ScanResult::layers
  uint32_t rule_index = 0;        // into the database's rules()
  // A layer path ("etc/app/.env"), a member of an archive in one ("app.jar!BOOT-INF/x.properties"),
  // or a virtual file of the image config ("config:Env[3]", "history[5].created_by").
  std::string path;
  uint64_t offset = 0;  // of the secret, in bytes from the start of the file
  uint64_t line = 0;    // 1-based
  uint64_t column = 0;  // 1-based, in bytes
  std::string secret;   // raw, only for findings of this run: writers print it only when asked to
  SecretFacts facts;
  CheckResult check = CheckResult::kNotChecked;  // the rule's offline validity check
  Presence presence;
};

// Where in a scan an error or a skip happened: a target, an image of it, a layer of that image.
struct ScanPlace {
  size_t target_index = 0;
  size_t image_index = 0;
  int layer_index = kNoLayer;
  std::string layer_digest;
};

// Something that could not be scanned (a target, a layer): the scan is incomplete.
struct ScanIssue : ScanPlace {
  std::string message;
};

// Something deliberately not scanned, reported so that nothing is skipped silently: an archive
// over a size or expansion limit, a corrupt nested archive, one nested deeper than allowed.
struct ScanSkip : ScanPlace {
  std::string path;
  std::string reason;
};

struct StageStats {
  uint64_t stored_bytes = 0;        // as stored (compressed)
  uint64_t uncompressed_bytes = 0;  // tar stream bytes
  uint64_t files_seen = 0;          // regular files
  uint64_t files_scanned = 0;
  uint64_t files_excluded = 0;
  uint64_t files_binary_skipped = 0;
  uint64_t files_empty = 0;
  uint64_t links_skipped = 0;
  uint64_t whiteouts = 0;
  uint64_t bytes_scanned = 0;
  uint64_t archives_expanded = 0;  // nested archives whose members were scanned
  uint64_t archive_members = 0;    // regular files found inside them (counted in files_seen too)
  uint64_t archives_skipped = 0;   // over a limit or corrupt: see ScanResult::skipped
  // CPU seconds of the threads doing each stage (waiting is not counted):
  double read_seconds = 0;        // reading and hashing the stored blob (read-ahead thread)
  double decompress_seconds = 0;  // (overlapped with reading)
  double walk_seconds = 0;        // tar parsing, path filtering, copying into chunks
  double match_seconds = 0;       // summed over matcher threads

  void Add(const StageStats& other);
};

// Where a scanned blob is used: a blob shared by several images (a common base layer, the same
// layer in two platforms) is read once and its findings attached to each use.
struct LayerUse {
  size_t target_index = 0;
  size_t image_index = 0;
  int layer_index = kNoLayer;
};

enum class JobKind { kLayer, kDirectory, kConfig };

// Where a blob's results come from.
enum class BlobSource {
  kRead,        // read in this run
  kRecalled,    // from the state store: scanned completely with the same rules before
  kOtherShard,  // left to another shard: no results here
};

struct LayerResult {
  JobKind kind = JobKind::kLayer;
  std::vector<LayerUse> uses;  // at least one; the first is where the blob was first listed
  std::string digest;          // as declared, or computed while streaming; the config's digest
  std::string compression;     // detected: gzip, zstd, none
  bool complete = false;       // false: an error cut the layer short (findings so far are kept)
  BlobSource source = BlobSource::kRead;
  StageStats stats;            // of the scan that produced the findings (an earlier one if recalled)
  // Every entry of the layer (files, directories, links, whiteouts), for presence in the final
  // image; recorded for layers of images only.
  std::shared_ptr<const class LayerEntries> entries;
  std::vector<ScanSkip> skipped;  // path and reason only: the uses say where
};

struct ScanResult {
  std::vector<Target> targets;       // resolved targets (images, layers)
  std::vector<LayerResult> layers;   // one per scanned layer (or directory)
  std::vector<Finding> findings;     // ordered by target, image, layer, path, offset, rule
  std::vector<ScanIssue> errors;     // ordered the same way
  std::vector<ScanSkip> skipped;     // ordered the same way
  StageStats totals;                 // of blobs read in this run only
  uint64_t layer_uses = 0;           // layers of all images (and bare layers) in the run
  uint64_t blobs_scanned = 0;        // distinct layer blobs: shared ones count once
  uint64_t blobs_recalled = 0;       // of those, recalled from the state store (not read)
  uint64_t blobs_other_shard = 0;    // of those, left to other shards
  bool stopped = false;              // ScanOptions::stop was set before the scan ended
  uint64_t config_files_scanned = 0; // virtual files of image configs
  uint64_t findings_suppressed = 0;  // by a baseline or an ignore file (ApplySuppressions)
  uint64_t findings_not_present = 0; // dropped by KeepPresentOnly
  // Registry targets: the small requests (pings, tokens, manifests) and the blob downloads.
  uint64_t registry_requests = 0;
  uint64_t registry_connections = 0;  // opened by those requests
  DownloadStats downloads;
  double wall_seconds = 0;
  unsigned threads = 0;
  // Per rule (indexed like the database's rules()), when the database profiles rules.
  std::vector<RuleProfile> rule_profile;
  bool incomplete() const { return !errors.empty(); }
};

// A blob's results as the state store keeps them: enough to report it again without reading it.
struct RecalledBlob {
  std::string compression;
  StageStats stats;
  std::vector<Finding> findings;  // rule_index, path, position, check and facts; no raw secret
  std::vector<ScanSkip> skipped;  // path and reason
  // Of layers of images: what the layer adds and removes, for presence (see LayerEntries).
  std::shared_ptr<const class LayerEntries> entries;
};

// What a scan remembers between runs; the state store implements it. Calls come from several
// threads at once.
class ScanMemory {
 public:
  virtual ~ScanMemory() = default;
  // The image of a manifest seen before, whose config was scanned completely with the rules of
  // this run: its config digest, platform and layers (digest, size, media type, urls, history
  // attribution with created_by redacted), or nullopt.
  virtual std::optional<ImageDescriptor> RecallImage(const std::string& manifest_digest) = 0;
  // A blob scanned completely with the rules of this run, or nullopt. Rule indexes refer to the
  // rules the memory was given.
  virtual std::optional<RecalledBlob> RecallBlob(const std::string& digest) = 0;
  // Why a blob has no complete scan: the error of its last scan, or "" if it was never scanned.
  virtual std::string LastError(const std::string& digest) = 0;
  // A blob read in this run is done (complete or not): called once per blob, as soon as its last
  // chunk is matched, from whichever scan thread finished it; must not block for long. The
  // findings' target, image and layer indexes are not set yet; `errors` say why it is incomplete.
  virtual void RememberBlob(const LayerResult& blob, const std::vector<Finding>& findings,
                            const std::vector<std::string>& errors) = 0;
};

class Scanner {
 public:
  // The database must outlive the scanner. Throws std::invalid_argument if max_memory_bytes is
  // below kMinimumMaxMemoryBytes.
  Scanner(const PatternDatabase& database, ScanOptions options);
  // The same with the database compiled on first use, only if some blob must be read: a scan
  // that recalls everything from the state store never pays for compiling. `rules` are the
  // database's rules (the enabled ones), which findings refer to; `database` may throw RuleError.
  Scanner(std::function<const PatternDatabase&()> database, std::vector<Rule> rules, ScanOptions options);

  // Resolves and scans every target. Never throws for bad input: a target or layer that cannot
  // be scanned becomes an entry in `errors`, and everything else is still scanned.
  ScanResult Scan(const std::vector<std::string>& target_specs);

 private:
  std::function<const PatternDatabase&()> database_;
  std::vector<Rule> rules_;
  ScanOptions options_;
};

// A report from the state store alone: `targets` (rebuilt from it) with every blob recalled from
// `memory`; a blob it has no complete scan of becomes an error giving its last error. Nothing is
// read. Findings refer to `rules`.
ScanResult AssembleFromMemory(std::vector<Target> targets, const std::vector<Rule>& rules, ScanMemory& memory);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SCANNER_H_
