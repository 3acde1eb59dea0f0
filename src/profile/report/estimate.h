/* estimate.h: the estimation of uninstrumented times — from one thread's calling-context tree as
 * measured (ticks, the profiler's own cost included) to per-node exclusive and inclusive seconds
 * as the program would have spent them without the profiler, with a flag on each node whose
 * estimate is not to be trusted. Called once per thread's tree by the report (report.c); nothing
 * else in the report computes times. Internal to libhone.
 *
 * Two methods, chosen per thread:
 *  - sampled (the runtime sampled the thread's CPU time, hone_prof_thread.samples): a node's
 *    exclusive time is its samples times the period. Samples taken inside the profiler's hooks
 *    are its own cost and are left out, so nothing needs to be calibrated; a time of k samples
 *    has a standard deviation of about sqrt(k) samples (binomial, k small against the total).
 *  - corrected (no samples: perf_event_open refused, a version 1 file): the calibrated cost per
 *    call removed where the runtime added it; a node whose measured time was mostly that cost is
 *    flagged unsure.
 *
 * Not thread-safe with respect to the output arrays; reentrant otherwise. */
#ifndef HONE_PROFILE_ESTIMATE_H
#define HONE_PROFILE_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hone/profdata.h"

/* What the estimate is made from. info and thread may be NULL (unit tests give bare trees);
 * the cost and frequency are then taken from the fields below, which report.c fills from info.
 * With thread NULL, samples and sample_period_s below describe the samples (NULL: none). */
typedef struct hone__estimate_in {
  const hone_prof_info *info;     /* the recording's facts, or NULL */
  const hone_prof_thread *thread; /* the thread, or NULL */
  const hone_prof_node *nodes;    /* the tree: parents before children */
  size_t n;
  double ticks_per_second; /* the clock's frequency */
  double inner;            /* calibrated cost per call inside the callee's interval, ticks */
  double outer;            /* calibrated cost per call charged to the caller's own time, ticks */
  bool raw;                /* true: times as measured, nothing removed */
  /* The hooks of a sampled thread read no clock (info->times "sampled-untimed"): its ticks are
   * 0, not measured. Its estimate is the samples as for any sampled thread; its raw times are
   * the samples as taken (each on the node on top when it was taken, none moved). */
  bool untimed;
  uint64_t samples_own;    /* used when thread is NULL: samples inside the hooks */
  const uint64_t *samples; /* used when thread is NULL: n sample counts, or NULL */
  double sample_period_s;
  double sample_scale; /* used when thread is NULL: the program's fraction of a sample (0: 1) */
  /* Where the samples were (optional; NULL: every sample stays on its top node). fid: each
   * node's function id; pcs (thread->pcs when thread is given): npcs records; pc_fid: the
   * function holding each record's address, UINT32_MAX when unknown. A sample whose address is
   * in a function called by its top node (the callee's prologue before its enter hook, its
   * epilogue after its exit hook) moves to that callee's node. */
  const uint32_t *fid;
  const hone_prof_sample_pc *pcs;
  size_t npcs;
  const uint32_t *pc_fid;
} hone__estimate_in;

/* How the times of the threads estimated so far were obtained (accumulated over calls). */
typedef struct hone__estimate_summary {
  size_t sampled_threads, corrected_threads;
  size_t untimed_threads; /* sampled threads whose hooks read no clock (also counted by --raw) */
  uint64_t samples;       /* samples that landed in the program's recorded functions */
  uint64_t samples_own;   /* samples inside the profiler's hooks */
  uint64_t samples_moved; /* samples given from a caller to the callee their address was in */
  double sample_period_s; /* the largest period seen */
  double sample_scale_min, sample_scale_max; /* of the sampled threads (0 when none) */
  size_t unsure_nodes;
} hone__estimate_summary;

/* Per node, n entries each, filled by hone__estimate_thread(). */
typedef struct hone__estimate_out {
  double *self_s;  /* estimated exclusive seconds */
  double *total_s; /* estimated inclusive seconds, >= self_s + the children's total_s */
  uint8_t *unsure; /* 1: the estimate is not reliable (shown flagged), 0 otherwise */
  hone__estimate_summary *summary; /* NULL, or accumulated into */
} hone__estimate_out;

/* A node with fewer samples than this, whose measured time (at least a period) its samples
 * account for less than half of — the rest was the profiler's own cost — is unsure: its time is
 * known only to be small, not how small. */
#define HONE__ESTIMATE_MIN_SAMPLES 4

/* Sampled program time per recorded call (nanoseconds) below which the report says its times
 * are unreliable. Every instrumented call also runs the calls to the hooks and their argument
 * set-up inside the program's own functions, where the samples count that time as the
 * program's: no estimate from the samples can take it out. Measured on the 2-vCPU AMD EPYC KVM
 * guests (perf stat task-clock): hooks that do nothing made examples/profiling.c (-O0, 26.9 M
 * calls) run 162 ms against its plain build's 59 ms, 3.8 ns a call. bench/prof_truth.sh, hone
 * against perf on the plain build: profiling.c at 4.6-5.3 ns a call sampled, total +95 to
 * +145 %, shares off by 6.9-16 points; Lua at 5.1-5.4 ns, total -9 % (+40 % in another
 * session), shares off by 4.4-10.1 points; bzip2 at 62 ns, total -20 to +15 %, shares within
 * 3.2-4.1 points. At 10 ns a call the instrumentation's calls alone can be a third of what is
 * sampled. */
#define HONE__ESTIMATE_DENSE_NS 10.0

/* Returns 0, HONE_EFORMAT for a malformed tree (a parent not before its child), HONE_ENOMEM. */
int hone__estimate_thread(const hone__estimate_in *in, const hone__estimate_out *out);

#endif /* HONE_PROFILE_ESTIMATE_H */
