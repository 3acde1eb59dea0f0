/* process.c: hone_process — a function run in a forked child. Owns the child's setup (signals
 * reset, the parent-death watcher), the shared result mapping, and joining by pid through a pidfd
 * (polled, so a join can time out without SIGCHLD handlers or busy-waiting).
 *
 * Why the parent-death watcher is a thread and not PR_SET_PDEATHSIG(SIGKILL): that signal is sent
 * when the parent THREAD that forked exits, so a child started from a short-lived thread would be
 * killed while its parent process lives on. The child instead holds a pidfd of the parent process
 * (opened before the fork: a pidfd of a process becomes readable only once its whole thread group
 * has exited) and a small thread blocked in poll() on it. Readiness is confirmed with getppid()
 * (the parent's children are reparented before its pidfd becomes readable), which also covers an
 * fd that fn closed or reused: the watcher then falls back to checking getppid() every 50 ms; and
 * since a number reused by an fd that never becomes readable would leave the poll blind, it also
 * checks getppid() every 250 ms while it waits.
 *
 * ThreadSanitizer kills a child that creates a thread after a fork of a multi-threaded process, so
 * its builds use another correct scheme: PR_SET_PDEATHSIG with a handled signal (SIGRTMAX) whose
 * handler kills the child only if getppid() shows the parent PROCESS gone. The kernel sends the
 * signal at every reparenting (each time the current parent thread exits), so the last one, when
 * the process dies, is never missed; but fn must leave that signal unblocked and its handler alone.
 */
#include "hone/process.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parallel/sync.h"
#include "parallel/tsan.h"

/* The shared mapping: this header, then result_cap bytes (64-aligned, so any type fits). */
enum { HEADER_SIZE = 64 };
typedef struct shared_header {
  size_t result_size; /* fn's *result_size points here */
} shared_header;
_Static_assert(sizeof(shared_header) <= HEADER_SIZE, "header fits");

struct hone_process {
  pid_t owner; /* the process that started the child: only it may wait for or signal it */
  pid_t pid;
  int pidfd; /* -1 when pidfd_open is unavailable: join then polls waitid */
  void *map;
  size_t map_len;
  size_t result_cap;
  bool joined;
  hone_process_status st;
};

/* Test hooks (set by tests/unit/test_process.c only): take the paths used on kernels without
 * pidfd_open, and the ThreadSanitizer build's parent-death scheme, in an ordinary build. */
enum { HONE__PROCESS_TEST_NO_PIDFD = 1, HONE__PROCESS_TEST_SIGNAL_WATCH = 2 };
extern int hone__process_test_flags;
int hone__process_test_flags;

static int pidfd_open_(pid_t pid) {
#ifdef SYS_pidfd_open
  if (!(hone__process_test_flags & HONE__PROCESS_TEST_NO_PIDFD))
    return (int)syscall(SYS_pidfd_open, pid, 0);
#endif
  (void)pid;
  errno = ENOSYS;
  return -1;
}

/* ---- the child ---------------------------------------------------------------------------- */

enum { WATCH_PERIOD_NS = 50 * 1000 * 1000, RECHECK_MS = 250 };
enum { RECHECK_SIGNAL_MS = 20, RECHECKS_SIGNAL = 250 }; /* 5 s after each parent-death signal */

typedef struct watch {
  pid_t parent;
  int parent_pidfd; /* -1: poll getppid() only */
  /* The parent is outside the child's pid namespace (it called unshare(CLONE_NEWPID): the child
   * is that namespace's pid 1): getppid() reads 0 there whatever becomes of the parent, and only
   * the pidfd (the one whose identity was noted) can tell. */
  bool other_ns;
  dev_t pidfd_dev;
  ino_t pidfd_ino;
  /* The signal scheme in another pid namespace: the kernel sends the parent-death signal before
   * it makes the dead parent's pidfd readable, so the handler can run while the pidfd still says
   * "alive" and no later signal comes. It then rechecks on this timer (SIGRTMAX too), every
   * RECHECK_SIGNAL_MS, at most `rechecks_left` times after each parent-death signal. Seen once
   * in a TSan make check: a child still running 10 s after its parent's SIGKILL. */
  bool have_timer;
  timer_t timer;
  volatile sig_atomic_t rechecks_left;
} watch;

/* Child-only state: written once before the watcher (or the handler) can run. */
static watch child_watch;

static _Noreturn void die_now(void) {
  kill(getpid(), SIGKILL);
  _exit(137); /* not reached: SIGKILL cannot be blocked */
}

/* Async-signal-safe (the signal scheme's handler calls it). */
static bool parent_gone(void) {
  if (!child_watch.other_ns) return getppid() != child_watch.parent;
  int fd = child_watch.parent_pidfd;
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  struct stat st;
  return fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) && fstat(fd, &st) == 0 &&
         st.st_dev == child_watch.pidfd_dev && st.st_ino == child_watch.pidfd_ino;
}

static void *watch_parent(void *unused) {
  (void)unused;
  if (child_watch.parent_pidfd >= 0) {
    /* The poll also wakes every RECHECK_MS: fn may have closed the pidfd and reopened its number
     * as something that never becomes readable (a pipe), and then only getppid() can tell. */
    struct pollfd pfd = {.fd = child_watch.parent_pidfd, .events = POLLIN};
    for (;;) {
      int n = poll(&pfd, 1, RECHECK_MS);
      if (n > 0 || (n < 0 && errno != EINTR)) break;
      if (parent_gone()) die_now();
    }
  }
  /* Whatever woke the poll (the parent's exit, or an fd that fn closed or reused), only a new
   * parent proves the parent process gone; in another pid namespace, the pidfd still ours. */
  if (child_watch.other_ns) {
    if (parent_gone()) die_now();
    return NULL; /* the pidfd was closed or reused by fn: nothing left to tell by */
  }
  while (!parent_gone()) {
    struct timespec ts = {0, WATCH_PERIOD_NS};
    nanosleep(&ts, NULL);
  }
  die_now();
}

/* Async-signal-safe: timer_settime is on POSIX's list. */
static void on_parent_death_signal(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  if (parent_gone()) die_now();
  if (!child_watch.have_timer) return;
  if (si->si_code != SI_TIMER) child_watch.rechecks_left = RECHECKS_SIGNAL;
  if (child_watch.rechecks_left <= 0) return;
  child_watch.rechecks_left--;
  struct itimerspec its = {{0, 0}, {0, RECHECK_SIGNAL_MS * 1000000L}};
  timer_settime(child_watch.timer, 0, &its, NULL);
}

static bool use_signal_watch(void) {
#ifdef HONE__TSAN
  return true;
#else
  return (hone__process_test_flags & HONE__PROCESS_TEST_SIGNAL_WATCH) != 0;
#endif
}

/* Arms the signal scheme (see the top of the file). */
static void arm_pdeathsig(void) {
  int sig = SIGRTMAX;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_parent_death_signal;
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
  if (child_watch.other_ns && child_watch.parent_pidfd >= 0) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = sig;
    child_watch.have_timer = timer_create(CLOCK_MONOTONIC, &ev, &child_watch.timer) == 0;
  }
  prctl(PR_SET_PDEATHSIG, sig);
}

static void start_watcher(pid_t parent, int parent_pidfd) {
  child_watch.parent = parent;
  child_watch.parent_pidfd = parent_pidfd;
  child_watch.other_ns = getppid() == 0;
  struct stat st;
  if (parent_pidfd >= 0 && fstat(parent_pidfd, &st) == 0) {
    child_watch.pidfd_dev = st.st_dev;
    child_watch.pidfd_ino = st.st_ino;
  }
  if (use_signal_watch()) {
    if (parent_pidfd >= 0 && !child_watch.other_ns) {
      close(parent_pidfd);
      child_watch.parent_pidfd = -1;
    }
    arm_pdeathsig();
    return;
  }
  /* The thread inherits the fully blocked mask set before the fork, so signals sent to the child
   * are handled by fn's thread, never by the watcher. */
  pthread_attr_t attr;
  pthread_t t;
  bool ok = pthread_attr_init(&attr) == 0;
  if (ok) {
    pthread_attr_setstacksize(&attr, (size_t)256 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ok = pthread_create(&t, &attr, watch_parent, NULL) == 0;
    pthread_attr_destroy(&attr);
  }
  /* No thread to spare (a thread limit): the signal scheme is the next best. */
  if (!ok) arm_pdeathsig();
}

/* fn called exit(): the parent's atexit handlers and destructors, registered before this one,
 * must not run in the child (they are the parent's cleanup), so end here as fn's return would. */
static void child_on_exit(int status, void *unused) {
  (void)unused;
  fflush(NULL);
  _exit(status & 255);
}

/* fn's thread called pthread_exit (or was cancelled): the child's last thread of fn's own is gone,
 * but hone's watcher would keep the process alive until the parent dies. */
static void child_on_thread_exit(void *unused) {
  (void)unused;
  fflush(NULL);
  _exit(0);
}

static _Noreturn void child_main(hone_process_fn fn, const void *arg, size_t arg_size, void *map,
                                 size_t result_cap, pid_t parent, int parent_pidfd) {
  /* Every signal is blocked here (the parent blocked them around fork), so no handler of the
   * parent's can run in the child before the dispositions are reset. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL); /* EINVAL for reserved ones */
  start_watcher(parent, parent_pidfd);
  if (parent_gone()) die_now(); /* the parent died before the watcher was in place */
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);

  on_exit(child_on_exit, NULL);
  shared_header *h = map;
  int status;
  pthread_cleanup_push(child_on_thread_exit, NULL);
  status = fn(arg, arg_size, (char *)map + HEADER_SIZE, result_cap, &h->result_size);
  pthread_cleanup_pop(0);
  fflush(NULL);
  _exit(status & 255);
}

/* ---- the parent --------------------------------------------------------------------------- */

int hone_process_start(hone_process **out, hone_process_fn fn, const void *arg, size_t arg_size,
                       size_t result_cap) {
  *out = NULL;
  if (fn == NULL || (arg == NULL && arg_size > 0)) return HONE_EINVAL;
  if (result_cap > SIZE_MAX / 2) return HONE_ENOMEM;
  hone_process *p = calloc(1, sizeof *p);
  if (p == NULL) return HONE_ENOMEM;
  p->pidfd = -1;
  p->result_cap = result_cap;
  p->map_len = HEADER_SIZE + result_cap;
  p->map = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p->map == MAP_FAILED) {
    int e = errno;
    free(p);
    return e == ENOMEM ? HONE_ENOMEM : HONE_ESYS;
  }

  /* The child reads its own private copy: the caller's buffer may be shared memory that changes
   * after the start, or memory a fork does not copy at all (another child's result buffer, which
   * is MADV_DONTFORK: read in place, it faulted). */
  void *arg_copy = NULL;
  if (arg_size > 0) {
    arg_copy = malloc(arg_size);
    if (arg_copy == NULL) {
      munmap(p->map, p->map_len);
      free(p);
      return HONE_ENOMEM;
    }
    memcpy(arg_copy, arg, arg_size);
    arg = arg_copy;
  }

  pid_t parent = getpid();
  int parent_pidfd = pidfd_open_(parent);
  /* What the caller printed but did not flush yet would otherwise be written twice: once by this
   * process, once by the child's final fflush (Python's Popen flushes the same two streams). */
  fflush(stdout);
  fflush(stderr);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) child_main(fn, arg, arg_size, p->map, result_cap, parent, parent_pidfd);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  free(arg_copy);
  if (parent_pidfd >= 0) close(parent_pidfd);
  if (pid < 0) {
    munmap(p->map, p->map_len);
    free(p);
    return fork_errno == ENOMEM ? HONE_ENOMEM : HONE_ESYS;
  }
  p->pid = pid;
  p->owner = parent;
  /* Children forked later (by any thread) need not carry this result buffer. */
  madvise(p->map, p->map_len, MADV_DONTFORK);
  /* The child is ours and unreaped, so its pid cannot have been reused yet (unless a stray
   * waitpid(-1) took it: then join reports HONE_ESYS either way). */
  p->pidfd = pidfd_open_(pid);
  *out = p;
  return 0;
}

pid_t hone_process_pid(const hone_process *p) {
  return p->pid;
}

/* A copy of the handle in a process forked later (by fork(), or as another hone child) is not
 * the child's parent: it cannot wait for it, must not signal it (that is its owner's job), and
 * has no result buffer (MADV_DONTFORK). */
static bool foreign(const hone_process *p) {
  return getpid() != p->owner;
}

/* One waitid on the child: 0 once reaped (status recorded), HONE_ETIMEDOUT while it runs (only
 * when !block), HONE_ESYS when its status is gone (someone else reaped it). */
static int reap(hone_process *p, bool block) {
  if (p->joined) return 0;
  siginfo_t si;
  for (;;) {
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | (block ? 0 : WNOHANG)) == 0) break;
    if (errno != EINTR) return HONE_ESYS;
  }
  if (si.si_pid == 0) return HONE_ETIMEDOUT;
  hone_process_status st = {0};
  if (si.si_code == CLD_EXITED) {
    st.exited = true;
    st.exit_code = si.si_status;
  } else {
    st.signaled = true;
    st.signal = si.si_status;
    st.core_dumped = si.si_code == CLD_DUMPED;
  }
  p->st = st;
  p->joined = true;
  return 0;
}

int hone_process_join(hone_process *p, int64_t timeout_ns) {
  if (p->joined) return 0;
  if (foreign(p)) return HONE_ESTATE;
  if (timeout_ns < 0 && p->pidfd < 0) return reap(p, true);
  int64_t deadline = hone__deadline(timeout_ns);
  int64_t nap = 50 * 1000; /* fallback without a pidfd: naps growing to 5 ms */
  for (;;) {
    int r = reap(p, false);
    if (r != HONE_ETIMEDOUT) return r;
    int64_t now = hone__now_ns();
    if (now >= deadline) return HONE_ETIMEDOUT;
    int64_t left = deadline - now;
    if (p->pidfd >= 0) {
      struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
      struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
      int n = ppoll(&pfd, 1, deadline == INT64_MAX ? NULL : &ts, NULL);
      if (n < 0 && errno != EINTR) return HONE_ESYS;
      /* Readable: the child has exited, so this wait ends at once. */
      if (n > 0) return reap(p, true);
    } else {
      int64_t d = nap < left ? nap : left;
      struct timespec ts = {(time_t)(d / 1000000000), (long)(d % 1000000000)};
      nanosleep(&ts, NULL);
      if (nap < 5 * 1000 * 1000) nap *= 2;
    }
  }
}

bool hone_process_alive(hone_process *p) {
  return !foreign(p) && reap(p, false) == HONE_ETIMEDOUT;
}

int hone_process_status_of(const hone_process *p, hone_process_status *st) {
  if (!p->joined) return HONE_ESTATE;
  *st = p->st;
  return 0;
}

int hone_process_exitcode(const hone_process *p) {
  if (!p->joined) return INT32_MIN;
  return p->st.exited ? p->st.exit_code : -p->st.signal;
}

const void *hone_process_result(const hone_process *p, size_t *size) {
  if (size != NULL) *size = 0;
  if (!p->joined || !p->st.exited || foreign(p)) return NULL;
  const shared_header *h = p->map;
  if (size != NULL) *size = h->result_size < p->result_cap ? h->result_size : p->result_cap;
  return (const char *)p->map + HEADER_SIZE;
}

static int send_signal(hone_process *p, int sig) {
  if (p->joined) return 0;
  if (foreign(p)) return HONE_ESTATE;
  int r;
#ifdef SYS_pidfd_send_signal
  if (p->pidfd >= 0) {
    r = (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
  } else
#endif
  {
    /* Without a pidfd, make sure the pid is still our child (not reaped by someone else and
     * reused) before signalling it. */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) return 0;
    r = kill(p->pid, sig);
  }
  return r == 0 || errno == ESRCH ? 0 : HONE_ESYS;
}

int hone_process_terminate(hone_process *p) {
  return send_signal(p, SIGTERM);
}

int hone_process_kill(hone_process *p) {
  return send_signal(p, SIGKILL);
}

void hone_process_free(hone_process *p) {
  if (p == NULL) return;
  bool own = !foreign(p);
  if (own && !p->joined) {
    send_signal(p, SIGKILL);
    (void)reap(p, true);
  }
  /* In another process neither the fd nor the address range is known to be ours any more: the
   * range was not inherited (MADV_DONTFORK) and may hold a mapping made there since, and the fd
   * number may have been closed and reused. Leaking the inherited pidfd (close-on-exec) there is
   * the lesser harm. */
  if (own) {
    if (p->pidfd >= 0) close(p->pidfd);
    munmap(p->map, p->map_len);
  }
  free(p);
}
