/* tsan.h: what the parallel layer tells ThreadSanitizer, in one place; compiled away in every
 * other build.
 *
 * TSan sees the atomics of this process only. A hand-off that travels through memory shared with
 * another process (a process pool's slots and done rings, a shared queue's ring) is invisible to
 * it: a producer thread's writes reach a consumer thread of the same process through a third
 * process (a worker, a consumer process) that moved an index, and TSan reports the reuse of that
 * memory as a race. Each shared object therefore names one address of its own (its mapping's
 * header) as its sync point: a thread calls hone__tsan_release(obj) after writing what it hands
 * over and before the store that hands it over, and hone__tsan_acquire(obj) after a load that saw
 * a hand-off and before reading what was handed over. This orders the object's users among
 * themselves, like a lock they all take (it can hide a race between two threads that touch the
 * same shared object in between, never invent one); other objects are not affected. */
#ifndef HONE_PARALLEL_TSAN_H
#define HONE_PARALLEL_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define HONE__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HONE__TSAN 1
#endif
#endif

/* hone__store_unseen_u32: a release store of a word in a shared mapping that TSan does not
 * record, for a word whose bytes a thread of this process may later reuse as ordinary memory
 * after a hand-off through another process: TSan would otherwise report the store against that
 * reuse, whatever the annotations, when the storing thread is preempted between the store and
 * its hone__tsan_release. Callers call hone__tsan_release(obj) first. An ordinary atomic store
 * in other builds. */
#include <stdatomic.h>
#include <stdint.h>

#ifdef HONE__TSAN
#if defined(__clang__)
/* clang instruments atomics even in no_sanitize functions: a fence and a volatile store. */
__attribute__((no_sanitize("thread"))) static inline void
hone__store_unseen_u32(_Atomic uint32_t *a, uint32_t v) {
  atomic_thread_fence(memory_order_release);
  *(volatile uint32_t *)a = v;
}
#else
__attribute__((no_sanitize_thread)) static inline void hone__store_unseen_u32(_Atomic uint32_t *a,
                                                                              uint32_t v) {
  atomic_store_explicit(a, v, memory_order_release);
}
#endif
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static inline void hone__tsan_acquire(void *obj) {
  __tsan_acquire(obj);
}
static inline void hone__tsan_release(void *obj) {
  __tsan_release(obj);
}
#else
static inline void hone__store_unseen_u32(_Atomic uint32_t *a, uint32_t v) {
  atomic_store_explicit(a, v, memory_order_release);
}
static inline void hone__tsan_acquire(void *obj) {
  (void)obj;
}
static inline void hone__tsan_release(void *obj) {
  (void)obj;
}
#endif

#endif /* HONE_PARALLEL_TSAN_H */
