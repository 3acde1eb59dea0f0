/* sync.h: the parallel layer's waiting primitives — monotonic deadlines, a CPU pause for spin
 * loops, futex wait/wake (the one Linux-specific piece), and an eventcount that lets a thread park
 * on "some condition may have changed" without losing a wake-up.
 *
 * Eventcount protocol (lost-wake-up free): the waiter calls key = hone__ev_prepare(ev), re-checks
 * its condition, then either hone__ev_cancel(ev) or hone__ev_wait(ev, key, ...). The notifier makes
 * the condition true and then calls hone__ev_notify. Both sides order through seq_cst, so either
 * the notifier sees the waiter registered or the waiter's re-check sees the condition. */
#ifndef HONE_PARALLEL_SYNC_H
#define HONE_PARALLEL_SYNC_H

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline int64_t hone__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The absolute deadline of a timeout: INT64_MAX for "forever" (negative). */
static inline int64_t hone__deadline(int64_t timeout_ns) {
  if (timeout_ns < 0) return INT64_MAX;
  int64_t now = hone__now_ns();
  return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

static inline void hone__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* One step of a spin-wait: a CPU pause for the first steps, then sched_yield, so that a spinning
 * thread gives its CPU to a runnable thread (often the very worker it waits for) on a busy or
 * oversubscribed machine instead of burning the time slice. */
static inline void hone__spin_step(unsigned i) {
  if (i < 32)
    hone__cpu_relax();
  else
    sched_yield();
}

/* Whether a spin-wait of hone__spin_step's has used its budget (the clock past end). The clock
 * is read every 16 pausing steps, which are cheap, but at every yielding one: a sched_yield can
 * hand the CPU to another runnable task for the rest of its time slice (1-1.5 ms measured here,
 * Linux 6.18), so with the clock read every 16 steps a 20 us spin of the process pool's collector,
 * which shared a CPU with a busy worker, lasted until the next result came (it never slept, so
 * nobody woke it: each map result of 3-7 ms tasks reached its caller 1-1.5 ms late). */
static inline bool hone__spin_expired(unsigned i, int64_t end) {
  return (i >= 32 || (i & 15) == 15) && hone__now_ns() >= end;
}

/* Sleeps while *addr == val, until woken or the deadline (INT64_MAX: none). Spurious returns are
 * allowed: callers loop on their condition. */
static inline void hone__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
  struct timespec ts, *tsp = NULL;
  if (deadline != INT64_MAX) {
    int64_t left = deadline - hone__now_ns();
    if (left <= 0) return;
    ts.tv_sec = (time_t)(left / 1000000000);
    ts.tv_nsec = (long)(left % 1000000000);
    tsp = &ts;
  }
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

static inline void hone__futex_wake(_Atomic uint32_t *addr, int n) {
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* The same two for a word in memory shared between processes (MAP_SHARED): the kernel then keys
 * the wait on the page, not on this process's address space. Returns the syscall's result (0,
 * or -1 with errno EAGAIN / ETIMEDOUT / EINTR); callers loop on their condition anyway. */
static inline int hone__futex_wait_shared(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
  struct timespec ts, *tsp = NULL;
  if (deadline != INT64_MAX) {
    int64_t left = deadline - hone__now_ns();
    if (left <= 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    ts.tv_sec = (time_t)(left / 1000000000);
    ts.tv_nsec = (long)(left % 1000000000);
    tsp = &ts;
  }
  return (int)syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, tsp, NULL, 0);
}

static inline void hone__futex_wake_shared(_Atomic uint32_t *addr, int n) {
  syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* GCC's ThreadSanitizer does not model fences and warns (-Wtsan) at each one, which -Werror turns
 * into a failed build at -O1 and above. The fences stay: TSan simply does not use them. */
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#define HONE__TSAN_FENCE_WARNING_OFF 1
#endif

typedef struct hone__event {
  _Atomic uint32_t seq;
  _Atomic uint32_t waiters;
} hone__event;

static inline uint32_t hone__ev_prepare(hone__event *ev) {
  atomic_fetch_add_explicit(&ev->waiters, 1, memory_order_seq_cst);
  atomic_thread_fence(memory_order_seq_cst);
  return atomic_load_explicit(&ev->seq, memory_order_seq_cst);
}

static inline void hone__ev_cancel(hone__event *ev) {
  atomic_fetch_sub_explicit(&ev->waiters, 1, memory_order_seq_cst);
}

static inline void hone__ev_wait(hone__event *ev, uint32_t key, int64_t deadline) {
  if (atomic_load_explicit(&ev->seq, memory_order_seq_cst) == key)
    hone__futex_wait(&ev->seq, key, deadline);
  atomic_fetch_sub_explicit(&ev->waiters, 1, memory_order_seq_cst);
}

/* hone__ev_notify for a caller whose last write to the condition was itself a seq_cst store or
 * RMW: that already orders it before the load of `waiters`, so the fence is not needed. */
static inline void hone__ev_notify_sc(hone__event *ev, int n) {
  if (atomic_load_explicit(&ev->waiters, memory_order_seq_cst) == 0) return;
  atomic_fetch_add_explicit(&ev->seq, 1, memory_order_seq_cst);
  hone__futex_wake(&ev->seq, n);
}

/* Wakes up to n parked waiters (INT_MAX: all) if any is registered. */
static inline void hone__ev_notify(hone__event *ev, int n) {
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&ev->waiters, memory_order_seq_cst) == 0) return;
  atomic_fetch_add_explicit(&ev->seq, 1, memory_order_seq_cst);
  hone__futex_wake(&ev->seq, n);
}

#ifdef HONE__TSAN_FENCE_WARNING_OFF
#pragma GCC diagnostic pop
#endif

#endif /* HONE_PARALLEL_SYNC_H */
