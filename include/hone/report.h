/* hone/report.h: pstats for C — a report over one or more stats files (hone/profdata.h): the
 * calling-context trees of every thread, their nodes resolved to functions (name, file, line),
 * the uninstrumented times estimated, aggregated into Python pstats' figures per function and per
 * caller->callee edge, sorted by pstats' keys, restricted (regex, count, fraction) and printed as
 * pstats prints them, or written as JSON (docs/report-json.md) or CSV rows. Exports to other
 * tools' formats are in hone/export.h.
 *
 * The lecture's
 *     p = pstats.Stats('restats'); p.sort_stats('cumulative').print_stats()
 * is
 *     hone_report *r;
 *     hone_report_new(NULL, &r);
 *     hone_report_read(r, "restats", err, sizeof err);
 *     hone_report_sort(r, "cumulative");
 *     hone_report_print(r, stdout, NULL);
 *     hone_report_free(r);
 *
 * Symbols: libhone depends on libc and pthreads only, so it does not read debug information
 * itself. Names come from a resolver the caller supplies (hone_resolver); libhone-symbols
 * (hone/symbols.h, on elfutils' libdw) provides one. Without one, a function is named by its
 * address in its object ("0x1139" in "/path/prog"), which still merges runs of one binary.
 *
 * Building: add profiles (hone_report_add / hone_report_read; each is Stats.add), then query.
 * Adding a profile after a query is allowed; the figures are rebuilt on the next query.
 *
 * Plain builds' runs (hone_prof_info.times "plain", `hone record --plain`): such a profile adds
 * no thread and no call; it gives the times. Once a report holds one (and not opts.raw), every
 * node's self_s and total_s are the plain runs' time of its function, divided among the
 * function's nodes as the instrumented estimate divided it, with the plain runs' time in
 * libraries given to the nodes whose samples were in libraries (hone-report(1), "Truthful
 * times"); HONE_REPORT_NODE_UNSURE then marks a function the plain runs barely saw where the
 * instrumented run spent more. Functions are matched by (name, file, line), else by a name that
 * only one recorded function has.
 *
 * Ownership: a report owns what it returns (strings, arrays, structs); pointers stay valid until
 * the next hone_report_add/read/sort or hone_report_free. Profiles given to hone_report_add are
 * borrowed and must outlive the report; those read by hone_report_read are owned by it.
 * Thread-safety: a report may be queried from several threads at once only after a first query
 * in one thread has built its figures; adding, sorting and freeing need exclusive access.
 */
#ifndef HONE_REPORT_H
#define HONE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hone/error.h"
#include "hone/profdata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- symbol resolution --------------------------------------------------------------------- */

/* What an address resolved to. `file` "~" and `line` 0 mean unknown (pstats' convention). */
typedef struct hone_symbol {
  const char *name;
  const char *file;
  unsigned line; /* line where the function is defined, 0 if unknown */
} hone_symbol;

/* Resolves runtime address `addr` of a function recorded in the run whose mapping (the object
 * holding addr) is `m`, or NULL when addr is in no recorded mapping. Fills *out (the strings
 * need only stay valid until the next call; the report copies them) and returns 0, or returns
 * HONE_ENOENT to let the report name the function by its address, or another negative hone_err
 * to fail the hone_report_add. Called once per distinct address and file, from the thread
 * calling hone_report_add/read. */
typedef int (*hone_resolve_fn)(void *ctx, const hone_prof_mapping *m, uint64_t addr,
                               hone_symbol *out);

/* How a report is built. Zero-initialised (or NULL) means: no resolver, times corrected, one
 * section for everything, full paths. */
typedef struct hone_report_options {
  hone_resolve_fn resolve; /* NULL: functions named by their addresses */
  void *resolve_ctx;
  /* The sample addresses of a plain build's run (NULL: resolve), called with resolve_ctx: one
   * that names an address in inlined code by the inlined function gives its time to it
   * (hone_symbols_resolve_inline). */
  hone_resolve_fn resolve_sample;
  bool raw;        /* times as measured, the profiler's calibrated cost left in */
  bool strip_dirs; /* file names without their directories (pstats' strip_dirs) */
  bool per_thread; /* one section per thread of every file instead of one for everything */
} hone_report_options;

typedef struct hone_report hone_report;

/* A new empty report; opts may be NULL (defaults) and is copied. 0, HONE_ENOMEM. */
HONE_API HONE_NODISCARD int hone_report_new(const hone_report_options *opts, hone_report **out);
/* Frees the report (and the profiles it read); NULL is a no-op. */
HONE_API void hone_report_free(hone_report *r);

/* Adds a profile (borrowed: it must outlive the report). `label` (copied; NULL: "profile N")
 * names it in output, usually its path. Every file merged into p counts as its own file. A plain
 * build's run (see above) is added as times. Returns 0, HONE_EFORMAT (a malformed tree, a plain
 * run's thread with nodes), HONE_ENOMEM or the resolver's error; on failure the report is as it
 * was. */
HONE_API HONE_NODISCARD int hone_report_add(hone_report *r, const hone_profile *p,
                                            const char *label);
/* Reads the stats file at path (hone_profile_read) and adds it, labelled by its path; the report
 * owns the profile. On failure a one-line message naming the file is written to errbuf. */
HONE_API HONE_NODISCARD int hone_report_read(hone_report *r, const char *path, char *errbuf,
                                             size_t errlen);

/* ---- files, threads, functions ------------------------------------------------------------- */

/* One input file. After hone_report_add of a merged profile, info is that profile's (shared by
 * its files). */
typedef struct hone_report_file {
  const char *label;          /* as given to hone_report_add, or the path read */
  const hone_prof_info *info; /* the recording's facts (owned by its profile) */
  double cost_ns_per_call;    /* the calibrated cost per call removed (or, raw, left in) */
} hone_report_file;

typedef struct hone_report_thread {
  uint32_t file;    /* index of its file (hone_report_file) */
  uint64_t tid;     /* kernel thread id */
  const char *name; /* thread name ("" unknown) */
} hone_report_thread;

/* A function: what the nodes of every thread and file resolve to, merged by (name, file, line).
 * Ids are dense, from 0, in order of first appearance. */
typedef struct hone_report_func {
  const char *name;
  const char *file;   /* "~" unknown */
  unsigned line;      /* 0 unknown */
  const char *std;    /* pstats' func_std_string: "file:line(name)" */
  const char *object; /* path of the object (executable, shared library) it is in, "" unknown */
} hone_report_func;

HONE_API size_t hone_report_file_count(const hone_report *r);
HONE_API const hone_report_file *hone_report_file_info(const hone_report *r, size_t i);
HONE_API size_t hone_report_thread_count(const hone_report *r);
HONE_API const hone_report_thread *hone_report_thread_info(const hone_report *r, size_t i);
HONE_API size_t hone_report_func_count(const hone_report *r);
/* Function `id`, or NULL when out of range. */
HONE_API const hone_report_func *hone_report_func_info(const hone_report *r, uint32_t id);

/* ---- the calling-context tree (for viewers) ------------------------------------------------ */

#define HONE_REPORT_NO_PARENT UINT32_MAX
/* hone_report_node.flags: the time estimate of this node is not reliable. */
#define HONE_REPORT_NODE_UNSURE 1u

/* One node of the forest of every thread of every file: a function reached by one call path.
 * Nodes of a thread are contiguous, threads in the order added, and a parent's index is always
 * below its children's. */
typedef struct hone_report_node {
  uint32_t func;       /* function id */
  uint32_t parent;     /* index of the caller's node, or HONE_REPORT_NO_PARENT */
  uint32_t thread;     /* thread index (hone_report_thread_info) */
  uint32_t flags;      /* HONE_REPORT_NODE_UNSURE */
  uint64_t calls;      /* calls along this path */
  uint64_t incl_ticks; /* as measured, in the file's clock ticks, the profiler's cost included */
  uint64_t excl_ticks;
  double self_s;  /* estimated exclusive seconds (as measured with opts.raw) */
  double total_s; /* estimated inclusive seconds */
} hone_report_node;

/* The whole forest: *count nodes (NULL with 0 when empty). */
HONE_API const hone_report_node *hone_report_nodes(const hone_report *r, size_t *count);

/* ---- pstats' figures ----------------------------------------------------------------------- */

/* A function's or an edge's figures as pstats holds them. */
typedef struct hone_report_stat {
  uint64_t ncalls; /* calls */
  uint64_t pcalls; /* primitive calls (not already active: recursion excluded) */
  double tottime;  /* own seconds, children excluded */
  double cumtime;  /* seconds with children, recursive frames counted once */
} hone_report_stat;

typedef struct hone_report_edge {
  uint32_t caller, callee; /* function ids */
  hone_report_stat stat;   /* the callee's figures for calls from this caller */
} hone_report_edge;

/* A section: everything merged (the only one unless opts.per_thread) or one thread. */
typedef struct hone_report_section {
  uint32_t thread;      /* thread index, or HONE_REPORT_NO_PARENT for everything merged */
  uint64_t total_calls; /* pstats' "N function calls" */
  uint64_t prim_calls;  /* "(M primitive calls)" */
  double total_time;    /* "in S seconds": the sum of tottimes */
  size_t nfuncs;        /* functions with calls in this section */
} hone_report_section;

/* Queries build the figures on first use; they return NULL / 0 only on ENOMEM or a bad index
 * (the _err variants are for callers who need to tell). */
HONE_API size_t hone_report_section_count(const hone_report *r);
HONE_API const hone_report_section *hone_report_section_info(const hone_report *r, size_t s);
/* The figures of function `func` in section s, or NULL (no such section or function). */
HONE_API const hone_report_stat *hone_report_func_stat(const hone_report *r, size_t s,
                                                       uint32_t func);
/* The functions with calls in section s, in the current sort order: *count ids. */
HONE_API const uint32_t *hone_report_rows(const hone_report *r, size_t s, size_t *count);
/* Every edge of section s, unordered. */
HONE_API const hone_report_edge *hone_report_edges(const hone_report *r, size_t s, size_t *count);
/* The edge caller->callee in section s, or NULL. */
HONE_API const hone_report_edge *hone_report_find_edge(const hone_report *r, size_t s,
                                                       uint32_t caller, uint32_t callee);
/* The callers (callers = true) or callees of `func` in section s, sorted as pstats sorts them
 * (by file, line, name of the other function): a malloc'd array of edge pointers the caller
 * frees with free(); *count entries. 0 or HONE_ENOMEM / HONE_EINVAL. */
HONE_API HONE_NODISCARD int hone_report_func_edges(const hone_report *r, size_t s, uint32_t func,
                                                   bool callers, const hone_report_edge ***out,
                                                   size_t *count);
/* Builds the figures now (otherwise done by the first query): 0, HONE_ENOMEM, HONE_EFORMAT. */
HONE_API HONE_NODISCARD int hone_report_build(hone_report *r);

/* Whether the estimated times are unreliable because calls are too dense: true when every
 * thread's times came from samples and the program's sampled time per recorded call, over every
 * section, is below 10 ns. Each instrumented call also runs the calls to the hooks inside the
 * program's own functions, and samples count that time as the program's (hone-report(1),
 * "Truthful times"). *ns_per_call (may be NULL) gets that figure, 0 when it does not apply
 * (--raw times, times from a plain build's run, a thread not sampled, no calls, or a report
 * that failed to build). */
HONE_API bool hone_report_times_unreliable(const hone_report *r, double *ns_per_call);

/* How the times were obtained, as `hone report --json` says in "estimate": "raw" (opts.raw),
 * "plain" (a plain build's run gave them), "sampled", "corrected" or "sampled and corrected".
 * A static string; "corrected" for NULL. */
HONE_API const char *hone_report_estimate(const hone_report *r);

/* ---- sorting and restricting --------------------------------------------------------------- */

/* Orders the rows by pstats' sort keys, given as a comma-separated list ("time,calls"); each may
 * be abbreviated when unambiguous, as pstats allows: calls, cumulative, cumtime, file, filename,
 * line, module, name, ncalls, nfl, pcalls, stdname, time, tottime. At most 32 keys; ties keep the
 * order of first appearance. Until sorted, rows are in order of first appearance and printing
 * says "Random listing order was used", as pstats does. 0, or HONE_EINVAL for an unknown or
 * ambiguous key (nothing changed). */
HONE_API HONE_NODISCARD int hone_report_sort(hone_report *r, const char *keys);
/* The canonical name of a sort key or unambiguous prefix ("cum" -> "cumulative"), or NULL. */
HONE_API const char *hone_report_sort_key(const char *word);

typedef enum hone_restriction_kind {
  HONE_RESTRICT_REGEX = 0, /* rows whose "file:line(name)" matches a POSIX extended regex */
  HONE_RESTRICT_COUNT,     /* the first N rows */
  HONE_RESTRICT_FRACTION,  /* that fraction of the rows (0 <= f < 1; otherwise no effect) */
} hone_restriction_kind;

/* One of pstats' print_stats(*amount) arguments; applied in the order given. */
typedef struct hone_restriction {
  hone_restriction_kind kind;
  const char *regex; /* HONE_RESTRICT_REGEX */
  uint64_t count;    /* HONE_RESTRICT_COUNT */
  double fraction;   /* HONE_RESTRICT_FRACTION */
} hone_restriction;

/* Checks a regular expression: 0, or HONE_EINVAL with regerror's message in errbuf. */
HONE_API HONE_NODISCARD int hone_report_check_regex(const char *regex, char *errbuf, size_t errlen);

/* The rows of section s after the restrictions: a malloc'd array of ids (free() it), *count of
 * them. 0, HONE_EINVAL (bad regex or section), HONE_ENOMEM. */
HONE_API HONE_NODISCARD int hone_report_select(const hone_report *r, size_t s,
                                               const hone_restriction *rs, size_t nrs,
                                               uint32_t **ids, size_t *count);

/* ---- printing, JSON, CSV ------------------------------------------------------------------- */

/* What hone_report_print / _write_json / _write_csv show. NULL or zero: every section's
 * statistics, unrestricted. With callers or callees set, those lists instead of the statistics
 * (pstats' print_callers / print_callees), for the functions matching that regex and then the
 * restrictions. */
typedef struct hone_report_query {
  const hone_restriction *restrictions;
  size_t nrestrictions;
  const char *callers; /* regex, or NULL */
  const char *callees; /* regex, or NULL */
} hone_report_query;

/* pstats' text: per file its start time and label, the cost line, then per section (a
 * "Thread ..." title when per-thread) print_stats or print_callers/print_callees.
 * 0, HONE_EINVAL (a bad regex), HONE_ENOMEM, HONE_EIO (writing failed). */
HONE_API HONE_NODISCARD int hone_report_print(hone_report *r, FILE *out,
                                              const hone_report_query *q);
/* The parts, for one section: pstats' print_stats, print_callers, print_callees. */
HONE_API HONE_NODISCARD int hone_report_print_stats(const hone_report *r, size_t s, FILE *out,
                                                    const hone_restriction *rs, size_t nrs);
HONE_API HONE_NODISCARD int hone_report_print_callers(const hone_report *r, size_t s, FILE *out,
                                                      const hone_restriction *rs, size_t nrs);
HONE_API HONE_NODISCARD int hone_report_print_callees(const hone_report *r, size_t s, FILE *out,
                                                      const hone_restriction *rs, size_t nrs);
/* The JSON document of docs/report-json.md (version 1) and the CSV rows of hone-report(1). */
HONE_API HONE_NODISCARD int hone_report_write_json(hone_report *r, FILE *out,
                                                   const hone_report_query *q);
HONE_API HONE_NODISCARD int hone_report_write_csv(hone_report *r, FILE *out,
                                                  const hone_report_query *q);

/* ---- comparing two reports ---------------------------------------------------------------- */

/* A per-function comparison of two reports of one program (before / after a change): functions
 * matched by (file, name) — the line may move between builds — over their first sections.
 * Created from two reports that must stay alive (and unchanged) while it is used. */
typedef struct hone_report_diff hone_report_diff;

typedef struct hone_report_diff_row {
  const hone_report_func *func; /* from b; from a when the function is only in a */
  const hone_report_stat *a;    /* NULL: not called in a */
  const hone_report_stat *b;    /* NULL: not called in b */
  int64_t d_ncalls, d_pcalls;   /* b - a (a missing side counts as zero) */
  double d_tottime, d_cumtime;
} hone_report_diff_row;

/* Compares a (before) with b (after). Rows are sorted by the absolute change of `key`'s figure,
 * largest first: "tottime" (the default when NULL; "time" too), "cumulative" ("cumtime"),
 * "calls" ("ncalls"), "pcalls"; ties by name. Returns 0; HONE_EINVAL for another key, or when
 * the reports record different programs (the first files' argv[0] differ by name), with a
 * message in errbuf; HONE_ENOMEM. */
HONE_API HONE_NODISCARD int hone_report_diff_new(hone_report *a, hone_report *b, const char *key,
                                                 hone_report_diff **out, char *errbuf,
                                                 size_t errlen);
/* Frees it; NULL is a no-op. */
HONE_API void hone_report_diff_free(hone_report_diff *d);
HONE_API size_t hone_report_diff_count(const hone_report_diff *d);
HONE_API const hone_report_diff_row *hone_report_diff_row_at(const hone_report_diff *d, size_t i);
/* The comparison as text (totals, then one row per function, restricted as print_stats is) or
 * as JSON ({"version": 1, "kind": "diff", ...}, docs/report-json.md). */
HONE_API HONE_NODISCARD int hone_report_diff_print(const hone_report_diff *d, FILE *out,
                                                   const hone_restriction *rs, size_t nrs);
HONE_API HONE_NODISCARD int hone_report_diff_write_json(const hone_report_diff *d, FILE *out,
                                                        const hone_restriction *rs, size_t nrs);

#ifdef __cplusplus
}
#endif
#endif /* HONE_REPORT_H */
