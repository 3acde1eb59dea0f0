/* htab.h: the one hash table of hone's internals — an open-addressing index over an array the
 * caller owns. The table stores, per slot, an element's index and its 64-bit hash; the caller
 * keeps the keys (in its own array) and answers "is element i this key?" through a callback, so
 * one implementation serves string-keyed, address-keyed and pair-keyed lookups alike.
 *
 * Usage: find with the key's hash; when absent, append the element to your array and insert its
 * index with the same hash. Load factor at most 1/2. Indices are uint32_t. Not thread-safe. */
#ifndef HONE_COMMON_HTAB_H
#define HONE_COMMON_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hone/error.h"

typedef struct hone__htab {
  uint32_t *idx;  /* element index + 1; 0 = empty */
  uint64_t *hash; /* the element's hash, for rehashing and cheap rejection */
  size_t cap, n;  /* cap is 0 or a power of two */
} hone__htab;

/* Is element `index` of the caller's array equal to the key being looked up? */
typedef bool (*hone__htab_eq_fn)(const void *ctx, uint32_t index);

static inline void hone__htab_init(hone__htab *t) {
  memset(t, 0, sizeof *t);
}

static inline void hone__htab_fini(hone__htab *t) {
  free(t->idx);
  free(t->hash);
  memset(t, 0, sizeof *t);
}

static inline uint64_t hone__hash_u64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  return k ^ (k >> 33);
}

/* FNV-1a over a string, continuing from `h` (start with HONE__HASH_SEED). */
#define HONE__HASH_SEED 0xcbf29ce484222325ull
static inline uint64_t hone__hash_str(uint64_t h, const char *s) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

/* The index of the element with hash h for which eq(ctx, index) holds, or -1. */
static inline int64_t hone__htab_find(const hone__htab *t, uint64_t h, hone__htab_eq_fn eq,
                                      const void *ctx) {
  if (!t->cap) return -1;
  size_t mask = t->cap - 1;
  for (size_t s = (size_t)h & mask; t->idx[s]; s = (s + 1) & mask)
    if (t->hash[s] == h && eq(ctx, t->idx[s] - 1)) return (int64_t)(t->idx[s] - 1);
  return -1;
}

static inline int hone__htab_resize(hone__htab *t, size_t cap) {
  uint32_t *idx = calloc(cap, sizeof *idx);
  uint64_t *hash = calloc(cap, sizeof *hash);
  if (!idx || !hash) {
    free(idx);
    free(hash);
    return HONE_ENOMEM;
  }
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->idx[i]) continue;
    size_t s = (size_t)t->hash[i] & (cap - 1);
    while (idx[s]) s = (s + 1) & (cap - 1);
    idx[s] = t->idx[i];
    hash[s] = t->hash[i];
  }
  free(t->idx);
  free(t->hash);
  t->idx = idx;
  t->hash = hash;
  t->cap = cap;
  return 0;
}

/* Records element `index` under hash h (the caller has checked it is absent). 0 or ENOMEM;
 * on failure the table is unchanged. */
static inline int hone__htab_insert(hone__htab *t, uint64_t h, uint32_t index) {
  if (index == UINT32_MAX) return HONE_ENOMEM;
  if ((t->n + 1) * 2 > t->cap) {
    int rc = hone__htab_resize(t, t->cap ? t->cap * 2 : 64);
    if (rc) return rc;
  }
  size_t s = (size_t)h & (t->cap - 1);
  while (t->idx[s]) s = (s + 1) & (t->cap - 1);
  t->idx[s] = index + 1;
  t->hash[s] = h;
  t->n++;
  return 0;
}

#endif /* HONE_COMMON_HTAB_H */
