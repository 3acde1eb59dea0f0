/* callgrind.c: the "callgrind" export — valgrind's callgrind profile format (version 1, as
 * callgrind_annotate, KCachegrind and QCachegrind read it; the file's first lines say
 * "# callgrind format" and "version: 1"). One event, "ns": a function's self cost is its
 * tottime, and each caller->callee pair is one call site with the callee's call count
 * ("calls=") and the inclusive cost of those calls, the edge's cumtime — the figures of
 * `hone report --callees`, in integer nanoseconds. Positions are source lines: the profiler
 * records functions, not call sites, so a function's costs and calls are placed at the line
 * where it is defined. As with valgrind's own files, a tool that adds a recursive function's
 * calls to itself into its inclusive cost counts those frames twice; pstats' cumtime does not. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/htab.h"
#include "writer.h"

/* Name compression: "(id) name" the first time, "(id)" afterwards. */
typedef struct names {
  hone__htab ht;
  const char **v;
  size_t n, cap;
  bool *told;
} names;

typedef struct name_key {
  const names *t;
  const char *s;
} name_key;

static bool name_eq(const void *ctx, uint32_t i) {
  const name_key *k = ctx;
  return strcmp(k->t->v[i], k->s) == 0;
}

/* The id (from 1) of s, or 0 on ENOMEM. */
static size_t name_id(names *t, const char *s) {
  uint64_t h = hone__hash_str(HONE__HASH_SEED, s);
  name_key k = {t, s};
  int64_t i = hone__htab_find(&t->ht, h, name_eq, &k);
  if (i >= 0) return (size_t)i + 1;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    const char **nv = realloc(t->v, cap * sizeof *nv);
    if (!nv) return 0;
    t->v = nv;
    bool *nt = realloc(t->told, cap * sizeof *nt);
    if (!nt) return 0;
    t->told = nt;
    t->cap = cap;
  }
  if (hone__htab_insert(&t->ht, h, (uint32_t)t->n)) return 0;
  t->v[t->n] = s;
  t->told[t->n] = false;
  return ++t->n;
}

static int put_name(FILE *out, names *t, const char *key, const char *s) {
  size_t id = name_id(t, s);
  if (!id) return HONE_ENOMEM;
  if (t->told[id - 1]) {
    fprintf(out, "%s=(%zu)\n", key, id);
  } else {
    fprintf(out, "%s=(%zu) ", key, id);
    for (; *s; s++) fputc(*s == '\n' ? ' ' : *s, out); /* one line per record */
    fputc('\n', out);
    t->told[id - 1] = true;
  }
  return 0;
}

static const char *file_of(const hone_report_func *f) {
  return strcmp(f->file, "~") == 0 ? "???" : f->file;
}

static const char *object_of(const hone_report_func *f) {
  return f->object[0] ? f->object : "???";
}

static uint64_t ns(double s) {
  return s > 0 ? (uint64_t)llround(s * 1e9) : 0;
}

int hone__export_callgrind(const hone_report *r, size_t section, const hone_export_options *o,
                           FILE *out, char *errbuf, size_t errlen) {
  (void)o;
  (void)errbuf;
  (void)errlen;
  size_t nrows;
  const uint32_t *rows = hone_report_rows(r, section, &nrows);
  const hone_report_file *f0 = hone_report_file_info(r, 0);
  fprintf(out, "# callgrind format\nversion: 1\ncreator: hone %s\n", hone_version());
  if (f0) {
    fprintf(out, "pid: %" PRIu64 "\ncmd:", f0->info->pid);
    for (size_t a = 0; a < f0->info->argc; a++) {
      fputc(' ', out);
      for (const char *c = f0->info->argv[a] ? f0->info->argv[a] : ""; *c; c++)
        fputc(*c == '\n' ? ' ' : *c, out);
    }
    fputc('\n', out);
  }
  uint64_t total = 0;
  for (size_t i = 0; i < nrows; i++)
    total += ns(hone_report_func_stat(r, section, rows[i])->tottime);
  fprintf(out, "part: 1\n\npositions: line\nevents: ns\nsummary: %" PRIu64 "\n\n", total);

  names obs = {0}, files = {0}, fns = {0};
  hone__htab_init(&obs.ht);
  hone__htab_init(&files.ht);
  hone__htab_init(&fns.ht);
  int rc = 0;
  for (size_t i = 0; i < nrows && !rc; i++) {
    const hone_report_func *f = hone_report_func_info(r, rows[i]);
    const hone_report_stat *st = hone_report_func_stat(r, section, rows[i]);
    /* Readers key a function by file and name, unique in the report: C has one function of
     * a name per file. */
    if ((rc = put_name(out, &obs, "ob", object_of(f))) ||
        (rc = put_name(out, &files, "fl", file_of(f))) || (rc = put_name(out, &fns, "fn", f->name)))
      break;
    fprintf(out, "%u %" PRIu64 "\n", f->line, ns(st->tottime));
    const hone_report_edge **e;
    size_t ne;
    if ((rc = hone_report_func_edges(r, section, rows[i], false, &e, &ne))) break;
    for (size_t j = 0; j < ne && !rc; j++) {
      const hone_report_func *c = hone_report_func_info(r, e[j]->callee);
      /* cob and cfi only when they differ from the caller's (the format's default): readers
       * normalise fl= names and cfi= names differently (callgrind_annotate strips the working
       * directory from the first only), so an unneeded cfi= can split one function in two. */
      if ((strcmp(object_of(c), object_of(f)) && (rc = put_name(out, &obs, "cob", object_of(c)))) ||
          (strcmp(file_of(c), file_of(f)) && (rc = put_name(out, &files, "cfi", file_of(c)))) ||
          (rc = put_name(out, &fns, "cfn", c->name)))
        break;
      fprintf(out, "calls=%" PRIu64 " %u\n%u %" PRIu64 "\n", e[j]->stat.ncalls, c->line, f->line,
              ns(e[j]->stat.cumtime));
    }
    free(e);
    fputc('\n', out);
  }
  fprintf(out, "totals: %" PRIu64 "\n", total);
  for (names *t = &obs; t; t = t == &obs ? &files : t == &files ? &fns : NULL) {
    hone__htab_fini(&t->ht);
    free(t->v);
    free(t->told);
  }
  return rc;
}
