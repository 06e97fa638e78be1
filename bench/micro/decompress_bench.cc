// gzip and zstd decompression of the sample: each library driven directly, then the engine's own
// path (OpenDecompressed over a byte source), so the cost of the engine's layering shows as the
// difference between the two.
#include <benchmark/benchmark.h>
#include <zlib.h>
#include <zstd.h>

#ifdef LAYERSIFT_MICRO_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include <memory>
#include <string>
#include <vector>

#include "layersift/engine/decompress.h"
#include "micro_benchmarks.h"
#include "micro_sample.h"

namespace layersift::micro {
namespace {

// The direct benchmarks decode into one fixed buffer of the engine decoders' block size: memory
// stays flat whatever the input, as in the engine, and the figures compare like with like.
constexpr size_t kOutputBlockBytes = kDecompressedBlockBytes;

// Every pass must give back exactly the tar: a decoder that stopped early would look fast.
bool CheckProduced(benchmark::State& state, uint64_t produced, const Sample& sample) {
  if (produced == sample.tar().size()) return true;
  state.SkipWithError(("decompressed " + std::to_string(produced) + " bytes, expected " +
                       std::to_string(sample.tar().size()))
                          .c_str());
  return false;
}

void SetTarBytesProcessed(benchmark::State& state, const Sample& sample) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(sample.tar().size()));
}

#ifdef LAYERSIFT_MICRO_HAVE_ISAL
void BM_GzipInflateIsal(benchmark::State& state, const Sample& sample) {
  const std::span<const uint8_t> gzip = sample.gzip();
  std::vector<uint8_t> out(kOutputBlockBytes);
  // inflate_state is tens of KiB: on the heap, made once.
  auto inflater = std::make_unique<inflate_state>();
  for (auto _ : state) {
    isal_inflate_init(inflater.get());
    inflater->crc_flag = ISAL_GZIP;  // ISA-L parses the header and checks the trailer's CRC
    inflater->next_in = const_cast<uint8_t*>(gzip.data());
    inflater->avail_in = static_cast<uint32_t>(gzip.size());
    uint64_t produced = 0;
    bool failed = false;
    while (inflater->block_state != ISAL_BLOCK_FINISH) {
      inflater->next_out = out.data();
      inflater->avail_out = static_cast<uint32_t>(out.size());
      const int rc = isal_inflate(inflater.get());
      const size_t n = out.size() - inflater->avail_out;
      produced += n;
      if (rc != ISAL_DECOMP_OK ||
          (n == 0 && inflater->avail_in == 0 && inflater->block_state != ISAL_BLOCK_FINISH)) {
        state.SkipWithError(("isal_inflate failed with " + std::to_string(rc)).c_str());
        failed = true;
        break;
      }
    }
    benchmark::DoNotOptimize(out.data());
    if (failed || !CheckProduced(state, produced, sample)) break;
  }
  SetTarBytesProcessed(state, sample);
}
#endif

void BM_GzipInflateZlib(benchmark::State& state, const Sample& sample) {
  const std::span<const uint8_t> gzip = sample.gzip();
  std::vector<uint8_t> out(kOutputBlockBytes);
  z_stream stream{};
  // windowBits 16 + 15: gzip wrapper only, a 32 KiB window; the engine's zlib fallback does the
  // same.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    state.SkipWithError("zlib: inflateInit2 failed");
  }
  for (auto _ : state) {
    inflateReset(&stream);
    stream.next_in = const_cast<Bytef*>(gzip.data());
    stream.avail_in = static_cast<uInt>(gzip.size());
    uint64_t produced = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
      stream.next_out = out.data();
      stream.avail_out = static_cast<uInt>(out.size());
      rc = inflate(&stream, Z_NO_FLUSH);
      produced += out.size() - stream.avail_out;
    }
    benchmark::DoNotOptimize(out.data());
    if (rc != Z_STREAM_END) {
      state.SkipWithError(("zlib inflate failed with " + std::to_string(rc)).c_str());
      break;
    }
    if (!CheckProduced(state, produced, sample)) break;
  }
  inflateEnd(&stream);
  SetTarBytesProcessed(state, sample);
}

void BM_ZstdDecompressDirect(benchmark::State& state, const Sample& sample) {
  const std::span<const uint8_t> zstd = sample.zstd();
  std::vector<uint8_t> out(kOutputBlockBytes);
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
  for (auto _ : state) {
    ZSTD_DCtx_reset(context.get(), ZSTD_reset_session_only);
    ZSTD_inBuffer in{zstd.data(), zstd.size(), 0};
    uint64_t produced = 0;
    size_t rc = 1;
    // rc == 0: the frame is complete and flushed; our sample is one frame.
    while (rc != 0) {
      ZSTD_outBuffer chunk{out.data(), out.size(), 0};
      rc = ZSTD_decompressStream(context.get(), &chunk, &in);
      produced += chunk.pos;
      if (ZSTD_isError(rc) || (chunk.pos == 0 && in.pos == in.size && rc != 0)) break;
    }
    benchmark::DoNotOptimize(out.data());
    if (rc != 0) {
      state.SkipWithError(ZSTD_isError(rc) ? ZSTD_getErrorName(rc) : "truncated zstd frame");
      break;
    }
    if (!CheckProduced(state, produced, sample)) break;
  }
  SetTarBytesProcessed(state, sample);
}

// The engine's path: detection by magic bytes, its decoder and its output block, pulled with
// Next() as the tar walker pulls it. Each pass opens a new decoder, as each layer does; that is
// one small allocation against a whole sample of decoding.
void BM_EngineDecompress(benchmark::State& state, std::span<const uint8_t> compressed,
                         const Sample& sample) {
  for (auto _ : state) {
    uint64_t produced = 0;
    try {
      std::unique_ptr<ByteSource> source =
          OpenDecompressed(std::make_unique<MemorySource>(compressed));
      for (auto block = source->Next(); !block.empty(); block = source->Next()) {
        produced += block.size();
        benchmark::DoNotOptimize(block.data());
      }
    } catch (const SourceError& e) {
      state.SkipWithError(e.what());
      break;
    }
    if (!CheckProduced(state, produced, sample)) break;
  }
  SetTarBytesProcessed(state, sample);
}

}  // namespace

void RegisterDecompressBenchmarks(const Sample& sample) {
#ifdef LAYERSIFT_MICRO_HAVE_ISAL
  benchmark::RegisterBenchmark("BM_GzipInflate/isal", [&sample](benchmark::State& state) {
    BM_GzipInflateIsal(state, sample);
  });
#endif
  benchmark::RegisterBenchmark("BM_GzipInflate/zlib", [&sample](benchmark::State& state) {
    BM_GzipInflateZlib(state, sample);
  });
  benchmark::RegisterBenchmark("BM_GzipInflate/engine", [&sample](benchmark::State& state) {
    state.SetLabel(std::string(GzipBackendName()));
    BM_EngineDecompress(state, sample.gzip(), sample);
  });
  benchmark::RegisterBenchmark("BM_ZstdDecompress/zstd", [&sample](benchmark::State& state) {
    BM_ZstdDecompressDirect(state, sample);
  });
  benchmark::RegisterBenchmark("BM_ZstdDecompress/engine", [&sample](benchmark::State& state) {
    BM_EngineDecompress(state, sample.zstd(), sample);
  });
}

}  // namespace layersift::micro
