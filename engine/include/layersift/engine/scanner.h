// The scan: targets in, findings, per-layer errors and statistics out.
#ifndef LAYERSIFT_ENGINE_SCANNER_H_
#define LAYERSIFT_ENGINE_SCANNER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layersift/engine/matcher.h"
#include "layersift/engine/target.h"

namespace layersift {

// Below this, the fixed buffers of one layer reader (read-ahead rings, decompressor output) and
// a minimal chunk pool do not fit.
inline constexpr uint64_t kMinimumMaxMemoryBytes = 32ull << 20;

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
};

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
  std::string secret;   // raw: writers redact it unless asked not to
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

struct LayerResult {
  JobKind kind = JobKind::kLayer;
  std::vector<LayerUse> uses;  // at least one; the first is where the blob was first listed
  std::string digest;          // as declared, or computed while streaming; the config's digest
  std::string compression;     // detected: gzip, zstd, none
  bool complete = false;       // false: an error cut the layer short (findings so far are kept)
  StageStats stats;
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
  StageStats totals;
  uint64_t layer_uses = 0;           // layers of all images (and bare layers) in the run
  uint64_t blobs_scanned = 0;        // distinct layer blobs read: shared ones count once
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

class Scanner {
 public:
  // The database must outlive the scanner. Throws std::invalid_argument if max_memory_bytes is
  // below kMinimumMaxMemoryBytes.
  Scanner(const PatternDatabase& database, ScanOptions options);

  // Resolves and scans every target. Never throws for bad input: a target or layer that cannot
  // be scanned becomes an entry in `errors`, and everything else is still scanned.
  ScanResult Scan(const std::vector<std::string>& target_specs);

 private:
  const PatternDatabase& database_;
  ScanOptions options_;
};

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SCANNER_H_
