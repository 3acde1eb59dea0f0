/* hone_mpi.c: hone's MPI backend on the rows of bench/mpi.sh, the same work as the farm
 * (bench/mpi/farm.c) and the Python peers: empty tasks through submit + result, the idle round
 * trip, maps of 10^5 tiny items (chunk 1000, chunk 1, automatic), primes below 2e6 in 64 ranges.
 * Rank 0 only dispatches (root_workers 0) and every other rank has one worker, so
 * `mpirun -np 3` is 2 workers, as for the peers; `-np 2` gives the 1-worker primes time.
 *
 * Prints "hone.LABEL.KEY VALUE" lines. Usage:
 *   mpirun -np 3 hone_mpi [--label L] [--primes1 SECONDS] [--local threads]
 *   mpirun -np 2 hone_mpi --primes-only [--label L] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench_util.h"
#include "hone/pool.h"
#include "hone/pool_mpi.h"

enum { NR = 64, NMAP = 100000 };

static int t_empty(hone_task_ctx *c, const void *a, size_t n, void *r, size_t rn) {
  (void)c, (void)a, (void)n, (void)r, (void)rn;
  return 0;
}

static int t_tiny(hone_task_ctx *c, const void *in, size_t is, void *out, size_t os, size_t n,
                  size_t *failed) {
  (void)c, (void)failed;
  for (size_t i = 0; i < n; i++) {
    uint64_t x;
    memcpy(&x, (const char *)in + i * is, sizeof x);
    x = tiny_work(x);
    memcpy((char *)out + i * os, &x, sizeof x);
  }
  return 0;
}

static int t_primes(hone_task_ctx *c, const void *a, size_t n, void *r, size_t rn) {
  (void)c, (void)n, (void)rn;
  range rg;
  memcpy(&rg, a, sizeof rg);
  uint64_t k = count_primes(rg);
  memcpy(r, &k, sizeof k);
  return 0;
}

static const char *label = "shm";

static void put(const char *key, double v) {
  printf("hone.%s.%s %.9g\n", label, key, v);
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "hone_mpi: %s: %s\n", what, hone_strerror(rc));
    exit(1);
  }
}

static double cpu_s(void) { /* rank 0's CPU time, all its threads */
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The primes map's best time of 3; *rank0_cpu: rank 0's CPU time over the wall time of the three
 * (a fraction of one core: how much of a core rank 0 takes while the workers compute). */
static double primes_s(hone_pool *p, hone_task_id tp, double *rank0_cpu) {
  range rg[NR];
  uint64_t cnt[NR];
  for (int i = 0; i < NR; i++) rg[i] = (range){2000000ull * i / NR, 2000000ull * (i + 1) / NR};
  double best = 1e30, cpu = 0, wall = 0;
  for (int rep = 0; rep < 3; rep++) {
    int64_t t0 = now_ns();
    double c0 = cpu_s();
    check(hone_pool_map(p, tp, rg, sizeof *rg, cnt, sizeof *cnt, NR, 1, NULL), "primes map");
    double t = (double)(now_ns() - t0) * 1e-9;
    cpu += cpu_s() - c0;
    wall += t;
    uint64_t total = 0;
    for (int i = 0; i < NR; i++) total += cnt[i];
    if (total != 148933) {
      fprintf(stderr, "hone_mpi: %llu primes below 2e6, expected 148933\n",
              (unsigned long long)total);
      exit(1);
    }
    if (t < best) best = t;
  }
  *rank0_cpu = wall > 0 ? cpu / wall : 0;
  return best;
}

int main(int argc, char **argv) {
  hone_task_id te, tt, tp;
  if (hone_task_register("bench.empty", t_empty, 0, &te) ||
      hone_task_register_batch("bench.tiny", t_tiny, 8, &tt) ||
      hone_task_register("bench.primes", t_primes, 8, &tp))
    return 1;
  hone_mpi_options mo;
  hone_mpi_options_init(&mo);
  mo.root_workers = 0;
  mo.workers_per_rank = 1;
  double primes1 = 0;
  bool primes_only = false, rt_only = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--label") && i + 1 < argc)
      label = argv[++i];
    else if (!strcmp(argv[i], "--primes1") && i + 1 < argc)
      primes1 = atof(argv[++i]);
    else if (!strcmp(argv[i], "--primes-only"))
      primes_only = true;
    else if (!strcmp(argv[i], "--rt-only"))
      rt_only = true;
    else if (!strcmp(argv[i], "--local") && i + 1 < argc)
      mo.local_backend = !strcmp(argv[++i], "threads") ? HONE_POOL_THREADS : HONE_POOL_PROCESSES;
  }
  check(hone_mpi_init(&argc, &argv, &mo), "hone_mpi_init");
  hone_pool *p;
  check(hone_pool_new(&p, HONE_POOL_MPI, 0), "pool");
  if (primes_only) {
    double c;
    put("primes1_s", primes_s(p, tp, &c));
    hone_pool_free(p);
    hone_mpi_finalize();
    return 0;
  }
  /* empty tasks: best of 3 runs of 50,000 */
  double tps = 0;
  for (int rep = 0; rep < 3 && !rt_only; rep++) {
    double r = pool_throughput(p, te, 50000);
    if (r > tps) tps = r;
  }
  put("tps", tps);
  /* idle round trip: one task at a time, median of 2000 */
  static double rt[2000];
  for (int i = 0; i < 2000; i++) {
    hone_future *f;
    int64_t t0 = now_ns();
    check(hone_pool_submit(p, te, NULL, 0, HONE_WAIT_FOREVER, &f), "submit");
    check(hone_future_result(f, HONE_WAIT_FOREVER, NULL, 0), "result");
    rt[i] = (double)(now_ns() - t0) / 1e3;
    hone_future_release(f);
  }
  put("rt_us", median(rt, 2000));
  if (rt_only) {
    hone_pool_free(p);
    hone_mpi_finalize();
    return 0;
  }
  /* maps of 10^5 tiny items */
  uint64_t *in = malloc(NMAP * sizeof *in), *out = malloc(NMAP * sizeof *out);
  if (!in || !out) return 1;
  for (int i = 0; i < NMAP; i++) in[i] = (uint64_t)i;
  size_t chunks[] = {1000, 1, 0};
  const char *keys[] = {"map1000_s", "map1_s", "mapauto_s"};
  for (int c = 0; c < 3; c++) {
    double best = 1e30;
    /* best of 21, as the farm's chunk-1000 map (bench/mpi/farm.c): the same statistic on both
     * sides of the ratio; one run of the 2 s chunk-1 map */
    for (int rep = 0; rep < (chunks[c] == 1 ? 1 : 21); rep++) {
      int64_t t0 = now_ns();
      check(hone_pool_map(p, tt, in, 8, out, 8, NMAP, chunks[c], NULL), "map");
      double t = (double)(now_ns() - t0) * 1e-9;
      if (t < best) best = t;
    }
    for (int i = 0; i < NMAP; i += 997)
      if (out[i] != tiny_work((uint64_t)i)) return fprintf(stderr, "hone_mpi: wrong map\n"), 1;
    put(keys[c], best);
  }
  double rank0_cpu;
  double p2 = primes_s(p, tp, &rank0_cpu);
  put("primes2_s", p2);
  put("rank0_cpu", rank0_cpu);
  if (primes1 > 0) put("speedup", primes1 / p2);
  free(in);
  free(out);
  hone_pool_free(p);
  hone_mpi_finalize();
  return 0;
}
