/* serve.c: a rank other than 0. It receives rank 0's jobs, runs them on a local pool per pool of
 * rank 0's (worker processes by default, so a crashing task kills a local worker only), and sends
 * the results back, several per message. Only this file's loop calls MPI on this rank: local
 * completions (a done callback, a map chunk's runner thread) go to an outbox it drains.
 *
 * Waiting: MPI has no blocking wait that does not spin (Open MPI's MPI_Recv polls), so the loop
 * tests for messages and sleeps between tests on a condition variable that a local completion
 * signals: 50 us while work arrived in the last 20 ms, 0.5 ms up to a second of idleness, then
 * 5 ms (a rank idle for long answers its next job within 5 ms; a busy one within 50 us), and
 * 1 ms while every local worker has a job (a new one would queue). */
#include <errno.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi/buf.h"
#include "mpi/mpi_internal.h"
#include "mpi/wire.h"
#include "parallel/pool_internal.h"

typedef struct spool {
  struct spool *next;
  uint32_t id;
  hone_pool *pool;
} spool;

typedef struct sjob {
  struct sjob *next;
  uint64_t id;
  uint32_t kind;
  int64_t t0, t1, busy; /* t0: received; t1: completed; busy: see wire_result.busy_ns */
  hone_future *lf;      /* submit: the local future */
  /* chunk */
  hone_pool *pool;
  hone_task_id task;
  size_t count, in_stride, rsz;
  unsigned char *in, *out;
  /* a failure decided here (unknown task, no pool) or a chunk's */
  int code;
  size_t index;
  char msg[HONE_TASK_MESSAGE_MAX + HM_HOST_MAX + 32];
} sjob;

typedef struct ssend {
  MPI_Request req;
  void *buf;
} ssend;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;       /* the loop: an outbox entry; the runners: a chunk or stop */
  pthread_cond_t cv_chunk; /* runners */
  sjob *out_head, *out_tail;
  sjob *chunk_head, *chunk_tail;
  bool runners_stop;
  unsigned inside;   /* jobs received and not yet completed */
  int64_t last_done; /* the latest completion's time */
  pthread_t *runners;
  unsigned nrunners;
  /* the loop's own */
  spool *pools;
  unsigned held; /* jobs received and not yet answered */
  /* The local future of a submit that arrived when no other job was held, while it stays the
   * only one, if its pool runs tasks in worker processes; else NULL. Its worker wakes this loop
   * (not the pool's collector thread) when the task ends, and the loop collects the result
   * itself, so the result goes back one wake-up sooner (hone__future_await, keep). */
  hone_future *await;
  ssend *sends;
  size_t nsends, capsends;
  int64_t last_sent;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER,
       .cv_chunk = PTHREAD_COND_INITIALIZER};

static _Noreturn void die(const char *what, int err) {
  /* Rank 0 is gone or MPI failed under us: nobody is left to serve, and there is no program to
   * return to on this rank (hone_mpi_init never returns here). */
  char m[MPI_MAX_ERROR_STRING];
  hm_mpi_error(err, m, sizeof m);
  fprintf(stderr, "hone-mpi: rank %d (%s): %s: %s; this rank stops serving\n", hm.rank, hm.host,
          what, m);
  _exit(1);
}

static void push_out(sjob *j) {
  pthread_mutex_lock(&S.mu);
  j->t1 = hm_now();
  int64_t from = j->t0 > S.last_done ? j->t0 : S.last_done;
  unsigned busy_workers = S.inside < hm.workers ? S.inside : hm.workers;
  j->busy = (j->t1 - from) * (int64_t)(busy_workers ? busy_workers : 1);
  S.last_done = j->t1;
  S.inside--;
  j->next = NULL;
  if (S.out_tail)
    S.out_tail->next = j;
  else
    S.out_head = j;
  S.out_tail = j;
  pthread_cond_signal(&S.cv);
  pthread_mutex_unlock(&S.mu);
}

static void on_local_done(hone_future *lf, void *arg) {
  (void)lf;
  push_out(arg);
}

static void *runner(void *arg) {
  (void)arg;
  pthread_mutex_lock(&S.mu);
  for (;;) {
    while (!S.chunk_head && !S.runners_stop) pthread_cond_wait(&S.cv_chunk, &S.mu);
    if (!S.chunk_head) break;
    sjob *j = S.chunk_head;
    S.chunk_head = j->next;
    if (!S.chunk_head) S.chunk_tail = NULL;
    pthread_mutex_unlock(&S.mu);
    hone_map_error err;
    int rc =
        hone_pool_map(j->pool, j->task, j->in, j->in_stride, j->out, j->rsz, j->count, 0, &err);
    if (rc == HONE_ETASK) {
      j->code = err.code;
      j->index = err.index;
      snprintf(j->msg, sizeof j->msg, "%s", err.message);
    } else if (rc < 0) {
      j->code = rc;
      j->index = 0;
      snprintf(j->msg, sizeof j->msg, "%s", hone_strerror(rc));
    }
    hm_buf_free(j->in);
    j->in = NULL;
    push_out(j);
    pthread_mutex_lock(&S.mu);
  }
  pthread_mutex_unlock(&S.mu);
  return NULL;
}

static void send_bytes(int tag, void *buf, size_t len) {
  if (S.nsends == S.capsends) {
    size_t cap = S.capsends ? 2 * S.capsends : 16;
    ssend *n = realloc(S.sends, cap * sizeof *n);
    if (!n) die("out of memory for a send", MPI_ERR_NO_MEM);
    S.sends = n;
    S.capsends = cap;
  }
  ssend *s = &S.sends[S.nsends];
  int rc = MPI_Isend(buf, (int)len, MPI_BYTE, 0, tag, hm.comm, &s->req);
  if (rc != MPI_SUCCESS) die("a send to rank 0 failed", rc);
  s->buf = buf;
  S.nsends++;
  S.last_sent = hm_now();
}

static bool test_sends(void) {
  bool any = false;
  for (size_t i = 0; i < S.nsends;) {
    int done = 0;
    int rc = MPI_Test(&S.sends[i].req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) die("a send to rank 0 failed", rc);
    if (done) {
      hm_buf_free(S.sends[i].buf);
      S.sends[i] = S.sends[--S.nsends];
      any = true;
    } else {
      i++;
    }
  }
  return any;
}

static void send_u64(int tag, uint64_t v) {
  uint64_t *b = hm_buf_alloc(sizeof *b);
  if (!b) die("out of memory for a send", MPI_ERR_NO_MEM);
  *b = v;
  send_bytes(tag, b, sizeof *b);
}

static spool *find_pool(uint32_t id) {
  for (spool *p = S.pools; p; p = p->next)
    if (p->id == id) return p;
  return NULL;
}

/* A failure that names where it happened: a crash or timeout (the local pool's message names
 * the signal or the limit), an unknown task, a pool this rank lacks. */
static void name_place(char *msg, size_t size) {
  size_t n = strlen(msg);
  snprintf(msg + n, size - n, " (rank %d on %s)", hm.rank, hm.host);
}

static void on_open(const void *buf, size_t len) {
  wire_open o;
  wire_ready r = {0};
  if (len < sizeof o) {
    r.rc = HONE_EFORMAT;
  } else {
    memcpy(&o, buf, sizeof o);
    r.pool = o.pool;
    hone_pool_options po;
    hone_pool_options_init(&po);
    po.backend = hm.opts.local_backend;
    po.workers = hm.workers;
    po.max_tasks_per_child = o.max_tasks_per_child;
    po.task_timeout_ns = o.task_timeout_ns;
    spool *sp = calloc(1, sizeof *sp);
    if (!sp) {
      r.rc = HONE_ENOMEM;
    } else {
      r.rc = hone_pool_new_ex(&sp->pool, &po);
      if (r.rc < 0) {
        free(sp);
      } else {
        sp->id = o.pool;
        sp->next = S.pools;
        S.pools = sp;
        r.workers = hone_pool_workers(sp->pool);
      }
    }
  }
  if (r.rc < 0) {
    snprintf(r.message, sizeof r.message, "its local pool could not be made: %s",
             hone_strerror(r.rc));
    name_place(r.message, sizeof r.message);
  }
  wire_ready *b = hm_buf_alloc(sizeof *b);
  if (!b) die("out of memory for a send", MPI_ERR_NO_MEM);
  *b = r;
  send_bytes(W_READY, b, sizeof *b);
}

static void await_release(void);

static void on_close(const void *buf, size_t len) {
  wire_open o;
  if (len < sizeof o) return;
  await_release(); /* the awaited job may be the closing pool's: its shutdown collects it */
  memcpy(&o, buf, sizeof o);
  for (spool **pp = &S.pools; *pp; pp = &(*pp)->next) {
    if ((*pp)->id == o.pool) {
      spool *sp = *pp;
      *pp = sp->next;
      hone_pool_free(sp->pool);
      free(sp);
      return;
    }
  }
}

static void fail_now(sjob *j, int code, const char *msg) {
  j->code = code;
  snprintf(j->msg, sizeof j->msg, "%s", msg);
  name_place(j->msg, sizeof j->msg);
  push_out(j);
}

/* A job arrives: the awaited one (see S.await) is no longer alone, so its end wakes the pool's
 * collector again. */
static void await_release(void) {
  if (!S.await) return;
  hone__future_await(S.await, 0, false);
  S.await = NULL;
}

static void on_jobs(const unsigned char *buf, size_t len) {
  uint64_t n;
  if (len < sizeof n) return;
  memcpy(&n, buf, sizeof n);
  size_t off = sizeof n;
  for (uint64_t k = 0; k < n; k++) {
    wire_job w;
    if (len - off < sizeof w) die("a malformed job message", MPI_ERR_TRUNCATE);
    memcpy(&w, buf + off, sizeof w);
    off += sizeof w;
    if (w.name_len >= 4096 || len - off < wire_pad8(w.name_len) + w.payload)
      die("a malformed job message", MPI_ERR_TRUNCATE);
    char name[4096];
    memcpy(name, buf + off, w.name_len);
    name[w.name_len] = 0;
    off += wire_pad8(w.name_len);
    const unsigned char *payload = buf + off;
    off += wire_pad8(w.payload);

    sjob *j = calloc(1, sizeof *j);
    if (!j) die("out of memory for a job", MPI_ERR_NO_MEM);
    j->id = w.id;
    j->kind = w.kind;
    await_release();
    S.held++;
    pthread_mutex_lock(&S.mu);
    j->t0 = hm_now();
    S.inside++;
    pthread_mutex_unlock(&S.mu);
    char msg[HONE_TASK_MESSAGE_MAX];
    hone_task_id id;
    int rc = hone__task_resolve(name, w.hash, &id, msg, sizeof msg);
    if (rc < 0) {
      fail_now(j, rc, msg);
      continue;
    }
    spool *sp = find_pool(w.pool);
    if (!sp) {
      snprintf(msg, sizeof msg, "pool %u is not open on this rank", (unsigned)w.pool);
      fail_now(j, HONE_ESHUTDOWN, msg);
      continue;
    }
    if (w.kind == WJ_SUBMIT) {
      rc = hone_pool_submit(sp->pool, id, payload, (size_t)w.in_stride, HONE_WAIT_FOREVER, &j->lf);
      if (rc == 0) rc = hone_future_add_done_callback(j->lf, on_local_done, j);
      if (rc == 0 && S.held == 1 && j->lf->remote) {
        S.await = j->lf;
        hone__future_await(j->lf, 0, true);
      }
      if (rc < 0) {
        if (j->lf) { /* submitted, but no callback: wait for it here (rare: out of memory) */
          hone_future_result(j->lf, HONE_WAIT_FOREVER, NULL, 0);
          push_out(j);
        } else {
          fail_now(j, rc, hone_strerror(rc));
        }
      }
      continue;
    }
    j->pool = sp->pool;
    j->task = id;
    j->count = (size_t)w.count;
    j->in_stride = (size_t)w.in_stride;
    j->rsz = hone__task_get(id)->result_size;
    j->in = hm_buf_alloc((size_t)w.payload);
    bool fits = !j->rsz || j->count <= SIZE_MAX / j->rsz;
    j->out = fits ? hm_buf_alloc(j->count * j->rsz) : NULL;
    if (!j->in || !j->out) {
      hm_buf_free(j->in);
      j->in = NULL;
      fail_now(j, HONE_ENOMEM, hone_strerror(HONE_ENOMEM));
      continue;
    }
    memcpy(j->in, payload, (size_t)w.payload);
    pthread_mutex_lock(&S.mu);
    j->next = NULL;
    if (S.chunk_tail)
      S.chunk_tail->next = j;
    else
      S.chunk_head = j;
    S.chunk_tail = j;
    pthread_cond_signal(&S.cv_chunk);
    pthread_mutex_unlock(&S.mu);
  }
}

/* Packs every finished job into one W_RESULTS message. */
static bool flush_outbox(void) {
  pthread_mutex_lock(&S.mu);
  sjob *list = S.out_head;
  S.out_head = S.out_tail = NULL;
  pthread_mutex_unlock(&S.mu);
  if (!list) return false;
  /* First pass: the sizes (and each submit's outcome, read once). */
  size_t total = sizeof(uint64_t);
  uint64_t n = 0;
  for (sjob *j = list; j; j = j->next) {
    n++;
    size_t data = 0;
    if (j->kind == WJ_SUBMIT && j->lf && j->code == 0) {
      int code = 0;
      const char *m = NULL;
      if (hone_future_error(j->lf, 0, &code, &m) == HONE_ETASK) {
        j->code = code;
        snprintf(j->msg, sizeof j->msg, "%s", m);
        if (code == HONE_ECRASHED || code == HONE_ETIMEDOUT) name_place(j->msg, sizeof j->msg);
      } else {
        hone_future_result_data(j->lf, &data);
      }
    } else if (j->kind == WJ_CHUNK) {
      data = j->out ? (j->code == 0 ? j->count : j->index) * j->rsz : 0;
      if (j->code == HONE_ECRASHED || j->code == HONE_ETIMEDOUT) name_place(j->msg, sizeof j->msg);
    }
    size_t ml = j->code ? strlen(j->msg) : 0;
    total += sizeof(wire_result) + wire_pad8(ml) + wire_pad8(data);
  }
  unsigned char *buf = hm_buf_alloc(total);
  if (!buf) die("out of memory for results", MPI_ERR_NO_MEM);
  memcpy(buf, &n, sizeof n);
  size_t off = sizeof n;
  for (sjob *j = list, *next; j; j = next) {
    next = j->next;
    const void *data = NULL;
    size_t dl = 0;
    if (j->kind == WJ_SUBMIT && j->lf && j->code == 0) {
      data = hone_future_result_data(j->lf, &dl);
    } else if (j->kind == WJ_CHUNK && j->out) {
      data = j->out;
      dl = (j->code == 0 ? j->count : j->index) * j->rsz;
    }
    size_t ml = j->code ? strlen(j->msg) : 0;
    wire_result r = {.id = j->id,
                     .code = j->code,
                     .msg_len = (uint32_t)ml,
                     .index = j->index,
                     .data_len = dl,
                     .elapsed_ns = (uint64_t)(j->t1 - j->t0),
                     .busy_ns = (uint64_t)j->busy};
    memcpy(buf + off, &r, sizeof r);
    off += sizeof r;
    memcpy(buf + off, j->msg, ml);
    off += wire_pad8(ml);
    if (dl) memcpy(buf + off, data, dl);
    off += wire_pad8(dl);
    if (j->lf == S.await) S.await = NULL;
    hone_future_release(j->lf);
    hm_buf_free(j->out);
    free(j);
    S.held--;
  }
  send_bytes(W_RESULTS, buf, total);
  return true;
}

_Noreturn void hm_serve(void) {
  S.nrunners = 2 * hm.workers;
  S.runners = calloc(S.nrunners, sizeof *S.runners);
  if (!S.runners) die("out of memory", MPI_ERR_NO_MEM);
  for (unsigned i = 0; i < S.nrunners; i++)
    if (pthread_create(&S.runners[i], NULL, runner, NULL) != 0)
      die("no thread for map chunks", MPI_ERR_NO_MEM);
  /* Its naps are of 50 us: the default timer slack (50 us) would double them. */
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  bool stopping = false;
  uint64_t lost_ranks = 0; /* from rank 0's stop */
  int64_t last_work = hm_now();
  S.last_sent = last_work;
  for (;;) {
    bool progress = false;
    for (;;) {
      int flag = 0;
      MPI_Status st;
      int rc = MPI_Iprobe(0, MPI_ANY_TAG, hm.comm, &flag, &st);
      if (rc != MPI_SUCCESS) die("testing for rank 0's messages failed", rc);
      if (!flag) break;
      int cnt = 0;
      MPI_Get_count(&st, MPI_BYTE, &cnt);
      unsigned char *buf = hm_buf_alloc(cnt > 0 ? (size_t)cnt : 1);
      if (!buf) die("out of memory for a message", MPI_ERR_NO_MEM);
      rc = MPI_Recv(buf, cnt, MPI_BYTE, 0, st.MPI_TAG, hm.comm, MPI_STATUS_IGNORE);
      if (rc != MPI_SUCCESS) die("receiving from rank 0 failed", rc);
      switch (st.MPI_TAG) {
      case W_JOBS:
        on_jobs(buf, (size_t)cnt);
        break;
      case W_OPEN:
        on_open(buf, (size_t)cnt);
        break;
      case W_CLOSE:
        on_close(buf, (size_t)cnt);
        break;
      case W_STOP:
        stopping = true;
        if ((size_t)cnt >= sizeof(uint64_t)) memcpy(&lost_ranks, buf, sizeof lost_ranks);
        break;
      default:
        break;
      }
      hm_buf_free(buf);
      progress = true;
    }
    if (S.await) hone__future_await(S.await, 0, true); /* collects it if it ended */
    progress |= flush_outbox();
    progress |= test_sends();
    int64_t now = hm_now();
    if (S.held && now - S.last_sent >= hm_beat_ns()) send_u64(W_BEAT, 0);
    if (stopping && S.held == 0 && S.nsends == 0) break;
    if (progress) {
      last_work = now;
      continue;
    }
    int64_t idle = now - last_work;
    /* Spin (answer a quick job's successor without a wake-up) only while this rank holds no
     * job: a held job's task needs the core, and its completion signals the nap below. */
    if (idle < HM_SPIN_NS && S.held == 0) continue;
    int64_t nap = idle < 20000000 ? 50000 : idle < 1000000000 ? 500000 : 5000000;
    /* Every local worker busy and no send in flight: a new job would only queue, and a local
     * completion signals the nap, so test less often. Each nap's wake-up takes a CPU a worker
     * may need for a few microseconds: see nap_ns in root.c for what 50 us naps cost. */
    pthread_mutex_lock(&S.mu);
    bool all_busy = S.inside >= hm.workers;
    pthread_mutex_unlock(&S.mu);
    if (all_busy && S.nsends == 0 && nap < 1000000) nap = 1000000;
    if (S.held && nap > hm_beat_ns()) nap = hm_beat_ns();
    /* One job held, a submit: sleep on its future. With worker processes, the worker that ends
     * it wakes this thread, which collects the result itself (on_local_done runs here), so the
     * result leaves one wake-up sooner than through the pool's collector thread; no spin first,
     * as the worker may need this CPU (a rank bound to one core shares it with its workers). */
    if (S.held == 1 && S.await) {
      hone__future_await(S.await, now + nap, true);
      continue;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)nap;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_mutex_lock(&S.mu);
    if (!S.out_head) pthread_cond_timedwait(&S.cv, &S.mu, &ts);
    pthread_mutex_unlock(&S.mu);
  }
  pthread_mutex_lock(&S.mu);
  S.runners_stop = true;
  pthread_cond_broadcast(&S.cv_chunk);
  pthread_mutex_unlock(&S.mu);
  for (unsigned i = 0; i < S.nrunners; i++) pthread_join(S.runners[i], NULL);
  free(S.runners);
  while (S.pools) {
    spool *sp = S.pools;
    S.pools = sp->next;
    hone_pool_free(sp->pool);
    free(sp);
  }
  free(S.sends);
  hm_buf_trim();
  /* With a rank lost, MPI_Finalize waits for it forever (Open MPI 4.1 under
   * orte_enable_recovery does): end without it, as rank 0 does. */
  if (hm.we_init_mpi && lost_ranks == 0) {
    MPI_Comm_free(&hm.comm);
    MPI_Finalize();
  }
  exit(0);
}
