/* print.c: the report as text (pstats' print_stats / print_callers / print_callees layout), as
 * the JSON document of docs/report-json.md and as CSV rows (see hone/report.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonw.h"
#include "report_internal.h"

#define JSON_VERSION 1

/* ---- text ---------------------------------------------------------------------------------- */

static void f8(FILE *out, double x) {
  fprintf(out, "%8.3f", x);
}

/* A time the estimate is unsure of is printed with a question mark instead of its last blank. */
static void f8u(FILE *out, double x, bool unsure) {
  if (unsure)
    fprintf(out, "%7.3f?", x);
  else
    f8(out, x);
}

static void print_stat_line(FILE *out, const hone_report_stat *st, const hone_report_func *f,
                            bool unsure) {
  char c[48];
  if (st->ncalls != st->pcalls)
    snprintf(c, sizeof c, "%" PRIu64 "/%" PRIu64, st->ncalls, st->pcalls);
  else
    snprintf(c, sizeof c, "%" PRIu64, st->ncalls);
  fprintf(out, "%9s ", c);
  f8u(out, st->tottime, unsure);
  fputc(' ', out);
  if (st->ncalls == 0)
    fprintf(out, "%8s", "");
  else
    f8u(out, st->tottime / (double)st->ncalls, unsure);
  fputc(' ', out);
  f8(out, st->cumtime);
  fputc(' ', out);
  if (st->pcalls == 0)
    fprintf(out, "%8s", "");
  else
    f8(out, st->cumtime / (double)st->pcalls);
  fprintf(out, " %s\n", f->std);
}

static size_t name_width(const hone_report *r, const uint32_t *list, size_t n) {
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (strlen(r->funcs[list[i]].std) > w) w = strlen(r->funcs[list[i]].std);
  return w;
}

static int out_status(FILE *out) {
  return ferror(out) ? HONE_EIO : 0;
}

/* pstats' print_callers / print_callees. */
static int print_calls(const hone_report *r, size_t s, FILE *out, const hone_restriction *rs,
                       size_t nrs, bool callers) {
  uint32_t *list;
  size_t n;
  char *msg;
  int rc = hone__report_list(r, s, rs, nrs, &list, &n, &msg);
  if (rc) return rc;
  const hone__section *sec = &r->secs[s];
  if (n) {
    fprintf(out, "%s\n", msg);
    size_t width = 2 + (n < sec->info.nfuncs ? name_width(r, list, n)
                                             : name_width(r, sec->rows, sec->info.nfuncs));
    fprintf(out, "%-*s%s\n", (int)width, "Function ", callers ? "was called by..." : "called...");
    fprintf(out, "%*s    ncalls  tottime  cumtime\n", (int)width, "");
    for (size_t i = 0; i < n && !rc; i++) {
      fprintf(out, "%-*s%s ", (int)width, r->funcs[list[i]].std, callers ? "<-" : "->");
      size_t ne;
      const hone_report_edge **e;
      if ((rc = hone_report_func_edges(r, s, list[i], callers, &e, &ne))) break;
      if (!ne) fputc('\n', out);
      for (size_t j = 0; j < ne; j++) {
        const hone_report_stat *st = &e[j]->stat;
        char c[48];
        if (st->ncalls != st->pcalls)
          snprintf(c, sizeof c, "%" PRIu64 "/%" PRIu64, st->ncalls, st->pcalls);
        else
          snprintf(c, sizeof c, "%" PRIu64, st->ncalls);
        if (j) fprintf(out, "%*s", (int)width + 1, "");
        fprintf(out, "%*s ", j ? 9 : 7, c);
        f8(out, st->tottime);
        fputc(' ', out);
        f8(out, st->cumtime);
        fprintf(out, "  %s\n", r->funcs[callers ? e[j]->caller : e[j]->callee].std);
      }
      free(e);
    }
    fprintf(out, "\n\n");
  }
  free(list);
  free(msg);
  return rc ? rc : out_status(out);
}

int hone_report_print_callers(const hone_report *r, size_t s, FILE *out, const hone_restriction *rs,
                              size_t nrs) {
  if (!r || !out) return HONE_EINVAL;
  return print_calls(r, s, out, rs, nrs, true);
}

int hone_report_print_callees(const hone_report *r, size_t s, FILE *out, const hone_restriction *rs,
                              size_t nrs) {
  if (!r || !out) return HONE_EINVAL;
  return print_calls(r, s, out, rs, nrs, false);
}

/* Per function of section s, whether its time is unsure: the nodes estimate.c flagged hold at
 * least half of its measured own time. NULL on ENOMEM (then nothing is marked). */
static uint8_t *unsure_funcs(const hone_report *r, size_t s) {
  double *all = calloc(r->nfuncs ? r->nfuncs : 1, sizeof *all);
  double *bad = calloc(r->nfuncs ? r->nfuncs : 1, sizeof *bad);
  uint8_t *u = calloc(r->nfuncs ? r->nfuncs : 1, 1);
  uint32_t want = r->secs[s].info.thread;
  if (all && bad && u)
    for (size_t i = 0; i < r->nnodes; i++) {
      const hone_report_node *nd = &r->nodes[i];
      if (want != HONE_REPORT_NO_PARENT && nd->thread != want) continue;
      double tps = r->files[r->threads[nd->thread].file].info->ticks_per_second;
      double t = (double)nd->excl_ticks / (tps > 0 ? tps : 1);
      all[nd->func] += t;
      if (nd->flags & HONE_REPORT_NODE_UNSURE) bad[nd->func] += t;
    }
  if (all && bad && u)
    for (size_t f = 0; f < r->nfuncs; f++) u[f] = bad[f] > 0 && bad[f] >= 0.5 * all[f];
  free(all);
  free(bad);
  if (!all || !bad) {
    free(u);
    return NULL;
  }
  return u;
}

int hone_report_print_stats(const hone_report *r, size_t s, FILE *out, const hone_restriction *rs,
                            size_t nrs) {
  if (!r || !out) return HONE_EINVAL;
  uint32_t *list;
  size_t n;
  char *msg;
  int rc = hone__report_list(r, s, rs, nrs, &list, &n, &msg);
  if (rc) return rc;
  const hone_report_section *si = &r->secs[s].info;
  fprintf(out, "         %" PRIu64 " function calls", si->total_calls);
  if (si->total_calls != si->prim_calls)
    fprintf(out, " (%" PRIu64 " primitive calls)", si->prim_calls);
  fprintf(out, " in %.3f seconds\n\n", si->total_time);
  if (n) {
    fprintf(out, "%s\n", msg);
    fprintf(out, "   ncalls  tottime  percall  cumtime  percall filename:lineno(function)\n");
    uint8_t *unsure = r->opt.raw ? NULL : unsure_funcs(r, s);
    for (size_t i = 0; i < n; i++)
      print_stat_line(out, &r->secs[s].pa.funcs[list[i]], &r->funcs[list[i]],
                      unsure && unsure[list[i]]);
    free(unsure);
    fprintf(out, "\n\n");
  }
  free(list);
  free(msg);
  return out_status(out);
}

static void fmt_start(const hone_prof_info *info, char *buf, size_t len) {
  time_t t = (time_t)(info->start_unix_ns / 1000000000);
  struct tm tm;
  if (!localtime_r(&t, &tm) || !strftime(buf, len, "%a %b %e %H:%M:%S %Y", &tm))
    snprintf(buf, len, "?");
}

/* A duration from nanoseconds with three or four significant digits ("12.3 ns", "4.56 us"). */
static void fmt_ns(double ns, char *buf, size_t len) {
  static const struct {
    const char *unit;
    double scale;
  } units[] = {{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}};
  size_t i = 0;
  while (i + 1 < sizeof units / sizeof units[0] && fabs(ns) < units[i].scale) i++;
  double v = ns / units[i].scale;
  int decimals = fabs(v) >= 100 ? 1 : fabs(v) >= 10 ? 2 : 3;
  snprintf(buf, len, "%.*f %s", decimals, v, units[i].unit);
}

static bool is_plain(const hone_prof_info *in) {
  return in->times && strcmp(in->times, "plain") == 0;
}

/* How the times were obtained when a plain build's run gave them (plain.h). */
static void print_plain(const hone_report *r, FILE *out) {
  const hone__plain_summary *ps = &r->plain;
  char p[32];
  fmt_ns(ps->sample_period_s * 1e9, p, sizeof p);
  fprintf(out,
          "   Times from the plain build's run: %" PRIu64 " samples of its CPU time, one per %s"
          " (perf's\n   cpu-clock)",
          ps->samples, p);
  if (ps->sample_scale_max > 0 && ps->sample_scale_min < 1)
    fprintf(out, ", each counting %.3f of its period (the rest was taking it)",
            ps->sample_scale_min);
  fprintf(out,
          ". Counts, and how a\n   function's time divides among its call paths, from the"
          " instrumented run. A time of k\n   samples is uncertain by about 2*sqrt(k)"
          " samples (95 %%); ? marks a function the plain run\n   saw fewer than %d times"
          " where the instrumented run spent more (--raw: the instrumented\n   run as"
          " measured).\n",
          HONE__ESTIMATE_MIN_SAMPLES);
  if (ps->samples_elsewhere_total && ps->samples) {
    char e[32];
    fmt_ns(ps->elsewhere_total_s * 1e9, e, sizeof e);
    fprintf(out,
            "   %" PRIu64 " sample%s (%.1f %%, %s) in code the instrumented run did not record"
            " (libraries):\n   given to the functions that called such code there.\n",
            ps->samples_elsewhere_total, ps->samples_elsewhere_total == 1 ? "" : "s",
            100.0 * (double)ps->samples_elsewhere_total / (double)ps->samples, e);
  }
  if (ps->lost_s > 0) {
    char l[32];
    fmt_ns(ps->lost_s * 1e9, l, sizeof l);
    fprintf(out,
            "   %s of the plain run was in functions the instrumented run never called:"
            " left out.\n",
            l);
  }
}

static void print_preamble(const hone_report *r, FILE *out) {
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < r->nfiles; i++) {
    char when[64];
    fmt_start(r->files[i].info, when, sizeof when);
    fprintf(out, "%s    %s\n", when, r->files[i].label);
    if (is_plain(r->files[i].info)) continue;
    double c = r->files[i].cost_ns_per_call;
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  char a[32], b[32], range[80];
  fmt_ns(lo, a, sizeof a);
  fmt_ns(hi, b, sizeof b);
  if (hi - lo < 0.05)
    snprintf(range, sizeof range, "%s", a);
  else
    snprintf(range, sizeof range, "%s to %s", a, b);
  if (lo > hi) lo = hi = 0; /* plain runs only */
  const hone__estimate_summary *t = &r->times;
  const hone__plain_summary *ps = &r->plain;
  if (ps->applied) {
    print_plain(r, out);
  } else if (ps->files && !r->nnodes) {
    fprintf(out, "   Only plain builds' runs: they give times but no calls. Add the instrumented"
                 " run's file\n   (hone record --plain writes both).\n");
  } else if (!r->opt.raw && t->sampled_threads) {
    char p[32];
    fmt_ns(t->sample_period_s * 1e9, p, sizeof p);
    fprintf(out,
            "   Times sampled: %" PRIu64 " samples of the CPU time, one per %s (perf's cpu-clock),"
            " %" PRIu64 " more in the\n   profiler's hooks left out; counts exact. A time of k"
            " samples is uncertain by about 2*sqrt(k)\n   samples (95 %%); ? marks a time of fewer"
            " than %d, mostly the profiler's cost (--raw: as measured).\n",
            t->samples, p, t->samples_own, HONE__ESTIMATE_MIN_SAMPLES);
    if (t->sample_scale_max > 0 && t->sample_scale_min < 1) {
      /* Where the scale came from: the runtime's measurement, unless a file's was given. */
      bool given = false;
      for (size_t i = 0; i < r->nfiles; i++) {
        const char *how = r->files[i].info->sample_scale_how;
        given |= how && strcmp(how, "given") == 0;
      }
      const char *from =
          given ? "given by HONE_PROF_SAMPLE_SCALE" : "measured when the run started";
      char c[32];
      fmt_ns((1 - t->sample_scale_max) * t->sample_period_s * 1e9, c, sizeof c);
      if (t->sample_scale_max - t->sample_scale_min < 0.005)
        fprintf(out,
                "   Each sample counts %.3f of its period: taking it cost the program %s of CPU"
                " time\n   (%s).\n",
                t->sample_scale_min, c, from);
      else
        fprintf(out, "   Each sample counts %.3f to %.3f of its period (%s, per file).\n",
                t->sample_scale_min, t->sample_scale_max, from);
    }
    if (t->untimed_threads)
      fprintf(out, "   The hooks of sampled threads read no clock: --raw shows their samples as"
                   " taken.\n");
    double per_call;
    if (hone_report_times_unreliable(r, &per_call)) {
      char pc[32];
      fmt_ns(per_call, pc, sizeof pc);
      fprintf(
          out,
          "   ! Unreliable: the program's sampled time is %s per call. Each call also runs the\n"
          "   instrumentation's calls to the hooks inside the program's functions, where"
          " samples count\n   them as the program's (a few ns per call): below %.0f ns per"
          " call, the times and the total\n   can be far from the uninstrumented run's, most"
          " for the functions called most often.\n   `hone record --plain PLAIN` runs the plain"
          " build too and gives its times (hone-report(1):\n   Truthful times).\n",
          pc, HONE__ESTIMATE_DENSE_NS);
    }
    if (t->corrected_threads)
      fprintf(out,
              "   %zu thread(s) were not sampled: their times are corrected by the calibrated cost,"
              " %s per call.\n",
              t->corrected_threads, range);
  } else if (r->opt.raw && t->untimed_threads)
    fprintf(out,
            "   Times as taken (--raw): the hooks of the %zu sampled thread(s) read no clock, so"
            " their times are\n   the samples, each on the function on top of the shadow stack"
            " when it was taken (none\n   moved to a callee), without those in the profiler's"
            " hooks.\n",
            t->untimed_threads);
  else if (hi <= 0)
    fprintf(out, "   Times as measured (no calibrated profiler cost was recorded).\n");
  else if (r->opt.raw)
    fprintf(out,
            "   Times as measured (--raw): they include the profiler's own cost, %s per call.\n",
            range);
  else
    fprintf(out,
            "   Times exclude the profiler's own cost, calibrated at %s per call (--raw: as "
            "measured).\n   Not sampled (perf_event_open refused, or an older file): ? marks a"
            " time that was mostly that cost.\n",
            range);
  if (r->opt.raw && ps->files) fprintf(out, "   --raw: the plain build's run is not used.\n");
  fprintf(out, "\n");
}

static void print_section_title(const hone_report *r, const hone__section *s, FILE *out) {
  if (s->info.thread == HONE_REPORT_NO_PARENT) return;
  const hone_report_thread *th = &r->threads[s->info.thread];
  fprintf(out, "   Thread %" PRIu64 " \"%s\" of %s\n\n", th->tid, th->name,
          r->files[th->file].label);
}

/* The restrictions of a query, with the callers/callees regex (when `sel`) first. */
static int query_restrictions(const hone_report_query *q, const char *sel, hone_restriction **out,
                              size_t *n) {
  size_t nq = q ? q->nrestrictions : 0;
  if (nq && !q->restrictions) return HONE_EINVAL;
  hone_restriction *rs = malloc((nq + 1) * sizeof *rs);
  if (!rs) return HONE_ENOMEM;
  size_t k = 0;
  if (sel) rs[k++] = (hone_restriction){.kind = HONE_RESTRICT_REGEX, .regex = sel};
  for (size_t i = 0; i < nq; i++) rs[k++] = q->restrictions[i];
  *out = rs;
  *n = k;
  return 0;
}

/* Checks every regex of the query before anything is written. */
static int check_query(const hone_report_query *q) {
  if (!q) return 0;
  if (q->nrestrictions && !q->restrictions) return HONE_EINVAL;
  for (size_t i = 0; i < q->nrestrictions; i++)
    if (q->restrictions[i].kind == HONE_RESTRICT_REGEX &&
        hone_report_check_regex(q->restrictions[i].regex, NULL, 0))
      return HONE_EINVAL;
  if (q->callers && hone_report_check_regex(q->callers, NULL, 0)) return HONE_EINVAL;
  if (q->callees && hone_report_check_regex(q->callees, NULL, 0)) return HONE_EINVAL;
  return 0;
}

int hone_report_print(hone_report *r, FILE *out, const hone_report_query *q) {
  if (!r || !out) return HONE_EINVAL;
  int rc = check_query(q);
  if (rc || (rc = hone_report_build(r))) return rc;
  const char *callers = q ? q->callers : NULL, *callees = q ? q->callees : NULL;
  print_preamble(r, out);
  for (size_t s = 0; s < r->nsecs && !rc; s++) {
    print_section_title(r, &r->secs[s], out);
    hone_restriction *rs;
    size_t n;
    if (!callers && !callees) {
      if (!(rc = query_restrictions(q, NULL, &rs, &n))) {
        rc = hone_report_print_stats(r, s, out, rs, n);
        free(rs);
      }
    }
    if (!rc && callers && !(rc = query_restrictions(q, callers, &rs, &n))) {
      rc = hone_report_print_callers(r, s, out, rs, n);
      free(rs);
    }
    if (!rc && callees && !(rc = query_restrictions(q, callees, &rs, &n))) {
      rc = hone_report_print_callees(r, s, out, rs, n);
      free(rs);
    }
  }
  return rc ? rc : out_status(out);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void stat_json(hone__jw *w, const hone_report_stat *st) {
  hone__jw_key(w, "ncalls");
  hone__jw_u64(w, st->ncalls);
  hone__jw_key(w, "primitive_calls");
  hone__jw_u64(w, st->pcalls);
  hone__jw_key(w, "tottime");
  hone__jw_num(w, st->tottime);
  hone__jw_key(w, "cumtime");
  hone__jw_num(w, st->cumtime);
}

static void func_json(hone__jw *w, const hone_report_func *f) {
  hone__jw_key(w, "function");
  hone__jw_str(w, f->name);
  hone__jw_key(w, "filename");
  hone__jw_str(w, f->file);
  hone__jw_key(w, "line");
  hone__jw_u64(w, f->line);
  hone__jw_key(w, "name");
  hone__jw_str(w, f->std);
}

/* One list of a section: "rows" (k 2), "callers" (k 0) or "callees" (k 1). */
static int list_json(hone__jw *w, const hone_report *r, size_t s, const hone_report_query *q,
                     int k) {
  hone_restriction *rs;
  size_t nrs;
  int rc = query_restrictions(q, k == 0 ? q->callers : k == 1 ? q->callees : NULL, &rs, &nrs);
  if (rc) return rc;
  uint32_t *list;
  size_t n;
  rc = hone__report_list(r, s, rs, nrs, &list, &n, NULL);
  free(rs);
  if (rc) return rc;
  hone__jw_key(w, k == 0 ? "callers" : k == 1 ? "callees" : "rows");
  hone__jw_array(w);
  for (size_t i = 0; i < n && !rc; i++) {
    const hone_report_stat *st = &r->secs[s].pa.funcs[list[i]];
    hone__jw_object(w);
    stat_json(w, st);
    hone__jw_key(w, "tottime_percall");
    if (st->ncalls)
      hone__jw_num(w, st->tottime / (double)st->ncalls);
    else
      hone__jw_null(w);
    hone__jw_key(w, "cumtime_percall");
    if (st->pcalls)
      hone__jw_num(w, st->cumtime / (double)st->pcalls);
    else
      hone__jw_null(w);
    func_json(w, &r->funcs[list[i]]);
    if (k < 2) {
      size_t ne;
      const hone_report_edge **e;
      if ((rc = hone_report_func_edges(r, s, list[i], k == 0, &e, &ne))) break;
      hone__jw_key(w, k == 0 ? "callers" : "callees");
      hone__jw_array(w);
      for (size_t j = 0; j < ne; j++) {
        hone__jw_object(w);
        stat_json(w, &e[j]->stat);
        func_json(w, &r->funcs[k == 0 ? e[j]->caller : e[j]->callee]);
        hone__jw_end(w);
      }
      hone__jw_end(w);
      free(e);
    }
    hone__jw_end(w);
  }
  hone__jw_end(w);
  free(list);
  return rc;
}

int hone_report_write_json(hone_report *r, FILE *out, const hone_report_query *q) {
  if (!r || !out) return HONE_EINVAL;
  int rc = check_query(q);
  if (rc || (rc = hone_report_build(r))) return rc;
  hone_report_query none = {0};
  if (!q) q = &none;
  hone__jw w;
  hone__jw_init(&w, out, true);
  hone__jw_object(&w);
  hone__jw_key(&w, "version");
  hone__jw_u64(&w, JSON_VERSION);
  hone__jw_key(&w, "corrected");
  hone__jw_bool(&w, !r->opt.raw);
  hone__jw_key(&w, "estimate");
  hone__jw_str(&w, hone_report_estimate(r));
  hone__jw_key(&w, "hooks_timed");
  hone__jw_bool(&w, r->times.untimed_threads == 0);
  hone__jw_key(&w, "samples");
  hone__jw_u64(&w, r->times.samples);
  hone__jw_key(&w, "samples_profiler");
  hone__jw_u64(&w, r->times.samples_own);
  double per_call;
  bool over = hone_report_times_unreliable(r, &per_call);
  hone__jw_key(&w, "program_ns_per_call");
  hone__jw_num(&w, per_call);
  hone__jw_key(&w, "times_unreliable");
  hone__jw_bool(&w, over);
  hone__jw_key(&w, "plain");
  if (r->plain.applied) {
    const hone__plain_summary *ps = &r->plain;
    hone__jw_object(&w);
    hone__jw_key(&w, "files");
    hone__jw_u64(&w, ps->files);
    hone__jw_key(&w, "samples");
    hone__jw_u64(&w, ps->samples);
    hone__jw_key(&w, "samples_elsewhere");
    hone__jw_u64(&w, ps->samples_elsewhere_total);
    hone__jw_key(&w, "elsewhere_time");
    hone__jw_num(&w, ps->elsewhere_total_s);
    hone__jw_key(&w, "samples_matched_by_name");
    hone__jw_u64(&w, ps->samples_by_name);
    hone__jw_key(&w, "sample_period");
    hone__jw_num(&w, ps->sample_period_s);
    hone__jw_key(&w, "sample_scale");
    hone__jw_num(&w, ps->sample_scale_min > 0 ? ps->sample_scale_min : 1);
    hone__jw_end(&w);
  } else {
    hone__jw_null(&w);
  }
  hone__jw_key(&w, "files");
  hone__jw_array(&w);
  for (size_t i = 0; i < r->nfiles; i++) {
    const hone_prof_info *in = r->files[i].info;
    hone__jw_object(&w);
    hone__jw_key(&w, "path");
    hone__jw_str(&w, r->files[i].label);
    hone__jw_key(&w, "format_version");
    hone__jw_u64(&w, in->version);
    hone__jw_key(&w, "pid");
    hone__jw_u64(&w, in->pid);
    hone__jw_key(&w, "argv");
    hone__jw_array(&w);
    for (size_t a = 0; a < in->argc; a++) hone__jw_str(&w, in->argv[a] ? in->argv[a] : "");
    hone__jw_end(&w);
    hone__jw_key(&w, "clock");
    hone__jw_str(&w, in->clock ? in->clock : "");
    hone__jw_key(&w, "machine");
    hone__jw_str(&w, in->machine ? in->machine : "");
    hone__jw_key(&w, "start_unix");
    hone__jw_num(&w, (double)in->start_unix_ns / 1e9);
    hone__jw_key(&w, "total_time");
    hone__jw_num(&w, in->ticks_per_second > 0 ? (double)in->total_ticks / in->ticks_per_second : 0);
    hone__jw_key(&w, "overhead_ns_per_call");
    hone__jw_num(&w, r->files[i].cost_ns_per_call);
    hone__jw_key(&w, "clock_why");
    hone__jw_str(&w, in->clock_why ? in->clock_why : "unknown");
    hone__jw_key(&w, "times");
    hone__jw_str(&w, in->times ? in->times : "instrumented");
    hone__jw_key(&w, "sample_period");
    hone__jw_num(&w, in->sample_period_s);
    hone__jw_key(&w, "sample_scale");
    hone__jw_num(&w, in->sample_scale > 0 ? in->sample_scale : 1);
    hone__jw_key(&w, "sample_scale_how");
    hone__jw_str(&w, in->sample_scale_how ? in->sample_scale_how : "none");
    hone__jw_end(&w);
  }
  hone__jw_end(&w);
  hone__jw_key(&w, "sort");
  hone__jw_array(&w);
  for (size_t k = 0; k < r->nkeys; k++) hone__jw_str(&w, r->keys[k]->name);
  hone__jw_end(&w);
  hone__jw_key(&w, "reports");
  hone__jw_array(&w);
  for (size_t s = 0; s < r->nsecs && !rc; s++) {
    const hone__section *sec = &r->secs[s];
    hone__jw_object(&w);
    hone__jw_key(&w, "thread");
    if (sec->info.thread != HONE_REPORT_NO_PARENT) {
      const hone_report_thread *th = &r->threads[sec->info.thread];
      hone__jw_object(&w);
      hone__jw_key(&w, "tid");
      hone__jw_u64(&w, th->tid);
      hone__jw_key(&w, "name");
      hone__jw_str(&w, th->name);
      hone__jw_key(&w, "file");
      hone__jw_str(&w, r->files[th->file].label);
      hone__jw_end(&w);
    } else {
      hone__jw_null(&w);
    }
    hone__jw_key(&w, "total_calls");
    hone__jw_u64(&w, sec->info.total_calls);
    hone__jw_key(&w, "primitive_calls");
    hone__jw_u64(&w, sec->info.prim_calls);
    hone__jw_key(&w, "total_time");
    hone__jw_num(&w, sec->info.total_time);
    hone__jw_key(&w, "functions");
    hone__jw_u64(&w, sec->info.nfuncs);
    if (!q->callers && !q->callees) rc = list_json(&w, r, s, q, 2);
    if (!rc && q->callers) rc = list_json(&w, r, s, q, 0);
    if (!rc && q->callees) rc = list_json(&w, r, s, q, 1);
    hone__jw_end(&w);
  }
  hone__jw_end(&w);
  hone__jw_end(&w);
  return rc ? rc : out_status(out);
}

/* ---- CSV ----------------------------------------------------------------------------------- */

/* One RFC 4180 cell: quoted when it holds a comma, a quote or a line break. */
static void csv_cell(FILE *out, const char *s, bool last) {
  if (strpbrk(s, ",\"\r\n")) {
    fputc('"', out);
    for (; *s; s++) {
      if (*s == '"') fputc('"', out);
      fputc(*s, out);
    }
    fputc('"', out);
  } else {
    fputs(s, out);
  }
  fputc(last ? '\n' : ',', out);
}

static void csv_row(FILE *out, const char *const *cells, size_t n) {
  for (size_t i = 0; i < n; i++) csv_cell(out, cells[i], i + 1 == n);
}

int hone_report_write_csv(hone_report *r, FILE *out, const hone_report_query *q) {
  if (!r || !out) return HONE_EINVAL;
  int rc = check_query(q);
  if (rc || (rc = hone_report_build(r))) return rc;
  hone_report_query none = {0};
  if (!q) q = &none;
  bool calls_mode = q->callers || q->callees;
  static const char *const stat_cols[] = {
      "thread",  "ncalls",          "primitive_calls", "tottime", "tottime_percall",
      "cumtime", "cumtime_percall", "filename",        "line",    "function"};
  static const char *const edge_cols[] = {
      "thread",  "relation", "name",           "ncalls",     "primitive_calls",
      "tottime", "cumtime",  "other_filename", "other_line", "other_function"};
  csv_row(out, calls_mode ? edge_cols : stat_cols, 10);
  for (size_t s = 0; s < r->nsecs && !rc; s++) {
    const hone__section *sec = &r->secs[s];
    char th[32];
    if (sec->info.thread != HONE_REPORT_NO_PARENT)
      snprintf(th, sizeof th, "%" PRIu64, r->threads[sec->info.thread].tid);
    else
      snprintf(th, sizeof th, "all");
    for (int k = calls_mode ? 0 : 2; k < (calls_mode ? 2 : 3) && !rc; k++) {
      if (k == 0 && !q->callers) continue;
      if (k == 1 && !q->callees) continue;
      hone_restriction *rs;
      size_t nrs;
      if ((rc = query_restrictions(q, k == 0 ? q->callers : k == 1 ? q->callees : NULL, &rs, &nrs)))
        break;
      uint32_t *list;
      size_t n;
      rc = hone__report_list(r, s, rs, nrs, &list, &n, NULL);
      free(rs);
      if (rc) break;
      for (size_t i = 0; i < n && !rc; i++) {
        const hone_report_stat *st = &sec->pa.funcs[list[i]];
        const hone_report_func *f = &r->funcs[list[i]];
        if (k == 2) {
          char nc[32], cc[32], tt[40], tp[40], ct[40], cp[40], line[16];
          snprintf(nc, sizeof nc, "%" PRIu64, st->ncalls);
          snprintf(cc, sizeof cc, "%" PRIu64, st->pcalls);
          snprintf(tt, sizeof tt, "%.9f", st->tottime);
          snprintf(tp, sizeof tp, "%.9f", st->ncalls ? st->tottime / (double)st->ncalls : 0.0);
          snprintf(ct, sizeof ct, "%.9f", st->cumtime);
          snprintf(cp, sizeof cp, "%.9f", st->pcalls ? st->cumtime / (double)st->pcalls : 0.0);
          snprintf(line, sizeof line, "%u", f->line);
          const char *cells[] = {th, nc, cc, tt, tp, ct, cp, f->file, line, f->name};
          csv_row(out, cells, 10);
          continue;
        }
        size_t ne;
        const hone_report_edge **e;
        if ((rc = hone_report_func_edges(r, s, list[i], k == 0, &e, &ne))) break;
        for (size_t j = 0; j < ne; j++) {
          const hone_report_func *of = &r->funcs[k == 0 ? e[j]->caller : e[j]->callee];
          const hone_report_stat *es = &e[j]->stat;
          char nc[32], cc[32], tt[40], ct[40], line[16];
          snprintf(nc, sizeof nc, "%" PRIu64, es->ncalls);
          snprintf(cc, sizeof cc, "%" PRIu64, es->pcalls);
          snprintf(tt, sizeof tt, "%.9f", es->tottime);
          snprintf(ct, sizeof ct, "%.9f", es->cumtime);
          snprintf(line, sizeof line, "%u", of->line);
          const char *cells[] = {
              th, k == 0 ? "caller" : "callee", f->std, nc, cc, tt, ct, of->file, line, of->name};
          csv_row(out, cells, 10);
        }
        free(e);
      }
      free(list);
    }
  }
  return rc ? rc : out_status(out);
}
