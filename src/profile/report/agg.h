/* agg.h: pstats figures from calling-context trees — per function and per caller->callee edge:
 * ncalls total and primitive, tottime, cumtime. Nodes arrive with a function id already assigned
 * (report.c resolves them), so the same function seen in several threads or files is one id and
 * they add up (pstats' Stats.add); times arrive already estimated (estimate.c), in seconds.
 * Internal to libhone; unit-tested in tests/report/. Not thread-safe: one hone__pa per user. */
#ifndef HONE_PROFILE_AGG_H
#define HONE_PROFILE_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/htab.h"
#include "hone/profdata.h"
#include "hone/report.h"

/* The figures of a function or an edge are the public ones (hone/report.h): ncalls, pcalls,
 * tottime, cumtime; an edge holds caller, callee and stat. */
typedef hone_report_stat hone__pa_stat;
typedef hone_report_edge hone__pa_edge;

/* Accumulated figures. funcs[id] for every id below nfuncs (a zero nc means not seen). */
typedef struct hone__pa {
  size_t nfuncs;
  hone__pa_stat *funcs;
  size_t nedges;
  hone__pa_edge *edges;
  /* private */
  size_t funcs_cap, edges_cap;
  hone__htab ht; /* over edges, keyed by (caller, callee) */
} hone__pa;

void hone__pa_init(hone__pa *a);
void hone__pa_fini(hone__pa *a);

/* Adds one thread's tree: nodes[i]'s function is fid[i], its estimated exclusive and inclusive
 * seconds self_s[i] and total_s[i]. Parents must precede their children (parent < i). Returns 0,
 * HONE_EFORMAT for a malformed tree (nothing added), HONE_ENOMEM. */
int hone__pa_add_thread(hone__pa *a, const hone_prof_node *nodes, size_t n, const uint32_t *fid,
                        const double *self_s, const double *total_s);

/* The edge caller->callee, or NULL. */
const hone__pa_edge *hone__pa_find_edge(const hone__pa *a, uint32_t caller, uint32_t callee);

#endif /* HONE_PROFILE_AGG_H */
