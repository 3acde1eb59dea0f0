/* test_queue_shm.c: the shared-memory hone_queue between processes — both kinds across fork,
 * order per producer, no loss or duplicate under 4 producer x 4 consumer processes, timeouts,
 * close waking waiters in other processes, processes killed while blocked, while holding the lock
 * and mid-copy, EMSGSIZE, open_fd, and nothing left behind in /dev/shm.
 * Children report through exit codes and MAP_SHARED memory (cmocka runs in the parent only); each
 * child arms alarm() so that a hang fails the test instead of stalling it.
 * HONE_TEST_CONCURRENCY: also run under ThreadSanitizer (threads of one process share a queue
 * with other processes; tsan.h makes those hand-offs visible). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/queue.h"
#include "parallel/queue_shm.h"

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Entries of /dev/shm whose name mentions hone (other programs' entries are none of ours). */
static int dev_shm_hone_entries(void) {
  DIR *d = opendir("/dev/shm");
  if (!d) return 0;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, "hone") != NULL;
  closedir(d);
  return n;
}

/* Starts fn(arg) in a child that exits with fn's return value; alarm() kills a hung child. */
static pid_t spawn(int (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(30);
    _exit(fn(arg));
  }
  assert_true(pid > 0);
  return pid;
}

/* The child's exit code, or 1000 + signal. Fails the test if it does not end within secs. */
static int reap(pid_t pid, int secs) {
  int st;
  int64_t end = now_ns() + (int64_t)secs * 1000000000;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (now_ns() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      fail_msg("child %d did not finish in %d s", (int)pid, secs);
    }
    sleep_ms(2);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

static void *shared_mem(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  return p;
}

typedef struct item {
  uint32_t producer, seq;
  char pad[8];
} item;

/* ---- single process: the contract of each call ---- */

static void test_fixed_kind(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 0, 4), HONE_EINVAL);
  assert_null(q);
  assert_int_equal(hone_queue_new_shared(&q, 3, sizeof(item)), 0);
  assert_int_equal(hone_queue_capacity(q), 3);
  assert_int_equal(hone_queue_item_size(q), sizeof(item));
  assert_int_equal(hone_queue_max_message(q), sizeof(item));
  int fd = hone_queue_fd(q);
  assert_true(fd >= 0);
  assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  char link[256] = {0}, path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  assert_true(readlink(path, link, sizeof link - 1) > 0);
  assert_non_null(strstr(link, "memfd:")); /* anonymous memory, not a file anyone can open */

  for (uint32_t i = 0; i < 3; i++) {
    item it = {.producer = 1, .seq = i};
    assert_int_equal(hone_queue_put(q, &it, 0), 0);
  }
  assert_int_equal(hone_queue_size(q), 3);
  item x = {0};
  assert_int_equal(hone_queue_put(q, &x, 0), HONE_EFULL);
  assert_int_equal(hone_queue_send(q, &x, sizeof x - 1, 0), HONE_EINVAL);
  for (uint32_t i = 0; i < 3; i++) {
    assert_int_equal(hone_queue_get(q, &x, 0), 0);
    assert_int_equal(x.seq, i);
  }
  assert_int_equal(hone_queue_get(q, &x, 0), HONE_EAGAIN);
  /* send/recv on the fixed kind, and wrap-around keeps order. */
  for (uint32_t round = 0; round < 10; round++) {
    item a = {.seq = 2 * round}, b = {.seq = 2 * round + 1};
    assert_int_equal(hone_queue_send(q, &a, sizeof a, HONE_WAIT_FOREVER), 0);
    assert_int_equal(hone_queue_put(q, &b, HONE_WAIT_FOREVER), 0);
    size_t got = 0;
    assert_int_equal(hone_queue_recv(q, &x, sizeof x, &got, HONE_WAIT_FOREVER), 0);
    assert_int_equal(got, sizeof x);
    assert_int_equal(x.seq, 2 * round);
    assert_int_equal(hone_queue_recv(q, &x, sizeof x - 1, &got, 0), HONE_EMSGSIZE);
    assert_int_equal(got, sizeof x);
    assert_int_equal(hone_queue_get(q, &x, HONE_WAIT_FOREVER), 0);
    assert_int_equal(x.seq, 2 * round + 1);
  }
  hone_queue_close(q);
  hone_queue_close(q);
  assert_int_equal(hone_queue_put(q, &x, HONE_WAIT_FOREVER), HONE_ECLOSED);
  assert_int_equal(hone_queue_get(q, &x, HONE_WAIT_FOREVER), HONE_ECLOSED);
  hone_queue_free(q);
  errno = 0;
  assert_int_equal(fcntl(fd, F_GETFD), -1); /* the handle's descriptor went with it */
  assert_int_equal(errno, EBADF);
  hone_queue_free(NULL);
}

static void fill(unsigned char *p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed * 31 + i * 7);
}

static int check(const unsigned char *p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed * 31 + i * 7)) return 0;
  return 1;
}

static void test_message_kind(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 5000, 0), 0);
  size_t cap = hone_queue_capacity(q), max = hone_queue_max_message(q);
  assert_true(cap >= 5000 && cap % 4096 == 0);
  assert_int_equal(hone_queue_item_size(q), 0);
  assert_true(max > 0 && max < cap);
  unsigned char *in = malloc(cap + 1), *out = malloc(cap + 1);
  item x;
  assert_int_equal(hone_queue_put(q, &x, 0), HONE_EINVAL);
  assert_int_equal(hone_queue_get(q, &x, 0), HONE_EINVAL);

  /* Too large to ever fit: refused, never split. */
  assert_int_equal(hone_queue_send(q, in, max + 1, HONE_WAIT_FOREVER), HONE_EMSGSIZE);
  /* The largest message, alone in the ring. */
  fill(in, max, 9);
  assert_int_equal(hone_queue_send(q, in, max, 0), 0);
  assert_int_equal(hone_queue_send(q, in, 0, 0), HONE_EFULL);
  size_t got = 0;
  /* A buffer too small: the size needed, and the message stays. */
  assert_int_equal(hone_queue_recv(q, out, max - 1, &got, 0), HONE_EMSGSIZE);
  assert_int_equal(got, max);
  assert_int_equal(hone_queue_size(q), 1);
  assert_int_equal(hone_queue_recv(q, out, cap, &got, 0), 0);
  assert_int_equal(got, max);
  assert_true(check(out, max, 9));

  /* Many sizes, small and large (copied outside the lock), wrapping many times around the
   * ring: each arrives whole and in order, including records that run past the ring's end. */
  uint32_t sent = 0, recvd = 0;
  size_t sizes[] = {0, 1, 7, 64, 100, 2047, 2048, 2049, 3000, 4000};
  int nsizes = (int)(sizeof sizes / sizeof *sizes);
  while (recvd < 400) {
    while (sent < 400) {
      size_t n = sizes[sent % (uint32_t)nsizes];
      fill(in, n, sent);
      int rc = hone_queue_send(q, in, n, 0);
      if (rc == HONE_EFULL) break;
      assert_int_equal(rc, 0);
      sent++;
    }
    assert_int_equal(hone_queue_recv(q, out, cap, &got, 0), 0);
    assert_int_equal(got, sizes[recvd % (uint32_t)nsizes]);
    assert_true(check(out, got, recvd));
    recvd++;
  }
  assert_int_equal(hone_queue_size(q), 0);
  assert_int_equal(hone_queue_recv(q, out, cap, &got, 0), HONE_EAGAIN);

  /* Closed: sends fail, what is left drains, then ECLOSED. */
  assert_int_equal(hone_queue_send(q, in, 10, 0), 0);
  hone_queue_close(q);
  assert_int_equal(hone_queue_send(q, in, 10, 0), HONE_ECLOSED);
  assert_int_equal(hone_queue_recv(q, out, cap, &got, HONE_WAIT_FOREVER), 0);
  assert_int_equal(hone_queue_recv(q, out, cap, &got, HONE_WAIT_FOREVER), HONE_ECLOSED);
  hone_queue_free(q);
  free(in);
  free(out);
}

static void test_thread_kind_messages(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new(&q, 2, sizeof(item)), 0);
  assert_int_equal(hone_queue_fd(q), HONE_EINVAL);
  assert_int_equal(hone_queue_item_size(q), sizeof(item));
  assert_int_equal(hone_queue_max_message(q), sizeof(item));
  item a = {.seq = 5}, x = {0};
  assert_int_equal(hone_queue_send(q, &a, sizeof a - 1, 0), HONE_EINVAL);
  assert_int_equal(hone_queue_send(q, &a, sizeof a, 0), 0);
  size_t got = 0;
  assert_int_equal(hone_queue_recv(q, &x, sizeof x - 1, &got, 0), HONE_EMSGSIZE);
  assert_int_equal(got, sizeof x);
  assert_int_equal(hone_queue_recv(q, &x, sizeof x, &got, 0), 0);
  assert_int_equal(x.seq, 5);
  assert_int_equal(hone_queue_recv(q, &x, sizeof x, &got, 0), HONE_EAGAIN);
  hone_queue_free(q);
}

/* After a crash has been repaired, the whole ring is free again: a message of the largest size
 * fits at once and comes back whole. */
static void expect_ring_all_free(hone_queue *q) {
  size_t max = hone_queue_max_message(q), got = 0;
  unsigned char *big = calloc(1, max);
  assert_non_null(big);
  assert_int_equal(hone_queue_send(q, big, max, 5000000000), 0);
  assert_int_equal(hone_queue_recv(q, big, max, &got, 0), 0);
  assert_int_equal(got, max);
  free(big);
}

static void test_timeouts(void **state) {
  for (int kind = 0; kind < 2; kind++) {
    hone_queue *q;
    size_t isz = kind ? 0 : sizeof(item);
    assert_int_equal(hone_queue_new_shared(&q, kind ? 4096 : 1, isz), 0);
    unsigned char buf[4096];
    size_t msg = kind ? hone_queue_max_message(q) : sizeof(item), got;
    assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), HONE_EAGAIN);
    int64_t t0 = now_ns();
    assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 30000000), HONE_ETIMEDOUT);
    int64_t el = now_ns() - t0;
    assert_true(el >= 30000000 && el < 5000000000);
    assert_int_equal(hone_queue_send(q, buf, msg, 0), 0);
    assert_int_equal(hone_queue_send(q, buf, msg, 0), HONE_EFULL);
    t0 = now_ns();
    assert_int_equal(hone_queue_send(q, buf, msg, 30000000), HONE_ETIMEDOUT);
    el = now_ns() - t0;
    assert_true(el >= 30000000 && el < 5000000000);
    /* A timeout shorter than the waiter's spin (~20 us) is kept: the fastest of 50 tries of
     * 1 us (noise only adds time) must be well under the spin, in one of three sets (a loaded
     * machine can slow a whole set; a spin that ignores the timeout slows every one). */
    int64_t best = INT64_MAX;
    for (int set = 0; set < 3 && best >= 15000; set++)
      for (int i = 0; i < 50; i++) {
        t0 = now_ns();
        assert_int_equal(hone_queue_send(q, buf, msg, 1000), HONE_ETIMEDOUT);
        el = now_ns() - t0;
        if (el < best) best = el;
      }
    if (best >= 15000) fail_msg("a 1 us timeout took at least %lld ns", (long long)best);
    hone_queue_free(q);
  }
}

/* ---- across fork ---- */

typedef struct xfer {
  hone_queue *q;
  uint32_t producer, n;
  size_t max;
} xfer;

static int produce(void *arg) {
  xfer *x = arg;
  unsigned char buf[600];
  for (uint32_t i = 0; i < x->n; i++) {
    item *it = (item *)(void *)buf;
    it->producer = x->producer;
    it->seq = i;
    size_t n = x->max ? sizeof(item) + (i * 13) % (x->max - sizeof(item) + 1) : sizeof(item);
    fill(buf + sizeof(item), n - sizeof(item), i);
    if (hone_queue_send(x->q, buf, n, HONE_WAIT_FOREVER) != 0) return 2;
  }
  return 0;
}

static int consume_in_order(void *arg) {
  xfer *x = arg;
  unsigned char buf[600];
  for (uint32_t i = 0; i < x->n; i++) {
    size_t got;
    if (hone_queue_recv(x->q, buf, sizeof buf, &got, HONE_WAIT_FOREVER) != 0) return 2;
    item it;
    memcpy(&it, buf, sizeof it);
    if (it.producer != 7 || it.seq != i) return 3;
    if (!check(buf + sizeof(item), got - sizeof(item), i)) return 4;
  }
  return 0;
}

static void test_both_kinds_across_fork(void **state) {
  for (int kind = 0; kind < 2; kind++) {
    hone_queue *q;
    assert_int_equal(hone_queue_new_shared(&q, kind ? 8192 : 16, kind ? 0 : sizeof(item)), 0);
    /* Two producer children, the parent consumes: each producer's messages come in order. */
    xfer a = {q, 0, 20000, kind ? 600 : 0}, b = {q, 1, 20000, kind ? 600 : 0};
    pid_t pa = spawn(produce, &a), pb = spawn(produce, &b);
    uint32_t next[2] = {0, 0};
    unsigned char buf[600];
    for (uint32_t i = 0; i < 40000; i++) {
      size_t got;
      assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 10000000000), 0);
      item it;
      memcpy(&it, buf, sizeof it);
      assert_true(it.producer < 2);
      assert_int_equal(it.seq, next[it.producer]);
      next[it.producer]++;
      assert_true(check(buf + sizeof(item), got - sizeof(item), it.seq));
    }
    assert_int_equal(reap(pa, 20), 0);
    assert_int_equal(reap(pb, 20), 0);
    /* The other way: the parent produces, a child consumes and checks. */
    pid_t c = spawn(consume_in_order, &a);
    a.producer = 7;
    assert_int_equal(produce(&a), 0);
    assert_int_equal(reap(c, 20), 0);
    assert_int_equal(hone_queue_size(q), 0);
    hone_queue_free(q);
  }
}

typedef struct mpmc {
  hone_queue *q;
  hone_queue *report;          /* consumers' per-producer counts and sums, fixed-size */
  _Atomic unsigned char *seen; /* [producer][seq], shared */
  _Atomic int *errors;
} mpmc;

#define MPMC_N 100000 /* messages per producer */
enum { MP = 4, MC = 4 };

static mpmc M;
static uint32_t mpmc_producer;

static int mpmc_produce(void *arg) {
  uint32_t p = mpmc_producer;
  unsigned char buf[64];
  for (uint32_t i = 0; i < MPMC_N; i++) {
    item it = {.producer = p, .seq = i};
    memcpy(buf, &it, sizeof it);
    size_t n = sizeof it + i % 40;
    fill(buf + sizeof it, n - sizeof it, i);
    if (hone_queue_send(M.q, buf, n, HONE_WAIT_FOREVER) != 0) return 2;
  }
  return 0;
}

typedef struct report {
  uint64_t count[MP], sum[MP];
} report;

static int mpmc_consume(void *arg) {
  report r;
  memset(&r, 0, sizeof r);
  int64_t last[MP];
  for (int p = 0; p < MP; p++) last[p] = -1;
  unsigned char buf[64];
  size_t got;
  int rc;
  while ((rc = hone_queue_recv(M.q, buf, sizeof buf, &got, HONE_WAIT_FOREVER)) == 0) {
    item it;
    memcpy(&it, buf, sizeof it);
    if (it.producer >= MP || it.seq >= MPMC_N || got != sizeof it + it.seq % 40 ||
        !check(buf + sizeof it, got - sizeof it, it.seq) || (int64_t)it.seq <= last[it.producer])
      atomic_fetch_add(M.errors, 1);
    else
      last[it.producer] = it.seq;
    atomic_fetch_add(&M.seen[it.producer * MPMC_N + it.seq], 1);
    r.count[it.producer]++;
    r.sum[it.producer] += it.seq;
  }
  if (rc != HONE_ECLOSED) return 3;
  return hone_queue_send(M.report, &r, sizeof r, HONE_WAIT_FOREVER) == 0 ? 0 : 4;
}

static void test_mpmc_processes(void **state) {
  assert_int_equal(hone_queue_new_shared(&M.q, 16384, 0), 0);
  assert_int_equal(hone_queue_new_shared(&M.report, MC, sizeof(report)), 0);
  M.seen = shared_mem((size_t)MP * MPMC_N);
  M.errors = shared_mem(sizeof(int));
  pid_t prod[MP], cons[MC];
  for (int c = 0; c < MC; c++) cons[c] = spawn(mpmc_consume, NULL);
  for (int p = 0; p < MP; p++) {
    mpmc_producer = (uint32_t)p;
    prod[p] = spawn(mpmc_produce, NULL);
  }
  for (int p = 0; p < MP; p++) assert_int_equal(reap(prod[p], 60), 0);
  hone_queue_close(M.q);
  for (int c = 0; c < MC; c++) assert_int_equal(reap(cons[c], 60), 0);
  assert_int_equal(*M.errors, 0);
  size_t lost = 0, dup = 0;
  for (size_t i = 0; i < (size_t)MP * MPMC_N; i++) {
    lost += M.seen[i] == 0;
    dup += M.seen[i] > 1;
  }
  assert_int_equal(lost, 0);
  assert_int_equal(dup, 0);
  report total, r;
  memset(&total, 0, sizeof total);
  for (int c = 0; c < MC; c++) {
    assert_int_equal(hone_queue_get(M.report, &r, 0), 0);
    for (int p = 0; p < MP; p++) {
      total.count[p] += r.count[p];
      total.sum[p] += r.sum[p];
    }
  }
  for (int p = 0; p < MP; p++) {
    assert_int_equal(total.count[p], MPMC_N);
    assert_int_equal(total.sum[p], (uint64_t)MPMC_N * (MPMC_N - 1) / 2);
  }
  assert_int_equal(hone_queue_size(M.q), 0);
  munmap((void *)M.seen, (size_t)MP * MPMC_N);
  munmap(M.errors, sizeof(int));
  hone_queue_free(M.report);
  hone_queue_free(M.q);
}

/* Threads of one process as producers (each its own order) and as consumers in two processes,
 * sizes on both sides of the unlocked-copy threshold and 0-byte messages in between: each
 * consumer thread sees each producer thread's messages in order, and nothing is lost or doubled. */
enum { TP = 4, TC = 2, TC_PROCS = 2, TN = 20000 };

typedef struct tmix {
  hone_queue *q;
  _Atomic unsigned char *seen; /* [producer][seq] */
  _Atomic int *errors, *zeros;
} tmix;

static tmix TM;

static size_t tmix_size(uint32_t seq) {
  static const size_t sizes[] = {8, 64, 2048, 2049, 4000, 0};
  return sizes[seq % 6];
}

static void *tmix_produce(void *arg) {
  uint32_t p = (uint32_t)(uintptr_t)arg;
  unsigned char buf[4000];
  for (uint32_t i = 0; i < TN; i++) {
    size_t n = tmix_size(i);
    item it = {.producer = p, .seq = i};
    memcpy(buf, &it, n < sizeof it ? n : sizeof it);
    if (n > sizeof it) fill(buf + sizeof it, n - sizeof it, i);
    if (hone_queue_send(TM.q, n ? buf : NULL, n, HONE_WAIT_FOREVER) != 0) {
      atomic_fetch_add(TM.errors, 1);
      break;
    }
  }
  return NULL;
}

static void *tmix_consume(void *arg) {
  unsigned char buf[4000];
  int64_t last[TP];
  for (int p = 0; p < TP; p++) last[p] = -1;
  size_t got;
  int rc;
  while ((rc = hone_queue_recv(TM.q, buf, sizeof buf, &got, HONE_WAIT_FOREVER)) == 0) {
    if (got == 0) {
      atomic_fetch_add(TM.zeros, 1);
      continue;
    }
    item it = {0};
    memcpy(&it, buf, got < sizeof it ? got : sizeof it);
    if (it.producer >= TP || it.seq >= TN || got != tmix_size(it.seq) ||
        (got > sizeof it && !check(buf + sizeof it, got - sizeof it, it.seq)) ||
        (int64_t)it.seq <= last[it.producer]) {
      atomic_fetch_add(TM.errors, 1);
      continue;
    }
    last[it.producer] = it.seq;
    atomic_fetch_add(&TM.seen[it.producer * TN + it.seq], 1);
  }
  if (rc != HONE_ECLOSED) atomic_fetch_add(TM.errors, 1);
  return NULL;
}

static int tmix_consumer_process(void *arg) {
  pthread_t t[TC];
  for (int i = 0; i < TC; i++) pthread_create(&t[i], NULL, tmix_consume, NULL);
  for (int i = 0; i < TC; i++) pthread_join(t[i], NULL);
  return 0;
}

static void test_threads_of_one_process(void **state) {
  assert_int_equal(hone_queue_new_shared(&TM.q, 16384, 0), 0);
  TM.seen = shared_mem((size_t)TP * TN);
  TM.errors = shared_mem(sizeof(int));
  TM.zeros = shared_mem(sizeof(int));
  pid_t c[TC_PROCS];
  for (int i = 0; i < TC_PROCS; i++) c[i] = spawn(tmix_consumer_process, NULL);
  pthread_t t[TP];
  for (uintptr_t p = 0; p < TP; p++) pthread_create(&t[p], NULL, tmix_produce, (void *)p);
  for (int p = 0; p < TP; p++) pthread_join(t[p], NULL);
  hone_queue_close(TM.q);
  for (int i = 0; i < TC_PROCS; i++) assert_int_equal(reap(c[i], 30), 0);
  assert_int_equal(*TM.errors, 0);
  size_t sent_nonzero = 0, seen = 0, dup = 0;
  for (uint32_t i = 0; i < TN; i++) sent_nonzero += tmix_size(i) != 0;
  for (size_t i = 0; i < (size_t)TP * TN; i++) {
    seen += TM.seen[i] != 0;
    dup += TM.seen[i] > 1;
  }
  assert_int_equal(dup, 0);
  assert_int_equal(seen, TP * sent_nonzero);
  assert_int_equal(*TM.zeros, TP * (TN - sent_nonzero));
  assert_int_equal(hone_queue_size(TM.q), 0);
  munmap((void *)TM.seen, (size_t)TP * TN);
  munmap(TM.errors, sizeof(int));
  munmap(TM.zeros, sizeof(int));
  hone_queue_free(TM.q);
}

/* ---- close, and processes that die ---- */

static hone_queue *CQ;

static int blocked_get(void *arg) {
  unsigned char buf[64];
  size_t got;
  return -hone_queue_recv(CQ, buf, sizeof buf, &got, HONE_WAIT_FOREVER);
}

static int blocked_put(void *arg) {
  unsigned char buf[64] = {0};
  return -hone_queue_send(CQ, buf, 64, HONE_WAIT_FOREVER);
}

static void test_close_wakes_other_processes(void **state) {
  for (int kind = 0; kind < 2; kind++) {
    hone_queue *empty, *full;
    assert_int_equal(hone_queue_new_shared(&empty, 4, kind ? 0 : 64), 0);
    assert_int_equal(hone_queue_new_shared(&full, kind ? 4096 : 1, kind ? 0 : 64), 0);
    unsigned char buf[64] = {0};
    while (hone_queue_send(full, buf, 64, 0) == 0) {
    }
    pid_t g[3], p[3];
    CQ = empty;
    for (int i = 0; i < 3; i++) g[i] = spawn(blocked_get, NULL);
    CQ = full;
    for (int i = 0; i < 3; i++) p[i] = spawn(blocked_put, NULL);
    sleep_ms(100); /* long enough for every child to be asleep in the queue */
    for (int i = 0; i < 3; i++) assert_int_equal(waitpid(g[i], NULL, WNOHANG), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(waitpid(p[i], NULL, WNOHANG), 0);
    hone_queue_close(empty);
    hone_queue_close(full);
    for (int i = 0; i < 3; i++) assert_int_equal(reap(g[i], 10), -HONE_ECLOSED);
    for (int i = 0; i < 3; i++) assert_int_equal(reap(p[i], 10), -HONE_ECLOSED);
    hone_queue_free(empty);
    hone_queue_free(full);
  }
}

static void test_consumer_killed_while_blocked(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 4096, 0), 0);
  CQ = q;
  pid_t victim = spawn(blocked_get, NULL);
  sleep_ms(50);
  kill(victim, SIGKILL);
  assert_int_equal(reap(victim, 10), 1000 + SIGKILL);
  /* It died registered as a waiter: the count is taken back after a while, so that sends stop
   * paying for a wake-up call nobody needs. */
  hone__shq *shq = hone__queue_shared(q);
  assert_int_equal(hone__shq_test_waiters(shq, 0), 1);
  unsigned char msg[64] = {0};
  size_t n;
  for (int i = 0; i < 300 && hone__shq_test_waiters(shq, 0) != 0; i++) {
    assert_int_equal(hone_queue_send(q, msg, sizeof msg, 0), 0);
    assert_int_equal(hone_queue_recv(q, msg, sizeof msg, &n, 0), 0);
  }
  assert_int_equal(hone__shq_test_waiters(shq, 0), 0);
  /* Others keep working: another process blocked in recv gets what is sent. */
  pid_t other = spawn(blocked_get, NULL);
  sleep_ms(20);
  unsigned char buf[64] = {1};
  assert_int_equal(hone_queue_send(q, buf, 64, 0), 0);
  assert_int_equal(reap(other, 10), 0);
  assert_int_equal(hone_queue_send(q, buf, 10, 0), 0);
  size_t got;
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), 0);
  assert_int_equal(got, 10);
  hone_queue_free(q);
}

static int sync_pipe[2];

/* The end of a case that used sync_pipe: the pipe closed, the queue freed. */
static void end_stall_case(hone_queue *q) {
  close(sync_pipe[0]);
  close(sync_pipe[1]);
  hone_queue_free(q);
}

static void tell_and_stall(void) {
  char c = 1;
  if (write(sync_pipe[1], &c, 1) != 1) _exit(9);
  for (;;) pause();
}

static void wait_told(void) {
  char c;
  assert_int_equal(read(sync_pipe[0], &c, 1), 1);
}

static int lock_and_stall(void *arg) {
  hone__shq_test_lock(hone__queue_shared(CQ));
  tell_and_stall();
  return 0;
}

static void test_killed_holding_the_lock(void **state) {
  for (int kind = 0; kind < 2; kind++) {
    hone_queue *q;
    assert_int_equal(hone_queue_new_shared(&q, kind ? 8192 : 8, kind ? 0 : 64), 0);
    CQ = q;
    unsigned char buf[64];
    for (int i = 0; i < 3; i++) {
      memset(buf, i, sizeof buf);
      assert_int_equal(hone_queue_send(q, buf, 64, 0), 0);
    }
    assert_int_equal(pipe(sync_pipe), 0);
    pid_t holder = spawn(lock_and_stall, NULL);
    wait_told();
    /* A process blocked on the lock takes it over once the holder is killed. */
    pid_t getter = spawn(blocked_get, NULL);
    sleep_ms(30);
    assert_int_equal(waitpid(getter, NULL, WNOHANG), 0);
    kill(holder, SIGKILL);
    assert_int_equal(reap(holder, 10), 1000 + SIGKILL);
    assert_int_equal(reap(getter, 10), 0); /* took message 0 */
    size_t got;
    for (int i = 1; i < 3; i++) {
      assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 1000000000), 0);
      assert_int_equal(buf[0], i); /* the rest, whole and in order */
    }
    assert_int_equal(hone_queue_size(q), 0);
    for (int i = 0; i < 8; i++) assert_int_equal(hone_queue_send(q, buf, 64, 0), 0);
    end_stall_case(q);
  }
}

#define BIG 3000 /* copied outside the lock (> HONE__SHQ_COPY_UNLOCKED) */

static int stall_at;

static void stall_hook(int point) {
  if (point == stall_at) tell_and_stall();
}

static int send_big_and_stall(void *arg) {
  stall_at = HONE__SHQ_AT_SEND_COPY;
  hone__shq_test_hook = stall_hook;
  unsigned char buf[BIG];
  memset(buf, 0xee, sizeof buf);
  return -hone_queue_send(CQ, buf, sizeof buf, HONE_WAIT_FOREVER);
}

static int recv_big_and_stall(void *arg) {
  stall_at = HONE__SHQ_AT_RECV_COPY;
  hone__shq_test_hook = stall_hook;
  unsigned char buf[BIG];
  size_t got;
  return -hone_queue_recv(CQ, buf, sizeof buf, &got, HONE_WAIT_FOREVER);
}

/* A writer whose pid now names a process that does not map the queue: here the writer exec's
 * another program mid-copy (its pid stays, its threads inside the call end, the queue's memory
 * is gone from it), which is what a dead writer's pid reused by an unrelated process looks like.
 * Its record is dropped as a dead one's: before, a live pid kept it (and everything after it)
 * waiting for ever. */
static void exec_sleep_hook(int point) {
  if (point != HONE__SHQ_AT_SEND_COPY) return;
  char c = 1;
  if (write(sync_pipe[1], &c, 1) != 1) _exit(9);
  execl("/bin/sleep", "sleep", "30", (char *)NULL);
  _exit(8);
}

static int send_big_and_exec(void *arg) {
  hone__shq_test_hook = exec_sleep_hook;
  unsigned char buf[BIG];
  memset(buf, 0xee, sizeof buf);
  return -hone_queue_send(CQ, buf, sizeof buf, HONE_WAIT_FOREVER);
}

static bool runs_sleep(pid_t pid) {
  char path[64], comm[32] = {0};
  snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool yes = fgets(comm, sizeof comm, f) && !strncmp(comm, "sleep", 5);
  fclose(f);
  return yes;
}

/* A producer gone mid-copy of a large message, between a message before it and one after it:
 * killed (by_exec false) or turned into another program under its pid (by_exec true). */
static void writer_gone_mid_copy(bool by_exec) {
  _Static_assert(BIG > HONE__SHQ_COPY_UNLOCKED, "the hook runs only for large messages");
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  CQ = q;
  assert_int_equal(pipe(sync_pipe), 0);
  unsigned char buf[BIG];
  memset(buf, 1, sizeof buf);
  assert_int_equal(hone_queue_send(q, buf, 100, 0), 0);
  pid_t victim = spawn(by_exec ? send_big_and_exec : send_big_and_stall, NULL);
  wait_told(); /* its message is reserved, half-written */
  memset(buf, 2, sizeof buf);
  assert_int_equal(hone_queue_send(q, buf, BIG, 0), 0);
  if (by_exec) { /* then it becomes `sleep 30`: alive, under the writer's pid */
    for (int i = 0; i < 5000 && !runs_sleep(victim); i++) sleep_ms(1);
    assert_true(runs_sleep(victim));
    assert_int_equal(kill(victim, 0), 0);
  } else {
    kill(victim, SIGKILL); /* not reaped yet: a zombie counts as dead too */
  }
  /* The gone one's message is not counted once it is gone (a kill takes effect soon). */
  for (int i = 0; i < 5000 && hone_queue_size(q) != 2; i++) sleep_ms(1);
  assert_int_equal(hone_queue_size(q), 2);
  size_t got;
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), 0);
  assert_int_equal(got, 100);
  assert_int_equal(buf[0], 1);
  /* The gone writer's message is dropped and the next one follows. */
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 5000000000), 0);
  assert_int_equal(got, BIG);
  assert_int_equal(buf[0], 2);
  assert_int_equal(buf[BIG - 1], 2);
  if (by_exec) kill(victim, SIGKILL);
  assert_int_equal(reap(victim, 10), 1000 + SIGKILL);
  assert_int_equal(hone_queue_size(q), 0);
  /* The space is all free again. */
  expect_ring_all_free(q);
  end_stall_case(q);
}

static void test_producer_killed_mid_copy(void **state) {
  writer_gone_mid_copy(false);
}

static void test_writer_pid_now_another_program(void **state) {
  writer_gone_mid_copy(true);
}

static void test_consumer_killed_mid_copy(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  CQ = q;
  assert_int_equal(pipe(sync_pipe), 0);
  unsigned char buf[BIG];
  memset(buf, 3, sizeof buf);
  assert_int_equal(hone_queue_send(q, buf, BIG, 0), 0);
  pid_t victim = spawn(recv_big_and_stall, NULL);
  wait_told(); /* it holds the message's space while copying */
  kill(victim, SIGKILL);
  assert_int_equal(reap(victim, 10), 1000 + SIGKILL);
  /* Its message is gone with it; a producer needing that space gets it back. */
  size_t got;
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), HONE_EAGAIN);
  expect_ring_all_free(q);
  end_stall_case(q);
}

/* A process killed at each instant inside the lock where the state is half-changed: the next
 * locker repairs it, and every other message is still there, whole and in order, with all the
 * ring's space usable again. */
typedef struct at_case {
  int point;
  size_t a;       /* the first queued message's size (the one a receiving child takes) */
  size_t c;       /* the size the child sends; 0: the child receives */
  int c_survives; /* sending: the child's message was committed before it died; receiving: the
                     message it was taking (A) had not been taken yet, and stays queued */
} at_case;

static size_t CHILD_SEND, CHILD_A;
static int CHILD_WARM; /* the child first makes both sides biased to it, then queues A and B */

/* Enough calls in a row for a side to be biased to the caller (BIAS_STREAK is 64). */
enum { WARM_CALLS = 200 };

static void warm_up(hone_queue *q) {
  unsigned char w[64];
  size_t got;
  for (int i = 0; i < WARM_CALLS; i++) {
    memset(w, 'W', sizeof w);
    if (hone_queue_send(q, w, sizeof w, 0) != 0 || hone_queue_recv(q, w, sizeof w, &got, 0) != 0 ||
        got != sizeof w || w[0] != 'W')
      _exit(8);
  }
}

static int op_at_point(void *arg) {
  unsigned char buf[BIG];
  size_t got;
  if (CHILD_WARM) {
    warm_up(CQ);
    memset(buf, 'A', sizeof buf);
    if (hone_queue_send(CQ, buf, CHILD_A, 0) != 0) return 6;
    memset(buf, 'B', sizeof buf);
    if (hone_queue_send(CQ, buf, 64, 0) != 0) return 7;
  }
  hone__shq_test_hook = stall_hook;
  memset(buf, 0xcc, sizeof buf);
  if (CHILD_SEND) return -hone_queue_send(CQ, buf, CHILD_SEND, HONE_WAIT_FOREVER);
  return -hone_queue_recv(CQ, buf, sizeof buf, &got, HONE_WAIT_FOREVER);
}

/* warm: the child holds the sides by their bias, not their locks, when it is killed. */
static void killed_inside(int warm) {
  const at_case cases[] = {
      {HONE__SHQ_AT_SEND_COMMIT, 64, 64, 0}, {HONE__SHQ_AT_SEND_TAIL, 64, 64, 1},
      {HONE__SHQ_AT_SEND_TAIL, 64, BIG, 0}, /* reserved, never written: dropped */
      {HONE__SHQ_AT_RECV_COPIED, 64, 0, 1}, /* copied into the dead one's buffer only */
      {HONE__SHQ_AT_RECV_RD, 64, 0, 0},     /* taken: lost with the process */
      {HONE__SHQ_AT_CLAIM, BIG, 0, 1},      /* claimed, not copied: put back */
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    const at_case *tc = &cases[k];
    hone_queue *q;
    assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
    CQ = q;
    unsigned char buf[BIG];
    if (!warm) {
      memset(buf, 'A', sizeof buf);
      assert_int_equal(hone_queue_send(q, buf, tc->a, 0), 0);
      memset(buf, 'B', sizeof buf);
      assert_int_equal(hone_queue_send(q, buf, 64, 0), 0);
    }
    assert_int_equal(pipe(sync_pipe), 0);
    stall_at = tc->point;
    CHILD_SEND = tc->c;
    CHILD_A = tc->a;
    CHILD_WARM = warm;
    pid_t victim = spawn(op_at_point, NULL);
    wait_told();
    if (warm) { /* the side it stalled in is held by its bias */
      assert_int_equal(hone__shq_test_bias(hone__queue_shared(q), 1), victim);
      assert_int_equal(hone__shq_test_bias(hone__queue_shared(q), 0), victim);
    }
    kill(victim, SIGKILL);
    assert_int_equal(reap(victim, 10), 1000 + SIGKILL);
    /* The size counts what can still be received, before anyone else has taken the locks: A and
     * B and the child's committed message when it was sending, else B and A if it was not
     * taken. */
    assert_int_equal(hone_queue_size(q), (tc->c ? 2 : 1) + (size_t)tc->c_survives);
    size_t got;
    if (tc->c || tc->c_survives) { /* the child was sending, or A was not taken: A and B stay */
      assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 1000000000), 0);
      assert_int_equal(got, tc->a);
      assert_int_equal(buf[0], 'A');
    }
    assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 1000000000), 0);
    assert_int_equal(got, 64);
    assert_int_equal(buf[0], 'B');
    assert_int_equal(buf[63], 'B');
    if (tc->c && tc->c_survives) {
      assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 1000000000), 0);
      assert_int_equal(got, tc->c);
      assert_int_equal(buf[0], 0xcc);
    }
    assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 100000000), HONE_ETIMEDOUT);
    assert_int_equal(hone_queue_size(q), 0);
    expect_ring_all_free(q);
    end_stall_case(q);
  }
}

static void test_killed_inside_the_lock(void **state) {
  killed_inside(0);
}

static void test_killed_inside_by_bias(void **state) {
  if (!hone__shq_test_can_bias()) skip(); /* no membarrier here: biases are never granted */
  killed_inside(1);
}

/* A consumer may take a record the instant its state is stored, before its producer moves tail
 * (a consumer retrying after a check for the dead reads the state at rd whatever tail says); its
 * producer killed in between leaves rd and head past tail. The next producer's repair must move
 * tail up to them: before it did (CI, test_queue_shm_kills), the ring looked full for ever to the
 * producers and empty to the consumers. */
static void consumed_before_its_tail_moved(int warm) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  CQ = q;
  unsigned char buf[BIG];
  if (!warm) {
    memset(buf, 'A', sizeof buf);
    assert_int_equal(hone_queue_send(q, buf, 64, 0), 0);
    memset(buf, 'B', sizeof buf);
    assert_int_equal(hone_queue_send(q, buf, 64, 0), 0);
  }
  assert_int_equal(pipe(sync_pipe), 0);
  stall_at = HONE__SHQ_AT_SEND_TAIL;
  CHILD_SEND = 64;
  CHILD_A = 64;
  CHILD_WARM = warm;
  pid_t victim = spawn(op_at_point, NULL);
  wait_told(); /* its message C is committed, and tail not moved over it */
  if (warm) assert_int_equal(hone__shq_test_bias(hone__queue_shared(q), 1), victim);
  size_t got;
  const int want[3] = {'A', 'B', 0xcc}; /* C is found at the first check for the dead */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 2000000000), 0);
    assert_int_equal(got, 64);
    assert_int_equal(buf[0], want[i]);
  }
  kill(victim, SIGKILL);
  assert_int_equal(reap(victim, 10), 1000 + SIGKILL);
  /* The ring is empty and all of it usable: as many messages as fit go in, and come out. */
  int n = 0;
  for (;; n++) {
    memset(buf, n & 0xff, 64);
    int rc = hone_queue_send(q, buf, 64, n == 0 ? 1000000000 : 0);
    if (rc == HONE_EFULL) break;
    assert_int_equal(rc, 0);
  }
  assert_true(n >= 16384 / 80 - 1);
  for (int i = 0; i < n; i++) {
    assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), 0);
    assert_int_equal(buf[0], i & 0xff);
  }
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), HONE_EAGAIN);
  assert_int_equal(hone_queue_size(q), 0);
  end_stall_case(q);
}

static void test_consumed_before_its_tail_moved(void **state) {
  consumed_before_its_tail_moved(0);
}

static void test_consumed_before_its_tail_moved_by_bias(void **state) {
  if (!hone__shq_test_can_bias()) skip(); /* no membarrier here: biases are never granted */
  consumed_before_its_tail_moved(1);
}

/* A side is biased to the thread that used it WARM_CALLS times in a row, and taken back when
 * anyone else (another process, another thread of the same one) uses it, with every message
 * delivered in between. */
static int send_one(void *arg) {
  unsigned char m[64];
  memset(m, (int)(uintptr_t)arg, sizeof m);
  return -hone_queue_send(CQ, m, sizeof m, HONE_WAIT_FOREVER);
}

static void *recv_one(void *arg) {
  unsigned char m[64];
  size_t got;
  int rc = hone_queue_recv(CQ, m, sizeof m, &got, 1000000000);
  return (void *)(uintptr_t)(rc == 0 && got == 64 && m[0] == (unsigned char)(uintptr_t)arg);
}

static void test_bias_follows_the_user(void **state) {
  if (!hone__shq_test_can_bias()) skip();
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  hone__shq *shq = hone__queue_shared(q);
  CQ = q;
  int32_t me = (int32_t)syscall(SYS_gettid);
  assert_int_equal(hone__shq_test_bias(shq, 1), 0);
  warm_up(q);
  assert_int_equal(hone__shq_test_bias(shq, 1), me);
  assert_int_equal(hone__shq_test_bias(shq, 0), me);
  /* Another process sends: the producers' side is taken back, the consumers' stays. */
  assert_int_equal(reap(spawn(send_one, (void *)'x'), 10), 0);
  assert_int_equal(hone__shq_test_bias(shq, 1), 0);
  assert_int_equal(hone__shq_test_bias(shq, 0), me);
  unsigned char m[64];
  size_t got;
  assert_int_equal(hone_queue_recv(q, m, sizeof m, &got, 0), 0);
  assert_int_equal(m[0], 'x');
  /* The same thread earns it again (a new grant), and another thread of this process takes the
   * consumers' side back. */
  warm_up(q);
  assert_int_equal(hone__shq_test_bias(shq, 1), me);
  memset(m, 'y', sizeof m);
  assert_int_equal(hone_queue_send(q, m, sizeof m, 0), 0);
  pthread_t t;
  void *ok;
  assert_int_equal(pthread_create(&t, NULL, recv_one, (void *)'y'), 0);
  assert_int_equal(pthread_join(t, &ok), 0);
  assert_true(ok != NULL);
  assert_int_equal(hone__shq_test_bias(shq, 0), 0);
  assert_int_equal(hone__shq_test_bias(shq, 1), me);
  assert_int_equal(hone_queue_size(q), 0);
  /* size took both locks: no bias survives it. */
  assert_int_equal(hone__shq_test_bias(shq, 1), 0);
  hone_queue_free(q);
}

/* A producer streams long enough to be biased; a second producer joins and leaves while it
 * streams, and a consumer takes everything: none lost, doubled or out of order per producer. */
enum { JOIN_N = 60000 };

static int join_produce(void *arg) {
  uint32_t p = (uint32_t)(uintptr_t)arg;
  unsigned char buf[96];
  for (uint32_t i = 0; i < JOIN_N; i++) {
    item it = {.producer = p, .seq = i};
    memcpy(buf, &it, sizeof it);
    fill(buf + sizeof it, sizeof buf - sizeof it, p ^ i);
    if (hone_queue_send(CQ, buf, sizeof buf, HONE_WAIT_FOREVER) != 0) return 2;
  }
  return 0;
}

static void test_producer_joins_a_biased_stream(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  CQ = q;
  pid_t first = spawn(join_produce, (void *)0);
  unsigned char buf[96];
  size_t got;
  uint32_t next[2] = {0, 0};
  pid_t second = 0;
  for (uint32_t n = 0; n < 2 * JOIN_N; n++) {
    if (n == JOIN_N / 4) second = spawn(join_produce, (void *)1);
    assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 10 * 1000000000LL), 0);
    item it;
    memcpy(&it, buf, sizeof it);
    assert_int_equal(got, sizeof buf);
    assert_true(it.producer < 2);
    assert_int_equal(it.seq, next[it.producer]);
    assert_true(check(buf + sizeof it, sizeof buf - sizeof it, it.producer ^ it.seq));
    next[it.producer]++;
  }
  assert_int_equal(reap(first, 10), 0);
  assert_int_equal(reap(second, 10), 0);
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), HONE_EAGAIN);
  expect_ring_all_free(q);
  hone_queue_free(q);
}

/* Chaos: producers and consumers SIGKILLed at random instants and replaced, for a while. Messages
 * a victim was sending or receiving may be lost, but none arrives corrupt, twice, or out of order
 * per producer, and afterwards the queue works with all its space. */
enum { CHAOS_IDS = 256, CHAOS_SEQ = 1 << 16, CHAOS_WORKERS = 3 };

typedef struct chaos {
  hone_queue *q;
  _Atomic unsigned char *seen; /* [id][seq] */
  _Atomic int *errors;
} chaos;

static chaos CH;
static uint32_t chaos_id;

static size_t chaos_size(uint32_t id, uint32_t seq) {
  uint32_t h = (id * 2654435761u) ^ (seq * 40503u);
  return h % 4 == 0 ? 2100 + h % 4000 : sizeof(item) + h % 200;
}

static int chaos_produce(void *arg) {
  unsigned char buf[6200];
  for (uint32_t i = 0; i < CHAOS_SEQ; i++) {
    item it = {.producer = chaos_id, .seq = i};
    size_t n = chaos_size(chaos_id, i);
    memcpy(buf, &it, sizeof it);
    fill(buf + sizeof it, n - sizeof it, chaos_id ^ i);
    if (hone_queue_send(CH.q, buf, n, HONE_WAIT_FOREVER) != 0) return 2;
  }
  return 0;
}

static int chaos_consume(void *arg) {
  unsigned char buf[6200];
  int64_t last[CHAOS_IDS];
  for (int i = 0; i < CHAOS_IDS; i++) last[i] = -1;
  size_t got;
  while (hone_queue_recv(CH.q, buf, sizeof buf, &got, HONE_WAIT_FOREVER) == 0) {
    item it;
    memcpy(&it, buf, sizeof it);
    if (it.producer >= CHAOS_IDS || it.seq >= CHAOS_SEQ || got != chaos_size(it.producer, it.seq) ||
        !check(buf + sizeof it, got - sizeof it, it.producer ^ it.seq) ||
        (int64_t)it.seq <= last[it.producer]) {
      atomic_fetch_add(CH.errors, 1);
      continue;
    }
    last[it.producer] = it.seq;
    if (atomic_fetch_add(&CH.seen[it.producer * CHAOS_SEQ + it.seq], 1) != 0)
      atomic_fetch_add(CH.errors, 1);
  }
  return 0;
}

static void test_chaos_kills(void **state) {
  assert_int_equal(hone_queue_new_shared(&CH.q, 32768, 0), 0);
  size_t seen_len = (size_t)CHAOS_IDS * CHAOS_SEQ;
  CH.seen = shared_mem(seen_len);
  CH.errors = shared_mem(sizeof(int));
  pid_t prod[CHAOS_WORKERS], cons[CHAOS_WORKERS];
  uint32_t next_id = 0;
  for (int i = 0; i < CHAOS_WORKERS; i++) {
    chaos_id = next_id++;
    prod[i] = spawn(chaos_produce, NULL);
    cons[i] = spawn(chaos_consume, NULL);
  }
  unsigned rnd = 12345;
  int kills = 0;
  /* Half a second of kills; six times that under ThreadSanitizer, whose forks (of a process with
   * its shadow memory) are slow enough that 0.5 s held under 10 kills on a loaded machine. */
#if defined(__SANITIZE_THREAD__)
  const int64_t chaos_ns = 3000000000;
#else
  const int64_t chaos_ns = 500000000;
#endif
  for (int64_t end = now_ns() + chaos_ns; now_ns() < end && next_id < CHAOS_IDS;) {
    rnd = rnd * 1103515245u + 12345u;
    struct timespec ts = {0, (long)(200000 + (rnd >> 8) % 3000000)};
    nanosleep(&ts, NULL);
    int k = (int)((rnd >> 4) % CHAOS_WORKERS);
    pid_t *victim = (rnd >> 12) & 1 ? &prod[k] : &cons[k];
    kill(*victim, SIGKILL);
    int rc = reap(*victim, 10);
    assert_true(rc == 1000 + SIGKILL || rc == 0); /* or it had finished */
    kills++;
    if (victim == &prod[k]) {
      chaos_id = next_id++;
      prod[k] = spawn(chaos_produce, NULL);
    } else {
      cons[k] = spawn(chaos_consume, NULL);
    }
  }
  for (int i = 0; i < CHAOS_WORKERS; i++) {
    kill(prod[i], SIGKILL);
    reap(prod[i], 10);
  }
  hone_queue_close(CH.q);
  for (int i = 0; i < CHAOS_WORKERS; i++) assert_int_equal(reap(cons[i], 20), 0);
  assert_int_equal(*CH.errors, 0);
  assert_true(kills > 10);
  size_t delivered = 0;
  for (size_t i = 0; i < seen_len; i++) delivered += CH.seen[i];
  assert_true(delivered > 1000); /* the queue kept working through the kills */
  /* The consumers drained it: only what dead producers left half-written may remain. */
  unsigned char buf[6200];
  size_t got;
  assert_int_equal(hone_queue_recv(CH.q, buf, sizeof buf, &got, 2000000000), HONE_ECLOSED);
  assert_int_equal(hone_queue_size(CH.q), 0);
  hone_queue_free(CH.q);
  munmap((void *)CH.seen, seen_len);
  munmap(CH.errors, sizeof(int));
}

/* ---- lost wake-ups (bounded sleeps turned off: a lost wake-up hangs instead of being late) ----
 */

static int go_pipe[2];

/* Reports that a large send has reserved its record, then waits for the word to copy it in. */
static void pause_hook(int point) {
  if (point != HONE__SHQ_AT_SEND_COPY) return;
  char c = 1;
  if (write(sync_pipe[1], &c, 1) != 1 || read(go_pipe[0], &c, 1) != 1) _exit(9);
}

static int send_big_paused(void *arg) {
  hone__shq_test_hook = pause_hook;
  unsigned char buf[BIG];
  memset(buf, 0xbb, sizeof buf);
  return -hone_queue_send(CQ, buf, sizeof buf, HONE_WAIT_FOREVER);
}

static int big_get(void *arg) {
  unsigned char buf[BIG];
  size_t got;
  return -hone_queue_recv(CQ, buf, sizeof buf, &got, HONE_WAIT_FOREVER);
}

static int small_get(void *arg) {
  unsigned char buf[16];
  size_t got;
  return -hone_queue_recv(CQ, buf, sizeof buf, &got, HONE_WAIT_FOREVER);
}

static int no_poll(void **state) {
  hone__shq_test_poll_ns = INT64_MAX / 4;
  return 0;
}

static int restore_poll(void **state) {
  hone__shq_test_poll_ns = 0;
  return 0;
}

/* A message sent behind a large one still being copied in: its wake-up goes to a getter that
 * finds the large one unfinished and sleeps again. When the large one is committed, both messages
 * are there, and both sleeping getters must get one (one wake-up for two messages left the other
 * asleep with a message available). */
static void test_no_lost_wakeup_behind_a_large_send(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  CQ = q;
  assert_int_equal(pipe(sync_pipe), 0);
  assert_int_equal(pipe(go_pipe), 0);
  pid_t g1 = spawn(big_get, NULL), g2 = spawn(big_get, NULL);
  sleep_ms(50); /* both asleep */
  pid_t s = spawn(send_big_paused, NULL);
  wait_told(); /* reserved at the head of the queue, not yet written */
  unsigned char buf[64] = {0};
  assert_int_equal(hone_queue_send(q, buf, sizeof buf, 0), 0);
  sleep_ms(50); /* the getter it woke found the large one unfinished and went back to sleep */
  char c = 1;
  assert_int_equal(write(go_pipe[1], &c, 1), 1);
  assert_int_equal(reap(s, 10), 0);
  assert_int_equal(reap(g1, 10), 0);
  assert_int_equal(reap(g2, 10), 0);
  assert_int_equal(hone_queue_size(q), 0);
  close(go_pipe[0]);
  close(go_pipe[1]);
  end_stall_case(q);
}

/* A getter woken for a message its buffer cannot hold returns HONE_EMSGSIZE and leaves it: the
 * wake-up must pass to another sleeping getter. */
static void test_no_lost_wakeup_after_emsgsize(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  CQ = q;
  hone__shq *shq = hone__queue_shared(q);
  pid_t small = spawn(small_get, NULL);
  for (int i = 0; i < 5000 && hone__shq_test_waiters(shq, 0) < 1; i++) sleep_ms(1);
  sleep_ms(20); /* asleep first: normally the first to be woken */
  pid_t big = spawn(big_get, NULL);
  for (int i = 0; i < 5000 && hone__shq_test_waiters(shq, 0) < 2; i++) sleep_ms(1);
  sleep_ms(20);
  unsigned char buf[64] = {7};
  assert_int_equal(hone_queue_send(q, buf, sizeof buf, 0), 0);
  int st;
  pid_t first = 0;
  for (int i = 0; i < 10000 && first == 0; i++) {
    if (waitpid(small, &st, WNOHANG) == small)
      first = small;
    else if (waitpid(big, &st, WNOHANG) == big)
      first = big;
    else
      sleep_ms(1);
  }
  assert_true(first != 0);
  if (first == small) { /* woken first, as intended: its wake-up must have passed on */
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == -HONE_EMSGSIZE);
    assert_int_equal(reap(big, 10), 0);
  } else { /* the big one took the message: either the small one was woken first and passed the
            * wake-up on (it returns HONE_EMSGSIZE, maybe a moment later), or the kernel woke the
            * big one first and nothing is tested (the small one is released by close) */
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pid_t r = 0;
    for (int i = 0; i < 500 && (r = waitpid(small, &st, WNOHANG)) == 0; i++) sleep_ms(1);
    if (r == 0) {
      hone_queue_close(q);
      assert_int_equal(reap(small, 10), -HONE_ECLOSED);
    } else {
      assert_true(WIFEXITED(st) && WEXITSTATUS(st) == -HONE_EMSGSIZE);
    }
  }
  assert_int_equal(hone_queue_size(q), 0);
  hone_queue_free(q);
}

/* Close while large sends are blocked for room and one is half-copied: the blocked ones fail
 * with HONE_ECLOSED at once, the half-copied one completes, and a consumer waiting on it gets it
 * and the rest, then HONE_ECLOSED. */
enum { HUGE_MSG = 65536 };

static int send_huge_paused(void *arg) {
  hone__shq_test_hook = pause_hook;
  unsigned char *buf = malloc(HUGE_MSG);
  memset(buf, 0x5a, HUGE_MSG);
  int rc = hone_queue_send(CQ, buf, HUGE_MSG, HONE_WAIT_FOREVER);
  free(buf);
  return -rc;
}

static int send_huge(void *arg) {
  unsigned char *buf = calloc(1, HUGE_MSG);
  int rc = hone_queue_send(CQ, buf, HUGE_MSG, HONE_WAIT_FOREVER);
  free(buf);
  return -rc;
}

static int drain_huge(void *arg) {
  unsigned char *buf = malloc(HUGE_MSG);
  size_t got;
  int n = 0, rc;
  while ((rc = hone_queue_recv(CQ, buf, HUGE_MSG, &got, HONE_WAIT_FOREVER)) == 0) {
    if (got != HUGE_MSG || (n == 0 && (buf[0] != 0x5a || buf[HUGE_MSG - 1] != 0x5a))) return 50;
    n++;
  }
  free(buf);
  return rc == HONE_ECLOSED ? n : 60;
}

static void test_close_races_large_senders(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 4 * HUGE_MSG, 0), 0);
  CQ = q;
  assert_int_equal(pipe(sync_pipe), 0);
  assert_int_equal(pipe(go_pipe), 0);
  pid_t s = spawn(send_huge_paused, NULL);
  wait_told(); /* reserved first in the ring, not yet written */
  unsigned char *buf = calloc(1, HUGE_MSG);
  for (int i = 0; i < 2; i++) assert_int_equal(hone_queue_send(q, buf, HUGE_MSG, 0), 0);
  assert_int_equal(hone_queue_send(q, buf, HUGE_MSG, 0), HONE_EFULL); /* no room for a 4th */
  free(buf);
  pid_t blocked[2] = {spawn(send_huge, NULL), spawn(send_huge, NULL)};
  pid_t drain = spawn(drain_huge, NULL);
  sleep_ms(50); /* all asleep: two for room, the consumer on the unfinished message */
  hone_queue_close(q);
  for (int i = 0; i < 2; i++) assert_int_equal(reap(blocked[i], 10), -HONE_ECLOSED);
  assert_int_equal(waitpid(drain, NULL, WNOHANG), 0); /* still waiting on the unfinished one */
  char c = 1;
  assert_int_equal(write(go_pipe[1], &c, 1), 1);
  assert_int_equal(reap(s, 10), 0); /* its send had begun before the close: it completes */
  assert_int_equal(reap(drain, 10), 3);
  assert_int_equal(hone_queue_size(q), 0);
  close(go_pipe[0]);
  close(go_pipe[1]);
  end_stall_case(q);
}

/* A holder killed between taking a side's lock and revoking its bias leaves the biased thread
 * free to go on inside its call; the next locker gets the lock from the dead and must wait for
 * that thread to leave before it repairs the side (two walks at once can leave tail or head off
 * a record). Here the biased process pauses inside a send, a second process dies holding the
 * producers' lock, and a third takes it over: its repair must not start until the first has
 * left its send, and all of both survivors' messages arrive. */
struct revoke_order {
  _Atomic int v_inside;    /* the biased process is paused inside its send */
  _Atomic int repaired;    /* the taker reached its repair */
  _Atomic int v_at_repair; /* v_inside when it did */
};
static struct revoke_order *RO;

static void paused_inside_hook(int point) {
  if (point != HONE__SHQ_AT_SEND_COMMIT) return;
  atomic_store(&RO->v_inside, 1);
  char c = 1;
  if (write(sync_pipe[1], &c, 1) != 1 || read(go_pipe[0], &c, 1) != 1) _exit(9);
  atomic_store(&RO->v_inside, 0);
}

static void record_repair_hook(int point) {
  if (point != HONE__SHQ_AT_REPAIR) return;
  atomic_store(&RO->v_at_repair, atomic_load(&RO->v_inside));
  atomic_store(&RO->repaired, 1);
}

static int biased_send_paused(void *arg) {
  warm_up(CQ);
  if (hone__shq_test_bias(hone__queue_shared(CQ), 1) != (int32_t)syscall(SYS_gettid)) return 5;
  hone__shq_test_hook = paused_inside_hook;
  unsigned char m[64];
  memset(m, 'V', sizeof m);
  return -hone_queue_send(CQ, m, sizeof m, HONE_WAIT_FOREVER);
}

static int lock_then_stall(void *arg) {
  stall_at = HONE__SHQ_AT_LOCKED;
  hone__shq_test_hook = stall_hook;
  return send_one(arg);
}

static int send_recording_repair(void *arg) {
  hone__shq_test_hook = record_repair_hook;
  return send_one(arg);
}

static void test_repair_waits_for_the_biased_thread(void **state) {
  if (!hone__shq_test_can_bias()) skip(); /* no membarrier here: biases are never granted */
  RO = mmap(NULL, sizeof *RO, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(RO != MAP_FAILED);
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  CQ = q;
  assert_int_equal(pipe(sync_pipe), 0);
  assert_int_equal(pipe(go_pipe), 0);
  pid_t v = spawn(biased_send_paused, NULL);
  wait_told(); /* inside its send by the producers' bias, record written, not committed */
  pid_t k = spawn(lock_then_stall, (void *)'K');
  wait_told(); /* holds the producers' lock; the bias is still v's */
  kill(k, SIGKILL);
  assert_int_equal(reap(k, 10), 1000 + SIGKILL);
  pid_t c = spawn(send_recording_repair, (void *)'C');
  sleep_ms(200);
  /* c has the lock from the dead k and waits for v to leave before it repairs */
  assert_int_equal(waitpid(c, NULL, WNOHANG), 0);
  assert_int_equal(atomic_load(&RO->repaired), 0);
  char go = 1;
  assert_int_equal(write(go_pipe[1], &go, 1), 1);
  assert_int_equal(reap(v, 10), 0);
  assert_int_equal(reap(c, 10), 0);
  assert_int_equal(atomic_load(&RO->repaired), 1);
  assert_int_equal(atomic_load(&RO->v_at_repair), 0);
  unsigned char buf[64];
  size_t got;
  const int want[2] = {'V', 'C'};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 1000000000), 0);
    assert_int_equal(got, 64);
    assert_int_equal(buf[0], want[i]);
    assert_int_equal(buf[63], want[i]);
  }
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), HONE_EAGAIN);
  assert_int_equal(hone_queue_size(q), 0);
  expect_ring_all_free(q);
  close(go_pipe[0]);
  close(go_pipe[1]);
  end_stall_case(q);
  munmap(RO, sizeof *RO);
}

/* ---- hone_queue_open_fd ---- */

static int DUPFD;

static int open_and_send(void *arg) {
  hone_queue *q;
  int rc = hone_queue_open_fd(&q, DUPFD);
  if (rc) return -rc;
  close(DUPFD); /* the handle holds its own duplicate */
  unsigned char buf[5000];
  fill(buf, sizeof buf, 77);
  rc = hone_queue_send(q, buf, sizeof buf, HONE_WAIT_FOREVER);
  hone_queue_free(q);
  return -rc;
}

static void test_open_fd(void **state) {
  hone_queue *q, *o;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  DUPFD = dup(hone_queue_fd(q));
  pid_t child = spawn(open_and_send, NULL);
  assert_int_equal(reap(child, 10), 0);
  close(DUPFD);
  unsigned char buf[5000];
  size_t got;
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), 0);
  assert_int_equal(got, sizeof buf);
  assert_true(check(buf, got, 77));

  /* In this process too, the two handles share one queue. */
  assert_int_equal(hone_queue_open_fd(&o, hone_queue_fd(q)), 0);
  assert_int_equal(hone_queue_capacity(o), hone_queue_capacity(q));
  assert_int_equal(hone_queue_send(o, buf, 10, 0), 0);
  assert_int_equal(hone_queue_size(q), 1);
  hone_queue_free(o);
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 0), 0);

  /* What is not a queue is refused. */
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(hone_queue_open_fd(&o, p[0]), HONE_EFORMAT);
  assert_null(o);
  close(p[0]);
  close(p[1]);
  int m = memfd_create("not-a-queue", MFD_CLOEXEC);
  assert_true(m >= 0);
  assert_int_equal(hone_queue_open_fd(&o, m), HONE_EFORMAT);
  assert_int_equal(ftruncate(m, 1 << 16), 0);
  assert_int_equal(hone_queue_open_fd(&o, m), HONE_EFORMAT);
  close(m);
  /* Another version of the layout. */
  uint32_t *h = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, hone_queue_fd(q), 0);
  assert_true(h != MAP_FAILED);
  uint32_t version = h[2];
  h[2] = version + 1;
  assert_int_equal(hone_queue_open_fd(&o, hone_queue_fd(q)), HONE_EVERSION);
  h[2] = version;
  h[0] ^= 1;
  assert_int_equal(hone_queue_open_fd(&o, hone_queue_fd(q)), HONE_EFORMAT);
  h[0] ^= 1;
  assert_int_equal(hone_queue_open_fd(&o, hone_queue_fd(q)), 0);
  hone_queue_free(o);
  munmap(h, 4096);
  hone_queue_free(q);
}

/* Descriptors that are not a hone queue made by this build are refused with an error, never
 * mapped into a crash: a copy of a real queue's memory with each layout field of its header
 * changed (to values near and far), random layout bytes, the right header in a file of the wrong
 * size, in a memfd that is not sealed (it could shrink under the mapping: SIGBUS), in a regular
 * file, and descriptors of other kinds. */
static const struct {
  size_t off, width;
} LAYOUT_FIELDS[] = {{0, 8},  {8, 4},  {12, 4}, {16, 8}, {24, 8},
                     {32, 8}, {40, 8}, {48, 8}, {56, 4}, {60, 4}};
enum { LAYOUT_BYTES = 64 };

/* A new memfd holding `hdr` (the first page of a queue) and `size` bytes in all, sealed against
 * resizing as hone seals its own when `seal`. */
static int forge(const unsigned char *hdr, size_t hdr_len, off_t size, int seal) {
  int fd = memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, size), 0);
  size_t n = (off_t)hdr_len < size ? hdr_len : (size_t)size;
  assert_int_equal(pwrite(fd, hdr, n, 0), (ssize_t)n);
  if (seal) assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  return fd;
}

/* Opens fd; if that succeeds (it must only for a consistent layout), uses the queue a little. */
static int try_open(int fd) {
  hone_queue *o = (hone_queue *)(uintptr_t)1;
  int rc = hone_queue_open_fd(&o, fd);
  if (rc) {
    assert_true(rc < 0);
    assert_null(o);
    return rc;
  }
  unsigned char buf[64] = {0};
  size_t got, n = hone_queue_item_size(o) ? hone_queue_item_size(o) : 8;
  if (n <= sizeof buf) {
    (void)hone_queue_send(o, buf, n, 0);
    (void)hone_queue_recv(o, buf, sizeof buf, &got, 0);
  }
  hone_queue_free(o);
  return 0;
}

static void put_field(unsigned char *h, size_t off, size_t width, uint64_t v) {
  if (width == 8) {
    memcpy(h + off, &v, 8);
  } else {
    uint32_t v32 = (uint32_t)v;
    memcpy(h + off, &v32, 4);
  }
}

static uint64_t get_field(const unsigned char *h, size_t off, size_t width) {
  uint64_t v = 0;
  if (width == 8) {
    memcpy(&v, h + off, 8);
  } else {
    uint32_t v32;
    memcpy(&v32, h + off, 4);
    v = v32;
  }
  return v;
}

static void test_open_fd_refuses_what_is_not_a_queue(void **state) {
  long page = sysconf(_SC_PAGESIZE);
  for (int kind = 0; kind < 2; kind++) {
    hone_queue *q;
    assert_int_equal(hone_queue_new_shared(&q, kind ? 3 : 8192, kind ? 40 : 0), 0);
    int qfd = hone_queue_fd(q);
    struct stat st;
    assert_int_equal(fstat(qfd, &st), 0);
    size_t hlen = (size_t)page;
    unsigned char *orig = malloc(hlen), *h = malloc(hlen);
    assert_int_equal(pread(qfd, orig, hlen, 0), (ssize_t)hlen);

    /* The faithful copy opens: the forging itself is sound. */
    int fd = forge(orig, hlen, st.st_size, 1);
    assert_int_equal(try_open(fd), 0);
    close(fd);

    /* Each layout field changed, alone. */
    for (size_t f = 0; f < sizeof LAYOUT_FIELDS / sizeof *LAYOUT_FIELDS; f++) {
      size_t off = LAYOUT_FIELDS[f].off, width = LAYOUT_FIELDS[f].width;
      uint64_t v = get_field(orig, off, width);
      uint64_t vals[] = {
          0,        1,     v + 1,      v - 1,      v * 2,      v / 2,      v + 4096,
          v - 4096, v + 8, UINT64_MAX, UINT32_MAX, 1ull << 62, 1ull << 40, v ^ (1ull << 63),
          4096};
      for (size_t k = 0; k < sizeof vals / sizeof *vals; k++) {
        uint64_t nv = width == 4 ? (uint32_t)vals[k] : vals[k];
        if (nv == v) continue;
        memcpy(h, orig, hlen);
        put_field(h, off, width, nv);
        fd = forge(h, hlen, st.st_size, 1);
        int rc = try_open(fd);
        if (rc == 0) fail_msg("field at %zu set to %llu: opened", off, (unsigned long long)nv);
        assert_true(rc == HONE_EFORMAT || rc == HONE_EVERSION);
        close(fd);
      }
    }
    /* Random layout bytes after a valid magic and version. */
    unsigned rnd = 99;
    for (int i = 0; i < 200; i++) {
      memcpy(h, orig, hlen);
      for (size_t b = 12; b < LAYOUT_BYTES; b++) {
        rnd = rnd * 1103515245u + 12345u;
        if ((rnd >> 16) % 4 == 0) h[b] = (unsigned char)(rnd >> 8);
      }
      if (memcmp(h, orig, LAYOUT_BYTES) == 0) continue;
      fd = forge(h, hlen, st.st_size, 1);
      int rc = try_open(fd);
      assert_true(rc == HONE_EFORMAT || rc == HONE_EVERSION);
      close(fd);
    }
    /* The right header in memory of the wrong size. */
    off_t sizes[] = {0,
                     1,
                     page - 1,
                     page,
                     st.st_size - 8,
                     st.st_size - page,
                     st.st_size + 8,
                     st.st_size + page,
                     st.st_size * 2};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
      fd = forge(orig, hlen, sizes[k], 1);
      assert_int_equal(try_open(fd), HONE_EFORMAT);
      close(fd);
    }
    /* Not sealed: another process could shrink it under the mapping. */
    fd = forge(orig, hlen, st.st_size, 0);
    assert_int_equal(try_open(fd), HONE_EFORMAT);
    close(fd);
    /* A regular file with a queue's bytes in it. */
    char path[] = "/tmp/hone-queue-file-XXXXXX";
    fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(ftruncate(fd, st.st_size), 0);
    assert_int_equal(pwrite(fd, orig, hlen, 0), (ssize_t)hlen);
    assert_int_equal(try_open(fd), HONE_EFORMAT);
    close(fd);
    /* The queue's own memory opened read-only. */
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", qfd);
    fd = open(self, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(try_open(fd) < 0);
    close(fd);
    free(orig);
    free(h);
    hone_queue_free(q);
  }
  /* Other kinds of descriptor. */
  int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_int_equal(try_open(fd), HONE_EFORMAT);
  close(fd);
  fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  assert_int_equal(try_open(fd), HONE_EFORMAT);
  close(fd);
  assert_true(try_open(fd) < 0); /* closed */
  assert_int_equal(try_open(-1), HONE_EINVAL);
}

/* The queue's memory is an anonymous memfd: in this process's map it has no path anyone could
 * open, and no named object exists while it lives or after it is freed. */
/* Across exec: the descriptor's number goes on the command line of this same test program. */
static int exec_child_main(const char *fdarg) {
  hone_queue *q;
  int fd = atoi(fdarg);
  int rc = hone_queue_open_fd(&q, fd);
  if (rc) return 10;
  close(fd);
  unsigned char buf[5000];
  fill(buf, sizeof buf, 78);
  rc = hone_queue_send(q, buf, sizeof buf, HONE_WAIT_FOREVER);
  hone_queue_free(q);
  return rc ? 11 : 0;
}

static void test_open_fd_across_exec(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 16384, 0), 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = dup(hone_queue_fd(q)); /* the copy is not close-on-exec */
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    execl("/proc/self/exe", "test_queue_shm", "--exec-child", num, (char *)NULL);
    _exit(127);
  }
  unsigned char buf[5000];
  size_t got;
  assert_int_equal(hone_queue_recv(q, buf, sizeof buf, &got, 20000000000), 0);
  assert_int_equal(got, sizeof buf);
  assert_true(check(buf, got, 78));
  assert_int_equal(reap(pid, 10), 0);
  hone_queue_free(q);
}

static void test_nothing_left_behind(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new_shared(&q, 4096, 0), 0);
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  char line[512];
  int memfd_maps = 0, named = 0;
  while (fgets(line, sizeof line, f)) {
    memfd_maps += strstr(line, "/memfd:hone-queue (deleted)") != NULL;
    named += strstr(line, "/dev/shm/") != NULL;
  }
  fclose(f);
  assert_true(memfd_maps >= 1);
  assert_int_equal(named, 0);
  assert_int_equal(dev_shm_hone_entries(), 0);
  hone_queue_free(q);
  assert_int_equal(dev_shm_hone_entries(), 0);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--exec-child") == 0) return exec_child_main(argv[2]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_kind),
      cmocka_unit_test(test_message_kind),
      cmocka_unit_test(test_thread_kind_messages),
      cmocka_unit_test(test_timeouts),
      cmocka_unit_test(test_both_kinds_across_fork),
      cmocka_unit_test(test_mpmc_processes),
      cmocka_unit_test(test_threads_of_one_process),
      cmocka_unit_test(test_close_wakes_other_processes),
      cmocka_unit_test(test_consumer_killed_while_blocked),
      cmocka_unit_test(test_killed_holding_the_lock),
      cmocka_unit_test(test_producer_killed_mid_copy),
      cmocka_unit_test(test_writer_pid_now_another_program),
      cmocka_unit_test(test_consumer_killed_mid_copy),
      cmocka_unit_test(test_killed_inside_the_lock),
      cmocka_unit_test(test_killed_inside_by_bias),
      cmocka_unit_test(test_repair_waits_for_the_biased_thread),
      cmocka_unit_test(test_consumed_before_its_tail_moved),
      cmocka_unit_test(test_consumed_before_its_tail_moved_by_bias),
      cmocka_unit_test(test_bias_follows_the_user),
      cmocka_unit_test(test_producer_joins_a_biased_stream),
      cmocka_unit_test(test_chaos_kills),
      cmocka_unit_test_setup_teardown(test_no_lost_wakeup_behind_a_large_send, no_poll,
                                      restore_poll),
      cmocka_unit_test_setup_teardown(test_no_lost_wakeup_after_emsgsize, no_poll, restore_poll),
      cmocka_unit_test_setup_teardown(test_close_races_large_senders, no_poll, restore_poll),
      cmocka_unit_test(test_open_fd),
      cmocka_unit_test(test_open_fd_across_exec),
      cmocka_unit_test(test_open_fd_refuses_what_is_not_a_queue),
      cmocka_unit_test(test_nothing_left_behind),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
