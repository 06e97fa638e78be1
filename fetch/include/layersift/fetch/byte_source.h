// A pull interface over a stream of bytes: a local file, an OCI blob on disk, a ranged HTTP
// download, and every decompressor that wraps one of them.
#ifndef LAYERSIFT_FETCH_BYTE_SOURCE_H_
#define LAYERSIFT_FETCH_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace layersift {

// Thrown by a source whose input is unreadable or malformed. The message names what went wrong in
// terms a user can act on ("truncated gzip stream after 1234 compressed bytes"); the caller adds
// which target and layer it was reading.
class SourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A source hands out its bytes block by block, in its own buffers, so that nothing is copied on
// the way from the disk or the network to the consumer (the ClickHouse ReadBuffer model).
//
// Contract: Next() returns the next non-empty block, or an empty span at the end of the stream.
// The block stays valid until the next call to Next() or the source's destruction. After the end
// has been returned, further calls keep returning an empty span. A failure throws SourceError.
// Not thread-safe: one consumer at a time.
class ByteSource {
 public:
  virtual ~ByteSource() = default;

  std::span<const uint8_t> Next() {
    std::span<const uint8_t> block = NextImpl();
    bytes_read_ += block.size();
    return block;
  }

  // Bytes handed out so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  virtual std::span<const uint8_t> NextImpl() = 0;

  uint64_t bytes_read_ = 0;
};

// A source that hands out one block it was given, then everything of `rest`. Used to put back the
// block read to sniff a stream's format.
class PrefixedSource final : public ByteSource {
 public:
  // `prefix` must stay valid until the first block of `rest` is requested (as a block from `rest`
  // itself does).
  PrefixedSource(std::span<const uint8_t> prefix, std::unique_ptr<ByteSource> rest)
      : prefix_(prefix), rest_(std::move(rest)) {}

 private:
  std::span<const uint8_t> NextImpl() override {
    if (!prefix_.empty()) {
      std::span<const uint8_t> block = prefix_;
      prefix_ = {};
      return block;
    }
    return rest_->Next();
  }

  std::span<const uint8_t> prefix_;
  std::unique_ptr<ByteSource> rest_;
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_BYTE_SOURCE_H_
