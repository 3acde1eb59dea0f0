/* report.c: `hone report` — pstats for hone's stats files. Reads and validates each file
 * (libhone's hone_profile_read), resolves every recorded address to (function, file, line) with
 * prof_symbols.c, derives pstats' figures from the calling-context trees with prof_agg.c (files
 * and threads merge by resolved function, like Stats.add), then sorts, restricts and prints them
 * as pstats' print_stats / print_callers / print_callees do, or as JSON or CSV rows
 * (docs/report-json.md).
 *
 * Layout: symbol resolution and aggregation live in the CLI, not libhone, because they need
 * libdw and libhone depends on libc + pthreads only (see prof_agg.h). */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "hone/profdata.h"
#include "prof_agg.h"
#include "prof_symbols.h"

#define CMD "report"
#define JSON_VERSION 1

/* ---- pstats' sort keys ------------------------------------------------------------------- */

enum field { F_CC, F_NC, F_TT, F_CT, F_FILE, F_LINE, F_NAME, F_STD };

typedef struct sort_key {
  const char *name;
  const char *desc; /* as pstats' "Ordered by:" line names it */
  int nfields;
  struct {
    enum field f;
    int dir; /* -1 descending, 1 ascending */
  } fields[3];
} sort_key;

static const sort_key sort_keys[] = {
    {"calls", "call count", 1, {{F_NC, -1}}},
    {"cumulative", "cumulative time", 1, {{F_CT, -1}}},
    {"cumtime", "cumulative time", 1, {{F_CT, -1}}},
    {"file", "file name", 1, {{F_FILE, 1}}},
    {"filename", "file name", 1, {{F_FILE, 1}}},
    {"line", "line number", 1, {{F_LINE, 1}}},
    {"module", "file name", 1, {{F_FILE, 1}}},
    {"name", "function name", 1, {{F_NAME, 1}}},
    {"ncalls", "call count", 1, {{F_NC, -1}}},
    {"nfl", "name/file/line", 3, {{F_NAME, 1}, {F_FILE, 1}, {F_LINE, 1}}},
    {"pcalls", "primitive call count", 1, {{F_CC, -1}}},
    {"stdname", "standard name", 1, {{F_STD, 1}}},
    {"time", "internal time", 1, {{F_TT, -1}}},
    {"tottime", "internal time", 1, {{F_TT, -1}}},
};
#define NKEYS (sizeof sort_keys / sizeof sort_keys[0])

/* A key by its name or, as pstats allows, an unambiguous prefix of it ("cum" is cumulative). */
static const sort_key *find_sort_key(const char *word) {
  const sort_key *found = NULL;
  size_t len = strlen(word);
  if (!len) return NULL;
  for (size_t i = 0; i < NKEYS; i++)
    if (strcmp(sort_keys[i].name, word) == 0) return &sort_keys[i];
  for (size_t i = 0; i < NKEYS; i++) {
    if (strncmp(sort_keys[i].name, word, len) != 0) continue;
    if (found && strcmp(found->desc, sort_keys[i].desc) != 0) return NULL;
    found = &sort_keys[i];
  }
  return found;
}

/* ---- functions: resolved identities, interned -------------------------------------------- */

typedef struct func {
  char *name, *file;
  unsigned line;
  char *std; /* pstats' func_std_string: "file:line(name)" */
} func;

typedef struct func_table {
  func *v;
  size_t n, cap;
  uint32_t *ht; /* index + 1 */
  size_t htcap;
} func_table;

static uint64_t hash_str(uint64_t h, const char *s) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

static uint64_t func_hash(const char *name, const char *file, unsigned line) {
  uint64_t h = hash_str(0xcbf29ce484222325ull, name);
  h = hash_str(h * 31 + line, file);
  return h ^ (h >> 29);
}

static int ft_rehash(func_table *t, size_t cap) {
  uint32_t *ht = calloc(cap, sizeof *ht);
  if (!ht) return HONE_ENOMEM;
  for (size_t i = 0; i < t->n; i++) {
    size_t h = func_hash(t->v[i].name, t->v[i].file, t->v[i].line) & (cap - 1);
    while (ht[h]) h = (h + 1) & (cap - 1);
    ht[h] = (uint32_t)(i + 1);
  }
  free(t->ht);
  t->ht = ht;
  t->htcap = cap;
  return 0;
}

/* pstats' func_std_string: "{name}" for ("~", 0, "<name>"), "name" for other "~" entries. */
static char *std_string(const char *file, unsigned line, const char *name) {
  char *s = NULL;
  int rc;
  if (strcmp(file, "~") == 0 && line == 0) {
    size_t len = strlen(name);
    if (len >= 2 && name[0] == '<' && name[len - 1] == '>')
      rc = asprintf(&s, "{%.*s}", (int)(len - 2), name + 1);
    else
      rc = asprintf(&s, "%s", name);
  } else {
    rc = asprintf(&s, "%s:%u(%s)", file, line, name);
  }
  return rc < 0 ? NULL : s;
}

/* The id of (name, file, line), added when new; negative hone_err on failure. */
static int64_t ft_intern(func_table *t, const char *name, const char *file, unsigned line) {
  if ((t->n + 1) * 2 > t->htcap) {
    int rc = ft_rehash(t, t->htcap ? t->htcap * 2 : 256);
    if (rc) return rc;
  }
  size_t h = func_hash(name, file, line) & (t->htcap - 1);
  for (; t->ht[h]; h = (h + 1) & (t->htcap - 1)) {
    const func *f = &t->v[t->ht[h] - 1];
    if (f->line == line && strcmp(f->name, name) == 0 && strcmp(f->file, file) == 0)
      return t->ht[h] - 1;
  }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    func *nv = realloc(t->v, cap * sizeof *nv);
    if (!nv) return HONE_ENOMEM;
    t->v = nv;
    t->cap = cap;
  }
  func *f = &t->v[t->n];
  f->name = strdup(name);
  f->file = strdup(file);
  f->line = line;
  f->std = std_string(file, line, name);
  if (!f->name || !f->file || !f->std) {
    free(f->name);
    free(f->file);
    free(f->std);
    return HONE_ENOMEM;
  }
  t->ht[h] = (uint32_t)(t->n + 1);
  return (int64_t)t->n++;
}

static void ft_free(func_table *t) {
  for (size_t i = 0; i < t->n; i++) {
    free(t->v[i].name);
    free(t->v[i].file);
    free(t->v[i].std);
  }
  free(t->v);
  free(t->ht);
}

/* ---- address -> function id, per input file ---------------------------------------------- */

typedef struct addr_map {
  uint64_t *keys;
  uint32_t *vals; /* fid + 1, 0 = empty */
  size_t n, cap;
} addr_map;

static size_t addr_hash(uint64_t a, size_t cap) {
  return (size_t)((a * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static int am_grow(addr_map *m) {
  size_t cap = m->cap ? m->cap * 2 : 1024;
  uint64_t *k = calloc(cap, sizeof *k);
  uint32_t *v = calloc(cap, sizeof *v);
  if (!k || !v) {
    free(k);
    free(v);
    return HONE_ENOMEM;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->vals[i]) continue;
    size_t h = addr_hash(m->keys[i], cap);
    while (v[h]) h = (h + 1) & (cap - 1);
    k[h] = m->keys[i];
    v[h] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = k;
  m->vals = v;
  m->cap = cap;
  return 0;
}

/* ---- the inputs --------------------------------------------------------------------------- */

typedef struct input {
  const char *path;
  hone_profile *p;
  const hone_prof_info *info;
  uint32_t **fids; /* per thread, per node */
  size_t nthreads;
  hone__pa_cost cost;
  int warned;
} input;

typedef struct options {
  const sort_key *keys[32];
  size_t nkeys;
  bool has_limit, limit_frac;
  unsigned long long limit_n;
  double limit_f;
  const char *limit_text;
  const char *filter_text;
  regex_t filter;
  const char *callers_text, *callees_text;
  regex_t callers, callees;
  bool strip_dirs, threads, raw, json, csv;
} options;

static void warn_cb(void *ctx, const char *msg) {
  input *in = ctx;
  fprintf(stderr, "hone " CMD ": warning: %s: %s\n", in->path, msg);
}

static const char *basename_of(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Resolves every node of every thread of `in` to a function id. */
static int resolve_input(input *in, func_table *ft, const options *o) {
  int rc = 0;
  addr_map am = {0};
  hone__syms *syms = hone__syms_new(warn_cb, in);
  in->nthreads = hone_profile_thread_count(in->p);
  in->fids = calloc(in->nthreads ? in->nthreads : 1, sizeof *in->fids);
  if (!syms || !in->fids) {
    rc = HONE_ENOMEM;
    goto out;
  }
  for (size_t i = 0, n = hone_profile_mapping_count(in->p); i < n; i++)
    if ((rc = hone__syms_add_mapping(syms, hone_profile_mapping(in->p, i)))) goto out;
  for (size_t t = 0; t < in->nthreads; t++) {
    const hone_prof_thread *th = hone_profile_thread(in->p, t);
    if (!(in->fids[t] = malloc((th->nnodes ? th->nnodes : 1) * sizeof(uint32_t)))) {
      rc = HONE_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < th->nnodes; i++) {
      uint64_t a = th->nodes[i].func;
      if ((am.n + 1) * 2 > am.cap && (rc = am_grow(&am))) goto out;
      size_t h = addr_hash(a, am.cap);
      while (am.vals[h] && am.keys[h] != a) h = (h + 1) & (am.cap - 1);
      if (!am.vals[h]) {
        hone__sym s;
        if ((rc = hone__syms_resolve(syms, a, &s))) goto out;
        const char *file = o->strip_dirs && strcmp(s.file, "~") ? basename_of(s.file) : s.file;
        int64_t id = ft_intern(ft, s.name, file, s.line);
        if (id < 0) {
          rc = (int)id;
          goto out;
        }
        am.keys[h] = a;
        am.vals[h] = (uint32_t)id + 1;
        am.n++;
      }
      in->fids[t][i] = am.vals[h] - 1;
    }
  }
out:
  hone__syms_free(syms);
  free(am.keys);
  free(am.vals);
  return rc;
}

/* ---- sections: the merged whole, or one per thread ---------------------------------------- */

typedef struct section {
  hone__pa pa;
  const input *in;            /* for --threads: the file and thread shown */
  const hone_prof_thread *th; /* NULL: everything merged */
  uint64_t total_calls, prim_calls;
  double total_tt;
  uint32_t *rows; /* fids with calls, sorted */
  size_t nrows;
} section;

typedef struct sort_ctx {
  const func_table *ft;
  const hone__pa *pa;
  const options *o;
} sort_ctx;

static int cmp_u64(uint64_t a, uint64_t b) {
  return a < b ? -1 : a > b;
}
static int cmp_dbl(double a, double b) {
  return a < b ? -1 : a > b;
}

static int compare_rows(const void *pa, const void *pb, void *arg) {
  const sort_ctx *c = arg;
  uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
  const hone__pa_stat *sa = &c->pa->funcs[a], *sb = &c->pa->funcs[b];
  const func *fa = &c->ft->v[a], *fb = &c->ft->v[b];
  for (size_t k = 0; k < c->o->nkeys; k++) {
    const sort_key *key = c->o->keys[k];
    for (int i = 0; i < key->nfields; i++) {
      int r = 0;
      switch (key->fields[i].f) {
      case F_CC:
        r = cmp_u64(sa->cc, sb->cc);
        break;
      case F_NC:
        r = cmp_u64(sa->nc, sb->nc);
        break;
      case F_TT:
        r = cmp_dbl(sa->tt, sb->tt);
        break;
      case F_CT:
        r = cmp_dbl(sa->ct, sb->ct);
        break;
      case F_FILE:
        r = strcmp(fa->file, fb->file);
        break;
      case F_LINE:
        r = cmp_u64(fa->line, fb->line);
        break;
      case F_NAME:
        r = strcmp(fa->name, fb->name);
        break;
      case F_STD:
        r = strcmp(fa->std, fb->std);
        break;
      }
      if (r) return r * key->fields[i].dir;
    }
  }
  return cmp_u64(a, b); /* stable: first seen first, as pstats' stable sort keeps them */
}

static int build_rows(section *s, const func_table *ft, const options *o) {
  s->rows = malloc((s->pa.nfuncs ? s->pa.nfuncs : 1) * sizeof *s->rows);
  if (!s->rows) return HONE_ENOMEM;
  for (uint32_t f = 0; f < s->pa.nfuncs; f++) {
    const hone__pa_stat *st = &s->pa.funcs[f];
    if (!st->nc) continue;
    s->rows[s->nrows++] = f;
    s->total_calls += st->nc;
    s->prim_calls += st->cc;
    s->total_tt += st->tt;
  }
  sort_ctx c = {ft, &s->pa, o};
  qsort_r(s->rows, s->nrows, sizeof *s->rows, compare_rows, &c);
  return 0;
}

/* ---- restrictions (pstats' eval_print_amount) --------------------------------------------- */

/* Python's repr() of a str, for the "due to restriction <...>" line. */
static void print_py_repr(FILE *out, const char *s) {
  char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
  fputc(q, out);
  for (; *s; s++) {
    if (*s == '\\' || *s == q) fputc('\\', out);
    fputc(*s, out);
  }
  fputc(q, out);
}

/* Python's repr() of a float: the shortest text that reads back as the same value. */
static void fmt_py_float(char *buf, size_t len, double v) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, len, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  if (!strpbrk(buf, ".en")) strncat(buf, ".0", len - strlen(buf) - 1);
}

typedef struct restriction {
  const regex_t *re; /* or a limit */
  const char *text;
  bool frac;
  unsigned long long n;
  double f;
} restriction;

/* Applies one restriction to list[0..*count); appends pstats' message when it shrinks. */
static void restrict_list(const func_table *ft, const restriction *r, uint32_t *list, size_t *count,
                          FILE *msgf) {
  size_t before = *count, after = before;
  if (r->re) {
    after = 0;
    for (size_t i = 0; i < before; i++)
      if (regexec(r->re, ft->v[list[i]].std, 0, NULL, 0) == 0) list[after++] = list[i];
  } else if (r->frac) {
    if (r->f >= 0.0 && r->f < 1.0) after = (size_t)((double)before * r->f + 0.5);
  } else if (r->n < before) {
    after = (size_t)r->n;
  }
  *count = after;
  if (after == before || !msgf) return;
  fprintf(msgf, "   List reduced from %zu to %zu due to restriction <", before, after);
  if (r->re) {
    print_py_repr(msgf, r->text);
  } else if (r->frac) {
    char b[40];
    fmt_py_float(b, sizeof b, r->f);
    fputs(b, msgf);
  } else {
    fprintf(msgf, "%llu", r->n);
  }
  fputs(">\n", msgf);
}

/* The listed functions (a copy of the sorted rows after the restrictions) and pstats' message
 * ("Ordered by", then one line per restriction that shrank the list). */
static int print_list(const section *s, const func_table *ft, const options *o, const regex_t *sel,
                      const char *sel_text, uint32_t **out, size_t *count, char **msg) {
  uint32_t *list = malloc((s->nrows ? s->nrows : 1) * sizeof *list);
  if (!list) return HONE_ENOMEM;
  memcpy(list, s->rows, s->nrows * sizeof *list);
  size_t n = s->nrows;
  size_t mlen = 0;
  char *m = NULL;
  FILE *mf = open_memstream(&m, &mlen);
  if (!mf) {
    free(list);
    return HONE_ENOMEM;
  }
  fputs("   Ordered by: ", mf);
  for (size_t k = 0; k < o->nkeys; k++) fprintf(mf, "%s%s", k ? ", " : "", o->keys[k]->desc);
  fputc('\n', mf);
  restriction rs[3];
  size_t nr = 0;
  if (sel) rs[nr++] = (restriction){.re = sel, .text = sel_text};
  if (o->filter_text) rs[nr++] = (restriction){.re = &o->filter, .text = o->filter_text};
  if (o->has_limit)
    rs[nr++] = (restriction){.frac = o->limit_frac, .n = o->limit_n, .f = o->limit_f};
  for (size_t i = 0; i < nr; i++) restrict_list(ft, &rs[i], list, &n, mf);
  if (fclose(mf) != 0) {
    free(m);
    free(list);
    return HONE_ENOMEM;
  }
  *out = list;
  *count = n;
  *msg = m;
  return 0;
}

/* ---- text output (pstats' layout) --------------------------------------------------------- */

static void f8(double x) {
  printf("%8.3f", x);
}

static void print_stat_line(const hone__pa_stat *st, const func *f) {
  char c[48];
  if (st->nc != st->cc)
    snprintf(c, sizeof c, "%" PRIu64 "/%" PRIu64, st->nc, st->cc);
  else
    snprintf(c, sizeof c, "%" PRIu64, st->nc);
  printf("%9s ", c);
  f8(st->tt);
  putchar(' ');
  if (st->nc == 0)
    printf("%8s", "");
  else
    f8(st->tt / (double)st->nc);
  putchar(' ');
  f8(st->ct);
  putchar(' ');
  if (st->cc == 0)
    printf("%8s", "");
  else
    f8(st->ct / (double)st->cc);
  printf(" %s\n", f->std);
}

typedef struct edge_ref {
  uint32_t other;
  const hone__pa_stat *s;
} edge_ref;

static const func_table *edge_sort_ft;
static int compare_edges(const void *pa, const void *pb) {
  const func *a = &edge_sort_ft->v[((const edge_ref *)pa)->other];
  const func *b = &edge_sort_ft->v[((const edge_ref *)pb)->other];
  int r = strcmp(a->file, b->file);
  if (!r) r = cmp_u64(a->line, b->line);
  if (!r) r = strcmp(a->name, b->name);
  return r;
}

/* The edges into (callers) or out of (callees) fid, sorted as pstats sorts the func tuples. */
static edge_ref *edges_of(const hone__pa *pa, const func_table *ft, uint32_t fid, bool callers,
                          size_t *count) {
  size_t n = 0;
  edge_ref *v = malloc((pa->nedges ? pa->nedges : 1) * sizeof *v);
  if (!v) return NULL;
  for (size_t i = 0; i < pa->nedges; i++) {
    const hone__pa_edge *e = &pa->edges[i];
    if (!e->s.nc) continue;
    if (callers && e->callee == fid) v[n++] = (edge_ref){e->caller, &e->s};
    if (!callers && e->caller == fid) v[n++] = (edge_ref){e->callee, &e->s};
  }
  edge_sort_ft = ft;
  qsort(v, n, sizeof *v, compare_edges);
  *count = n;
  return v;
}

static size_t name_width(const func_table *ft, const uint32_t *list, size_t n) {
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (strlen(ft->v[list[i]].std) > w) w = strlen(ft->v[list[i]].std);
  return w;
}

/* pstats' print_callers / print_callees. */
static int print_calls_text(const section *s, const func_table *ft, const options *o,
                            bool callers) {
  uint32_t *list;
  size_t n;
  char *msg;
  int rc = print_list(s, ft, o, callers ? &o->callers : &o->callees,
                      callers ? o->callers_text : o->callees_text, &list, &n, &msg);
  if (rc) return rc;
  if (n) {
    printf("%s\n", msg);
    size_t width = 2 + (n < s->nrows ? name_width(ft, list, n) : name_width(ft, s->rows, s->nrows));
    printf("%-*s%s\n", (int)width, "Function ", callers ? "was called by..." : "called...");
    printf("%*s    ncalls  tottime  cumtime\n", (int)width, "");
    for (size_t i = 0; i < n && !rc; i++) {
      printf("%-*s%s ", (int)width, ft->v[list[i]].std, callers ? "<-" : "->");
      size_t ne;
      edge_ref *e = edges_of(&s->pa, ft, list[i], callers, &ne);
      if (!e) {
        rc = HONE_ENOMEM;
        break;
      }
      if (!ne) putchar('\n');
      for (size_t j = 0; j < ne; j++) {
        char c[48];
        if (e[j].s->nc != e[j].s->cc)
          snprintf(c, sizeof c, "%" PRIu64 "/%" PRIu64, e[j].s->nc, e[j].s->cc);
        else
          snprintf(c, sizeof c, "%" PRIu64, e[j].s->nc);
        if (j) printf("%*s", (int)width + 1, "");
        printf("%*s ", j ? 9 : 7, c);
        f8(e[j].s->tt);
        putchar(' ');
        f8(e[j].s->ct);
        printf("  %s\n", ft->v[e[j].other].std);
      }
      free(e);
    }
    printf("\n\n");
  }
  free(list);
  free(msg);
  return rc;
}

static int print_stats_text(const section *s, const func_table *ft, const options *o) {
  printf("         %" PRIu64 " function calls", s->total_calls);
  if (s->total_calls != s->prim_calls) printf(" (%" PRIu64 " primitive calls)", s->prim_calls);
  printf(" in %.3f seconds\n\n", s->total_tt);
  uint32_t *list;
  size_t n;
  char *msg;
  int rc = print_list(s, ft, o, NULL, NULL, &list, &n, &msg);
  if (rc) return rc;
  if (n) {
    printf("%s\n", msg);
    printf("   ncalls  tottime  percall  cumtime  percall filename:lineno(function)\n");
    for (size_t i = 0; i < n; i++) print_stat_line(&s->pa.funcs[list[i]], &ft->v[list[i]]);
    printf("\n\n");
  }
  free(list);
  free(msg);
  return 0;
}

static void fmt_start(const hone_prof_info *info, char *buf, size_t len) {
  time_t t = (time_t)(info->start_unix_ns / 1000000000);
  struct tm tm;
  if (!localtime_r(&t, &tm) || !strftime(buf, len, "%a %b %e %H:%M:%S %Y", &tm))
    snprintf(buf, len, "?");
}

/* Per call, the cost removed (or, with --raw, left in), in ns. */
static double cost_ns(const input *in) {
  const hone_prof_info *i = in->info;
  if (i->ticks_per_second <= 0) return 0;
  return (i->overhead_inner_ticks + i->overhead_outer_ticks) / i->ticks_per_second * 1e9;
}

static void print_preamble_text(const input *ins, size_t nin, const options *o) {
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < nin; i++) {
    char when[64];
    fmt_start(ins[i].info, when, sizeof when);
    printf("%s    %s\n", when, ins[i].path);
    double c = cost_ns(&ins[i]);
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  char a[32], b[32], range[80];
  hone__cli_fmt_ns(lo, a, sizeof a);
  hone__cli_fmt_ns(hi, b, sizeof b);
  if (hi - lo < 0.05)
    snprintf(range, sizeof range, "%s", a);
  else
    snprintf(range, sizeof range, "%s to %s", a, b);
  if (hi <= 0)
    printf("   Times as measured (no calibrated profiler cost was recorded).\n");
  else if (o->raw)
    printf("   Times as measured (--raw): they include the profiler's own cost, %s per call.\n",
           range);
  else
    printf("   Times exclude the profiler's own cost, calibrated at %s per call (--raw: as "
           "measured).\n",
           range);
  printf("\n");
}

static void print_section_title(const section *s) {
  if (!s->th) return;
  printf("   Thread %" PRIu64 " \"%s\" of %s\n\n", s->th->tid, s->th->name ? s->th->name : "",
         s->in->path);
}

/* ---- JSON and CSV ------------------------------------------------------------------------- */

static cJSON *stat_json(const hone__pa_stat *st) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "ncalls", (double)st->nc);
  cJSON_AddNumberToObject(o, "primitive_calls", (double)st->cc);
  cJSON_AddNumberToObject(o, "tottime", st->tt);
  cJSON_AddNumberToObject(o, "cumtime", st->ct);
  return o;
}

static void add_func_json(cJSON *o, const func *f) {
  cJSON_AddStringToObject(o, "function", f->name);
  cJSON_AddStringToObject(o, "filename", f->file);
  cJSON_AddNumberToObject(o, "line", f->line);
  cJSON_AddStringToObject(o, "name", f->std);
}

static int section_json(cJSON *arr, const section *s, const func_table *ft, const options *o) {
  cJSON *js = cJSON_CreateObject();
  cJSON_AddItemToArray(arr, js);
  if (s->th) {
    cJSON *th = cJSON_AddObjectToObject(js, "thread");
    cJSON_AddNumberToObject(th, "tid", (double)s->th->tid);
    cJSON_AddStringToObject(th, "name", s->th->name ? s->th->name : "");
    cJSON_AddStringToObject(th, "file", s->in->path);
  } else {
    cJSON_AddNullToObject(js, "thread");
  }
  cJSON_AddNumberToObject(js, "total_calls", (double)s->total_calls);
  cJSON_AddNumberToObject(js, "primitive_calls", (double)s->prim_calls);
  cJSON_AddNumberToObject(js, "total_time", s->total_tt);
  cJSON_AddNumberToObject(js, "functions", (double)s->nrows);
  const bool which[2] = {o->callers_text != NULL, o->callees_text != NULL};
  bool calls_mode = which[0] || which[1];
  for (int k = calls_mode ? 0 : 2; k < (calls_mode ? 2 : 3); k++) {
    if (k < 2 && !which[k]) continue;
    uint32_t *list;
    size_t n;
    char *msg;
    int rc = k < 2 ? print_list(s, ft, o, k == 0 ? &o->callers : &o->callees,
                                k == 0 ? o->callers_text : o->callees_text, &list, &n, &msg)
                   : print_list(s, ft, o, NULL, NULL, &list, &n, &msg);
    if (rc) return rc;
    free(msg);
    cJSON *rows = cJSON_AddArrayToObject(js, k == 0 ? "callers" : k == 1 ? "callees" : "rows");
    for (size_t i = 0; i < n; i++) {
      const hone__pa_stat *st = &s->pa.funcs[list[i]];
      cJSON *r = stat_json(st);
      if (st->nc)
        cJSON_AddNumberToObject(r, "tottime_percall", st->tt / (double)st->nc);
      else
        cJSON_AddNullToObject(r, "tottime_percall");
      if (st->cc)
        cJSON_AddNumberToObject(r, "cumtime_percall", st->ct / (double)st->cc);
      else
        cJSON_AddNullToObject(r, "cumtime_percall");
      add_func_json(r, &ft->v[list[i]]);
      if (k < 2) {
        size_t ne;
        edge_ref *e = edges_of(&s->pa, ft, list[i], k == 0, &ne);
        if (!e) {
          free(list);
          return HONE_ENOMEM;
        }
        cJSON *ea = cJSON_AddArrayToObject(r, k == 0 ? "callers" : "callees");
        for (size_t j = 0; j < ne; j++) {
          cJSON *eo = stat_json(e[j].s);
          add_func_json(eo, &ft->v[e[j].other]);
          cJSON_AddItemToArray(ea, eo);
        }
        free(e);
      }
      cJSON_AddItemToArray(rows, r);
    }
    free(list);
  }
  return 0;
}

static int print_json(const section *secs, size_t nsec, const input *ins, size_t nin,
                      const func_table *ft, const options *o) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddNumberToObject(root, "version", JSON_VERSION);
  cJSON_AddBoolToObject(root, "corrected", !o->raw);
  cJSON *files = cJSON_AddArrayToObject(root, "files");
  for (size_t i = 0; i < nin; i++) {
    const hone_prof_info *in = ins[i].info;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "path", ins[i].path);
    cJSON_AddNumberToObject(f, "format_version", in->version);
    cJSON_AddNumberToObject(f, "pid", (double)in->pid);
    cJSON *argv = cJSON_AddArrayToObject(f, "argv");
    for (size_t a = 0; a < in->argc; a++)
      cJSON_AddItemToArray(argv, cJSON_CreateString(in->argv[a] ? in->argv[a] : ""));
    cJSON_AddStringToObject(f, "clock", in->clock ? in->clock : "");
    cJSON_AddStringToObject(f, "machine", in->machine ? in->machine : "");
    cJSON_AddNumberToObject(f, "start_unix", (double)in->start_unix_ns / 1e9);
    cJSON_AddNumberToObject(
        f, "total_time",
        in->ticks_per_second > 0 ? (double)in->total_ticks / in->ticks_per_second : 0);
    cJSON_AddNumberToObject(f, "overhead_ns_per_call", cost_ns(&ins[i]));
    cJSON_AddItemToArray(files, f);
  }
  cJSON *sort = cJSON_AddArrayToObject(root, "sort");
  for (size_t k = 0; k < o->nkeys; k++)
    cJSON_AddItemToArray(sort, cJSON_CreateString(o->keys[k]->name));
  cJSON *reports = cJSON_AddArrayToObject(root, "reports");
  int rc = 0;
  for (size_t i = 0; i < nsec && !rc; i++) rc = section_json(reports, &secs[i], ft, o);
  if (!rc) {
    char *text = cJSON_Print(root);
    if (text) {
      printf("%s\n", text);
      free(text);
    } else {
      rc = HONE_ENOMEM;
    }
  }
  cJSON_Delete(root);
  return rc;
}

static void thread_label(const section *s, char *buf, size_t len) {
  if (s->th)
    snprintf(buf, len, "%" PRIu64, s->th->tid);
  else
    snprintf(buf, len, "all");
}

static int print_csv(const section *secs, size_t nsec, const func_table *ft, const options *o) {
  bool calls_mode = o->callers_text || o->callees_text;
  static const char *const stat_cols[] = {
      "thread",  "ncalls",          "primitive_calls", "tottime", "tottime_percall",
      "cumtime", "cumtime_percall", "filename",        "line",    "function"};
  static const char *const edge_cols[] = {
      "thread",  "relation", "name",           "ncalls",     "primitive_calls",
      "tottime", "cumtime",  "other_filename", "other_line", "other_function"};
  hone__table *t = hone__table_new(10, calls_mode ? edge_cols : stat_cols, NULL);
  if (!t) return HONE_ENOMEM;
  int rc = 0;
  for (size_t si = 0; si < nsec && !rc; si++) {
    const section *s = &secs[si];
    char th[32];
    thread_label(s, th, sizeof th);
    for (int k = calls_mode ? 0 : 2; k < (calls_mode ? 2 : 3) && !rc; k++) {
      if (k == 0 && !o->callers_text) continue;
      if (k == 1 && !o->callees_text) continue;
      uint32_t *list;
      size_t n;
      char *msg;
      rc = k < 2 ? print_list(s, ft, o, k == 0 ? &o->callers : &o->callees,
                              k == 0 ? o->callers_text : o->callees_text, &list, &n, &msg)
                 : print_list(s, ft, o, NULL, NULL, &list, &n, &msg);
      if (rc) break;
      free(msg);
      for (size_t i = 0; i < n && !rc; i++) {
        const hone__pa_stat *st = &s->pa.funcs[list[i]];
        const func *f = &ft->v[list[i]];
        if (k == 2) {
          char nc[32], cc[32], tt[40], tp[40], ct[40], cp[40], line[16];
          snprintf(nc, sizeof nc, "%" PRIu64, st->nc);
          snprintf(cc, sizeof cc, "%" PRIu64, st->cc);
          snprintf(tt, sizeof tt, "%.9f", st->tt);
          snprintf(tp, sizeof tp, "%.9f", st->nc ? st->tt / (double)st->nc : 0.0);
          snprintf(ct, sizeof ct, "%.9f", st->ct);
          snprintf(cp, sizeof cp, "%.9f", st->cc ? st->ct / (double)st->cc : 0.0);
          snprintf(line, sizeof line, "%u", f->line);
          const char *cells[] = {th, nc, cc, tt, tp, ct, cp, f->file, line, f->name};
          rc = hone__table_add(t, cells);
          continue;
        }
        size_t ne;
        edge_ref *e = edges_of(&s->pa, ft, list[i], k == 0, &ne);
        if (!e) {
          rc = HONE_ENOMEM;
          break;
        }
        for (size_t j = 0; j < ne && !rc; j++) {
          const func *of = &ft->v[e[j].other];
          char nc[32], cc[32], tt[40], ct[40], line[16];
          snprintf(nc, sizeof nc, "%" PRIu64, e[j].s->nc);
          snprintf(cc, sizeof cc, "%" PRIu64, e[j].s->cc);
          snprintf(tt, sizeof tt, "%.9f", e[j].s->tt);
          snprintf(ct, sizeof ct, "%.9f", e[j].s->ct);
          snprintf(line, sizeof line, "%u", of->line);
          const char *cells[] = {
              th, k == 0 ? "caller" : "callee", f->std, nc, cc, tt, ct, of->file, line, of->name};
          rc = hone__table_add(t, cells);
        }
        free(e);
      }
      free(list);
    }
  }
  if (!rc) hone__table_print_csv(t, stdout);
  hone__table_free(t);
  return rc;
}

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
          "  -h, --help               this help\n");
}

static int compile_regex(regex_t *re, const char *text, const char *what) {
  int rc = regcomp(re, text, REG_EXTENDED | REG_NOSUB);
  if (rc) {
    char msg[256];
    regerror(rc, re, msg, sizeof msg);
    return hone__cli_usage_error(CMD, "%s: invalid regular expression '%s': %s", what, text, msg);
  }
  return 0;
}

static int parse_sort(options *o, const char *arg) {
  char *copy = strdup(arg), *save = NULL;
  if (!copy) return hone__cli_error(CMD, "%s", hone_strerror(HONE_ENOMEM));
  int rc = 0;
  for (char *w = strtok_r(copy, ",", &save); w && !rc; w = strtok_r(NULL, ",", &save)) {
    while (*w == ' ') w++;
    const sort_key *k = find_sort_key(w);
    if (!k)
      rc = hone__cli_usage_error(CMD,
                                 "unknown or ambiguous sort key '%s' (calls, cumulative, cumtime, "
                                 "file, filename, module, line, name, ncalls, nfl, pcalls, "
                                 "stdname, time, tottime)",
                                 w);
    else if (o->nkeys == sizeof o->keys / sizeof o->keys[0])
      rc = hone__cli_usage_error(CMD, "too many sort keys");
    else
      o->keys[o->nkeys++] = k;
  }
  free(copy);
  return rc;
}

static int parse_limit(options *o, const char *arg) {
  o->limit_text = arg;
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
  OPT_CSV
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
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  optind = 0;
  opterr = 0;
  int c, rc;
  while ((c = getopt_long(argc, argv, ":s:l:h", longopts, NULL)) != -1) {
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
  if (o->nkeys == 0) o->keys[o->nkeys++] = find_sort_key("cumulative");
  return 0;
}

int hone__cmd_report(int argc, char **argv) {
  options o = {0};
  bool help = false;
  int rc = parse_options(argc, argv, &o, &help);
  if (rc || help) {
    if (help) usage(stdout);
    return rc;
  }
  bool have_filter = false, have_callers = false, have_callees = false;
  if (o.filter_text) {
    if ((rc = compile_regex(&o.filter, o.filter_text, "--filter"))) return rc;
    have_filter = true;
  }
  if (o.callers_text) {
    if ((rc = compile_regex(&o.callers, o.callers_text, "--callers"))) goto out_re;
    have_callers = true;
  }
  if (o.callees_text) {
    if ((rc = compile_regex(&o.callees, o.callees_text, "--callees"))) goto out_re;
    have_callees = true;
  }

  size_t nin = (size_t)(argc - optind);
  input *ins = calloc(nin, sizeof *ins);
  func_table ft = {0};
  section *secs = NULL;
  size_t nsec = 0;
  if (!ins) {
    rc = hone__cli_error(CMD, "%s", hone_strerror(HONE_ENOMEM));
    goto out_re;
  }
  for (size_t i = 0; i < nin; i++) {
    input *in = &ins[i];
    in->path = argv[optind + (int)i];
    char msg[512] = "";
    int err = hone_profile_read(in->path, &in->p, msg, sizeof msg);
    if (err < 0) {
      /* The reader's message usually names the file already. */
      size_t plen = strlen(in->path);
      if (strncmp(msg, in->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
        rc = hone__cli_error(CMD, "%s", msg);
      else
        rc = hone__cli_error(CMD, "%s: %s", in->path, msg[0] ? msg : hone_strerror(err));
      goto out;
    }
    in->info = hone_profile_info(in->p);
    in->cost = (hone__pa_cost){.ticks_per_second = in->info->ticks_per_second,
                               .inner = in->info->overhead_inner_ticks,
                               .outer = in->info->overhead_outer_ticks,
                               .raw = o.raw};
    if ((err = resolve_input(in, &ft, &o))) {
      rc = hone__cli_error(CMD, "%s: %s", in->path, hone_strerror(err));
      goto out;
    }
  }

  /* One section for everything, or one per thread of every file. */
  size_t want = 1;
  if (o.threads) {
    want = 0;
    for (size_t i = 0; i < nin; i++) want += ins[i].nthreads;
  }
  if (!(secs = calloc(want ? want : 1, sizeof *secs))) {
    rc = hone__cli_error(CMD, "%s", hone_strerror(HONE_ENOMEM));
    goto out;
  }
  if (!o.threads) hone__pa_init(&secs[nsec++].pa);
  for (size_t i = 0; i < nin; i++) {
    for (size_t t = 0; t < ins[i].nthreads; t++) {
      const hone_prof_thread *th = hone_profile_thread(ins[i].p, t);
      section *s = &secs[0];
      if (o.threads) {
        s = &secs[nsec++];
        hone__pa_init(&s->pa);
        s->in = &ins[i];
        s->th = th;
      }
      int err = hone__pa_add_thread(&s->pa, th->nodes, th->nnodes, ins[i].fids[t], &ins[i].cost);
      if (err) {
        rc = hone__cli_error(CMD, "%s: thread %" PRIu64 ": %s", ins[i].path, th->tid,
                             hone_strerror(err));
        goto out;
      }
    }
  }
  bool any_calls = false;
  for (size_t i = 0; i < nsec; i++) {
    if (build_rows(&secs[i], &ft, &o)) {
      rc = hone__cli_error(CMD, "%s", hone_strerror(HONE_ENOMEM));
      goto out;
    }
    if (secs[i].nrows) any_calls = true;
  }
  if (!any_calls)
    fprintf(stderr, "hone " CMD ": no function calls were recorded; build the program with "
                    "-finstrument-functions -g (and record it with `hone record`)\n");

  int err = 0;
  if (o.json) {
    err = print_json(secs, nsec, ins, nin, &ft, &o);
  } else if (o.csv) {
    err = print_csv(secs, nsec, &ft, &o);
  } else {
    print_preamble_text(ins, nin, &o);
    for (size_t i = 0; i < nsec && !err; i++) {
      print_section_title(&secs[i]);
      if (!o.callers_text && !o.callees_text) err = print_stats_text(&secs[i], &ft, &o);
      if (!err && o.callers_text) err = print_calls_text(&secs[i], &ft, &o, true);
      if (!err && o.callees_text) err = print_calls_text(&secs[i], &ft, &o, false);
    }
  }
  if (err) rc = hone__cli_error(CMD, "%s", hone_strerror(err));

out:
  for (size_t i = 0; i < nsec; i++) {
    hone__pa_fini(&secs[i].pa);
    free(secs[i].rows);
  }
  free(secs);
  for (size_t i = 0; i < nin; i++) {
    for (size_t t = 0; ins[i].fids && t < ins[i].nthreads; t++) free(ins[i].fids[t]);
    free(ins[i].fids);
    hone_profile_free(ins[i].p);
  }
  free(ins);
  ft_free(&ft);
out_re:
  if (have_filter) regfree(&o.filter);
  if (have_callers) regfree(&o.callers);
  if (have_callees) regfree(&o.callees);
  return rc;
}
