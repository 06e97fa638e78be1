// The scan: targets in, findings, per-layer errors and statistics out.
#ifndef LAYERSIFT_ENGINE_SCANNER_H_
#define LAYERSIFT_ENGINE_SCANNER_H_

#include <cstdint>
#include <functional>
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

struct Finding {
  size_t target_index = 0;
  size_t image_index = 0;
  int layer_index = kNoLayer;
  size_t layer_result_index = 0;  // into ScanResult::layers
  uint32_t rule_index = 0;        // into the database's rules()
  std::string path;
  uint64_t offset = 0;  // of the secret, in bytes from the start of the file
  uint64_t line = 0;    // 1-based
  uint64_t column = 0;  // 1-based, in bytes
  std::string secret;   // raw: writers redact it unless asked not to
  CheckResult check = CheckResult::kNotChecked;  // the rule's offline validity check
};

struct ScanIssue {
  size_t target_index = 0;
  size_t image_index = 0;
  int layer_index = kNoLayer;
  std::string layer_digest;
  std::string message;
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
  double read_seconds = 0;        // reading and hashing the stored blob (read-ahead thread)
                                  // (overlapped with decompression)
  double decompress_seconds = 0;
  double walk_seconds = 0;        // tar parsing, path filtering, copying into chunks
  double match_seconds = 0;       // summed over matcher threads

  void Add(const StageStats& other);
};

struct LayerResult {
  size_t target_index = 0;
  size_t image_index = 0;
  int layer_index = kNoLayer;
  std::string digest;       // as declared, or computed while streaming
  std::string compression;  // detected: gzip, zstd, none
  bool complete = false;    // false: an error cut the layer short (findings so far are kept)
  StageStats stats;
  std::vector<std::string> whiteouts;  // whiteout entries, for image semantics
};

struct ScanResult {
  std::vector<Target> targets;       // resolved targets (images, layers)
  std::vector<LayerResult> layers;   // one per scanned layer (or directory)
  std::vector<Finding> findings;     // ordered by target, image, layer, path, offset, rule
  std::vector<ScanIssue> errors;     // ordered the same way
  StageStats totals;
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
