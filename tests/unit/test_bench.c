/* test_bench.c: hone_bench through its public API — the shell-free splitter against what sh
 * does, {NAME} substitution, the Mann-Whitney U test against values worked by hand, and real
 * runs of small commands (exit statuses, cannot-start, interleaved rounds, options refused). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hone/bench.h"

static void expect_split(const char *line, int n, const char *const *words) {
  char **argv;
  int argc;
  assert_int_equal(hone_bench_split(line, &argv, &argc, NULL), 0);
  assert_int_equal(argc, n);
  for (int i = 0; i < n; i++) assert_string_equal(argv[i], words[i]);
  assert_null(argv[n]);
  hone_bench_argv_free(argv);
}

static void expect_refused(const char *line, const char *needle) {
  char **argv = (char **)1;
  const char *what = NULL;
  assert_int_equal(hone_bench_split(line, &argv, NULL, &what), HONE_EINVAL);
  assert_null(argv);
  assert_non_null(what);
  assert_non_null(strstr(what, needle));
}

static void test_split(void **state) {
  (void)state;
  expect_split("sleep 0.01", 2, (const char *[]){"sleep", "0.01"});
  expect_split("  a\t b  ", 2, (const char *[]){"a", "b"});
  expect_split("printf '%s|' 'a b' \"c\\\"d\" e\\ f", 5,
               (const char *[]){"printf", "%s|", "a b", "c\"d", "e f"});
  expect_split("x '' \"\" y", 4, (const char *[]){"x", "", "", "y"});
  expect_split("a'b'\"c\"d", 1, (const char *[]){"abcd"});
  expect_split("echo '$HOME | ;'", 2, (const char *[]){"echo", "$HOME | ;"});
  expect_split("echo a # comment", 2, (const char *[]){"echo", "a"});
  expect_split("a=b~ x", 2, (const char *[]){"a=b~", "x"});
  expect_refused("a | b", "pipe");
  expect_refused("a > f", "redirection");
  expect_refused("a; b", "';'");
  expect_refused("a && b", "'&'");
  expect_refused("echo $HOME", "'$'");
  expect_refused("echo \"$HOME\"", "double quotes");
  expect_refused("ls *.c", "glob");
  expect_refused("cat ~/x", "'~'");
  expect_refused("'open", "single quote");
  expect_refused("\"open", "double quote");
  expect_refused("a\\", "backslash");
  expect_refused("   ", "empty");
}

static void test_substitute(void **state) {
  (void)state;
  char *s;
  assert_int_equal(hone_bench_substitute("sleep {t}; {t}{x} {tt}", "t", "0.1", &s), 0);
  assert_string_equal(s, "sleep 0.1; 0.1{x} {tt}");
  free(s);
  assert_int_equal(hone_bench_substitute("a", "", "v", &s), HONE_EINVAL);
  assert_null(s);
}

static void test_mann_whitney(void **state) {
  (void)state;
  /* a = 1 2 3, b = 4 5 6: every b above every a, U(a) = 0; mu = 4.5, var = 9/12 * 7 = 5.25;
   * z = -(4.5 - 0.5) / sqrt(5.25) = -1.7457, p = erfc(1.7457 / sqrt 2) = 0.0809. */
  const double a[] = {1, 2, 3}, b[] = {6, 5, 4};
  hone_mwu t;
  assert_int_equal(hone_stats_mann_whitney(a, 3, b, 3, &t), 0);
  assert_true(fabs(t.u - 0) < 1e-12);
  assert_true(fabs(t.z + 4.0 / sqrt(5.25)) < 1e-9);
  assert_true(fabs(t.p - erfc(4.0 / sqrt(5.25) / sqrt(2.0))) < 1e-9);
  assert_true(t.p > 0.08 && t.p < 0.082);
  /* Swapped: U(b) = 9, z positive, same p. */
  hone_mwu s;
  assert_int_equal(hone_stats_mann_whitney(b, 3, a, 3, &s), 0);
  assert_true(fabs(s.u - 9) < 1e-12 && s.z > 0 && fabs(s.p - t.p) < 1e-12);
  /* Ties: a = 1 1 2, b = 1 2 2. Ranks: the three 1s share 2, the three 2s share 5.
   * R(a) = 2 + 2 + 5 = 9, U = 9 - 6 = 3, mu = 4.5, |U - mu| - 0.5 = 1; tie term
   * (27 - 3) * 2 = 48; var = 9/12 * (7 - 48/30) = 4.05; z = -1 / sqrt(4.05). */
  const double c[] = {1, 1, 2}, d[] = {1, 2, 2};
  assert_int_equal(hone_stats_mann_whitney(c, 3, d, 3, &t), 0);
  assert_true(fabs(t.u - 3) < 1e-12);
  assert_true(fabs(t.z + 1 / sqrt(4.05)) < 1e-9);
  /* All tied: no evidence at all. */
  const double e[] = {5, 5, 5};
  assert_int_equal(hone_stats_mann_whitney(e, 3, e, 3, &t), 0);
  assert_true(t.p == 1);
  /* Clearly apart with 20 each: decided. */
  double x[20], y[20];
  for (int i = 0; i < 20; i++) x[i] = 10 + i * 0.01, y[i] = 11 + i * 0.01;
  assert_int_equal(hone_stats_mann_whitney(x, 20, y, 20, &t), 0);
  assert_true(t.p < 1e-6);
  assert_int_equal(hone_stats_mann_whitney(x, 0, y, 20, &t), HONE_EINVAL);
  const double nan[] = {NAN};
  assert_int_equal(hone_stats_mann_whitney(nan, 1, y, 20, &t), HONE_EINVAL);
}

static hone_bench *make(hone_bench_options *o) {
  hone_bench *b = NULL;
  assert_int_equal(hone_bench_new(o, &b), 0);
  return b;
}

static void test_runs_and_results(void **state) {
  (void)state;
  hone_bench_options o;
  hone_bench_options_init(&o);
  o.runs = 4;
  o.seed = 42;
  o.counters = false;
  hone_bench *b = make(&o);
  const char *params[] = {"n", "1"};
  assert_int_equal(hone_bench_add(b, "true", NULL, 0), 0);
  assert_int_equal(hone_bench_add(b, "sleep 0.01", params, 1), 1);
  assert_int_equal(hone_bench_run(b), 0);
  assert_string_equal(hone_bench_error(b), "");
  assert_int_equal(hone_bench_count(b), 2);
  assert_string_equal(hone_bench_command(b, 1), "sleep 0.01");
  size_t np;
  const char *const *p = hone_bench_params(b, 1, &np);
  assert_int_equal(np, 1);
  assert_string_equal(p[0], "n");
  assert_string_equal(p[1], "1");
  size_t n0, n1;
  const hone_bench_sample *s0 = hone_bench_samples(b, 0, &n0);
  const hone_bench_sample *s1 = hone_bench_samples(b, 1, &n1);
  assert_int_equal(n0, 4);
  assert_int_equal(n1, 4);
  for (size_t k = 0; k < 4; k++) {
    assert_int_equal(s0[k].round, k); /* one run of each per round */
    assert_int_equal(s1[k].round, k);
    assert_int_equal(s0[k].exit_status, 0);
    assert_true(s1[k].wall_ns >= 10000000); /* a sleep of 10 ms lasts at least that */
    assert_true(s0[k].max_rss_bytes > 0);
  }
  hone_stats st;
  assert_int_equal(hone_bench_stats(b, 1, HONE_BENCH_WALL, &st), 0);
  assert_int_equal(st.n, 4);
  assert_int_equal(hone_bench_stats(b, 1, HONE_BENCH_CYCLES, &st), HONE_ENOTSUP);
  assert_false(hone_bench_counter_available(b, HONE_BENCH_CYCLES));
  assert_non_null(hone_bench_counters_note(b));
  assert_int_equal(hone_bench_seed(b), 42);
  /* No timing assertion here (a loaded machine can make `true` slower than a sleep): the
   * fastest and the ratio must agree with the samples themselves. */
  double m0 = 0, m1 = 0;
  for (size_t k = 0; k < 4; k++) m0 += (double)s0[k].wall_ns / 4, m1 += (double)s1[k].wall_ns / 4;
  assert_int_equal(hone_bench_fastest(b), m0 <= m1 ? 0 : 1);
  hone_bench_comparison c;
  assert_int_equal(hone_bench_compare(b, 0, 1, &c), 0);
  assert_true(fabs(c.ratio.value - m1 / m0) < 1e-9 * (m1 / m0));
  assert_true(c.test.p >= 0 && c.test.p <= 1);
  assert_int_equal(hone_bench_run(b), HONE_ESTATE);
  hone_bench_free(b);
}

static void test_failures(void **state) {
  (void)state;
  hone_bench_options o;
  hone_bench_options_init(&o);
  o.runs = 2;
  hone_bench *b = make(&o);
  assert_int_equal(hone_bench_add(b, "false", NULL, 0), 0);
  assert_int_equal(hone_bench_run(b), HONE_ETASK);
  assert_non_null(strstr(hone_bench_error(b), "'false' exited with status 1"));
  hone_bench_free(b);

  b = make(&o);
  assert_int_equal(hone_bench_add(b, "/nonexistent/cmd", NULL, 0), 0);
  assert_int_equal(hone_bench_run(b), HONE_ENOENT);
  assert_non_null(strstr(hone_bench_error(b), "cannot be started"));
  hone_bench_free(b);

  o.ignore_failure = true;
  b = make(&o);
  assert_int_equal(hone_bench_add(b, "sh -c 'exit 7'", NULL, 0), 0);
  assert_int_equal(hone_bench_run(b), 0);
  size_t n;
  const hone_bench_sample *s = hone_bench_samples(b, 0, &n);
  assert_int_equal(n, 2);
  assert_int_equal(s[0].exit_status, 7);
  hone_bench_free(b);

  o.ignore_failure = false;
  o.timeout_s = 0.2;
  b = make(&o);
  assert_int_equal(hone_bench_add(b, "sleep 10", NULL, 0), 0);
  assert_int_equal(hone_bench_run(b), HONE_ETASK);
  assert_non_null(strstr(hone_bench_error(b), "timed out"));
  hone_bench_free(b);

  b = make(NULL);
  assert_int_equal(hone_bench_add(b, "a | b", NULL, 0), HONE_EINVAL);
  assert_non_null(strstr(hone_bench_error(b), "pipe"));
  assert_int_equal(hone_bench_add(b, "", NULL, 0), HONE_EINVAL);
  assert_int_equal(hone_bench_run(b), HONE_ESTATE); /* nothing added */
  hone_bench_free(b);
  hone_bench_free(NULL);
}

static void test_bad_options(void **state) {
  (void)state;
  hone_bench_options o;
  hone_bench *b = (hone_bench *)1;
  hone_bench_options_init(&o);
  o.alpha = 1;
  assert_int_equal(hone_bench_new(&o, &b), HONE_EINVAL);
  assert_null(b);
  hone_bench_options_init(&o);
  o.min_runs = 0;
  assert_int_equal(hone_bench_new(&o, &b), HONE_EINVAL);
  hone_bench_options_init(&o);
  o.min_time_s = -1;
  assert_int_equal(hone_bench_new(&o, &b), HONE_EINVAL);
  hone_bench_options_init(&o);
  o.shell = "";
  assert_int_equal(hone_bench_new(&o, &b), HONE_EINVAL);
  assert_int_equal(hone_bench_new(NULL, NULL), HONE_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split),        cmocka_unit_test(test_substitute),
      cmocka_unit_test(test_mann_whitney), cmocka_unit_test(test_runs_and_results),
      cmocka_unit_test(test_failures),     cmocka_unit_test(test_bad_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
