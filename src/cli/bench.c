/* bench.c: `hone bench` — time whole commands (hyperfine's job) through hone_bench: argument
 * parsing, parameter expansion, and printing (table, CSV, JSON, Markdown, hyperfine's JSON). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "hone/bench.h"

#define CMD "bench"
#define MAX_PARAMS 4

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: hone bench [options] COMMAND...\n"
      "\n"
      "Runs each COMMAND many times and reports its wall time, CPU time, peak memory and\n"
      "(where the machine has them) event counters, then compares the commands. Commands\n"
      "run without a shell (split into words as sh would) unless --shell is given.\n"
      "\n"
      "  -r, --runs N               runs per command (default: as many as fit in --min-time,\n"
      "                             at least --min-runs)\n"
      "      --min-runs N           (default 10)   --max-runs N  (default: no limit)\n"
      "      --min-time S           seconds to measure each command for (default 3)\n"
      "  -w, --warmup N             unmeasured runs of each command first (default 0)\n"
      "      --no-interleave        all runs of a command before the next (hyperfine's order);\n"
      "                             the default runs rounds A B C, C A B, ... shuffled\n"
      "      --seed N               seed of the shuffle (default: from the clock)\n"
      "  -p, --prepare CMD          run before every run, not measured\n"
      "  -s, --setup CMD            run once per command before its runs\n"
      "  -c, --cleanup CMD          run once per command after its runs\n"
      "  -P, --parameter-scan NAME FROM TO   one command per value, {NAME} substituted\n"
      "  -D, --step S               step of --parameter-scan (default 1)\n"
      "  -L, --parameter-list NAME A,B,C     the same with listed values\n"
      "  -S, --shell SH             run through SH -c, subtracting SH's measured start-up\n"
      "  -t, --timeout S            kill a run (and its process group) after S seconds\n"
      "  -i, --ignore-failure       go on when a command fails (non-zero exit, signal)\n"
      "      --show-output          commands keep hone's stdout and stderr\n"
      "      --until-significant    go on until every command differs significantly from\n"
      "                             the fastest (Mann-Whitney U test), up to --max-time\n"
      "      --max-time S           (default 60)   --alpha A  significance level (0.05)\n"
      "      --no-counters          do not open event counters\n"
      "      --json FILE            every run's figures as JSON ('-' for stdout)\n"
      "      --csv                  the table as CSV on stdout (figures unrounded)\n"
      "      --markdown FILE        a Markdown table, as hyperfine's --export-markdown\n"
      "      --export-hyperfine FILE  hyperfine's --export-json layout\n"
      "  -h, --help                 show this help\n"
      "\n"
      "Exit status: 0 success, 1 a command failed, 2 usage error or a command that cannot\n"
      "be started.\n");
}

typedef struct param {
  const char *name;
  char **values;
  size_t n;
} param;

typedef struct cli {
  hone_bench_options o;
  param params[MAX_PARAMS];
  size_t nparams;
  double step;
  const char *json, *markdown, *hyperfine;
  bool csv;
} cli;

static void free_params(cli *c) {
  for (size_t i = 0; i < c->nparams; i++) {
    for (size_t k = 0; k < c->params[i].n; k++) free(c->params[i].values[k]);
    free(c->params[i].values);
  }
}

static int add_value(param *p, const char *v, size_t len) {
  char **vs = realloc(p->values, (p->n + 1) * sizeof *vs);
  if (!vs) return HONE_ENOMEM;
  p->values = vs;
  if (!(vs[p->n] = strndup(v, len))) return HONE_ENOMEM;
  p->n++;
  return 0;
}

static int parse_list(cli *c, const char *name, const char *list) {
  if (c->nparams == MAX_PARAMS)
    return hone__cli_usage_error(CMD, "at most %d parameters", MAX_PARAMS);
  if (!*name) return hone__cli_usage_error(CMD, "a parameter needs a name");
  param *p = &c->params[c->nparams++];
  *p = (param){name, NULL, 0};
  for (const char *s = list;;) {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (add_value(p, s, len) < 0) return hone__cli_error(CMD, "out of memory");
    if (!e) break;
    s = e + 1;
  }
  return 0;
}

static int parse_scan(cli *c, const char *name, const char *from, const char *to) {
  double a, b;
  if (!hone__cli_parse_double(from, &a) || !hone__cli_parse_double(to, &b))
    return hone__cli_usage_error(CMD, "--parameter-scan %s: '%s' and '%s' must be numbers", name,
                                 from, to);
  if (c->nparams == MAX_PARAMS)
    return hone__cli_usage_error(CMD, "at most %d parameters", MAX_PARAMS);
  if (b < a) return hone__cli_usage_error(CMD, "--parameter-scan %s: %s > %s", name, from, to);
  param *p = &c->params[c->nparams++];
  *p = (param){name, NULL, 0};
  /* The step is applied after all options are read (finish_scan). */
  char buf[64];
  snprintf(buf, sizeof buf, "%.17g:%.17g", a, b);
  return add_value(p, buf, strlen(buf)) < 0 ? hone__cli_error(CMD, "out of memory") : 0;
}

/* Turns a scan's "from:to" into its values now that the step is known. */
static int finish_scan(cli *c, param *p) {
  double a, b;
  if (p->n != 1 || sscanf(p->values[0], "%lf:%lf", &a, &b) != 2) return 0;
  double step = c->step;
  if (!(step > 0)) return hone__cli_usage_error(CMD, "--step must be positive");
  if ((b - a) / step > 10000)
    return hone__cli_usage_error(CMD, "--parameter-scan: too many values");
  free(p->values[0]);
  p->n = 0;
  bool ints = a == floor(a) && step == floor(step);
  for (size_t k = 0;; k++) {
    double v = a + (double)k * step;
    if (v > b + step * 1e-9) break;
    char buf[64];
    if (ints)
      snprintf(buf, sizeof buf, "%.0f", v);
    else
      snprintf(buf, sizeof buf, "%.10g", v);
    if (add_value(p, buf, strlen(buf)) < 0) return hone__cli_error(CMD, "out of memory");
  }
  return 0;
}

/* Adds template `tmpl` for every combination of parameter values, from parameter `depth` on. */
static int add_expanded(hone_bench *b, cli *c, const char *tmpl, size_t depth, const char **pv) {
  if (depth == c->nparams) {
    int rc = hone_bench_add(b, tmpl, pv, c->nparams);
    if (rc == HONE_EINVAL) return hone__cli_usage_error(CMD, "%s", hone_bench_error(b));
    if (rc < 0) return hone__cli_error(CMD, "%s", hone_strerror(rc));
    return 0;
  }
  if (depth >= MAX_PARAMS) return hone__cli_error(CMD, "more than %d parameters", MAX_PARAMS);
  param *p = &c->params[depth];
  for (size_t k = 0; k < p->n; k++) {
    char *s;
    if (hone_bench_substitute(tmpl, p->name, p->values[k], &s) < 0)
      return hone__cli_error(CMD, "out of memory");
    pv[2 * depth] = p->name;
    pv[2 * depth + 1] = p->values[k];
    int rc = add_expanded(b, c, s, depth + 1, pv);
    free(s);
    if (rc) return rc;
  }
  return 0;
}

/* ---- Progress ---- */

static void on_progress(void *arg, size_t command, const char *name, size_t run, size_t total,
                        double eta_s) {
  (void)arg;
  (void)command;
  char bar[21];
  size_t fill = total ? 20 * (run - 1) / total : 0;
  for (size_t k = 0; k < 20; k++) bar[k] = k < fill ? '#' : '.';
  bar[20] = '\0';
  char eta[32] = "ETA ?";
  if (eta_s >= 0) snprintf(eta, sizeof eta, eta_s < 10 ? "ETA %.1f s" : "ETA %.0f s", eta_s);
  hone__cli_progress("[%s] %.40s  run %zu/%zu  %s", bar, name, run, total, eta);
}

/* ---- Output ---- */

static char *fmt_bytes(double v, char *buf, size_t len) {
  snprintf(buf, len, "%.1f MiB", v / 1048576.0);
  return buf;
}

static void print_table(hone_bench *b) {
  static const char *headers[] = {"command", "runs", "median", "MAD", "mean ± σ",
                                  "min",     "max",  "user",   "sys", "peak RSS"};
  hone__table *t = hone__table_new(10, headers, "lrrrrrrrrr");
  if (!t) return;
  for (size_t i = 0; i < hone_bench_count(b); i++) {
    hone_stats w, u, s, m;
    if (hone_bench_stats(b, i, HONE_BENCH_WALL, &w) < 0 ||
        hone_bench_stats(b, i, HONE_BENCH_USER, &u) < 0 ||
        hone_bench_stats(b, i, HONE_BENCH_SYS, &s) < 0 ||
        hone_bench_stats(b, i, HONE_BENCH_RSS, &m) < 0)
      continue;
    char a1[32], a2[32], a3[32], a4[32], a5[32], a6[32], a7[32], a8[32], a9[32];
    hone__table_addf(
        t, "%s\t%zu\t%s\t%s\t%s ± %s\t%s\t%s\t%s\t%s\t%s", hone_bench_command(b, i), w.n,
        hone__cli_fmt_ns(w.median, a1, sizeof a1), hone__cli_fmt_ns(w.mad, a9, sizeof a9),
        hone__cli_fmt_ns(w.mean, a2, sizeof a2), hone__cli_fmt_ns(w.stdev, a3, sizeof a3),
        hone__cli_fmt_ns(w.min, a4, sizeof a4), hone__cli_fmt_ns(w.max, a5, sizeof a5),
        hone__cli_fmt_ns(u.mean, a6, sizeof a6), hone__cli_fmt_ns(s.mean, a7, sizeof a7),
        fmt_bytes(m.max, a8, sizeof a8));
  }
  hone__table_print(t, stdout);
  hone__table_free(t);
}

static void print_notes(hone_bench *b, const char *shell_name) {
  size_t shell_runs;
  double shell = hone_bench_shell_ns(b, &shell_runs);
  char buf[32];
  if (shell_runs)
    printf("\nshell start-up subtracted from every run: %s (mean of %zu runs of '%s -c \"\"')\n",
           hone__cli_fmt_ns(shell, buf, sizeof buf), shell_runs, shell_name);
  printf("\ncounters:");
  bool any = false;
  static const hone_bench_metric cm[] = {HONE_BENCH_CYCLES, HONE_BENCH_INSTRUCTIONS,
                                         HONE_BENCH_TASK_CLOCK};
  static const char *cn[] = {"cycles", "instructions", "task-clock"};
  for (size_t i = 0; i < hone_bench_count(b); i++) {
    for (size_t k = 0; k < 3; k++) {
      hone_stats st;
      if (!hone_bench_counter_available(b, cm[k]) || hone_bench_stats(b, i, cm[k], &st) < 0)
        continue;
      if (!any) printf("\n");
      any = true;
      if (cm[k] == HONE_BENCH_TASK_CLOCK)
        printf("  %s: %s median %s\n", hone_bench_command(b, i), cn[k],
               hone__cli_fmt_ns(st.median, buf, sizeof buf));
      else
        printf("  %s: %s median %.4g\n", hone_bench_command(b, i), cn[k], st.median);
    }
  }
  const char *note = hone_bench_counters_note(b);
  if (note)
    printf("%s%s\n", any ? "  " : " ", note);
  else if (!any)
    printf(" none\n");

  for (size_t i = 0; i < hone_bench_count(b); i++) {
    hone_stats w;
    size_t n;
    const hone_bench_sample *s = hone_bench_samples(b, i, &n);
    if (hone_bench_stats(b, i, HONE_BENCH_WALL, &w) < 0) continue;
    size_t out = w.outliers_low + w.outliers_high;
    if (out * 10 > n)
      printf("warning: '%s': %zu of %zu runs are outliers (Tukey's fences): the machine may be "
             "busy; interleaving spreads the noise over every command\n",
             hone_bench_command(b, i), out, n);
    if (n >= 5 && (double)s[0].wall_ns > w.q3 + 1.5 * (w.q3 - w.q1) &&
        (double)s[0].wall_ns >= w.max)
      printf("warning: '%s': the first run was the slowest, well above the rest (a cold cache?): "
             "try --warmup\n",
             hone_bench_command(b, i));
    size_t failed = 0;
    for (size_t k = 0; k < n; k++) failed += s[k].exit_status != 0;
    if (failed)
      printf("warning: '%s' failed in %zu of %zu runs (--ignore-failure)\n",
             hone_bench_command(b, i), failed, n);
  }
}

static void print_summary(hone_bench *b, double alpha) {
  size_t n = hone_bench_count(b);
  if (n < 2) return;
  size_t f = hone_bench_fastest(b);
  printf("\nSummary (two-sided Mann-Whitney U test on wall times, alpha %g)\n", alpha);
  printf("  '%s' ran\n", hone_bench_command(b, f));
  for (size_t j = 0; j < n; j++) {
    if (j == f) continue;
    hone_bench_comparison c;
    if (hone_bench_compare(b, f, j, &c) < 0) continue;
    if (c.significant)
      printf("    %.2f ± %.2f times faster than '%s' (p = %.2g)\n", c.ratio.value,
             c.ratio.uncertainty, hone_bench_command(b, j), c.test.p);
    else
      printf("    no significant difference from '%s' (p = %.2g; ratio %.2f ± %.2f)\n",
             hone_bench_command(b, j), c.test.p, c.ratio.value, c.ratio.uncertainty);
  }
}

static void print_csv(hone_bench *b) {
  static const char *headers[] = {"command",   "runs",      "median_ns",     "mean_ns",
                                  "stddev_ns", "min_ns",    "max_ns",        "mad_ns",
                                  "user_ns",   "system_ns", "max_rss_bytes", "outliers"};
  hone__table *t = hone__table_new(12, headers, NULL);
  if (!t) return;
  for (size_t i = 0; i < hone_bench_count(b); i++) {
    hone_stats w, u, s, m;
    if (hone_bench_stats(b, i, HONE_BENCH_WALL, &w) < 0 ||
        hone_bench_stats(b, i, HONE_BENCH_USER, &u) < 0 ||
        hone_bench_stats(b, i, HONE_BENCH_SYS, &s) < 0 ||
        hone_bench_stats(b, i, HONE_BENCH_RSS, &m) < 0)
      continue;
    hone__table_addf(t, "%s\t%zu\t%.0f\t%.1f\t%.1f\t%.0f\t%.0f\t%.0f\t%.1f\t%.1f\t%.0f\t%zu",
                     hone_bench_command(b, i), w.n, w.median, w.mean, w.stdev, w.min, w.max, w.mad,
                     u.mean, s.mean, m.max, w.outliers_low + w.outliers_high);
  }
  hone__table_print_csv(t, stdout);
  hone__table_free(t);
}

static cJSON *stats_json(const hone_stats *st) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "min", st->min);
  cJSON_AddNumberToObject(o, "max", st->max);
  cJSON_AddNumberToObject(o, "mean", st->mean);
  cJSON_AddNumberToObject(o, "stdev", st->stdev);
  cJSON_AddNumberToObject(o, "median", st->median);
  cJSON_AddNumberToObject(o, "mad", st->mad);
  cJSON_AddNumberToObject(o, "q1", st->q1);
  cJSON_AddNumberToObject(o, "q3", st->q3);
  cJSON_AddNumberToObject(o, "outliers_low", (double)st->outliers_low);
  cJSON_AddNumberToObject(o, "outliers_high", (double)st->outliers_high);
  return o;
}

static cJSON *params_json(hone_bench *b, size_t i) {
  size_t n;
  const char *const *p = hone_bench_params(b, i, &n);
  cJSON *o = cJSON_CreateObject();
  for (size_t k = 0; k < n; k++) cJSON_AddStringToObject(o, p[2 * k], p[2 * k + 1]);
  return o;
}

static const struct {
  hone_bench_metric m;
  const char *name;
} json_metrics[] = {
    {HONE_BENCH_WALL, "wall_ns"},
    {HONE_BENCH_USER, "user_ns"},
    {HONE_BENCH_SYS, "sys_ns"},
    {HONE_BENCH_RSS, "max_rss_bytes"},
    {HONE_BENCH_CYCLES, "cycles"},
    {HONE_BENCH_INSTRUCTIONS, "instructions"},
    {HONE_BENCH_TASK_CLOCK, "task_clock_ns"},
};

static cJSON *bench_json(hone_bench *b, const cli *c) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddNumberToObject(root, "version", 1); /* of this layout: docs/bench-json.md */
  cJSON_AddStringToObject(root, "hone_version", hone_version());
  cJSON_AddBoolToObject(root, "interleaved", c->o.interleave);
  cJSON_AddNumberToObject(root, "seed", (double)hone_bench_seed(b));
  size_t shell_runs;
  double shell = hone_bench_shell_ns(b, &shell_runs);
  if (c->o.shell)
    cJSON_AddStringToObject(root, "shell", c->o.shell);
  else
    cJSON_AddNullToObject(root, "shell");
  cJSON_AddNumberToObject(root, "shell_startup_ns", shell);
  cJSON_AddNumberToObject(root, "shell_startup_runs", (double)shell_runs);
  cJSON *cnt = cJSON_AddObjectToObject(root, "counters");
  for (size_t k = 4; k < 7; k++)
    cJSON_AddBoolToObject(cnt, json_metrics[k].name,
                          hone_bench_counter_available(b, json_metrics[k].m));
  const char *note = hone_bench_counters_note(b);
  if (note)
    cJSON_AddStringToObject(cnt, "note", note);
  else
    cJSON_AddNullToObject(cnt, "note");
  cJSON *cmds = cJSON_AddArrayToObject(root, "commands");
  for (size_t i = 0; i < hone_bench_count(b); i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "command", hone_bench_command(b, i));
    cJSON_AddItemToObject(o, "parameters", params_json(b, i));
    size_t n;
    const hone_bench_sample *s = hone_bench_samples(b, i, &n);
    cJSON_AddNumberToObject(o, "runs", (double)n);
    cJSON *st = cJSON_AddObjectToObject(o, "stats");
    for (size_t k = 0; k < 7; k++) {
      hone_stats v;
      if (hone_bench_stats(b, i, json_metrics[k].m, &v) == 0)
        cJSON_AddItemToObject(st, json_metrics[k].name, stats_json(&v));
    }
    cJSON *arr = cJSON_AddArrayToObject(o, "samples");
    for (size_t k = 0; k < n; k++) {
      cJSON *r = cJSON_CreateObject();
      cJSON_AddNumberToObject(r, "wall_ns", (double)s[k].wall_ns);
      cJSON_AddNumberToObject(r, "user_ns", (double)s[k].user_ns);
      cJSON_AddNumberToObject(r, "sys_ns", (double)s[k].sys_ns);
      cJSON_AddNumberToObject(r, "max_rss_bytes", (double)s[k].max_rss_bytes);
      cJSON_AddNumberToObject(r, "start_ns", (double)s[k].start_ns);
      cJSON_AddNumberToObject(r, "round", (double)s[k].round);
      cJSON_AddNumberToObject(r, "exit_status", s[k].exit_status);
      cJSON_AddNumberToObject(r, "signal", s[k].signal);
      cJSON_AddBoolToObject(r, "timed_out", s[k].timed_out);
      if (hone_bench_counter_available(b, HONE_BENCH_CYCLES))
        cJSON_AddNumberToObject(r, "cycles", (double)s[k].cycles);
      if (hone_bench_counter_available(b, HONE_BENCH_INSTRUCTIONS))
        cJSON_AddNumberToObject(r, "instructions", (double)s[k].instructions);
      if (hone_bench_counter_available(b, HONE_BENCH_TASK_CLOCK))
        cJSON_AddNumberToObject(r, "task_clock_ns", (double)s[k].task_clock_ns);
      cJSON_AddItemToArray(arr, r);
    }
    cJSON_AddItemToArray(cmds, o);
  }
  cJSON_AddStringToObject(root, "test", "mann-whitney-u");
  cJSON_AddNumberToObject(root, "alpha", c->o.alpha);
  cJSON *cmp = cJSON_AddArrayToObject(root, "comparison");
  size_t f = hone_bench_fastest(b);
  cJSON_AddNumberToObject(root, "fastest", (double)f);
  for (size_t j = 0; hone_bench_count(b) > 1 && j < hone_bench_count(b); j++) {
    hone_bench_comparison r;
    if (j == f || hone_bench_compare(b, f, j, &r) < 0) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "fastest", (double)f);
    cJSON_AddNumberToObject(o, "other", (double)j);
    cJSON_AddNumberToObject(o, "ratio", r.ratio.value);
    cJSON_AddNumberToObject(o, "uncertainty", r.ratio.uncertainty);
    cJSON_AddNumberToObject(o, "u", r.test.u);
    cJSON_AddNumberToObject(o, "z", r.test.z);
    cJSON_AddNumberToObject(o, "p", r.test.p);
    cJSON_AddBoolToObject(o, "significant", r.significant);
    cJSON_AddItemToArray(cmp, o);
  }
  return root;
}

/* hyperfine's --export-json layout: seconds, one object per command in "results". */
static cJSON *hyperfine_json(hone_bench *b) {
  cJSON *root = cJSON_CreateObject();
  cJSON *res = cJSON_AddArrayToObject(root, "results");
  for (size_t i = 0; i < hone_bench_count(b); i++) {
    hone_stats w, u, s;
    if (hone_bench_stats(b, i, HONE_BENCH_WALL, &w) < 0 ||
        hone_bench_stats(b, i, HONE_BENCH_USER, &u) < 0 ||
        hone_bench_stats(b, i, HONE_BENCH_SYS, &s) < 0)
      continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "command", hone_bench_command(b, i));
    cJSON_AddNumberToObject(o, "mean", w.mean / 1e9);
    /* hyperfine writes null for the deviation of a single run. */
    if (w.n < 2)
      cJSON_AddNullToObject(o, "stddev");
    else
      cJSON_AddNumberToObject(o, "stddev", w.stdev / 1e9);
    cJSON_AddNumberToObject(o, "median", w.median / 1e9);
    cJSON_AddNumberToObject(o, "user", u.mean / 1e9);
    cJSON_AddNumberToObject(o, "system", s.mean / 1e9);
    cJSON_AddNumberToObject(o, "min", w.min / 1e9);
    cJSON_AddNumberToObject(o, "max", w.max / 1e9);
    size_t n;
    const hone_bench_sample *sm = hone_bench_samples(b, i, &n);
    cJSON *times = cJSON_AddArrayToObject(o, "times");
    cJSON *mem = cJSON_AddArrayToObject(o, "memory_usage_byte");
    cJSON *codes = cJSON_AddArrayToObject(o, "exit_codes");
    for (size_t k = 0; k < n; k++) {
      cJSON_AddItemToArray(times, cJSON_CreateNumber((double)sm[k].wall_ns / 1e9));
      cJSON_AddItemToArray(mem, cJSON_CreateNumber((double)sm[k].max_rss_bytes));
      if (sm[k].signal)
        cJSON_AddItemToArray(codes, cJSON_CreateNull());
      else
        cJSON_AddItemToArray(codes, cJSON_CreateNumber(sm[k].exit_status));
    }
    size_t np;
    hone_bench_params(b, i, &np);
    if (np) cJSON_AddItemToObject(o, "parameters", params_json(b, i));
    cJSON_AddItemToArray(res, o);
  }
  return root;
}

static int write_text(const char *path, const char *text) {
  if (strcmp(path, "-") == 0) {
    fputs(text, stdout);
    return 0;
  }
  FILE *f = fopen(path, "w");
  if (!f) return hone__cli_error(CMD, "cannot write '%s': %s", path, strerror(errno));
  fputs(text, f);
  if (fclose(f) != 0) return hone__cli_error(CMD, "error writing '%s'", path);
  return 0;
}

static int write_json(const char *path, cJSON *root) {
  if (!root) return hone__cli_error(CMD, "out of memory");
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return hone__cli_error(CMD, "out of memory");
  size_t len = strlen(text);
  char *t2 = realloc(text, len + 2);
  if (t2) {
    text = t2;
    memcpy(text + len, "\n", 2);
  }
  int rc = write_text(path, text);
  cJSON_free(text);
  return rc;
}

static int write_markdown(hone_bench *b, const char *path) {
  size_t cap = 4096, len = 0;
  char *s = malloc(cap);
  if (!s) return hone__cli_error(CMD, "out of memory");
  /* One unit for the table, chosen from the fastest mean, as hyperfine does. */
  hone_stats f;
  double scale = 1e6;
  const char *unit = "ms";
  if (hone_bench_stats(b, hone_bench_fastest(b), HONE_BENCH_WALL, &f) == 0 && f.mean >= 1e9)
    scale = 1e9, unit = "s";
#define APPEND(...)                                                                                \
  do {                                                                                             \
    int n_ = snprintf(NULL, 0, __VA_ARGS__);                                                       \
    if (len + (size_t)n_ + 1 > cap) {                                                              \
      cap = 2 * (len + (size_t)n_ + 1);                                                            \
      char *t_ = realloc(s, cap);                                                                  \
      if (!t_) {                                                                                   \
        free(s);                                                                                   \
        return hone__cli_error(CMD, "out of memory");                                              \
      }                                                                                            \
      s = t_;                                                                                      \
    }                                                                                              \
    len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__);                                      \
  } while (0)
  APPEND("| Command | Mean [%s] | Min [%s] | Max [%s] | Relative |\n|:---|---:|---:|---:|---:|\n",
         unit, unit, unit);
  for (size_t i = 0; i < hone_bench_count(b); i++) {
    hone_stats w;
    hone_bench_comparison c;
    if (hone_bench_stats(b, i, HONE_BENCH_WALL, &w) < 0) continue;
    bool is_f = i == hone_bench_fastest(b);
    if (!is_f && hone_bench_compare(b, hone_bench_fastest(b), i, &c) < 0) continue;
    APPEND("| `%s` | %.1f ± %.1f | %.1f | %.1f | ", hone_bench_command(b, i), w.mean / scale,
           w.stdev / scale, w.min / scale, w.max / scale);
    if (is_f)
      APPEND("1.00 |\n");
    else
      APPEND("%.2f ± %.2f |\n", c.ratio.value, c.ratio.uncertainty);
  }
#undef APPEND
  int rc = write_text(path, s);
  free(s);
  return rc;
}

/* ---- Options ---- */

enum {
  OPT_MIN_RUNS = 256,
  OPT_MAX_RUNS,
  OPT_MIN_TIME,
  OPT_NO_INTERLEAVE,
  OPT_SEED,
  OPT_SHOW_OUTPUT,
  OPT_UNTIL_SIG,
  OPT_MAX_TIME,
  OPT_ALPHA,
  OPT_NO_COUNTERS,
  OPT_JSON,
  OPT_CSV,
  OPT_MARKDOWN,
  OPT_HYPERFINE,
};

static bool parse_size(const char *s, size_t *out) {
  unsigned long long v;
  if (!hone__cli_parse_u64(s, &v) || v > (1ull << 31)) return false;
  *out = (size_t)v;
  return true;
}

static bool parse_seconds(const char *s, double *out) {
  return hone__cli_parse_double(s, out) && *out >= 0;
}

static int parse_args(cli *c, int argc, char **argv) {
  static const struct option options[] = {
      {"runs", required_argument, NULL, 'r'},
      {"warmup", required_argument, NULL, 'w'},
      {"min-runs", required_argument, NULL, OPT_MIN_RUNS},
      {"max-runs", required_argument, NULL, OPT_MAX_RUNS},
      {"min-time", required_argument, NULL, OPT_MIN_TIME},
      {"no-interleave", no_argument, NULL, OPT_NO_INTERLEAVE},
      {"seed", required_argument, NULL, OPT_SEED},
      {"prepare", required_argument, NULL, 'p'},
      {"setup", required_argument, NULL, 's'},
      {"cleanup", required_argument, NULL, 'c'},
      {"parameter-scan", required_argument, NULL, 'P'},
      {"step", required_argument, NULL, 'D'},
      {"parameter-list", required_argument, NULL, 'L'},
      {"shell", required_argument, NULL, 'S'},
      {"timeout", required_argument, NULL, 't'},
      {"ignore-failure", no_argument, NULL, 'i'},
      {"show-output", no_argument, NULL, OPT_SHOW_OUTPUT},
      {"until-significant", no_argument, NULL, OPT_UNTIL_SIG},
      {"max-time", required_argument, NULL, OPT_MAX_TIME},
      {"alpha", required_argument, NULL, OPT_ALPHA},
      {"no-counters", no_argument, NULL, OPT_NO_COUNTERS},
      {"json", required_argument, NULL, OPT_JSON},
      {"csv", no_argument, NULL, OPT_CSV},
      {"markdown", required_argument, NULL, OPT_MARKDOWN},
      {"export-hyperfine", required_argument, NULL, OPT_HYPERFINE},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  hone_bench_options *o = &c->o;
  c->step = 1;
  int opt;
  optind = 1;
  opterr = 0;
  unsigned long long u64;
  while ((opt = getopt_long(argc, argv, "+r:w:p:s:c:P:D:L:S:t:ih", options, NULL)) != -1) {
    const char *a = optarg;
    switch (opt) {
    case 'r':
      if (!parse_size(a, &o->runs) || o->runs == 0)
        return hone__cli_usage_error(CMD, "--runs '%s': a positive whole number", a);
      break;
    case 'w':
      if (!parse_size(a, &o->warmup))
        return hone__cli_usage_error(CMD, "--warmup '%s': a whole number", a);
      break;
    case OPT_MIN_RUNS:
      if (!parse_size(a, &o->min_runs) || o->min_runs == 0)
        return hone__cli_usage_error(CMD, "--min-runs '%s': a positive whole number", a);
      break;
    case OPT_MAX_RUNS:
      if (!parse_size(a, &o->max_runs) || o->max_runs == 0)
        return hone__cli_usage_error(CMD, "--max-runs '%s': a positive whole number", a);
      break;
    case OPT_MIN_TIME:
      if (!parse_seconds(a, &o->min_time_s))
        return hone__cli_usage_error(CMD, "--min-time '%s': seconds, not negative", a);
      break;
    case OPT_NO_INTERLEAVE:
      o->interleave = false;
      break;
    case OPT_SEED:
      if (!hone__cli_parse_u64(a, &u64))
        return hone__cli_usage_error(CMD, "--seed '%s': a whole number", a);
      o->seed = u64;
      break;
    case 'p':
      o->prepare = a;
      break;
    case 's':
      o->setup = a;
      break;
    case 'c':
      o->cleanup = a;
      break;
    case 'P': {
      if (optind + 1 >= argc)
        return hone__cli_usage_error(CMD, "--parameter-scan needs NAME FROM TO");
      int rc = parse_scan(c, a, argv[optind], argv[optind + 1]);
      if (rc) return rc;
      optind += 2;
      break;
    }
    case 'D':
      if (!hone__cli_parse_double(a, &c->step) || !(c->step > 0))
        return hone__cli_usage_error(CMD, "--step '%s': a positive number", a);
      break;
    case 'L': {
      if (optind >= argc) return hone__cli_usage_error(CMD, "--parameter-list needs NAME VALUES");
      int rc = parse_list(c, a, argv[optind++]);
      if (rc) return rc;
      break;
    }
    case 'S':
      if (!*a) return hone__cli_usage_error(CMD, "--shell needs a shell");
      o->shell = a;
      break;
    case 't':
      if (!parse_seconds(a, &o->timeout_s) || o->timeout_s == 0)
        return hone__cli_usage_error(CMD, "--timeout '%s': positive seconds", a);
      break;
    case 'i':
      o->ignore_failure = true;
      break;
    case OPT_SHOW_OUTPUT:
      o->show_output = true;
      break;
    case OPT_UNTIL_SIG:
      o->until_significant = true;
      break;
    case OPT_MAX_TIME:
      if (!parse_seconds(a, &o->max_time_s))
        return hone__cli_usage_error(CMD, "--max-time '%s': seconds, not negative", a);
      break;
    case OPT_ALPHA:
      if (!hone__cli_parse_double(a, &o->alpha) || !(o->alpha > 0 && o->alpha < 1))
        return hone__cli_usage_error(CMD, "--alpha '%s': a number between 0 and 1", a);
      break;
    case OPT_NO_COUNTERS:
      o->counters = false;
      break;
    case OPT_JSON:
      c->json = a;
      break;
    case OPT_CSV:
      c->csv = true;
      break;
    case OPT_MARKDOWN:
      c->markdown = a;
      break;
    case OPT_HYPERFINE:
      c->hyperfine = a;
      break;
    case 'h':
      usage(stdout);
      return -1;
    case ':':
      return hone__cli_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
    default:
      if (optopt && strchr("rwpscPDLSt", optopt))
        return hone__cli_usage_error(CMD, "option '-%c' needs a value", optopt);
      return hone__cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return hone__cli_usage_error(CMD, "no command to benchmark");
  if (o->max_runs && o->max_runs < o->min_runs)
    return hone__cli_usage_error(CMD, "--max-runs is below --min-runs");
  if (c->json && strcmp(c->json, "-") == 0 && c->csv)
    return hone__cli_usage_error(CMD, "--json - and --csv both want stdout");
  for (size_t i = 0; i < c->nparams; i++) {
    int rc = finish_scan(c, &c->params[i]);
    if (rc) return rc;
  }
  return 0;
}

/* A signal that ends hone ends the command being measured first: it runs in a process group of
 * its own, so a Ctrl-C on the terminal reaches hone only, and without this it would go on. */
static void forward_and_die(int sig) {
  hone_bench_interrupt(sig);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void forward_fatal_signals(void) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_and_die;
    sigemptyset(&sa.sa_mask);
    struct sigaction old;
    /* A signal ignored when hone started (nohup, a background job) stays ignored. */
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sigs[i], &sa, NULL);
  }
}

int hone__cmd_bench(int argc, char **argv) {
  cli c;
  memset(&c, 0, sizeof c);
  hone_bench_options_init(&c.o);
  int rc = parse_args(&c, argc, argv);
  if (rc) {
    free_params(&c);
    return rc < 0 ? HONE_EXIT_OK : rc;
  }
  if (hone__cli_progress_enabled()) c.o.progress = on_progress;
  hone_bench *b = NULL;
  if ((rc = hone_bench_new(&c.o, &b)) < 0) {
    free_params(&c);
    return hone__cli_usage_error(CMD, "%s", hone_strerror(rc));
  }
  const char *pv[2 * MAX_PARAMS];
  int status = HONE_EXIT_OK;
  for (int i = optind; i < argc && status == HONE_EXIT_OK; i++)
    status = add_expanded(b, &c, argv[i], 0, pv);
  if (status == HONE_EXIT_OK) {
    forward_fatal_signals();
    rc = hone_bench_run(b);
    hone__cli_progress_done();
    if (rc == HONE_ENOENT || rc == HONE_EPERM || rc == HONE_EINVAL)
      status = hone__cli_usage_error(CMD, "%s", hone_bench_error(b));
    else if (rc == HONE_ETASK)
      status = hone__cli_error(CMD, "%s%s", hone_bench_error(b),
                               c.o.ignore_failure ? "" : " (--ignore-failure to go on)");
    else if (rc < 0)
      status = hone__cli_error(CMD, "%s",
                               *hone_bench_error(b) ? hone_bench_error(b) : hone_strerror(rc));
  }
  if (status == HONE_EXIT_OK) {
    bool to_stdout = c.json && strcmp(c.json, "-") == 0;
    if (c.csv)
      print_csv(b);
    else if (!to_stdout) {
      print_table(b);
      print_notes(b, c.o.shell);
      print_summary(b, c.o.alpha);
    }
    if (c.json && write_json(c.json, bench_json(b, &c))) status = HONE_EXIT_FAILURE;
    if (c.hyperfine && write_json(c.hyperfine, hyperfine_json(b))) status = HONE_EXIT_FAILURE;
    if (c.markdown && write_markdown(b, c.markdown)) status = HONE_EXIT_FAILURE;
  }
  hone_bench_free(b);
  free_params(&c);
  return status;
}
