/* test_queue_shm_threads.c: the shared-memory hone_queue used by threads of one process only —
 * producers and consumers as threads, 0-byte messages and sizes on both sides of the unlocked
 * copy, blocking and timed calls, close. Within one process ThreadSanitizer sees every
 * synchronization (across processes it cannot: test_queue_shm.c is not run under it).
 * HONE_TEST_CONCURRENCY: also run under ThreadSanitizer. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hone/queue.h"

enum { NP = 3, NC = 3, N = 4000 };

typedef struct item {
  uint32_t producer, seq;
} item;

static hone_queue *Q;
static size_t ITEM; /* 0: message queue */
static _Atomic unsigned char seen[NP][N];
static _Atomic int errors, zeros;

static size_t size_of(uint32_t seq) {
  static const size_t sizes[] = {8, 64, 2048, 2049, 5000, 0};
  return ITEM ? ITEM : sizes[seq % 6];
}

static void fill(unsigned char *p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed * 31 + i * 7);
}

static int check(const unsigned char *p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed * 31 + i * 7)) return 0;
  return 1;
}

static void *produce(void *arg) {
  uint32_t p = (uint32_t)(uintptr_t)arg;
  unsigned char buf[5000];
  for (uint32_t i = 0; i < N; i++) {
    size_t n = size_of(i);
    item it = {p, i};
    memcpy(buf, &it, n < sizeof it ? n : sizeof it);
    if (n > sizeof it) fill(buf + sizeof it, n - sizeof it, i);
    int rc;
    do /* some sends timed, retried */
      rc = hone_queue_send(Q, n ? buf : NULL, n, i % 3 ? HONE_WAIT_FOREVER : 100000);
    while (rc == HONE_ETIMEDOUT);
    if (rc) {
      atomic_fetch_add(&errors, 1);
      break;
    }
  }
  return NULL;
}

static void *consume(void *arg) {
  unsigned char buf[5000];
  int64_t last[NP];
  for (int p = 0; p < NP; p++) last[p] = -1;
  size_t got;
  int rc;
  for (unsigned k = 0;; k++) {
    rc = hone_queue_recv(Q, buf, sizeof buf, &got, k % 4 ? HONE_WAIT_FOREVER : 50000);
    if (rc == HONE_ETIMEDOUT) continue;
    if (rc) break;
    if (got == 0) {
      atomic_fetch_add(&zeros, 1);
      continue;
    }
    item it = {0, 0};
    memcpy(&it, buf, got < sizeof it ? got : sizeof it);
    if (it.producer >= NP || it.seq >= N || got != size_of(it.seq) ||
        (got > sizeof it && !check(buf + sizeof it, got - sizeof it, it.seq)) ||
        (int64_t)it.seq <= last[it.producer]) {
      atomic_fetch_add(&errors, 1);
      continue;
    }
    last[it.producer] = it.seq;
    atomic_fetch_add(&seen[it.producer][it.seq], 1);
  }
  if (rc != HONE_ECLOSED) atomic_fetch_add(&errors, 1);
  return NULL;
}

static void run(size_t capacity, size_t item_size) {
  ITEM = item_size;
  memset((void *)seen, 0, sizeof seen);
  atomic_store(&errors, 0);
  atomic_store(&zeros, 0);
  assert_int_equal(hone_queue_new_shared(&Q, capacity, item_size), 0);
  pthread_t tp[NP], tc[NC];
  for (int i = 0; i < NC; i++) assert_int_equal(pthread_create(&tc[i], NULL, consume, NULL), 0);
  for (uintptr_t i = 0; i < NP; i++)
    assert_int_equal(pthread_create(&tp[i], NULL, produce, (void *)i), 0);
  for (int i = 0; i < NP; i++) pthread_join(tp[i], NULL);
  hone_queue_close(Q);
  for (int i = 0; i < NC; i++) pthread_join(tc[i], NULL);
  assert_int_equal(atomic_load(&errors), 0);
  size_t expect_zero = 0;
  for (uint32_t i = 0; i < N; i++) expect_zero += size_of(i) == 0;
  for (int p = 0; p < NP; p++)
    for (uint32_t i = 0; i < N; i++)
      if (size_of(i)) assert_int_equal(seen[p][i], 1);
  assert_int_equal(atomic_load(&zeros), NP * expect_zero);
  assert_int_equal(hone_queue_size(Q), 0);
  hone_queue_free(Q);
}

static void test_message_queue_threads(void **state) {
  run(16384, 0);
}

static void test_fixed_queue_threads(void **state) {
  run(4, sizeof(item)); /* small items, copied under the lock */
  run(3, 3000);         /* large items, copied with the lock released */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_message_queue_threads),
      cmocka_unit_test(test_fixed_queue_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
