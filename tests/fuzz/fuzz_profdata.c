/* fuzz_profdata.c: libFuzzer target for the stats-file reader (hone_profile_read_mem). Whatever the
 * bytes, the reader either returns a profile whose every accessor is safe to walk, or refuses with
 * a message; it never crashes or reads out of bounds. Replayed over tests/fuzz/corpus/profdata in
 * ordinary test runs by fuzz_replay.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hone/profdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hone_profile *p = NULL;
  char msg[256];
  msg[0] = '\0';
  int rc = hone_profile_read_mem(data, size, &p, msg, sizeof msg);
  if (rc != 0) {
    if (p != NULL || msg[0] == '\0') abort();
    return 0;
  }
  /* Walk everything the accessors hand out, as hone report would. */
  const hone_prof_info *in = hone_profile_info(p);
  volatile size_t sink = strlen(in->clock) + strlen(in->machine);
  for (size_t i = 0; i < in->argc; i++) sink += strlen(in->argv[i]);
  for (size_t t = 0; t < hone_profile_thread_count(p); t++) {
    const hone_prof_thread *th = hone_profile_thread(p, t);
    sink += strlen(th->name);
    for (size_t i = 0; i < th->nnodes; i++) {
      const hone_prof_node *n = &th->nodes[i];
      if (n->parent != HONE_PROF_NO_PARENT && n->parent >= i) abort();
      if (n->excl > n->incl) abort();
      sink += (size_t)n->func;
      if (n->parent != HONE_PROF_NO_PARENT) sink += (size_t)th->nodes[n->parent].func;
      (void)hone_profile_find_mapping(p, th->file, n->func);
    }
  }
  for (size_t m = 0; m < hone_profile_mapping_count(p); m++) {
    const hone_prof_mapping *mp = hone_profile_mapping(p, m);
    sink += strlen(mp->path);
    for (size_t k = 0; k < mp->build_id_len; k++) sink += mp->build_id[k];
  }
  /* Merging a profile into a copy of itself exercises the merge on the same data. */
  hone_profile *q = NULL;
  if (hone_profile_read_mem(data, size, &q, NULL, 0) == 0) {
    if (hone_profile_merge(q, p) != 0 &&
        hone_profile_thread_count(q) != hone_profile_thread_count(p))
      abort();
    hone_profile_free(q);
  }
  (void)sink;
  hone_profile_free(p);
  return 0;
}
