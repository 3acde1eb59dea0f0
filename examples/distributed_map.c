/* distributed_map.c: examples/pool_map.c's primes map, across MPI ranks.
 *
 *   mpirun -np 3 ./distributed_map [LIMIT [RANGES]]
 *
 * Every rank runs main: the task is registered, then hone_mpi_init returns on rank 0 only (the
 * others serve rank 0's pools and exit when it is done). Rank 0 maps count_primes over the ranges
 * on a HONE_POOL_MPI pool, whose workers are the cores of every rank (each rank's share of its
 * machine, rank 0's included), checks the answers against a serial loop and prints the speedup
 * and which ranks took part. Build: cc distributed_map.c $(pkg-config --cflags --libs hone-mpi). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hone/pool.h"
#include "hone/pool_mpi.h"

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

/* The result: the count, and the rank that computed it. */
typedef struct counted {
  uint64_t primes;
  int64_t rank;
} counted;

static int count_primes_task(hone_task_ctx *ctx, const void *arg, size_t arg_size, void *result,
                             size_t result_size) {
  (void)result_size;
  if (arg_size != sizeof(range)) return hone_task_fail(ctx, HONE_EINVAL, "expected a range");
  counted c = {count_primes(*(const range *)arg), hone_mpi_rank()};
  *(counted *)result = c;
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  /* Tasks first: a serving rank knows the tasks registered before hone_mpi_init. */
  hone_task_id task;
  int rc = hone_task_register("example.count_primes", count_primes_task, sizeof(counted), &task);
  if (rc == 0) rc = hone_mpi_init(&argc, &argv, NULL); /* returns on rank 0 only */
  if (rc != 0) {
    fprintf(stderr, "distributed_map: %s\n", hone_strerror(rc));
    return 1;
  }
  uint64_t limit = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
  size_t nr = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
  if (limit < 2 || nr == 0) {
    fprintf(stderr, "usage: mpirun -np N distributed_map [LIMIT [RANGES]]\n");
    return 2;
  }
  range *ranges = malloc(nr * sizeof *ranges);
  uint64_t *serial = malloc(nr * sizeof *serial);
  counted *parallel = malloc(nr * sizeof *parallel);
  int *per_rank = calloc((size_t)hone_mpi_size(), sizeof *per_rank);
  if (!ranges || !serial || !parallel || !per_rank) return 1;
  for (size_t i = 0; i < nr; i++) ranges[i] = (range){limit * i / nr, limit * (i + 1) / nr};

  hone_pool *pool = NULL;
  rc = hone_pool_new(&pool, HONE_POOL_MPI, 0);
  if (rc != 0) {
    fprintf(stderr, "distributed_map: %s\n", hone_strerror(rc));
    return 1;
  }

  double t0 = now_s();
  for (size_t i = 0; i < nr; i++) serial[i] = count_primes(ranges[i]);
  double t_serial = now_s() - t0;

  t0 = now_s();
  hone_map_error err;
  rc = hone_pool_map(pool, task, ranges, sizeof(range), parallel, sizeof(counted), nr, 0, &err);
  double t_pool = now_s() - t0;
  unsigned workers = hone_pool_workers(pool);
  hone_pool_free(pool);
  if (rc != 0) {
    fprintf(stderr, "distributed_map: item %zu failed: %s\n", err.index, err.message);
    return 1;
  }
  uint64_t total = 0;
  for (size_t i = 0; i < nr; i++) {
    if (serial[i] != parallel[i].primes) {
      fprintf(stderr, "distributed_map: range %zu: serial %llu, pool %llu\n", i,
              (unsigned long long)serial[i], (unsigned long long)parallel[i].primes);
      return 1;
    }
    total += parallel[i].primes;
    if (parallel[i].rank >= 0 && parallel[i].rank < hone_mpi_size()) per_rank[parallel[i].rank]++;
  }
  printf("primes below %llu: %llu (in %zu ranges)\n", (unsigned long long)limit,
         (unsigned long long)total, nr);
  printf("serial loop:                        %8.3f s\n", t_serial);
  printf("MPI pool map, %2d ranks, %2u workers: %8.3f s   speedup %.2fx\n", hone_mpi_size(),
         workers, t_pool, t_serial / t_pool);
  printf("ranges per rank:");
  for (int r = 0; r < hone_mpi_size(); r++) printf(" %d:%d", r, per_rank[r]);
  printf("   (lost-rank detection: %s)\n", hone_mpi_fault_mode());
  free(ranges);
  free(serial);
  free(parallel);
  free(per_rank);
  return hone_mpi_finalize();
}
