/* measure.h: what the measure layer's files share inside libhone, and the hooks its unit tests
 * use (reachable through hone_static only; never part of the public API). */
#ifndef HONE_MEASURE_MEASURE_H
#define HONE_MEASURE_MEASURE_H

#include <stdint.h>

#include "hone/clock.h"
#include "hone/timeit.h"

/* Reads clock `id` without checks: id must be valid and the clock available. */
int64_t hone__clock_now(hone_clock_id id);

/* Whether the cycle counter ticks at a constant rate (cached, thread-safe). */
bool hone__cycles_invariant(void);

/* The counter's granularity seen in n consecutive reads: the greatest common divisor of the
 * forward steps between them (0 when no step moved forward). Not the smallest step: a counter
 * that ticks by 1 is read no faster than once per ~50 ticks, while one that moves in jumps of 26
 * (some AMD hosts) shows only multiples of 26. */
uint64_t hone__steps_gcd(const uint64_t *reads, size_t n);

/* A clock substituted for the configured one, so that tests can give a statement an exact,
 * deterministic cost: fn(arg) returns the time in the configured clock's units. NULL restores
 * the real clock. Set before the first hone_run_next() / before a timer is used. */
typedef int64_t (*hone__clock_hook)(void *arg);
int hone__run_set_clock_hook(hone_run *r, hone__clock_hook fn, void *arg);
int hone__timer_set_clock_hook(hone_timer *t, hone__clock_hook fn, void *arg);

/* perf stat's scaling of a counter read as (raw, time enabled, time running): raw scaled by
 * enabled / running when it was multiplexed. Returns false, *out 0, when it never ran (running
 * 0): "not counted", which is not zero events. */
bool hone__counter_scale(uint64_t raw, uint64_t enabled, uint64_t running, uint64_t *out);

/* Counter readings substituted for the real ones after each trial (synthetic values for tests
 * of what the run makes of them): fn fills values and counted as hone_counters_read_counted
 * does, and every counter counts as available. Set before the first hone_run_next() of a run
 * whose configuration asks for counters. */
typedef void (*hone__counter_hook)(void *arg, uint64_t values[HONE_COUNTER_COUNT],
                                   bool counted[HONE_COUNTER_COUNT]);
int hone__run_set_counter_hook(hone_run *r, hone__counter_hook fn, void *arg);

#endif /* HONE_MEASURE_MEASURE_H */
