/* report.c: the report's model (see hone/report.h) — the inputs, their threads, the function
 * table (nodes resolved through the caller's resolver and interned by (name, file, line)), the
 * forest of every thread's nodes with estimated times (estimate.c), and the per-section figures
 * (agg.c), built lazily and sorted by pstats' keys. Printing is in print.c. */
#include "report_internal.h"

#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "plain.h"

/* ---- pstats' sort keys --------------------------------------------------------------------- */

static const hone__sort_key sort_keys[] = {
    {"calls", "call count", 1, {{HONE__F_NC, -1}}},
    {"cumulative", "cumulative time", 1, {{HONE__F_CT, -1}}},
    {"cumtime", "cumulative time", 1, {{HONE__F_CT, -1}}},
    {"file", "file name", 1, {{HONE__F_FILE, 1}}},
    {"filename", "file name", 1, {{HONE__F_FILE, 1}}},
    {"line", "line number", 1, {{HONE__F_LINE, 1}}},
    {"module", "file name", 1, {{HONE__F_FILE, 1}}},
    {"name", "function name", 1, {{HONE__F_NAME, 1}}},
    {"ncalls", "call count", 1, {{HONE__F_NC, -1}}},
    {"nfl", "name/file/line", 3, {{HONE__F_NAME, 1}, {HONE__F_FILE, 1}, {HONE__F_LINE, 1}}},
    {"pcalls", "primitive call count", 1, {{HONE__F_CC, -1}}},
    {"stdname", "standard name", 1, {{HONE__F_STD, 1}}},
    {"time", "internal time", 1, {{HONE__F_TT, -1}}},
    {"tottime", "internal time", 1, {{HONE__F_TT, -1}}},
};
#define NKEYS (sizeof sort_keys / sizeof sort_keys[0])

/* A key by its name or, as pstats allows, an unambiguous prefix of it ("cum" is cumulative). */
static const hone__sort_key *find_sort_key(const char *word) {
  const hone__sort_key *found = NULL;
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

const char *hone_report_sort_key(const char *word) {
  const hone__sort_key *k = word ? find_sort_key(word) : NULL;
  return k ? k->name : NULL;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

int hone_report_new(const hone_report_options *opts, hone_report **out) {
  if (!out) return HONE_EINVAL;
  *out = NULL;
  hone_report *r = calloc(1, sizeof *r);
  if (!r) return HONE_ENOMEM;
  if (opts) r->opt = *opts;
  hone__htab_init(&r->fht);
  *out = r;
  return 0;
}

void hone__report_drop_figures(hone_report *r) {
  for (size_t i = 0; i < r->nsecs; i++) {
    hone__pa_fini(&r->secs[i].pa);
    free(r->secs[i].rows);
  }
  free(r->secs);
  r->secs = NULL;
  r->nsecs = 0;
  r->built = false;
}

void hone_report_free(hone_report *r) {
  if (!r) return;
  hone__report_drop_figures(r);
  for (size_t i = 0; i < r->nfiles; i++) free((char *)r->files[i].label);
  free(r->files);
  for (size_t i = 0; i < r->nthreads; i++) free((char *)r->threads[i].name);
  free(r->threads);
  free(r->thread_src);
  for (size_t i = 0; i < r->nfuncs; i++) {
    free((char *)r->funcs[i].name);
    free((char *)r->funcs[i].file);
    free((char *)r->funcs[i].std);
    free((char *)r->funcs[i].object);
  }
  free(r->funcs);
  hone__htab_fini(&r->fht);
  free(r->nodes);
  free(r->est_self);
  free(r->est_total);
  free(r->ext_s);
  free(r->est_unsure);
  free(r->recorded);
  free(r->plain_s);
  free(r->plain_samples);
  for (size_t i = 0; i < r->nowned; i++) hone_profile_free(r->owned[i]);
  free(r->owned);
  free(r);
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *np = realloc(*p, c * size);
  if (!np) return HONE_ENOMEM;
  *p = np;
  *cap = c;
  return 0;
}

/* The per-node arrays beside r->nodes as long as it can hold (nodes_cap). */
static int node_arrays(hone_report *r) {
  size_t cap = r->nodes_cap;
  if (cap <= r->est_cap) return 0;
  double *a = realloc(r->est_self, cap * sizeof *a);
  if (a) r->est_self = a;
  double *b = realloc(r->est_total, cap * sizeof *b);
  if (b) r->est_total = b;
  double *c = realloc(r->ext_s, cap * sizeof *c);
  if (c) r->ext_s = c;
  uint8_t *d = realloc(r->est_unsure, cap);
  if (d) r->est_unsure = d;
  if (!a || !b || !c || !d) return HONE_ENOMEM;
  r->est_cap = cap;
  return 0;
}

/* The per-function arrays as long as the function table can hold, new entries zero. */
static int func_arrays(hone_report *r) {
  size_t cap = r->funcs_cap, old = r->pf_cap;
  if (cap <= old) return 0;
  uint8_t *a = realloc(r->recorded, cap);
  if (a) r->recorded = a;
  double *b = realloc(r->plain_s, cap * sizeof *b);
  if (b) r->plain_s = b;
  uint64_t *c = realloc(r->plain_samples, cap * sizeof *c);
  if (c) r->plain_samples = c;
  if (!a || !b || !c) return HONE_ENOMEM;
  memset(a + old, 0, cap - old);
  memset(b + old, 0, (cap - old) * sizeof *b);
  memset(c + old, 0, (cap - old) * sizeof *c);
  r->pf_cap = cap;
  return 0;
}

/* ---- the function table -------------------------------------------------------------------- */

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

typedef struct func_key {
  const hone_report *r;
  const char *name, *file;
  unsigned line;
} func_key;

static bool func_eq(const void *ctx, uint32_t i) {
  const func_key *k = ctx;
  const hone_report_func *f = &k->r->funcs[i];
  return f->line == k->line && strcmp(f->name, k->name) == 0 && strcmp(f->file, k->file) == 0;
}

/* The id of (name, file, line), added when new; negative hone_err on failure. */
static int64_t intern(hone_report *r, const char *name, const char *file, unsigned line,
                      const char *object) {
  uint64_t h =
      hone__hash_u64(hone__hash_str(hone__hash_str(HONE__HASH_SEED, name) * 31 + line, file));
  func_key k = {r, name, file, line};
  int64_t id = hone__htab_find(&r->fht, h, func_eq, &k);
  if (id >= 0) return id;
  if (grow((void **)&r->funcs, &r->funcs_cap, r->nfuncs + 1, sizeof *r->funcs)) return HONE_ENOMEM;
  hone_report_func *f = &r->funcs[r->nfuncs];
  char *n = strdup(name), *fl = strdup(file), *o = strdup(object ? object : "");
  char *std = std_string(file, line, name);
  if (!n || !fl || !o || !std || hone__htab_insert(&r->fht, h, (uint32_t)r->nfuncs)) {
    free(n);
    free(fl);
    free(o);
    free(std);
    return HONE_ENOMEM;
  }
  *f = (hone_report_func){.name = n, .file = fl, .line = line, .std = std, .object = o};
  return (int64_t)r->nfuncs++;
}

static const char *basename_of(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* A resolved file name as the report keys functions by: "~" when unknown, without its
 * directories with opts.strip_dirs. */
static const char *report_file(const hone_report *r, const char *file) {
  if (!file || !file[0]) return "~";
  return r->opt.strip_dirs && strcmp(file, "~") ? basename_of(file) : file;
}

/* ---- adding a profile ---------------------------------------------------------------------- */

/* Address -> function id, per (file, address) of one profile being added. */
typedef struct addr_cache {
  hone__htab ht;
  uint64_t *addr;
  uint32_t *file, *fid;
  size_t n, cap;
} addr_cache;

typedef struct addr_key {
  const addr_cache *c;
  uint64_t addr;
  uint32_t file;
} addr_key;

static bool addr_eq(const void *ctx, uint32_t i) {
  const addr_key *k = ctx;
  return k->c->addr[i] == k->addr && k->c->file[i] == k->file;
}

static int resolve_addr(hone_report *r, const hone_profile *p, addr_cache *c, uint32_t file,
                        uint64_t a, uint32_t *fid) {
  uint64_t h = hone__hash_u64(a ^ ((uint64_t)file << 48));
  addr_key k = {c, a, file};
  int64_t i = hone__htab_find(&c->ht, h, addr_eq, &k);
  if (i >= 0) {
    *fid = c->fid[i];
    return 0;
  }
  const hone_prof_mapping *m = hone_profile_find_mapping(p, file, a);
  char hex[40];
  hone_symbol s = {0};
  int rc = r->opt.resolve ? r->opt.resolve(r->opt.resolve_ctx, m, a, &s) : HONE_ENOENT;
  if (rc < 0 && rc != HONE_ENOENT) return rc;
  if (rc == HONE_ENOENT || !s.name) {
    /* Offsets in the object, not runtime addresses: the same function in two runs merges. */
    snprintf(hex, sizeof hex, "0x%" PRIx64, m ? a - m->base : a);
    s = (hone_symbol){.name = hex, .file = m && m->path ? m->path : "~", .line = 0};
  }
  const char *fname = report_file(r, s.file);
  int64_t id = intern(r, s.name, fname, s.line, m && m->path ? m->path : "");
  if (id < 0) return (int)id;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 256;
    uint64_t *na = realloc(c->addr, cap * sizeof *na);
    if (na) c->addr = na;
    uint32_t *nf = realloc(c->file, cap * sizeof *nf);
    if (nf) c->file = nf;
    uint32_t *nd = realloc(c->fid, cap * sizeof *nd);
    if (nd) c->fid = nd;
    if (!na || !nf || !nd) return HONE_ENOMEM;
    c->cap = cap;
  }
  if (hone__htab_insert(&c->ht, h, (uint32_t)c->n)) return HONE_ENOMEM;
  c->addr[c->n] = a;
  c->file[c->n] = file;
  c->fid[c->n] = (uint32_t)id;
  c->n++;
  *fid = (uint32_t)id;
  return 0;
}

/* The recorded function holding sample address pc (for estimate.c), UINT32_MAX when unknown or
 * not recorded by an instrumented run: never a new function, so that sample addresses add no
 * rows. Only with a resolver. */
static uint32_t pc_func(hone_report *r, const hone_profile *p, uint32_t file, uint64_t pc) {
  const hone_prof_mapping *m = hone_profile_find_mapping(p, file, pc);
  hone_symbol sym = {0};
  if (!r->opt.resolve || !m || r->opt.resolve(r->opt.resolve_ctx, m, pc, &sym) != 0 || !sym.name)
    return UINT32_MAX;
  const char *f = report_file(r, sym.file);
  uint64_t h =
      hone__hash_u64(hone__hash_str(hone__hash_str(HONE__HASH_SEED, sym.name) * 31 + sym.line, f));
  func_key k = {r, sym.name, f, sym.line};
  int64_t id = hone__htab_find(&r->fht, h, func_eq, &k);
  return id >= 0 && (size_t)id < r->pf_cap && r->recorded[id] ? (uint32_t)id : UINT32_MAX;
}

/* The function holding address pc of a plain run, added when new (it has no calls, so it is
 * listed only if an instrumented run records it), or UINT32_MAX when the resolver cannot name
 * it. *rc gets the resolver's error. */
static uint32_t plain_func(hone_report *r, const hone_profile *p, uint32_t file, uint64_t pc,
                           int *rc) {
  const hone_prof_mapping *m = hone_profile_find_mapping(p, file, pc);
  hone_symbol sym = {0};
  hone_resolve_fn fn = r->opt.resolve_sample ? r->opt.resolve_sample : r->opt.resolve;
  if (!fn || !m) return UINT32_MAX;
  int e = fn(r->opt.resolve_ctx, m, pc, &sym);
  if (e == HONE_ENOENT || (e == 0 && !sym.name)) return UINT32_MAX;
  if (e < 0) {
    *rc = e;
    return UINT32_MAX;
  }
  const char *f = report_file(r, sym.file);
  int64_t id = intern(r, sym.name, f, sym.line, m->path ? m->path : "");
  if (id < 0) {
    *rc = (int)id;
    return UINT32_MAX;
  }
  return (uint32_t)id;
}

/* Resolves and estimates thread t of p into r->nodes[base..]; nodes are reserved already. */
static int add_thread(hone_report *r, const hone_profile *p, addr_cache *c,
                      const hone_prof_thread *th, uint32_t thread_index, size_t base) {
  const hone_prof_info *info = hone_profile_info(p);
  size_t n = th->nnodes;
  double *self_s = malloc((n ? n : 1) * sizeof *self_s);
  double *total_s = malloc((n ? n : 1) * sizeof *total_s);
  uint8_t *unsure = malloc(n ? n : 1);
  uint32_t *fids = malloc((n ? n : 1) * sizeof *fids);
  uint32_t *pc_fid = th->npcs && !r->opt.raw ? malloc(th->npcs * sizeof *pc_fid) : NULL;
  int rc = 0;
  if (!self_s || !total_s || !unsure || !fids || (th->npcs && !r->opt.raw && !pc_fid)) {
    rc = HONE_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    if ((rc = resolve_addr(r, p, c, th->file, th->nodes[i].func, &fids[i]))) goto out;
  if ((rc = func_arrays(r))) goto out;
  for (size_t i = 0; i < n; i++) r->recorded[fids[i]] = 1;
  /* Consecutive records often share an address (one per top node): resolved once. */
  for (size_t k = 0; pc_fid && k < th->npcs; k++)
    pc_fid[k] = k && th->pcs[k].pc == th->pcs[k - 1].pc ? pc_fid[k - 1]
                                                        : pc_func(r, p, th->file, th->pcs[k].pc);
  hone__estimate_in in = {.info = info,
                          .thread = th,
                          .nodes = th->nodes,
                          .n = n,
                          .ticks_per_second = info->ticks_per_second,
                          .inner = info->overhead_inner_ticks,
                          .outer = info->overhead_outer_ticks,
                          .raw = r->opt.raw,
                          .untimed = info->times && !strcmp(info->times, "sampled-untimed"),
                          .fid = fids,
                          .pc_fid = pc_fid};
  hone__estimate_out eo = {self_s, total_s, unsure, &r->times};
  if ((rc = hone__estimate_thread(&in, &eo))) goto out;
  /* What of each node's samples was in code no recorded function holds (a library): a plain
   * run's time there is given to the nodes in proportion (plain.h). */
  double scale = th->sample_scale > 0 && th->sample_scale <= 1 ? th->sample_scale : 1;
  for (size_t i = 0; i < n; i++) r->ext_s[base + i] = 0;
  if (pc_fid && r->opt.resolve && th->samples && th->sample_period_s > 0)
    for (size_t k = 0; k < th->npcs; k++)
      if (pc_fid[k] == UINT32_MAX && th->pcs[k].node < n)
        r->ext_s[base + th->pcs[k].node] += (double)th->pcs[k].count * th->sample_period_s * scale;
  for (size_t i = 0; i < n; i++) {
    r->est_self[base + i] = self_s[i];
    r->est_total[base + i] = total_s[i];
    r->est_unsure[base + i] = unsure[i];
  }
  for (size_t i = 0; i < n; i++) {
    const hone_prof_node *s = &th->nodes[i];
    hone_report_node *d = &r->nodes[base + i];
    uint32_t fid = fids[i];
    *d = (hone_report_node){
        .func = fid,
        .parent =
            s->parent == HONE_PROF_NO_PARENT ? HONE_REPORT_NO_PARENT : (uint32_t)(base + s->parent),
        .thread = thread_index,
        .flags = unsure[i] ? HONE_REPORT_NODE_UNSURE : 0,
        .calls = s->calls,
        .incl_ticks = s->incl,
        .excl_ticks = s->excl,
        .self_s = self_s[i],
        .total_s = total_s[i],
    };
  }
out:
  free(self_s);
  free(total_s);
  free(unsure);
  free(fids);
  free(pc_fid);
  return rc;
}

static int cmp_func_name(const void *a, const void *b, void *ctx) {
  const hone_report *r = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int c = strcmp(r->funcs[x].name, r->funcs[y].name);
  return c ? c : (x > y) - (x < y);
}

/* The one recorded function named `name` in ids (sorted by name), or UINT32_MAX (none, or
 * several: static functions of one name in different files). */
static uint32_t unique_by_name(const hone_report *r, const uint32_t *ids, size_t n,
                               const char *name) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(r->funcs[ids[mid]].name, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == n || strcmp(r->funcs[ids[lo]].name, name) != 0) return UINT32_MAX;
  if (lo + 1 < n && strcmp(r->funcs[ids[lo + 1]].name, name) == 0) return UINT32_MAX;
  return ids[lo];
}

/* Appends the nfiles entries of a profile to r->files (room reserved), each labelled; 0 or
 * HONE_ENOMEM, with *added entries written (whose labels the caller frees on failure). */
static int add_files(hone_report *r, const hone_prof_info *info, size_t nfiles, const char *label,
                     size_t *added) {
  *added = 0;
  for (size_t f = 0; f < nfiles; f++) {
    char *l = NULL;
    if (label)
      l = strdup(label);
    else if (asprintf(&l, "profile %zu", r->nfiles + f + 1) < 0)
      l = NULL;
    if (!l) return HONE_ENOMEM;
    double tps = info->ticks_per_second;
    bool plain = info->times && strcmp(info->times, "plain") == 0;
    r->files[r->nfiles + f] = (hone_report_file){
        .label = l,
        .info = info,
        .cost_ns_per_call =
            tps > 0 && !plain
                ? (info->overhead_inner_ticks + info->overhead_outer_ticks) / tps * 1e9
                : 0,
    };
    *added = f + 1;
  }
  return 0;
}

/* Lays the plain runs' times over the instrumented estimate (plain.h), or puts the estimate
 * back where there is nothing to lay over it. */
static int apply_plain(hone_report *r) {
  hone__plain_summary *ps = &r->plain;
  bool use = ps->files && !r->opt.raw && r->nnodes;
  ps->applied = false;
  if (!use) {
    for (size_t i = 0; i < r->nnodes; i++) {
      r->nodes[i].self_s = r->est_self[i];
      r->nodes[i].total_s = r->est_total[i];
      r->nodes[i].flags = r->est_unsure[i] ? HONE_REPORT_NODE_UNSURE : 0;
    }
    return 0;
  }
  size_t nf = r->nfuncs, n = r->nnodes;
  int rc = func_arrays(r);
  if (rc) return rc;
  double *pl = calloc(nf ? nf : 1, sizeof *pl);
  uint64_t *pn = calloc(nf ? nf : 1, sizeof *pn);
  uint32_t *byname = malloc((nf ? nf : 1) * sizeof *byname);
  double *self = malloc((n ? n : 1) * sizeof *self), *total = malloc((n ? n : 1) * sizeof *total);
  uint8_t *unsure = malloc(n ? n : 1);
  if (!pl || !pn || !byname || !self || !total || !unsure) {
    rc = HONE_ENOMEM;
    goto out;
  }
  /* A function the plain build names otherwise (another file path or line: built elsewhere)
   * goes to the recorded function of the same name, when only one has it. */
  size_t nrec = 0;
  for (uint32_t f = 0; f < nf; f++)
    if (r->recorded[f]) byname[nrec++] = f;
  qsort_r(byname, nrec, sizeof *byname, cmp_func_name, r);
  double elsewhere = ps->elsewhere_s;
  uint64_t elsewhere_n = ps->samples_elsewhere, by_name = 0;
  for (uint32_t f = 0; f < nf; f++) {
    if (!r->plain_samples[f]) continue;
    uint32_t g = r->recorded[f] ? f : unique_by_name(r, byname, nrec, r->funcs[f].name);
    if (g == UINT32_MAX) {
      elsewhere += r->plain_s[f];
      elsewhere_n += r->plain_samples[f];
      continue;
    }
    if (g != f) by_name += r->plain_samples[f];
    pl[g] += r->plain_s[f];
    pn[g] += r->plain_samples[f];
  }
  hone__plain_in in = {.nodes = r->nodes,
                       .nnodes = n,
                       .self_s = r->est_self,
                       .ext_s = r->ext_s,
                       .nfuncs = nf,
                       .plain_s = pl,
                       .plain_samples = pn,
                       .elsewhere_s = elsewhere,
                       .period_s = ps->sample_period_s};
  hone__plain_out o = {.self_s = self, .total_s = total, .unsure = unsure};
  if ((rc = hone__plain_times(&in, &o))) goto out;
  for (size_t i = 0; i < n; i++) {
    r->nodes[i].self_s = self[i];
    r->nodes[i].total_s = total[i];
    r->nodes[i].flags = unsure[i] ? HONE_REPORT_NODE_UNSURE : 0;
  }
  ps->applied = true;
  ps->lost_s = o.lost_s;
  ps->samples_by_name = by_name;
  ps->elsewhere_total_s = elsewhere;
  ps->samples_elsewhere_total = elsewhere_n;
out:
  free(pl);
  free(pn);
  free(byname);
  free(self);
  free(total);
  free(unsure);
  return rc;
}

/* Adds a plain build's run: its samples, by the function their address is in. */
static int add_plain(hone_report *r, const hone_profile *p, const char *label) {
  const hone_prof_info *info = hone_profile_info(p);
  size_t nfiles = info->nfiles ? info->nfiles : 1, nth = hone_profile_thread_count(p);
  size_t npcs = 0;
  for (size_t t = 0; t < nth; t++) {
    const hone_prof_thread *th = hone_profile_thread(p, t);
    if (th->file >= nfiles || th->nnodes) return HONE_EFORMAT;
    npcs += th->npcs;
  }
  if (grow((void **)&r->files, &r->files_cap, r->nfiles + nfiles, sizeof *r->files))
    return HONE_ENOMEM;
  uint32_t *fid = malloc((npcs ? npcs : 1) * sizeof *fid);
  if (!fid) return HONE_ENOMEM;
  int rc = 0;
  size_t k = 0;
  for (size_t t = 0; t < nth && !rc; t++) {
    const hone_prof_thread *th = hone_profile_thread(p, t);
    for (size_t j = 0; j < th->npcs && !rc; j++, k++)
      fid[k] = plain_func(r, p, th->file, th->pcs[j].pc, &rc);
  }
  size_t added = 0;
  if (!rc) rc = func_arrays(r);
  if (!rc) rc = add_files(r, info, nfiles, label, &added);
  if (rc) {
    for (size_t f = 0; f < added; f++) free((char *)r->files[r->nfiles + f].label);
    free(fid);
    return rc;
  }
  double period = info->sample_period_s;
  double scale = info->sample_scale > 0 && info->sample_scale <= 1 ? info->sample_scale : 1;
  hone__plain_summary *ps = &r->plain;
  k = 0;
  for (size_t t = 0; t < nth; t++) {
    const hone_prof_thread *th = hone_profile_thread(p, t);
    for (size_t j = 0; j < th->npcs; j++, k++) {
      uint64_t c = th->pcs[j].count;
      ps->samples += c;
      if (fid[k] == UINT32_MAX) {
        ps->samples_elsewhere += c;
        ps->elsewhere_s += (double)c * period * scale;
      } else {
        r->plain_samples[fid[k]] += c;
        r->plain_s[fid[k]] += (double)c * period * scale;
      }
    }
    /* Samples whose address the runtime had no room to keep: somewhere in the program. */
    ps->samples += th->samples_outside;
    ps->samples_elsewhere += th->samples_outside;
    ps->elsewhere_s += (double)th->samples_outside * period * scale;
  }
  free(fid);
  if (ps->sample_scale_min == 0 || scale < ps->sample_scale_min) ps->sample_scale_min = scale;
  if (scale > ps->sample_scale_max) ps->sample_scale_max = scale;
  if (period > ps->sample_period_s) ps->sample_period_s = period;
  ps->files += nfiles;
  r->nfiles += nfiles;
  hone__report_drop_figures(r);
  return apply_plain(r);
}

int hone_report_add(hone_report *r, const hone_profile *p, const char *label) {
  if (!r || !p) return HONE_EINVAL;
  const hone_prof_info *info = hone_profile_info(p);
  if (info->times && strcmp(info->times, "plain") == 0) return add_plain(r, p, label);
  size_t nfiles = info->nfiles ? info->nfiles : 1, nth = hone_profile_thread_count(p);
  size_t nn = 0;
  for (size_t t = 0; t < nth; t++) {
    const hone_prof_thread *th = hone_profile_thread(p, t);
    if (th->file >= nfiles || th->nnodes >= UINT32_MAX) return HONE_EFORMAT;
    nn += th->nnodes;
  }
  if (r->nnodes + nn >= UINT32_MAX || r->nthreads + nth >= UINT32_MAX) return HONE_ERANGE;
  if (grow((void **)&r->files, &r->files_cap, r->nfiles + nfiles, sizeof *r->files) ||
      grow((void **)&r->threads, &r->threads_cap, r->nthreads + nth, sizeof *r->threads) ||
      grow((void **)&r->thread_src, &r->thread_src_cap, r->nthreads + nth, sizeof *r->thread_src) ||
      grow((void **)&r->nodes, &r->nodes_cap, r->nnodes + nn, sizeof *r->nodes) || node_arrays(r))
    return HONE_ENOMEM;
  /* Functions interned by a failed add stay in the table (unused, no calls: never listed). */
  size_t t0 = r->nthreads, added = 0;
  int rc = add_files(r, info, nfiles, label, &added);
  size_t f0 = r->nfiles + added;
  addr_cache c = {0};
  hone__htab_init(&c.ht);
  size_t base = r->nnodes;
  for (size_t t = 0; t < nth && !rc; t++) {
    const hone_prof_thread *th = hone_profile_thread(p, t);
    char *name = strdup(th->name ? th->name : "");
    if (!name) {
      rc = HONE_ENOMEM;
      break;
    }
    r->threads[t0 + t] = (hone_report_thread){
        .file = (uint32_t)(r->nfiles + th->file), .tid = th->tid, .name = name};
    r->thread_src[t0 + t] = (hone__thread_src){.nodes = th->nodes, .first = base, .n = th->nnodes};
    rc = add_thread(r, p, &c, th, (uint32_t)(t0 + t), base);
    base += th->nnodes;
    if (rc) {
      free(name);
      break;
    }
    r->nthreads = t0 + t + 1;
  }
  hone__htab_fini(&c.ht);
  free(c.addr);
  free(c.file);
  free(c.fid);
  if (rc) {
    for (size_t t = t0; t < r->nthreads; t++) free((char *)r->threads[t].name);
    r->nthreads = t0;
    for (size_t f = r->nfiles; f < f0; f++) free((char *)r->files[f].label);
    return rc;
  }
  r->nfiles += nfiles;
  r->nnodes = base;
  hone__report_drop_figures(r);
  return apply_plain(r);
}

int hone_report_read(hone_report *r, const char *path, char *errbuf, size_t errlen) {
  if (!r || !path) return HONE_EINVAL;
  if (errbuf && errlen) errbuf[0] = '\0';
  hone_profile **owned = realloc(r->owned, (r->nowned + 1) * sizeof *owned);
  if (!owned) return HONE_ENOMEM;
  r->owned = owned;
  hone_profile *p = NULL;
  char msg[512] = "";
  int rc = hone_profile_read(path, &p, msg, sizeof msg);
  if (rc < 0) {
    if (errbuf && errlen) {
      /* The reader's message usually names the file already. */
      size_t plen = strlen(path);
      if (strncmp(msg, path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
        snprintf(errbuf, errlen, "%s", msg);
      else
        snprintf(errbuf, errlen, "%s: %s", path, msg[0] ? msg : hone_strerror(rc));
    }
    return rc;
  }
  if ((rc = hone_report_add(r, p, path)) < 0) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s: %s", path, hone_strerror(rc));
    hone_profile_free(p);
    return rc;
  }
  r->owned[r->nowned++] = p;
  return 0;
}

/* ---- accessors ----------------------------------------------------------------------------- */

size_t hone_report_file_count(const hone_report *r) {
  return r ? r->nfiles : 0;
}
const hone_report_file *hone_report_file_info(const hone_report *r, size_t i) {
  return r && i < r->nfiles ? &r->files[i] : NULL;
}
size_t hone_report_thread_count(const hone_report *r) {
  return r ? r->nthreads : 0;
}
const hone_report_thread *hone_report_thread_info(const hone_report *r, size_t i) {
  return r && i < r->nthreads ? &r->threads[i] : NULL;
}
size_t hone_report_func_count(const hone_report *r) {
  return r ? r->nfuncs : 0;
}
const hone_report_func *hone_report_func_info(const hone_report *r, uint32_t id) {
  return r && id < r->nfuncs ? &r->funcs[id] : NULL;
}
const hone_report_node *hone_report_nodes(const hone_report *r, size_t *count) {
  if (count) *count = r ? r->nnodes : 0;
  return r && r->nnodes ? r->nodes : NULL;
}

/* ---- figures ------------------------------------------------------------------------------- */

static int cmp_u64(uint64_t a, uint64_t b) {
  return a < b ? -1 : a > b;
}
static int cmp_dbl(double a, double b) {
  return a < b ? -1 : a > b;
}

typedef struct sort_ctx {
  const hone_report *r;
  const hone__pa *pa;
} sort_ctx;

static int compare_rows(const void *pa, const void *pb, void *arg) {
  const sort_ctx *c = arg;
  uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
  const hone__pa_stat *sa = &c->pa->funcs[a], *sb = &c->pa->funcs[b];
  const hone_report_func *fa = &c->r->funcs[a], *fb = &c->r->funcs[b];
  for (size_t k = 0; k < c->r->nkeys; k++) {
    const hone__sort_key *key = c->r->keys[k];
    for (int i = 0; i < key->nfields; i++) {
      int rv = 0;
      switch (key->fields[i].f) {
      case HONE__F_CC:
        rv = cmp_u64(sa->pcalls, sb->pcalls);
        break;
      case HONE__F_NC:
        rv = cmp_u64(sa->ncalls, sb->ncalls);
        break;
      case HONE__F_TT:
        rv = cmp_dbl(sa->tottime, sb->tottime);
        break;
      case HONE__F_CT:
        rv = cmp_dbl(sa->cumtime, sb->cumtime);
        break;
      case HONE__F_FILE:
        rv = strcmp(fa->file, fb->file);
        break;
      case HONE__F_LINE:
        rv = cmp_u64(fa->line, fb->line);
        break;
      case HONE__F_NAME:
        rv = strcmp(fa->name, fb->name);
        break;
      case HONE__F_STD:
        rv = strcmp(fa->std, fb->std);
        break;
      }
      if (rv) return rv * key->fields[i].dir;
    }
  }
  return cmp_u64(a, b); /* stable: first seen first, as pstats' stable sort keeps them */
}

static void sort_section(const hone_report *r, hone__section *s) {
  sort_ctx c = {r, &s->pa};
  qsort_r(s->rows, s->info.nfuncs, sizeof *s->rows, compare_rows, &c);
}

static int add_to_section(hone_report *r, hone__section *s, size_t t) {
  const hone__thread_src *src = &r->thread_src[t];
  size_t n = src->n;
  uint32_t *fid = malloc((n ? n : 1) * sizeof *fid);
  double *self_s = malloc((n ? n : 1) * sizeof *self_s);
  double *total_s = malloc((n ? n : 1) * sizeof *total_s);
  int rc = HONE_ENOMEM;
  if (fid && self_s && total_s) {
    for (size_t i = 0; i < n; i++) {
      const hone_report_node *nd = &r->nodes[src->first + i];
      fid[i] = nd->func;
      self_s[i] = nd->self_s;
      total_s[i] = nd->total_s;
    }
    rc = hone__pa_add_thread(&s->pa, src->nodes, n, fid, self_s, total_s);
  }
  free(fid);
  free(self_s);
  free(total_s);
  return rc;
}

int hone_report_build(hone_report *r) {
  if (!r) return HONE_EINVAL;
  if (r->built) return 0;
  size_t want = r->opt.per_thread ? r->nthreads : 1;
  r->secs = calloc(want ? want : 1, sizeof *r->secs);
  if (!r->secs) return HONE_ENOMEM;
  r->nsecs = want;
  int rc = 0;
  for (size_t i = 0; i < want; i++) {
    hone__pa_init(&r->secs[i].pa);
    r->secs[i].info.thread = r->opt.per_thread ? (uint32_t)i : HONE_REPORT_NO_PARENT;
  }
  for (size_t t = 0; t < r->nthreads && !rc; t++)
    rc = add_to_section(r, &r->secs[r->opt.per_thread ? t : 0], t);
  for (size_t i = 0; i < want && !rc; i++) {
    hone__section *s = &r->secs[i];
    if (!(s->rows = malloc((s->pa.nfuncs ? s->pa.nfuncs : 1) * sizeof *s->rows))) {
      rc = HONE_ENOMEM;
      break;
    }
    for (uint32_t f = 0; f < s->pa.nfuncs; f++) {
      const hone__pa_stat *st = &s->pa.funcs[f];
      if (!st->ncalls) continue;
      s->rows[s->info.nfuncs++] = f;
      s->info.total_calls += st->ncalls;
      s->info.prim_calls += st->pcalls;
      s->info.total_time += st->tottime;
    }
    sort_section(r, s);
  }
  if (rc) {
    hone__report_drop_figures(r);
    return rc;
  }
  r->built = true;
  return 0;
}

const hone__section *hone__report_section(const hone_report *r, size_t s) {
  if (!r) return NULL;
  /* Building is a cache fill: the header says who may call it concurrently. */
  if (!r->built && hone_report_build((hone_report *)r)) return NULL;
  return s < r->nsecs ? &r->secs[s] : NULL;
}

bool hone_report_times_unreliable(const hone_report *r, double *ns_per_call) {
  double dummy;
  if (!ns_per_call) ns_per_call = &dummy;
  *ns_per_call = 0;
  if (!r || (!r->built && hone_report_build((hone_report *)r))) return false;
  const hone__estimate_summary *t = &r->times;
  /* Times from a plain build's run are not the instrumented run's. */
  if (r->opt.raw || r->plain.applied || !t->sampled_threads || t->corrected_threads) return false;
  uint64_t calls = 0;
  double s = 0;
  for (size_t i = 0; i < r->nsecs; i++) {
    calls += r->secs[i].info.total_calls;
    s += r->secs[i].info.total_time;
  }
  if (!calls) return false;
  *ns_per_call = s / (double)calls * 1e9;
  return *ns_per_call < HONE__ESTIMATE_DENSE_NS;
}

const char *hone_report_estimate(const hone_report *r) {
  if (!r) return "corrected";
  if (!r->built && hone_report_build((hone_report *)r)) return "corrected";
  const hone__estimate_summary *t = &r->times;
  return r->opt.raw                                   ? "raw"
         : r->plain.applied                           ? "plain"
         : t->sampled_threads && t->corrected_threads ? "sampled and corrected"
         : t->sampled_threads                         ? "sampled"
                                                      : "corrected";
}

size_t hone_report_section_count(const hone_report *r) {
  if (!r || (!r->built && hone_report_build((hone_report *)r))) return 0;
  return r->nsecs;
}

const hone_report_section *hone_report_section_info(const hone_report *r, size_t s) {
  const hone__section *sec = hone__report_section(r, s);
  return sec ? &sec->info : NULL;
}

const hone_report_stat *hone_report_func_stat(const hone_report *r, size_t s, uint32_t func) {
  const hone__section *sec = hone__report_section(r, s);
  return sec && func < sec->pa.nfuncs ? &sec->pa.funcs[func] : NULL;
}

const uint32_t *hone_report_rows(const hone_report *r, size_t s, size_t *count) {
  const hone__section *sec = hone__report_section(r, s);
  if (count) *count = sec ? sec->info.nfuncs : 0;
  return sec ? sec->rows : NULL;
}

const hone_report_edge *hone_report_edges(const hone_report *r, size_t s, size_t *count) {
  const hone__section *sec = hone__report_section(r, s);
  if (count) *count = sec ? sec->pa.nedges : 0;
  return sec ? sec->pa.edges : NULL;
}

const hone_report_edge *hone_report_find_edge(const hone_report *r, size_t s, uint32_t caller,
                                              uint32_t callee) {
  const hone__section *sec = hone__report_section(r, s);
  return sec ? hone__pa_find_edge(&sec->pa, caller, callee) : NULL;
}

typedef struct edge_sort {
  const hone_report *r;
  bool callers; /* compare the callers' ends, else the callees' */
} edge_sort;

static int compare_edges(const void *pa, const void *pb, void *arg) {
  const edge_sort *c = arg;
  const hone_report_edge *ea = *(const hone_report_edge *const *)pa;
  const hone_report_edge *eb = *(const hone_report_edge *const *)pb;
  const hone_report_func *a = &c->r->funcs[c->callers ? ea->caller : ea->callee];
  const hone_report_func *b = &c->r->funcs[c->callers ? eb->caller : eb->callee];
  int rv = strcmp(a->file, b->file);
  if (!rv) rv = cmp_u64(a->line, b->line);
  if (!rv) rv = strcmp(a->name, b->name);
  return rv;
}

int hone_report_func_edges(const hone_report *r, size_t s, uint32_t func, bool callers,
                           const hone_report_edge ***out, size_t *count) {
  if (!out || !count) return HONE_EINVAL;
  *out = NULL;
  *count = 0;
  const hone__section *sec = hone__report_section(r, s);
  if (!sec) return r && r->built ? HONE_EINVAL : HONE_ENOMEM;
  size_t n = 0;
  const hone_report_edge **v = malloc((sec->pa.nedges ? sec->pa.nedges : 1) * sizeof *v);
  if (!v) return HONE_ENOMEM;
  for (size_t i = 0; i < sec->pa.nedges; i++) {
    const hone_report_edge *e = &sec->pa.edges[i];
    if (!e->stat.ncalls) continue;
    if ((callers ? e->callee : e->caller) == func) v[n++] = e;
  }
  edge_sort c = {r, callers};
  qsort_r(v, n, sizeof *v, compare_edges, &c);
  *out = v;
  *count = n;
  return 0;
}

/* ---- sorting and restrictions -------------------------------------------------------------- */

int hone_report_sort(hone_report *r, const char *keys) {
  if (!r || !keys) return HONE_EINVAL;
  const hone__sort_key *found[HONE__MAX_KEYS];
  size_t n = 0;
  char *copy = strdup(keys), *save = NULL;
  if (!copy) return HONE_ENOMEM;
  int rc = 0;
  for (char *w = strtok_r(copy, ",", &save); w && !rc; w = strtok_r(NULL, ",", &save)) {
    while (*w == ' ') w++;
    const hone__sort_key *k = find_sort_key(w);
    if (!k || n == HONE__MAX_KEYS)
      rc = HONE_EINVAL;
    else
      found[n++] = k;
  }
  free(copy);
  if (rc) return rc;
  if (!n) return HONE_EINVAL;
  memcpy(r->keys, found, n * sizeof *found);
  r->nkeys = n;
  if (r->built)
    for (size_t i = 0; i < r->nsecs; i++) sort_section(r, &r->secs[i]);
  return 0;
}

int hone_report_check_regex(const char *regex, char *errbuf, size_t errlen) {
  if (!regex) return HONE_EINVAL;
  regex_t re;
  int rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
  if (rc) {
    if (errbuf && errlen) regerror(rc, &re, errbuf, errlen);
    return HONE_EINVAL;
  }
  regfree(&re);
  return 0;
}

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

/* Applies one restriction to list[0..*count); writes pstats' message to msgf when it shrinks. */
int hone__restrict(const hone_restriction *rs, hone__name_fn name, const void *ctx, uint32_t *list,
                   size_t *count, FILE *msgf) {
  size_t before = *count, after = before;
  if (rs->kind == HONE_RESTRICT_REGEX) {
    regex_t re;
    if (!rs->regex || regcomp(&re, rs->regex, REG_EXTENDED | REG_NOSUB)) return HONE_EINVAL;
    after = 0;
    for (size_t i = 0; i < before; i++)
      if (regexec(&re, name(ctx, list[i]), 0, NULL, 0) == 0) list[after++] = list[i];
    regfree(&re);
  } else if (rs->kind == HONE_RESTRICT_FRACTION) {
    if (rs->fraction >= 0.0 && rs->fraction < 1.0)
      after = (size_t)((double)before * rs->fraction + 0.5);
  } else if (rs->kind == HONE_RESTRICT_COUNT) {
    if (rs->count < before) after = (size_t)rs->count;
  } else {
    return HONE_EINVAL;
  }
  *count = after;
  if (after == before || !msgf) return 0;
  fprintf(msgf, "   List reduced from %zu to %zu due to restriction <", before, after);
  if (rs->kind == HONE_RESTRICT_REGEX) {
    print_py_repr(msgf, rs->regex);
  } else if (rs->kind == HONE_RESTRICT_FRACTION) {
    char b[40];
    fmt_py_float(b, sizeof b, rs->fraction);
    fputs(b, msgf);
  } else {
    fprintf(msgf, "%" PRIu64, rs->count);
  }
  fputs(">\n", msgf);
  return 0;
}

static const char *std_of(const void *ctx, uint32_t id) {
  const hone_report *r = ctx;
  return r->funcs[id].std;
}

int hone__report_list(const hone_report *r, size_t s, const hone_restriction *rs, size_t nrs,
                      uint32_t **ids, size_t *count, char **msg) {
  const hone__section *sec = hone__report_section(r, s);
  if (!sec) return r && r->built ? HONE_EINVAL : HONE_ENOMEM;
  if (nrs && !rs) return HONE_EINVAL;
  uint32_t *list = malloc((sec->info.nfuncs ? sec->info.nfuncs : 1) * sizeof *list);
  if (!list) return HONE_ENOMEM;
  memcpy(list, sec->rows, sec->info.nfuncs * sizeof *list);
  size_t n = sec->info.nfuncs, mlen = 0;
  char *m = NULL;
  FILE *mf = msg ? open_memstream(&m, &mlen) : NULL;
  if (msg && !mf) {
    free(list);
    return HONE_ENOMEM;
  }
  if (mf) {
    if (r->nkeys) {
      fputs("   Ordered by: ", mf);
      for (size_t k = 0; k < r->nkeys; k++) fprintf(mf, "%s%s", k ? ", " : "", r->keys[k]->desc);
      fputc('\n', mf);
    } else {
      fputs("   Random listing order was used\n", mf);
    }
  }
  int rc = 0;
  for (size_t i = 0; i < nrs && !rc; i++) rc = hone__restrict(&rs[i], std_of, r, list, &n, mf);
  if (mf && fclose(mf) != 0 && !rc) rc = HONE_ENOMEM;
  if (rc) {
    free(m);
    free(list);
    return rc;
  }
  *ids = list;
  *count = n;
  if (msg) *msg = m;
  return 0;
}

int hone_report_select(const hone_report *r, size_t s, const hone_restriction *rs, size_t nrs,
                       uint32_t **ids, size_t *count) {
  if (!ids || !count) return HONE_EINVAL;
  *ids = NULL;
  *count = 0;
  return hone__report_list(r, s, rs, nrs, ids, count, NULL);
}
