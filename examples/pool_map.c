/* pool_map.c: the lecture's pool example, on threads.
 *
 *   with cf.ProcessPoolExecutor(cpus) as ex:
 *       results = list(ex.map(count_primes, ranges))
 *
 * Maps a CPU-bound function (count the primes in a range) over a list of ranges with
 * hone_cpu_count() workers, checks the answers against a serial loop, and prints the speedup.
 * Usage: pool_map [LIMIT [RANGES]]   (default: primes below 2,000,000 in 64 ranges) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hone/pool.h"

typedef struct range {
  uint64_t lo, hi;
} range;

static int is_prime(uint64_t n) {
  if (n < 2) return 0;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2)
    if (n % d == 0) return 0;
  return 1;
}

static uint64_t count_primes(range r) {
  uint64_t c = 0;
  for (uint64_t n = r.lo; n < r.hi; n++) c += is_prime(n);
  return c;
}

/* The task: the same function, behind the pool's calling convention. */
static int count_primes_task(hone_task_ctx *ctx, const void *arg, size_t arg_size, void *result,
                             size_t result_size) {
  if (arg_size != sizeof(range)) return hone_task_fail(ctx, HONE_EINVAL, "expected a range");
  *(uint64_t *)result = count_primes(*(const range *)arg);
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  uint64_t limit = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
  size_t nr = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
  if (limit < 2 || nr == 0) {
    fprintf(stderr, "usage: pool_map [LIMIT [RANGES]]\n");
    return 2;
  }
  range *ranges = malloc(nr * sizeof *ranges);
  uint64_t *serial = malloc(nr * sizeof *serial), *parallel = malloc(nr * sizeof *parallel);
  if (!ranges || !serial || !parallel) return 1;
  for (size_t i = 0; i < nr; i++) ranges[i] = (range){limit * i / nr, limit * (i + 1) / nr};

  hone_task_id task;
  int rc = hone_task_register("example.count_primes", count_primes_task, sizeof(uint64_t), &task);
  unsigned cpus = hone_cpu_count();
  hone_pool *pool = NULL;
  if (rc == 0) rc = hone_pool_new(&pool, HONE_POOL_THREADS, cpus);
  if (rc != 0) {
    fprintf(stderr, "pool_map: %s\n", hone_strerror(rc));
    return 1;
  }

  double t0 = now_s();
  for (size_t i = 0; i < nr; i++) serial[i] = count_primes(ranges[i]);
  double t_serial = now_s() - t0;

  t0 = now_s();
  hone_map_error err;
  rc = hone_pool_map(pool, task, ranges, sizeof(range), parallel, sizeof(uint64_t), nr, 0, &err);
  double t_pool = now_s() - t0;
  hone_pool_free(pool);
  if (rc != 0) {
    fprintf(stderr, "pool_map: item %zu failed: %s\n", err.index, err.message);
    return 1;
  }

  uint64_t total = 0;
  for (size_t i = 0; i < nr; i++) {
    if (serial[i] != parallel[i]) {
      fprintf(stderr, "pool_map: range %zu: serial %llu, pool %llu\n", i,
              (unsigned long long)serial[i], (unsigned long long)parallel[i]);
      return 1;
    }
    total += parallel[i];
  }
  printf("primes below %llu: %llu (in %zu ranges)\n", (unsigned long long)limit,
         (unsigned long long)total, nr);
  printf("serial loop:          %8.3f s\n", t_serial);
  printf("pool map, %2u workers: %8.3f s   speedup %.2fx\n", cpus, t_pool, t_serial / t_pool);
  free(ranges);
  free(serial);
  free(parallel);
  return 0;
}
