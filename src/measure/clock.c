/* clock.c: the clocks (wall, monotonic, process and thread CPU time, the cycle counter), their
 * resolution and measured cost per read, and the cycle counter's calibration. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hone/clock.h"
#include "common/cycles.h"
#include "measure/measure.h"

static const clockid_t posix_ids[] = {
    [HONE_CLOCK_WALL] = CLOCK_REALTIME,
    [HONE_CLOCK_MONOTONIC] = CLOCK_MONOTONIC,
    [HONE_CLOCK_PROCESS_CPU] = CLOCK_PROCESS_CPUTIME_ID,
    [HONE_CLOCK_THREAD_CPU] = CLOCK_THREAD_CPUTIME_ID,
};

static const struct {
  const char *name, *source, *description;
  bool monotonic, counts_sleep, cpu_time;
} clocks[HONE_CLOCK_COUNT] = {
    [HONE_CLOCK_WALL] = {"wall", "CLOCK_REALTIME",
                         "time since the Epoch (time.time); jumps when the system time is set",
                         false, true, false},
    [HONE_CLOCK_MONOTONIC] = {"monotonic", "CLOCK_MONOTONIC",
                              "elapsed time, never goes back (time.perf_counter)", true, true,
                              false},
    [HONE_CLOCK_PROCESS_CPU] = {"process", "CLOCK_PROCESS_CPUTIME_ID",
                                "CPU time of every thread of the process (time.process_time)", true,
                                false, true},
    [HONE_CLOCK_THREAD_CPU] = {"thread", "CLOCK_THREAD_CPUTIME_ID",
                               "CPU time of the calling thread (time.thread_time)", true, false,
                               true},
    [HONE_CLOCK_CYCLES] = {"cycles", HONE__CYCLES_SOURCE,
                           "the CPU's cycle counter: ticks, not necessarily core cycles", true,
                           true, false},
};

static bool valid_id(hone_clock_id id) {
  return (unsigned)id < HONE_CLOCK_COUNT;
}

static int64_t posix_now(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t hone_clock_monotonic_ns(void) {
  return posix_now(CLOCK_MONOTONIC);
}

uint64_t hone_clock_cycles(void) {
  return hone__cycles_read();
}

int64_t hone__clock_now(hone_clock_id id) {
  if (id == HONE_CLOCK_CYCLES) return (int64_t)hone__cycles_read();
  return posix_now(posix_ids[id]);
}

int hone_clock_read(hone_clock_id id, int64_t *out) {
  if (!valid_id(id) || !out) return HONE_EINVAL;
  if (id == HONE_CLOCK_CYCLES && !HONE__HAVE_CYCLES) return HONE_ENOTSUP;
  *out = hone__clock_now(id);
  return 0;
}

const char *hone_clock_name(hone_clock_id id) {
  return valid_id(id) ? clocks[id].name : NULL;
}

int hone_clock_from_name(const char *name, hone_clock_id *out) {
  if (!name || !out) return HONE_EINVAL;
  for (int i = 0; i < HONE_CLOCK_COUNT; i++) {
    if (strcmp(name, clocks[i].name) == 0) {
      *out = (hone_clock_id)i;
      return 0;
    }
  }
  return HONE_EINVAL;
}

/* ---- The cycle counter: frequency and invariance, found once ---- */

static pthread_once_t cycles_once = PTHREAD_ONCE_INIT;
static double cycles_hz;
static bool cycles_invariant;

/* A (counter, monotonic ns) pair read as close together as the machine allows: the counter is
 * read on both sides of the clock and the tightest of a few tries is kept. */
static void cycles_pair(double *cyc, double *ns) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 8; i++) {
    uint64_t c0 = hone__cycles_read();
    int64_t t = hone_clock_monotonic_ns();
    uint64_t c1 = hone__cycles_read();
    if (c1 - c0 < best) {
      best = c1 - c0;
      *cyc = (double)c0 + (double)(c1 - c0) / 2;
      *ns = (double)t;
    }
  }
}

static void cycles_calibrate(void) {
  if (!HONE__HAVE_CYCLES) return;
  enum hone__cycles_verdict v = hone__cycles_verdict();
  cycles_invariant = v == HONE__CYCLES_CPUID || v == HONE__CYCLES_KERNEL;
  double stated = hone__cycles_stated_hz();
  if (stated > 0) {
    cycles_hz = stated;
    return;
  }
  /* Busy-wait rather than sleep: a counter that is not invariant runs at the rate of a busy CPU,
   * which is the rate timing loops see. */
  double c0 = 0, t0 = 0, c1 = 0, t1 = 0;
  cycles_pair(&c0, &t0);
  int64_t end = (int64_t)t0 + 10000000;
  while (hone_clock_monotonic_ns() < end) {
  }
  cycles_pair(&c1, &t1);
  if (t1 > t0 && c1 > c0) cycles_hz = (c1 - c0) * 1e9 / (t1 - t0);
}

double hone_cycles_per_second(void) {
  pthread_once(&cycles_once, cycles_calibrate);
  return cycles_hz;
}

bool hone__cycles_invariant(void) {
  pthread_once(&cycles_once, cycles_calibrate);
  return cycles_invariant;
}

/* ---- Cost per read ---- */

enum { COST_BATCHES = 15, COST_READS = 1000 };

/* The cheapest of several batches of many reads, timed by the monotonic clock: the minimum
 * leaves out interruptions, and a batch is long enough that the two reads around it vanish. */
static double measure_cost(hone_clock_id id) {
  double best = INFINITY;
  for (int b = 0; b < COST_BATCHES; b++) {
    int64_t t0 = hone_clock_monotonic_ns();
    for (int i = 0; i < COST_READS; i++) {
      int64_t v;
      if (id == HONE_CLOCK_CYCLES) {
        v = (int64_t)hone_clock_cycles();
      } else if (id == HONE_CLOCK_MONOTONIC) {
        v = hone_clock_monotonic_ns();
      } else if (hone_clock_read(id, &v) != 0) {
        return 0;
      }
      __asm__ volatile("" : : "r"(v));
    }
    double per = (double)(hone_clock_monotonic_ns() - t0) / COST_READS;
    if (per < best) best = per;
  }
  return best;
}

uint64_t hone__steps_gcd(const uint64_t *reads, size_t n) {
  uint64_t g = 0;
  for (size_t i = 1; i < n; i++) {
    if (reads[i] <= reads[i - 1]) continue;
    uint64_t a = reads[i] - reads[i - 1], b = g;
    while (b) {
      uint64_t t = a % b;
      a = b;
      b = t;
    }
    g = a;
    if (g == 1) break;
  }
  return g;
}

/* The cycle counter's granularity, in ns: the GCD of the steps between consecutive reads. */
static double cycles_resolution_ns(double hz) {
  enum { N = 256 };
  uint64_t reads[N];
  for (int i = 0; i < N; i++) reads[i] = hone__cycles_read();
  uint64_t g = hone__steps_gcd(reads, N);
  return g == 0 || hz <= 0 ? 0 : (double)g * 1e9 / hz;
}

int hone_clock_info_get(hone_clock_id id, hone_clock_info *out) {
  if (!valid_id(id) || !out) return HONE_EINVAL;
  memset(out, 0, sizeof *out);
  out->id = id;
  out->name = clocks[id].name;
  out->source = clocks[id].source;
  out->description = clocks[id].description;
  out->unit = id == HONE_CLOCK_CYCLES ? "cycles" : "ns";
  out->cpu_time = clocks[id].cpu_time;
  if (id == HONE_CLOCK_CYCLES) {
    if (!HONE__HAVE_CYCLES) return 0;
    out->available = true;
    out->frequency_hz = hone_cycles_per_second();
    out->invariant = hone__cycles_invariant();
    /* A counter that changes rate with the CPU's frequency or stops in sleep states is neither
     * a measure of elapsed time nor safe to compare across CPUs. */
    out->monotonic = out->invariant;
    out->counts_sleep = out->invariant;
    out->resolution_ns = cycles_resolution_ns(out->frequency_hz);
  } else {
    struct timespec res;
    if (clock_getres(posix_ids[id], &res) != 0) return 0;
    out->available = true;
    out->monotonic = clocks[id].monotonic;
    out->counts_sleep = clocks[id].counts_sleep;
    out->frequency_hz = 1e9;
    out->resolution_ns = (double)res.tv_sec * 1e9 + (double)res.tv_nsec;
  }
  out->cost_ns = measure_cost(id);
  return 0;
}
