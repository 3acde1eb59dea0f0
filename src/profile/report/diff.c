/* diff.c: two reports of one program compared function by function (see hone/report.h):
 * functions matched by (file, name) through the one hash table, rows sorted by the absolute
 * change of one figure, printed as a pstats-like table or as JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "report_internal.h"

struct hone_report_diff {
  const hone_report *a, *b;
  int key; /* HONE__F_TT, _CT, _NC or _CC */
  const char *key_desc;
  hone_report_diff_row *rows;
  size_t n;
};

typedef struct match_key {
  const hone_report *r;
  const char *file, *name;
} match_key;

static bool match_eq(const void *ctx, uint32_t i) {
  const match_key *k = ctx;
  const hone_report_func *f = hone_report_func_info(k->r, i);
  return strcmp(f->name, k->name) == 0 && strcmp(f->file, k->file) == 0;
}

static uint64_t match_hash(const char *file, const char *name) {
  return hone__hash_u64(hone__hash_str(hone__hash_str(HONE__HASH_SEED, file) * 31, name));
}

static const char *base_of(const char *p) {
  const char *s = p ? strrchr(p, '/') : NULL;
  return s ? s + 1 : p ? p : "";
}

static double key_delta(const hone_report_diff *d, const hone_report_diff_row *r) {
  switch (d->key) {
  case HONE__F_CT:
    return r->d_cumtime;
  case HONE__F_NC:
    return (double)r->d_ncalls;
  case HONE__F_CC:
    return (double)r->d_pcalls;
  default:
    return r->d_tottime;
  }
}

static int compare_rows(const void *pa, const void *pb, void *arg) {
  const hone_report_diff *d = arg;
  const hone_report_diff_row *a = pa, *b = pb;
  double x = fabs(key_delta(d, a)), y = fabs(key_delta(d, b));
  if (x != y) return x > y ? -1 : 1;
  return strcmp(a->func->std, b->func->std);
}

static void fill(hone_report_diff_row *row) {
  hone_report_stat z = {0};
  const hone_report_stat *a = row->a ? row->a : &z, *b = row->b ? row->b : &z;
  row->d_ncalls = (int64_t)(b->ncalls - a->ncalls);
  row->d_pcalls = (int64_t)(b->pcalls - a->pcalls);
  row->d_tottime = b->tottime - a->tottime;
  row->d_cumtime = b->cumtime - a->cumtime;
}

int hone_report_diff_new(hone_report *a, hone_report *b, const char *key, hone_report_diff **out,
                         char *errbuf, size_t errlen) {
  if (!a || !b || !out) return HONE_EINVAL;
  *out = NULL;
  int k = HONE__F_TT;
  const char *desc = "internal time";
  if (!key || !strcmp(key, "tottime") || !strcmp(key, "time")) {
  } else if (!strcmp(key, "cumulative") || !strcmp(key, "cumtime")) {
    k = HONE__F_CT, desc = "cumulative time";
  } else if (!strcmp(key, "calls") || !strcmp(key, "ncalls")) {
    k = HONE__F_NC, desc = "call count";
  } else if (!strcmp(key, "pcalls")) {
    k = HONE__F_CC, desc = "primitive call count";
  } else {
    if (errbuf && errlen)
      snprintf(errbuf, errlen,
               "cannot sort a comparison by '%s' (tottime, cumulative, calls, "
               "pcalls)",
               key);
    return HONE_EINVAL;
  }
  const hone_report_file *fa = hone_report_file_info(a, 0), *fb = hone_report_file_info(b, 0);
  if (fa && fb) {
    const char *pa = fa->info->argc ? base_of(fa->info->argv[0]) : "";
    const char *pb = fb->info->argc ? base_of(fb->info->argv[0]) : "";
    if (strcmp(pa, pb) != 0) {
      if (errbuf && errlen)
        snprintf(errbuf, errlen,
                 "%s and %s record different programs ('%s' and '%s'); a comparison is of two "
                 "runs of one program",
                 fa->label, fb->label, pa, pb);
      return HONE_EINVAL;
    }
  }
  int rc = hone_report_build(a);
  if (!rc) rc = hone_report_build(b);
  if (rc) return rc;
  size_t na, nb;
  const uint32_t *ra = hone_report_rows(a, 0, &na), *rb = hone_report_rows(b, 0, &nb);
  hone_report_diff *d = calloc(1, sizeof *d);
  hone__htab ht;
  hone__htab_init(&ht);
  if (!d || !(d->rows = calloc(na + nb + 1, sizeof *d->rows))) {
    free(d);
    return HONE_ENOMEM;
  }
  *d = (hone_report_diff){.a = a, .b = b, .key = k, .key_desc = desc, .rows = d->rows};
  /* b's functions by (file, name) -> row; then a's functions join them or add their own. */
  for (size_t i = 0; i < nb && !rc; i++) {
    const hone_report_func *f = hone_report_func_info(b, rb[i]);
    d->rows[d->n] = (hone_report_diff_row){.func = f, .b = hone_report_func_stat(b, 0, rb[i])};
    rc = hone__htab_insert(&ht, match_hash(f->file, f->name), rb[i]);
    d->n++;
  }
  /* Row index of b's function id: rows were added in rb's order. */
  uint32_t *row_of = calloc(hone_report_func_count(b) + 1, sizeof *row_of);
  if (!row_of) rc = HONE_ENOMEM;
  for (size_t i = 0; i < nb && !rc; i++) row_of[rb[i]] = (uint32_t)i;
  for (size_t i = 0; i < na && !rc; i++) {
    const hone_report_func *f = hone_report_func_info(a, ra[i]);
    match_key mk = {b, f->file, f->name};
    int64_t j = hone__htab_find(&ht, match_hash(f->file, f->name), match_eq, &mk);
    const hone_report_stat *st = hone_report_func_stat(a, 0, ra[i]);
    if (j >= 0)
      d->rows[row_of[j]].a = st;
    else
      d->rows[d->n++] = (hone_report_diff_row){.func = f, .a = st};
  }
  free(row_of);
  hone__htab_fini(&ht);
  if (rc) {
    hone_report_diff_free(d);
    return rc;
  }
  for (size_t i = 0; i < d->n; i++) fill(&d->rows[i]);
  qsort_r(d->rows, d->n, sizeof *d->rows, compare_rows, d);
  *out = d;
  return 0;
}

void hone_report_diff_free(hone_report_diff *d) {
  if (!d) return;
  free(d->rows);
  free(d);
}

size_t hone_report_diff_count(const hone_report_diff *d) {
  return d ? d->n : 0;
}

const hone_report_diff_row *hone_report_diff_row_at(const hone_report_diff *d, size_t i) {
  return d && i < d->n ? &d->rows[i] : NULL;
}

static const char *row_name(const void *ctx, uint32_t i) {
  const hone_report_diff *d = ctx;
  return d->rows[i].func->std;
}

/* The row indices left after the restrictions, and their messages. */
static int select_rows(const hone_report_diff *d, const hone_restriction *rs, size_t nrs,
                       uint32_t **list, size_t *n, char **msg) {
  uint32_t *l = malloc((d->n ? d->n : 1) * sizeof *l);
  if (!l) return HONE_ENOMEM;
  for (size_t i = 0; i < d->n; i++) l[i] = (uint32_t)i;
  size_t cnt = d->n, mlen = 0;
  char *m = NULL;
  FILE *mf = msg ? open_memstream(&m, &mlen) : NULL;
  if (msg && !mf) {
    free(l);
    return HONE_ENOMEM;
  }
  if (mf) fprintf(mf, "   Ordered by: change in %s\n", d->key_desc);
  int rc = 0;
  for (size_t i = 0; i < nrs && !rc; i++) rc = hone__restrict(&rs[i], row_name, d, l, &cnt, mf);
  if (mf && fclose(mf) != 0 && !rc) rc = HONE_ENOMEM;
  if (rc) {
    free(l);
    free(m);
    return rc;
  }
  *list = l;
  *n = cnt;
  if (msg) *msg = m;
  return 0;
}

static void totals(const hone_report *r, uint64_t *calls, uint64_t *prim, double *tt) {
  const hone_report_section *s = hone_report_section_info(r, 0);
  *calls = s ? s->total_calls : 0;
  *prim = s ? s->prim_calls : 0;
  *tt = s ? s->total_time : 0;
}

/* The relative change: "new" for a function only in B, "gone" for one only in A, nothing when
 * A's figure is zero (no ratio to show). */
static void pct(char *buf, size_t len, bool in_a, bool in_b, double before, double delta) {
  if (!in_a)
    snprintf(buf, len, "new");
  else if (!in_b)
    snprintf(buf, len, "gone");
  else if (before > 0)
    snprintf(buf, len, "%+.1f%%", 100.0 * delta / before);
  else
    buf[0] = '\0';
}

int hone_report_diff_print(const hone_report_diff *d, FILE *out, const hone_restriction *rs,
                           size_t nrs) {
  if (!d || !out) return HONE_EINVAL;
  uint32_t *list;
  size_t n;
  char *msg;
  int rc = select_rows(d, rs, nrs, &list, &n, &msg);
  if (rc) return rc;
  uint64_t ca, pa, cb, pb;
  double ta, tb;
  totals(d->a, &ca, &pa, &ta);
  totals(d->b, &cb, &pb, &tb);
  fprintf(out, "   A: %s\n   B: %s\n\n", hone_report_file_info(d->a, 0)->label,
          hone_report_file_info(d->b, 0)->label);
  char p[32];
  pct(p, sizeof p, true, true, ta, tb - ta);
  fprintf(out,
          "         %" PRIu64 " -> %" PRIu64 " function calls (%" PRIu64 " -> %" PRIu64
          " primitive calls), %.3f -> %.3f seconds (%+.3f, %s)\n\n",
          ca, cb, pa, pb, ta, tb, tb - ta, p);
  fprintf(out, "%s\n", msg);
  fprintf(out, "     ncalls A/B   tottime A/B     change        %%   cumtime A/B     change "
               "filename:lineno(function)\n");
  for (size_t i = 0; i < n; i++) {
    const hone_report_diff_row *r = &d->rows[list[i]];
    char calls[64], a[24], b[24];
    snprintf(a, sizeof a, "%" PRIu64, r->a ? r->a->ncalls : 0);
    snprintf(b, sizeof b, "%" PRIu64, r->b ? r->b->ncalls : 0);
    snprintf(calls, sizeof calls, "%s/%s", r->a ? a : "-", r->b ? b : "-");
    pct(p, sizeof p, r->a != NULL, r->b != NULL, r->a ? r->a->tottime : 0, r->d_tottime);
    fprintf(out, "%15s %6.3f/%-6.3f %+10.6f %8s %6.3f/%-6.3f %+10.6f %s\n", calls,
            r->a ? r->a->tottime : 0, r->b ? r->b->tottime : 0, r->d_tottime, p,
            r->a ? r->a->cumtime : 0, r->b ? r->b->cumtime : 0, r->d_cumtime, r->func->std);
  }
  fprintf(out, "\n\n");
  free(list);
  free(msg);
  return ferror(out) ? HONE_EIO : 0;
}

static void stat_json(hone__jw *w, const char *key, const hone_report_stat *s) {
  hone__jw_key(w, key);
  if (!s) {
    hone__jw_null(w);
    return;
  }
  hone__jw_object(w);
  hone__jw_key(w, "ncalls");
  hone__jw_u64(w, s->ncalls);
  hone__jw_key(w, "primitive_calls");
  hone__jw_u64(w, s->pcalls);
  hone__jw_key(w, "tottime");
  hone__jw_num(w, s->tottime);
  hone__jw_key(w, "cumtime");
  hone__jw_num(w, s->cumtime);
  hone__jw_end(w);
}

static void side_json(hone__jw *w, const char *key, const hone_report *r) {
  uint64_t c, p;
  double t;
  totals(r, &c, &p, &t);
  hone__jw_key(w, key);
  hone__jw_object(w);
  hone__jw_key(w, "path");
  hone__jw_str(w, hone_report_file_info(r, 0)->label);
  hone__jw_key(w, "total_calls");
  hone__jw_u64(w, c);
  hone__jw_key(w, "primitive_calls");
  hone__jw_u64(w, p);
  hone__jw_key(w, "total_time");
  hone__jw_num(w, t);
  hone__jw_end(w);
}

int hone_report_diff_write_json(const hone_report_diff *d, FILE *out, const hone_restriction *rs,
                                size_t nrs) {
  if (!d || !out) return HONE_EINVAL;
  uint32_t *list;
  size_t n;
  int rc = select_rows(d, rs, nrs, &list, &n, NULL);
  if (rc) return rc;
  hone__jw w;
  hone__jw_init(&w, out, true);
  hone__jw_object(&w);
  hone__jw_key(&w, "version");
  hone__jw_u64(&w, 1);
  hone__jw_key(&w, "kind");
  hone__jw_str(&w, "diff");
  hone__jw_key(&w, "sort");
  hone__jw_str(&w, d->key == HONE__F_CT   ? "cumulative"
                   : d->key == HONE__F_NC ? "calls"
                   : d->key == HONE__F_CC ? "pcalls"
                                          : "tottime");
  side_json(&w, "a", d->a);
  side_json(&w, "b", d->b);
  hone__jw_key(&w, "rows");
  hone__jw_array(&w);
  for (size_t i = 0; i < n; i++) {
    const hone_report_diff_row *r = &d->rows[list[i]];
    hone__jw_object(&w);
    hone__jw_key(&w, "function");
    hone__jw_str(&w, r->func->name);
    hone__jw_key(&w, "filename");
    hone__jw_str(&w, r->func->file);
    hone__jw_key(&w, "line");
    hone__jw_u64(&w, r->func->line);
    hone__jw_key(&w, "name");
    hone__jw_str(&w, r->func->std);
    stat_json(&w, "a", r->a);
    stat_json(&w, "b", r->b);
    hone__jw_key(&w, "delta");
    hone__jw_object(&w);
    hone__jw_key(&w, "ncalls");
    hone__jw_i64(&w, r->d_ncalls);
    hone__jw_key(&w, "primitive_calls");
    hone__jw_i64(&w, r->d_pcalls);
    hone__jw_key(&w, "tottime");
    hone__jw_num(&w, r->d_tottime);
    hone__jw_key(&w, "cumtime");
    hone__jw_num(&w, r->d_cumtime);
    hone__jw_end(&w);
    hone__jw_end(&w);
  }
  hone__jw_end(&w);
  hone__jw_end(&w);
  free(list);
  return ferror(out) ? HONE_EIO : 0;
}
