/* hone/queue.h: a bounded, thread-safe, multi-producer multi-consumer queue of fixed-size items.
 *
 * The in-process twin of the cross-process queue: items are copied in on put and copied out on
 * get (item_size bytes each), so the queue never holds a pointer into the caller's memory.
 * put blocks while the queue is full, get while it is empty, each with a timeout:
 *   timeout_ns < 0 (HONE_WAIT_FOREVER) waits without limit, 0 only tries, > 0 waits at most that
 * long. close() wakes every waiter: put then fails with HONE_ECLOSED at once; get still drains the
 * items left and fails with HONE_ECLOSED when the queue is closed and empty.
 *
 * Thread-safety: every function may be called from any thread at the same time, except
 * hone_queue_free, which must be the last call on the queue (no thread may still be inside
 * put/get). Ownership: hone_queue_new allocates, hone_queue_free releases; free(NULL) is a no-op.
 */
#ifndef HONE_QUEUE_H
#define HONE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "hone/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HONE_WAIT_FOREVER
/* A timeout that never expires (any negative value means the same). */
#define HONE_WAIT_FOREVER ((int64_t)-1)
#endif

typedef struct hone_queue hone_queue;

/* A queue of at most `capacity` items of `item_size` bytes (both > 0). HONE_EINVAL, HONE_ENOMEM. */
HONE_API HONE_NODISCARD int hone_queue_new(hone_queue **out, size_t capacity, size_t item_size)
    HONE_NONNULL(1);
HONE_API void hone_queue_free(hone_queue *q);

/* Copies item_size bytes from `item` into the queue. 0, HONE_ETIMEDOUT (full for timeout_ns;
 * HONE_EFULL when timeout_ns is 0), HONE_ECLOSED. */
HONE_API int hone_queue_put(hone_queue *q, const void *item, int64_t timeout_ns) HONE_NONNULL(1, 2);
/* Copies the oldest item into `item` (item_size bytes). 0, HONE_ETIMEDOUT (empty for timeout_ns;
 * HONE_EAGAIN when timeout_ns is 0), HONE_ECLOSED (closed and empty). */
HONE_API int hone_queue_get(hone_queue *q, void *item, int64_t timeout_ns) HONE_NONNULL(1, 2);
/* No more puts; waiters wake. Idempotent. */
HONE_API void hone_queue_close(hone_queue *q) HONE_NONNULL(1);

/* Items in the queue now (a snapshot, stale as soon as it returns), and the fixed capacity. */
HONE_API size_t hone_queue_size(hone_queue *q) HONE_NONNULL(1);
HONE_API size_t hone_queue_capacity(const hone_queue *q) HONE_NONNULL(1);

#ifdef __cplusplus
}
#endif
#endif /* HONE_QUEUE_H */
