/* estimate.c: uninstrumented times from measured trees (see estimate.h). The runtime calibrates
 * what one call costs it: `inner` ticks fall inside the callee's measured interval, `outer` ticks
 * are charged to the caller's own time. A node's corrected exclusive time is
 *   excl' = max(0, excl - calls*inner - childcalls*outer)
 * and its inclusive time
 *   incl' = max(excl' + sum of the children's incl', incl - calls*inner
 *               - descendant_calls*(inner+outer)),
 * so cumtime >= tottime holds on every node even where a clamp has raised a child. */
#include "estimate.h"

#include <stdlib.h>

static int check_tree(const hone_prof_node *nodes, size_t n) {
  if (n >= UINT32_MAX) return HONE_EFORMAT;
  for (size_t i = 0; i < n; i++)
    if (nodes[i].parent != HONE_PROF_NO_PARENT && nodes[i].parent >= i) return HONE_EFORMAT;
  return 0;
}

int hone__estimate_thread(const hone__estimate_in *in, const hone__estimate_out *out) {
  const hone_prof_node *nodes = in->nodes;
  size_t n = in->n;
  int rc = check_tree(nodes, n);
  if (rc) return rc;
  /* Children come after their parent, so a backward pass sees every child before its parent. */
  uint64_t *childcalls = calloc(n ? n : 1, sizeof *childcalls);
  uint64_t *desc = calloc(n ? n : 1, sizeof *desc);
  double *sumchild = calloc(n ? n : 1, sizeof *sumchild);
  if (!childcalls || !desc || !sumchild) {
    rc = HONE_ENOMEM;
    goto out;
  }
  double spt = in->ticks_per_second > 0 ? 1.0 / in->ticks_per_second : 0;
  for (size_t i = n; i-- > 0;) {
    const hone_prof_node *nd = &nodes[i];
    double excl = (double)nd->excl, incl = (double)nd->incl;
    if (!in->raw) {
      double calls = (double)nd->calls;
      excl -= calls * in->inner + (double)childcalls[i] * in->outer;
      if (excl < 0) excl = 0;
      incl -= calls * in->inner + (double)desc[i] * (in->inner + in->outer);
      if (incl < excl + sumchild[i]) incl = excl + sumchild[i];
    }
    out->self_s[i] = excl * spt;
    out->total_s[i] = incl * spt;
    out->unsure[i] = 0;
    if (nd->parent != HONE_PROF_NO_PARENT) {
      childcalls[nd->parent] += nd->calls;
      desc[nd->parent] += nd->calls + desc[i];
      sumchild[nd->parent] += incl;
    }
  }
out:
  free(childcalls);
  free(desc);
  free(sumchild);
  return rc;
}
