/* hone/timeit.h: Python's timeit.Timer in C — setup and teardown never timed, the statement run
 * `number` times between two clock reads, timeit / repeat / autorange — and a driver for code
 * that must own its timing loop (generated snippets, inline loops).
 *
 * Ownership: hone_timer_new / hone_run_new allocate, the _free functions release (NULL is a no-op);
 * a hone_result returned through an out-pointer belongs to the caller (hone_result_free). The
 * `arg` pointers given to a timer stay the caller's and must outlive the timer's use.
 * Thread-safety: a timer, run or result is used by one thread at a time; distinct objects may be
 * used from distinct threads at once.
 */
#ifndef HONE_TIMEIT_H
#define HONE_TIMEIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hone/clock.h"
#include "hone/counters.h"
#include "hone/error.h"
#include "hone/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Keeping the compiler from deleting measured work ---- */

/* hone_do_not_optimize(x): the value of x is considered used (and possibly changed). */
#if defined(__GNUC__)
#define hone_do_not_optimize(x) __asm__ volatile("" : "+m"(x) : : "memory")
/* Every write to memory so far is considered read. */
#define hone_clobber_memory() __asm__ volatile("" : : : "memory")
#endif

/* ---- The machine's speed ----
 * Two short loops (about 0.5 ms in all, best of 3 runs each) on the calling thread's CPU:
 *   clock_ghz: a chain of dependent 64-bit multiplications, 3 cycles each on every x86-64 core
 *     since 2006, so the clock the thread ran at, whatever the frequency scaling;
 *   core_share: the rate of a loop that issues two operations a cycle, divided by the clock:
 *     1 when the core runs this thread alone, down to about 0.5 when it shares the core with a
 *     busy sibling (SMT; on a virtual machine, another guest's work). Code that needs more of the
 *     core than one chain of dependent operations runs slower by up to as much.
 * HONE_ENOTSUP off x86-64. Plain data. */
typedef struct hone_cpu_speed {
  double clock_ghz;
  double core_share;
} hone_cpu_speed;
HONE_API int hone_cpu_speed_probe(hone_cpu_speed *out);
/* Probes each CPU the calling thread may run on (its affinity mask; at most the first 64) and
 * pins the thread to the one with the highest core_share (the fastest clock among those within
 * 2 % of it). *cpu (optional) gets it; speeds (optional, n of them) get each CPU's probe, indexed
 * by CPU number, zero for CPUs not probed. HONE_ENOTSUP off x86-64, HONE_ESYS when the affinity
 * cannot be read or set (the thread's affinity is then as it was). */
HONE_API int hone_cpu_pin_fastest(int *cpu, hone_cpu_speed *speeds, size_t n);

/* ---- Results ---- */

/* One measurement: `trials` trials of `number` loops each. */
typedef struct hone_result hone_result;

HONE_API void hone_result_free(hone_result *r);
HONE_API uint64_t hone_result_number(const hone_result *r); /* loops per trial */
HONE_API size_t hone_result_trials(const hone_result *r);
/* Per-loop time of each trial, in ns (cycles when the clock is HONE_CLOCK_CYCLES): trials values,
 * in the order run. Owned by r. */
HONE_API const double *hone_result_per_loop(const hone_result *r);
/* Statistics over the per-loop times (Tukey outliers). Owned by r. */
HONE_API const hone_stats *hone_result_stats(const hone_result *r);
HONE_API hone_clock_id hone_result_clock(const hone_result *r);
/* Counters per loop, averaged over trials: values[id] and whether each was counted. Returns
 * HONE_ENOTSUP when counters were not requested. note: why hardware counters are missing, or NULL.
 */
HONE_API int hone_result_counters(const hone_result *r, double values[HONE_COUNTER_COUNT],
                                  bool available[HONE_COUNTER_COUNT], const char **note);
/* counted[id]: whether counter id ran in at least one trial. An available counter the kernel's
 * multiplexing never scheduled has no figure (values[id] is 0 and means "not counted", not zero
 * events); one that ran in some trials is averaged over those. HONE_ENOTSUP when counters were
 * not requested. */
HONE_API int hone_result_counters_counted(const hone_result *r, bool counted[HONE_COUNTER_COUNT]);

/* The machine beside each trial, to tell a slower machine from slower code (below: the probe,
 * run just before and just after each trial, the two averaged): `trials` values owned by r.
 * HONE_ENOTSUP when the probe was not run (cfg.reference false, or not x86-64). */
HONE_API int hone_result_machine(const hone_result *r, const hone_cpu_speed **speeds);
/* The CPU each trial ran on (sched_getcpu at its start and end), -1 when it moved during the
 * trial or the CPU is unknown: `trials` values owned by r, or NULL when r is NULL. */
HONE_API const int *hone_result_cpus(const hone_result *r);

/* ---- Configuration shared by the Timer and the driver ---- */

typedef struct hone_timing_config {
  hone_clock_id clock;     /* default HONE_CLOCK_MONOTONIC */
  uint64_t number;         /* loops per trial; 0 = choose by autorange (default 0) */
  unsigned repeat;         /* trials (default 5) */
  double autorange_target; /* autorange: smallest trial length in seconds (default 0.2) */
  bool counters;           /* also count hardware/software events (default false) */
  bool reference;          /* probe the machine's speed around each trial (default true; see
                              hone_cpu_speed and hone_result_machine) */
  /* Called after each trial when not NULL (progress display): phase is "autorange" or "trial";
   * index counts from 0 within the phase; total is the number of trials (0 during autorange,
   * whose length is not known ahead); trial_ns is the trial's total time in ns (converted when
   * the clock is the cycle counter). */
  void (*on_trial)(void *arg, const char *phase, unsigned index, unsigned total, uint64_t number,
                   double trial_ns);
  void *on_trial_arg;
} hone_timing_config;

/* Fills *cfg with the defaults above. */
HONE_API void hone_timing_config_init(hone_timing_config *cfg);

/* ---- The Timer: the statement given as a function ---- */

typedef struct hone_timer hone_timer;

/* Called once per iteration. */
typedef void (*hone_stmt_fn)(void *arg);
/* Runs its own loop of n iterations (no call per iteration: for very small work). */
typedef void (*hone_loop_fn)(void *arg, uint64_t n);
/* Setup and teardown: run before and after every trial, never timed — autorange's trials
 * included, as Python's Timer runs its setup in every timeit() call, so a statement that changes
 * its data (sorts an array) starts each trial from a fresh setup. A negative return (a hone_err)
 * aborts the measurement with that error. */
typedef int (*hone_fixture_fn)(void *arg);

HONE_API HONE_NODISCARD int hone_timer_new(hone_timer **out);
HONE_API void hone_timer_free(hone_timer *t);
/* Exactly one of stmt or loop is set; setting one clears the other. */
HONE_API int hone_timer_set_stmt(hone_timer *t, hone_stmt_fn stmt, void *arg);
HONE_API int hone_timer_set_loop(hone_timer *t, hone_loop_fn loop, void *arg);
HONE_API int hone_timer_set_fixture(hone_timer *t, hone_fixture_fn setup, hone_fixture_fn teardown,
                                    void *arg);
/* Copies cfg (clock, autorange target, counters, on_trial; number/repeat are arguments below).
 * HONE_EINVAL for an unknown clock or a negative or NaN target; HONE_ENOTSUP for a clock the
 * machine lacks. */
HONE_API int hone_timer_configure(hone_timer *t, const hone_timing_config *cfg);

/* Python's Timer.timeit(number): setup, `number` loops timed, teardown; *elapsed_ns is the total
 * (clock units). HONE_EINVAL for number 0 or no statement. */
HONE_API HONE_NODISCARD int hone_timer_timeit(hone_timer *t, uint64_t number, double *elapsed_ns);
/* Python's Timer.autorange(): number = 1, 2, 5, 10, 20, 50, ... until one trial takes at least
 * the autorange target; returns that number and that trial's total time. */
HONE_API HONE_NODISCARD int hone_timer_autorange(hone_timer *t, uint64_t *number,
                                                 double *elapsed_ns);
/* Python's Timer.repeat(repeat, number): `repeat` trials of `number` loops (number 0 = autorange
 * first; its trials are not part of the result). The setup runs once per trial: `repeat` times
 * (Python's test_main_setup: -n35 -r5 runs it 5 times), plus once per autorange step. On success
 * *out is a new result. HONE_EINVAL for repeat 0 or no statement; a setup's or teardown's negative
 * return is returned as is. */
HONE_API HONE_NODISCARD int hone_timer_repeat(hone_timer *t, unsigned repeat, uint64_t number,
                                              hone_result **out);

/* ---- The driver: for code that owns its timing loop ----
 *
 *   hone_run *run; hone_run_new(&cfg, &run);
 *   uint64_t n;
 *   while ((n = hone_run_next(run)) > 0) {
 *     hone_run_start(run);
 *     for (uint64_t i = 0; i < n; i++) { work(); }
 *     hone_run_stop(run);
 *   }
 *   hone_result *res; hone_run_finish(run, &res);
 *
 * hone_run_next() walks autorange (when cfg.number is 0) and then the cfg.repeat trials; the
 * clock (and counters) are read in hone_run_start / hone_run_stop, outside the loop. Counters
 * count the thread that first calls hone_run_next(). Calls out of this order make the run fail
 * with HONE_ESTATE. */
typedef struct hone_run hone_run;

/* cfg NULL means the defaults. HONE_EINVAL for an unknown clock, repeat 0 or (with number 0) a
 * negative or NaN autorange target; HONE_ENOTSUP for a clock the machine lacks. */
HONE_API HONE_NODISCARD int hone_run_new(const hone_timing_config *cfg, hone_run **out);
HONE_API void hone_run_free(hone_run *r);
/* Loops for the next trial, or 0 when the measurement is complete (or failed). */
HONE_API uint64_t hone_run_next(hone_run *r);
HONE_API void hone_run_start(hone_run *r);
HONE_API void hone_run_stop(hone_run *r);
/* After hone_run_next() returned 0: the result (new, caller's), or the error that stopped it
 * (HONE_ESTATE when called before the run is complete). */
HONE_API HONE_NODISCARD int hone_run_finish(hone_run *r, hone_result **out);

#ifdef __cplusplus
}
#endif
#endif /* HONE_TIMEIT_H */
