/* estimate.h: the estimation of uninstrumented times — from one thread's calling-context tree as
 * measured (ticks, the profiler's own cost included) to per-node exclusive and inclusive seconds
 * as the program would have spent them without the profiler, with a flag on each node whose
 * estimate is not to be trusted. Called once per thread's tree by the report (report.c); nothing
 * else in the report computes times. Internal to libhone.
 *
 * Not thread-safe with respect to the output arrays; reentrant otherwise. */
#ifndef HONE_PROFILE_ESTIMATE_H
#define HONE_PROFILE_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hone/profdata.h"

/* What the estimate is made from. info and thread may be NULL (unit tests give bare trees);
 * the cost and frequency are then taken from the fields below, which report.c fills from info. */
typedef struct hone__estimate_in {
  const hone_prof_info *info;     /* the recording's facts, or NULL */
  const hone_prof_thread *thread; /* the thread, or NULL */
  const hone_prof_node *nodes;    /* the tree: parents before children */
  size_t n;
  double ticks_per_second; /* the clock's frequency */
  double inner;            /* calibrated cost per call inside the callee's interval, ticks */
  double outer;            /* calibrated cost per call charged to the caller's own time, ticks */
  bool raw;                /* true: times as measured, nothing removed */
} hone__estimate_in;

/* Per node, n entries each, filled by hone__estimate_thread(). */
typedef struct hone__estimate_out {
  double *self_s;  /* estimated exclusive seconds */
  double *total_s; /* estimated inclusive seconds, >= self_s + the children's total_s */
  uint8_t *unsure; /* 1: the estimate is not reliable (shown flagged), 0 otherwise */
} hone__estimate_out;

/* Returns 0, HONE_EFORMAT for a malformed tree (a parent not before its child), HONE_ENOMEM. */
int hone__estimate_thread(const hone__estimate_in *in, const hone__estimate_out *out);

#endif /* HONE_PROFILE_ESTIMATE_H */
