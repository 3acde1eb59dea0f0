/* test_report_plain.c: a plain build's times laid over an instrumented run's tree
 * (src/profile/report/plain.c), on synthetic trees whose true times are known: each function's
 * time divided among its nodes by their own samples, library time given to the nodes that called
 * libraries, calls as the split when a function has no samples of its own, inclusive times as the
 * sums down the tree, the unsure mark where the runs disagree, and malformed input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "profile/report/estimate.h"
#include "profile/report/plain.h"

#define P 1e-4
#define NEAR(a, b) assert_true((a) > (b)-1e-9 && (a) < (b) + 1e-9)
#define NR HONE_REPORT_NO_PARENT

/* main(0) -> sort(1) -> less(2); main -> less(3) directly; main -> io(4) (which calls libc).
 * Functions: 0 main, 1 sort, 2 less, 3 io. */
static const hone_report_node nodes[] = {
    {.func = 0, .parent = NR, .calls = 1},  {.func = 1, .parent = 0, .calls = 1},
    {.func = 2, .parent = 1, .calls = 900}, {.func = 2, .parent = 0, .calls = 100},
    {.func = 3, .parent = 0, .calls = 1},
};
#define NN 5
#define NF 4

typedef struct res {
  double self[NN], total[NN];
  uint8_t unsure[NN];
  double lost;
} res;

/* The method over `nd` (NULL: nodes above). */
static int run_on(const hone_report_node *nd, const double *est, const double *ext,
                  const double *plain, const uint64_t *ns, double elsewhere, res *r) {
  hone__plain_in in = {.nodes = nd ? nd : nodes,
                       .nnodes = NN,
                       .self_s = est,
                       .ext_s = ext,
                       .nfuncs = NF,
                       .plain_s = plain,
                       .plain_samples = ns,
                       .elsewhere_s = elsewhere,
                       .period_s = P};
  hone__plain_out out = {.self_s = r->self, .total_s = r->total, .unsure = r->unsure};
  int rc = hone__plain_times(&in, &out);
  r->lost = out.lost_s;
  return rc;
}

static int run(const double *est, const double *ext, const double *plain, const uint64_t *ns,
               double elsewhere, res *r) {
  return run_on(NULL, est, ext, plain, ns, elsewhere, r);
}

/* The instrumented run put too much on sort (its loop slowed by the hooks) and split less's
 * time 3:1 between its two paths; the plain run says sort 0.030, less 0.060, and 0.010 in libc,
 * which in the instrumented run only io's node reached. */
static void test_split(void **state) {
  (void)state;
  const double est[NN] = {0.001, 0.050, 0.030, 0.010, 0.020};
  const double ext[NN] = {0, 0, 0, 0, 0.015}; /* io: 15 ms of its 20 in libc */
  const double plain[NF] = {0.001, 0.030, 0.060, 0.004};
  const uint64_t ns[NF] = {10, 300, 600, 40};
  res r;
  assert_int_equal(run(est, ext, plain, ns, 0.010, &r), 0);
  NEAR(r.self[0], 0.001);
  NEAR(r.self[1], 0.030);
  NEAR(r.self[2], 0.060 * 0.75); /* less by its own samples' split: 30:10 */
  NEAR(r.self[3], 0.060 * 0.25);
  NEAR(r.self[4], 0.004 + 0.010); /* io's own time and all of the library's */
  NEAR(r.total[1], 0.030 + 0.045);
  NEAR(r.total[0], 0.001 + 0.030 + 0.060 + 0.004 + 0.010);
  for (int i = 0; i < NN; i++) assert_int_equal(r.unsure[i], 0);
  NEAR(r.lost, 0);
}

/* A function the instrumented run took no samples of is split by its calls; with no library
 * samples anywhere the plain run's library time goes by the nodes' own time. */
static void test_by_calls(void **state) {
  (void)state;
  const double est[NN] = {0.010, 0.030, 0, 0, 0.060};
  const double ext[NN] = {0};
  const double plain[NF] = {0.010, 0.030, 0.020, 0.060};
  const uint64_t ns[NF] = {100, 300, 200, 600};
  res r;
  assert_int_equal(run(est, ext, plain, ns, 0.010, &r), 0);
  NEAR(r.self[2], 0.020 * 0.9 + 0);
  NEAR(r.self[3], 0.020 * 0.1);
  NEAR(r.self[0], 0.010 + 0.010 * 0.01 / 0.1);
  NEAR(r.self[4], 0.060 + 0.010 * 0.06 / 0.1);
  NEAR(r.total[0], 0.010 + 0.030 + 0.020 + 0.060 + 0.010);
}

/* Unsure: the plain run saw less fewer than HONE__ESTIMATE_MIN_SAMPLES times where the
 * instrumented run spent more than that many periods. A function of the plain run with no node
 * is lost (said in the header). An ext larger than the node's time is taken as all of it. */
static void test_unsure_and_lost(void **state) {
  (void)state;
  const double est[NN] = {0.001, 0.010, 0.004, 0.001, 0.002};
  const double ext[NN] = {0, 0, 0, 0, 0.5};
  double plain[NF] = {0.001, 0.010, 2 * P, 0.002};
  uint64_t ns[NF] = {10, 100, 2, 20};
  res r;
  assert_int_equal(run(est, ext, plain, ns, 0, &r), 0);
  assert_int_equal(r.unsure[2], 1);
  assert_int_equal(r.unsure[3], 1);
  assert_int_equal(r.unsure[1], 0);
  NEAR(r.self[4], 0.002 * 1.0); /* io's own time 0: split by calls (its only node) */
  /* A function with samples but neither time nor calls in any node. */
  hone_report_node nd[NN];
  for (int i = 0; i < NN; i++) nd[i] = nodes[i];
  nd[4].calls = 0;
  const double est2[NN] = {0.001, 0.010, 0.004, 0.001, 0};
  assert_int_equal(run_on(nd, est2, ext, plain, ns, 0, &r), 0);
  NEAR(r.lost, 0.002);
  NEAR(r.self[4], 0);
}

static void test_malformed(void **state) {
  (void)state;
  const double z[NN] = {0};
  const uint64_t zn[NF] = {0};
  hone_report_node bad[2] = {{.func = 0, .parent = 1}, {.func = 0, .parent = NR}};
  double s[2], t[2];
  uint8_t u[2];
  hone__plain_in in = {.nodes = bad,
                       .nnodes = 2,
                       .self_s = z,
                       .ext_s = z,
                       .nfuncs = NF,
                       .plain_s = z,
                       .plain_samples = zn,
                       .period_s = P};
  hone__plain_out out = {.self_s = s, .total_s = t, .unsure = u};
  assert_int_equal(hone__plain_times(&in, &out), HONE_EFORMAT);
  bad[0] = (hone_report_node){.func = NF, .parent = NR};
  bad[1] = (hone_report_node){.func = 0, .parent = 0};
  assert_int_equal(hone__plain_times(&in, &out), HONE_EFORMAT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_by_calls),
      cmocka_unit_test(test_unsure_and_lost),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
