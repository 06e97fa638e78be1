#include "layersift/fetch/read_ahead_source.h"

#include <algorithm>

namespace layersift {

ReadAheadSource::ReadAheadSource(std::unique_ptr<ByteSource> inner, size_t block_bytes,
                                 size_t block_count)
    : inner_(std::move(inner)), blocks_(std::max<size_t>(block_count, 2)) {
  for (Block& block : blocks_) block.bytes.resize(block_bytes);
  thread_ = std::thread([this] { Produce(); });
}

ReadAheadSource::~ReadAheadSource() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void ReadAheadSource::Produce() {
  for (;;) {
    Block* block;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || produced_ - consumed_ < blocks_.size(); });
      if (stopping_) return;
      block = &blocks_[produced_ % blocks_.size()];
    }
    // Fill outside the lock: only this thread touches a block between consumed and produced.
    // ReadInto lets a decompressor write into the block itself, with no copy in between.
    block->size = 0;
    std::string error;
    bool end = false;
    try {
      while (block->size < block->bytes.size()) {
        const size_t n = inner_->ReadInto(std::span(block->bytes).subspan(block->size));
        if (n == 0) {
          end = true;
          break;
        }
        block->size += n;
      }
    } catch (const std::exception& e) {
      error = e.what();
      end = true;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (block->size > 0) ++produced_;
      if (end) {
        finished_ = true;
        error_ = std::move(error);
      }
    }
    changed_.notify_all();
    if (end) return;
  }
}

std::span<const uint8_t> ReadAheadSource::NextImpl() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (holding_) {
    holding_ = false;
    ++consumed_;
    changed_.notify_all();
  }
  changed_.wait(lock, [&] { return produced_ > consumed_ || finished_; });
  if (produced_ > consumed_) {
    holding_ = true;
    const Block& block = blocks_[consumed_ % blocks_.size()];
    return {block.bytes.data(), block.size};
  }
  if (!error_.empty()) throw SourceError(error_);
  return {};
}

}  // namespace layersift
