/* hone/prof.h: controlling the profiler runtime (libhone-prof.so) from the profiled program, in
 * the manner of Python's cProfile: enable, disable, clear, dump_stats, runcall.
 *
 * These functions live in libhone-prof.so, not in libhone: link the program with -lhone-prof (the
 * runtime is then present without LD_PRELOAD), and build the code to be profiled with
 * -finstrument-functions. The runtime itself is never instrumented.
 *
 * Without any call to this API the runtime profiles the whole run and writes the stats file at
 * exit (HONE_PROF_OUT, default "hone.prof"; a forked child writes "<name>.<pid>"). Environment:
 *   HONE_PROF=off      load the runtime but profile nothing and write nothing (a baseline);
 *                      hone_prof_start() then fails with HONE_ENOTSUP.
 *   HONE_PROF=manual   start stopped and write nothing at exit: the program calls this API.
 *   HONE_PROF_CLOCK=monotonic  time calls with CLOCK_MONOTONIC, not the cycle counter.
 *   HONE_PROF_SAMPLE=off|US    sampling of each thread's CPU time (perf's cpu-clock event, its
 *                      overflow as SIGPROF to that thread): off, or its period in microseconds
 *                      (default 100). The runtime installs a SIGPROF handler at load; SIGPROF
 *                      signals that are not its own go to the program's earlier disposition.
 *   HONE_PROF_PLAIN=1  the program is a plain build (not instrumented; `hone record --plain`):
 *                      the runtime samples every thread's CPU time from its start (it
 *                      interposes pthread_create, passing the call on unchanged otherwise),
 *                      records no call, and writes where the samples were (format "plain",
 *                      hone/profdata.h), which hone/report.h lays over an instrumented run.
 *
 * Thread-safety: every function may be called from any thread. Starting and stopping apply to
 * every thread of the process. A call that was already running when profiling stopped keeps
 * running on the clock: its time until it returns is still counted (cProfile's disable() ends it
 * at once instead), and calls made while stopped are not recorded.
 */
#ifndef HONE_PROF_H
#define HONE_PROF_H

#include "hone/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Starts (or resumes) recording. Returns 0, or HONE_ENOTSUP when HONE_PROF=off. */
HONE_API int hone_prof_start(void);
/* Stops recording; what was recorded is kept. Returns 0. */
HONE_API int hone_prof_stop(void);
/* Whether recording is on (1) or off (0). */
HONE_API int hone_prof_enabled(void);
/* Forgets what was recorded so far, in every thread: counts and times restart from zero, and the
 * run's start time becomes now. Returns 0. */
HONE_API int hone_prof_clear(void);
/* Writes what was recorded so far to `path` (NULL: HONE_PROF_OUT or "hone.prof"), through a
 * temporary file in the same directory renamed into place. Recording goes on. Returns 0,
 * HONE_EIO when the file cannot be written, HONE_EBUSY when another dump is in progress,
 * HONE_ENOTSUP when HONE_PROF=off. */
HONE_API HONE_NODISCARD int hone_prof_dump(const char *path);
/* Runs fn(arg) with recording on, then restores the previous state; returns fn's result. */
HONE_API void *hone_prof_runcall(void *(*fn)(void *), void *arg);

#ifdef __cplusplus
}
#endif
#endif /* HONE_PROF_H */
