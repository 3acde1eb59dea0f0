/* plain.c: a plain build's times over an instrumented run's tree (see plain.h). */
#include "plain.h"

#include <stdlib.h>

#include "estimate.h"

int hone__plain_times(const hone__plain_in *in, hone__plain_out *out) {
  size_t n = in->nnodes, nf = in->nfuncs;
  const hone_report_node *nd = in->nodes;
  for (size_t i = 0; i < n; i++)
    if (nd[i].func >= nf || (nd[i].parent != HONE_REPORT_NO_PARENT && nd[i].parent >= i))
      return HONE_EFORMAT;
  /* Per function: the own time and the calls of its nodes. */
  double *own = calloc(nf ? nf : 1, sizeof *own);
  double *calls = calloc(nf ? nf : 1, sizeof *calls);
  if (!own || !calls) {
    free(own);
    free(calls);
    return HONE_ENOMEM;
  }
  double ext_all = 0, own_all = 0;
  for (size_t i = 0; i < n; i++) {
    double e = in->ext_s[i] < in->self_s[i] ? in->ext_s[i] : in->self_s[i];
    if (e < 0) e = 0;
    double o = in->self_s[i] - e;
    own[nd[i].func] += o;
    calls[nd[i].func] += (double)nd[i].calls;
    ext_all += e;
    own_all += o;
  }
  out->lost_s = 0;
  for (size_t f = 0; f < nf; f++)
    if (in->plain_s[f] > 0 && own[f] <= 0 && calls[f] <= 0) out->lost_s += in->plain_s[f];
  for (size_t i = 0; i < n; i++) {
    uint32_t f = nd[i].func;
    double e = in->ext_s[i] < in->self_s[i] ? in->ext_s[i] : in->self_s[i];
    if (e < 0) e = 0;
    double o = in->self_s[i] - e;
    double share = own[f] > 0 ? o / own[f] : calls[f] > 0 ? (double)nd[i].calls / calls[f] : 0;
    double s = in->plain_s[f] * share;
    if (ext_all > 0)
      s += in->elsewhere_s * e / ext_all;
    else if (own_all > 0)
      s += in->elsewhere_s * o / own_all;
    out->self_s[i] = s;
    out->total_s[i] = 0;
    out->unsure[i] = in->plain_samples[f] < HONE__ESTIMATE_MIN_SAMPLES &&
                     own[f] >= HONE__ESTIMATE_MIN_SAMPLES * in->period_s;
  }
  /* Children after parents: a backward pass has every child's total before its parent's. */
  for (size_t i = n; i-- > 0;) {
    out->total_s[i] += out->self_s[i];
    if (nd[i].parent != HONE_REPORT_NO_PARENT) out->total_s[nd[i].parent] += out->total_s[i];
  }
  free(own);
  free(calls);
  return 0;
}
