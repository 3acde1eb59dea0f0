/* hone/pool.h: worker pools, futures, map and as_completed — concurrent.futures for C.
 *
 * One API whatever runs the work: the backend is chosen when the pool is created —
 * HONE_POOL_THREADS (threads of this process), HONE_POOL_PROCESSES (worker processes) or
 * HONE_POOL_MPI (the cores of every MPI rank: libhone-mpi, see hone/pool_mpi.h). Every call below
 * behaves the same on every backend unless a paragraph here says otherwise.
 *
 * Tasks. A task is a function registered under a name (hone_task_register); pools run tasks by
 * id, never by raw function pointer, so that the same task means the same thing in another process
 * or on another machine. A task reads an argument buffer and writes a result buffer of the size
 * given at registration. Semantics are copy-in, copy-out on every backend: hone_pool_submit copies
 * the argument before it returns, and the result lives in the future until it is released. A task
 * returns 0, or a negative code (conventionally a hone_err) with an optional message set by
 * hone_task_fail; the future carries both (hone_future_error).
 *
 * Futures are reference counted. hone_pool_submit hands the caller one reference; drop it with
 * hone_future_release (any thread; the pool keeps its own reference while the task is queued or
 * running, so releasing early never cancels). Pointers returned by hone_future_* accessors stay
 * valid while the caller holds a reference.
 *
 * Timeouts are integer nanoseconds: < 0 (HONE_WAIT_FOREVER) waits without limit, 0 only polls.
 *
 * Waiting inside a task. A task running on a worker that waits on a future of the SAME pool
 * (hone_future_result, _error, _wait, as_completed, hone_pool_map) does not block the worker:
 * meanwhile it runs tasks from the pool's queue (as TBB and OpenMP taskwait do), so a task that
 * submits sub-tasks and waits on them cannot deadlock the pool, whatever the worker count.
 * Waiting on a future of another pool only waits (a wait on several futures helps if one of them
 * is of the worker's own pool). (A helping worker checks its timeout between the tasks it runs, so
 * a wait with a timeout may return late by the length of a task it picked up.) Submitting from
 * inside a task to its own pool never blocks either: when the queue is full, the new task runs at
 * once in the submitting worker (like a function call) and the returned future is already done. The
 * timeout of such a submit is not used. One pattern stays unsafe, as with TBB's helping waits: a
 * helping worker runs the task it picks up on top of the waiting task's stack frame, so a task that
 * waits on the future of a task that is itself waiting (submitted earlier and not yet done) can
 * wait forever if it was picked up by that very worker. Wait on futures of sub-tasks you submitted,
 * not on your callers'.
 *
 * Worker processes (HONE_POOL_PROCESSES). hone_pool_new forks one helper process (a "fork server",
 * single-threaded) that forks the workers, at creation and whenever one must be replaced, so every
 * worker starts from the same image: this process's memory as it was when the pool was created.
 * Register tasks and set up what they read before creating the pool; later changes in this process
 * are not seen by workers (a task registered later fails there with HONE_EINVAL, its future or map
 * reporting HONE_ETASK and "task N was registered after the pool was created"). The
 * fork-with-threads rule applies once, at creation: only the calling thread is copied, so a task
 * must not take a lock that another thread of this process may have held at that moment (glibc
 * keeps malloc and stdio usable). No exec happens. Arguments and results cross through shared
 * memory (copy-in, copy-out, as everywhere; map copies `in` and `out` chunk by chunk). A worker
 * that dies while running a task — a signal (SIGSEGV, abort), _exit or exit (which runs none of
 * this process's atexit handlers there), or the task timeout — fails that task alone with
 * HONE_ECRASHED (or HONE_ETIMEDOUT) and a message naming the signal or status; the worker is
 * replaced and every other task runs exactly once. A task in a worker process cannot submit to the
 * pool (hone_task_pool returns NULL). A task may fork: the child must end with _exit (or exec); if
 * it returns from the task instead, it is ended at once, and what it wrote into the result stays.
 * In a process forked from this one after the pool was created, the pool is inert: submit and map
 * return HONE_ESHUTDOWN, its futures not yet done never complete there (a wait on one only times
 * out, also after hone_pool_free; cancel returns HONE_EBUSY), and hone_pool_free releases only that
 * process's copy (the pool and its workers belong to the process that made it; a few hundred bytes
 * of the copy stay allocated for those futures). Workers exit when this process dies; shutdown
 * reaps them all, and the shared memory is anonymous, so nothing is left behind. A replacement
 * whose fork fails for lack of resources is tried again, backing off up to 1 s, for 10 s. A pool
 * whose replacement workers cannot start (their initializer fails, or forks keep failing) is
 * broken: pending tasks fail with that error and submit returns HONE_ESHUTDOWN. Workers run under
 * the SCHED_BATCH policy (same nice value and share of the CPU; a worker woken for a task does not
 * preempt the thread that woke it); a task may change its own policy. The thread-only
 * paragraph "Waiting inside a task" does not apply.
 *
 * Thread-safety: every function may be called from any thread at the same time, except
 * hone_pool_free (the last call on a pool; from its own tasks or done callbacks it is deferred). A
 * thread pool does not survive fork(): in the child, use only pools created after the fork.
 */
#ifndef HONE_POOL_H
#define HONE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hone/error.h"
#include "hone/queue.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CPUs ------------------------------------------------------------------------------------ */

/* The CPUs this process may use: the size of its affinity mask (sched_getaffinity), lowered to
 * the cgroup CPU quota when there is one (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cfs_period_us,
 * rounded up). Always >= 1. Thread-safe; reads the system each call. */
HONE_API unsigned hone_cpu_count(void);

/* ---- tasks ----------------------------------------------------------------------------------- */

typedef struct hone_task_ctx hone_task_ctx; /* what a running task may ask of the pool */
typedef int hone_task_id;                   /* >= 0; from hone_task_register / hone_task_lookup */

/* A task: reads arg[0..arg_size), writes at most result_size bytes into result (for submit,
 * result_size is the size given at registration and the buffer is zero-filled; for map, it is the
 * caller's output slot of out_stride bytes). Returns 0 or a negative code. Called concurrently
 * from several workers: a task must be thread-safe. Tasks run only on the pool's workers (which
 * ran the initializer), never in a thread that merely submits or maps. */
typedef int (*hone_task_fn)(hone_task_ctx *ctx, const void *arg, size_t arg_size, void *result,
                            size_t result_size);

/* A batch task: the same work over `count` items at once — item i's argument is the in_stride
 * bytes at in + i*in_stride, its result goes to out + i*out_stride (out_stride bytes available).
 * Returns 0, or a negative code with *failed = the index (in this batch) of the failing item;
 * items before it must be done. hone_pool_map and hone_pool_imap hand it whole runs of items, so
 * items of a few nanoseconds do not pay a call each; a submit runs it with count 1. */
typedef int (*hone_task_batch_fn)(hone_task_ctx *ctx, const void *in, size_t in_stride, void *out,
                                  size_t out_stride, size_t count, size_t *failed);

/* Longest message a task failure carries (longer ones are truncated). */
#define HONE_TASK_MESSAGE_MAX 256

/* Registers `fn` under `name` (copied) with a result of `result_size` bytes; *id receives its id.
 * Registering the same name with the same fn and size again returns the same id (idempotent);
 * with another fn or size, HONE_EEXIST. Register tasks before creating the pools that run them
 * (a process backend forks workers that inherit the registry). At most 4096 tasks.
 * Thread-safe. Errors: HONE_EINVAL, HONE_EEXIST, HONE_EFULL, HONE_ENOMEM. */
HONE_API HONE_NODISCARD int hone_task_register(const char *name, hone_task_fn fn,
                                               size_t result_size, hone_task_id *id)
    HONE_NONNULL(1, 2, 4);
/* hone_task_register for a batch task (same rules; the two kinds share one name space). */
HONE_API HONE_NODISCARD int hone_task_register_batch(const char *name, hone_task_batch_fn fn,
                                                     size_t result_size, hone_task_id *id)
    HONE_NONNULL(1, 2, 4);
/* The id registered under `name`: 0 and *id, or HONE_ENOENT. Thread-safe. */
HONE_API int hone_task_lookup(const char *name, hone_task_id *id) HONE_NONNULL(1, 2);
/* The name of a registered task, or NULL. The string lives as long as the process. */
HONE_API const char *hone_task_name(hone_task_id id);

/* Inside a task: records a failure with a printf-style message and returns `code` (negative;
 * HONE_ETASK is used if code >= 0), so that a task can `return hone_task_fail(ctx, ...)`. */
HONE_API int hone_task_fail(hone_task_ctx *ctx, int code, const char *fmt, ...) HONE_PRINTF(3, 4);
/* Inside a task: the pool running it, to submit sub-tasks (NULL on a backend whose workers cannot
 * submit, such as a worker process that holds no handle on its parent's pool), and the worker's
 * index (0..workers-1). */
HONE_API struct hone_pool *hone_task_pool(hone_task_ctx *ctx) HONE_NONNULL(1);
HONE_API int hone_task_worker(hone_task_ctx *ctx) HONE_NONNULL(1);

/* ---- pools ----------------------------------------------------------------------------------- */

typedef struct hone_pool hone_pool;
typedef struct hone_future hone_future;

typedef enum hone_pool_backend {
  HONE_POOL_THREADS = 1,   /* workers are threads of this process (no copies are made for map) */
  HONE_POOL_PROCESSES = 2, /* workers are processes forked at creation (see above) */
  HONE_POOL_MPI = 3,       /* MPI ranks, each with a local pool (hone/pool_mpi.h; HONE_ENOTSUP
                              until libhone-mpi's hone_mpi_init has run on rank 0) */
} hone_pool_backend;

/* Runs once in each worker before it takes any task (in each worker process, replacements
 * included); a non-zero return fails hone_pool_new_ex with that code. */
typedef int (*hone_pool_init_fn)(void *arg, unsigned worker);

/* Creation options. Stable: fields are only ever appended; always start from
 * hone_pool_options_init so that new fields get their defaults. */
typedef struct hone_pool_options {
  hone_pool_backend backend;     /* default HONE_POOL_THREADS */
  unsigned workers;              /* 0 (default) = hone_cpu_count() */
  size_t queue_size;             /* bound on queued tasks; 0 (default) = 16384; 1 is raised to
                                    2; above 2^30 hone_pool_new_ex fails with HONE_EINVAL */
  hone_pool_init_fn initializer; /* optional */
  void *initializer_arg;
  /* Appended for the process backend (ignored by threads): */
  unsigned max_tasks_per_child; /* 0 (default) = no limit; else a worker is replaced after that
                                   many tasks (a map chunk counts as one) */
  int64_t task_timeout_ns;      /* <= 0 (default) = none; else a task (or map chunk) running
                                   longer fails with HONE_ETIMEDOUT and its worker is killed and
                                   replaced */
} hone_pool_options;

HONE_API void hone_pool_options_init(hone_pool_options *opts) HONE_NONNULL(1);

/* A pool. hone_pool_new(out, backend, workers) is hone_pool_new_ex with defaults otherwise.
 * Returns once every worker is running (and has run the initializer). Errors: HONE_EINVAL,
 * HONE_ENOTSUP (backend not built in), HONE_ENOMEM, HONE_ESYS, an initializer's code. */
HONE_API HONE_NODISCARD int hone_pool_new(hone_pool **out, hone_pool_backend backend,
                                          unsigned workers) HONE_NONNULL(1);
HONE_API HONE_NODISCARD int hone_pool_new_ex(hone_pool **out, const hone_pool_options *opts)
    HONE_NONNULL(1);

/* Stops accepting work (submit then fails with HONE_ESHUTDOWN). cancel_pending cancels every task
 * not yet started (their futures end HONE_ECANCELED; a map in progress stops and returns
 * HONE_ECANCELED); wait returns only when every worker has finished (else at once). May be called
 * more than once; HONE_EBUSY when called with wait from one of the pool's own tasks, or (process
 * backend) from a done callback run on the pool's collector thread, which cannot wait for itself.
 * In a process forked after the pool was created it does nothing and returns 0. */
HONE_API int hone_pool_shutdown(hone_pool *pool, bool wait, bool cancel_pending) HONE_NONNULL(1);
/* Shuts down (cancel pending, wait for running tasks), then frees. Futures still held stay valid
 * (done or cancelled). NULL is a no-op. From one of the pool's own tasks, or from a done callback
 * run on one of the pool's own threads (a worker, a process pool's collector), the free is
 * deferred: the call cancels what is pending, refuses new work and returns at once, and the pool
 * is freed by a thread of its own once the calling task or callback has returned (if that thread
 * cannot be started, the pool stays shut down and allocated). Do not use the pool after the call
 * in either case. */
HONE_API void hone_pool_free(hone_pool *pool);

HONE_API unsigned hone_pool_workers(const hone_pool *pool) HONE_NONNULL(1);
HONE_API hone_pool_backend hone_pool_backend_of(const hone_pool *pool) HONE_NONNULL(1);

/* Queues task(arg) and returns its future in *out (one reference, the caller's). Blocks while the
 * queue is full, at most timeout_ns (then HONE_ETIMEDOUT). Errors: HONE_EINVAL (unknown task),
 * HONE_ESHUTDOWN, HONE_ETIMEDOUT, HONE_ENOMEM. */
HONE_API HONE_NODISCARD int hone_pool_submit(hone_pool *pool, hone_task_id task, const void *arg,
                                             size_t arg_size, int64_t timeout_ns, hone_future **out)
    HONE_NONNULL(1, 6);

/* Where a map stopped: the first item (in input order) whose task failed, with its code and
 * message. Every item before `index` completed and its output is written. Plain data, stable. */
typedef struct hone_map_error {
  size_t index;
  int code;
  char message[HONE_TASK_MESSAGE_MAX];
} hone_map_error;

/* out[i] = task(in[i]) for i in [0, n): item i's argument is the in_stride bytes at
 * in + i*in_stride, its result goes to out + i*out_stride (out_stride >= the task's result size).
 * Blocks until done. chunk = items per scheduling step; 0 = automatic (threads: each worker takes
 * an equal share of the items, claims from it in steps timed to about 20 us of work, and takes
 * from the back of the fullest share left once its own is done; processes: guided, each chunk about
 * 1/(4 x workers) of the items left and at most ~1 MiB of in + out, and with a task timeout at
 * most an eighth of it by the items timed so far). On the first failing item it stops handing
 * out work and returns HONE_ETASK with *err (optional) filled. The thread backend reads `in` and
 * writes `out` in place: neither may change during the call. Errors also: HONE_EINVAL,
 * HONE_ESHUTDOWN, HONE_ECANCELED (pool shut down with cancel_pending), HONE_ENOMEM. */
HONE_API int hone_pool_map(hone_pool *pool, hone_task_id task, const void *in, size_t in_stride,
                           void *out, size_t out_stride, size_t n, size_t chunk,
                           hone_map_error *err) HONE_NONNULL(1);

/* A lazy map: inputs are produced on demand and results delivered in order, with at most
 * max_in_flight items submitted and not yet delivered (0 = 64 * workers), so memory stays constant
 * whatever the number of items.
 *   next(user, index, &arg, &arg_size): 1 = an item (arg stays valid until next is called again),
 *     0 = no more items, < 0 = stop with that error (reported with index, after the items
 *     before it are delivered).
 *   put(user, index, result, result_size): called in index order from the calling thread;
 *     a non-zero return stops the map and is returned.
 * Returns 0, HONE_ETASK (*err filled), a callback's error, or a submit error. */
typedef int (*hone_map_next_fn)(void *user, size_t index, const void **arg, size_t *arg_size);
typedef int (*hone_map_put_fn)(void *user, size_t index, const void *result, size_t result_size);
HONE_API int hone_pool_imap(hone_pool *pool, hone_task_id task, hone_map_next_fn next,
                            hone_map_put_fn put, void *user, size_t max_in_flight,
                            hone_map_error *err) HONE_NONNULL(1, 3, 4);

/* ---- futures --------------------------------------------------------------------------------- */

HONE_API hone_future *hone_future_retain(hone_future *f) HONE_NONNULL(1);
/* Drops one reference; the last one frees. NULL is a no-op. */
HONE_API void hone_future_release(hone_future *f);

/* Waits at most timeout_ns for the task, then copies its result (at most out_size bytes; out may
 * be NULL when out_size is 0). 0, HONE_ETIMEDOUT, HONE_ECANCELED, HONE_ETASK (the task failed:
 * see hone_future_error). */
HONE_API int hone_future_result(hone_future *f, int64_t timeout_ns, void *out, size_t out_size)
    HONE_NONNULL(1);
/* The result in place (borrowed, valid while the reference is held) and its size, or NULL when the
 * future is not done successfully. Never waits. */
HONE_API const void *hone_future_result_data(hone_future *f, size_t *size) HONE_NONNULL(1);
/* Python's exception(): waits like _result, then 0 (the task succeeded; *code = 0), or
 * HONE_ETASK with the task's code and message (borrowed; never NULL), HONE_ECANCELED,
 * HONE_ETIMEDOUT. */
HONE_API int hone_future_error(hone_future *f, int64_t timeout_ns, int *code, const char **message)
    HONE_NONNULL(1);

HONE_API bool hone_future_done(const hone_future *f) HONE_NONNULL(1); /* finished or cancelled */
HONE_API bool hone_future_running(const hone_future *f) HONE_NONNULL(1);
HONE_API bool hone_future_cancelled(const hone_future *f) HONE_NONNULL(1);
/* Cancels a task that has not started: 0 (now cancelled, or was already), HONE_EBUSY (running or
 * finished: nothing changed). Done callbacks run in the calling thread. */
HONE_API int hone_future_cancel(hone_future *f) HONE_NONNULL(1);

/* Calls cb(f, arg) once the future is done (finished or cancelled): in the thread that completes
 * it, or at once in the caller if it is already done. Callbacks run in the order added; they must
 * not block for long (they run on a worker thread; on the process backend, on the pool's
 * collector thread, or on a thread waiting on that future that picked its result up itself; a
 * cancelled future's, in the thread that cancelled it). 0 or HONE_ENOMEM. */
typedef void (*hone_future_callback)(hone_future *f, void *arg);
HONE_API int hone_future_add_done_callback(hone_future *f, hone_future_callback cb, void *arg)
    HONE_NONNULL(1, 2);

typedef enum hone_wait_mode {
  HONE_ALL_COMPLETED = 0,
  HONE_FIRST_COMPLETED = 1,
  HONE_FIRST_EXCEPTION = 2, /* a task failed (cancelled does not count), or all are done */
} hone_wait_mode;

/* Waits at most timeout_ns until the condition holds over fs[0..n). 0 or HONE_ETIMEDOUT;
 * *n_done (optional) = how many are done on return (check each with hone_future_done). */
HONE_API int hone_futures_wait(hone_future *const *fs, size_t n, hone_wait_mode mode,
                               int64_t timeout_ns, size_t *n_done);

/* as_completed: yields the futures of fs[0..n) as they complete (finished or cancelled), each
 * once (a future listed twice is yielded once, as Python's set). The iterator holds its own
 * reference on every future; the futures it yields are borrowed (valid until
 * hone_as_completed_free, or retain them). */
typedef struct hone_as_completed hone_as_completed;
HONE_API HONE_NODISCARD int hone_as_completed_new(hone_as_completed **out, hone_future *const *fs,
                                                  size_t n) HONE_NONNULL(1);
/* 0 and *f: the next completed future; HONE_ENOENT: all yielded; HONE_ETIMEDOUT: none completed
 * within timeout_ns (counted from this call). */
HONE_API int hone_as_completed_next(hone_as_completed *it, int64_t timeout_ns, hone_future **f)
    HONE_NONNULL(1, 3);
HONE_API void hone_as_completed_free(hone_as_completed *it);

#ifdef __cplusplus
}
#endif
#endif /* HONE_POOL_H */
