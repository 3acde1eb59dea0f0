/* processes.c: the lecture's multiprocessing examples, in C.
 *
 *   p = Process(target=f, args=(x,)); p.start(); p.join(); print(p.exitcode)
 *   q = Queue(); children q.put(...); the parent q.get()s and joins them
 *   with ProcessPoolExecutor(2) as ex: ex.submit(f, x) / ex.map(count_primes, ranges)
 *
 * 1. hone_process: a function in a child process, its result and its exit code (also of a child
 *    that returns 7 and of one that aborts: Python's negative signal number).
 * 2. Process + Queue: children send messages (one larger than a pipe's buffer) into a shared
 *    queue; the parent joins them BEFORE reading: no feeder thread, so no deadlock.
 * 3. A pool of worker processes: one input crashes its worker (a NULL write); that future alone
 *    fails, naming the signal, every other one completes and the pool goes on. Then a map of a
 *    CPU-bound function over ranges, checked against a serial loop.
 * Usage: processes [LIMIT]   (count primes below LIMIT; default 2,000,000) */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hone/pool.h"
#include "hone/process.h"
#include "hone/queue.h"

#define TIMEOUT_NS ((int64_t)10 * 1000000000) /* no wait in this example is ever unbounded */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *what, int rc) {
  fprintf(stderr, "processes: %s: %s\n", what, hone_strerror(rc));
  return 1;
}

/* ---- 1. a function in a child process ---- */

/* The child's function: the sum of squares 1..n, as text in the shared result buffer. The
 * argument also says what exit code to return, or to abort. */
typedef struct job {
  long n;
  int exit_code; /* < 0: abort() instead */
} job;

static int sum_squares_child(const void *arg, size_t arg_size, void *result, size_t cap,
                             size_t *result_size) {
  const job *j = arg;
  if (j->exit_code < 0) abort();
  long s = 0;
  for (long i = 1; i <= j->n; i++) s += i * i;
  int len = snprintf(result, cap, "sum of squares 1..%ld = %ld (computed in pid %d)", j->n, s,
                     (int)getpid());
  *result_size = len > 0 ? (size_t)len + 1 : 0;
  return j->exit_code;
}

static int part_process(void) {
  job jobs[3] = {{1000, 0}, {10, 7}, {10, -1}};
  const char *what[3] = {"returns 0", "returns 7", "aborts"};
  printf("parent pid %d\n", (int)getpid());
  for (int k = 0; k < 3; k++) {
    hone_process *p;
    int rc = hone_process_start(&p, sum_squares_child, &jobs[k], sizeof jobs[k], 256);
    if (rc) return fail("hone_process_start", rc);
    rc = hone_process_join(p, TIMEOUT_NS);
    if (rc) {
      hone_process_free(p);
      return fail("hone_process_join", rc);
    }
    size_t size = 0;
    const char *res = hone_process_result(p, &size);
    int code = hone_process_exitcode(p);
    char sig[64] = "";
    if (code < 0) /* Python's convention: minus the number of the signal that killed it */
      snprintf(sig, sizeof sig, " (killed by signal %d, %s)", -code, strsignal(-code));
    printf("  child %d (%s): exitcode %d%s, result: %s\n", (int)hone_process_pid(p), what[k], code,
           sig, res && size ? res : "(none: it did not return)");
    hone_process_free(p);
  }
  return 0;
}

/* ---- 2. Process + Queue ---- */

enum { CHILDREN = 3, SMALL = 2, BIG = 256 * 1024 };

typedef struct producer_arg {
  hone_queue *q; /* the child has the parent's memory as at the fork: the handle works there */
  int id;
  size_t big; /* bytes of the large message */
} producer_arg;

static int producer(const void *arg, size_t arg_size, void *result, size_t cap,
                    size_t *result_size) {
  const producer_arg *a = arg;
  char msg[96];
  for (int i = 0; i < SMALL; i++) {
    int len = snprintf(msg, sizeof msg, "child %d (pid %d): message %d", a->id, (int)getpid(), i);
    if (hone_queue_send(a->q, msg, (size_t)len + 1, TIMEOUT_NS) != 0) return 1;
  }
  char *big = malloc(a->big);
  if (!big) return 1;
  memset(big, 'A' + a->id, a->big);
  int rc = hone_queue_send(a->q, big, a->big, TIMEOUT_NS);
  free(big);
  return rc ? 1 : 0; /* exits at once: the messages are already in shared memory */
}

static int part_queue(void) {
  hone_queue *q;
  int rc = hone_queue_new_shared(&q, 4u << 20, 0);
  if (rc) return fail("hone_queue_new_shared", rc);
  size_t big = hone_queue_max_message(q) < BIG ? hone_queue_max_message(q) : BIG;
  hone_process *kids[CHILDREN] = {0};
  int bad = 0;
  for (int k = 0; k < CHILDREN && !bad; k++) {
    producer_arg a = {q, k, big};
    rc = hone_process_start(&kids[k], producer, &a, sizeof a, 0);
    if (rc) bad = fail("hone_process_start", rc);
  }
  /* Join first, read later: with Python's multiprocessing.Queue this order can hang (a child's
   * feeder thread waits for the pipe to drain before the child may exit). */
  for (int k = 0; k < CHILDREN && !bad; k++) {
    rc = hone_process_join(kids[k], TIMEOUT_NS);
    if (rc)
      bad = fail("hone_process_join", rc);
    else if (hone_process_exitcode(kids[k]) != 0) {
      fprintf(stderr, "processes: producer %d: exitcode %d\n", k, hone_process_exitcode(kids[k]));
      bad = 1;
    }
  }
  if (!bad)
    printf("  joined %d children with %zu messages still queued (%zu KiB each of the large ones,\n"
           "  more than a pipe holds): the parent reads them now, nothing was waiting on them\n",
           CHILDREN, hone_queue_size(q), big / 1024);
  char *buf = malloc(big);
  int got_big = 0, got = 0;
  size_t size;
  while (!bad && buf && (rc = hone_queue_recv(q, buf, big, &size, 0)) == 0) {
    got++;
    if (size == big) {
      int ok = 1;
      for (size_t i = 0; i < size; i++) ok &= buf[i] == buf[0];
      got_big += ok;
    } else {
      printf("    %s\n", buf);
    }
  }
  if (!bad) printf("    and %d messages of %zu KiB, each intact\n", got_big, big / 1024);
  if (!bad && (got != CHILDREN * (SMALL + 1) || got_big != CHILDREN)) {
    fprintf(stderr, "processes: received %d messages (%d large), expected %d (%d)\n", got, got_big,
            CHILDREN * (SMALL + 1), CHILDREN);
    bad = 1;
  }
  free(buf);
  for (int k = 0; k < CHILDREN; k++) hone_process_free(kids[k]);
  hone_queue_free(q);
  return bad;
}

/* ---- 3. a pool of worker processes ---- */

enum { ITEMS = 20, CRASH_AT = 13 };

/* x*x, except that the input CRASH_AT writes through a NULL pointer: a real SIGSEGV. */
static int square_or_crash(hone_task_ctx *ctx, const void *arg, size_t arg_size, void *result,
                           size_t result_size) {
  int64_t x;
  memcpy(&x, arg, sizeof x);
  if (x == CRASH_AT) {
    volatile int *volatile nowhere = NULL; /* volatile twice: the store must happen */
    *nowhere = 1;
  }
  x *= x;
  memcpy(result, &x, sizeof x);
  return 0;
}

typedef struct range {
  uint64_t lo, hi;
} range;

static uint64_t count_primes(range r) {
  uint64_t c = 0;
  for (uint64_t n = r.lo; n < r.hi; n++) {
    if (n < 2 || (n % 2 == 0 && n != 2)) continue;
    int prime = 1;
    for (uint64_t d = 3; d * d <= n && prime; d += 2) prime = n % d != 0;
    c += prime;
  }
  return c;
}

static int count_primes_task(hone_task_ctx *ctx, const void *arg, size_t arg_size, void *result,
                             size_t result_size) {
  if (arg_size != sizeof(range)) return hone_task_fail(ctx, HONE_EINVAL, "expected a range");
  uint64_t c = count_primes(*(const range *)arg);
  memcpy(result, &c, sizeof c);
  return 0;
}

static hone_task_id T_SQUARE, T_PRIMES;

static int part_pool_crash(void) {
  hone_pool *pool;
  int rc = hone_pool_new(&pool, HONE_POOL_PROCESSES, 2);
  if (rc) return fail("hone_pool_new(HONE_POOL_PROCESSES)", rc);
  hone_future *fs[ITEMS];
  int n = 0, bad = 0;
  for (; n < ITEMS; n++) {
    int64_t x = n;
    rc = hone_pool_submit(pool, T_SQUARE, &x, sizeof x, TIMEOUT_NS, &fs[n]);
    if (rc) {
      bad = fail("hone_pool_submit", rc);
      break;
    }
  }
  int ok = 0, failed = 0;
  printf("  results:");
  for (int i = 0; i < n; i++) {
    int64_t r;
    rc = hone_future_result(fs[i], TIMEOUT_NS, &r, sizeof r);
    if (rc == 0) {
      printf(" %lld", (long long)r);
      ok += r == (int64_t)i * i;
    } else {
      printf(" [%d: failed]", i);
      failed++;
    }
  }
  printf("\n");
  for (int i = 0; i < n; i++) {
    int code = 0;
    const char *msg = NULL;
    if (hone_future_error(fs[i], TIMEOUT_NS, &code, &msg) == HONE_ETASK)
      printf("  item %d: %s: %s\n", i, hone_err_name(code), msg);
    else if (i == CRASH_AT)
      bad = 1;
    hone_future_release(fs[i]);
  }
  printf("  %d of %d futures completed, %d failed (Python's ProcessPoolExecutor would fail every\n"
         "  pending future with BrokenProcessPool and refuse new work)\n",
         ok, ITEMS, failed);
  if (ok != ITEMS - 1 || failed != 1) bad = 1;
  /* The crashed worker was replaced: the pool goes on. */
  int64_t x = 12, r = 0;
  hone_future *f;
  rc = hone_pool_submit(pool, T_SQUARE, &x, sizeof x, TIMEOUT_NS, &f);
  if (rc == 0) {
    rc = hone_future_result(f, TIMEOUT_NS, &r, sizeof r);
    hone_future_release(f);
  }
  if (rc)
    bad = fail("a submit after the crash", rc);
  else
    printf("  after the crash, the same pool: square(12) = %lld\n", (long long)r);
  hone_pool_free(pool);
  return bad || r != 144;
}

static int part_pool_map(uint64_t limit) {
  enum { NR = 64 };
  range rg[NR];
  uint64_t serial[NR], par[NR];
  for (int i = 0; i < NR; i++) rg[i] = (range){limit * i / NR, limit * (i + 1) / NR};
  unsigned cpus = hone_cpu_count();
  hone_pool *pool;
  int rc = hone_pool_new(&pool, HONE_POOL_PROCESSES, cpus);
  if (rc) return fail("hone_pool_new(HONE_POOL_PROCESSES)", rc);
  double t0 = now_s();
  for (int i = 0; i < NR; i++) serial[i] = count_primes(rg[i]);
  double t_serial = now_s() - t0;
  t0 = now_s();
  hone_map_error err;
  rc = hone_pool_map(pool, T_PRIMES, rg, sizeof(range), par, sizeof par[0], NR, 0, &err);
  double t_pool = now_s() - t0;
  hone_pool_free(pool);
  if (rc == HONE_ETASK) {
    fprintf(stderr, "processes: range %zu failed: %s\n", err.index, err.message);
    return 1;
  }
  if (rc) return fail("hone_pool_map", rc);
  uint64_t total = 0;
  for (int i = 0; i < NR; i++) {
    if (serial[i] != par[i]) {
      fprintf(stderr, "processes: range %d: serial %llu, pool %llu\n", i,
              (unsigned long long)serial[i], (unsigned long long)par[i]);
      return 1;
    }
    total += par[i];
  }
  printf("  primes below %llu: %llu (in %d ranges, same answer both ways)\n",
         (unsigned long long)limit, (unsigned long long)total, NR);
  printf("  serial loop:                    %7.3f s\n", t_serial);
  printf("  map on %2u worker processes:     %7.3f s   speedup %.2fx\n", cpus, t_pool,
         t_serial / t_pool);
  return 0;
}

int main(int argc, char **argv) {
  uint64_t limit = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
  if (argc > 2 || limit < 2) {
    fprintf(stderr, "usage: processes [LIMIT]\n");
    return 2;
  }
  /* The crashing worker and the aborting child should leave no core file behind. */
  struct rlimit nocore = {0, 0};
  setrlimit(RLIMIT_CORE, &nocore);
  /* Tasks are registered before any pool: worker processes inherit the registry at the fork. */
  int rc = hone_task_register("example.square_or_crash", square_or_crash, 8, &T_SQUARE);
  if (rc == 0) rc = hone_task_register("example.count_primes", count_primes_task, 8, &T_PRIMES);
  if (rc) return fail("hone_task_register", rc);
  setvbuf(stdout, NULL, _IOLBF, 0);

  printf("1. hone_process: a function in a child process\n");
  if (part_process()) return 1;
  printf("2. Process + Queue: children send, the parent joins them first, then reads\n");
  if (part_queue()) return 1;
  printf("3. a pool of 2 worker processes; input %d makes its worker write through NULL\n",
         CRASH_AT);
  if (part_pool_crash()) return 1;
  printf("4. map count_primes over ranges on worker processes, vs a serial loop\n");
  return part_pool_map(limit);
}
