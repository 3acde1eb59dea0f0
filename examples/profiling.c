/* profiling.c: a program with an obvious bottleneck, for `hone record` and `hone report` — the
 * lecture's cProfile example in C. It makes a list of random numbers, sorts it, and prints a few
 * statistics; the sort is a bubble sort whose comparisons dwarf everything else. Built with
 * -finstrument-functions (see examples/CMakeLists.txt), so that:
 *
 *   hone record -o profiling.prof -- build/release/examples/profiling
 *   hone report --sort tottime profiling.prof
 *
 * shows `less` and `bubble_sort` at the top: replacing the sort with qsort is the fix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long long rng_state = 42;

__attribute__((noinline)) static unsigned next_random(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (unsigned)(rng_state >> 33);
}

__attribute__((noinline)) static double *make_data(size_t n) {
  double *v = malloc(n * sizeof *v);
  if (!v) return NULL;
  for (size_t i = 0; i < n; i++) v[i] = (double)(next_random() % 100000) / 100.0;
  return v;
}

__attribute__((noinline)) static int less(double a, double b) {
  return a < b;
}

__attribute__((noinline)) static void swap(double *a, double *b) {
  double t = *a;
  *a = *b;
  *b = t;
}

/* The bottleneck: n*n/2 calls of less(). */
__attribute__((noinline)) static void bubble_sort(double *v, size_t n) {
  for (size_t i = 0; i + 1 < n; i++)
    for (size_t j = 0; j + 1 < n - i; j++)
      if (less(v[j + 1], v[j])) swap(&v[j], &v[j + 1]);
}

__attribute__((noinline)) static double mean(const double *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  return s / (double)n;
}

__attribute__((noinline)) static double stdev(const double *v, size_t n, double m) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
  return sqrt(s / (double)(n - 1));
}

/* A little recursion, so that the report shows ncalls as total/primitive. */
__attribute__((noinline)) static double sum_range(const double *v, size_t lo, size_t hi) {
  if (hi - lo == 1) return v[lo];
  size_t mid = lo + (hi - lo) / 2;
  return sum_range(v, lo, mid) + sum_range(v, mid, hi);
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 3000;
  if (n < 2) n = 2;
  double *v = make_data(n);
  if (!v) return 1;
  bubble_sort(v, n);
  double m = mean(v, n);
  printf("%zu numbers: min %.2f, median %.2f, max %.2f, mean %.2f, stdev %.2f, sum %.2f\n", n, v[0],
         v[n / 2], v[n - 1], m, stdev(v, n, m), sum_range(v, 0, n));
  free(v);
  return 0;
}
