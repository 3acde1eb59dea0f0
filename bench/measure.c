/* measure.c: the measure layer's benchmark, hone's side — (1) the Timer's loop overhead on an
 * empty body, (2) a dependent chain of N and 2N integer multiplications, whose times must come
 * out in a ratio of 2.00 ± 0.03. Prints "key value" lines that bench/measure.sh sets beside
 * Google Benchmark's figures for the same bodies. Usage: bench_measure [N] */
#include <stdio.h>
#include <stdlib.h>

#include <hone/hone.h>

/* Many short trials: on a shared machine a 10 ms trial often runs untouched by other processes,
 * and the best one (Python's "best of") is then the work's own time. */
enum { REPEAT = 30 };
static const double TARGET_S = 0.01; /* autorange target: trials of at least 10 ms */

/* The empty body: the loop itself is all that is timed. The sink lives in memory, so keeping it
 * "used" costs no instruction; the loop cannot be deleted because the asm must run n times. */
static void empty_loop(void *arg, uint64_t n) {
  (void)arg;
  int sink = 0;
  for (uint64_t i = 0; i < n; i++) hone_do_not_optimize(sink);
}

static void empty_stmt(void *arg) {
  (void)arg;
}

typedef struct {
  uint32_t x;
  uint64_t n; /* multiplications per iteration; read at run time so nothing is unrolled away */
} chain;

/* Each step needs the previous one's result: a chain the CPU cannot overlap and the compiler
 * cannot fold. */
static void chain_loop(void *arg, uint64_t iters) {
  chain *c = arg;
  uint32_t x = c->x;
  const uint64_t n = c->n;
  for (uint64_t i = 0; i < iters; i++) {
    for (uint64_t k = 0; k < n; k++) x = (x ^ (x >> 13)) * 2654435761u;
    hone_do_not_optimize(x);
  }
  c->x = x;
}

static hone_result *time_it(hone_loop_fn loop, hone_stmt_fn stmt, void *arg) {
  hone_timer *t;
  hone_result *r = NULL;
  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.autorange_target = TARGET_S;
  int rc = hone_timer_new(&t);
  if (rc == 0) rc = hone_timer_configure(t, &cfg);
  if (rc == 0) rc = loop ? hone_timer_set_loop(t, loop, arg) : hone_timer_set_stmt(t, stmt, arg);
  if (rc == 0) rc = hone_timer_repeat(t, REPEAT, 0, &r);
  hone_timer_free(t);
  if (rc < 0) {
    fprintf(stderr, "bench_measure: %s\n", hone_strerror(rc));
    exit(1);
  }
  return r;
}

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
  if (n == 0) n = 1000;

  hone_result *empty = time_it(empty_loop, NULL, NULL);
  printf("empty_loop_ns %.4f\n", hone_result_stats(empty)->min);
  printf("empty_loop_median_ns %.4f\n", hone_result_stats(empty)->median);
  hone_result *call = time_it(NULL, empty_stmt, NULL);
  printf("empty_stmt_ns %.4f\n", hone_result_stats(call)->min);

  chain c1 = {.x = 12345, .n = n}, c2 = {.x = 12345, .n = 2 * n};
  /* N and 2N alternate, three times each, so that a slow spell of a shared machine falls on both
   * rather than on one of them. */
  double a[3 * REPEAT], b[3 * REPEAT];
  size_t na = 0, nb = 0;
  for (int round = 0; round < 3; round++) {
    hone_result *r1 = time_it(chain_loop, NULL, &c1);
    hone_result *r2 = time_it(chain_loop, NULL, &c2);
    for (size_t i = 0; i < hone_result_trials(r1); i++) a[na++] = hone_result_per_loop(r1)[i];
    for (size_t i = 0; i < hone_result_trials(r2); i++) b[nb++] = hone_result_per_loop(r2)[i];
    hone_result_free(r1);
    hone_result_free(r2);
  }
  hone_stats s1, s2;
  hone_ratio ratio;
  if (hone_stats_compute(a, na, HONE_OUTLIER_TUKEY, &s1) < 0 ||
      hone_stats_compute(b, nb, HONE_OUTLIER_TUKEY, &s2) < 0 ||
      hone_stats_ratio(b, nb, a, na, &ratio) < 0) {
    fprintf(stderr, "bench_measure: statistics failed\n");
    return 1;
  }
  printf("chain_n %llu\n", (unsigned long long)n);
  printf("chain_N_ns %.3f\n", s1.min);
  printf("chain_2N_ns %.3f\n", s2.min);
  printf("chain_N_cv %.5f\n", s1.stdev / s1.mean);
  printf("chain_2N_cv %.5f\n", s2.stdev / s2.mean);
  printf("ratio %.4f\n", ratio.value);
  printf("ratio_unc %.4f\n", ratio.uncertainty);
  printf("ratio_best %.4f\n", s2.min / s1.min);
  printf("ratio_median %.4f\n", s2.median / s1.median);
  printf("cycles_per_step %.3f\n", s1.min / (double)n * hone_cycles_per_second() / 1e9);
  hone_result_free(empty);
  hone_result_free(call);
  return 0;
}
