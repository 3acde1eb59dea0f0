/* cycles.h: the CPU's cycle counter, one small header so that no other file needs an #ifdef for
 * it: x86-64 reads the TSC (rdtsc), arm64 the virtual counter (CNTVCT_EL0, whose frequency the
 * architecture publishes in CNTFRQ_EL0). Elsewhere there is no counter and reads return 0. */
#ifndef HONE_MEASURE_CYCLES_H
#define HONE_MEASURE_CYCLES_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#define HONE__CYCLES_SOURCE "rdtsc"
#define HONE__HAVE_CYCLES 1
#elif defined(__aarch64__)
#define HONE__CYCLES_SOURCE "cntvct_el0"
#define HONE__HAVE_CYCLES 1
#else
#define HONE__CYCLES_SOURCE "none"
#define HONE__HAVE_CYCLES 0
#endif

/* One read of the counter, ordered after the instructions before it (lfence on x86-64, isb on
 * arm64): without that, a read could run ahead of the load that published another thread's
 * reading, and the counter would seem to go back. */
static inline uint64_t hone__cycles_read(void) {
#if defined(__x86_64__)
  _mm_lfence();
  return __rdtsc();
#elif defined(__aarch64__)
  uint64_t v;
  __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) : : "memory");
  return v;
#else
  return 0;
#endif
}

/* The frequency the architecture states (arm64), or 0 when it must be calibrated (x86-64). */
static inline double hone__cycles_stated_hz(void) {
#if defined(__aarch64__)
  uint64_t f;
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
  return (double)f;
#else
  return 0;
#endif
}

/* Whether the CPU says its counter ticks at a constant rate whatever the frequency and sleep
 * state: CPUID leaf 0x80000007, EDX bit 8 ("invariant TSC") on x86-64; always on arm64, whose
 * generic timer has a fixed frequency by definition. Hypervisors often hide the CPUID bit even
 * when the TSC is invariant; clock.c then also asks the kernel (/proc/cpuinfo). */
static inline bool hone__cycles_invariant_cpuid(void) {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) return false;
  if (!__get_cpuid(0x80000007u, &a, &b, &c, &d)) return false;
  return (d >> 8) & 1u;
#elif defined(__aarch64__)
  return true;
#else
  return false;
#endif
}

#endif /* HONE_MEASURE_CYCLES_H */
