/* plain.h: times from a plain build's run (`hone record --plain`), calls from the instrumented
 * run. Internal to libhone; called by the report (report.c) when it holds both kinds of file.
 *
 * Why: the hooks' calls run inside the program's own functions and change how fast their code
 * runs (a function called 10^7 times gets a dozen more instructions per call, a caller's loop
 * spills registers around the calls), so no estimate from an instrumented run alone can give
 * the plain build's shares of the tiny, often-called functions (hone-report(1): Truthful
 * times). A second run of the plain build, sampled by the same runtime, measures them: where
 * its samples were says how long each function took. The instrumented run still says how often
 * each was called and along which paths, and divides each function's time among them.
 *
 * The method, per function f with plain time P(f) (its samples times their period and scale):
 *  - the instrumented estimate of each node i of f (self(i), from estimate.c) is split into the
 *    part in f's own code, own(i), and the part in code no recorded function holds (libraries,
 *    the runtime's PLT stubs of the program), ext(i), from where its samples were;
 *  - node i gets P(f) * own(i) / sum of own over f's nodes (by calls when that sum is 0);
 *  - the plain run's time in code no recorded function holds, E, is spread over the nodes by
 *    ext(i) / sum of ext (by own(i) when no node has any), as libraries called from the program
 *    are: the node that called them in the instrumented run pays for them in the plain one;
 *  - inclusive times are the sums of the exclusive ones down the tree.
 * The total is then the plain run's sampled CPU time. A node of a function the plain run took
 * fewer than HONE__ESTIMATE_MIN_SAMPLES samples of, while the instrumented estimate gave it that
 * many periods or more, is unsure: the two runs disagree about it. */
#ifndef HONE_PROFILE_PLAIN_H
#define HONE_PROFILE_PLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "hone/report.h"

typedef struct hone__plain_in {
  const hone_report_node *nodes; /* func, parent (parents before children), calls */
  size_t nnodes;
  const double *self_s; /* nnodes: the instrumented estimate (estimate.c) */
  const double *ext_s;  /* nnodes: of which in code no recorded function holds (<= self_s) */
  size_t nfuncs;
  const double *plain_s;         /* nfuncs: the plain run's time of each function */
  const uint64_t *plain_samples; /* nfuncs: its samples */
  double elsewhere_s;            /* the plain run's time in code no recorded function holds */
  double period_s;               /* the plain run's sample period (for the unsure rule) */
} hone__plain_in;

typedef struct hone__plain_out {
  double *self_s, *total_s; /* nnodes each */
  uint8_t *unsure;          /* nnodes: 1 where the runs disagree (see above) */
  double lost_s;            /* plain time of functions with no node (none to give it to) */
} hone__plain_out;

/* Returns 0, HONE_EFORMAT (a parent not before its child, a function id out of range) or
 * HONE_ENOMEM. Reentrant. */
int hone__plain_times(const hone__plain_in *in, hone__plain_out *out);

#endif /* HONE_PROFILE_PLAIN_H */
