#ifndef LAYERSIFT_ENGINE_SRC_LAYER_READER_H_
#define LAYERSIFT_ENGINE_SRC_LAYER_READER_H_

#include <functional>
#include <stdexcept>

#include "chunk.h"
#include "layersift/engine/entry_source.h"
#include "layersift/engine/image_semantics.h"
#include "layersift/engine/path_filter.h"
#include "layersift/engine/scanner.h"

namespace layersift {

// Files with a NUL byte in their first kBinaryProbeBytes are binary.
inline constexpr size_t kBinaryProbeBytes = 8192;

// Thrown out of LayerReader::Read when ScanOptions::stop is set: the job is cut short.
class ScanStopped : public std::runtime_error {
 public:
  ScanStopped() : std::runtime_error("the scan was stopped before this layer was read completely") {}
};

// What to do with the entries of one job.
struct ReadPlan {
  LayerEntries* entries = nullptr;  // if set, every top-level entry is recorded (presence)
  bool apply_path_filter = true;    // false for the image config's virtual files
  bool expand_archives = true;
  bool whiteouts = true;            // .wh. names are layer bookkeeping, not files
};

// Walks the entries of one layer (or directory, or image config) and packs the files to scan
// into chunks, which it hands to `emit`; archives among them are expanded and their members
// packed the same way. Runs on a reader thread, never on a TBB worker: it blocks on I/O, on
// decompression and on the chunk pool. One reader per thread; reusable for any number of layers.
class LayerReader {
 public:
  // `context_bytes`: what a keyword occurrence needs on each side (PatternDatabase). `options`
  // supplies the binary and archive settings and must outlive the reader.
  LayerReader(ChunkPool& pool, const PathFilter& filter, size_t context_bytes,
              const ScanOptions& options, std::function<void(Chunk*)> emit);

  // Reads every entry of `entries` into chunks, counting into `result` (and recording into
  // plan.entries). Throws SourceError (after emitting what it already read) if the layer turns
  // out corrupt. A corrupt or oversized archive inside the layer is not an error of the layer:
  // it goes to result.skipped and the walk goes on.
  void Read(uint32_t job, EntrySource& entries, LayerResult& result, const ReadPlan& plan);

 private:
  struct ArchiveBudget;
  void ReadEntries(EntrySource& entries, LayerResult& result, const ReadPlan& plan, int depth);
  void ExpandArchive(EntrySource& entries, uint64_t size_bytes, LayerResult& result,
                     const ReadPlan& plan, int depth);
  void ReadFile(EntrySource& entries, std::string_view path, uint64_t size_bytes,
                StageStats& stats);
  void Skip(LayerResult& result, std::string_view path, std::string reason);
  void ThrowIfStopped() const {
    if (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed)) throw ScanStopped();
  }
  void EnsureSpace(size_t bytes);
  void Flush();

  ChunkPool& pool_;
  PathFilter filter_;
  size_t context_bytes_;
  size_t carry_bytes_;  // overlap between consecutive pieces of a file: context on both sides
  const ScanOptions& options_;
  std::function<void(Chunk*)> emit_;
  uint32_t job_ = 0;
  uint32_t file_seq_ = 0;
  Chunk* chunk_ = nullptr;
  std::vector<uint8_t> carry_;
  // Per nesting depth: the full path of the current entry ("a.jar!b/c.properties"), and the
  // bytes of a zip being read (capacity kept, so no allocation once warm).
  std::vector<std::string> paths_;
  std::vector<std::vector<uint8_t>> zip_buffers_;
  ArchiveBudget* budget_ = nullptr;  // of the archive being expanded at depth 1
};

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SRC_LAYER_READER_H_
