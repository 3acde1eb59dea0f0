/* fuzz_queue_fd.c: libFuzzer target for hone_queue_open_fd, the one reader of a shared queue's
 * memory that another process handed over. The bytes become the whole of a sealed memfd (as a
 * queue's memory is); hone_queue_open_fd either maps it as a queue whose accessors agree with
 * its layout, or refuses with an error code, and never crashes, reads out of bounds, or leaks
 * the mapping or the descriptor. (A queue it accepts is trusted from then on: its lock and
 * indexes belong to the processes sharing it, so send and recv are not driven here.) Replayed
 * over tests/fuzz/corpus/queue_fd in ordinary test runs by fuzz_replay.c. The seeds are the
 * memory of real queues (fixed 16 x 8 and 1 x 1, a message queue of 100 bytes; empty and with a
 * message in), each also truncated to half and with a layout byte flipped, plus what a 60 s run
 * of this target added (libFuzzer -merge=1). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hone/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_create("fuzz-queue", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) abort();
  size_t off = 0;
  while (off < size) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) abort();
    off += (size_t)w;
  }
  /* The first byte's low bit, when the input is long enough, leaves the memfd unsealed (which
   * must be refused); otherwise it is sealed like a real queue's. */
  if (!(size > 0 && size < 64 && (data[0] & 1)))
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) abort();
  hone_queue *q = NULL;
  int rc = hone_queue_open_fd(&q, fd);
  if (rc != 0) {
    if (rc > 0 || q != NULL) abort();
  } else {
    if (q == NULL) abort();
    size_t item = hone_queue_item_size(q), max = hone_queue_max_message(q);
    if (item && max != item) abort();
    if (max == 0 || max >= size) abort();
    if (hone_queue_fd(q) < 0 || hone_queue_fd(q) == fd) abort();
    hone_queue_free(q);
  }
  close(fd);
  return 0;
}
