/* test_process.c: hone_process — argument and result buffers, exit codes, deaths by signal, join
 * timeouts, terminate/kill, no zombie after free, the child dying with its parent process (and
 * not with the thread that started it), and the fallback paths taken without pidfd_open.
 * HONE_TEST_CONCURRENCY: also run under ThreadSanitizer (it forks from a TSan process: see
 * docs/process.md on what a TSan child may do). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/process.h"

/* process.c's test hooks (see there). */
extern int hone__process_test_flags;
enum { NO_PIDFD = 1, SIGNAL_WATCH = 2 };

static const int64_t MS = 1000 * 1000;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int reset_flags(void **state) {
  (void)state;
  hone__process_test_flags = 0;
  return 0;
}

static hone_process *start(hone_process_fn fn, const void *arg, size_t n, size_t cap) {
  hone_process *p = NULL;
  assert_int_equal(hone_process_start(&p, fn, arg, n, cap), 0);
  assert_non_null(p);
  assert_true(hone_process_pid(p) > 0);
  return p;
}

/* Joins (bounded: a hang fails the test instead of stalling it) and returns the status. */
static hone_process_status join(hone_process *p) {
  assert_int_equal(hone_process_join(p, 20000 * MS), 0);
  hone_process_status st;
  assert_int_equal(hone_process_status_of(p, &st), 0);
  return st;
}

/* ---- functions run in the children ------------------------------------------------------ */

typedef struct job {
  int n;
  int vals[16];
  char name[32];
  const char *note; /* a pointer into the parent's memory: still valid in the child */
} job;

typedef struct answer {
  long sum;
  char greeting[64];
  pid_t pid;
} answer;

static const char NOTE[] = "fork keeps pointers valid";

static int fn_sum(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  const job *j = arg;
  if (n != sizeof *j || cap < sizeof(answer) || *res_size != 0) return 9;
  answer a = {0};
  for (int i = 0; i < j->n; i++) a.sum += j->vals[i];
  snprintf(a.greeting, sizeof a.greeting, "hello %s: %s", j->name, j->note);
  a.pid = getpid();
  memcpy(res, &a, sizeof a);
  *res_size = sizeof a;
  return 0;
}

static int fn_status(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  int code;
  memcpy(&code, arg, sizeof code);
  return code;
}

static int fn_oversize(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  memset(res, 'x', cap);
  *res_size = cap + 1000;
  return 0;
}

static int fn_noop(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  return arg == NULL && n == 0 && cap == 0 ? 0 : 1;
}

/* Copies its argument into its result, after a pause that lets the parent change its own copy. */
static int fn_echo(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  if (n > cap) return 3;
  sleep_ms(100);
  memcpy(res, arg, n);
  *res_size = n;
  return 0;
}

static int fn_exit7(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  memcpy(res, "before", 6);
  *res_size = 6;
  _exit(7);
}

static int fn_raise_segv(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  raise(SIGSEGV);
  return 0;
}

/* A real fault, not a raised signal. The address is a mapped PROT_NONE page rather than NULL, so
 * that UBSan's null check (which would abort instead) does not intervene. */
static int fn_fault(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return 2;
  *(volatile int *)page = 1;
  return 0;
}

static int fn_abort(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  /* No core file in the build tree (a pipe in core_pattern may still take one: not asserted). */
  struct rlimit rl = {0, 0};
  setrlimit(RLIMIT_CORE, &rl);
  abort();
}

static int fn_sleep(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  sleep_ms(30000);
  return 0;
}

static int fn_result_then_sigkill(const void *arg, size_t n, void *res, size_t cap,
                                  size_t *res_size) {
  memcpy(res, "partial", 7);
  *res_size = 7;
  raise(SIGKILL);
  return 0;
}

/* ---- buffers ----------------------------------------------------------------------------- */

static void test_argument_and_result_roundtrip(void **state) {
  (void)state;
  job j = {.n = 16, .note = NOTE};
  for (int i = 0; i < 16; i++) j.vals[i] = (i + 1) * 100;
  strcpy(j.name, "child");
  hone_process *p = start(fn_sum, &j, sizeof j, sizeof(answer));
  pid_t pid = hone_process_pid(p);
  memset(&j, 0, sizeof j); /* the child works on its own copy */

  hone_process_status st = join(p);
  assert_true(st.exited);
  assert_false(st.signaled);
  assert_int_equal(st.exit_code, 0);
  assert_int_equal(hone_process_exitcode(p), 0);
  size_t size = 0;
  const answer *a = hone_process_result(p, &size);
  assert_non_null(a);
  assert_int_equal(size, sizeof(answer));
  assert_int_equal(a->sum, 13600);
  assert_string_equal(a->greeting, "hello child: fork keeps pointers valid");
  assert_int_equal(a->pid, pid);
  assert_int_equal(hone_process_pid(p), pid);
  /* Joined for good: every later call agrees. */
  assert_int_equal(hone_process_join(p, 0), 0);
  assert_int_equal(hone_process_join(p, HONE_WAIT_FOREVER), 0);
  assert_false(hone_process_alive(p));
  hone_process_free(p);
}

static void test_result_size_is_clamped(void **state) {
  (void)state;
  hone_process *p = start(fn_oversize, NULL, 0, 100);
  assert_true(join(p).exited);
  size_t size = 0;
  const unsigned char *r = hone_process_result(p, &size);
  assert_non_null(r);
  assert_int_equal(size, 100);
  for (size_t i = 0; i < size; i++) assert_int_equal(r[i], 'x');
  hone_process_free(p);
}

static void test_no_argument_no_result(void **state) {
  (void)state;
  hone_process *p = start(fn_noop, NULL, 0, 0);
  assert_true(join(p).exited);
  assert_int_equal(hone_process_exitcode(p), 0);
  size_t size = 99;
  assert_non_null(hone_process_result(p, &size)); /* exited normally, nothing written */
  assert_int_equal(size, 0);
  assert_non_null(hone_process_result(p, NULL));
  hone_process_free(p);
}

/* One child's result is the next one's argument, as a pipeline of processes would pass it on.
 * The result buffer is not inherited by later forks (MADV_DONTFORK), so the argument must be
 * copied before the fork: read in place, the child faulted with SIGSEGV. */
static void test_result_as_next_argument(void **state) {
  (void)state;
  static const char msg[] = "passed along";
  hone_process *p1 = start(fn_echo, msg, sizeof msg, 64);
  assert_int_equal(hone_process_exitcode(p1), INT32_MIN);
  assert_true(join(p1).exited);
  size_t n = 0;
  const void *r1 = hone_process_result(p1, &n);
  assert_non_null(r1);
  assert_int_equal(n, sizeof msg);
  hone_process *p2 = start(fn_echo, r1, n, 64);
  hone_process_status st = join(p2);
  assert_false(st.signaled);
  assert_int_equal(hone_process_exitcode(p2), 0);
  const char *r2 = hone_process_result(p2, &n);
  assert_non_null(r2);
  assert_int_equal(n, sizeof msg);
  assert_string_equal(r2, msg);
  hone_process_free(p2);
  hone_process_free(p1);
}

/* The child works on a copy taken at the start even when the caller's buffer is shared memory
 * that the caller changes right after: the header promises a copy. */
static void test_shared_argument_is_copied(void **state) {
  (void)state;
  char *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(buf != MAP_FAILED);
  strcpy(buf, "before");
  hone_process *p = start(fn_echo, buf, 7, 16);
  strcpy(buf, "after!"); /* the child is still in its 100 ms pause */
  assert_true(join(p).exited);
  assert_int_equal(hone_process_exitcode(p), 0);
  assert_string_equal(hone_process_result(p, NULL), "before");
  hone_process_free(p);
  munmap(buf, 4096);
}

static void test_invalid_arguments(void **state) {
  (void)state;
  hone_process *p = (hone_process *)&p;
  hone_process_fn volatile none = NULL;
  assert_int_equal(hone_process_start(&p, none, NULL, 0, 0), HONE_EINVAL);
  assert_null(p);
  p = (hone_process *)&p;
  assert_int_equal(hone_process_start(&p, fn_noop, NULL, 8, 0), HONE_EINVAL);
  assert_null(p);
  hone_process_free(NULL);
}

static void test_before_join(void **state) {
  (void)state;
  hone_process *p = start(fn_sleep, NULL, 0, 16);
  hone_process_status st;
  assert_int_equal(hone_process_status_of(p, &st), HONE_ESTATE);
  assert_int_equal(hone_process_exitcode(p), INT32_MIN);
  size_t size = 5;
  assert_null(hone_process_result(p, &size));
  assert_int_equal(size, 0);
  assert_int_equal(hone_process_join(p, 0), HONE_ETIMEDOUT);
  hone_process_free(p);
}

/* ---- how children end -------------------------------------------------------------------- */

static void test_exit_codes(void **state) {
  (void)state;
  static const int codes[] = {0, 3, 255, 256 + 4};
  static const int expect[] = {0, 3, 255, 4};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    hone_process *p = start(fn_status, &codes[i], sizeof codes[i], 0);
    hone_process_status st = join(p);
    assert_true(st.exited);
    assert_false(st.signaled);
    assert_int_equal(st.exit_code, expect[i]);
    assert_int_equal(hone_process_exitcode(p), expect[i]);
    hone_process_free(p);
  }
}

static void test_exit_inside_fn(void **state) {
  (void)state;
  hone_process *p = start(fn_exit7, NULL, 0, 16);
  hone_process_status st = join(p);
  assert_true(st.exited);
  assert_int_equal(st.exit_code, 7);
  assert_int_equal(hone_process_exitcode(p), 7);
  size_t size = 0;
  const char *r = hone_process_result(p, &size); /* it exited: what it wrote counts */
  assert_non_null(r);
  assert_int_equal(size, 6);
  assert_memory_equal(r, "before", 6);
  hone_process_free(p);
}

static void expect_signal(hone_process_fn fn, int sig) {
  hone_process *p = start(fn, NULL, 0, 16);
  hone_process_status st = join(p);
  assert_false(st.exited);
  assert_true(st.signaled);
  assert_int_equal(st.signal, sig);
  assert_int_equal(hone_process_exitcode(p), -sig);
  size_t size = 1;
  assert_null(hone_process_result(p, &size));
  assert_int_equal(size, 0);
  hone_process_free(p);
}

static void test_segv(void **state) {
  (void)state;
  expect_signal(fn_raise_segv, SIGSEGV);
  expect_signal(fn_fault, SIGSEGV);
}

static void test_abort(void **state) {
  (void)state;
  hone_process *p = start(fn_abort, NULL, 0, 0);
  hone_process_status st = join(p);
  assert_true(st.signaled);
  assert_int_equal(st.signal, SIGABRT);
  assert_int_equal(hone_process_exitcode(p), -SIGABRT);
  /* core_dumped is whatever the kernel reported (CLD_DUMPED): not asserted, it depends on
   * core_pattern; but the status is consistent. */
  assert_false(st.exited);
  hone_process_free(p);
}

static void test_result_null_when_killed(void **state) {
  (void)state;
  hone_process *p = start(fn_result_then_sigkill, NULL, 0, 16);
  hone_process_status st = join(p);
  assert_true(st.signaled);
  assert_int_equal(st.signal, SIGKILL);
  size_t size = 3;
  assert_null(hone_process_result(p, &size));
  assert_int_equal(size, 0);
  hone_process_free(p);
}

/* ---- join, terminate, kill, free --------------------------------------------------------- */

static void test_join_timeout_then_terminate(void **state) {
  (void)state;
  hone_process *p = start(fn_sleep, NULL, 0, 0);
  pid_t pid = hone_process_pid(p);
  assert_true(hone_process_alive(p));
  int64_t t0 = now_ns();
  assert_int_equal(hone_process_join(p, 50 * MS), HONE_ETIMEDOUT);
  assert_true(now_ns() - t0 >= 50 * MS);
  assert_int_equal(hone_process_join(p, 0), HONE_ETIMEDOUT);
  assert_true(hone_process_alive(p));
  assert_int_equal(kill(pid, 0), 0);

  assert_int_equal(hone_process_terminate(p), 0);
  hone_process_status st = join(p);
  assert_true(st.signaled);
  assert_int_equal(st.signal, SIGTERM);
  assert_false(st.core_dumped);
  assert_int_equal(hone_process_exitcode(p), -SIGTERM);
  assert_false(hone_process_alive(p));
  /* Ended: signalling is a no-op that succeeds, and the status stays. */
  assert_int_equal(hone_process_terminate(p), 0);
  assert_int_equal(hone_process_kill(p), 0);
  assert_int_equal(hone_process_exitcode(p), -SIGTERM);
  hone_process_free(p);
}

static void test_kill(void **state) {
  (void)state;
  hone_process *p = start(fn_sleep, NULL, 0, 8);
  assert_int_equal(hone_process_kill(p), 0);
  hone_process_status st = join(p);
  assert_true(st.signaled);
  assert_int_equal(st.signal, SIGKILL);
  assert_int_equal(hone_process_exitcode(p), -SIGKILL);
  assert_null(hone_process_result(p, NULL));
  hone_process_free(p);
}

/* alive() reaps a child that ended: join afterwards returns at once with its status. */
static void test_alive_reaps(void **state) {
  (void)state;
  static const int code = 5;
  hone_process *p = start(fn_status, &code, sizeof code, 0);
  int64_t deadline = now_ns() + 20000 * MS;
  while (hone_process_alive(p) && now_ns() < deadline) sleep_ms(1);
  assert_false(hone_process_alive(p));
  assert_int_equal(hone_process_exitcode(p), 5);
  assert_int_equal(hone_process_join(p, 0), 0);
  hone_process_free(p);
}

static void expect_gone(pid_t pid) {
  errno = 0;
  assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
  assert_int_equal(errno, ECHILD);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", (int)pid);
  assert_int_not_equal(access(path, F_OK), 0); /* no zombie either */
}

static void test_free_running_child_leaves_no_zombie(void **state) {
  (void)state;
  hone_process *p = start(fn_sleep, NULL, 0, 64);
  pid_t pid = hone_process_pid(p);
  hone_process_free(p);
  expect_gone(pid);
  /* Also one that already ended but was never joined. */
  static const int code = 0;
  p = start(fn_status, &code, sizeof code, 0);
  pid = hone_process_pid(p);
  sleep_ms(20);
  hone_process_free(p);
  expect_gone(pid);
}

/* Someone else's waitpid took the status: join reports it instead of waiting forever. */
static void test_status_stolen(void **state) {
  (void)state;
  static const int code = 0;
  hone_process *p = start(fn_status, &code, sizeof code, 0);
  int ws;
  assert_int_equal(waitpid(hone_process_pid(p), &ws, 0), hone_process_pid(p));
  assert_int_equal(hone_process_join(p, 1000 * MS), HONE_ESYS);
  assert_false(hone_process_alive(p));
  assert_int_equal(hone_process_kill(p), 0);
  hone_process_free(p);
}

/* SIGCHLD set to SIG_IGN: the kernel discards the statuses, as process.h warns. join then
 * reports HONE_ESYS once the child has ended — it neither hangs nor times out — and free, after a
 * kill, still waits for the child to be gone. */
static void test_sigchld_ignored(void **state) {
  (void)state;
  struct sigaction ign = {.sa_handler = SIG_IGN}, old;
  assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
  static const int code = 4;
  hone_process *p = start(fn_status, &code, sizeof code, 8);
  int64_t t0 = now_ns();
  int r = hone_process_join(p, 10000 * MS);
  int64_t took = now_ns() - t0;
  bool alive = hone_process_alive(p);
  int ec = hone_process_exitcode(p);
  const void *res = hone_process_result(p, NULL);
  hone_process_free(p);

  hone_process *s = start(fn_sleep, NULL, 0, 0);
  pid_t pid = hone_process_pid(s);
  int r_running = hone_process_join(s, 20 * MS);
  bool alive_running = hone_process_alive(s);
  hone_process_free(s);
  /* With SIGCHLD ignored the kernel reaps the killed child itself, after the free has seen it
   * exit: kill(pid, 0) may still find it for a moment (a clean-clone make check under ASan once
   * did). Gone within 2 s. */
  bool gone = false;
  for (int i = 0; i < 2000 && !gone; i++) {
    gone = kill(pid, 0) != 0;
    if (!gone) usleep(1000);
  }
  sigaction(SIGCHLD, &old, NULL);

  assert_int_equal(r, HONE_ESYS);
  assert_true(took < 5000 * MS);
  assert_false(alive);
  assert_int_equal(ec, INT32_MIN);
  assert_null(res);
  assert_int_equal(r_running, HONE_ETIMEDOUT);
  assert_true(alive_running);
  assert_true(gone);
}

/* A sibling's handle, seen from a hone child (the handle's memory is the fork's copy): the child
 * cannot wait for, signal or read it; freeing the copy leaves the sibling alone. */
static int fn_touch_sibling(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  hone_process *sib;
  memcpy(&sib, arg, sizeof sib);
  if (hone_process_join(sib, 0) != HONE_ESTATE) return 1;
  if (hone_process_kill(sib) != HONE_ESTATE) return 2;
  if (hone_process_terminate(sib) != HONE_ESTATE) return 3;
  if (hone_process_alive(sib)) return 4;
  if (hone_process_result(sib, NULL) != NULL) return 5;
  hone_process_free(sib);
  return 0;
}

static void test_handle_in_another_process(void **state) {
  (void)state;
  hone_process *sib = start(fn_sleep, NULL, 0, 16);
  hone_process *p = start(fn_touch_sibling, &sib, sizeof sib, 0);
  hone_process_status st = join(p);
  assert_true(st.exited);
  assert_int_equal(st.exit_code, 0);
  hone_process_free(p);

  /* The same in a plain fork() of this process. */
  fflush(NULL);
  pid_t f = fork();
  assert_true(f >= 0);
  if (f == 0) _exit(fn_touch_sibling(&sib, sizeof sib, NULL, 0, NULL));
  int ws;
  assert_int_equal(waitpid(f, &ws, 0), f);
  assert_true(WIFEXITED(ws));
  assert_int_equal(WEXITSTATUS(ws), 0);

  /* Its owner still has it, untouched. */
  assert_true(hone_process_alive(sib));
  assert_int_equal(hone_process_kill(sib), 0);
  assert_int_equal(join(sib).signal, SIGKILL);
  hone_process_free(sib);
}

/* ---- the child's environment ------------------------------------------------------------- */

static int fn_check_signals(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  struct sigaction sa;
  if (sigaction(SIGTERM, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL) return 1;
  if (sigaction(SIGUSR1, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL) return 2;
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, NULL, &mask);
  for (int sig = 1; sig < SIGRTMIN; sig++)
    if (sigismember(&mask, sig) == 1) return 3;
  return 0;
}

static void on_usr1(int sig) {
  (void)sig;
}

static void test_child_signals_reset(void **state) {
  (void)state;
  struct sigaction ign = {.sa_handler = SIG_IGN}, usr = {.sa_handler = on_usr1}, old_term, old_usr;
  sigaction(SIGTERM, &ign, &old_term);
  sigaction(SIGUSR1, &usr, &old_usr);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &block, &old_mask);

  hone_process *p = start(fn_check_signals, NULL, 0, 0);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGUSR1, &old_usr, NULL);
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  assert_true(join(p).exited);
  assert_int_equal(hone_process_exitcode(p), 0);
  hone_process_free(p);
}

static int fn_print(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  printf("child");
  return 0;
}

/* What the parent printed before the start appears once; what the child printed (unflushed, no
 * newline) appears too. */
static void test_stdout_flushed_once(void **state) {
  (void)state;
  char path[] = "/tmp/hone_test_process_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  assert_true(saved >= 0);
  assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
  printf("parent-");
  hone_process *p = start(fn_print, NULL, 0, 0);
  hone_process_status st = join(p);
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  hone_process_free(p);
  assert_true(st.exited);
  char buf[64] = {0};
  ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
  close(fd);
  assert_true(got >= 0);
  assert_string_equal(buf, "parent-child");
}

/* The parent's atexit handler, armed only while a test wants to see whether a child runs it. */
static int atexit_fd = -1;
static void parent_atexit(void) {
  if (atexit_fd >= 0 && write(atexit_fd, "x", 1) != 1) abort();
}

static int fn_print_exit(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  printf("child");
  exit(3);
}

/* fn calls exit(3): the child ends with 3 and its unflushed output written, but the parent's
 * atexit handlers (its cleanup: temporary files, logs) do not run there — they ran in the
 * child before, as Python's sys.exit() in a target never does. */
static void test_exit_in_fn_skips_parent_atexit(void **state) {
  (void)state;
  static bool registered;
  if (!registered) {
    assert_int_equal(atexit(parent_atexit), 0);
    registered = true;
  }
  int ran[2];
  assert_int_equal(pipe(ran), 0);
  char path[] = "/tmp/hone_test_process_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  assert_true(saved >= 0);
  assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
  printf("parent-");
  atexit_fd = ran[1];
  hone_process *p = start(fn_print_exit, NULL, 0, 0);
  hone_process_status st = join(p);
  atexit_fd = -1;
  close(ran[1]);
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  hone_process_free(p);
  char c;
  ssize_t handler_ran = read(ran[0], &c, 1); /* EOF (0) unless the child wrote */
  close(ran[0]);
  char buf[64] = {0};
  ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
  close(fd);
  assert_true(st.exited);
  assert_int_equal(st.exit_code, 3);
  assert_int_equal(handler_ran, 0);
  assert_true(got >= 0);
  assert_string_equal(buf, "parent-child");
}

static int fn_pthread_exit(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  memcpy(res, "ok", 3);
  *res_size = 3;
  pthread_exit(NULL);
}

/* fn's thread calls pthread_exit: the child ends as if fn returned 0 (the last thread of a process
 * ending ends it). It used to live on until its parent died: hone's watcher thread kept it. */
static void test_pthread_exit_in_fn(void **state) {
  (void)state;
  hone_process *p = start(fn_pthread_exit, NULL, 0, 8);
  assert_int_equal(hone_process_join(p, 5000 * MS), 0);
  assert_int_equal(hone_process_exitcode(p), 0);
  size_t n = 0;
  const char *r = hone_process_result(p, &n);
  assert_non_null(r);
  assert_int_equal(n, 3);
  assert_string_equal(r, "ok");
  hone_process_free(p);
}

/* ---- threads ----------------------------------------------------------------------------- */

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

/* The parent's main thread held `held` at the fork: in the child it stays locked forever (no
 * thread there will unlock it), which is why fn must not wait for it. The child outlives the
 * thread that started it. */
static int fn_after_thread(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  if (pthread_mutex_trylock(&held) != EBUSY) return 1;
  sleep_ms(150);
  char *s = malloc(32);
  if (s == NULL) return 2;
  snprintf(s, 32, "survived %d", 42);
  size_t len = strlen(s) + 1;
  memcpy(res, s, len);
  *res_size = len;
  free(s);
  return 0;
}

static void *starter(void *out) {
  hone_process *p = NULL;
  if (hone_process_start(&p, fn_after_thread, NULL, 0, 64) != 0) p = NULL;
  *(hone_process **)out = p;
  /* The starting thread ends long before its child does, but only once the child is surely set
   * up (a parent-death signal tied to this thread, armed after its exit, would never fire). */
  sleep_ms(50);
  return NULL;
}

static void start_from_short_lived_thread(void) {
  assert_int_equal(pthread_mutex_lock(&held), 0);
  hone_process *p = NULL;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, starter, &p), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_non_null(p);
  hone_process_status st = join(p);
  pthread_mutex_unlock(&held);
  assert_true(st.exited); /* not killed when its starting thread exited */
  assert_int_equal(st.exit_code, 0);
  size_t size = 0;
  const char *r = hone_process_result(p, &size);
  assert_non_null(r);
  assert_int_equal(size, strlen("survived 42") + 1);
  assert_string_equal(r, "survived 42");
  hone_process_free(p);
}

static void test_start_from_thread_while_mutex_held(void **state) {
  (void)state;
  start_from_short_lived_thread();
}

/* Several threads start and join their own processes at once. */
static void *start_join_many(void *arg) {
  int base = *(const int *)arg;
  for (int i = 0; i < 4; i++) {
    int code = base + i;
    hone_process *p = NULL;
    if (hone_process_start(&p, fn_status, &code, sizeof code, 0) != 0) return (void *)1;
    int r = hone_process_join(p, 20000 * MS);
    int ec = hone_process_exitcode(p);
    hone_process_free(p);
    if (r != 0 || ec != code) return (void *)2;
  }
  return NULL;
}

static void test_processes_from_several_threads(void **state) {
  (void)state;
  pthread_t t[4];
  int base[4];
  for (int i = 0; i < 4; i++) {
    base[i] = 10 * (i + 1);
    assert_int_equal(pthread_create(&t[i], NULL, start_join_many, &base[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    void *r = (void *)3;
    assert_int_equal(pthread_join(t[i], &r), 0);
    assert_null(r);
  }
}

/* ---- the parent dies --------------------------------------------------------------------- */

/* A helper process H starts a sleeping child C through hone, tells us C's pid, and waits; we
 * SIGKILL H. This process is a child subreaper for the test, so C is reparented to us and its
 * death can be observed with waitpid: it must be SIGKILLed within a second. */
static void parent_death_of(hone_process_fn fn, long settle_ms, int64_t bound_ns) {
  assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(NULL);
  pid_t h = fork();
  assert_true(h >= 0);
  if (h == 0) {
    close(fds[0]);
    hone_process *p = NULL;
    pid_t c = -1;
    if (hone_process_start(&p, fn, NULL, 0, 0) == 0) c = hone_process_pid(p);
    if (write(fds[1], &c, sizeof c) != (ssize_t)sizeof c) _exit(1);
    for (;;) pause();
  }
  close(fds[1]);
  pid_t c = -1;
  ssize_t got = read(fds[0], &c, sizeof c);
  close(fds[0]);
  sleep_ms(settle_ms); /* time for fn to do what it does first */
  kill(h, SIGKILL);
  int ws;
  assert_int_equal(waitpid(h, &ws, 0), h);
  assert_int_equal(got, (ssize_t)sizeof c);
  assert_true(c > 0);

  int64_t t0 = now_ns();
  pid_t r = 0;
  while (now_ns() - t0 < bound_ns && (r = waitpid(c, &ws, WNOHANG)) == 0) sleep_ms(2);
  if (r == 0) { /* still alive: clean up before failing */
    kill(c, SIGKILL);
    waitpid(c, &ws, 0);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  assert_int_equal(r, c);
  assert_true(WIFSIGNALED(ws));
  assert_int_equal(WTERMSIG(ws), SIGKILL);
}

static void parent_death(void) {
  parent_death_of(fn_sleep, 0, 1000 * MS);
}

/* fn closes every descriptor it inherited and opens pipes, which take the numbers again (the
 * watcher's pidfd of the parent among them): the watcher, blocked in poll() on that number, used
 * to see only a pipe that never becomes readable, and the child outlived its parent. */
static int fn_reuse_fds(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  for (int fd = 3; fd < 256; fd++) close(fd);
  int p[2];
  for (int i = 0; i < 64; i++)
    if (pipe(p) != 0) break;
  sleep_ms(30000);
  return 0;
}

static void test_child_dies_with_parent(void **state) {
  (void)state;
  parent_death();
  parent_death_of(fn_reuse_fds, 300, 5000 * MS);
}

/* A caller that moved its future children into a new pid namespace (unshare(CLONE_NEWPID), as a
 * sandbox does): its first child is that namespace's pid 1, and getppid() reads 0 there whatever
 * becomes of the parent. The child used to take that 0 for "my parent is gone" and end itself at
 * once (exit 137, pid 1 ignoring its own SIGKILL) without running fn. Now fn runs, and the child
 * still ends when its parent is killed. Skipped where no pid namespace can be made. */
static bool enter_new_pid_namespace(void) {
  return unshare(CLONE_NEWPID) == 0 || unshare(CLONE_NEWUSER | CLONE_NEWPID) == 0;
}

static int fn_pid_is_1(const void *arg, size_t n, void *res, size_t cap, size_t *res_size) {
  return getpid() == 1 ? 0 : 1;
}

static void test_parent_in_another_pid_namespace(void **state) {
  (void)state;
  fflush(NULL);
  pid_t h = fork();
  assert_true(h >= 0);
  if (h == 0) {
    if (!enter_new_pid_namespace()) _exit(77);
    hone_process *p = NULL;
    if (hone_process_start(&p, fn_pid_is_1, NULL, 0, 0) != 0) _exit(2);
    if (hone_process_join(p, 10000 * MS) != 0) _exit(3);
    _exit(hone_process_exitcode(p) == 0 ? 0 : 4);
  }
  int ws;
  assert_int_equal(waitpid(h, &ws, 0), h);
  assert_true(WIFEXITED(ws));
  if (WEXITSTATUS(ws) == 77) skip();
  assert_int_equal(WEXITSTATUS(ws), 0);

  /* Its parent killed: it ends too (by SIGKILL, or by _exit where pid 1 cannot take that). Only
   * a pidfd can tell there: not on kernels without pidfd_open (nor under valgrind). */
#ifdef SYS_pidfd_open
  int probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
#else
  int probe = -1;
#endif
  if (probe < 0) skip();
  close(probe);
  assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(NULL);
  h = fork();
  assert_true(h >= 0);
  if (h == 0) {
    close(fds[0]);
    hone_process *p = NULL;
    pid_t c = -1;
    if (enter_new_pid_namespace() && hone_process_start(&p, fn_sleep, NULL, 0, 0) == 0)
      c = hone_process_pid(p);
    if (write(fds[1], &c, sizeof c) != (ssize_t)sizeof c) _exit(1);
    for (;;) pause();
  }
  close(fds[1]);
  pid_t c = -1;
  ssize_t got = read(fds[0], &c, sizeof c);
  close(fds[0]);
  sleep_ms(100); /* the child is running fn */
  bool alive_before = c > 0 && kill(c, 0) == 0;
  kill(h, SIGKILL);
  assert_int_equal(waitpid(h, &ws, 0), h);
  assert_int_equal(got, (ssize_t)sizeof c);
  assert_true(c > 0);
  int64_t t0 = now_ns();
  pid_t r = 0;
  /* TSan builds watch the parent by a signal whose handler TSan delivers late; once, in a make
   * check on a loaded machine, the child was not gone after 2 s there. */
#if defined(__SANITIZE_THREAD__)
  const int64_t grace = 10000 * MS;
#else
  const int64_t grace = 2000 * MS;
#endif
  while (now_ns() - t0 < grace && (r = waitpid(c, &ws, WNOHANG)) == 0) sleep_ms(2);
  if (r == 0) {
    kill(c, SIGKILL);
    waitpid(c, &ws, 0);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  assert_true(alive_before);
  assert_int_equal(r, c);
}

/* ---- the paths without pidfd_open, and the ThreadSanitizer build's watcher ---------------- */

static void test_fallback_no_pidfd(void **state) {
  (void)state;
  hone__process_test_flags = NO_PIDFD;
  test_join_timeout_then_terminate(state);
  test_kill(state);
  test_free_running_child_leaves_no_zombie(state);
  test_status_stolen(state);
  test_sigchld_ignored(state);
  test_handle_in_another_process(state);
  test_exit_inside_fn(state);
  start_from_short_lived_thread();
  parent_death();
}

static void test_signal_watcher(void **state) {
  (void)state;
  hone__process_test_flags = SIGNAL_WATCH;
  test_argument_and_result_roundtrip(state);
  start_from_short_lived_thread();
  parent_death();
  test_parent_in_another_pid_namespace(state); /* last: it may skip */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_argument_and_result_roundtrip),
      cmocka_unit_test(test_result_size_is_clamped),
      cmocka_unit_test(test_no_argument_no_result),
      cmocka_unit_test(test_result_as_next_argument),
      cmocka_unit_test(test_shared_argument_is_copied),
      cmocka_unit_test(test_invalid_arguments),
      cmocka_unit_test(test_before_join),
      cmocka_unit_test(test_exit_codes),
      cmocka_unit_test(test_exit_inside_fn),
      cmocka_unit_test(test_segv),
      cmocka_unit_test(test_abort),
      cmocka_unit_test(test_result_null_when_killed),
      cmocka_unit_test(test_join_timeout_then_terminate),
      cmocka_unit_test(test_kill),
      cmocka_unit_test(test_alive_reaps),
      cmocka_unit_test(test_free_running_child_leaves_no_zombie),
      cmocka_unit_test(test_status_stolen),
      cmocka_unit_test(test_sigchld_ignored),
      cmocka_unit_test(test_handle_in_another_process),
      cmocka_unit_test(test_child_signals_reset),
      cmocka_unit_test(test_stdout_flushed_once),
      cmocka_unit_test(test_exit_in_fn_skips_parent_atexit),
      cmocka_unit_test(test_pthread_exit_in_fn),
      cmocka_unit_test(test_start_from_thread_while_mutex_held),
      cmocka_unit_test(test_processes_from_several_threads),
      cmocka_unit_test(test_child_dies_with_parent),
      cmocka_unit_test(test_parent_in_another_pid_namespace),
      cmocka_unit_test_teardown(test_fallback_no_pidfd, reset_flags),
      cmocka_unit_test_teardown(test_signal_watcher, reset_flags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
