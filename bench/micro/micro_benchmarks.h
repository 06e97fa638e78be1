// Registration of the micro-benchmarks, one function per stage. They run in registration order:
// decompression, tar walking and path filtering, matching.
#ifndef LAYERSIFT_BENCH_MICRO_MICRO_BENCHMARKS_H_
#define LAYERSIFT_BENCH_MICRO_MICRO_BENCHMARKS_H_

#include "micro_sample.h"

namespace layersift::micro {

// Each registers benchmarks that read `sample`, which must outlive the benchmark run.
void RegisterDecompressBenchmarks(const Sample& sample);  // BM_GzipInflate/*, BM_ZstdDecompress/*
void RegisterTarBenchmarks(const Sample& sample);         // BM_TarWalk, BM_PathFilter
void RegisterMatchBenchmarks(const Sample& sample);       // BM_Match/*

}  // namespace layersift::micro

#endif  // LAYERSIFT_BENCH_MICRO_MICRO_BENCHMARKS_H_
