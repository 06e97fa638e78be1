#include "layersift/engine/decompress.h"

#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#ifdef LAYERSIFT_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

namespace layersift {
namespace {

std::string Offset(uint64_t compressed_bytes) {
  return " after " + std::to_string(compressed_bytes) + " compressed bytes";
}

// Shared by the decompressors: pulls compressed input from the inner source and tracks where the
// input ended, so that every error can say how far it got.
class InputCursor {
 public:
  explicit InputCursor(std::unique_ptr<ByteSource> inner) : inner_(std::move(inner)) {}

  // Makes input available unless the inner source is exhausted. Returns false at its end.
  bool Refill() {
    if (!pending_.empty()) return true;
    if (ended_) return false;
    pending_ = inner_->Next();
    if (pending_.empty()) ended_ = true;
    return !pending_.empty();
  }
  std::span<const uint8_t>& pending() { return pending_; }
  void Consume(size_t n) { pending_ = pending_.subspan(n); }
  bool AtEnd() { return !Refill(); }
  uint64_t consumed() const { return inner_->bytes_read() - pending_.size(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::span<const uint8_t> pending_;
  bool ended_ = false;
};

// What every decompressor shares: it decodes into whichever buffer it is given, the consumer's
// (ReadInto) or its own output block (Next), allocated on first use since a consumer that reads
// with ReadInto never needs it.
class Decoder : public ByteSource {
 protected:
  // Decodes into `dst` (non-empty) until at least one byte is there; 0 at the end of the stream.
  virtual size_t DecodeInto(std::span<uint8_t> dst) = 0;

 private:
  std::span<const uint8_t> NextImpl() final {
    if (out_.empty()) out_.resize(kDecompressedBlockBytes);
    return {out_.data(), DecodeInto(out_)};
  }
  size_t ReadIntoImpl(std::span<uint8_t> dst) final { return DecodeInto(dst); }

  std::vector<uint8_t> out_;
};

#ifdef LAYERSIFT_HAVE_ISAL

class GzipSource final : public Decoder {
 public:
  explicit GzipSource(std::unique_ptr<ByteSource> inner)
      : input_(std::move(inner)) {
    StartMember();
  }

 private:
  void StartMember() {
    isal_inflate_init(&state_);
    state_.crc_flag = ISAL_GZIP;
    member_done_ = false;
  }

  size_t DecodeInto(std::span<uint8_t> dst) override {
    for (;;) {
      if (member_done_) {
        // A gzip stream may hold several members back to back (pigz, concatenated files).
        if (input_.AtEnd()) return 0;
        StartMember();
      }
      const bool have_input = input_.Refill();
      std::span<const uint8_t>& in = input_.pending();
      state_.next_in = const_cast<uint8_t*>(in.data());
      state_.avail_in = static_cast<uint32_t>(in.size());
      state_.next_out = dst.data();
      state_.avail_out = static_cast<uint32_t>(std::min<size_t>(dst.size(), UINT32_MAX));
      const uint32_t avail_out = state_.avail_out;
      const int rc = isal_inflate(&state_);
      input_.Consume(in.size() - state_.avail_in);
      if (rc < 0) throw SourceError(Describe(rc) + Offset(input_.consumed()));
      const size_t produced = avail_out - state_.avail_out;
      if (state_.block_state == ISAL_BLOCK_FINISH) member_done_ = true;
      if (produced > 0) return produced;
      if (!member_done_ && !have_input) {
        throw SourceError("truncated gzip stream: input ends inside a member" +
                          Offset(input_.consumed()));
      }
    }
  }

  static std::string Describe(int rc) {
    switch (rc) {
      case ISAL_INVALID_WRAPPER: return "corrupt gzip stream: invalid gzip header";
      case ISAL_UNSUPPORTED_METHOD: return "corrupt gzip stream: unsupported compression method";
      case ISAL_INCORRECT_CHECKSUM: return "corrupt gzip stream: CRC-32 mismatch";
      case ISAL_INVALID_LOOKBACK: return "corrupt gzip stream: invalid back-reference distance";
      case ISAL_INVALID_SYMBOL: return "corrupt gzip stream: invalid deflate symbol";
      default: return "corrupt gzip stream: invalid deflate block";
    }
  }

  InputCursor input_;
  inflate_state state_;
  bool member_done_ = false;
};

#else  // zlib fallback

class GzipSource final : public Decoder {
 public:
  explicit GzipSource(std::unique_ptr<ByteSource> inner)
      : input_(std::move(inner)) {
    std::memset(&stream_, 0, sizeof(stream_));
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) throw SourceError("zlib: inflateInit2 failed");
  }
  ~GzipSource() override { inflateEnd(&stream_); }

 private:
  size_t DecodeInto(std::span<uint8_t> dst) override {
    for (;;) {
      if (member_done_) {
        if (input_.AtEnd()) return 0;
        inflateReset(&stream_);
        member_done_ = false;
      }
      const bool have_input = input_.Refill();
      std::span<const uint8_t>& in = input_.pending();
      stream_.next_in = const_cast<Bytef*>(in.data());
      stream_.avail_in = static_cast<uInt>(in.size());
      stream_.next_out = dst.data();
      stream_.avail_out = static_cast<uInt>(std::min<size_t>(dst.size(), UINT32_MAX));
      const uInt avail_out = stream_.avail_out;
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      input_.Consume(in.size() - stream_.avail_in);
      if (rc == Z_STREAM_END) {
        member_done_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw SourceError(std::string("corrupt gzip stream: ") +
                          (stream_.msg ? stream_.msg : "inflate failed") + Offset(input_.consumed()));
      }
      const size_t produced = avail_out - stream_.avail_out;
      if (produced > 0) return produced;
      if (!member_done_ && !have_input) {
        throw SourceError("truncated gzip stream: input ends inside a member" +
                          Offset(input_.consumed()));
      }
    }
  }

  InputCursor input_;
  z_stream stream_;
  bool member_done_ = false;
};

#endif

class ZstdSource final : public Decoder {
 public:
  explicit ZstdSource(std::unique_ptr<ByteSource> inner)
      : input_(std::move(inner)), stream_(ZSTD_createDStream()) {
    if (stream_ == nullptr) throw SourceError("zstd: cannot create a decompression stream");
    ZSTD_DCtx_setParameter(stream_, ZSTD_d_windowLogMax, kZstdWindowLogMax);
  }
  ~ZstdSource() override { ZSTD_freeDStream(stream_); }
  ZstdSource(const ZstdSource&) = delete;
  ZstdSource& operator=(const ZstdSource&) = delete;

 private:
  size_t DecodeInto(std::span<uint8_t> dst) override {
    for (;;) {
      const bool have_input = input_.Refill();
      if (!have_input && frame_done_) return 0;
      std::span<const uint8_t>& in = input_.pending();
      ZSTD_inBuffer zin{in.data(), in.size(), 0};
      ZSTD_outBuffer zout{dst.data(), dst.size(), 0};
      const size_t rc = ZSTD_decompressStream(stream_, &zout, &zin);
      input_.Consume(zin.pos);
      if (ZSTD_isError(rc)) {
        throw SourceError(std::string("corrupt zstd stream: ") + ZSTD_getErrorName(rc) +
                          Offset(input_.consumed()));
      }
      // rc == 0: a frame is complete and fully flushed; another frame may follow.
      frame_done_ = rc == 0;
      if (zout.pos > 0) return zout.pos;
      if (!have_input) {
        throw SourceError("truncated zstd stream: input ends inside a frame" +
                          Offset(input_.consumed()));
      }
    }
  }

  InputCursor input_;
  ZSTD_DStream* stream_;
  bool frame_done_ = true;
};

}  // namespace

std::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kNone: break;
  }
  return "none";
}

std::string_view GzipBackendName() {
#ifdef LAYERSIFT_HAVE_ISAL
  return "isa-l";
#else
  return "zlib";
#endif
}

std::unique_ptr<ByteSource> OpenDecompressed(std::unique_ptr<ByteSource> raw,
                                             Compression* detected) {
  const std::span<const uint8_t> first = raw->Next();
  auto restored = std::make_unique<PrefixedSource>(first, std::move(raw));
  Compression compression = Compression::kNone;
  if (first.size() >= 2 && first[0] == 0x1f && first[1] == 0x8b) {
    compression = Compression::kGzip;
  } else if (first.size() >= 4 && first[0] == 0x28 && first[1] == 0xb5 && first[2] == 0x2f &&
             first[3] == 0xfd) {
    compression = Compression::kZstd;
  }
  if (detected) *detected = compression;
  switch (compression) {
    case Compression::kGzip: return std::make_unique<GzipSource>(std::move(restored));
    case Compression::kZstd: return std::make_unique<ZstdSource>(std::move(restored));
    case Compression::kNone: break;
  }
  return restored;
}

}  // namespace layersift
