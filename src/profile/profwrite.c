/* profwrite.c: writes a stats file (docs/stats-format.md) from a description given through
 * callbacks. Compiled into libhone-prof.so (the runtime writes at exit and from signal handlers)
 * and into libhone (tests, tools). Async-signal-safe: no allocation, no stdio, only write(2). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "profformat.h"

#define WBUF 4096

typedef struct wbuf {
  int fd;
  int err;
  size_t len;
  uint64_t written;
  unsigned char b[WBUF];
} wbuf;

__attribute__((no_instrument_function)) static void flush(wbuf *w) {
  size_t off = 0;
  while (off < w->len && !w->err) {
    ssize_t n = write(w->fd, w->b + off, w->len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      w->err = HONE_EIO;
    } else if (n == 0) {
      w->err = HONE_EIO;
    } else {
      off += (size_t)n;
    }
  }
  w->len = 0;
}

__attribute__((no_instrument_function)) static void put(wbuf *w, const void *p, size_t n) {
  const unsigned char *s = p;
  w->written += n;
  while (n) {
    size_t room = WBUF - w->len, k = n < room ? n : room;
    memcpy(w->b + w->len, s, k);
    w->len += k;
    s += k;
    n -= k;
    if (w->len == WBUF) flush(w);
  }
}

__attribute__((no_instrument_function)) static void pad8(wbuf *w) {
  static const unsigned char zeros[8];
  if (w->written % 8) put(w, zeros, 8 - w->written % 8);
}

__attribute__((no_instrument_function)) static uint64_t slen(const char *s) {
  return s ? strlen(s) + 1 : 1;
}

__attribute__((no_instrument_function)) static void put_str(wbuf *w, const char *s) {
  if (s)
    put(w, s, strlen(s) + 1);
  else
    put(w, "", 1);
}

__attribute__((no_instrument_function)) static uint64_t align8(uint64_t x) {
  return (x + 7) & ~(uint64_t)7;
}

__attribute__((no_instrument_function)) int hone__prof_write_fd(int fd,
                                                                const hone__prof_wsrc *src) {
  /* Pass 1: sizes and string offsets. The string section holds, in order: the machine name,
   * argv, then per thread its name, then per map its path and build-id. */
  uint64_t strs = 1; /* offset 0 is the empty string */
  uint64_t machine_off = strs;
  strs += sizeof HONE__PROF_MACHINE;
  uint64_t argv_off = strs;
  for (size_t i = 0; i < src->argc; i++) strs += slen(src->argv[i]);
  uint64_t threads_names = strs;
  uint64_t nnodes = 0;
  for (size_t i = 0; i < src->nthreads; i++) {
    const hone__prof_wthread *t = src->thread(src->ctx, i);
    strs += slen(t->name);
    nnodes += t->nnodes;
  }
  uint64_t maps_strs = strs;
  for (size_t i = 0; i < src->nmaps; i++) {
    const hone__prof_wmap *m = src->map(src->ctx, i);
    strs += slen(m->path) + m->build_id_len;
  }
  strs += 1; /* the final NUL that makes every offset a terminated string */

  enum { NSEC = 9 };
  uint64_t npcs = 0;
  for (size_t i = 0; i < src->nthreads; i++) npcs += src->thread(src->ctx, i)->npcs;
  uint64_t off = sizeof(hone__prof_header) + NSEC * sizeof(hone__prof_section);
  hone__prof_section sec[NSEC] = {
      {HONE__SEC_INFO, sizeof(hone__prof_info_rec), 0, sizeof(hone__prof_info_rec)},
      {HONE__SEC_STRS, 1, 0, strs},
      {HONE__SEC_THREADS, sizeof(hone__prof_thread_rec), 0,
       src->nthreads * sizeof(hone__prof_thread_rec)},
      {HONE__SEC_NODES, sizeof(hone_prof_node), 0, nnodes * sizeof(hone_prof_node)},
      {HONE__SEC_MAPS, sizeof(hone__prof_map_rec), 0, src->nmaps * sizeof(hone__prof_map_rec)},
      {HONE__SEC_SAMPLES, sizeof(uint64_t), 0, nnodes * sizeof(uint64_t)},
      {HONE__SEC_TSAMPLES, sizeof(hone__prof_tsamples_rec), 0,
       src->nthreads * sizeof(hone__prof_tsamples_rec)},
      {HONE__SEC_PCS, sizeof(hone__prof_pc_rec), 0, npcs * sizeof(hone__prof_pc_rec)},
      {HONE__SEC_SAMPLING, sizeof(hone__prof_sampling_rec), 0, sizeof(hone__prof_sampling_rec)},
  };
  for (int i = 0; i < NSEC; i++) {
    off = align8(off);
    sec[i].offset = off;
    off += sec[i].size;
  }

  hone__prof_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, HONE__PROF_MAGIC, 8);
  h.byte_order = HONE__PROF_BYTE_ORDER;
  h.version = HONE__PROF_VERSION;
  h.header_size = sizeof h;
  h.nsections = NSEC;
  h.file_size = off;
  h.e_machine = HONE__PROF_E_MACHINE;

  wbuf w;
  w.fd = fd;
  w.err = 0;
  w.len = 0;
  w.written = 0;
  put(&w, &h, sizeof h);
  put(&w, sec, sizeof sec);

  hone__prof_info_rec info;
  memset(&info, 0, sizeof info);
  info.clock = src->clock;
  info.argc = (uint32_t)src->argc;
  info.ticks_per_second = src->ticks_per_second;
  info.pid = src->pid;
  info.ppid = src->ppid;
  info.start_unix_ns = src->start_unix_ns;
  info.total_ticks = src->total_ticks;
  info.overhead_inner_ticks = src->overhead_inner_ticks;
  info.overhead_outer_ticks = src->overhead_outer_ticks;
  info.argv_off = argv_off;
  info.machine_off = machine_off;
  info.clock_why = src->clock_why;
  info.times = src->times;
  info.sample_period_ns = src->sample_period_ns;
  pad8(&w);
  put(&w, &info, sizeof info);

  pad8(&w);
  put(&w, "", 1);
  put(&w, HONE__PROF_MACHINE, sizeof HONE__PROF_MACHINE);
  for (size_t i = 0; i < src->argc; i++) put_str(&w, src->argv[i]);
  for (size_t i = 0; i < src->nthreads; i++) put_str(&w, src->thread(src->ctx, i)->name);
  for (size_t i = 0; i < src->nmaps; i++) {
    const hone__prof_wmap *m = src->map(src->ctx, i);
    put_str(&w, m->path);
    if (m->build_id_len) put(&w, m->build_id, m->build_id_len);
  }
  put(&w, "", 1);

  pad8(&w);
  uint64_t name_off = threads_names, first = 0;
  for (size_t i = 0; i < src->nthreads; i++) {
    const hone__prof_wthread *t = src->thread(src->ctx, i);
    hone__prof_thread_rec r = {t->tid, name_off, first, t->nnodes};
    put(&w, &r, sizeof r);
    name_off += slen(t->name);
    first += t->nnodes;
  }

  pad8(&w);
  hone_prof_node nb[64];
  for (size_t i = 0; i < src->nthreads; i++) {
    uint64_t n = src->thread(src->ctx, i)->nnodes;
    for (uint64_t j = 0; j < n; j += 64) {
      size_t k = n - j < 64 ? (size_t)(n - j) : 64;
      src->nodes(src->ctx, i, j, nb, k);
      put(&w, nb, k * sizeof nb[0]);
    }
  }

  pad8(&w);
  uint64_t moff = maps_strs;
  for (size_t i = 0; i < src->nmaps; i++) {
    const hone__prof_wmap *m = src->map(src->ctx, i);
    hone__prof_map_rec r;
    memset(&r, 0, sizeof r);
    r.start = m->start;
    r.end = m->end;
    r.base = m->base;
    r.path_off = moff;
    moff += slen(m->path);
    r.build_id_off = moff;
    r.build_id_len = m->build_id_len;
    moff += m->build_id_len;
    put(&w, &r, sizeof r);
  }

  pad8(&w);
  uint64_t sb[64];
  for (size_t i = 0; i < src->nthreads; i++) {
    uint64_t n = src->thread(src->ctx, i)->nnodes;
    for (uint64_t j = 0; j < n; j += 64) {
      size_t k = n - j < 64 ? (size_t)(n - j) : 64;
      if (src->samples)
        src->samples(src->ctx, i, j, sb, k);
      else
        memset(sb, 0, k * sizeof sb[0]);
      put(&w, sb, k * sizeof sb[0]);
    }
  }

  pad8(&w);
  for (size_t i = 0; i < src->nthreads; i++) {
    const hone__prof_wthread *t = src->thread(src->ctx, i);
    hone__prof_tsamples_rec r = {t->samples_own, t->samples_outside, t->sampled, t->npcs};
    put(&w, &r, sizeof r);
  }

  pad8(&w);
  hone__prof_pc_rec pb[64];
  for (size_t i = 0; i < src->nthreads; i++) {
    uint64_t n = src->thread(src->ctx, i)->npcs;
    for (uint64_t j = 0; j < n; j += 64) {
      size_t k = n - j < 64 ? (size_t)(n - j) : 64;
      src->pcs(src->ctx, i, pb, k);
      put(&w, pb, k * sizeof pb[0]);
    }
  }
  pad8(&w);
  /* A source that says nothing of the scale (0) has none: 1. */
  hone__prof_sampling_rec sr = {src->sample_scale > 0 ? src->sample_scale : 1,
                                src->sample_scale > 0 ? src->scale_how : HONE__SCALE_NONE, 0};
  put(&w, &sr, sizeof sr);
  flush(&w);
  if (!w.err && w.written != h.file_size) w.err = HONE_EIO;
  return w.err;
}
