/* test_clock.c: the clocks — names, arguments, what each one counts, and monotonic clocks that
 * never go back, within one thread and from one thread to another.
 * HONE_TEST_CONCURRENCY: also run under ThreadSanitizer. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hone/clock.h"
#include "measure/measure.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static void test_names(void **state) {
  (void)state;
  static const char *names[] = {"wall", "monotonic", "process", "thread", "cycles"};
  for (int i = 0; i < HONE_CLOCK_COUNT; i++) {
    hone_clock_id id;
    assert_int_equal(hone_clock_from_name(names[i], &id), 0);
    assert_int_equal(id, i);
    assert_string_equal(hone_clock_name(id), names[i]);
  }
  hone_clock_id id;
  assert_int_equal(hone_clock_from_name("sundial", &id), HONE_EINVAL);
  assert_int_equal(hone_clock_from_name("", &id), HONE_EINVAL);
  assert_int_equal(hone_clock_from_name(NULL, &id), HONE_EINVAL);
  assert_int_equal(hone_clock_from_name("wall", NULL), HONE_EINVAL);
  assert_null(hone_clock_name((hone_clock_id)HONE_CLOCK_COUNT));
  assert_null(hone_clock_name((hone_clock_id)-1));
}

static void test_bad_arguments(void **state) {
  (void)state;
  int64_t v = 42;
  assert_int_equal(hone_clock_read((hone_clock_id)HONE_CLOCK_COUNT, &v), HONE_EINVAL);
  assert_int_equal(hone_clock_read((hone_clock_id)-3, &v), HONE_EINVAL);
  assert_int_equal(v, 42);
  assert_int_equal(hone_clock_read(HONE_CLOCK_MONOTONIC, NULL), HONE_EINVAL);
  hone_clock_info info;
  assert_int_equal(hone_clock_info_get((hone_clock_id)99, &info), HONE_EINVAL);
  assert_int_equal(hone_clock_info_get(HONE_CLOCK_WALL, NULL), HONE_EINVAL);
}

static void test_reads_and_info(void **state) {
  (void)state;
  for (int i = 0; i < HONE_CLOCK_COUNT; i++) {
    hone_clock_info info;
    assert_int_equal(hone_clock_info_get((hone_clock_id)i, &info), 0);
    assert_int_equal(info.id, i);
    assert_string_equal(info.name, hone_clock_name((hone_clock_id)i));
    assert_non_null(info.source);
    assert_non_null(info.description);
    int64_t v;
    int rc = hone_clock_read((hone_clock_id)i, &v);
    if (!info.available) {
      assert_int_equal(rc, HONE_ENOTSUP);
      assert_true(info.cost_ns == 0 && info.frequency_hz == 0);
      continue;
    }
    assert_int_equal(rc, 0);
    assert_true(v > 0);
    assert_true(info.resolution_ns > 0 && info.resolution_ns < 1e7);
    assert_true(info.cost_ns > 0 && info.cost_ns < 1e6);
    if (i == HONE_CLOCK_CYCLES) {
      assert_string_equal(info.unit, "cycles");
      assert_true(info.frequency_hz > 1e6 && info.frequency_hz < 1e11);
      assert_true(info.frequency_hz == hone_cycles_per_second());
    } else {
      assert_string_equal(info.unit, "ns");
      assert_true(info.frequency_hz == 1e9);
    }
  }
  hone_clock_info info;
  assert_int_equal(hone_clock_info_get(HONE_CLOCK_WALL, &info), 0);
  assert_false(info.monotonic);
  assert_true(info.counts_sleep);
  assert_int_equal(hone_clock_info_get(HONE_CLOCK_MONOTONIC, &info), 0);
  assert_true(info.monotonic && info.counts_sleep && !info.cpu_time);
  assert_int_equal(hone_clock_info_get(HONE_CLOCK_PROCESS_CPU, &info), 0);
  assert_true(info.cpu_time && !info.counts_sleep);
  assert_int_equal(hone_clock_info_get(HONE_CLOCK_THREAD_CPU, &info), 0);
  assert_true(info.cpu_time && !info.counts_sleep);

  /* The wall clock is the Epoch's: after 2020-01-01. */
  int64_t wall;
  assert_int_equal(hone_clock_read(HONE_CLOCK_WALL, &wall), 0);
  assert_true(wall > 1577836800LL * 1000000000LL);
}

/* time.clock vs time.time, the lecture's contrast: sleeping costs no CPU time. */
static void test_cpu_time_ignores_sleep(void **state) {
  (void)state;
  int64_t w0, w1, p0, p1, t0, t1;
  assert_int_equal(hone_clock_read(HONE_CLOCK_WALL, &w0), 0);
  assert_int_equal(hone_clock_read(HONE_CLOCK_PROCESS_CPU, &p0), 0);
  assert_int_equal(hone_clock_read(HONE_CLOCK_THREAD_CPU, &t0), 0);
  int64_t m0 = hone_clock_monotonic_ns();
  sleep_ms(100);
  int64_t m1 = hone_clock_monotonic_ns();
  assert_int_equal(hone_clock_read(HONE_CLOCK_WALL, &w1), 0);
  assert_int_equal(hone_clock_read(HONE_CLOCK_PROCESS_CPU, &p1), 0);
  assert_int_equal(hone_clock_read(HONE_CLOCK_THREAD_CPU, &t1), 0);
  assert_true(m1 - m0 >= 100000000);
  assert_true(w1 - w0 >= 99000000); /* the wall clock may be slewed by NTP */
  assert_true(p1 - p0 >= 0 && p1 - p0 < 10000000);
  assert_true(t1 - t0 >= 0 && t1 - t0 < 10000000);

  /* And working does: spinning gathers 5 ms of this thread's CPU time (within 10 s even on a
   * crowded machine), which the process's clock counts too. */
  assert_int_equal(hone_clock_read(HONE_CLOCK_PROCESS_CPU, &p0), 0); /* around the thread's */
  assert_int_equal(hone_clock_read(HONE_CLOCK_THREAD_CPU, &t0), 0);
  int64_t give_up = hone_clock_monotonic_ns() + 10000000000LL;
  do {
    assert_int_equal(hone_clock_read(HONE_CLOCK_THREAD_CPU, &t1), 0);
  } while (t1 - t0 < 5000000 && hone_clock_monotonic_ns() < give_up);
  assert_int_equal(hone_clock_read(HONE_CLOCK_PROCESS_CPU, &p1), 0);
  assert_true(t1 - t0 >= 5000000);
  assert_true(p1 - p0 >= t1 - t0);
}

/* A cycle count and a monotonic time read together: the counter on both sides of the clock,
 * retried while something (another process) came in between. */
static void pair(double hz, double *cycles, double *ns) {
  for (int tries = 0;; tries++) {
    uint64_t a = hone_clock_cycles();
    int64_t t = hone_clock_monotonic_ns();
    uint64_t b = hone_clock_cycles();
    if ((double)(b - a) < 20e-6 * hz || tries == 1000) {
      *cycles = (double)a + (double)(b - a) / 2;
      *ns = (double)t;
      return;
    }
  }
}

static void test_cycles_track_monotonic(void **state) {
  (void)state;
  hone_clock_info info;
  assert_int_equal(hone_clock_info_get(HONE_CLOCK_CYCLES, &info), 0);
  if (!info.available || !info.invariant) skip();
  double c0, m0, c1, m1;
  pair(info.frequency_hz, &c0, &m0);
  sleep_ms(50);
  pair(info.frequency_hz, &c1, &m1);
  double by_cycles = (c1 - c0) / info.frequency_hz * 1e9;
  double by_clock = m1 - m0;
  assert_true(fabs(by_cycles - by_clock) < 0.05 * by_clock);
}

/* ---- Never back, across threads ---- */

enum { THREADS = 4, READS = 20000 };

typedef struct {
  hone_clock_id id;
  _Atomic int64_t latest; /* the largest reading any thread has published */
  atomic_int failures;
} race;

static void *reader(void *arg) {
  race *r = arg;
  int64_t prev = INT64_MIN;
  for (int i = 0; i < READS; i++) {
    /* A reading published by another thread happened before our read: ours may not be smaller. */
    int64_t seen = atomic_load_explicit(&r->latest, memory_order_acquire);
    int64_t now;
    if (hone_clock_read(r->id, &now) != 0 || now < prev || now < seen)
      atomic_fetch_add_explicit(&r->failures, 1, memory_order_relaxed);
    prev = now;
    while (seen < now && !atomic_compare_exchange_weak_explicit(
                             &r->latest, &seen, now, memory_order_release, memory_order_acquire)) {
    }
  }
  return NULL;
}

static void never_back(hone_clock_id id, int nthreads) {
  race r = {.id = id};
  atomic_init(&r.latest, INT64_MIN);
  atomic_init(&r.failures, 0);
  pthread_t th[THREADS];
  for (int i = 0; i < nthreads; i++) assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  assert_int_equal(atomic_load(&r.failures), 0);
}

static void test_monotonic_never_goes_back(void **state) {
  (void)state;
  never_back(HONE_CLOCK_MONOTONIC, THREADS);
  hone_clock_info info;
  assert_int_equal(hone_clock_info_get(HONE_CLOCK_CYCLES, &info), 0);
  if (info.available && info.monotonic) never_back(HONE_CLOCK_CYCLES, THREADS);
  /* CPU-time clocks never go back for the one thread that reads them. */
  never_back(HONE_CLOCK_THREAD_CPU, 1);
  never_back(HONE_CLOCK_PROCESS_CPU, 1);
  /* The fast readers agree with the checked one. */
  int64_t a = hone_clock_monotonic_ns(), b;
  assert_int_equal(hone_clock_read(HONE_CLOCK_MONOTONIC, &b), 0);
  assert_true(b >= a);
}

static void *calibrate(void *arg) {
  *(double *)arg = hone_cycles_per_second();
  return NULL;
}

/* The first calibration may be asked for by several threads at once; all get the one value. */
/* The cycle counter's granularity is the GCD of the steps between reads, not the smallest step:
 * a counter ticking by 1, read every ~50 ticks, has granularity 1; one moving in jumps of 26
 * shows multiples of 26 only. */
static void test_steps_gcd(void **state) {
  (void)state;
  const uint64_t fine[] = {1000, 1049, 1101, 1150, 1198, 1251};
  assert_int_equal(hone__steps_gcd(fine, 6), 1);
  const uint64_t coarse[] = {2600, 2652, 2678, 2756, 2756, 2808};
  assert_int_equal(hone__steps_gcd(coarse, 6), 26);
  const uint64_t stuck[] = {5, 5, 5};
  assert_int_equal(hone__steps_gcd(stuck, 3), 0);
  const uint64_t back[] = {100, 90, 116, 142};
  assert_int_equal(hone__steps_gcd(back, 4), 26);
  assert_int_equal(hone__steps_gcd(fine, 1), 0);
}

static void test_calibration_once(void **state) {
  (void)state;
  pthread_t th[THREADS];
  double hz[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, calibrate, &hz[i]), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 1; i < THREADS; i++) assert_true(hz[i] == hz[0]);
  assert_true(hz[0] == hone_cycles_per_second());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_steps_gcd),
      cmocka_unit_test(test_calibration_once),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_reads_and_info),
      cmocka_unit_test(test_cpu_time_ignores_sleep),
      cmocka_unit_test(test_cycles_track_monotonic),
      cmocka_unit_test(test_monotonic_never_goes_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
