/* queue_shm.c: the shared-memory hone_queue, between processes (include/hone/queue.h; queue.c
 * holds the thread queue and dispatches here).
 *
 * Memory: one anonymous memfd (never a named file), sealed against resizing, mapped MAP_SHARED:
 *   [header: magic, version, layout, the robust lock, the ring's indexes, the futex words]
 *   [ring: ring_size bytes of records]
 * A record is a 16-byte header {state, pid, size} and the payload, padded to 8 bytes. A message
 * queue maps its ring twice, back to back, so that a record running past the ring's end goes on,
 * in the mapping, at its start: no record is ever split, and a copy is one memcpy. A fixed-size
 * queue has ring_size = capacity * slot, so its records never reach past the end.
 *
 * Indexes are byte positions that only grow (offset = position % ring_size):
 *   head <= rd <= tail; [head, rd) holds records taken by consumers (READING, or DONE behind an
 *   older READING one), [rd, tail) records not yet taken (WRITING or READY).
 *   Free space = ring_size - (tail - head).
 * Everything is changed under the lock except two stores made with the lock released: a
 * producer's WRITING -> READY after copying a large message in, and a consumer's READING -> DONE
 * after copying one out. Small messages are copied under the lock (the cheapest path at 64
 * bytes); large ones outside it, so that a producer and a consumer copy at the same time.
 *
 * A process may die at any instant without corrupting the state:
 *  - a record is written whole (header, and payload when copied under the lock) before tail moves
 *    past it, and its size never changes afterwards: every index always sits on a record boundary;
 *  - a consumer marks a record taken (READING or DONE) before moving rd, and rd before head;
 *  - the number of records in [rd, tail), sent - taken, is the one derived count, and is recounted
 *    after a death (sent := taken + the records counted).
 * Killed holding the lock: the next locker gets EOWNERDEAD and repairs (skips a record left taken
 * at rd, recounts sent, advances head) before marking the mutex consistent. Killed mid-copy: a
 * WRITING record (consumers take records in order, so they wait on it) or a READING one (its space
 * is held) stays behind; a waiter that has waited a while checks the owner's pid, and drops the
 * record when that process is gone (or a zombie).
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
 * its notify only comes late. */
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hone/queue.h"
#include "parallel/queue_shm.h"
#include "parallel/sync.h"
#include "parallel/tsan.h"

#define SHQ_MAGIC UINT64_C(0x31516575654e6f48) /* "HoNeueQ1" little-endian */
#define SHQ_VERSION 3u /* 3: the lock and the indexes on one line, nmsg split into sent/taken */

#define SPIN_NS 20000        /* spin this long before sleeping */
#define POLL_MIN_NS 2000000  /* first check for dead owners after this long asleep */
#define POLL_MAX_NS 50000000 /* and then at most this far apart */
#define LOCK_SPINS 64        /* trylock rounds before blocking in pthread_mutex_lock */

enum { REC_WRITING = 1, REC_READY = 2, REC_READING = 3, REC_DONE = 4 };

#define WAIT_SLOTS 64   /* processes whose sleeping waiters are accounted for individually */
#define CHECK_EVERY 256 /* wake-up calls between two checks for waiters that died asleep */

/* How many of one process's threads are registered as waiters, per side (0 get, 1 put): what
 * to take back from the totals when that process is found dead. */
typedef struct shq_wslot {
  _Atomic int32_t pid; /* 0: free; claimed by CAS, freed under the lock */
  _Atomic uint32_t n[2];
} shq_wslot;

typedef struct shq_rec {
  _Atomic uint32_t state;
  int32_t pid;   /* the process copying the payload in (WRITING) or out (READING) */
  uint64_t size; /* payload bytes; never changes once the record is committed */
} shq_rec;

/* The shared header. The layout fields are written once at creation. */
typedef struct shq_hdr {
  uint64_t magic;
  uint32_t version, hdr_size;
  uint64_t ring_size, item_size, slot_size, capacity, max_message;
  uint32_t mutex_size, rec_size;
  /* The lock and the indexes it guards share one cache line (glibc's mutex is 40 bytes on
   * x86-64, the three indexes 24): every send and recv takes the lock and then reads and writes
   * the indexes, so apart from the records themselves a message moves this one line to each side
   * instead of two (the lock's and the indexes'). Guarded by mu (stored under it; loaded without
   * it only as hints for spinning and waiting). */
  alignas(64) pthread_mutex_t mu;
  _Atomic uint64_t head, rd, tail;
  alignas(64) _Atomic uint32_t closed; /* written once: read-shared by every CPU */
  /* Futex words: bumped when a message may have become available (get) or space freed (put).
   * Each side's line also holds that side's count of records (guarded by mu: messages committed
   * to [.., tail) by producers, taken past rd by consumers; queued = sent - taken), so that a
   * producer writes only lines it already owns when no consumer waits, and likewise a consumer.
   * (They were one shared counter, nmsg, on the indexes' line: a third line per message.) */
  alignas(64) _Atomic uint32_t get_seq, get_waiters;
  _Atomic uint32_t commits; /* bumped by each large send when its record becomes READY */
  _Atomic uint64_t sent;
  alignas(64) _Atomic uint32_t put_seq, put_waiters;
  _Atomic uint64_t taken;
  /* Registered waiters per process, so that a dead one's count can be taken back: a total left
   * too high would cost every later send or recv a wake-up system call. */
  alignas(64) _Atomic uint32_t wakes; /* wake-up calls made, to pace the checks */
  shq_wslot wslot[WAIT_SLOTS];
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
  size_t ring_size, item_size, slot_size, capacity, max_message;
  int fd;
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

/* True when no live process has this pid: gone, or a zombie not yet reaped by its parent. A pid
 * is meaningful only within one pid namespace (all users of a queue must share one). */
static bool pid_dead(int32_t pid) {
  if (pid <= 0 || pid == (int32_t)getpid()) return false;
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
  return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* ---- state changes, all under the lock ---- */

/* Moves head over the records consumers have finished with; returns how many it passed. */
static int advance_head(hone__shq *q) {
  shq_hdr *h = q->h;
  uint64_t head = LOAD(h->head, relaxed), rd = LOAD(h->rd, relaxed);
  int n = 0;
  while (head != rd) {
    shq_rec *r = rec_at(q, head);
    if (rec_state(q, r) != REC_DONE) break;
    head += len_of(q, r->size);
    n += n < INT_MAX;
  }
  if (n) STORE(h->head, head, release);
  return n;
}

static void reap_waiters(hone__shq *q, bool idle_too);

/* Drops what dead processes left: records at rd taken by a process that died holding the lock,
 * a WRITING record at rd whose writer is dead, READING records whose reader is dead. When
 * `check_pids` is false only the first kind (no system calls). True if anything changed. */
static bool reap(hone__shq *q, bool check_pids) {
  shq_hdr *h = q->h;
  bool changed = false;
  uint64_t rd = LOAD(h->rd, relaxed), tail = LOAD(h->tail, relaxed);
  while (rd != tail) {
    shq_rec *r = rec_at(q, rd);
    uint32_t st = rec_state(q, r);
    if (st == REC_READING || st == REC_DONE ||
        (st == REC_WRITING && check_pids && pid_dead(r->pid))) {
      set_rec_state(q, r, REC_DONE);
      rd += len_of(q, r->size);
      STORE(h->rd, rd, release);
      uint64_t t = LOAD(h->taken, relaxed);
      if (LOAD(h->sent, relaxed) != t) STORE(h->taken, t + 1, relaxed);
      changed = true;
      continue;
    }
    break;
  }
  if (check_pids) {
    reap_waiters(q, true);
    for (uint64_t pos = LOAD(h->head, relaxed); pos != rd;) {
      shq_rec *r = rec_at(q, pos);
      if (rec_state(q, r) == REC_READING && pid_dead(r->pid)) {
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
 * Under the lock (one cleaner at a time). */
static void reap_waiters(hone__shq *q, bool idle_too) {
  shq_hdr *h = q->h;
  _Atomic uint32_t *total[2] = {&h->get_waiters, &h->put_waiters};
  for (int i = 0; i < WAIT_SLOTS; i++) {
    shq_wslot *w = &h->wslot[i];
    int32_t pid = LOAD(w->pid, relaxed);
    if (pid == 0) continue;
    if (!idle_too && LOAD(w->n[0], relaxed) == 0 && LOAD(w->n[1], relaxed) == 0) continue;
    if (!pid_dead(pid)) continue;
    for (int side = 0; side < 2; side++) {
      uint32_t k = atomic_exchange_explicit(&w->n[side], 0, memory_order_relaxed);
      if (k) atomic_fetch_sub_explicit(total[side], k, memory_order_seq_cst);
    }
    STORE(w->pid, 0, release);
  }
}

static void wake_all(hone__shq *q) {
  shq_hdr *h = q->h;
  atomic_fetch_add_explicit(&h->get_seq, 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&h->put_seq, 1, memory_order_seq_cst);
  hone__futex_wake_shared(&h->get_seq, INT_MAX);
  hone__futex_wake_shared(&h->put_seq, INT_MAX);
}

/* After a process died holding the lock: make the derived state whole again. */
static void repair(hone__shq *q) {
  shq_hdr *h = q->h;
  reap(q, false);
  uint64_t n = 0, tail = LOAD(h->tail, relaxed);
  for (uint64_t pos = LOAD(h->rd, relaxed); pos != tail; n++)
    pos += len_of(q, rec_at(q, pos)->size);
  STORE(h->sent, LOAD(h->taken, relaxed) + n, relaxed);
  reap_waiters(q, false);
  wake_all(q); /* the dead process may have changed the state without notifying */
}

static int shq_lock(hone__shq *q) {
  pthread_mutex_t *mu = &q->h->mu;
  int rc = EBUSY;
  for (int i = 0; i < LOCK_SPINS && rc == EBUSY; i++) {
    rc = pthread_mutex_trylock(mu);
    if (rc == EBUSY)
      for (int k = 0; k < 4 + i; k++) hone__cpu_relax();
  }
  if (rc == EBUSY) rc = pthread_mutex_lock(mu);
  if (rc == 0 || rc == EOWNERDEAD) hone__tsan_acquire(q->h); /* the last holder may be elsewhere */
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(mu);
    repair(q);
    rc = 0;
  }
  return rc == 0 ? 0 : HONE_ESYS;
}

static void shq_unlock(hone__shq *q) {
  hone__tsan_release(q->h);
  pthread_mutex_unlock(&q->h->mu);
}

void hone__shq_test_lock(hone__shq *q) {
  (void)shq_lock(q);
}

uint32_t hone__shq_test_waiters(hone__shq *q, int put) {
  return atomic_load(put ? &q->h->put_waiters : &q->h->get_waiters);
}

/* ---- waiting ---- */

/* The state change came before, by plain release stores. Reading `waiters` with a seq_cst RMW
 * (not a load) orders the two without a fence (which ThreadSanitizer does not model): either this
 * RMW comes first in waiters' modification order, and the waiter's increment then synchronizes
 * with it and its re-check sees the change, or it reads the increment and wakes. */
static void notify(hone__shq *q, _Atomic uint32_t *seq, _Atomic uint32_t *waiters, int n) {
  if (atomic_fetch_add_explicit(waiters, 0, memory_order_seq_cst) == 0) return;
  if (n == 0) { /* getters: one per message not yet taken (see notify_getters) */
    int64_t m = (int64_t)(LOAD(q->h->sent, relaxed) - LOAD(q->h->taken, relaxed));
    n = m <= 0 ? 1 : m > INT_MAX ? INT_MAX : (int)m;
  }
  atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst);
  hone__futex_wake_shared(seq, n);
  /* A waiter killed asleep stays counted; now and then, check that the counted ones live. */
  if (atomic_fetch_add_explicit(&q->h->wakes, 1, memory_order_relaxed) % CHECK_EVERY ==
      CHECK_EVERY - 1) {
    int rc = pthread_mutex_trylock(&q->h->mu);
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(&q->h->mu);
      repair(q);
      rc = 0;
    }
    if (rc == 0) {
      reap_waiters(q, false);
      shq_unlock(q);
    }
  }
}

/* Wakes as many getters as there are messages not yet taken, not just one: a getter woken for a
 * message queued behind a large one still being copied in finds that one unfinished and sleeps
 * again, so when the large one is committed every message behind it may need a getter. (Getters
 * asleep with a backlog happen only then: otherwise the count is 1.) sent is read after the
 * waiters RMW, which synchronizes with the registration of any getter that went back to sleep,
 * so it includes every message that getter saw queued (a newer `taken` counts only messages
 * others have taken since). */
static void notify_getters(hone__shq *q) {
  notify(q, &q->h->get_seq, &q->h->get_waiters, 0);
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
 * stale pair errs towards "no" only when a later change will notify. A getter never reads a
 * record here: at a stale rd it may have been freed and reused, and its bytes be rewritten by a
 * plain copy. Waiting on a WRITING record it watches `commits` instead: the writer bumps it
 * (seq_cst) after its READY store and before its notify, so either this load sees the bump, or this
 * waiter's registration precedes the bump and the notify wakes it; and c0, read before the
 * WRITING state was seen, cannot already include that bump (the state would then be READY). */
static bool may_get(const hone__shq *q, const waitstate *w) {
  shq_hdr *h = q->h;
  uint64_t rd = atomic_load(&h->rd), tail = atomic_load(&h->tail);
  if (rd == tail) return atomic_load(&h->closed) != 0;
  if (w->on_writing && rd == w->rd0) return atomic_load(&h->commits) != w->c0;
  return true;
}

static bool may_put(const hone__shq *q, size_t len) {
  shq_hdr *h = q->h;
  if (atomic_load(&h->closed)) return true;
  uint64_t head = atomic_load(&h->head), tail = atomic_load(&h->tail);
  return tail - head <= q->ring_size - len;
}

static bool may(const hone__shq *q, bool put, size_t len, const waitstate *w) {
  return put ? may_put(q, len) : may_get(q, w);
}

/* This process's waiter slot, claimed on first use; NULL when all are taken (its waiters are then
 * counted in the totals only). */
static shq_wslot *my_slot(hone__shq *q) {
  shq_wslot *w = q->h->wslot;
  int32_t pid = (int32_t)getpid();
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

/* Waits, with the lock released, until a retry may succeed, `until` passes, or a spurious
 * wake-up. Spins first when *spin is set (once per call). */
static void wait_for(hone__shq *q, bool put, size_t len, int64_t until, waitstate *ws) {
  shq_hdr *h = q->h;
  if (ws->spin) {
    ws->spin = false;
    int64_t end = hone__now_ns() + SPIN_NS;
    if (end > until) end = until; /* a timeout shorter than the spin is kept */
    for (unsigned i = 1;; i++) {
      if (may(q, put, len, ws)) return;
      if (i < 64) {
        hone__cpu_relax();
      } else {
        if (hone__now_ns() >= end) break; /* before yielding: a short timeout is kept */
        sched_yield();                    /* the process we wait for may be waiting for this CPU */
      }
    }
  }
  _Atomic uint32_t *seq = put ? &h->put_seq : &h->get_seq;
  _Atomic uint32_t *waiters = put ? &h->put_waiters : &h->get_waiters;
  /* The total goes up before this process's slot and down after it, so that a death between
   * the two leaves the total too high (a spare wake-up), never too low (a lost one). */
  shq_wslot *w = my_slot(q);
  atomic_fetch_add_explicit(waiters, 1, memory_order_seq_cst);
  if (w) atomic_fetch_add_explicit(&w->n[put], 1, memory_order_relaxed);
  uint32_t key = atomic_load_explicit(seq, memory_order_seq_cst);
  if (!may(q, put, len, ws)) hone__futex_wait_shared(seq, key, until);
  if (w) atomic_fetch_sub_explicit(&w->n[put], 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(waiters, 1, memory_order_seq_cst);
}

/* The part of a blocking call's loop that runs, under the lock, when the call cannot proceed:
 * returns an error to give up with (lock released), 1 to retry at once (lock released), or 0
 * after sleeping (lock released). */
static int block(hone__shq *q, bool put, size_t len, int64_t timeout_ns, waitstate *w) {
  if (timeout_ns == 0) {
    shq_unlock(q);
    return put ? HONE_EFULL : HONE_EAGAIN;
  }
  int64_t now = hone__now_ns();
  if (!w->started) {
    w->started = w->spin = true;
    w->deadline = hone__deadline(timeout_ns);
    w->poll = hone__shq_test_poll_ns > 0 ? hone__shq_test_poll_ns : POLL_MIN_NS;
    w->next_reap = w->poll > INT64_MAX - now ? INT64_MAX : now + w->poll;
  } else if (now >= w->next_reap) {
    int64_t max = hone__shq_test_poll_ns > 0 ? hone__shq_test_poll_ns : POLL_MAX_NS;
    w->poll = w->poll > max / 2 ? max : w->poll * 2;
    w->next_reap = w->poll > INT64_MAX - now ? INT64_MAX : now + w->poll;
    if (reap(q, true)) {
      shq_unlock(q);
      wake_all(q);
      return 1;
    }
  }
  if (now >= w->deadline) {
    shq_unlock(q);
    return HONE_ETIMEDOUT;
  }
  shq_unlock(q);
  wait_for(q, put, len, w->next_reap < w->deadline ? w->next_reap : w->deadline, w);
  return 0;
}

/* Without the lock: true when the queue is surely full for a record of len bytes (tail read
 * before head: the pair then shows at least the fill of the moment head was read) or surely empty
 * (rd before tail: equal, they were equal when rd was read), and not closed (closed is decided
 * under the lock: a send may commit between these loads and the close). Such a call waits without
 * taking the lock at all: a consumer ahead of its producer (or a producer ahead of its consumer)
 * then only reads the lock's line while it waits, instead of taking it from the other side on
 * every retry. */
static bool surely_full(const hone__shq *q, size_t len) {
  shq_hdr *h = q->h;
  uint64_t tail = atomic_load(&h->tail), head = atomic_load(&h->head);
  return tail - head > q->ring_size - len && !atomic_load(&h->closed);
}

static bool surely_empty(const hone__shq *q) {
  shq_hdr *h = q->h;
  uint64_t rd = atomic_load(&h->rd), tail = atomic_load(&h->tail);
  return rd == tail && !atomic_load(&h->closed);
}

/* block() for a call that found the queue surely full or empty without the lock: the same
 * timeouts and waits, but no checks for dead processes — when one is due it returns 1 and the
 * caller retries under the lock, where block() makes it. Returns an error to give up with, 1 to
 * retry under the lock, 0 after waiting. */
static int block_unlocked(hone__shq *q, bool put, size_t len, int64_t timeout_ns, waitstate *w) {
  if (timeout_ns == 0) return put ? HONE_EFULL : HONE_EAGAIN;
  int64_t now = hone__now_ns();
  if (!w->started) {
    w->started = w->spin = true;
    w->deadline = hone__deadline(timeout_ns);
    w->poll = hone__shq_test_poll_ns > 0 ? hone__shq_test_poll_ns : POLL_MIN_NS;
    w->next_reap = w->poll > INT64_MAX - now ? INT64_MAX : now + w->poll;
  } else if (now >= w->next_reap) {
    return 1;
  }
  if (now >= w->deadline) return HONE_ETIMEDOUT;
  w->on_writing = false;
  wait_for(q, put, len, w->next_reap < w->deadline ? w->next_reap : w->deadline, w);
  return 0;
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
    if (surely_full(q, len) && (rc = block_unlocked(q, true, len, timeout_ns, &w)) <= 0) {
      if (rc < 0) return rc;
      continue;
    }
    rc = shq_lock(q);
    if (rc) return rc;
    if (LOAD(h->closed, relaxed)) {
      shq_unlock(q);
      return HONE_ECLOSED;
    }
    uint64_t head = LOAD(h->head, relaxed), tail = LOAD(h->tail, relaxed);
    if (tail - head <= q->ring_size - len) {
      shq_rec *r = rec_at(q, tail);
      r->size = size;
      if (size <= HONE__SHQ_COPY_UNLOCKED) {
        if (size) memcpy(r + 1, msg, size);
        STORE(r->state, REC_READY, relaxed); /* published by the release of tail */
        TEST_POINT(HONE__SHQ_AT_SEND_COMMIT);
        STORE(h->tail, tail + len, release);
        TEST_POINT(HONE__SHQ_AT_SEND_COUNT);
        STORE(h->sent, LOAD(h->sent, relaxed) + 1, relaxed);
        shq_unlock(q);
        notify_getters(q);
        return 0;
      }
      r->pid = (int32_t)getpid();
      STORE(r->state, REC_WRITING, relaxed);
      STORE(h->tail, tail + len, release);
      TEST_POINT(HONE__SHQ_AT_SEND_COUNT);
      STORE(h->sent, LOAD(h->sent, relaxed) + 1, relaxed);
      shq_unlock(q);
      TEST_POINT(HONE__SHQ_AT_SEND_COPY);
      memcpy(r + 1, msg, size);
      set_rec_state(q, r, REC_READY);
      atomic_fetch_add_explicit(&h->commits, 1, memory_order_seq_cst); /* see may_get */
      notify_getters(q);
      return 0;
    }
    rc = block(q, true, len, timeout_ns, &w);
    if (rc < 0) return rc;
  }
}

int hone__shq_recv(hone__shq *q, void *buf, size_t buf_size, size_t *size, int64_t timeout_ns) {
  shq_hdr *h = q->h;
  waitstate w = {0};
  for (;;) {
    int rc;
    if (surely_empty(q) && (rc = block_unlocked(q, false, 0, timeout_ns, &w)) <= 0) {
      if (rc < 0) return rc;
      continue;
    }
    rc = shq_lock(q);
    if (rc) return rc;
    uint64_t rd = LOAD(h->rd, relaxed), tail = LOAD(h->tail, relaxed);
    w.on_writing = false;
    if (rd != tail) {
      shq_rec *r = rec_at(q, rd);
      uint32_t st = rec_state(q, r);
      if (st == REC_READY) {
        size_t sz = (size_t)r->size, len = len_of(q, sz);
        *size = sz;
        if (sz > buf_size || (!buf && sz)) {
          shq_unlock(q);
          notify_getters(q); /* the wake-up this getter may have had goes to another */
          return sz > buf_size ? HONE_EMSGSIZE : HONE_EINVAL;
        }
        if (sz <= HONE__SHQ_COPY_UNLOCKED) {
          if (sz) memcpy(buf, r + 1, sz);
          STORE(r->state, REC_DONE, relaxed);
          TEST_POINT(HONE__SHQ_AT_RECV_DONE);
          STORE(h->rd, rd + len, release);
          TEST_POINT(HONE__SHQ_AT_RECV_RD);
          STORE(h->taken, LOAD(h->taken, relaxed) + 1, relaxed);
          int freed = advance_head(q);
          shq_unlock(q);
          notify_putters(q, freed);
          return 0;
        }
        r->pid = (int32_t)getpid();
        STORE(r->state, REC_READING, relaxed);
        TEST_POINT(HONE__SHQ_AT_CLAIM);
        STORE(h->rd, rd + len, release);
        STORE(h->taken, LOAD(h->taken, relaxed) + 1, relaxed);
        shq_unlock(q);
        TEST_POINT(HONE__SHQ_AT_RECV_COPY);
        memcpy(buf, r + 1, sz);
        set_rec_state(q, r, REC_DONE);
        /* The message is ours even if the lock fails: head then moves at someone's next reap. */
        if (shq_lock(q) == 0) {
          int freed = advance_head(q);
          shq_unlock(q);
          notify_putters(q, freed);
        }
        return 0;
      }
      if (st != REC_WRITING) { /* left taken at rd by a process that died holding the lock */
        bool moved = reap(q, false);
        shq_unlock(q);
        if (moved) notify_putters(q, INT_MAX);
        continue;
      }
      /* Being copied in: wait for its commit (c0 read before the state is seen WRITING again). */
      w.c0 = atomic_load_explicit(&h->commits, memory_order_seq_cst);
      if (rec_state(q, r) != REC_WRITING) {
        shq_unlock(q);
        continue;
      }
      w.on_writing = true;
      w.rd0 = rd;
    } else if (LOAD(h->closed, relaxed)) {
      shq_unlock(q);
      return HONE_ECLOSED;
    }
    rc = block(q, false, 0, timeout_ns, &w);
    if (rc < 0) return rc;
  }
}

void hone__shq_close(hone__shq *q) {
  int rc = shq_lock(q);
  STORE(q->h->closed, 1, seq_cst);
  if (rc == 0) shq_unlock(q);
  wake_all(q);
}

/* Under the lock, so that what a process killed holding it left half-counted is repaired first,
 * and without the messages that dead processes were still copying in: they never arrive (a
 * consumer drops each when it reaches it). Only large messages are copied unlocked, so only a
 * message queue or one of large items has such records to look for. */
size_t hone__shq_size(hone__shq *q) {
  shq_hdr *h = q->h;
  if (shq_lock(q) != 0) return (size_t)(LOAD(h->sent, relaxed) - LOAD(h->taken, relaxed));
  uint64_t n = LOAD(h->sent, relaxed) - LOAD(h->taken, relaxed), tail = LOAD(h->tail, relaxed);
  if (!q->item_size || q->item_size > HONE__SHQ_COPY_UNLOCKED) {
    for (uint64_t pos = LOAD(h->rd, relaxed); pos != tail && n;) {
      shq_rec *r = rec_at(q, pos);
      if (rec_state(q, r) == REC_WRITING && pid_dead(r->pid)) n--;
      pos += len_of(q, r->size);
    }
  }
  shq_unlock(q);
  return (size_t)n;
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
    if (capacity > (SIZE_MAX / 4) / slot) return HONE_EINVAL;
    ring = capacity * slot;
    max = item_size;
  } else {
    if (capacity > SIZE_MAX / 4) return HONE_EINVAL;
    ring = (capacity + page - 1) / page * page;
    if (ring < 4096) ring = 4096;
    max = ring - sizeof(shq_rec);
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
  rc = pthread_mutex_init(&h->mu, &ma);
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
        h->capacity > h->ring_size / h->slot_size || h->capacity * h->slot_size != h->ring_size ||
        h->max_message != h->item_size)
      return HONE_EFORMAT;
  } else if (h->slot_size != 0 || h->ring_size % page_size() != 0 || h->capacity != h->ring_size ||
             h->max_message != h->ring_size - sizeof(shq_rec)) {
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
  memcpy(&layout, peek, offsetof(shq_hdr, mu));
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
  *out = q;
  return 0;
}

void hone__shq_free(hone__shq *q) {
  if (!q) return;
  munmap(q->base, q->map_len);
  close(q->fd);
  free(q);
}
