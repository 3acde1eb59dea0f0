/* timeit.c: `hone timeit` — Python's `python -m timeit` for C snippets: the snippet is compiled
 * (snippet.c, cached), loaded into a forked child that runs the timing loop through the hone_run
 * driver and sends the trials back over a pipe, and the parent prints Python's line, hone's richer
 * statistics, a comparison of variants, JSON or CSV.
 *
 * The child is what keeps hone safe from the snippet: a crash or a hang ends the child, never
 * hone, and is reported with the signal and the phase (setup or stmt) it happened in.
 */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "hone/clock.h"
#include "hone/counters.h"
#include "hone/stats.h"
#include "hone/timeit.h"
#include "snippet.h"
#include "timeit_msg.h"

#define CMD "timeit"

/* Defaults chosen by measurement (bench/timeit.sh): trials of at least 1 ms and the best of 25.
 * On a shared 2-core machine running more busy processes than it has CPUs, the scheduler hands
 * out slices of a few ms: a 10 ms trial (the earlier default, best of 7) nearly always contains a
 * preemption, and in about half of the sets of 5 invocations the best time of a sub-microsecond
 * statement moved by more than 2 % (up to 90 %); with 1 ms trials, best of 25, one set in
 * twenty-three did. A run then takes 0.03 to 0.1 s (Python: 0.2 s trials, best of 5, 1.4 to
 * 2.6 s). The price is paid by slow statements: 25 trials of one loop each. */
#define DEFAULT_TARGET 0.001
#define DEFAULT_REPEAT 25
/* Below this per-loop time the statement has most likely been optimised away. */
#define OPTIMISED_AWAY_NS 0.25

/* ---- options ---- */

typedef struct timeit_opts {
  uint64_t number; /* 0: autorange */
  unsigned repeat;
  double target;
  bool process;
  const char *unit; /* NULL: chosen per value as Python does */
  int verbose;
  int precision;
  hone__strv setup_lines, teardown_lines, stmts, includes, libs, libdirs, incdirs, ccs, cflags;
  hone__strv sources; /* -x */
  char *setup_file_text;
  bool compare, no_cache, csv;
  const char *json;
  double timeout; /* seconds; 0 = none */
  int cpu;        /* CPU_BEST, CPU_ANY, or the CPU to pin the measuring child to */
} timeit_opts;

enum { CPU_BEST = -2, CPU_ANY = -1 };

/* One combination of compiler, flags and statement, and what its measurement gave. */
typedef struct variant {
  const char *cc, *cflags;
  char *stmt;
  char *label;
  hone__snippet_obj obj;
  bool measured;
  uint64_t number;
  unsigned trials;
  double *per_loop; /* ns */
  hone_stats stats;
  double *kept; /* the trials inside Tukey's fences, which comparisons use (kept_n of them) */
  size_t kept_n;
  double kept_mean;
  bool have_counters;
  double counters[HONE_COUNTER_COUNT];
  bool counter_avail[HONE_COUNTER_COUNT];
  bool counter_counted[HONE_COUNTER_COUNT]; /* available and ran (not starved by multiplexing) */
  char *counter_note;
  /* The machine beside each trial (hone_result_machine), or NULL; the CPU of each (-1: moved),
   * or NULL; the CPU the first round's child pinned itself to (-1: none). */
  double *clock_ghz, *core_share;
  int32_t *cpus;
  int pinned;
  size_t nauto;
  uint64_t auto_number[64];
  double auto_ns[64];
} variant;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: hone timeit [-n N] [-r R] [-s SETUP]... [--teardown CODE]... [-p]\n"
      "                   [-u nsec|usec|msec|sec] [-v]\n"
      "                   [-x FILE.c]... [-i HEADER]... [-l LIB]... [-L DIR]... [-I DIR]...\n"
      "                   [--setup-file FILE] [--cc CC]... [--cflags FLAGS]... [--compare]\n"
      "                   [--no-cache] [--timeout SECONDS] [--target SECONDS] [--cpu WHERE]\n"
      "                   [--json FILE] [--csv] [STMT...]\n"
      "\n"
      "Times a C statement, like python -m timeit: for each of R trials (and each autorange\n"
      "step), SETUP runs, then STMT runs N times in a loop between two clock reads (no function\n"
      "call per iteration); the best trial is reported as Python reports it, then median +- MAD,\n"
      "min, max and counters. As in Python, SETUP runs before every trial, so a statement that\n"
      "changes its data (sorts an array) starts each trial from a fresh setup.\n"
      "The snippet is compiled to a shared object, cached, and run in a child process.\n"
      "\n"
      "Snippet:\n"
      "  STMT...               lines of the statement (none: the empty statement)\n"
      "  -s, --setup SETUP     a line of setup, run before every trial in the statement's\n"
      "                        scope (repeatable)\n"
      "      --teardown CODE   a line run after every trial, untimed, in the same scope\n"
      "                        (e.g. 'free(v);' for a setup that allocates)\n"
      "      --setup-file FILE  setup read from FILE (before any -s)\n"
      "  -x, --source FILE.c   compile FILE.c into the snippet too: your own functions, as\n"
      "                        Python's 'from __main__ import f' (its directory is searched\n"
      "                        for headers, after the system's: -x mysort.c -i mysort.h)\n"
      "  -i, --include HEADER  #include HEADER too (\"mine.h\": also the current directory;\n"
      "                        stdio, stdlib, string, stdint, stdbool,\n"
      "                        math, time, ... are always included)\n"
      "  keep(x) marks a value as used, clobber() marks memory as read: use them so the\n"
      "  compiler cannot delete the work being timed.\n"
      "\n"
      "Measurement:\n"
      "  -n, --number N        loops per trial (default: autorange, as Python: 1, 2, 5, 10, ...\n"
      "                        until a trial takes --target seconds)\n"
      "  -r, --repeat R        trials (default %d; Python's is 5)\n"
      "      --target SECONDS  autorange trial length (default %g; Python's is 0.2)\n"
      "  -p, --process         measure process CPU time instead of wall-clock time\n"
      "  -u, --unit UNIT       nsec, usec, msec or sec for the output\n"
      "  -v, --verbose         print every autorange step and the raw times (-vv: 4 digits)\n"
      "      --timeout SECONDS stop a snippet that runs longer than this\n"
      "      --cpu best|any|N  where the measuring child runs: the CPU whose core it has most to\n"
      "                        itself (default best: probed at start), wherever the kernel puts\n"
      "                        it (any), or CPU N\n"
      "\n"
      "Compilation:\n"
      "      --cc CC           the compiler (default $CC, else cc); repeat to compare\n"
      "      --cflags FLAGS    compiler flags (default -O2); repeat to compare\n"
      "  -l LIB, -L DIR, -I DIR  link a library, search a directory, as the compiler does\n"
      "      --no-cache        compile afresh into a temporary directory\n"
      "  Compiled snippets are cached in $XDG_CACHE_HOME/hone (see hone cache).\n"
      "\n"
      "Comparison and output:\n"
      "      --compare         time each STMT on its own and compare them\n"
      "      --json FILE       write every trial, statistics and machine facts as JSON\n"
      "                        (FILE '-': standard output, instead of the text)\n"
      "      --csv             print one CSV row per variant instead of the text\n"
      "  -h, --help            show this help\n"
      "\n"
      "Exit status: 0 measured, 1 the snippet crashed or timed out, 2 usage error or the\n"
      "snippet does not compile.\n",
      DEFAULT_REPEAT, DEFAULT_TARGET);
}

static void opts_free(timeit_opts *o) {
  hone__strv *lists[] = {&o->setup_lines, &o->teardown_lines, &o->stmts, &o->includes, &o->libs,
                         &o->libdirs,     &o->incdirs,        &o->ccs,   &o->cflags};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) hone__strv_free(lists[i]);
  hone__strv_free(&o->sources);
  free(o->setup_file_text);
}

static char *join_lines(const hone__strv *v, const char *prefix) {
  size_t len = (prefix ? strlen(prefix) + 1 : 0) + 1;
  for (size_t i = 0; i < v->n; i++) len += strlen(v->v[i]) + 1;
  char *s = malloc(len);
  if (!s) return NULL;
  s[0] = '\0';
  if (prefix && *prefix) {
    strcat(s, prefix);
    /* A file's last line ends with a newline already: no empty line before the -s lines. */
    if (v->n && prefix[strlen(prefix) - 1] != '\n') strcat(s, "\n");
  }
  for (size_t i = 0; i < v->n; i++) {
    strcat(s, v->v[i]);
    if (i + 1 < v->n) strcat(s, "\n");
  }
  return s;
}

/* ---- Python's formatting ---- */

static const struct {
  const char *name;
  double scale;
} units[] = {{"sec", 1.0}, {"msec", 1e-3}, {"usec", 1e-6}, {"nsec", 1e-9}};

/* Python's format_time: the largest unit the value reaches (nsec below that), %.*g. */
static char *format_time(const timeit_opts *o, double seconds, char *buf, size_t len) {
  size_t i = 0;
  if (o->unit) {
    while (strcmp(units[i].name, o->unit) != 0) i++;
  } else {
    while (i + 1 < sizeof units / sizeof units[0] && !(seconds >= units[i].scale)) i++;
  }
  snprintf(buf, len, "%.*g %s", o->precision, seconds / units[i].scale, units[i].name);
  return buf;
}

/* ---- the measuring child ---- */

/* Where the child is, in a page shared with the parent, which reads it once the child is gone:
 * a crash is reported in the phase it happened in, at no cost to the trial (no message). */
enum { PHASE_SETUP = 0, PHASE_STMT = 1, PHASE_TEARDOWN = 2 };
static const char *const phase_names[] = {"setup", "stmt", "teardown"};
static _Atomic int *child_phase;

static int child_fd = -1;
static hone_run *child_run;

static void child_write(const void *data, size_t total) {
  const unsigned char *b = data;
  size_t off = 0;
  while (off < total) {
    ssize_t w = write(child_fd, b + off, total - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
}

/* Allocates nothing: a failed allocation in the child must still reach the parent as a message. */
static void child_send(uint32_t type, const void *payload, uint32_t len) {
  unsigned char head[8];
  memcpy(head, &type, 4);
  memcpy(head + 4, &len, 4);
  child_write(head, sizeof head);
  if (len) child_write(payload, len);
}

static void child_error(uint32_t kind, const char *msg) {
  unsigned char p[4 + 1024];
  size_t l = strlen(msg);
  if (l > sizeof p - 4) l = sizeof p - 4;
  memcpy(p, &kind, 4);
  memcpy(p + 4, msg, l);
  child_send(HONE__MSG_ERROR, p, (uint32_t)(4 + l));
}

static uint64_t drv_next(void *run) {
  uint64_t n = hone_run_next(run);
  atomic_store_explicit(child_phase, PHASE_SETUP, memory_order_relaxed);
  return n;
}
static void drv_start(void *run) {
  atomic_store_explicit(child_phase, PHASE_STMT, memory_order_relaxed);
  hone_run_start(run);
}
static void drv_stop(void *run) {
  hone_run_stop(run);
  atomic_store_explicit(child_phase, PHASE_TEARDOWN, memory_order_relaxed);
}

static void on_trial(void *arg, const char *phase, unsigned index, unsigned total, uint64_t number,
                     double trial_ns) {
  (void)arg;
  unsigned char p[24];
  uint32_t idx = index, tot = total;
  memcpy(p, &idx, 4);
  memcpy(p + 4, &tot, 4);
  memcpy(p + 8, &number, 8);
  memcpy(p + 16, &trial_ns, 8);
  child_send(strcmp(phase, "autorange") == 0 ? HONE__MSG_AUTORANGE : HONE__MSG_TRIAL, p, sizeof p);
}

static void send_result(hone_result *res) {
  uint64_t number = hone_result_number(res);
  uint32_t trials = (uint32_t)hone_result_trials(res);
  double values[HONE_COUNTER_COUNT] = {0};
  bool avail[HONE_COUNTER_COUNT] = {0}, counted[HONE_COUNTER_COUNT] = {0};
  const char *note = NULL;
  uint32_t have = hone_result_counters(res, values, avail, &note) == 0;
  if (have) hone_result_counters_counted(res, counted);
  size_t nl = note ? strlen(note) : 0;
  size_t len = 8 + 4 + (size_t)trials * 8 + 4 + sizeof values + 2 * HONE_COUNTER_COUNT + nl;
  unsigned char *p = malloc(len), *q = p;
  if (!p) {
    child_error(HONE__ERR_RUN, "out of memory");
    _exit(4);
  }
  memcpy(q, &number, 8), q += 8;
  memcpy(q, &trials, 4), q += 4;
  memcpy(q, hone_result_per_loop(res), (size_t)trials * 8), q += (size_t)trials * 8;
  memcpy(q, &have, 4), q += 4;
  memcpy(q, values, sizeof values), q += sizeof values;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) *q++ = avail[i];
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) *q++ = counted[i];
  if (nl) memcpy(q, note, nl);
  child_send(HONE__MSG_RESULT, p, (uint32_t)len);
  free(p);
}

/* The machine beside the trials: the probe's figures and the CPU of each. */
static void send_machine(hone_result *res, int32_t pinned) {
  uint32_t trials = (uint32_t)hone_result_trials(res);
  const hone_cpu_speed *m = NULL;
  uint32_t probed = hone_result_machine(res, &m) == 0;
  const int *cpus = hone_result_cpus(res);
  size_t n = trials, len = 12 + n * 20;
  unsigned char *p = calloc(1, len);
  if (!p || !cpus) {
    free(p);
    return; /* the figures are for information: the result goes on without them */
  }
  memcpy(p, &trials, 4);
  memcpy(p + 4, &probed, 4);
  memcpy(p + 8, &pinned, 4);
  for (size_t i = 0; i < n; i++) {
    double g = probed ? m[i].clock_ghz : 0, sh = probed ? m[i].core_share : 0;
    int32_t c = cpus[i];
    memcpy(p + 12 + i * 8, &g, 8);
    memcpy(p + 12 + n * 8 + i * 8, &sh, 8);
    memcpy(p + 12 + n * 16 + i * 4, &c, 4);
  }
  child_send(HONE__MSG_MACHINE, p, (uint32_t)len);
  free(p);
}

/* Where the child measures: --cpu best pins it to the CPU whose core it has most to itself (on a
 * machine whose CPUs share cores with other work, one CPU can run a statement 10 % slower than
 * another, and invocations landing on different CPUs disagree by that much); --cpu N to that CPU;
 * --cpu any leaves it to the kernel. Returns the CPU pinned to, or -1. */
static int32_t place_child(const timeit_opts *o) {
  if (o->cpu == CPU_ANY) return -1;
  if (o->cpu == CPU_BEST) {
    int cpu = -1;
    return hone_cpu_pin_fastest(&cpu, NULL, 0) == 0 ? cpu : -1;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(o->cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "cannot run on CPU %d (--cpu): %s", o->cpu, strerror(errno));
    child_error(HONE__ERR_RUN, msg);
    _exit(4);
  }
  return o->cpu;
}

static void child_main(const timeit_opts *o, const char *so_path, pid_t parent) {
  /* A group of its own, so that the parent can end whatever the snippet forks along with it
   * (measure); and an end of its own when hone dies (Ctrl-C no longer reaches the group). */
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(5);
  /* The snippet's faults must end this process with their own signal, whatever handlers the
   * parent (or a sanitizer runtime) installed. */
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  signal(SIGPIPE, SIG_DFL);
  /* A crashing snippet is reported by its signal; a core file in the user's directory would only
   * be litter. */
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);

  void *h = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    child_error(HONE__ERR_LOAD, e ? e : "dlopen failed");
    _exit(3);
  }
  hone__snippet_fn fn;
  *(void **)&fn = dlsym(h, HONE__SNIPPET_SYMBOL);
  if (!fn) {
    child_error(HONE__ERR_LOAD, "the object has no " HONE__SNIPPET_SYMBOL);
    _exit(3);
  }
  int32_t pinned = place_child(o);
  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.clock = o->process ? HONE_CLOCK_PROCESS_CPU : HONE_CLOCK_MONOTONIC;
  cfg.number = o->number;
  cfg.repeat = o->repeat;
  cfg.autorange_target = o->target;
  cfg.counters = true;
  cfg.on_trial = on_trial;
  int rc = hone_run_new(&cfg, &child_run);
  if (rc < 0) {
    child_error(HONE__ERR_RUN, hone_strerror(rc));
    _exit(4);
  }
  hone__snippet_driver d = {HONE__SNIPPET_ABI, child_run, drv_next, drv_start, drv_stop};
  if (fn(&d) != 0) {
    child_error(HONE__ERR_LOAD, "the object was built for another version of hone");
    _exit(3);
  }
  fflush(NULL);
  hone_result *res = NULL;
  rc = hone_run_finish(child_run, &res);
  if (rc < 0) {
    child_error(HONE__ERR_RUN, rc == HONE_ESTATE ? "the statement left the timing loop (return or "
                                                   "goto?) before the measurement ended"
                                                 : hone_strerror(rc));
    _exit(4);
  }
  send_machine(res, pinned);
  send_result(res);
  hone_result_free(res);
  hone_run_free(child_run);
  _exit(0);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Outcome of one measurement. */
enum { MEASURED = 0, LOAD_FAILED = 1, FAILED = 2 };

static void progress_trial(const variant *v, size_t nvar, const char *what, unsigned i,
                           unsigned n) {
  if (nvar > 1)
    hone__cli_progress("hone timeit: %s: %s %u/%u", v->label, what, i, n);
  else
    hone__cli_progress("hone timeit: %s %u/%u", what, i, n);
}

typedef struct progress_ctx {
  const variant *v;
  size_t nvar;
  const hone__timeit_report *rep;
} progress_ctx;

static void on_seen(void *arg, int seen) {
  const progress_ctx *c = arg;
  if (seen == HONE__MSG_SEEN_AUTORANGE)
    hone__cli_progress("hone timeit: %s%scalibrating: %llu loops", c->nvar > 1 ? c->v->label : "",
                       c->nvar > 1 ? ": " : "", (unsigned long long)c->rep->last_number);
  else if (seen == HONE__MSG_SEEN_TRIAL)
    progress_trial(c->v, c->nvar, "trial", c->rep->last_index + 1, c->rep->last_total);
}

/* Moves a complete report's figures into v. */
static void take_report(variant *v, hone__timeit_report *rep) {
  free(v->per_loop);
  free(v->counter_note);
  free(v->clock_ghz);
  free(v->core_share);
  free(v->cpus);
  v->per_loop = rep->per_loop;
  v->counter_note = rep->counter_note;
  rep->per_loop = NULL;
  rep->counter_note = NULL;
  v->clock_ghz = v->core_share = NULL;
  v->cpus = NULL;
  v->pinned = -1;
  if (rep->machine_trials == rep->trials) {
    v->cpus = rep->cpus;
    rep->cpus = NULL;
    v->pinned = rep->pinned;
    if (rep->probed) {
      v->clock_ghz = rep->clock_ghz;
      v->core_share = rep->core_share;
      rep->clock_ghz = rep->core_share = NULL;
    }
  }
  v->number = rep->number;
  v->trials = rep->trials;
  v->have_counters = rep->have_counters;
  memcpy(v->counters, rep->counters, sizeof v->counters);
  memcpy(v->counter_avail, rep->counter_avail, sizeof v->counter_avail);
  memcpy(v->counter_counted, rep->counter_counted, sizeof v->counter_counted);
  v->nauto = rep->nauto;
  memcpy(v->auto_number, rep->auto_number, sizeof v->auto_number);
  memcpy(v->auto_ns, rep->auto_ns, sizeof v->auto_ns);
  v->measured = true;
}

/* The child's pid as a file descriptor that polls readable when it ends, or -1 (kernels before
 * 5.3, seccomp): then the parent looks with waitid every 50 ms. */
static int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  return -1;
#endif
}

/* Whether the child has ended, without reaping it (its pid, and so its process group's id,
 * stays reserved until waitpid). */
static bool child_ended(pid_t pid) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* Sets v->kept to the trials inside Tukey's fences. A comparison of means is hyperfine's, but
 * hyperfine's runs are whole processes; a trial of a few ms that another process held up is 5 or
 * 10 times the others, and one such trial moves a mean (and its deviation) more than the
 * difference being measured. Tukey's fences always keep the middle half. */
static int keep_inliers(variant *v) {
  bool *out = calloc(v->trials, sizeof *out);
  free(v->kept);
  v->kept = malloc(v->trials * sizeof *v->kept);
  int rc = out && v->kept ? hone_stats_outliers(v->per_loop, v->trials, HONE_OUTLIER_TUKEY, out)
                          : HONE_ENOMEM;
  v->kept_n = 0;
  double sum = 0;
  for (size_t i = 0; rc >= 0 && i < v->trials; i++)
    if (!out[i]) sum += v->kept[v->kept_n++] = v->per_loop[i];
  free(out);
  if (rc < 0 || v->kept_n == 0) return rc < 0 ? rc : HONE_EINVAL;
  v->kept_mean = sum / (double)v->kept_n;
  return 0;
}

/* Runs v's object in a child. Prints failures.
 *
 * The child leads a process group of its own, and the whole group is ended (SIGKILL) once the
 * child has ended or sent its result: a process the snippet forked inherits the result pipe, and
 * waiting for the pipe's end would wait for it (a forked sleep(40) then a crash was reported 40 s
 * late). The child's end is seen through a pidfd (or waitid every 50 ms), not the pipe. */
static int measure(const timeit_opts *o, variant *v, size_t nvar) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return hone__cli_error(CMD, "pipe: %s", strerror(errno)), FAILED;
  _Atomic int *phase =
      mmap(NULL, sizeof *phase, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (phase == MAP_FAILED) {
    close(fds[0]);
    close(fds[1]);
    return hone__cli_error(CMD, "mmap: %s", strerror(errno)), FAILED;
  }
  atomic_init(phase, PHASE_SETUP);
  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    munmap(phase, sizeof *phase);
    hone__cli_error(CMD, "fork: %s", strerror(errno));
    return FAILED;
  }
  if (pid == 0) {
    close(fds[0]);
    child_fd = fds[1];
    child_phase = phase;
    child_main(o, v->obj.so_path, parent);
  }
  setpgid(pid, pid); /* as the child does: whichever runs first, the group exists after it */
  close(fds[1]);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  int pidfd = open_pidfd(pid);
  v->measured = false;
  hone__timeit_report rep = {0};
  progress_ctx pc = {v, nvar, &rep};
  bool timed_out = false, ended = false, malformed = false, pipe_open = true;
  unsigned char *buf = NULL;
  size_t have = 0, cap = 0;
  double deadline = o->timeout > 0 ? now_s() + o->timeout : 0;
  while (!rep.measured && !rep.err && !malformed) {
    /* Read what is there, without blocking. */
    for (;;) {
      if (cap - have < 65536) {
        size_t ncap = cap ? cap * 2 : 65536 * 2;
        unsigned char *nb = realloc(buf, ncap);
        if (!nb) {
          rep.oom = malformed = true;
          break;
        }
        buf = nb;
        cap = ncap;
      }
      ssize_t r = read(fds[0], buf + have, cap - have);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        if (r == 0) pipe_open = false;
        break;
      }
      have += (size_t)r;
    }
    size_t used = 0;
    if (hone__timeit_msg_feed(&rep, buf, have, &used, on_seen, &pc) < 0) malformed = true;
    memmove(buf, buf + used, have - used);
    have -= used;
    if (rep.measured || rep.err || malformed) break;
    if (ended || (!pipe_open && pidfd < 0 && child_ended(pid))) break;
    int wait_ms = pidfd >= 0 ? -1 : 50;
    if (deadline > 0) {
      double left = deadline - now_s();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      int ms = (int)(left * 1000) + 1;
      if (wait_ms < 0 || ms < wait_ms) wait_ms = ms;
    }
    struct pollfd pfd[2] = {{pipe_open ? fds[0] : -1, POLLIN, 0}, {pidfd, POLLIN, 0}};
    int pr = poll(pfd, 2, wait_ms);
    if (pr < 0 && errno != EINTR) break;
    /* Once the child has ended, one more read takes what it wrote last. */
    if ((pidfd >= 0 && pr > 0 && (pfd[1].revents & POLLIN)) || (pidfd < 0 && child_ended(pid)))
      ended = true;
  }
  close(fds[0]);
  if (pidfd >= 0) close(pidfd);
  free(buf);
  /* A child that sent its result or its error exits at once; any other is stopped. Then its
   * group, where whatever the snippet forked lives on: the child is not reaped yet (WNOWAIT), so
   * the group's id cannot have been given to another. */
  if (timed_out || malformed || !(rep.measured || rep.err || ended)) kill(pid, SIGKILL);
  siginfo_t si;
  while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int at = atomic_load_explicit(phase, memory_order_relaxed);
  munmap(phase, sizeof *phase);
  hone__cli_progress_done();
  char prefix[512] = "";
  if (nvar > 1) snprintf(prefix, sizeof prefix, "%s: ", v->label);
  const char *where = phase_names[at >= PHASE_SETUP && at <= PHASE_TEARDOWN ? at : PHASE_SETUP];
  int outcome = FAILED;
  if (timed_out) {
    hone__cli_error(CMD, "%s%s timed out after %g s (--timeout)", prefix, where, o->timeout);
  } else if (rep.oom) {
    hone__cli_error(CMD, "%sout of memory reading the measuring child's report", prefix);
  } else if (malformed) {
    hone__cli_error(CMD,
                    "%sthe measuring child sent a malformed message (did the snippet write "
                    "on hone's pipe?)",
                    prefix);
  } else if (WIFSIGNALED(status)) {
    const char *name = sigabbrev_np(WTERMSIG(status));
    hone__cli_error(CMD, "%s%s crashed: SIG%s", prefix, where, name ? name : "?");
  } else if (rep.err) {
    hone__cli_error(CMD, "%s%s%s", prefix,
                    rep.err_kind == HONE__ERR_LOAD ? "cannot load the snippet: " : "", rep.err);
    if (rep.err_kind == HONE__ERR_LOAD) outcome = LOAD_FAILED;
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    hone__cli_error(CMD, "%s%s exited with status %d", prefix, where,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  } else if (!rep.measured) {
    hone__cli_error(CMD, "%sthe measurement ended without a result", prefix);
  } else {
    outcome = MEASURED;
    take_report(v, &rep);
  }
  hone__timeit_report_free(&rep);
  if (outcome == MEASURED) {
    if (hone_stats_compute(v->per_loop, v->trials, HONE_OUTLIER_TUKEY, &v->stats) < 0 ||
        keep_inliers(v) < 0) {
      hone__cli_error(CMD, "%sinvalid timings", prefix);
      v->measured = false;
      outcome = FAILED;
    }
  }
  return outcome;
}

/* Compared variants are measured in rounds, each variant in turn in every round: on a shared
 * machine noise comes in bursts longer than one variant's whole measurement, and measured one
 * after the other, a burst slowed one variant and not the other (a 2.00 ratio read 1.90 in one
 * run of five). Interleaved, a burst falls on every variant alike. */
#define MAX_ROUNDS 5

static unsigned round_count(const timeit_opts *o, size_t nvar) {
  if (nvar < 2) return 1;
  return o->repeat < MAX_ROUNDS ? o->repeat : MAX_ROUNDS;
}

/* Round r's share (0-based) of the trials. */
static unsigned round_trials(const timeit_opts *o, unsigned rounds, unsigned r) {
  return o->repeat / rounds + (r < o->repeat % rounds ? 1 : 0);
}

/* a's na items followed by b's nb, in a (reallocated); NULL, both freed, when either is NULL or
 * memory runs out. */
static void *append_trials(void *a, size_t na, void *b, size_t nb, size_t size) {
  void *m = a && b ? realloc(a, (na + nb) * size) : NULL;
  if (!m) {
    free(a);
    free(b);
    return NULL;
  }
  memcpy((char *)m + na * size, b, nb * size);
  free(b);
  return m;
}

/* Measures a further round of v in a new child, with the loops of its first round, and appends its
 * trials to v's. A failure leaves v unmeasured, as a failure of the first round does. */
static int measure_more(const timeit_opts *o, variant *v, size_t nvar, unsigned trials) {
  timeit_opts ro = *o;
  ro.number = v->number;
  ro.repeat = trials;
  variant before = *v;
  v->per_loop = NULL;
  v->kept = NULL;
  v->counter_note = NULL;
  v->clock_ghz = v->core_share = NULL;
  v->cpus = NULL;
  int m = measure(&ro, v, nvar);
  double *merged = NULL;
  if (m == MEASURED) {
    merged = realloc(before.per_loop, (before.trials + (size_t)v->trials) * sizeof *merged);
    if (!merged) {
      hone__cli_error(CMD, "out of memory");
      m = FAILED;
    }
  }
  if (m != MEASURED) {
    free(v->per_loop);
    free(v->kept);
    free(v->counter_note);
    free(v->clock_ghz);
    free(v->core_share);
    free(v->cpus);
    v->per_loop = before.per_loop;
    v->kept = before.kept;
    v->counter_note = before.counter_note;
    v->clock_ghz = before.clock_ghz;
    v->core_share = before.core_share;
    v->cpus = before.cpus;
    v->pinned = before.pinned;
    v->trials = before.trials;
    v->measured = false;
    return m == LOAD_FAILED ? FAILED : m;
  }
  memcpy(merged + before.trials, v->per_loop, v->trials * sizeof *merged);
  free(v->per_loop);
  v->per_loop = merged;
  /* The machine's figures stand only when every round has them. */
  v->clock_ghz =
      append_trials(before.clock_ghz, before.trials, v->clock_ghz, v->trials, sizeof *v->clock_ghz);
  v->core_share = append_trials(before.core_share, before.trials, v->core_share, v->trials,
                                sizeof *v->core_share);
  if (!v->clock_ghz || !v->core_share) {
    free(v->clock_ghz);
    free(v->core_share);
    v->clock_ghz = v->core_share = NULL;
  }
  v->cpus = append_trials(before.cpus, before.trials, v->cpus, v->trials, sizeof *v->cpus);
  v->pinned = before.pinned; /* the first round's, as the calibration is */
  /* Every round runs the same loops per trial: the counters per loop of the whole are the rounds'
   * averaged by their number of trials. */
  double total = (double)before.trials + (double)v->trials;
  v->have_counters = before.have_counters && v->have_counters;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    v->counter_avail[i] = before.counter_avail[i] && v->counter_avail[i];
    bool b = before.counter_counted[i], a = v->counter_counted[i];
    /* A round in which the counter never ran has no figure: the rounds that counted it stand. */
    if (a && b)
      v->counters[i] =
          (before.counters[i] * (double)before.trials + v->counters[i] * (double)v->trials) / total;
    else if (b)
      v->counters[i] = before.counters[i];
    v->counter_counted[i] = v->counter_avail[i] && (a || b);
  }
  if (before.counter_note) {
    free(v->counter_note);
    v->counter_note = before.counter_note;
  }
  v->trials = before.trials + v->trials;
  free(before.kept);
  /* The calibration is the first round's. */
  v->nauto = before.nauto;
  if (hone_stats_compute(v->per_loop, v->trials, HONE_OUTLIER_TUKEY, &v->stats) < 0 ||
      keep_inliers(v) < 0) {
    hone__cli_error(CMD, "%s: invalid timings", v->label);
    v->measured = false;
    return FAILED;
  }
  return MEASURED;
}

/* ---- text output ---- */

/* Lowest and highest of a per-trial figure: false without it. */
static bool trial_range(const double *x, unsigned n, double *lo, double *hi) {
  if (!x || n == 0) return false;
  *lo = *hi = x[0];
  for (unsigned i = 1; i < n; i++) {
    if (x[i] < *lo) *lo = x[i];
    if (x[i] > *hi) *hi = x[i];
  }
  return *lo > 0;
}

/* Above this, the machine's own speed moved more than the 2 % that repeated measurements of one
 * statement should agree within, and the output says so. */
#define MACHINE_SPREAD_NOTE 0.02
/* Below this core share a trial's CPU shared its core with busy work (the probe read 0.55-0.65
 * on such a CPU of the project's machines, 1.00 on the other). */
#define CORE_SHARED_NOTE 0.9

static void print_machine_note(const variant *v, const char *prefix) {
  double lo, hi;
  if (trial_range(v->clock_ghz, v->trials, &lo, &hi) && hi / lo - 1 > MACHINE_SPREAD_NOTE)
    fprintf(stderr,
            "hone timeit: %snote: the CPU's clock moved from %.3g to %.3g GHz between trials "
            "(frequency scaling): the times moved with it.\n",
            prefix, lo, hi);
  if (trial_range(v->core_share, v->trials, &lo, &hi) && lo < CORE_SHARED_NOTE)
    fprintf(stderr,
            "hone timeit: %snote: the CPU shared its core with other work during %s trials (it "
            "had %.0f %% of the core's issue rate%s): statements that need more of the core than "
            "one chain of dependent operations run slower then.%s\n",
            prefix, hi < CORE_SHARED_NOTE ? "all" : "some", 100 * lo,
            hi < CORE_SHARED_NOTE ? "" : " at worst",
            v->pinned >= 0 ? "" : " --cpu best picks the least shared CPU.");
}

/* "0", "0,1": the CPUs the trials ran on, "moved" added when one moved during a trial. */
static void format_cpus(const variant *v, char *buf, size_t size) {
  size_t at = 0;
  bool moved = false;
  buf[0] = '\0';
  for (unsigned i = 0; i < v->trials; i++) {
    int c = v->cpus[i];
    if (c < 0) {
      moved = true;
      continue;
    }
    bool seen = false;
    for (unsigned k = 0; k < i; k++) seen |= v->cpus[k] == c;
    if (!seen && at < size) at += (size_t)snprintf(buf + at, size - at, "%s%d", at ? "," : "", c);
  }
  if (moved && at < size) snprintf(buf + at, size - at, "%smoved during a trial", at ? ", " : "");
}

/* The best trial's time in cycles, at the clock probed beside that trial; 0 without a probe.
 * The clock of these machines moves (3.2-3.75 GHz between invocations on the 2-vCPU KVM guests),
 * and the time of a statement bound by its own latency moves with it: bench/timeit.sh measured
 * medians of 5 invocations 3.9 % apart in ns and 0.14-0.45 % apart in these cycles. */
static double best_trial_cycles(const variant *v, double *ghz) {
  if (ghz) *ghz = 0;
  if (!v->clock_ghz || !v->per_loop || !v->trials) return 0;
  unsigned b = 0;
  for (unsigned k = 1; k < v->trials; k++)
    if (v->per_loop[k] < v->per_loop[b]) b = k;
  if (!(v->clock_ghz[b] > 0)) return 0;
  if (ghz) *ghz = v->clock_ghz[b];
  return v->per_loop[b] * v->clock_ghz[b];
}

static void add_machine_json(cJSON *r, const variant *v) {
  cJSON *m = cJSON_AddObjectToObject(r, "machine_during_trials");
  if (v->pinned >= 0)
    cJSON_AddNumberToObject(m, "pinned_cpu", v->pinned);
  else
    cJSON_AddNullToObject(m, "pinned_cpu");
  cJSON *cpus = cJSON_AddArrayToObject(m, "cpus");
  for (unsigned k = 0; v->cpus && k < v->trials; k++)
    cJSON_AddItemToArray(cpus, cJSON_CreateNumber(v->cpus[k]));
  cJSON *g = cJSON_AddArrayToObject(m, "clock_ghz");
  cJSON *sh = cJSON_AddArrayToObject(m, "core_share");
  for (unsigned k = 0; v->clock_ghz && k < v->trials; k++) {
    cJSON_AddItemToArray(g, cJSON_CreateNumber(v->clock_ghz[k]));
    cJSON_AddItemToArray(sh, cJSON_CreateNumber(v->core_share[k]));
  }
  double cyc = best_trial_cycles(v, NULL);
  if (cyc > 0)
    cJSON_AddNumberToObject(m, "best_cycles_per_loop", cyc);
  else
    cJSON_AddNullToObject(m, "best_cycles_per_loop");
}

static void print_python_lines(const timeit_opts *o, const variant *v) {
  char b1[64];
  if (o->verbose) {
    if (o->number == 0) {
      for (size_t i = 0; i < v->nauto; i++)
        printf("%llu loop%s -> %.*g secs\n", (unsigned long long)v->auto_number[i],
               v->auto_number[i] != 1 ? "s" : "", o->precision, v->auto_ns[i] / 1e9);
      printf("\n");
    }
    printf("raw times: ");
    for (unsigned i = 0; i < v->trials; i++)
      printf("%s%s", i ? ", " : "",
             format_time(o, v->per_loop[i] * (double)v->number / 1e9, b1, sizeof b1));
    printf("\n");
    char cpus[128] = "";
    if (v->cpus) format_cpus(v, cpus, sizeof cpus);
    double glo, ghi, slo, shi;
    if (trial_range(v->clock_ghz, v->trials, &glo, &ghi) &&
        trial_range(v->core_share, v->trials, &slo, &shi))
      printf("machine: clock %.3g-%.3g GHz, core share %.2f-%.2f beside the trials", glo, ghi, slo,
             shi);
    else
      printf("machine: no probe here");
    printf("; CPU%s %s%s\n", strchr(cpus, ',') ? "s" : "", cpus[0] ? cpus : "unknown",
           v->pinned >= 0 ? " (pinned: --cpu)" : "");
    printf("\n");
  }
  printf("%llu loop%s, best of %u: %s per loop\n", (unsigned long long)v->number,
         v->number != 1 ? "s" : "", o->repeat, format_time(o, v->stats.min / 1e9, b1, sizeof b1));
}

static void print_warnings(const timeit_opts *o, const variant *v, size_t nvar) {
  char b1[64], b2[64];
  char prefix[512] = "";
  if (nvar > 1) snprintf(prefix, sizeof prefix, "%s: ", v->label);
  /* Python's condition and words (Lib/timeit.py, main). */
  if (v->stats.max >= v->stats.min * 4 && v->stats.min > 0)
    fprintf(stderr,
            "hone timeit: %swarning: The test results are likely unreliable. The worst time (%s) "
            "was more than four times slower than the best time (%s).\n",
            prefix, format_time(o, v->stats.max / 1e9, b1, sizeof b1),
            format_time(o, v->stats.min / 1e9, b2, sizeof b2));
  /* With -v only: on a shared virtual machine the clock and the core's share move all the time
   * (3.28-3.54 GHz within one run here), and most answers are the best trial's anyway. */
  if (o->verbose) print_machine_note(v, prefix);
  if (v->stats.min < OPTIMISED_AWAY_NS)
    fprintf(stderr,
            "hone timeit: %swarning: %s per loop: the statement was probably optimised away; "
            "pass its result to keep(), e.g. 'x = f(x); keep(x);'\n",
            prefix, format_time(o, v->stats.min / 1e9, b1, sizeof b1));
}

/* Without a cycles counter: the best time in cycles at the probed clock, and how far the clock
 * moved between the trials, so that a reader comparing two invocations can tell the machine's
 * clock from the statement (the ns answer moves with the clock; the cycles do not). */
static void print_clock_line(const variant *v) {
  if (v->have_counters && v->counter_avail[HONE_COUNTER_CYCLES]) return; /* counted instead */
  double ghz, lo, hi, cyc = best_trial_cycles(v, &ghz);
  if (!(cyc > 0) || !trial_range(v->clock_ghz, v->trials, &lo, &hi)) return;
  printf("  clock:         best %.4g cycles per loop at the %.3g GHz probed beside it", cyc, ghz);
  if (hi / lo - 1 > MACHINE_SPREAD_NOTE)
    printf("; the clock moved %.3g-%.3g GHz between trials (times move with it)", lo, hi);
  printf("\n");
}

static void print_rich_lines(const timeit_opts *o, const variant *v) {
  char b1[64], b2[64];
  printf("  median ± MAD:  %s ± %s\n", format_time(o, v->stats.median / 1e9, b1, sizeof b1),
         format_time(o, v->stats.mad / 1e9, b2, sizeof b2));
  printf("  min ... max:   %s ... %s\n", format_time(o, v->stats.min / 1e9, b1, sizeof b1),
         format_time(o, v->stats.max / 1e9, b2, sizeof b2));
  print_clock_line(v);
  if (!v->have_counters) return;
  /* A counter the kernel never scheduled (multiplexed out for the whole trial) has no figure:
   * "not counted", as perf stat says, never a 0. */
  bool cyc = v->counter_avail[HONE_COUNTER_CYCLES];
  bool ins = v->counter_avail[HONE_COUNTER_INSTRUCTIONS];
  bool cyc_n = v->counter_counted[HONE_COUNTER_CYCLES];
  bool ins_n = v->counter_counted[HONE_COUNTER_INSTRUCTIONS];
  if (cyc || ins) {
    printf("  per loop:      ");
    if (cyc_n)
      printf("%.4g cycles", v->counters[HONE_COUNTER_CYCLES]);
    else if (cyc)
      printf("cycles not counted");
    if (ins_n)
      printf("%s%.4g instructions", cyc ? ", " : "", v->counters[HONE_COUNTER_INSTRUCTIONS]);
    else if (ins)
      printf("%sinstructions not counted", cyc ? ", " : "");
    if (cyc_n && ins_n && v->counters[HONE_COUNTER_CYCLES] > 0)
      printf(" (%.2f IPC)",
             v->counters[HONE_COUNTER_INSTRUCTIONS] / v->counters[HONE_COUNTER_CYCLES]);
    printf("\n");
    return;
  }
  printf("  counters:      %s\n", v->counter_note ? v->counter_note : "no hardware counters");
  bool any = false;
  for (int id = HONE_COUNTER_TASK_CLOCK; id < HONE_COUNTER_COUNT; id++) {
    if (!v->counter_avail[id]) continue;
    if (!any) printf("  software/loop: ");
    if (!v->counter_counted[id])
      printf("%s%s not counted", any ? ", " : "", hone_counter_name(id));
    else if (id == HONE_COUNTER_TASK_CLOCK)
      printf("%s%s %s", any ? ", " : "", hone_counter_name(id),
             format_time(o, v->counters[id] / 1e9, b1, sizeof b1));
    else
      printf("%s%s %.3g", any ? ", " : "", hone_counter_name(id), v->counters[id]);
    any = true;
  }
  if (any) printf("\n");
}

/* The comparison: every variant's row, then how much faster the fastest ran than each other. */
static void print_comparison(const timeit_opts *o, variant *vs, size_t n) {
  bool cycles = false, any = false;
  for (size_t i = 0; i < n; i++) {
    any |= vs[i].measured;
    if (vs[i].measured && vs[i].have_counters && vs[i].counter_avail[HONE_COUNTER_CYCLES])
      cycles = true;
  }
  if (!any) return; /* every variant failed, and said why: no empty table */
  static const char *const headers[] = {"variant", "loops", "best",       "median",
                                        "± MAD",   "max",   "cycles/loop"};
  hone__table *t = hone__table_new(cycles ? 7 : 6, headers, "lrrrrrr");
  if (!t) return;
  for (size_t i = 0; i < n; i++) {
    variant *v = &vs[i];
    if (!v->measured) continue;
    char b[4][64], cyc[32] = "-", loops[32];
    snprintf(loops, sizeof loops, "%llu", (unsigned long long)v->number);
    if (v->have_counters && v->counter_counted[HONE_COUNTER_CYCLES])
      snprintf(cyc, sizeof cyc, "%.4g", v->counters[HONE_COUNTER_CYCLES]);
    else if (v->have_counters && v->counter_avail[HONE_COUNTER_CYCLES])
      snprintf(cyc, sizeof cyc, "not counted");
    const char *cells[7] = {v->label,
                            loops,
                            format_time(o, v->stats.min / 1e9, b[0], 64),
                            format_time(o, v->stats.median / 1e9, b[1], 64),
                            format_time(o, v->stats.mad / 1e9, b[2], 64),
                            format_time(o, v->stats.max / 1e9, b[3], 64),
                            cyc};
    hone__table_add(t, cells);
  }
  printf("\n");
  hone__table_print(t, stdout);
  hone__table_free(t);
  size_t best = n;
  for (size_t i = 0; i < n; i++)
    if (vs[i].measured && (best == n || vs[i].kept_mean < vs[best].kept_mean)) best = i;
  if (best == n) return;
  printf("\nSummary\n");
  for (size_t i = 0; i < n; i++) {
    if (i == best || !vs[i].measured) continue;
    hone_ratio r;
    if (hone_stats_ratio(vs[i].kept, vs[i].kept_n, vs[best].kept, vs[best].kept_n, &r) < 0)
      continue;
    printf("  %s ran %.2f ± %.2f times faster than %s\n", vs[best].label, r.value, r.uncertainty,
           vs[i].label);
  }
}

static void print_csv(variant *vs, size_t n, const timeit_opts *o) {
  static const char *const headers[] = {"label",
                                        "cc",
                                        "cflags",
                                        "stmt",
                                        "loops",
                                        "repeat",
                                        "best_ns",
                                        "median_ns",
                                        "mad_ns",
                                        "min_ns",
                                        "max_ns",
                                        "mean_ns",
                                        "stdev_ns",
                                        "cycles_per_loop",
                                        "instructions_per_loop"};
  enum { NC = sizeof headers / sizeof headers[0] };
  hone__table *t = hone__table_new(NC, headers, NULL);
  if (!t) return;
  for (size_t i = 0; i < n; i++) {
    variant *v = &vs[i];
    if (!v->measured) continue;
    char num[12][40];
    snprintf(num[0], 40, "%llu", (unsigned long long)v->number);
    snprintf(num[1], 40, "%u", o->repeat);
    double f[7] = {v->stats.min, v->stats.median, v->stats.mad,  v->stats.min,
                   v->stats.max, v->stats.mean,   v->stats.stdev};
    for (int k = 0; k < 7; k++) snprintf(num[2 + k], 40, "%.6g", f[k]);
    snprintf(num[9], 40, "%s", "");
    snprintf(num[10], 40, "%s", "");
    if (v->have_counters && v->counter_counted[HONE_COUNTER_CYCLES])
      snprintf(num[9], 40, "%.6g", v->counters[HONE_COUNTER_CYCLES]);
    if (v->have_counters && v->counter_counted[HONE_COUNTER_INSTRUCTIONS])
      snprintf(num[10], 40, "%.6g", v->counters[HONE_COUNTER_INSTRUCTIONS]);
    const char *cells[NC] = {v->label, v->cc,  v->cflags, v->stmt, num[0], num[1], num[2], num[3],
                             num[4],   num[5], num[6],    num[7],  num[8], num[9], num[10]};
    hone__table_add(t, cells);
  }
  hone__table_print_csv(t, stdout);
  hone__table_free(t);
}

/* ---- JSON ---- */

static char *cpu_model(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return NULL;
  char line[512];
  char *model = NULL;
  while (!model && fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
      char *c = strchr(line, ':');
      if (!c) continue;
      c++;
      while (*c == ' ' || *c == '\t') c++;
      c[strcspn(c, "\n")] = '\0';
      model = strdup(c);
    }
  }
  fclose(f);
  return model;
}

static cJSON *stats_json(const hone_stats *s) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddNumberToObject(j, "n", (double)s->n);
  cJSON_AddNumberToObject(j, "min_ns", s->min);
  cJSON_AddNumberToObject(j, "max_ns", s->max);
  cJSON_AddNumberToObject(j, "mean_ns", s->mean);
  cJSON_AddNumberToObject(j, "stdev_ns", s->stdev);
  cJSON_AddNumberToObject(j, "median_ns", s->median);
  cJSON_AddNumberToObject(j, "mad_ns", s->mad);
  cJSON_AddNumberToObject(j, "q1_ns", s->q1);
  cJSON_AddNumberToObject(j, "q3_ns", s->q3);
  cJSON_AddNumberToObject(j, "outliers_low", (double)s->outliers_low);
  cJSON_AddNumberToObject(j, "outliers_high", (double)s->outliers_high);
  return j;
}

static int write_json(const timeit_opts *o, const char *setup, const char *teardown, variant *vs,
                      size_t n) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddNumberToObject(root, "version", 1);
  cJSON_AddStringToObject(root, "tool", "hone timeit");
  cJSON_AddStringToObject(root, "hone_version", hone_version());
  cJSON *m = cJSON_AddObjectToObject(root, "machine");
  char *cpu = cpu_model();
  cJSON_AddStringToObject(m, "cpu", cpu ? cpu : "unknown");
  free(cpu);
  cJSON_AddNumberToObject(m, "nproc", (double)sysconf(_SC_NPROCESSORS_ONLN));
  struct utsname u;
  if (uname(&u) == 0) {
    char k[600];
    snprintf(k, sizeof k, "%s %s %s", u.sysname, u.release, u.machine);
    cJSON_AddStringToObject(m, "kernel", k);
  }
  cJSON *c = cJSON_AddObjectToObject(root, "clock");
  hone_clock_id cid = o->process ? HONE_CLOCK_PROCESS_CPU : HONE_CLOCK_MONOTONIC;
  hone_clock_info ci;
  cJSON_AddStringToObject(c, "name", hone_clock_name(cid) ? hone_clock_name(cid) : "?");
  if (hone_clock_info_get(cid, &ci) == 0) {
    cJSON_AddStringToObject(c, "source", ci.source ? ci.source : "");
    cJSON_AddNumberToObject(c, "resolution_ns", ci.resolution_ns);
    cJSON_AddNumberToObject(c, "cost_ns", ci.cost_ns);
  }
  cJSON_AddStringToObject(root, "setup", setup);
  cJSON_AddStringToObject(root, "teardown", teardown);
  /* As Python's timeit: setup (and teardown) around every trial, autorange's included. */
  cJSON_AddStringToObject(root, "setup_runs", "per_trial");
  cJSON_AddNumberToObject(root, "number", (double)o->number);
  cJSON_AddNumberToObject(root, "repeat", o->repeat);
  cJSON_AddNumberToObject(root, "rounds", round_count(o, n));
  cJSON_AddNumberToObject(root, "autorange_target_s", o->target);
  cJSON *res = cJSON_AddArrayToObject(root, "results");
  for (size_t i = 0; i < n; i++) {
    variant *v = &vs[i];
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToArray(res, r);
    cJSON_AddStringToObject(r, "label", v->label);
    cJSON_AddStringToObject(r, "stmt", v->stmt);
    cJSON *cc = cJSON_AddObjectToObject(r, "compiler");
    cJSON_AddStringToObject(cc, "command", v->cc);
    cJSON_AddStringToObject(cc, "path", v->obj.cc_path ? v->obj.cc_path : "");
    cJSON_AddStringToObject(cc, "version", v->obj.cc_version ? v->obj.cc_version : "");
    cJSON_AddStringToObject(r, "cflags", v->cflags);
    cJSON_AddBoolToObject(r, "cache_hit", v->obj.cache_hit);
    cJSON_AddStringToObject(r, "cache_key", v->obj.key);
    cJSON_AddNumberToObject(r, "compile_s", v->obj.compile_seconds);
    cJSON_AddBoolToObject(r, "measured", v->measured);
    if (!v->measured) continue;
    cJSON_AddNumberToObject(r, "loops", (double)v->number);
    cJSON *pl = cJSON_AddArrayToObject(r, "per_loop_ns");
    cJSON *raw = cJSON_AddArrayToObject(r, "raw_ns");
    for (unsigned k = 0; k < v->trials; k++) {
      cJSON_AddItemToArray(pl, cJSON_CreateNumber(v->per_loop[k]));
      cJSON_AddItemToArray(raw, cJSON_CreateNumber(v->per_loop[k] * (double)v->number));
    }
    cJSON *ar = cJSON_AddArrayToObject(r, "autorange");
    for (size_t k = 0; k < v->nauto; k++) {
      cJSON *step = cJSON_CreateObject();
      cJSON_AddNumberToObject(step, "loops", (double)v->auto_number[k]);
      cJSON_AddNumberToObject(step, "ns", v->auto_ns[k]);
      cJSON_AddItemToArray(ar, step);
    }
    /* Every autorange step and every trial ran the setup once. */
    cJSON_AddNumberToObject(r, "setup_runs", (double)(v->nauto + v->trials));
    cJSON_AddItemToObject(r, "stats", stats_json(&v->stats));
    cJSON *cn = cJSON_AddObjectToObject(r, "counters_per_loop");
    cJSON *nc = cJSON_AddArrayToObject(r, "counters_not_counted");
    if (v->have_counters)
      for (int id = 0; id < HONE_COUNTER_COUNT; id++) {
        const char *name = hone_counter_name((hone_counter_id)id);
        if (v->counter_counted[id])
          cJSON_AddNumberToObject(cn, name, v->counters[id]);
        else if (v->counter_avail[id])
          cJSON_AddItemToArray(nc, cJSON_CreateString(name));
      }
    if (v->counter_note)
      cJSON_AddStringToObject(r, "counters_note", v->counter_note);
    else
      cJSON_AddNullToObject(r, "counters_note");
    add_machine_json(r, v);
  }
  cJSON *cmp = cJSON_AddArrayToObject(root, "comparison");
  size_t best = n;
  for (size_t i = 0; i < n; i++)
    if (vs[i].measured && (best == n || vs[i].kept_mean < vs[best].kept_mean)) best = i;
  for (size_t i = 0; n > 1 && best < n && i < n; i++) {
    hone_ratio rt;
    if (i == best || !vs[i].measured ||
        hone_stats_ratio(vs[i].kept, vs[i].kept_n, vs[best].kept, vs[best].kept_n, &rt) < 0)
      continue;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "faster", vs[best].label);
    cJSON_AddStringToObject(e, "slower", vs[i].label);
    cJSON_AddNumberToObject(e, "ratio", rt.value);
    cJSON_AddNumberToObject(e, "uncertainty", rt.uncertainty);
    cJSON_AddItemToArray(cmp, e);
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return hone__cli_error(CMD, "out of memory");
  int rc = HONE_EXIT_OK;
  if (strcmp(o->json, "-") == 0) {
    printf("%s\n", text);
  } else {
    FILE *f = fopen(o->json, "w");
    if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
      rc = hone__cli_error(CMD, "cannot write %s: %s", o->json, strerror(errno));
    }
  }
  cJSON_free(text);
  return rc;
}

/* ---- the command ---- */

/* Appends a directory of -I or -L, made absolute: the key of the cached object names it, and
 * `-I .` in another directory is other headers (and the run-time path of -L must not depend on
 * where the snippet runs). */
static int push_dir(hone__strv *v, const char *dir) {
  if (dir[0] == '/') return hone__strv_push(v, dir);
  char *real = realpath(dir, NULL);
  if (real) {
    int rc = hone__strv_push(v, real);
    free(real);
    return rc;
  }
  char *cwd = getcwd(NULL, 0);
  if (!cwd) return hone__strv_push(v, dir);
  char *abs = NULL;
  int rc = asprintf(&abs, "%s/%s", cwd, dir) < 0 ? HONE_ENOMEM : hone__strv_push(v, abs);
  free(abs);
  free(cwd);
  return rc;
}

static int parse_args(int argc, char **argv, timeit_opts *o, bool *help) {
  enum {
    OPT_CC = 256,
    OPT_CFLAGS,
    OPT_SETUP_FILE,
    OPT_COMPARE,
    OPT_NO_CACHE,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_CSV,
    OPT_TARGET,
    OPT_TEARDOWN,
    OPT_CPU
  };
  static const struct option longopts[] = {
      {"number", required_argument, NULL, 'n'},
      {"repeat", required_argument, NULL, 'r'},
      {"setup", required_argument, NULL, 's'},
      {"process", no_argument, NULL, 'p'},
      {"unit", required_argument, NULL, 'u'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"include", required_argument, NULL, 'i'},
      {"source", required_argument, NULL, 'x'},
      {"cc", required_argument, NULL, OPT_CC},
      {"cflags", required_argument, NULL, OPT_CFLAGS},
      {"setup-file", required_argument, NULL, OPT_SETUP_FILE},
      {"compare", no_argument, NULL, OPT_COMPARE},
      {"no-cache", no_argument, NULL, OPT_NO_CACHE},
      {"timeout", required_argument, NULL, OPT_TIMEOUT},
      {"target", required_argument, NULL, OPT_TARGET},
      {"json", required_argument, NULL, OPT_JSON},
      {"csv", no_argument, NULL, OPT_CSV},
      {"teardown", required_argument, NULL, OPT_TEARDOWN},
      {"cpu", required_argument, NULL, OPT_CPU},
      {NULL, 0, NULL, 0},
  };
  optind = 1;
  opterr = 0;
  int c;
  unsigned long long u;
  while ((c = getopt_long(argc, argv, ":n:r:s:pu:vhi:l:L:I:x:", longopts, NULL)) != -1) {
    int rc = 0;
    switch (c) {
    case 'n':
      if (!hone__cli_parse_u64(optarg, &u))
        return hone__cli_usage_error(CMD, "-n needs a number of loops, not '%s'", optarg);
      o->number = u;
      break;
    case 'r':
      if (!hone__cli_parse_u64(optarg, &u) || u > 1000000)
        return hone__cli_usage_error(CMD, "-r needs a number of trials, not '%s'", optarg);
      o->repeat = u ? (unsigned)u : 1; /* as Python: 0 means 1 */
      break;
    case 's':
      rc = hone__strv_push(&o->setup_lines, optarg);
      break;
    case OPT_TEARDOWN:
      rc = hone__strv_push(&o->teardown_lines, optarg);
      break;
    case 'p':
      o->process = true;
      break;
    case 'u': {
      bool ok = false;
      for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(optarg, units[i].name) == 0) ok = true;
      if (!ok)
        return hone__cli_usage_error(
            CMD, "unrecognized unit '%s'. Please select nsec, usec, msec, or sec.", optarg);
      o->unit = optarg;
      break;
    }
    case 'v':
      if (o->verbose) o->precision++;
      o->verbose++;
      break;
    case 'h':
      *help = true;
      return HONE_EXIT_OK;
    case 'i':
      rc = hone__strv_push(&o->includes, optarg);
      break;
    case 'x':
      if (access(optarg, R_OK) != 0)
        return hone__cli_usage_error(CMD, "-x: cannot read %s: %s", optarg, strerror(errno));
      rc = hone__strv_push(&o->sources, optarg);
      break;
    case 'l':
      rc = hone__strv_push(&o->libs, optarg);
      break;
    case 'L':
      rc = push_dir(&o->libdirs, optarg);
      break;
    case 'I':
      rc = push_dir(&o->incdirs, optarg);
      break;
    case OPT_CC:
      rc = hone__strv_push(&o->ccs, optarg);
      break;
    case OPT_CFLAGS:
      rc = hone__strv_push(&o->cflags, optarg);
      break;
    case OPT_SETUP_FILE: {
      FILE *f = fopen(optarg, "r");
      if (!f) return hone__cli_usage_error(CMD, "cannot read %s: %s", optarg, strerror(errno));
      size_t cap = 4096, len = 0;
      char *text = malloc(cap);
      size_t r;
      while (text && (r = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len < 2) {
          char *nt = realloc(text, cap * 2);
          if (!nt) {
            free(text);
            text = NULL;
          }
          text = nt;
          cap *= 2;
        }
      }
      fclose(f);
      if (!text) return hone__cli_error(CMD, "out of memory");
      text[len] = '\0';
      free(o->setup_file_text);
      o->setup_file_text = text;
      break;
    }
    case OPT_COMPARE:
      o->compare = true;
      break;
    case OPT_NO_CACHE:
      o->no_cache = true;
      break;
    case OPT_CPU:
      if (!strcmp(optarg, "best")) {
        o->cpu = CPU_BEST;
      } else if (!strcmp(optarg, "any")) {
        o->cpu = CPU_ANY;
      } else {
        char *end;
        errno = 0;
        long n = strtol(optarg, &end, 10);
        if (errno || end == optarg || *end || n < 0 || n >= CPU_SETSIZE)
          return hone__cli_usage_error(CMD,
                                       "--cpu needs best, any or a CPU number (0 to %d), not '%s'",
                                       CPU_SETSIZE - 1, optarg);
        o->cpu = (int)n;
      }
      break;
    case OPT_TIMEOUT:
      if (!hone__cli_parse_double(optarg, &o->timeout) || o->timeout <= 0)
        return hone__cli_usage_error(CMD, "--timeout needs a positive number of seconds, not '%s'",
                                     optarg);
      break;
    case OPT_TARGET:
      if (!hone__cli_parse_double(optarg, &o->target) || o->target <= 0 || o->target > 3600)
        return hone__cli_usage_error(CMD, "--target needs a positive number of seconds, not '%s'",
                                     optarg);
      break;
    case OPT_JSON:
      o->json = optarg;
      break;
    case OPT_CSV:
      o->csv = true;
      break;
    case ':':
      return hone__cli_usage_error(CMD, "option '%s' needs an argument", argv[optind - 1]);
    default:
      if (optopt) return hone__cli_usage_error(CMD, "unknown option '-%c'", optopt);
      return hone__cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
    }
    if (rc) return hone__cli_error(CMD, "out of memory");
  }
  for (int i = optind; i < argc; i++)
    if (hone__strv_push(&o->stmts, argv[i])) return hone__cli_error(CMD, "out of memory");
  return HONE_EXIT_OK;
}

static char *make_label(const timeit_opts *o, const char *cc, const char *cflags,
                        const char *stmt) {
  char buf[1024] = "";
  size_t ncc = o->ccs.n ? o->ccs.n : 1, nfl = o->cflags.n ? o->cflags.n : 1;
  bool stmt_varies = o->compare && o->stmts.n > 1;
  if (ncc > 1) snprintf(buf, sizeof buf, "%s", cc);
  if (nfl > 1)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", *buf ? " " : "", cflags);
  if (stmt_varies || !*buf)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", *buf ? " " : "", stmt);
  return strdup(buf);
}

static void variants_free(variant *vs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    hone__snippet_release(&vs[i].obj);
    free(vs[i].stmt);
    free(vs[i].label);
    free(vs[i].per_loop);
    free(vs[i].kept);
    free(vs[i].counter_note);
    free(vs[i].clock_ghz);
    free(vs[i].core_share);
    free(vs[i].cpus);
  }
  free(vs);
}

int hone__cmd_timeit(int argc, char **argv) {
  timeit_opts o = {0};
  o.repeat = DEFAULT_REPEAT;
  o.cpu = CPU_BEST;
  o.target = DEFAULT_TARGET;
  o.precision = 3;
  bool help = false;
  int rc = parse_args(argc, argv, &o, &help);
  if (rc || help) {
    if (help) usage(stdout);
    opts_free(&o);
    return rc;
  }
  if (o.csv && o.json && strcmp(o.json, "-") == 0) {
    opts_free(&o);
    return hone__cli_usage_error(CMD, "--csv and --json - both want standard output");
  }
  const char *env_cc = getenv("CC");
  const char *default_cc = env_cc && *env_cc ? env_cc : "cc";
  char *setup = join_lines(&o.setup_lines, o.setup_file_text);
  char *teardown = join_lines(&o.teardown_lines, NULL);
  /* The statements: one variant per STMT with --compare, else the lines of one statement. */
  hone__strv stmt_list = {0};
  if (o.compare && o.stmts.n > 0) {
    for (size_t i = 0; i < o.stmts.n; i++) hone__strv_push(&stmt_list, o.stmts.v[i]);
  } else {
    char *joined = join_lines(&o.stmts, NULL);
    if (joined) hone__strv_push(&stmt_list, joined);
    free(joined);
  }
  size_t ncc = o.ccs.n ? o.ccs.n : 1, nfl = o.cflags.n ? o.cflags.n : 1;
  size_t nvar = ncc * nfl * stmt_list.n;
  variant *vs = calloc(nvar ? nvar : 1, sizeof *vs);
  if (!setup || !teardown || !vs || stmt_list.n == 0) {
    free(setup);
    free(teardown);
    free(vs);
    hone__strv_free(&stmt_list);
    opts_free(&o);
    return hone__cli_error(CMD, "out of memory");
  }
  size_t k = 0;
  for (size_t a = 0; a < ncc; a++)
    for (size_t b = 0; b < nfl; b++)
      for (size_t s = 0; s < stmt_list.n; s++, k++) {
        vs[k].cc = o.ccs.n ? o.ccs.v[a] : default_cc;
        vs[k].cflags = o.cflags.n ? o.cflags.v[b] : "-O2";
        vs[k].stmt = strdup(stmt_list.v[s]);
        vs[k].label = make_label(&o, vs[k].cc, vs[k].cflags, stmt_list.v[s]);
      }

  /* A quoted -i header is also looked for in the current directory, where a compiler finds it
   * next to a source file (the snippet's is in the cache) and Python's timeit imports from. */
  char *quote_dir = NULL;
  for (size_t i = 0; i < o.includes.n && !quote_dir; i++)
    if (o.includes.v[i][0] == '"') quote_dir = getcwd(NULL, 0);
  int status = HONE_EXIT_OK;
  unsigned rounds = round_count(&o, nvar);
  timeit_opts first = o;
  first.repeat = round_trials(&o, rounds, 0);
  for (size_t i = 0; i < nvar; i++) {
    variant *v = &vs[i];
    hone__snippet_spec spec = {
        .setup = setup, .stmt = v->stmt, .teardown = teardown, .includes = &o.includes};
    hone__compile_opts co = {.cc = v->cc,
                             .cflags = v->cflags,
                             .libs = &o.libs,
                             .libdirs = &o.libdirs,
                             .incdirs = &o.incdirs,
                             .quote_dir = quote_dir,
                             .sources = &o.sources,
                             .use_cache = !o.no_cache,
                             .show_warnings = o.verbose > 0,
                             .allow_fallback = ncc == 1};
    if (nvar > 1)
      hone__cli_progress("hone timeit: %s: compiling", v->label);
    else
      hone__cli_progress("hone timeit: compiling");
    for (int attempt = 0; attempt < 2; attempt++) {
      int brc = hone__snippet_build(CMD, &spec, &co, &v->obj);
      if (brc) {
        status = brc;
        break;
      }
      if (o.verbose)
        fprintf(stderr, "hone timeit: %s%s%s %s\n", nvar > 1 ? v->label : "", nvar > 1 ? ": " : "",
                v->obj.cache_hit   ? "cache hit:"
                : v->obj.temporary ? "compiled (not cached):"
                                   : "compiled and cached:",
                v->obj.so_path);
      int m = measure(&first, v, nvar);
      if (m == LOAD_FAILED && v->obj.cache_hit && attempt == 0) {
        /* A cached object that does not load is corrupt: rebuild it once. */
        fprintf(stderr, "hone timeit: rebuilding a corrupt cache entry\n");
        hone__snippet_invalidate(&v->obj);
        hone__snippet_release(&v->obj);
        continue;
      }
      if (m != MEASURED && status == HONE_EXIT_OK) status = HONE_EXIT_FAILURE;
      break;
    }
    if (status == HONE_EXIT_USAGE) break;
  }
  for (unsigned r = 1; r < rounds && status != HONE_EXIT_USAGE; r++)
    for (size_t i = 0; i < nvar; i++)
      if (vs[i].measured &&
          measure_more(&o, &vs[i], nvar, round_trials(&o, rounds, r)) != MEASURED &&
          status == HONE_EXIT_OK)
        status = HONE_EXIT_FAILURE;
  for (size_t i = 0; i < nvar; i++) {
    variant *v = &vs[i];
    if (v->measured && !o.csv && !(o.json && strcmp(o.json, "-") == 0)) {
      if (nvar > 1) printf("%s: ", v->label);
      print_python_lines(&o, v);
      if (nvar == 1) print_rich_lines(&o, v);
      fflush(stdout);
    }
    if (v->measured) print_warnings(&o, v, nvar);
  }
  if (status != HONE_EXIT_USAGE) {
    bool text = !o.csv && !(o.json && strcmp(o.json, "-") == 0);
    if (text && nvar > 1) print_comparison(&o, vs, nvar);
    if (o.csv) print_csv(vs, nvar, &o);
    if (o.json) {
      int jrc = write_json(&o, setup, teardown, vs, nvar);
      if (jrc && status == HONE_EXIT_OK) status = jrc;
    }
  }
  variants_free(vs, nvar);
  free(quote_dir);
  free(setup);
  free(teardown);
  hone__strv_free(&stmt_list);
  opts_free(&o);
  return status;
}
