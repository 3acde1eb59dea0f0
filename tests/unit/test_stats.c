/* test_stats.c: the statistics against values computed by hand (each vector's arithmetic is in
 * the comment next to it), and the refusal of bad samples. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "hone/stats.h"

#define assert_near(a, b)                                                                          \
  assert_true(fabs((double)(a) - (double)(b)) <= 1e-9 * (1 + fabs((double)(b))))

static void test_odd_sample(void **state) {
  (void)state;
  /* 1..5: mean 3; squared deviations 4+1+0+1+4 = 10, stdev sqrt(10/4); median 3;
   * |x - 3| = 2 1 0 1 2 -> MAD 1; Q1 at rank 1 = 2, Q3 at rank 3 = 4; fences -1 and 7. */
  const double x[] = {3, 1, 5, 2, 4};
  hone_stats st;
  assert_int_equal(hone_stats_compute(x, 5, HONE_OUTLIER_TUKEY, &st), 0);
  assert_int_equal(st.n, 5);
  assert_near(st.min, 1);
  assert_near(st.max, 5);
  assert_near(st.mean, 3);
  assert_near(st.stdev, sqrt(2.5));
  assert_near(st.median, 3);
  assert_near(st.mad, 1);
  assert_near(st.q1, 2);
  assert_near(st.q3, 4);
  assert_int_equal(st.outlier_rule, HONE_OUTLIER_TUKEY);
  assert_int_equal(st.outliers_low, 0);
  assert_int_equal(st.outliers_high, 0);
  /* The caller's array is left as it was. */
  assert_near(x[0], 3);
  assert_near(x[1], 1);
}

static void test_even_sample_and_percentiles(void **state) {
  (void)state;
  /* 1 2 3 4: mean 2.5; squared deviations 2.25+0.25+0.25+2.25 = 5, stdev sqrt(5/3);
   * median at rank 1.5 = 2.5; Q1 at rank 0.75 = 1.75; Q3 at rank 2.25 = 3.25;
   * |x - 2.5| = 1.5 .5 .5 1.5 -> MAD (0.5 + 1.5) / 2 = 1. */
  const double x[] = {4, 1, 3, 2};
  hone_stats st;
  assert_int_equal(hone_stats_compute(x, 4, HONE_OUTLIER_MAD, &st), 0);
  assert_near(st.mean, 2.5);
  assert_near(st.stdev, sqrt(5.0 / 3.0));
  assert_near(st.median, 2.5);
  assert_near(st.q1, 1.75);
  assert_near(st.q3, 3.25);
  assert_near(st.mad, 1);
  assert_int_equal(st.outliers_low + st.outliers_high, 0);

  double p;
  assert_int_equal(hone_stats_percentile(x, 4, 90, &p), 0); /* rank 2.7: 3 + 0.7 */
  assert_near(p, 3.7);
  assert_int_equal(hone_stats_percentile(x, 4, 0, &p), 0);
  assert_near(p, 1);
  assert_int_equal(hone_stats_percentile(x, 4, 100, &p), 0);
  assert_near(p, 4);
  assert_int_equal(hone_stats_percentile(x, 4, 50, &p), 0);
  assert_near(p, 2.5);
  assert_int_equal(hone_stats_percentile(x, 4, 100.5, &p), HONE_EINVAL);
  assert_int_equal(hone_stats_percentile(x, 4, -1, &p), HONE_EINVAL);
  assert_int_equal(hone_stats_percentile(x, 4, NAN, &p), HONE_EINVAL);
  assert_int_equal(hone_stats_percentile(x, 0, 50, &p), HONE_EINVAL);
  assert_int_equal(hone_stats_percentile(NULL, 4, 50, &p), HONE_EINVAL);
  assert_int_equal(hone_stats_percentile(x, 4, 50, NULL), HONE_EINVAL);
}

static void test_single_and_empty(void **state) {
  (void)state;
  const double one[] = {7};
  hone_stats st;
  assert_int_equal(hone_stats_compute(one, 1, HONE_OUTLIER_TUKEY, &st), 0);
  assert_int_equal(st.n, 1);
  assert_near(st.min, 7);
  assert_near(st.max, 7);
  assert_near(st.mean, 7);
  assert_near(st.stdev, 0);
  assert_near(st.median, 7);
  assert_near(st.mad, 0);
  assert_near(st.q1, 7);
  assert_near(st.q3, 7);
  assert_int_equal(st.outliers_low + st.outliers_high, 0);
  double p;
  assert_int_equal(hone_stats_percentile(one, 1, 37, &p), 0);
  assert_near(p, 7);

  assert_int_equal(hone_stats_compute(one, 0, HONE_OUTLIER_TUKEY, &st), HONE_EINVAL);
  assert_int_equal(st.n, 0);
  assert_true(isnan(st.min) && isnan(st.max) && isnan(st.mean) && isnan(st.stdev));
  assert_true(isnan(st.median) && isnan(st.mad) && isnan(st.q1) && isnan(st.q3));
  assert_int_equal(hone_stats_compute(NULL, 0, HONE_OUTLIER_TUKEY, &st), HONE_EINVAL);
}

static void test_ties(void **state) {
  (void)state;
  /* All equal: no spread, nothing stands out. */
  const double same[] = {2, 2, 2, 2, 2};
  hone_stats st;
  for (int rule = 0; rule <= 1; rule++) {
    assert_int_equal(hone_stats_compute(same, 5, (hone_outlier_rule)rule, &st), 0);
    assert_near(st.stdev, 0);
    assert_near(st.mad, 0);
    assert_near(st.q1, 2);
    assert_near(st.q3, 2);
    assert_int_equal(st.outliers_low + st.outliers_high, 0);
  }
  /* 5 5 5 5 9: Q1 = Q3 = 5 and MAD = 0, so both rules' fences sit on 5 and 9 is an outlier. */
  const double tied[] = {5, 9, 5, 5, 5};
  for (int rule = 0; rule <= 1; rule++) {
    assert_int_equal(hone_stats_compute(tied, 5, (hone_outlier_rule)rule, &st), 0);
    assert_near(st.median, 5);
    assert_near(st.mad, 0);
    assert_int_equal(st.outliers_low, 0);
    assert_int_equal(st.outliers_high, 1);
    bool mark[5];
    assert_int_equal(hone_stats_outliers(tied, 5, (hone_outlier_rule)rule, mark), 1);
    assert_true(mark[1]);
    assert_false(mark[0] || mark[2] || mark[3] || mark[4]);
  }
  /* Even n with a tie in the middle: 1 3 3 8, median 3, |x - 3| = 2 0 0 5 -> MAD 1. */
  const double mid[] = {8, 3, 1, 3};
  assert_int_equal(hone_stats_compute(mid, 4, HONE_OUTLIER_TUKEY, &st), 0);
  assert_near(st.median, 3);
  assert_near(st.mad, 1);
}

static void test_outlier_rules_differ(void **state) {
  (void)state;
  /* 4 10 11 12 13 14 100 (n = 7): mean 164/7; stdev sqrt((10746 - 164^2/7) / 6);
   * Q1 at rank 1.5 = 10.5, Q3 at rank 4.5 = 13.5, IQR 3, Tukey fences 6 and 18: 4 low, 100 high.
   * Median 12, |x - 12| = 8 2 1 0 1 2 88 -> MAD 2; modified z of 4 = 0.6745 * 8 / 2 = 2.70
   * (not above 3.5), of 100 = 0.6745 * 88 / 2 = 29.7: MAD finds only 100. */
  const double x[] = {12, 100, 10, 4, 13, 11, 14};
  hone_stats st;
  assert_int_equal(hone_stats_compute(x, 7, HONE_OUTLIER_TUKEY, &st), 0);
  assert_near(st.mean, 164.0 / 7.0);
  assert_near(st.stdev, sqrt((10746.0 - 164.0 * 164.0 / 7.0) / 6.0));
  assert_near(st.q1, 10.5);
  assert_near(st.q3, 13.5);
  assert_near(st.median, 12);
  assert_near(st.mad, 2);
  assert_int_equal(st.outliers_low, 1);
  assert_int_equal(st.outliers_high, 1);
  bool mark[7];
  assert_int_equal(hone_stats_outliers(x, 7, HONE_OUTLIER_TUKEY, mark), 2);
  assert_true(mark[1] && mark[3]);
  assert_false(mark[0] || mark[2] || mark[4] || mark[5] || mark[6]);

  assert_int_equal(hone_stats_compute(x, 7, HONE_OUTLIER_MAD, &st), 0);
  assert_int_equal(st.outlier_rule, HONE_OUTLIER_MAD);
  assert_int_equal(st.outliers_low, 0);
  assert_int_equal(st.outliers_high, 1);
  assert_int_equal(hone_stats_outliers(x, 7, HONE_OUTLIER_MAD, mark), 1);
  assert_true(mark[1]);
  assert_false(mark[3]);

  /* Just inside and just outside a fence: 3.5 * 2 / 0.6745 = 10.378 from the median 12. */
  const double edge[] = {12, 10, 11, 13, 14, 22.3, 1.5};
  assert_int_equal(hone_stats_compute(edge, 7, HONE_OUTLIER_MAD, &st), 0);
  assert_int_equal(st.outliers_high, 0); /* 22.3 - 12 = 10.3 */
  assert_int_equal(st.outliers_low, 1);  /* 12 - 1.5 = 10.5 */
}

static void test_ratio(void **state) {
  (void)state;
  /* a = 10 12 (mean 11, sd sqrt 2), b = 4 6 (mean 5, sd sqrt 2): 11/5 = 2.2 and
   * 2.2 * sqrt(2/121 + 2/25) = 0.68352. */
  const double a[] = {10, 12}, b[] = {4, 6};
  hone_ratio r;
  assert_int_equal(hone_stats_ratio(a, 2, b, 2, &r), 0);
  assert_near(r.value, 2.2);
  assert_near(r.uncertainty, 2.2 * sqrt(2.0 / 121.0 + 2.0 / 25.0));
  assert_true(fabs(r.uncertainty - 0.68352) < 1e-5);

  /* Exact samples: no uncertainty; a single value has none either. */
  const double c[] = {3, 3, 3}, d[] = {1.5};
  assert_int_equal(hone_stats_ratio(c, 3, d, 1, &r), 0);
  assert_near(r.value, 2);
  assert_near(r.uncertainty, 0);

  /* A zero mean of a is a ratio of 0 with b's spread carried through. */
  const double z[] = {-1, 1};
  assert_int_equal(hone_stats_ratio(z, 2, b, 2, &r), 0);
  assert_near(r.value, 0);
  assert_near(r.uncertainty, sqrt(2.0) / 5.0);

  const double zero[] = {0, 0};
  assert_int_equal(hone_stats_ratio(a, 2, zero, 2, &r), HONE_EINVAL);
  assert_int_equal(hone_stats_ratio(a, 0, b, 2, &r), HONE_EINVAL);
  assert_int_equal(hone_stats_ratio(a, 2, b, 0, &r), HONE_EINVAL);
  assert_int_equal(hone_stats_ratio(NULL, 2, b, 2, &r), HONE_EINVAL);
  assert_int_equal(hone_stats_ratio(a, 2, b, 2, NULL), HONE_EINVAL);
}

static void test_bad_arguments(void **state) {
  (void)state;
  const double x[] = {1, 2, NAN}, inf[] = {1, INFINITY};
  hone_stats st;
  assert_int_equal(hone_stats_compute(NULL, 3, HONE_OUTLIER_TUKEY, &st), HONE_EINVAL);
  assert_int_equal(hone_stats_compute(x, 3, HONE_OUTLIER_TUKEY, &st), HONE_EINVAL);
  assert_int_equal(hone_stats_compute(inf, 2, HONE_OUTLIER_TUKEY, &st), HONE_EINVAL);
  assert_int_equal(hone_stats_compute(x, 2, (hone_outlier_rule)7, &st), HONE_EINVAL);
  assert_int_equal(hone_stats_compute(x, 2, HONE_OUTLIER_TUKEY, NULL), HONE_EINVAL);
  bool mark[3];
  assert_int_equal(hone_stats_outliers(x, 3, HONE_OUTLIER_MAD, mark), HONE_EINVAL);
  assert_int_equal(hone_stats_outliers(x, 2, HONE_OUTLIER_MAD, NULL), HONE_EINVAL);
  assert_int_equal(hone_stats_outliers(x, 2, (hone_outlier_rule)-1, mark), HONE_EINVAL);
  assert_int_equal(hone_stats_outliers(NULL, 0, HONE_OUTLIER_MAD, NULL), 0);
  hone_ratio r;
  assert_int_equal(hone_stats_ratio(x, 3, x, 2, &r), HONE_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_odd_sample),
      cmocka_unit_test(test_even_sample_and_percentiles),
      cmocka_unit_test(test_single_and_empty),
      cmocka_unit_test(test_ties),
      cmocka_unit_test(test_outlier_rules_differ),
      cmocka_unit_test(test_ratio),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
