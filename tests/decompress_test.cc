#include "layersift/engine/decompress.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <random>

#include "layersift/engine/digest.h"
#include "test_util.h"

namespace layersift {
namespace {

using testing::Drain;
using testing::DrainWithReadInto;
using testing::StringSource;

std::string SampleText(size_t bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  static const char* const kWords[] = {"layer ", "token ", "image\n", "config ", "0123 ", "tar "};
  std::string text;
  while (text.size() < bytes) text += kWords[rng() % 6];
  text.resize(bytes);
  return text;
}

std::string Gzip(const std::string& data) {
  z_stream stream{};
  deflateInit2(&stream, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string Zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string Decompress(const std::string& stored, size_t block_bytes, Compression* detected) {
  auto source = OpenDecompressed(std::make_unique<StringSource>(stored, block_bytes), detected);
  return Drain(*source);
}

TEST(DecompressTest, DetectsByMagicAndRoundTripsInAnyBlockSize) {
  const std::string text = SampleText(3 << 20, 1);
  for (size_t block : {size_t{1} << 20, size_t{4099}, size_t{7}}) {
    Compression detected;
    EXPECT_EQ(Decompress(Gzip(text), block, &detected), text);
    EXPECT_EQ(detected, Compression::kGzip);
    EXPECT_EQ(Decompress(Zstd(text), block, &detected), text);
    EXPECT_EQ(detected, Compression::kZstd);
    EXPECT_EQ(Decompress(text, block, &detected), text);
    EXPECT_EQ(detected, Compression::kNone);
  }
}

// Decompressors write straight into the caller's buffer through ReadInto; the bytes, and the
// count of bytes read, must be those Next() gives, whatever the buffer size and however the
// two calls are mixed.
TEST(DecompressTest, ReadIntoGivesTheSameBytesAsNext) {
  const std::string text = SampleText(1 << 20, 4);
  const std::pair<std::string, std::string> cases[] = {
      {Gzip(text) + Gzip(text), text + text}, {Zstd(text), text}, {text, text}};
  for (const auto& [stored, expected] : cases) {
    for (size_t buffer : {size_t{1}, size_t{4099}, size_t{3} << 20}) {
      for (bool mix : {false, true}) {
        auto source = OpenDecompressed(std::make_unique<StringSource>(stored, 5000), nullptr);
        EXPECT_EQ(DrainWithReadInto(*source, buffer, mix), expected) << buffer << " " << mix;
        EXPECT_EQ(source->bytes_read(), expected.size());
        EXPECT_EQ(source->ReadInto(std::span<uint8_t>()), 0u);
      }
    }
  }
}

TEST(DecompressTest, MultiMemberGzipAndMultiFrameZstd) {
  const std::string a = SampleText(100000, 2);
  const std::string b = SampleText(50000, 3);
  EXPECT_EQ(Decompress(Gzip(a) + Gzip(b), 1000, nullptr), a + b);
  EXPECT_EQ(Decompress(Zstd(a) + Zstd(b), 1000, nullptr), a + b);
}

TEST(DecompressTest, TruncatedGzipIsAnError) {
  const std::string gz = Gzip(SampleText(500000, 4));
  for (size_t cut : {gz.size() / 2, gz.size() - 4, size_t{5}}) {
    try {
      Decompress(gz.substr(0, cut), 4096, nullptr);
      FAIL() << "no error for gzip cut at " << cut;
    } catch (const SourceError& e) {
      EXPECT_NE(std::string(e.what()).find("gzip"), std::string::npos) << e.what();
    }
  }
}

TEST(DecompressTest, CorruptGzipIsAnError) {
  std::string gz = Gzip(SampleText(500000, 5));
  gz[gz.size() - 6] ^= 0x55;  // the CRC-32 in the trailer
  EXPECT_THROW(Decompress(gz, 4096, nullptr), SourceError);
  std::string body = Gzip(SampleText(500000, 6));
  for (size_t i = 100; i < 400; ++i) body[i] = static_cast<char>(0xff);
  EXPECT_THROW(Decompress(body, 4096, nullptr), SourceError);
}

TEST(DecompressTest, TruncatedOrCorruptZstdIsAnError) {
  const std::string zst = Zstd(SampleText(500000, 7));
  EXPECT_THROW(Decompress(zst.substr(0, zst.size() / 2), 4096, nullptr), SourceError);
  std::string bad = zst;
  for (size_t i = 20; i < 60; ++i) bad[i] = static_cast<char>(0xff);
  try {
    Decompress(bad, 4096, nullptr);
    FAIL() << "no error for a corrupt zstd frame";
  } catch (const SourceError& e) {
    EXPECT_NE(std::string(e.what()).find("zstd"), std::string::npos) << e.what();
  }
}

TEST(DecompressTest, ZstdWindowAboveTheCeilingIsRefused) {
  // A frame that declares a 1 GiB window must not make the decoder allocate it.
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 30);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1);
  const std::string text = SampleText(1 << 20, 8);
  std::string out(ZSTD_compressBound(text.size()), '\0');
  ZSTD_CCtx_setPledgedSrcSize(cctx, ZSTD_CONTENTSIZE_UNKNOWN);
  ZSTD_outBuffer zout{out.data(), out.size(), 0};
  ZSTD_inBuffer zin{text.data(), text.size(), 0};
  // Streamed in two calls, so the frame cannot shrink its window to the content size.
  ZSTD_compressStream2(cctx, &zout, &zin, ZSTD_e_continue);
  ZSTD_inBuffer empty{nullptr, 0, 0};
  while (ZSTD_compressStream2(cctx, &zout, &empty, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(cctx);
  out.resize(zout.pos);
  EXPECT_THROW(Decompress(out, 4096, nullptr), SourceError);
}

TEST(DigestTest, VerifiesWhileStreaming) {
  const std::string data = SampleText(300000, 9);
  const std::string digest = "sha256:" + Sha256::HexOf(data);
  std::string computed;
  DigestingSource ok(std::make_unique<StringSource>(data, 999), digest, &computed);
  EXPECT_EQ(Drain(ok), data);
  EXPECT_EQ(computed, digest);
  std::string tampered = data;
  tampered[12345] ^= 1;
  DigestingSource bad(std::make_unique<StringSource>(tampered, 999), digest);
  try {
    Drain(bad);
    FAIL() << "no error for a digest mismatch";
  } catch (const SourceError& e) {
    EXPECT_NE(std::string(e.what()).find("digest mismatch"), std::string::npos);
  }
  // Through ReadInto, mixed with Next, the same bytes are hashed and checked.
  computed.clear();
  DigestingSource ok_read_into(std::make_unique<StringSource>(data, 999), digest, &computed);
  EXPECT_EQ(DrainWithReadInto(ok_read_into, 700, true), data);
  EXPECT_EQ(computed, digest);
  DigestingSource bad_read_into(std::make_unique<StringSource>(tampered, 999), digest);
  EXPECT_THROW(DrainWithReadInto(bad_read_into, 700, true), SourceError);
}

TEST(DigestTest, KnownVector) {
  EXPECT_EQ(Sha256::HexOf("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace layersift
