/* bench.c: hone_bench — whole commands run in interleaved, shuffled rounds (or hyperfine's
 * order), warmups, prepare/setup/cleanup, the shell's start-up cost measured and subtracted,
 * automatic run counts, until-significant, and the statistics and comparisons of the samples.
 * One run of a process is bench_proc.c's; splitting a command line is bench_split.c's. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone/bench.h"
#include "measure/bench_internal.h"

typedef struct bench_cmd {
  char *line;
  char **argv; /* what is executed: the split line, or {shell, "-c", line} */
  char **params;
  size_t nparams;
  hone_bench_sample *s;
  size_t n, cap;
  size_t target; /* runs planned */
} bench_cmd;

struct hone_bench {
  hone_bench_options o; /* strings below are copies */
  char *prepare, *setup, *cleanup, *shell;
  char **prepare_argv, **setup_argv, **cleanup_argv;
  bench_cmd *cmds;
  size_t ncmds;
  bool ran;
  char err[512];
  hone__bench_counters counters;
  bool counters_open;
  bool counted[HONE__BC_COUNT]; /* in every run so far */
  char note[240];
  double shell_wall_ns, shell_user_ns, shell_sys_ns;
  size_t shell_runs;
  uint64_t seed, rng;
  int64_t t_start;
};

HONE_PRINTF(2, 3) static void set_err(hone_bench *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err, sizeof b->err, fmt, ap);
  va_end(ap);
}

void hone_bench_options_init(hone_bench_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->min_runs = 10;
  o->min_time_s = 3;
  o->interleave = true;
  o->counters = true;
  o->max_time_s = 60;
  o->alpha = 0.05;
}

static char *dup_or_null(const char *s, bool *oom) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *oom = true;
  return d;
}

int hone_bench_new(const hone_bench_options *opts, hone_bench **out) {
  if (!out) return HONE_EINVAL;
  *out = NULL;
  hone_bench_options o;
  if (opts)
    o = *opts;
  else
    hone_bench_options_init(&o);
  if (!(o.min_time_s >= 0) || !(o.timeout_s >= 0) || !(o.max_time_s >= 0) || o.min_runs == 0 ||
      !(o.alpha > 0 && o.alpha < 1) || (o.shell && !*o.shell) ||
      (o.max_runs && o.max_runs < o.min_runs && o.runs == 0))
    return HONE_EINVAL;
  hone_bench *b = calloc(1, sizeof *b);
  if (!b) return HONE_ENOMEM;
  bool oom = false;
  b->prepare = dup_or_null(o.prepare, &oom);
  b->setup = dup_or_null(o.setup, &oom);
  b->cleanup = dup_or_null(o.cleanup, &oom);
  b->shell = dup_or_null(o.shell, &oom);
  o.prepare = b->prepare;
  o.setup = b->setup;
  o.cleanup = b->cleanup;
  o.shell = b->shell;
  b->o = o;
  for (int i = 0; i < HONE__BC_COUNT; i++) b->counters.fd[i] = -1;
  if (oom) {
    hone_bench_free(b);
    return HONE_ENOMEM;
  }
  *out = b;
  return 0;
}

void hone_bench_free(hone_bench *b) {
  if (!b) return;
  for (size_t i = 0; i < b->ncmds; i++) {
    bench_cmd *c = &b->cmds[i];
    free(c->line);
    hone_bench_argv_free(c->argv);
    for (size_t k = 0; k < 2 * c->nparams; k++) free(c->params[k]);
    free(c->params);
    free(c->s);
  }
  free(b->cmds);
  hone_bench_argv_free(b->prepare_argv);
  hone_bench_argv_free(b->setup_argv);
  hone_bench_argv_free(b->cleanup_argv);
  free(b->prepare);
  free(b->setup);
  free(b->cleanup);
  free(b->shell);
  if (b->counters_open) hone__bench_counters_close(&b->counters);
  free(b);
}

const char *hone_bench_error(const hone_bench *b) {
  return b ? b->err : "";
}

/* The argv that runs `line`: split without a shell, or through the shell. */
static int make_argv(hone_bench *b, const char *line, char ***argv) {
  *argv = NULL;
  if (b->shell) {
    char **v = calloc(4, sizeof *v);
    if (!v) return HONE_ENOMEM;
    v[0] = strdup(b->shell);
    v[1] = strdup("-c");
    v[2] = strdup(line);
    if (!v[0] || !v[1] || !v[2]) {
      hone_bench_argv_free(v);
      return HONE_ENOMEM;
    }
    *argv = v;
    return 0;
  }
  const char *what = NULL;
  int rc = hone_bench_split(line, argv, NULL, &what);
  if (rc < 0) set_err(b, "cannot run '%s' without a shell: %s", line, what ? what : "");
  return rc;
}

int hone_bench_add(hone_bench *b, const char *line, const char *const *params, size_t nparams) {
  if (!b || !line || !*line || (nparams && !params)) return HONE_EINVAL;
  if (b->ran) return HONE_ESTATE;
  bench_cmd c = {0};
  int rc = make_argv(b, line, &c.argv);
  if (rc < 0) return rc;
  c.line = strdup(line);
  c.params = nparams ? calloc(2 * nparams, sizeof *c.params) : NULL;
  bool oom = !c.line || (nparams && !c.params);
  for (size_t k = 0; !oom && k < 2 * nparams; k++)
    if (!params[k] || !(c.params[k] = strdup(params[k]))) oom = true;
  c.nparams = nparams;
  bench_cmd *cmds = oom ? NULL : realloc(b->cmds, (b->ncmds + 1) * sizeof *cmds);
  if (!cmds) {
    free(c.line);
    hone_bench_argv_free(c.argv);
    for (size_t k = 0; c.params && k < 2 * nparams; k++) free(c.params[k]);
    free(c.params);
    return HONE_ENOMEM;
  }
  b->cmds = cmds;
  b->cmds[b->ncmds] = c;
  return (int)b->ncmds++;
}

/* ---- Running ---- */

static uint64_t next_rand(hone_bench *b) {
  /* splitmix64: enough to shuffle a handful of commands, and reproducible from the seed. */
  uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static const char *describe(const hone__run_result *r, char *buf, size_t len) {
  if (r->timed_out)
    snprintf(buf, len, "timed out");
  else if (r->signal)
    snprintf(buf, len, "was killed by signal %d (%s)", r->signal, strsignal(r->signal));
  else
    snprintf(buf, len, "exited with status %d", r->exit_status);
  return buf;
}

static bool failed(const hone__run_result *r) {
  return r->timed_out || r->signal || r->exit_status != 0;
}

static int start_error(hone_bench *b, const char *what, const char *line, char *const *argv, int rc,
                       int e) {
  set_err(b, "%s '%s' cannot be started: %s: %s", what, line, argv[0], strerror(e));
  return rc;
}

/* An unmeasured helper command (prepare, setup, cleanup): it must start and succeed. */
static int run_helper(hone_bench *b, const char *what, const char *line, char **argv) {
  if (!argv) return 0;
  hone__run_result r;
  int e, rc = hone__bench_run_once(argv, b->o.timeout_s, b->o.show_output, NULL, &r, &e);
  if (rc == HONE_ENOENT || rc == HONE_EPERM) return start_error(b, what, line, argv, rc, e);
  if (rc < 0) {
    set_err(b, "%s '%s': %s", what, line, hone_strerror(rc));
    return rc;
  }
  if (failed(&r)) {
    char d[96];
    set_err(b, "%s '%s' %s", what, line, describe(&r, d, sizeof d));
    return HONE_ETASK;
  }
  return 0;
}

static int64_t floor0(int64_t v) {
  return v < 0 ? 0 : v;
}

/* One run of command i; recorded when `measured`. */
static int run_one(hone_bench *b, size_t i, bool measured, size_t round) {
  bench_cmd *c = &b->cmds[i];
  int rc = run_helper(b, "prepare command", b->prepare, b->prepare_argv);
  if (rc < 0) return rc;
  hone__run_result r;
  int e;
  rc = hone__bench_run_once(c->argv, b->o.timeout_s, b->o.show_output,
                            b->counters_open ? &b->counters : NULL, &r, &e);
  if (rc == HONE_ENOENT || rc == HONE_EPERM)
    return start_error(b, "command", c->line, c->argv, rc, e);
  if (rc < 0) {
    set_err(b, "command '%s': %s", c->line, hone_strerror(rc));
    return rc;
  }
  if (failed(&r) && !b->o.ignore_failure) {
    char d[96];
    set_err(b, "command '%s' %s%s", c->line, describe(&r, d, sizeof d),
            b->shell && r.exit_status == 127 ? " (the shell's 'command not found')" : "");
    return HONE_ETASK;
  }
  if (!measured) return 0;
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 16;
    hone_bench_sample *s = realloc(c->s, cap * sizeof *s);
    if (!s) return HONE_ENOMEM;
    c->s = s;
    c->cap = cap;
  }
  hone_bench_sample *s = &c->s[c->n++];
  memset(s, 0, sizeof *s);
  s->wall_ns = floor0(r.wall_ns - (int64_t)b->shell_wall_ns);
  s->user_ns = floor0(r.user_ns - (int64_t)b->shell_user_ns);
  s->sys_ns = floor0(r.sys_ns - (int64_t)b->shell_sys_ns);
  s->max_rss_bytes = r.max_rss_bytes;
  s->start_ns = r.t0_ns - b->t_start;
  s->round = round;
  s->exit_status = r.exit_status;
  s->signal = r.signal;
  s->timed_out = r.timed_out;
  s->cycles = r.counts[HONE__BC_CYCLES];
  s->instructions = r.counts[HONE__BC_INSTRUCTIONS];
  s->task_clock_ns = r.counts[HONE__BC_TASK_CLOCK];
  for (int k = 0; k < HONE__BC_COUNT; k++) b->counted[k] = b->counted[k] && r.counted[k];
  return 0;
}

/* The shell's own cost: `SH -c ''`, a few warmups then 30 measured runs. */
static int measure_shell(hone_bench *b) {
  char *argv[] = {b->shell, "-c", "", NULL};
  double w = 0, u = 0, s = 0;
  const size_t warm = 3, runs = 30;
  for (size_t k = 0; k < warm + runs; k++) {
    hone__run_result r;
    int e, rc = hone__bench_run_once(argv, 0, false, NULL, &r, &e);
    if (rc == HONE_ENOENT || rc == HONE_EPERM)
      return start_error(b, "shell", b->shell, argv, rc, e);
    if (rc < 0) return rc;
    if (failed(&r)) {
      char d[96];
      set_err(b, "the shell '%s -c \"\"' %s", b->shell, describe(&r, d, sizeof d));
      return HONE_ETASK;
    }
    if (k < warm) continue;
    w += (double)r.wall_ns;
    u += (double)r.user_ns;
    s += (double)r.sys_ns;
  }
  b->shell_wall_ns = w / (double)runs;
  b->shell_user_ns = u / (double)runs;
  b->shell_sys_ns = s / (double)runs;
  b->shell_runs = runs;
  return 0;
}

static double mean_wall(const bench_cmd *c) {
  double sum = 0;
  for (size_t k = 0; k < c->n; k++) sum += (double)c->s[k].wall_ns;
  return c->n ? sum / (double)c->n : 0;
}

static void report_progress(hone_bench *b, size_t i) {
  if (!b->o.progress) return;
  double left = 0;
  bool known = true;
  for (size_t k = 0; k < b->ncmds; k++) {
    bench_cmd *c = &b->cmds[k];
    if (c->n == 0) known = false;
    if (c->target > c->n) left += (double)(c->target - c->n) * mean_wall(c) / 1e9;
  }
  b->o.progress(b->o.progress_arg, i, b->cmds[i].line, b->cmds[i].n + 1, b->cmds[i].target,
                known ? left : -1);
}

/* Whether command `fastest` differs significantly from every other. */
static bool decided(const hone_bench *b) {
  size_t f = hone_bench_fastest(b);
  for (size_t j = 0; j < b->ncmds; j++) {
    if (j == f) continue;
    hone_bench_comparison cmp;
    if (hone_bench_compare(b, f, j, &cmp) < 0 || !cmp.significant) return false;
  }
  return true;
}

/* One round over the commands still short of their target (every command when `all`). */
static int run_round(hone_bench *b, size_t round, size_t *order, bool all) {
  size_t n = b->ncmds;
  for (size_t k = 0; k < n; k++) order[k] = k;
  for (size_t k = n; k > 1; k--) { /* Fisher-Yates */
    size_t j = (size_t)(next_rand(b) % k), t = order[k - 1];
    order[k - 1] = order[j];
    order[j] = t;
  }
  for (size_t k = 0; k < n; k++) {
    size_t i = order[k];
    if (!all && b->cmds[i].n >= b->cmds[i].target) continue;
    if (all && b->cmds[i].target <= b->cmds[i].n) b->cmds[i].target = b->cmds[i].n + 1;
    report_progress(b, i);
    int rc = run_one(b, i, true, round);
    if (rc < 0) return rc;
  }
  return 0;
}

static size_t auto_target(const hone_bench *b, const bench_cmd *c) {
  if (b->o.runs) return b->o.runs;
  double first = c->n ? (double)c->s[0].wall_ns / 1e9 : 0;
  size_t t = first > 0 ? (size_t)ceil(b->o.min_time_s / first) : b->o.min_runs;
  if (t < b->o.min_runs) t = b->o.min_runs;
  if (b->o.max_runs && t > b->o.max_runs) t = b->o.max_runs;
  return t;
}

static bool short_of_target(const hone_bench *b) {
  for (size_t i = 0; i < b->ncmds; i++)
    if (b->cmds[i].n < b->cmds[i].target) return true;
  return false;
}

static int run_all(hone_bench *b, size_t *order) {
  int rc;
  size_t round = 0;
  if (b->o.interleave) {
    for (size_t i = 0; i < b->ncmds; i++)
      if ((rc = run_helper(b, "setup command", b->setup, b->setup_argv)) < 0) return rc;
    for (size_t w = 0; w < b->o.warmup; w++)
      for (size_t i = 0; i < b->ncmds; i++)
        if ((rc = run_one(b, i, false, 0)) < 0) return rc;
    /* The first round sizes the automatic run counts. */
    for (size_t i = 0; i < b->ncmds; i++) b->cmds[i].target = b->o.runs ? b->o.runs : 1;
    if ((rc = run_round(b, round++, order, false)) < 0) return rc;
    for (size_t i = 0; i < b->ncmds; i++) b->cmds[i].target = auto_target(b, &b->cmds[i]);
    while (short_of_target(b))
      if ((rc = run_round(b, round++, order, false)) < 0) return rc;
  } else {
    for (size_t i = 0; i < b->ncmds; i++) {
      bench_cmd *c = &b->cmds[i];
      if ((rc = run_helper(b, "setup command", b->setup, b->setup_argv)) < 0) return rc;
      for (size_t w = 0; w < b->o.warmup; w++)
        if ((rc = run_one(b, i, false, 0)) < 0) return rc;
      c->target = b->o.runs ? b->o.runs : 1;
      for (size_t k = 0; c->n < c->target; k++) {
        report_progress(b, i);
        if ((rc = run_one(b, i, true, k)) < 0) return rc;
        if (k == 0) c->target = auto_target(b, c);
      }
      if ((rc = run_helper(b, "cleanup command", b->cleanup, b->cleanup_argv)) < 0) return rc;
    }
    round = 0;
    for (size_t i = 0; i < b->ncmds; i++)
      if (b->cmds[i].n > round) round = b->cmds[i].n;
  }
  if (b->o.until_significant && b->ncmds > 1) {
    while (!decided(b) && (double)(hone__bench_now_ns() - b->t_start) / 1e9 < b->o.max_time_s)
      if ((rc = run_round(b, round++, order, true)) < 0) return rc;
  }
  if (b->o.interleave)
    for (size_t i = 0; i < b->ncmds; i++)
      if ((rc = run_helper(b, "cleanup command", b->cleanup, b->cleanup_argv)) < 0) return rc;
  return 0;
}

int hone_bench_run(hone_bench *b) {
  if (!b) return HONE_EINVAL;
  if (b->ran || b->ncmds == 0) {
    set_err(b, "%s", b->ran ? "the benchmark already ran" : "no command to run");
    return HONE_ESTATE;
  }
  b->ran = true;
  b->err[0] = '\0';
  int rc;
  if ((b->prepare && (rc = make_argv(b, b->prepare, &b->prepare_argv)) < 0) ||
      (b->setup && (rc = make_argv(b, b->setup, &b->setup_argv)) < 0) ||
      (b->cleanup && (rc = make_argv(b, b->cleanup, &b->cleanup_argv)) < 0))
    return rc;
  b->seed = b->o.seed ? b->o.seed : (uint64_t)hone__bench_now_ns();
  b->rng = b->seed;
  for (int k = 0; k < HONE__BC_COUNT; k++) b->counted[k] = b->o.counters;
  if (b->o.counters) {
    hone__bench_counters_open(&b->counters);
    b->counters_open = true;
    snprintf(b->note, sizeof b->note, "%s", b->counters.note);
  } else {
    snprintf(b->note, sizeof b->note, "counters not requested");
  }
  size_t *order = malloc(b->ncmds * sizeof *order);
  if (!order) return HONE_ENOMEM;
  b->t_start = hone__bench_now_ns();
  rc = b->shell ? measure_shell(b) : 0;
  if (rc == 0) rc = run_all(b, order);
  free(order);
  if (b->counters_open) {
    hone__bench_counters_close(&b->counters);
    b->counters_open = false;
  }
  return rc;
}

/* ---- Results ---- */

size_t hone_bench_count(const hone_bench *b) {
  return b ? b->ncmds : 0;
}

const char *hone_bench_command(const hone_bench *b, size_t i) {
  return b && i < b->ncmds ? b->cmds[i].line : NULL;
}

const char *const *hone_bench_params(const hone_bench *b, size_t i, size_t *n) {
  if (n) *n = 0;
  if (!b || i >= b->ncmds) return NULL;
  if (n) *n = b->cmds[i].nparams;
  return (const char *const *)b->cmds[i].params;
}

const hone_bench_sample *hone_bench_samples(const hone_bench *b, size_t i, size_t *n) {
  if (n) *n = 0;
  if (!b || i >= b->ncmds) return NULL;
  if (n) *n = b->cmds[i].n;
  return b->cmds[i].s;
}

bool hone_bench_counter_available(const hone_bench *b, hone_bench_metric m) {
  if (!b || m < HONE_BENCH_CYCLES || m > HONE_BENCH_TASK_CLOCK) return false;
  return b->ran && b->counted[m - HONE_BENCH_CYCLES];
}

const char *hone_bench_counters_note(const hone_bench *b) {
  return b && b->note[0] ? b->note : NULL;
}

double hone_bench_shell_ns(const hone_bench *b, size_t *runs) {
  if (runs) *runs = b ? b->shell_runs : 0;
  return b ? b->shell_wall_ns : 0;
}

uint64_t hone_bench_seed(const hone_bench *b) {
  return b ? b->seed : 0;
}

static double metric_of(const hone_bench_sample *s, hone_bench_metric m) {
  switch (m) {
  case HONE_BENCH_WALL:
    return (double)s->wall_ns;
  case HONE_BENCH_USER:
    return (double)s->user_ns;
  case HONE_BENCH_SYS:
    return (double)s->sys_ns;
  case HONE_BENCH_RSS:
    return (double)s->max_rss_bytes;
  case HONE_BENCH_CYCLES:
    return (double)s->cycles;
  case HONE_BENCH_INSTRUCTIONS:
    return (double)s->instructions;
  default:
    return (double)s->task_clock_ns;
  }
}

/* The metric's values of command i in a new array (the caller frees it). */
static int values(const hone_bench *b, size_t i, hone_bench_metric m, double **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!b || i >= b->ncmds || (unsigned)m >= HONE_BENCH_METRIC_COUNT) return HONE_EINVAL;
  if (m >= HONE_BENCH_CYCLES && !hone_bench_counter_available(b, m)) return HONE_ENOTSUP;
  const bench_cmd *c = &b->cmds[i];
  if (c->n == 0) return HONE_EINVAL;
  double *v = malloc(c->n * sizeof *v);
  if (!v) return HONE_ENOMEM;
  for (size_t k = 0; k < c->n; k++) v[k] = metric_of(&c->s[k], m);
  *out = v;
  *n = c->n;
  return 0;
}

int hone_bench_stats(const hone_bench *b, size_t i, hone_bench_metric m, hone_stats *out) {
  if (!out) return HONE_EINVAL;
  double *v;
  size_t n;
  int rc = values(b, i, m, &v, &n);
  if (rc < 0) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  rc = hone_stats_compute(v, n, HONE_OUTLIER_TUKEY, out);
  free(v);
  return rc;
}

int hone_bench_compare(const hone_bench *b, size_t i, size_t j, hone_bench_comparison *out) {
  if (!out) return HONE_EINVAL;
  memset(out, 0, sizeof *out);
  double *a, *c;
  size_t na, nc;
  int rc = values(b, i, HONE_BENCH_WALL, &a, &na);
  if (rc < 0) return rc;
  rc = values(b, j, HONE_BENCH_WALL, &c, &nc);
  if (rc < 0) {
    free(a);
    return rc;
  }
  rc = hone_stats_ratio(c, nc, a, na, &out->ratio);
  if (rc == 0) rc = hone_stats_mann_whitney(a, na, c, nc, &out->test);
  if (rc == 0) out->significant = out->test.p < b->o.alpha;
  free(a);
  free(c);
  return rc;
}

size_t hone_bench_fastest(const hone_bench *b) {
  size_t best = 0;
  double best_mean = INFINITY;
  for (size_t i = 0; b && i < b->ncmds; i++) {
    if (b->cmds[i].n == 0) continue;
    double m = mean_wall(&b->cmds[i]);
    if (m < best_mean) best_mean = m, best = i;
  }
  return best;
}
