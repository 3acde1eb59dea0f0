/* hone/queue.h: a bounded multi-producer multi-consumer queue, between threads or between
 * processes — one interface for both.
 *
 * Two kinds, made by two constructors and used through the same calls:
 *  - hone_queue_new: in this process's memory, for threads (fixed-size items).
 *  - hone_queue_new_shared: in shared memory (an anonymous memfd mapping, never a file anyone can
 *    open), for processes: create it before fork() and every child uses the same handle; or pass
 *    hone_queue_fd() to a program you exec and hone_queue_open_fd() there. With item_size > 0 it
 *    holds fixed-size items like the thread queue; with item_size 0 it holds variable-size
 *    messages (hone_queue_send / hone_queue_recv) in a ring of `capacity` bytes.
 * Items and messages are copied in on put/send and out on get/recv, so a queue never holds a
 * pointer into anyone's memory.
 *
 * put/send block while the queue is full, get/recv while it is empty, each with a timeout:
 *   timeout_ns < 0 (HONE_WAIT_FOREVER) waits without limit, 0 only tries, > 0 waits at most that
 * long (a shared queue's try may still wait the moment another process holds its lock).
 * close() wakes every waiter (in every process): put/send then fail with HONE_ECLOSED at
 * once; get/recv still drain what is left and fail with HONE_ECLOSED when closed and empty.
 *
 * The shared queue has no feeder thread: send copies the message into shared memory before it
 * returns, so a process may exit, or be joined, with messages still queued — nothing waits on
 * them and nothing is lost (unlike Python's multiprocessing.Queue). A process that dies inside
 * a call (killed while holding the queue's lock, or half-way through copying a message) does not
 * wedge the others: the lock is robust, and a message the dead process was writing is dropped, a
 * message it was reading is lost with it; every other message stays, in order. A process killed
 * holding the lock is noticed by the next one to take it; one killed mid-copy (messages above 2
 * KiB are copied with the lock released) by a process that has waited on it for a few ms, once
 * the dead one is gone, a zombie, or its pid names a process that does not map the queue — so
 * every process using a queue must share one pid namespace.
 * Order: messages from one producer are received in the order sent (across producers, in the
 * order their sends took the queue's lock).
 *
 * Thread-safety: every function may be called from any thread of any process sharing the queue at
 * the same time, except hone_queue_free (per process: the last call on the handle in this process;
 * no thread of this process may still be inside a call). Ownership: each process that holds the
 * handle (by inheritance or hone_queue_open_fd) frees its own; the shared memory goes away when
 * the last process unmaps it — nothing is left behind, even when every process is killed.
 * free(NULL) is a no-op.
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

/* Copies item_size bytes from `item` into the queue (HONE_EINVAL on a message queue). 0,
 * HONE_ETIMEDOUT (full for timeout_ns; HONE_EFULL when timeout_ns is 0), HONE_ECLOSED. */
HONE_API int hone_queue_put(hone_queue *q, const void *item, int64_t timeout_ns) HONE_NONNULL(1, 2);
/* Copies the oldest item into `item` (item_size bytes; HONE_EINVAL on a message queue). 0,
 * HONE_ETIMEDOUT (empty for timeout_ns; HONE_EAGAIN when timeout_ns is 0), HONE_ECLOSED (closed and
 * empty). */
HONE_API int hone_queue_get(hone_queue *q, void *item, int64_t timeout_ns) HONE_NONNULL(1, 2);
/* No more puts; waiters wake. Idempotent. */
HONE_API void hone_queue_close(hone_queue *q) HONE_NONNULL(1);

/* Items (or messages) in the queue now (a snapshot, stale as soon as it returns): those a get or
 * recv can still take, so not a message that a dead process was writing. Takes the queue's lock
 * (a shared queue's size then walks its queued records). And the capacity given at creation
 * (items; for a message queue, the ring's bytes after rounding up). */
HONE_API size_t hone_queue_size(hone_queue *q) HONE_NONNULL(1);
HONE_API size_t hone_queue_capacity(const hone_queue *q) HONE_NONNULL(1);

/* ---- between processes ---- */

/* A queue in shared memory. item_size > 0: at most `capacity` items of item_size bytes (as
 * hone_queue_new). item_size 0: variable-size messages in a ring of `capacity` bytes (rounded up
 * to whole pages; at least 4096); one message may use up to hone_queue_max_message() bytes, and a
 * larger one is refused with HONE_EMSGSIZE (never split). HONE_EINVAL, HONE_ENOMEM, HONE_ESYS. */
HONE_API HONE_NODISCARD int hone_queue_new_shared(hone_queue **out, size_t capacity,
                                                  size_t item_size) HONE_NONNULL(1);

/* Copies a message of `size` bytes in (on a fixed-size queue, size must equal item_size:
 * HONE_EINVAL otherwise; msg may be NULL only when size is 0). 0, HONE_ETIMEDOUT (HONE_EFULL when
 * timeout_ns is 0), HONE_ECLOSED, HONE_EMSGSIZE. Works on both kinds. */
HONE_API int hone_queue_send(hone_queue *q, const void *msg, size_t size, int64_t timeout_ns)
    HONE_NONNULL(1);
/* Takes the oldest message: copies it into buf and sets *size. If buf_size is too small, returns
 * HONE_EMSGSIZE with *size = the size needed and leaves the message queued. 0, HONE_ETIMEDOUT
 * (HONE_EAGAIN when timeout_ns is 0), HONE_ECLOSED (closed and empty). Works on both kinds. */
HONE_API int hone_queue_recv(hone_queue *q, void *buf, size_t buf_size, size_t *size,
                             int64_t timeout_ns) HONE_NONNULL(1, 4);
/* The largest message a send accepts (item_size on a fixed-size queue). */
HONE_API size_t hone_queue_max_message(const hone_queue *q) HONE_NONNULL(1);
/* The item size (0: a message queue). */
HONE_API size_t hone_queue_item_size(const hone_queue *q) HONE_NONNULL(1);

/* The shared queue's memory as a file descriptor (close-on-exec; clear FD_CLOEXEC to hand it to a
 * program you exec), or HONE_EINVAL on a thread queue. Owned by the handle: do not close it. */
HONE_API int hone_queue_fd(const hone_queue *q) HONE_NONNULL(1);
/* Maps a shared queue from a descriptor made by hone_queue_fd (in another process). The handle
 * takes its own duplicate of fd. HONE_EFORMAT (not a hone queue: another kind of file, a header
 * or size that does not match, or memory not sealed against resizing as hone seals its own),
 * HONE_EVERSION, HONE_EINVAL (fd < 0), HONE_ESYS (e.g. fd not open, or not open read-write). */
HONE_API HONE_NODISCARD int hone_queue_open_fd(hone_queue **out, int fd) HONE_NONNULL(1);

#ifdef __cplusplus
}
#endif
#endif /* HONE_QUEUE_H */
