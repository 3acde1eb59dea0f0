/* hone/stats.h: statistics of a sample of timings.
 *
 * Samples are arrays of doubles the caller owns; nothing here keeps a pointer to them or
 * allocates memory the caller must free. All functions are thread-safe (no shared state).
 */
#ifndef HONE_STATS_H
#define HONE_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "hone/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How outliers are told apart. When the spread is zero (IQR or MAD of 0, as when most values
 * are equal), the fences collapse onto the middle and every value that differs is an outlier. */
typedef enum hone_outlier_rule {
  HONE_OUTLIER_TUKEY = 0, /* outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR] (Tukey's fences) */
  HONE_OUTLIER_MAD =
      1, /* modified z-score 0.6745 |x - median| / MAD above 3.5 (Iglewicz-Hoaglin) */
} hone_outlier_rule;

typedef struct hone_stats {
  size_t n;
  double min, max;
  double mean;
  double stdev; /* sample standard deviation (n - 1); 0 for a single value */
  double median;
  double mad;    /* median absolute deviation from the median, unscaled */
  double q1, q3; /* 25th and 75th percentiles (linear interpolation, as hone_stats_percentile) */
  hone_outlier_rule outlier_rule;
  size_t outliers_low, outliers_high; /* values below / above the rule's fences */
} hone_stats;

/* Computes every figure of hone_stats over x[0..n), outliers by `rule`. An empty sample
 * (n == 0) returns HONE_EINVAL and sets *out to n = 0 with every figure NaN; NULL x with n > 0,
 * a NaN or infinity in the sample or an unknown rule returns HONE_EINVAL (HONE_ENOMEM when a
 * working copy cannot be allocated). */
HONE_API HONE_NODISCARD int hone_stats_compute(const double *x, size_t n, hone_outlier_rule rule,
                                               hone_stats *out);

/* The p-th percentile (0 <= p <= 100) of x[0..n) by linear interpolation between closest ranks
 * (numpy's default, "type 7"). HONE_EINVAL for n == 0 or p outside [0, 100]. */
HONE_API HONE_NODISCARD int hone_stats_percentile(const double *x, size_t n, double p, double *out);

/* Marks the outliers of x[0..n) by `rule` in is_outlier[0..n) (caller's array) and returns how
 * many there are (>= 0; 0 for an empty sample), or a negative hone_err. */
HONE_API HONE_NODISCARD int hone_stats_outliers(const double *x, size_t n, hone_outlier_rule rule,
                                                bool *is_outlier);

/* The ratio of two samples' means with its uncertainty, as hyperfine reports it:
 * ratio = mean(a) / mean(b), uncertainty = ratio * sqrt((sd_a / mean_a)^2 + (sd_b / mean_b)^2).
 * Printed as "1.52 ± 0.03". HONE_EINVAL for an empty sample or a zero mean of b. */
typedef struct hone_ratio {
  double value;
  double uncertainty;
} hone_ratio;
HONE_API HONE_NODISCARD int hone_stats_ratio(const double *a, size_t na, const double *b, size_t nb,
                                             hone_ratio *out);

/* The Mann-Whitney U test (Wilcoxon rank-sum) of two independent samples, two-sided: do the
 * values of one tend to be larger than the other's? It assumes no distribution (timings are
 * skewed, with a long right tail, so a t-test's normality does not hold). u is U of sample a (the
 * number of pairs (x from a, y from b) with x > y, a tie counting 1/2); z comes from the normal
 * approximation with the correction for ties and a continuity correction of 0.5; p is the
 * two-sided p-value of z (1 when every value is tied). The approximation is good from about 8
 * values per sample. HONE_EINVAL for an empty sample or a NaN; HONE_ENOMEM. */
typedef struct hone_mwu {
  double u;
  double z;
  double p;
} hone_mwu;
HONE_API HONE_NODISCARD int hone_stats_mann_whitney(const double *a, size_t na, const double *b,
                                                    size_t nb, hone_mwu *out);

#ifdef __cplusplus
}
#endif
#endif /* HONE_STATS_H */
