/* profformat.h: the on-disk layout of hone's stats file (docs/stats-format.md), shared by the
 * writer (profwrite.c, compiled into both libhone-prof.so and libhone) and the reader
 * (profdata.c). Internal: the public view is include/hone/profdata.h.
 *
 * Every integer is stored in the writer's byte order; the byte-order marker tells a reader whether
 * that is its own. Structs here are read with memcpy, so the file needs no alignment. */
#ifndef HONE_PROFFORMAT_H
#define HONE_PROFFORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "hone/profdata.h"

#define HONE__PROF_MAGIC "HONEPROF"
#define HONE__PROF_BYTE_ORDER 0x01020304u
#define HONE__PROF_VERSION 2u
#define HONE__PROF_VERSION_MIN 1u /* the oldest version the reader still reads */

/* Section ids. A file holds each of them exactly once (v1: 1 to 5; v2: 1 to 7); unknown ids
 * are skipped. */
enum {
  HONE__SEC_INFO = 1,     /* one hone__prof_info_rec */
  HONE__SEC_STRS = 2,     /* NUL-terminated strings and build-id bytes; last byte is NUL */
  HONE__SEC_THREADS = 3,  /* hone__prof_thread_rec[] */
  HONE__SEC_NODES = 4,    /* hone_prof_node[], every thread's nodes one after the other */
  HONE__SEC_MAPS = 5,     /* hone__prof_map_rec[] */
  HONE__SEC_SAMPLES = 6,  /* v2: uint64_t per node (as NODES): samples whose top frame it was */
  HONE__SEC_TSAMPLES = 7, /* v2: hone__prof_tsamples_rec[], one per thread (as THREADS) */
  HONE__SEC_PCS = 8,      /* v2: hone_prof_sample_pc[], every thread's one after the other */
  /* v2, optional (a reader of an earlier revision skips it; a file without it has scale 1): one
   * hone__prof_sampling_rec. */
  HONE__SEC_SAMPLING = 9,
};
#define HONE__SEC_LAST_V1 5u
#define HONE__SEC_LAST 8u

enum { HONE__CLOCK_TSC = 1, HONE__CLOCK_CNTVCT = 2, HONE__CLOCK_MONOTONIC = 3 };

/* Why the runtime chose its clock (v2; 0 to 3 are common/cycles.h's hone__cycles_verdict). */
enum {
  HONE__CLOCKWHY_NONE = 0,        /* no cycle counter on this architecture: monotonic */
  HONE__CLOCKWHY_CPUID = 1,       /* counter: CPUID says it is invariant */
  HONE__CLOCKWHY_KERNEL = 2,      /* counter: /proc/cpuinfo's constant_tsc and nonstop_tsc */
  HONE__CLOCKWHY_VARIABLE = 3,    /* monotonic: nothing says the counter is invariant */
  HONE__CLOCKWHY_ASKED = 4,       /* monotonic: HONE_PROF_CLOCK=monotonic */
  HONE__CLOCKWHY_IMPLAUSIBLE = 5, /* monotonic: the counter ticked at an implausible rate */
  HONE__CLOCKWHY_MAX = 5,
};

/* How the run's times were taken (v2). */
enum {
  HONE__TIMES_INSTRUMENTED = 0, /* only the hooks' clock reads (every v1 file) */
  HONE__TIMES_SAMPLED = 1,      /* also per-thread samples of perf's cpu-clock event */
  /* Samples as with 1, but the hooks of a sampled thread read no clock: its nodes' incl and
   * excl are 0 (not measured). Threads not sampled (sampled 0) are timed as with 0. */
  HONE__TIMES_SAMPLED_UNTIMED = 2,
  /* A plain build's run (HONE_PROF_PLAIN=1: no hooks ran): every thread has no nodes, its
   * samples are its PCS records, each with node HONE_PROF_NO_PARENT, and `outside` counts the
   * samples whose address the table had no room to keep. */
  HONE__TIMES_PLAIN = 3,
};

/* How the sample scale was obtained (HONE__SEC_SAMPLING). */
enum {
  HONE__SCALE_NONE = 0,     /* not sampled, or a file without the section: scale 1 */
  HONE__SCALE_MEASURED = 1, /* calibrated by the runtime at the first record */
  HONE__SCALE_GIVEN = 2,    /* HONE_PROF_SAMPLE_SCALE */
  HONE__SCALE_FAILED = 3,   /* the calibration could not measure it: scale 1 */
  HONE__SCALE_MAX = 3,
};

/* The fraction of a sampled thread's counted CPU time that was the program's own, the rest
 * being the cost of taking the samples (the runtime's calibrate_sampling). */
typedef struct hone__prof_sampling_rec {
  double scale; /* 0 < scale <= 1 */
  uint32_t how; /* HONE__SCALE_* */
  uint32_t reserved;
} hone__prof_sampling_rec;

typedef struct hone__prof_header {
  char magic[8];       /* "HONEPROF", no NUL */
  uint32_t byte_order; /* HONE__PROF_BYTE_ORDER as the writer stores it */
  uint32_t version;
  uint32_t header_size; /* bytes before the section table */
  uint32_t nsections;
  uint64_t file_size; /* whole file: a shorter file was truncated */
  uint32_t e_machine; /* ELF e_machine of the writer (62 x86-64, 183 aarch64) */
  uint32_t reserved;
  uint64_t reserved2[3];
} hone__prof_header;

typedef struct hone__prof_section {
  uint32_t id;
  uint32_t entsize; /* size of one entry (the whole record for INFO, 1 for STRS) */
  uint64_t offset;
  uint64_t size;
} hone__prof_section;

typedef struct hone__prof_info_rec {
  uint32_t clock; /* HONE__CLOCK_* */
  uint32_t argc;
  double ticks_per_second;
  uint64_t pid, ppid;
  int64_t start_unix_ns;
  uint64_t total_ticks;
  double overhead_inner_ticks;
  double overhead_outer_ticks;
  uint64_t argv_off;         /* argc consecutive strings in STRS */
  uint64_t machine_off;      /* a string in STRS */
  uint32_t clock_why;        /* v2: HONE__CLOCKWHY_* (v1: reserved, 0) */
  uint32_t times;            /* v2: HONE__TIMES_* (v1: reserved, 0) */
  uint64_t sample_period_ns; /* v2: CPU time between two samples; 0 unless sampled */
} hone__prof_info_rec;

/* v2: a thread's samples that no node holds. */
typedef struct hone__prof_tsamples_rec {
  uint64_t own;     /* taken inside the profiler's hooks: its own cost */
  uint64_t outside; /* taken while no recorded function was on the thread's stack */
  uint32_t sampled; /* 1: the thread was sampled; 0: its sampling could not be set up */
  uint32_t npcs;    /* its records in PCS (in thread order, after the previous threads') */
} hone__prof_tsamples_rec;

typedef hone_prof_sample_pc hone__prof_pc_rec;

typedef struct hone__prof_thread_rec {
  uint64_t tid;
  uint64_t name_off;   /* a string in STRS */
  uint64_t first_node; /* index in NODES; equals the previous threads' node count */
  uint64_t nnodes;
} hone__prof_thread_rec;

typedef struct hone__prof_map_rec {
  uint64_t start, end, base;
  uint64_t path_off;     /* a string in STRS */
  uint64_t build_id_off; /* bytes in STRS */
  uint32_t build_id_len; /* 0 when the object has no build-id */
  uint32_t reserved;
} hone__prof_map_rec;

_Static_assert(sizeof(hone__prof_header) == 64, "header layout");
_Static_assert(sizeof(hone__prof_section) == 24, "section layout");
_Static_assert(sizeof(hone__prof_info_rec) == 96, "info layout");
_Static_assert(sizeof(hone__prof_thread_rec) == 32, "thread layout");
_Static_assert(sizeof(hone__prof_map_rec) == 48, "map layout");
_Static_assert(sizeof(hone__prof_tsamples_rec) == 24, "thread samples layout");
_Static_assert(sizeof(hone__prof_pc_rec) == 16, "sample address layout");
_Static_assert(sizeof(hone_prof_node) == 40, "node layout");

#if defined(__x86_64__)
#define HONE__PROF_E_MACHINE 62u
#define HONE__PROF_MACHINE "x86_64"
#elif defined(__aarch64__)
#define HONE__PROF_E_MACHINE 183u
#define HONE__PROF_MACHINE "aarch64"
#elif defined(__riscv) && __riscv_xlen == 64
#define HONE__PROF_E_MACHINE 243u
#define HONE__PROF_MACHINE "riscv64"
#elif defined(__powerpc64__)
#define HONE__PROF_E_MACHINE 21u
#define HONE__PROF_MACHINE "ppc64"
#elif defined(__i386__)
#define HONE__PROF_E_MACHINE 3u
#define HONE__PROF_MACHINE "i386"
#else
#define HONE__PROF_E_MACHINE 0u
#define HONE__PROF_MACHINE "unknown"
#endif

/* ---- writing (profwrite.c) ----
 * The writer never allocates and calls only write(2): it may run in a signal handler. The caller
 * describes the data through callbacks that fill small buffers. */
typedef struct hone__prof_wthread {
  uint64_t tid;
  const char *name;
  uint64_t nnodes; /* fixed before writing starts */
  uint64_t samples_own, samples_outside;
  uint32_t sampled;
  uint32_t npcs; /* fixed before writing starts */
} hone__prof_wthread;

typedef struct hone__prof_wmap {
  uint64_t start, end, base;
  const char *path;
  const uint8_t *build_id;
  uint32_t build_id_len;
} hone__prof_wmap;

typedef struct hone__prof_wsrc {
  uint32_t clock;
  double ticks_per_second;
  uint64_t pid, ppid;
  int64_t start_unix_ns;
  uint64_t total_ticks;
  double overhead_inner_ticks, overhead_outer_ticks;
  uint32_t clock_why, times;
  uint64_t sample_period_ns;
  double sample_scale; /* HONE__SEC_SAMPLING, written when sampled */
  uint32_t scale_how;
  size_t argc;
  const char *const *argv;
  size_t nthreads;
  const hone__prof_wthread *(*thread)(void *ctx, size_t i);
  /* Fills out[0..n) with nodes first..first+n of thread i (parent indexes thread-relative). */
  void (*nodes)(void *ctx, size_t thread, uint64_t first, hone_prof_node *out, size_t n);
  /* Fills out[0..n) with the sample counts of the same nodes. */
  void (*samples)(void *ctx, size_t thread, uint64_t first, uint64_t *out, size_t n);
  /* Fills out[0..n) with the next n of thread i's npcs sample addresses (called in order). */
  void (*pcs)(void *ctx, size_t thread, hone__prof_pc_rec *out, size_t n);
  size_t nmaps;
  const hone__prof_wmap *(*map)(void *ctx, size_t i);
  void *ctx;
} hone__prof_wsrc;

/* Writes the whole file to fd. Returns 0 or a negative hone_err (HONE_EIO on a failed write). */
int hone__prof_write_fd(int fd, const hone__prof_wsrc *src);

#endif /* HONE_PROFFORMAT_H */
