/* hone/bench.h: time whole commands, as hyperfine does — and what its users asked for: commands
 * run in interleaved rounds, peak memory and CPU time of each command's own process tree, event
 * counters over the whole run, and runs that go on until a comparison is significant.
 *
 * Each run of a command records its wall time, user and system CPU time and peak resident set
 * size (all from wait4() of the command's process: its waited-for descendants included), its exit
 * status and, where perf_event_open allows, cycles, instructions and task-clock of the whole
 * process tree (counters opened with `inherit`; they include the few microseconds hone spends in
 * posix_spawn and wait4; task-clock is opened only beside a hardware event, since alone it repeats
 * user + sys at a cost inside every run). Where counters are missing,
 * hone_bench_counter_available() says false and hone_bench_counters_note() says why: a value of 0
 * is never passed off as counted.
 *
 * Commands run without a shell unless hone_bench_options.shell is set: the command line is split
 * into words as a POSIX shell would (quotes, backslashes) by hone_bench_split(), and shell
 * operators (| ; & < > and the like, unquoted) are refused with HONE_EINVAL. Through a shell, the
 * mean cost of starting that shell (`SH -c ''`, measured first) is subtracted from every run's
 * wall, user and system time, as hyperfine does (floored at 0).
 *
 * Ownership: hone_bench_new() allocates, hone_bench_free() releases (NULL is a no-op); the options
 * and command strings are copied. Arrays and strings returned by the getters belong to the
 * benchmark and stay valid until the next hone_bench_run() or hone_bench_free().
 * hone_bench_split() returns an argv the caller frees with hone_bench_argv_free().
 * Thread-safety: a hone_bench is used by one thread at a time. hone_bench_run() forks children and
 * changes no process-wide state other than reaping the children it started (wait4 by pid).
 */
#ifndef HONE_BENCH_H
#define HONE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hone/error.h"
#include "hone/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Splitting a command line without a shell ---- */

/* Splits `line` into words as sh would, without starting one: blanks separate words; '...'
 * keeps everything literally; "..." keeps everything but \" \\ \$ \` (backslash removed);
 * outside quotes a backslash quotes the next character. Stores a NULL-terminated argv in *argv
 * and the word count in *argc (argc may be NULL). HONE_EINVAL when a quote is left open, the line
 * is empty, or an unquoted word is shell syntax the caller cannot get without a shell (| || & && ;
 * < > >> 2> $( ` * ? and the like): *what, when not NULL, then points to a static sentence naming
 * the problem. */
HONE_API HONE_NODISCARD int hone_bench_split(const char *line, char ***argv, int *argc,
                                             const char **what);
HONE_API void hone_bench_argv_free(char **argv);

/* Replaces every {name} in `tmpl` by `value` into a new string (*out, the caller frees it with
 * free()). HONE_EINVAL on NULL arguments or an empty name. */
HONE_API HONE_NODISCARD int hone_bench_substitute(const char *tmpl, const char *name,
                                                  const char *value, char **out);

/* ---- Options ---- */

/* Progress: called before each measured run. run counts from 1 within the command; total is the
 * planned number of runs of that command (it may grow with until_significant); eta_s is an
 * estimate of the seconds left (negative while unknown). */
typedef void (*hone_bench_progress_fn)(void *arg, size_t command, const char *name, size_t run,
                                       size_t total, double eta_s);

typedef struct hone_bench_options {
  size_t runs;            /* runs per command; 0 = automatic (default): as many as fit in
                             min_time_s, at least min_runs */
  size_t min_runs;        /* default 10 (automatic runs only) */
  size_t max_runs;        /* upper bound of automatic runs; 0 = none (default) */
  size_t warmup;          /* unmeasured runs of each command first (default 0) */
  double min_time_s;      /* automatic runs: measure each command at least this long (default 3) */
  bool interleave;        /* runs in rounds, one run of each command per round, in an order
                             shuffled per round (default true); false: all runs of the first
                             command, then the second, ... (hyperfine's order) */
  uint64_t seed;          /* of the shuffle (default 0: from the clock); stated in the results */
  const char *prepare;    /* run (unmeasured) before every run, warmups included; NULL = none */
  const char *setup;      /* run once per command before its first run (interleaved: every
                             setup before the first round); NULL = none */
  const char *cleanup;    /* once per command after its last run (interleaved: after the last
                             round); NULL = none */
  const char *shell;      /* run commands as `shell -c CMD`; NULL = no shell (default) */
  double timeout_s;       /* a run that takes longer is killed (with its process group) and
                             counts as failed; 0 = no limit (default) */
  bool ignore_failure;    /* a failing run (non-zero exit, signal, timeout) is recorded and the
                             benchmark goes on; default false: the run stops with HONE_ETASK */
  bool show_output;       /* commands keep hone's stdout/stderr (default: /dev/null) */
  bool counters;          /* open event counters (default true; see hone_bench_counters_note) */
  bool until_significant; /* after the runs above, go on (round by round) until every command
                             differs significantly from the fastest, or max_time_s passes */
  double max_time_s;      /* bound of until_significant over the whole benchmark (default 60) */
  double alpha;           /* significance level of the comparisons (default 0.05) */
  hone_bench_progress_fn progress; /* NULL = none */
  void *progress_arg;
} hone_bench_options;

/* Fills *o with the defaults above. */
HONE_API void hone_bench_options_init(hone_bench_options *o);

/* ---- The benchmark ---- */

typedef struct hone_bench hone_bench;

/* HONE_EINVAL for bad options (a negative time, min_runs 0, alpha outside (0, 1), an empty
 * shell). */
HONE_API HONE_NODISCARD int hone_bench_new(const hone_bench_options *opts, hone_bench **out);
HONE_API void hone_bench_free(hone_bench *b);

/* Adds a command (its line as typed; the name it is shown by is the line itself). Parameters
 * are (name, value) pairs recorded with the results: params has nparams * 2 strings, all copied.
 * Returns the command's index (>= 0) or HONE_EINVAL (empty line) / HONE_ENOMEM. Without a shell,
 * the line must split (hone_bench_split): HONE_EINVAL otherwise, with hone_bench_error() saying
 * why. */
HONE_API HONE_NODISCARD int hone_bench_add(hone_bench *b, const char *line,
                                           const char *const *params, size_t nparams);

/* Runs every command as the options say. 0 on success; otherwise a negative hone_err with a
 * sentence in hone_bench_error():
 *   HONE_ENOENT / HONE_EPERM  a command (or prepare/setup/cleanup) could not be started (not
 *                             found, not executable): nothing was measured;
 *   HONE_ETASK                a run failed (non-zero exit, signal, timeout) without
 *                             ignore_failure, or a prepare/setup/cleanup command failed;
 *   HONE_ESTATE               no command was added, or the benchmark already ran;
 *   HONE_ESYS, HONE_ENOMEM    the machine refused (fork, pipe, memory).
 * After a failure the runs made so far stay readable. */
HONE_API HONE_NODISCARD int hone_bench_run(hone_bench *b);
/* The sentence describing the last failure ("" when none). */
HONE_API const char *hone_bench_error(const hone_bench *b);

/* ---- Results ---- */

/* One run of a command. Times in ns; the shell's start-up cost already subtracted. */
typedef struct hone_bench_sample {
  int64_t wall_ns;
  int64_t user_ns, sys_ns;
  int64_t max_rss_bytes; /* peak RSS of the command's process tree (wait4's ru_maxrss) */
  int64_t start_ns;      /* when the run started, since the benchmark's start (CLOCK_MONOTONIC) */
  size_t round;          /* the round it ran in (from 0) */
  int exit_status;       /* exit status, or -1 when killed by a signal */
  int signal;            /* the signal that ended it, or 0 */
  bool timed_out;
  uint64_t cycles, instructions, task_clock_ns; /* meaningful only where available */
} hone_bench_sample;

typedef enum hone_bench_metric {
  HONE_BENCH_WALL = 0,
  HONE_BENCH_USER = 1,
  HONE_BENCH_SYS = 2,
  HONE_BENCH_RSS = 3, /* bytes */
  HONE_BENCH_CYCLES = 4,
  HONE_BENCH_INSTRUCTIONS = 5,
  HONE_BENCH_TASK_CLOCK = 6,
} hone_bench_metric;
#define HONE_BENCH_METRIC_COUNT 7

HONE_API size_t hone_bench_count(const hone_bench *b);
/* The command's line, or NULL for an index out of range. */
HONE_API const char *hone_bench_command(const hone_bench *b, size_t i);
/* Its parameters: *n pairs, as given to hone_bench_add (names at even, values at odd indices). */
HONE_API const char *const *hone_bench_params(const hone_bench *b, size_t i, size_t *n);
/* Its measured runs, in the order run (*n of them); NULL with *n = 0 for an index out of range. */
HONE_API const hone_bench_sample *hone_bench_samples(const hone_bench *b, size_t i, size_t *n);
/* Statistics of one metric over the command's runs (Tukey outliers). HONE_EINVAL for a bad index
 * or metric, or no runs; HONE_ENOTSUP for a counter the machine did not count. */
HONE_API HONE_NODISCARD int hone_bench_stats(const hone_bench *b, size_t i, hone_bench_metric m,
                                             hone_stats *out);
/* Whether counter metric m (HONE_BENCH_CYCLES..TASK_CLOCK) was counted in every run. */
HONE_API bool hone_bench_counter_available(const hone_bench *b, hone_bench_metric m);
/* Why counters are missing (one line, as hone_counters_note), or NULL when all were counted. */
HONE_API const char *hone_bench_counters_note(const hone_bench *b);
/* The mean start-up cost of the shell that was subtracted, in ns (0 without a shell), and of
 * which measured runs. */
HONE_API double hone_bench_shell_ns(const hone_bench *b, size_t *runs);
/* The seed the shuffle used. */
HONE_API uint64_t hone_bench_seed(const hone_bench *b);

/* Compares command i with command j on wall time: ratio = mean(j) / mean(i) with hyperfine's
 * uncertainty (hone_stats_ratio), and a two-sided Mann-Whitney U test of the two samples. */
typedef struct hone_bench_comparison {
  hone_ratio ratio; /* mean(j) / mean(i): > 1 when i is faster */
  hone_mwu test;    /* of the wall times of i and j */
  bool significant; /* test.p < alpha */
} hone_bench_comparison;
HONE_API HONE_NODISCARD int hone_bench_compare(const hone_bench *b, size_t i, size_t j,
                                               hone_bench_comparison *out);
/* The index of the command with the smallest mean wall time (0 when there is none). */
HONE_API size_t hone_bench_fastest(const hone_bench *b);

/* Sends `sig` to the process group of the command being measured, if one is running in this
 * process. Each run is started in a process group of its own (so a timeout can end its whole
 * tree), which also keeps it out of the terminal's foreground group: a Ctrl-C reaches the
 * program calling hone_bench_run(), not the command. A program that dies of that signal leaves
 * the command running unless its handler calls this first. Async-signal-safe; callable from any
 * thread or signal handler; a no-op when no command is running. */
HONE_API void hone_bench_interrupt(int sig);

#ifdef __cplusplus
}
#endif
#endif /* HONE_BENCH_H */
