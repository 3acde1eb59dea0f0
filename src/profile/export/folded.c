/* folded.c: the "folded" export — collapsed stacks as flamegraph.pl (and inferno, speedscope)
 * read them: one line per distinct call path, the frames from the root down joined by ';', a
 * space, and the path's weight. The weight is the path's estimated exclusive time in integer
 * microseconds (flamegraph.pl wants integers), so a flame graph's widths are the tottimes of
 * `hone report`, or with weight=calls the path's call count; the frames are pstats' names
 * "file:line(name)" with directories stripped of nothing (the report's own strip_dirs applies). A
 * path that occurs in several threads gives one line per thread; flamegraph.pl adds equal paths up.
 * The format has no room for a version line (readers would count it as a malformed line):
 * docs/exports.md names it "folded 1". */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer.h"

/* The frames of a path, written from the root down: walks parents into a stack first. */
static void write_path(FILE *out, const hone_report *r, const hone_report_node *nodes, size_t i,
                       uint32_t *stack) {
  size_t depth = 0;
  for (uint32_t k = (uint32_t)i; k != HONE_REPORT_NO_PARENT; k = nodes[k].parent)
    stack[depth++] = k;
  while (depth-- > 0) {
    const hone_report_func *f = hone_report_func_info(r, nodes[stack[depth]].func);
    for (const char *c = f->std; *c; c++) fputc(*c == ';' || *c == '\n' ? '_' : *c, out);
    if (depth) fputc(';', out);
  }
}

int hone__export_folded(const hone_report *r, size_t section, const hone_export_options *o,
                        FILE *out, char *errbuf, size_t errlen) {
  (void)errbuf;
  (void)errlen;
  const hone_report_section *s = hone_report_section_info(r, section);
  size_t n;
  const hone_report_node *nodes = hone_report_nodes(r, &n);
  uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
  if (!stack) return HONE_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (s->thread != HONE_REPORT_NO_PARENT && nodes[i].thread != s->thread) continue;
    uint64_t wt = o->weight == HONE_EXPORT_WEIGHT_CALLS ? nodes[i].calls
                                                        : (uint64_t)llround(nodes[i].self_s * 1e6);
    if (!wt) continue;
    write_path(out, r, nodes, i, stack);
    fprintf(out, " %" PRIu64 "\n", wt);
  }
  free(stack);
  return 0;
}
