/* test_report.c: the report API (hone/report.h, hone/export.h) on a synthetic stats file —
 * resolution through the caller's resolver (and the address fallback without one), the forest of
 * nodes, pstats figures under recursion, per-thread sections, Stats.add of a second profile,
 * sorting and restrictions, a failing resolver leaving the report as it was, the diff, and the
 * export registry. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/export.h"
#include "hone/report.h"
#include "profile/profformat.h"

/* main -> f -> f (recursion), main -> g (3 calls); worker thread: w -> g (2 calls). Ticks at
 * 1e9/s, so ticks are nanoseconds. */
static const hone__prof_wthread threads[] = {{.tid = 101, .name = "main", .nnodes = 4},
                                             {.tid = 102, .name = "worker", .nnodes = 2}};
static const hone_prof_node nodes0[] = {
    {0x1000, HONE_PROF_NO_PARENT, 0, 1, 1000, 100},
    {0x2000, 0, 0, 1, 500, 300},
    {0x2000, 1, 0, 1, 200, 200},
    {0x3000, 0, 0, 3, 400, 400},
};
static const hone_prof_node nodes1[] = {
    {0x4000, HONE_PROF_NO_PARENT, 0, 1, 300, 100},
    {0x3000, 0, 0, 2, 200, 200},
};
static const hone__prof_wmap maps[] = {{0x0, 0x10000, 0x0, "/usr/bin/prog", NULL, 0}};
static const char *const argv_[] = {"./prog"};

static const hone__prof_wthread *get_thread(void *ctx, size_t i) {
  (void)ctx;
  return &threads[i];
}
static void get_nodes(void *ctx, size_t t, uint64_t first, hone_prof_node *out, size_t n) {
  (void)ctx;
  memcpy(out, (t == 0 ? nodes0 : nodes1) + first, n * sizeof *out);
}
static const hone__prof_wmap *get_map(void *ctx, size_t i) {
  (void)ctx;
  return &maps[i];
}

/* Writes src to a temporary file and reads it back as a profile. */
static hone_profile *write_and_read(const hone__prof_wsrc *src) {
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(hone__prof_write_fd(fileno(f), src), 0);
  off_t end = lseek(fileno(f), 0, SEEK_END);
  unsigned char *buf = malloc((size_t)end);
  assert_non_null(buf);
  assert_int_equal(pread(fileno(f), buf, (size_t)end, 0), end);
  fclose(f);
  hone_profile *p = NULL;
  char msg[256] = "";
  int rc = hone_profile_read_mem(buf, (size_t)end, &p, msg, sizeof msg);
  free(buf);
  if (rc) fail_msg("%s", msg);
  return p;
}

static hone_profile *sample(void) {
  hone__prof_wsrc s = {.clock = HONE__CLOCK_TSC,
                       .ticks_per_second = 1e9,
                       .pid = 4242,
                       .ppid = 1,
                       .total_ticks = 1300,
                       .argc = 1,
                       .argv = argv_,
                       .nthreads = 2,
                       .thread = get_thread,
                       .nodes = get_nodes,
                       .nmaps = 1,
                       .map = get_map};
  return write_and_read(&s);
}

static int resolve(void *ctx, const hone_prof_mapping *m, uint64_t addr, hone_symbol *out) {
  int *fail = ctx;
  assert_non_null(m);
  if (fail && *fail) return HONE_EIO;
  static const char *const names[] = {"main", "f", "g", "w"};
  if (addr < 0x1000 || addr > 0x4000) return HONE_ENOENT;
  *out = (hone_symbol){names[addr / 0x1000 - 1], "t.c", (unsigned)(addr / 0x1000)};
  return 0;
}

static uint32_t id_of(const hone_report *r, const char *name) {
  for (uint32_t i = 0; i < hone_report_func_count(r); i++)
    if (strcmp(hone_report_func_info(r, i)->name, name) == 0) return i;
  fail_msg("no function %s", name);
  return 0;
}

static hone_report *make(const hone_profile *p, bool per_thread) {
  hone_report_options o = {.resolve = resolve, .raw = true, .per_thread = per_thread};
  hone_report *r = NULL;
  assert_int_equal(hone_report_new(&o, &r), 0);
  assert_int_equal(hone_report_add(r, p, "s.prof"), 0);
  return r;
}

/* A sampled profile: main -> f, f called `f_calls` times, 10 samples of 100 us (2 on main, 8 on
 * f), the hooks reading no clock. */
static uint64_t f_calls;
static const hone__prof_wthread sthread[] = {
    {.tid = 201, .name = "main", .nnodes = 2, .samples_own = 5, .sampled = 1}};
static const hone__prof_wthread *get_sthread(void *ctx, size_t i) {
  (void)ctx;
  return &sthread[i];
}
static void get_snodes(void *ctx, size_t t, uint64_t first, hone_prof_node *out, size_t n) {
  (void)ctx;
  (void)t;
  const hone_prof_node all[] = {{0x1000, HONE_PROF_NO_PARENT, 0, 1, 0, 0},
                                {0x2000, 0, 0, f_calls, 0, 0}};
  memcpy(out, all + first, n * sizeof *out);
}
static void get_ssamples(void *ctx, size_t t, uint64_t first, uint64_t *out, size_t n) {
  (void)ctx;
  (void)t;
  const uint64_t all[] = {2, 8};
  memcpy(out, all + first, n * sizeof *out);
}

static hone_profile *sampled_profile(uint64_t calls) {
  f_calls = calls;
  hone__prof_wsrc s = {.clock = HONE__CLOCK_TSC,
                       .ticks_per_second = 1e9,
                       .pid = 4243,
                       .ppid = 1,
                       .total_ticks = 3000000,
                       .times = HONE__TIMES_SAMPLED_UNTIMED,
                       .sample_period_ns = 100000,
                       .sample_scale = 1,
                       .argc = 1,
                       .argv = argv_,
                       .nthreads = 1,
                       .thread = get_sthread,
                       .nodes = get_snodes,
                       .samples = get_ssamples,
                       .nmaps = 1,
                       .map = get_map};
  return write_and_read(&s);
}

/* Whether the header and the JSON say the times are unreliable, for calls and raw. */
static void unreliable_case(uint64_t calls, bool raw, bool expect) {
  hone_profile *p = sampled_profile(calls);
  hone_report_options o = {.resolve = resolve, .raw = raw};
  hone_report *r = NULL;
  assert_int_equal(hone_report_new(&o, &r), 0);
  assert_int_equal(hone_report_add(r, p, "s.prof"), 0);
  char *text = NULL, *json = NULL;
  size_t tlen = 0, jlen = 0;
  FILE *out = open_memstream(&text, &tlen);
  assert_int_equal(hone_report_print(r, out, NULL), 0);
  fclose(out);
  out = open_memstream(&json, &jlen);
  assert_int_equal(hone_report_write_json(r, out, NULL), 0);
  fclose(out);
  assert_int_equal(strstr(text, "! Unreliable") != NULL, expect);
  assert_non_null(
      strstr(json, expect ? "\"times_unreliable\": true" : "\"times_unreliable\": false"));
  double ns = -1;
  assert_int_equal(hone_report_times_unreliable(r, &ns), expect);
  if (raw)
    assert_true(ns == 0);
  else /* 10 samples of 100 us over calls + 1 calls */
    assert_true(fabs(ns - 1e6 / (double)(calls + 1)) < 1e-6 * ns);
  if (expect) /* 10 samples of 100 us over 10^6 calls */
    assert_non_null(strstr(text, "the program's sampled time is 1.000 ns per call"));
  free(text);
  free(json);
  hone_report_free(r);
  hone_profile_free(p);
}

/* 1 ms of samples over 10^6 calls (1 ns a call) is flagged; over 11 calls it is not; --raw never.
 */
static void test_unreliable(void **state) {
  (void)state;
  unreliable_case(999999, false, true);
  unreliable_case(10, false, false);
  unreliable_case(999999, true, false);
}

static void test_figures(void **state) {
  (void)state;
  hone_profile *p = sample();
  hone_report *r = make(p, false);
  assert_int_equal(hone_report_func_count(r), 4);
  assert_int_equal(hone_report_thread_count(r), 2);
  assert_string_equal(hone_report_func_info(r, id_of(r, "f"))->std, "t.c:2(f)");
  size_t n;
  const hone_report_node *nodes = hone_report_nodes(r, &n);
  assert_int_equal(n, 6);
  assert_int_equal(nodes[4].parent, HONE_REPORT_NO_PARENT);
  assert_int_equal(nodes[5].parent, 4); /* the worker's nodes follow, parents offset */
  assert_int_equal(nodes[5].thread, 1);
  assert_true(nodes[1].total_s > 499.9e-9 && nodes[1].total_s < 500.1e-9);
  assert_int_equal(nodes[1].excl_ticks, 300);

  assert_int_equal(hone_report_section_count(r), 1);
  const hone_report_section *s = hone_report_section_info(r, 0);
  assert_int_equal(s->total_calls, 9);
  assert_int_equal(s->prim_calls, 8);
  const hone_report_stat *f = hone_report_func_stat(r, 0, id_of(r, "f"));
  assert_int_equal(f->ncalls, 2);
  assert_int_equal(f->pcalls, 1);
  assert_true(f->cumtime > 499.9e-9 && f->cumtime < 500.1e-9); /* the outer frame only */
  assert_int_equal(hone_report_func_stat(r, 0, id_of(r, "g"))->ncalls, 5);
  const hone_report_edge *e = hone_report_find_edge(r, 0, id_of(r, "w"), id_of(r, "g"));
  assert_non_null(e);
  assert_int_equal(e->stat.ncalls, 2);
  const hone_report_edge **callers;
  assert_int_equal(hone_report_func_edges(r, 0, id_of(r, "g"), true, &callers, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(callers[0]->caller, id_of(r, "main")); /* t.c:1 before t.c:4 */
  free(callers);
  hone_report_free(r);

  r = make(p, true);
  assert_int_equal(hone_report_section_count(r), 2);
  assert_int_equal(hone_report_section_info(r, 0)->total_calls, 6);
  assert_int_equal(hone_report_section_info(r, 1)->total_calls, 3);
  assert_int_equal(hone_report_section_info(r, 1)->thread, 1);
  assert_null(hone_report_section_info(r, 2));
  /* Stats.add: the same profile again doubles the counts. */
  assert_int_equal(hone_report_add(r, p, NULL), 0);
  assert_int_equal(hone_report_file_count(r), 2);
  assert_string_equal(hone_report_file_info(r, 1)->label, "profile 2");
  assert_int_equal(hone_report_section_count(r), 4);
  hone_report_free(r);
  hone_profile_free(p);
}

static void test_sort_and_restrict(void **state) {
  (void)state;
  hone_profile *p = sample();
  hone_report *r = make(p, false);
  size_t n;
  const uint32_t *rows = hone_report_rows(r, 0, &n);
  assert_int_equal(n, 4);
  assert_int_equal(rows[0], 0); /* unsorted: order of first appearance */
  assert_int_equal(hone_report_sort(r, "calls"), 0);
  rows = hone_report_rows(r, 0, &n);
  assert_int_equal(rows[0], id_of(r, "g"));
  assert_int_equal(rows[1], id_of(r, "f"));
  assert_int_equal(hone_report_sort(r, "cum,name"), 0);
  assert_int_equal(hone_report_sort(r, "bogus"), HONE_EINVAL);
  assert_int_equal(hone_report_sort(r, "c"), HONE_EINVAL); /* calls or cumulative */
  assert_string_equal(hone_report_sort_key("tot"), "tottime");
  assert_null(hone_report_sort_key("n")); /* name, ncalls, nfl */

  uint32_t *ids;
  hone_restriction re = {.kind = HONE_RESTRICT_REGEX, .regex = "\\((f|g)\\)"};
  assert_int_equal(hone_report_select(r, 0, &re, 1, &ids, &n), 0);
  assert_int_equal(n, 2);
  free(ids);
  hone_restriction two[] = {{.kind = HONE_RESTRICT_FRACTION, .fraction = 0.5},
                            {.kind = HONE_RESTRICT_COUNT, .count = 1}};
  assert_int_equal(hone_report_select(r, 0, two, 2, &ids, &n), 0);
  assert_int_equal(n, 1);
  free(ids);
  hone_restriction bad = {.kind = HONE_RESTRICT_REGEX, .regex = "("};
  assert_int_equal(hone_report_select(r, 0, &bad, 1, &ids, &n), HONE_EINVAL);
  char msg[128] = "";
  assert_int_equal(hone_report_check_regex("(", msg, sizeof msg), HONE_EINVAL);
  assert_true(msg[0] != '\0');
  hone_report_query q = {.restrictions = &bad, .nrestrictions = 1};
  FILE *out = tmpfile();
  assert_int_equal(hone_report_print(r, out, &q), HONE_EINVAL);
  assert_int_equal(ftell(out), 0); /* nothing written before the check */
  fclose(out);
  hone_report_free(r);
  hone_profile_free(p);
}

static void test_resolver(void **state) {
  (void)state;
  hone_profile *p = sample();
  /* Without a resolver: addresses in the object. */
  hone_report *r = NULL;
  assert_int_equal(hone_report_new(NULL, &r), 0);
  assert_int_equal(hone_report_add(r, p, "s.prof"), 0);
  assert_string_equal(hone_report_func_info(r, 0)->name, "0x1000");
  assert_string_equal(hone_report_func_info(r, 0)->file, "/usr/bin/prog");
  assert_string_equal(hone_report_func_info(r, 0)->object, "/usr/bin/prog");
  hone_report_free(r);
  /* A failing resolver fails the add and leaves the report as it was. */
  int fail = 0;
  hone_report_options o = {.resolve = resolve, .resolve_ctx = &fail};
  assert_int_equal(hone_report_new(&o, &r), 0);
  assert_int_equal(hone_report_add(r, p, "a"), 0);
  fail = 1;
  size_t n0;
  hone_report_nodes(r, &n0);
  assert_int_equal(hone_report_add(r, p, "b"), HONE_EIO);
  size_t n1;
  hone_report_nodes(r, &n1);
  assert_int_equal(n0, n1);
  assert_int_equal(hone_report_file_count(r), 1);
  assert_int_equal(hone_report_thread_count(r), 2);
  assert_int_equal(hone_report_section_info(r, 0)->total_calls, 9);
  hone_report_free(r);
  hone_report_free(NULL);
  hone_profile_free(p);
}

static void test_diff(void **state) {
  (void)state;
  hone_profile *p = sample();
  hone_report *a = make(p, false), *b = make(p, false);
  assert_int_equal(hone_report_add(b, p, "again"), 0);
  hone_report_diff *d = NULL;
  char msg[256];
  assert_int_equal(hone_report_diff_new(a, b, "name", &d, msg, sizeof msg), HONE_EINVAL);
  assert_int_equal(hone_report_diff_new(a, b, "calls", &d, msg, sizeof msg), 0);
  assert_int_equal(hone_report_diff_count(d), 4);
  const hone_report_diff_row *row = hone_report_diff_row_at(d, 0);
  assert_string_equal(row->func->name, "g"); /* 5 -> 10 calls: the largest change */
  assert_int_equal(row->d_ncalls, 5);
  assert_int_equal(row->a->ncalls, 5);
  assert_int_equal(row->b->ncalls, 10);
  assert_null(hone_report_diff_row_at(d, 4));
  hone_report_diff_free(d);
  hone_report_free(a);
  hone_report_free(b);
  hone_profile_free(p);
}

static void test_exports(void **state) {
  (void)state;
  hone_profile *p = sample();
  hone_report *r = make(p, false);
  char msg[256] = "";
  FILE *out = tmpfile();
  assert_int_equal(hone_report_export_file(r, "nope", out, NULL, msg, sizeof msg), HONE_EINVAL);
  assert_non_null(strstr(msg, "unknown export format 'nope'"));
  assert_true(hone_export_format_count() >= 5);
  for (size_t i = 0; i < hone_export_format_count(); i++)
    assert_ptr_equal(hone_export_find(hone_export_format_at(i)->name), hone_export_format_at(i));
  assert_null(hone_export_format_at(hone_export_format_count()));
  fclose(out);

  char *buf = NULL;
  size_t len = 0;
  out = open_memstream(&buf, &len);
  hone_export_options eo = {.weight = HONE_EXPORT_WEIGHT_CALLS};
  assert_int_equal(hone_report_export_file(r, "folded", out, &eo, msg, sizeof msg), 0);
  fclose(out);
  assert_non_null(strstr(buf, "t.c:1(main);t.c:2(f);t.c:2(f) 1\n"));
  assert_non_null(strstr(buf, "t.c:1(main);t.c:3(g) 3\n"));
  assert_non_null(strstr(buf, "t.c:4(w);t.c:3(g) 2\n"));
  free(buf);
  out = open_memstream(&buf, &len);
  assert_int_equal(hone_report_export_file(r, "pstats", out, NULL, msg, sizeof msg), 0);
  fclose(out);
  assert_true(len > 2 && buf[0] == '{' && buf[len - 1] == '0');
  free(buf);
  /* To a path: atomic; a directory that does not exist is an error naming the path. */
  char path[] = "/tmp/hone-test-report-XXXXXX";
  assert_non_null(mkdtemp(path));
  char file[64], missing[80];
  snprintf(file, sizeof file, "%s/out.json", path);
  snprintf(missing, sizeof missing, "%s/no/out.json", path);
  assert_int_equal(hone_report_export(r, "speedscope", file, NULL, msg, sizeof msg), 0);
  assert_int_equal(access(file, R_OK), 0);
  assert_int_equal(hone_report_export(r, "speedscope", missing, NULL, msg, sizeof msg),
                   HONE_ENOENT);
  assert_non_null(strstr(msg, "no/out.json"));
  unlink(file);
  rmdir(path);
  hone_report_free(r);
  hone_profile_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_figures),  cmocka_unit_test(test_sort_and_restrict),
      cmocka_unit_test(test_resolver), cmocka_unit_test(test_diff),
      cmocka_unit_test(test_exports),  cmocka_unit_test(test_unreliable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
