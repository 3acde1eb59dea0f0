/* fuzz_makedeps.c: libFuzzer target for the reader of the compiler's -MD dependency lists
 * (hone__makedeps_parse), which hone timeit reads back from a cache directory anyone may write.
 * Whatever the bytes, every name handed out is a string within the input's length, and the
 * reader never reads past the end. Replayed over tests/fuzz/corpus/makedeps in ordinary test
 * runs by fuzz_replay.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
  size_t size, names;
} seen;

static int on_path(void *arg, const char *path) {
  seen *s = arg;
  /* A name is no longer than the input it came from, and never empty. */
  size_t l = strlen(path);
  if (l == 0 || l > s->size) abort();
  s->names++;
  return 0;
}

static int stop_at_two(void *arg, const char *path) {
  (void)path;
  return ++*(int *)arg == 2 ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seen s = {size, 0};
  if (hone__makedeps_parse((const char *)data, size, on_path, &s) != 0) abort();
  if (s.names > size) abort();
  /* fn's non-zero value stops the walk and is returned as is. */
  int calls = 0;
  int rc = hone__makedeps_parse((const char *)data, size, stop_at_two, &calls);
  if (rc != (s.names >= 2 ? 7 : 0)) abort();
  return 0;
}
