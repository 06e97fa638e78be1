#ifndef LAYERSIFT_FETCH_READ_AHEAD_SOURCE_H_
#define LAYERSIFT_FETCH_READ_AHEAD_SOURCE_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "layersift/fetch/byte_source.h"

namespace layersift {

// Pulls `inner` on a thread of its own, up to `block_count` blocks ahead of the consumer, so that
// reading (and whatever `inner` does on the way, such as hashing) overlaps with the consumer's
// work (decompression) instead of adding to it. Memory: block_count * block_bytes.
//
// Bytes come out exactly as `inner` produced them; an error from `inner` is rethrown to the
// consumer (as SourceError, same message) once the blocks read before it have been consumed.
class ReadAheadSource final : public ByteSource {
 public:
  static constexpr size_t kDefaultBlockBytes = 1 << 20;
  static constexpr size_t kDefaultBlockCount = 4;

  explicit ReadAheadSource(std::unique_ptr<ByteSource> inner,
                           size_t block_bytes = kDefaultBlockBytes,
                           size_t block_count = kDefaultBlockCount);
  // Stops the reading thread (waiting for a read in progress) and joins it.
  ~ReadAheadSource() override;
  ReadAheadSource(const ReadAheadSource&) = delete;
  ReadAheadSource& operator=(const ReadAheadSource&) = delete;

 private:
  struct Block {
    std::vector<uint8_t> bytes;
    size_t size = 0;
  };

  std::span<const uint8_t> NextImpl() override;
  void Produce();

  std::unique_ptr<ByteSource> inner_;
  std::vector<Block> blocks_;  // a ring: [consumed_, produced_) are filled
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t produced_ = 0;  // blocks filled so far (ring index = count % size)
  size_t consumed_ = 0;  // blocks handed out and given back
  bool holding_ = false; // the consumer holds block consumed_ % size
  bool finished_ = false;
  bool stopping_ = false;
  std::string error_;
  std::thread thread_;
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_READ_AHEAD_SOURCE_H_
