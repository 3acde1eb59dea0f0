/* bench_proc.c: one run of one command for hone_bench — posix_spawn into a process group of its
 * own, wait4 for its times and peak RSS (its waited-for descendants included), a pidfd for the
 * timeout, and event counters inherited by the whole process tree. */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hone/bench.h"
#include "hone/error.h"
#include "measure/bench_internal.h"

extern char **environ;

/* The process group of the run in progress (0: none), for hone_bench_interrupt(). A lock-free
 * atomic, so reading it in a signal handler is safe. */
static _Atomic pid_t running_group;

void hone_bench_interrupt(int sig) {
  pid_t g = atomic_load_explicit(&running_group, memory_order_acquire);
  if (g > 0) kill(-g, sig);
}

int64_t hone__bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Counters ---- */

static const struct {
  const char *name;
  uint32_t type;
  uint64_t config;
} bc_events[HONE__BC_COUNT] = {
    [HONE__BC_CYCLES] = {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    [HONE__BC_INSTRUCTIONS] = {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    [HONE__BC_TASK_CLOCK] = {"task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
};

static int open_inherit(int id, int *err) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = bc_events[id].type;
  a.config = bc_events[id].config;
  /* Enabled from the start and never toggled: a run's count is the difference of two reads
   * around it (see read3), so an ENABLE/DISABLE ioctl pair per run would only add two system
   * calls to every run. */
  a.inherit = 1;
  a.exclude_hv = 1;
  a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM)) {
    a.exclude_kernel = 1; /* perf_event_paranoid >= 2: user space only */
    fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  }
  *err = fd < 0 ? errno : 0;
  return fd;
}

static const char *why(int err) {
  switch (err) {
  case ENOENT:
  case EOPNOTSUPP:
    return "the machine exposes none";
  case EACCES:
  case EPERM:
    return "perf_event_open refused (see /proc/sys/kernel/perf_event_paranoid)";
  case ENOSYS:
    return "perf_event_open is not available (kernel or seccomp filter)";
  default:
    return "perf_event_open failed";
  }
}

void hone__bench_counters_open(hone__bench_counters *c) {
  int err[HONE__BC_COUNT];
  c->note[0] = '\0';
  for (int i = 0; i < HONE__BC_COUNT; i++) c->fd[i] = open_inherit(i, &err[i]);
  size_t len = 0;
  /* Without hardware events, task-clock alone tells nothing that the run's user + sys CPU time
   * (from wait4) does not, and following every child with an inherited counter costs a run time
   * inside its timed window (a no-op's mean: 406 us with it, 384 us without, on a 2-CPU VM; its
   * per-run cost then exceeded hyperfine's by 2 %). So it is opened only beside them. */
  if (c->fd[HONE__BC_CYCLES] < 0 && c->fd[HONE__BC_INSTRUCTIONS] < 0 &&
      c->fd[HONE__BC_TASK_CLOCK] >= 0) {
    close(c->fd[HONE__BC_TASK_CLOCK]);
    c->fd[HONE__BC_TASK_CLOCK] = -1;
    err[HONE__BC_TASK_CLOCK] = 0;
  }
  for (int i = 0; i < HONE__BC_COUNT; i++) {
    if (c->fd[i] >= 0) continue;
    /* Both hardware events usually fail alike: name them together. */
    if (i == HONE__BC_INSTRUCTIONS && c->fd[HONE__BC_CYCLES] < 0 && err[i] == err[HONE__BC_CYCLES])
      continue;
    const char *names = (i == HONE__BC_CYCLES && c->fd[HONE__BC_INSTRUCTIONS] < 0 &&
                         err[HONE__BC_INSTRUCTIONS] == err[i])
                            ? "cycles, instructions"
                            : bc_events[i].name;
    int n;
    if (i == HONE__BC_TASK_CLOCK && err[i] == 0)
      n = snprintf(c->note + len, sizeof c->note - len,
                   "%stask-clock: not opened without hardware events (user + sys CPU time give "
                   "the same, without its cost per run)",
                   len ? "; " : "");
    else
      n = snprintf(c->note + len, sizeof c->note - len, "%s%s: not available: %s (%s)",
                   len ? "; " : "", names, why(err[i]), strerror(err[i]));
    if (n > 0) len += (size_t)n < sizeof c->note - len ? (size_t)n : sizeof c->note - len - 1;
  }
}

void hone__bench_counters_close(hone__bench_counters *c) {
  for (int i = 0; i < HONE__BC_COUNT; i++) {
    if (c->fd[i] >= 0) close(c->fd[i]);
    c->fd[i] = -1;
  }
}

/* An inherited counter's value includes the counts its exited children folded into it, which
 * PERF_EVENT_IOC_RESET does not clear: a run's count is the difference of two reads. */
static bool read3(int fd, uint64_t v[3]) {
  return read(fd, v, 3 * sizeof *v) == (ssize_t)(3 * sizeof *v);
}

static void counters_start(hone__bench_counters *c) {
  for (int i = 0; i < HONE__BC_COUNT; i++) {
    if (c->fd[i] < 0) continue;
    if (!read3(c->fd[i], c->before[i])) c->before[i][0] = UINT64_MAX;
  }
}

static void counters_stop(hone__bench_counters *c, hone__run_result *r) {
  for (int i = 0; i < HONE__BC_COUNT; i++) {
    r->counted[i] = false;
    r->counts[i] = 0;
    if (c->fd[i] < 0) continue;
    uint64_t v[3]; /* value, time enabled, time running */
    bool ok = read3(c->fd[i], v) && c->before[i][0] != UINT64_MAX;
    if (!ok) continue;
    uint64_t val = v[0] - c->before[i][0], en = v[1] - c->before[i][1],
             run = v[2] - c->before[i][2];
    if (en > 0 && run == 0) continue; /* never scheduled: not counted, not zero */
    /* Multiplexed by the kernel: scale the part counted up to the whole, as perf stat does. */
    r->counts[i] = run > 0 && run < en ? (uint64_t)((double)val * (double)en / (double)run) : val;
    r->counted[i] = true;
  }
}

/* ---- One run ---- */

static int64_t tv_ns(struct timeval tv) {
  return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/* Waits for pid, killing its process group when timeout_s passes (0 = no limit). */
static pid_t wait_with_timeout(pid_t pid, double timeout_s, int *status, struct rusage *ru,
                               bool *timed_out) {
  *timed_out = false;
  if (timeout_s > 0) {
    int64_t deadline = hone__bench_now_ns() + (int64_t)(timeout_s * 1e9);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
      int64_t left = deadline - hone__bench_now_ns();
      if (left <= 0) {
        *timed_out = true;
        kill(-pid, SIGKILL);
        break;
      }
      if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int ms = (int)((left + 999999) / 1000000);
        int n = poll(&p, 1, ms);
        if (n > 0) break;
        if (n < 0 && errno != EINTR) break;
      } else {
        /* No pidfd (kernel before 5.3): look every millisecond. */
        pid_t w = wait4(pid, status, WNOHANG, ru);
        if (w == pid || (w < 0 && errno != EINTR)) return w;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
      }
    }
    if (pfd >= 0) close(pfd);
  }
  pid_t w;
  do w = wait4(pid, status, 0, ru);
  while (w < 0 && errno == EINTR);
  if (*timed_out) kill(-pid, SIGKILL); /* whatever of the group outlived its leader */
  return w;
}

/* The file PATH leads `name` to (as execvp would find it), into buf; false when none is found
 * (or name has a '/'). Looked up before the clock starts, so that the failed execve calls of a
 * PATH search are not timed as the command's. */
static bool resolve(const char *name, char *buf, size_t len) {
  if (strchr(name, '/')) return false;
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path;;) {
    const char *e = strchr(p, ':');
    size_t dl = e ? (size_t)(e - p) : strlen(p);
    int n = snprintf(buf, len, "%.*s%s%s", (int)dl, p, dl ? "/" : "", name);
    struct stat st;
    if (n > 0 && (size_t)n < len && stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
        access(buf, X_OK) == 0)
      return true;
    if (!e) return false;
    p = e + 1;
  }
}

int hone__bench_run_once(char *const *argv, double timeout_s, bool show_output,
                         hone__bench_counters *counters, hone__run_result *r, int *start_errno) {
  memset(r, 0, sizeof *r);
  *start_errno = 0;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  if (posix_spawn_file_actions_init(&fa) != 0) return HONE_ENOMEM;
  if (posix_spawnattr_init(&attr) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return HONE_ENOMEM;
  }
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!show_output) {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  sigaddset(&dflt, SIGINT);
  sigaddset(&dflt, SIGQUIT);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  char exe[4096];
  bool found = resolve(argv[0], exe, sizeof exe);
  if (counters) counters_start(counters);
  pid_t pid;
  /* Signals wait (blocked in this thread) from before the spawn until the child's group is
   * published: otherwise a SIGTERM arriving once the child runs but before the store would find
   * no group to forward to in hone_bench_interrupt(), and the command would outlive its caller.
   * The child starts with an empty mask (POSIX_SPAWN_SETSIGMASK). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int64_t t0 = hone__bench_now_ns();
  int e = found ? posix_spawn(&pid, exe, &fa, &attr, argv, environ)
                : posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
  if (e == 0) atomic_store_explicit(&running_group, pid, memory_order_release);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (e != 0) {
    if (counters) counters_stop(counters, r);
    *start_errno = e;
    return e == ENOENT || e == ENOTDIR                 ? HONE_ENOENT
           : e == EACCES || e == EPERM || e == ENOEXEC ? HONE_EPERM
                                                       : HONE_ESYS;
  }
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  pid_t w = wait_with_timeout(pid, timeout_s, &status, &ru, &r->timed_out);
  atomic_store_explicit(&running_group, 0, memory_order_release);
  int64_t t1 = hone__bench_now_ns();
  if (counters) counters_stop(counters, r);
  if (w != pid) return HONE_ESYS;
  r->t0_ns = t0;
  r->wall_ns = t1 - t0;
  r->user_ns = tv_ns(ru.ru_utime);
  r->sys_ns = tv_ns(ru.ru_stime);
  r->max_rss_bytes = (int64_t)ru.ru_maxrss * 1024; /* KiB on Linux */
  if (WIFEXITED(status)) {
    r->exit_status = WEXITSTATUS(status);
  } else {
    r->exit_status = -1;
    r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return 0;
}
