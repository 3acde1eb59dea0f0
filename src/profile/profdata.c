/* profdata.c: reading, validating and merging stats files (include/hone/profdata.h; the layout is
 * in profformat.h and docs/stats-format.md). The reader trusts nothing: every count, offset and
 * string is checked against the buffer with overflow-safe arithmetic before it is used, and a
 * profile is only returned once the whole file has been checked. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hone/profdata.h"
#include "profformat.h"

/* Larger files are refused before reading: a profile of a huge program is tens of MB. */
#define MAX_FILE_SIZE ((uint64_t)1 << 34)
#define MAX_SECTIONS 64u

struct hone_profile {
  hone_prof_info info;
  hone_prof_thread *threads;
  size_t nthreads, cap_threads;
  hone_prof_mapping *maps;
  size_t nmaps, cap_maps;
  /* Every block the profile owns (string tables, node arrays, argv), freed together. */
  void **blocks;
  size_t nblocks, cap_blocks;
};

static int fail(char *errbuf, size_t errlen, int code, const char *fmt, ...) HONE_PRINTF(4, 5);
static int fail(char *errbuf, size_t errlen, int code, const char *fmt, ...) {
  if (errbuf && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

static int own(hone_profile *p, void *block) {
  if (!block) return HONE_ENOMEM;
  if (p->nblocks == p->cap_blocks) {
    size_t cap = p->cap_blocks ? p->cap_blocks * 2 : 8;
    void **b = realloc(p->blocks, cap * sizeof *b);
    if (!b) {
      free(block);
      return HONE_ENOMEM;
    }
    p->blocks = b;
    p->cap_blocks = cap;
  }
  p->blocks[p->nblocks++] = block;
  return 0;
}

void hone_profile_free(hone_profile *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nblocks; i++) free(p->blocks[i]);
  free(p->blocks);
  free(p->threads);
  free(p->maps);
  free(p);
}

/* A string at `off` in the string section: valid when in bounds (the section ends with a NUL,
 * checked once, so every in-bounds offset starts a terminated string). */
static bool str_ok(uint64_t strs_size, uint64_t off) {
  return off < strs_size;
}

static const char *sec_name(uint32_t id) {
  switch (id) {
  case HONE__SEC_INFO:
    return "info";
  case HONE__SEC_STRS:
    return "strings";
  case HONE__SEC_THREADS:
    return "threads";
  case HONE__SEC_NODES:
    return "nodes";
  case HONE__SEC_MAPS:
    return "maps";
  case HONE__SEC_SAMPLES:
    return "samples";
  case HONE__SEC_TSAMPLES:
    return "thread samples";
  case HONE__SEC_PCS:
    return "sample addresses";
  case HONE__SEC_SAMPLING:
    return "sampling";
  }
  return "unknown";
}

static const char *clock_name(uint32_t c) {
  switch (c) {
  case HONE__CLOCK_TSC:
    return "tsc";
  case HONE__CLOCK_CNTVCT:
    return "cntvct";
  case HONE__CLOCK_MONOTONIC:
    return "monotonic";
  }
  return NULL;
}

static const char *clock_why_name(uint32_t version, uint32_t w) {
  static const char *const names[] = {"no counter", "cpuid", "kernel",
                                      "variable",   "asked", "implausible"};
  if (version < 2) return "unknown";
  return w <= HONE__CLOCKWHY_MAX ? names[w] : NULL;
}

/* The architecture an ELF machine number stands for, for the refusal message. */
static const char *machine_name(uint32_t e_machine) {
  switch (e_machine) {
  case 3:
    return "i386";
  case 8:
    return "mips";
  case 20:
    return "ppc";
  case 21:
    return "ppc64";
  case 22:
    return "s390x";
  case 40:
    return "arm";
  case 62:
    return "x86_64";
  case 183:
    return "aarch64";
  case 243:
    return "riscv64";
  case 258:
    return "loongarch64";
  default:
    return "unknown";
  }
}

static uint32_t bswap32(uint32_t x) {
  return __builtin_bswap32(x);
}

int hone_profile_read_mem(const void *buf, size_t len, hone_profile **out, char *errbuf,
                          size_t errlen) {
#define BAD(...) fail(errbuf, errlen, HONE_EFORMAT, __VA_ARGS__)
  if (out) *out = NULL;
  if (!out || (!buf && len)) return fail(errbuf, errlen, HONE_EINVAL, "invalid argument");
  const unsigned char *b = buf;
  if (len < 8 || memcmp(b, HONE__PROF_MAGIC, 8) != 0)
    return BAD(len < 8 && memcmp(b, HONE__PROF_MAGIC, len) == 0
                   ? "truncated: %zu bytes, shorter than the header"
                   : "not a hone stats file (bad magic; %zu bytes)",
               len);
  hone__prof_header h;
  if (len < sizeof h)
    return BAD("truncated: %zu bytes, shorter than the %zu-byte header", len, sizeof h);
  memcpy(&h, b, sizeof h);
  if (h.byte_order != HONE__PROF_BYTE_ORDER) {
    if (h.byte_order == bswap32(HONE__PROF_BYTE_ORDER))
      return fail(errbuf, errlen, HONE_EFOREIGN,
                  "written on a machine of the other byte order (%s-endian)",
                  __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "big" : "little");
    return BAD("corrupt byte-order marker 0x%08x", h.byte_order);
  }
  if (h.version < HONE__PROF_VERSION_MIN || h.version > HONE__PROF_VERSION)
    return fail(errbuf, errlen, HONE_EVERSION,
                "format version %u; this hone reads versions %u to %u", h.version,
                HONE__PROF_VERSION_MIN, HONE__PROF_VERSION);
  const uint32_t last_sec = h.version >= 2 ? HONE__SEC_LAST : HONE__SEC_LAST_V1;
  if (h.e_machine != HONE__PROF_E_MACHINE)
    return fail(errbuf, errlen, HONE_EFOREIGN,
                "written for another architecture (%s, ELF machine %u; this is %s, machine %u)",
                machine_name(h.e_machine), h.e_machine, HONE__PROF_MACHINE, HONE__PROF_E_MACHINE);
  if (h.file_size != len) {
    if (h.file_size > len)
      return BAD("truncated: %zu bytes of the %llu the header announces", len,
                 (unsigned long long)h.file_size);
    return BAD("%zu bytes, but the header announces %llu", len, (unsigned long long)h.file_size);
  }
  if (h.header_size < sizeof h || h.header_size > len)
    return BAD("header size %u out of range", h.header_size);
  if (h.nsections > MAX_SECTIONS) return BAD("%u sections, at most %u", h.nsections, MAX_SECTIONS);
  uint64_t table_end = (uint64_t)h.header_size + (uint64_t)h.nsections * sizeof(hone__prof_section);
  if (table_end > len) return BAD("section table runs past the end of the file");

  static const uint32_t want_entsize[] = {
      0,
      sizeof(hone__prof_info_rec),
      1,
      sizeof(hone__prof_thread_rec),
      sizeof(hone_prof_node),
      sizeof(hone__prof_map_rec),
      sizeof(uint64_t),
      sizeof(hone__prof_tsamples_rec),
      sizeof(hone__prof_pc_rec),
      sizeof(hone__prof_sampling_rec),
  };
  /* Sections up to last_sec are required; later ones this reader knows are optional (a file of
   * an earlier revision lacks them), unknown ones are skipped. */
  const uint32_t last_opt = h.version >= 2 ? HONE__SEC_SAMPLING : HONE__SEC_LAST_V1;
  hone__prof_section sec[HONE__SEC_SAMPLING + 1];
  bool have[HONE__SEC_SAMPLING + 1] = {false};
  for (uint32_t i = 0; i < h.nsections; i++) {
    hone__prof_section s;
    memcpy(&s, b + h.header_size + (size_t)i * sizeof s, sizeof s);
    if (s.offset < table_end || s.offset > len || s.size > len - s.offset)
      return BAD("section %u (%s) at offset %llu size %llu lies outside the file", i,
                 sec_name(s.id), (unsigned long long)s.offset, (unsigned long long)s.size);
    if (s.id < 1 || s.id > last_opt) continue; /* a later minor revision's section: skipped */
    if (have[s.id]) return BAD("section %s appears twice", sec_name(s.id));
    if (s.entsize != want_entsize[s.id])
      return BAD("section %s has entries of %u bytes, expected %u", sec_name(s.id), s.entsize,
                 want_entsize[s.id]);
    if (s.size % s.entsize)
      return BAD("section %s size is not a whole number of entries", sec_name(s.id));
    have[s.id] = true;
    sec[s.id] = s;
  }
  for (uint32_t id = 1; id <= last_sec; id++)
    if (!have[id]) return BAD("section %s is missing", sec_name(id));
  if (sec[HONE__SEC_INFO].size != sizeof(hone__prof_info_rec))
    return BAD("info section has %llu bytes, expected %zu",
               (unsigned long long)sec[HONE__SEC_INFO].size, sizeof(hone__prof_info_rec));

  /* Strings: the section must end with a NUL so that no string runs past it. */
  const hone__prof_section *ss = &sec[HONE__SEC_STRS];
  if (ss->size == 0 || b[ss->offset + ss->size - 1] != 0)
    return BAD("string section is empty or not NUL-terminated");
  const char *strs = (const char *)b + ss->offset;
  uint64_t nstrs = ss->size;

  hone__prof_info_rec in;
  memcpy(&in, b + sec[HONE__SEC_INFO].offset, sizeof in);
  const char *clk = clock_name(in.clock);
  if (!clk) return BAD("unknown clock id %u", in.clock);
  if (!isfinite(in.ticks_per_second) || in.ticks_per_second < 1.0 || in.ticks_per_second > 1e13)
    return BAD("clock frequency %g ticks per second out of range", in.ticks_per_second);
  if (!isfinite(in.overhead_inner_ticks) || in.overhead_inner_ticks < 0 ||
      in.overhead_inner_ticks > 1e9 || !isfinite(in.overhead_outer_ticks) ||
      in.overhead_outer_ticks < 0 || in.overhead_outer_ticks > 1e9)
    return BAD("calibrated overheads (%g, %g ticks) out of range", in.overhead_inner_ticks,
               in.overhead_outer_ticks);
  if (!str_ok(nstrs, in.machine_off)) return BAD("machine name offset out of range");
  if (in.argc > nstrs) return BAD("argc %u larger than the string section", in.argc);
  if (in.argc && !str_ok(nstrs, in.argv_off)) return BAD("command line offset out of range");
  const char *why_clk = clock_why_name(h.version, in.clock_why);
  if (!why_clk) return BAD("unknown clock choice %u", in.clock_why);
  bool untimed = h.version >= 2 && in.times == HONE__TIMES_SAMPLED_UNTIMED;
  bool plain = h.version >= 2 && in.times == HONE__TIMES_PLAIN;
  bool sampled = h.version >= 2 && (in.times == HONE__TIMES_SAMPLED || untimed || plain);
  if (h.version >= 2 && in.times != HONE__TIMES_INSTRUMENTED && !sampled)
    return BAD("unknown time source %u", in.times);
  if (sampled && (in.sample_period_ns < 1000 || in.sample_period_ns > 1000000000))
    return BAD("sample period %llu ns out of range (1 us to 1 s)",
               (unsigned long long)in.sample_period_ns);
  if (!sampled && h.version >= 2 && in.sample_period_ns != 0)
    return BAD("sample period %llu ns in a file that was not sampled",
               (unsigned long long)in.sample_period_ns);

  double scale = 1;
  uint32_t scale_how = HONE__SCALE_NONE;
  if (have[HONE__SEC_SAMPLING]) {
    if (sec[HONE__SEC_SAMPLING].size != sizeof(hone__prof_sampling_rec))
      return BAD("sampling section has %llu bytes, expected %zu",
                 (unsigned long long)sec[HONE__SEC_SAMPLING].size, sizeof(hone__prof_sampling_rec));
    hone__prof_sampling_rec sr;
    memcpy(&sr, b + sec[HONE__SEC_SAMPLING].offset, sizeof sr);
    if (!isfinite(sr.scale) || sr.scale <= 0 || sr.scale > 1)
      return BAD("sample scale %g out of range (0 to 1)", sr.scale);
    if (sr.how > HONE__SCALE_MAX) return BAD("unknown sample scale origin %u", sr.how);
    if (!sampled && sr.scale != 1)
      return BAD("sample scale %g in a file that was not sampled", sr.scale);
    scale = sr.scale;
    scale_how = sr.how;
  }

  /* Counts against the file size come first, so nothing below allocates more than the file. */
  uint64_t nthreads = sec[HONE__SEC_THREADS].size / sizeof(hone__prof_thread_rec);
  uint64_t nnodes = sec[HONE__SEC_NODES].size / sizeof(hone_prof_node);
  uint64_t nmaps = sec[HONE__SEC_MAPS].size / sizeof(hone__prof_map_rec);
  if (nnodes > UINT32_MAX - 1) return BAD("%llu nodes: too many", (unsigned long long)nnodes);
  if (h.version >= 2 && sec[HONE__SEC_SAMPLES].size / sizeof(uint64_t) != nnodes)
    return BAD("samples section has %llu entries for %llu nodes",
               (unsigned long long)(sec[HONE__SEC_SAMPLES].size / sizeof(uint64_t)),
               (unsigned long long)nnodes);
  if (h.version >= 2 && sec[HONE__SEC_TSAMPLES].size / sizeof(hone__prof_tsamples_rec) != nthreads)
    return BAD("thread samples section has %llu entries for %llu threads",
               (unsigned long long)(sec[HONE__SEC_TSAMPLES].size / sizeof(hone__prof_tsamples_rec)),
               (unsigned long long)nthreads);

  hone_profile *p = calloc(1, sizeof *p);
  if (!p) return fail(errbuf, errlen, HONE_ENOMEM, "out of memory");
  int rc = HONE_ENOMEM;
  char *s_copy = malloc(nstrs);
  if ((rc = own(p, s_copy)) < 0) goto oom;
  memcpy(s_copy, strs, nstrs);
  const char **argv = calloc((size_t)in.argc + 1, sizeof *argv);
  if ((rc = own(p, (void *)argv)) < 0) goto oom;
  uint64_t a = in.argv_off;
  for (uint32_t i = 0; i < in.argc; i++) {
    if (!str_ok(nstrs, a)) {
      hone_profile_free(p);
      return BAD("command line argument %u runs past the string section", i);
    }
    argv[i] = s_copy + a;
    a += strlen(s_copy + a) + 1;
  }
  p->info.version = h.version;
  p->info.clock = clk;
  p->info.ticks_per_second = in.ticks_per_second;
  p->info.pid = in.pid;
  p->info.ppid = in.ppid;
  p->info.start_unix_ns = in.start_unix_ns;
  p->info.total_ticks = in.total_ticks;
  p->info.overhead_inner_ticks = in.overhead_inner_ticks;
  p->info.overhead_outer_ticks = in.overhead_outer_ticks;
  p->info.argc = in.argc;
  p->info.argv = argv;
  p->info.machine = s_copy + in.machine_off;
  p->info.nfiles = 1;
  p->info.clock_why = why_clk;
  p->info.times = plain     ? "plain"
                  : untimed ? "sampled-untimed"
                  : sampled ? "sampled"
                            : "instrumented";
  p->info.sample_period_s = sampled ? (double)in.sample_period_ns * 1e-9 : 0;
  p->info.sample_scale = scale;
  p->info.sample_scale_how = scale_how == HONE__SCALE_MEASURED ? "measured"
                             : scale_how == HONE__SCALE_GIVEN  ? "given"
                             : scale_how == HONE__SCALE_FAILED ? "failed"
                                                               : "none";
  uint64_t *samples = NULL;
  hone__prof_pc_rec *pcs = NULL;
  uint64_t npcs = h.version >= 2 ? sec[HONE__SEC_PCS].size / sizeof(hone__prof_pc_rec) : 0,
           pc_next = 0;
  if (npcs && !sampled) {
    hone_profile_free(p);
    return BAD("sample addresses in a file that was not sampled");
  }
  if (sampled) {
    pcs = malloc(npcs ? npcs * sizeof *pcs : 1);
    if ((rc = own(p, pcs)) < 0) goto oom;
    if (npcs) memcpy(pcs, b + sec[HONE__SEC_PCS].offset, npcs * sizeof *pcs);
    samples = malloc(nnodes ? nnodes * sizeof *samples : 1);
    if ((rc = own(p, samples)) < 0) goto oom;
    if (nnodes) memcpy(samples, b + sec[HONE__SEC_SAMPLES].offset, nnodes * sizeof *samples);
  }
  /* The CPU time samples stand for, against the run's length: a thread cannot have run longer
   * than the recording. Slack: a tenth for the clocks' disagreement, and a second because a dump
   * of a live process (hone_prof_dump) takes the run's length first and then reads each node's
   * samples while it writes, as the threads go on (under ASan on a loaded machine, 20 dumps of
   * three busy threads gave a thread 19.7 ms of samples in a file whose run had lasted less). The
   * check is against corrupt counts, which are off by orders of magnitude. */
  double max_samples =
      sampled ? ((double)in.total_ticks / in.ticks_per_second * 1.1 + 1.0) / p->info.sample_period_s
              : 0;

  hone_prof_node *nodes = malloc(nnodes ? nnodes * sizeof *nodes : 1);
  if ((rc = own(p, nodes)) < 0) goto oom;
  if (nnodes) memcpy(nodes, b + sec[HONE__SEC_NODES].offset, nnodes * sizeof *nodes);
  p->threads = calloc(nthreads ? nthreads : 1, sizeof *p->threads);
  if (!p->threads) goto oom;
  p->nthreads = p->cap_threads = nthreads;
  uint64_t next = 0;
  for (uint64_t i = 0; i < nthreads; i++) {
    hone__prof_thread_rec t;
    memcpy(&t, b + sec[HONE__SEC_THREADS].offset + i * sizeof t, sizeof t);
    const char *why = NULL;
    if (t.first_node != next)
      why = "does not start where the previous thread's nodes end";
    else if (t.nnodes > nnodes - next)
      why = "has more nodes than the node section holds";
    else if (!str_ok(nstrs, t.name_off))
      why = "has a name offset out of range";
    if (why) {
      hone_profile_free(p);
      return BAD("thread %llu (tid %llu) %s", (unsigned long long)i, (unsigned long long)t.tid,
                 why);
    }
    if (plain && t.nnodes) {
      hone_profile_free(p);
      return BAD("thread %llu (tid %llu) has %llu nodes in a plain build's run, which records "
                 "none",
                 (unsigned long long)i, (unsigned long long)t.tid, (unsigned long long)t.nnodes);
    }
    hone_prof_node *tn = nodes + next;
    for (uint64_t j = 0; j < t.nnodes; j++) {
      const hone_prof_node *n = &tn[j];
      if (n->parent != HONE_PROF_NO_PARENT && n->parent >= j)
        why = "has a parent index that is not below its own";
      else if (n->flags != 0)
        why = "has reserved flags set";
      else if (n->excl > n->incl)
        why = "has exclusive time larger than its inclusive time";
      if (why) {
        hone_profile_free(p);
        return BAD("thread %llu node %llu %s", (unsigned long long)i, (unsigned long long)j, why);
      }
    }
    p->threads[i].tid = t.tid;
    p->threads[i].file = 0;
    p->threads[i].name = s_copy + t.name_off;
    p->threads[i].nnodes = (size_t)t.nnodes;
    p->threads[i].nodes = tn;
    if (sampled) {
      hone__prof_tsamples_rec ts;
      memcpy(&ts, b + sec[HONE__SEC_TSAMPLES].offset + i * sizeof ts, sizeof ts);
      if (ts.sampled > 1) {
        hone_profile_free(p);
        return BAD("thread %llu has a bad sampling flag %u", (unsigned long long)i, ts.sampled);
      }
      if (ts.npcs > npcs - pc_next || (ts.npcs && !ts.sampled)) {
        hone_profile_free(p);
        return BAD("thread %llu has %u sample addresses, more than the section holds",
                   (unsigned long long)i, ts.npcs);
      }
      for (uint32_t j = 0; j < ts.npcs; j++)
        if (plain ? pcs[pc_next + j].node != HONE_PROF_NO_PARENT
                  : pcs[pc_next + j].node >= t.nnodes) {
          uint32_t bad = pcs[pc_next + j].node; /* read before the profile (and pcs) is freed */
          hone_profile_free(p);
          return BAD("thread %llu sample address %u names node %u of %llu", (unsigned long long)i,
                     j, bad, (unsigned long long)t.nnodes);
        }
      double sum = (double)ts.own + (double)ts.outside;
      if (plain)
        for (uint32_t j = 0; j < ts.npcs; j++) sum += (double)pcs[pc_next + j].count;
      for (uint64_t j = 0; j < t.nnodes; j++) sum += (double)samples[next + j];
      if (sum > max_samples) {
        hone_profile_free(p);
        return BAD("thread %llu has %.0f samples, more than the run's length allows",
                   (unsigned long long)i, sum);
      }
      if (ts.sampled) {
        p->threads[i].samples = samples + next;
        p->threads[i].sample_period_s = p->info.sample_period_s;
        p->threads[i].sample_scale = p->info.sample_scale;
        p->threads[i].samples_own = ts.own;
        p->threads[i].samples_outside = ts.outside;
        p->threads[i].pcs = ts.npcs ? pcs + pc_next : NULL;
        p->threads[i].npcs = ts.npcs;
      } else if (sum > 0) {
        hone_profile_free(p);
        return BAD("thread %llu was not sampled but has samples", (unsigned long long)i);
      }
    }
    if (sampled) {
      hone__prof_tsamples_rec ts;
      memcpy(&ts, b + sec[HONE__SEC_TSAMPLES].offset + i * sizeof ts, sizeof ts);
      pc_next += ts.npcs;
    }
    next += t.nnodes;
  }
  if (pc_next != npcs) {
    hone_profile_free(p);
    return BAD("%llu sample addresses belong to no thread", (unsigned long long)(npcs - pc_next));
  }
  if (next != nnodes) {
    hone_profile_free(p);
    return BAD("%llu nodes belong to no thread", (unsigned long long)(nnodes - next));
  }

  p->maps = calloc(nmaps ? nmaps : 1, sizeof *p->maps);
  if (!p->maps) goto oom;
  p->nmaps = p->cap_maps = nmaps;
  for (uint64_t i = 0; i < nmaps; i++) {
    hone__prof_map_rec m;
    memcpy(&m, b + sec[HONE__SEC_MAPS].offset + i * sizeof m, sizeof m);
    const char *why = NULL;
    if (m.start > m.end)
      why = "ends before it starts";
    else if (!str_ok(nstrs, m.path_off))
      why = "has a path offset out of range";
    else if (m.build_id_len > 255)
      why = "has a build-id longer than 255 bytes";
    else if (m.build_id_off > nstrs || m.build_id_len > nstrs - m.build_id_off)
      why = "has a build-id outside the string section";
    if (why) {
      hone_profile_free(p);
      return BAD("mapping %llu %s", (unsigned long long)i, why);
    }
    p->maps[i].file = 0;
    p->maps[i].start = m.start;
    p->maps[i].end = m.end;
    p->maps[i].base = m.base;
    p->maps[i].path = s_copy + m.path_off;
    p->maps[i].build_id = m.build_id_len ? (const uint8_t *)s_copy + m.build_id_off : NULL;
    p->maps[i].build_id_len = m.build_id_len;
  }
  *out = p;
  return 0;
oom:
  hone_profile_free(p);
  return fail(errbuf, errlen, HONE_ENOMEM, "out of memory");
#undef BAD
}

int hone_profile_read(const char *path, hone_profile **out, char *errbuf, size_t errlen) {
  if (out) *out = NULL;
  if (!path || !out) return fail(errbuf, errlen, HONE_EINVAL, "invalid argument");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return fail(errbuf, errlen,
                e == ENOENT   ? HONE_ENOENT
                : e == EACCES ? HONE_EPERM
                              : HONE_EIO,
                "%s: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(errbuf, errlen, HONE_EIO, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > MAX_FILE_SIZE) {
    close(fd);
    return fail(errbuf, errlen, HONE_EFORMAT, "%s: %lld bytes, too large for a stats file", path,
                (long long)st.st_size);
  }
  size_t len = (size_t)st.st_size;
  unsigned char *buf = malloc(len ? len : 1);
  if (!buf) {
    close(fd);
    return fail(errbuf, errlen, HONE_ENOMEM, "%s: out of memory", path);
  }
  size_t got = 0;
  int e = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) e = errno;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (e) {
    free(buf);
    return fail(errbuf, errlen, HONE_EIO, "%s: %s", path, strerror(e));
  }
  char msg[256];
  int rc = hone_profile_read_mem(buf, got, out, msg, sizeof msg);
  free(buf);
  if (rc < 0) return fail(errbuf, errlen, rc, "%s: %s", path, msg);
  return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elt) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 4;
  while (c < need) c *= 2;
  void *n = realloc(*arr, c * elt);
  if (!n) return HONE_ENOMEM;
  *arr = n;
  *cap = c;
  return 0;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static uint64_t scale(uint64_t v, double f) {
  double x = (double)v * f;
  return x >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)(x + 0.5);
}

int hone_profile_merge(hone_profile *into, const hone_profile *from) {
  if (!into || !from || into == from) return HONE_EINVAL;
  /* A plain build's run holds times, not calls: it is added beside instrumented runs (by a
   * report), never merged into one, whose info would no longer say what its threads are. */
  if (!strcmp(into->info.times, "plain") != !strcmp(from->info.times, "plain")) return HONE_EINVAL;
  double f = into->info.ticks_per_second / from->info.ticks_per_second;
  bool same_clock = f == 1.0;
  if (grow((void **)&into->threads, &into->cap_threads, into->nthreads + from->nthreads,
           sizeof *into->threads) < 0 ||
      grow((void **)&into->maps, &into->cap_maps, into->nmaps + from->nmaps, sizeof *into->maps) <
          0)
    return HONE_ENOMEM;
  uint32_t base_file = (uint32_t)into->info.nfiles;
  size_t t0 = into->nthreads, m0 = into->nmaps;
  /* Copies first, publication after: a failure leaves `into` as it was (extra blocks are just
   * owned and freed with it). */
  for (size_t i = 0; i < from->nthreads; i++) {
    const hone_prof_thread *s = &from->threads[i];
    hone_prof_node *n = malloc(s->nnodes ? s->nnodes * sizeof *n : 1);
    char *name = dupstr(s->name);
    if (own(into, n) < 0) { /* own() freed n, not name */
      free(name);
      return HONE_ENOMEM;
    }
    if (own(into, name) < 0) return HONE_ENOMEM;
    uint64_t *smp = NULL;
    if (s->samples) {
      smp = malloc(s->nnodes ? s->nnodes * sizeof *smp : 1);
      if (own(into, smp) < 0) return HONE_ENOMEM;
      if (s->nnodes) memcpy(smp, s->samples, s->nnodes * sizeof *smp);
    }
    hone_prof_sample_pc *pc = NULL;
    if (s->npcs) {
      pc = malloc(s->npcs * sizeof *pc);
      if (own(into, pc) < 0) return HONE_ENOMEM;
      memcpy(pc, s->pcs, s->npcs * sizeof *pc);
    }
    if (s->nnodes) memcpy(n, s->nodes, s->nnodes * sizeof *n);
    if (!same_clock)
      for (size_t j = 0; j < s->nnodes; j++) {
        n[j].incl = scale(n[j].incl, f);
        n[j].excl = scale(n[j].excl, f);
        if (n[j].excl > n[j].incl) n[j].excl = n[j].incl;
      }
    into->threads[t0 + i] = *s;
    into->threads[t0 + i].file = base_file + s->file;
    into->threads[t0 + i].name = name;
    into->threads[t0 + i].nodes = n;
    into->threads[t0 + i].samples = smp;
    into->threads[t0 + i].pcs = pc;
  }
  for (size_t i = 0; i < from->nmaps; i++) {
    const hone_prof_mapping *s = &from->maps[i];
    char *path = dupstr(s->path);
    if (own(into, path) < 0) return HONE_ENOMEM;
    uint8_t *id = NULL;
    if (s->build_id_len) {
      id = malloc(s->build_id_len);
      if (own(into, id) < 0) return HONE_ENOMEM;
      memcpy(id, s->build_id, s->build_id_len);
    }
    into->maps[m0 + i] = *s;
    into->maps[m0 + i].file = base_file + s->file;
    into->maps[m0 + i].path = path;
    into->maps[m0 + i].build_id = id;
  }
  /* The merged overheads are the call-weighted mean of both, so that subtracting them removes
   * the right total from the merged counts. */
  uint64_t ci = 0, cf = 0;
  for (size_t i = 0; i < into->nthreads; i++)
    for (size_t j = 0; j < into->threads[i].nnodes; j++) ci += into->threads[i].nodes[j].calls;
  for (size_t i = 0; i < from->nthreads; i++)
    for (size_t j = 0; j < from->threads[i].nnodes; j++) cf += from->threads[i].nodes[j].calls;
  if (ci + cf) {
    double wi = (double)ci / (double)(ci + cf), wf = 1.0 - wi;
    into->info.overhead_inner_ticks =
        wi * into->info.overhead_inner_ticks + wf * from->info.overhead_inner_ticks * f;
    into->info.overhead_outer_ticks =
        wi * into->info.overhead_outer_ticks + wf * from->info.overhead_outer_ticks * f;
  }
  into->nthreads += from->nthreads;
  into->nmaps += from->nmaps;
  into->info.total_ticks += scale(from->info.total_ticks, f);
  into->info.nfiles += from->info.nfiles;
  return 0;
}

const hone_prof_info *hone_profile_info(const hone_profile *p) {
  return p ? &p->info : NULL;
}

size_t hone_profile_thread_count(const hone_profile *p) {
  return p ? p->nthreads : 0;
}

const hone_prof_thread *hone_profile_thread(const hone_profile *p, size_t i) {
  return p && i < p->nthreads ? &p->threads[i] : NULL;
}

size_t hone_profile_mapping_count(const hone_profile *p) {
  return p ? p->nmaps : 0;
}

const hone_prof_mapping *hone_profile_mapping(const hone_profile *p, size_t i) {
  return p && i < p->nmaps ? &p->maps[i] : NULL;
}

const hone_prof_mapping *hone_profile_find_mapping(const hone_profile *p, uint32_t file,
                                                   uint64_t addr) {
  if (!p) return NULL;
  for (size_t i = 0; i < p->nmaps; i++) {
    const hone_prof_mapping *m = &p->maps[i];
    if (m->file == file && addr >= m->start && addr < m->end) return m;
  }
  return NULL;
}
