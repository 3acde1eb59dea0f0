/* fuzz_timeit_msg.c: libFuzzer target for the reader of hone timeit's child messages
 * (hone__timeit_msg_feed): the child runs the user's snippet, which inherits the pipe. Whatever
 * the bytes, the reader consumes only whole messages within them, refuses a malformed one, and
 * what it kept is consistent (a result has trials, finite non-negative times, a note that is a
 * string). The input is also fed in two pieces, as reads from a pipe arrive. Replayed over
 * tests/fuzz/corpus/timeit_msg in ordinary test runs by fuzz_replay.c. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeit_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const hone__timeit_report *r) {
  if (r->measured) {
    if (r->trials == 0 || !r->per_loop || r->number == 0) abort();
    for (unsigned i = 0; i < r->trials; i++)
      if (!(r->per_loop[i] >= 0) || !isfinite(r->per_loop[i])) abort();
    for (int i = 0; i < HONE_COUNTER_COUNT; i++)
      if (r->counter_counted[i] && !r->counter_avail[i]) abort();
    if (r->counter_note) (void)strlen(r->counter_note);
  }
  if (r->nauto > 64) abort();
  if (r->err) (void)strlen(r->err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hone__timeit_report r = {0};
  size_t used = 0;
  int rc = hone__timeit_msg_feed(&r, data, size, &used, NULL, NULL);
  if (used > size || (rc != 0 && rc != -1)) abort();
  check(&r);
  hone__timeit_report_free(&r);

  /* In two pieces: the rest of the first is kept and completed by the second. */
  size_t cut = size / 2;
  hone__timeit_report r2 = {0};
  unsigned char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, cut);
  size_t have = cut, u1 = 0, u2 = 0;
  int rc2 = hone__timeit_msg_feed(&r2, buf, have, &u1, NULL, NULL);
  if (rc2 == 0) {
    memmove(buf, buf + u1, have - u1);
    have -= u1;
    memcpy(buf + have, data + cut, size - cut);
    have += size - cut;
    rc2 = hone__timeit_msg_feed(&r2, buf, have, &u2, NULL, NULL);
    /* Pieces or whole, the same messages are read. */
    if (rc2 != rc || u1 + u2 != used) abort();
  }
  check(&r2);
  hone__timeit_report_free(&r2);
  free(buf);
  return 0;
}
