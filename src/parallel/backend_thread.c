/* backend_thread.c: the thread backend — worker threads, the bounded lock-free job queue, parking
 * and waking, and map (a share of the items per worker, with stealing; in place, no copies).
 *
 * Queue: a bounded MPMC ring with a sequence number per cell (the classic Vyukov design): one CAS
 * per push or pop, no lock, exact capacity (at least 2). Waking: at most one idle worker spins
 * ("searches") for work at a time, so an idle pool answers a submit in well under a microsecond
 * without every worker burning a CPU. A submitter wakes a parked worker only when nobody searches,
 * and hands it the searching slot (`token`), so a burst of submits costs one futex wake; a
 * searcher that finds work wakes the next worker if more is queued. All orderings that decide
 * "must I wake someone?" are seq_cst (sync.h explains the eventcount). Map wakes its workers from
 * the calling thread, which then parks. Shutdown: `closed` refuses new work; once no submit is in
 * flight (`submitting` is 0) `stop` tells workers to exit when the queue is empty.
 *
 * Lock order: join_mu is the only mutex (map's err_mu is per map and taken alone). */
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel/pool_internal.h"
#include "parallel/sync.h"

typedef struct cell {
  _Atomic size_t seq;
  hone__job *job;
} cell;

typedef struct tpool tpool;

typedef struct worker {
  tpool *tp;
  unsigned index;
  pthread_t thread;
  bool started;
} worker;

struct tpool {
  hone_pool *pool;
  size_t cap;
  cell *cells;
  alignas(64) _Atomic size_t enq;
  alignas(64) _Atomic size_t deq;
  alignas(64) _Atomic uint32_t searching; /* workers spinning for work, or woken to (<= 1) */
  _Atomic uint32_t token;                 /* a wake's searching slot, not yet taken */
  hone__event work_ev;                    /* parked workers */
  hone__event space_ev;                   /* submitters waiting for room */
  /* Written by submitters twice a task: a line of its own, away from `stop`, which a searching
   * worker reads in its spin (sharing one line cost a line transfer each way per task). */
  alignas(64) _Atomic uint32_t submitting;
  _Atomic uint32_t closed;
  alignas(64) _Atomic uint32_t stop, cancelling; /* read by workers, written at shutdown */
  _Atomic uint32_t ready; /* workers past their initializer (futex word for create) */
  _Atomic int init_error;
  hone_pool_init_fn init;
  void *init_arg;
  pthread_mutex_t join_mu; /* guards joined */
  bool joined;
  unsigned nworkers;
  worker *workers;
};

/* ---- the ring ---- */

static bool ring_push(tpool *tp, hone__job *job) {
  size_t pos = atomic_load_explicit(&tp->enq, memory_order_relaxed);
  cell *c;
  for (;;) {
    c = &tp->cells[pos % tp->cap];
    size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    intptr_t diff = (intptr_t)seq - (intptr_t)pos;
    if (diff == 0) {
      if (atomic_compare_exchange_weak_explicit(&tp->enq, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (diff < 0) {
      return false; /* full */
    } else {
      pos = atomic_load_explicit(&tp->enq, memory_order_relaxed);
    }
  }
  c->job = job;
  /* seq_cst: orders the publication before wake_worker's loads (no separate fence needed). */
  atomic_store_explicit(&c->seq, pos + 1, memory_order_seq_cst);
  return true;
}

static hone__job *ring_pop(tpool *tp) {
  size_t pos = atomic_load_explicit(&tp->deq, memory_order_relaxed);
  cell *c;
  for (;;) {
    c = &tp->cells[pos % tp->cap];
    size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    intptr_t diff = (intptr_t)seq - (intptr_t)(pos + 1);
    if (diff == 0) {
      if (atomic_compare_exchange_weak_explicit(&tp->deq, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (diff < 0) {
      return NULL; /* empty */
    } else {
      pos = atomic_load_explicit(&tp->deq, memory_order_relaxed);
    }
  }
  hone__job *job = c->job;
  /* seq_cst: orders the freed cell before take()'s load of the space waiters. */
  atomic_store_explicit(&c->seq, pos + tp->cap, memory_order_seq_cst);
  return job;
}

static bool ring_maybe_nonempty(tpool *tp) {
  return atomic_load_explicit(&tp->enq, memory_order_relaxed) !=
         atomic_load_explicit(&tp->deq, memory_order_relaxed);
}

/* Pops a job and lets a blocked submitter know there is room. */
static hone__job *take(tpool *tp) {
  hone__job *job = ring_pop(tp);
  if (job) hone__ev_notify_sc(&tp->space_ev, 1);
  return job;
}

/* After a push: make sure someone will run it. Running workers will look at the queue when they
 * finish and a searching worker will find it, so a parked worker is woken only when neither
 * exists; and at most one wake is in flight: the woken worker inherits the searching slot through
 * `token` (see grab_token), so a burst of submits costs one futex wake, not one each. */
static void wake_worker(tpool *tp) {
  if (atomic_load_explicit(&tp->searching, memory_order_seq_cst)) return;
  if (atomic_load_explicit(&tp->work_ev.waiters, memory_order_seq_cst) == 0) return;
  uint32_t zero = 0;
  if (!atomic_compare_exchange_strong_explicit(&tp->searching, &zero, 1, memory_order_seq_cst,
                                               memory_order_relaxed))
    return;
  atomic_store_explicit(&tp->token, 1, memory_order_seq_cst);
  hone__ev_notify_sc(&tp->work_ev, 1);
}

/* A worker leaving (or about to enter) its park takes the wake token if one is out: it then owns
 * the searching slot. Every worker counted as parked by wake_worker passes here after the token
 * is set (on cancel, before sleeping, or on waking since the notify changed the key), so a token
 * is never stranded. */
static bool grab_token(tpool *tp) {
  if (!atomic_load_explicit(&tp->token, memory_order_seq_cst)) return false;
  return atomic_exchange_explicit(&tp->token, 0, memory_order_seq_cst) == 1;
}

/* Pushes, blocking while full until the deadline. 0, HONE_ETIMEDOUT, HONE_ESHUTDOWN. The caller
 * holds a `submitting` count. */
static int push_blocking(tpool *tp, hone__job *job, int64_t timeout_ns) {
  if (ring_push(tp, job)) return 0;
  if (timeout_ns == 0) return HONE_ETIMEDOUT;
  int64_t deadline = hone__deadline(timeout_ns);
  for (;;) {
    uint32_t key = hone__ev_prepare(&tp->space_ev);
    if (atomic_load_explicit(&tp->closed, memory_order_seq_cst)) {
      hone__ev_cancel(&tp->space_ev);
      return HONE_ESHUTDOWN;
    }
    if (ring_push(tp, job)) {
      hone__ev_cancel(&tp->space_ev);
      return 0;
    }
    if (hone__now_ns() >= deadline) {
      hone__ev_cancel(&tp->space_ev);
      return HONE_ETIMEDOUT;
    }
    hone__ev_wait(&tp->space_ev, key, deadline);
  }
}

/* ---- workers ---- */

static void run_job(hone__job *job, hone_task_ctx *ctx) {
  job->run(job, ctx);
}

/* Spins looking for a job for up to HONE__SPIN_NS (the caller owns the searching slot, and gives
 * it back here). A searcher that finds work wakes another worker if more is queued. */
static hone__job *search(tpool *tp) {
  hone__job *job = NULL;
  int64_t end = hone__now_ns() + HONE__SPIN_NS;
  for (unsigned i = 1;; i++) {
    if ((job = take(tp))) break;
    if (atomic_load_explicit(&tp->stop, memory_order_relaxed)) break;
    if (hone__spin_expired(i, end)) break;
    hone__spin_step(i);
  }
  atomic_fetch_sub_explicit(&tp->searching, 1, memory_order_seq_cst);
  if (job && ring_maybe_nonempty(tp)) wake_worker(tp);
  return job;
}

/* Set by a map runner on its worker: that worker lingers before it parks (see linger). */
static _Thread_local bool tl_after_map;

/* A worker whose map share just ended spins for the next job up to HONE__SPIN_NS even when another
 * worker holds the searching slot, as OpenMP's threads spin after a parallel region: a program that
 * maps in a loop then hands its next map to workers that are running, with no wake-up. Without it,
 * only the searching worker of the two was still running when the next map came, and the other had
 * to be woken: 10^6 tiny items back to back (bench/pool.sh's map) took their first item 30-60 us
 * after the call instead of 2-14 us, the wake-up system call alone 20-30 us on the 2-vCPU KVM
 * machine. A map's workers leave it together, so this spins as many CPUs as the map used, for at
 * most 30 us after it. */
static hone__job *linger(tpool *tp) {
  int64_t end = hone__now_ns() + HONE__SPIN_NS;
  for (unsigned i = 1;; i++) {
    hone__job *job = take(tp);
    if (job) return job;
    if (atomic_load_explicit(&tp->stop, memory_order_relaxed)) return NULL;
    if (hone__spin_expired(i, end)) return NULL;
    hone__spin_step(i);
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  tpool *tp = w->tp;
  hone__tls_pool = tp->pool;
  hone__tls_worker = (int)w->index;
  if (tp->init) {
    int rc = tp->init(tp->init_arg, w->index);
    if (rc != 0) {
      int none = 0;
      atomic_compare_exchange_strong(&tp->init_error, &none, rc < 0 ? rc : HONE_ETASK);
    }
  }
  atomic_fetch_add_explicit(&tp->ready, 1, memory_order_seq_cst);
  hone__futex_wake(&tp->ready, INT_MAX);
  hone_task_ctx ctx;
  hone__task_ctx_init(&ctx, tp->pool, (int)w->index);
  for (;;) {
    hone__job *job = take(tp);
    if (job) {
      run_job(job, &ctx);
      continue;
    }
    if (tl_after_map) {
      tl_after_map = false;
      if ((job = linger(tp))) {
        run_job(job, &ctx);
        continue;
      }
    }
    uint32_t zero = 0;
    bool searcher = atomic_compare_exchange_strong_explicit(
        &tp->searching, &zero, 1, memory_order_seq_cst, memory_order_relaxed);
    for (;;) {
      if (searcher && (job = search(tp))) break;
      uint32_t key = hone__ev_prepare(&tp->work_ev);
      if ((job = take(tp))) {
        hone__ev_cancel(&tp->work_ev);
        if (grab_token(tp)) { /* found work while holding the slot: pass it on */
          atomic_fetch_sub_explicit(&tp->searching, 1, memory_order_seq_cst);
          if (ring_maybe_nonempty(tp)) wake_worker(tp);
        }
        break;
      }
      if (atomic_load_explicit(&tp->stop, memory_order_seq_cst)) {
        hone__ev_cancel(&tp->work_ev);
        if (grab_token(tp)) atomic_fetch_sub_explicit(&tp->searching, 1, memory_order_seq_cst);
        return NULL;
      }
      if (grab_token(tp)) {
        hone__ev_cancel(&tp->work_ev);
        searcher = true;
        continue;
      }
      hone__ev_wait(&tp->work_ev, key, INT64_MAX);
      searcher = grab_token(tp);
    }
    run_job(job, &ctx);
  }
}

static void join_workers(tpool *tp) {
  pthread_mutex_lock(&tp->join_mu);
  if (!tp->joined) {
    for (unsigned i = 0; i < tp->nworkers; i++)
      if (tp->workers[i].started) pthread_join(tp->workers[i].thread, NULL);
    tp->joined = true;
  }
  pthread_mutex_unlock(&tp->join_mu);
}

static void tp_free(tpool *tp) {
  pthread_mutex_destroy(&tp->join_mu);
  free(tp->workers);
  free(tp->cells);
  free(tp);
}

/* Refuses new work, waits for submits in flight, optionally discards queued jobs, then lets the
 * workers exit once the queue is empty. */
static void stop_workers(tpool *tp, bool cancel_pending) {
  if (cancel_pending) atomic_store_explicit(&tp->cancelling, 1, memory_order_seq_cst);
  atomic_store_explicit(&tp->closed, 1, memory_order_seq_cst);
  hone__ev_notify(&tp->space_ev, INT_MAX);
  while (atomic_load_explicit(&tp->submitting, memory_order_seq_cst)) {
    hone__ev_notify(&tp->space_ev, INT_MAX);
    sched_yield();
  }
  if (cancel_pending) {
    hone__job *job;
    while ((job = take(tp))) job->discard(job);
  }
  atomic_store_explicit(&tp->stop, 1, memory_order_seq_cst);
  hone__ev_notify(&tp->work_ev, INT_MAX);
}

static int tp_create(hone_pool *pool, const hone_pool_options *opts) {
  /* Aligned as its members are, so that each alignas(64) group has its line to itself. */
  tpool *tp = aligned_alloc(64, (sizeof *tp + 63) / 64 * 64);
  if (!tp) return HONE_ENOMEM;
  memset(tp, 0, sizeof *tp);
  tp->pool = pool;
  tp->cap = opts->queue_size;
  tp->cells = malloc(tp->cap * sizeof *tp->cells);
  tp->nworkers = opts->workers;
  tp->workers = calloc(opts->workers, sizeof *tp->workers);
  pthread_mutex_init(&tp->join_mu, NULL);
  if (!tp->cells || !tp->workers) {
    tp_free(tp);
    return HONE_ENOMEM;
  }
  for (size_t i = 0; i < tp->cap; i++) atomic_init(&tp->cells[i].seq, i);
  tp->init = opts->initializer;
  tp->init_arg = opts->initializer_arg;
  pool->impl = tp;
  int rc = 0;
  unsigned started = 0;
  for (unsigned i = 0; i < tp->nworkers; i++) {
    worker *w = &tp->workers[i];
    w->tp = tp;
    w->index = i;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      rc = HONE_ESYS;
      break;
    }
    w->started = true;
    started++;
  }
  uint32_t r;
  while ((r = atomic_load_explicit(&tp->ready, memory_order_seq_cst)) < started)
    hone__futex_wait(&tp->ready, r, INT64_MAX);
  if (rc == 0) rc = atomic_load(&tp->init_error);
  if (rc < 0) {
    stop_workers(tp, true);
    join_workers(tp);
    tp_free(tp);
    pool->impl = NULL;
  }
  return rc;
}

static int tp_submit(hone_pool *pool, hone_future *f, int64_t timeout_ns) {
  tpool *tp = pool->impl;
  atomic_fetch_add_explicit(&tp->submitting, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&tp->closed, memory_order_seq_cst)) {
    atomic_fetch_sub_explicit(&tp->submitting, 1, memory_order_seq_cst);
    return HONE_ESHUTDOWN;
  }
  int rc;
  if (hone__tls_pool == pool) {
    /* One of our own workers: never block on a full queue (the workers that would make room may
     * all be waiting on us); run the task here instead, like a function call. */
    if (ring_push(tp, &f->job)) {
      rc = 0;
    } else {
      atomic_fetch_sub_explicit(&tp->submitting, 1, memory_order_seq_cst);
      hone_task_ctx ctx;
      hone__task_ctx_init(&ctx, pool, hone__tls_worker);
      hone__future_execute(f, &ctx);
      atomic_fetch_sub_explicit(&f->refs, 1, memory_order_relaxed); /* the queue's: never queued */
      return 0;
    }
  } else {
    rc = push_blocking(tp, &f->job, timeout_ns);
  }
  atomic_fetch_sub_explicit(&tp->submitting, 1, memory_order_seq_cst);
  if (rc == 0) wake_worker(tp);
  return rc;
}

static bool tp_help(hone_pool *pool) {
  tpool *tp = pool->impl;
  hone__job *job = take(tp);
  if (!job) return false;
  hone_task_ctx ctx;
  hone__task_ctx_init(&ctx, pool, hone__tls_worker);
  run_job(job, &ctx);
  return true;
}

static int tp_shutdown(hone_pool *pool, bool wait, bool cancel_pending) {
  tpool *tp = pool->impl;
  stop_workers(tp, cancel_pending);
  if (wait) join_workers(tp);
  return 0;
}

static void tp_destroy(hone_pool *pool) {
  tpool *tp = pool->impl;
  join_workers(tp);
  tp_free(tp);
  pool->impl = NULL;
}

/* ---- map ---- */

/* Map deals the items out like OpenMP's static schedule: one contiguous share per participant
 * (each queued runner, and the calling worker when a worker of this pool maps). A participant
 * claims from the front of its own share, with one CAS on a cache line no other participant
 * writes until stealing begins; when its share is empty it takes from the back of the fullest
 * share left (at most half of what is there), so a worker that starts late or a share that runs
 * slow costs no parallelism. Counts of items done stay local and are added once, when a
 * participant leaves, so the common case moves no shared line per claim.
 *
 * Claim size, when the caller gives none: doubling from one item while a claim runs under half of
 * HONE__MAP_CLAIM_NS, halving above twice it. An owner's claim costs its CAS and two reads of
 * CLOCK_MONOTONIC, about 70 ns on the 2-vCPU KVM machines this was measured on (26 ns a clock
 * read, `hone clocks`); a thief's CAS moves a line between CPUs, 0.4-0.5 us there (bench/'s
 * cache-line round trip). Claims of 20 us keep the first under 0.4 % of the work and the second
 * under 2.5 % of the stolen work, and the end of a map waits for at most one claim of each
 * participant, a few percent of 10^6 tiny items (0.9 ms on two workers). */
#define HONE__MAP_CLAIM_NS 20000
/* A share's offsets are packed as two 32-bit halves of one word; a larger map has more shares
 * than participants, each participant taking every nparts-th. */
#define HONE__SHARE_MAX UINT32_MAX

typedef struct map_share {
  alignas(64) _Atomic uint64_t span; /* left to claim: [base + lo, base + hi), lo in the low half */
  size_t base;
} map_share;

typedef struct map_state map_state;

typedef struct map_runner {
  hone__job job;
  map_state *m;
  unsigned who; /* its participant index */
} map_runner;

struct map_state {
  _Atomic uint32_t refs; /* the caller's + one per queued runner */
  tpool *tp;
  const hone__task *task;
  const unsigned char *in;
  unsigned char *out;
  size_t in_stride, out_stride, n;
  size_t chunk;    /* the caller's claim size, or 0: timed */
  unsigned nparts; /* participants: participant p owns shares p, p + nparts, ... */
  size_t nshares;
  map_share *shares;
  alignas(64) _Atomic size_t done; /* items run or dropped, added as participants leave */
  _Atomic uint32_t finished;       /* futex word: 1 once done == n */
  _Atomic uint32_t waiters;
  _Atomic uint32_t cancelled;
  alignas(64) _Atomic size_t fail_index; /* SIZE_MAX: no failure; read by every participant */
  pthread_mutex_t err_mu;                /* guards err_code, err_msg (with fail_index stores) */
  int err_code;
  char err_msg[HONE_TASK_MESSAGE_MAX];
  map_runner runners[];
};

static void map_unref(map_state *m) {
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_destroy(&m->err_mu);
  free(m->shares);
  free(m);
}

static void map_add_done(map_state *m, size_t k) {
  if (atomic_fetch_add_explicit(&m->done, k, memory_order_acq_rel) + k != m->n) return;
  atomic_store_explicit(&m->finished, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&m->waiters, memory_order_seq_cst))
    hone__futex_wake(&m->finished, INT_MAX);
}

/* Takes up to k items from the front of a share: true with [*a, *b). */
static bool claim_front(map_share *sh, size_t k, size_t *a, size_t *b) {
  uint64_t sp = atomic_load_explicit(&sh->span, memory_order_relaxed);
  for (;;) {
    uint32_t lo = (uint32_t)sp, hi = (uint32_t)(sp >> 32);
    if (lo >= hi) return false;
    uint32_t take = hi - lo < k ? hi - lo : (uint32_t)k;
    uint64_t next = (uint64_t)(lo + take) | (uint64_t)hi << 32;
    if (atomic_compare_exchange_weak_explicit(&sh->span, &sp, next, memory_order_relaxed,
                                              memory_order_relaxed)) {
      *a = sh->base + lo;
      *b = *a + take;
      return true;
    }
  }
}

/* Takes up to k items, and at most half of what is left (rounded up), from the back of a share. */
static bool claim_back(map_share *sh, size_t k, size_t *a, size_t *b) {
  uint64_t sp = atomic_load_explicit(&sh->span, memory_order_relaxed);
  for (;;) {
    uint32_t lo = (uint32_t)sp, hi = (uint32_t)(sp >> 32);
    if (lo >= hi) return false;
    uint32_t half = (hi - lo) / 2 + (hi - lo) % 2;
    uint32_t take = half < k ? half : (uint32_t)k;
    uint64_t next = (uint64_t)lo | (uint64_t)(hi - take) << 32;
    if (atomic_compare_exchange_weak_explicit(&sh->span, &sp, next, memory_order_relaxed,
                                              memory_order_relaxed)) {
      *b = sh->base + hi;
      *a = *b - take;
      return true;
    }
  }
}

/* From the fullest share left: false once every share is empty. */
static bool steal(map_state *m, size_t k, size_t *a, size_t *b) {
  for (;;) {
    size_t best = SIZE_MAX;
    uint32_t most = 0;
    for (size_t s = 0; s < m->nshares; s++) {
      uint64_t sp = atomic_load_explicit(&m->shares[s].span, memory_order_relaxed);
      uint32_t lo = (uint32_t)sp, hi = (uint32_t)(sp >> 32);
      if (hi > lo && hi - lo > most) {
        most = hi - lo;
        best = s;
      }
    }
    if (best == SIZE_MAX) return false;
    if (claim_back(&m->shares[best], k, a, b)) return true;
  }
}

/* Drops every unclaimed item from index `end` on (0: all of them); returns how many. */
static size_t shares_cut(map_state *m, size_t end) {
  size_t dropped = 0;
  for (size_t s = 0; s < m->nshares; s++) {
    map_share *sh = &m->shares[s];
    size_t keep = end > sh->base ? end - sh->base : 0; /* offsets below this stay */
    uint64_t sp = atomic_load_explicit(&sh->span, memory_order_relaxed);
    for (;;) {
      uint32_t lo = (uint32_t)sp, hi = (uint32_t)(sp >> 32);
      if (lo >= hi || hi <= keep) break;
      uint32_t cut = keep > lo ? (uint32_t)keep : lo;
      if (atomic_compare_exchange_weak_explicit(&sh->span, &sp, (uint64_t)lo | (uint64_t)cut << 32,
                                                memory_order_relaxed, memory_order_relaxed)) {
        dropped += hi - cut;
        break;
      }
    }
  }
  return dropped;
}

static void map_record_failure(map_state *m, size_t i, int rc, hone_task_ctx *ctx) {
  pthread_mutex_lock(&m->err_mu);
  if (i < atomic_load_explicit(&m->fail_index, memory_order_relaxed)) {
    m->err_code = rc;
    snprintf(m->err_msg, sizeof m->err_msg, "%s",
             ctx->has_message ? ctx->message : hone_strerror(rc));
    atomic_store_explicit(&m->fail_index, i, memory_order_release);
  }
  pthread_mutex_unlock(&m->err_mu);
}

/* Runs items [a, b); returns false if one failed. Items past a known earlier failure are left. */
static bool map_run_range(map_state *m, size_t a, size_t b, hone_task_ctx *ctx) {
  hone_task_fn fn = m->task->fn;
  const unsigned char *in = m->in;
  unsigned char *out = m->out;
  size_t is = m->in_stride, os = m->out_stride;
  if (!fn) { /* a batch task: whole runs, checking for an earlier failure between runs */
    ctx->has_message = false;
    for (size_t i = a; i < b;) {
      if (i > atomic_load_explicit(&m->fail_index, memory_order_relaxed)) break;
      size_t k = b - i < 4096 ? b - i : 4096, failed = 0;
      int rc = m->task->batch(ctx, in + i * is, is, out + i * os, os, k, &failed);
      if (rc != 0) {
        if (failed >= k) failed = 0;
        map_record_failure(m, i + failed, rc < 0 ? rc : HONE_ETASK, ctx);
        return false;
      }
      i += k;
    }
    return true;
  }
  ctx->has_message = false; /* only a failure sets it, and a failure ends the range */
  for (size_t i = a; i < b; i++) {
    /* An earlier item failed elsewhere: leave the rest (checked every few items to keep the
     * per-item cost to the call itself). */
    if ((i & 31) == 0 && i > atomic_load_explicit(&m->fail_index, memory_order_relaxed)) break;
    int rc = fn(ctx, in + i * is, is, out + i * os, os);
    if (rc != 0) {
      map_record_failure(m, i, rc < 0 ? rc : HONE_ETASK, ctx);
      return false;
    }
  }
  return true;
}

/* A participant's loop: its own share's items, then stolen ones, until none is left anywhere.
 * ctx NULL: discard (drop what is unclaimed, run nothing). */
static void map_participate(map_state *m, unsigned who, hone_task_ctx *ctx) {
  size_t done = 0, c = m->chunk ? m->chunk : 1, own = who;
  for (;;) {
    if (!ctx || atomic_load_explicit(&m->tp->cancelling, memory_order_relaxed)) {
      size_t dropped = shares_cut(m, 0);
      if (dropped) atomic_store_explicit(&m->cancelled, 1, memory_order_relaxed);
      done += dropped;
      break;
    }
    size_t a, b;
    bool got = false;
    while (own < m->nshares && !(got = claim_front(&m->shares[own], c, &a, &b))) own += m->nparts;
    if (!got && !steal(m, c, &a, &b)) break;
    int64_t t0 = m->chunk ? 0 : hone__now_ns();
    bool ok = map_run_range(m, a, b, ctx);
    done += b - a;
    if (!ok) {
      /* Items before the failure still run; none after it is handed out. */
      done += shares_cut(m, atomic_load_explicit(&m->fail_index, memory_order_acquire));
      continue;
    }
    if (!m->chunk) {
      int64_t el = hone__now_ns() - t0;
      if (el < HONE__MAP_CLAIM_NS / 2 && c < HONE__SHARE_MAX / 2)
        c *= 2;
      else if (el > 2 * HONE__MAP_CLAIM_NS && c > 1)
        c /= 2;
    }
  }
  if (done) map_add_done(m, done);
}

static void map_runner_run(hone__job *job, hone_task_ctx *ctx) {
  map_runner *r = (map_runner *)job;
  map_state *m = r->m;
  map_participate(m, r->who, ctx);
  tl_after_map = true;
  map_unref(m);
}

static void map_runner_discard(hone__job *job) {
  map_runner *r = (map_runner *)job;
  map_state *m = r->m;
  map_participate(m, r->who, NULL);
  map_unref(m);
}

static int tp_map(hone_pool *pool, const hone__task *task, const void *in, size_t in_stride,
                  void *out, size_t out_stride, size_t n, size_t chunk, hone_map_error *err) {
  tpool *tp = pool->impl;
  bool own = hone__tls_pool == pool;
  size_t nr = tp->nworkers;
  size_t chunks = chunk ? (n - 1) / chunk + 1 : n;
  if (chunks < nr) nr = chunks;
  if (own && nr) nr--; /* this worker takes a share itself */
  size_t nparts = nr + own, nshares = (n - 1) / HONE__SHARE_MAX + 1;
  if (nshares < nparts) nshares = nparts;
  if (nshares > SIZE_MAX / sizeof(map_share)) return HONE_ENOMEM;
  size_t size = (sizeof(map_state) + nr * sizeof(map_runner) + 63) / 64 * 64;
  map_state *m = aligned_alloc(64, size);
  map_share *shares = aligned_alloc(64, nshares * sizeof(map_share));
  if (!m || !shares) {
    free(m);
    free(shares);
    return HONE_ENOMEM;
  }
  memset(m, 0, size);
  m->tp = tp;
  m->task = task;
  m->in = in;
  m->out = out;
  m->in_stride = in_stride;
  m->out_stride = out_stride;
  m->n = n;
  m->chunk = chunk;
  m->nparts = (unsigned)nparts;
  m->nshares = nshares;
  m->shares = shares;
  for (size_t s = 0; s < nshares; s++) {
    size_t len = n / nshares + (s < n % nshares);
    shares[s].base = n / nshares * s + (s < n % nshares ? s : n % nshares);
    atomic_init(&shares[s].span, (uint64_t)len << 32);
  }
  atomic_init(&m->fail_index, SIZE_MAX);
  atomic_init(&m->refs, 1);
  pthread_mutex_init(&m->err_mu, NULL);
  hone_task_ctx ctx;
  hone__task_ctx_init(&ctx, pool, hone__tls_worker);

  int rc = 0;
  if (atomic_load_explicit(&tp->closed, memory_order_seq_cst)) {
    map_unref(m);
    if (err) err->code = HONE_ESHUTDOWN;
    return HONE_ESHUTDOWN;
  }
  atomic_fetch_add_explicit(&tp->submitting, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&tp->closed, memory_order_seq_cst)) {
    rc = HONE_ESHUTDOWN;
  } else {
    for (size_t i = 0; i < nr; i++) {
      map_runner *r = &m->runners[i];
      r->job.run = map_runner_run;
      r->job.discard = map_runner_discard;
      r->m = m;
      r->who = (unsigned)i;
      atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
      bool pushed =
          own ? ring_push(tp, &r->job) : push_blocking(tp, &r->job, HONE_WAIT_FOREVER) == 0;
      if (!pushed) { /* the runners queued (or this worker) take its share */
        atomic_fetch_sub_explicit(&m->refs, 1, memory_order_relaxed);
        if (!own && i == 0) rc = HONE_ESHUTDOWN; /* shut down while we waited */
        break;
      }
    }
    /* Wake the workers from here rather than through the searching worker's chain of wakes: a
     * worker woken by a busy worker tends to be queued on that worker's CPU, while this thread is
     * about to park and leave its CPU to the one it wakes. */
    if (nr) hone__ev_notify(&tp->work_ev, (int)nr);
  }
  atomic_fetch_sub_explicit(&tp->submitting, 1, memory_order_seq_cst);

  if (rc == 0 && own) map_participate(m, (unsigned)nr, &ctx);
  if (rc == 0) {
    /* Wait for every claimed item; a worker of this pool helps with queued jobs meanwhile. Any
     * other caller parks at once: spinning here would keep a CPU busy just when the workers
     * being woken need one. */
    int64_t spin_end = own ? hone__now_ns() + HONE__SPIN_NS : 0;
    for (unsigned i = 1; !atomic_load_explicit(&m->finished, memory_order_acquire); i++) {
      if (own && tp_help(pool)) continue;
      if (!hone__spin_expired(i, spin_end)) {
        hone__spin_step(i);
        continue;
      }
      atomic_fetch_add_explicit(&m->waiters, 1, memory_order_seq_cst);
      if (!atomic_load_explicit(&m->finished, memory_order_seq_cst))
        hone__futex_wait(&m->finished, 0, own ? hone__now_ns() + 200000 : INT64_MAX);
      atomic_fetch_sub_explicit(&m->waiters, 1, memory_order_seq_cst);
    }
    size_t fi = atomic_load_explicit(&m->fail_index, memory_order_acquire);
    if (fi != SIZE_MAX) {
      pthread_mutex_lock(&m->err_mu);
      if (err) {
        err->index = fi;
        err->code = m->err_code;
        memcpy(err->message, m->err_msg, sizeof err->message);
      }
      pthread_mutex_unlock(&m->err_mu);
      rc = HONE_ETASK;
    } else if (atomic_load_explicit(&m->cancelled, memory_order_relaxed)) {
      rc = HONE_ECANCELED;
    }
  }
  if (rc < 0 && rc != HONE_ETASK && err) err->code = rc;
  map_unref(m);
  return rc;
}

const hone__pool_ops hone__backend_thread = {
    .name = "threads",
    .create = tp_create,
    .submit = tp_submit,
    .map = tp_map,
    .help = tp_help,
    .shutdown = tp_shutdown,
    .destroy = tp_destroy,
};
