/* stats.c: statistics of a sample of timings — location, spread, percentiles, outliers and the
 * ratio of two samples with its uncertainty. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hone/stats.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static bool all_finite(const double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return false;
  return true;
}

/* A sorted copy of x (the caller frees it), or NULL when memory runs out. */
static double *sorted_copy(const double *x, size_t n) {
  double *s = malloc(n * sizeof *s);
  if (!s) return NULL;
  memcpy(s, x, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_double);
  return s;
}

/* Type-7 percentile of an already sorted sample. */
static double percentile_sorted(const double *s, size_t n, double p) {
  double h = (double)(n - 1) * p / 100.0;
  size_t lo = (size_t)floor(h);
  if (lo + 1 >= n) return s[n - 1];
  return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

int hone_stats_percentile(const double *x, size_t n, double p, double *out) {
  if (!x || n == 0 || !out || !(p >= 0 && p <= 100) || !all_finite(x, n)) return HONE_EINVAL;
  double *s = sorted_copy(x, n);
  if (!s) return HONE_ENOMEM;
  *out = percentile_sorted(s, n, p);
  free(s);
  return 0;
}

/* Median and MAD (unscaled) of a sorted sample; `scratch` holds n doubles. */
static void median_mad(const double *s, size_t n, double *scratch, double *median, double *mad) {
  *median = percentile_sorted(s, n, 50);
  for (size_t i = 0; i < n; i++) scratch[i] = fabs(s[i] - *median);
  qsort(scratch, n, sizeof *scratch, cmp_double);
  *mad = percentile_sorted(scratch, n, 50);
}

/* Which side of the rule's fences v falls on: -1 low, +1 high, 0 inside. A zero spread (IQR or
 * MAD) makes the fences collapse onto the middle, so every value that differs from it is an
 * outlier: when most values agree exactly, any other one stands out. */
static int outlier_side(double v, hone_outlier_rule rule, double q1, double q3, double median,
                        double mad) {
  if (rule == HONE_OUTLIER_TUKEY) {
    double iqr = q3 - q1;
    if (v < q1 - 1.5 * iqr) return -1;
    if (v > q3 + 1.5 * iqr) return 1;
    return 0;
  }
  double d = v - median;
  if (d == 0) return 0;
  if (mad == 0 || 0.6745 * fabs(d) / mad > 3.5) return d < 0 ? -1 : 1;
  return 0;
}

static bool valid_rule(hone_outlier_rule rule) {
  return rule == HONE_OUTLIER_TUKEY || rule == HONE_OUTLIER_MAD;
}

int hone_stats_compute(const double *x, size_t n, hone_outlier_rule rule, hone_stats *out) {
  if (!out) return HONE_EINVAL;
  memset(out, 0, sizeof *out);
  out->outlier_rule = rule;
  out->min = out->max = out->mean = out->stdev = out->median = out->mad = out->q1 = out->q3 = NAN;
  if (n == 0 || !x || !valid_rule(rule) || !all_finite(x, n)) return HONE_EINVAL;

  double *s = malloc(2 * n * sizeof *s);
  if (!s) return HONE_ENOMEM;
  memcpy(s, x, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_double);

  /* Two passes: the mean first, then squared deviations from it, which keeps the variance
   * exact for timings that differ only in their last digits. */
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += s[i];
  double mean = sum / (double)n;
  double ss = 0;
  for (size_t i = 0; i < n; i++) ss += (s[i] - mean) * (s[i] - mean);

  out->n = n;
  out->min = s[0];
  out->max = s[n - 1];
  out->mean = mean;
  out->stdev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
  out->q1 = percentile_sorted(s, n, 25);
  out->q3 = percentile_sorted(s, n, 75);
  median_mad(s, n, s + n, &out->median, &out->mad);
  for (size_t i = 0; i < n; i++) {
    int side = outlier_side(s[i], rule, out->q1, out->q3, out->median, out->mad);
    if (side < 0) out->outliers_low++;
    if (side > 0) out->outliers_high++;
  }
  free(s);
  return 0;
}

int hone_stats_outliers(const double *x, size_t n, hone_outlier_rule rule, bool *is_outlier) {
  if (!valid_rule(rule)) return HONE_EINVAL;
  if (n == 0) return 0;
  if (!x || !is_outlier || !all_finite(x, n)) return HONE_EINVAL;
  hone_stats st;
  int rc = hone_stats_compute(x, n, rule, &st);
  if (rc < 0) return rc;
  int count = 0;
  for (size_t i = 0; i < n; i++) {
    is_outlier[i] = outlier_side(x[i], rule, st.q1, st.q3, st.median, st.mad) != 0;
    count += is_outlier[i];
  }
  return count;
}

static int mean_sd(const double *x, size_t n, double *mean, double *sd) {
  hone_stats st;
  int rc = hone_stats_compute(x, n, HONE_OUTLIER_TUKEY, &st);
  if (rc < 0) return rc;
  *mean = st.mean;
  *sd = st.stdev;
  return 0;
}

int hone_stats_ratio(const double *a, size_t na, const double *b, size_t nb, hone_ratio *out) {
  if (!out) return HONE_EINVAL;
  out->value = out->uncertainty = NAN;
  double ma, sa, mb, sb;
  int rc = mean_sd(a, na, &ma, &sa);
  if (rc == 0) rc = mean_sd(b, nb, &mb, &sb);
  if (rc < 0) return rc;
  if (mb == 0) return HONE_EINVAL;
  out->value = ma / mb;
  /* ratio * sqrt((sa/ma)^2 + (sb/mb)^2), written so that a zero mean of a needs no division. */
  out->uncertainty = hypot(sa / mb, ma * sb / (mb * mb));
  return 0;
}

typedef struct ranked {
  double v;
  int from_a;
} ranked;

static int cmp_ranked(const void *x, const void *y) {
  return cmp_double(&((const ranked *)x)->v, &((const ranked *)y)->v);
}

int hone_stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, hone_mwu *out) {
  if (!out) return HONE_EINVAL;
  out->u = out->z = out->p = NAN;
  if (!a || !b || na == 0 || nb == 0 || !all_finite(a, na) || !all_finite(b, nb))
    return HONE_EINVAL;
  size_t n = na + nb;
  ranked *r = malloc(n * sizeof *r);
  if (!r) return HONE_ENOMEM;
  for (size_t i = 0; i < na; i++) r[i] = (ranked){a[i], 1};
  for (size_t i = 0; i < nb; i++) r[na + i] = (ranked){b[i], 0};
  qsort(r, n, sizeof *r, cmp_ranked);
  /* Ranks from 1, a tied group sharing its mean rank; sum of t^3 - t over tied groups for the
   * variance's correction. */
  double rank_sum_a = 0, ties = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && r[j].v == r[i].v) j++;
    double mean_rank = (double)(i + 1 + j) / 2.0, t = (double)(j - i);
    for (size_t k = i; k < j; k++)
      if (r[k].from_a) rank_sum_a += mean_rank;
    ties += t * t * t - t;
    i = j;
  }
  free(r);
  double n1 = (double)na, n2 = (double)nb, nn = (double)n;
  double u = rank_sum_a - n1 * (n1 + 1) / 2.0;
  double mu = n1 * n2 / 2.0;
  double var = n1 * n2 / 12.0 * ((nn + 1) - ties / (nn * (nn - 1) > 0 ? nn * (nn - 1) : 1));
  out->u = u;
  if (!(var > 0)) {
    out->z = 0;
    out->p = 1;
    return 0;
  }
  double d = fabs(u - mu) - 0.5;
  if (d < 0) d = 0;
  double z = d / sqrt(var);
  out->z = u >= mu ? z : -z;
  out->p = erfc(z / sqrt(2.0));
  if (out->p > 1) out->p = 1;
  return 0;
}
