/* test_report_agg.c: the report's pstats figures from calling-context trees (libhone's
 * src/profile/report/agg.c, with the times from estimate.c) — primitive calls and cumulative time
 * under direct and mutual recursion, a function with two callers, per-edge figures, threads
 * adding up, the removal of the profiler's cost, malformed trees, deep trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "report/agg.h"
#include "report/estimate.h"

#define NP HONE_PROF_NO_PARENT
/* How a thread's ticks become seconds, and the calibrated cost (in ticks) to remove. */
typedef struct cost {
  double ticks_per_second, inner, outer;
  bool raw;
} cost;
static const cost raw = {.ticks_per_second = 1.0, .raw = true};

/* The corrected exclusive and inclusive times of every node, in seconds. */
static int correct(const hone_prof_node *nodes, size_t n, const cost *c, double *excl,
                   double *incl) {
  uint8_t *unsure = malloc(n ? n : 1);
  if (!unsure) return HONE_ENOMEM;
  hone__estimate_in in = {.nodes = nodes,
                          .n = n,
                          .ticks_per_second = c->ticks_per_second,
                          .inner = c->inner,
                          .outer = c->outer,
                          .raw = c->raw};
  hone__estimate_out out = {excl, incl, unsure, NULL};
  int rc = hone__estimate_thread(&in, &out);
  /* As measured, nothing is unsure (the flags of corrected times: test_report_estimate.c). */
  for (size_t i = 0; !rc && c->raw && i < n; i++) assert_int_equal(unsure[i], 0);
  free(unsure);
  return rc;
}

/* One thread's tree added as the report adds it: estimated, then aggregated. */
static int add_thread(hone__pa *a, const hone_prof_node *nodes, size_t n, const uint32_t *fid,
                      const cost *c) {
  double *excl = malloc((n ? n : 1) * sizeof *excl), *incl = malloc((n ? n : 1) * sizeof *incl);
  assert_non_null(excl);
  assert_non_null(incl);
  int rc = correct(nodes, n, c, excl, incl);
  if (!rc) rc = hone__pa_add_thread(a, nodes, n, fid, excl, incl);
  free(excl);
  free(incl);
  return rc;
}

static hone_prof_node node(uint32_t parent, uint64_t calls, uint64_t incl, uint64_t excl) {
  return (hone_prof_node){.func = 0, .parent = parent, .calls = calls, .incl = incl, .excl = excl};
}

static void test_direct_recursion(void **state) {
  (void)state;
  /* main -> f -> f -> f */
  hone_prof_node n[] = {node(NP, 1, 100, 10), node(0, 1, 90, 30), node(1, 1, 60, 30),
                        node(2, 1, 30, 30)};
  uint32_t fid[] = {0, 1, 1, 1};
  hone__pa a;
  hone__pa_init(&a);
  assert_int_equal(add_thread(&a, n, 4, fid, &raw), 0);
  assert_int_equal(a.funcs[1].ncalls, 3);
  assert_int_equal(a.funcs[1].pcalls, 1);
  assert_true(a.funcs[1].tottime == 90.0);
  assert_true(a.funcs[1].cumtime == 90.0); /* the outer frame only */
  assert_int_equal(a.funcs[0].ncalls, 1);
  assert_true(a.funcs[0].cumtime == 100.0);
  const hone__pa_edge *ff = hone__pa_find_edge(&a, 1, 1);
  assert_non_null(ff);
  assert_int_equal(ff->stat.ncalls, 2);
  assert_int_equal(ff->stat.pcalls, 1);
  assert_true(ff->stat.tottime == 60.0);
  assert_true(ff->stat.cumtime == 60.0);
  const hone__pa_edge *mf = hone__pa_find_edge(&a, 0, 1);
  assert_non_null(mf);
  assert_int_equal(mf->stat.ncalls, 1);
  assert_true(mf->stat.cumtime == 90.0);
  assert_null(hone__pa_find_edge(&a, 1, 0));
  hone__pa_fini(&a);
}

static void test_mutual_recursion_and_two_callers(void **state) {
  (void)state;
  /* main -> a -> b -> a -> b ; main -> x -> leaf ; main -> y -> leaf (called 3 times) */
  hone_prof_node n[] = {
      node(NP, 1, 200, 20), node(0, 1, 100, 10), node(1, 1, 90, 20),
      node(2, 1, 70, 30),   node(3, 1, 40, 40),  node(0, 1, 50, 10),
      node(5, 2, 40, 40),   node(0, 1, 30, 0),   node(7, 3, 30, 30),
  };
  uint32_t fid[] = {0, 1, 2, 1, 2, 3, 5, 4, 5};
  hone__pa a;
  hone__pa_init(&a);
  assert_int_equal(add_thread(&a, n, 9, fid, &raw), 0);
  assert_int_equal(a.funcs[1].ncalls, 2); /* a: 2/1 */
  assert_int_equal(a.funcs[1].pcalls, 1);
  assert_true(a.funcs[1].cumtime == 100.0);
  assert_true(a.funcs[1].tottime == 40.0);
  assert_int_equal(a.funcs[2].ncalls, 2); /* b: 2/1 */
  assert_int_equal(a.funcs[2].pcalls, 1);
  assert_true(a.funcs[2].cumtime == 90.0);
  assert_int_equal(a.funcs[5].ncalls, 5); /* leaf: 5, all primitive */
  assert_int_equal(a.funcs[5].pcalls, 5);
  assert_true(a.funcs[5].cumtime == 70.0);
  const hone__pa_edge *e = hone__pa_find_edge(&a, 3, 5);
  assert_int_equal(e->stat.ncalls, 2);
  e = hone__pa_find_edge(&a, 4, 5);
  assert_int_equal(e->stat.ncalls, 3);
  assert_int_equal(e->stat.pcalls, 3);
  /* a -> b occurs twice on one path: the inner one is a recursive edge call. */
  e = hone__pa_find_edge(&a, 1, 2);
  assert_int_equal(e->stat.ncalls, 2);
  assert_int_equal(e->stat.pcalls, 1);
  assert_true(e->stat.cumtime == 90.0);
  e = hone__pa_find_edge(&a, 2, 1);
  assert_int_equal(e->stat.ncalls, 1);
  assert_int_equal(e->stat.pcalls, 1);
  /* cumtime >= tottime everywhere. */
  for (size_t i = 0; i < a.nfuncs; i++) assert_true(a.funcs[i].cumtime >= a.funcs[i].tottime);
  hone__pa_fini(&a);
}

static void test_threads_and_files_add_up(void **state) {
  (void)state;
  hone_prof_node n[] = {node(NP, 1, 100, 50), node(0, 4, 50, 50)};
  uint32_t fid[] = {7, 3};
  cost half = {.ticks_per_second = 2.0, .raw = true};
  hone__pa a;
  hone__pa_init(&a);
  assert_int_equal(add_thread(&a, n, 2, fid, &raw), 0);
  assert_int_equal(add_thread(&a, n, 2, fid, &half), 0);
  assert_int_equal(a.nfuncs, 8);
  assert_int_equal(a.funcs[3].ncalls, 8);
  assert_int_equal(a.funcs[3].pcalls, 8);
  assert_true(a.funcs[3].tottime == 75.0); /* 50 ticks at 1/s + 50 ticks at 2/s */
  assert_int_equal(a.funcs[5].ncalls, 0);
  assert_int_equal(hone__pa_find_edge(&a, 7, 3)->stat.ncalls, 8);
  hone__pa_fini(&a);
}

static void test_cost_removed(void **state) {
  (void)state;
  /* root: 1 call, two children (3 calls and 1 call); the first child has 2 calls below it. */
  hone_prof_node n[] = {node(NP, 1, 1000, 400), node(0, 3, 500, 300), node(1, 2, 200, 200),
                        node(0, 1, 100, 100)};
  cost c = {.ticks_per_second = 1.0, .inner = 10, .outer = 5};
  double excl[4], incl[4];
  assert_int_equal(correct(n, 4, &c, excl, incl), 0);
  assert_true(excl[2] == 200 - 2 * 10); /* leaf: calls*inner */
  assert_true(incl[2] == 200 - 2 * 10);
  assert_true(excl[1] == 300 - 3 * 10 - 2 * 5);  /* minus childcalls*outer */
  assert_true(incl[1] == 500 - 3 * 10 - 2 * 15); /* minus descendant calls*(inner+outer) */
  assert_true(excl[0] == 400 - 1 * 10 - 4 * 5);
  assert_true(incl[0] == 1000 - 10 - 6 * 15);
  /* Clamped at zero, and cumulative never below own + children. */
  cost big = {.ticks_per_second = 1.0, .inner = 1000, .outer = 1000};
  assert_int_equal(correct(n, 4, &big, excl, incl), 0);
  for (int i = 0; i < 4; i++) {
    assert_true(excl[i] == 0);
    assert_true(incl[i] >= excl[i]);
  }
  cost r = {.ticks_per_second = 1.0, .inner = 10, .outer = 5, .raw = true};
  assert_int_equal(correct(n, 4, &r, excl, incl), 0);
  assert_true(excl[0] == 400 && incl[0] == 1000);
}

static void test_malformed_tree_refused(void **state) {
  (void)state;
  hone_prof_node n[] = {node(NP, 1, 10, 10), node(2, 1, 5, 5), node(0, 1, 5, 5)};
  uint32_t fid[] = {0, 1, 2};
  hone__pa a;
  hone__pa_init(&a);
  assert_int_equal(add_thread(&a, n, 3, fid, &raw), HONE_EFORMAT);
  n[1].parent = 1; /* its own parent */
  assert_int_equal(add_thread(&a, n, 3, fid, &raw), HONE_EFORMAT);
  assert_int_equal(add_thread(&a, n, 0, fid, &raw), 0);
  hone__pa_fini(&a);
}

static void test_deep_recursion(void **state) {
  (void)state;
  size_t n = 1000000;
  hone_prof_node *nodes = malloc(n * sizeof *nodes);
  uint32_t *fid = malloc(n * sizeof *fid);
  assert_non_null(nodes);
  assert_non_null(fid);
  for (size_t i = 0; i < n; i++) {
    nodes[i] = node(i ? (uint32_t)(i - 1) : NP, 1, n - i, 1);
    fid[i] = i ? 1 : 0;
  }
  hone__pa a;
  hone__pa_init(&a);
  assert_int_equal(add_thread(&a, nodes, n, fid, &raw), 0);
  assert_int_equal(a.funcs[1].ncalls, n - 1);
  assert_int_equal(a.funcs[1].pcalls, 1);
  assert_true(a.funcs[1].cumtime == (double)(n - 1));
  assert_true(a.funcs[1].tottime == (double)(n - 1));
  hone__pa_fini(&a);
  free(nodes);
  free(fid);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_direct_recursion),
      cmocka_unit_test(test_mutual_recursion_and_two_callers),
      cmocka_unit_test(test_threads_and_files_add_up),
      cmocka_unit_test(test_cost_removed),
      cmocka_unit_test(test_malformed_tree_refused),
      cmocka_unit_test(test_deep_recursion),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
