/* queue_shm.c: the shared-memory hone_queue, between processes (include/hone/queue.h; queue.c
 * holds the thread queue and dispatches here).
 *
 * Memory: one anonymous memfd (never a named file), sealed against resizing, mapped MAP_SHARED:
 *   [header: magic, version, layout, the producers' line, the consumers' line, the futex words]
 *   [ring: ring_size bytes of records]
 * A record is a 16-byte header {state, pid, size} and the payload, padded to 8 bytes. A message
 * queue maps its ring twice, back to back, so that a record running past the ring's end goes on,
 * in the mapping, at its start: no record is ever split, and a copy is one memcpy. A fixed-size
 * queue has ring_size = (capacity + 1) * slot, so its records never reach past the end.
 *
 * Indexes are byte positions that only grow (offset = position % ring_size):
 *   head <= rd, and the records from rd on up to the producers' tail are the ones not yet taken;
 *   [head, rd) holds records taken by consumers (READING while one is still being copied out).
 *   Free space = ring_size - (tail - head); a send always leaves `reserve` bytes of it free (8
 *   bytes, or one slot), so that the word after the newest record is never part of a live one.
 *
 * Two sides, each with its robust lock (h->p.mu, h->c.mu: "the producers' lock", "the consumers'
 * lock" below). Producers hold theirs and own tail; consumers hold theirs and own rd and head.
 * Neither side reads the other's index on its fast path:
 *  - a record's state word says whether it is there. The word at tail is always 0: a producer
 *    writes the record at tail, clears the word after it, and only then stores the record's state
 *    (READY, or WRITING for a large message copied in after the lock is released). A consumer
 *    reads the state at rd: 0 means nothing (yet) there.
 *  - a producer keeps the head it last read (p.seen) and reads head again only when that says
 *    the ring is full; a consumer keeps the tail it last read (c.seen) for its lock-free check
 *    of an empty ring and reads tail only when that says empty.
 * So with one producer and one consumer both busy, a message moves its record's lines and no
 * other line: each side's lock and indexes stay in its own cache, and the other side's line is
 * read once per ring-full (a batch), not per message. (Version 3 had one lock and the indexes on
 * one line, which crossed to each side on every message.) Small messages are copied under the
 * side's lock; large ones outside it, so that a producer and a consumer copy at the same time.
 * A side used by one thread many calls in a row is biased to it: that thread then holds the side
 * with plain stores and no locked instruction, and anyone else takes the bias back before locking
 * (see "holding a side" below, and the asymmetric fences it relies on).
 *
 * A process may die at any instant without corrupting the state:
 *  - a record's state is stored after its header and payload (release), and its size never
 *    changes afterwards; a producer killed holding its side may have committed records past
 *    tail: the next producer's repair moves tail over every record whose state is not 0;
 *  - a consumer copies a small message out before moving rd (killed before, the message stays
 *    queued; after, it is lost with the process), and moves rd before head; head passes every
 *    record but a READING one. Killed holding its side while claiming a large one (READING at
 *    rd, rd not moved yet), the repair puts it back to READY.
 * Killed mid-copy: a WRITING record (consumers take records in order, so they wait on it) or a
 * READING one (its space is held) stays behind; a waiter that has waited a while checks the
 * owner's pid, and drops the record when that process is gone (or a zombie), or when the process
 * now holding that pid does not map the queue (the pid was reused, or the process exec'd another
 * program): pids wrap (pid_max was 32768 on the machines this was written on).
 *
 * Waiting: no condition variables (a process killed inside pthread_cond_wait can leave a
 * process-shared glibc condvar broken for everyone). A waiter spins a few microseconds, then
 * registers in a waiter count and sleeps on a futex sequence word; a notifier bumps the word and
 * makes the wake-up syscall only when a waiter is registered (the eventcount of sync.h, on shared
 * words). A waiter killed asleep leaves the count too high, which would cost every later send a
 * wake-up system call (a 10x slower 64-byte rate): each process's registrations are therefore
 * also counted in a slot of its own, and taken back when the process is found dead (checked every
 * CHECK_EVERY wake-up calls, and by waiters that have waited a while). Sleeps are bounded (a few
 * ms, growing to POLL_MAX_NS), so a wake-up lost with a process that died between its change and
 * its notify only comes late.
 *
 * A thread killed holding a side by its bias is repaired after as one killed holding the lock.
 *
 * Lock order: a thread holding the consumers' side never takes the producers'; the only callers
 * that hold both (size, the test hook) take the producers' first. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "hone/queue.h"
#include "parallel/queue_shm.h"
#include "parallel/sync.h"
#include "parallel/tsan.h"

#define SHQ_MAGIC UINT64_C(0x31516575654e6f48) /* "HoNeueQ1" little-endian */
#define SHQ_VERSION 4u /* 4: a lock per side, records signalled by their state words */

#define SPIN_NS 20000        /* spin this long before sleeping */
#define POLL_MIN_NS 2000000  /* first check for dead owners after this long asleep */
#define POLL_MAX_NS 50000000 /* and then at most this far apart */
#define LOCK_SPINS 64        /* trylock rounds before blocking in pthread_mutex_lock */
#define MSG_RESERVE 8        /* free bytes a message queue always keeps after its newest record */
#define BIAS_GRANTS 256      /* biases a side may grant in the queue's life (each has its words) */
#define BIAS_STREAK 64 /* calls in a row, by one thread, under a side's lock before the bias */

enum { REC_FREE = 0, REC_WRITING = 1, REC_READY = 2, REC_READING = 3, REC_DONE = 4 };

#define WAIT_SLOTS 64   /* processes whose sleeping waiters are accounted for individually */
#define CHECK_EVERY 256 /* wake-up calls between two checks for waiters that died asleep */

/* How many of one process's threads are registered as waiters, per side (0 get, 1 put): what
 * to take back from the totals when that process is found dead. */
typedef struct shq_wslot {
  _Atomic int32_t pid; /* 0: free; claimed by CAS, freed under the consumers' lock */
  _Atomic uint32_t n[2];
} shq_wslot;

typedef struct shq_rec {
  _Atomic uint32_t state;
  int32_t pid;   /* the process copying the payload in (WRITING) or out (READING) */
  uint64_t size; /* payload bytes; never changes once the record is committed */
} shq_rec;

/* A side's lock line: its robust lock, its cached copy of the other side's index (stored by the
 * side's holder, and as a hint without it), and its bias: the thread that may hold the side
 * without taking the lock, tid << 32 | (grant index + 1), or 0. Only the side's holders touch it
 * (others read `bias` only when they revoke it, under the lock). */
typedef struct shq_side {
  pthread_mutex_t mu;
  _Atomic uint64_t seen, bias;
} shq_side;

/* One grant of a bias: `busy` is written by its thread only (1 while inside a call), `revoked`
 * by the one revoking it. A grant's words are never reused: a thread that read the bias just
 * before it was revoked and re-granted to another writes only its own grant's busy word. */
typedef struct shq_grant {
  _Atomic uint32_t busy, revoked;
} shq_grant;

/* A side's bias bookkeeping, under the side's lock: the thread of the calls in a row, how many,
 * and the grants given so far. */
typedef struct shq_bias {
  int32_t streak_tid;
  uint32_t streak, grants;
  alignas(64) shq_grant grant[BIAS_GRANTS];
} shq_bias;

/* The shared header. The layout fields are written once at creation. */
typedef struct shq_hdr {
  uint64_t magic;
  uint32_t version, hdr_size;
  uint64_t ring_size, item_size, slot_size, capacity, max_message;
  uint32_t mutex_size, rec_size;
  /* Each side has two lines: its lock with its cached copy of the other side's index, which only
   * its own side touches, and its index, which the other side reads when its copy says full or
   * empty (or while it waits). Were the index on the lock's line, a consumer waiting on tail
   * would pull the producers' lock away from them on every message (measured: 40 % of a 64-byte
   * stream's time in the robust unlock). glibc's mutex is 40 bytes on x86-64. */
  alignas(64) shq_side p;                /* p.seen: head as last read by a producer */
  alignas(64) _Atomic uint64_t tail;     /* stored by the side's holder */
  alignas(64) shq_side c;                /* c.seen: tail as last read by a consumer */
  alignas(64) _Atomic uint64_t rd, head; /* stored by the side's holder */
  alignas(64) _Atomic uint32_t closed;   /* written once: read-shared by every CPU */
  /* Futex words: bumped when a message may have become available (get) or space freed (put).
   * Each line is written by its notifiers on every notify (a read-modify-write of the waiter
   * count), by its waiters only when they go to sleep. */
  alignas(64) _Atomic uint32_t get_seq, get_waiters;
  _Atomic uint32_t commits; /* bumped by each large send when its record becomes READY */
  alignas(64) _Atomic uint32_t put_seq, put_waiters;
  /* Registered waiters per process, so that a dead one's count can be taken back: a total left
   * too high would cost every later send or recv a wake-up system call. */
  alignas(64) pthread_mutex_t wmu; /* the waiter slots' cleaner */
  _Atomic uint32_t wakes;          /* wake-up calls made, to pace the checks */
  _Atomic uint32_t asym;           /* set once a process notifies with plain loads */
  shq_wslot wslot[WAIT_SLOTS];
  alignas(64) shq_bias pb, cb; /* the producers' and the consumers' biases */
} shq_hdr;

_Static_assert(sizeof(shq_rec) == 16, "record header is 16 bytes");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free in shared memory");

struct hone__shq {
  shq_hdr *h;
  unsigned char *ring;
  void *base;
  size_t map_len;
  /* Copies of the layout validated at open, so that this process's mapping and ring arithmetic
   * stay fixed. (Processes sharing a queue trust each other: any can write anywhere in it.) */
  size_t ring_size, item_size, slot_size, capacity, max_message, reserve;
  int fd;
  /* The memory's inode and device (ino 0: unknown), to find it in a process's maps (pid_dead). */
  uint64_t ino;
  unsigned dev_major, dev_minor;
  _Atomic bool asym_marked; /* this handle has set h->asym */
};

void (*hone__shq_test_hook)(int point);
int64_t hone__shq_test_poll_ns;

#define TEST_POINT(p)                                                                              \
  do {                                                                                             \
    if (hone__shq_test_hook) hone__shq_test_hook(p);                                               \
  } while (0)

static size_t page_size(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

static size_t hdr_size(void) {
  size_t p = page_size();
  return (sizeof(shq_hdr) + p - 1) / p * p;
}

static size_t rec_len(size_t size) {
  return sizeof(shq_rec) + ((size + 7) & ~(size_t)7);
}

static size_t len_of(const hone__shq *q, size_t size) {
  return q->item_size ? q->slot_size : rec_len(size);
}

static shq_rec *rec_at(const hone__shq *q, uint64_t pos) {
  return (shq_rec *)(void *)(q->ring + pos % q->ring_size);
}

/* Whether a record of len bytes fits at tail with head where it is (keeping the reserve). */
static bool fits(const hone__shq *q, uint64_t tail, uint64_t head, size_t len) {
  return tail - head <= q->ring_size - q->reserve - len;
}

#define LOAD(x, o) atomic_load_explicit(&(x), memory_order_##o)
#define STORE(x, v, o) atomic_store_explicit(&(x), (v), memory_order_##o)

/* A record's state, read and written with the queue's ThreadSanitizer sync point (tsan.h): a
 * record handed over by a thread of this process may come back through another process. */
static inline uint32_t rec_state_(const hone__shq *q, _Atomic uint32_t *state) {
  uint32_t v = atomic_load_explicit(state, memory_order_acquire);
  hone__tsan_acquire(q->h);
  return v;
}
static inline void set_rec_state_(const hone__shq *q, _Atomic uint32_t *state, uint32_t v) {
  hone__tsan_release(q->h); /* what the record holds, for the thread that sees v */
  hone__store_unseen_u32(state, v);
}
#define rec_state(q, r) rec_state_((q), &(r)->state)
#define set_rec_state(q, r, v) set_rec_state_((q), &(r)->state, (v))

/* ---- dead owners ---- */

static int32_t my_pid(void);

/* Whether process (or thread) `pid` maps q's memory, by its /proc/PID/maps: 1 yes, 0 no, -1
 * unknown (unreadable, or q's inode unknown). Called only by checks for the dead, after a wait:
 * it takes 17-27 us for a process of 23 mappings here (the kernel writes the whole list), more
 * for one of many. */
static int maps_queue(const hone__shq *q, int32_t pid) {
  if (!q->ino) return -1;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ESRCH ? 0 : -1;
  char buf[4096];
  size_t have = 0;
  int found = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0) found = -1;
      break;
    }
    have += (size_t)n;
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n'))) { /* "start-end perms offset major:minor inode path" */
      *nl = 0;
      unsigned maj, min;
      unsigned long long ino;
      if (sscanf(line, "%*x-%*x %*s %*x %x:%x %llu", &maj, &min, &ino) == 3 && ino == q->ino &&
          maj == q->dev_major && min == q->dev_minor)
        found = 1;
      line = nl + 1;
    }
    if (found) break;
    have = (size_t)(buf + have - line);
    /* A line longer than the buffer is not q's (its path is short): dropped. */
    if (have == sizeof buf - 1) have = 0;
    memmove(buf, line, have);
  }
  close(fd);
  return found;
}

/* True when no live process that uses q has this pid: gone, a zombie not yet reaped by its
 * parent, or a live process that does not map q (so not the one that wrote the pid: the pid was
 * reused, or its process exec'd another program, which ends the threads that were inside a
 * call). A pid reused by another process that maps q still looks alive. A pid is meaningful only
 * within one pid namespace (all users of a queue must share one). `maps`: false skips the look
 * at the maps (for the check every CHECK_EVERY wake-ups, where a reused pid costs wake-up calls,
 * not a wait: the slow check of waiters that have waited a while looks). */
static bool pid_dead(const hone__shq *q, int32_t pid, bool maps) {
  if (pid <= 0 || pid == my_pid()) return false;
  if (kill((pid_t)pid, 0) == -1 && errno == ESRCH) return true;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  const char *paren = strrchr(buf, ')'); /* the command name may hold spaces and parens */
  if (!paren || paren[1] != ' ') return false;
  if (paren[2] == 'Z' || paren[2] == 'X') return true;
  return maps && maps_queue(q, pid) == 0;
}

/* ---- the consumers' side, held ---- */

/* Moves head over the records consumers have finished with (all but a READING one: rd passed
 * them); returns how many it passed. */
static int advance_head(hone__shq *q) {
  shq_hdr *h = q->h;
  uint64_t head = LOAD(h->head, relaxed), rd = LOAD(h->rd, relaxed);
  int n = 0;
  while (head != rd) {
    shq_rec *r = rec_at(q, head);
    if (rec_state(q, r) == REC_READING) break;
    head += len_of(q, r->size);
    n += n < INT_MAX;
  }
  if (n) {
    hone__tsan_release(q->h); /* the copies out, for the producer that reuses the space */
    STORE(h->head, head, release);
  }
  return n;
}

static void reap_waiters(hone__shq *q, bool idle_too);

/* Drops what dead processes left: a WRITING record at rd whose writer is dead, READING records
 * whose reader is dead (when `check_pids`), and moves head. True if anything changed. */
static bool reap(hone__shq *q, bool check_pids) {
  shq_hdr *h = q->h;
  bool changed = false;
  uint64_t rd = LOAD(h->rd, relaxed);
  if (check_pids) {
    for (;;) {
      shq_rec *r = rec_at(q, rd);
      if (rec_state(q, r) != REC_WRITING || !pid_dead(q, r->pid, true)) break;
      rd += len_of(q, r->size);
      STORE(h->rd, rd, release);
      changed = true;
    }
    reap_waiters(q, true);
    for (uint64_t pos = LOAD(h->head, relaxed); pos != rd;) {
      shq_rec *r = rec_at(q, pos);
      if (rec_state(q, r) == REC_READING && pid_dead(q, r->pid, true)) {
        set_rec_state(q, r, REC_DONE);
        changed = true;
      }
      pos += len_of(q, r->size);
    }
  }
  return advance_head(q) > 0 || changed;
}

/* Takes back the registrations of waiters whose process is dead, and frees dead processes'
 * slots. `idle_too`: also check processes with no waiter registered (to free their slots).
 * Under wmu (one cleaner at a time: a slot freed twice could lose a new owner's count). */
static void reap_waiters(hone__shq *q, bool idle_too) {
  shq_hdr *h = q->h;
  int rc = pthread_mutex_lock(&h->wmu);
  if (rc == EOWNERDEAD)
    pthread_mutex_consistent(&h->wmu); /* the slots are consistent always */
  else if (rc)
    return;
  _Atomic uint32_t *total[2] = {&h->get_waiters, &h->put_waiters};
  for (int i = 0; i < WAIT_SLOTS; i++) {
    shq_wslot *w = &h->wslot[i];
    int32_t pid = LOAD(w->pid, relaxed);
    if (pid == 0) continue;
    if (!idle_too && LOAD(w->n[0], relaxed) == 0 && LOAD(w->n[1], relaxed) == 0) continue;
    if (!pid_dead(q, pid, idle_too)) continue;
    for (int side = 0; side < 2; side++) {
      uint32_t k = atomic_exchange_explicit(&w->n[side], 0, memory_order_relaxed);
      if (k) atomic_fetch_sub_explicit(total[side], k, memory_order_seq_cst);
    }
    STORE(w->pid, 0, release);
  }
  pthread_mutex_unlock(&h->wmu);
}

static void wake_all(hone__shq *q) {
  shq_hdr *h = q->h;
  atomic_fetch_add_explicit(&h->get_seq, 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&h->put_seq, 1, memory_order_seq_cst);
  hone__futex_wake_shared(&h->get_seq, INT_MAX);
  hone__futex_wake_shared(&h->put_seq, INT_MAX);
}

/* After a consumer died holding its side: a large message it was claiming (READING at rd, rd not
 * moved) was never copied out, so it is put back. */
static void repair_consumers(hone__shq *q) {
  shq_rec *r = rec_at(q, LOAD(q->h->rd, relaxed));
  if (rec_state(q, r) == REC_READING) set_rec_state(q, r, REC_READY);
  reap(q, false);
  reap_waiters(q, false);
  wake_all(q); /* the dead process may have changed the state without notifying */
}

/* After a producer died holding its side: records it committed past tail (state set, tail not yet
 * moved) are moved over, so that no later record overwrites them. A consumer may already have
 * taken such a record, and head moved past it: tail is then behind head, and the distance
 * between them is signed (unsigned, it read as a full ring, and the walk stopped at once, which
 * left the ring full for ever to producers and empty to consumers). The records from tail to rd
 * stay intact (no producer writes while this one holds the side), so the walk passes them. */
static void repair_producers(hone__shq *q) {
  shq_hdr *h = q->h;
  uint64_t tail = LOAD(h->tail, relaxed), head = LOAD(h->head, acquire);
  for (;;) {
    shq_rec *r = rec_at(q, tail);
    if (rec_state(q, r) == REC_FREE || (int64_t)(tail - head) >= (int64_t)q->ring_size) break;
    tail += len_of(q, r->size);
  }
  STORE(h->tail, tail, release);
  STORE(h->p.seen, head, relaxed);
  wake_all(q);
}

/* ---- asymmetric fences (membarrier) ---- */

/* A fast path that must not miss a slow path's store (a biased thread's `busy` against its
 * revoker's `revoked`; a notifier's commit against a waiter's registration) needs a store-load
 * fence on each side. A locked instruction on the fast path costs the whole store buffer's drain
 * per message: with both sides' locks and notifies, that was 80 % of a producer's time streaming
 * 64-byte messages here (perf: the robust unlock's xchg). So the fast side uses a compiler fence
 * only, and the slow side (rare: a revocation, a waiter about to sleep) calls membarrier(2)
 * GLOBAL_EXPEDITED, which runs a full fence on every CPU running a registered process. A process
 * registers on first use; a process that cannot (an old kernel, a seccomp filter) keeps the locked
 * instructions and never takes a bias. */
static _Atomic int asym_state;       /* this process: 0 not asked yet, 1 registered, -1 cannot */
static _Thread_local int32_t tl_tid; /* this thread's tid, 0 until asked */
static _Atomic int32_t proc_pid;     /* this process's pid, 0 until asked */

static void forget_after_fork(void) {
  tl_tid = 0;                   /* the child's thread is another thread */
  atomic_store(&proc_pid, 0);   /* and another process */
  atomic_store(&asym_state, 0); /* registration is the parent's */
}

static void install_atfork(void) {
  pthread_atfork(NULL, NULL, forget_after_fork);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static int32_t my_tid(void) {
  if (!tl_tid) {
    pthread_once(&atfork_once, install_atfork);
    tl_tid = (int32_t)syscall(SYS_gettid);
  }
  return tl_tid;
}

/* getpid(2) is a system call (glibc no longer caches it): about 1 us on a paravirtualized guest,
 * once per large message and per sleep. The cache is reset in a child of fork(2). */
static int32_t my_pid(void) {
  int32_t pid = atomic_load_explicit(&proc_pid, memory_order_relaxed);
  if (!pid) {
    pthread_once(&atfork_once, install_atfork);
    pid = (int32_t)getpid();
    atomic_store_explicit(&proc_pid, pid, memory_order_relaxed);
  }
  return pid;
}

static bool asym_registered(void) {
  int st = atomic_load_explicit(&asym_state, memory_order_relaxed);
  if (st == 0) {
    /* A child of fork(2) asks again: its state is reset only by the handler installed here. */
    pthread_once(&atfork_once, install_atfork);
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    long need = MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;
    st = cmds > 0 && (cmds & need) == need &&
                 syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0
             ? 1
             : -1;
    atomic_store_explicit(&asym_state, st, memory_order_relaxed);
  }
  return st == 1;
}

/* The slow side's half: after it, every registered process's earlier stores are visible and its
 * later loads see this thread's earlier stores. A process that may not call membarrier (a seccomp
 * filter on this one only) falls back on the non-expedited command, then on a fence and a 10 ms
 * sleep: a running CPU drains its store buffer in far less. */
static void asym_barrier(void) {
  atomic_thread_fence(memory_order_seq_cst);
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0) return;
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0) return;
  struct timespec ts = {0, 10000000};
  nanosleep(&ts, NULL);
  atomic_thread_fence(memory_order_seq_cst);
}

/* ---- holding a side: its lock, or its bias ---- */

/* A side's holder. A thread that made BIAS_STREAK calls in a row under a side's lock is granted
 * the side's bias: its later calls hold the side by storing `busy` in its grant and finding the
 * grant not revoked, with no locked instruction. Any thread taking the side's lock (another
 * producer, close, size, a check for the dead) revokes the bias first: it marks the grant revoked,
 * fences (asym_barrier), and waits for busy to be 0, so the biased thread is either seen inside a
 * call and waited for, or sees the revocation at its next call and takes the lock. A biased
 * thread killed inside a call leaves busy set: its revoker finds the thread dead and repairs the
 * side as after a lock holder's death. Grants are never reused (BIAS_GRANTS per side in the
 * queue's life); a thread that revokes also resets the streak, so two threads taking turns never
 * earn it. */
typedef struct held {
  shq_grant *g; /* the grant held, or NULL: the lock is held */
} held;

static shq_side *side_of(hone__shq *q, bool put) {
  return put ? &q->h->p : &q->h->c;
}

static shq_bias *bias_of(hone__shq *q, bool put) {
  return put ? &q->h->pb : &q->h->cb;
}

static void repair_side(hone__shq *q, bool put) {
  if (put)
    repair_producers(q);
  else
    repair_consumers(q);
}

/* Under the side's lock: takes the bias back from whoever has it. */
static void revoke_bias(hone__shq *q, bool put) {
  shq_side *sd = side_of(q, put);
  shq_bias *b = bias_of(q, put);
  uint64_t bias = LOAD(sd->bias, relaxed);
  if (!bias) return;
  b->streak = 0;
  uint32_t k = (uint32_t)bias - 1;
  if (k >= BIAS_GRANTS) { /* not one this code writes */
    STORE(sd->bias, 0, relaxed);
    return;
  }
  shq_grant *g = &b->grant[k];
  int32_t tid = (int32_t)(bias >> 32);
  STORE(g->revoked, 1, relaxed);
  asym_barrier();
  for (unsigned i = 0; LOAD(g->busy, acquire); i++) {
    if (i >= 64 && (i & 63) == 0 && pid_dead(q, tid, true)) { /* killed inside a call */
      hone__tsan_acquire(q->h);
      repair_side(q, put);
      break;
    }
    if (i < 64)
      hone__cpu_relax();
    else
      sched_yield();
  }
  hone__tsan_acquire(q->h);
  STORE(sd->bias, 0, relaxed);
}

static int lock_side(hone__shq *q, bool put) {
  pthread_mutex_t *mu = &side_of(q, put)->mu;
  int rc = EBUSY;
  for (int i = 0; i < LOCK_SPINS && rc == EBUSY; i++) {
    rc = pthread_mutex_trylock(mu);
    if (rc == EBUSY)
      for (int k = 0; k < 4 + i; k++) hone__cpu_relax();
  }
  if (rc == EBUSY) rc = pthread_mutex_lock(mu);
  if (rc == 0 || rc == EOWNERDEAD) hone__tsan_acquire(q->h); /* the last holder may be elsewhere */
  if (rc == EOWNERDEAD) pthread_mutex_consistent(mu);
  if (rc != 0 && rc != EOWNERDEAD) return HONE_ESYS;
  TEST_POINT(HONE__SHQ_AT_LOCKED);
  /* The bias first, then the repair: a holder killed before it revoked (or while it waited for
   * the biased thread to leave) left that thread free to enter, and a repair run while it is
   * inside a call would be a second holder (two walks moving tail, or head, at once). */
  revoke_bias(q, put);
  if (rc == EOWNERDEAD) {
    TEST_POINT(HONE__SHQ_AT_REPAIR);
    repair_side(q, put);
  }
  return 0;
}

static void unlock_side(hone__shq *q, bool put) {
  hone__tsan_release(q->h);
  pthread_mutex_unlock(&side_of(q, put)->mu);
}

/* Holds a side for one call: by its bias when this thread has it, else by its lock (and grants
 * the bias after a streak). */
static int enter_side(hone__shq *q, bool put, held *hd) {
  shq_side *sd = side_of(q, put);
  shq_bias *b = bias_of(q, put);
  int32_t me = my_tid();
  uint64_t bias = LOAD(sd->bias, relaxed);
  if (bias && (int32_t)(bias >> 32) == me && (uint32_t)bias - 1 < BIAS_GRANTS) {
    shq_grant *g = &b->grant[(uint32_t)bias - 1];
    STORE(g->busy, 1, relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* a full fence with the revoker's asym_barrier */
    if (LOAD(g->revoked, acquire) == 0) {
      hone__tsan_acquire(q->h);
      hd->g = g;
      return 0;
    }
    STORE(g->busy, 0, release);
  }
  int rc = lock_side(q, put);
  if (rc) return rc;
  hd->g = NULL;
  if (b->streak_tid != me) {
    b->streak_tid = me;
    b->streak = 0;
  }
  if (++b->streak >= BIAS_STREAK && b->grants < BIAS_GRANTS && asym_registered()) {
    uint32_t k = b->grants++;
    STORE(sd->bias, (uint64_t)(uint32_t)me << 32 | (k + 1), relaxed); /* published by the unlock */
    b->streak = 0;
  }
  return 0;
}

static void leave_side(hone__shq *q, bool put, held *hd) {
  if (hd->g) {
    hone__tsan_release(q->h);
    STORE(hd->g->busy, 0, release);
  } else {
    unlock_side(q, put);
  }
}

void hone__shq_test_lock(hone__shq *q) {
  (void)lock_side(q, true);
  (void)lock_side(q, false);
}

uint32_t hone__shq_test_waiters(hone__shq *q, int put) {
  return atomic_load(put ? &q->h->put_waiters : &q->h->get_waiters);
}

int32_t hone__shq_test_bias(hone__shq *q, int put) {
  uint64_t bias = atomic_load(&side_of(q, put)->bias);
  return bias ? (int32_t)(bias >> 32) : 0;
}

int hone__shq_test_can_bias(void) {
  return asym_registered();
}

/* ---- waiting ---- */

/* The state change came before, by release stores. In a process registered for membarrier,
 * `waiters` is read with a plain load: the waiter's asym_barrier, between its registration and
 * its re-check, makes the pair fenced on both sides, so either the re-check sees the change or
 * this load sees the registration. Otherwise it is read with a seq_cst RMW (not a load), which
 * orders the two without a fence (which ThreadSanitizer does not model): either this RMW comes
 * first in waiters' modification order, and the waiter's increment then synchronizes with it and
 * its re-check sees the change, or it reads the increment and wakes. */
static void notify(hone__shq *q, _Atomic uint32_t *seq, _Atomic uint32_t *waiters, int n) {
  if (asym_registered()) {
    /* A plain load, after a compiler fence: a waiter fences for both (see wait_for). */
    if (!atomic_load_explicit(&q->asym_marked, memory_order_relaxed)) {
      atomic_store(&q->h->asym, 1); /* seq_cst: before any plain load below (see wait_for) */
      atomic_store_explicit(&q->asym_marked, true, memory_order_relaxed);
    }
    atomic_signal_fence(memory_order_seq_cst);
    if (atomic_load_explicit(waiters, memory_order_relaxed) == 0) return;
  } else if (atomic_fetch_add_explicit(waiters, 0, memory_order_seq_cst) == 0) {
    return;
  }
  atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst);
  hone__futex_wake_shared(seq, n);
  /* A waiter killed asleep stays counted; now and then, check that the counted ones live. */
  if (atomic_fetch_add_explicit(&q->h->wakes, 1, memory_order_relaxed) % CHECK_EVERY ==
      CHECK_EVERY - 1)
    reap_waiters(q, false);
}

/* After a commit: one getter per message. A large message's commit wakes every getter, not just
 * one: a getter woken for a message queued behind the large one while it was being copied in
 * found it unfinished and slept again, so now every message behind it may need a getter. */
static void notify_getters(hone__shq *q, bool all) {
  notify(q, &q->h->get_seq, &q->h->get_waiters, all ? INT_MAX : 1);
}

/* After head passed `slots` records: each freed slot of a fixed-size queue fits exactly one
 * waiting producer; freed bytes may fit any number of messages. */
static void notify_putters(hone__shq *q, int slots) {
  if (slots) notify(q, &q->h->put_seq, &q->h->put_waiters, q->item_size ? slots : INT_MAX);
}

/* A blocking call's state across its waits. A getter that found the record at rd still being
 * copied in (WRITING) keeps rd0 = that rd and c0 = `commits` read before it saw WRITING. */
typedef struct waitstate {
  int64_t deadline, next_reap, poll;
  uint64_t rd0;
  uint32_t c0;
  bool started, spin, on_writing;
} waitstate;

/* Lock-free hints: true when a retry under the lock may succeed. Loads are ordered so that a
 * stale pair errs towards "no" only when a later change will notify. rd may be past tail for a
 * moment (a consumer can take a record the instant its state is stored, before its producer
 * moves tail), hence the signed difference. A getter never reads a record here: at a stale rd it
 * may have been freed and reused, and its bytes be rewritten by a plain copy. Waiting on a WRITING
 * record it watches `commits` instead: the writer bumps it (seq_cst) after its READY store and
 * before its notify, so either this load sees the bump, or this waiter's registration precedes
 * the bump and the notify wakes it; and c0, read before the WRITING state was seen, cannot
 * already include that bump (the state would then be READY). */
static bool may_get(const hone__shq *q, const waitstate *w) {
  shq_hdr *h = q->h;
  uint64_t rd = atomic_load(&h->rd), tail = atomic_load(&h->tail);
  if ((int64_t)(tail - rd) <= 0) return atomic_load(&h->closed) != 0;
  if (w->on_writing && rd == w->rd0) return atomic_load(&h->commits) != w->c0;
  return true;
}

static bool may_put(const hone__shq *q, size_t len) {
  shq_hdr *h = q->h;
  if (atomic_load(&h->closed)) return true;
  uint64_t tail = atomic_load(&h->tail), head = atomic_load(&h->head);
  return fits(q, tail, head, len);
}

static bool may(const hone__shq *q, bool put, size_t len, const waitstate *w) {
  return put ? may_put(q, len) : may_get(q, w);
}

/* This process's waiter slot, claimed on first use; NULL when all are taken (its waiters are then
 * counted in the totals only). */
static shq_wslot *my_slot(hone__shq *q) {
  shq_wslot *w = q->h->wslot;
  int32_t pid = my_pid();
  for (int i = 0; i < WAIT_SLOTS; i++)
    if (LOAD(w[i].pid, relaxed) == pid) return &w[i];
  for (int i = 0; i < WAIT_SLOTS; i++) {
    int32_t free_pid = 0;
    if (LOAD(w[i].pid, relaxed) == 0 &&
        atomic_compare_exchange_strong_explicit(&w[i].pid, &free_pid, pid, memory_order_acq_rel,
                                                memory_order_relaxed))
      return &w[i];
  }
  return NULL;
}

/* Waits, with no lock held, until a retry may succeed, `until` passes, or a spurious wake-up.
 * Spins first when *spin is set (once per call). */
static void wait_for(hone__shq *q, bool put, size_t len, int64_t until, waitstate *ws) {
  shq_hdr *h = q->h;
  if (ws->spin) {
    ws->spin = false;
    int64_t end = hone__now_ns() + SPIN_NS;
    if (end > until) end = until; /* a timeout shorter than the spin is kept */
    for (unsigned i = 1;; i++) {
      if (may(q, put, len, ws)) return;
      if (i < 64) {
        /* The clock every 16 steps: under ThreadSanitizer a step (may) costs ~250 ns, and 64 of
         * them before the first look kept a 1 us timeout 17-20 us (test_queue_shm). */
        if ((i & 15) == 0 && hone__now_ns() >= end) break;
        hone__cpu_relax();
      } else {
        if (hone__now_ns() >= end) break; /* before yielding: a short timeout is kept */
        sched_yield();                    /* the process we wait for may be waiting for this CPU */
      }
    }
    /* The spin ran to `until`: return before registering, which costs system calls (the fence
     * below), so that a timeout shorter than the spin stays short. */
    if (end == until) return;
  }
  _Atomic uint32_t *seq = put ? &h->put_seq : &h->get_seq;
  _Atomic uint32_t *waiters = put ? &h->put_waiters : &h->get_waiters;
  /* The total goes up before this process's slot and down after it, so that a death between
   * the two leaves the total too high (a spare wake-up), never too low (a lost one). */
  shq_wslot *w = my_slot(q);
  atomic_fetch_add_explicit(waiters, 1, memory_order_seq_cst);
  if (w) atomic_fetch_add_explicit(&w->n[put], 1, memory_order_relaxed);
  /* A notifier that reads waiters with a plain load first set asym (seq_cst, then a fence): if
   * this load misses that store, the store (and that notifier's loads) come after this
   * registration in the single total order, and see it. */
  if (atomic_load(&h->asym)) asym_barrier();
  uint32_t key = atomic_load_explicit(seq, memory_order_seq_cst);
  if (!may(q, put, len, ws)) hone__futex_wait_shared(seq, key, until);
  if (w) atomic_fetch_sub_explicit(&w->n[put], 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(waiters, 1, memory_order_seq_cst);
}

/* Starts a blocking call's clock on its first wait; true when a check for dead processes is due
 * (and schedules the next one). */
static bool wait_clock(waitstate *w, int64_t timeout_ns, int64_t now) {
  if (!w->started) {
    w->started = w->spin = true;
    w->deadline = hone__deadline(timeout_ns);
    w->poll = hone__shq_test_poll_ns > 0 ? hone__shq_test_poll_ns : POLL_MIN_NS;
    w->next_reap = w->poll > INT64_MAX - now ? INT64_MAX : now + w->poll;
    return false;
  }
  if (now < w->next_reap) return false;
  int64_t max = hone__shq_test_poll_ns > 0 ? hone__shq_test_poll_ns : POLL_MAX_NS;
  w->poll = w->poll > max / 2 ? max : w->poll * 2;
  w->next_reap = w->poll > INT64_MAX - now ? INT64_MAX : now + w->poll;
  return true;
}

/* The part of a blocking call's loop that runs when the call cannot proceed, with its side held
 * (`hd`) or not held (NULL: after a lock-free check found the ring surely full or empty): returns
 * an error to give up with, 1 to retry at once, or 0 after sleeping; the side is not held on
 * return. A check for dead processes, when due, runs holding the consumers' side: a consumer holds
 * it already, a producer takes its lock after leaving its own side (lock order). */
static int block(hone__shq *q, bool put, held *hd, size_t len, int64_t timeout_ns, waitstate *w) {
  if (timeout_ns == 0) {
    if (hd) leave_side(q, put, hd);
    return put ? HONE_EFULL : HONE_EAGAIN;
  }
  int64_t now = hone__now_ns();
  if (wait_clock(w, timeout_ns, now)) {
    held mine = {NULL};
    if (hd && put) leave_side(q, put, hd);
    if (hd && !put)
      mine = *hd;
    else if (lock_side(q, false) != 0)
      return HONE_ESYS;
    bool changed = reap(q, true);
    leave_side(q, false, &mine);
    if (changed) wake_all(q);
    return 1;
  }
  if (hd) leave_side(q, put, hd);
  if (now >= w->deadline) return HONE_ETIMEDOUT;
  if (!hd) w->on_writing = false;
  wait_for(q, put, len, w->next_reap < w->deadline ? w->next_reap : w->deadline, w);
  return 0;
}

/* Without a lock, from this side's cached copy of the other side's index first: true when the
 * queue is surely full for a record of len bytes (head only grows, so a stale head errs towards
 * full, and the real one is read before saying so) or surely empty (likewise with tail), and not
 * closed (closed is decided under the producers' lock: a send may commit between these loads and
 * the close). Such a call waits without taking its lock at all, so that a consumer ahead of its
 * producer (or a producer ahead of its consumer) only reads the other side's line while it waits.
 */
static bool surely_full(const hone__shq *q, size_t len) {
  shq_hdr *h = q->h;
  uint64_t tail = LOAD(h->tail, relaxed);
  if (fits(q, tail, LOAD(h->p.seen, relaxed), len)) return false;
  uint64_t head = atomic_load(&h->head);
  STORE(h->p.seen, head, relaxed); /* a hint: an older value only costs another load */
  return !fits(q, tail, head, len) && !atomic_load(&h->closed);
}

static bool surely_empty(const hone__shq *q) {
  shq_hdr *h = q->h;
  uint64_t rd = atomic_load(&h->rd);
  if ((int64_t)(LOAD(h->c.seen, relaxed) - rd) > 0) return false;
  uint64_t tail = atomic_load(&h->tail);
  STORE(h->c.seen, tail, relaxed);
  return (int64_t)(tail - rd) <= 0 && !atomic_load(&h->closed);
}

/* ---- the calls ---- */

int hone__shq_send(hone__shq *q, const void *msg, size_t size, int64_t timeout_ns) {
  if (q->item_size ? size != q->item_size : size > q->max_message)
    return q->item_size ? HONE_EINVAL : HONE_EMSGSIZE;
  if (!msg && size) return HONE_EINVAL;
  shq_hdr *h = q->h;
  size_t len = len_of(q, size);
  waitstate w = {0};
  for (;;) {
    int rc;
    if (surely_full(q, len) && (rc = block(q, true, NULL, len, timeout_ns, &w)) <= 0) {
      if (rc < 0) return rc;
      continue;
    }
    held hd;
    rc = enter_side(q, true, &hd);
    if (rc) return rc;
    if (LOAD(h->closed, relaxed)) {
      leave_side(q, true, &hd);
      return HONE_ECLOSED;
    }
    uint64_t tail = LOAD(h->tail, relaxed), head = LOAD(h->p.seen, relaxed);
    if (!fits(q, tail, head, len)) {
      head = LOAD(h->head, acquire);
      hone__tsan_acquire(q->h);
      STORE(h->p.seen, head, relaxed);
    }
    if (!fits(q, tail, head, len)) {
      rc = block(q, true, &hd, len, timeout_ns, &w);
      if (rc < 0) return rc;
      continue;
    }
    shq_rec *r = rec_at(q, tail);
    r->size = size;
    set_rec_state(q, rec_at(q, tail + len), REC_FREE); /* the next record's word: see top */
    if (size <= HONE__SHQ_COPY_UNLOCKED) {
      if (size) memcpy(r + 1, msg, size);
      TEST_POINT(HONE__SHQ_AT_SEND_COMMIT);
      set_rec_state(q, r, REC_READY);
      TEST_POINT(HONE__SHQ_AT_SEND_TAIL);
      STORE(h->tail, tail + len, release);
      leave_side(q, true, &hd);
      notify_getters(q, false);
      return 0;
    }
    r->pid = my_pid();
    set_rec_state(q, r, REC_WRITING);
    TEST_POINT(HONE__SHQ_AT_SEND_TAIL);
    STORE(h->tail, tail + len, release);
    leave_side(q, true, &hd);
    TEST_POINT(HONE__SHQ_AT_SEND_COPY);
    memcpy(r + 1, msg, size);
    set_rec_state(q, r, REC_READY);
    atomic_fetch_add_explicit(&h->commits, 1, memory_order_seq_cst); /* see may_get */
    notify_getters(q, true);
    return 0;
  }
}

int hone__shq_recv(hone__shq *q, void *buf, size_t buf_size, size_t *size, int64_t timeout_ns) {
  shq_hdr *h = q->h;
  waitstate w = {0};
  for (;;) {
    int rc;
    if (surely_empty(q) && (rc = block(q, false, NULL, 0, timeout_ns, &w)) <= 0) {
      if (rc < 0) return rc;
      continue;
    }
    held hd;
    rc = enter_side(q, false, &hd);
    if (rc) return rc;
    uint64_t rd = LOAD(h->rd, relaxed);
    shq_rec *r = rec_at(q, rd);
    uint32_t st = rec_state(q, r);
    w.on_writing = false;
    if (st == REC_READY) {
      size_t sz = (size_t)r->size, len = len_of(q, sz);
      *size = sz;
      if (sz > buf_size || (!buf && sz)) {
        leave_side(q, false, &hd);
        notify_getters(q, false); /* the wake-up this getter may have had goes to another */
        return sz > buf_size ? HONE_EMSGSIZE : HONE_EINVAL;
      }
      if (sz <= HONE__SHQ_COPY_UNLOCKED) {
        if (sz) memcpy(buf, r + 1, sz);
        TEST_POINT(HONE__SHQ_AT_RECV_COPIED);
        STORE(h->rd, rd + len, release);
        TEST_POINT(HONE__SHQ_AT_RECV_RD);
        int freed = advance_head(q);
        leave_side(q, false, &hd);
        notify_putters(q, freed);
        return 0;
      }
      r->pid = my_pid();
      set_rec_state(q, r, REC_READING);
      TEST_POINT(HONE__SHQ_AT_CLAIM);
      STORE(h->rd, rd + len, release);
      leave_side(q, false, &hd);
      TEST_POINT(HONE__SHQ_AT_RECV_COPY);
      memcpy(buf, r + 1, sz);
      set_rec_state(q, r, REC_DONE);
      /* The message is ours even if the lock fails: head then moves at someone's next reap. */
      if (enter_side(q, false, &hd) == 0) {
        int freed = advance_head(q);
        leave_side(q, false, &hd);
        notify_putters(q, freed);
      }
      return 0;
    }
    if (st == REC_WRITING) {
      /* Being copied in: wait for its commit (c0 read before the state is seen WRITING again). */
      w.c0 = atomic_load_explicit(&h->commits, memory_order_seq_cst);
      if (rec_state(q, r) != REC_WRITING) {
        leave_side(q, false, &hd);
        continue;
      }
      w.on_writing = true;
      w.rd0 = rd;
    } else if (st != REC_FREE) { /* taken, left at rd by a process that died: skip it */
      STORE(h->rd, rd + len_of(q, r->size), release);
      int freed = advance_head(q);
      leave_side(q, false, &hd);
      notify_putters(q, freed);
      continue;
    } else if (atomic_load(&h->closed) && rec_state(q, r) == REC_FREE) {
      /* Closed under the producers' lock after every send that committed: seeing closed, the state
       * re-read shows any of them. */
      leave_side(q, false, &hd);
      return HONE_ECLOSED;
    }
    rc = block(q, false, &hd, 0, timeout_ns, &w);
    if (rc < 0) return rc;
  }
}

void hone__shq_close(hone__shq *q) {
  int rc = lock_side(q, true);
  STORE(q->h->closed, 1, seq_cst);
  if (rc == 0) unlock_side(q, true);
  wake_all(q);
}

/* Under both locks, so that what a process killed holding either left half-done is repaired
 * first; counts the records from rd on, without the messages that dead processes were still
 * copying in: they never arrive (a consumer drops each when it reaches it). */
size_t hone__shq_size(hone__shq *q) {
  shq_hdr *h = q->h;
  bool p = lock_side(q, true) == 0, c = lock_side(q, false) == 0;
  uint64_t rd = LOAD(h->rd, relaxed), tail = LOAD(h->tail, relaxed);
  size_t n = 0;
  for (uint64_t pos = rd; (int64_t)(tail - pos) > 0;) {
    shq_rec *r = rec_at(q, pos);
    uint32_t st = rec_state(q, r);
    if (st == REC_FREE) break;
    if (st == REC_READY || (st == REC_WRITING && !pid_dead(q, r->pid, true))) n++;
    pos += len_of(q, r->size);
  }
  if (c) unlock_side(q, false);
  if (p) unlock_side(q, true);
  return n;
}

size_t hone__shq_capacity(const hone__shq *q) {
  return q->item_size ? q->capacity : q->ring_size;
}

size_t hone__shq_item_size(const hone__shq *q) {
  return q->item_size;
}

size_t hone__shq_max_message(const hone__shq *q) {
  return q->max_message;
}

int hone__shq_fd(const hone__shq *q) {
  return q->fd;
}

/* ---- creation, mapping ---- */

static int sys_err(void) {
  return errno == ENOMEM ? HONE_ENOMEM : HONE_ESYS;
}

/* Maps fd (hdr + ring bytes) into q: once, plus the ring a second time right after it for a
 * message queue. */
static int map_queue(hone__shq *q, int fd, size_t hdr, size_t ring, bool mirror) {
  size_t file_len = hdr + ring, total = mirror ? file_len + ring : file_len;
  void *base;
  if (!mirror) {
    base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return sys_err();
  } else {
    base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return sys_err();
    unsigned char *b = base;
    if (mmap(b, file_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
        mmap(b + file_len, ring, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)hdr) ==
            MAP_FAILED) {
      int e = sys_err();
      munmap(base, total);
      return e;
    }
  }
  q->base = base;
  q->map_len = total;
  struct stat st;
  if (fstat(fd, &st) == 0) {
    q->ino = (uint64_t)st.st_ino;
    q->dev_major = major(st.st_dev);
    q->dev_minor = minor(st.st_dev);
  }
  q->h = base;
  q->ring = (unsigned char *)base + hdr;
  return 0;
}

int hone__shq_new(hone__shq **out, size_t capacity, size_t item_size) {
  *out = NULL;
  size_t page = page_size(), hdr = hdr_size(), ring, slot = 0, max;
  if (capacity == 0 || item_size > SIZE_MAX / 4) return HONE_EINVAL;
  if (item_size) {
    slot = rec_len(item_size);
    if (capacity >= (SIZE_MAX / 4) / slot) return HONE_EINVAL;
    ring = (capacity + 1) * slot; /* one slot always free: see `reserve` at the top */
    max = item_size;
  } else {
    if (capacity > SIZE_MAX / 4) return HONE_EINVAL;
    ring = (capacity + page - 1) / page * page;
    if (ring < 4096) ring = 4096;
    max = ring - MSG_RESERVE - sizeof(shq_rec);
  }
  if ((uint64_t)hdr + ring > (uint64_t)INT64_MAX / 2) return HONE_EINVAL;
  hone__shq *q = calloc(1, sizeof *q);
  if (!q) return HONE_ENOMEM;
  int rc;
  q->fd = memfd_create("hone-queue", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (q->fd < 0) {
    rc = sys_err();
    free(q);
    return rc;
  }
  if (ftruncate(q->fd, (off_t)(hdr + ring)) != 0) {
    rc = errno == EFBIG || errno == EINVAL ? HONE_EINVAL : sys_err();
    goto fail;
  }
  /* Nobody can shrink the memory under another process's mapping (that would be SIGBUS); open_fd
   * accepts only memory sealed so. */
  if (fcntl(q->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    rc = HONE_ESYS;
    goto fail;
  }
  if ((rc = map_queue(q, q->fd, hdr, ring, item_size == 0))) goto fail;
  q->ring_size = ring;
  q->item_size = item_size;
  q->slot_size = slot;
  q->capacity = item_size ? capacity : ring;
  q->max_message = max;
  q->reserve = item_size ? slot : MSG_RESERVE;

  shq_hdr *h = q->h;
  h->version = SHQ_VERSION;
  h->hdr_size = (uint32_t)hdr;
  h->ring_size = ring;
  h->item_size = item_size;
  h->slot_size = slot;
  h->capacity = q->capacity;
  h->max_message = max;
  h->mutex_size = (uint32_t)sizeof(pthread_mutex_t);
  h->rec_size = (uint32_t)sizeof(shq_rec);
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  rc = pthread_mutex_init(&h->p.mu, &ma);
  if (rc == 0 && (rc = pthread_mutex_init(&h->c.mu, &ma)) != 0) pthread_mutex_destroy(&h->p.mu);
  if (rc == 0 && (rc = pthread_mutex_init(&h->wmu, &ma)) != 0) {
    pthread_mutex_destroy(&h->p.mu);
    pthread_mutex_destroy(&h->c.mu);
  }
  pthread_mutexattr_destroy(&ma);
  if (rc) {
    rc = HONE_ESYS;
    goto fail;
  }
  h->magic = SHQ_MAGIC;
  *out = q;
  return 0;
fail:
  if (q->base) munmap(q->base, q->map_len);
  close(q->fd);
  free(q);
  return rc;
}

/* Checks that a header describes a queue this build can use, and that the file holds it. */
static int validate(const shq_hdr *h, uint64_t file_size, size_t hdr) {
  if (h->magic != SHQ_MAGIC) return HONE_EFORMAT;
  if (h->version != SHQ_VERSION) return HONE_EVERSION;
  if (h->hdr_size != hdr || h->mutex_size != sizeof(pthread_mutex_t) ||
      h->rec_size != sizeof(shq_rec) || h->ring_size == 0 || h->ring_size > SIZE_MAX / 4 ||
      file_size != (uint64_t)hdr + h->ring_size)
    return HONE_EFORMAT;
  if (h->item_size) {
    if (h->item_size > SIZE_MAX / 4 || h->slot_size != rec_len(h->item_size) || h->capacity == 0 ||
        h->capacity >= h->ring_size / h->slot_size ||
        (h->capacity + 1) * h->slot_size != h->ring_size || h->max_message != h->item_size)
      return HONE_EFORMAT;
  } else if (h->slot_size != 0 || h->ring_size % page_size() != 0 || h->capacity != h->ring_size ||
             h->max_message != h->ring_size - MSG_RESERVE - sizeof(shq_rec)) {
    return HONE_EFORMAT;
  }
  return 0;
}

int hone__shq_open_fd(hone__shq **out, int fd) {
  *out = NULL;
  struct stat st;
  if (fd < 0) return HONE_EINVAL;
  if (fstat(fd, &st) != 0) return HONE_ESYS;
  size_t hdr = hdr_size();
  if (!S_ISREG(st.st_mode) || st.st_size < (off_t)hdr) return HONE_EFORMAT;
  /* Only memory that cannot shrink under the mapping (a SIGBUS at the next access): a hone queue's
   * memfd is sealed against resizing; a regular file or an unsealed memfd is not one. */
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
    return HONE_EFORMAT;
  shq_hdr *peek = mmap(NULL, hdr, PROT_READ, MAP_SHARED, fd, 0);
  if (peek == MAP_FAILED) return HONE_ESYS;
  shq_hdr layout;
  memcpy(&layout, peek, offsetof(shq_hdr, p));
  munmap(peek, hdr);
  int rc = validate(&layout, (uint64_t)st.st_size, hdr);
  if (rc) return rc;
  hone__shq *q = calloc(1, sizeof *q);
  if (!q) return HONE_ENOMEM;
  q->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (q->fd < 0) {
    rc = sys_err();
    free(q);
    return rc;
  }
  if ((rc = map_queue(q, q->fd, hdr, (size_t)layout.ring_size, layout.item_size == 0))) {
    close(q->fd);
    free(q);
    return rc;
  }
  q->ring_size = (size_t)layout.ring_size;
  q->item_size = (size_t)layout.item_size;
  q->slot_size = (size_t)layout.slot_size;
  q->capacity = (size_t)layout.capacity;
  q->max_message = (size_t)layout.max_message;
  q->reserve = q->item_size ? q->slot_size : MSG_RESERVE;
  *out = q;
  return 0;
}

void hone__shq_free(hone__shq *q) {
  if (!q) return;
  munmap(q->base, q->map_len);
  close(q->fd);
  free(q);
}
