/* root.c: rank 0 — the HONE_POOL_MPI backend behind pool.h and its dispatcher thread.
 *
 * Data flow. hone_pool_submit appends a job to one FIFO (bounded per pool by queue_size); a map
 * registers itself and hands out chunks as destinations ask. The dispatcher thread, the only
 * thread that calls MPI after init, gives each destination up to two jobs per worker: rank 0's
 * own local pool (submitted to directly; its done callbacks hand the job back), and every other
 * rank (all the jobs it may take now, packed into one W_JOBS message). Results come back several
 * per W_RESULTS message; the dispatcher completes the futures (done callbacks run on it) and
 * copies map chunks into the caller's output. A map's caller runs chunks on rank 0's local pool
 * itself, so rank 0's cores work on maps without the dispatcher.
 *
 * Lost ranks. A rank is lost on an MPI error naming it, or when it has held jobs (or an open
 * request) for silence_ns without a message: its jobs go back to the queue (a map's chunks to
 * that map's retry list) or fail (fail_lost), and nothing is sent to it again. When no
 * destination is left, what is queued fails with HONE_ECRASHED.
 *
 * Waiting. The dispatcher spins (testing, lock released) for 50 us after its last progress, then
 * sleeps on a condition variable — 50 us at a time while other ranks hold jobs (to test for their
 * messages), without limit when no rank does (a submit, a map or a local completion wakes it). */
#include <pthread.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/buf.h"
#include "mpi/mpi_internal.h"
#include "mpi/wire.h"
#include "parallel/pool_internal.h"

typedef struct mctx mctx;
typedef struct mpool mpool;

typedef struct job {
  struct job *next, *prev;
  uint64_t id;
  uint32_t kind; /* WJ_* */
  mpool *mp;
  hone_future *f;  /* submit */
  hone_future *lf; /* run on rank 0's local pool: its future there */
  mctx *m;         /* chunk */
  size_t first, count;
  int rank; /* where it runs (0: rank 0's local pool) */
  int64_t sent;
  /* outcome, for completing it outside the lock */
  int code;
  char *msg;
  const void *data;
  size_t data_len;
} job;

struct mpool {
  mpool *next;
  hone_pool *pool;
  uint32_t id;
  hone_pool *local; /* rank 0's local pool, or NULL */
  wire_open cfg;
  size_t queue_size, queued, inflight;
  unsigned maps;
  bool shut, need_open;
  uint8_t *ready; /* per rank: 0 asked, 1 ready, 2 failed or lost */
  unsigned *workers;
  unsigned waiting; /* ranks yet to answer the open */
  int64_t open_sent;
  int open_rc;
  char open_msg[128];
};

struct mctx {
  mctx *next;
  mpool *mp;
  const hone__task *t;
  hone_task_id tid;
  const unsigned char *in;
  unsigned char *out;
  size_t in_stride, out_stride, n, chunk, rsz;
  size_t next_item;
  job *retry; /* chunks to hand out again (their rank was lost) */
  unsigned outstanding;
  bool stop, cancelled;
  size_t fail_index;
  int fail_code;
  char fail_msg[HONE_TASK_MESSAGE_MAX];
  double item_ns; /* an item's run time on one worker (busy_ns / count, running mean), 0 before */
};

typedef struct rk {
  bool lost;
  unsigned inflight;
  job *jobs; /* what it holds (doubly linked) */
  int64_t last_heard;
} rk;

typedef struct rsend {
  MPI_Request req;
  void *buf;
  int rank;
} rsend;

typedef struct outmsg {
  struct outmsg *next;
  int rank, tag;
  void *buf;
  size_t len;
} outmsg;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv_disp, cv_user;
  pthread_t thread;
  bool started, stop, stopped;
  rk *ranks;
  unsigned root_credit, root_inflight;
  job *pend_head, *pend_tail;
  mpool *pools;
  uint32_t next_pool;
  mctx *maps;
  uint64_t next_job;
  job *local_done;
  outmsg *closes; /* W_CLOSE messages queued by destroy */
  double rt_ns;   /* measured round trip beyond the rank's hold (see note_rt) */
  /* the round trip's last samples, oldest overwritten first; rt_ns is their median */
  double rt_ring[16];
  unsigned rt_samples;
  /* per task id, running means, 0 until measured: a job's run time on one worker
   * (wire_result.busy_ns) and, for a batch task, an item's */
  struct tstat {
    double run_ns, item_ns;
  } * tstats;
  size_t ntstats;
  uint64_t kicks; /* bumped (lock held) by whoever gives the dispatcher something to do */
  /* the dispatcher's own */
  rsend *sends;
  size_t nsends, capsends;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cv_disp = PTHREAD_COND_INITIALIZER,
       .cv_user = PTHREAD_COND_INITIALIZER};

/* Wakes the dispatcher (lock held). The count lets it tell, before it sleeps, that something
 * arrived while it had the lock released. */
static void kick(void) {
  R.kicks++;
  pthread_cond_signal(&R.cv_disp);
}

/* ---- lists ---- */

static void list_push(job **head, job *j) {
  j->prev = NULL;
  j->next = *head;
  if (*head) (*head)->prev = j;
  *head = j;
}

static void list_remove(job **head, job *j) {
  if (j->prev)
    j->prev->next = j->next;
  else
    *head = j->next;
  if (j->next) j->next->prev = j->prev;
  j->next = j->prev = NULL;
}

static void pend_append(job *j) {
  j->next = NULL;
  j->prev = R.pend_tail;
  if (R.pend_tail)
    R.pend_tail->next = j;
  else
    R.pend_head = j;
  R.pend_tail = j;
}

static void pend_prepend(job *j) {
  j->prev = NULL;
  j->next = R.pend_head;
  if (R.pend_head)
    R.pend_head->prev = j;
  else
    R.pend_tail = j;
  R.pend_head = j;
}

static void pend_remove(job *j) {
  if (j->prev)
    j->prev->next = j->next;
  else
    R.pend_head = j->next;
  if (j->next)
    j->next->prev = j->prev;
  else
    R.pend_tail = j->prev;
  j->next = j->prev = NULL;
}

static char *place_msg(const char *m, int rank) {
  char buf[HONE_TASK_MESSAGE_MAX + 96];
  snprintf(buf, sizeof buf, "%s (rank %d on %s)", m, rank, hm.info[rank].host);
  return strdup(buf);
}

/* ---- map chunks ---- */

static unsigned live_workers(const mpool *mp) {
  unsigned w = mp->local ? hone_pool_workers(mp->local) : 0;
  for (int r = 1; r < hm.size; r++)
    if (!R.ranks[r].lost && mp->ready[r] == 1) w += mp->workers[r];
  return w ? w : 1;
}

/* Guided: about 1/(4 x cores) of what is left, no smaller than what keeps the measured round
 * trip under 5 % of a chunk's time (20 round trips of work), and no larger than half a worker's
 * share of what is left (a map with less work than that is split evenly rather than given to
 * one rank whole), at most ~1 MiB of in + out. Half a share, because a rank may hold two jobs a
 * worker (credit_of): capped at a whole share of the map, as before, a rank of one worker took
 * two chunks of 20-21 of examples/distributed_map's 64 ranges at the start (20 round trips of
 * 2-6 ms, its naps included, at 3 ms an item), so rank 0's local pool ran 22-24 and waited, and
 * `mpirun -np 2` ran the map in 0.15-0.18 s where a local pool of 2 takes 0.095 s. */
static size_t chunk_size(mctx *m) {
  size_t left = m->n - m->next_item;
  if (m->chunk) return m->chunk < left ? m->chunk : left;
  size_t w = live_workers(m->mp);
  size_t c = left / (4 * w);
  if (m->item_ns > 0 && R.rt_ns > 0) {
    double need = 20.0 * R.rt_ns / m->item_ns;
    size_t min = need > (double)left ? left : (size_t)need + 1;
    if (c < min) c = min;
    size_t half_share = left / (2 * w);
    if (c > half_share) c = half_share;
    /* ...but not below 2 round trips of work, where a split costs more than it balances (a
     * map of 10^5 tiny items took 3.9-4.5 ms for 1.0-2.5 without this floor). */
    double two = 2.0 * R.rt_ns / m->item_ns;
    size_t least = two > (double)left ? left : (size_t)two + 1;
    if (c < least) c = least;
  }
  size_t per = m->in_stride + m->rsz;
  if (per && c > ((size_t)1 << 20) / per) c = ((size_t)1 << 20) / per;
  if (c == 0) c = 1;
  return c < left ? c : left;
}

static job *claim_chunk(mctx *m) {
  if (m->stop) return NULL;
  job *j = m->retry;
  if (j) {
    m->retry = j->next;
    j->next = NULL;
  } else {
    if (m->next_item >= m->n) return NULL;
    j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = WJ_CHUNK;
    j->m = m;
    j->mp = m->mp;
    j->first = m->next_item;
    j->count = chunk_size(m);
    m->next_item += j->count;
  }
  m->outstanding++;
  return j;
}

static void map_fail(mctx *m, size_t index, int code, const char *msg) {
  m->stop = true;
  if (index < m->fail_index) {
    m->fail_index = index;
    m->fail_code = code;
    snprintf(m->fail_msg, sizeof m->fail_msg, "%s", msg ? msg : hone_strerror(code));
  }
}

/* The statistics of task id, NULL when out of memory (nothing is then learnt about it). */
static struct tstat *tstat_of(hone_task_id id) {
  if (id < 0) return NULL;
  if ((size_t)id >= R.ntstats) {
    size_t n = (size_t)id + 16;
    struct tstat *h = realloc(R.tstats, n * sizeof *h);
    if (!h) return NULL; /* credit stays at two a worker for it */
    for (size_t i = R.ntstats; i < n; i++) h[i] = (struct tstat){0};
    R.tstats = h;
    R.ntstats = n;
  }
  return &R.tstats[id];
}

/* Task t's measured run time on one worker, 0 before one came back. */
static double run_ns_of(const hone__task *t) {
  hone_task_id id = hone__task_id_of(t);
  return id >= 0 && (size_t)id < R.ntstats ? R.tstats[id].run_ns : 0;
}

/* Per map and per task: an automatic map starts from what the task's last automatic maps
 * measured (a chunk the caller chose, 1 say, gives items times that are mostly per-job costs). */
static void note_item_time(mctx *m, double ns_per_item) {
  m->item_ns = m->item_ns > 0 ? 0.75 * m->item_ns + 0.25 * ns_per_item : ns_per_item;
  struct tstat *st = m->chunk ? NULL : tstat_of(m->tid);
  if (st) st->item_ns = m->item_ns;
}

/* ---- losing a rank ---- */

static job *fin_list; /* futures to complete outside the lock (the dispatcher's) */

static void fin_push(job *j) {
  j->next = fin_list;
  fin_list = j;
}

static void lose_rank(int r, const char *why) {
  rk *k = &R.ranks[r];
  if (k->lost) return;
  k->lost = true;
  atomic_fetch_add(&hm.lost, 1);
  char msg[256];
  snprintf(msg, sizeof msg, "rank %d on %s was lost: %s", r, hm.info[r].host, why);
  while (k->jobs) {
    job *j = k->jobs;
    list_remove(&k->jobs, j);
    k->inflight--;
    if (j->kind == WJ_SUBMIT) {
      if (hm.opts.fail_lost) {
        j->code = HONE_ECRASHED;
        j->msg = strdup(msg);
        fin_push(j);
      } else {
        j->mp->inflight--;
        j->mp->queued++;
        pend_prepend(j);
      }
    } else {
      mctx *m = j->m;
      m->outstanding--;
      if (hm.opts.fail_lost) {
        map_fail(m, j->first, HONE_ECRASHED, msg);
        free(j);
      } else {
        j->next = m->retry;
        m->retry = j;
      }
    }
  }
  for (mpool *mp = R.pools; mp; mp = mp->next) {
    if (mp->ready[r] == 0 && mp->waiting) mp->waiting--;
    mp->ready[r] = 2;
  }
  pthread_cond_broadcast(&R.cv_user);
}

/* Fails what nobody can run any more: a pool's queued jobs and maps when it has neither a local
 * pool nor a live ready rank. */
static void fail_orphans(void) {
  for (mpool *mp = R.pools; mp; mp = mp->next) {
    if (mp->local || mp->waiting || mp->need_open) continue;
    bool any = false;
    for (int r = 1; r < hm.size && !any; r++) any = !R.ranks[r].lost && mp->ready[r] == 1;
    if (any) continue;
    for (job *j = R.pend_head, *next; j; j = next) {
      next = j->next;
      if (j->mp != mp) continue;
      pend_remove(j);
      mp->queued--;
      mp->inflight++;
      j->code = HONE_ECRASHED;
      j->msg = strdup("no rank is left to run it: every rank serving this pool was lost");
      fin_push(j);
    }
    for (mctx *m = R.maps; m; m = m->next)
      if (m->mp == mp && !m->stop && (m->retry || m->next_item < m->n))
        map_fail(m, m->retry ? m->retry->first : m->next_item, HONE_ECRASHED,
                 "no rank is left to run it: every rank serving this pool was lost");
    pthread_cond_broadcast(&R.cv_user);
  }
}

/* ---- taking jobs for a destination ---- */

/* The next queued job that may go to rank d (0: the local pool), marked running; cancelled ones
 * are dropped on the way (their futures are complete already). */
static job *take_pending(int d, job **dropped) {
  for (job *j = R.pend_head, *next; j; j = next) {
    next = j->next;
    if (d == 0 ? !j->mp->local : j->mp->ready[d] != 1) continue;
    pend_remove(j);
    j->mp->queued--;
    hone__future_mark_running(j->f);
    if (atomic_load_explicit(&j->f->state, memory_order_acquire) != HONE__F_RUNNING) {
      j->next = *dropped; /* cancelled while queued */
      *dropped = j;
      continue;
    }
    j->mp->inflight++;
    return j;
  }
  return NULL;
}

static job *take_chunk(int d) {
  for (mctx *m = R.maps; m; m = m->next) {
    if (d == 0 || m->mp->ready[d] != 1) continue;
    job *j = claim_chunk(m);
    if (j) return j;
  }
  return NULL;
}

/* How many jobs rank r may hold while its next one is of task t: two per worker, so that a
 * worker finds its next job there when it finishes one, plus what the rank runs in two round
 * trips, so that the round trip is hidden: 2 x rt / (t's run time on one worker) per worker, at
 * most 64 per worker. The run time is the ranks' busy_ns (wire.h), not how long a rank held the
 * job: a hold time grows with the queue the credit itself builds, and sized by it the credit
 * settled at 4-5 jobs a worker for empty tasks, 79 k tasks/s on 2 ranks here, where 64 gave
 * 640-725 k. Run times are the task's own: a rank's, of whatever it ran last, let a burst of
 * 30 ms tasks after quick ones go nearly all (68-134 of 200 on 16 ranks) to the ranks at once,
 * beyond cancelling, before the first result corrected it. */
static unsigned credit_of(int r, const hone__task *t) {
  double per = 2;
  double run = run_ns_of(t);
  if (run > 0 && R.rt_ns > 0) {
    per = 2 + 2 * R.rt_ns / run;
    if (per > 64) per = 64;
  }
  return (unsigned)per * hm.info[r].workers;
}

static const hone__task *task_of(const job *j) {
  return j->kind == WJ_SUBMIT ? j->f->task : j->m->t;
}

/* Hands a job taken for a rank back to where it came from (sent again on a later round). */
static void untake(job *j) {
  if (j->kind == WJ_SUBMIT) {
    j->mp->inflight--;
    j->mp->queued++;
    pend_prepend(j);
  } else {
    j->m->outstanding--;
    j->next = j->m->retry;
    j->m->retry = j;
  }
}

static void note_run(const hone__task *t, double ns) {
  struct tstat *st = tstat_of(hone__task_id_of(t));
  if (st) st->run_ns = st->run_ns > 0 ? 0.875 * st->run_ns + 0.125 * ns : ns;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One round trip's overhead (a result's time from its send, less the rank's hold). The median of
 * the last 16, not a mean: the first job a napping rank receives waits for its nap (up to 5 ms,
 * serve.c), and that one sample in a running mean (the previous estimator) kept the round trip at
 * 5.6 ms through the maps that followed here, so map chunks 20 times too large. */
static void note_rt(double ns) {
  R.rt_ring[R.rt_samples++ % 16] = ns;
  unsigned k = R.rt_samples < 16 ? R.rt_samples : 16;
  double v[16];
  memcpy(v, R.rt_ring, k * sizeof *v);
  qsort(v, k, sizeof *v, cmp_double);
  R.rt_ns = k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

/* The task of the job take_pending(d) or else take_chunk(d) would give next, or NULL. */
static const hone__task *next_task_for(int d) {
  for (const job *j = R.pend_head; j; j = j->next)
    if (j->mp->ready[d] == 1) return j->f->task;
  for (const mctx *m = R.maps; m; m = m->next)
    if (m->mp->ready[d] == 1 && !m->stop && (m->retry || m->next_item < m->n)) return m->t;
  return NULL;
}

/* One W_JOBS message for rank r with the jobs its credit allows; NULL when there is none. */
static outmsg *pack_for(int r, job **dropped) {
  job *list = NULL, **tail = &list;
  unsigned n = 0;
  size_t total = sizeof(uint64_t);
  for (;;) {
    const hone__task *t = next_task_for(r);
    if (!t || R.ranks[r].inflight + n >= credit_of(r, t)) break;
    job *j = take_pending(r, dropped);
    if (!j) j = take_chunk(r);
    if (!j) break;
    j->id = ++R.next_job;
    j->rank = r;
    j->next = NULL; /* in queue order: the rank starts them in the order they were submitted */
    *tail = j;
    tail = &j->next;
    n++;
    const char *name = task_of(j)->name;
    size_t payload = j->kind == WJ_SUBMIT ? j->f->arg_size : j->count * j->m->in_stride;
    total += sizeof(wire_job) + wire_pad8(strlen(name)) + wire_pad8(payload);
  }
  if (!n) return NULL;
  outmsg *o = malloc(sizeof *o);
  unsigned char *buf = hm_buf_alloc(total);
  if (!o || !buf || total > (size_t)INT32_MAX) {
    /* Cannot send them now: back where they came from (tried again next round). */
    free(o);
    hm_buf_free(buf);
    for (job *j = list, *next; j; j = next) {
      next = j->next;
      untake(j);
    }
    return NULL;
  }
  uint64_t n64 = n;
  memcpy(buf, &n64, sizeof n64);
  size_t off = sizeof n64;
  int64_t now = hm_now();
  rk *k = &R.ranks[r];
  for (job *j = list, *next; j; j = next) {
    next = j->next;
    const hone__task *t = task_of(j);
    size_t nl = strlen(t->name);
    wire_job w = {.id = j->id,
                  .hash = t->hash,
                  .pool = j->mp->id,
                  .kind = j->kind,
                  .name_len = (uint32_t)nl,
                  .count = j->kind == WJ_SUBMIT ? 1 : j->count,
                  .in_stride = j->kind == WJ_SUBMIT ? j->f->arg_size : j->m->in_stride};
    w.payload = j->kind == WJ_SUBMIT ? j->f->arg_size : j->count * j->m->in_stride;
    memcpy(buf + off, &w, sizeof w);
    off += sizeof w;
    memcpy(buf + off, t->name, nl);
    off += wire_pad8(nl);
    if (w.payload)
      memcpy(buf + off,
             j->kind == WJ_SUBMIT ? (const void *)j->f->arg
                                  : (const void *)(j->m->in + j->first * j->m->in_stride),
             (size_t)w.payload);
    off += wire_pad8(w.payload);
    j->sent = now;
    list_push(&k->jobs, j);
    k->inflight++;
  }
  if (k->inflight == n) k->last_heard = now; /* silence counts from its first job */
  o->rank = r;
  o->tag = W_JOBS;
  o->buf = buf;
  o->len = total;
  return o;
}

/* ---- MPI (the dispatcher, lock released) ---- */

static void post(outmsg *o) {
  if (R.nsends == R.capsends) {
    size_t cap = R.capsends ? 2 * R.capsends : 16;
    rsend *s = realloc(R.sends, cap * sizeof *s);
    if (!s) { /* keep it for the next round */
      pthread_mutex_lock(&R.mu);
      o->next = R.closes;
      R.closes = o;
      pthread_mutex_unlock(&R.mu);
      return;
    }
    R.sends = s;
    R.capsends = cap;
  }
  rsend *s = &R.sends[R.nsends];
  int rc = MPI_Isend(o->buf, (int)o->len, MPI_BYTE, o->rank, o->tag, hm.comm, &s->req);
  if (rc != MPI_SUCCESS) {
    char m[160], why[200];
    hm_mpi_error(rc, m, sizeof m);
    snprintf(why, sizeof why, "a send to it failed: %s", m);
    pthread_mutex_lock(&R.mu);
    lose_rank(o->rank, why);
    pthread_mutex_unlock(&R.mu);
    hm_buf_free(o->buf);
  } else {
    s->buf = o->buf;
    s->rank = o->rank;
    R.nsends++;
  }
  free(o);
}

static bool test_sends(void) {
  bool any = false;
  for (size_t i = 0; i < R.nsends;) {
    rsend *s = &R.sends[i];
    int done = 0;
    bool lost;
    pthread_mutex_lock(&R.mu);
    lost = R.ranks[s->rank].lost;
    pthread_mutex_unlock(&R.mu);
    int rc = lost ? MPI_SUCCESS : MPI_Test(&s->req, &done, MPI_STATUS_IGNORE);
    if (lost) {
      /* A send to a lost rank may never complete: its buffer is left to it (a small leak
       * once per lost rank's last messages, never reused). */
      *s = R.sends[--R.nsends];
      any = true;
      continue;
    }
    if (rc != MPI_SUCCESS) {
      char m[160], why[200];
      hm_mpi_error(rc, m, sizeof m);
      snprintf(why, sizeof why, "a send to it failed: %s", m);
      pthread_mutex_lock(&R.mu);
      lose_rank(s->rank, why);
      pthread_mutex_unlock(&R.mu);
      *s = R.sends[--R.nsends];
      any = true;
      continue;
    }
    if (done) {
      hm_buf_free(s->buf);
      *s = R.sends[--R.nsends];
      any = true;
    } else {
      i++;
    }
  }
  return any;
}

static job *find_job(rk *k, uint64_t id) {
  for (job *j = k->jobs; j; j = j->next)
    if (j->id == id) return j;
  return NULL;
}

/* A W_RESULTS message from rank r (lock held). Submit results go to fin_list with pointers into
 * buf, which the caller frees after completing them. */
static void on_results(int r, const unsigned char *buf, size_t len) {
  rk *k = &R.ranks[r];
  uint64_t n;
  if (len < sizeof n) return;
  memcpy(&n, buf, sizeof n);
  size_t off = sizeof n;
  int64_t now = hm_now();
  for (uint64_t i = 0; i < n; i++) {
    wire_result w;
    if (len - off < sizeof w) return;
    memcpy(&w, buf + off, sizeof w);
    off += sizeof w;
    if (len - off < wire_pad8(w.msg_len) + w.data_len) return;
    const char *msg = (const char *)buf + off;
    off += wire_pad8(w.msg_len);
    const unsigned char *data = buf + off;
    off += wire_pad8(w.data_len);
    job *j = find_job(k, w.id);
    if (!j) continue; /* a rank thought lost answered after all: its job went elsewhere */
    list_remove(&k->jobs, j);
    k->inflight--;
    double over = (double)(now - j->sent) - (double)w.elapsed_ns;
    if (over > 0) note_rt(over);
    note_run(task_of(j), (double)w.busy_ns);
    if (j->kind == WJ_SUBMIT) {
      j->code = w.code;
      if (w.code < 0) j->msg = strndup(msg, w.msg_len);
      j->data = data;
      j->data_len = (size_t)w.data_len;
      fin_push(j);
      continue;
    }
    mctx *m = j->m;
    size_t done = w.code < 0 ? (size_t)w.index : j->count;
    if (done > j->count) done = j->count;
    if (m->rsz && w.data_len >= done * m->rsz)
      for (size_t t = 0; t < done; t++)
        memcpy(m->out + (j->first + t) * m->out_stride, data + t * m->rsz, m->rsz);
    if (w.code < 0) {
      char mb[HONE_TASK_MESSAGE_MAX];
      snprintf(mb, sizeof mb, "%.*s", (int)w.msg_len, msg);
      map_fail(m, j->first + done, w.code, mb);
    } else if (j->count) {
      note_item_time(m, (double)w.busy_ns / (double)j->count);
    }
    m->outstanding--;
    free(j);
    pthread_cond_broadcast(&R.cv_user);
  }
}

static void on_ready(int r, const unsigned char *buf, size_t len) {
  wire_ready w;
  if (len < sizeof w) return;
  memcpy(&w, buf, sizeof w);
  for (mpool *mp = R.pools; mp; mp = mp->next) {
    if (mp->id != w.pool || mp->ready[r] != 0) continue;
    mp->ready[r] = w.rc == 0 ? 1 : 2;
    mp->workers[r] = w.workers;
    if (w.rc < 0 && mp->open_rc == 0) {
      mp->open_rc = w.rc;
      snprintf(mp->open_msg, sizeof mp->open_msg, "%.*s", (int)sizeof w.message - 1, w.message);
    }
    if (mp->waiting) mp->waiting--;
    pthread_cond_broadcast(&R.cv_user);
  }
}

/* Receives every message waiting; returns the buffers of submit results still referenced. */
static bool receive_all(void **keep, size_t *nkeep, size_t capkeep) {
  bool any = false;
  for (;;) {
    int flag = 0;
    MPI_Status st;
    int rc = MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, hm.comm, &flag, &st);
    if (rc != MPI_SUCCESS || !flag) break;
    int cnt = 0;
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    unsigned char *buf = hm_buf_alloc(cnt > 0 ? (size_t)cnt : 1);
    if (!buf) break;
    rc = MPI_Recv(buf, cnt, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, hm.comm, MPI_STATUS_IGNORE);
    int r = st.MPI_SOURCE;
    pthread_mutex_lock(&R.mu);
    if (rc != MPI_SUCCESS) {
      char m[160], why[200];
      hm_mpi_error(rc, m, sizeof m);
      snprintf(why, sizeof why, "a receive from it failed: %s", m);
      lose_rank(r, why);
    } else if (r > 0 && r < hm.size && !R.ranks[r].lost) {
      R.ranks[r].last_heard = hm_now();
      if (st.MPI_TAG == W_RESULTS)
        on_results(r, buf, (size_t)cnt);
      else if (st.MPI_TAG == W_READY)
        on_ready(r, buf, (size_t)cnt);
    }
    pthread_mutex_unlock(&R.mu);
    any = true;
    if (st.MPI_TAG == W_RESULTS && *nkeep < capkeep) {
      keep[(*nkeep)++] = buf;
    } else {
      hm_buf_free(buf);
    }
    if (*nkeep == capkeep) break; /* complete these first */
  }
  return any;
}

/* Completes the futures of fin_list (lock released). */
static void complete_fin(job *list) {
  for (job *j = list, *next; j; j = next) {
    next = j->next;
    hone_future *f = j->f;
    mpool *mp = j->mp;
    hone__pool_set_serving(mp->pool);
    hone__future_finish(f, j->code, j->msg, j->data, j->data_len, NULL, NULL);
    hone__pool_set_serving(NULL);
    hone_future_release(f);
    if (j->lf) hone_future_release(j->lf);
    free(j->msg);
    free(j);
    pthread_mutex_lock(&R.mu);
    mp->inflight--;
    pthread_cond_broadcast(&R.cv_user);
    pthread_mutex_unlock(&R.mu);
  }
}

/* ---- rank 0's local pool ---- */

static void on_root_done(hone_future *lf, void *arg) {
  (void)lf;
  job *j = arg;
  pthread_mutex_lock(&R.mu);
  j->next = R.local_done;
  R.local_done = j;
  kick();
  pthread_mutex_unlock(&R.mu);
}

static void run_local(job *list) {
  for (job *j = list, *next; j; j = next) {
    next = j->next;
    int rc = hone_pool_submit(j->mp->local, hone__task_id_of(j->f->task), j->f->arg, j->f->arg_size,
                              HONE_WAIT_FOREVER, &j->lf);
    if (rc == 0) rc = hone_future_add_done_callback(j->lf, on_root_done, j);
    if (rc < 0) {
      if (j->lf) hone_future_result(j->lf, HONE_WAIT_FOREVER, NULL, 0);
      on_root_done(j->lf, j);
    }
  }
}

/* The outcome of a job run on the local pool, into the job (lock held or not: lf is done). */
static void local_outcome(job *j) {
  int code = 0;
  const char *m = NULL;
  if (!j->lf) {
    j->code = HONE_ENOMEM;
    return;
  }
  if (hone_future_error(j->lf, 0, &code, &m) == HONE_ETASK) {
    j->code = code;
    j->msg = code == HONE_ECRASHED || code == HONE_ETIMEDOUT ? place_msg(m, 0) : strdup(m);
  } else {
    j->data = hone_future_result_data(j->lf, &j->data_len);
  }
}

/* ---- the dispatcher ---- */

/* How soon a result may come (lock held): the least run time of the tasks of the jobs the
 * ranks hold (each rank's newest job stands for its jobs), 0 when one is not yet measured. */
static double next_result_ns(void) {
  double soon = -1;
  for (int r = 1; r < hm.size; r++) {
    const job *j = R.ranks[r].lost ? NULL : R.ranks[r].jobs;
    if (!j) continue;
    double run = run_ns_of(task_of(j));
    if (soon < 0 || run < soon) soon = run;
  }
  return soon < 0 ? 0 : soon;
}

/* The dispatcher's nap between tests while ranks hold jobs: an eighth of how soon a result may
 * come, from 50 us to 1 ms. Each wake-up of a nap takes a few microseconds of a CPU that a
 * worker may need: with 50 us naps the single worker of `mpirun -np 2` took 0.27-0.30 s for
 * the primes map that a lone process runs in 0.18 s (the serving rank napped 50 us too); with
 * 0.5 ms naps, 0.20 s. A result waits at most an eighth of its task's time more. */
static long nap_ns(double soon) {
  double nap = soon / 8;
  return nap < 50000 ? 50000 : nap > 1000000 ? 1000000 : (long)nap;
}

static void *dispatcher(void *arg) {
  (void)arg;
  enum { KEEP = 64 };
  void *keep[KEEP];
  int64_t last_progress = hm_now();
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* see serve.c */
  bool stop_sent = false;
  int64_t stop_at = 0;
  pthread_mutex_lock(&R.mu);
  for (;;) {
    bool progress = false;
    uint64_t kicks = R.kicks;
    job *dropped = NULL, *local = NULL;
    outmsg *out = NULL;
    /* completions of the local pool */
    while (R.local_done) {
      job *j = R.local_done;
      R.local_done = j->next;
      R.root_inflight--;
      local_outcome(j);
      fin_push(j);
      progress = true;
    }
    /* opens and closes */
    for (mpool *mp = R.pools; mp; mp = mp->next) {
      if (!mp->need_open) continue;
      mp->need_open = false;
      mp->open_sent = hm_now();
      for (int r = 1; r < hm.size; r++) {
        if (R.ranks[r].lost) {
          mp->ready[r] = 2;
          continue;
        }
        outmsg *o = malloc(sizeof *o);
        wire_open *b = hm_buf_alloc(sizeof *b);
        if (!o || !b) {
          free(o);
          hm_buf_free(b);
          mp->ready[r] = 2;
          continue;
        }
        *b = mp->cfg;
        *o = (outmsg){.next = out, .rank = r, .tag = W_OPEN, .buf = b, .len = sizeof *b};
        if (!R.ranks[r].inflight) R.ranks[r].last_heard = mp->open_sent; /* silence from now */
        out = o;
        mp->waiting++;
      }
      pthread_cond_broadcast(&R.cv_user);
      progress = true;
    }
    while (R.closes) {
      outmsg *o = R.closes;
      R.closes = o->next;
      if (o->rank > 0 && R.ranks[o->rank].lost) {
        hm_buf_free(o->buf);
        free(o);
        continue;
      }
      o->next = out;
      out = o;
      progress = true;
    }
    /* jobs */
    for (job **tail = &local; R.root_inflight < R.root_credit;) {
      job *j = take_pending(0, &dropped);
      if (!j) break;
      j->rank = 0;
      j->next = NULL; /* in queue order */
      *tail = j;
      tail = &j->next;
      R.root_inflight++;
      progress = true;
    }
    for (int r = 1; r < hm.size; r++) {
      rk *k = &R.ranks[r];
      if (k->lost) continue;
      outmsg *o = pack_for(r, &dropped);
      if (o) {
        o->next = out;
        out = o;
        progress = true;
      }
    }
    /* silence */
    int64_t now = hm_now();
    for (int r = 1; r < hm.size; r++) {
      rk *k = &R.ranks[r];
      bool owes = k->inflight > 0;
      for (mpool *mp = R.pools; mp && !owes; mp = mp->next) owes = mp->ready[r] == 0 && mp->waiting;
      if (!k->lost && owes && now - k->last_heard > hm.opts.silence_ns) {
        char why[96];
        snprintf(why, sizeof why, "no message from it for %.1f s",
                 (double)(now - k->last_heard) / 1e9);
        lose_rank(r, why);
        progress = true;
      }
    }
    fail_orphans();
    bool remote_busy = R.nsends > 0;
    double soon = next_result_ns();
    for (int r = 1; r < hm.size && !remote_busy; r++)
      remote_busy = !R.ranks[r].lost && R.ranks[r].inflight > 0;
    for (mpool *mp = R.pools; mp && !remote_busy; mp = mp->next) remote_busy = mp->waiting > 0;
    bool finishing = R.stop && !R.pools;
    job *fin = fin_list;
    fin_list = NULL;
    pthread_mutex_unlock(&R.mu);

    /* --- lock released: MPI, the local pool, completions --- */
    for (job *j = dropped, *next; j; j = next) {
      next = j->next;
      hone_future_release(j->f);
      pthread_mutex_lock(&R.mu);
      pthread_cond_broadcast(&R.cv_user);
      pthread_mutex_unlock(&R.mu);
      free(j);
    }
    run_local(local);
    for (outmsg *o = out, *next; o; o = next) {
      next = o->next;
      post(o);
    }
    progress |= test_sends();
    size_t nkeep = 0;
    progress |= receive_all(keep, &nkeep, KEEP);
    pthread_mutex_lock(&R.mu);
    job *more = fin_list;
    fin_list = NULL;
    pthread_mutex_unlock(&R.mu);
    complete_fin(fin);
    complete_fin(more);
    for (size_t i = 0; i < nkeep; i++) hm_buf_free(keep[i]);
    if (fin || more) progress = true;

    if (finishing) {
      if (!stop_sent) {
        stop_sent = true;
        stop_at = hm_now();
        for (int r = 1; r < hm.size; r++) {
          pthread_mutex_lock(&R.mu);
          bool lost = R.ranks[r].lost;
          pthread_mutex_unlock(&R.mu);
          if (lost) continue;
          outmsg *o = malloc(sizeof *o);
          uint64_t *b = hm_buf_alloc(sizeof *b);
          if (!o || !b) {
            free(o);
            hm_buf_free(b);
            continue;
          }
          *b = atomic_load(&hm.lost); /* then nobody may finalize: it would wait for the lost */
          *o = (outmsg){.rank = r, .tag = W_STOP, .buf = b, .len = sizeof *b};
          post(o);
        }
      }
      test_sends();
      /* The stops are sent once their sends complete; a rank that does not take its stop
       * within the silence bound is not waited for. */
      if (R.nsends == 0 || hm_now() - stop_at > hm.opts.silence_ns) break;
      hm_sleep_ns(50000);
      pthread_mutex_lock(&R.mu);
      continue;
    }

    pthread_mutex_lock(&R.mu);
    now = hm_now();
    if (progress) {
      last_progress = now;
      continue;
    }
    if (R.kicks != kicks || R.local_done || R.closes || (R.stop && !R.pools)) continue;
    if (now - last_progress < HM_SPIN_NS && remote_busy && soon < HM_SPIN_NS) {
      pthread_mutex_unlock(&R.mu);
      for (int i = 0; i < 64; i++) __builtin_ia32_pause();
      pthread_mutex_lock(&R.mu);
      continue;
    }
    if (remote_busy) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += R.nsends ? 50000 : nap_ns(soon); /* a send in flight progresses in tests */
      ts.tv_sec += ts.tv_nsec / 1000000000;
      ts.tv_nsec %= 1000000000;
      pthread_cond_timedwait(&R.cv_disp, &R.mu, &ts);
    } else {
      pthread_cond_wait(&R.cv_disp, &R.mu);
    }
  }
  pthread_mutex_lock(&R.mu);
  R.stopped = true;
  pthread_cond_broadcast(&R.cv_user);
  pthread_mutex_unlock(&R.mu);
  return NULL;
}

/* ---- the backend's operations ---- */

static int abs_deadline(int64_t timeout_ns, struct timespec *ts) {
  if (timeout_ns < 0) return 0;
  clock_gettime(CLOCK_REALTIME, ts);
  int64_t ns = ts->tv_nsec + timeout_ns % 1000000000;
  ts->tv_sec += (time_t)(timeout_ns / 1000000000 + ns / 1000000000);
  ts->tv_nsec = (long)(ns % 1000000000);
  return 1;
}

static void mpool_free(mpool *mp) {
  free(mp->ready);
  free(mp->workers);
  free(mp);
}

static void op_destroy(hone_pool *pool);

static int op_create(hone_pool *pool, const hone_pool_options *o) {
  if (o->initializer) return HONE_ENOTSUP;
  mpool *mp = calloc(1, sizeof *mp);
  if (!mp) return HONE_ENOMEM;
  mp->ready = calloc((size_t)hm.size, 1);
  mp->workers = calloc((size_t)hm.size, sizeof *mp->workers);
  if (!mp->ready || !mp->workers) {
    mpool_free(mp);
    return HONE_ENOMEM;
  }
  mp->pool = pool;
  mp->queue_size = o->queue_size;
  mp->cfg.max_tasks_per_child = o->max_tasks_per_child;
  mp->cfg.task_timeout_ns = o->task_timeout_ns;
  if (R.root_credit) {
    hone_pool_options lo;
    hone_pool_options_init(&lo);
    lo.backend = hm.opts.local_backend;
    lo.workers = hm.workers;
    lo.max_tasks_per_child = o->max_tasks_per_child;
    lo.task_timeout_ns = o->task_timeout_ns;
    int rc = hone_pool_new_ex(&mp->local, &lo);
    if (rc < 0) {
      mpool_free(mp);
      return rc;
    }
  }
  pthread_mutex_lock(&R.mu);
  if (R.stop) {
    pthread_mutex_unlock(&R.mu);
    hone_pool_free(mp->local);
    mpool_free(mp);
    return HONE_ESHUTDOWN;
  }
  mp->id = ++R.next_pool;
  mp->cfg.pool = mp->id;
  mp->need_open = hm.size > 1;
  mp->next = R.pools;
  R.pools = mp;
  kick();
  while (mp->need_open || mp->waiting) pthread_cond_wait(&R.cv_user, &R.mu);
  unsigned w = mp->local ? hone_pool_workers(mp->local) : 0;
  bool any = mp->local != NULL;
  for (int r = 1; r < hm.size; r++)
    if (mp->ready[r] == 1) {
      w += mp->workers[r];
      any = true;
    }
  int rc = any ? 0 : (mp->open_rc ? mp->open_rc : HONE_ECRASHED);
  pthread_mutex_unlock(&R.mu);
  if (rc < 0) {
    /* No destination at all: take it out again (the ranks that did answer close their pool). */
    mp->shut = true;
    pool->impl = mp;
    op_destroy(pool);
    return rc == HONE_ECRASHED ? HONE_ESYS : rc;
  }
  pool->impl = mp;
  pool->workers = w;
  return 0;
}

static int op_submit(hone_pool *pool, hone_future *f, int64_t timeout_ns) {
  mpool *mp = pool->impl;
  job *j = calloc(1, sizeof *j);
  if (!j) return HONE_ENOMEM;
  j->kind = WJ_SUBMIT;
  j->f = f;
  j->mp = mp;
  struct timespec ts;
  int has_deadline = abs_deadline(timeout_ns, &ts);
  pthread_mutex_lock(&R.mu);
  while (!mp->shut && mp->queued >= mp->queue_size) {
    if (timeout_ns == 0 || (has_deadline ? pthread_cond_timedwait(&R.cv_user, &R.mu, &ts)
                                         : pthread_cond_wait(&R.cv_user, &R.mu)) != 0) {
      if (mp->queued >= mp->queue_size && !mp->shut) {
        pthread_mutex_unlock(&R.mu);
        free(j);
        return HONE_ETIMEDOUT;
      }
    }
  }
  if (mp->shut) {
    pthread_mutex_unlock(&R.mu);
    free(j);
    return HONE_ESHUTDOWN;
  }
  pend_append(j);
  mp->queued++;
  kick();
  pthread_mutex_unlock(&R.mu);
  return 0;
}

static int op_map(hone_pool *pool, const hone__task *t, const void *in, size_t in_stride, void *out,
                  size_t out_stride, size_t n, size_t chunk, hone_map_error *err) {
  mpool *mp = pool->impl;
  mctx m = {.mp = mp,
            .t = t,
            .tid = hone__task_id_of(t),
            .in = in,
            .out = out,
            .in_stride = in_stride,
            .out_stride = out_stride,
            .n = n,
            .chunk = chunk,
            .rsz = t->result_size,
            .fail_index = SIZE_MAX};
  pthread_mutex_lock(&R.mu);
  if (mp->shut) {
    pthread_mutex_unlock(&R.mu);
    return HONE_ESHUTDOWN;
  }
  struct tstat *st = chunk ? NULL : tstat_of(m.tid);
  if (st) m.item_ns = st->item_ns;
  m.next = R.maps;
  R.maps = &m;
  mp->maps++;
  kick();
  if (mp->local) {
    job *j;
    while ((j = claim_chunk(&m))) {
      pthread_mutex_unlock(&R.mu);
      hone_map_error e;
      int64_t t0 = hm_now();
      int rc = hone_pool_map(mp->local, m.tid, m.in + j->first * in_stride, in_stride,
                             m.out + j->first * out_stride, out_stride, j->count, 0, &e);
      int64_t t1 = hm_now();
      pthread_mutex_lock(&R.mu);
      m.outstanding--;
      if (rc == HONE_ETASK) {
        char *pm =
            e.code == HONE_ECRASHED || e.code == HONE_ETIMEDOUT ? place_msg(e.message, 0) : NULL;
        map_fail(&m, j->first + e.index, e.code, pm ? pm : e.message);
        free(pm);
      } else if (rc < 0) {
        map_fail(&m, j->first, rc, NULL);
      } else {
        /* its local map ran on all of the local pool's workers: per item on one, as a rank's */
        note_item_time(&m, (double)(t1 - t0) * hone_pool_workers(mp->local) / (double)j->count);
      }
      free(j);
    }
  }
  while (m.outstanding || (!m.stop && (m.retry || m.next_item < m.n)))
    pthread_cond_wait(&R.cv_user, &R.mu);
  for (mctx **pp = &R.maps; *pp; pp = &(*pp)->next)
    if (*pp == &m) {
      *pp = m.next;
      break;
    }
  while (m.retry) {
    job *j = m.retry;
    m.retry = j->next;
    free(j);
  }
  mp->maps--;
  pthread_cond_broadcast(&R.cv_user);
  pthread_mutex_unlock(&R.mu);
  if (m.cancelled && m.fail_index == SIZE_MAX) return HONE_ECANCELED;
  if (m.fail_index != SIZE_MAX) {
    if (err) {
      err->index = m.fail_index;
      err->code = m.fail_code;
      snprintf(err->message, sizeof err->message, "%s", m.fail_msg);
    }
    return HONE_ETASK;
  }
  return 0;
}

static bool op_help(hone_pool *pool) {
  (void)pool;
  return false; /* no worker of this pool runs in this process's threads */
}

static int op_shutdown(hone_pool *pool, bool wait, bool cancel_pending) {
  mpool *mp = pool->impl;
  job *cancel = NULL;
  pthread_mutex_lock(&R.mu);
  mp->shut = true;
  if (cancel_pending) {
    for (job *j = R.pend_head, *next; j; j = next) {
      next = j->next;
      if (j->mp != mp ||
          atomic_load_explicit(&j->f->state, memory_order_acquire) == HONE__F_RUNNING)
        continue; /* a lost rank's job queued again is running, not pending */
      pend_remove(j);
      mp->queued--;
      j->next = cancel;
      cancel = j;
    }
    for (mctx *m = R.maps; m; m = m->next)
      if (m->mp == mp && !m->stop) {
        m->stop = true;
        m->cancelled = true;
      }
  }
  pthread_cond_broadcast(&R.cv_user);
  kick();
  pthread_mutex_unlock(&R.mu);
  for (job *j = cancel, *next; j; j = next) {
    next = j->next;
    hone__future_cancel_pending(j->f);
    hone_future_release(j->f);
    free(j);
  }
  if (wait) {
    pthread_mutex_lock(&R.mu);
    while (mp->queued || mp->inflight || mp->maps) pthread_cond_wait(&R.cv_user, &R.mu);
    pthread_mutex_unlock(&R.mu);
    if (mp->local) hone_pool_shutdown(mp->local, true, false);
  }
  return 0;
}

static void op_destroy(hone_pool *pool) {
  mpool *mp = pool->impl;
  if (!mp) return;
  pthread_mutex_lock(&R.mu);
  for (mpool **pp = &R.pools; *pp; pp = &(*pp)->next)
    if (*pp == mp) {
      *pp = mp->next;
      break;
    }
  for (int r = 1; r < hm.size && !R.stopped; r++) {
    if (mp->ready[r] != 1 || R.ranks[r].lost) continue;
    outmsg *o = malloc(sizeof *o);
    wire_open *b = hm_buf_alloc(sizeof *b);
    if (!o || !b) {
      free(o);
      hm_buf_free(b);
      continue;
    }
    *b = mp->cfg;
    *o = (outmsg){.next = R.closes, .rank = r, .tag = W_CLOSE, .buf = b, .len = sizeof *b};
    R.closes = o;
  }
  kick();
  pthread_cond_broadcast(&R.cv_user);
  pthread_mutex_unlock(&R.mu);
  hone_pool_free(mp->local);
  mpool_free(mp);
  pool->impl = NULL;
}

static int op_cancel(hone_pool *pool, hone_future *f) {
  (void)pool;
  (void)f;
  return HONE_EBUSY; /* not used: futures of this backend are not remote (see op_submit) */
}

static void op_refresh(hone_pool *pool, hone_future *f) {
  (void)pool;
  (void)f;
}

static const hone__pool_ops backend_mpi = {
    .name = "mpi",
    .create = op_create,
    .submit = op_submit,
    .map = op_map,
    .help = op_help,
    .shutdown = op_shutdown,
    .destroy = op_destroy,
    .cancel = op_cancel,
    .refresh = op_refresh,
};

int hm_root_start(void) {
  R.ranks = calloc((size_t)hm.size, sizeof *R.ranks);
  if (!R.ranks) return HONE_ENOMEM;
  R.root_credit = 2 * hm.workers;
  if (pthread_create(&R.thread, NULL, dispatcher, NULL) != 0) {
    free(R.ranks);
    return HONE_ESYS;
  }
  R.started = true;
  hone__pool_install_backend(HONE_POOL_MPI, &backend_mpi);
  return 0;
}

void hm_root_stop(void) {
  if (!R.started) return;
  /* Pools the program did not free: shut down (their queued tasks cancelled, running ones waited
   * for), so that the other ranks can be stopped; freeing them later stays valid. */
  pthread_mutex_lock(&R.mu);
  for (;;) {
    mpool *open = NULL;
    for (mpool *mp = R.pools; mp && !open; mp = mp->next)
      if (!mp->shut || mp->queued || mp->inflight || mp->maps) open = mp;
    if (!open) break;
    pthread_mutex_unlock(&R.mu);
    op_shutdown(open->pool, true, true);
    pthread_mutex_lock(&R.mu);
  }
  while (R.pools) {
    mpool *mp = R.pools;
    R.pools = mp->next; /* its CLOSE is not needed: the ranks stop */
  }
  R.stop = true;
  kick();
  pthread_mutex_unlock(&R.mu);
  pthread_join(R.thread, NULL);
  hone__pool_install_backend(HONE_POOL_MPI, NULL);
  free(R.tstats); /* touched with the lock held only */
  R.tstats = NULL;
  R.ntstats = 0;
  hm_buf_trim();
}
