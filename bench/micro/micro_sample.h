// The input every micro-benchmark reads: the first entries of a real layer tar, held in memory,
// and what is derived from them (compressed copies, the text the matcher scans, the entry paths).
#ifndef LAYERSIFT_BENCH_MICRO_MICRO_SAMPLE_H_
#define LAYERSIFT_BENCH_MICRO_MICRO_SAMPLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "layersift/fetch/byte_source.h"
#include "layersift/fetch/file_source.h"

namespace layersift::micro {

// Blocks a MemorySource hands out: FileSource's, so that the engine's decoders and tar walker see
// the same input blocks as when they read a layer from disk.
inline constexpr size_t kMemorySourceBlockBytes = FileSource::kDefaultBlockBytes;

// Files with a NUL byte in their first kBinaryProbeBytes are binary and not scanned. The
// scanner's own constant (engine/src/layer_reader.h) is private to the engine.
inline constexpr size_t kBinaryProbeBytes = 8192;

// A ByteSource over bytes in memory, which must outlive it. Hands out views, never copies, so a
// benchmark of what consumes it measures the consumer alone.
class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const uint8_t> bytes,
                        size_t block_bytes = kMemorySourceBlockBytes)
      : rest_(bytes), block_bytes_(block_bytes) {}

 private:
  std::span<const uint8_t> NextImpl() override;

  std::span<const uint8_t> rest_;
  size_t block_bytes_;
};

// Thrown when the sample cannot be made: the input is missing, unreadable or not a tar.
class SampleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SampleCounts {
  uint64_t entries = 0;  // every tar entry (directories and links included)
  uint64_t regular_files = 0;
  uint64_t text_files = 0;    // non-empty regular files without a NUL in the binary probe
  uint64_t binary_files = 0;  // non-empty regular files with one
  uint64_t path_bytes = 0;    // of every entry's path, added up
};

// Immutable once loaded, except that the compressed copies are made on first use (thread-safe):
// a run filtered to the matcher does not pay seconds of zlib level 6 at start-up.
class Sample {
 public:
  // Takes the entries of the tar at `tar_path` that end within `limit_bytes` (at least the
  // first one), appends a tar end (two zero blocks) and walks the result with the engine's tar
  // walker to collect paths and text. Throws SampleError naming the file if it is missing, not a
  // tar, or corrupt within the prefix.
  static std::unique_ptr<Sample> Load(const std::string& tar_path, uint64_t limit_bytes);

  // The tar prefix, ending with a valid tar end.
  std::span<const uint8_t> tar() const { return tar_; }
  // Every non-binary regular file's contents, back to back in archive order.
  std::span<const uint8_t> text() const { return text_; }
  // Every entry's path as the tar walker reports it (normalised), in archive order.
  const std::vector<std::string>& paths() const { return paths_; }
  const SampleCounts& counts() const { return counts_; }

  // tar() as one gzip member, deflated by zlib at level 6 (what `gzip -6` makes).
  std::span<const uint8_t> gzip() const;
  // tar() as one zstd frame at level 3 (`zstd -3`).
  std::span<const uint8_t> zstd() const;

 private:
  Sample() = default;

  std::vector<uint8_t> tar_;
  std::vector<uint8_t> text_;
  std::vector<std::string> paths_;
  SampleCounts counts_;

  mutable std::once_flag gzip_once_;
  mutable std::vector<uint8_t> gzip_;
  mutable std::once_flag zstd_once_;
  mutable std::vector<uint8_t> zstd_;
};

}  // namespace layersift::micro

#endif  // LAYERSIFT_BENCH_MICRO_MICRO_SAMPLE_H_
