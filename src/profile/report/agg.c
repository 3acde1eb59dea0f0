/* agg.c: per-function and per-edge pstats figures from calling-context trees (see agg.h). A
 * node's path is exactly the call stack of its calls, so "the function was already active"
 * (cProfile's recursive call) is "the function appears among the node's ancestors"; a depth-first
 * walk keeps a count of active nodes per function and per edge, so deep recursion (a million
 * frames) costs O(nodes), never O(nodes * depth). */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

void hone__pa_init(hone__pa *a) {
  memset(a, 0, sizeof *a);
  hone__htab_init(&a->ht);
}

void hone__pa_fini(hone__pa *a) {
  free(a->funcs);
  free(a->edges);
  hone__htab_fini(&a->ht);
  memset(a, 0, sizeof *a);
}

static int ensure_funcs(hone__pa *a, size_t n) {
  if (n <= a->nfuncs) return 0;
  if (n > a->funcs_cap) {
    size_t cap = a->funcs_cap ? a->funcs_cap : 64;
    while (cap < n) cap *= 2;
    hone__pa_stat *f = realloc(a->funcs, cap * sizeof *f);
    if (!f) return HONE_ENOMEM;
    a->funcs = f;
    a->funcs_cap = cap;
  }
  memset(a->funcs + a->nfuncs, 0, (n - a->nfuncs) * sizeof *a->funcs);
  a->nfuncs = n;
  return 0;
}

typedef struct edge_key {
  const hone__pa *a;
  uint32_t caller, callee;
} edge_key;

static bool edge_eq(const void *ctx, uint32_t i) {
  const edge_key *k = ctx;
  return k->a->edges[i].caller == k->caller && k->a->edges[i].callee == k->callee;
}

static uint64_t edge_hash(uint32_t caller, uint32_t callee) {
  return hone__hash_u64((uint64_t)caller << 32 | callee);
}

const hone__pa_edge *hone__pa_find_edge(const hone__pa *a, uint32_t caller, uint32_t callee) {
  edge_key k = {a, caller, callee};
  int64_t i = hone__htab_find(&a->ht, edge_hash(caller, callee), edge_eq, &k);
  return i < 0 ? NULL : &a->edges[i];
}

/* Index of the edge caller->callee, created empty when new; negative hone_err on failure. */
static int64_t edge_index(hone__pa *a, uint32_t caller, uint32_t callee) {
  uint64_t h = edge_hash(caller, callee);
  edge_key k = {a, caller, callee};
  int64_t i = hone__htab_find(&a->ht, h, edge_eq, &k);
  if (i >= 0) return i;
  if (a->nedges == a->edges_cap) {
    size_t cap = a->edges_cap ? a->edges_cap * 2 : 128;
    hone__pa_edge *ne = realloc(a->edges, cap * sizeof *ne);
    if (!ne) return HONE_ENOMEM;
    a->edges = ne;
    a->edges_cap = cap;
  }
  int rc = hone__htab_insert(&a->ht, h, (uint32_t)a->nedges);
  if (rc) return rc;
  hone__pa_edge *ne = &a->edges[a->nedges];
  memset(ne, 0, sizeof *ne);
  ne->caller = caller;
  ne->callee = callee;
  return (int64_t)a->nedges++;
}

static int check_tree(const hone_prof_node *nodes, size_t n) {
  if (n >= UINT32_MAX) return HONE_EFORMAT;
  for (size_t i = 0; i < n; i++)
    if (nodes[i].parent != HONE_PROF_NO_PARENT && nodes[i].parent >= i) return HONE_EFORMAT;
  return 0;
}

int hone__pa_add_thread(hone__pa *a, const hone_prof_node *nodes, size_t n, const uint32_t *fid,
                        const double *self_s, const double *total_s) {
  int rc = check_tree(nodes, n);
  if (rc || n == 0) return rc;
  uint32_t maxf = 0;
  for (size_t i = 0; i < n; i++)
    if (fid[i] > maxf) maxf = fid[i];
  if ((rc = ensure_funcs(a, (size_t)maxf + 1))) return rc;

  int64_t *eid = malloc(n * sizeof *eid);
  uint32_t *first = calloc(n + 1, sizeof *first), *kids = malloc(n * sizeof *kids);
  uint32_t *stack = malloc(n * sizeof *stack), *cursor = malloc(n * sizeof *cursor);
  uint32_t *fact = calloc(a->nfuncs, sizeof *fact);
  uint32_t *eact = NULL;
  if (!eid || !first || !kids || !stack || !cursor || !fact) {
    rc = HONE_ENOMEM;
    goto out;
  }

  /* Edges first (they may grow the table), then children lists (CSR) for the walk. */
  for (size_t i = 0; i < n; i++) {
    eid[i] = -1;
    if (nodes[i].parent == HONE_PROF_NO_PARENT) continue;
    int64_t e = edge_index(a, fid[nodes[i].parent], fid[i]);
    if (e < 0) {
      rc = (int)e;
      goto out;
    }
    eid[i] = e;
    first[nodes[i].parent + 1]++;
  }
  if (!(eact = calloc(a->nedges ? a->nedges : 1, sizeof *eact))) {
    rc = HONE_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++) first[i + 1] += first[i];
  for (size_t i = 0; i < n; i++) cursor[i] = first[i];
  for (size_t i = 0; i < n; i++)
    if (nodes[i].parent != HONE_PROF_NO_PARENT) kids[cursor[nodes[i].parent]++] = (uint32_t)i;

  for (size_t root = 0; root < n; root++) {
    if (nodes[root].parent != HONE_PROF_NO_PARENT) continue;
    size_t sp = 0;
    stack[sp++] = (uint32_t)root;
    cursor[root] = first[root];
    bool entering = true;
    while (sp) {
      uint32_t i = stack[sp - 1];
      if (entering) {
        const hone_prof_node *nd = &nodes[i];
        hone__pa_stat *f = &a->funcs[fid[i]];
        double tt = self_s[i], ct = total_s[i];
        f->ncalls += nd->calls;
        f->tottime += tt;
        if (fact[fid[i]]++ == 0) {
          f->pcalls += nd->calls;
          f->cumtime += ct;
        }
        if (eid[i] >= 0) {
          hone__pa_stat *es = &a->edges[eid[i]].stat;
          es->ncalls += nd->calls;
          es->tottime += tt;
          if (eact[eid[i]]++ == 0) {
            es->pcalls += nd->calls;
            es->cumtime += ct;
          }
        }
        cursor[i] = first[i];
      }
      if (cursor[i] < first[i + 1]) {
        stack[sp++] = kids[cursor[i]++];
        entering = true;
      } else {
        fact[fid[i]]--;
        if (eid[i] >= 0) eact[eid[i]]--;
        sp--;
        entering = false;
      }
    }
  }
  /* cumtime >= tottime holds exactly in the tree (total >= self + children's total), but the two
   * sums are rounded in different orders; clamp the last-bit difference. Rounding is monotonic,
   * so later additions keep the order. */
  for (size_t f = 0; f < a->nfuncs; f++)
    if (a->funcs[f].cumtime < a->funcs[f].tottime) a->funcs[f].cumtime = a->funcs[f].tottime;
  for (size_t e = 0; e < a->nedges; e++)
    if (a->edges[e].stat.cumtime < a->edges[e].stat.tottime)
      a->edges[e].stat.cumtime = a->edges[e].stat.tottime;
out:
  free(eid);
  free(first);
  free(kids);
  free(stack);
  free(cursor);
  free(fact);
  free(eact);
  return rc;
}
