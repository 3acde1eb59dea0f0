/* pstats.c: the lecture's
 *
 *     import pstats
 *     p = pstats.Stats('restats')
 *     p.sort_stats('cumulative').print_stats(10)
 *
 * in C, with libhone's report API (hone/report.h) and libhone-symbols for the names:
 *
 *     hone record -o restats -- build/release/examples/profiling
 *     build/release/examples/pstats restats
 *
 * Every step is one call; the error handling is what makes it longer than three lines. */
#include <hone/report.h>
#include <hone/symbols.h>
#include <stdio.h>

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "restats";
  char err[512] = "";
  hone_symbols *names = hone_symbols_new(NULL, NULL); /* libdw: function, file, line */
  hone_report_options opts = {.resolve = hone_symbols_resolve, .resolve_ctx = names};
  hone_report *p = NULL;
  int rc = hone_report_new(&opts, &p);
  if (rc == 0) rc = hone_report_read(p, path, err, sizeof err); /* p = pstats.Stats('restats') */
  if (rc == 0) rc = hone_report_sort(p, "cumulative");          /* p.sort_stats('cumulative') */
  if (rc == 0) {                                                /* .print_stats(10) */
    hone_restriction first10 = {.kind = HONE_RESTRICT_COUNT, .count = 10};
    hone_report_query q = {.restrictions = &first10, .nrestrictions = 1};
    rc = hone_report_print(p, stdout, &q);
  }
  if (rc < 0) fprintf(stderr, "pstats: %s\n", err[0] ? err : hone_strerror(rc));
  hone_report_free(p);
  hone_symbols_free(names);
  return rc < 0;
}
