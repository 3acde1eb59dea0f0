/* prof_agg.h: pstats figures from calling-context trees — per function and per caller->callee
 * edge: ncalls total and primitive, tottime, cumtime — with the profiler's calibrated cost
 * removed. Internal to the hone command (`hone report`). It needs no libdw: nodes arrive with a
 * function id already assigned (symbols resolved by prof_symbols.c), so the same function seen
 * in several threads or files is one id and they add up (pstats' Stats.add).
 *
 * Why here and not in libhone: the figures are only meaningful after symbol resolution, which
 * needs libdw, and libhone depends on libc + pthreads only; the CLI reaches libhone through the
 * public API only. The aggregation is kept libdw-free so tests/report/ unit-tests it alone.
 *
 * Not thread-safe: one hone__pa per thread of use. */
#ifndef HONE_CLI_PROF_AGG_H
#define HONE_CLI_PROF_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hone/profdata.h"

/* The figures of a function or an edge, as pstats holds them. Times in seconds. */
typedef struct hone__pa_stat {
  uint64_t nc; /* calls */
  uint64_t cc; /* primitive calls: the function (the edge, for an edge) was not already active */
  double tt;   /* own time, children excluded */
  double ct;   /* time with the children, recursive frames counted once */
} hone__pa_stat;

typedef struct hone__pa_edge {
  uint32_t caller, callee;
  hone__pa_stat s;
} hone__pa_edge;

/* Accumulated figures. funcs[id] for every id below nfuncs (a zero nc means not seen). */
typedef struct hone__pa {
  size_t nfuncs;
  hone__pa_stat *funcs;
  size_t nedges;
  hone__pa_edge *edges;
  /* private */
  size_t funcs_cap, edges_cap, ht_cap;
  uint32_t *ht; /* open addressing over edges: index + 1, 0 = empty */
} hone__pa;

/* How a thread's ticks become seconds, and the runtime's calibrated cost (in ticks) to remove. */
typedef struct hone__pa_cost {
  double ticks_per_second;
  double inner; /* per call, inside the callee's measured interval */
  double outer; /* per call, charged to the caller's own time */
  bool raw;     /* true: times as measured, nothing removed */
} hone__pa_cost;

void hone__pa_init(hone__pa *a);
void hone__pa_fini(hone__pa *a);

/* Adds one thread's tree: nodes[i]'s function is fid[i]. Parents must precede their children
 * (parent < i). Returns 0, HONE_EFORMAT for a malformed tree (nothing added), HONE_ENOMEM. */
int hone__pa_add_thread(hone__pa *a, const hone_prof_node *nodes, size_t n, const uint32_t *fid,
                        const hone__pa_cost *cost);

/* The edge caller->callee, or NULL. */
const hone__pa_edge *hone__pa_find_edge(const hone__pa *a, uint32_t caller, uint32_t callee);

/* A node's corrected exclusive and inclusive ticks, exposed for tests: excl' = max(0, excl -
 * calls*inner - childcalls*outer); incl' = max(excl' + sum of the children's incl', incl -
 * calls*inner - descendant_calls*(inner+outer)). Fills excl_out/incl_out (n each). */
int hone__pa_correct(const hone_prof_node *nodes, size_t n, const hone__pa_cost *cost,
                     double *excl_out, double *incl_out);

#endif /* HONE_CLI_PROF_AGG_H */
