/* queue.c: hone_queue (include/hone/queue.h) — the thread queue of fixed-size items, and the
 * dispatch of every call to the shared-memory queue (queue_shm.c) when the handle is one.
 *
 * The thread queue is a ring buffer under one mutex with two condition variables: it is meant for
 * handing work and results between threads at human-visible rates, where a lock's simplicity (and
 * exact FIFO order under close) beats a lock-free ring. The pool's own hot queue is in
 * backend_thread.c. Lock: `mu` guards every field below it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hone/queue.h"
#include "parallel/queue_shm.h"

struct hone_queue {
  hone__shq *shm; /* the shared kind when set: every other field is then unused */
  size_t capacity, item_size;
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full; /* both use CLOCK_MONOTONIC */
  size_t head, count;                 /* guarded by mu */
  int closed;                         /* guarded by mu */
  unsigned char *items;
};

int hone_queue_new(hone_queue **out, size_t capacity, size_t item_size) {
  *out = NULL;
  if (capacity == 0 || item_size == 0 || capacity > SIZE_MAX / item_size) return HONE_EINVAL;
  hone_queue *q = calloc(1, sizeof *q);
  if (!q) return HONE_ENOMEM;
  q->items = malloc(capacity * item_size);
  if (!q->items) {
    free(q);
    return HONE_ENOMEM;
  }
  q->capacity = capacity;
  q->item_size = item_size;
  pthread_mutex_init(&q->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&q->not_empty, &ca);
  pthread_cond_init(&q->not_full, &ca);
  pthread_condattr_destroy(&ca);
  *out = q;
  return 0;
}

int hone_queue_new_shared(hone_queue **out, size_t capacity, size_t item_size) {
  *out = NULL;
  hone_queue *q = calloc(1, sizeof *q);
  if (!q) return HONE_ENOMEM;
  int rc = hone__shq_new(&q->shm, capacity, item_size);
  if (rc) {
    free(q);
    return rc;
  }
  *out = q;
  return 0;
}

int hone_queue_open_fd(hone_queue **out, int fd) {
  *out = NULL;
  hone_queue *q = calloc(1, sizeof *q);
  if (!q) return HONE_ENOMEM;
  int rc = hone__shq_open_fd(&q->shm, fd);
  if (rc) {
    free(q);
    return rc;
  }
  *out = q;
  return 0;
}

hone__shq *hone__queue_shared(hone_queue *q) {
  return q->shm;
}

void hone_queue_free(hone_queue *q) {
  if (!q) return;
  if (q->shm) {
    hone__shq_free(q->shm);
    free(q);
    return;
  }
  pthread_cond_destroy(&q->not_empty);
  pthread_cond_destroy(&q->not_full);
  pthread_mutex_destroy(&q->mu);
  free(q->items);
  free(q);
}

/* Waits on cv until woken or the absolute monotonic deadline; returns non-zero on timeout. */
static int wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, const struct timespec *deadline) {
  if (!deadline) return pthread_cond_wait(cv, mu), 0;
  return pthread_cond_timedwait(cv, mu, deadline) != 0;
}

static const struct timespec *make_deadline(int64_t timeout_ns, struct timespec *ts) {
  if (timeout_ns < 0) return NULL;
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(timeout_ns / 1000000000);
  ts->tv_nsec += (long)(timeout_ns % 1000000000);
  if (ts->tv_nsec >= 1000000000) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000;
  }
  return ts;
}

int hone_queue_put(hone_queue *q, const void *item, int64_t timeout_ns) {
  if (q->shm) {
    size_t n = hone__shq_item_size(q->shm);
    return n ? hone__shq_send(q->shm, item, n, timeout_ns) : HONE_EINVAL;
  }
  struct timespec ts;
  const struct timespec *deadline = NULL;
  int rc = 0;
  pthread_mutex_lock(&q->mu);
  while (!q->closed && q->count == q->capacity) {
    if (timeout_ns == 0) {
      rc = HONE_EFULL;
      goto out;
    }
    if (!deadline && timeout_ns > 0) deadline = make_deadline(timeout_ns, &ts);
    if (wait_until(&q->not_full, &q->mu, deadline) && q->count == q->capacity && !q->closed) {
      rc = HONE_ETIMEDOUT;
      goto out;
    }
  }
  if (q->closed) {
    rc = HONE_ECLOSED;
    goto out;
  }
  size_t tail = (q->head + q->count) % q->capacity;
  memcpy(q->items + tail * q->item_size, item, q->item_size);
  q->count++;
  pthread_cond_signal(&q->not_empty);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int hone_queue_get(hone_queue *q, void *item, int64_t timeout_ns) {
  if (q->shm) {
    size_t n = hone__shq_item_size(q->shm), got;
    return n ? hone__shq_recv(q->shm, item, n, &got, timeout_ns) : HONE_EINVAL;
  }
  struct timespec ts;
  const struct timespec *deadline = NULL;
  int rc = 0;
  pthread_mutex_lock(&q->mu);
  while (q->count == 0) {
    if (q->closed) {
      rc = HONE_ECLOSED;
      goto out;
    }
    if (timeout_ns == 0) {
      rc = HONE_EAGAIN;
      goto out;
    }
    if (!deadline && timeout_ns > 0) deadline = make_deadline(timeout_ns, &ts);
    if (wait_until(&q->not_empty, &q->mu, deadline) && q->count == 0 && !q->closed) {
      rc = HONE_ETIMEDOUT;
      goto out;
    }
  }
  memcpy(item, q->items + q->head * q->item_size, q->item_size);
  q->head = (q->head + 1) % q->capacity;
  q->count--;
  pthread_cond_signal(&q->not_full);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void hone_queue_close(hone_queue *q) {
  if (q->shm) {
    hone__shq_close(q->shm);
    return;
  }
  pthread_mutex_lock(&q->mu);
  q->closed = 1;
  pthread_cond_broadcast(&q->not_empty);
  pthread_cond_broadcast(&q->not_full);
  pthread_mutex_unlock(&q->mu);
}

size_t hone_queue_size(hone_queue *q) {
  if (q->shm) return hone__shq_size(q->shm);
  pthread_mutex_lock(&q->mu);
  size_t n = q->count;
  pthread_mutex_unlock(&q->mu);
  return n;
}

size_t hone_queue_capacity(const hone_queue *q) {
  return q->shm ? hone__shq_capacity(q->shm) : q->capacity;
}

/* ---- the message calls, on both kinds ---- */

int hone_queue_send(hone_queue *q, const void *msg, size_t size, int64_t timeout_ns) {
  if (q->shm) return hone__shq_send(q->shm, msg, size, timeout_ns);
  if (size != q->item_size || !msg) return HONE_EINVAL;
  return hone_queue_put(q, msg, timeout_ns);
}

int hone_queue_recv(hone_queue *q, void *buf, size_t buf_size, size_t *size, int64_t timeout_ns) {
  if (q->shm) return hone__shq_recv(q->shm, buf, buf_size, size, timeout_ns);
  *size = q->item_size;
  if (buf_size < q->item_size) return HONE_EMSGSIZE;
  if (!buf) return HONE_EINVAL;
  return hone_queue_get(q, buf, timeout_ns);
}

size_t hone_queue_max_message(const hone_queue *q) {
  return q->shm ? hone__shq_max_message(q->shm) : q->item_size;
}

size_t hone_queue_item_size(const hone_queue *q) {
  return q->shm ? hone__shq_item_size(q->shm) : q->item_size;
}

int hone_queue_fd(const hone_queue *q) {
  return q->shm ? hone__shq_fd(q->shm) : HONE_EINVAL;
}
