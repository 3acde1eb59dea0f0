/* future.c: futures — state, result and error storage, reference counts, done callbacks, and
 * every way of waiting on them (result, error, hone_futures_wait, as_completed).
 *
 * State moves PENDING -> RUNNING -> FINISHED|FAILED, or PENDING -> CANCELLED, by CAS; the state
 * word is also the futex that single-future waiters park on. Listeners (done callbacks, and the
 * waiter objects of wait/as_completed) sit on a list under the future's spin lock; `has_listeners`
 * lets completion skip that lock when nobody listens (see complete()). A thread that is a worker
 * of a pool runs queued tasks of that pool while it waits on a future of that same pool (the
 * waiting-worker-helps rule); waiting on another pool's future it only waits, so a task never
 * runs tasks of its own pool on its stack while it waits for something else. */
#include <stdlib.h>
#include <string.h>

#include "parallel/cpu.h"
#include "parallel/pool_internal.h"
#include "parallel/sync.h"

/* A helping worker re-checks its pool's queue at least this often while parked. */
#define HONE__HELP_POLL_NS 200000

/* ---- allocation: a small per-thread cache of future blocks ----
 * Futures with at most HONE__FUTURE_SMALL bytes of argument + result share one block size and are
 * recycled through a per-thread free list (the thread that releases last, usually the submitter,
 * reuses them on its next submits). Without it, a burst of thousands of futures freed at once
 * makes malloc trim the heap and fault the pages in again on the next burst. The cache is bounded
 * and emptied when its thread exits. Its bound is the default queue bound, so a submitter that
 * keeps the default queue full reuses every block: with a bound of 1024, bench/pool.sh's bursts
 * of 4096 futures spent most of their time in malloc's page faults (1.4 M empty tasks/s against
 * 4.8 M/s with this bound, one run each). At most 16384 blocks of 168 bytes, under 3 MiB, a
 * thread: memory its peak of futures held anyway. */
#define HONE__FUTURE_SMALL 32
#define HONE__CACHE_MAX 16384

typedef struct fcache {
  hone_future *head; /* linked through the block's first word */
  unsigned count;
  bool registered;
} fcache;

static _Thread_local fcache tl_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_ok;

static void cache_drain(void *p) {
  fcache *c = p;
  while (c->head) {
    hone_future *f = c->head;
    c->head = *(hone_future **)f;
    free(f);
  }
  c->count = 0;
}

static void cache_key_init(void) {
  cache_ok = pthread_key_create(&cache_key, cache_drain) == 0;
}

static hone_future *future_alloc(size_t extra) {
  if (extra <= HONE__FUTURE_SMALL && tl_cache.head) {
    hone_future *f = tl_cache.head;
    tl_cache.head = *(hone_future **)f;
    tl_cache.count--;
    return f;
  }
  return malloc(sizeof(hone_future) + (extra <= HONE__FUTURE_SMALL ? HONE__FUTURE_SMALL : extra));
}

static void future_free(hone_future *f) {
  if (f->arg_size + f->result_size <= HONE__FUTURE_SMALL && tl_cache.count < HONE__CACHE_MAX) {
    if (!tl_cache.registered) {
      pthread_once(&cache_once, cache_key_init);
      if (!cache_ok || pthread_setspecific(cache_key, &tl_cache) != 0) {
        free(f);
        return;
      }
      tl_cache.registered = true;
    }
    *(hone_future **)f = tl_cache.head;
    tl_cache.head = f;
    tl_cache.count++;
    return;
  }
  free(f);
}

static void future_job_run(hone__job *job, hone_task_ctx *ctx);
static void future_job_discard(hone__job *job);

hone_future *hone__future_new(hone_pool *pool, const hone__task *task, const void *arg,
                              size_t arg_size) {
  size_t rsz = task->result_size;
  if (arg_size > SIZE_MAX - sizeof(hone_future) - rsz) return NULL;
  hone_future *f = future_alloc(arg_size + rsz);
  if (!f) return NULL;
  f->job.run = future_job_run;
  f->job.discard = future_job_discard;
  atomic_init(&f->state, HONE__F_PENDING);
  atomic_init(&f->waiters, 0);
  atomic_init(&f->refs, 2);
  atomic_init(&f->has_listeners, 0);
  f->pool = pool;
  f->task = task;
  f->code = 0;
  f->message = NULL;
  f->arg_size = arg_size;
  f->result_size = rsz;
  f->result = (unsigned char *)(f + 1);
  f->arg = f->result + rsz;
  if (arg_size) memcpy(f->arg, arg, arg_size);
  atomic_init(&f->lock, 0);
  f->listeners = NULL;
  f->listeners_closed = false;
  f->tag = 0;
  f->remote = false;
  f->await_held = false;
  atomic_init(&f->pins, 0);
  return f;
}

hone_future *hone_future_retain(hone_future *f) {
  atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}

void hone_future_release(hone_future *f) {
  if (!f) return;
  if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) return;
  hone__listener *l = f->listeners; /* only possible if never completed: cannot happen */
  while (l) {
    hone__listener *next = l->next;
    free(l);
    l = next;
  }
  free(f->message);
  future_free(f);
}

/* The listener lock: held only to link or unlink a node, so a spin (yielding if the holder was
 * preempted) beats a 40-byte mutex in every future. */
static void flock(hone_future *f) {
  for (unsigned i = 0; atomic_exchange_explicit(&f->lock, 1, memory_order_acquire) != 0; i++)
    hone__spin_step(i);
}

static void funlock(hone_future *f) {
  atomic_store_explicit(&f->lock, 0, memory_order_release);
}

/* Publishes the final state, wakes parked waiters, then runs the listeners in the order added.
 * has_listeners is read after the state store (seq_cst): a listener added concurrently either
 * is seen here or sees the final state itself (add_listener). */
static void complete_then(hone_future *f, uint32_t final, void (*then)(void *), void *arg) {
  atomic_store_explicit(&f->state, final, memory_order_seq_cst);
  if (atomic_load_explicit(&f->waiters, memory_order_seq_cst)) hone__futex_wake(&f->state, INT_MAX);
  if (then) then(arg);
  if (!atomic_load_explicit(&f->has_listeners, memory_order_seq_cst)) return;
  flock(f);
  hone__listener *l = f->listeners, *rev = NULL;
  f->listeners = NULL;
  f->listeners_closed = true;
  funlock(f);
  while (l) { /* newest first -> oldest first */
    hone__listener *next = l->next;
    l->next = rev;
    rev = l;
    l = next;
  }
  while (rev) {
    hone__listener *next = rev->next;
    rev->fn(f, rev->arg);
    free(rev);
    rev = next;
  }
}

static void complete(hone_future *f, uint32_t final) {
  complete_then(f, final, NULL, NULL);
}

void hone__future_execute(hone_future *f, hone_task_ctx *ctx) {
  uint32_t expect = HONE__F_PENDING;
  if (!atomic_compare_exchange_strong_explicit(&f->state, &expect, HONE__F_RUNNING,
                                               memory_order_acq_rel, memory_order_acquire))
    return; /* cancelled */
  memset(f->result, 0, f->result_size);
  int rc = hone__task_call(f->task, ctx, f->arg, f->arg_size, f->result, f->result_size);
  if (rc < 0) {
    f->code = rc;
    f->message = strdup(ctx->has_message ? ctx->message : hone_strerror(rc));
  }
  complete(f, rc < 0 ? HONE__F_FAILED : HONE__F_FINISHED);
}

static void future_job_run(hone__job *job, hone_task_ctx *ctx) {
  hone_future *f = (hone_future *)job;
  hone__future_execute(f, ctx);
  hone_future_release(f);
}

static void future_job_discard(hone__job *job) {
  hone_future *f = (hone_future *)job;
  hone__future_cancel_pending(f);
  hone_future_release(f);
}

void hone__future_cancel_pending(hone_future *f) {
  uint32_t expect = HONE__F_PENDING;
  if (atomic_compare_exchange_strong_explicit(&f->state, &expect, HONE__F_CANCELLED,
                                              memory_order_acq_rel, memory_order_acquire))
    complete(f, HONE__F_CANCELLED);
}

void hone__future_cancel_then(hone_future *f, void (*then)(void *), void *arg) {
  uint32_t expect = HONE__F_PENDING;
  if (atomic_compare_exchange_strong_explicit(&f->state, &expect, HONE__F_CANCELLED,
                                              memory_order_acq_rel, memory_order_acquire))
    complete_then(f, HONE__F_CANCELLED, then, arg);
  else if (then)
    then(arg);
}

void hone__future_finish(hone_future *f, int code, const char *message, const void *data,
                         size_t size, void (*then)(void *), void *arg) {
  if (code < 0) {
    f->code = code;
    f->message = strdup(message ? message : hone_strerror(code));
  } else if (f->result_size) {
    memset(f->result, 0, f->result_size);
    if (data) memcpy(f->result, data, size < f->result_size ? size : f->result_size);
  }
  complete_then(f, code < 0 ? HONE__F_FAILED : HONE__F_FINISHED, then, arg);
}

void hone__future_mark_running(hone_future *f) {
  uint32_t expect = HONE__F_PENDING;
  atomic_compare_exchange_strong_explicit(&f->state, &expect, HONE__F_RUNNING, memory_order_acq_rel,
                                          memory_order_acquire);
}

static inline uint32_t state_of(const hone_future *f) {
  return atomic_load_explicit(&((hone_future *)f)->state, memory_order_acquire);
}

bool hone__future_pin(hone_future *f) {
  atomic_fetch_add_explicit(&f->pins, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&f->state, memory_order_seq_cst) < HONE__F_FINISHED) return true;
  atomic_fetch_sub_explicit(&f->pins, 1, memory_order_seq_cst);
  return false;
}

void hone__future_unpin(hone_future *f) {
  atomic_fetch_sub_explicit(&f->pins, 1, memory_order_seq_cst);
}

void hone__future_wait_unpinned(hone_future *f, uint32_t own) {
  /* The final state was stored (seq_cst) before this load: a pin not seen here sees it. */
  for (unsigned i = 0; atomic_load_explicit(&f->pins, memory_order_seq_cst) > own; i++)
    hone__spin_step(i);
}

int hone_future_cancel(hone_future *f) {
  /* A done future may have outlived its pool: a remote one's pool is reached only pinned. */
  if (f->remote && hone__future_pin(f)) {
    int rc = state_of(f) == HONE__F_PENDING ? f->pool->ops->cancel(f->pool, f) : HONE_EBUSY;
    hone__future_unpin(f);
    return rc == 0 || state_of(f) == HONE__F_CANCELLED ? 0 : HONE_EBUSY;
  }
  hone__future_cancel_pending(f);
  return atomic_load_explicit(&f->state, memory_order_acquire) == HONE__F_CANCELLED ? 0
                                                                                    : HONE_EBUSY;
}

bool hone_future_done(const hone_future *f) {
  return state_of(f) >= HONE__F_FINISHED;
}

bool hone_future_running(const hone_future *f) {
  hone_future *m = (hone_future *)f;
  if (m->remote && state_of(f) == HONE__F_PENDING && hone__future_pin(m)) {
    m->pool->ops->refresh(m->pool, m);
    hone__future_unpin(m);
  }
  return state_of(f) == HONE__F_RUNNING;
}

bool hone_future_cancelled(const hone_future *f) {
  return state_of(f) == HONE__F_CANCELLED;
}

/* True if the calling thread is a worker of f's pool: then it helps while waiting on f. */
static bool helps_on(const hone_future *f) {
  return hone__tls_pool != NULL && hone__tls_pool == f->pool;
}

/* Runs one queued job of the pool the calling thread works for, if any. */
static bool help_once(void) {
  hone_pool *p = hone__tls_pool;
  return p && p->ops->help(p);
}

/* A remote future whose backend can wait for its job itself (ops->await: woken by the worker,
 * collecting the result here): sleeps so until `until`; false when it did not (the caller then
 * sleeps on the future's state). */
static bool sleep_remote(hone_future *f, int64_t until, bool keep) {
  if (!f->remote || !f->pool->ops->await || !hone__future_pin(f)) return false;
  bool slept = f->pool->ops->await(f->pool, f, until, keep);
  hone__future_unpin(f);
  return slept;
}

/* Parks on the future's state until it changes or `until` passes (a completion wakes it). */
static void sleep_on_state(hone_future *f, int64_t until) {
  atomic_fetch_add_explicit(&f->waiters, 1, memory_order_seq_cst);
  uint32_t s = atomic_load_explicit(&f->state, memory_order_seq_cst);
  if (s < HONE__F_FINISHED) hone__futex_wait(&f->state, s, until);
  atomic_fetch_sub_explicit(&f->waiters, 1, memory_order_seq_cst);
}

bool hone__future_await(hone_future *f, int64_t deadline, bool keep) {
  if (state_of(f) >= HONE__F_FINISHED) return true;
  if (!sleep_remote(f, deadline, keep) && deadline > hone__now_ns()) sleep_on_state(f, deadline);
  return state_of(f) >= HONE__F_FINISHED;
}

/* Waits until the future is done or the deadline passes; true when done. */
static bool wait_done(hone_future *f, int64_t deadline) {
  if (state_of(f) >= HONE__F_FINISHED) return true;
  if (deadline != INT64_MAX && hone__now_ns() >= deadline) return false;
  bool helper = helps_on(f), remote = f->remote;
  int64_t spin_end = hone__now_ns() + (remote ? HONE__REMOTE_SPIN_NS : HONE__SPIN_NS);
  if (spin_end > deadline) spin_end = deadline;
  /* Confined to one CPU, a spin only delays the thread that would complete f (a process bound
   * to a core: the MPI backend's rank 0, whose dispatcher thread shares the caller's core).
   * bench/mpi/hone_mpi.c's idle round trip, bound, three runs each: 35-38 us with this rule,
   * 37-49 us without it (local worker threads: 32-38 against 42-47). */
  if (hone__cpu_alone()) spin_end = 0;
  for (unsigned i = 0;; i++) {
    if (state_of(f) >= HONE__F_FINISHED) return true;
    if (remote && hone__future_pin(f)) { /* collect the result here if it is ready */
      f->pool->ops->refresh(f->pool, f);
      hone__future_unpin(f);
      if (state_of(f) >= HONE__F_FINISHED) return true;
    }
    if (helper && help_once()) continue;
    if (hone__spin_expired(i, spin_end)) break;
    hone__spin_step(i);
  }
  for (;;) {
    if (helper)
      while (help_once())
        if (state_of(f) >= HONE__F_FINISHED) return true;
    int64_t now = hone__now_ns();
    if (now >= deadline) return state_of(f) >= HONE__F_FINISHED;
    int64_t until = deadline;
    if (helper && now + HONE__HELP_POLL_NS < until) until = now + HONE__HELP_POLL_NS;
    if (!sleep_remote(f, until, false)) sleep_on_state(f, until);
    if (state_of(f) >= HONE__F_FINISHED) return true;
  }
}

int hone_future_result(hone_future *f, int64_t timeout_ns, void *out, size_t out_size) {
  if (!wait_done(f, hone__deadline(timeout_ns))) return HONE_ETIMEDOUT;
  switch (state_of(f)) {
  case HONE__F_CANCELLED:
    return HONE_ECANCELED;
  case HONE__F_FAILED:
    return HONE_ETASK;
  default:
    break;
  }
  if (out_size && out)
    memcpy(out, f->result, out_size < f->result_size ? out_size : f->result_size);
  return 0;
}

const void *hone_future_result_data(hone_future *f, size_t *size) {
  if (state_of(f) != HONE__F_FINISHED) return NULL;
  if (size) *size = f->result_size;
  return f->result;
}

int hone_future_error(hone_future *f, int64_t timeout_ns, int *code, const char **message) {
  if (code) *code = 0;
  if (message) *message = "";
  if (!wait_done(f, hone__deadline(timeout_ns))) return HONE_ETIMEDOUT;
  uint32_t s = state_of(f);
  if (s == HONE__F_CANCELLED) {
    if (code) *code = HONE_ECANCELED;
    if (message) *message = hone_strerror(HONE_ECANCELED);
    return HONE_ECANCELED;
  }
  if (s == HONE__F_FINISHED) return 0;
  if (code) *code = f->code;
  if (message) *message = f->message ? f->message : hone_strerror(f->code);
  return HONE_ETASK;
}

/* Adds a listener, or returns 1 (nothing added) when the future is already done: the caller
 * then runs it itself. 0 added, HONE_ENOMEM. */
static int add_listener(hone_future *f, hone_future_callback fn, void *arg) {
  if (hone_future_done(f)) return 1;
  hone__listener *l = malloc(sizeof *l);
  if (!l) return HONE_ENOMEM;
  l->fn = fn;
  l->arg = arg;
  atomic_store_explicit(&f->has_listeners, 1, memory_order_seq_cst);
  flock(f);
  bool closed = f->listeners_closed ||
                atomic_load_explicit(&f->state, memory_order_seq_cst) >= HONE__F_FINISHED;
  if (!closed) {
    l->next = f->listeners;
    f->listeners = l;
  }
  funlock(f);
  if (closed) {
    free(l);
    return 1;
  }
  return 0;
}

/* Removes a listener not yet run; true if it was found (it will then never run). */
static bool remove_listener(hone_future *f, hone_future_callback fn, void *arg) {
  bool found = false;
  flock(f);
  for (hone__listener **pp = &f->listeners; *pp; pp = &(*pp)->next) {
    if ((*pp)->fn == fn && (*pp)->arg == arg) {
      hone__listener *l = *pp;
      *pp = l->next;
      free(l);
      found = true;
      break;
    }
  }
  funlock(f);
  return found;
}

int hone_future_add_done_callback(hone_future *f, hone_future_callback cb, void *arg) {
  int rc = add_listener(f, cb, arg);
  if (rc == 1) {
    cb(f, arg);
    rc = 0;
  }
  return rc;
}

/* ---- waiting on many futures: a waiter listens on each and collects completions ---- */

typedef struct waiter {
  _Atomic uint32_t refs; /* the owner's + one per registered listener */
  hone__event ev;        /* notified on each completion */
  pthread_mutex_t mu;    /* guards ring, head, tail, failed */
  hone_future **ring;    /* completed, in completion order; capacity n (each completes once) */
  size_t n, head, tail, failed;
} waiter;

static void waiter_unref(waiter *w) {
  if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_destroy(&w->mu);
  free(w->ring);
  free(w);
}

static void waiter_on_done(hone_future *f, void *arg) {
  waiter *w = arg;
  pthread_mutex_lock(&w->mu);
  w->ring[w->tail++] = f;
  if (state_of(f) == HONE__F_FAILED) w->failed++;
  pthread_mutex_unlock(&w->mu);
  hone__ev_notify(&w->ev, INT_MAX);
  waiter_unref(w);
}

static waiter *waiter_new(hone_future *const *fs, size_t n) {
  waiter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->ring = malloc((n ? n : 1) * sizeof *w->ring);
  if (!w->ring) {
    free(w);
    return NULL;
  }
  w->n = n;
  pthread_mutex_init(&w->mu, NULL);
  atomic_init(&w->refs, 1);
  for (size_t i = 0; i < n; i++) {
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    int rc = add_listener(fs[i], waiter_on_done, w);
    if (rc == 1)
      waiter_on_done(fs[i], w);
    else if (rc < 0) {
      /* Out of memory for a listener: poll this future instead would complicate every reader;
       * give up cleanly. */
      atomic_fetch_sub_explicit(&w->refs, 1, memory_order_relaxed);
      for (size_t j = 0; j < i; j++)
        if (remove_listener(fs[j], waiter_on_done, w)) waiter_unref(w);
      waiter_unref(w);
      return NULL;
    }
  }
  return w;
}

static void waiter_detach(waiter *w, hone_future *const *fs, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (remove_listener(fs[i], waiter_on_done, w)) waiter_unref(w);
  waiter_unref(w);
}

/* Waits until pred(w) holds or the deadline; helping meanwhile if a worker of the pool of one of
 * the futures waited on (helper). */
static bool waiter_wait(waiter *w, bool (*pred)(waiter *), int64_t deadline, bool helper) {
  int64_t spin_end = hone__now_ns() + HONE__SPIN_NS;
  for (unsigned i = 0;; i++) {
    pthread_mutex_lock(&w->mu);
    bool ok = pred(w);
    pthread_mutex_unlock(&w->mu);
    if (ok) return true;
    if (helper && help_once()) continue;
    int64_t now = hone__now_ns();
    if (now >= deadline) return false;
    if (now < spin_end) {
      for (int k = 0; k < 16; k++) hone__spin_step(i * 16 + (unsigned)k);
      continue;
    }
    uint32_t key = hone__ev_prepare(&w->ev);
    pthread_mutex_lock(&w->mu);
    ok = pred(w);
    pthread_mutex_unlock(&w->mu);
    if (ok) {
      hone__ev_cancel(&w->ev);
      return true;
    }
    int64_t until = deadline;
    if (helper && now + HONE__HELP_POLL_NS < until) until = now + HONE__HELP_POLL_NS;
    hone__ev_wait(&w->ev, key, until);
  }
}

static bool pred_any(waiter *w) {
  return w->tail > 0;
}

static bool pred_first_exception(waiter *w) {
  return w->failed > 0 || w->tail == w->n;
}

int hone_futures_wait(hone_future *const *fs, size_t n, hone_wait_mode mode, int64_t timeout_ns,
                      size_t *n_done) {
  if (n && !fs) return HONE_EINVAL;
  if (mode != HONE_ALL_COMPLETED && mode != HONE_FIRST_COMPLETED && mode != HONE_FIRST_EXCEPTION)
    return HONE_EINVAL;
  int64_t deadline = hone__deadline(timeout_ns);
  int rc = 0;
  if (mode == HONE_ALL_COMPLETED || n == 0) {
    for (size_t i = 0; i < n; i++)
      if (!wait_done(fs[i], deadline)) {
        rc = HONE_ETIMEDOUT;
        break;
      }
  } else {
    waiter *w = waiter_new(fs, n);
    if (!w) return HONE_ENOMEM;
    bool helper = false;
    for (size_t i = 0; i < n && !helper; i++) helper = helps_on(fs[i]);
    bool ok = waiter_wait(w, mode == HONE_FIRST_COMPLETED ? pred_any : pred_first_exception,
                          deadline, helper);
    waiter_detach(w, fs, n);
    rc = ok ? 0 : HONE_ETIMEDOUT;
  }
  if (n_done) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += hone_future_done(fs[i]);
    *n_done = d;
  }
  return rc;
}

struct hone_as_completed {
  waiter *w;
  hone_future **fs; /* our references */
  size_t n, yielded;
  /* Whether a worker of helper_pool helps while it waits here (one of the futures is of that
   * pool): computed for the calling thread's pool, again when another pool's worker calls. */
  hone_pool *helper_pool;
  bool helper;
};

static int cmp_future_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (hone_future *const *)a, y = (uintptr_t) * (hone_future *const *)b;
  return x < y ? -1 : x > y;
}

int hone_as_completed_new(hone_as_completed **out, hone_future *const *fs, size_t n) {
  *out = NULL;
  if (n && !fs) return HONE_EINVAL;
  hone_as_completed *it = calloc(1, sizeof *it);
  if (!it) return HONE_ENOMEM;
  it->fs = calloc(n ? n : 1, sizeof *it->fs);
  if (!it->fs) {
    free(it);
    return HONE_ENOMEM;
  }
  /* A future listed more than once is yielded once (Python's as_completed takes a set): sort
   * the pointers and keep one of each; the order yielded is the order of completion anyway. */
  if (n) memcpy(it->fs, fs, n * sizeof *fs);
  qsort(it->fs, n, sizeof *it->fs, cmp_future_ptr);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || it->fs[u - 1] != it->fs[i]) it->fs[u++] = hone_future_retain(it->fs[i]);
  n = u;
  it->n = n;
  it->w = waiter_new(it->fs, n);
  if (!it->w) {
    for (size_t i = 0; i < n; i++) hone_future_release(it->fs[i]);
    free(it->fs);
    free(it);
    return HONE_ENOMEM;
  }
  *out = it;
  return 0;
}

static bool pred_unyielded(waiter *w) {
  return w->head < w->tail;
}

int hone_as_completed_next(hone_as_completed *it, int64_t timeout_ns, hone_future **f) {
  *f = NULL;
  if (it->yielded == it->n) return HONE_ENOENT;
  if (hone__tls_pool != it->helper_pool) {
    it->helper_pool = hone__tls_pool;
    it->helper = false;
    for (size_t i = 0; i < it->n && !it->helper; i++) it->helper = helps_on(it->fs[i]);
  }
  if (!waiter_wait(it->w, pred_unyielded, hone__deadline(timeout_ns), it->helper))
    return HONE_ETIMEDOUT;
  pthread_mutex_lock(&it->w->mu);
  *f = it->w->ring[it->w->head++];
  pthread_mutex_unlock(&it->w->mu);
  it->yielded++;
  return 0;
}

void hone_as_completed_free(hone_as_completed *it) {
  if (!it) return;
  waiter_detach(it->w, it->fs, it->n);
  for (size_t i = 0; i < it->n; i++) hone_future_release(it->fs[i]);
  free(it->fs);
  free(it);
}
