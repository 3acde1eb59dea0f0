/* timeit.c: the timing driver (autorange, then `repeat` trials, with the clock and the counters
 * read around each trial) and Python's Timer built on it, so that autorange and repeat have one
 * implementation whoever owns the loop. */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone/timeit.h"
#include "measure/measure.h"

struct hone_result {
  uint64_t number;
  size_t trials;
  double *per_loop;
  hone_stats stats;
  hone_clock_id clock;
  bool counted; /* counters were requested */
  double counters[HONE_COUNTER_COUNT];
  bool available[HONE_COUNTER_COUNT];
  bool ran[HONE_COUNTER_COUNT]; /* counted in at least one trial */
  bool has_note;
  char note[200];
  hone_cpu_speed *machine; /* beside each trial, or NULL */
  int *cpus;
};

void hone_timing_config_init(hone_timing_config *cfg) {
  if (!cfg) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->clock = HONE_CLOCK_MONOTONIC;
  cfg->number = 0;
  cfg->repeat = 5;
  cfg->autorange_target = 0.2;
  cfg->counters = false;
  cfg->reference = true;
}

/* ---- The machine's speed ---- */

#if defined(__x86_64__)
enum { PROBE_MULS = 1 << 16, PROBE_ADDS = 1 << 19 };

/* The best of 3 runs, in ns: PROBE_MULS dependent multiplications; PROBE_ADDS dependent
 * additions, each iteration also counting down a second register (two operations a cycle). */
static int64_t probe_ns(bool muls) {
  int64_t best = INT64_MAX;
  for (int k = 0; k < 3; k++) {
    int64_t t0 = hone__clock_now(HONE_CLOCK_MONOTONIC);
    if (muls) {
      uint64_t x = 3, left = PROBE_MULS / 4;
      __asm__ volatile("1:\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
                       "dec %1\n\tjnz 1b"
                       : "+r"(x), "+r"(left));
    } else {
      uint64_t x = 0, left = PROBE_ADDS;
      __asm__ volatile("1:\n\tadd $1, %0\n\tdec %1\n\tjnz 1b" : "+r"(x), "+r"(left));
    }
    int64_t el = hone__clock_now(HONE_CLOCK_MONOTONIC) - t0;
    if (el < best) best = el;
  }
  return best;
}
#endif

/* Measured on the project's 2-vCPU KVM machines: on the CPU whose core had a busy sibling, the
 * one-add-a-cycle loop ran at 2.1-2.4 per ns and the multiplication chain at 3.74 GHz; on the
 * other, both at 3.71 (and a statement of four independent additions took 0.40-0.42 ns there
 * against 0.373 ns). Each run is short (0.1-0.2 ms) so that the best of three misses interrupts. */
int hone_cpu_speed_probe(hone_cpu_speed *out) {
  if (!out) return HONE_EINVAL;
  memset(out, 0, sizeof *out);
#if defined(__x86_64__)
  int64_t mul_ns = probe_ns(true), add_ns = probe_ns(false);
  if (mul_ns <= 0 || add_ns <= 0) return HONE_ESYS;
  out->clock_ghz = 3.0 * PROBE_MULS / (double)mul_ns;
  double share = (double)PROBE_ADDS / (double)add_ns / out->clock_ghz;
  out->core_share = share > 1 ? 1 : share;
  return 0;
#else
  return HONE_ENOTSUP;
#endif
}

int hone_cpu_pin_fastest(int *cpu, hone_cpu_speed *speeds, size_t n) {
  if (cpu) *cpu = -1;
  if (speeds) memset(speeds, 0, n * sizeof *speeds);
#if defined(__x86_64__)
  cpu_set_t allowed, one;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return HONE_ESYS;
  int best = -1;
  hone_cpu_speed best_s = {0, 0};
  for (int c = 0, probed = 0; c < CPU_SETSIZE && probed < 64; c++) {
    if (!CPU_ISSET(c, &allowed)) continue;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) continue;
    probed++;
    hone_cpu_speed s;
    if (hone_cpu_speed_probe(&s) < 0) continue;
    if (speeds && (size_t)c < n) speeds[c] = s;
    bool better = best < 0 || s.core_share > best_s.core_share * 1.02 ||
                  (s.core_share >= best_s.core_share / 1.02 && s.clock_ghz > best_s.clock_ghz);
    if (better) {
      best = c;
      best_s = s;
    }
  }
  if (best < 0) {
    sched_setaffinity(0, sizeof allowed, &allowed);
    return HONE_ESYS;
  }
  CPU_ZERO(&one);
  CPU_SET(best, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) {
    sched_setaffinity(0, sizeof allowed, &allowed);
    return HONE_ESYS;
  }
  if (cpu) *cpu = best;
  return 0;
#else
  (void)n;
  return HONE_ENOTSUP;
#endif
}

/* ---- The driver ---- */

enum phase { PHASE_START, PHASE_AUTORANGE, PHASE_TRIALS, PHASE_DONE, PHASE_FAILED };

struct hone_run {
  hone_timing_config cfg;
  bool autorange_only; /* the Timer's autorange(): stop once the number is found */
  enum phase phase;
  int err;               /* why the run failed (PHASE_FAILED) */
  bool handed_out;       /* next() gave a trial that stop() has not finished yet */
  bool running;          /* between start() and stop() */
  uint64_t number;       /* loops of the current trial */
  uint64_t decade;       /* autorange: number = decade * {1, 2, 5}[step] */
  unsigned step;         /* autorange steps taken (the callback's index) */
  double units_per_s;    /* clock units per second: 1e9, or the cycle counter's frequency */
  uint64_t found_number; /* what autorange chose, and its trial's time */
  double found_elapsed;
  unsigned trial;  /* trials finished */
  double *elapsed; /* each trial's total, clock units */
  int64_t t0;
  double last;                            /* the trial just stopped */
  hone_cpu_speed probe_start, probe_last; /* before the current trial; beside the last one */
  bool probed;                            /* cfg.reference, and the probe works here */
  int cpu_start, cpu_last;
  hone_cpu_speed *machine; /* per trial */
  int *cpus;
  hone__clock_hook hook;
  void *hook_arg;
  hone_counters *counters;
  hone__counter_hook counter_hook;
  void *counter_hook_arg;
  uint64_t trial_counts[HONE_COUNTER_COUNT]; /* the trial just stopped */
  bool trial_counted[HONE_COUNTER_COUNT];
  double per_loop_sum[HONE_COUNTER_COUNT]; /* over the trials that counted it */
  unsigned counted_trials[HONE_COUNTER_COUNT];
};

static int fail(hone_run *r, int err) {
  if (r->phase != PHASE_FAILED) {
    r->phase = PHASE_FAILED;
    r->err = err;
  }
  return err;
}

static int check_clock(hone_clock_id id) {
  if (!hone_clock_name(id)) return HONE_EINVAL;
  int64_t v;
  return hone_clock_read(id, &v);
}

static int run_new(const hone_timing_config *cfg, bool autorange_only, hone_run **out) {
  if (!out) return HONE_EINVAL;
  *out = NULL;
  hone_timing_config c;
  if (cfg)
    c = *cfg;
  else
    hone_timing_config_init(&c);
  int rc = check_clock(c.clock);
  if (rc < 0) return rc;
  if (c.repeat == 0) return HONE_EINVAL;
  if (c.number == 0 && !(c.autorange_target >= 0 && isfinite(c.autorange_target)))
    return HONE_EINVAL;
  hone_run *r = calloc(1, sizeof *r);
  if (!r) return HONE_ENOMEM;
  r->elapsed = calloc(c.repeat, sizeof *r->elapsed);
  r->machine = calloc(c.repeat, sizeof *r->machine);
  r->cpus = calloc(c.repeat, sizeof *r->cpus);
  if (!r->elapsed || !r->machine || !r->cpus) {
    free(r->elapsed);
    free(r->machine);
    free(r->cpus);
    free(r);
    return HONE_ENOMEM;
  }
  r->cfg = c;
  r->autorange_only = autorange_only;
  r->units_per_s = c.clock == HONE_CLOCK_CYCLES ? hone_cycles_per_second() : 1e9;
  if (!(r->units_per_s > 0)) {
    hone_run_free(r);
    return HONE_ENOTSUP;
  }
  *out = r;
  return 0;
}

int hone_run_new(const hone_timing_config *cfg, hone_run **out) {
  return run_new(cfg, false, out);
}

void hone_run_free(hone_run *r) {
  if (!r) return;
  hone_counters_free(r->counters);
  free(r->elapsed);
  free(r->machine);
  free(r->cpus);
  free(r);
}

int hone__run_set_counter_hook(hone_run *r, hone__counter_hook fn, void *arg) {
  if (!r || r->phase != PHASE_START) return HONE_EINVAL;
  r->counter_hook = fn;
  r->counter_hook_arg = arg;
  return 0;
}

int hone__run_set_clock_hook(hone_run *r, hone__clock_hook fn, void *arg) {
  if (!r || r->phase != PHASE_START) return HONE_EINVAL;
  r->hook = fn;
  r->hook_arg = arg;
  return 0;
}

static inline int64_t now(const hone_run *r) {
  return r->hook ? r->hook(r->hook_arg) : hone__clock_now(r->cfg.clock);
}

static void report(hone_run *r, const char *phase, unsigned index, unsigned total) {
  if (r->cfg.on_trial)
    r->cfg.on_trial(r->cfg.on_trial_arg, phase, index, total, r->number,
                    r->units_per_s == 1e9 ? r->last : r->last / r->units_per_s * 1e9);
}

/* The first trial: autorange from 1, or the number given. */
static uint64_t begin(hone_run *r) {
  if (r->cfg.counters) {
    int rc = hone_counters_open(&r->counters); /* counts the thread that runs the loop */
    if (rc < 0) {
      fail(r, rc);
      return 0;
    }
  }
  if (r->cfg.number == 0) {
    r->phase = PHASE_AUTORANGE;
    r->decade = 1;
    r->number = 1;
  } else {
    r->phase = PHASE_TRIALS;
    r->number = r->cfg.number;
  }
  r->handed_out = true;
  return r->number;
}

/* Python's autorange: 1, 2, 5, 10, 20, 50, ... until a trial lasts the target. */
static uint64_t autorange_step(hone_run *r) {
  report(r, "autorange", r->step, 0);
  r->step++;
  if (r->last / r->units_per_s >= r->cfg.autorange_target) {
    r->found_number = r->number;
    r->found_elapsed = r->last;
    if (r->autorange_only) {
      r->phase = PHASE_DONE;
      return 0;
    }
    r->phase = PHASE_TRIALS;
    r->handed_out = true;
    return r->number;
  }
  static const uint64_t mult[] = {1, 2, 5};
  unsigned k = r->step % 3;
  if (k == 0) {
    if (r->decade > UINT64_MAX / 10) {
      fail(r, HONE_ERANGE);
      return 0;
    }
    r->decade *= 10;
  }
  if (r->decade > UINT64_MAX / mult[k]) {
    fail(r, HONE_ERANGE);
    return 0;
  }
  r->number = r->decade * mult[k];
  r->handed_out = true;
  return r->number;
}

static uint64_t trial_step(hone_run *r) {
  r->elapsed[r->trial] = r->last;
  r->machine[r->trial] = r->probe_last;
  r->cpus[r->trial] = r->cpu_last;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++)
    if (r->trial_counted[i]) {
      r->per_loop_sum[i] += (double)r->trial_counts[i] / (double)r->number;
      r->counted_trials[i]++;
    }
  report(r, "trial", r->trial, r->cfg.repeat);
  if (++r->trial == r->cfg.repeat) {
    r->phase = PHASE_DONE;
    return 0;
  }
  r->handed_out = true;
  return r->number;
}

uint64_t hone_run_next(hone_run *r) {
  if (!r) return 0;
  switch (r->phase) {
  case PHASE_START:
    return begin(r);
  case PHASE_AUTORANGE:
  case PHASE_TRIALS:
    /* The trial handed out last must have run (start, loop, stop) before the next one. */
    if (r->handed_out || r->running) {
      fail(r, HONE_ESTATE);
      return 0;
    }
    return r->phase == PHASE_AUTORANGE ? autorange_step(r) : trial_step(r);
  default:
    return 0;
  }
}

void hone_run_start(hone_run *r) {
  if (!r) return;
  if (!r->handed_out || r->running) {
    fail(r, HONE_ESTATE);
    return;
  }
  if (r->counters && hone_counters_start(r->counters) < 0) {
    fail(r, HONE_ESYS);
    return;
  }
  if (r->phase == PHASE_TRIALS) {
    if (r->cfg.reference && r->trial == 0)
      r->probed = hone_cpu_speed_probe(&r->probe_start) == 0;
    else if (r->probed)
      hone_cpu_speed_probe(&r->probe_start);
    r->cpu_start = sched_getcpu();
  }
  r->running = true;
  r->t0 = now(r); /* last, so that nothing of ours is timed */
}

void hone_run_stop(hone_run *r) {
  if (!r) return;
  int64_t t1 = now(r); /* first, for the same reason */
  if (!r->running) {
    fail(r, HONE_ESTATE);
    return;
  }
  r->running = false;
  r->handed_out = false;
  r->last = (double)(t1 - r->t0);
  if (r->counters) {
    if (hone_counters_stop(r->counters) < 0 ||
        hone_counters_read_counted(r->counters, r->trial_counts, r->trial_counted) < 0)
      fail(r, HONE_ESYS);
    if (r->counter_hook) r->counter_hook(r->counter_hook_arg, r->trial_counts, r->trial_counted);
  }
  if (r->phase == PHASE_TRIALS) {
    int cpu = sched_getcpu();
    r->cpu_last = cpu == r->cpu_start ? cpu : -1;
    hone_cpu_speed after = {0, 0};
    if (r->probed && hone_cpu_speed_probe(&after) == 0) {
      r->probe_last.clock_ghz = (r->probe_start.clock_ghz + after.clock_ghz) / 2;
      r->probe_last.core_share = (r->probe_start.core_share + after.core_share) / 2;
    }
  }
}

int hone_run_finish(hone_run *r, hone_result **out) {
  if (!r || !out) return HONE_EINVAL;
  *out = NULL;
  if (r->phase == PHASE_FAILED) return r->err;
  if (r->phase != PHASE_DONE || r->autorange_only) return HONE_ESTATE;
  hone_result *res = calloc(1, sizeof *res);
  if (!res) return HONE_ENOMEM;
  res->per_loop = calloc(r->cfg.repeat, sizeof *res->per_loop);
  if (!res->per_loop) {
    free(res);
    return HONE_ENOMEM;
  }
  res->number = r->number;
  res->trials = r->cfg.repeat;
  res->clock = r->cfg.clock;
  for (size_t i = 0; i < res->trials; i++) res->per_loop[i] = r->elapsed[i] / (double)r->number;
  res->cpus = malloc(res->trials * sizeof *res->cpus);
  if (r->probed) res->machine = malloc(res->trials * sizeof *res->machine);
  if (!res->cpus || (r->probed && !res->machine)) {
    hone_result_free(res);
    return HONE_ENOMEM;
  }
  memcpy(res->cpus, r->cpus, res->trials * sizeof *res->cpus);
  if (res->machine) memcpy(res->machine, r->machine, res->trials * sizeof *res->machine);
  int rc = hone_stats_compute(res->per_loop, res->trials, HONE_OUTLIER_TUKEY, &res->stats);
  if (rc < 0) {
    hone_result_free(res);
    return rc;
  }
  if (r->counters) {
    res->counted = true;
    for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
      res->available[i] =
          r->counter_hook != NULL || hone_counters_available(r->counters, (hone_counter_id)i);
      /* The average of the trials in which it ran; none: not counted (no figure, not 0). */
      res->ran[i] = res->available[i] && r->counted_trials[i] > 0;
      res->counters[i] = res->ran[i] ? r->per_loop_sum[i] / (double)r->counted_trials[i] : 0;
    }
    const char *note = hone_counters_note(r->counters);
    if (note) {
      res->has_note = true;
      snprintf(res->note, sizeof res->note, "%s", note);
    }
  }
  *out = res;
  return 0;
}

/* ---- Results ---- */

void hone_result_free(hone_result *r) {
  if (!r) return;
  free(r->per_loop);
  free(r->machine);
  free(r->cpus);
  free(r);
}

uint64_t hone_result_number(const hone_result *r) {
  return r ? r->number : 0;
}

size_t hone_result_trials(const hone_result *r) {
  return r ? r->trials : 0;
}

const double *hone_result_per_loop(const hone_result *r) {
  return r ? r->per_loop : NULL;
}

const hone_stats *hone_result_stats(const hone_result *r) {
  return r ? &r->stats : NULL;
}

hone_clock_id hone_result_clock(const hone_result *r) {
  return r ? r->clock : HONE_CLOCK_MONOTONIC;
}

int hone_result_counters(const hone_result *r, double values[HONE_COUNTER_COUNT],
                         bool available[HONE_COUNTER_COUNT], const char **note) {
  if (!r) return HONE_EINVAL;
  if (!r->counted) return HONE_ENOTSUP;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    if (values) values[i] = r->counters[i];
    if (available) available[i] = r->available[i];
  }
  if (note) *note = r->has_note ? r->note : NULL;
  return 0;
}

int hone_result_counters_counted(const hone_result *r, bool counted[HONE_COUNTER_COUNT]) {
  if (!r || !counted) return HONE_EINVAL;
  if (!r->counted) return HONE_ENOTSUP;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) counted[i] = r->ran[i];
  return 0;
}

int hone_result_machine(const hone_result *r, const hone_cpu_speed **speeds) {
  if (!r || !speeds) return HONE_EINVAL;
  *speeds = r->machine;
  return r->machine ? 0 : HONE_ENOTSUP;
}

const int *hone_result_cpus(const hone_result *r) {
  return r ? r->cpus : NULL;
}

/* ---- The Timer ---- */

struct hone_timer {
  hone_stmt_fn stmt;
  hone_loop_fn loop;
  void *arg;
  hone_fixture_fn setup, teardown;
  void *fixture_arg;
  hone_timing_config cfg;
  hone__clock_hook hook;
  void *hook_arg;
};

int hone_timer_new(hone_timer **out) {
  if (!out) return HONE_EINVAL;
  *out = calloc(1, sizeof **out);
  if (!*out) return HONE_ENOMEM;
  hone_timing_config_init(&(*out)->cfg);
  return 0;
}

void hone_timer_free(hone_timer *t) {
  free(t);
}

int hone_timer_set_stmt(hone_timer *t, hone_stmt_fn stmt, void *arg) {
  if (!t || !stmt) return HONE_EINVAL;
  t->stmt = stmt;
  t->loop = NULL;
  t->arg = arg;
  return 0;
}

int hone_timer_set_loop(hone_timer *t, hone_loop_fn loop, void *arg) {
  if (!t || !loop) return HONE_EINVAL;
  t->loop = loop;
  t->stmt = NULL;
  t->arg = arg;
  return 0;
}

int hone_timer_set_fixture(hone_timer *t, hone_fixture_fn setup, hone_fixture_fn teardown,
                           void *arg) {
  if (!t) return HONE_EINVAL;
  t->setup = setup;
  t->teardown = teardown;
  t->fixture_arg = arg;
  return 0;
}

int hone_timer_configure(hone_timer *t, const hone_timing_config *cfg) {
  if (!t || !cfg) return HONE_EINVAL;
  int rc = check_clock(cfg->clock);
  if (rc < 0) return rc;
  if (!(cfg->autorange_target >= 0 && isfinite(cfg->autorange_target))) return HONE_EINVAL;
  t->cfg.clock = cfg->clock;
  t->cfg.autorange_target = cfg->autorange_target;
  t->cfg.counters = cfg->counters;
  t->cfg.reference = cfg->reference;
  t->cfg.on_trial = cfg->on_trial;
  t->cfg.on_trial_arg = cfg->on_trial_arg;
  return 0;
}

int hone__timer_set_clock_hook(hone_timer *t, hone__clock_hook fn, void *arg) {
  if (!t) return HONE_EINVAL;
  t->hook = fn;
  t->hook_arg = arg;
  return 0;
}

/* Runs the driver to completion with the timer's statement and fixtures; *out is the finished
 * run (caller frees) whatever happened, so that its error or figures can be read. */
static int drive(hone_timer *t, unsigned repeat, uint64_t number, bool autorange_only,
                 hone_run **out) {
  *out = NULL;
  if (!t->stmt && !t->loop) return HONE_EINVAL;
  hone_timing_config cfg = t->cfg;
  cfg.repeat = repeat;
  cfg.number = number;
  hone_run *run;
  int rc = run_new(&cfg, autorange_only, &run);
  if (rc < 0) return rc;
  run->hook = t->hook;
  run->hook_arg = t->hook_arg;
  uint64_t n;
  while ((n = hone_run_next(run)) > 0) {
    if (t->setup && (rc = t->setup(t->fixture_arg)) < 0) {
      fail(run, rc);
      break;
    }
    if (t->loop) {
      hone_loop_fn loop = t->loop;
      void *arg = t->arg;
      hone_run_start(run);
      loop(arg, n);
      hone_run_stop(run);
    } else {
      /* One indirect call per iteration, nothing else: the function and its argument are
       * loaded once, outside the loop. */
      hone_stmt_fn stmt = t->stmt;
      void *arg = t->arg;
      hone_run_start(run);
      for (uint64_t i = 0; i < n; i++) stmt(arg);
      hone_run_stop(run);
    }
    if (t->teardown && (rc = t->teardown(t->fixture_arg)) < 0) {
      fail(run, rc);
      break;
    }
  }
  *out = run;
  return run->phase == PHASE_FAILED ? run->err : 0;
}

int hone_timer_timeit(hone_timer *t, uint64_t number, double *elapsed_ns) {
  if (!t || number == 0 || !elapsed_ns) return HONE_EINVAL;
  hone_run *run;
  int rc = drive(t, 1, number, false, &run);
  if (rc == 0) *elapsed_ns = run->elapsed[0];
  hone_run_free(run);
  return rc;
}

int hone_timer_autorange(hone_timer *t, uint64_t *number, double *elapsed_ns) {
  if (!t || !number || !elapsed_ns) return HONE_EINVAL;
  hone_run *run;
  int rc = drive(t, 1, 0, true, &run);
  if (rc == 0) {
    *number = run->found_number;
    *elapsed_ns = run->found_elapsed;
  }
  hone_run_free(run);
  return rc;
}

int hone_timer_repeat(hone_timer *t, unsigned repeat, uint64_t number, hone_result **out) {
  if (!t || repeat == 0 || !out) return HONE_EINVAL;
  *out = NULL;
  hone_run *run;
  int rc = drive(t, repeat, number, false, &run);
  if (rc == 0) rc = hone_run_finish(run, out);
  hone_run_free(run);
  return rc;
}
