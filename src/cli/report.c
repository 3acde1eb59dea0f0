/* report.c: `hone report` — pstats for hone's stats files. Argument parsing and the calls to
 * libhone's report API (hone/report.h: reading, merging, aggregation, estimation, sorting,
 * restrictions, printing, JSON and CSV) with libhone-symbols (hone/symbols.h) as the resolver,
 * and the export registry (hone/export.h) for --format. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hone/export.h"
#include "hone/report.h"
#include "hone/symbols.h"

#define CMD "report"

typedef struct options {
  char sort[512];
  bool has_limit, limit_frac;
  unsigned long long limit_n;
  double limit_f;
  const char *filter_text;
  const char *callers_text, *callees_text;
  const char *format, *output;
  int weight;
  bool strip_dirs, threads, raw, json, csv, diff;
} options;

/* ---- the command -------------------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: hone report [options] FILE...\n"
          "\n"
          "Prints the profile recorded by `hone record` (stats files) as Python's pstats does:\n"
          "per function ncalls (total/primitive under recursion), tottime, percall, cumtime,\n"
          "percall, filename:lineno(function). Several files are merged. Times exclude the\n"
          "profiler's calibrated cost unless --raw.\n"
          "\n"
          "Options:\n"
          "  -s, --sort KEY[,KEY...]  order by pstats keys (repeatable; default cumulative):\n"
          "                           calls, cumulative, cumtime, file, filename, module,\n"
          "                           line, name, ncalls, nfl, pcalls, stdname, time, tottime\n"
          "  -l, --limit N|FRACTION   show the first N rows, or that fraction of them (0.1)\n"
          "      --filter REGEX       only rows whose filename:lineno(function) matches\n"
          "                           (POSIX extended regular expression)\n"
          "      --strip-dirs         drop directories from file names (pstats strip_dirs)\n"
          "      --callers FUNC       who called the functions matching the regex FUNC\n"
          "      --callees FUNC       what the functions matching FUNC called\n"
          "      --threads            each thread apart instead of merged\n"
          "      --raw                times as measured, the profiler's cost included\n"
          "      --json               JSON (docs/report-json.md)\n"
          "      --csv                CSV rows\n"
          "      --format FORMAT      an export for another tool (docs/exports.md): pstats,\n"
          "                           callgrind, speedscope, folded, chrome\n"
          "  -o, --output FILE        where --format writes, atomically (default: stdout)\n"
          "      --weight time|calls  what folded, speedscope and chrome widths measure\n"
          "      --diff A B           per-function change from A to B, largest change of the\n"
          "                           sort key first (tottime, cumulative, calls, pcalls)\n"
          "  -h, --help               this help\n");
}

static int check_regex(const char *text, const char *what) {
  char msg[256] = "";
  if (hone_report_check_regex(text, msg, sizeof msg))
    return hone__cli_usage_error(CMD, "%s: invalid regular expression '%s': %s", what, text, msg);
  return 0;
}

static int parse_sort(options *o, const char *arg) {
  char *copy = strdup(arg), *save = NULL;
  if (!copy) return hone__cli_error(CMD, "%s", hone_strerror(HONE_ENOMEM));
  int rc = 0;
  for (char *w = strtok_r(copy, ",", &save); w && !rc; w = strtok_r(NULL, ",", &save)) {
    while (*w == ' ') w++;
    const char *k = hone_report_sort_key(w);
    size_t used = strlen(o->sort);
    if (!k)
      rc = hone__cli_usage_error(CMD,
                                 "unknown or ambiguous sort key '%s' (calls, cumulative, cumtime, "
                                 "file, filename, module, line, name, ncalls, nfl, pcalls, "
                                 "stdname, time, tottime)",
                                 w);
    else if (used + strlen(k) + 2 > sizeof o->sort)
      rc = hone__cli_usage_error(CMD, "too many sort keys");
    else
      snprintf(o->sort + used, sizeof o->sort - used, "%s%s", used ? "," : "", k);
  }
  free(copy);
  return rc;
}

static int parse_limit(options *o, const char *arg) {
  o->has_limit = true;
  if (hone__cli_parse_u64(arg, &o->limit_n)) return 0;
  double f;
  if (hone__cli_parse_double(arg, &f) && f >= 0) {
    o->limit_frac = true;
    o->limit_f = f;
    return 0;
  }
  return hone__cli_usage_error(CMD, "--limit: expected a count or a fraction, got '%s'", arg);
}

enum {
  OPT_FILTER = 256,
  OPT_STRIP,
  OPT_CALLERS,
  OPT_CALLEES,
  OPT_THREADS,
  OPT_RAW,
  OPT_JSON,
  OPT_CSV,
  OPT_FORMAT,
  OPT_WEIGHT,
  OPT_DIFF
};

static int parse_options(int argc, char **argv, options *o, bool *help) {
  static const struct option longopts[] = {
      {"sort", required_argument, NULL, 's'},
      {"limit", required_argument, NULL, 'l'},
      {"filter", required_argument, NULL, OPT_FILTER},
      {"strip-dirs", no_argument, NULL, OPT_STRIP},
      {"callers", required_argument, NULL, OPT_CALLERS},
      {"callees", required_argument, NULL, OPT_CALLEES},
      {"threads", no_argument, NULL, OPT_THREADS},
      {"raw", no_argument, NULL, OPT_RAW},
      {"json", no_argument, NULL, OPT_JSON},
      {"csv", no_argument, NULL, OPT_CSV},
      {"format", required_argument, NULL, OPT_FORMAT},
      {"output", required_argument, NULL, 'o'},
      {"weight", required_argument, NULL, OPT_WEIGHT},
      {"diff", no_argument, NULL, OPT_DIFF},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  optind = 0;
  opterr = 0;
  int c, rc;
  while ((c = getopt_long(argc, argv, ":s:l:o:h", longopts, NULL)) != -1) {
    switch (c) {
    case 's':
      if ((rc = parse_sort(o, optarg))) return rc;
      break;
    case 'l':
      if ((rc = parse_limit(o, optarg))) return rc;
      break;
    case OPT_FILTER:
      o->filter_text = optarg;
      break;
    case OPT_STRIP:
      o->strip_dirs = true;
      break;
    case OPT_CALLERS:
      o->callers_text = optarg;
      break;
    case OPT_CALLEES:
      o->callees_text = optarg;
      break;
    case OPT_THREADS:
      o->threads = true;
      break;
    case OPT_RAW:
      o->raw = true;
      break;
    case OPT_JSON:
      o->json = true;
      break;
    case OPT_CSV:
      o->csv = true;
      break;
    case OPT_FORMAT:
      o->format = optarg;
      break;
    case 'o':
      o->output = optarg;
      break;
    case OPT_DIFF:
      o->diff = true;
      break;
    case OPT_WEIGHT:
      if ((o->weight = hone_export_weight_from_name(optarg)) < 0)
        return hone__cli_usage_error(CMD, "--weight: expected time or calls, got '%s'", optarg);
      break;
    case 'h':
      *help = true;
      return 0;
    case ':':
      return hone__cli_usage_error(CMD, "option '%s' needs an argument", argv[optind - 1]);
    default:
      return hone__cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (o->json && o->csv) return hone__cli_usage_error(CMD, "--json and --csv exclude each other");
  if (optind >= argc) return hone__cli_usage_error(CMD, "no stats file given");
  if (o->format && (o->json || o->csv))
    return hone__cli_usage_error(CMD, "--format excludes --json and --csv");
  if (o->output && !o->format) return hone__cli_usage_error(CMD, "--output needs --format");
  if (o->format && !hone_export_find(o->format)) {
    char known[256] = "";
    for (size_t i = 0; i < hone_export_format_count(); i++)
      snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
               hone_export_format_at(i)->name);
    return hone__cli_usage_error(CMD, "--format: unknown format '%s' (known: %s)", o->format,
                                 known);
  }
  if (o->diff) {
    if (argc - optind != 2)
      return hone__cli_usage_error(CMD, "--diff compares two stats files, got %d", argc - optind);
    if (o->threads || o->callers_text || o->callees_text || o->format || o->csv)
      return hone__cli_usage_error(
          CMD, "--diff goes with --sort, --limit, --filter, --strip-dirs, --raw and --json only");
    if (strchr(o->sort, ',')) return hone__cli_usage_error(CMD, "--diff sorts by one key");
    if (!o->sort[0]) snprintf(o->sort, sizeof o->sort, "tottime");
  }
  if (!o->sort[0]) snprintf(o->sort, sizeof o->sort, "cumulative");
  return 0;
}

/* Warnings of the resolver, named by the file being read. */
typedef struct warn_ctx {
  const char *path;
} warn_ctx;

static void warn_cb(void *ctx, const hone_prof_mapping *m, const char *msg) {
  (void)m;
  const warn_ctx *w = ctx;
  fprintf(stderr, "hone " CMD ": warning: %s: %s\n", w->path, msg);
}

static size_t restrictions(const options *o, hone_restriction rs[2]) {
  size_t n = 0;
  if (o->filter_text)
    rs[n++] = (hone_restriction){.kind = HONE_RESTRICT_REGEX, .regex = o->filter_text};
  if (o->has_limit)
    rs[n++] = o->limit_frac
                  ? (hone_restriction){.kind = HONE_RESTRICT_FRACTION, .fraction = o->limit_f}
                  : (hone_restriction){.kind = HONE_RESTRICT_COUNT, .count = o->limit_n};
  return n;
}

/* --diff A B: two reports built alike, compared by the library. */
static int run_diff(const options *o, const hone_report_options *ro, warn_ctx *wc, const char *a,
                    const char *b) {
  hone_report *r[2] = {NULL, NULL};
  hone_report_diff *d = NULL;
  const char *paths[2] = {a, b};
  char msg[640] = "";
  int rc = 0, err = 0;
  for (int i = 0; i < 2 && !rc; i++) {
    wc->path = paths[i];
    if (hone_report_new(ro, &r[i]))
      rc = hone__cli_error(CMD, "%s", hone_strerror(HONE_ENOMEM));
    else if (hone_report_read(r[i], paths[i], msg, sizeof msg) < 0)
      rc = hone__cli_error(CMD, "%s", msg);
  }
  if (!rc && (err = hone_report_diff_new(r[0], r[1], o->sort, &d, msg, sizeof msg)))
    rc = hone__cli_error(CMD, "%s", msg[0] ? msg : hone_strerror(err));
  if (!rc) {
    hone_restriction rs[2];
    size_t nrs = restrictions(o, rs);
    err = o->json ? hone_report_diff_write_json(d, stdout, rs, nrs)
                  : hone_report_diff_print(d, stdout, rs, nrs);
    if (err) rc = hone__cli_error(CMD, "%s", hone_strerror(err));
  }
  hone_report_diff_free(d);
  hone_report_free(r[0]);
  hone_report_free(r[1]);
  return rc;
}

static bool any_calls(const hone_report *r) {
  for (size_t s = 0; s < hone_report_section_count(r); s++)
    if (hone_report_section_info(r, s)->nfuncs) return true;
  return false;
}

int hone__cmd_report(int argc, char **argv) {
  options o = {0};
  bool help = false;
  int rc = parse_options(argc, argv, &o, &help);
  if (rc || help) {
    if (help) usage(stdout);
    return rc;
  }
  if (o.filter_text && (rc = check_regex(o.filter_text, "--filter"))) return rc;
  if (o.callers_text && (rc = check_regex(o.callers_text, "--callers"))) return rc;
  if (o.callees_text && (rc = check_regex(o.callees_text, "--callees"))) return rc;

  warn_ctx wc = {0};
  hone_symbols *syms = hone_symbols_new(warn_cb, &wc);
  hone_report *r = NULL;
  hone_report_options ro = {.resolve = hone_symbols_resolve,
                            .resolve_ctx = syms,
                            .resolve_sample = hone_symbols_resolve_inline,
                            .raw = o.raw,
                            .strip_dirs = o.strip_dirs,
                            .per_thread = o.threads};
  if (!syms || hone_report_new(&ro, &r)) {
    rc = hone__cli_error(CMD, "%s", hone_strerror(HONE_ENOMEM));
    goto out;
  }
  if (o.diff) {
    rc = run_diff(&o, &ro, &wc, argv[optind], argv[optind + 1]);
    goto out;
  }
  for (int i = optind; i < argc; i++) {
    char msg[640] = "";
    wc.path = argv[i];
    if (hone_report_read(r, argv[i], msg, sizeof msg) < 0) {
      rc = hone__cli_error(CMD, "%s", msg);
      goto out;
    }
  }
  int err = hone_report_sort(r, o.sort);
  if (!err) err = hone_report_build(r);
  if (err) {
    rc = hone__cli_error(CMD, "%s", hone_strerror(err));
    goto out;
  }
  if (!any_calls(r))
    fprintf(stderr, "hone " CMD ": no function calls were recorded; build the program with "
                    "-finstrument-functions -g (and record it with `hone record`)\n");

  hone_restriction rs[2];
  size_t nrs = restrictions(&o, rs);
  hone_report_query q = {.restrictions = rs,
                         .nrestrictions = nrs,
                         .callers = o.callers_text,
                         .callees = o.callees_text};
  char emsg[512] = "";
  hone_export_options eo = {.weight = (hone_export_weight)o.weight};
  if (o.format && o.output)
    err = hone_report_export(r, o.format, o.output, &eo, emsg, sizeof emsg);
  else if (o.format)
    err = hone_report_export_file(r, o.format, stdout, &eo, emsg, sizeof emsg);
  else if (o.json)
    err = hone_report_write_json(r, stdout, &q);
  else if (o.csv)
    err = hone_report_write_csv(r, stdout, &q);
  else
    err = hone_report_print(r, stdout, &q);
  if (err) rc = hone__cli_error(CMD, "%s", emsg[0] ? emsg : hone_strerror(err));

out:
  hone_report_free(r);
  hone_symbols_free(syms);
  return rc;
}
