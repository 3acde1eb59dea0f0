/* test_pool.c: the pool API suite — task registry, submit/result, map order and early stop,
 * cancel, timeouts, errors, wait modes, as_completed, callbacks, shutdown, nested submits (the
 * full-queue rule and the waiting-worker-helps rule), initializers, lazy map.
 * Every pool it makes uses HONE_TEST_BACKEND: threads here; test_pool_processes.c defines it to
 * HONE_POOL_PROCESSES and includes this file, so the same tests run on worker processes (the few
 * that only make sense on threads are skipped there, each with its reason).
 * HONE_TEST_CONCURRENCY: also run under ThreadSanitizer (the thread build only). */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/pool.h"

#ifndef HONE_TEST_BACKEND
#define HONE_TEST_BACKEND HONE_POOL_THREADS
#endif
static const bool on_processes = HONE_TEST_BACKEND == HONE_POOL_PROCESSES;

static hone_task_id T_WAITCH, T_BATCH, T_WHO, T_DOUBLE, T_FAIL_AT, T_GATE, T_FAIL, T_NESTED, T_FIB,
    T_SLEEP, T_COUNT, T_MAPIN, T_PID, T_HAS_POOL, T_REVERSE, T_REVERSE8K, T_FAIL_HOW, T_WAIT_OTHER,
    T_MARK, T_FREE_POOL;

enum { MAX_INIT_WORKERS = 64 };

/* What the tests and the tasks share. A worker process sees this process's memory only as it was
 * at the fork, so the counters and gates live in a MAP_SHARED anonymous mapping made in main
 * before any pool (threads see it as ordinary memory). Lock-free atomics work across processes. */
typedef struct shared_state {
  atomic_int gate_open; /* T_GATE tasks spin until this reaches their argument (default 1) */
  atomic_int gate_started;
  atomic_long runs;
  atomic_int init_calls;
  atomic_int init_pid[MAX_INIT_WORKERS]; /* init_mark: the pid that ran worker i's initializer */
} shared_state;
static shared_state *sh;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(long ns) {
  struct timespec ts = {ns / 1000000000, ns % 1000000000};
  nanosleep(&ts, NULL);
}

static int t_double(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  int64_t v;
  memcpy(&v, arg, sizeof v);
  v *= 2;
  memcpy(res, &v, sizeof v);
  atomic_fetch_add(&sh->runs, 1);
  return 0;
}

/* Fails on the item whose value is 1000. */
static int t_fail_at(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  int64_t v;
  memcpy(&v, arg, sizeof v);
  atomic_fetch_add(&sh->runs, 1);
  if (v == 1000) return hone_task_fail(ctx, HONE_ERANGE, "item %lld is bad", (long long)v);
  v += 1;
  memcpy(res, &v, sizeof v);
  return 0;
}

/* Waits for the gate; its argument (an int) becomes the result. */
static int t_gate(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  atomic_fetch_add(&sh->gate_started, 1);
  int want = 1;
  if (n == sizeof(int)) memcpy(&want, arg, sizeof want);
  while (atomic_load(&sh->gate_open) < want) sleep_ns(100000);
  memcpy(res, &want, sizeof want);
  return 0;
}

static int t_fail(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  return hone_task_fail(ctx, HONE_EIO, "disk %d on fire", 7);
}

/* Fails in the way its argument says: 0 = returns HONE_EIO with no message, 1 = a message longer
 * than HONE_TASK_MESSAGE_MAX, 2 = hone_task_fail with a code >= 0. */
static int t_fail_how(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  int how;
  memcpy(&how, arg, sizeof how);
  if (how == 0) return HONE_EIO;
  if (how == 1) {
    char longer[2 * HONE_TASK_MESSAGE_MAX];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    return hone_task_fail(ctx, HONE_ERANGE, "%s", longer);
  }
  return hone_task_fail(ctx, 5, "positive");
}

static int t_sleep(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  sleep_ns(200000);
  atomic_fetch_add(&sh->runs, 1);
  return 0;
}

static int t_count(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  atomic_fetch_add(&sh->runs, 1);
  return 0;
}

/* Submits `k` children (T_DOUBLE) to its own pool and waits on each: needs the full-queue rule and
 * the waiting-worker-helps rule. Result: {sum of results, children done at once after submit}. */
static int t_nested(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  int k;
  memcpy(&k, arg, sizeof k);
  hone_pool *p = hone_task_pool(ctx);
  hone_future *fs[64];
  int64_t out[2] = {0, 0};
  for (int64_t i = 0; i < k; i++) {
    int rc = hone_pool_submit(p, T_DOUBLE, &i, sizeof i, HONE_WAIT_FOREVER, &fs[i]);
    if (rc) return hone_task_fail(ctx, rc, "submit %lld", (long long)i);
    if (hone_future_done(fs[i])) out[1]++;
  }
  for (int i = 0; i < k; i++) {
    int64_t v = 0;
    int rc = hone_future_result(fs[i], HONE_WAIT_FOREVER, &v, sizeof v);
    hone_future_release(fs[i]);
    if (rc) return rc;
    out[0] += v;
  }
  memcpy(res, out, sizeof out);
  return 0;
}

/* fib(n) by submitting fib(n-1) and computing fib(n-2) inline, then waiting. */
static int t_fib(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  int64_t k;
  memcpy(&k, arg, sizeof k);
  if (k < 2) {
    memcpy(res, &k, sizeof k);
    return 0;
  }
  int64_t a = k - 1, b = k - 2, ra = 0, rb = 0;
  hone_future *f;
  int rc = hone_pool_submit(hone_task_pool(ctx), T_FIB, &a, sizeof a, HONE_WAIT_FOREVER, &f);
  if (rc) return rc;
  rc = t_fib(ctx, &b, sizeof b, &rb, sizeof rb);
  int rc2 = hone_future_result(f, HONE_WAIT_FOREVER, &ra, sizeof ra);
  hone_future_release(f);
  if (rc || rc2) return rc ? rc : rc2;
  int64_t s = ra + rb;
  memcpy(res, &s, sizeof s);
  return 0;
}

/* Runs a map over 64 items from inside a task (the worker takes part and helps). */
static int t_mapin(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  int64_t in[64], out[64], sum = 0;
  for (int i = 0; i < 64; i++) in[i] = i;
  int rc = hone_pool_map(hone_task_pool(ctx), T_DOUBLE, in, sizeof in[0], out, sizeof out[0], 64, 1,
                         NULL);
  if (rc) return rc;
  for (int i = 0; i < 64; i++) sum += out[i];
  memcpy(res, &sum, sizeof sum);
  return 0;
}

/* Sleeps 2 ms (no CPU needed, so it overlaps even on a busy machine) and returns its worker. */
static int t_who(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  sleep_ns(2000000);
  int w = hone_task_worker(ctx);
  memcpy(res, &w, sizeof w);
  return 0;
}

/* Returns the pid of the process it runs in. */
static int t_pid(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  sleep_ns(1000000);
  pid_t pid = getpid();
  memcpy(res, &pid, sizeof pid);
  return 0;
}

enum { BIG = 64 * 1024 }; /* T_REVERSE's result size (T_REVERSE8K: 8 KiB), past inline slots */

/* Writes its argument's bytes reversed into the first arg_size bytes of the result. */
static int t_reverse(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  if (n > rn) return hone_task_fail(ctx, HONE_EINVAL, "argument %zu > result %zu", n, rn);
  const unsigned char *a = arg;
  unsigned char *r = res;
  for (size_t i = 0; i < n; i++) r[i] = a[n - 1 - i];
  return 0;
}

/* Returns whether the task holds a handle on its pool (1) or not (0). */
static int t_has_pool(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  int has = hone_task_pool(ctx) != NULL;
  memcpy(res, &has, sizeof has);
  return 0;
}

/* A batch task: doubles each item, fails on the value 777. */
static int t_batch(hone_task_ctx *ctx, const void *in, size_t is, void *out, size_t os,
                   size_t count, size_t *failed) {
  for (size_t i = 0; i < count; i++) {
    int64_t v;
    memcpy(&v, (const char *)in + i * is, sizeof v);
    if (v == 777) {
      *failed = i;
      return hone_task_fail(ctx, HONE_ERANGE, "777 in a batch");
    }
    v *= 2;
    memcpy((char *)out + i * os, &v, sizeof v);
  }
  return 0;
}

/* In a 1-worker pool: submits two children and waits FIRST_COMPLETED, then as_completed over
 * both: only the waiting worker itself can run them (it must help inside every kind of wait). */
static int t_wait_children(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  hone_pool *p = hone_task_pool(ctx);
  hone_future *fs[2];
  for (int64_t i = 0; i < 2; i++)
    if (hone_pool_submit(p, T_DOUBLE, &i, sizeof i, HONE_WAIT_FOREVER, &fs[i]) != 0)
      return HONE_EIO;
  size_t nd = 0;
  int rc = hone_futures_wait(fs, 2, HONE_FIRST_COMPLETED, HONE_WAIT_FOREVER, &nd);
  if (rc == 0 && nd == 0) rc = HONE_ESTATE;
  hone_as_completed *it = NULL;
  if (rc == 0) rc = hone_as_completed_new(&it, fs, 2);
  int got = 0;
  hone_future *f;
  while (rc == 0 && hone_as_completed_next(it, HONE_WAIT_FOREVER, &f) == 0) got++;
  hone_as_completed_free(it);
  hone_future_release(fs[0]);
  hone_future_release(fs[1]);
  if (rc == 0 && got != 2) rc = HONE_ESTATE;
  memcpy(res, &got, sizeof got);
  return rc;
}

/* What t_wait_other waits on, and whether the calling thread is inside that wait. */
typedef struct wait_other_arg {
  hone_future *other; /* a future of ANOTHER pool */
  int how;            /* 0: hone_future_result, 1: hone_futures_wait, 2: as_completed */
} wait_other_arg;
static _Thread_local int in_other_wait;

static int t_wait_other(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  wait_other_arg a;
  memcpy(&a, arg, sizeof a);
  atomic_fetch_add(&sh->gate_started, 1);
  in_other_wait = 1;
  int rc;
  if (a.how == 0) {
    rc = hone_future_result(a.other, HONE_WAIT_FOREVER, NULL, 0);
  } else if (a.how == 1) {
    rc = hone_futures_wait(&a.other, 1, HONE_FIRST_COMPLETED, HONE_WAIT_FOREVER, NULL);
  } else {
    hone_as_completed *it = NULL;
    hone_future *f = NULL;
    rc = hone_as_completed_new(&it, &a.other, 1);
    if (rc == 0) rc = hone_as_completed_next(it, HONE_WAIT_FOREVER, &f);
    hone_as_completed_free(it);
  }
  in_other_wait = 0;
  return rc;
}

/* 1 if it ran on the stack of a t_wait_other that is waiting, else 0. */
static int t_nested_mark(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  memcpy(res, &in_other_wait, sizeof in_other_wait);
  return 0;
}

/* Frees its own pool (hone_pool_free from a task is deferred until the task returns). */
static int t_free_own_pool(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  while (atomic_load(&sh->gate_open) < 1) sleep_ns(100000); /* the test has queued the rest */
  hone_pool_free(hone_task_pool(ctx));
  sleep_ns(2000000); /* still running on the worker after the call: the pool must stay usable */
  atomic_fetch_add(&sh->runs, 1);
  return 0;
}

static _Atomic int freed_in_callback;

static void free_pool_cb(hone_future *f, void *arg) {
  hone_pool_free(arg);
  atomic_store(&freed_in_callback, 1);
}

static int setup(void **state) {
  atomic_store(&sh->gate_open, 0);
  atomic_store(&sh->gate_started, 0);
  atomic_store(&sh->runs, 0);
  return 0;
}

static hone_pool *make_pool(unsigned workers, size_t queue) {
  hone_pool_options o;
  hone_pool_options_init(&o);
  o.backend = HONE_TEST_BACKEND;
  o.workers = workers;
  o.queue_size = queue;
  hone_pool *p = NULL;
  assert_int_equal(hone_pool_new_ex(&p, &o), 0);
  assert_non_null(p);
  return p;
}

static void wait_started(int n) {
  while (atomic_load(&sh->gate_started) < n) sleep_ns(100000);
}

static void test_registry(void **state) {
  hone_task_id id, id2;
  assert_int_equal(hone_task_register("test.double", t_double, 8, &id), 0);
  assert_int_equal(id, T_DOUBLE);
  assert_int_equal(hone_task_register("test.double", t_fail, 8, &id2), HONE_EEXIST);
  assert_int_equal(hone_task_register("test.double", t_double, 16, &id2), HONE_EEXIST);
  assert_int_equal(hone_task_register("", t_double, 8, &id2), HONE_EINVAL);
  assert_int_equal(hone_task_lookup("test.double", &id2), 0);
  assert_int_equal(id2, T_DOUBLE);
  assert_int_equal(hone_task_lookup("no.such.task", &id2), HONE_ENOENT);
  assert_string_equal(hone_task_name(T_GATE), "test.gate");
  assert_int_equal(T_BATCH, 0); /* ids are handed out in registration order */
  assert_int_equal(T_WAITCH, 1);
  assert_null(hone_task_name(99999));
  assert_null(hone_task_name(-1));
  hone_pool *p = NULL;
  assert_int_equal(hone_pool_new(&p, HONE_POOL_MPI, 2), HONE_ENOTSUP); /* reserved */
  assert_int_equal(hone_pool_new(&p, (hone_pool_backend)42, 2), HONE_EINVAL);
  assert_null(p);
}

static void test_submit_result_copy_in(void **state) {
  hone_pool *p = make_pool(2, 0);
  assert_int_equal(hone_pool_workers(p), 2);
  assert_int_equal(hone_pool_backend_of(p), HONE_TEST_BACKEND);
  int64_t v = 21;
  hone_future *f;
  assert_int_equal(hone_pool_submit(p, T_DOUBLE, &v, sizeof v, HONE_WAIT_FOREVER, &f), 0);
  v = 1000; /* copy-in: the task saw 21 */
  int64_t r = 0;
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &r, sizeof r), 0);
  assert_int_equal(r, 42);
  size_t sz = 0;
  const int64_t *data = hone_future_result_data(f, &sz);
  assert_non_null(data);
  assert_int_equal(sz, 8);
  assert_int_equal(*data, 42);
  assert_true(hone_future_done(f));
  assert_false(hone_future_cancelled(f));
  int code = 1;
  const char *msg = NULL;
  assert_int_equal(hone_future_error(f, 0, &code, &msg), 0);
  assert_int_equal(code, 0);
  assert_int_equal(hone_future_cancel(f), HONE_EBUSY);
  hone_future_release(f);
  assert_int_equal(hone_pool_submit(p, 9999, &v, sizeof v, 0, &f), HONE_EINVAL);
  assert_null(f);
  hone_pool_free(p);
  hone_pool_free(NULL);
  hone_future_release(NULL);
}

static void check_map(hone_pool *p, size_t n, size_t chunk) {
  int64_t *in = malloc(n * sizeof *in), *out = calloc(n, sizeof *out);
  for (size_t i = 0; i < n; i++) in[i] = (int64_t)i;
  hone_map_error err;
  assert_int_equal(hone_pool_map(p, T_DOUBLE, in, 8, out, 8, n, chunk, &err), 0);
  for (size_t i = 0; i < n; i++)
    if (out[i] != 2 * (int64_t)i) fail_msg("out[%zu] = %lld", i, (long long)out[i]);
  free(in);
  free(out);
}

static void test_map_order(void **state) {
  hone_pool *p = make_pool(3, 0);
  check_map(p, 100000, 0);
  check_map(p, 10007, 7);
  check_map(p, 1, 0);
  check_map(p, 5, 100);
  assert_int_equal(hone_pool_map(p, T_DOUBLE, NULL, 0, NULL, 0, 0, 0, NULL), 0);
  int64_t x = 1, y;
  assert_int_equal(hone_pool_map(p, T_DOUBLE, &x, 8, &y, 4, 1, 0, NULL), HONE_EINVAL);
  hone_pool_free(p);
}

static void test_batch_task(void **state) {
  hone_task_id id;
  assert_int_equal(hone_task_register("test.batch", t_double, 8, &id), HONE_EEXIST);
  assert_int_equal(hone_task_register_batch("test.batch", t_batch, 8, &id), 0);
  assert_int_equal(id, T_BATCH);
  hone_pool *p = make_pool(2, 0);
  size_t n = 300000;
  int64_t *in = malloc(n * sizeof *in), *out = calloc(n, sizeof *out);
  for (size_t i = 0; i < n; i++) in[i] = (int64_t)i + 1000; /* no 777 */
  assert_int_equal(hone_pool_map(p, T_BATCH, in, 8, out, 8, n, 0, NULL), 0);
  for (size_t i = 0; i < n; i++) assert_int_equal(out[i], 2 * in[i]);
  for (size_t i = 0; i < n; i++) in[i] = (int64_t)i;
  hone_map_error err;
  assert_int_equal(hone_pool_map(p, T_BATCH, in, 8, out, 8, n, 100, &err), HONE_ETASK);
  assert_int_equal(err.index, 777);
  assert_string_equal(err.message, "777 in a batch");
  for (size_t i = 0; i < 777; i++) assert_int_equal(out[i], 2 * (int64_t)i);
  int64_t v = 5, r = 0;
  hone_future *f;
  assert_int_equal(hone_pool_submit(p, T_BATCH, &v, sizeof v, HONE_WAIT_FOREVER, &f), 0);
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &r, sizeof r), 0);
  assert_int_equal(r, 10);
  hone_future_release(f);
  v = 777;
  assert_int_equal(hone_pool_submit(p, T_BATCH, &v, sizeof v, HONE_WAIT_FOREVER, &f), 0);
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &r, sizeof r), HONE_ETASK);
  hone_future_release(f);
  free(in);
  free(out);
  hone_pool_free(p);
}

static void test_map_uses_every_worker(void **state) {
  hone_pool *p = make_pool(2, 0);
  enum { N = 40 };
  int who[N];
  for (int i = 0; i < N; i++) who[i] = -2;
  assert_int_equal(hone_pool_map(p, T_WHO, NULL, 0, who, sizeof(int), N, 1, NULL), 0);
  int seen[2] = {0, 0};
  for (int i = 0; i < N; i++) {
    assert_true(who[i] >= 0 && who[i] <= 1); /* never the calling thread */
    seen[who[i]]++;
  }
  assert_true(seen[0] > 0);
  assert_true(seen[1] > 0);
  /* Threads run in this process; worker processes in two others (no task runs here). */
  pid_t pids[N], self = getpid();
  assert_int_equal(hone_pool_map(p, T_PID, NULL, 0, pids, sizeof(pid_t), N, 1, NULL), 0);
  pid_t other = 0;
  for (int i = 0; i < N; i++) {
    if (!on_processes) {
      assert_int_equal(pids[i], self);
      continue;
    }
    assert_true(pids[i] > 0);
    assert_int_not_equal(pids[i], self);
    if (pids[i] != pids[0]) other = pids[i];
  }
  if (on_processes) assert_int_not_equal(other, 0);
  hone_pool_free(p);
}

/* A worker busy elsewhere does not hold a map up: the other worker takes its share (threads: the
 * share is stolen; processes: chunks go to whichever worker is free). */
static void test_map_with_a_worker_busy(void **state) {
  hone_pool *p = make_pool(2, 0);
  hone_future *held;
  assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &held), 0);
  wait_started(1);
  check_map(p, 100000, 0);
  check_map(p, 1001, 7);
  check_map(p, 2, 0);
  assert_false(hone_future_done(held));
  atomic_store(&sh->gate_open, 1);
  int r = 0;
  assert_int_equal(hone_future_result(held, HONE_WAIT_FOREVER, &r, sizeof r), 0);
  hone_future_release(held);
  check_map(p, 100000, 0); /* the runner left queued behind the gate found nothing to do */
  hone_pool_free(p);
}

static unsigned char pattern(int k, size_t i) {
  return (unsigned char)(i * 7 + (size_t)k * 13 + (i >> 8));
}

/* Arguments and results of 64 KiB, many in flight: copy-in at submit, the whole result copied
 * out; map slots of 4 KiB in, 8 KiB out, where the bytes a task does not write keep the caller's
 * values (in place on threads, copied both ways on processes). */
static void test_large_arguments_and_results(void **state) {
  hone_pool *p = make_pool(2, 0);
  enum { K = 16 };
  hone_future *fs[K];
  unsigned char *arg = malloc(BIG), *out = malloc(BIG);
  assert_non_null(arg);
  assert_non_null(out);
  for (int k = 0; k < K; k++) {
    for (size_t i = 0; i < BIG; i++) arg[i] = pattern(k, i);
    assert_int_equal(hone_pool_submit(p, T_REVERSE, arg, BIG, HONE_WAIT_FOREVER, &fs[k]), 0);
  }
  memset(arg, 0, BIG); /* copy-in: the tasks saw their own patterns */
  for (int k = 0; k < K; k++) {
    memset(out, 0, BIG);
    assert_int_equal(hone_future_result(fs[k], HONE_WAIT_FOREVER, out, BIG), 0);
    size_t sz = 0;
    const unsigned char *data = hone_future_result_data(fs[k], &sz);
    assert_non_null(data);
    assert_int_equal(sz, BIG);
    for (size_t i = 0; i < BIG; i++)
      if (out[i] != pattern(k, BIG - 1 - i) || data[i] != out[i])
        fail_msg("future %d: byte %zu is %u", k, i, out[i]);
    hone_future_release(fs[k]);
  }
  /* A short argument: the rest of the (zero-filled) result stays zero. */
  unsigned char three[3] = {1, 2, 3};
  hone_future *f;
  assert_int_equal(hone_pool_submit(p, T_REVERSE, three, 3, HONE_WAIT_FOREVER, &f), 0);
  memset(out, 0xEE, BIG);
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, out, BIG), 0);
  assert_true(out[0] == 3 && out[1] == 2 && out[2] == 1);
  for (size_t i = 3; i < BIG; i++)
    if (out[i] != 0) fail_msg("byte %zu of a short result is %u", i, out[i]);
  hone_future_release(f);
  /* map: 600 items, 4 KiB in and 8 KiB out each (7 MiB in all, several chunks). */
  enum { N = 600, IS = 4096, OS = 8192 };
  unsigned char *in = malloc((size_t)N * IS), *mo = malloc((size_t)N * OS);
  assert_non_null(in);
  assert_non_null(mo);
  for (size_t j = 0; j < N; j++)
    for (size_t i = 0; i < IS; i++) in[j * IS + i] = pattern((int)j, i);
  memset(mo, 0xEE, (size_t)N * OS);
  for (size_t chunk = 0; chunk <= 7; chunk += 7) {
    hone_map_error err;
    assert_int_equal(hone_pool_map(p, T_REVERSE8K, in, IS, mo, OS, N, chunk, &err), 0);
    for (size_t j = 0; j < N; j++)
      for (size_t i = 0; i < OS; i++) {
        unsigned char want = i < IS ? pattern((int)j, IS - 1 - i) : 0xEE;
        if (mo[j * OS + i] != want) fail_msg("map item %zu: byte %zu is %u", j, i, mo[j * OS + i]);
      }
  }
  free(in);
  free(mo);
  free(arg);
  free(out);
  hone_pool_free(p);
}

/* A task on a thread may submit to its own pool; one in a worker process has no handle on it. */
static void test_task_pool_handle(void **state) {
  hone_pool *p = make_pool(1, 0);
  hone_future *f;
  int has = -1;
  assert_int_equal(hone_pool_submit(p, T_HAS_POOL, NULL, 0, HONE_WAIT_FOREVER, &f), 0);
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &has, sizeof has), 0);
  assert_int_equal(has, on_processes ? 0 : 1);
  hone_future_release(f);
  hone_pool_free(p);
}

static void test_map_stops_on_first_error(void **state) {
  hone_pool *p = make_pool(2, 0);
  size_t n = 400000;
  int64_t *in = malloc(n * sizeof *in), *out = calloc(n, sizeof *out);
  for (size_t i = 0; i < n; i++) in[i] = (int64_t)i;
  /* Stopped early: fewer than half the items ran. The worker that ran item 1000 can be
   * preempted between its task's return and the stop it then publishes, while the other worker
   * runs on (a clean-clone make check under ASan, its tests run two at a time on 2 CPUs, ran
   * over n / 2 once), so each chunk size has three tries to stop early; a map that never stops
   * runs all n every time and fails. */
  for (size_t chunk = 0; chunk <= 64; chunk += 64) {
    long fewest = LONG_MAX;
    for (int attempt = 0; attempt < 3 && fewest >= (long)n / 2; attempt++) {
      atomic_store(&sh->runs, 0);
      hone_map_error err;
      assert_int_equal(hone_pool_map(p, T_FAIL_AT, in, 8, out, 8, n, chunk, &err), HONE_ETASK);
      assert_int_equal(err.index, 1000);
      assert_int_equal(err.code, HONE_ERANGE);
      assert_string_equal(err.message, "item 1000 is bad");
      for (size_t i = 0; i < 1000; i++) assert_int_equal(out[i], (int64_t)i + 1);
      long runs = atomic_load(&sh->runs);
      if (runs < fewest) fewest = runs;
    }
    assert_true(fewest < (long)n / 2);
  }
  /* The failing item last: everything before it is done. */
  assert_int_equal(hone_pool_map(p, T_FAIL_AT, in, 8, out, 8, 1001, 3, NULL), HONE_ETASK);
  for (size_t i = 0; i < 1000; i++) assert_int_equal(out[i], (int64_t)i + 1);
  free(in);
  free(out);
  hone_pool_free(p);
}

static void test_cancel_before_and_after_start(void **state) {
  hone_pool *p = make_pool(1, 0);
  hone_future *running, *queued;
  assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &running), 0);
  wait_started(1);
  assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, HONE_WAIT_FOREVER, &queued), 0);
  assert_true(hone_future_running(running));
  assert_int_equal(hone_future_cancel(running), HONE_EBUSY);
  assert_false(hone_future_running(queued));
  assert_int_equal(hone_future_cancel(queued), 0);
  assert_int_equal(hone_future_cancel(queued), 0); /* idempotent */
  assert_true(hone_future_cancelled(queued));
  assert_true(hone_future_done(queued));
  assert_int_equal(hone_future_result(queued, 0, NULL, 0), HONE_ECANCELED);
  int code;
  const char *msg;
  assert_int_equal(hone_future_error(queued, 0, &code, &msg), HONE_ECANCELED);
  atomic_store(&sh->gate_open, 1);
  int r = 0;
  assert_int_equal(hone_future_result(running, HONE_WAIT_FOREVER, &r, sizeof r), 0);
  assert_int_equal(r, 1);
  assert_int_equal(hone_future_cancel(running), HONE_EBUSY);
  assert_false(hone_future_cancelled(running));
  hone_pool_shutdown(p, true, false);
  assert_int_equal(atomic_load(&sh->runs), 0); /* the cancelled task never ran */
  hone_future_release(running);
  hone_future_release(queued);
  hone_pool_free(p);
}

static void test_timeouts(void **state) {
  hone_pool *p = make_pool(1, 2);
  hone_future *a, *b, *b2, *c;
  assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &a), 0);
  wait_started(1);
  int64_t t0 = now_ns();
  assert_int_equal(hone_future_result(a, 50000000, NULL, 0), HONE_ETIMEDOUT);
  int64_t el = now_ns() - t0;
  assert_true(el >= 50000000);
  assert_true(el < 2000000000);
  assert_int_equal(hone_future_result(a, 0, NULL, 0), HONE_ETIMEDOUT);
  int code;
  assert_int_equal(hone_future_error(a, 1000000, &code, NULL), HONE_ETIMEDOUT);
  /* The queue (size 2) takes two more; the next submit times out. */
  assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, HONE_WAIT_FOREVER, &b), 0);
  assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, HONE_WAIT_FOREVER, &b2), 0);
  t0 = now_ns();
  assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, 30000000, &c), HONE_ETIMEDOUT);
  el = now_ns() - t0;
  assert_true(el >= 30000000);
  assert_true(el < 2000000000);
  assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, 0, &c), HONE_ETIMEDOUT);
  hone_future *fs[2] = {a, b};
  size_t nd = 99;
  assert_int_equal(hone_futures_wait(fs, 2, HONE_ALL_COMPLETED, 20000000, &nd), HONE_ETIMEDOUT);
  assert_int_equal(nd, 0);
  atomic_store(&sh->gate_open, 1);
  assert_int_equal(hone_futures_wait(fs, 2, HONE_ALL_COMPLETED, HONE_WAIT_FOREVER, &nd), 0);
  assert_int_equal(nd, 2);
  assert_int_equal(hone_future_result(b2, HONE_WAIT_FOREVER, NULL, 0), 0);
  hone_future_release(a);
  hone_future_release(b);
  hone_future_release(b2);
  hone_pool_free(p);
}

static void test_error_fails_only_its_future(void **state) {
  hone_pool *p = make_pool(2, 0);
  hone_future *fs[10];
  for (int64_t i = 0; i < 10; i++) {
    hone_task_id t = i == 3 ? T_FAIL : T_DOUBLE;
    assert_int_equal(hone_pool_submit(p, t, &i, sizeof i, HONE_WAIT_FOREVER, &fs[i]), 0);
  }
  for (int64_t i = 0; i < 10; i++) {
    int64_t r = -1;
    int rc = hone_future_result(fs[i], HONE_WAIT_FOREVER, &r, sizeof r);
    int code = 0;
    const char *msg = NULL;
    int erc = hone_future_error(fs[i], HONE_WAIT_FOREVER, &code, &msg);
    if (i == 3) {
      assert_int_equal(rc, HONE_ETASK);
      assert_int_equal(erc, HONE_ETASK);
      assert_int_equal(code, HONE_EIO);
      assert_string_equal(msg, "disk 7 on fire");
      assert_null(hone_future_result_data(fs[i], NULL));
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(r, 2 * i);
      assert_int_equal(erc, 0);
    }
    hone_future_release(fs[i]);
  }
  hone_pool_free(p);
}

static void test_failure_codes_and_messages(void **state) {
  hone_pool *p = make_pool(2, 0);
  int want_code[3] = {HONE_EIO, HONE_ERANGE, HONE_ETASK};
  for (int how = 0; how < 3; how++) {
    hone_future *f;
    assert_int_equal(hone_pool_submit(p, T_FAIL_HOW, &how, sizeof how, HONE_WAIT_FOREVER, &f), 0);
    int code = 0;
    const char *msg = NULL;
    assert_int_equal(hone_future_error(f, HONE_WAIT_FOREVER, &code, &msg), HONE_ETASK);
    assert_int_equal(code, want_code[how]);
    assert_non_null(msg);
    if (how == 1) {
      assert_int_equal(strlen(msg), HONE_TASK_MESSAGE_MAX - 1); /* truncated, terminated */
      for (size_t i = 0; i < HONE_TASK_MESSAGE_MAX - 1; i++) assert_int_equal(msg[i], 'x');
    }
    if (how == 2) assert_string_equal(msg, "positive");
    hone_future_release(f);
  }
  hone_pool_free(p);
}

static void test_wait_first_completed_and_exception(void **state) {
  hone_pool *p = make_pool(2, 0);
  hone_future *slow, *quick, *bad;
  int two = 2;
  assert_int_equal(hone_pool_submit(p, T_GATE, &two, sizeof two, HONE_WAIT_FOREVER, &slow), 0);
  int64_t v = 1;
  assert_int_equal(hone_pool_submit(p, T_DOUBLE, &v, sizeof v, HONE_WAIT_FOREVER, &quick), 0);
  hone_future *fs[2] = {slow, quick};
  size_t nd = 0;
  assert_int_equal(hone_futures_wait(fs, 2, HONE_FIRST_COMPLETED, HONE_WAIT_FOREVER, &nd), 0);
  assert_int_equal(nd, 1);
  assert_true(hone_future_done(quick));
  assert_false(hone_future_done(slow));
  /* FIRST_EXCEPTION with no failure: waits for all, so it times out while slow runs. */
  assert_int_equal(hone_futures_wait(fs, 2, HONE_FIRST_EXCEPTION, 20000000, &nd), HONE_ETIMEDOUT);
  assert_int_equal(nd, 1);
  /* A failure ends FIRST_EXCEPTION while slow still runs. */
  assert_int_equal(hone_pool_submit(p, T_FAIL, NULL, 0, HONE_WAIT_FOREVER, &bad), 0);
  hone_future *fs3[3] = {slow, quick, bad};
  assert_int_equal(hone_futures_wait(fs3, 3, HONE_FIRST_EXCEPTION, HONE_WAIT_FOREVER, &nd), 0);
  assert_int_equal(nd, 2);
  assert_false(hone_future_done(slow));
  /* FIRST_COMPLETED times out when none completes. */
  hone_future *only[1] = {slow};
  int64_t t0 = now_ns();
  assert_int_equal(hone_futures_wait(only, 1, HONE_FIRST_COMPLETED, 20000000, &nd), HONE_ETIMEDOUT);
  assert_true(now_ns() - t0 >= 20000000);
  assert_int_equal(nd, 0);
  assert_int_equal(hone_futures_wait(fs, 2, (hone_wait_mode)9, 0, NULL), HONE_EINVAL);
  atomic_store(&sh->gate_open, 2);
  assert_int_equal(hone_futures_wait(fs3, 3, HONE_FIRST_EXCEPTION, HONE_WAIT_FOREVER, &nd), 0);
  assert_int_equal(hone_futures_wait(fs3, 3, HONE_ALL_COMPLETED, HONE_WAIT_FOREVER, &nd), 0);
  assert_int_equal(nd, 3);
  hone_future_release(slow);
  hone_future_release(quick);
  hone_future_release(bad);
  hone_pool_free(p);
}

static void test_as_completed_order(void **state) {
  hone_pool *p = make_pool(3, 0);
  hone_future *fs[3];
  for (int i = 0; i < 3; i++) {
    int want = 3 - i; /* fs[2] is released first, then fs[1], then fs[0] */
    assert_int_equal(hone_pool_submit(p, T_GATE, &want, sizeof want, HONE_WAIT_FOREVER, &fs[i]), 0);
  }
  wait_started(3);
  hone_as_completed *it;
  assert_int_equal(hone_as_completed_new(&it, fs, 3), 0);
  hone_future *f;
  assert_int_equal(hone_as_completed_next(it, 10000000, &f), HONE_ETIMEDOUT);
  for (int k = 1; k <= 3; k++) {
    atomic_store(&sh->gate_open, k);
    assert_int_equal(hone_as_completed_next(it, HONE_WAIT_FOREVER, &f), 0);
    assert_ptr_equal(f, fs[3 - k]);
  }
  assert_int_equal(hone_as_completed_next(it, HONE_WAIT_FOREVER, &f), HONE_ENOENT);
  hone_as_completed_free(it);
  /* Futures already done are yielded at once; an iterator dropped early is fine. */
  assert_int_equal(hone_as_completed_new(&it, fs, 3), 0);
  assert_int_equal(hone_as_completed_next(it, 0, &f), 0);
  hone_as_completed_free(it);
  for (int i = 0; i < 3; i++) hone_future_release(fs[i]);
  assert_int_equal(hone_as_completed_new(&it, NULL, 0), 0);
  assert_int_equal(hone_as_completed_next(it, 0, &f), HONE_ENOENT);
  hone_as_completed_free(it);
  /* A future listed twice is yielded once (Python's as_completed takes a set). */
  int one = 1;
  assert_int_equal(hone_pool_submit(p, T_GATE, &one, sizeof one, HONE_WAIT_FOREVER, &fs[0]), 0);
  assert_int_equal(hone_pool_submit(p, T_GATE, &one, sizeof one, HONE_WAIT_FOREVER, &fs[1]), 0);
  hone_future *dup[4] = {fs[0], fs[1], fs[0], fs[0]};
  assert_int_equal(hone_as_completed_new(&it, dup, 4), 0);
  hone_future *got[2];
  for (int k = 0; k < 2; k++)
    assert_int_equal(hone_as_completed_next(it, HONE_WAIT_FOREVER, &got[k]), 0);
  assert_true(got[0] != got[1]);
  assert_true((got[0] == fs[0] || got[0] == fs[1]) && (got[1] == fs[0] || got[1] == fs[1]));
  assert_int_equal(hone_as_completed_next(it, 0, &f), HONE_ENOENT);
  hone_future_release(fs[0]);
  hone_future_release(fs[1]);
  hone_as_completed_free(it);
  hone_as_completed_free(NULL);
  hone_pool_free(p);
}

static void on_done(hone_future *f, void *arg) {
  atomic_int *calls = arg;
  /* Callbacks see the future done; the first to run bumps by 1, the next by 10 (log_order checks
   * the order). */
  if (hone_future_done(f)) atomic_fetch_add(calls, atomic_load(calls) == 0 ? 1 : 10);
}

/* Each callback records its rank among the callbacks of one future: the order they ran. */
typedef struct order_log order_log;
typedef struct order_slot {
  order_log *log;
  int pos;
} order_slot;
struct order_log {
  atomic_int next, n;
  order_slot slot[3];
};

static void log_order(hone_future *f, void *arg) {
  order_slot *s = arg;
  s->pos = atomic_fetch_add(&s->log->next, 1);
  atomic_fetch_add(&s->log->n, 1); /* after pos: the test reads pos once n is 3 */
}

static void test_done_callbacks(void **state) {
  hone_pool *p = make_pool(1, 0);
  hone_future *f;
  assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &f), 0);
  atomic_int calls = 0;
  order_log log = {.next = 0, .n = 0};
  for (int i = 0; i < 3; i++) log.slot[i] = (order_slot){.log = &log, .pos = -1};
  assert_int_equal(hone_future_add_done_callback(f, on_done, &calls), 0);
  assert_int_equal(hone_future_add_done_callback(f, on_done, &calls), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(hone_future_add_done_callback(f, log_order, &log.slot[i]), 0);
  assert_int_equal(atomic_load(&calls), 0);
  atomic_store(&sh->gate_open, 1);
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, NULL, 0), 0);
  /* The callbacks run in the thread that completes the future (a worker thread; on processes, a
   * thread of this process that collects the result), in the order added. */
  while (atomic_load(&calls) != 11 || atomic_load(&log.n) != 3) sleep_ns(100000);
  for (int i = 0; i < 3; i++) assert_int_equal(log.slot[i].pos, i);
  atomic_int late = 0;
  assert_int_equal(hone_future_add_done_callback(f, on_done, &late), 0);
  assert_int_equal(atomic_load(&late), 1); /* already done: ran at once */
  hone_future_release(f);
  /* A callback on a cancelled future runs too. */
  atomic_store(&sh->gate_open, 0);
  atomic_store(&sh->gate_started, 0);
  hone_future *g, *h;
  assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &g), 0);
  wait_started(1);
  assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, HONE_WAIT_FOREVER, &h), 0);
  atomic_int ccalls = 0;
  assert_int_equal(hone_future_add_done_callback(h, on_done, &ccalls), 0);
  assert_int_equal(hone_future_cancel(h), 0);
  assert_int_equal(atomic_load(&ccalls), 1);
  atomic_store(&sh->gate_open, 1);
  hone_future_release(g);
  hone_future_release(h);
  hone_pool_free(p);
}

static void shutdown_with_pending(bool cancel) {
  atomic_store(&sh->gate_open, 0);
  atomic_store(&sh->gate_started, 0);
  atomic_store(&sh->runs, 0);
  hone_pool *p = make_pool(1, 0);
  hone_future *first, *rest[5];
  assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &first), 0);
  wait_started(1);
  for (int i = 0; i < 5; i++)
    assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, HONE_WAIT_FOREVER, &rest[i]), 0);
  assert_int_equal(hone_pool_shutdown(p, false, cancel), 0);
  hone_future *late;
  assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, 0, &late), HONE_ESHUTDOWN);
  int64_t one = 1, o;
  assert_int_equal(hone_pool_map(p, T_DOUBLE, &one, 8, &o, 8, 1, 0, NULL), HONE_ESHUTDOWN);
  for (int i = 0; i < 5; i++) assert_int_equal(hone_future_cancelled(rest[i]), cancel);
  atomic_store(&sh->gate_open, 1);
  assert_int_equal(hone_pool_shutdown(p, true, cancel), 0);
  assert_int_equal(hone_future_result(first, 0, NULL, 0), 0);
  for (int i = 0; i < 5; i++) {
    assert_true(hone_future_done(rest[i]));
    assert_int_equal(hone_future_result(rest[i], 0, NULL, 0), cancel ? HONE_ECANCELED : 0);
    hone_future_release(rest[i]);
  }
  assert_int_equal(atomic_load(&sh->runs), cancel ? 0 : 5);
  hone_future_release(first);
  hone_pool_free(p);
}

static void test_shutdown_with_pending(void **state) {
  shutdown_with_pending(true);
  shutdown_with_pending(false);
}

static void test_free_with_work_in_flight(void **state) {
  hone_pool *p = make_pool(2, 0);
  enum { N = 200 };
  hone_future *fs[N];
  for (int i = 0; i < N; i++)
    assert_int_equal(hone_pool_submit(p, T_SLEEP, NULL, 0, HONE_WAIT_FOREVER, &fs[i]), 0);
  hone_pool_free(p); /* cancels what has not started, waits for what runs */
  long done = 0, cancelled = 0;
  for (int i = 0; i < N; i++) {
    assert_true(hone_future_done(fs[i]));
    int rc = hone_future_result(fs[i], 0, NULL, 0);
    assert_true(rc == 0 || rc == HONE_ECANCELED);
    done += rc == 0;
    cancelled += rc == HONE_ECANCELED;
    hone_future_release(fs[i]);
  }
  assert_int_equal(done + cancelled, N);
  assert_int_equal(done, atomic_load(&sh->runs));
  assert_true(cancelled > 0);
}

static void test_submit_from_task_full_queue(void **state) {
  if (on_processes)
    skip(); /* thread-only: a task in a worker process cannot submit to the pool (hone_task_pool is
               NULL there) */
  for (unsigned workers = 1; workers <= 2; workers++) {
    hone_pool *p = make_pool(workers, 2);
    int k = 40;
    hone_future *f;
    assert_int_equal(hone_pool_submit(p, T_NESTED, &k, sizeof k, HONE_WAIT_FOREVER, &f), 0);
    int64_t out[2];
    assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, out, sizeof out), 0);
    assert_int_equal(out[0], 2 * (39 * 40 / 2));
    if (workers == 1) assert_true(out[1] >= k - 2); /* queue of 2: the rest ran inline */
    hone_future_release(f);
    hone_pool_free(p);
  }
}

static void test_waiting_worker_helps(void **state) {
  if (on_processes)
    skip(); /* thread-only: its tasks submit sub-tasks and wait on them, which worker processes
               cannot do */
  /* Recursive fib: every task waits on a child of the same pool; with few workers this would
   * deadlock without helping. */
  for (unsigned workers = 1; workers <= 2; workers++) {
    hone_pool *p = make_pool(workers, 4);
    int64_t n = 14, r = 0;
    hone_future *f;
    assert_int_equal(hone_pool_submit(p, T_FIB, &n, sizeof n, HONE_WAIT_FOREVER, &f), 0);
    assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &r, sizeof r), 0);
    assert_int_equal(r, 377);
    hone_future_release(f);
    assert_int_equal(hone_pool_submit(p, T_MAPIN, NULL, 0, HONE_WAIT_FOREVER, &f), 0);
    assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &r, sizeof r), 0);
    assert_int_equal(r, 2 * (63 * 64 / 2));
    hone_future_release(f);
    assert_int_equal(hone_pool_shutdown(p, true, false), 0);
    hone_pool_free(p);
  }
}

static void test_worker_helps_in_wait_and_as_completed(void **state) {
  if (on_processes)
    skip(); /* thread-only: its task submits sub-tasks and waits on them, which worker processes
               cannot do */
  hone_pool *p = make_pool(1, 0);
  hone_future *f;
  assert_int_equal(hone_pool_submit(p, T_WAITCH, NULL, 0, HONE_WAIT_FOREVER, &f), 0);
  int got = 0;
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &got, sizeof got), 0);
  assert_int_equal(got, 2);
  hone_future_release(f);
  hone_pool_free(p);
}

/* A worker of pool A waiting on a future of pool B only waits: it runs none of A's queued tasks
 * on its stack (pool.h: a worker helps only on futures of its own pool). */
static void test_worker_helps_only_its_own_pool(void **state) {
  if (on_processes) skip(); /* thread-only: the waiting task holds a future of this process */
  for (int how = 0; how < 3; how++) {
    hone_pool *a = make_pool(1, 0), *b = make_pool(1, 0);
    atomic_store(&sh->gate_open, 0);
    atomic_store(&sh->gate_started, 0);
    hone_future *gate, *waiting, *mark;
    assert_int_equal(hone_pool_submit(b, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &gate), 0);
    wait_started(1);
    wait_other_arg wa = {.other = gate, .how = how};
    assert_int_equal(hone_pool_submit(a, T_WAIT_OTHER, &wa, sizeof wa, HONE_WAIT_FOREVER, &waiting),
                     0);
    wait_started(2);
    assert_int_equal(hone_pool_submit(a, T_MARK, NULL, 0, HONE_WAIT_FOREVER, &mark), 0);
    sleep_ns(20000000); /* a helping waiter polls its queue every 0.2 ms: it would run T_MARK */
    assert_false(hone_future_done(mark));
    atomic_store(&sh->gate_open, 1);
    int nested = -1;
    assert_int_equal(hone_future_result(mark, HONE_WAIT_FOREVER, &nested, sizeof nested), 0);
    assert_int_equal(nested, 0);
    assert_int_equal(hone_future_result(waiting, HONE_WAIT_FOREVER, NULL, 0), 0);
    hone_future_release(gate);
    hone_future_release(waiting);
    hone_future_release(mark);
    hone_pool_free(a);
    hone_pool_free(b);
  }
}

/* hone_pool_free from one of the pool's own tasks is deferred until the task returns: the task
 * completes, the tasks queued behind it are cancelled, and nothing crashes. */
static void test_free_from_own_task(void **state) {
  if (on_processes) skip(); /* thread-only: a task in a worker process has no handle on its pool */
  hone_pool *p = make_pool(1, 0);
  hone_future *f, *g[8];
  assert_int_equal(hone_pool_submit(p, T_FREE_POOL, NULL, 0, HONE_WAIT_FOREVER, &f), 0);
  for (int i = 0; i < 8; i++)
    assert_int_equal(hone_pool_submit(p, T_SLEEP, NULL, 0, HONE_WAIT_FOREVER, &g[i]), 0);
  atomic_store(&sh->gate_open, 1);
  assert_int_equal(hone_future_result(f, 10 * 1000000000LL, NULL, 0), 0);
  assert_int_equal(atomic_load(&sh->runs), 1);
  for (int i = 0; i < 8; i++) {
    int rc = hone_future_result(g[i], 10 * 1000000000LL, NULL, 0);
    assert_true(rc == 0 || rc == HONE_ECANCELED);
    hone_future_release(g[i]);
  }
  hone_future_release(f);
}

/* hone_pool_free from a done callback (run on a worker, or on a process pool's collector thread)
 * is deferred the same way. */
static void test_free_from_done_callback(void **state) {
#if defined(__SANITIZE_THREAD__)
  /* The deferred free runs on a detached thread that outlives this test: under TSan, its close()
   * of the process pool's descriptors was reported racing with the next test's pool reusing the
   * same descriptor numbers (a clean-clone make check). The release and ASan runs keep it. */
  if (on_processes) skip();
#endif
  for (int round = 0; round < 3; round++) {
    hone_pool *p = make_pool(1, 0);
    atomic_store(&freed_in_callback, 0);
    hone_future *f, *g;
    atomic_store(&sh->gate_open, 0);
    assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &f), 0);
    assert_int_equal(hone_future_add_done_callback(f, free_pool_cb, p), 0);
    assert_int_equal(hone_pool_submit(p, T_SLEEP, NULL, 0, HONE_WAIT_FOREVER, &g), 0);
    atomic_store(&sh->gate_open, 1);
    /* Not waiting on f: its callback runs on the pool's own thread. */
    int64_t end = now_ns() + 10 * 1000000000LL;
    while (!atomic_load(&freed_in_callback) && now_ns() < end) sleep_ns(100000);
    assert_int_equal(atomic_load(&freed_in_callback), 1);
    assert_int_equal(hone_future_result(f, 10 * 1000000000LL, NULL, 0), 0);
    int rc = hone_future_result(g, 10 * 1000000000LL, NULL, 0);
    assert_true(rc == 0 || rc == HONE_ECANCELED);
    hone_future_release(f);
    hone_future_release(g);
  }
}

typedef struct blocked_submit {
  hone_pool *pool;
  atomic_int rc, started;
} blocked_submit;

static void *submit_blocked(void *arg) {
  blocked_submit *b = arg;
  hone_future *f = NULL;
  atomic_store(&b->started, 1);
  atomic_store(&b->rc, hone_pool_submit(b->pool, T_COUNT, NULL, 0, HONE_WAIT_FOREVER, &f));
  hone_future_release(f);
  return NULL;
}

/* A submitter blocked on a full queue wakes with HONE_ESHUTDOWN when the pool shuts down. */
static void test_shutdown_wakes_blocked_submitter(void **state) {
  hone_pool *p = make_pool(1, 2);
  hone_future *g, *q[2];
  assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &g), 0);
  wait_started(1);
  for (int i = 0; i < 2; i++)
    assert_int_equal(hone_pool_submit(p, T_COUNT, NULL, 0, HONE_WAIT_FOREVER, &q[i]), 0);
  blocked_submit b = {.pool = p, .rc = 1};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, submit_blocked, &b), 0);
  while (!atomic_load(&b.started)) sleep_ns(100000);
  sleep_ns(20000000); /* let it block */
  assert_int_equal(atomic_load(&b.rc), 1);
  assert_int_equal(hone_pool_shutdown(p, false, true), 0);
  pthread_join(t, NULL);
  assert_int_equal(atomic_load(&b.rc), HONE_ESHUTDOWN);
  assert_true(hone_future_cancelled(q[0]) && hone_future_cancelled(q[1]));
  atomic_store(&sh->gate_open, 1);
  assert_int_equal(hone_future_result(g, HONE_WAIT_FOREVER, NULL, 0), 0);
  hone_future_release(g);
  hone_future_release(q[0]);
  hone_future_release(q[1]);
  hone_pool_free(p);
}

typedef struct gated_map {
  hone_pool *pool;
  size_t n;
  int *out;
  hone_map_error err;
  atomic_int rc, done;
} gated_map;

static void *run_gated_map(void *arg) {
  gated_map *m = arg;
  atomic_store(&m->rc,
               hone_pool_map(m->pool, T_GATE, NULL, 0, m->out, sizeof(int), m->n, 1, &m->err));
  atomic_store(&m->done, 1);
  return NULL;
}

/* A shutdown with cancel_pending stops a map in progress: it returns HONE_ECANCELED once the
 * items already running end, and the items not yet started never run. */
static void test_shutdown_cancels_map_in_progress(void **state) {
  hone_pool *p = make_pool(2, 0);
  gated_map m = {.pool = p, .n = 500, .rc = 1};
  m.out = calloc(m.n, sizeof *m.out);
  assert_non_null(m.out);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, run_gated_map, &m), 0);
  wait_started(2); /* both workers hold an item, held at the gate */
  assert_int_equal(atomic_load(&m.done), 0);
  assert_int_equal(hone_pool_shutdown(p, false, true), 0);
  atomic_store(&sh->gate_open, 1);
  pthread_join(t, NULL);
  assert_int_equal(atomic_load(&m.rc), HONE_ECANCELED);
  int started = atomic_load(&sh->gate_started);
  assert_true(started >= 2);
  assert_true(started < (int)m.n / 2); /* the rest never ran */
  free(m.out);
  hone_pool_free(p);
}

/* max_tasks_per_child and task_timeout_ns act on worker processes and are ignored by threads. */
static void test_process_only_options(void **state) {
  hone_pool_options o;
  hone_pool_options_init(&o);
  o.backend = HONE_TEST_BACKEND;
  o.workers = 1;
  o.max_tasks_per_child = 3;
  o.task_timeout_ns = 300000000;
  hone_pool *p;
  assert_int_equal(hone_pool_new_ex(&p, &o), 0);
  enum { N = 12 };
  pid_t pids[N];
  int distinct = 0;
  for (int i = 0; i < N; i++) {
    hone_future *f;
    assert_int_equal(hone_pool_submit(p, T_PID, NULL, 0, HONE_WAIT_FOREVER, &f), 0);
    assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &pids[i], sizeof pids[i]), 0);
    hone_future_release(f);
    distinct += i == 0 || pids[i] != pids[i - 1];
  }
  /* One worker recycled every 3 tasks: a new process every 3 tasks; threads: this process. */
  assert_int_equal(distinct, on_processes ? N / 3 : 1);
  if (!on_processes) assert_int_equal(pids[0], getpid());
  hone_future *g;
  assert_int_equal(hone_pool_submit(p, T_GATE, NULL, 0, HONE_WAIT_FOREVER, &g), 0);
  int code = 0;
  const char *msg = NULL;
  if (on_processes) {
    assert_int_equal(hone_future_error(g, HONE_WAIT_FOREVER, &code, &msg), HONE_ETASK);
    assert_int_equal(code, HONE_ETIMEDOUT);
    assert_non_null(msg);
  } else {
    assert_int_equal(hone_future_error(g, 500000000, &code, &msg), HONE_ETIMEDOUT); /* runs on */
    atomic_store(&sh->gate_open, 1);
    assert_int_equal(hone_future_error(g, HONE_WAIT_FOREVER, &code, &msg), 0);
  }
  hone_future_release(g);
  check_map(p, 1000, 0); /* the pool goes on */
  hone_pool_free(p);
}

/* Several threads submit to two pools alive at once, each checking its own results. */
typedef struct two_pools {
  hone_pool *a, *b;
  int id;
  atomic_int bad;
} two_pools;

static void *submit_to_both(void *arg) {
  two_pools *t = arg;
  for (int64_t i = 0; i < 300; i++) {
    int64_t v = t->id * 1000000 + i, r = 0;
    hone_future *f;
    if (hone_pool_submit(i % 2 ? t->a : t->b, T_DOUBLE, &v, sizeof v, HONE_WAIT_FOREVER, &f) ||
        hone_future_result(f, HONE_WAIT_FOREVER, &r, sizeof r) || r != 2 * v)
      atomic_fetch_add(&t->bad, 1);
    hone_future_release(f);
  }
  return NULL;
}

static void test_two_pools_many_submitters(void **state) {
  hone_pool *a = make_pool(2, 0), *b = make_pool(1, 4);
  enum { T = 4 };
  two_pools args[T];
  pthread_t th[T];
  for (int i = 0; i < T; i++) {
    args[i] = (two_pools){.a = a, .b = b, .id = i, .bad = 0};
    assert_int_equal(pthread_create(&th[i], NULL, submit_to_both, &args[i]), 0);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&args[i].bad), 0);
  }
  assert_int_equal(atomic_load(&sh->runs), T * 300);
  hone_pool_free(b);
  check_map(a, 1000, 0); /* one pool freed, the other goes on */
  hone_pool_free(a);
}

/* A pool made in one thread, used in another, freed in a third (the thread that made it has
 * exited by then: on processes, the fork server was forked from it). */
static void *make_pool_thread(void *arg) {
  *(hone_pool **)arg = make_pool(2, 0);
  return NULL;
}

static void *free_pool_thread(void *arg) {
  hone_pool_free(arg);
  return NULL;
}

static void test_pool_made_used_freed_in_other_threads(void **state) {
  hone_pool *p = NULL;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, make_pool_thread, &p), 0);
  pthread_join(t, NULL);
  assert_non_null(p);
  check_map(p, 5000, 0);
  hone_future *f;
  int64_t v = 4, r = 0;
  assert_int_equal(hone_pool_submit(p, T_DOUBLE, &v, sizeof v, HONE_WAIT_FOREVER, &f), 0);
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, &r, sizeof r), 0);
  assert_int_equal(pthread_create(&t, NULL, free_pool_thread, p), 0);
  pthread_join(t, NULL);
  r = 0;
  assert_int_equal(hone_future_result(f, 0, &r, sizeof r), 0); /* outlives its pool */
  assert_int_equal(r, 8);
  hone_future_release(f);
}

static _Thread_local int initialized; /* set by init_mark in each worker */

static int init_mark(void *arg, unsigned worker) {
  initialized = 1;
  if (worker < MAX_INIT_WORKERS) atomic_store(&sh->init_pid[worker], (int)getpid());
  return 0;
}

/* Fails unless it runs on a thread that ran the pool's initializer, in the process where the
 * initializer of its worker ran. */
static int t_needs_init(hone_task_ctx *ctx, const void *arg, size_t n, void *res, size_t rn) {
  int w = hone_task_worker(ctx);
  if (!initialized) return hone_task_fail(ctx, HONE_ESTATE, "ran outside a worker");
  if (w < 0 || w >= MAX_INIT_WORKERS || atomic_load(&sh->init_pid[w]) != (int)getpid())
    return hone_task_fail(ctx, HONE_ESTATE, "worker %d: not where its initializer ran", w);
  return 0;
}
static int init_ok(void *arg, unsigned worker) {
  atomic_fetch_add(&sh->init_calls, 1);
  return 0;
}
static int init_bad(void *arg, unsigned worker) {
  if (worker < MAX_INIT_WORKERS) atomic_store(&sh->init_pid[worker], (int)getpid());
  return worker == 1 ? HONE_EPERM : 0;
}

/* The parent pid of `pid` from /proc (0 once the process is gone, reaped), and its state letter
 * (Z: a zombie) when `state` is not NULL. */
static int proc_parent(int pid, char *state) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int ppid = 0;
  char st = '?';
  /* pid (comm) state ppid: comm is hone's own process name here, without spaces. */
  if (fscanf(f, "%*d %*s %c %d", &st, &ppid) != 2) ppid = 0;
  fclose(f);
  if (state) *state = st;
  return ppid;
}

/* After a failed creation, the workers that were started are reaped by hone, never left to init
 * (an orphan's ppid becomes 1, or a subreaper's: anything but a process of this pool). Polls
 * while a worker is still exiting under its own parent. */
static void check_workers_reaped(unsigned workers) {
  for (unsigned w = 0; w < workers && w < MAX_INIT_WORKERS; w++) {
    int pid = atomic_load(&sh->init_pid[w]);
    if (pid <= 0 || pid == (int)getpid()) continue;
    char state = '?';
    int ppid = proc_parent(pid, &state);
    for (int i = 0; i < 200 && ppid > 1 && proc_parent(ppid, NULL) == (int)getpid(); i++) {
      sleep_ns(10000000); /* its parent, hone's fork server, is still reaping it */
      ppid = proc_parent(pid, &state);
    }
    if (ppid != 0)
      fail_msg("worker %u (pid %d) of the failed pool still exists (state %c), its parent now "
               "pid %d: orphaned instead of reaped",
               w, pid, state, ppid);
  }
}

static hone_task_id T_NEEDS_INIT;

/* Every task runs on a worker that ran the initializer: map (probe included) never runs items in
 * the calling thread. */
static void test_tasks_run_only_on_initialized_workers(void **state) {
  for (int i = 0; i < MAX_INIT_WORKERS; i++) atomic_store(&sh->init_pid[i], 0);
  hone_pool_options o;
  hone_pool_options_init(&o);
  o.backend = HONE_TEST_BACKEND;
  o.workers = 2;
  o.initializer = init_mark;
  hone_pool *p;
  assert_int_equal(hone_pool_new_ex(&p, &o), 0);
  hone_map_error err;
  assert_int_equal(hone_pool_map(p, T_NEEDS_INIT, NULL, 0, NULL, 0, 100000, 0, &err), 0);
  assert_int_equal(hone_pool_map(p, T_NEEDS_INIT, NULL, 0, NULL, 0, 3, 1, &err), 0);
  hone_future *f;
  assert_int_equal(hone_pool_submit(p, T_NEEDS_INIT, NULL, 0, HONE_WAIT_FOREVER, &f), 0);
  assert_int_equal(hone_future_result(f, HONE_WAIT_FOREVER, NULL, 0), 0);
  hone_future_release(f);
  hone_pool_free(p);
  assert_int_equal(initialized, 0); /* this thread never ran it */
  /* The initializer's side effects, seen through shared memory: one per worker, each in this
   * process (threads) or in a worker process of its own. */
  int a = atomic_load(&sh->init_pid[0]), b = atomic_load(&sh->init_pid[1]);
  assert_true(a > 0 && b > 0);
  if (on_processes) {
    assert_int_not_equal(a, (int)getpid());
    assert_int_not_equal(b, (int)getpid());
    assert_int_not_equal(a, b);
  } else {
    assert_int_equal(a, (int)getpid());
    assert_int_equal(b, (int)getpid());
  }
}

static void test_initializer(void **state) {
  hone_pool_options o;
  hone_pool_options_init(&o);
  o.backend = HONE_TEST_BACKEND;
  o.workers = 3;
  o.initializer = init_ok;
  hone_pool *p;
  assert_int_equal(hone_pool_new_ex(&p, &o), 0);
  assert_int_equal(atomic_load(&sh->init_calls), 3); /* all ran before new returned */
  hone_pool_free(p);
  o.initializer = init_bad;
  p = (hone_pool *)1;
  for (int i = 0; i < MAX_INIT_WORKERS; i++) atomic_store(&sh->init_pid[i], 0);
  assert_int_equal(hone_pool_new_ex(&p, &o), HONE_EPERM);
  assert_null(p);
  check_workers_reaped(o.workers);
  o.initializer = NULL;
  o.workers = 0; /* = hone_cpu_count() */
  assert_int_equal(hone_pool_new_ex(&p, &o), 0);
  assert_int_equal(hone_pool_workers(p), hone_cpu_count());
  hone_pool_free(p);
}

typedef struct gen {
  size_t n, next_calls, put_calls, max_ahead, fail_put_at;
  bool any;         /* accept any result value */
  bool fail_at_end; /* the input fails (HONE_ENOENT) where it would end */
  int64_t value, sum;
} gen;

static int gen_next(void *user, size_t index, const void **arg, size_t *arg_size) {
  gen *g = user;
  if (index != g->next_calls) return HONE_EINVAL;
  if (index == g->n) return g->fail_at_end ? HONE_ENOENT : 0;
  g->next_calls++;
  if (g->next_calls - g->put_calls > g->max_ahead) g->max_ahead = g->next_calls - g->put_calls;
  g->value = (int64_t)index;
  *arg = &g->value;
  *arg_size = sizeof g->value;
  return 1;
}

static int gen_put(void *user, size_t index, const void *result, size_t size) {
  gen *g = user;
  if (index != g->put_calls || size != 8) return HONE_EINVAL;
  if (index == g->fail_put_at) return HONE_EIO;
  int64_t v;
  memcpy(&v, result, sizeof v);
  if (!g->any && v != 2 * (int64_t)index) return HONE_EFORMAT;
  g->sum += v;
  g->put_calls++;
  return 0;
}

static void test_imap_lazy_bounded(void **state) {
  hone_pool *p = make_pool(2, 0);
  gen g = {.n = 20000, .fail_put_at = SIZE_MAX};
  hone_map_error err;
  assert_int_equal(hone_pool_imap(p, T_DOUBLE, gen_next, gen_put, &g, 8, &err), 0);
  assert_int_equal(g.put_calls, g.n);
  assert_int_equal(g.sum, (int64_t)(g.n * (g.n - 1)));
  assert_true(g.max_ahead <= 8);
  gen g2 = {.n = 1000, .fail_put_at = 500};
  assert_int_equal(hone_pool_imap(p, T_DOUBLE, gen_next, gen_put, &g2, 0, &err), HONE_EIO);
  assert_int_equal(err.index, 500);
  assert_true(g2.next_calls <= 500 + 64 * 2); /* stopped asking for input (default bound) */
  gen g3 = {.n = 2000, .fail_put_at = SIZE_MAX, .any = true};
  assert_int_equal(hone_pool_imap(p, T_FAIL_AT, gen_next, gen_put, &g3, 4, &err), HONE_ETASK);
  assert_int_equal(err.index, 1000);
  assert_int_equal(err.code, HONE_ERANGE);
  /* The input fails at item 500: the 500 items before it are still delivered, then its error. */
  gen g4 = {.n = 500, .fail_put_at = SIZE_MAX, .fail_at_end = true};
  assert_int_equal(hone_pool_imap(p, T_DOUBLE, gen_next, gen_put, &g4, 8, &err), HONE_ENOENT);
  assert_int_equal(err.index, 500);
  assert_int_equal(err.code, HONE_ENOENT);
  assert_int_equal(g4.put_calls, 500);
  hone_pool_free(p);
}

int main(void) {
  /* Before any pool: worker processes inherit the mapping and share it. */
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) return 1;
  if (hone_task_register_batch("test.batch", t_batch, 8, &T_BATCH) ||
      hone_task_register("test.wait_children", t_wait_children, sizeof(int), &T_WAITCH) ||
      hone_task_register("test.who", t_who, sizeof(int), &T_WHO) ||
      hone_task_register("test.double", t_double, 8, &T_DOUBLE) ||
      hone_task_register("test.fail_at", t_fail_at, 8, &T_FAIL_AT) ||
      hone_task_register("test.gate", t_gate, sizeof(int), &T_GATE) ||
      hone_task_register("test.fail", t_fail, 0, &T_FAIL) ||
      hone_task_register("test.nested", t_nested, 16, &T_NESTED) ||
      hone_task_register("test.fib", t_fib, 8, &T_FIB) ||
      hone_task_register("test.sleep", t_sleep, 0, &T_SLEEP) ||
      hone_task_register("test.count", t_count, 0, &T_COUNT) ||
      hone_task_register("test.mapin", t_mapin, 8, &T_MAPIN) ||
      hone_task_register("test.needs_init", t_needs_init, 0, &T_NEEDS_INIT) ||
      hone_task_register("test.pid", t_pid, sizeof(pid_t), &T_PID) ||
      hone_task_register("test.has_pool", t_has_pool, sizeof(int), &T_HAS_POOL) ||
      hone_task_register("test.reverse", t_reverse, BIG, &T_REVERSE) ||
      hone_task_register("test.reverse8k", t_reverse, 8192, &T_REVERSE8K) ||
      hone_task_register("test.fail_how", t_fail_how, 0, &T_FAIL_HOW) ||
      hone_task_register("test.wait_other", t_wait_other, 0, &T_WAIT_OTHER) ||
      hone_task_register("test.nested_mark", t_nested_mark, sizeof(int), &T_MARK) ||
      hone_task_register("test.free_own_pool", t_free_own_pool, 0, &T_FREE_POOL))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_registry, setup),
      cmocka_unit_test_setup(test_submit_result_copy_in, setup),
      cmocka_unit_test_setup(test_map_order, setup),
      cmocka_unit_test_setup(test_map_uses_every_worker, setup),
      cmocka_unit_test_setup(test_map_with_a_worker_busy, setup),
      cmocka_unit_test_setup(test_task_pool_handle, setup),
      cmocka_unit_test_setup(test_large_arguments_and_results, setup),
      cmocka_unit_test_setup(test_batch_task, setup),
      cmocka_unit_test_setup(test_map_stops_on_first_error, setup),
      cmocka_unit_test_setup(test_cancel_before_and_after_start, setup),
      cmocka_unit_test_setup(test_timeouts, setup),
      cmocka_unit_test_setup(test_error_fails_only_its_future, setup),
      cmocka_unit_test_setup(test_failure_codes_and_messages, setup),
      cmocka_unit_test_setup(test_wait_first_completed_and_exception, setup),
      cmocka_unit_test_setup(test_as_completed_order, setup),
      cmocka_unit_test_setup(test_done_callbacks, setup),
      cmocka_unit_test_setup(test_shutdown_with_pending, setup),
      cmocka_unit_test_setup(test_free_with_work_in_flight, setup),
      cmocka_unit_test_setup(test_submit_from_task_full_queue, setup),
      cmocka_unit_test_setup(test_waiting_worker_helps, setup),
      cmocka_unit_test_setup(test_worker_helps_in_wait_and_as_completed, setup),
      cmocka_unit_test_setup(test_worker_helps_only_its_own_pool, setup),
      cmocka_unit_test_setup(test_free_from_own_task, setup),
      cmocka_unit_test_setup(test_free_from_done_callback, setup),
      cmocka_unit_test_setup(test_shutdown_wakes_blocked_submitter, setup),
      cmocka_unit_test_setup(test_shutdown_cancels_map_in_progress, setup),
      cmocka_unit_test_setup(test_two_pools_many_submitters, setup),
      cmocka_unit_test_setup(test_process_only_options, setup),
      cmocka_unit_test_setup(test_pool_made_used_freed_in_other_threads, setup),
      cmocka_unit_test_setup(test_initializer, setup),
      cmocka_unit_test_setup(test_tasks_run_only_on_initialized_workers, setup),
      cmocka_unit_test_setup(test_imap_lazy_bounded, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
