// The stages between decompression and matching: walking the tar and deciding, path by path,
// what is not scanned.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "layersift/engine/entry_source.h"
#include "layersift/engine/path_filter.h"
#include "layersift/rules/rule_loader.h"
#include "micro_benchmarks.h"
#include "micro_sample.h"

namespace layersift::micro {
namespace {

// Every entry's data is pulled, as the layer reader pulls a regular file's: skipping it would
// measure header parsing alone.
void BM_TarWalk(benchmark::State& state, const Sample& sample) {
  uint64_t entries = 0;
  for (auto _ : state) {
    entries = 0;
    try {
      std::unique_ptr<EntrySource> walker =
          NewTarWalker(std::make_unique<MemorySource>(sample.tar()));
      EntryInfo info;
      while (walker->NextEntry(info)) {
        ++entries;
        for (auto block = walker->ReadData(); !block.empty(); block = walker->ReadData()) {
          benchmark::DoNotOptimize(block.data());
        }
      }
    } catch (const SourceError& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  if (!state.error_occurred() && entries != sample.counts().entries) {
    state.SkipWithError("the walk saw a different number of entries than the sample holds");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(sample.tar().size()));
  state.counters["entries"] = static_cast<double>(sample.counts().entries);
}

// One item per path: the figure that matters is the time per path (the inverse of
// items_per_second, also given as the counter seconds_per_path).
void BM_PathFilter(benchmark::State& state, const Sample& sample) {
  PathFilter filter(DefaultExcludedPathPatterns());
  uint64_t excluded = 0;
  for (auto _ : state) {
    excluded = 0;
    for (const std::string& path : sample.paths()) excluded += filter.Excludes(path) ? 1 : 0;
    benchmark::DoNotOptimize(excluded);
  }
  const auto paths = static_cast<int64_t>(sample.paths().size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * paths);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(sample.counts().path_bytes));
  state.counters["paths"] = static_cast<double>(paths);
  state.counters["excluded"] = static_cast<double>(excluded);
  state.counters["patterns"] = static_cast<double>(filter.patterns().size());
  state.counters["seconds_per_path"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(paths),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

void RegisterTarBenchmarks(const Sample& sample) {
  benchmark::RegisterBenchmark("BM_TarWalk",
                               [&sample](benchmark::State& state) { BM_TarWalk(state, sample); });
  benchmark::RegisterBenchmark(
      "BM_PathFilter", [&sample](benchmark::State& state) { BM_PathFilter(state, sample); });
}

}  // namespace layersift::micro
