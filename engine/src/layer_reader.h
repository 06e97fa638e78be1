#ifndef LAYERSIFT_ENGINE_SRC_LAYER_READER_H_
#define LAYERSIFT_ENGINE_SRC_LAYER_READER_H_

#include <functional>

#include "chunk.h"
#include "layersift/engine/entry_source.h"
#include "layersift/engine/path_filter.h"
#include "layersift/engine/scanner.h"

namespace layersift {

// Files with a NUL byte in their first kBinaryProbeBytes are binary.
inline constexpr size_t kBinaryProbeBytes = 8192;

// Walks the entries of one layer (or directory) and packs the files to scan into chunks, which it
// hands to `emit`. Runs on a reader thread, never on a TBB worker: it blocks on I/O, on
// decompression and on the chunk pool. One reader per thread; reusable for any number of layers.
class LayerReader {
 public:
  // `context_bytes`: what a keyword occurrence needs on each side (PatternDatabase).
  LayerReader(ChunkPool& pool, const PathFilter& filter, size_t context_bytes, bool scan_binaries,
              std::function<void(Chunk*)> emit);

  // Reads every entry of `entries` into chunks, counting into `result`. Throws SourceError (after
  // emitting what it already read) if the layer turns out corrupt.
  void Read(uint32_t job, EntrySource& entries, LayerResult& result);

 private:
  void ReadFile(EntrySource& entries, std::string_view path, uint64_t size_bytes,
                StageStats& stats);
  void EnsureSpace(size_t bytes);
  void Flush();

  ChunkPool& pool_;
  PathFilter filter_;
  size_t context_bytes_;
  size_t carry_bytes_;  // overlap between consecutive pieces of a file: context on both sides
  bool scan_binaries_;
  std::function<void(Chunk*)> emit_;
  uint32_t job_ = 0;
  uint32_t file_seq_ = 0;
  Chunk* chunk_ = nullptr;
  std::vector<uint8_t> carry_;
};

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SRC_LAYER_READER_H_
