/* hone/clock.h: every clock a C program can read, named for what it measures, with its
 * resolution and measured cost per read.
 *
 * Clock readings are integer nanoseconds (cycles for HONE_CLOCK_CYCLES). Thread-safety: every
 * function here may be called from any thread; calibration (cycle frequency) happens once, on
 * first need, and is cached.
 */
#ifndef HONE_CLOCK_H
#define HONE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "hone/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hone_clock_id {
  HONE_CLOCK_WALL = 0,      /* "wall": CLOCK_REALTIME, ns since the Epoch (time.time); may jump */
  HONE_CLOCK_MONOTONIC = 1, /* "monotonic": CLOCK_MONOTONIC, high resolution (time.perf_counter) */
  HONE_CLOCK_PROCESS_CPU = 2, /* "process": CPU time of all threads of the process (process_time) */
  HONE_CLOCK_THREAD_CPU = 3,  /* "thread": CPU time of the calling thread (thread_time) */
  HONE_CLOCK_CYCLES = 4,      /* "cycles": the CPU's cycle counter (x86-64 TSC, arm64 CNTVCT) */
} hone_clock_id;
#define HONE_CLOCK_COUNT 5

/* Reads clock `id` into *out (ns, or ticks of the cycle counter). HONE_EINVAL for an unknown id
 * or a NULL out; HONE_ENOTSUP when the machine lacks it. */
HONE_API HONE_NODISCARD int hone_clock_read(hone_clock_id id, int64_t *out);

/* Fast reads without argument checks, for timing loops. */
HONE_API int64_t hone_clock_monotonic_ns(void);
HONE_API uint64_t hone_clock_cycles(void); /* 0 on machines without a cycle counter */

/* What a clock is, and what it costs. */
typedef struct hone_clock_info {
  hone_clock_id id;
  const char *name;        /* "wall", "monotonic", "process", "thread", "cycles" (static) */
  const char *source;      /* what is read: "CLOCK_REALTIME", "rdtsc", ... (static) */
  const char *description; /* one line for people (static) */
  const char *unit;        /* "ns" or "cycles" */
  bool available;          /* false: the machine lacks it; the figures below are 0 */
  bool monotonic;          /* never goes back */
  bool counts_sleep;       /* advances while the process sleeps or waits */
  bool cpu_time;           /* counts only CPU time spent by the process or thread */
  bool invariant;          /* cycles: constant rate whatever the CPU frequency or sleep state */
  double resolution_ns;    /* smallest step (clock_getres; for the cycle counter, the GCD of the
                              steps between consecutive reads) */
  double cost_ns;          /* measured cost of one read */
  double frequency_hz;     /* ticks per second: 1e9 for the ns clocks; calibrated for cycles */
} hone_clock_info;

/* Fills *out for clock `id`, measuring its cost (takes a few milliseconds). */
HONE_API HONE_NODISCARD int hone_clock_info_get(hone_clock_id id, hone_clock_info *out);

/* Looks a clock up by its name ("wall", "monotonic", "process", "thread", "cycles"). */
HONE_API HONE_NODISCARD int hone_clock_from_name(const char *name, hone_clock_id *out);
/* The name of a clock, or NULL for an unknown id. */
HONE_API const char *hone_clock_name(hone_clock_id id);

/* The cycle counter's frequency in Hz, calibrated against CLOCK_MONOTONIC once (about 10 ms on
 * first call) and cached; 0 when there is no cycle counter. */
HONE_API double hone_cycles_per_second(void);

#ifdef __cplusplus
}
#endif
#endif /* HONE_CLOCK_H */
