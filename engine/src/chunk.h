// The unit of work between the layer readers and the matchers: a buffer packed with pieces of
// files (many small files, or one piece of a large one), recycled through a fixed pool so memory
// stays bounded whatever the layer size.
#ifndef LAYERSIFT_ENGINE_SRC_CHUNK_H_
#define LAYERSIFT_ENGINE_SRC_CHUNK_H_

#include <tbb/concurrent_queue.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sanitizer_handoff.h"

namespace layersift {

// One piece of one file inside a chunk. A file too large for one chunk is cut into pieces that
// overlap: each piece repeats the last bytes of the previous one, so every keyword occurrence has
// its full context in some piece. Each piece "owns" the occurrences starting in
// [own_begin, own_end); owned regions of consecutive pieces tile the file exactly.
struct Segment {
  uint32_t file_seq = 0;     // the file's number within its layer
  uint32_t piece = 0;        // 0 for the first piece of a file
  bool multi_piece = false;  // the file spans more than one piece
  uint32_t data_begin = 0;   // bytes of the chunk
  uint32_t data_end = 0;
  uint32_t own_begin = 0;    // relative to data_begin
  uint32_t own_end = 0;
  uint64_t file_offset = 0;  // offset in the file of data_begin
  uint32_t path_begin = 0;   // in Chunk::paths
  uint32_t path_size = 0;
};

struct Chunk {
  uint32_t job = 0;
  std::unique_ptr<uint8_t[]> data;
  size_t capacity_bytes = 0;
  size_t used_bytes = 0;
  std::vector<Segment> segments;  // capacity kept across uses: no allocation once warm
  std::string paths;

  std::string_view PathOf(const Segment& segment) const {
    return std::string_view(paths).substr(segment.path_begin, segment.path_size);
  }
};

class ChunkPool {
 public:
  // Allocates and touches every buffer up front: the pool is the scan's fixed memory footprint,
  // the same for a 2 MB layer as for a 20 GB one, and no page fault lands on the hot path.
  ChunkPool(size_t chunk_count, size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {
    for (size_t i = 0; i < chunk_count; ++i) {
      auto chunk = std::make_unique<Chunk>();
      chunk->data.reset(new uint8_t[capacity_bytes]);
      std::memset(chunk->data.get(), 0, capacity_bytes);
      chunk->capacity_bytes = capacity_bytes;
      chunk->segments.reserve(256);
      chunk->paths.reserve(16 << 10);
      free_.push(chunk.get());
      chunks_.push_back(std::move(chunk));
    }
  }

  // Blocks until a chunk is free: this is what bounds memory and throttles the readers.
  Chunk* Acquire(uint32_t job) {
    Chunk* chunk = nullptr;
    free_.pop(chunk);
    HandoffAcquire(chunk);
    chunk->job = job;
    chunk->used_bytes = 0;
    chunk->segments.clear();
    chunk->paths.clear();
    return chunk;
  }

  void Release(Chunk* chunk) {
    HandoffRelease(chunk);
    free_.push(chunk);
  }

  size_t capacity_bytes() const { return capacity_bytes_; }
  size_t chunk_count() const { return chunks_.size(); }

 private:
  size_t capacity_bytes_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  tbb::concurrent_bounded_queue<Chunk*> free_;
};

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SRC_CHUNK_H_
