// layersift_micro: Google Benchmark micro-benchmarks of each stage of a scan, over a sample of a
// real layer held in memory. See bench/README.md, "Micro-benchmarks".
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "micro_benchmarks.h"
#include "micro_sample.h"

namespace {

constexpr char kTarVariable[] = "LAYERSIFT_MICRO_TAR";
constexpr char kSampleMibVariable[] = "LAYERSIFT_MICRO_MIB";
// Enough for every stage to run for a while per pass, small enough that start-up stays quick
// and the sample, its compressed copies and its text fit in a few hundred MiB.
constexpr uint64_t kDefaultSampleMib = 128;
// The direct decoder benchmarks hand ISA-L and zlib the whole compressed sample with a 32-bit
// length; up to 2 GiB of tar, that length cannot overflow.
constexpr uint64_t kMaxSampleMib = 2048;
constexpr int kExitSetupError = 2;
constexpr int kExitNothingRan = 1;

std::string InputTarPath() {
  if (const char* path = std::getenv(kTarVariable); path != nullptr && *path != '\0') return path;
  // Where bench/run_layer_bench.sh keeps its layers (its --cache default).
  if (const char* cache = std::getenv("LAYERSIFT_BENCH_CACHE");
      cache != nullptr && *cache != '\0') {
    return std::string(cache) + "/layer-500.tar";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "") + "/.cache/layersift-bench/layer-500.tar";
}

// 0 when the variable is set but not a whole number in [1, kMaxSampleMib].
uint64_t SampleMib() {
  const char* value = std::getenv(kSampleMibVariable);
  if (value == nullptr || *value == '\0') return kDefaultSampleMib;
  char* end = nullptr;
  const unsigned long long mib = std::strtoull(value, &end, 10);
  return (*end != '\0' || mib == 0 || mib > kMaxSampleMib) ? 0 : mib;
}

void PrintSample(const layersift::micro::Sample& sample, const std::string& path, uint64_t mib) {
  const layersift::micro::SampleCounts& counts = sample.counts();
  std::fprintf(stderr,
               "layersift_micro: sample: the entries of %s within its first %llu MiB: "
               "%zu bytes of tar, %llu entries, %llu regular files (%llu text: %zu bytes; "
               "%llu binary; the rest empty), %zu paths of %llu bytes\n",
               path.c_str(), static_cast<unsigned long long>(mib), sample.tar().size(),
               static_cast<unsigned long long>(counts.entries),
               static_cast<unsigned long long>(counts.regular_files),
               static_cast<unsigned long long>(counts.text_files), sample.text().size(),
               static_cast<unsigned long long>(counts.binary_files), sample.paths().size(),
               static_cast<unsigned long long>(counts.path_bytes));
}

}  // namespace

int main(int argc, char** argv) {
  // First, so that --help and flag errors need no input.
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::string path = InputTarPath();
  const uint64_t mib = SampleMib();
  if (mib == 0) {
    std::fprintf(stderr, "layersift_micro: %s must be a number of MiB from 1 to %llu, not '%s'\n",
                 kSampleMibVariable, static_cast<unsigned long long>(kMaxSampleMib),
                 std::getenv(kSampleMibVariable));
    return kExitSetupError;
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    std::fprintf(stderr,
                 "layersift_micro: no input tar at %s\n"
                 "  Set %s to an uncompressed layer tar, or build the default one with:\n"
                 "    bash bench/run_layer_bench.sh --build-only\n",
                 path.c_str(), kTarVariable);
    return kExitSetupError;
  }
  std::unique_ptr<layersift::micro::Sample> sample;
  try {
    sample = layersift::micro::Sample::Load(path, mib << 20);
  } catch (const layersift::micro::SampleError& e) {
    std::fprintf(stderr, "layersift_micro: %s (set %s to an uncompressed layer tar)\n", e.what(),
                 kTarVariable);
    return kExitSetupError;
  }
  PrintSample(*sample, path, mib);

  layersift::micro::RegisterDecompressBenchmarks(*sample);
  layersift::micro::RegisterTarBenchmarks(*sample);
  layersift::micro::RegisterMatchBenchmarks(*sample);
  // A filter that matches nothing is a caller's mistake (a script using an old name): fail, so
  // that the script does not go on to read empty results.
  const size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return ran == 0 ? kExitNothingRan : 0;
}
