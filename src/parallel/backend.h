/* backend.h: the table of operations behind every pool. The generic layer (pool.c, future.c)
 * owns tasks, futures, waiting and the lazy map; a backend owns workers, the queue, and running
 * jobs. Adding a backend = one backend_<name>.c defining a hone__pool_ops, plus one line in
 * hone__backend_for (pool.c). */
#ifndef HONE_PARALLEL_BACKEND_H
#define HONE_PARALLEL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hone/pool.h"

struct hone__task;

typedef struct hone__pool_ops {
  const char *name;
  /* Starts pool->workers workers (each runs the initializer) and returns once all run. On
   * failure nothing is left running. */
  int (*create)(hone_pool *pool, const hone_pool_options *opts);
  /* Queues the future (its job); blocks while full at most timeout_ns. The future carries one
   * reference for the queue; on failure the backend has not taken it. */
  int (*submit)(hone_pool *pool, hone_future *f, int64_t timeout_ns);
  /* hone_pool_map after argument checks. */
  int (*map)(hone_pool *pool, const struct hone__task *task, const void *in, size_t in_stride,
             void *out, size_t out_stride, size_t n, size_t chunk, hone_map_error *err);
  /* Called by one of the pool's own workers while it waits: runs one queued job if there is one
   * and returns true, else returns false at once. */
  bool (*help)(hone_pool *pool);
  int (*shutdown)(hone_pool *pool, bool wait, bool cancel_pending);
  /* Frees the backend's state; called after shutdown(wait, cancel_pending). */
  void (*destroy)(hone_pool *pool);
  /* For a backend whose jobs run in another process (it sets f->remote): called only on a
   * pinned future that is not done (hone__future_pin), so the pool still exists.
   * cancel: cancels the future's job if it has not started (0), else moves the future to RUNNING
   * and returns HONE_EBUSY. refresh: moves a pending future to RUNNING if its job has started,
   * and completes it if its result is ready (so a waiter need not wait for another thread). */
  int (*cancel)(hone_pool *pool, hone_future *f);
  void (*refresh)(hone_pool *pool, hone_future *f);
  /* Optional (NULL: the waiter sleeps on the future's state). Sleeps until f's job ends or the
   * deadline (hone__now_ns() time) passes, and completes f in the calling thread if its result
   * is ready; false at once if it cannot wait for this future so (the caller then sleeps on the
   * future's state). keep: see hone__future_await. Called like refresh, on a pinned future. */
  bool (*await)(hone_pool *pool, hone_future *f, int64_t deadline, bool keep);
} hone__pool_ops;

extern const hone__pool_ops hone__backend_thread;
extern const hone__pool_ops hone__backend_process;

#endif /* HONE_PARALLEL_BACKEND_H */
