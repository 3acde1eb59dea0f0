// measure_gbench.cpp: the same two bodies as bench/measure.c, timed by Google Benchmark, so that
// bench/measure.sh can set the two tools side by side in one run.
#include <benchmark/benchmark.h>

#include <cstdint>

// The empty body: Google Benchmark's own loop and nothing else.
static void BM_empty(benchmark::State &state) {
  int sink = 0;
  for (auto _ : state) benchmark::DoNotOptimize(sink);
}
BENCHMARK(BM_empty);

// A dependent chain of n multiplications per iteration (n from the command line's Arg).
static void BM_chain(benchmark::State &state) {
  uint32_t x = 12345;
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    for (uint64_t k = 0; k < n; k++) x = (x ^ (x >> 13)) * 2654435761u;
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(BM_chain)->Arg(1000)->Arg(2000);

BENCHMARK_MAIN();
