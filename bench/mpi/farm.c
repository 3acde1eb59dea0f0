/* farm.c: a hand-written MPI task farm, the physical limit hone's MPI backend is measured
 * against. Rank 0 is the master, every other rank a worker; tasks are MPI messages whose tag
 * says what to run, results come back on the same tag, in order, from each worker. The master
 * never blocks in a send (MPI_Isend: with two chunks in flight a blocking send of an 8 KB chunk
 * deadlocks against the worker's blocking send of the previous result) and keeps a receive posted
 * per busy worker. It waits by polling (MPI_Testany, spinning for --spin-us, then a 50 us sleep
 * between tests) so that it does not take a core from the workers on its own machine; the
 * blocking-master variant (MPI_Waitany, which spins in Open MPI) is measured for primes.
 *
 * Prints one figure a line, "farm.LABEL.KEY VALUE", for bench/mpi.sh to gather.
 * Usage: mpirun -np 3 farm [--label L] [--spin-us N] [--quick]
 *        mpirun -np R farm --scale --task-us D --chunk C --items N [--label L]
 *          (tasks that sleep D us per item, emulating work on other machines: the figures of
 *          docs/distributed.md; workers wait by sleeping between tests so that R ranks share
 *          the cores here) */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bench_util.h"

enum { T_EMPTY = 1, T_TINY, T_PRIMES, T_SLEEP, T_PING, T_PARK, T_STOP };
enum { MAXCHUNK = 8192, MAXFLIGHT = 4, NR = 64 };

static long spin_ns = 50000;
static int worker_sleeps; /* --scale: workers wait by test + sleep instead of MPI_Recv */
static const char *label = "shm";

/* ---- worker ---- */

/* Receives the next message from rank 0 into buf, by MPI_Recv (Open MPI spins in it) or, when
 * parked or in --scale mode, by testing an MPI_Irecv between 50 us sleeps. */
static void next_message(void *buf, int cap, int sleepy, MPI_Status *st) {
  if (!sleepy) {
    MPI_Recv(buf, cap, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, st);
    return;
  }
  MPI_Request r;
  MPI_Irecv(buf, cap, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &r);
  for (int done = 0;;) {
    MPI_Test(&r, &done, st);
    if (done) return;
    pause_us(50);
  }
}

static void worker(void) {
  static uint64_t in[MAXCHUNK], out[MAXCHUNK];
  int parked = 0;
  for (;;) {
    MPI_Status st;
    int n;
    next_message(in, (int)sizeof in, parked || worker_sleeps, &st);
    parked = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    int items = n / 8;
    switch (st.MPI_TAG) {
    case T_EMPTY:
      MPI_Send(NULL, 0, MPI_BYTE, 0, T_EMPTY, MPI_COMM_WORLD);
      break;
    case T_TINY:
      for (int i = 0; i < items; i++) out[i] = tiny_work(in[i]);
      MPI_Send(out, n, MPI_BYTE, 0, T_TINY, MPI_COMM_WORLD);
      break;
    case T_PRIMES: {
      range rg;
      memcpy(&rg, in, sizeof rg);
      out[0] = count_primes(rg);
      MPI_Send(out, 8, MPI_BYTE, 0, T_PRIMES, MPI_COMM_WORLD);
      break;
    }
    case T_SLEEP: { /* each item: a duration in ns; the result is the item back */
      uint64_t ns = 0;
      for (int i = 0; i < items; i++) ns += in[i];
      if (ns) {
        struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
        nanosleep(&ts, NULL);
      }
      MPI_Send(in, n, MPI_BYTE, 0, T_SLEEP, MPI_COMM_WORLD);
      break;
    }
    case T_PING:
      MPI_Send(in, n, MPI_BYTE, 0, T_PING, MPI_COMM_WORLD);
      break;
    case T_PARK:
      parked = 1;
      break;
    case T_STOP:
      return;
    }
  }
}

/* ---- master ---- */

/* A map: n items of isz bytes at in, results of osz bytes to out, chunk items a message. */
typedef struct job {
  int tag;
  const char *in;
  size_t isz;
  char *out;
  size_t osz;
  size_t n, chunk;
} job;

typedef enum { WAIT_POLL, WAIT_BLOCK } wait_mode;

/* What a run cost rank 0: the wall time, and the part of it spent waiting with nothing to do
 * (the rest, over the messages, is rank 0's service time per message). */
typedef struct run_cost {
  double wall_s, idle_s;
  size_t messages;
} run_cost;

static int wait_any(int n, MPI_Request *rq, wait_mode wm, MPI_Status *st, double *idle_s) {
  int idx, flag;
  if (wm == WAIT_BLOCK) {
    MPI_Waitany(n, rq, &idx, st);
    return idx;
  }
  MPI_Testany(n, rq, &idx, &flag, st);
  if (flag) return idx;
  int64_t t0 = now_ns();
  for (;;) {
    MPI_Testany(n, rq, &idx, &flag, st);
    if (flag) break;
    if (now_ns() - t0 > spin_ns) pause_us(50);
  }
  *idle_s += (now_ns() - t0) * 1e-9;
  return idx;
}

/* Runs job j on workers 1..nw with `flight` chunks in flight per worker. */
static run_cost run(const job *j, int nw, int flight, wait_mode wm) {
  static MPI_Request rreq[1024], sreq[1024][MAXFLIGHT];
  static size_t start[1024][MAXFLIGHT];
  static int head[1024], count[1024];
  static uint64_t *rbuf[1024]; /* a worker's result buffer, allocated at its first use */
  size_t chunks = (j->n + j->chunk - 1) / j->chunk, next = 0, done = 0;
  run_cost c = {0, 0, chunks};
  int64_t t0 = now_ns();
#define SEND_NEXT(w)                                                                               \
  do {                                                                                             \
    size_t k_ = j->n - next < j->chunk ? j->n - next : j->chunk;                                   \
    int slot_ = (head[w] + count[w]) % flight;                                                     \
    start[w][slot_] = next;                                                                        \
    MPI_Isend(j->in ? j->in + next * j->isz : NULL, (int)(k_ * j->isz), MPI_BYTE, (w) + 1, j->tag, \
              MPI_COMM_WORLD, &sreq[w][slot_]);                                                    \
    count[w]++;                                                                                    \
    next += k_;                                                                                    \
  } while (0)
  for (int w = 0; w < nw; w++) {
    if (!rbuf[w] && !(rbuf[w] = malloc(MAXCHUNK * 8))) MPI_Abort(MPI_COMM_WORLD, 1);
    head[w] = count[w] = 0;
    rreq[w] = MPI_REQUEST_NULL;
    if (next < j->n)
      MPI_Irecv(rbuf[w], MAXCHUNK * 8, MPI_BYTE, w + 1, j->tag, MPI_COMM_WORLD, &rreq[w]);
    for (int s = 0; s < flight && next < j->n; s++) SEND_NEXT(w);
  }
  while (done < chunks) {
    MPI_Status st;
    int w = wait_any(nw, rreq, wm, &st, &c.idle_s);
    int bytes;
    MPI_Get_count(&st, MPI_BYTE, &bytes);
    size_t s = start[w][head[w]];
    MPI_Wait(&sreq[w][head[w]], MPI_STATUS_IGNORE);
    head[w] = (head[w] + 1) % flight;
    count[w]--;
    if (j->out) memcpy(j->out + s * j->osz, rbuf[w], (size_t)bytes);
    done++;
    if (count[w] > 0 || next < j->n)
      MPI_Irecv(rbuf[w], MAXCHUNK * 8, MPI_BYTE, w + 1, j->tag, MPI_COMM_WORLD, &rreq[w]);
    if (next < j->n) SEND_NEXT(w);
  }
#undef SEND_NEXT
  c.wall_s = (now_ns() - t0) * 1e-9;
  return c;
}

static double cpu_s(void) { /* this process's CPU time */
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void park(int from, int size) {
  for (int r = from; r < size; r++) MPI_Send(NULL, 0, MPI_BYTE, r, T_PARK, MPI_COMM_WORLD);
}

static void put(const char *key, double v) {
  printf("farm.%s.%s %.9g\n", label, key, v);
  fflush(stdout);
}

/* Empty tasks per second, the median of 5 runs of up to n tasks each. A run is sized to take
 * about 0.3 s at the rate a warm-up measured: on Open MPI's tcp transport here the farm ran
 * 25-41 k tasks/s (not the 119-161 k of the machine), and 6 runs of a fixed 200,000 took
 * 40 s, which with the rest ran past bench/mpi.sh's cap for the column. */
static double tps(int nw, int flight, int n, double *service_us) {
  job j = {T_EMPTY, NULL, 0, NULL, 0, 5000, 1};
  run_cost w = run(&j, nw, flight, WAIT_POLL);
  double fit = 0.3 * 5000 / w.wall_s;
  if (fit < (double)n) n = fit < 5000 ? 5000 : (int)fit;
  j.n = (size_t)n;
  double v[5], s[5];
  for (int r = 0; r < 5; r++) {
    run_cost c = run(&j, nw, flight, WAIT_POLL);
    v[r] = n / c.wall_s;
    s[r] = (c.wall_s - c.idle_s) / n * 1e6;
  }
  *service_us = median(s, 5);
  return median(v, 5);
}

static void check_tiny(const uint64_t *in, const uint64_t *out, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    if (out[i] != tiny_work(in[i])) {
      fprintf(stderr, "farm: %s: item %zu is wrong\n", what, i);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

static void bench_all(int size, int quick) {
  int nw = size - 1;
  double svc;
  int n = quick ? 50000 : 200000;
  put("tps1", tps(nw, 1, n, &svc));
  put("service1_us", svc);
  put("tps2", tps(nw, 2, n, &svc));
  put("service2_us", svc);

  /* Idle round trip: one tiny item at a time, its result checked. */
  enum { NRT = 5000, NMAP = 100000 };
  static uint64_t in[NMAP], out[NMAP];
  for (size_t i = 0; i < NMAP; i++) in[i] = i;
  double v[NRT];
  for (int i = 0; i < NRT; i++) {
    job j = {T_TINY, (const char *)&in[i], 8, (char *)&out[i], 8, 1, 1};
    v[i] = run(&j, nw, 1, WAIT_POLL).wall_s;
  }
  check_tiny(in, out, NRT, "round trip");
  put("rt_us", median(v, NRT) * 1e6);

  /* map of 10^5 tiny items: chunk 1000 (best of 21: ~1 ms runs), chunk 1 (median of 3). */
  job m = {T_TINY, (const char *)in, 8, (char *)out, 8, NMAP, 1000};
  double best = 1e9;
  for (int r = 0; r < 21; r++) {
    memset(out, 0, sizeof out);
    double t = run(&m, nw, 2, WAIT_POLL).wall_s;
    if (t < best) best = t;
  }
  check_tiny(in, out, NMAP, "map chunk 1000");
  put("map1000_s", best);
  m.chunk = 1;
  for (int r = 0; r < 3; r++) {
    memset(out, 0, sizeof out);
    v[r] = run(&m, nw, 2, WAIT_POLL).wall_s;
  }
  check_tiny(in, out, NMAP, "map chunk 1");
  put("map1_s", median(v, 3));

  /* Primes below 2e6 in 64 ranges, 1 worker (the others parked: asleep) vs all, best of 3,
   * interleaved; polling master, then blocking master. */
  range rg[NR];
  uint64_t cnt[NR];
  for (int i = 0; i < NR; i++) rg[i] = (range){2000000ull * i / NR, 2000000ull * (i + 1) / NR};
  job p = {T_PRIMES, (const char *)rg, sizeof(range), (char *)cnt, 8, NR, 1};
  for (int mode = 0; mode < 2; mode++) {
    wait_mode wm = mode ? WAIT_BLOCK : WAIT_POLL;
    double t1 = 1e9, t2 = 1e9, cpu = 0, wall = 0;
    for (int r = 0; r < (quick ? 2 : 3); r++) {
      park(2, size);
      pause_us(20000);
      double t = run(&p, 1, 1, wm).wall_s;
      if (t < t1) t1 = t;
      pause_us(20000);
      double c0 = cpu_s();
      t = run(&p, nw, 1, wm).wall_s;
      cpu += cpu_s() - c0;
      wall += t;
      if (t < t2) t2 = t;
    }
    uint64_t total = 0;
    for (int i = 0; i < NR; i++) total += cnt[i];
    if (total != 148933) {
      fprintf(stderr, "farm: %llu primes below 2e6, expected 148933\n", (unsigned long long)total);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    put(mode ? "primes1_block_s" : "primes1_s", t1);
    put(mode ? "primes2_block_s" : "primes2_s", t2);
    put(mode ? "speedup_block" : "speedup", t1 / t2);
    put(mode ? "rank0_cpu_block" : "rank0_cpu", cpu / wall); /* of one core, all workers busy */
  }

  /* 16-byte ping-pong with rank 1, the other workers parked; one way = half the round trip. */
  park(2, size);
  pause_us(1000);
  char msg[16] = {0};
  for (int b = 0; b < 7; b++) {
    int iters = 5000;
    int64_t t0 = now_ns();
    for (int i = 0; i < iters; i++) {
      MPI_Send(msg, 16, MPI_BYTE, 1, T_PING, MPI_COMM_WORLD);
      MPI_Recv(msg, 16, MPI_BYTE, 1, T_PING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    v[b] = (now_ns() - t0) * 1e-3 / iters / 2;
  }
  put("pingpong_us", median(v, 7));
}

/* --scale: throughput of a map of sleeping tasks on every worker, and rank 0's cost. */
static void bench_scale(int size, double task_us, size_t chunk, size_t items, int flight) {
  uint64_t *in = malloc(items * 8), *out = malloc(items * 8);
  if (!in || !out) MPI_Abort(MPI_COMM_WORLD, 1);
  for (size_t i = 0; i < items; i++) in[i] = (uint64_t)(task_us * 1000);
  job j = {T_SLEEP, (const char *)in, 8, (char *)out, 8, items, chunk};
  run(&j, size - 1, flight, WAIT_POLL);
  double v[3], s[3];
  for (int r = 0; r < 3; r++) {
    run_cost c = run(&j, size - 1, flight, WAIT_POLL);
    v[r] = items / c.wall_s;
    s[r] = (c.wall_s - c.idle_s) / (double)c.messages * 1e6;
  }
  printf("scale ranks=%d workers=%d task_us=%g chunk=%zu items=%zu flight=%d items_per_s=%.6g "
         "service_us_per_msg=%.4g\n",
         size, size - 1, task_us, chunk, items, flight, median(v, 3), median(s, 3));
  free(in);
  free(out);
}

int main(int argc, char **argv) {
  int quick = 0, scale = 0, flight = 2;
  double task_us = 0;
  size_t chunk = 1, items = 10000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--label") && i + 1 < argc)
      label = argv[++i];
    else if (!strcmp(argv[i], "--spin-us") && i + 1 < argc)
      spin_ns = atol(argv[++i]) * 1000;
    else if (!strcmp(argv[i], "--quick"))
      quick = 1;
    else if (!strcmp(argv[i], "--scale"))
      scale = 1, worker_sleeps = 1;
    else if (!strcmp(argv[i], "--task-us") && i + 1 < argc)
      task_us = atof(argv[++i]);
    else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
      chunk = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--items") && i + 1 < argc)
      items = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--flight") && i + 1 < argc)
      flight = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: farm [--label L] [--spin-us N] [--quick] | --scale --task-us D "
                      "--chunk C --items N [--flight K]\n");
      return 2;
    }
  }
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2 || size > 1025 || chunk < 1 || chunk > MAXCHUNK || flight < 1 ||
      flight > MAXFLIGHT) {
    if (rank == 0)
      fprintf(stderr, "farm: needs 2..1025 ranks, chunk 1..%d, flight 1..%d\n", MAXCHUNK,
              MAXFLIGHT);
    MPI_Finalize();
    return 2;
  }
  if (rank != 0) {
    worker();
  } else {
    if (scale)
      bench_scale(size, task_us, chunk, items, flight);
    else
      bench_all(size, quick);
    for (int r = 1; r < size; r++) MPI_Send(NULL, 0, MPI_BYTE, r, T_STOP, MPI_COMM_WORLD);
  }
  MPI_Finalize();
  return 0;
}
