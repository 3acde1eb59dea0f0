/* backend_process.c: the process backend — worker processes forked by a fork server, jobs and
 * results in one anonymous shared mapping, a collector thread that completes futures, crash and
 * timeout recovery, and map by guided chunks.
 *
 * Processes. hone_pool_new forks a single-threaded fork server (the "zygote"); it forks the
 * workers at creation and every replacement later, so each worker is an image of this process at
 * pool creation. The zygote watches this process through a pidfd: when it dies, the zygote kills
 * and reaps every worker and exits; each worker also has PR_SET_PDEATHSIG(SIGKILL) on the zygote.
 * The zygote reaps its workers and writes each wait status into the worker's shared record, then
 * rings the collector's eventfd. This process has one child, the zygote, reaped at shutdown.
 *
 * Shared region (one MAP_SHARED|MAP_ANONYMOUS mapping made before the fork, MADV_DONTFORK'd in
 * this process afterwards so later forks do not inherit it): a header, a ring of R job entries,
 * per-worker records (each with its done ring), S job slots, and an arena for arguments and
 * results too large for a slot's inline buffer. Only this process allocates slots and arena
 * blocks (under `mu`); workers never allocate.
 *
 * Jobs. Job k (numbered by `pub`) is published as ring[k % R] = (k, slot); the slot's 64-bit word
 * packs (k mod 2^32, state, worker). Workers share a `next_claim` hint c: the job of ring[c] is
 * taken by ONE CAS of its slot word READY(c) -> CLAIMED(c, worker) — the single commit point, so a
 * worker dying at any instruction never loses nor duplicates a job — and whoever sees job c no
 * longer READY helps advance next_claim. The queue bound is pub - next_claim <= queue_size (jobs
 * not yet started, as on the thread backend). A worker runs the job, stores DONE, pushes the slot
 * onto its own SPSC done ring and rings the collector's eventfd only when the collector sleeps.
 * Cancelling a queued job is a CAS READY -> CANCELLED by the canceller, who then frees the slot.
 *
 * The collector thread drains the done rings (copying results into futures, or handing map
 * chunks to their map's thread), handles dead workers (a job still CLAIMED by the dead worker
 * fails with HONE_ECRASHED or HONE_ETIMEDOUT; then the zygote is asked for a replacement), kills
 * workers past the task timeout, and tears the pool down once it is shut down and idle.
 *
 * Lock order: pp->mu, then a map's mu (the collector takes each alone; nothing else nests). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parallel/cpu.h"
#include "parallel/pool_internal.h"
#include "parallel/sync.h"
#include "parallel/tsan.h"

/* ---- shared layout ---- */

enum { S_FREE = 0, S_READY = 1, S_CLAIMED = 2, S_DONE = 3, S_CANCELLED = 4, S_COLLECTED = 5 };
enum { K_TASK = 1, K_CHUNK = 2 };
/* Worker record states: the parent asks (SPAWN), the zygote forks (LIVE) and reaps (DEAD), the
 * collector handles the death (GONE, or SPAWN again). */
enum { W_EMPTY = 0, W_SPAWN = 1, W_LIVE = 2, W_DEAD = 3, W_GONE = 4 };

#define PP_INLINE 128             /* argument + result bytes kept in the slot itself */
#define PP_DONE 64                /* entries of a worker's done ring */
#define PP_NONE 0xffffu           /* no worker in a slot word */
#define PP_CHUNK_BYTES (1u << 20) /* a map chunk's in + out bytes stay under this */
#define PP_MIN_CLASS 6            /* arena blocks of 64 bytes at least */
#define PP_CLASSES 31
#define PP_WORKER_SPIN_NS 50000
#define PP_COLLECTOR_SPIN_NS 20000
#define PP_CANCEL_CODE 1 /* a chunk's code when it was cancelled (never a task's code) */

static inline uint64_t word_of(uint64_t seq, unsigned state, unsigned worker) {
  return ((uint64_t)(uint32_t)seq << 32) | ((uint64_t)state << 16) | (worker & 0xffffu);
}
static inline uint32_t word_seq(uint64_t w) {
  return (uint32_t)(w >> 32);
}
static inline unsigned word_state(uint64_t w) {
  return (unsigned)(w >> 16) & 0xffu;
}
static inline unsigned word_worker(uint64_t w) {
  return (unsigned)w & 0xffffu;
}

typedef struct pp_slot {
  _Atomic uint64_t word;
  int32_t task;
  uint32_t kind;
  uint64_t in_off, out_off; /* from the region's base */
  uint64_t in_size, out_size;
  uint64_t in_stride, out_stride, count, first; /* a map chunk: items [first, first + count) */
  uint64_t blk;                                 /* parent only: arena block + 1 (0: inline) */
  uint32_t blk_class;
  int32_t code; /* written by the worker before DONE */
  /* 1 while a thread of the parent sleeps on this word for the job's end (pp_await): the worker
   * that ends the job then wakes it, and not the collector, so the result goes to the thread
   * that waits for it in one wake-up instead of two. Whoever completes the job otherwise (the
   * collector, a crash, a cancel) wakes it too (deliver). */
  _Atomic uint32_t waiting;
  uint64_t failed;
  int64_t start_ns, run_ns; /* written by the worker: when it started, how long it ran */
  char msg[HONE_TASK_MESSAGE_MAX];
  alignas(16) unsigned char data[PP_INLINE];
} __attribute__((aligned(64))) pp_slot;

/* cur_job when no job runs, and once the fork server has decided to kill the worker for the job
 * that was in it: the worker gives a job back by a CAS to PP_JOB_IDLE, the fork server takes it
 * by a CAS to PP_JOB_KILLING, so a kill for a job that timed out can never hit the next one. */
#define PP_JOB_IDLE (UINT64_MAX - 1)
#define PP_JOB_KILLING UINT64_MAX

typedef struct pp_rec {
  _Atomic int32_t pid;
  _Atomic uint32_t state;
  _Atomic int32_t status;     /* wait status, once DEAD */
  _Atomic int32_t init_error; /* the initializer's failure */
  _Atomic uint32_t ready;
  _Atomic uint64_t kill_req; /* job + 1 to kill the worker for (its time ran out) */
  _Atomic int64_t cur_start; /* start of the running job, 0 when idle */
  _Atomic uint64_t cur_job;  /* (seq << 32) | slot of the running job, or PP_JOB_IDLE / _KILLING */
  alignas(64) _Atomic uint32_t tail;
  alignas(64) _Atomic uint32_t head;
  alignas(64) uint32_t ring[PP_DONE];
} pp_rec;

typedef struct pp_hdr {
  alignas(64) _Atomic uint64_t next_claim;
  alignas(64) _Atomic uint32_t work_seq; /* futex: idle workers */
  _Atomic uint32_t idle_waiters;
  alignas(64) _Atomic uint32_t claim_ev; /* futex: submitters waiting for room */
  _Atomic uint32_t space_waiters;
  alignas(64) _Atomic uint32_t collector_sleeping;
  _Atomic uint32_t stop;        /* workers exit when idle */
  _Atomic uint32_t zyg_exit;    /* 1: the zygote exits once its workers have; 2: it kills them */
  _Atomic uint32_t ready_count; /* futex: workers past their initializer */
  _Atomic uint64_t arena_top;   /* the parent's arena_top: what a task's child copies (below) */
  int parent_efd;
  pid_t parent_pid;
} pp_hdr;

/* ---- this process's side ---- */

typedef struct pp_mapq pp_mapq;

typedef struct pp {
  hone_pool *pool;
  unsigned char *base;
  size_t len;
  pp_hdr *hdr;
  _Atomic uint64_t *ring;
  pp_rec *recs;
  pp_slot *slots;
  size_t arena_off, arena_len;
  uint32_t R, S, W;
  size_t queue_size;
  unsigned max_tasks;
  int64_t timeout_ns;
  hone_pool_init_fn init;
  void *init_arg;
  int efd, zefd, zpidfd;
  pid_t zpid;
  uint32_t gen; /* fork_gen() of the process that made the pool */

  pthread_mutex_t mu; /* guards everything down to `owner`, and pub */
  uint64_t pub;
  uint32_t *free_slots, nfree, fresh;
  size_t arena_top;
  uint64_t arena_free[PP_CLASSES]; /* offset + 1 of the first free block of each class */
  void **owner;                    /* per slot: the future or the map */

  _Atomic uint32_t closed, cancelling, submitting, active_maps;
  /* What the last map learnt, for the first chunks of the next (its own first chunks return
   * too late to size them): the least chunk overhead in ns, and the task and its ps per item. */
  _Atomic int64_t map_over_ns, map_item_ps;
  _Atomic int map_task;
  _Atomic uint64_t outstanding; /* published jobs whose slot is not yet freed */
  _Atomic int broken;           /* a replacement's initializer failed, or the zygote died */
  uint64_t *timeout_job;        /* collector only: per worker, the job killed for its time */
  pthread_t collector;
  bool collector_started;
  pthread_mutex_t join_mu; /* guards joined */
  bool joined;
} pp;

struct pp_mapq {
  pthread_mutex_t mu; /* guards done, head, tail */
  uint32_t *done;
  size_t cap, head, tail;
  hone__event ev;
};

size_t hone__process_arena_bytes = (size_t)1 << 30;
unsigned hone__process_test_fork_failures;

/* A replacement worker whose fork fails for lack of resources (EAGAIN: the process limit;
 * ENOMEM) is forked again after 10 ms, 20 ms, ... at most 1 s apart; the pool breaks only when
 * forks have failed for this long. At creation a failed fork fails hone_pool_new at once. */
#define PP_FORK_RETRY_MIN_NS 10000000LL
#define PP_FORK_RETRY_MAX_NS 1000000000LL
#define PP_FORK_GIVE_UP_NS 10000000000LL

/* ---- forks ---- */

/* Bumped in the child of every fork() of this process image (pthread_atfork, registered once
 * before the first pool). A pool whose generation differs was made by an ancestor: its shared
 * region is not mapped here (MADV_DONTFORK), its workers and collector are not ours, so the pool
 * is inert. A worker whose generation changed is a process forked by a task, which must not go
 * on as a second copy of the worker. */
static _Atomic uint32_t pp_fork_gen;
static pthread_once_t pp_atfork_once = PTHREAD_ONCE_INIT;

/* In a worker: its pool (see pp_privatize_region). NULL elsewhere. */
static struct pp *pp_worker_pool;
static void pp_privatize_region(struct pp *p);

static void pp_on_fork_child(void) {
  atomic_fetch_add_explicit(&pp_fork_gen, 1, memory_order_relaxed);
  if (pp_worker_pool) pp_privatize_region(pp_worker_pool);
}

static void pp_atfork_register(void) {
  pthread_atfork(NULL, NULL, pp_on_fork_child);
}

static inline uint32_t fork_gen(void) {
  return atomic_load_explicit(&pp_fork_gen, memory_order_relaxed);
}

/* ---- small helpers ---- */

static void kick_fd(int fd) {
  uint64_t one = 1;
  ssize_t r;
  do r = write(fd, &one, sizeof one);
  while (r < 0 && errno == EINTR);
}

static void drain_fd(int fd) {
  uint64_t v;
  while (read(fd, &v, sizeof v) > 0) {
  }
}

static inline pp_slot *slot_at(pp *p, uint32_t s) {
  return &p->slots[s];
}

static inline unsigned char *at(pp *p, uint64_t off) {
  return p->base + off;
}

static void collector_kick(pp *p) {
  kick_fd(p->efd);
}

/* Wakes submitters blocked on a full window or on no free slot. */
static void space_notify(pp_hdr *h) {
  if (atomic_load_explicit(&h->space_waiters, memory_order_seq_cst)) {
    atomic_fetch_add_explicit(&h->claim_ev, 1, memory_order_seq_cst);
    hone__futex_wake_shared(&h->claim_ev, INT_MAX);
  }
}

static size_t align16(size_t n) {
  return (n + 15) & ~(size_t)15;
}

/* ---- arena (parent only, under mu) ---- */

static int arena_alloc(pp *p, size_t n, uint64_t *off, uint32_t *cls) {
  unsigned c = PP_MIN_CLASS;
  while (c < PP_CLASSES && ((size_t)1 << c) < n) c++;
  if (c >= PP_CLASSES || ((size_t)1 << c) > p->arena_len) return HONE_ENOMEM;
  if (p->arena_free[c]) {
    uint64_t o = p->arena_free[c] - 1;
    memcpy(&p->arena_free[c], at(p, o), sizeof(uint64_t));
    *off = o;
    *cls = c;
    return 0;
  }
  size_t sz = (size_t)1 << c;
  if (p->arena_top + sz > p->arena_len) return HONE_EAGAIN;
  *off = p->arena_off + p->arena_top;
  p->arena_top += sz;
  /* Published before the job that uses the block (the slot word's release orders it). */
  atomic_store_explicit(&p->hdr->arena_top, p->arena_top, memory_order_relaxed);
  *cls = c;
  return 0;
}

static void arena_free(pp *p, uint64_t off, uint32_t cls) {
  memcpy(at(p, off), &p->arena_free[cls], sizeof(uint64_t));
  p->arena_free[cls] = off + 1;
}

/* Frees a slot the caller owns (its job is over). */
static void slot_release(pp *p, uint32_t s) {
  pp_slot *sl = slot_at(p, s);
  pthread_mutex_lock(&p->mu);
  if (sl->blk) arena_free(p, sl->blk - 1, sl->blk_class);
  sl->blk = 0;
  p->owner[s] = NULL;
  uint64_t w = atomic_load_explicit(&sl->word, memory_order_relaxed);
  atomic_store_explicit(&sl->word, word_of(word_seq(w), S_FREE, PP_NONE), memory_order_release);
  p->free_slots[p->nfree++] = s;
  pthread_mutex_unlock(&p->mu);
  uint64_t left = atomic_fetch_sub_explicit(&p->outstanding, 1, memory_order_seq_cst) - 1;
  space_notify(p->hdr);
  if (left == 0 && atomic_load_explicit(&p->closed, memory_order_seq_cst)) collector_kick(p);
}

/* ---- claiming (workers) ---- */

/* Advances next_claim past job c if it is no longer READY. */
static void advance_past(pp_hdr *h, uint64_t c) {
  atomic_compare_exchange_strong_explicit(&h->next_claim, &c, c + 1, memory_order_seq_cst,
                                          memory_order_relaxed);
}

/* Claims the next READY job for worker w: its slot, or -1 when none is published. */
static int64_t claim(pp *p, unsigned w) {
  pp_hdr *h = p->hdr;
  for (;;) {
    uint64_t c = atomic_load_explicit(&h->next_claim, memory_order_seq_cst);
    uint64_t e = atomic_load_explicit(&p->ring[c & (p->R - 1)], memory_order_seq_cst);
    if ((uint32_t)(e >> 32) != (uint32_t)c) {
      /* Not published yet, or our c is stale (the entry was reused): look again if it moved. */
      if (atomic_load_explicit(&h->next_claim, memory_order_seq_cst) != c) continue;
      return -1;
    }
    uint32_t s = (uint32_t)e;
    pp_slot *sl = slot_at(p, s);
    uint64_t want = word_of(c, S_READY, PP_NONE);
    if (atomic_load_explicit(&sl->word, memory_order_acquire) == want &&
        atomic_compare_exchange_strong_explicit(&sl->word, &want, word_of(c, S_CLAIMED, w),
                                                memory_order_acq_rel, memory_order_relaxed)) {
      advance_past(h, c);
      space_notify(h);
      return s;
    }
    advance_past(h, c);
  }
}

/* ---- worker processes ---- */

/* Runs in the child of a fork() made by a task in a worker (from pp_on_fork_child). That child
 * is a copy of the worker with the pool's region still MAP_SHARED: whatever it writes (its copy
 * of the task returning its result, say) would land in slots and arena blocks that the pool has
 * since given to other jobs, perhaps long after the task ended — seen under TSan, where a child
 * scheduled late overwrote a later job's argument, which then ran as another item. So the child
 * gets a private copy instead: the region as it was at the fork, up to the arena's top (no job's
 * block lies above it while a job runs), the rest zero. The copy costs a memcpy of the header,
 * ring, records and slots plus the arena in use; a child that execs at once (or a posix_spawn,
 * which runs no fork handlers) gives it back immediately. If no memory is left for the copy, the
 * region is made inaccessible: the child faults instead of corrupting the pool. */
static void pp_privatize_region(struct pp *p) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  size_t live =
      p->arena_off + (size_t)atomic_load_explicit(&p->hdr->arena_top, memory_order_relaxed);
  live = live > p->len ? p->len : (live + pg - 1) / pg * pg;
  void *copy = mmap(NULL, p->len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (copy != MAP_FAILED) {
    memcpy(copy, p->base, live);
    if (mremap(copy, p->len, p->len, MREMAP_MAYMOVE | MREMAP_FIXED, p->base) != MAP_FAILED) return;
    munmap(copy, p->len);
  }
  mmap(p->base, p->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

/* This worker's fork generation and the identity of its eventfd to the collector: a task may
 * close the worker's descriptors and reuse their numbers. */
static uint32_t pp_worker_gen;
static dev_t pp_efd_dev;
static ino_t pp_efd_ino;

static _Noreturn void worker_exit(int status);

/* Wakes the collector. If a task closed the eventfd (or its number now names another file), the
 * worker exits instead: the fork server, whose descriptor is intact, then wakes the collector,
 * which collects what the worker published and replaces it. */
static void worker_kick(pp *p) {
  struct stat st;
  int fd = p->hdr->parent_efd;
  if (fstat(fd, &st) != 0 || st.st_dev != pp_efd_dev || st.st_ino != pp_efd_ino) worker_exit(0);
  kick_fd(fd);
}

/* kick: wake the collector if it sleeps (not when the job's waiter was woken: it collects the
 * result itself, and the ring's entry is drained at the collector's next round). */
static void worker_publish_done(pp *p, pp_rec *r, uint32_t s, bool kick) {
  uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  for (unsigned i = 0; t - atomic_load_explicit(&r->head, memory_order_acquire) >= PP_DONE; i++) {
    /* The collector is behind: make sure it is awake, then give it the CPU. */
    if (atomic_exchange_explicit(&p->hdr->collector_sleeping, 0, memory_order_seq_cst))
      worker_kick(p);
    if (i > 64)
      usleep(50);
    else
      hone__spin_step(i);
  }
  r->ring[t % PP_DONE] = s;
  atomic_store_explicit(&r->tail, t + 1, memory_order_seq_cst);
  if (kick && atomic_load_explicit(&p->hdr->collector_sleeping, memory_order_seq_cst) &&
      atomic_exchange_explicit(&p->hdr->collector_sleeping, 0, memory_order_seq_cst))
    worker_kick(p);
}

static void set_msg(pp_slot *sl, hone_task_ctx *ctx, int rc) {
  snprintf(sl->msg, sizeof sl->msg, "%s", ctx->has_message ? ctx->message : hone_strerror(rc));
}

/* Runs slot s's job and publishes its outcome. True when its submitter was asleep on this very
 * job (pp_await) and this worker woke it. */
static bool run_job(pp *p, unsigned w, pp_rec *r, uint32_t s, hone_task_ctx *ctx) {
  pp_slot *sl = slot_at(p, s);
  uint64_t word = atomic_load_explicit(&sl->word, memory_order_acquire);
  int64_t t0 = hone__now_ns();
  uint64_t job = ((uint64_t)word_seq(word) << 32) | s;
  atomic_store_explicit(&r->cur_job, job, memory_order_seq_cst);
  atomic_store_explicit(&r->cur_start, t0, memory_order_seq_cst);
  sl->start_ns = t0;
  const hone__task *t = hone__task_get(sl->task);
  int rc = 0;
  sl->failed = 0;
  ctx->has_message = false;
  if (!t) {
    rc = HONE_EINVAL;
    snprintf(sl->msg, sizeof sl->msg, "task %d was registered after the pool was created",
             (int)sl->task);
  } else if (sl->kind == K_TASK) {
    unsigned char *out = at(p, sl->out_off);
    if (sl->out_size) memset(out, 0, sl->out_size);
    rc = hone__task_call(t, ctx, at(p, sl->in_off), sl->in_size, out, sl->out_size);
    if (rc < 0) set_msg(sl, ctx, rc);
  } else {
    const unsigned char *in = at(p, sl->in_off);
    unsigned char *out = at(p, sl->out_off);
    size_t is = sl->in_stride, os = sl->out_stride, n = sl->count;
    if (t->batch) {
      size_t failed = 0;
      rc = t->batch(ctx, in, is, out, os, n, &failed);
      if (rc != 0) {
        if (rc > 0) rc = HONE_ETASK;
        sl->failed = failed < n ? failed : 0;
        set_msg(sl, ctx, rc);
      }
    } else {
      for (size_t i = 0; i < n; i++) {
        /* Progress, for a crash: the items before i are done and their outputs written. */
        *(volatile uint64_t *)&sl->failed = i;
        rc = t->fn(ctx, in + i * is, is, out + i * os, os);
        if (fork_gen() != pp_worker_gen) _exit(0); /* a child the item forked: see below */
        if (rc != 0) {
          if (rc > 0) rc = HONE_ETASK;
          sl->failed = i;
          set_msg(sl, ctx, rc);
          break;
        }
      }
    }
  }
  /* A process the task forked and that returned from it: only the worker may go on. */
  if (fork_gen() != pp_worker_gen) _exit(0);
  sl->code = rc;
  sl->run_ns = hone__now_ns() - t0;
  atomic_store_explicit(&r->cur_start, 0, memory_order_seq_cst);
  /* Give the job back; if the fork server took it first, this worker is being killed for having
   * run past the timeout: the job fails as timed out, so publish nothing and wait for SIGKILL. */
  if (!atomic_compare_exchange_strong_explicit(&r->cur_job, &job, PP_JOB_IDLE, memory_order_seq_cst,
                                               memory_order_seq_cst))
    for (;;) pause();
  /* A CAS, not a store: a pool broken meanwhile (its fork server died) has failed the job.
   * seq_cst, with the load of `waiting` after it: see pp_await. */
  uint64_t claimed = word_of(word_seq(word), S_CLAIMED, w);
  if (!atomic_compare_exchange_strong_explicit(&sl->word, &claimed,
                                               word_of(word_seq(word), S_DONE, w),
                                               memory_order_seq_cst, memory_order_relaxed))
    return false;
  bool direct = atomic_load_explicit(&sl->waiting, memory_order_seq_cst) &&
                atomic_exchange_explicit(&sl->waiting, 0, memory_order_seq_cst);
  if (direct) hone__futex_wake_shared(&sl->waiting, 1);
  worker_publish_done(p, r, s, !direct);
  return direct;
}

/* When a worker's spin for its next job ends, after a job whose submitter it woke directly
 * (run_job). A worker confined to one CPU then sleeps at once: that submitter runs on the same
 * CPU (a serving rank bound to one core, which collects a lone job itself), and a spin that
 * yields only takes turns with it while it sends the result and receives the next job, whose
 * submit wakes this worker. Alternated runs of bench/mpi/hone_mpi.c --rt-only, ranks bound:
 * the idle round trip went from 32.8-35.0 us to 27.3-28.6 us on shared memory (5 runs each),
 * and from 60-62 us to 49-56 us on tcp (4 each); empty tasks/s and the maps stayed within
 * their spread from run to run.
 * A worker that shares no CPU with its submitter, or whose jobs come without a sleeping
 * submitter (a map's chunks, many submits), spins as before. */
static int64_t after_job(bool direct) {
  if (direct && hone__cpu_alone()) return 0;
  return hone__now_ns() + PP_WORKER_SPIN_NS;
}

static _Noreturn void worker_exit(int status) {
  fflush(NULL); /* what tasks printed; the buffers were empty at the fork */
  _exit(status);
}

/* A task (or the initializer) called exit(): the atexit handlers and destructors registered
 * before this one are this process's cleanup, copied at the fork, and must not run in a worker;
 * end as _exit would, after flushing what the task printed. */
static void worker_on_exit(int status, void *unused) {
  (void)unused;
  fflush(NULL);
  _exit(status & 255);
}

static _Noreturn void worker_main(pp *p, unsigned w) {
  pp_rec *r = &p->recs[w];
  pp_hdr *h = p->hdr;
  hone__tls_pool = NULL;
  hone__tls_worker = (int)w;
  pp_worker_gen = fork_gen();
  pp_worker_pool = p;
  struct stat est;
  if (fstat(h->parent_efd, &est) == 0) {
    pp_efd_dev = est.st_dev;
    pp_efd_ino = est.st_ino;
  }
  atomic_store_explicit(&r->pid, (int32_t)getpid(), memory_order_release);
  on_exit(worker_on_exit, NULL);
  /* SCHED_BATCH: a worker woken for a job does not preempt the thread that woke it, so a
   * submitter sharing this CPU (a rank bound to one core) reaches its wait first, and the
   * worker then wakes it with the result (pp_await). bench/mpi.sh's idle round trip, bound:
   * 35-38 us with it, 42-45 us without. Tasks run as before otherwise (the nice value and
   * time slices are kept); failing to set it changes nothing else. */
  struct sched_param sp = {0};
  (void)sched_setscheduler(0, SCHED_BATCH, &sp);
  if (p->init) {
    int rc = p->init(p->init_arg, w);
    if (rc != 0) {
      atomic_store_explicit(&r->init_error, rc < 0 ? rc : HONE_ETASK, memory_order_seq_cst);
      atomic_fetch_add_explicit(&h->ready_count, 1, memory_order_seq_cst);
      hone__futex_wake_shared(&h->ready_count, INT_MAX);
      worker_exit(1);
    }
  }
  atomic_store_explicit(&r->ready, 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&h->ready_count, 1, memory_order_seq_cst);
  hone__futex_wake_shared(&h->ready_count, INT_MAX);
  hone_task_ctx ctx;
  hone__task_ctx_init(&ctx, NULL, (int)w);
  unsigned done = 0;
  int64_t spin_end = hone__now_ns() + PP_WORKER_SPIN_NS;
  for (unsigned i = 0;; i++) {
    int64_t s = claim(p, w);
    if (s >= 0) {
      bool direct = run_job(p, w, r, (uint32_t)s, &ctx);
      if (p->max_tasks && ++done >= p->max_tasks) worker_exit(0);
      spin_end = after_job(direct);
      i = 0;
      continue;
    }
    if (atomic_load_explicit(&h->stop, memory_order_acquire)) worker_exit(0);
    if (!hone__spin_expired(i, spin_end)) {
      hone__spin_step(i);
      continue;
    }
    atomic_fetch_add_explicit(&h->idle_waiters, 1, memory_order_seq_cst);
    uint32_t key = atomic_load_explicit(&h->work_seq, memory_order_seq_cst);
    s = claim(p, w);
    if (s < 0 && !atomic_load_explicit(&h->stop, memory_order_seq_cst))
      hone__futex_wait_shared(&h->work_seq, key, INT64_MAX);
    atomic_fetch_sub_explicit(&h->idle_waiters, 1, memory_order_seq_cst);
    bool direct = false;
    if (s >= 0) {
      direct = run_job(p, w, r, (uint32_t)s, &ctx);
      if (p->max_tasks && ++done >= p->max_tasks) worker_exit(0);
    }
    spin_end = after_job(direct);
    i = 0;
  }
}

/* ---- the zygote ---- */

typedef struct zyg {
  pp *p;
  int sfd, pidfd;
  pid_t self;
  sigset_t old_mask;
  unsigned live;
  unsigned fail_forks;   /* hone__process_test_fork_failures left */
  int64_t retry_at;      /* 0, or when to fork the replacements that failed again */
  int64_t failing_since; /* 0, or when replacement forks began to fail */
  int64_t retry_gap;     /* the current wait between tries */
} zyg;

static void zyg_spawn(zyg *z, unsigned w) {
  pp *p = z->p;
  pp_rec *r = &p->recs[w];
  /* A worker that ran before (its pid is kept until it is forked again) is being replaced. */
  bool replacement = atomic_load_explicit(&r->pid, memory_order_acquire) != 0;
  atomic_store_explicit(&r->ready, 0, memory_order_relaxed);
  atomic_store_explicit(&r->init_error, 0, memory_order_relaxed);
  atomic_store_explicit(&r->kill_req, 0, memory_order_relaxed);
  atomic_store_explicit(&r->cur_start, 0, memory_order_relaxed);
  atomic_store_explicit(&r->cur_job, PP_JOB_IDLE, memory_order_relaxed);
  atomic_store_explicit(&r->state, W_LIVE, memory_order_seq_cst);
  pid_t pid;
  if (replacement && z->fail_forks) {
    z->fail_forks--;
    pid = -1;
    errno = EAGAIN;
  } else {
    pid = fork();
  }
  if (pid == 0) {
    close(z->sfd);
    if (z->pidfd >= 0) close(z->pidfd);
    close(p->zefd);
    sigprocmask(SIG_SETMASK, &z->old_mask, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != z->self) _exit(0);
    worker_main(p, w);
  }
  if (pid < 0 && replacement && (errno == EAGAIN || errno == ENOMEM)) {
    int64_t now = hone__now_ns();
    if (!z->failing_since) {
      z->failing_since = now;
      z->retry_gap = PP_FORK_RETRY_MIN_NS;
    }
    if (now - z->failing_since < PP_FORK_GIVE_UP_NS) { /* try again later */
      atomic_store_explicit(&r->state, W_SPAWN, memory_order_seq_cst);
      if (!z->retry_at || now + z->retry_gap < z->retry_at) z->retry_at = now + z->retry_gap;
      return;
    }
  }
  if (pid < 0) {
    atomic_store_explicit(&r->pid, 0, memory_order_relaxed);
    atomic_store_explicit(&r->status, (int32_t)(127 << 8), memory_order_relaxed);
    atomic_store_explicit(&r->init_error, HONE_ESYS, memory_order_relaxed);
    atomic_store_explicit(&r->state, W_DEAD, memory_order_seq_cst);
    atomic_fetch_add_explicit(&p->hdr->ready_count, 1, memory_order_seq_cst);
    hone__futex_wake_shared(&p->hdr->ready_count, INT_MAX);
    kick_fd(p->hdr->parent_efd);
    return;
  }
  atomic_store_explicit(&r->pid, (int32_t)pid, memory_order_release);
  z->live++;
  z->failing_since = 0;
}

static void zyg_reap(zyg *z) {
  pp *p = z->p;
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    for (unsigned w = 0; w < p->W; w++) {
      pp_rec *r = &p->recs[w];
      if (atomic_load_explicit(&r->pid, memory_order_acquire) == pid &&
          atomic_load_explicit(&r->state, memory_order_acquire) == W_LIVE) {
        atomic_store_explicit(&r->status, st, memory_order_relaxed);
        atomic_store_explicit(&r->state, W_DEAD, memory_order_seq_cst);
        z->live--;
        break;
      }
    }
    kick_fd(p->hdr->parent_efd);
  }
}

static _Noreturn void zyg_kill_all(zyg *z) {
  pp *p = z->p;
  for (unsigned w = 0; w < p->W; w++) {
    pp_rec *r = &p->recs[w];
    if (atomic_load(&r->state) == W_LIVE && r->pid > 0) kill(r->pid, SIGKILL);
  }
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
  }
  _exit(0);
}

static _Noreturn void zygote_main(pp *p, pid_t parent) {
  zyg z = {.p = p, .self = getpid(), .pidfd = -1, .fail_forks = hone__process_test_fork_failures};
  hone__tls_pool = NULL;
  prctl(PR_SET_NAME, "hone-zygote");
  /* Workers start with default handlers for the signals a crash raises: an inherited handler
   * (a test harness's, a sanitizer's) would otherwise keep a crashed worker running. */
  static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
  for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++)
    signal(crash_sigs[i], SIG_DFL);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &z.old_mask);
  signal(SIGCHLD, SIG_DFL);
  z.sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  z.pidfd = (int)syscall(SYS_pidfd_open, parent, 0);
  if (z.sfd < 0 || getppid() != parent) _exit(0);
  for (;;) {
    if (atomic_load_explicit(&p->hdr->zyg_exit, memory_order_seq_cst) == 2) zyg_kill_all(&z);
    /* Forks that failed are tried again once their wait is over (spawns ask nothing before). */
    bool may_spawn = !z.retry_at || hone__now_ns() >= z.retry_at;
    if (may_spawn && z.retry_at) {
      z.retry_at = 0;
      z.retry_gap = z.retry_gap * 2 < PP_FORK_RETRY_MAX_NS ? z.retry_gap * 2 : PP_FORK_RETRY_MAX_NS;
    }
    for (unsigned w = 0; w < p->W; w++) {
      pp_rec *r = &p->recs[w];
      if (may_spawn && atomic_load_explicit(&r->state, memory_order_acquire) == W_SPAWN &&
          !atomic_load_explicit(&p->hdr->zyg_exit, memory_order_relaxed))
        zyg_spawn(&z, w);
      uint64_t victim = atomic_exchange_explicit(&r->kill_req, 0, memory_order_acq_rel);
      /* Only if it still runs that job (not yet reaped, so the pid is still this worker's): the
       * CAS takes the job from the worker, which then cannot start another before it dies. */
      uint64_t job = victim - 1;
      if (victim && atomic_load_explicit(&r->state, memory_order_acquire) == W_LIVE && r->pid > 0 &&
          atomic_compare_exchange_strong_explicit(&r->cur_job, &job, PP_JOB_KILLING,
                                                  memory_order_seq_cst, memory_order_seq_cst))
        kill(r->pid, SIGKILL);
    }
    zyg_reap(&z);
    if (atomic_load_explicit(&p->hdr->zyg_exit, memory_order_seq_cst) && z.live == 0) _exit(0);
    struct pollfd fds[3] = {{.fd = z.sfd, .events = POLLIN},
                            {.fd = p->zefd, .events = POLLIN},
                            {.fd = z.pidfd, .events = POLLIN}};
    int timeout = z.pidfd >= 0 ? -1 : 100;
    if (z.retry_at) {
      int64_t left = (z.retry_at - hone__now_ns()) / 1000000 + 1;
      if (left < 1) left = 1;
      if (timeout < 0 || left < timeout) timeout = (int)left;
    }
    int r = poll(fds, z.pidfd >= 0 ? 3 : 2, timeout);
    if ((r > 0 && z.pidfd >= 0 && fds[2].revents) || getppid() != parent) zyg_kill_all(&z);
    if (r > 0 && fds[0].revents) {
      struct signalfd_siginfo si;
      while (read(z.sfd, &si, sizeof si) > 0) {
      }
    }
    if (r > 0 && fds[1].revents) drain_fd(p->zefd);
  }
}

/* ---- publishing (this process) ---- */

typedef struct pp_job {
  unsigned kind;
  int task;
  void *owner;
  const void *in;
  size_t in_size;
  const void *out_init; /* map: the caller's out, copied in so untouched bytes stay */
  size_t out_size;
  size_t in_stride, out_stride, count, first;
} pp_job;

/* After the window check failed: moves next_claim past jobs that are no longer READY (a
 * cancelled job holds no place). Under mu. */
static void help_advance(pp *p) {
  pp_hdr *h = p->hdr;
  for (;;) {
    uint64_t c = atomic_load_explicit(&h->next_claim, memory_order_seq_cst);
    if (c >= p->pub) return;
    uint64_t e = atomic_load_explicit(&p->ring[c & (p->R - 1)], memory_order_acquire);
    if ((uint32_t)(e >> 32) != (uint32_t)c) return;
    uint64_t w = atomic_load_explicit(&slot_at(p, (uint32_t)e)->word, memory_order_acquire);
    if (w == word_of(c, S_READY, PP_NONE)) return;
    advance_past(h, c);
  }
}

static void wake_worker(pp *p) {
  pp_hdr *h = p->hdr;
  if (atomic_load_explicit(&h->idle_waiters, memory_order_seq_cst)) {
    atomic_fetch_add_explicit(&h->work_seq, 1, memory_order_seq_cst);
    hone__futex_wake_shared(&h->work_seq, 1);
  }
}

static bool drain_all(pp *p);
static bool handle_deaths(pp *p);

/* Publishes a job: its slot, or HONE_ETIMEDOUT, HONE_ESHUTDOWN (closed, for a task; broken),
 * HONE_ECANCELED (cancelling, for a map chunk), HONE_ENOMEM. */
static int64_t publish(pp *p, const pp_job *j, int64_t deadline, uint64_t *seq) {
  pp_hdr *h = p->hdr;
  size_t in_sz = align16(j->in_size), need = in_sz + j->out_size;
  pthread_mutex_lock(&p->mu);
  uint64_t blk = 0;
  uint32_t cls = 0;
  uint32_t s = 0;
  for (bool registered = false;;) {
    int rc = 0;
    if (atomic_load_explicit(&p->broken, memory_order_seq_cst))
      rc = HONE_ESHUTDOWN;
    else if (j->kind == K_TASK && atomic_load_explicit(&p->closed, memory_order_seq_cst))
      rc = HONE_ESHUTDOWN;
    else if (j->kind == K_CHUNK && atomic_load_explicit(&p->cancelling, memory_order_seq_cst))
      rc = HONE_ECANCELED;
    bool room = false;
    if (rc == 0) {
      if (p->pub - atomic_load_explicit(&h->next_claim, memory_order_seq_cst) >= p->queue_size)
        help_advance(p);
      room = p->pub - atomic_load_explicit(&h->next_claim, memory_order_seq_cst) < p->queue_size &&
             (p->nfree || p->fresh < p->S);
      if (room && need > PP_INLINE && !blk) {
        int a = arena_alloc(p, need, &blk, &cls);
        if (a == HONE_EAGAIN && atomic_load_explicit(&p->outstanding, memory_order_seq_cst) == 0) {
          /* No job holds a block: start the arena afresh. Its free lists never merge blocks, so
           * a size class not yet carved could otherwise wait forever on an idle pool. */
          p->arena_top = 0;
          atomic_store_explicit(&p->hdr->arena_top, 0, memory_order_relaxed);
          memset(p->arena_free, 0, sizeof p->arena_free);
          a = arena_alloc(p, need, &blk, &cls);
        }
        if (a == HONE_ENOMEM) rc = a;
        if (a == 0) blk++;
        room = a == 0;
      }
    }
    if (rc == 0 && room) {
      if (registered) atomic_fetch_sub_explicit(&h->space_waiters, 1, memory_order_seq_cst);
      break;
    }
    if (rc == 0 && hone__now_ns() >= deadline) rc = HONE_ETIMEDOUT;
    if (rc < 0) {
      if (registered) atomic_fetch_sub_explicit(&h->space_waiters, 1, memory_order_seq_cst);
      if (blk) arena_free(p, blk - 1, cls);
      pthread_mutex_unlock(&p->mu);
      return rc;
    }
    if (!registered) { /* register, then check again before sleeping (eventcount) */
      atomic_fetch_add_explicit(&h->space_waiters, 1, memory_order_seq_cst);
      registered = true;
      continue;
    }
    uint32_t key = atomic_load_explicit(&h->claim_ev, memory_order_seq_cst);
    pthread_mutex_unlock(&p->mu);
    int64_t until = hone__now_ns() + 100000000; /* a safety net: conditions are re-read anyway */
    if (p->collector_started && pthread_equal(pthread_self(), p->collector)) {
      /* A done callback submitting: the collector must keep collecting (and replacing dead
       * workers) meanwhile, or the workers stop once their done rings are full and the queue
       * never drains. Workers do not wake it (it is not asleep): poll every millisecond. */
      bool drained = drain_all(p), reaped = handle_deaths(p); /* both, always */
      if (drained || reaped)
        until = 0;
      else
        until = hone__now_ns() + 1000000;
    }
    if (until > 0) hone__futex_wait_shared(&h->claim_ev, key, until < deadline ? until : deadline);
    pthread_mutex_lock(&p->mu);
  }
  s = p->nfree ? p->free_slots[--p->nfree] : p->fresh++;
  pp_slot *sl = slot_at(p, s);
  sl->task = j->task;
  sl->kind = j->kind;
  sl->in_size = j->in_size;
  sl->out_size = j->out_size;
  sl->in_stride = j->in_stride;
  sl->out_stride = j->out_stride;
  sl->count = j->count;
  sl->first = j->first;
  sl->blk = blk;
  sl->blk_class = cls;
  sl->code = 0;
  sl->failed = 0;
  uint64_t base_off = blk ? blk - 1 : (uint64_t)(sl->data - p->base);
  sl->in_off = base_off;
  sl->out_off = base_off + in_sz;
  if (j->in_size) memcpy(at(p, sl->in_off), j->in, j->in_size);
  if (j->out_init && j->out_size) memcpy(at(p, sl->out_off), j->out_init, j->out_size);
  p->owner[s] = j->owner;
  uint64_t k = p->pub++;
  if (seq) *seq = k;
  if (j->kind == K_TASK) ((hone_future *)j->owner)->tag = (k << 32) | s;
  atomic_fetch_add_explicit(&p->outstanding, 1, memory_order_relaxed);
  hone__tsan_release(p->hdr); /* the job travels through a worker process (tsan.h) */
  atomic_store_explicit(&sl->word, word_of(k, S_READY, PP_NONE), memory_order_release);
  atomic_store_explicit(&p->ring[k & (p->R - 1)], ((uint64_t)(uint32_t)k << 32) | s,
                        memory_order_seq_cst);
  pthread_mutex_unlock(&p->mu);
  wake_worker(p);
  return s;
}

/* ---- collecting (this process) ---- */

/* Notifies under the map's lock: the map lives on its thread's stack, and that thread takes the
 * lock to see each chunk, so once it has seen the last one nobody touches the map any more
 * (notifying after the unlock reached a map whose thread had already returned: TSan saw it). */
static void map_deliver(pp_mapq *m, uint32_t s) {
  pthread_mutex_lock(&m->mu);
  m->done[m->tail++ % m->cap] = s;
  hone__ev_notify(&m->ev, 1);
  pthread_mutex_unlock(&m->mu);
}

typedef struct release_ctx {
  pp *p;
  hone_future *f;
  uint32_t s, own;
} release_ctx;

/* Once the future shows its final state: wait for threads still calling into the pool for it,
 * then free its slot (before the done callbacks, which may shut the pool down). */
static void release_job(void *arg) {
  release_ctx *c = arg;
  hone__future_wait_unpinned(c->f, c->own);
  slot_release(c->p, c->s);
}

/* A job whose slot is DONE (or failed by the collector, or cancelled) goes to its owner. The
 * caller owns the slot (its word is no longer READY/CLAIMED/DONE for anyone else); `own` = pins
 * it holds on the future (1 when called from the future's cancel or refresh). */
static void deliver(pp *p, uint32_t s, uint32_t own) {
  hone__tsan_acquire(p->hdr); /* what the job's publisher did (it came back through a worker) */
  pp_slot *sl = slot_at(p, s);
  void *owner = p->owner[s];
  if (sl->kind == K_CHUNK) {
    map_deliver(owner, s);
    return;
  }
  /* A thread asleep in pp_await on this job, woken by nobody else (the job failed or was
   * cancelled, or the collector took the result first): it holds a pin, which the completion
   * below waits for. */
  if (atomic_load_explicit(&sl->waiting, memory_order_seq_cst) &&
      atomic_exchange_explicit(&sl->waiting, 0, memory_order_seq_cst))
    hone__futex_wake_shared(&sl->waiting, 1);
  hone_future *f = owner;
  release_ctx c = {.p = p, .f = f, .s = s, .own = own};
  if (sl->code == PP_CANCEL_CODE)
    hone__future_cancel_then(f, release_job, &c);
  else
    hone__future_finish(f, sl->code, sl->code < 0 ? sl->msg : NULL, at(p, sl->out_off),
                        sl->out_size, release_job, &c);
  hone_future_release(f); /* the queue's reference */
}

/* Takes a DONE slot from its worker: true if we own it now. */
static bool take_done(pp *p, uint32_t s) {
  pp_slot *sl = slot_at(p, s);
  uint64_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
  if (word_state(w) != S_DONE) return false;
  return atomic_compare_exchange_strong_explicit(&sl->word, &w,
                                                 word_of(word_seq(w), S_COLLECTED, word_worker(w)),
                                                 memory_order_acq_rel, memory_order_relaxed);
}

/* Collector only, but re-entrant: a done callback run by deliver may submit, and a submit from
 * the collector thread collects while it waits (publish), so head is re-read for each entry. */
static bool drain_worker(pp *p, unsigned w) {
  pp_rec *r = &p->recs[w];
  bool any = false;
  for (;;) {
    uint32_t hd = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (hd == atomic_load_explicit(&r->tail, memory_order_acquire)) return any;
    uint32_t s = r->ring[hd % PP_DONE];
    atomic_store_explicit(&r->head, hd + 1, memory_order_release);
    any = true;
    if (take_done(p, s)) deliver(p, s, 0);
  }
}

static bool drain_all(pp *p) {
  bool any = false;
  for (unsigned w = 0; w < p->W; w++) any |= drain_worker(p, w);
  return any;
}

static void describe_status(char *buf, size_t n, int st) {
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    const char *abbr = sigabbrev_np(sig), *descr = sigdescr_np(sig);
    snprintf(buf, n, "was killed by signal %d (SIG%s, %s)", sig, abbr ? abbr : "?",
             descr ? descr : "unknown signal");
  } else if (WIFEXITED(st)) {
    snprintf(buf, n, "exited with status %d", WEXITSTATUS(st));
  } else {
    snprintf(buf, n, "stopped (wait status %#x)", (unsigned)st);
  }
}

/* snprintf that may truncate (messages are bounded by HONE_TASK_MESSAGE_MAX). */
static void fmt_msg(char *buf, size_t n, const char *fmt, ...) HONE_PRINTF(3, 4);
static void fmt_msg(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, n, fmt, ap);
  va_end(ap);
}

static void fail_claimed(pp *p, uint32_t s, unsigned w, bool timed_out, int st) {
  pp_slot *sl = slot_at(p, s);
  pp_rec *r = &p->recs[w];
  const char *name = hone_task_name(sl->task);
  char what[200], how[96];
  /* A chunk of a per-item task records the item it is on: the items before it are done, so the
   * map reports that item (a batch task is one call: its chunk's first item). */
  const hone__task *t = hone__task_get(sl->task);
  uint64_t at_item =
      sl->kind == K_CHUNK && t && !t->batch && sl->failed < sl->count ? sl->failed : 0;
  unsigned long long first = sl->first, last = sl->first + sl->count - 1;
  if (sl->kind == K_CHUNK && t && !t->batch && timed_out)
    snprintf(what, sizeof what, "items %llu..%llu of a map of task '%s' (on item %llu)", first,
             last, name ? name : "?", first + at_item);
  else if (sl->kind == K_CHUNK && t && !t->batch)
    snprintf(what, sizeof what, "item %llu (of items %llu..%llu) of a map of task '%s'",
             first + at_item, first, last, name ? name : "?");
  else if (sl->kind == K_CHUNK)
    snprintf(what, sizeof what, "items %llu..%llu of a map of task '%s'", first, last,
             name ? name : "?");
  else
    snprintf(what, sizeof what, "task '%s'", name ? name : "?");
  if (timed_out) {
    sl->code = HONE_ETIMEDOUT;
    fmt_msg(sl->msg, sizeof sl->msg,
            "%s ran longer than %.3g s; worker %u (pid %d) was killed "
            "and replaced",
            what, (double)p->timeout_ns / 1e9, w, (int)r->pid);
  } else {
    describe_status(how, sizeof how, st);
    sl->code = HONE_ECRASHED;
    fmt_msg(sl->msg, sizeof sl->msg, "worker %u (pid %d) %s while running %s", w, (int)r->pid, how,
            what);
  }
  sl->failed = at_item;
}

/* Fails every job not yet started with `code` (the pool is broken); with `running`, also the
 * jobs running or done but not collected (every worker is dead). */
static void fail_everything(pp *p, int code, const char *msg, bool running) {
  pthread_mutex_lock(&p->mu);
  uint32_t used = p->fresh;
  pthread_mutex_unlock(&p->mu);
  for (uint32_t s = 0; s < used; s++) {
    pp_slot *sl = slot_at(p, s);
    uint64_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
    unsigned st = word_state(w);
    if (st != S_READY && (!running || (st != S_CLAIMED && st != S_DONE))) continue;
    if (!atomic_compare_exchange_strong_explicit(&sl->word, &w,
                                                 word_of(word_seq(w), S_COLLECTED, word_worker(w)),
                                                 memory_order_acq_rel, memory_order_relaxed))
      continue;
    if (st != S_DONE) {
      sl->code = code;
      sl->failed = 0;
      snprintf(sl->msg, sizeof sl->msg, "%s", msg);
    }
    deliver(p, s, 0);
  }
}

static void break_pool(pp *p, int code, const char *msg, bool running) {
  int zero = 0;
  atomic_compare_exchange_strong_explicit(&p->broken, &zero, code, memory_order_seq_cst,
                                          memory_order_relaxed);
  atomic_store_explicit(&p->closed, 1, memory_order_seq_cst);
  space_notify(p->hdr);
  fail_everything(p, code, msg, running);
}

static void handle_death(pp *p, unsigned w) {
  pp_rec *r = &p->recs[w];
  /* Taken first (re-entrancy, see drain_worker): a nested call must not handle it again, which
   * would ask the fork server for a second replacement. Ends W_SPAWN or W_GONE. */
  uint32_t dead = W_DEAD;
  if (!atomic_compare_exchange_strong_explicit(&r->state, &dead, W_GONE, memory_order_acq_rel,
                                               memory_order_acquire))
    return;
  int st = atomic_load_explicit(&r->status, memory_order_acquire);
  drain_worker(p, w); /* what it pushed before dying */
  pthread_mutex_lock(&p->mu);
  uint32_t used = p->fresh;
  pthread_mutex_unlock(&p->mu);
  for (uint32_t s = 0; s < used; s++) {
    pp_slot *sl = slot_at(p, s);
    uint64_t word = atomic_load_explicit(&sl->word, memory_order_acquire);
    unsigned state = word_state(word);
    if ((state != S_CLAIMED && state != S_DONE) || word_worker(word) != w) continue;
    /* A CAS: a waiter may be collecting a DONE slot itself (pp_refresh). */
    if (!atomic_compare_exchange_strong_explicit(&sl->word, &word,
                                                 word_of(word_seq(word), S_COLLECTED, w),
                                                 memory_order_acq_rel, memory_order_relaxed))
      continue;
    if (state == S_CLAIMED) {
      uint64_t job = ((uint64_t)word_seq(word) << 32) | s;
      fail_claimed(p, s, w, p->timeout_job[w] == job + 1, st);
    }
    deliver(p, s, 0);
  }
  p->timeout_job[w] = 0;
  int ie = atomic_load_explicit(&r->init_error, memory_order_acquire);
  bool started = atomic_load_explicit(&r->ready, memory_order_acquire);
  if ((ie != 0 || !started) && !atomic_load_explicit(&p->hdr->stop, memory_order_seq_cst)) {
    /* A replacement that cannot start would be replaced forever: the pool is broken. */
    atomic_store_explicit(&r->state, W_GONE, memory_order_release);
    char msg[HONE_TASK_MESSAGE_MAX], how[96];
    if (ie != 0) {
      fmt_msg(msg, sizeof msg, "the pool is broken: a replacement worker's initializer failed (%s)",
              hone_strerror(ie));
    } else {
      ie = HONE_ECRASHED;
      describe_status(how, sizeof how, st);
      fmt_msg(msg, sizeof msg, "the pool is broken: a replacement worker %s in its initializer",
              how);
    }
    break_pool(p, ie, msg, false);
    return;
  }
  if (atomic_load_explicit(&p->hdr->stop, memory_order_seq_cst) ||
      atomic_load_explicit(&p->broken, memory_order_seq_cst)) {
    atomic_store_explicit(&r->state, W_GONE, memory_order_release);
    return;
  }
  atomic_store_explicit(&r->state, W_SPAWN, memory_order_seq_cst);
  kick_fd(p->zefd);
}

static bool handle_deaths(pp *p) {
  bool any = false;
  for (unsigned w = 0; w < p->W; w++)
    if (atomic_load_explicit(&p->recs[w].state, memory_order_acquire) == W_DEAD) {
      handle_death(p, w);
      any = true;
    }
  return any;
}

/* Kills workers whose job ran past the timeout; returns the next deadline to check. */
static int64_t check_timeouts(pp *p, int64_t now) {
  int64_t next = now + (p->timeout_ns < 50000000 ? p->timeout_ns : 50000000);
  for (unsigned w = 0; w < p->W; w++) {
    pp_rec *r = &p->recs[w];
    if (atomic_load_explicit(&r->state, memory_order_acquire) != W_LIVE) continue;
    int64_t t0 = atomic_load_explicit(&r->cur_start, memory_order_seq_cst);
    if (!t0) continue;
    uint64_t job = atomic_load_explicit(&r->cur_job, memory_order_seq_cst);
    /* The pair must be one job's: the worker may have moved on between the two loads. */
    if (atomic_load_explicit(&r->cur_start, memory_order_seq_cst) != t0 || job >= PP_JOB_IDLE)
      continue;
    if (now - t0 >= p->timeout_ns) {
      if (p->timeout_job[w] != job + 1) {
        p->timeout_job[w] = job + 1;
        atomic_store_explicit(&r->kill_req, job + 1, memory_order_seq_cst);
        kick_fd(p->zefd);
      }
    } else if (t0 + p->timeout_ns < next) {
      next = t0 + p->timeout_ns;
    }
  }
  return next;
}

static bool idle_and_closed(pp *p) {
  return atomic_load_explicit(&p->closed, memory_order_seq_cst) &&
         atomic_load_explicit(&p->submitting, memory_order_seq_cst) == 0 &&
         atomic_load_explicit(&p->active_maps, memory_order_seq_cst) == 0 &&
         atomic_load_explicit(&p->outstanding, memory_order_seq_cst) == 0;
}

/* Workers exit, then the zygote; reaps the zygote. */
static void teardown(pp *p) {
  pp_hdr *h = p->hdr;
  atomic_store_explicit(&h->stop, 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&h->work_seq, 1, memory_order_seq_cst);
  hone__futex_wake_shared(&h->work_seq, INT_MAX);
  atomic_store_explicit(&h->zyg_exit, 1, memory_order_seq_cst);
  kick_fd(p->zefd);
  int st;
  while (p->zpid > 0 && waitpid(p->zpid, &st, 0) < 0 && errno == EINTR) {
  }
  p->zpid = -1;
}

static void *collector_main(void *arg) {
  pp *p = arg;
  pp_hdr *h = p->hdr;
  hone__tls_serving = p->pool;
  int64_t next_check = p->timeout_ns > 0 ? hone__now_ns() : INT64_MAX;
  int64_t spin_end = 0;
  for (unsigned i = 0;; i++) {
    bool any = drain_all(p);
    any |= handle_deaths(p);
    if (p->timeout_ns > 0) {
      int64_t now = hone__now_ns();
      if (now >= next_check) next_check = check_timeouts(p, now);
    }
    if (idle_and_closed(p)) break;
    if (any) {
      spin_end = hone__now_ns() + PP_COLLECTOR_SPIN_NS;
      i = 0;
      continue;
    }
    if (!hone__spin_expired(i, spin_end)) {
      hone__spin_step(i);
      continue;
    }
    atomic_store_explicit(&h->collector_sleeping, 1, memory_order_seq_cst);
    bool work = false;
    for (unsigned w = 0; w < p->W && !work; w++)
      work = atomic_load_explicit(&p->recs[w].tail, memory_order_seq_cst) !=
             atomic_load_explicit(&p->recs[w].head, memory_order_relaxed);
    if (!work) {
      int timeout = -1;
      if (next_check != INT64_MAX) {
        int64_t left = next_check - hone__now_ns();
        timeout = left <= 0 ? 0 : (int)(left / 1000000) + 1;
      }
      bool watch = p->zpidfd >= 0;
      if (!watch && p->zpid > 0 && (timeout < 0 || timeout > 100)) timeout = 100; /* no pidfd */
      struct pollfd pf[2] = {{.fd = p->efd, .events = POLLIN}, {.fd = p->zpidfd, .events = POLLIN}};
      int r = poll(pf, watch ? 2 : 1, timeout);
      if (r > 0 && pf[0].revents) drain_fd(p->efd);
      bool zdead = false;
      if (watch) {
        zdead = r > 0 && pf[1].revents;
      } else if (p->zpid > 0 && waitpid(p->zpid, NULL, WNOHANG) == p->zpid) {
        p->zpid = -1;
        zdead = true;
      }
      if (zdead) {
        /* The zygote died (killed from outside): its workers died with it. */
        if (watch) {
          close(p->zpidfd); /* readable for good: stop polling it */
          p->zpidfd = -1;
        }
        drain_all(p);
        break_pool(p, HONE_ECRASHED, "the pool's fork server died; its workers were killed", true);
      }
    }
    atomic_store_explicit(&h->collector_sleeping, 0, memory_order_seq_cst);
    spin_end = hone__now_ns() + PP_COLLECTOR_SPIN_NS; /* more results may follow this one */
    i = 0;
  }
  teardown(p);
  return NULL;
}

/* ---- the ops ---- */

static void pp_unmap(pp *p) {
  if (p->efd >= 0) close(p->efd);
  if (p->zefd >= 0) close(p->zefd);
  if (p->zpidfd >= 0) close(p->zpidfd);
  if (p->base) munmap(p->base, p->len);
  pthread_mutex_destroy(&p->mu);
  pthread_mutex_destroy(&p->join_mu);
  free(p->free_slots);
  free(p->owner);
  free(p->timeout_job);
  free(p);
}

static size_t round_pow2(size_t n) {
  size_t r = 2;
  while (r < n) r <<= 1;
  return r;
}

static size_t page_up(size_t n) {
  return (n + 4095) & ~(size_t)4095;
}

/* Waits for every first worker to pass its initializer: 0 or the error. */
static int wait_ready(pp *p) {
  pp_hdr *h = p->hdr;
  for (;;) {
    uint32_t r = atomic_load_explicit(&h->ready_count, memory_order_seq_cst);
    for (unsigned w = 0; w < p->W; w++) {
      int ie = atomic_load_explicit(&p->recs[w].init_error, memory_order_seq_cst);
      if (ie) return ie;
    }
    if (r >= p->W) return 0;
    for (unsigned w = 0; w < p->W; w++)
      if (atomic_load_explicit(&p->recs[w].state, memory_order_seq_cst) == W_DEAD &&
          !atomic_load_explicit(&p->recs[w].ready, memory_order_seq_cst))
        return HONE_ECRASHED; /* died in its initializer */
    int st;
    if (waitpid(p->zpid, &st, WNOHANG) == p->zpid) {
      p->zpid = -1;
      return HONE_ESYS;
    }
    hone__futex_wait_shared(&h->ready_count, r, hone__now_ns() + 20000000);
  }
}

static int pp_create(hone_pool *pool, const hone_pool_options *opts) {
  if (opts->workers > PP_NONE - 1) return HONE_EINVAL;
  pp *p = calloc(1, sizeof *p);
  if (!p) return HONE_ENOMEM;
  p->efd = p->zefd = p->zpidfd = -1;
  p->zpid = -1;
  pthread_mutex_init(&p->mu, NULL);
  pthread_mutex_init(&p->join_mu, NULL);
  p->pool = pool;
  p->W = opts->workers;
  p->queue_size = opts->queue_size;
  p->R = (uint32_t)round_pow2(opts->queue_size);
  p->S = (uint32_t)(opts->queue_size + (size_t)p->W * (PP_DONE + 2) + 64);
  p->max_tasks = opts->max_tasks_per_child;
  p->timeout_ns = opts->task_timeout_ns > 0 ? opts->task_timeout_ns : 0;
  p->init = opts->initializer;
  p->init_arg = opts->initializer_arg;
  size_t off_ring = page_up(sizeof(pp_hdr));
  size_t off_recs = page_up(off_ring + (size_t)p->R * sizeof(uint64_t));
  size_t off_slots = page_up(off_recs + (size_t)p->W * sizeof(pp_rec));
  p->arena_off = page_up(off_slots + (size_t)p->S * sizeof(pp_slot));
  p->arena_len = hone__process_arena_bytes;
  p->len = p->arena_off + p->arena_len;
  p->free_slots = malloc((size_t)p->S * sizeof *p->free_slots);
  p->owner = calloc(p->S, sizeof *p->owner);
  p->timeout_job = calloc(p->W, sizeof *p->timeout_job);
  void *m =
      mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED || !p->free_slots || !p->owner || !p->timeout_job) {
    if (m != MAP_FAILED) munmap(m, p->len);
    pp_unmap(p);
    return HONE_ENOMEM;
  }
  p->base = m;
  p->hdr = (pp_hdr *)p->base;
  p->ring = (_Atomic uint64_t *)(p->base + off_ring);
  p->recs = (pp_rec *)(p->base + off_recs);
  p->slots = (pp_slot *)(p->base + off_slots);
  for (uint32_t i = 0; i < p->R; i++) /* a sequence number no job at this position has */
    atomic_init(&p->ring[i], (uint64_t)(uint32_t)(i - 1) << 32);
  for (unsigned w = 0; w < p->W; w++) atomic_init(&p->recs[w].state, W_SPAWN);
  p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  p->zefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (p->efd < 0 || p->zefd < 0) {
    pp_unmap(p);
    return HONE_ESYS;
  }
  p->hdr->parent_efd = p->efd;
  p->hdr->parent_pid = getpid();
  pthread_once(&pp_atfork_once, pp_atfork_register);
  p->gen = fork_gen();
  pool->impl = p;
  fflush(NULL); /* nothing buffered is printed twice by the children */
  pid_t z = fork();
  if (z < 0) {
    pp_unmap(p);
    pool->impl = NULL;
    return HONE_ESYS;
  }
  if (z == 0) zygote_main(p, p->hdr->parent_pid);
  p->zpid = z;
  /* Later forks of this process (another pool's zygote, the user's) do not inherit the region. */
  madvise(p->base, p->len, MADV_DONTFORK);
  p->zpidfd = (int)syscall(SYS_pidfd_open, z, 0);
  int rc = wait_ready(p);
  if (rc == 0 && pthread_create(&p->collector, NULL, collector_main, p) != 0) rc = HONE_ESYS;
  if (rc < 0) {
    if (p->zpid > 0) {
      /* The zygote kills and reaps its workers, then exits (killing the zygote instead would
       * leave its workers to be reaped by init, which a container's pid 1 may never do). */
      atomic_store_explicit(&p->hdr->zyg_exit, 2, memory_order_seq_cst);
      kick_fd(p->zefd);
      while (waitpid(p->zpid, NULL, 0) < 0 && errno == EINTR) {
      }
    }
    pp_unmap(p);
    pool->impl = NULL;
    return rc;
  }
  p->collector_started = true;
  return 0;
}

/* The pool was made by an ancestor of this process (see pp_fork_gen). */
static bool foreign(const pp *p) {
  return fork_gen() != p->gen;
}

static int task_id_of(const hone__task *t) {
  return (int)(t - hone__task_get(0));
}

static int pp_submit(hone_pool *pool, hone_future *f, int64_t timeout_ns) {
  pp *p = pool->impl;
  if (foreign(p)) return HONE_ESHUTDOWN;
  atomic_fetch_add_explicit(&p->submitting, 1, memory_order_seq_cst);
  int64_t rc = HONE_ESHUTDOWN;
  if (!atomic_load_explicit(&p->closed, memory_order_seq_cst)) {
    f->remote = true;
    pp_job j = {.kind = K_TASK,
                .task = task_id_of(f->task),
                .owner = f,
                .in = f->arg,
                .in_size = f->arg_size,
                .out_size = f->result_size};
    rc = publish(p, &j, timeout_ns == 0 ? 0 : hone__deadline(timeout_ns), NULL);
  }
  if (atomic_fetch_sub_explicit(&p->submitting, 1, memory_order_seq_cst) == 1 &&
      atomic_load_explicit(&p->closed, memory_order_seq_cst))
    collector_kick(p);
  hone__tsan_release(p->hdr); /* this call is over before the job's result comes back */
  return rc < 0 ? (int)rc : 0;
}

/* Cancels the READY job (slot s, sequence seq): true if this call did. The caller then owns the
 * slot. */
static bool cancel_slot(pp *p, uint32_t s, uint64_t seq) {
  uint64_t want = word_of(seq, S_READY, PP_NONE);
  return atomic_compare_exchange_strong_explicit(&slot_at(p, s)->word, &want,
                                                 word_of(seq, S_CANCELLED, PP_NONE),
                                                 memory_order_acq_rel, memory_order_acquire);
}

static int pp_cancel(hone_pool *pool, hone_future *f) {
  pp *p = pool->impl;
  if (foreign(p)) return HONE_EBUSY; /* the job is the ancestor's */
  uint32_t s = (uint32_t)f->tag;
  uint64_t seq = f->tag >> 32;
  if (cancel_slot(p, s, seq)) {
    slot_at(p, s)->code = PP_CANCEL_CODE;
    deliver(p, s, 1); /* callbacks run here, in the canceller */
    return 0;
  }
  for (unsigned i = 0;; i++) {
    uint64_t w = atomic_load_explicit(&slot_at(p, s)->word, memory_order_acquire);
    if (word_seq(w) != (uint32_t)seq || word_state(w) != S_CANCELLED) break;
    hone__spin_step(i); /* cancelled by a shutdown that is completing it */
  }
  hone__future_mark_running(f);
  return hone_future_cancelled(f) ? 0 : HONE_EBUSY;
}

static void pp_refresh(hone_pool *pool, hone_future *f) {
  pp *p = pool->impl;
  if (foreign(p)) return;
  uint32_t s = (uint32_t)f->tag;
  uint64_t w = atomic_load_explicit(&slot_at(p, s)->word, memory_order_acquire);
  unsigned st = word_state(w);
  if (word_seq(w) != (uint32_t)(f->tag >> 32)) return;
  if (st == S_DONE && take_done(p, s)) { /* its result is ready: collect it here (one wake-up
                                            less than through the collector) */
    deliver(p, s, 1);
    return;
  }
  if (st == S_CLAIMED || st == S_DONE || st == S_COLLECTED) hone__future_mark_running(f);
}

/* Sleeps until f's job ends or `deadline`, and collects its result in the calling thread when it
 * is ready. The worker that ends the job wakes this thread directly (run_job), so the result
 * takes one wake-up, not two (the collector's, then the waiter's). One sleeper per job; another
 * thread waiting on the same future at the same time gets false (it then sleeps on the
 * future's state, which the completion wakes). keep: return still holding the job's wake-up
 * (f->await_held; see hone__future_await).
 *
 * Ordering (all seq_cst): this thread stores waiting = 1, then reads the slot's word; the worker
 * stores DONE, then reads `waiting`. So either the worker sees 1 (and wakes us: we collect) or
 * we see DONE (and do not sleep). Whoever clears `waiting` first decides: the worker, when it
 * woke us (then it did not wake the collector, and the result is ours to take), or we, after a
 * timeout (then the worker wakes the collector as usual). */
static bool pp_await(hone_pool *pool, hone_future *f, int64_t deadline, bool keep) {
  pp *p = pool->impl;
  if (foreign(p)) return false;
  uint32_t s = (uint32_t)f->tag;
  uint32_t seq = (uint32_t)(f->tag >> 32);
  pp_slot *sl = slot_at(p, s);
  uint64_t w;
  unsigned st;
  if (!f->await_held) {
    w = atomic_load_explicit(&sl->word, memory_order_seq_cst);
    if (word_seq(w) != seq) return false;
    st = word_state(w);
    if (st == S_DONE) {
      if (take_done(p, s)) deliver(p, s, 1);
      return true;
    }
    if (st != S_READY && st != S_CLAIMED) return false;
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong_explicit(&sl->waiting, &zero, 1, memory_order_seq_cst,
                                                 memory_order_seq_cst))
      return false;
    f->await_held = true;
  }
  w = atomic_load_explicit(&sl->word, memory_order_seq_cst);
  st = word_state(w);
  bool pending = word_seq(w) == seq && (st == S_READY || st == S_CLAIMED);
  if (pending && deadline > hone__now_ns())
    while (atomic_load_explicit(&sl->waiting, memory_order_seq_cst) &&
           hone__futex_wait_shared(&sl->waiting, 1, deadline) != -1)
      ;
  if (keep && atomic_load_explicit(&sl->waiting, memory_order_seq_cst)) {
    w = atomic_load_explicit(&sl->word, memory_order_seq_cst);
    st = word_state(w);
    if (word_seq(w) == seq && (st == S_READY || st == S_CLAIMED)) {
      if (st == S_CLAIMED) hone__future_mark_running(f);
      return true; /* still ours: the worker will find the flag */
    }
  }
  f->await_held = false;
  bool woken = !atomic_exchange_explicit(&sl->waiting, 0, memory_order_seq_cst);
  w = atomic_load_explicit(&sl->word, memory_order_seq_cst);
  if (word_state(w) == S_DONE && (word_seq(w) == seq || woken) && take_done(p, s)) {
    /* Ours; or, when the slot's job ended and was collected between our two reads of the word
     * and its next job's worker found our flag, that job's (its worker woke no collector). */
    deliver(p, s, word_seq(w) == seq);
    return true;
  }
  if (word_seq(w) == seq && word_state(w) == S_CLAIMED) hone__future_mark_running(f);
  return true;
}

static bool pp_help(hone_pool *pool) {
  (void)pool;
  return false; /* no thread of this process is a worker of a process pool */
}

/* Cancels every READY job (shutdown with cancel_pending). */
static void cancel_ready(pp *p) {
  pthread_mutex_lock(&p->mu);
  uint64_t end = p->pub;
  pthread_mutex_unlock(&p->mu);
  for (uint64_t c = atomic_load_explicit(&p->hdr->next_claim, memory_order_seq_cst); c < end; c++) {
    uint64_t e = atomic_load_explicit(&p->ring[c & (p->R - 1)], memory_order_acquire);
    if ((uint32_t)(e >> 32) != (uint32_t)c) continue;
    uint32_t s = (uint32_t)e;
    if (!cancel_slot(p, s, c)) continue;
    slot_at(p, s)->code = PP_CANCEL_CODE;
    deliver(p, s, 0);
  }
}

static int pp_shutdown(hone_pool *pool, bool wait, bool cancel_pending) {
  pp *p = pool->impl;
  if (foreign(p)) return 0; /* the ancestor's workers are not ours to stop */
  if (wait && p->collector_started && pthread_equal(pthread_self(), p->collector))
    return HONE_EBUSY; /* from a done callback: the collector cannot wait for itself */
  if (cancel_pending) atomic_store_explicit(&p->cancelling, 1, memory_order_seq_cst);
  atomic_store_explicit(&p->closed, 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&p->hdr->claim_ev, 1, memory_order_seq_cst);
  hone__futex_wake_shared(&p->hdr->claim_ev, INT_MAX); /* blocked submitters see `closed` */
  if (cancel_pending) {
    while (atomic_load_explicit(&p->submitting, memory_order_seq_cst)) sched_yield();
    cancel_ready(p);
  }
  collector_kick(p);
  if (wait) {
    pthread_mutex_lock(&p->join_mu);
    if (p->collector_started && !p->joined) {
      pthread_join(p->collector, NULL);
      p->joined = true;
    }
    pthread_mutex_unlock(&p->join_mu);
  }
  return 0;
}

static void pp_destroy(hone_pool *pool) {
  pp *p = pool->impl;
  if (foreign(p)) {
    /* Only this process's copy: the region is not mapped here (a mapping of ours may even sit at
     * its address), the mutexes may have been held by threads that were not copied. The copy's
     * pending futures still point at the pool and wait (they only ever time out here), so the
     * two small structs stay allocated for them; the descriptors and arrays go. */
    if (p->efd >= 0) close(p->efd);
    if (p->zefd >= 0) close(p->zefd);
    if (p->zpidfd >= 0) close(p->zpidfd);
    p->efd = p->zefd = p->zpidfd = -1;
    free(p->free_slots);
    free(p->owner);
    free(p->timeout_job);
    p->free_slots = NULL;
    p->owner = NULL;
    p->timeout_job = NULL;
    pool->keep_on_free = true;
    return;
  }
  pp_shutdown(pool, true, true);
  pp_unmap(p);
  pool->impl = NULL;
}

/* ---- map ---- */

/* The automatic chunk size for the next chunk of a map with rem items left on W workers.
 * Guided: a quarter of an even share of what is left, so chunks shrink and the last ones even out
 * the workers' finishing times. Once a chunk has come back, the per-item time (timed_ns over
 * timed_items) and the least overhead seen for a chunk (over_ns: from its publication to its
 * result in the map's hands, less the task's own run) are known, and no chunk is made smaller
 * than the one whose work equals that overhead, so dispatch costs at most as much as the work.
 * That floor is at most guided's first chunk (a quarter of an even share of the whole map), so
 * a worker that loses its CPU for a while delays the map by at most a small chunk; and a map
 * whose whole work is below one chunk's overhead goes in a single chunk, as splitting it could
 * save less than the dispatch it adds.
 * (Measured here, items of ~1 ns: 1000 on 1 worker took 190-210 us in ~30 guided chunks down to
 * one item each, against 15-20 us for one chunk of 1000; 10^5 on 2 workers, median of 41 maps:
 * guided 1.27-1.36 ms, the floor capped at an even share 0.34-0.67 ms with a p75 of 0.9-1.4 ms,
 * capped at a quarter of it 0.27-0.30 ms with a p75 of 0.31-0.33 ms.) */
static size_t auto_chunk(size_t n, size_t rem, unsigned W, size_t timed_items, int64_t timed_ns,
                         int64_t over_ns) {
  size_t w = W ? W : 1;
  size_t c = (rem + 4 * w - 1) / (4 * w);
  if (timed_items && over_ns > 0) {
    double item_ns = (double)(timed_ns > 0 ? timed_ns : 1) / (double)timed_items;
    double least = (double)over_ns / item_ns;
    size_t first = (n + 4 * w - 1) / (4 * w);
    size_t floor_c = least >= (double)n ? n : least >= (double)first ? first : (size_t)least + 1;
    if (c < floor_c) c = floor_c;
  }
  return c < rem ? c : rem;
}

static int pp_map(hone_pool *pool, const hone__task *task, const void *in, size_t in_stride,
                  void *out, size_t out_stride, size_t n, size_t chunk, hone_map_error *err) {
  pp *p = pool->impl;
  if (foreign(p)) {
    if (err) err->code = HONE_ESHUTDOWN;
    return HONE_ESHUTDOWN;
  }
  atomic_fetch_add_explicit(&p->active_maps, 1, memory_order_seq_cst);
  int rc = 0;
  pp_mapq m = {.cap = 2 * (size_t)p->W + 2};
  m.done = malloc(m.cap * sizeof *m.done);
  uint32_t *mine = malloc(m.cap * sizeof *mine); /* slots in flight */
  uint64_t *mine_seq = malloc(m.cap * sizeof *mine_seq);
  int64_t *mine_t = malloc(m.cap * sizeof *mine_t); /* when each was published */
  if (atomic_load_explicit(&p->closed, memory_order_seq_cst))
    rc = HONE_ESHUTDOWN;
  else if (!m.done || !mine || !mine_seq || !mine_t)
    rc = HONE_ENOMEM;
  if (rc < 0) {
    free(m.done);
    free(mine);
    free(mine_seq);
    free(mine_t);
    if (atomic_fetch_sub_explicit(&p->active_maps, 1, memory_order_seq_cst) == 1 &&
        atomic_load_explicit(&p->closed, memory_order_seq_cst))
      collector_kick(p);
    if (err) err->code = rc;
    return rc;
  }
  pthread_mutex_init(&m.mu, NULL);
  const unsigned char *inb = in;
  unsigned char *outb = out;
  size_t os = task->result_size ? out_stride : 0;
  size_t per = in_stride + os;
  size_t cap_items = per ? (PP_CHUNK_BYTES / per ? PP_CHUNK_BYTES / per : 1) : n;
  size_t next = 0, inflight = 0, fail = SIZE_MAX, timed_items = 0;
  int64_t timed_ns = 0;
  int64_t over_ns = -1; /* the least cost of a chunk beyond its task's run, seen so far */
  bool stop = false, cancelled = false;
  int id = task_id_of(task);
  /* Until a chunk of this map is back, size chunks from the pool's last map of the same task. */
  int64_t prior_over = atomic_load_explicit(&p->map_over_ns, memory_order_relaxed);
  int64_t prior_ps = atomic_load_explicit(&p->map_item_ps, memory_order_relaxed);
  bool prior = prior_over > 0 && prior_ps > 0 &&
               atomic_load_explicit(&p->map_task, memory_order_relaxed) == id;
  for (;;) {
    while (!stop && next < n && inflight < m.cap - 2) {
      size_t rem = n - next;
      size_t c = chunk                   ? chunk
                 : timed_items || !prior ? auto_chunk(n, rem, p->W, timed_items, timed_ns, over_ns)
                                         : auto_chunk(n, rem, p->W, 1000, prior_ps, prior_over);
      if (!chunk && p->timeout_ns > 0) {
        /* The timeout applies to a chunk: keep chunks to a small part of it, sized from the
         * items timed so far (one item per chunk until a first chunk is back). */
        size_t most = 1;
        if (timed_items) {
          double item_ns = (double)(timed_ns > 0 ? timed_ns : 1) / (double)timed_items;
          double fit = (double)p->timeout_ns / 8.0 / item_ns;
          most = fit < 1 ? 1 : fit > (double)rem ? rem : (size_t)fit;
        }
        if (c > most) c = most;
      }
      if (c > rem) c = rem;
      if (c > cap_items) c = cap_items;
      if (c == 0) c = 1;
      pp_job j = {.kind = K_CHUNK,
                  .task = id,
                  .owner = &m,
                  .in = inb ? inb + next * in_stride : NULL,
                  .in_size = c * in_stride,
                  .out_init = outb ? outb + next * os : NULL,
                  .out_size = c * os,
                  .in_stride = in_stride,
                  .out_stride = os,
                  .count = c,
                  .first = next};
      uint64_t seq = 0;
      int64_t t_pub = hone__now_ns();
      int64_t s = publish(p, &j, INT64_MAX, &seq);
      if (s < 0) {
        if (s == HONE_ECANCELED)
          cancelled = true;
        else if (rc == 0)
          rc = (int)s;
        stop = true;
        break;
      }
      mine[inflight] = (uint32_t)s;
      mine_seq[inflight] = seq;
      mine_t[inflight] = t_pub;
      inflight++;
      next += c;
    }
    if (inflight == 0) break;
    uint32_t key = hone__ev_prepare(&m.ev);
    pthread_mutex_lock(&m.mu);
    bool have = m.head != m.tail;
    pthread_mutex_unlock(&m.mu);
    if (!have) {
      hone__ev_wait(&m.ev, key, hone__now_ns() + 100000000);
      continue;
    }
    hone__ev_cancel(&m.ev);
    for (;;) {
      pthread_mutex_lock(&m.mu);
      bool more = m.head != m.tail;
      uint32_t s = more ? m.done[m.head++ % m.cap] : 0;
      pthread_mutex_unlock(&m.mu);
      if (!more) break;
      pp_slot *sl = slot_at(p, s);
      size_t first = sl->first, cnt = sl->count;
      size_t at_i = 0; /* its place among those in flight */
      while (at_i < inflight - 1 && mine[at_i] != s) at_i++;
      if (sl->code == 0) {
        timed_items += cnt;
        timed_ns += sl->run_ns;
        int64_t o = hone__now_ns() - mine_t[at_i] - sl->run_ns;
        if (o < 0) o = 0;
        if (over_ns < 0 || o < over_ns) over_ns = o;
      }
      if (sl->code == PP_CANCEL_CODE) {
        cancelled = true;
        stop = true;
      } else {
        size_t ok = sl->code == 0 ? cnt : (sl->failed < cnt ? sl->failed : 0);
        if (outb && os && ok) memcpy(outb + first * os, at(p, sl->out_off), ok * os);
        if (sl->code != 0) {
          stop = true;
          if (first + ok < fail) {
            fail = first + ok;
            if (err) {
              err->index = fail;
              err->code = sl->code;
              snprintf(err->message, sizeof err->message, "%s", sl->msg);
            }
          }
          /* Drop the chunks not started: claims follow publication order, so they all come
           * after this one. */
          for (size_t i = 0; i < inflight; i++)
            if (mine[i] != s && cancel_slot(p, mine[i], mine_seq[i])) {
              slot_at(p, mine[i])->code = PP_CANCEL_CODE;
              map_deliver(&m, mine[i]);
            }
        }
      }
      mine[at_i] = mine[inflight - 1];
      mine_seq[at_i] = mine_seq[inflight - 1];
      mine_t[at_i] = mine_t[inflight - 1];
      inflight--;
      slot_release(p, s);
    }
  }
  if (timed_items && over_ns > 0) {
    atomic_store_explicit(&p->map_task, id, memory_order_relaxed);
    atomic_store_explicit(
        &p->map_item_ps,
        (int64_t)((double)(timed_ns > 0 ? timed_ns : 1) * 1000.0 / (double)timed_items) + 1,
        memory_order_relaxed);
    atomic_store_explicit(&p->map_over_ns, over_ns, memory_order_relaxed);
  }
  pthread_mutex_destroy(&m.mu);
  free(m.done);
  free(mine);
  free(mine_seq);
  free(mine_t);
  if (atomic_fetch_sub_explicit(&p->active_maps, 1, memory_order_seq_cst) == 1 &&
      atomic_load_explicit(&p->closed, memory_order_seq_cst))
    collector_kick(p);
  if (fail != SIZE_MAX) return HONE_ETASK;
  if (rc == 0 && cancelled) rc = HONE_ECANCELED;
  if (rc < 0 && err) err->code = rc;
  return rc;
}

const hone__pool_ops hone__backend_process = {
    .name = "processes",
    .create = pp_create,
    .submit = pp_submit,
    .map = pp_map,
    .help = pp_help,
    .shutdown = pp_shutdown,
    .destroy = pp_destroy,
    .cancel = pp_cancel,
    .refresh = pp_refresh,
    .await = pp_await,
};
