/* report_internal.h: the report's insides, shared by report.c (model, figures, sorting),
 * print.c (text, JSON, CSV) and the export writers' registry. Internal to libhone. */
#ifndef HONE_PROFILE_REPORT_INTERNAL_H
#define HONE_PROFILE_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agg.h"
#include "estimate.h"
#include "common/htab.h"
#include "hone/report.h"

enum hone__field {
  HONE__F_CC,
  HONE__F_NC,
  HONE__F_TT,
  HONE__F_CT,
  HONE__F_FILE,
  HONE__F_LINE,
  HONE__F_NAME,
  HONE__F_STD
};

typedef struct hone__sort_key {
  const char *name;
  const char *desc; /* as pstats' "Ordered by:" line names it */
  int nfields;
  struct {
    enum hone__field f;
    int dir; /* -1 descending, 1 ascending */
  } fields[3];
} hone__sort_key;

#define HONE__MAX_KEYS 32

/* Where a thread's nodes came from: the profile's own array (for the tree's shape) and the
 * thread's slice of the report's forest. */
typedef struct hone__thread_src {
  const hone_prof_node *nodes;
  size_t first, n;
} hone__thread_src;

typedef struct hone__section {
  hone_report_section info;
  hone__pa pa;
  uint32_t *rows; /* info.nfuncs function ids with calls, sorted */
} hone__section;

/* The plain runs added (`hone record --plain`: hone_prof_info.times "plain"), see plain.h. */
typedef struct hone__plain_summary {
  size_t files;
  uint64_t samples;           /* every sample of the plain runs' program */
  uint64_t samples_elsewhere; /* in code no recorded function holds, or whose address was lost */
  uint64_t samples_by_name;   /* in functions matched to a recorded one by name alone */
  double elsewhere_s;
  /* At the last application: with the samples of functions no instrumented run recorded. */
  uint64_t samples_elsewhere_total;
  double elsewhere_total_s;
  double lost_s; /* time of functions the instrumented runs never called (left out) */
  double sample_period_s, sample_scale_min, sample_scale_max;
  bool applied; /* the nodes' times are the plain runs' (not --raw, and instrumented runs too) */
} hone__plain_summary;

struct hone_report {
  hone_report_options opt;
  hone_profile **owned; /* read by hone_report_read */
  size_t nowned;
  hone_report_file *files;
  size_t nfiles, files_cap;
  hone_report_thread *threads;
  hone__thread_src *thread_src;
  size_t nthreads, threads_cap, thread_src_cap;
  hone_report_func *funcs;
  size_t nfuncs, funcs_cap;
  hone__htab fht; /* over funcs, keyed by (name, file, line) */
  hone_report_node *nodes;
  size_t nnodes, nodes_cap;
  const hone__sort_key *keys[HONE__MAX_KEYS];
  size_t nkeys;
  bool built;                   /* secs hold the figures of every thread added so far */
  hone__estimate_summary times; /* how the times were obtained (estimate.c) */
  /* Per node (nnodes, parallel to nodes): the instrumented runs' estimate, kept so that the
   * plain runs' times can be laid over it again after each add, and its part in code no
   * recorded function holds. */
  double *est_self, *est_total, *ext_s;
  uint8_t *est_unsure;
  size_t est_cap;
  /* Per function (nfuncs, parallel to funcs): 1 when an instrumented run's node resolved to
   * it; the plain runs' seconds and samples in its code. */
  uint8_t *recorded;
  double *plain_s;
  uint64_t *plain_samples;
  size_t pf_cap;
  hone__plain_summary plain;
  hone__section *secs;
  size_t nsecs;
};

/* Forgets the figures (after an add): the next query rebuilds them. */
void hone__report_drop_figures(hone_report *r);
/* Section s, building the figures first if needed; NULL when out of range or on ENOMEM. */
const hone__section *hone__report_section(const hone_report *r, size_t s);
/* The rows of section s after the restrictions, and (msg not NULL) pstats' "Ordered by" line and
 * one "List reduced" line per restriction that shrank the list (malloc'd; free() both). */
int hone__report_list(const hone_report *r, size_t s, const hone_restriction *rs, size_t nrs,
                      uint32_t **ids, size_t *count, char **msg);

/* Applies one restriction to list[0..*count) of ids whose "file:line(name)" name() gives;
 * writes pstats' "List reduced" line to msgf (may be NULL) when it shrinks. 0 or HONE_EINVAL. */
typedef const char *(*hone__name_fn)(const void *ctx, uint32_t id);
int hone__restrict(const hone_restriction *rs, hone__name_fn name, const void *ctx, uint32_t *list,
                   size_t *count, FILE *msgf);

#endif /* HONE_PROFILE_REPORT_INTERNAL_H */
