/* hone/process.h: run a function in a child process — multiprocessing.Process for C.
 *
 * hone_process_start forks; the child calls fn(arg, ...) with a copy of the argument buffer (the
 * child has the parent's memory as it was at the fork, so pointers inside it still work there),
 * and exits with fn's return value as its status. What fn writes into its result buffer (at most
 * result_cap bytes, in memory shared with the parent) is readable by the parent after the child
 * exited (returned from fn, or called exit or _exit; not when a signal killed it). The parent joins
 * with a timeout, reads the exit status or the signal that killed the child, and may terminate
 * (SIGTERM) or kill (SIGKILL) it.
 *
 * The child. It runs fn and then _exit(status) — never the parent's atexit handlers or stdio
 * flushes (a buffered printf in fn is flushed by the child's own exit path: hone flushes stdio
 * with fflush(NULL) before _exit). fn may also end the child with exit(n): the same as returning
 * n (handlers fn registered with atexit itself still run first, the parent's do not); or with
 * pthread_exit: the same as returning 0. hone_process_start flushes stdout and stderr before the
 * fork, so that nothing the parent printed is written twice; flush any other FILE you wrote to
 * before starting a process, or the child's final fflush writes its pending bytes a second time.
 * Only the thread that called hone_process_start exists in the child (fork's rule): if other
 * threads of the parent held a lock at that moment (a mutex of yours, a library's internal
 * lock), fn must not take it. glibc keeps malloc and stdio usable in the child. The child gets
 * SIGKILL if the parent PROCESS dies (at once; within about 250 ms if fn closed or reused the
 * descriptors it inherited; if the caller moved its children into a new pid namespace, where
 * the child is pid 1 and getppid() reads 0, fn must keep them, and Linux must have pidfd_open,
 * 5.3 or later); the thread that started it may exit first without harm. That guarantee ends
 * if fn calls exec. Its signal dispositions and mask are reset to the defaults; it inherits the
 * parent's open file descriptors (as with fork).
 * In builds with ThreadSanitizer, and in any build when the child cannot create the watcher
 * thread (a thread limit), the parent-death watch uses SIGRTMAX in the child: fn must leave that
 * signal unblocked and its handler in place there.
 *
 * Reaping. hone waits for its own children by pid (never with waitpid(-1)), so a program that
 * reaps other children itself must not reap these: a SIGCHLD handler that calls waitpid(-1, ...)
 * steals their status (join then fails with HONE_ESYS). So does setting SIGCHLD to SIG_IGN (or
 * SA_NOCLDWAIT): the kernel then discards every child's status as it exits.
 *
 * Thread-safety: one hone_process may be used from one thread at a time; different processes
 * from different threads freely. Ownership: hone_process_start allocates, hone_process_free
 * releases (free(NULL) is a no-op). A handle belongs to the process that started the child: in a
 * copy of it inherited by a process forked later (by fork() or as another hone child), join,
 * terminate and kill return HONE_ESTATE, alive is false, result is NULL, and free releases the
 * copy without touching the child. A handle holds a pidfd of its child (close-on-exec) until
 * freed: a parent that closes descriptors it does not own (a close-all loop) breaks join's
 * timeout and the signals.
 */
#ifndef HONE_PROCESS_H
#define HONE_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hone/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HONE_WAIT_FOREVER
/* A timeout that never expires (any negative value means the same). */
#define HONE_WAIT_FOREVER ((int64_t)-1)
#endif

/* Runs in the child. arg/arg_size: the copy of the argument buffer. result: result_cap bytes of
 * zero-filled shared memory; set *result_size to the bytes written (starts at 0; values above
 * result_cap are clamped). The return value is the child's exit status (0..255; 0 = success; other
 * values are taken modulo 256, as by exit). */
typedef int (*hone_process_fn)(const void *arg, size_t arg_size, void *result, size_t result_cap,
                               size_t *result_size);

typedef struct hone_process hone_process;

/* Starts fn in a new child process. result_cap may be 0 (no result). arg may be NULL when
 * arg_size is 0; the caller keeps ownership of arg: its arg_size bytes are copied (malloc) before
 * the fork and the child reads that copy, so arg may be shared memory the caller changes later, or
 * another child's result buffer (which later forks do not inherit). The copy costs about 1 ms
 * per MB: pass big data by a pointer inside a small arg instead (the child then sees the parent's
 * memory as at the fork, copy-on-write, at no cost). On failure *out is NULL.
 * Errors: HONE_EINVAL (fn NULL, or arg NULL with arg_size > 0), HONE_ENOMEM (no memory for the
 * handle, the argument's copy, the result buffer or the child), HONE_ESYS (fork or mmap failed
 * otherwise, e.g. a process limit; errno-level detail is not kept). */
HONE_API HONE_NODISCARD int hone_process_start(hone_process **out, hone_process_fn fn,
                                               const void *arg, size_t arg_size, size_t result_cap)
    HONE_NONNULL(1);

/* The child's pid (valid until freed, even after it exited: it is not reused while unjoined). */
HONE_API pid_t hone_process_pid(const hone_process *p) HONE_NONNULL(1);

/* Waits at most timeout_ns for the child to end (HONE_WAIT_FOREVER: < 0). 0 once it has ended
 * (again 0 on every later call), HONE_ETIMEDOUT, HONE_ESYS (its status was taken by someone
 * else's waitpid), HONE_ESTATE (called in another process than the one that started it). */
HONE_API int hone_process_join(hone_process *p, int64_t timeout_ns) HONE_NONNULL(1);

/* Whether the child is still running (never blocks; reaps it if it has ended). */
HONE_API bool hone_process_alive(hone_process *p) HONE_NONNULL(1);

/* How the child ended. Plain data, stable. */
typedef struct hone_process_status {
  bool exited;      /* it called exit / returned: exit_code is set */
  int exit_code;    /* 0..255 */
  bool signaled;    /* a signal killed it: signal is set */
  int signal;       /* e.g. SIGSEGV */
  bool core_dumped; /* the kernel wrote a core for it */
} hone_process_status;

/* The status after a successful join: 0, or HONE_ESTATE when the child has not been joined. */
HONE_API int hone_process_status_of(const hone_process *p, hone_process_status *st)
    HONE_NONNULL(1, 2);
/* Python's exitcode: the exit code, minus the signal number if killed by one, or INT32_MIN while
 * it has not been joined. */
HONE_API int hone_process_exitcode(const hone_process *p) HONE_NONNULL(1);

/* The result written by fn (borrowed: valid until hone_process_free) and its size: only once the
 * child was joined and exited normally (returned from fn or called exit/_exit), else NULL (and
 * *size 0). Non-NULL then even when the size is 0. size may be NULL. The buffer is not mapped in
 * processes forked later: hand it on to another child as its arg (copied), not by a pointer. */
HONE_API const void *hone_process_result(const hone_process *p, size_t *size) HONE_NONNULL(1);

/* Sends SIGTERM / SIGKILL. 0 (also when it had already ended, or its status was taken by
 * someone else's waitpid: it is never sent to a stranger that reused the pid), HONE_ESYS,
 * HONE_ESTATE (called in another process than the one that started it). */
HONE_API int hone_process_terminate(hone_process *p) HONE_NONNULL(1);
HONE_API int hone_process_kill(hone_process *p) HONE_NONNULL(1);

/* Releases the handle. A child still running is killed (SIGKILL) and reaped first, so that no
 * process and no zombie outlives its handle. NULL is a no-op. */
HONE_API void hone_process_free(hone_process *p);

#ifdef __cplusplus
}
#endif
#endif /* HONE_PROCESS_H */
