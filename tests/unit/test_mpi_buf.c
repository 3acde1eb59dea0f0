/* test_mpi_buf.c: libhone-mpi's kept message buffers (src/mpi/buf.c, no MPI in it): a large
 * buffer freed is handed out again for a request it fits (at most 4 times too large), small
 * ones and ones beyond the keep limits go back to malloc, and threads allocating and freeing at
 * once (a serving rank's loop, runners and callbacks do) neither lose nor share a buffer.
 * HONE_TEST_CONCURRENCY */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mpi/buf.h"

static void test_reuse(void **state) {
  (void)state;
  hm_buf_trim();
  unsigned char *a = hm_buf_alloc(400000);
  assert_non_null(a);
  memset(a, 0xab, 400000);
  hm_buf_free(a);
  unsigned char *b = hm_buf_alloc(300000); /* fits: the same block, its pages kept */
  assert_ptr_equal(a, b);
  assert_int_equal(b[399999], 0xab);
  hm_buf_free(b);
  unsigned char *c = hm_buf_alloc(70000); /* under a quarter of it: not that one */
  assert_ptr_not_equal(c, a);
  unsigned char *d = hm_buf_alloc(500000); /* larger than it: not that one either */
  assert_ptr_not_equal(d, a);
  memset(d, 1, 500000);
  hm_buf_free(c);
  hm_buf_free(d);
  hm_buf_trim();
}

static void test_best_fit(void **state) {
  (void)state;
  hm_buf_trim();
  void *big = hm_buf_alloc(1 << 20), *mid = hm_buf_alloc(300000);
  hm_buf_free(big);
  hm_buf_free(mid);
  assert_ptr_equal(hm_buf_alloc(200000), mid); /* the smallest that fits */
  assert_ptr_equal(hm_buf_alloc(600000), big);
  hm_buf_free(mid);
  hm_buf_free(big);
  hm_buf_trim();
}

static void test_small_and_limits(void **state) {
  (void)state;
  hm_buf_trim();
  void *s = hm_buf_alloc(0); /* a valid block, freed to malloc */
  assert_non_null(s);
  hm_buf_free(s);
  hm_buf_free(NULL);
  /* 16 kept at most */
  void *p[20];
  for (int i = 0; i < 20; i++) assert_non_null(p[i] = hm_buf_alloc(100000));
  for (int i = 0; i < 20; i++) hm_buf_free(p[i]);
  assert_int_equal(hm_buf_kept(NULL), 16);
  for (int i = 0; i < 16; i++) assert_non_null(p[i] = hm_buf_alloc(100000));
  assert_int_equal(hm_buf_kept(NULL), 0);
  for (int i = 0; i < 16; i++) hm_buf_free(p[i]);
  hm_buf_trim();
  size_t bytes = 1;
  assert_int_equal(hm_buf_kept(&bytes), 0);
  assert_int_equal(bytes, 0);
  /* small blocks are not kept */
  void *s2 = hm_buf_alloc(1000);
  hm_buf_free(s2);
  assert_int_equal(hm_buf_kept(NULL), 0);
  /* 64 MiB at most: of two 40 MiB buffers one is kept */
  void *h1 = hm_buf_alloc((size_t)40 << 20), *h2 = hm_buf_alloc((size_t)40 << 20);
  assert_non_null(h1);
  assert_non_null(h2);
  hm_buf_free(h1);
  hm_buf_free(h2);
  assert_int_equal(hm_buf_kept(&bytes), 1);
  assert_true(bytes >= (size_t)40 << 20 && bytes <= (size_t)64 << 20);
  hm_buf_trim();
}

enum { THREADS = 4, ROUNDS = 2000 };

static void *churn(void *arg) {
  uintptr_t me = (uintptr_t)arg;
  for (int i = 0; i < ROUNDS; i++) {
    size_t n = 65536 + (size_t)((me * 7919 + (uintptr_t)i * 104729) % 400000);
    unsigned char *b = hm_buf_alloc(n);
    if (!b) return (void *)1;
    memset(b, (int)me, n);
    for (size_t k = 0; k < n; k += 4096)
      if (b[k] != (unsigned char)me) return (void *)1; /* another thread wrote into it */
    hm_buf_free(b);
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  pthread_t t[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
  for (int i = 0; i < THREADS; i++) {
    void *r;
    assert_int_equal(pthread_join(t[i], &r), 0);
    assert_null(r);
  }
  hm_buf_trim();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reuse),
      cmocka_unit_test(test_best_fit),
      cmocka_unit_test(test_small_and_limits),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
