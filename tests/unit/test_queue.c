/* test_queue.c: hone_queue — FIFO order, full/empty with and without timeouts, close semantics,
 * and many producers and consumers losing or duplicating nothing.
 * HONE_TEST_CONCURRENCY: also run under ThreadSanitizer. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hone/queue.h"

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct item {
  uint32_t producer, seq;
  char pad[8];
} item;

static void test_fifo_full_empty(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new(&q, 0, 4), HONE_EINVAL);
  assert_int_equal(hone_queue_new(&q, 4, 0), HONE_EINVAL);
  assert_int_equal(hone_queue_new(&q, 3, sizeof(item)), 0);
  assert_int_equal(hone_queue_capacity(q), 3);
  for (uint32_t i = 0; i < 3; i++) {
    item it = {.producer = 1, .seq = i};
    assert_int_equal(hone_queue_put(q, &it, 0), 0);
  }
  assert_int_equal(hone_queue_size(q), 3);
  item x = {0};
  assert_int_equal(hone_queue_put(q, &x, 0), HONE_EFULL);
  int64_t t0 = now_ns();
  assert_int_equal(hone_queue_put(q, &x, 20000000), HONE_ETIMEDOUT);
  assert_true(now_ns() - t0 >= 20000000);
  for (uint32_t i = 0; i < 3; i++) {
    assert_int_equal(hone_queue_get(q, &x, 0), 0);
    assert_int_equal(x.seq, i);
  }
  assert_int_equal(hone_queue_get(q, &x, 0), HONE_EAGAIN);
  t0 = now_ns();
  assert_int_equal(hone_queue_get(q, &x, 20000000), HONE_ETIMEDOUT);
  int64_t el = now_ns() - t0;
  assert_true(el >= 20000000 && el < 2000000000);
  /* Wrap-around keeps order. */
  for (uint32_t round = 0; round < 10; round++) {
    item a = {.seq = 2 * round}, b = {.seq = 2 * round + 1};
    assert_int_equal(hone_queue_put(q, &a, HONE_WAIT_FOREVER), 0);
    assert_int_equal(hone_queue_put(q, &b, HONE_WAIT_FOREVER), 0);
    assert_int_equal(hone_queue_get(q, &x, HONE_WAIT_FOREVER), 0);
    assert_int_equal(x.seq, 2 * round);
    assert_int_equal(hone_queue_get(q, &x, HONE_WAIT_FOREVER), 0);
    assert_int_equal(x.seq, 2 * round + 1);
  }
  hone_queue_free(q);
  hone_queue_free(NULL);
}

static void *blocked_getter(void *arg) {
  hone_queue *q = arg;
  item x;
  return (void *)(intptr_t)hone_queue_get(q, &x, HONE_WAIT_FOREVER);
}

static void *blocked_putter(void *arg) {
  hone_queue *q = arg;
  item x = {0};
  return (void *)(intptr_t)hone_queue_put(q, &x, HONE_WAIT_FOREVER);
}

static void test_close(void **state) {
  hone_queue *q;
  assert_int_equal(hone_queue_new(&q, 2, sizeof(item)), 0);
  pthread_t t;
  pthread_create(&t, NULL, blocked_getter, q);
  struct timespec ts = {0, 20000000};
  nanosleep(&ts, NULL);
  hone_queue_close(q);
  void *rc;
  pthread_join(t, &rc);
  assert_int_equal((intptr_t)rc, HONE_ECLOSED); /* a blocked get wakes up */
  hone_queue_free(q);

  assert_int_equal(hone_queue_new(&q, 1, sizeof(item)), 0);
  item full = {0};
  assert_int_equal(hone_queue_put(q, &full, 0), 0);
  pthread_create(&t, NULL, blocked_putter, q);
  nanosleep(&ts, NULL);
  hone_queue_close(q);
  pthread_join(t, &rc);
  assert_int_equal((intptr_t)rc, HONE_ECLOSED); /* a blocked put wakes up */
  hone_queue_free(q);

  assert_int_equal(hone_queue_new(&q, 2, sizeof(item)), 0);
  item a = {.seq = 7}, x;
  assert_int_equal(hone_queue_put(q, &a, 0), 0);
  hone_queue_close(q);
  hone_queue_close(q);
  assert_int_equal(hone_queue_put(q, &a, HONE_WAIT_FOREVER), HONE_ECLOSED);
  assert_int_equal(hone_queue_get(q, &x, HONE_WAIT_FOREVER), 0); /* drains first */
  assert_int_equal(x.seq, 7);
  assert_int_equal(hone_queue_get(q, &x, HONE_WAIT_FOREVER), HONE_ECLOSED);
  hone_queue_free(q);
}

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define PER_PRODUCER 5000
#else
#define PER_PRODUCER 50000
#endif
enum { PRODUCERS = 4, CONSUMERS = 3 };

typedef struct shared {
  hone_queue *q;
  unsigned char *seen; /* [PRODUCERS][PER_PRODUCER], written by consumers under their own index */
  pthread_mutex_t mu;
  int dup;
  uint32_t last[CONSUMERS][PRODUCERS]; /* per consumer: FIFO per producer must hold */
  int order_broken;
} shared;

static shared S;

static void *producer(void *arg) {
  uint32_t p = (uint32_t)(intptr_t)arg;
  for (uint32_t i = 0; i < PER_PRODUCER; i++) {
    item it = {.producer = p, .seq = i};
    if (hone_queue_put(S.q, &it, HONE_WAIT_FOREVER) != 0) return (void *)1;
  }
  return NULL;
}

static void *consumer(void *arg) {
  int c = (int)(intptr_t)arg;
  item it;
  while (hone_queue_get(S.q, &it, HONE_WAIT_FOREVER) == 0) {
    pthread_mutex_lock(&S.mu);
    unsigned char *s = &S.seen[it.producer * PER_PRODUCER + it.seq];
    if (*s) S.dup++;
    *s = 1;
    if (S.last[c][it.producer] > it.seq + 1) S.order_broken++;
    S.last[c][it.producer] = it.seq + 1;
    pthread_mutex_unlock(&S.mu);
  }
  return NULL;
}

static void test_mpmc_nothing_lost(void **state) {
  memset(&S, 0, sizeof S);
  assert_int_equal(hone_queue_new(&S.q, 64, sizeof(item)), 0);
  S.seen = calloc(PRODUCERS * PER_PRODUCER, 1);
  pthread_mutex_init(&S.mu, NULL);
  pthread_t pt[PRODUCERS], ct[CONSUMERS];
  for (int i = 0; i < CONSUMERS; i++) pthread_create(&ct[i], NULL, consumer, (void *)(intptr_t)i);
  for (int i = 0; i < PRODUCERS; i++) pthread_create(&pt[i], NULL, producer, (void *)(intptr_t)i);
  for (int i = 0; i < PRODUCERS; i++) {
    void *rc;
    pthread_join(pt[i], &rc);
    assert_null(rc);
  }
  hone_queue_close(S.q);
  for (int i = 0; i < CONSUMERS; i++) pthread_join(ct[i], NULL);
  assert_int_equal(S.dup, 0);
  assert_int_equal(S.order_broken, 0);
  for (size_t i = 0; i < PRODUCERS * PER_PRODUCER; i++)
    if (!S.seen[i]) fail_msg("item %zu lost", i);
  free(S.seen);
  pthread_mutex_destroy(&S.mu);
  hone_queue_free(S.q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fifo_full_empty),
      cmocka_unit_test(test_close),
      cmocka_unit_test(test_mpmc_nothing_lost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
