/* test_mpi_pool.c: the HONE_POOL_MPI backend under a real mpirun (tests/mpi/CMakeLists.txt runs
 * it with 3 ranks on the default transports and on `--mca btl self,tcp`, and with 16 ranks
 * oversubscribed). Rank 0 runs the cmocka suite; the other ranks serve from hone_mpi_init.
 *
 *   test_mpi_pool            the suite
 *   test_mpi_pool lost [fail] a rank is SIGKILLed mid-map (run under Open MPI's recovery
 *                            settings): the map completes on the survivors (or fails naming the
 *                            rank), shutdown returns; prints "lost-rank ok"
 *   test_mpi_pool workers    2 ranks, rank 1 bound to one CPU by tests/mpi/bound.sh, rank 0
 *                            not: each rank's pool is sized to its own mask, so the pool has
 *                            rank 0's CPUs + 1 workers (not the machine's CPUs divided by 2) */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/pool.h"
#include "hone/pool_mpi.h"

static hone_task_id T_DOUBLE, T_WHERE, T_FAIL_AT, T_CRASH7, T_SLEEP, T_ROOT_ONLY, T_BIG;
static pid_t rank_pid; /* the serving rank's own pid (workers are its children's children) */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static int t_double(hone_task_ctx *c, const void *a, size_t n, void *r, size_t rn) {
  (void)c, (void)n, (void)rn;
  int64_t v;
  memcpy(&v, a, sizeof v);
  v *= 2;
  memcpy(r, &v, sizeof v);
  return 0;
}

/* {rank, serving rank's pid}, after sleeping arg ms. */
static int t_where(hone_task_ctx *c, const void *a, size_t n, void *r, size_t rn) {
  (void)c, (void)rn;
  if (n == sizeof(int)) {
    int ms;
    memcpy(&ms, a, sizeof ms);
    sleep_ms(ms);
  }
  int64_t out[2] = {hone_mpi_rank(), rank_pid};
  memcpy(r, out, sizeof out);
  return 0;
}

static int t_fail_at(hone_task_ctx *c, const void *a, size_t n, void *r, size_t rn) {
  (void)n, (void)rn;
  int64_t v;
  memcpy(&v, a, sizeof v);
  if (v == 777) return hone_task_fail(c, HONE_EINVAL, "item %lld is bad", (long long)v);
  v += 1;
  memcpy(r, &v, sizeof v);
  return 0;
}

static int t_crash7(hone_task_ctx *c, const void *a, size_t n, void *r, size_t rn) {
  (void)c, (void)n, (void)rn;
  int v;
  memcpy(&v, a, sizeof v);
  sleep_ms(20);
  if (v == 7) raise(SIGSEGV);
  memcpy(r, &v, sizeof v);
  return 0;
}

static int t_sleep(hone_task_ctx *c, const void *a, size_t n, void *r, size_t rn) {
  (void)c, (void)n, (void)r, (void)rn;
  int ms;
  memcpy(&ms, a, sizeof ms);
  sleep_ms(ms);
  return 0;
}

/* The argument reversed: 1 MiB each way. */
enum { BIG = 1 << 20 };
static int t_big(hone_task_ctx *c, const void *a, size_t n, void *r, size_t rn) {
  (void)c, (void)rn;
  const unsigned char *in = a;
  unsigned char *out = r;
  for (size_t i = 0; i < n; i++) out[n - 1 - i] = in[i];
  return 0;
}

static hone_pool *make_pool(int64_t timeout_ns) {
  hone_pool_options o;
  hone_pool_options_init(&o);
  o.backend = HONE_POOL_MPI;
  o.task_timeout_ns = timeout_ns;
  hone_pool *p = NULL;
  assert_int_equal(hone_pool_new_ex(&p, &o), 0);
  return p;
}

static void test_submit_runs_on_every_rank(void **state) {
  (void)state;
  hone_pool *p = make_pool(0);
  print_message("workers: %u over %d ranks\n", hone_pool_workers(p), hone_mpi_size());
  assert_true(hone_pool_workers(p) >= (unsigned)hone_mpi_size());
  enum { N = 60 };
  hone_future *f[N];
  for (int i = 0; i < N; i++) {
    int ms = 10;
    assert_int_equal(hone_pool_submit(p, T_WHERE, &ms, sizeof ms, HONE_WAIT_FOREVER, &f[i]), 0);
  }
  int seen[64] = {0};
  for (int i = 0; i < N; i++) {
    int64_t out[2];
    assert_int_equal(hone_future_result(f[i], HONE_WAIT_FOREVER, out, sizeof out), 0);
    assert_true(out[0] >= 0 && out[0] < hone_mpi_size());
    if (out[0] < 64) seen[out[0]] = 1;
    hone_future_release(f[i]);
  }
  int ranks = 0;
  for (int r = 0; r < 64; r++) ranks += seen[r];
  /* 60 tasks of 10 ms, two in flight per worker: every rank gets some */
  assert_int_equal(ranks, hone_mpi_size() < 64 ? hone_mpi_size() : 64);
  hone_pool_free(p);
}

static void test_results_copy_in_copy_out(void **state) {
  (void)state;
  hone_pool *p = make_pool(0);
  enum { N = 500 };
  hone_future *f[N];
  for (int64_t i = 0; i < N; i++)
    assert_int_equal(hone_pool_submit(p, T_DOUBLE, &i, sizeof i, HONE_WAIT_FOREVER, &f[i]), 0);
  for (int64_t i = 0; i < N; i++) {
    int64_t v = -1;
    assert_int_equal(hone_future_result(f[i], HONE_WAIT_FOREVER, &v, sizeof v), 0);
    assert_int_equal(v, 2 * i);
    hone_future_release(f[i]);
  }
  /* 1 MiB each way */
  unsigned char *big = malloc(BIG);
  assert_non_null(big);
  for (size_t i = 0; i < BIG; i++) big[i] = (unsigned char)(i * 7);
  hone_future *g[6];
  for (int i = 0; i < 6; i++)
    assert_int_equal(hone_pool_submit(p, T_BIG, big, BIG, HONE_WAIT_FOREVER, &g[i]), 0);
  for (int i = 0; i < 6; i++) {
    size_t n = 0;
    assert_int_equal(hone_future_result(g[i], HONE_WAIT_FOREVER, NULL, 0), 0);
    const unsigned char *r = hone_future_result_data(g[i], &n);
    assert_int_equal(n, BIG);
    for (size_t k = 0; k < BIG; k += 4099) assert_int_equal(r[k], big[BIG - 1 - k]);
    hone_future_release(g[i]);
  }
  free(big);
  hone_pool_free(p);
}

static void test_map_order_and_chunks(void **state) {
  (void)state;
  hone_pool *p = make_pool(0);
  enum { N = 100000 };
  int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
  assert_non_null(in);
  assert_non_null(out);
  for (int64_t i = 0; i < N; i++) in[i] = i;
  size_t chunks[] = {0, 1000, 1};
  size_t ns[] = {N, N, 3000};
  for (int c = 0; c < 3; c++) {
    memset(out, 0xff, N * sizeof *out);
    hone_map_error e;
    assert_int_equal(
        hone_pool_map(p, T_DOUBLE, in, sizeof *in, out, sizeof *out, ns[c], chunks[c], &e), 0);
    for (size_t i = 0; i < ns[c]; i++) assert_int_equal(out[i], 2 * (int64_t)i);
  }
  free(in);
  free(out);
  hone_pool_free(p);
}

static void test_map_stops_on_first_error(void **state) {
  (void)state;
  hone_pool *p = make_pool(0);
  enum { N = 5000 };
  int64_t in[N], out[N];
  for (int64_t i = 0; i < N; i++) in[i] = i;
  memset(out, 0, sizeof out);
  hone_map_error e;
  assert_int_equal(hone_pool_map(p, T_FAIL_AT, in, sizeof *in, out, sizeof *out, N, 0, &e),
                   HONE_ETASK);
  assert_int_equal(e.index, 777);
  assert_int_equal(e.code, HONE_EINVAL);
  assert_string_equal(e.message, "item 777 is bad");
  for (int i = 0; i < 777; i++) assert_int_equal(out[i], i + 1);
  hone_pool_free(p);
}

static void test_crash_among_20(void **state) {
  (void)state;
  hone_pool *p = make_pool(0);
  hone_future *f[20];
  for (int i = 0; i < 20; i++)
    assert_int_equal(hone_pool_submit(p, T_CRASH7, &i, sizeof i, HONE_WAIT_FOREVER, &f[i]), 0);
  int ok = 0, crashed = 0;
  for (int i = 0; i < 20; i++) {
    int v = -1;
    int rc = hone_future_result(f[i], HONE_WAIT_FOREVER, &v, sizeof v);
    if (rc == 0) {
      assert_int_equal(v, i);
      ok++;
    } else {
      assert_int_equal(rc, HONE_ETASK);
      int code;
      const char *msg;
      assert_int_equal(hone_future_error(f[i], 0, &code, &msg), HONE_ETASK);
      assert_int_equal(code, HONE_ECRASHED);
      assert_int_equal(i, 7);
      print_message("crash message: %s\n", msg);
      assert_non_null(strstr(msg, "SIGSEGV"));
      assert_non_null(strstr(msg, "rank "));
      char host[256];
      gethostname(host, sizeof host);
      assert_non_null(strstr(msg, host));
      crashed++;
    }
    hone_future_release(f[i]);
  }
  assert_int_equal(ok, 19);
  assert_int_equal(crashed, 1);
  /* the pool goes on */
  int64_t x = 21, y = 0;
  hone_future *g;
  assert_int_equal(hone_pool_submit(p, T_DOUBLE, &x, sizeof x, HONE_WAIT_FOREVER, &g), 0);
  assert_int_equal(hone_future_result(g, HONE_WAIT_FOREVER, &y, sizeof y), 0);
  assert_int_equal(y, 42);
  hone_future_release(g);
  hone_pool_free(p);
}

static void test_task_unknown_to_a_rank(void **state) {
  (void)state;
  hone_pool *p = make_pool(0);
  enum { N = 40 };
  hone_future *f[N];
  for (int i = 0; i < N; i++) {
    int ms = 5;
    assert_int_equal(hone_pool_submit(p, T_ROOT_ONLY, &ms, sizeof ms, HONE_WAIT_FOREVER, &f[i]), 0);
  }
  int failed = 0;
  for (int i = 0; i < N; i++) {
    int rc = hone_future_result(f[i], HONE_WAIT_FOREVER, NULL, 0);
    if (rc != 0) {
      int code;
      const char *msg;
      assert_int_equal(hone_future_error(f[i], 0, &code, &msg), HONE_ETASK);
      assert_int_equal(code, HONE_ENOENT);
      assert_non_null(strstr(msg, "test.root_only"));
      assert_non_null(strstr(msg, "rank "));
      if (!failed) print_message("unknown-task message: %s\n", msg);
      failed++;
    }
    hone_future_release(f[i]);
  }
  /* the other ranks got some of them (two in flight per worker), and failed each by name */
  if (hone_mpi_size() > 1) assert_true(failed > 0);
  hone_pool_free(p);
}

static void test_cancel_pending_and_shutdown(void **state) {
  (void)state;
  hone_pool *p = make_pool(0);
  /* Quick tasks first, many in flight: their hold times let a rank's credit grow far beyond
   * two jobs a worker, which must not carry over to the long tasks below. */
  enum { Q = 3000 };
  hone_future **q = malloc(Q * sizeof *q);
  assert_non_null(q);
  for (int64_t i = 0; i < Q; i++)
    assert_int_equal(hone_pool_submit(p, T_DOUBLE, &i, sizeof i, HONE_WAIT_FOREVER, &q[i]), 0);
  for (int i = 0; i < Q; i++) {
    assert_int_equal(hone_future_result(q[i], HONE_WAIT_FOREVER, NULL, 0), 0);
    hone_future_release(q[i]);
  }
  free(q);
  enum { N = 200 };
  hone_future *f[N];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < N; i++) {
    int ms = 30;
    assert_int_equal(hone_pool_submit(p, T_SLEEP, &ms, sizeof ms, HONE_WAIT_FOREVER, &f[i]), 0);
  }
  /* the last one is surely still queued: 200 tasks of 30 ms on a few workers */
  assert_int_equal(hone_future_cancel(f[N - 1]), 0);
  assert_true(hone_future_cancelled(f[N - 1]));
  assert_int_equal(hone_future_result(f[N - 1], 0, NULL, 0), HONE_ECANCELED);
  assert_int_equal(hone_future_result(f[0], HONE_WAIT_FOREVER, NULL, 0), 0);
  assert_int_equal(hone_future_cancel(f[0]), HONE_EBUSY);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(hone_pool_shutdown(p, true, true), 0);
  int done = 0, cancelled = 0;
  for (int i = 0; i < N; i++) {
    assert_true(hone_future_done(f[i]));
    if (hone_future_cancelled(f[i]))
      cancelled++;
    else if (hone_future_result(f[i], 0, NULL, 0) == 0)
      done++;
    hone_future_release(f[i]);
  }
  /* Two jobs a worker were held when f[0] came back, and each worker may have been given one
   * more since: the credit the quick tasks earned must not have sent more of these long ones to
   * the ranks, beyond cancelling (it did: 68-134 done on 16 workers within ~31 ms, 2 W + 1 now).
   * Each further 30 ms before the shutdown lets every worker finish one more and be given the
   * next (a slow machine: 79 done under ThreadSanitizer with other tests beside it). */
  unsigned w = hone_pool_workers(p);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  int rounds = ms > 60 ? (int)(ms / 30) - 1 : 0;
  print_message("cancel: %d done, %d cancelled of %d on %u workers; shut down after %.0f ms\n",
                done, cancelled, N, w, ms);
  assert_int_equal(done + cancelled, N);
  assert_true(done <= 3 * (int)w + 4 + (int)w * rounds);
  hone_future *g;
  int64_t x = 1;
  assert_int_equal(hone_pool_submit(p, T_DOUBLE, &x, sizeof x, 0, &g), HONE_ESHUTDOWN);
  hone_pool_free(p);
}

static void test_task_timeout_names_the_rank(void **state) {
  (void)state;
  hone_pool *p = make_pool(200000000LL); /* 200 ms */
  hone_future *f[8];
  for (int i = 0; i < 8; i++) {
    int ms = i % 2 ? 2000 : 10;
    assert_int_equal(hone_pool_submit(p, T_SLEEP, &ms, sizeof ms, HONE_WAIT_FOREVER, &f[i]), 0);
  }
  for (int i = 0; i < 8; i++) {
    int rc = hone_future_result(f[i], HONE_WAIT_FOREVER, NULL, 0);
    if (i % 2 == 0) {
      assert_int_equal(rc, 0);
    } else {
      int code;
      const char *msg;
      assert_int_equal(hone_future_error(f[i], 0, &code, &msg), HONE_ETASK);
      assert_int_equal(code, HONE_ETIMEDOUT);
      assert_non_null(strstr(msg, "rank "));
    }
    hone_future_release(f[i]);
  }
  hone_pool_free(p);
}

static void test_wait_as_completed_imap(void **state) {
  (void)state;
  hone_pool *p = make_pool(0);
  hone_future *f[3];
  /* The quick one first: it goes to an idle worker at once (submitted after a slow one, it could
   * queue behind it on the same rank, which holds several jobs a worker, and finish last). */
  int ms[3] = {10, 400, 400};
  for (int i = 0; i < 3; i++)
    assert_int_equal(hone_pool_submit(p, T_SLEEP, &ms[i], sizeof ms[i], HONE_WAIT_FOREVER, &f[i]),
                     0);
  size_t nd = 0;
  assert_int_equal(hone_futures_wait(f, 3, HONE_FIRST_COMPLETED, HONE_WAIT_FOREVER, &nd), 0);
  assert_true(nd >= 1);
  hone_as_completed *it;
  assert_int_equal(hone_as_completed_new(&it, f, 3), 0);
  hone_future *first;
  assert_int_equal(hone_as_completed_next(it, HONE_WAIT_FOREVER, &first), 0);
  assert_ptr_equal(first, f[0]);
  hone_as_completed_free(it);
  assert_int_equal(hone_futures_wait(f, 3, HONE_ALL_COMPLETED, HONE_WAIT_FOREVER, &nd), 0);
  assert_int_equal(nd, 3);
  for (int i = 0; i < 3; i++) hone_future_release(f[i]);
  hone_pool_free(p);
}

static int run_suite(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_submit_runs_on_every_rank),
      cmocka_unit_test(test_results_copy_in_copy_out),
      cmocka_unit_test(test_map_order_and_chunks),
      cmocka_unit_test(test_map_stops_on_first_error),
      cmocka_unit_test(test_crash_among_20),
      cmocka_unit_test(test_task_unknown_to_a_rank),
      cmocka_unit_test(test_cancel_pending_and_shutdown),
      cmocka_unit_test(test_task_timeout_names_the_rank),
      cmocka_unit_test(test_wait_as_completed_imap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Ranks with different affinity masks (bound): each takes its own mask's CPUs. */
static int run_workers(void) {
  hone_pool *p;
  if (hone_pool_new(&p, HONE_POOL_MPI, 0) != 0) return fprintf(stderr, "no pool\n"), 1;
  unsigned got = hone_pool_workers(p), want = hone_cpu_count() + 1;
  int size = hone_mpi_size();
  hone_pool_free(p);
  hone_mpi_finalize();
  if (size != 2 || got != want) {
    fprintf(stderr, "workers: %u over %d ranks, expected %u (rank 0's %u CPUs + rank 1's one)\n",
            got, size, want, hone_cpu_count());
    return 1;
  }
  printf("workers ok: %u\n", got);
  return 0;
}

/* A rank SIGKILLed mid-map: rank 0 learns the serving ranks' pids from a first round of tasks,
 * kills the last rank while a map of 400 tasks of 10 ms runs, and checks the outcome. */
static int run_lost(bool fail) {
  if (hone_mpi_size() < 3) return fprintf(stderr, "lost: needs 3 ranks\n"), 1;
  hone_pool *p = make_pool(0);
  int victim = hone_mpi_size() - 1;
  pid_t vpid = 0;
  for (int tries = 0; tries < 50 && !vpid; tries++) {
    enum { N = 40 };
    hone_future *f[N];
    for (int i = 0; i < N; i++) {
      int ms = 5;
      if (hone_pool_submit(p, T_WHERE, &ms, sizeof ms, HONE_WAIT_FOREVER, &f[i])) return 1;
    }
    for (int i = 0; i < N; i++) {
      int64_t out[2];
      if (hone_future_result(f[i], HONE_WAIT_FOREVER, out, sizeof out) == 0 && out[0] == victim)
        vpid = (pid_t)out[1];
      hone_future_release(f[i]);
    }
  }
  if (!vpid) return fprintf(stderr, "lost: rank %d ran nothing\n", victim), 1;
  enum { M = 400 };
  static int in[M];
  static int64_t out[M][2];
  for (int i = 0; i < M; i++) in[i] = 10;
  /* the map runs in this thread: kill from another one once it is under way */
  pid_t killer = fork();
  if (killer == 0) {
    sleep_ms(300);
    kill(vpid, SIGKILL);
    _exit(0);
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hone_map_error e;
  int rc = hone_pool_map(p, T_WHERE, in, sizeof *in, out, sizeof *out, M, 4, &e);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  int bad = 0;
  if (fail) {
    if (rc != HONE_ETASK || e.code != HONE_ECRASHED || !strstr(e.message, "was lost")) bad = 1;
    fprintf(stderr, "lost: map returned %d after %.2f s: %s\n", rc, secs, e.message);
  } else {
    if (rc != 0) bad = 1;
    for (int i = 0; i < M && !bad; i++)
      if (out[i][0] < 0 || out[i][0] >= hone_mpi_size()) bad = 1;
    fprintf(stderr, "lost: map returned %d after %.2f s (%s)\n", rc, secs,
            rc ? e.message : "every item done");
  }
  if (bad) fprintf(stderr, "lost: the map's outcome is wrong\n");
  if (hone_mpi_lost_ranks() != 1) {
    fprintf(stderr, "lost: %u ranks lost, expected 1\n", hone_mpi_lost_ranks());
    bad = 1;
  }
  /* the pool goes on without the lost rank */
  int64_t x = 4, y = 0;
  hone_future *g;
  if (hone_pool_submit(p, T_DOUBLE, &x, sizeof x, HONE_WAIT_FOREVER, &g) ||
      hone_future_result(g, 5000000000LL, &y, sizeof y) || y != 8) {
    fprintf(stderr, "lost: a task after the loss did not run\n");
    bad = 1;
  }
  hone_future_release(g);
  hone_pool_free(p);
  hone_mpi_finalize();
  printf("lost-rank %s (lost ranks: %u, %.2f s)\n", bad ? "FAILED" : "ok", hone_mpi_lost_ranks(),
         secs);
  fflush(stdout);
  return bad;
}

int main(int argc, char **argv) {
  rank_pid = getpid();
  /* Which rank this is, before MPI is up (to register one task on rank 0 only). */
  const char *r = getenv("OMPI_COMM_WORLD_RANK");
  if (!r) r = getenv("PMI_RANK");
  if (hone_task_register("test.double", t_double, 8, &T_DOUBLE) ||
      hone_task_register("test.where", t_where, 16, &T_WHERE) ||
      hone_task_register("test.fail_at", t_fail_at, 8, &T_FAIL_AT) ||
      hone_task_register("test.crash7", t_crash7, sizeof(int), &T_CRASH7) ||
      hone_task_register("test.sleep", t_sleep, 0, &T_SLEEP) ||
      hone_task_register("test.big", t_big, BIG, &T_BIG))
    return 1;
  if (r && strcmp(r, "0") == 0 && hone_task_register("test.root_only", t_sleep, 0, &T_ROOT_ONLY))
    return 1;
  bool lost = argc > 1 && strcmp(argv[1], "lost") == 0;
  hone_mpi_options o;
  hone_mpi_options_init(&o);
  if (lost) {
    /* 2 s: short for a test, long enough that a loaded machine (make check beside other jobs)
     * does not starve a live rank's heartbeats (every 250 ms) into a false loss */
    o.silence_ns = 2000000000LL;
    o.fail_lost = argc > 2 && strcmp(argv[2], "fail") == 0;
  }
  int rc = hone_mpi_init(&argc, &argv, &o);
  if (rc < 0) {
    fprintf(stderr, "hone_mpi_init: %s\n", hone_strerror(rc));
    return 1;
  }
  if (!r) return fprintf(stderr, "no rank in the environment\n"), 1;
  if (lost) return run_lost(o.fail_lost);
  if (argc > 1 && strcmp(argv[1], "workers") == 0) return run_workers();
  int failed = run_suite();
  hone_mpi_finalize();
  return failed;
}
