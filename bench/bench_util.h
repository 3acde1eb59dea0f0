/* bench_util.h: what the C benchmarks share — a monotonic clock in nanoseconds, the median of a
 * sample, a sleep in microseconds, the tiny item of the map benches, the empty-task throughput
 * measurement that the thread and process pool benches run alike, and the CPU-bound workload
 * (count primes by trial division) that the thread and process pool benches must run identically
 * for their speedups to compare. Header-only (static inline): each bench is one translation unit.
 */
#ifndef HONE_BENCH_UTIL_H
#define HONE_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hone/pool.h"

static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v in place. */
static inline double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void pause_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* A few nanoseconds of work (three rounds of a multiply-xorshift mix) that the compiler cannot
 * remove or hoist: the tiny item of the map benches (procpool.sh's Python `tiny` is the same mix,
 * and pool_bench's OpenMP loop runs it too). */
__attribute__((noinline, unused)) static uint64_t tiny_work(uint64_t x) {
  for (int r = 0; r < 3; r++) {
    x ^= x >> 13;
    x *= 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
  }
  return x;
}

/* Numbers in [lo, hi). */
typedef struct range {
  uint64_t lo, hi;
} range;

/* The primes in a range, by trial division: the same work in every run and every bench. */
static inline uint64_t count_primes(range rg) {
  uint64_t c = 0;
  for (uint64_t n = rg.lo; n < rg.hi; n++) {
    if (n < 2 || (n % 2 == 0 && n != 2)) continue;
    int p = 1;
    for (uint64_t d = 3; d * d <= n; d += 2)
      if (n % d == 0) {
        p = 0;
        break;
      }
    c += (uint64_t)p;
  }
  return c;
}

/* Empty tasks per second through submit + result, 4096 in flight at a time (as Python's list of
 * futures): `empty` is a task that does nothing. Exits on any error. */
__attribute__((unused)) static double pool_throughput(hone_pool *p, hone_task_id empty, int n) {
  enum { BATCH = 4096 };
  static hone_future *fs[BATCH];
  int64_t t0 = now_ns();
  for (int done = 0; done < n; done += BATCH) {
    int k = n - done < BATCH ? n - done : BATCH;
    for (int i = 0; i < k; i++) {
      int rc = hone_pool_submit(p, empty, NULL, 0, HONE_WAIT_FOREVER, &fs[i]);
      if (rc) {
        fprintf(stderr, "bench: submit: %s\n", hone_strerror(rc));
        exit(1);
      }
    }
    for (int i = 0; i < k; i++) {
      int rc = hone_future_result(fs[i], HONE_WAIT_FOREVER, NULL, 0);
      if (rc) {
        fprintf(stderr, "bench: result: %s\n", hone_strerror(rc));
        exit(1);
      }
      hone_future_release(fs[i]);
    }
  }
  return n / ((now_ns() - t0) * 1e-9);
}

#endif /* HONE_BENCH_UTIL_H */
