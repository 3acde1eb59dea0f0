/* cycles.h: the CPU's cycle counter and the one decision whether to trust it, shared by the
 * measure layer (hone clocks, hone_clock_cycles) and the profiler runtime (libhone-prof.so), so
 * that both use the same clock on the same machine. Internal. x86-64 reads the TSC (rdtsc),
 * arm64 the virtual counter (CNTVCT_EL0, whose frequency the architecture publishes in
 * CNTFRQ_EL0). Elsewhere there is no counter and reads return 0.
 *
 * Everything here is async-signal-safe (no stdio, no allocation): the runtime may call it from a
 * constructor before the program's allocator is ready. */
#ifndef HONE_COMMON_CYCLES_H
#define HONE_COMMON_CYCLES_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

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

#define HONE__CYCLES_INLINE static inline __attribute__((always_inline, no_instrument_function))

/* One read of the counter, ordered after the instructions before it (lfence on x86-64, isb on
 * arm64): without that, a read could run ahead of the load that published another thread's
 * reading, and the counter would seem to go back. For timing loops and clocks. */
HONE__CYCLES_INLINE uint64_t hone__cycles_read(void) {
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

/* One read with no ordering: the profiler's hooks, where the fence would cost more than the
 * read and the thread only compares its own readings. */
HONE__CYCLES_INLINE uint64_t hone__cycles_read_fast(void) {
#if defined(__x86_64__)
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
#elif defined(__aarch64__)
  uint64_t v;
  __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
  return 0;
#endif
}

/* The frequency the architecture states (arm64), or 0 when it must be calibrated (x86-64). */
HONE__CYCLES_INLINE double hone__cycles_stated_hz(void) {
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
 * generic timer has a fixed frequency by definition. */
HONE__CYCLES_INLINE bool hone__cycles_invariant_cpuid(void) {
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

/* Why the counter is trusted or not: the verdict both layers act on, and that a stats file
 * records (the values are stored on disk: never renumber). */
enum hone__cycles_verdict {
  HONE__CYCLES_NONE = 0,     /* no counter on this architecture */
  HONE__CYCLES_CPUID = 1,    /* invariant: the CPU says so (or arm64's architecture does) */
  HONE__CYCLES_KERNEL = 2,   /* invariant: /proc/cpuinfo has constant_tsc and nonstop_tsc */
  HONE__CYCLES_VARIABLE = 3, /* neither says so: the rate may change with frequency or sleep */
};

/* Whether a line of /proc/cpuinfo's "flags" holds the word w. */
HONE__CYCLES_INLINE bool hone__cycles_has_word(const char *line, size_t len, const char *w) {
  size_t wl = strlen(w);
  for (size_t i = 0; i + wl <= len; i++)
    if ((i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t') && memcmp(line + i, w, wl) == 0 &&
        (i + wl == len || line[i + wl] == ' ' || line[i + wl] == '\n'))
      return true;
  return false;
}

/* Hypervisors often hide CPUID's invariant-TSC bit; the kernel then still reports what it knows
 * as the flags constant_tsc (fixed rate) and nonstop_tsc (keeps ticking in deep sleep states).
 * Reads only the first processor's flags line, with read(2). */
static inline __attribute__((no_instrument_function)) bool
hone__cycles_kernel_says_invariant(void) {
  int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[8192];
  size_t len = 0;
  ssize_t r;
  while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)r;
  close(fd);
  buf[len] = '\0';
  for (char *line = buf; line && *line;) {
    char *end = strchr(line, '\n');
    size_t ll = end ? (size_t)(end - line) : strlen(line);
    if (strncmp(line, "flags", 5) == 0)
      return hone__cycles_has_word(line, ll, "constant_tsc") &&
             hone__cycles_has_word(line, ll, "nonstop_tsc");
    line = end ? end + 1 : NULL;
  }
  return false;
}

/* The verdict: CPUID first (no system call), then the kernel's flags. */
static inline __attribute__((no_instrument_function)) enum hone__cycles_verdict
hone__cycles_verdict(void) {
  if (!HONE__HAVE_CYCLES) return HONE__CYCLES_NONE;
  if (hone__cycles_invariant_cpuid()) return HONE__CYCLES_CPUID;
  if (hone__cycles_kernel_says_invariant()) return HONE__CYCLES_KERNEL;
  return HONE__CYCLES_VARIABLE;
}

#endif /* HONE_COMMON_CYCLES_H */
