/* fuzz_entry_meta.c: libFuzzer target for the reader of a timeit cache entry's meta file
 * (hone__entry_meta_parse): the cache is a directory anyone may write. Whatever the bytes, the
 * reader refuses them with nothing kept, or returns a checksum of 64 hex digits and dep lines
 * whose stamps and absolute paths are strings within the input. Replayed over
 * tests/fuzz/corpus/entry_meta in ordinary test runs by fuzz_replay.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hone__entry_meta m;
  int rc = hone__entry_meta_parse((const char *)data, size, &m);
  if (rc != 0) {
    if (rc != -1 && rc != -2) abort();
    if (m.deps || m.ndeps || m.cc_path || m.cc_version) abort();
    return 0;
  }
  if (strlen(m.so_sha256) != 64) abort();
  size_t total = 0;
  for (size_t i = 0; i < m.ndeps; i++) {
    if (!m.deps[i].stamp[0] || strchr(m.deps[i].stamp, ' ') || m.deps[i].path[0] != '/') abort();
    total += strlen(m.deps[i].stamp) + strlen(m.deps[i].path);
  }
  if (m.cc_path) total += strlen(m.cc_path);
  if (m.cc_version) total += strlen(m.cc_version);
  if (total > size) abort();
  hone__entry_meta_free(&m);
  return 0;
}
