/* test_estimate.c: the estimate of uninstrumented times (src/profile/report/estimate.c) on
 * synthetic trees whose true times are known: sampled threads whose hooks read no clock
 * ("sampled-untimed": ticks 0), their --raw figures (the samples as taken), the unsure mark from
 * the hooks' sampled cost per call, and a timed sampled thread for comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "profile/report/estimate.h"

#define P 1e-4 /* sample period, s */
#define NEAR(a, b) assert_true((a) > (b)-1e-12 && (a) < (b) + 1e-12)

/* main (1 call) -> cmp (1,000,000 calls), main -> work (1 call); ticks 0 (untimed). */
static const hone_prof_node untimed_nodes[] = {
    {.func = 0x100, .parent = HONE_PROF_NO_PARENT, .calls = 1},
    {.func = 0x200, .parent = 0, .calls = 1000000},
    {.func = 0x300, .parent = 0, .calls = 1},
};
static const uint32_t fid[] = {0, 1, 2};
/* 40 samples on main's node were taken at an address inside cmp (its prologue): moved to cmp by
 * the estimate, left on main by --raw. */
static const hone_prof_sample_pc pcs[] = {{.pc = 0x210, .node = 0, .count = 40}};
static const uint32_t pc_fid[] = {1};

typedef struct result {
  double self[3], total[3];
  uint8_t unsure[3];
  hone__estimate_summary sum;
} result;

static double g_scale; /* the next run()'s sample scale (0: none given) */

static void run(const hone_prof_node *nodes, const uint64_t *samples, uint64_t own, bool raw,
                bool untimed, result *r) {
  *r = (result){0};
  hone__estimate_in in = {.nodes = nodes,
                          .sample_scale = g_scale,
                          .n = 3,
                          .ticks_per_second = 1e9,
                          .raw = raw,
                          .untimed = untimed,
                          .samples_own = own,
                          .samples = samples,
                          .sample_period_s = P,
                          .fid = fid,
                          .pcs = pcs,
                          .npcs = 1,
                          .pc_fid = pc_fid};
  hone__estimate_out out = {r->self, r->total, r->unsure, &r->sum};
  assert_int_equal(hone__estimate_thread(&in, &out), 0);
}

/* The estimate of an untimed thread is its samples (moved by the pc records), whatever its 0
 * ticks say; the summary counts it as sampled and untimed. */
static void test_untimed_estimate(void **state) {
  (void)state;
  static const uint64_t samples[] = {100, 2, 500};
  result r;
  run(untimed_nodes, samples, 1000, false, true, &r);
  NEAR(r.self[0], 60 * P); /* 100 - 40 moved */
  NEAR(r.self[1], 42 * P);
  NEAR(r.self[2], 500 * P);
  NEAR(r.total[0], 602 * P);
  assert_int_equal(r.sum.sampled_threads, 1);
  assert_int_equal(r.sum.untimed_threads, 1);
  assert_int_equal(r.sum.samples, 602);
  assert_int_equal(r.sum.samples_moved, 40);
  assert_int_equal(r.unsure[0] | r.unsure[1] | r.unsure[2], 0); /* 42 samples: sure enough */
}

/* A sample scale (the part of each sampled period that was the program's, the rest the cost of
 * taking it) multiplies every estimated time, and the summary states it; --raw shows the samples
 * as taken, unscaled, and so does the estimate given no scale. */
static void test_sample_scale(void **state) {
  (void)state;
  static const uint64_t samples[] = {100, 2, 500};
  result r;
  g_scale = 0.75;
  run(untimed_nodes, samples, 1000, false, true, &r);
  NEAR(r.self[0], 60 * P * 0.75);
  NEAR(r.self[1], 42 * P * 0.75);
  NEAR(r.self[2], 500 * P * 0.75);
  NEAR(r.total[0], 602 * P * 0.75);
  NEAR(r.sum.sample_scale_min, 0.75);
  NEAR(r.sum.sample_scale_max, 0.75);
  assert_int_equal(r.unsure[0] | r.unsure[1] | r.unsure[2], 0); /* as unscaled: 42 samples */
  run(untimed_nodes, samples, 1000, true, true, &r);
  NEAR(r.self[0], 100 * P);
  NEAR(r.self[2], 500 * P);
  g_scale = 0;
  run(untimed_nodes, samples, 1000, false, true, &r);
  NEAR(r.self[2], 500 * P);
  NEAR(r.sum.sample_scale_max, 1);
}

/* --raw of an untimed thread: its samples as taken, nothing moved; not zeros. */
static void test_untimed_raw(void **state) {
  (void)state;
  static const uint64_t samples[] = {100, 2, 500};
  result r;
  run(untimed_nodes, samples, 1000, true, true, &r);
  NEAR(r.self[0], 100 * P);
  NEAR(r.self[1], 2 * P);
  NEAR(r.self[2], 500 * P);
  NEAR(r.total[0], 602 * P);
  assert_int_equal(r.sum.untimed_threads, 1);
  assert_int_equal(r.sum.sampled_threads, 0); /* --raw estimates nothing */
  /* The same samples in a timed thread's --raw: its ticks (here 0), not the samples. */
  run(untimed_nodes, samples, 1000, true, false, &r);
  NEAR(r.self[0], 0);
  NEAR(r.total[0], 0);
  assert_int_equal(r.sum.untimed_threads, 0);
}

/* Few samples on a node whose calls cost the hooks far more than its samples: unsure. The hooks'
 * cost per call is their samples over every call: 1000 samples / 1,000,002 calls, about 0.1 us,
 * so cmp's 1,000,000 calls cost ~0.1 s against its samples' 0.2 ms; work (1 call, 3 samples)
 * cost the hooks nothing to speak of: not unsure, though it has fewer than 4 samples too. */
static void test_untimed_unsure(void **state) {
  (void)state;
  result r;
  static const uint64_t few[] = {100, 2, 3}; /* no pc records: nothing moves */
  hone__estimate_in in = {.nodes = untimed_nodes,
                          .n = 3,
                          .ticks_per_second = 1e9,
                          .untimed = true,
                          .samples_own = 1000,
                          .samples = few,
                          .sample_period_s = P};
  hone__estimate_out out = {r.self, r.total, r.unsure, NULL};
  assert_int_equal(hone__estimate_thread(&in, &out), 0);
  assert_int_equal(r.unsure[0], 0);
  assert_int_equal(r.unsure[1], 1);
  assert_int_equal(r.unsure[2], 0);
  NEAR(r.self[1], 2 * P);
  /* No samples in the hooks: nothing to say the hooks' cost hid cmp's time. */
  in.samples_own = 0;
  assert_int_equal(hone__estimate_thread(&in, &out), 0);
  assert_int_equal(r.unsure[1], 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_untimed_estimate),
      cmocka_unit_test(test_sample_scale),
      cmocka_unit_test(test_untimed_raw),
      cmocka_unit_test(test_untimed_unsure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
