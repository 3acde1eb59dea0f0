/* hone/profdata.h: reading, validating and merging hone's stats files (written by the profiler
 * runtime libhone-prof.so, see hone/prof.h; format specified in docs/stats-format.md).
 *
 * A stats file holds, for one process: facts about the run (clock, its frequency, the command
 * line, pid, start and total time, the runtime's calibrated cost per call), every thread's
 * calling-context tree, and the memory map with build-ids needed to resolve addresses after the
 * run. Reading validates every field and offset: a truncated, corrupt or foreign file is refused
 * with a message saying what is wrong; nothing is half-read.
 *
 * Ownership: a hone_profile owns everything reachable from it; pointers returned by the accessors
 * stay valid until hone_profile_free() (or until a hone_profile_merge() into that profile).
 * Thread-safety: a profile may be read from several threads at once; reading and merging into the
 * same profile at once is not safe.
 */
#ifndef HONE_PROFDATA_H
#define HONE_PROFDATA_H

#include <stddef.h>
#include <stdint.h>

#include "hone/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The parent index of a thread's top-level nodes. */
#define HONE_PROF_NO_PARENT UINT32_MAX

/* One node of a calling-context tree: a function reached by one distinct call path. Nodes of a
 * thread are stored so that a parent's index is always below its children's (the order
 * nodes were created in: a topological order, not necessarily depth-first).
 * The layout of this struct is stable within a major version of the library. */
typedef struct hone_prof_node {
  uint64_t func;   /* runtime address of the function (as given to __cyg_profile_func_enter) */
  uint32_t parent; /* index of the caller's node in the same thread, or HONE_PROF_NO_PARENT */
  uint32_t flags;  /* reserved, 0 */
  uint64_t calls;  /* completed (and, at dump time, still active) entries along this path */
  uint64_t incl;   /* inclusive ticks: entry to exit of every call on this path, as measured */
  uint64_t excl;   /* exclusive ticks: incl minus the incl of the children, as measured */
} hone_prof_node;

/* Where samples were taken (format version 2): `count` samples whose top node was `node` (an
 * index in the thread's nodes) had their instruction at runtime address `pc`. A report uses it
 * to give samples taken in a callee's prologue or epilogue, outside its hooks, to the callee. */
typedef struct hone_prof_sample_pc {
  uint64_t pc;
  uint32_t node;
  uint32_t count;
} hone_prof_sample_pc;

/* One thread's tree. */
typedef struct hone_prof_thread {
  uint64_t tid;                /* kernel thread id */
  uint32_t file;               /* which merged file it came from (0 after a read) */
  const char *name;            /* thread name at dump time ("" when unknown) */
  size_t nnodes;               /* number of nodes */
  const hone_prof_node *nodes; /* nnodes nodes, each parent before its children */
  /* Sampling (format version 2, when the runtime could sample the thread's CPU time): samples[j]
   * counts the samples taken while node j was the top of the thread's stack, each standing for
   * sample_period_s seconds of CPU time. NULL and 0 when the thread was not sampled. */
  const uint64_t *samples;
  double sample_period_s;
  double sample_scale;      /* of the file it came from (hone_prof_info's); 1 when not sampled */
  uint64_t samples_own;     /* samples in the profiler's hooks or their PLT stubs: its cost */
  uint64_t samples_outside; /* samples taken with no recorded function on the stack */
  const hone_prof_sample_pc *pcs; /* npcs records (a subset of the samples), NULL when none */
  size_t npcs;
} hone_prof_thread;

/* One loaded object (the executable or a shared library) mapped into the process. A runtime
 * address `a` with start <= a < end belongs to it; `a - base` is the address in the ELF file's
 * own virtual address space (base is 0 for a non-PIE executable). */
typedef struct hone_prof_mapping {
  uint32_t file;           /* which merged file it belongs to (0 after a read) */
  uint64_t start, end;     /* lowest and highest (exclusive) runtime address of its segments */
  uint64_t base;           /* load bias (dl_iterate_phdr's dlpi_addr) */
  const char *path;        /* absolute path at record time */
  const uint8_t *build_id; /* GNU build-id bytes, NULL when the object has none */
  size_t build_id_len;
} hone_prof_mapping;

/* Facts about the run. Strings are owned by the profile. */
typedef struct hone_prof_info {
  uint32_t version;            /* format version of the file read */
  const char *clock;           /* "tsc", "cntvct" (arm64) or "monotonic" */
  double ticks_per_second;     /* frequency of the clock's ticks */
  uint64_t pid;                /* process id */
  uint64_t ppid;               /* parent's process id */
  int64_t start_unix_ns;       /* wall-clock time the recording started, ns since the Epoch */
  uint64_t total_ticks;        /* run time covered by the recording, in ticks */
  double overhead_inner_ticks; /* calibrated cost per call inside the callee's measured interval */
  double overhead_outer_ticks; /* calibrated cost per call charged to the caller's own time */
  size_t argc;                 /* command line */
  const char *const *argv;
  const char *machine; /* architecture the file was written on, "x86_64", "aarch64" */
  size_t nfiles;       /* number of files merged into this profile (1 after a read) */
  /* Why the runtime chose its clock: "cpuid" (the CPU says the counter is invariant), "kernel"
   * (/proc/cpuinfo's constant_tsc and nonstop_tsc say so), "no counter", "variable" (nothing
   * says so: monotonic), "asked" (HONE_PROF_CLOCK=monotonic), "implausible" (the counter ticked
   * at an implausible rate: monotonic), or "unknown" (a version 1 file). */
  const char *clock_why;
  /* How the times were taken: "instrumented" (the hooks' clock reads only), "sampled" (also
   * samples of the CPU time of each thread, perf's cpu-clock event; see hone_prof_thread) or
   * "sampled-untimed" (samples, and the hooks of a sampled thread read no clock: that thread's
   * incl and excl ticks are 0, not measured; its times are its samples), or "plain" (a plain
   * build's run, `hone record --plain`: no hook ran, every thread has no nodes, and its samples
   * are its `pcs` records, whose node is HONE_PROF_NO_PARENT; samples_outside counts those
   * whose address was not kept). A report given a plain run beside instrumented ones takes the
   * functions' times from the plain run (hone/report.h). */
  const char *times;
  double sample_period_s; /* CPU seconds between two samples; 0 unless sampled */
  /* The fraction of a sampled thread's sampled CPU time that was the program's own: the rest
   * was the cost of taking the samples (each one interrupts the thread; about 25 us of a 100 us
   * period on a KVM guest), measured by the runtime when the process first recorded. A
   * sample's time, as the program would have spent it unsampled, is sample_period_s times this.
   * 1 when not sampled or not known. sample_scale_how: "measured", "given"
   * (HONE_PROF_SAMPLE_SCALE), "failed" (the calibration could not measure it: 1) or "none". */
  double sample_scale;
  const char *sample_scale_how;
  /* After a merge, pid/ppid/argv/start are the first file's. */
} hone_prof_info;

typedef struct hone_profile hone_profile;

/* Reads and validates the stats file at `path`. On failure returns a negative hone_err
 * (HONE_EFORMAT corrupt or truncated, HONE_EVERSION unknown version, HONE_EFOREIGN written by
 * another architecture or byte order, HONE_EIO / HONE_ENOENT for I/O) and, when errbuf is not
 * NULL, writes a one-line message naming what was wrong (at most errlen bytes, NUL-terminated).
 * On success *out owns a new profile; free it with hone_profile_free(). */
HONE_API HONE_NODISCARD int hone_profile_read(const char *path, hone_profile **out, char *errbuf,
                                              size_t errlen);
/* The same from a buffer in memory (the caller keeps ownership of buf). */
HONE_API HONE_NODISCARD int hone_profile_read_mem(const void *buf, size_t len, hone_profile **out,
                                                  char *errbuf, size_t errlen);
/* Frees a profile; NULL is a no-op. */
HONE_API void hone_profile_free(hone_profile *p);

/* Adds the threads and mappings of `from` to `into` (pstats' Stats.add): threads and mappings are
 * appended with their `file` renumbered after into's, total ticks summed, nfiles added. Addresses
 * are not rewritten (two runs load objects at different addresses): resolve a thread's addresses
 * with the mappings of the same `file`. `from` is unchanged. Ticks of a profile on another clock
 * are converted to `into`'s frequency. A plain build's run and an instrumented one are not
 * merged (HONE_EINVAL): give both to a report instead (hone/report.h). */
HONE_API HONE_NODISCARD int hone_profile_merge(hone_profile *into, const hone_profile *from);

HONE_API const hone_prof_info *hone_profile_info(const hone_profile *p);
HONE_API size_t hone_profile_thread_count(const hone_profile *p);
/* Thread i (0 <= i < count); NULL when out of range. */
HONE_API const hone_prof_thread *hone_profile_thread(const hone_profile *p, size_t i);
HONE_API size_t hone_profile_mapping_count(const hone_profile *p);
HONE_API const hone_prof_mapping *hone_profile_mapping(const hone_profile *p, size_t i);
/* The mapping of merged file `file` holding runtime address addr, or NULL. */
HONE_API const hone_prof_mapping *hone_profile_find_mapping(const hone_profile *p, uint32_t file,
                                                            uint64_t addr);

#ifdef __cplusplus
}
#endif
#endif /* HONE_PROFDATA_H */
