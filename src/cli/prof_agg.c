/* prof_agg.c: per-function and per-edge pstats figures from calling-context trees (see
 * prof_agg.h). A node's path is exactly the call stack of its calls, so "the function was already
 * active" (cProfile's recursive call) is "the function appears among the node's ancestors"; a
 * depth-first walk keeps a count of active nodes per function and per edge, so deep recursion (a
 * million frames) costs O(nodes), never O(nodes * depth). */
#include "prof_agg.h"

#include <stdlib.h>
#include <string.h>

void hone__pa_init(hone__pa *a) {
  memset(a, 0, sizeof *a);
}

void hone__pa_fini(hone__pa *a) {
  free(a->funcs);
  free(a->edges);
  free(a->ht);
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

static size_t edge_hash(uint32_t caller, uint32_t callee, size_t cap) {
  uint64_t k = ((uint64_t)caller << 32 | callee) * 0x9E3779B97F4A7C15ull;
  return (size_t)(k >> 17) & (cap - 1);
}

static int rehash(hone__pa *a, size_t cap) {
  uint32_t *ht = calloc(cap, sizeof *ht);
  if (!ht) return HONE_ENOMEM;
  for (size_t i = 0; i < a->nedges; i++) {
    size_t h = edge_hash(a->edges[i].caller, a->edges[i].callee, cap);
    while (ht[h]) h = (h + 1) & (cap - 1);
    ht[h] = (uint32_t)(i + 1);
  }
  free(a->ht);
  a->ht = ht;
  a->ht_cap = cap;
  return 0;
}

const hone__pa_edge *hone__pa_find_edge(const hone__pa *a, uint32_t caller, uint32_t callee) {
  if (!a->ht_cap) return NULL;
  for (size_t h = edge_hash(caller, callee, a->ht_cap); a->ht[h]; h = (h + 1) & (a->ht_cap - 1)) {
    const hone__pa_edge *e = &a->edges[a->ht[h] - 1];
    if (e->caller == caller && e->callee == callee) return e;
  }
  return NULL;
}

/* Index of the edge caller->callee, created empty when new; negative hone_err on failure. */
static int64_t edge_index(hone__pa *a, uint32_t caller, uint32_t callee) {
  const hone__pa_edge *e = hone__pa_find_edge(a, caller, callee);
  if (e) return e - a->edges;
  if ((a->nedges + 1) * 2 > a->ht_cap) {
    int rc = rehash(a, a->ht_cap ? a->ht_cap * 2 : 256);
    if (rc) return rc;
  }
  if (a->nedges == a->edges_cap) {
    size_t cap = a->edges_cap ? a->edges_cap * 2 : 128;
    hone__pa_edge *ne = realloc(a->edges, cap * sizeof *ne);
    if (!ne) return HONE_ENOMEM;
    a->edges = ne;
    a->edges_cap = cap;
  }
  hone__pa_edge *ne = &a->edges[a->nedges];
  memset(ne, 0, sizeof *ne);
  ne->caller = caller;
  ne->callee = callee;
  size_t h = edge_hash(caller, callee, a->ht_cap);
  while (a->ht[h]) h = (h + 1) & (a->ht_cap - 1);
  a->ht[h] = (uint32_t)(a->nedges + 1);
  return (int64_t)a->nedges++;
}

static int check_tree(const hone_prof_node *nodes, size_t n) {
  if (n >= UINT32_MAX) return HONE_EFORMAT;
  for (size_t i = 0; i < n; i++)
    if (nodes[i].parent != HONE_PROF_NO_PARENT && nodes[i].parent >= i) return HONE_EFORMAT;
  return 0;
}

int hone__pa_correct(const hone_prof_node *nodes, size_t n, const hone__pa_cost *cost,
                     double *excl_out, double *incl_out) {
  int rc = check_tree(nodes, n);
  if (rc) return rc;
  /* Children come after their parent, so a backward pass sees every child before its parent. */
  uint64_t *childcalls = calloc(n ? n : 1, sizeof *childcalls);
  uint64_t *desc = calloc(n ? n : 1, sizeof *desc);
  double *sumchild = calloc(n ? n : 1, sizeof *sumchild);
  if (!childcalls || !desc || !sumchild) {
    rc = HONE_ENOMEM;
    goto out;
  }
  for (size_t i = n; i-- > 0;) {
    const hone_prof_node *nd = &nodes[i];
    double excl = (double)nd->excl, incl = (double)nd->incl;
    if (!cost->raw) {
      double calls = (double)nd->calls;
      excl -= calls * cost->inner + (double)childcalls[i] * cost->outer;
      if (excl < 0) excl = 0;
      incl -= calls * cost->inner + (double)desc[i] * (cost->inner + cost->outer);
      /* Never below the node's own corrected time plus its children's: cumtime >= tottime
       * holds for every row even where a clamp above has raised a child. */
      if (incl < excl + sumchild[i]) incl = excl + sumchild[i];
    }
    excl_out[i] = excl;
    incl_out[i] = incl;
    if (nd->parent != HONE_PROF_NO_PARENT) {
      childcalls[nd->parent] += nd->calls;
      desc[nd->parent] += nd->calls + desc[i];
      sumchild[nd->parent] += incl;
    }
  }
out:
  free(childcalls);
  free(desc);
  free(sumchild);
  return rc;
}

int hone__pa_add_thread(hone__pa *a, const hone_prof_node *nodes, size_t n, const uint32_t *fid,
                        const hone__pa_cost *cost) {
  int rc = check_tree(nodes, n);
  if (rc || n == 0) return rc;
  uint32_t maxf = 0;
  for (size_t i = 0; i < n; i++)
    if (fid[i] > maxf) maxf = fid[i];
  if ((rc = ensure_funcs(a, (size_t)maxf + 1))) return rc;

  double *excl = malloc(n * sizeof *excl), *incl = malloc(n * sizeof *incl);
  int64_t *eid = malloc(n * sizeof *eid);
  uint32_t *first = calloc(n + 1, sizeof *first), *kids = malloc(n * sizeof *kids);
  uint32_t *stack = malloc(n * sizeof *stack), *cursor = malloc(n * sizeof *cursor);
  uint32_t *fact = calloc(a->nfuncs, sizeof *fact);
  uint32_t *eact = NULL;
  if (!excl || !incl || !eid || !first || !kids || !stack || !cursor || !fact) {
    rc = HONE_ENOMEM;
    goto out;
  }
  if ((rc = hone__pa_correct(nodes, n, cost, excl, incl))) goto out;
  double spt = cost->ticks_per_second > 0 ? 1.0 / cost->ticks_per_second : 0;

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
        double tt = excl[i] * spt, ct = incl[i] * spt;
        f->nc += nd->calls;
        f->tt += tt;
        if (fact[fid[i]]++ == 0) {
          f->cc += nd->calls;
          f->ct += ct;
        }
        if (eid[i] >= 0) {
          hone__pa_stat *es = &a->edges[eid[i]].s;
          es->nc += nd->calls;
          es->tt += tt;
          if (eact[eid[i]]++ == 0) {
            es->cc += nd->calls;
            es->ct += ct;
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
  /* cumtime >= tottime holds exactly in the tree (incl' >= excl' + children's incl'), but the two
   * sums are rounded in different orders; clamp the last-bit difference. Rounding is monotonic,
   * so later additions keep the order. */
  for (size_t f = 0; f < a->nfuncs; f++)
    if (a->funcs[f].ct < a->funcs[f].tt) a->funcs[f].ct = a->funcs[f].tt;
  for (size_t e = 0; e < a->nedges; e++)
    if (a->edges[e].s.ct < a->edges[e].s.tt) a->edges[e].s.ct = a->edges[e].s.tt;
out:
  free(excl);
  free(incl);
  free(eid);
  free(first);
  free(kids);
  free(stack);
  free(cursor);
  free(fact);
  free(eact);
  return rc;
}
