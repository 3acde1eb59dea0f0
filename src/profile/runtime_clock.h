/* runtime_clock.h: the profiler runtime's clock — the cycle counter (x86-64 rdtsc, arm64
 * cntvct_el0) when it is invariant, else CLOCK_MONOTONIC (vDSO). Platform specifics stay here. */
#ifndef HONE_RUNTIME_CLOCK_H
#define HONE_RUNTIME_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "profformat.h"

#define HONE__RT_INLINE static inline __attribute__((always_inline, no_instrument_function))

HONE__RT_INLINE uint64_t hone__rt_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
#define HONE__RT_COUNTER HONE__CLOCK_TSC
HONE__RT_INLINE uint64_t hone__rt_counter(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
/* The TSC ticks at a constant rate in every P- and C-state (CPUID 0x80000007 EDX bit 8). */
HONE__RT_INLINE int hone__rt_counter_invariant(void) {
  uint32_t a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
  if (a < 0x80000007u) return 0;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000007u), "c"(0));
  return (d >> 8) & 1;
}
HONE__RT_INLINE double hone__rt_counter_nominal_hz(void) {
  return 0; /* measured */
}
#elif defined(__aarch64__)
#define HONE__RT_COUNTER HONE__CLOCK_CNTVCT
HONE__RT_INLINE uint64_t hone__rt_counter(void) {
  uint64_t v;
  __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v;
}
/* The generic timer is architecturally constant-rate. */
HONE__RT_INLINE int hone__rt_counter_invariant(void) {
  return 1;
}
HONE__RT_INLINE double hone__rt_counter_nominal_hz(void) {
  uint64_t f;
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
  return (double)f;
}
#else
#define HONE__RT_COUNTER HONE__CLOCK_MONOTONIC
HONE__RT_INLINE uint64_t hone__rt_counter(void) {
  return hone__rt_mono_ns();
}
HONE__RT_INLINE int hone__rt_counter_invariant(void) {
  return 0;
}
HONE__RT_INLINE double hone__rt_counter_nominal_hz(void) {
  return 0;
}
#endif

#endif /* HONE_RUNTIME_CLOCK_H */
