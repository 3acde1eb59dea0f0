/* queue_shm.h: the shared-memory half of hone_queue (queue_shm.c), which queue.c dispatches to,
 * and the test hooks that let unit tests kill a process at the worst instants. */
#ifndef HONE_PARALLEL_QUEUE_SHM_H
#define HONE_PARALLEL_QUEUE_SHM_H

#include <stddef.h>
#include <stdint.h>

typedef struct hone__shq hone__shq;

/* The calls of include/hone/queue.h on the shared kind; same contracts. */
int hone__shq_new(hone__shq **out, size_t capacity, size_t item_size);
int hone__shq_open_fd(hone__shq **out, int fd);
void hone__shq_free(hone__shq *q);
int hone__shq_send(hone__shq *q, const void *msg, size_t size, int64_t timeout_ns);
int hone__shq_recv(hone__shq *q, void *buf, size_t buf_size, size_t *size, int64_t timeout_ns);
void hone__shq_close(hone__shq *q);
size_t hone__shq_size(hone__shq *q);
size_t hone__shq_capacity(const hone__shq *q);
size_t hone__shq_item_size(const hone__shq *q);
size_t hone__shq_max_message(const hone__shq *q);
int hone__shq_fd(const hone__shq *q);

/* The shared half of a hone_queue (queue.c), NULL for a thread queue. */
struct hone_queue;
hone__shq *hone__queue_shared(struct hone_queue *q);

/* Messages larger than this are copied in and out with the side's lock released (reserve, copy,
 * commit), smaller ones under it. */
#define HONE__SHQ_COPY_UNLOCKED 2048

/* Test hooks (unit tests only). hone__shq_test_lock takes both of the queue's locks (the
 * producers', then the consumers') and returns holding them, so that a test can kill the process
 * there. hone__shq_test_hook, when set, is called by this process at each of the points below, so
 * that a test can kill it there and check that the others recover. */
void hone__shq_test_lock(hone__shq *q);
/* The registered waiters of one side (put: 0 get, 1 put), as notifiers see them. */
uint32_t hone__shq_test_waiters(hone__shq *q, int put);
enum {
  HONE__SHQ_AT_SEND_COPY = 1, /* large send: reserved (WRITING), lock released, before the copy */
  HONE__SHQ_AT_RECV_COPY,     /* large recv: claimed (READING), lock released, before the copy */
  HONE__SHQ_AT_SEND_COMMIT,   /* small send, locked: record written, its state not yet READY */
  HONE__SHQ_AT_SEND_TAIL,     /* send, locked: state stored (READY or WRITING), tail not moved */
  HONE__SHQ_AT_RECV_COPIED,   /* small recv, locked: copied out, rd not yet moved */
  HONE__SHQ_AT_RECV_RD,       /* small recv, locked: rd moved, head not yet */
  HONE__SHQ_AT_CLAIM,         /* large recv, locked: marked READING, rd not yet moved */
  HONE__SHQ_AT_LOCKED,        /* a side's lock just taken, its bias not yet revoked */
  HONE__SHQ_AT_REPAIR,        /* a side's lock taken from the dead, bias revoked, not repaired */
};
extern void (*hone__shq_test_hook)(int point);
/* The thread (kernel tid) a side (put: 0 get, 1 put) is biased to, or 0; whether this process
 * can be granted biases at all (membarrier). */
int32_t hone__shq_test_bias(hone__shq *q, int put);
int hone__shq_test_can_bias(void);
/* When > 0, a blocked call's bounded sleeps (and its checks for dead processes) are this many ns
 * apart instead of growing from a few ms to 50 ms: a test sets it very high so that a wake-up
 * lost by a live process shows as a hang instead of a late return. */
extern int64_t hone__shq_test_poll_ns;

#endif /* HONE_PARALLEL_QUEUE_SHM_H */
