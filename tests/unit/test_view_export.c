/* test_view_export.c: the viewers' writers (src/profile/export/svg.c, html.c, view/viewdata.c)
 * through the public export API on a synthetic stats file (written by libhone's own writer,
 * profwrite.c): the page's three parts are filled in, the data holds the tree as columns, a
 * function name full of markup cannot break out of the <script> or CDATA it sits in, the SVG
 * flavours say their orientation, and a diff needs exactly two files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/export.h"
#include "hone/report.h"
#include "profile/profformat.h"

#define NP HONE_PROF_NO_PARENT
/* main -> fib -> fib, main -> evil: addresses 0x1100, 0x1200, 0x1300 in /x/prog. */
static const hone_prof_node tree[] = {
    {.func = 0x1100, .parent = NP, .calls = 1, .incl = 1000, .excl = 100},
    {.func = 0x1200, .parent = 0, .calls = 1, .incl = 600, .excl = 300},
    {.func = 0x1200, .parent = 1, .calls = 5, .incl = 300, .excl = 300},
    {.func = 0x1300, .parent = 0, .calls = 2, .incl = 300, .excl = 300},
};
static const char evil[] = "evil</script><b>&]]>\"x";
static const hone__prof_wthread thread = {.tid = 7, .name = "main", .nnodes = 4};
static const hone__prof_wmap map = {.start = 0x1000, .end = 0x2000, .base = 0, .path = "/x/prog"};

static const hone__prof_wthread *get_thread(void *ctx, size_t i) {
  (void)ctx;
  (void)i;
  return &thread;
}
static void get_nodes(void *ctx, size_t t, uint64_t first, hone_prof_node *out, size_t n) {
  (void)ctx;
  (void)t;
  memcpy(out, tree + first, n * sizeof *out);
}
static const hone__prof_wmap *get_map(void *ctx, size_t i) {
  (void)ctx;
  (void)i;
  return &map;
}

static int resolve(void *ctx, const hone_prof_mapping *m, uint64_t addr, hone_symbol *out) {
  (void)ctx;
  (void)m;
  out->file = "/x/prog.c";
  out->line = (unsigned)(addr - 0x1000) / 0x10;
  out->name = addr == 0x1100 ? "main" : addr == 0x1200 ? "fib" : evil;
  return 0;
}

/* A profile read back from what profwrite.c writes. */
static hone_profile *make_profile(const char *prog) {
  const char *argv[] = {prog};
  hone__prof_wsrc src = {.clock = HONE__CLOCK_MONOTONIC,
                         .ticks_per_second = 1e6,
                         .pid = 1,
                         .ppid = 0,
                         .total_ticks = 1000,
                         .argc = 1,
                         .argv = argv,
                         .nthreads = 1,
                         .thread = get_thread,
                         .nodes = get_nodes,
                         .nmaps = 1,
                         .map = get_map};
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(hone__prof_write_fd(fileno(f), &src), 0);
  long len = lseek(fileno(f), 0, SEEK_END);
  assert_true(len > 0);
  char *buf = malloc((size_t)len);
  assert_non_null(buf);
  assert_int_equal(pread(fileno(f), buf, (size_t)len, 0), len);
  fclose(f);
  hone_profile *p = NULL;
  char err[256] = "";
  int rc = hone_profile_read_mem(buf, (size_t)len, &p, err, sizeof err);
  if (rc) fprintf(stderr, "read: %s\n", err);
  assert_int_equal(rc, 0);
  free(buf);
  return p;
}

typedef struct fixture {
  hone_profile *a, *b;
  hone_report *r;
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  fx->a = make_profile("/x/prog");
  fx->b = make_profile("/x/prog");
  hone_report_options o = {.resolve = resolve, .raw = true};
  assert_int_equal(hone_report_new(&o, &fx->r), 0);
  assert_int_equal(hone_report_add(fx->r, fx->a, "a.prof"), 0);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  hone_report_free(fx->r);
  hone_profile_free(fx->a);
  hone_profile_free(fx->b);
  free(fx);
  return 0;
}

/* The export as a string (caller frees). */
static char *export(hone_report *r, const char *format, int *rc, char *err, size_t errlen) {
  /* The stream's buffer pointer lives on the heap, not in this frame: with it on the stack gcc 12
   * at -O3 warns (-Wdangling-pointer, falsely) when the caller searches the returned text. */
  struct {
    char *text;
    size_t len;
  } *m = calloc(1, sizeof *m);
  assert_non_null(m);
  FILE *f = open_memstream(&m->text, &m->len);
  assert_non_null(f);
  *rc = hone_report_export_file(r, format, f, NULL, err, errlen);
  fclose(f);
  char *text = m->text;
  free(m);
  return text;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_html_page(void **state) {
  fixture *fx = *state;
  int rc;
  char err[256] = "";
  char *t = export(fx->r, "html", &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(t, "<!DOCTYPE html>"));
  assert_null(strstr(t, "<!--HONE:"));                /* every part filled in */
  assert_non_null(strstr(t, "var hone = (function")); /* common.js */
  assert_non_null(strstr(t, "window.honeView"));      /* view.js */
  assert_non_null(strstr(t, "#icicle {"));            /* view.css */
  assert_non_null(strstr(t, "{\"schema\":\"hone-view\",\"version\":1,"));
  /* The tree as columns, parents first; raw seconds at 1e6 ticks per second. */
  assert_non_null(strstr(t, "\"func\":[0,1,1,2]"));
  assert_non_null(strstr(t, "\"parent\":[-1,0,1,0]"));
  assert_non_null(strstr(t, "\"calls\":[1,1,5,2]"));
  assert_non_null(strstr(t, "\"total\":[0.001,0.0006,0.0003,0.0003]"));
  assert_non_null(strstr(t, "\"tid\":[7]"));
  /* The markup in a name is escaped: exactly the page's own two </script> after the data. */
  assert_null(strstr(t, "evil</script>"));
  assert_non_null(strstr(t, "\"evil\\u003c/script\\u003e\\u003cb\\u003e\\u0026]]\\u003e\\\"x\""));
  assert_int_equal(count(t, "</script>"), 2);
  free(t);
}

static void test_svg_flavours(void **state) {
  fixture *fx = *state;
  int rc;
  char err[256] = "";
  char *t = export(fx->r, "svg", &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(t, "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\""));
  assert_non_null(strstr(t, "Flame graph: a.prof"));
  assert_non_null(strstr(t, "\"options\":{\"reverse\":false}"));
  assert_non_null(strstr(t, "window.honeFlame"));
  /* Two CDATA sections (data, script), nothing in them closes one early. */
  assert_int_equal(count(t, "<![CDATA["), 2);
  assert_int_equal(count(t, "]]>"), 2);
  free(t);
  t = export(fx->r, "svg-icicle", &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(t, "Icicle graph: a.prof"));
  assert_non_null(strstr(t, "\"options\":{\"reverse\":true}"));
  free(t);
}

static void test_diff_needs_two_files(void **state) {
  fixture *fx = *state;
  int rc;
  char err[256] = "";
  char *t = export(fx->r, "html-diff", &rc, err, sizeof err);
  assert_int_equal(rc, HONE_EINVAL);
  assert_non_null(strstr(err, "exactly two files"));
  free(t);
  assert_int_equal(hone_report_add(fx->r, fx->b, "b.prof"), 0);
  t = export(fx->r, "html-diff", &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_int_equal(count(t, "\"total_seconds\":"), 2);
  assert_non_null(strstr(t, "{\"name\":\"a.prof\""));
  assert_non_null(strstr(t, "{\"name\":\"b.prof\""));
  free(t);
  /* The plain page of the same two files merges them into one profile. */
  t = export(fx->r, "html", &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_int_equal(count(t, "\"total_seconds\":"), 1);
  assert_non_null(strstr(t, "{\"name\":\"2 files\""));
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_html_page, setup, teardown),
      cmocka_unit_test_setup_teardown(test_svg_flavours, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diff_needs_two_files, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
