/* pool.c: the backend-independent pool API — creation and backend choice, argument checks,
 * submit, map dispatch, the lazy map (imap, built on submit so every backend gets it), shutdown
 * and free. Everything that runs work is behind pool->ops (backend.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel/pool_internal.h"
#include "parallel/sync.h"

_Thread_local hone_pool *hone__tls_pool;
_Thread_local int hone__tls_worker = -1;
_Thread_local hone_pool *hone__tls_serving;

#define HONE__DEFAULT_QUEUE 16384

static const hone__pool_ops *_Atomic installed_mpi;

void hone__pool_install_backend(hone_pool_backend b, const hone__pool_ops *ops) {
  if (b == HONE_POOL_MPI) atomic_store_explicit(&installed_mpi, ops, memory_order_release);
}

void hone__pool_set_serving(hone_pool *pool) {
  hone__tls_serving = pool;
}

static const hone__pool_ops *backend_for(hone_pool_backend b) {
  switch (b) {
  case HONE_POOL_MPI:
    return atomic_load_explicit(&installed_mpi, memory_order_acquire);
  case HONE_POOL_THREADS:
    return &hone__backend_thread;
  case HONE_POOL_PROCESSES:
    return &hone__backend_process;
  default:
    return NULL;
  }
}

void hone_pool_options_init(hone_pool_options *opts) {
  memset(opts, 0, sizeof *opts);
  opts->backend = HONE_POOL_THREADS;
}

int hone_pool_new(hone_pool **out, hone_pool_backend backend, unsigned workers) {
  hone_pool_options o;
  hone_pool_options_init(&o);
  o.backend = backend;
  o.workers = workers;
  return hone_pool_new_ex(out, &o);
}

int hone_pool_new_ex(hone_pool **out, const hone_pool_options *opts) {
  *out = NULL;
  if (!opts) return HONE_EINVAL;
  const hone__pool_ops *ops = backend_for(opts->backend);
  if (!ops) {
    if (opts->backend == HONE_POOL_PROCESSES || opts->backend == HONE_POOL_MPI) return HONE_ENOTSUP;
    return HONE_EINVAL;
  }
  hone_pool_options o = *opts;
  if (o.workers == 0) o.workers = hone_cpu_count();
  if (o.workers > 4096) return HONE_EINVAL;
  if (o.queue_size == 0) o.queue_size = HONE__DEFAULT_QUEUE;
  if (o.queue_size < 2) o.queue_size = 2; /* the ring's sequence numbers need two cells */
  if (o.queue_size > ((size_t)1 << 30)) return HONE_EINVAL;
  hone_pool *p = calloc(1, sizeof *p);
  if (!p) return HONE_ENOMEM;
  p->ops = ops;
  p->backend = o.backend;
  p->workers = o.workers;
  int rc = ops->create(p, &o);
  if (rc < 0) {
    free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int hone_pool_shutdown(hone_pool *pool, bool wait, bool cancel_pending) {
  if (wait && (hone__tls_pool == pool || hone__tls_serving == pool)) return HONE_EBUSY;
  return pool->ops->shutdown(pool, wait, cancel_pending);
}

static void free_now(hone_pool *pool) {
  pool->ops->shutdown(pool, true, true);
  pool->ops->destroy(pool);
  if (!pool->keep_on_free) free(pool);
}

static void *free_later(void *arg) {
  free_now(arg);
  return NULL;
}

void hone_pool_free(hone_pool *pool) {
  if (!pool) return;
  if (hone__tls_pool == pool || hone__tls_serving == pool) {
    /* From one of the pool's own threads (a task, or a done callback run on a worker or the
     * collector), which the free must wait for: stop the pool now, and let a thread of its own
     * wait for the calling thread to return from the task or callback, then free. */
    pool->ops->shutdown(pool, false, true);
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) == 0) {
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      if (pthread_create(&t, &attr, free_later, pool) != 0) {
        /* No thread to wait with: the pool stays shut down and allocated (never a crash). */
      }
      pthread_attr_destroy(&attr);
    }
    return;
  }
  free_now(pool);
}

unsigned hone_pool_workers(const hone_pool *pool) {
  return pool->workers;
}

hone_pool_backend hone_pool_backend_of(const hone_pool *pool) {
  return pool->backend;
}

int hone_pool_submit(hone_pool *pool, hone_task_id task, const void *arg, size_t arg_size,
                     int64_t timeout_ns, hone_future **out) {
  *out = NULL;
  const hone__task *t = hone__task_get(task);
  if (!t || (arg_size && !arg)) return HONE_EINVAL;
  hone_future *f = hone__future_new(pool, t, arg, arg_size);
  if (!f) return HONE_ENOMEM;
  int rc = pool->ops->submit(pool, f, timeout_ns);
  if (rc < 0) {
    hone_future_release(f); /* never shared: both references are ours */
    hone_future_release(f);
    return rc;
  }
  *out = f;
  return 0;
}

int hone_pool_map(hone_pool *pool, hone_task_id task, const void *in, size_t in_stride, void *out,
                  size_t out_stride, size_t n, size_t chunk, hone_map_error *err) {
  if (err) memset(err, 0, sizeof *err);
  const hone__task *t = hone__task_get(task);
  if (!t) return HONE_EINVAL;
  if (n == 0) return 0;
  if ((in_stride && !in) || (t->result_size && (!out || out_stride < t->result_size)))
    return HONE_EINVAL;
  return pool->ops->map(pool, t, in, in_stride, out, out_stride, n, chunk, err);
}

static void set_err(hone_map_error *err, size_t index, int code, const char *msg) {
  if (!err) return;
  err->index = index;
  err->code = code;
  snprintf(err->message, sizeof err->message, "%s", msg ? msg : hone_strerror(code));
}

int hone_pool_imap(hone_pool *pool, hone_task_id task, hone_map_next_fn next, hone_map_put_fn put,
                   void *user, size_t max_in_flight, hone_map_error *err) {
  if (err) memset(err, 0, sizeof *err);
  if (!hone__task_get(task)) return HONE_EINVAL;
  size_t cap = max_in_flight ? max_in_flight : 64 * (size_t)pool->workers;
  if (cap > ((size_t)1 << 24)) return HONE_EINVAL;
  hone_future **ring = malloc(cap * sizeof *ring);
  if (!ring) return HONE_ENOMEM;
  size_t submitted = 0, delivered = 0;
  bool exhausted = false;
  /* rc: a failure at `delivered` (the items after it are dropped); in_rc: the input (or its
   * submit) failed at item `submitted` — the items before it are still delivered first. */
  int rc = 0, in_rc = 0;
  const char *in_msg = NULL;
  for (;;) {
    while (!exhausted && rc == 0 && submitted - delivered < cap) {
      const void *a = NULL;
      size_t asz = 0;
      int r = next(user, submitted, &a, &asz);
      if (r == 0) {
        exhausted = true;
      } else if (r < 0) {
        exhausted = true;
        in_rc = r;
        in_msg = "the input callback failed";
      } else {
        r = hone_pool_submit(pool, task, a, asz, HONE_WAIT_FOREVER, &ring[submitted % cap]);
        if (r < 0) {
          exhausted = true;
          in_rc = r;
        } else {
          submitted++;
        }
      }
    }
    if (delivered == submitted && rc == 0 && in_rc != 0) {
      rc = in_rc;
      set_err(err, submitted, in_rc, in_msg);
    }
    if (delivered == submitted) break;
    hone_future *f = ring[delivered % cap];
    if (rc == 0) {
      int r = hone_future_result(f, HONE_WAIT_FOREVER, NULL, 0);
      if (r == HONE_ETASK) {
        int code;
        const char *msg;
        hone_future_error(f, 0, &code, &msg);
        set_err(err, delivered, code, msg);
        rc = HONE_ETASK;
      } else if (r < 0) {
        set_err(err, delivered, r, NULL);
        rc = r;
      } else {
        size_t rsz = 0;
        const void *res = hone_future_result_data(f, &rsz);
        r = put(user, delivered, res, rsz);
        if (r != 0) {
          rc = r;
          set_err(err, delivered, r, "the output callback failed");
        }
      }
    } else {
      hone_future_cancel(f); /* after a failure: drop work not yet started */
    }
    hone_future_release(f);
    delivered++;
  }
  free(ring);
  return rc;
}
