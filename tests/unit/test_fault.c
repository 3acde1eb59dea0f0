/* test_fault.c: fault injection (SQLite's practice) over the readers and writers this process
 * can reach — the stats-file reader and merge (profdata.c) and the shared queue (queue.c,
 * queue_shm.c): for N = 1, 2, ... the Nth allocation (malloc, calloc, realloc, strdup; wrapped
 * at link time with -Wl,--wrap, so only calls made by libhone's objects and this file count)
 * fails, until the operation makes fewer than N allocations. Each failure must come back as a
 * clean error (a negative code, and for the reader a message), with nothing half-built returned;
 * LeakSanitizer (the ASan phase of make check) checks that each failed attempt freed what it had
 * taken. Single-threaded. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/profdata.h"
#include "hone/queue.h"

/* ---- the allocation shim ---- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long fail_at; /* 0: never fail; else the 1-based allocation that fails */
static long calls;

static int should_fail(void) {
  return fail_at > 0 && ++calls == fail_at;
}

void *__wrap_malloc(size_t n) {
  if (should_fail()) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m) {
  if (should_fail()) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n) {
  if (should_fail()) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
  if (should_fail()) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_strdup(s);
}

/* Arms the shim for the Nth allocation from now. */
static void arm(long n) {
  calls = 0;
  fail_at = n;
}

/* Disarms it; true when the Nth allocation was reached (the operation saw the failure). */
static int disarm(void) {
  int hit = fail_at > 0 && calls >= fail_at;
  fail_at = 0;
  return hit;
}

/* ---- stats files ---- */

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *buf = __real_malloc(1 << 20);
  *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
  fclose(f);
  return buf;
}

/* Every corpus file the reader accepts, read and merged under every allocation failure. */
static void test_profdata_read_and_merge(void **state) {
  (void)state;
  DIR *d = opendir(HONE_FAULT_CORPUS);
  assert_non_null(d);
  struct dirent *e;
  int valid = 0;
  long points = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", HONE_FAULT_CORPUS, e->d_name);
    size_t len = 0;
    unsigned char *buf = slurp(path, &len);
    assert_non_null(buf);
    hone_profile *ref = NULL;
    if (hone_profile_read_mem(buf, len, &ref, NULL, 0) != 0) {
      free(buf);
      continue;
    }
    valid++;
    for (long n = 1;; n++) { /* the reader */
      hone_profile *p = (hone_profile *)1;
      char msg[256] = "";
      arm(n);
      int rc = hone_profile_read_mem(buf, len, &p, msg, sizeof msg);
      int hit = disarm();
      if (!hit) {
        assert_int_equal(rc, 0);
        hone_profile_free(p);
        break;
      }
      points++;
      assert_int_equal(rc, HONE_ENOMEM);
      assert_null(p);
      assert_true(msg[0] != '\0');
    }
    for (long n = 1;; n++) { /* the merge: a failure leaves `into` valid and freeable */
      hone_profile *into = NULL;
      assert_int_equal(hone_profile_read_mem(buf, len, &into, NULL, 0), 0);
      size_t before = hone_profile_thread_count(into);
      arm(n);
      int rc = hone_profile_merge(into, ref);
      int hit = disarm();
      if (!hit) {
        assert_int_equal(rc, 0);
        hone_profile_free(into);
        break;
      }
      points++;
      assert_int_equal(rc, HONE_ENOMEM);
      assert_int_equal(hone_profile_thread_count(into), before);
      hone_profile_free(into);
    }
    hone_profile_free(ref);
    free(buf);
  }
  closedir(d);
  assert_true(valid > 0);
  assert_true(points > 0);
}

/* ---- the shared queue ---- */

static void queue_round_trip(size_t capacity, size_t item_size) {
  for (long n = 1;; n++) {
    hone_queue *q = NULL, *q2 = NULL;
    arm(n);
    int rc = hone_queue_new_shared(&q, capacity, item_size);
    if (rc == 0) rc = hone_queue_open_fd(&q2, hone_queue_fd(q));
    int hit = disarm();
    if (!hit) {
      assert_int_equal(rc, 0);
      char msg[8] = "abcdefg", got[8];
      size_t sz = 0;
      assert_int_equal(hone_queue_send(q, msg, sizeof msg, 0), 0);
      assert_int_equal(hone_queue_recv(q2, got, sizeof got, &sz, 0), 0);
      assert_int_equal(sz, sizeof msg);
      assert_memory_equal(got, msg, sizeof msg);
      hone_queue_free(q2);
      hone_queue_free(q);
      assert_true(n > 1); /* the queue did allocate: the loop tried a failure */
      break;
    }
    assert_int_equal(rc, HONE_ENOMEM);
    hone_queue_free(q2);
    hone_queue_free(q);
  }
}

static void test_shared_queue(void **state) {
  (void)state;
  queue_round_trip(16, 0); /* a message queue */
  queue_round_trip(16, 8); /* a fixed-size queue */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_profdata_read_and_merge),
      cmocka_unit_test(test_shared_queue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
