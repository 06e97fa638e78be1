#include "layersift/fetch/read_ahead_source.h"

#include <algorithm>
#include <cstring>

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
  std::span<const uint8_t> pending;  // the rest of a block from inner_ that did not fit
  for (;;) {
    Block* block;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || produced_ - consumed_ < blocks_.size(); });
      if (stopping_) return;
      block = &blocks_[produced_ % blocks_.size()];
    }
    // Fill outside the lock: only this thread touches a block between consumed and produced.
    block->size = 0;
    std::string error;
    bool end = false;
    try {
      while (block->size < block->bytes.size()) {
        if (pending.empty()) {
          pending = inner_->Next();
          if (pending.empty()) {
            end = true;
            break;
          }
        }
        const size_t n = std::min(pending.size(), block->bytes.size() - block->size);
        std::memcpy(block->bytes.data() + block->size, pending.data(), n);
        block->size += n;
        pending = pending.subspan(n);
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
