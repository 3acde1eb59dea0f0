/* layout.c: the calling-context forest of a section laid out on a time line, for the writers
 * whose readers want events (speedscope's evented profiles, chrome's trace): each thread's
 * roots one after the other from 0, each node's children one after the other from the node's
 * start, the node's own time after them. Times are the estimated seconds (or, weighted by
 * calls, a node's calls plus its descendants'). The walk is iterative, so deep recursion costs
 * memory proportional to the tree, not the C stack. See writer.h. */
#include <stdlib.h>

#include "writer.h"

int hone__export_walk(const hone_report *r, size_t section, hone_export_weight weight,
                      const hone__export_visit *v, void *ctx) {
  const hone_report_section *s = hone_report_section_info(r, section);
  size_t n;
  const hone_report_node *nodes = hone_report_nodes(r, &n);
  if (!s) return HONE_EINVAL;
  uint32_t *first = calloc(n + 1, sizeof *first), *kids = malloc((n ? n : 1) * sizeof *kids);
  uint32_t *cursor = malloc((n ? n : 1) * sizeof *cursor);
  uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
  double *len = malloc((n ? n : 1) * sizeof *len), *at = malloc((n ? n : 1) * sizeof *at);
  int rc = 0;
  if (!first || !kids || !cursor || !stack || !len || !at) {
    rc = HONE_ENOMEM;
    goto out;
  }
  /* Lengths bottom-up (children follow their parents), never shorter than the children. */
  double *sum = at; /* reused: children's total so far */
  for (size_t i = 0; i < n; i++) sum[i] = 0;
  for (size_t i = n; i-- > 0;) {
    double own =
        weight == HONE_EXPORT_WEIGHT_CALLS ? (double)nodes[i].calls + sum[i] : nodes[i].total_s;
    len[i] = own > sum[i] ? own : sum[i];
    if (nodes[i].parent != HONE_REPORT_NO_PARENT) {
      sum[nodes[i].parent] += len[i];
      first[nodes[i].parent + 1]++;
    }
  }
  for (size_t i = 0; i < n; i++) first[i + 1] += first[i];
  for (size_t i = 0; i < n; i++) cursor[i] = first[i];
  for (size_t i = 0; i < n; i++)
    if (nodes[i].parent != HONE_REPORT_NO_PARENT) kids[cursor[nodes[i].parent]++] = (uint32_t)i;

  uint32_t thread = UINT32_MAX;
  double t = 0;
  for (size_t root = 0; root < n && !rc; root++) {
    if (nodes[root].parent != HONE_REPORT_NO_PARENT) continue;
    if (s->thread != HONE_REPORT_NO_PARENT && nodes[root].thread != s->thread) continue;
    if (nodes[root].thread != thread) {
      thread = nodes[root].thread;
      t = 0;
    }
    size_t sp = 0;
    stack[sp++] = (uint32_t)root;
    at[root] = t;
    cursor[root] = first[root];
    if (v->enter) rc = v->enter(ctx, r, (uint32_t)root, at[root], len[root]);
    while (sp && !rc) {
      uint32_t i = stack[sp - 1];
      if (cursor[i] < first[i + 1]) {
        uint32_t c = kids[cursor[i]++];
        /* The child starts where its previous sibling ended (or where the parent started). */
        size_t prev = cursor[i] - 1;
        at[c] = prev == first[i] ? at[i] : at[kids[prev - 1]] + len[kids[prev - 1]];
        cursor[c] = first[c];
        stack[sp++] = c;
        if (v->enter) rc = v->enter(ctx, r, c, at[c], len[c]);
      } else {
        if (v->leave) rc = v->leave(ctx, r, i, at[i], len[i]);
        sp--;
      }
    }
    t += len[root];
  }
out:
  free(first);
  free(kids);
  free(cursor);
  free(stack);
  free(len);
  free(at);
  return rc;
}
