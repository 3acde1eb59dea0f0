/* pool_internal.h: what the generic pool layer (pool.c, future.c, registry.c) shares with the
 * backends: the task registry, the future and job structures, the running task's context, and
 * the thread-locals that tell a thread which pool it works for (the waiting-worker-helps rule). */
#ifndef HONE_PARALLEL_POOL_INTERNAL_H
#define HONE_PARALLEL_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hone/pool.h"
#include "parallel/backend.h"

/* The few internals a backend built as a library of its own (libhone-mpi) calls: exported from
 * libhone's shared object with the hone__ prefix, not declared in include/hone (not an API:
 * such a library must come from the same build, which it checks with hone_version()). */
#define HONE__BACKEND_API __attribute__((visibility("default")))

/* ---- registry (registry.c) ---- */
typedef struct hone__task {
  const char *name;
  hone_task_fn fn; /* exactly one of fn, batch is set */
  hone_task_batch_fn batch;
  size_t result_size;
  uint64_t hash; /* hone__task_name_hash(name), computed once at registration */
} hone__task;

/* The registered task `id`, or NULL. Lock-free: entries never change once published. */
HONE__BACKEND_API const hone__task *hone__task_get(hone_task_id id);
/* The id of a registered task (the inverse of hone__task_get). */
HONE__BACKEND_API hone_task_id hone__task_id_of(const hone__task *t);

/* How a task crosses to a process that is not a fork image of this one (another MPI rank): as its
 * name and this 64-bit FNV-1a hash of it, both checked on arrival. Stable across processes,
 * builds and machines (it depends only on the name's bytes). */
HONE__BACKEND_API uint64_t hone__task_name_hash(const char *name);
/* Resolves a task that arrived as (name, hash): 0 and *id; HONE_ENOENT when no task of that name
 * is registered here; HONE_EINVAL when the hash does not match the name (a corrupt or foreign
 * message). On failure, when msg is not NULL, writes a message naming the task (at most msg_size
 * bytes, always terminated), e.g. "task 'primes.count' is not registered on this process". */
HONE__BACKEND_API int hone__task_resolve(const char *name, uint64_t hash, hone_task_id *id,
                                         char *msg, size_t msg_size);

/* ---- the running task's context ---- */
struct hone_task_ctx {
  hone_pool *pool;
  int worker;
  bool has_message;
  char message[HONE_TASK_MESSAGE_MAX];
};

void hone__task_ctx_init(hone_task_ctx *ctx, hone_pool *pool, int worker);
/* Calls the task; normalises its code (a failure is always negative); returns it. */
int hone__task_call(const hone__task *t, hone_task_ctx *ctx, const void *arg, size_t arg_size,
                    void *result, size_t result_size);

/* ---- jobs: what a backend's queue holds ---- */
typedef struct hone__job hone__job;
struct hone__job {
  /* Runs the job on a worker (ctx->pool is the pool) and drops the queue's hold on it. */
  void (*run)(hone__job *job, hone_task_ctx *ctx);
  /* Drops a job that will never run (pool shutting down with cancel_pending). */
  void (*discard)(hone__job *job);
};

/* ---- futures (future.c) ---- */
enum {
  HONE__F_PENDING = 0,
  HONE__F_RUNNING = 1,
  HONE__F_FINISHED = 2,
  HONE__F_FAILED = 3,
  HONE__F_CANCELLED = 4,
};

typedef struct hone__listener hone__listener;
struct hone__listener {
  hone_future_callback fn;
  void *arg;
  hone__listener *next;
};

struct hone_future {
  hone__job job;            /* first: the queue holds &f->job */
  _Atomic uint32_t state;   /* HONE__F_*; futex word for waiters */
  _Atomic uint32_t waiters; /* threads parked on state */
  _Atomic uint32_t refs;
  _Atomic uint32_t has_listeners;
  hone_pool *pool;
  const hone__task *task;
  int code;      /* the task's code; written before state leaves RUNNING */
  char *message; /* malloc'd on failure; NULL otherwise */
  size_t arg_size, result_size;
  unsigned char *arg, *result; /* both point into the same allocation, after the struct */
  _Atomic uint32_t lock;       /* spin lock (held for a few instructions): guards the two below */
  hone__listener *listeners;   /* newest first */
  bool listeners_closed;       /* completion has taken the list */
  uint64_t tag;                /* the backend's handle on the queued job (process: slot, seq) */
  /* Set by a backend whose jobs run in another process: cancel, running and waits then consult
   * its ops (cancel, refresh), each call made while the future is pinned (see hone__future_pin). */
  bool remote;
  /* The thread in hone__future_await(keep) holds the job's wake-up between its calls (the
   * backend's await; only that thread reads or writes this). */
  bool await_held;
  _Atomic uint32_t pins;
};

/* A new pending future for `task` with a copy of arg; refs = 2 (the caller's and the queue's). */
hone_future *hone__future_new(hone_pool *pool, const hone__task *task, const void *arg,
                              size_t arg_size);
/* Runs the future's task in the calling thread unless it was cancelled; completes it. Does not
 * drop any reference. */
void hone__future_execute(hone_future *f, hone_task_ctx *ctx);
/* Marks a pending future cancelled (no-op otherwise). */
HONE__BACKEND_API void hone__future_cancel_pending(hone_future *f);
/* Completes a pending or running future whose task ran elsewhere (another process): code < 0
 * fails it with `message` (NULL: the code's text), else copies min(size, result_size) bytes of
 * data as its result. then(arg), if given, is called once the final state is published and
 * before the done callbacks run (a backend frees what the job held there, so that a callback may
 * shut the pool down). Does not drop any reference. */
HONE__BACKEND_API void hone__future_finish(hone_future *f, int code, const char *message,
                                           const void *data, size_t size, void (*then)(void *),
                                           void *arg);
/* hone__future_cancel_pending with the same `then` (called in any case). */
void hone__future_cancel_then(hone_future *f, void (*then)(void *), void *arg);
/* Moves a pending future to RUNNING (no-op otherwise). */
HONE__BACKEND_API void hone__future_mark_running(hone_future *f);
/* Pinning keeps a remote future's pool alive while a thread calls into it for that future: a
 * pin taken while the future is not done (hone__future_pin returns true) holds off the
 * completer, which calls hone__future_wait_unpinned after completing it and before releasing
 * anything the pool owns (and so before the pool can be torn down). `own` = pins the completing
 * thread itself holds (1 when it completes the future from inside a pinned call). */
bool hone__future_pin(hone_future *f);
void hone__future_unpin(hone_future *f);
void hone__future_wait_unpinned(hone_future *f, uint32_t own);
/* Sleeps, without spinning first, until f is done or the deadline (hone__now_ns() time) passes
 * (a deadline already passed: only looks): true when done. For one thread that shares its CPU
 * with the job's worker (a spin would only delay the job) and must wake by the deadline for
 * other work (the MPI serving loop). A process pool's job then wakes this thread when it ends,
 * and its result is collected here (ops->await), so f's done callbacks run in this thread.
 * keep: the job's end stays this thread's to collect after the call returns with f not done
 * (it wakes nobody else), so the thread must call again, with keep false at the latest, and
 * before the pool is shut down. */
HONE__BACKEND_API bool hone__future_await(hone_future *f, int64_t deadline, bool keep);

/* ---- the pool (pool.c) ---- */
/* Installs the table of a backend built as its own library (libhone-mpi calls it for
 * HONE_POOL_MPI when it is initialised); until then that backend is HONE_ENOTSUP. */
HONE__BACKEND_API void hone__pool_install_backend(hone_pool_backend b, const hone__pool_ops *ops);
/* Marks the calling thread as one of `pool`'s own non-worker threads (NULL: none), as the
 * process pool's collector is: an external backend's thread that completes futures. */
HONE__BACKEND_API void hone__pool_set_serving(hone_pool *pool);

struct hone_pool {
  const hone__pool_ops *ops;
  hone_pool_backend backend;
  unsigned workers;
  void *impl;
  /* Set by a backend's destroy when the struct must outlive hone_pool_free: a process pool's
   * copy in a forked child, whose pending futures still point at it. */
  bool keep_on_free;
};

/* The pool the calling thread is a worker of (NULL: not a worker), and its index. Set by the
 * backend's worker threads. */
extern _Thread_local hone_pool *hone__tls_pool;
extern _Thread_local int hone__tls_worker;
/* Set on a thread of the pool's own that is not a worker (a process pool's collector): neither
 * it nor a worker may wait for the pool's threads, so hone_pool_free there is deferred. */
extern _Thread_local hone_pool *hone__tls_serving;

/* Bytes of address space a process pool reserves for arguments and results past a slot's inline
 * buffer (backend_process.c; read at pool creation, 1 GiB; tests lower it). */
extern size_t hone__process_arena_bytes;
/* Test hook: how many forks of REPLACEMENT workers the fork server makes fail with EAGAIN, as
 * when the process limit is reached for a moment (read at pool creation; 0). */
extern unsigned hone__process_test_fork_failures;

/* Spin budget of a waiting thread before it parks (an idle virtual CPU takes tens of
 * microseconds to wake, a spin of this length answers a quick task far sooner). */
#define HONE__SPIN_NS 30000
/* The same for a future whose task runs in another process: its waiter also collects the result
 * itself meanwhile (the backend's refresh), which saves the collector's wake-up. */
#define HONE__REMOTE_SPIN_NS 100000

#endif /* HONE_PARALLEL_POOL_INTERNAL_H */
