/* test_prof_agg.c: hone report's pstats figures from calling-context trees — primitive calls and
 * cumulative time under direct and mutual recursion, a function with two callers, per-edge
 * figures, threads adding up, the removal of the profiler's cost, malformed trees, deep trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "prof_agg.h"

#define NP HONE_PROF_NO_PARENT
static const hone__pa_cost raw = {.ticks_per_second = 1.0, .raw = true};

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
  assert_int_equal(hone__pa_add_thread(&a, n, 4, fid, &raw), 0);
  assert_int_equal(a.funcs[1].nc, 3);
  assert_int_equal(a.funcs[1].cc, 1);
  assert_true(a.funcs[1].tt == 90.0);
  assert_true(a.funcs[1].ct == 90.0); /* the outer frame only */
  assert_int_equal(a.funcs[0].nc, 1);
  assert_true(a.funcs[0].ct == 100.0);
  const hone__pa_edge *ff = hone__pa_find_edge(&a, 1, 1);
  assert_non_null(ff);
  assert_int_equal(ff->s.nc, 2);
  assert_int_equal(ff->s.cc, 1);
  assert_true(ff->s.tt == 60.0);
  assert_true(ff->s.ct == 60.0);
  const hone__pa_edge *mf = hone__pa_find_edge(&a, 0, 1);
  assert_non_null(mf);
  assert_int_equal(mf->s.nc, 1);
  assert_true(mf->s.ct == 90.0);
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
  assert_int_equal(hone__pa_add_thread(&a, n, 9, fid, &raw), 0);
  assert_int_equal(a.funcs[1].nc, 2); /* a: 2/1 */
  assert_int_equal(a.funcs[1].cc, 1);
  assert_true(a.funcs[1].ct == 100.0);
  assert_true(a.funcs[1].tt == 40.0);
  assert_int_equal(a.funcs[2].nc, 2); /* b: 2/1 */
  assert_int_equal(a.funcs[2].cc, 1);
  assert_true(a.funcs[2].ct == 90.0);
  assert_int_equal(a.funcs[5].nc, 5); /* leaf: 5, all primitive */
  assert_int_equal(a.funcs[5].cc, 5);
  assert_true(a.funcs[5].ct == 70.0);
  const hone__pa_edge *e = hone__pa_find_edge(&a, 3, 5);
  assert_int_equal(e->s.nc, 2);
  e = hone__pa_find_edge(&a, 4, 5);
  assert_int_equal(e->s.nc, 3);
  assert_int_equal(e->s.cc, 3);
  /* a -> b occurs twice on one path: the inner one is a recursive edge call. */
  e = hone__pa_find_edge(&a, 1, 2);
  assert_int_equal(e->s.nc, 2);
  assert_int_equal(e->s.cc, 1);
  assert_true(e->s.ct == 90.0);
  e = hone__pa_find_edge(&a, 2, 1);
  assert_int_equal(e->s.nc, 1);
  assert_int_equal(e->s.cc, 1);
  /* cumtime >= tottime everywhere. */
  for (size_t i = 0; i < a.nfuncs; i++) assert_true(a.funcs[i].ct >= a.funcs[i].tt);
  hone__pa_fini(&a);
}

static void test_threads_and_files_add_up(void **state) {
  (void)state;
  hone_prof_node n[] = {node(NP, 1, 100, 50), node(0, 4, 50, 50)};
  uint32_t fid[] = {7, 3};
  hone__pa_cost half = {.ticks_per_second = 2.0, .raw = true};
  hone__pa a;
  hone__pa_init(&a);
  assert_int_equal(hone__pa_add_thread(&a, n, 2, fid, &raw), 0);
  assert_int_equal(hone__pa_add_thread(&a, n, 2, fid, &half), 0);
  assert_int_equal(a.nfuncs, 8);
  assert_int_equal(a.funcs[3].nc, 8);
  assert_int_equal(a.funcs[3].cc, 8);
  assert_true(a.funcs[3].tt == 75.0); /* 50 ticks at 1/s + 50 ticks at 2/s */
  assert_int_equal(a.funcs[5].nc, 0);
  assert_int_equal(hone__pa_find_edge(&a, 7, 3)->s.nc, 8);
  hone__pa_fini(&a);
}

static void test_cost_removed(void **state) {
  (void)state;
  /* root: 1 call, two children (3 calls and 1 call); the first child has 2 calls below it. */
  hone_prof_node n[] = {node(NP, 1, 1000, 400), node(0, 3, 500, 300), node(1, 2, 200, 200),
                        node(0, 1, 100, 100)};
  hone__pa_cost c = {.ticks_per_second = 1.0, .inner = 10, .outer = 5};
  double excl[4], incl[4];
  assert_int_equal(hone__pa_correct(n, 4, &c, excl, incl), 0);
  assert_true(excl[2] == 200 - 2 * 10); /* leaf: calls*inner */
  assert_true(incl[2] == 200 - 2 * 10);
  assert_true(excl[1] == 300 - 3 * 10 - 2 * 5);  /* minus childcalls*outer */
  assert_true(incl[1] == 500 - 3 * 10 - 2 * 15); /* minus descendant calls*(inner+outer) */
  assert_true(excl[0] == 400 - 1 * 10 - 4 * 5);
  assert_true(incl[0] == 1000 - 10 - 6 * 15);
  /* Clamped at zero, and cumulative never below own + children. */
  hone__pa_cost big = {.ticks_per_second = 1.0, .inner = 1000, .outer = 1000};
  assert_int_equal(hone__pa_correct(n, 4, &big, excl, incl), 0);
  for (int i = 0; i < 4; i++) {
    assert_true(excl[i] == 0);
    assert_true(incl[i] >= excl[i]);
  }
  hone__pa_cost r = {.ticks_per_second = 1.0, .inner = 10, .outer = 5, .raw = true};
  assert_int_equal(hone__pa_correct(n, 4, &r, excl, incl), 0);
  assert_true(excl[0] == 400 && incl[0] == 1000);
}

static void test_malformed_tree_refused(void **state) {
  (void)state;
  hone_prof_node n[] = {node(NP, 1, 10, 10), node(2, 1, 5, 5), node(0, 1, 5, 5)};
  uint32_t fid[] = {0, 1, 2};
  hone__pa a;
  hone__pa_init(&a);
  assert_int_equal(hone__pa_add_thread(&a, n, 3, fid, &raw), HONE_EFORMAT);
  n[1].parent = 1; /* its own parent */
  assert_int_equal(hone__pa_add_thread(&a, n, 3, fid, &raw), HONE_EFORMAT);
  assert_int_equal(hone__pa_add_thread(&a, n, 0, fid, &raw), 0);
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
  assert_int_equal(hone__pa_add_thread(&a, nodes, n, fid, &raw), 0);
  assert_int_equal(a.funcs[1].nc, n - 1);
  assert_int_equal(a.funcs[1].cc, 1);
  assert_true(a.funcs[1].ct == (double)(n - 1));
  assert_true(a.funcs[1].tt == (double)(n - 1));
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
