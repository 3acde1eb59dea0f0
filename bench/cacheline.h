/* cacheline.h: the machine's physical limit for anything two CPUs hand each other — the round
 * trip of one cache line between two CPUs. Two threads, pinned to the first two CPUs this process
 * may use, ping-pong a counter on one 64-byte line (each waits, spinning, for the other's store
 * and answers with its own): one round trip is two line transfers. A design that moves a shared
 * line per message or per task cannot beat this figure; the queue and pool benches print their
 * results also as multiples of it, so that a slow machine can be told from a slow design.
 * Header-only (static), like bench_util.h; needs -pthread (the benches link libhone, which does).
 */
#ifndef HONE_BENCH_CACHELINE_H
#define HONE_BENCH_CACHELINE_H

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_util.h"

typedef struct cacheline_rtt {
  double ns; /* median ns per round trip; 0: not measured (fewer than 2 CPUs) */
  int cpu[2];
} cacheline_rtt;

enum { CL_TRIPS = 20000, CL_TRIALS = 9 }; /* a trial takes a few ms at a few hundred ns a trip */

static struct {
  alignas(64) _Atomic uint64_t line; /* the one shared line: odd from the pinger, even back */
  alignas(64) int cpu;
} cl_state;

static int cl_pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* The ponger: answers each odd value v with v + 1, until it sees UINT64_MAX. */
static void *cl_pong(void *arg) {
  (void)arg;
  if (cl_pin(cl_state.cpu) != 0) return (void *)1;
  for (;;) {
    uint64_t v = atomic_load_explicit(&cl_state.line, memory_order_acquire);
    if (v == UINT64_MAX) return NULL;
    if (v & 1) atomic_store_explicit(&cl_state.line, v + 1, memory_order_release);
  }
}

/* Measures the round trip; restores the calling thread's affinity. Prints nothing. */
static inline cacheline_rtt cacheline_measure(void) {
  cacheline_rtt out = {0, {-1, -1}};
  cpu_set_t mine;
  if (pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) != 0 || CPU_COUNT(&mine) < 2)
    return out;
  for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
    if (CPU_ISSET(c, &mine)) out.cpu[k++] = c;
  atomic_store(&cl_state.line, 0);
  cl_state.cpu = out.cpu[1];
  pthread_t t;
  if (pthread_create(&t, NULL, cl_pong, NULL) != 0) return out;
  double v[CL_TRIALS];
  int ok = cl_pin(out.cpu[0]) == 0;
  uint64_t x = 0;
  for (int r = 0; ok && r < CL_TRIALS; r++) {
    int64_t t0 = now_ns();
    for (int i = 0; i < CL_TRIPS; i++) {
      atomic_store_explicit(&cl_state.line, ++x, memory_order_release);
      while (atomic_load_explicit(&cl_state.line, memory_order_acquire) == x) {
      }
      x++;
    }
    v[r] = (double)(now_ns() - t0) / CL_TRIPS;
  }
  atomic_store(&cl_state.line, UINT64_MAX);
  void *res;
  pthread_join(t, &res);
  pthread_setaffinity_np(pthread_self(), sizeof mine, &mine);
  if (ok && res == NULL) out.ns = median(v, CL_TRIALS);
  return out;
}

/* The line every queue and pool bench prints first. */
static inline void cacheline_print(const cacheline_rtt *c) {
  if (c->ns > 0)
    printf("machine: cache-line round trip %.0f ns (CPU %d<->%d; median of %d trials of %d)\n",
           c->ns, c->cpu[0], c->cpu[1], CL_TRIALS, CL_TRIPS);
  else
    printf("machine: cache-line round trip not measured (fewer than 2 CPUs)\n");
}

/* `ns` (a cost per message or per task) in cache-line round trips, for the tables. */
static inline double cacheline_multiple(const cacheline_rtt *c, double ns) {
  return c->ns > 0 ? ns / c->ns : 0;
}

#endif /* HONE_BENCH_CACHELINE_H */
