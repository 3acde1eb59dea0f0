/* bench_internal.h: the process runner behind hone_bench (bench_proc.c) — one run of one command
 * with its own process group, timed and accounted by wait4, with event counters inherited by the
 * whole process tree. Internal to libhone. */
#ifndef HONE_MEASURE_BENCH_INTERNAL_H
#define HONE_MEASURE_BENCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The counters bench records, in this order. */
enum {
  HONE__BC_CYCLES = 0,
  HONE__BC_INSTRUCTIONS = 1,
  HONE__BC_TASK_CLOCK = 2,
  HONE__BC_COUNT = 3
};

/* Counters of the calling thread opened with `inherit`, so that children spawned while they are
 * enabled are counted (their counts are folded into these when they exit). */
typedef struct hone__bench_counters {
  int fd[HONE__BC_COUNT];             /* -1 where the event could not be opened */
  char note[240];                     /* why some are missing; "" when none is */
  uint64_t before[HONE__BC_COUNT][3]; /* the values read when the run started */
} hone__bench_counters;

void hone__bench_counters_open(hone__bench_counters *c);
void hone__bench_counters_close(hone__bench_counters *c);

typedef struct hone__run_result {
  int64_t wall_ns, user_ns, sys_ns, max_rss_bytes;
  int64_t t0_ns;   /* CLOCK_MONOTONIC when the run started */
  int exit_status; /* -1 when killed by a signal */
  int signal;
  bool timed_out;
  uint64_t counts[HONE__BC_COUNT];
  bool counted[HONE__BC_COUNT];
} hone__run_result;

/* Runs argv (PATH searched) once, stdin from /dev/null, stdout/stderr to /dev/null unless
 * show_output, in a process group of its own (killed whole at the timeout; 0 = none). counters
 * may be NULL. Returns 0 when the command ran (whatever its status: see r), HONE_ENOENT or
 * HONE_EPERM when it could not be started (*start_errno holds the errno), HONE_ESYS otherwise. */
int hone__bench_run_once(char *const *argv, double timeout_s, bool show_output,
                         hone__bench_counters *counters, hone__run_result *r, int *start_errno);

/* CLOCK_MONOTONIC in ns. */
int64_t hone__bench_now_ns(void);

#endif /* HONE_MEASURE_BENCH_INTERNAL_H */
