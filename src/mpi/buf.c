/* buf.c: see buf.h. */
#include "mpi/buf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

enum { KEEP_MAX = 16, BIG = 64 * 1024 };
#define KEEP_BYTES ((size_t)64 << 20)

typedef struct hdr {
  size_t cap;
  size_t pad; /* the caller's bytes stay 16-byte aligned */
} hdr;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static hdr *kept[KEEP_MAX];
static unsigned nkept;
static size_t kept_bytes;

void *hm_buf_alloc(size_t n) {
  if (n == 0) n = 1;
  if (n >= BIG) {
    hdr *best = NULL;
    unsigned bi = 0;
    pthread_mutex_lock(&mu);
    for (unsigned i = 0; i < nkept; i++)
      if (kept[i]->cap >= n && kept[i]->cap / 4 <= n && (!best || kept[i]->cap < best->cap)) {
        best = kept[i];
        bi = i;
      }
    if (best) {
      kept[bi] = kept[--nkept];
      kept_bytes -= best->cap;
    }
    pthread_mutex_unlock(&mu);
    if (best) return best + 1;
    if (n > SIZE_MAX - BIG - sizeof(hdr)) return NULL;
    n = (n + BIG - 1) / BIG * BIG; /* sizes in steps of 64 KiB, so that the next one fits */
  }
  hdr *h = malloc(sizeof *h + n);
  if (!h) return NULL;
  h->cap = n;
  return h + 1;
}

void hm_buf_free(void *p) {
  if (!p) return;
  hdr *h = (hdr *)p - 1;
  if (h->cap >= BIG) {
    pthread_mutex_lock(&mu);
    bool keep = nkept < KEEP_MAX && kept_bytes + h->cap <= KEEP_BYTES;
    if (keep) {
      kept[nkept++] = h;
      kept_bytes += h->cap;
    }
    pthread_mutex_unlock(&mu);
    if (keep) return;
  }
  free(h);
}

void hm_buf_trim(void) {
  pthread_mutex_lock(&mu);
  while (nkept) free(kept[--nkept]);
  kept_bytes = 0;
  pthread_mutex_unlock(&mu);
}

unsigned hm_buf_kept(size_t *bytes) {
  pthread_mutex_lock(&mu);
  unsigned n = nkept;
  if (bytes) *bytes = kept_bytes;
  pthread_mutex_unlock(&mu);
  return n;
}
