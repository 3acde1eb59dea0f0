/* estimate.c: uninstrumented times from measured trees (see estimate.h).
 *
 * Why sampling rather than a finer correction: on examples/profiling.c the hooks cost about
 * 30 ns per call while `less` itself takes about 2 ns, so the correction removes nine tenths of
 * its measured time and an error of 2 ns per call in the calibration is its whole time; the
 * issue's figures (less 0.000, bubble_sort 100 %) are that error. Samples of the CPU time that
 * land in the program's own code measure it directly, and those that land in the hooks are
 * recognised by their address and left out. Each sample stands for its period times the file's
 * sample scale: the part of the period that was the program's, the rest being what taking the
 * sample cost the thread (the runtime measures it; --raw leaves it out).
 *
 * The correction (threads without samples): the runtime calibrates what one call costs it:
 * `inner` ticks fall inside the callee's measured interval, `outer` ticks are charged to the
 * caller's own time. A node's corrected exclusive time is
 *   excl' = max(0, excl - calls*inner - childcalls*outer)
 * and its inclusive time
 *   incl' = max(excl' + sum of the children's incl', incl - calls*inner
 *               - descendant_calls*(inner+outer)),
 * so cumtime >= tottime holds on every node even where a clamp has raised a child. */
#include "estimate.h"

#include <stdlib.h>
#include <string.h>

/* (parent, function) -> child node, for the pc records: sorted, searched. */
typedef struct kid {
  uint32_t parent, fid, node;
} kid;

static int kid_cmp(const void *a, const void *b) {
  const kid *x = a, *y = b;
  if (x->parent != y->parent) return x->parent < y->parent ? -1 : 1;
  if (x->fid != y->fid) return x->fid < y->fid ? -1 : 1;
  return (x->node > y->node) - (x->node < y->node);
}

/* The samples of each node once the pc records have moved those taken in a callee's code to
 * the callee. *moved gets how many moved. NULL on ENOMEM. */
static uint64_t *place_samples(const hone__estimate_in *in, const uint64_t *samples,
                               const hone_prof_sample_pc *pcs, size_t npcs, uint64_t *moved) {
  size_t n = in->n;
  uint64_t *out = malloc((n ? n : 1) * sizeof *out);
  kid *kids = malloc((n ? n : 1) * sizeof *kids);
  if (!out || !kids) {
    free(out);
    free(kids);
    return NULL;
  }
  memcpy(out, samples, n * sizeof *out);
  size_t nk = 0;
  for (size_t j = 0; j < n; j++)
    if (in->nodes[j].parent != HONE_PROF_NO_PARENT)
      kids[nk++] = (kid){in->nodes[j].parent, in->fid[j], (uint32_t)j};
  qsort(kids, nk, sizeof *kids, kid_cmp);
  *moved = 0;
  for (size_t k = 0; k < npcs; k++) {
    uint32_t i = pcs[k].node, f = in->pc_fid[k];
    if (i >= n || f == UINT32_MAX || f == in->fid[i]) continue;
    kid key = {i, f, 0};
    size_t lo = 0, hi = nk;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (kid_cmp(&kids[mid], &key) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == nk || kids[lo].parent != i || kids[lo].fid != f) continue;
    uint64_t c = pcs[k].count < out[i] ? pcs[k].count : out[i];
    out[i] -= c;
    out[kids[lo].node] += c;
    *moved += c;
  }
  free(kids);
  return out;
}

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
  const uint64_t *samples = in->thread ? in->thread->samples : in->samples;
  double period = in->thread ? in->thread->sample_period_s : in->sample_period_s;
  /* A sample's time as the program would have spent it unsampled (not for --raw). */
  double scale = in->thread ? in->thread->sample_scale : in->sample_scale;
  if (!(scale > 0 && scale <= 1) || in->raw) scale = 1;
  bool untimed = in->untimed && samples && period > 0;
  bool sampled = !in->raw && samples && period > 0;
  uint64_t own = in->thread ? in->thread->samples_own : in->samples_own;
  const hone_prof_sample_pc *pcs = in->thread ? in->thread->pcs : in->pcs;
  size_t npcs = in->thread ? in->thread->npcs : in->npcs;
  uint64_t *placed = NULL, moved = 0;
  if (sampled && in->fid && in->pc_fid && pcs && npcs) {
    if (!(placed = place_samples(in, samples, pcs, npcs, &moved))) return HONE_ENOMEM;
    samples = placed;
  }
  /* Children come after their parent, so a backward pass sees every child before its parent. */
  uint64_t *childcalls = calloc(n ? n : 1, sizeof *childcalls);
  uint64_t *desc = calloc(n ? n : 1, sizeof *desc);
  double *sumchild = calloc(n ? n : 1, sizeof *sumchild);
  if (!childcalls || !desc || !sumchild) {
    rc = HONE_ENOMEM;
    goto out;
  }
  double spt = in->ticks_per_second > 0 ? 1.0 / in->ticks_per_second : 0;
  uint64_t nsamples = 0;
  size_t nunsure = 0;
  /* Untimed: the hooks' cost per call, from the samples they took (the measured time of a
   * node, had it been timed, is about its samples plus its calls times this). */
  double hook_s = 0;
  if (untimed) {
    double allcalls = 0;
    for (size_t i = 0; i < n; i++) allcalls += (double)nodes[i].calls;
    if (allcalls > 0) hook_s = (double)own * period / allcalls;
  }
  for (size_t i = n; i-- > 0;) {
    const hone_prof_node *nd = &nodes[i];
    double excl = (double)nd->excl * spt, incl = (double)nd->incl * spt;
    double calls = (double)nd->calls;
    /* What the hooks added to this node's own measured time, by the calibration. */
    double cost = (calls * in->inner + (double)childcalls[i] * in->outer) * spt;
    uint8_t unsure = 0;
    if (sampled) {
      double taken = (double)samples[i] * period;
      excl = taken * scale;
      incl = excl + sumchild[i];
      nsamples += samples[i];
      /* Few samples where the measured time would have given more: the rest of the measured
       * time was the profiler's, and the little left is known only roughly. Needs no
       * calibration. */
      double measured = untimed ? taken + calls * hook_s : (double)nd->excl * spt;
      unsure = samples[i] < HONE__ESTIMATE_MIN_SAMPLES && measured >= period &&
               measured - taken >= 0.5 * measured;
    } else if (untimed) { /* --raw of an untimed thread: the samples as taken */
      excl = (double)samples[i] * period;
      incl = excl + sumchild[i];
    } else if (!in->raw) {
      double measured = excl;
      excl -= cost;
      if (excl < 0) excl = 0;
      incl -= (calls * in->inner + (double)desc[i] * (in->inner + in->outer)) * spt;
      if (incl < excl + sumchild[i]) incl = excl + sumchild[i];
      unsure = measured > 0 && excl < 0.5 * measured;
    }
    nunsure += unsure;
    out->self_s[i] = excl;
    out->total_s[i] = incl;
    out->unsure[i] = unsure;
    if (nd->parent != HONE_PROF_NO_PARENT) {
      childcalls[nd->parent] += nd->calls;
      desc[nd->parent] += nd->calls + desc[i];
      sumchild[nd->parent] += incl;
    }
  }
  hone__estimate_summary *s = out->summary;
  if (s && untimed) s->untimed_threads++;
  if (s && !in->raw) {
    if (sampled) {
      s->sampled_threads++;
      s->samples += nsamples;
      s->samples_moved += moved;
      if (in->thread) s->samples_own += in->thread->samples_own;
      if (period > s->sample_period_s) s->sample_period_s = period;
      if (s->sample_scale_min == 0 || scale < s->sample_scale_min) s->sample_scale_min = scale;
      if (scale > s->sample_scale_max) s->sample_scale_max = scale;
    } else {
      s->corrected_threads++;
    }
    s->unsure_nodes += nunsure;
  }
out:
  free(placed);
  free(childcalls);
  free(desc);
  free(sumchild);
  return rc;
}
