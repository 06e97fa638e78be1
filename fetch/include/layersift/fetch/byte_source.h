// A pull interface over a stream of bytes: a local file, an OCI blob on disk, a ranged HTTP
// download, and every decompressor that wraps one of them.
#ifndef LAYERSIFT_FETCH_BYTE_SOURCE_H_
#define LAYERSIFT_FETCH_BYTE_SOURCE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
    std::span<const uint8_t> block;
    if (!leftover_.empty()) {
      block = leftover_;
      leftover_ = {};
    } else {
      block = NextImpl();
    }
    bytes_read_ += block.size();
    return block;
  }

  // Puts the next bytes of the stream into `dst` and returns how many; fewer than dst.size() is
  // not the end, 0 is (an empty `dst` reads nothing and also gives 0). A source that produces its bytes (a decompressor,
  // a file read) writes them straight into `dst`; the rest copy from their own block. Use it
  // where the bytes must land in a buffer of the caller's anyway: it saves one copy per byte.
  // May be mixed with Next(); failures throw SourceError as Next() does.
  size_t ReadInto(std::span<uint8_t> dst) {
    if (dst.empty()) return 0;
    const size_t n = ReadIntoImpl(dst);
    bytes_read_ += n;
    return n;
  }

  // Bytes handed out so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  virtual std::span<const uint8_t> NextImpl() = 0;

  // Called with a non-empty `dst` only; 0 means the end. Default: copies from NextImpl()'s
  // blocks, keeping what did not fit for the next call.
  virtual size_t ReadIntoImpl(std::span<uint8_t> dst) {
    if (leftover_.empty()) leftover_ = NextImpl();
    if (leftover_.empty()) return 0;  // the end: its span may hold a null pointer
    const size_t n = std::min(dst.size(), leftover_.size());
    std::memcpy(dst.data(), leftover_.data(), n);
    leftover_ = leftover_.subspan(n);
    return n;
  }

  uint64_t bytes_read_ = 0;
  std::span<const uint8_t> leftover_;  // the part of a block ReadInto() has not handed out
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
