/* test_timeit.c: the Timer and the driver — Python's autorange sequence (on a clock the test
 * controls, so the numbers are exact), setup and teardown left out of the timing, repeat, the
 * counters, and bad arguments answered with errors.
 * HONE_TEST_CONCURRENCY: timers on distinct threads share nothing. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#include "hone/timeit.h"
#include "measure/measure.h"

/* ---- A clock that advances only when the statement says so ---- */

typedef struct {
  int64_t now;
  int64_t cost; /* per loop */
  int setups, teardowns;
  int64_t setup_cost; /* what a setup adds to the clock: must never show in the timing */
  int fail_setup_at, fail_teardown_at; /* 1-based call that fails, 0 = never */
} fake;

static int64_t fake_now(void *arg) {
  return ((fake *)arg)->now;
}
static void fake_stmt(void *arg) {
  fake *f = arg;
  f->now += f->cost;
}
static void fake_loop(void *arg, uint64_t n) {
  fake *f = arg;
  f->now += (int64_t)n * f->cost;
}
static int fake_setup(void *arg) {
  fake *f = arg;
  f->now += f->setup_cost;
  return ++f->setups == f->fail_setup_at ? HONE_EIO : 0;
}
static int fake_teardown(void *arg) {
  fake *f = arg;
  f->now += f->setup_cost;
  return ++f->teardowns == f->fail_teardown_at ? HONE_ECANCELED : 1;
}

typedef struct {
  int count;
  char phase[64][16];
  unsigned index[64], total[64];
  uint64_t number[64];
  double ns[64];
} trace;

static void on_trial(void *arg, const char *phase, unsigned index, unsigned total, uint64_t number,
                     double trial_ns) {
  trace *t = arg;
  if (t->count >= 64) return;
  snprintf(t->phase[t->count], sizeof t->phase[0], "%s", phase);
  t->index[t->count] = index;
  t->total[t->count] = total;
  t->number[t->count] = number;
  t->ns[t->count] = trial_ns;
  t->count++;
}

static hone_timer *fake_timer(fake *f, bool loop, double target, trace *tr) {
  hone_timer *t;
  assert_int_equal(hone_timer_new(&t), 0);
  if (loop)
    assert_int_equal(hone_timer_set_loop(t, fake_loop, f), 0);
  else
    assert_int_equal(hone_timer_set_stmt(t, fake_stmt, f), 0);
  assert_int_equal(hone_timer_set_fixture(t, fake_setup, fake_teardown, f), 0);
  assert_int_equal(hone__timer_set_clock_hook(t, fake_now, f), 0);
  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.autorange_target = target;
  cfg.on_trial = tr ? on_trial : NULL;
  cfg.on_trial_arg = tr;
  assert_int_equal(hone_timer_configure(t, &cfg), 0);
  return t;
}

static void test_config_defaults(void **state) {
  (void)state;
  hone_timing_config cfg;
  memset(&cfg, 0xff, sizeof cfg);
  hone_timing_config_init(&cfg);
  assert_int_equal(cfg.clock, HONE_CLOCK_MONOTONIC);
  assert_true(cfg.number == 0);
  assert_int_equal(cfg.repeat, 5);
  assert_true(cfg.autorange_target == 0.2);
  assert_false(cfg.counters);
  assert_true(cfg.reference);
  assert_null(cfg.on_trial);
  hone_timing_config_init(NULL);
}

/* Python: for i in 1, 10, 100, ...: for j in 1, 2, 5: number = i * j; if timeit(number) >= 0.2:
 * return number, time. Each case: cost per loop -> the number and time Python returns. */
static void test_autorange_numbers(void **state) {
  (void)state;
  static const struct {
    int64_t cost_ns;
    double target;
    uint64_t number;
    double elapsed_ns;
    int steps;
  } cases[] = {
      {1000000, 0.2, 200, 200e6, 8},    /* 1 ms: 1 2 5 10 20 50 100 200 (exactly 0.2 s) */
      {3000000, 0.2, 100, 300e6, 7},    /* 3 ms: 50 loops = 150 ms, 100 loops = 300 ms */
      {250000000, 0.2, 1, 250e6, 1},    /* 250 ms: one loop is enough */
      {999999, 0.2, 500, 499999500, 9}, /* just under 1 ms: 200 loops fall short */
      {1000, 0.001, 1000, 1e6, 10},     /* 1 us, target 1 ms */
      {7, 0.2, 50000000, 350e6, 24},    /* 7 ns: 20 million = 140 ms, 50 million = 350 ms */
      {5, 0, 1, 5, 1},                  /* target 0: the first trial always qualifies */
  };
  static const uint64_t seq[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    for (int loop = 0; loop <= 1; loop++) {
      if (!loop && cases[c].number > 10000) continue; /* a call per loop: keep it quick */
      fake f = {.cost = cases[c].cost_ns, .setup_cost = 123456789};
      trace tr = {0};
      hone_timer *t = fake_timer(&f, loop, cases[c].target, &tr);
      uint64_t number = 0;
      double elapsed = 0;
      assert_int_equal(hone_timer_autorange(t, &number, &elapsed), 0);
      assert_true(number == cases[c].number);
      assert_true(elapsed == cases[c].elapsed_ns);
      assert_int_equal(tr.count, cases[c].steps);
      assert_int_equal(f.setups, cases[c].steps); /* setup and teardown around every trial */
      assert_int_equal(f.teardowns, cases[c].steps);
      for (int i = 0; i < tr.count; i++) {
        assert_string_equal(tr.phase[i], "autorange");
        assert_int_equal(tr.index[i], i);
        assert_int_equal(tr.total[i], 0);
        if (i < 10) assert_true(tr.number[i] == seq[i]);
        assert_true(tr.ns[i] == (double)tr.number[i] * (double)cases[c].cost_ns);
      }
      hone_timer_free(t);
    }
  }
}

static void test_repeat_after_autorange(void **state) {
  (void)state;
  fake f = {.cost = 3000000, .setup_cost = 50000000};
  trace tr = {0};
  hone_timer *t = fake_timer(&f, false, 0.2, &tr);
  hone_result *r = NULL;
  assert_int_equal(hone_timer_repeat(t, 3, 0, &r), 0);
  assert_true(hone_result_number(r) == 100);
  assert_int_equal(hone_result_trials(r), 3);
  assert_int_equal(hone_result_clock(r), HONE_CLOCK_MONOTONIC);
  /* Setups that add 50 ms each leave every trial at exactly 3 ms per loop. */
  const double *per = hone_result_per_loop(r);
  for (int i = 0; i < 3; i++) assert_true(per[i] == 3e6);
  const hone_stats *st = hone_result_stats(r);
  assert_int_equal(st->n, 3);
  assert_true(st->mean == 3e6 && st->min == 3e6 && st->stdev == 0);
  assert_int_equal(st->outlier_rule, HONE_OUTLIER_TUKEY);
  /* 7 autorange trials, then the 3 of the result. */
  assert_int_equal(tr.count, 10);
  for (int i = 7; i < 10; i++) {
    assert_string_equal(tr.phase[i], "trial");
    assert_int_equal(tr.index[i], i - 7);
    assert_int_equal(tr.total[i], 3);
    assert_true(tr.number[i] == 100);
    assert_true(tr.ns[i] == 300e6);
  }
  assert_int_equal(f.setups, 10);
  assert_int_equal(hone_result_counters(r, NULL, NULL, NULL), HONE_ENOTSUP);
  hone_result_free(r);

  /* A number given: no autorange. */
  tr.count = 0;
  f.setups = 0;
  assert_int_equal(hone_timer_repeat(t, 4, 7, &r), 0);
  assert_true(hone_result_number(r) == 7);
  assert_int_equal(hone_result_trials(r), 4);
  assert_int_equal(tr.count, 4);
  assert_string_equal(tr.phase[0], "trial");
  assert_int_equal(f.setups, 4);
  hone_result_free(r);

  double elapsed;
  f.setups = 0;
  assert_int_equal(hone_timer_timeit(t, 10, &elapsed), 0);
  assert_true(elapsed == 30e6);
  assert_int_equal(f.setups, 1);
  hone_timer_free(t);
}

static void test_fixture_errors_stop_the_measurement(void **state) {
  (void)state;
  fake f = {.cost = 1000, .fail_setup_at = 2};
  hone_timer *t = fake_timer(&f, true, 0.2, NULL);
  hone_result *r = (hone_result *)&f; /* must be reset to NULL */
  assert_int_equal(hone_timer_repeat(t, 3, 10, &r), HONE_EIO);
  assert_null(r);
  assert_int_equal(f.setups, 2);
  assert_int_equal(f.teardowns, 1); /* no teardown for a trial whose setup failed */

  fake g = {.cost = 1000, .fail_teardown_at = 3};
  hone_timer *u = fake_timer(&g, true, 0.2, NULL);
  uint64_t number;
  double elapsed;
  assert_int_equal(hone_timer_autorange(u, &number, &elapsed), HONE_ECANCELED);
  assert_int_equal(g.setups, 3);
  hone_timer_free(t);
  hone_timer_free(u);
}

/* The driver directly, as a generated snippet would use it. */
static void test_driver(void **state) {
  (void)state;
  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.repeat = 2;
  hone_run *run;
  assert_int_equal(hone_run_new(&cfg, &run), 0);
  fake f = {.cost = 40000000};
  assert_int_equal(hone__run_set_clock_hook(run, fake_now, &f), 0);
  static const uint64_t expect[] = {1, 2, 5, 5, 5}; /* 40, 80, 200 ms: then 2 trials of 5 */
  int i = 0;
  uint64_t n;
  while ((n = hone_run_next(run)) > 0) {
    assert_true(i < 5);
    assert_true(n == expect[i++]);
    hone_run_start(run);
    for (uint64_t k = 0; k < n; k++) fake_stmt(&f);
    hone_run_stop(run);
  }
  assert_int_equal(i, 5);
  assert_true(hone_run_next(run) == 0);
  assert_int_equal(hone__run_set_clock_hook(run, NULL, NULL), HONE_EINVAL); /* too late */
  hone_result *r;
  assert_int_equal(hone_run_finish(run, &r), 0);
  assert_true(hone_result_number(r) == 5);
  assert_true(hone_result_per_loop(r)[0] == 40e6 && hone_result_per_loop(r)[1] == 40e6);
  hone_result_free(r);
  hone_run_free(run);
}

/* The probe runs beside every trial (not autorange's) and reads the machine's real speed: a clock
 * of 0.3 to 10 GHz, a core share in (0, 1]. The CPUs are real ones (or -1: moved). Turned off,
 * there is no probe. Pinning to the fastest CPU leaves the thread on one CPU it was allowed. */
static void test_machine_beside_trials(void **state) {
  (void)state;
  for (int on = 0; on <= 1; on++) {
    hone_timing_config cfg;
    hone_timing_config_init(&cfg);
    cfg.repeat = 3;
    cfg.number = 1000;
    cfg.reference = on;
    hone_run *run;
    assert_int_equal(hone_run_new(&cfg, &run), 0);
    uint64_t n;
    volatile unsigned x = 1;
    while ((n = hone_run_next(run)) > 0) {
      hone_run_start(run);
      for (uint64_t k = 0; k < n; k++) x = x * 3 + 1;
      hone_run_stop(run);
    }
    hone_result *r;
    assert_int_equal(hone_run_finish(run, &r), 0);
    const hone_cpu_speed *m = NULL;
    const int *cpus = hone_result_cpus(r);
    assert_non_null(cpus);
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    for (int i = 0; i < 3; i++) assert_true(cpus[i] >= -1 && cpus[i] < ncpu);
#if defined(__x86_64__)
    if (!on) {
      assert_int_equal(hone_result_machine(r, &m), HONE_ENOTSUP);
      assert_null(m);
    } else {
      assert_int_equal(hone_result_machine(r, &m), 0);
      for (int i = 0; i < 3; i++)
        if (!(m[i].clock_ghz > 0.3 && m[i].clock_ghz < 10 && m[i].core_share > 0 &&
              m[i].core_share <= 1))
          fail_msg("trial %d: %g GHz, core share %g", i, m[i].clock_ghz, m[i].core_share);
    }
#else
    assert_int_equal(hone_result_machine(r, &m), HONE_ENOTSUP);
#endif
    assert_int_equal(hone_result_machine(NULL, &m), HONE_EINVAL);
    assert_null(hone_result_cpus(NULL));
    hone_result_free(r);
    hone_run_free(run);
  }
#if defined(__x86_64__)
  cpu_set_t before, after;
  assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
  hone_cpu_speed speeds[CPU_SETSIZE];
  int cpu = -2;
  assert_int_equal(hone_cpu_pin_fastest(&cpu, speeds, CPU_SETSIZE), 0);
  assert_true(cpu >= 0 && CPU_ISSET(cpu, &before));
  assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
  assert_int_equal(CPU_COUNT(&after), 1);
  assert_true(CPU_ISSET(cpu, &after));
  assert_true(speeds[cpu].clock_ghz > 0.3);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &before) && speeds[c].core_share > speeds[cpu].core_share * 1.02)
      fail_msg("CPU %d (share %g) beat the chosen %d (%g)", c, speeds[c].core_share, cpu,
               speeds[cpu].core_share);
  assert_int_equal(sched_setaffinity(0, sizeof before, &before), 0);
#endif
}

static void test_driver_misuse(void **state) {
  (void)state;
  hone_run *run;
  hone_result *r;
  /* finish before the end */
  assert_int_equal(hone_run_new(NULL, &run), 0);
  assert_true(hone_run_next(run) == 1);
  assert_int_equal(hone_run_finish(run, &r), HONE_ESTATE);
  /* next without running the trial */
  assert_true(hone_run_next(run) == 0);
  assert_int_equal(hone_run_finish(run, &r), HONE_ESTATE);
  assert_null(r);
  hone_run_free(run);
  /* stop without start, start twice */
  assert_int_equal(hone_run_new(NULL, &run), 0);
  hone_run_stop(run);
  assert_true(hone_run_next(run) == 0);
  assert_int_equal(hone_run_finish(run, &r), HONE_ESTATE);
  hone_run_free(run);
  assert_int_equal(hone_run_new(NULL, &run), 0);
  assert_true(hone_run_next(run) == 1);
  hone_run_start(run);
  hone_run_start(run);
  hone_run_stop(run);
  assert_true(hone_run_next(run) == 0);
  assert_int_equal(hone_run_finish(run, &r), HONE_ESTATE);
  hone_run_free(run);
  /* NULL runs are ignored */
  assert_true(hone_run_next(NULL) == 0);
  hone_run_start(NULL);
  hone_run_stop(NULL);
  hone_run_free(NULL);
  assert_int_equal(hone_run_finish(NULL, &r), HONE_EINVAL);
}

/* A clock that never advances: autorange runs out of numbers instead of looping forever. */
static void test_autorange_gives_up(void **state) {
  (void)state;
  fake f = {.cost = 0};
  hone_timer *t = fake_timer(&f, true, 0.2, NULL);
  uint64_t number;
  double elapsed;
  assert_int_equal(hone_timer_autorange(t, &number, &elapsed), HONE_ERANGE);
  hone_timer_free(t);
}

static void test_bad_arguments(void **state) {
  (void)state;
  assert_int_equal(hone_timer_new(NULL), HONE_EINVAL);
  hone_timer *t;
  assert_int_equal(hone_timer_new(&t), 0);
  hone_result *r;
  double e;
  uint64_t n;
  /* no statement yet */
  assert_int_equal(hone_timer_repeat(t, 3, 10, &r), HONE_EINVAL);
  assert_int_equal(hone_timer_timeit(t, 10, &e), HONE_EINVAL);
  assert_int_equal(hone_timer_autorange(t, &n, &e), HONE_EINVAL);
  assert_int_equal(hone_timer_set_stmt(t, NULL, NULL), HONE_EINVAL);
  assert_int_equal(hone_timer_set_loop(t, NULL, NULL), HONE_EINVAL);
  assert_int_equal(hone_timer_set_stmt(NULL, fake_stmt, NULL), HONE_EINVAL);
  assert_int_equal(hone_timer_set_fixture(NULL, NULL, NULL, NULL), HONE_EINVAL);
  fake f = {.cost = 1};
  assert_int_equal(hone_timer_set_stmt(t, fake_stmt, &f), 0);
  assert_int_equal(hone_timer_repeat(t, 0, 10, &r), HONE_EINVAL);
  assert_int_equal(hone_timer_repeat(t, 3, 10, NULL), HONE_EINVAL);
  assert_int_equal(hone_timer_repeat(NULL, 3, 10, &r), HONE_EINVAL);
  assert_int_equal(hone_timer_timeit(t, 0, &e), HONE_EINVAL);
  assert_int_equal(hone_timer_timeit(t, 10, NULL), HONE_EINVAL);
  assert_int_equal(hone_timer_autorange(t, NULL, &e), HONE_EINVAL);
  assert_int_equal(hone_timer_autorange(t, &n, NULL), HONE_EINVAL);

  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  assert_int_equal(hone_timer_configure(t, NULL), HONE_EINVAL);
  assert_int_equal(hone_timer_configure(NULL, &cfg), HONE_EINVAL);
  cfg.clock = (hone_clock_id)HONE_CLOCK_COUNT;
  assert_int_equal(hone_timer_configure(t, &cfg), HONE_EINVAL);
  cfg.clock = (hone_clock_id)-1;
  assert_int_equal(hone_timer_configure(t, &cfg), HONE_EINVAL);
  hone_timing_config_init(&cfg);
  cfg.autorange_target = NAN;
  assert_int_equal(hone_timer_configure(t, &cfg), HONE_EINVAL);
  cfg.autorange_target = -1;
  assert_int_equal(hone_timer_configure(t, &cfg), HONE_EINVAL);
  hone_timer_free(t);
  hone_timer_free(NULL);

  hone_run *run;
  assert_int_equal(hone_run_new(NULL, NULL), HONE_EINVAL);
  hone_timing_config_init(&cfg);
  cfg.repeat = 0;
  assert_int_equal(hone_run_new(&cfg, &run), HONE_EINVAL);
  hone_timing_config_init(&cfg);
  cfg.clock = (hone_clock_id)42;
  assert_int_equal(hone_run_new(&cfg, &run), HONE_EINVAL);
  hone_timing_config_init(&cfg);
  cfg.autorange_target = NAN;
  assert_int_equal(hone_run_new(&cfg, &run), HONE_EINVAL);
  cfg.number = 10; /* no autorange: the target does not matter */
  assert_int_equal(hone_run_new(&cfg, &run), 0);
  hone_run_free(run);

  /* Results: NULL is answered, not dereferenced. */
  hone_result_free(NULL);
  assert_true(hone_result_number(NULL) == 0);
  assert_int_equal(hone_result_trials(NULL), 0);
  assert_null(hone_result_per_loop(NULL));
  assert_null(hone_result_stats(NULL));
  assert_int_equal(hone_result_counters(NULL, NULL, NULL, NULL), HONE_EINVAL);
}

/* ---- The real clocks ---- */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static int sleepy_fixture(void *arg) {
  (void)arg;
  sleep_ms(50);
  return 0;
}

static void small_work(void *arg, uint64_t n) {
  uint64_t x = (uintptr_t)arg;
  for (uint64_t i = 0; i < n; i++) {
    x = (x ^ (x >> 13)) * 2654435761u;
    hone_do_not_optimize(x);
  }
}

/* Setup and teardown that sleep 50 ms each leave the timing as it was. */
static void test_setup_teardown_untimed(void **state) {
  (void)state;
  hone_timer *t;
  assert_int_equal(hone_timer_new(&t), 0);
  assert_int_equal(hone_timer_set_loop(t, small_work, (void *)(uintptr_t)7), 0);
  double plain, with;
  assert_int_equal(hone_timer_timeit(t, 1000, &plain), 0);
  assert_int_equal(hone_timer_set_fixture(t, sleepy_fixture, sleepy_fixture, NULL), 0);
  int64_t t0 = hone_clock_monotonic_ns();
  assert_int_equal(hone_timer_timeit(t, 1000, &with), 0);
  int64_t wall = hone_clock_monotonic_ns() - t0;
  assert_true(wall >= 100000000); /* the fixtures did run */
  assert_true(with < 40e6);       /* 1000 tiny loops, not 50 ms of sleep (or 100) */
  assert_true(plain < 40e6);
  hone_result *r;
  assert_int_equal(hone_timer_repeat(t, 2, 1000, &r), 0);
  assert_true(hone_result_stats(r)->max < 40e3); /* per loop, ns: under 40 ms per trial */
  hone_result_free(r);
  hone_timer_free(t);
}

static void sleep_2ms(void *arg) {
  (void)arg;
  sleep_ms(2);
}

static void test_real_clocks(void **state) {
  (void)state;
  hone_timer *t;
  assert_int_equal(hone_timer_new(&t), 0);
  assert_int_equal(hone_timer_set_stmt(t, sleep_2ms, NULL), 0);
  hone_result *r;
  assert_int_equal(hone_timer_repeat(t, 2, 3, &r), 0);
  assert_true(hone_result_stats(r)->min >= 2e6 && hone_result_stats(r)->max < 1e9);
  hone_result_free(r);

  /* On a CPU-time clock, sleeping costs (nearly) nothing. */
  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.clock = HONE_CLOCK_THREAD_CPU;
  assert_int_equal(hone_timer_configure(t, &cfg), 0);
  assert_int_equal(hone_timer_repeat(t, 2, 3, &r), 0);
  assert_int_equal(hone_result_clock(r), HONE_CLOCK_THREAD_CPU);
  assert_true(hone_result_stats(r)->max < 1e6);
  hone_result_free(r);

  /* The cycle counter counts ticks: 2 ms of sleep is about 2 ms worth of them. */
  cfg.clock = HONE_CLOCK_CYCLES;
  if (hone_timer_configure(t, &cfg) == 0) {
    assert_int_equal(hone_timer_repeat(t, 2, 3, &r), 0);
    assert_true(hone_result_stats(r)->min >= 1.9e-3 * hone_cycles_per_second());
    hone_result_free(r);
    /* autorange on cycles still aims at 0.2 s (here a target of 5 ms: 1 2 5 loops = 10 ms) */
    cfg.autorange_target = 0.005;
    assert_int_equal(hone_timer_configure(t, &cfg), 0);
    uint64_t n;
    double e;
    assert_int_equal(hone_timer_autorange(t, &n, &e), 0);
    assert_true(n <= 5 && n >= 1);
  }
  hone_timer_free(t);
}

static void spin_cpu_1ms(void *arg) {
  (void)arg;
  int64_t t0, t;
  assert_int_equal(hone_clock_read(HONE_CLOCK_THREAD_CPU, &t0), 0);
  do {
    assert_int_equal(hone_clock_read(HONE_CLOCK_THREAD_CPU, &t), 0);
  } while (t - t0 < 1000000);
}

static void test_counters(void **state) {
  (void)state;
  hone_timer *t;
  assert_int_equal(hone_timer_new(&t), 0);
  assert_int_equal(hone_timer_set_stmt(t, spin_cpu_1ms, NULL), 0);
  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.counters = true;
  assert_int_equal(hone_timer_configure(t, &cfg), 0);
  hone_result *r;
  assert_int_equal(hone_timer_repeat(t, 2, 5, &r), 0);
  double v[HONE_COUNTER_COUNT];
  bool avail[HONE_COUNTER_COUNT];
  const char *note = "unset";
  assert_int_equal(hone_result_counters(r, v, avail, &note), 0);
  bool all = true;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    all = all && avail[i];
    if (!avail[i]) assert_true(v[i] == 0);
  }
  if (all)
    assert_null(note);
  else
    assert_non_null(note);
  if (avail[HONE_COUNTER_TASK_CLOCK]) /* per loop: at least the 1 ms of CPU each loop spins */
    assert_true(v[HONE_COUNTER_TASK_CLOCK] >= 0.9e6 && v[HONE_COUNTER_TASK_CLOCK] < 1e9);
  if (avail[HONE_COUNTER_INSTRUCTIONS]) assert_true(v[HONE_COUNTER_INSTRUCTIONS] > 1000);
  hone_result_free(r);
  hone_timer_free(t);
}

/* ---- Distinct timers on distinct threads ---- */

static void *threaded(void *arg) {
  fake *f = arg;
  hone_timer *t;
  if (hone_timer_new(&t) != 0) return NULL;
  hone_result *r = NULL;
  if (hone_timer_set_loop(t, fake_loop, f) == 0 &&
      hone__timer_set_clock_hook(t, fake_now, f) == 0 && hone_timer_repeat(t, 3, 0, &r) == 0)
    f->setups = (int)hone_result_number(r);
  hone_result_free(r);
  hone_timer_free(t);
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  fake f[4] = {{.cost = 1000000}, {.cost = 3000000}, {.cost = 250000000}, {.cost = 7}};
  pthread_t th[4];
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, threaded, &f[i]), 0);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  assert_int_equal(f[0].setups, 200);
  assert_int_equal(f[1].setups, 100);
  assert_int_equal(f[2].setups, 1);
  assert_int_equal(f[3].setups, 50000000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_defaults),
      cmocka_unit_test(test_autorange_numbers),
      cmocka_unit_test(test_repeat_after_autorange),
      cmocka_unit_test(test_fixture_errors_stop_the_measurement),
      cmocka_unit_test(test_driver),
      cmocka_unit_test(test_machine_beside_trials),
      cmocka_unit_test(test_driver_misuse),
      cmocka_unit_test(test_autorange_gives_up),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_setup_teardown_untimed),
      cmocka_unit_test(test_real_clocks),
      cmocka_unit_test(test_counters),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
