/* runtime.c: the profiler runtime libhone-prof.so — the -finstrument-functions hooks, each
 * thread's calling-context tree and shadow stack, the clock and the calibration of the runtime's
 * own cost, the control API (hone/prof.h), and writing the stats file at exit, on SIGINT/SIGTERM
 * and in forked children.
 *
 * Hot path: no lock, no TLS lookup through __tls_get_addr (initial-exec), no allocation. Each
 * thread owns its tree; other threads only read it when a file is written. The state of a thread
 * is published once, on its first hook, into a lock-free global list.
 *
 * Memory comes from mmap, never malloc: the program may interpose an instrumented malloc, and the
 * signal-time writer must not depend on the allocator's locks. Node and stack memory never moves,
 * so a writer in another thread (or a signal handler) can read it while the owner runs on. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/perf_event.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "hone/prof.h"
#include "common/cycles.h"
#include "runtime.h"
#include "runtime_stub.h"

#define HONE__RT_INLINE static inline __attribute__((always_inline, no_instrument_function))

#if defined(__x86_64__)
#define HONE__RT_COUNTER HONE__CLOCK_TSC
#elif defined(__aarch64__)
#define HONE__RT_COUNTER HONE__CLOCK_CNTVCT
#else
#define HONE__RT_COUNTER HONE__CLOCK_MONOTONIC
#endif

HONE__RT_INLINE uint64_t hone__rt_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

HONE__RT_INLINE uint64_t hone__rt_counter(void) {
#if HONE__HAVE_CYCLES
  return hone__cycles_read_fast();
#else
  return hone__rt_mono_ns();
#endif
}

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HOOK __attribute__((visibility("default"), no_instrument_function))

/* A node of the calling-context tree. It remembers its last four children (addresses and
 * nodes side by side on the node's first cache line, so that the check needs no load through a
 * pointer): a function that calls a few others in turn, as a loop around helpers does, finds
 * them without the hash. With two, Lua's interpreter loop missed often enough that the slow path
 * (enter_slow, find_child) took 11 % of a recorded run; the misses also pulled the hash's lines
 * and its candidate nodes through the cache, beside the program's own data. The second line
 * holds what the hooks count and the writer reads. `snap` and `child` are the writer's scratch
 * fields (guarded by g_dumping). */
#define NODE_CACHE 4
typedef struct node {
  alignas(64) uint64_t cf[NODE_CACHE]; /* addresses of the cached children (0: none) */
  struct node *cn[NODE_CACHE];         /* the cached children */
  uint64_t func;
  struct node *parent;
  uint64_t calls;
  uint64_t incl;
  uint32_t index;
  uint32_t pad;
  uint64_t snap;    /* writer: incl at the write, with the time of the node's open call */
  uint64_t child;   /* writer: sum of the children's inclusive time */
  uint64_t samples; /* CPU-time samples taken while this node was the top (signal handler) */
} node;
_Static_assert(sizeof(node) == 128, "a node is two cache lines: its child cache, its counts");

typedef struct frame {
  node *n;
  uint64_t t0;
} frame;

#define CHUNK_SHIFT 12
#define CHUNK_NODES (1u << CHUNK_SHIFT)
#define MAX_CHUNKS 65536u                /* 268 M nodes per thread */
#define STACK_RESERVE ((size_t)64 << 20) /* frames of address space per thread: 1 GiB */
#define STACK_STEP ((size_t)1 << 16)     /* frames committed at a time */
#define PCS_CAP                                                                                    \
  (1u << 16) /* sample addresses per thread; beyond 3/4 full, samples keep only their node */

typedef struct tstate {
  /* Hot: the hooks touch these. */
  frame *sp;        /* next free slot; sp[-1] is the top frame (base[0] is a sentinel) */
  frame *limit;     /* end of the committed stack */
  node *cur;        /* node of the top frame, &root when the stack is empty; in an untimed
                     * thread, which pushes no frames, the top of the stack (its nodes' parent
                     * chain is the stack) */
  uint64_t skipped; /* frames not pushed (stack or node memory exhausted), awaiting their exits */
  int in_slow;      /* inside enter_slow: a signal handler's calls meanwhile are skipped */
  /* 1: the thread is sampled, so its hooks read no clock (counts and the shadow stack only;
   * its times come from the samples): it pushes no frames, and its nodes' incl stays 0. Set at
   * the thread's start, never changed. */
  int untimed;
  /* Sampling (on_sample, in this thread only): samples no node holds. */
  uint64_t samples_own;     /* inside the runtime: its own cost */
  uint64_t samples_outside; /* with no recorded call on the stack */
  int perf_fd;              /* this thread's cpu-clock event, -1 when not sampled */
  int sampled_flag;         /* the event was opened (kept after the thread closes it) */
  /* Where each sample's instruction was, per top node: open addressing on (node, pc), so that
   * the report can give a sample taken in a callee's prologue or epilogue (before its enter
   * hook or after its exit hook, while the caller is the top) to the callee. */
  hone__prof_pc_rec *pcs;
  uint32_t pcs_used;
  /* Cold. */
  frame *base;
  frame *reserve_end;
  _Atomic uint32_t nnodes; /* published with release after a node is initialised */
  node **chunks;           /* MAX_CHUNKS pointers */
  node **hash;             /* open addressing on (parent, func) */
  size_t hash_mask, hash_used;
  uint64_t tid;
  _Atomic uint64_t end_ticks; /* when the thread ended, 0 while it runs */
  char name[16];
  struct tstate *next; /* g_threads list */
  node root;           /* parent of the top-level nodes; never written */
} tstate;

static __thread tstate *tls __attribute__((tls_model("initial-exec")));

/* Global state. g_on is read by every hook (relaxed: a start/stop seen late is harmless). */
static _Atomic int g_on;
static int g_mode;           /* 0 auto, 1 manual, 2 off */
static int g_use_counter;    /* 1: hone__rt_counter, 0: CLOCK_MONOTONIC */
static uint32_t g_clock_why; /* HONE__CLOCKWHY_*: why that clock (written to the file) */
static _Atomic(tstate *) g_threads;
static _Atomic int g_dumping; /* one writer at a time */
/* Writers now writing: while one is, a sample takes no new slot in a thread's address table
 * (count_pcs counts the slots, then w_pcs writes that many in slot order: a slot taken between
 * the two pushed the table's last one out of the file, with all its samples, in about one run of
 * 15 of tests/cli/record_plain.sh, whose writer's own samples in libc took slots). */
static _Atomic int g_pcs_frozen;
static _Atomic int g_final; /* the exit/signal file: 0 not yet, 1 being written, 2 written */
static _Atomic(hone__rt_maps *) g_maps;
static pthread_key_t g_key;
static double g_tps;                   /* ticks per second measured at calibration */
static uint64_t g_cal_ticks, g_cal_ns; /* a (counter, monotonic ns) pair taken at load */
static uint64_t g_start_ticks;
static uint64_t g_start_ns; /* CLOCK_MONOTONIC at g_start_ticks (for a fall back to it) */
static int64_t g_start_unix_ns;
/* The runtime's cost per call, calibrated once per process by the first thread that records
 * (calibrated()): a process that records nothing never pays for it. 0 not yet, 1 under way,
 * 2 done; g_over_* and g_tps are written before the release store of 2. */
static _Atomic int g_cal_state;
static double g_over_inner, g_over_outer;
static int g_debug; /* HONE_PROF_DEBUG set */
static int g_is_child;
static char g_out[4096];
static char *g_cmdline; /* /proc/self/cmdline, mmap'd */
static size_t g_argc;
static const char **g_argv;
static int g_inited;
/* Sampling: perf's cpu-clock software event, one per thread, its overflow signal (SIGPROF)
 * delivered to that thread. g_sample_ok: 1 set up (the file says "sampled"), 0 not asked or
 * refused. g_text_*: the runtime's own code, where a sample is the profiler's cost. */
static int g_sample_ok;
/* 1 (the default; HONE_PROF_UNTIMED=0 turns it off): a sampled thread's hooks read no clock
 * and push no frames (times from the samples only; see sample_init and docs/stats-format.md). */
static int g_untimed;
/* HONE_PROF_PLAIN=1: the program is a plain build (no hooks): only its CPU time is sampled,
 * every thread's (pthread_create is interposed), and the file holds where the samples were.
 * g_plain_hooked: hooks ran all the same (an instrumented build): no file is written. */
static int g_plain;
static volatile int g_plain_hooked;
static uint64_t g_period_ns;
/* What a sample costs the program, as the fraction of a sampled thread's CPU time that is the
 * program's own (calibrate_sampling): each sample interrupts the thread, and the interruption
 * (the signal's delivery and return, and under a hypervisor the timer's exits) is CPU time of
 * the thread that the next samples count as the program's. On the 2-vCPU KVM machines this was
 * written on, a 100 us period gave 0.73-0.79: a quarter of the sampled time was the sampling's.
 * g_scale_how: HONE__SCALE_* (how g_sample_scale was obtained). */
static double g_sample_scale = 1;
static uint32_t g_scale_how;
static volatile sig_atomic_t g_scal_fd = -1, g_scal_hits; /* the calibration's event, its samples */
static uintptr_t g_text_lo, g_text_hi;
static struct sigaction g_prev_prof; /* the program's SIGPROF disposition before ours */

HONE__RT_INLINE uint64_t now(void) {
  if (LIKELY(g_use_counter)) return hone__rt_counter();
  return hone__rt_mono_ns();
}

HONE__NOINST static void *map_mem(size_t size, int prot) {
  void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

HONE__NOINST static void say(const char *s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

/* ---- thread state ---- */

HONE__NOINST static tstate *tstate_new(void) {
  tstate *s = map_mem(sizeof *s, PROT_READ | PROT_WRITE);
  if (!s) return NULL;
  s->chunks = map_mem(MAX_CHUNKS * sizeof(node *), PROT_READ | PROT_WRITE);
  s->base = map_mem(STACK_RESERVE * sizeof(frame), PROT_NONE);
  s->hash_mask = 1023;
  s->hash = map_mem((s->hash_mask + 1) * sizeof(node *), PROT_READ | PROT_WRITE);
  if (!s->chunks || !s->base || !s->hash ||
      mprotect(s->base, STACK_STEP * sizeof(frame), PROT_READ | PROT_WRITE) != 0) {
    if (s->chunks) munmap(s->chunks, MAX_CHUNKS * sizeof(node *));
    if (s->base) munmap(s->base, STACK_RESERVE * sizeof(frame));
    if (s->hash) munmap(s->hash, (s->hash_mask + 1) * sizeof(node *));
    munmap(s, sizeof *s);
    return NULL;
  }
  s->reserve_end = s->base + STACK_RESERVE;
  s->limit = s->base + STACK_STEP;
  s->base[0].n = &s->root; /* sentinel: root.func is 0, which no exit hook matches */
  s->sp = s->base + 1;
  s->cur = &s->root;
  s->root.index = UINT32_MAX;
  s->tid = (uint64_t)syscall(SYS_gettid);
  s->perf_fd = -1;
  return s;
}

HONE__NOINST static void tstate_free(tstate *s) {
  uint32_t n = atomic_load_explicit(&s->nnodes, memory_order_relaxed);
  for (uint32_t c = 0; c < MAX_CHUNKS && (uint64_t)c * CHUNK_NODES < n; c++)
    munmap(s->chunks[c], CHUNK_NODES * sizeof(node));
  munmap(s->chunks, MAX_CHUNKS * sizeof(node *));
  if (s->base) munmap(s->base, STACK_RESERVE * sizeof(frame));
  if (s->hash) munmap(s->hash, (s->hash_mask + 1) * sizeof(node *));
  if (s->pcs) munmap(s->pcs, PCS_CAP * sizeof(hone__prof_pc_rec));
  munmap(s, sizeof *s);
}

/* SIGINT and SIGTERM are held back in a thread while it writes a file or holds the writer's
 * flag: their handler writes the exit file, which must neither wait on this thread's own write
 * nor end the process in the middle of it. A signal held back is delivered when the write ends. */
HONE__NOINST static void hold_signals(sigset_t *old) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, old);
}

HONE__NOINST static void release_signals(const sigset_t *old) {
  pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Waits until *flag equals want; false when 10 s went by first (a writer stuck, or interrupted
 * by a handler in its own thread, is given up on). */
HONE__NOINST static bool wait_for(_Atomic int *flag, int want) {
  struct timespec ms = {0, 1000000};
  for (int i = 0; i < 10000; i++) {
    if (atomic_load(flag) == want) return true;
    nanosleep(&ms, NULL);
  }
  return atomic_load(flag) == want;
}

/* Takes the writer's flag as a lock, for the few changes a writer must not see halfway. */
HONE__NOINST static void lock_writer(sigset_t *old) {
  hold_signals(old);
  while (atomic_exchange(&g_dumping, 1)) sched_yield();
}

HONE__NOINST static void unlock_writer(const sigset_t *old) {
  atomic_store(&g_dumping, 0);
  release_signals(old);
}

HONE__NOINST static void publish(tstate *s) {
  tstate *head = atomic_load_explicit(&g_threads, memory_order_relaxed);
  do s->next = head;
  while (!atomic_compare_exchange_weak_explicit(&g_threads, &head, s, memory_order_release,
                                                memory_order_relaxed));
}

/* ---- sampling: times by perf's cpu-clock, counts by the hooks ----
 * Each thread opens its own cpu-clock event (pid 0: the calling thread) whose overflow, every
 * g_period_ns of the thread's user CPU time, sends SIGPROF to that thread alone (F_SETOWN_EX
 * F_OWNER_TID, F_SETSIG, O_ASYNC). The handler only increments a counter of the interrupted
 * thread's own state: the top node of its shadow stack, or `samples_own` when the thread was
 * inside the runtime's code (the hooks: their cost is the profiler's, not the program's).
 * The event is hrtimer-based, so its resolution is the period, not the scheduler's tick
 * (timer_create on CLOCK_THREAD_CPUTIME_ID is only checked at each tick: a millisecond).
 * Kernel time is excluded (exclude_kernel): the signal is then always raised in user mode and
 * never interrupts a system call. */

HONE__NOINST static uintptr_t context_pc(void *ucv) {
  ucontext_t *uc = ucv;
#if defined(__x86_64__)
  return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)uc->uc_mcontext.pc;
#else
  (void)uc;
  return 0;
#endif
}

/* A SIGPROF that is not one of our samples (the program's own ITIMER_PROF, say) goes where it
 * would have gone without us. */
HONE__NOINST static void chain_prof(int sig, siginfo_t *si, void *uc) {
  const struct sigaction *p = &g_prev_prof;
  if (p->sa_flags & SA_SIGINFO) {
    if (p->sa_sigaction) p->sa_sigaction(sig, si, uc);
    return;
  }
  if (p->sa_handler == SIG_IGN) return;
  if (p->sa_handler != SIG_DFL) {
    p->sa_handler(sig);
    return;
  }
  /* The default action (the process ends), as if we had never been here. */
  signal(sig, SIG_DFL);
  raise(sig);
}

HONE__RT_INLINE bool note_pc(tstate *s, uint32_t ni, uint64_t pc) {
  hone__prof_pc_rec *t = s->pcs;
  uint64_t h = (pc * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)ni * 0xC2B2AE3D27D4EB4Full);
  for (uint32_t j = (uint32_t)(h >> 40) & (PCS_CAP - 1), k = 0; k < 64;
       k++, j = (j + 1) & (PCS_CAP - 1)) {
    hone__prof_pc_rec *e = &t[j];
    if (e->count == 0) {
      if (s->pcs_used >= PCS_CAP / 4 * 3 ||
          atomic_load_explicit(&g_pcs_frozen, memory_order_relaxed))
        return false;
      e->pc = pc;
      e->node = ni;
      atomic_signal_fence(memory_order_release);
      e->count = 1;
      s->pcs_used++;
      return true;
    }
    if (e->pc == pc && e->node == ni) {
      e->count++;
      return true;
    }
  }
  return false;
}

/* Async-signal-safe: touches only this thread's state, no lock, no call. */
HONE__NOINST static void on_sample(int sig, siginfo_t *si, void *uc) {
  if (si->si_code == POLL_IN && si->si_fd == g_scal_fd) {
    g_scal_hits++;
    return;
  }
  tstate *s = tls;
  if (si->si_code != POLL_IN || !s || s->perf_fd < 0 || si->si_fd != s->perf_fd) {
    int e = errno;
    chain_prof(sig, si, uc);
    errno = e;
    return;
  }
  uintptr_t pc = context_pc(uc);
  node *top = s->cur;
  if (s->in_slow || (pc >= g_text_lo && pc < g_text_hi) ||
      hone__rt_hook_stub(pc, g_text_lo, g_text_hi))
    s->samples_own++;
  else if (g_plain) {
    if (!s->pcs || !pc || !note_pc(s, HONE_PROF_NO_PARENT, pc)) s->samples_outside++;
  } else if (top == &s->root)
    s->samples_outside++;
  else {
    top->samples++;
    if (s->pcs && pc) note_pc(s, top->index, pc);
  }
}

/* The runtime's executable segment, found from the address of one of its functions. */
HONE__NOINST static int find_text(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  (void)arg;
  uintptr_t me = (uintptr_t)(void *)on_sample;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (me >= lo && me < hi) {
      g_text_lo = lo;
      g_text_hi = hi;
      return 1;
    }
  }
  return 0;
}

/* At load: HONE_PROF_SAMPLE=off turns sampling off; a number sets the period in microseconds
 * (default 100: 10 kHz; a signal costs a few microseconds, more in a VM, so 20 kHz slows a run by a
 * third). Installs the SIGPROF handler, keeping the program's disposition for the signals that are
 * not ours. The events are opened per thread. */
HONE__NOINST static void sample_init(void) {
  const char *want = getenv("HONE_PROF_SAMPLE");
  if (want && strcmp(want, "off") == 0) return;
  /* Untimed unless HONE_PROF_UNTIMED=0: hooks that read a clock move a small function's
   * samples into its caller (bench/prof_truth.sh: bzip2's mainGtU 15 % by perf, 6 % sampled
   * with timed hooks, 13 % untimed). */
  const char *ut = getenv("HONE_PROF_UNTIMED");
  g_untimed = !(ut && strcmp(ut, "0") == 0);
  unsigned long us = 100;
  if (want && *want) {
    char *end;
    unsigned long v = strtoul(want, &end, 10);
    if (*end == '\0' && v >= 10 && v <= 1000000) us = v;
  }
  g_period_ns = (uint64_t)us * 1000u;
  dl_iterate_phdr(find_text, NULL);
  if (sigaction(SIGPROF, NULL, &g_prev_prof) != 0) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sample;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  if (sigaction(SIGPROF, &sa, NULL) != 0) return;
  g_sample_ok = 1;
}

/* The calling thread's cpu-clock event (disabled), whose overflow every `period_ns` of its
 * user CPU time sends SIGPROF to thread `tid` alone. -1 (errno set) when perf_event_open
 * fails, -2 when the descriptor cannot be set up to signal. */
HONE__NOINST static int open_sample_event(pid_t tid, uint64_t period_ns) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_SOFTWARE;
  a.config = PERF_COUNT_SW_CPU_CLOCK;
  a.sample_period = period_ns;
  a.disabled = 1;
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  a.wakeup_events = 1;
  int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) return -1;
  struct f_owner_ex own = {F_OWNER_TID, tid};
  int fl = fcntl(fd, F_GETFL);
  if (fcntl(fd, F_SETOWN_EX, &own) != 0 || fcntl(fd, F_SETSIG, SIGPROF) != 0 || fl < 0 ||
      fcntl(fd, F_SETFL, fl | O_ASYNC) != 0) {
    close(fd);
    return -2;
  }
  return fd;
}

/* Opens the calling thread's event. On failure the thread is not sampled (its times are then
 * estimated from the instrumentation alone, and the report says so); a refusal of the first
 * thread (perf_event_paranoid, seccomp, no perf support) turns sampling off for the process. */
HONE__NOINST static void sample_thread_start(tstate *s) {
  if (!g_sample_ok) return;
  /* The program replaced our handler: its signal handler would get our samples. */
  struct sigaction cur;
  if (sigaction(SIGPROF, NULL, &cur) != 0 || !(cur.sa_flags & SA_SIGINFO) ||
      cur.sa_sigaction != on_sample) {
    if (g_debug) say("hone-prof: SIGPROF has another handler: this thread is not sampled\n");
    return;
  }
  int fd = open_sample_event((pid_t)s->tid, g_period_ns);
  if (fd == -1) {
    int e = errno;
    if (!atomic_load(&g_threads) || e == EACCES || e == EPERM || e == ENOSYS || e == ENOENT) {
      if (g_debug) say("hone-prof: perf_event_open refused: times from the hooks only\n");
      if (!atomic_load(&g_threads)) g_sample_ok = 0;
    }
    return;
  }
  if (fd < 0) return;
  s->pcs = map_mem(PCS_CAP * sizeof(hone__prof_pc_rec), PROT_READ | PROT_WRITE);
  s->perf_fd = fd;
  __asm__ volatile("" ::: "memory");
  ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

HONE__NOINST static void sample_thread_stop(tstate *s) {
  int fd = s->perf_fd;
  if (fd < 0) return;
  ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  s->perf_fd = -1;
  close(fd);
}

/* ---- what a sample costs ---- */

/* Work of a steady cost per iteration, which the compiler cannot drop or fold. */
HONE__NOINST __attribute__((noinline)) static uint64_t spin(uint64_t iters) {
  uint64_t x = 1, acc = 0;
  for (uint64_t i = 0; i < iters; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    acc += x >> 61;
    __asm__ volatile("" : "+r"(acc));
  }
  return acc + x;
}

HONE__NOINST static uint64_t thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* g_sample_scale: the same work run plain, then sampled by an event of its own (g_scal_fd,
 * counted apart by on_sample) at g_period_ns or 100 us, whichever is shorter (so that a long
 * period, HONE_PROF_SAMPLE=1000000, does not make the calibration 60 of them long): the plain
 * run's CPU time over the samples' (their count times the period), r. What one sample costs
 * is then (1 - r) times the calibration's period, and the scale is 1 minus that cost over
 * g_period_ns. About 20 ms, once per process, in the first thread that records
 * (calibrated(): the caller has every signal blocked; SIGPROF is let through for the sampled
 * run only). CPU time, not wall time: a preemption meanwhile costs nothing. The count of a
 * periodic event is exact to one sample, and the sampled run is sized for 60 periods of plain
 * work (about 80 samples where a sample costs a quarter), so the scale is known to about 2 %
 * (0.733-0.766 over five runs of 20 ms here); the plain run is the best of two (noise only adds
 * time).
 * HONE_PROF_SAMPLE_SCALE=x (0 < x <= 1) gives the scale instead (1: none). */
HONE__NOINST static void calibrate_sampling(void) {
  const char *want = getenv("HONE_PROF_SAMPLE_SCALE");
  if (want && *want) {
    char *end;
    double v = strtod(want, &end);
    if (*end == '\0' && v > 0 && v <= 1) {
      g_sample_scale = v;
      g_scale_how = HONE__SCALE_GIVEN;
      return;
    }
  }
  if (!g_sample_ok) return;
  g_scale_how = HONE__SCALE_FAILED;
  /* Iterations per nanosecond, from a run of at least 1 ms. */
  uint64_t it = 1u << 14, t = 0;
  for (int k = 0; k < 12 && t < 1000000; k++, it *= 2) {
    uint64_t t0 = thread_cpu_ns();
    spin(it);
    t = thread_cpu_ns() - t0;
  }
  it /= 2;
  if (t == 0) return;
  double per_ns = (double)it / (double)t;
  uint64_t period = g_period_ns < 100000 ? g_period_ns : 100000;
  uint64_t n = (uint64_t)(per_ns * (double)period * 60); /* 60 periods of work */
  uint64_t plain = UINT64_MAX;
  for (int k = 0; k < 2; k++) {
    uint64_t t0 = thread_cpu_ns();
    spin(n);
    uint64_t d = thread_cpu_ns() - t0;
    if (d < plain) plain = d;
  }
  int fd = open_sample_event((pid_t)syscall(SYS_gettid), period);
  if (fd < 0) return;
  sigset_t prof, old;
  sigemptyset(&prof);
  sigaddset(&prof, SIGPROF);
  g_scal_hits = 0;
  g_scal_fd = fd;
  pthread_sigmask(SIG_UNBLOCK, &prof, &old);
  ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  spin(n);
  ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  g_scal_fd = -1;
  close(fd);
  uint64_t hits = (uint64_t)g_scal_hits;
  /* Fewer than half the samples due: the event did not fire as asked; no scale. */
  if (hits < 30) return;
  double r = (double)plain / ((double)hits * (double)period);
  if (r > 1) r = 1;     /* the plain run took longer than its samples say: no cost to remove */
  if (r < 0.05) return; /* implausible */
  double cost_ns = (1 - r) * (double)period;
  r = 1 - cost_ns / (double)g_period_ns;
  g_sample_scale = r;
  g_scale_how = HONE__SCALE_MEASURED;
  if (g_debug) {
    char b[160];
    int l = snprintf(b, sizeof b,
                     "hone-prof: a sample costs %.1f us of the program's CPU time: scale %.3f "
                     "(%llu samples)\n",
                     cost_ns * 1e-3, r, (unsigned long long)hits);
    if (l > 0) say(b);
  }
}

/* A thread ends: its tree stays to be written, but its calls still open are closed now and its
 * stack and hash are given back (a program may start threads by the ten thousand). Hooks that
 * run later on this thread (other TLS destructors) are ignored: `skipped` never returns to 0. */
HONE__NOINST static void thread_ended(void *arg) {
  tstate *s = arg;
  prctl(PR_GET_NAME, s->name, 0, 0, 0);
  s->sampled_flag = s->perf_fd >= 0;
  sample_thread_stop(s);
  sigset_t old;
  lock_writer(&old);
  uint64_t t = now();
  if (!s->untimed)
    for (frame *f = s->sp - 1; f > s->base; f--) f->n->incl += t - f->t0;
  s->skipped = UINT64_MAX / 2;
  frame *base = s->base;
  node **hash = s->hash;
  size_t hash_bytes = (s->hash_mask + 1) * sizeof(node *);
  s->base = s->sp = s->limit = s->reserve_end = NULL;
  s->hash = NULL;
  s->cur = &s->root;
  atomic_store_explicit(&s->end_ticks, t, memory_order_release);
  unlock_writer(&old);
  /* Unmapped outside the lock: threads ending together (a pool shutting down) would otherwise
   * queue behind each other's munmap calls. No writer reads them once base is NULL. */
  munmap(base, STACK_RESERVE * sizeof(frame));
  munmap(hash, hash_bytes);
}

HONE__NOINST __attribute__((noinline)) static tstate *thread_start(void) {
  tstate *s = tstate_new();
  if (!s) return NULL;
  prctl(PR_GET_NAME, s->name, 0, 0, 0);
  tls = s;
  sample_thread_start(s);
  s->sampled_flag = s->perf_fd >= 0;
  s->untimed = s->sampled_flag && g_untimed;
  publish(s);
  if (g_inited) pthread_setspecific(g_key, s);
  return s;
}

/* ---- the tree ---- */

HONE__RT_INLINE size_t hash_of(const node *parent, uint64_t func, size_t mask) {
  uint64_t h =
      ((uint64_t)(uintptr_t)parent * 0x9E3779B97F4A7C15ull) ^ (func * 0xC2B2AE3D27D4EB4Full);
  return (size_t)(h >> 20) & mask;
}

HONE__NOINST static int hash_grow(tstate *s) {
  size_t mask = s->hash_mask * 2 + 1;
  node **h = map_mem((mask + 1) * sizeof(node *), PROT_READ | PROT_WRITE);
  if (!h) return -1;
  for (size_t i = 0; i <= s->hash_mask; i++) {
    node *n = s->hash[i];
    if (!n) continue;
    size_t j = hash_of(n->parent, n->func, mask);
    while (h[j]) j = (j + 1) & mask;
    h[j] = n;
  }
  munmap(s->hash, (s->hash_mask + 1) * sizeof(node *));
  s->hash = h;
  s->hash_mask = mask;
  return 0;
}

HONE__NOINST static void maps_refresh(void) {
  hone__rt_maps *cur = atomic_load(&g_maps);
  if (cur && cur->generation == hone__rt_maps_generation()) return;
  hone__rt_maps *m = hone__rt_maps_build();
  if (!m) return;
  /* The old snapshot is left mapped: a signal-time writer may be reading it. A new one is taken
   * only when objects were loaded since, so this leaks one snapshot per dlopen at most. */
  atomic_store_explicit(&g_maps, m, memory_order_release);
}

/* The child of `parent` for `func`, created when new. NULL when memory is exhausted. */
HONE__NOINST __attribute__((noinline)) static node *find_child(tstate *s, node *parent,
                                                               uint64_t func) {
  size_t j = hash_of(parent, func, s->hash_mask);
  for (node *n; (n = s->hash[j]) != NULL; j = (j + 1) & s->hash_mask)
    if (n->parent == parent && n->func == func) return n;
  uint32_t idx = atomic_load_explicit(&s->nnodes, memory_order_relaxed);
  uint32_t c = idx >> CHUNK_SHIFT;
  if (c >= MAX_CHUNKS) return NULL;
  if ((idx & (CHUNK_NODES - 1)) == 0 && !s->chunks[c]) {
    s->chunks[c] = map_mem(CHUNK_NODES * sizeof(node), PROT_READ | PROT_WRITE);
    if (!s->chunks[c]) return NULL;
  }
  if ((s->hash_used + 1) * 2 > s->hash_mask + 1) {
    if (hash_grow(s) != 0) return NULL;
    j = hash_of(parent, func, s->hash_mask);
    while (s->hash[j]) j = (j + 1) & s->hash_mask;
  }
  node *n = &s->chunks[c][idx & (CHUNK_NODES - 1)];
  memset(n, 0, sizeof *n);
  n->func = func;
  n->parent = parent;
  n->index = idx;
  s->hash[j] = n;
  s->hash_used++;
  atomic_store_explicit(&s->nnodes, idx + 1, memory_order_release);
  /* An address outside every known object means a library was loaded since the snapshot. */
  if (g_inited && !hone__rt_maps_contains(atomic_load(&g_maps), func)) maps_refresh();
  return n;
}

HONE__NOINST __attribute__((noinline)) static int grow_stack(tstate *s) {
  if (s->limit >= s->reserve_end) return -1;
  size_t step = STACK_STEP;
  if ((size_t)(s->reserve_end - s->limit) < step) step = (size_t)(s->reserve_end - s->limit);
  if (mprotect(s->limit, step * sizeof(frame), PROT_READ | PROT_WRITE) != 0) return -1;
  s->limit += step;
  return 0;
}

/* The hook's slow path: a child not in the parent's cache, a full stack, skipped frames. An
 * instrumented signal handler that interrupts it (while the tree is being extended) is not
 * recorded: its calls count as skipped, so the tree is never extended twice at once. */
HONE__NOINST __attribute__((noinline)) static void enter_slow(tstate *s, node *p, uint64_t fn) {
  if (s->skipped || s->in_slow) {
    s->skipped++;
    return;
  }
  s->in_slow = 1;
  __asm__ volatile("" ::: "memory");
  node *c = find_child(s, p, fn);
  int full = c && !s->untimed && s->sp == s->limit && grow_stack(s) != 0;
  __asm__ volatile("" ::: "memory");
  s->in_slow = 0;
  if (!c || full) {
    if (s->skipped++ == 0)
      say("hone-prof: out of memory for the call tree; deeper calls are not recorded\n");
    return;
  }
  /* Not cached (the slow path is taken for a cached child only when the stack is full or
   * frames were skipped): it goes first, the others move down one, the last is forgotten. */
  int cached = 0;
  for (int k = 0; k < NODE_CACHE; k++) cached |= p->cf[k] == fn;
  if (!cached) {
    for (int k = NODE_CACHE - 1; k > 0; k--) {
      p->cf[k] = p->cf[k - 1];
      p->cn[k] = p->cn[k - 1];
    }
    p->cf[0] = fn;
    p->cn[0] = c;
  }
  c->calls++;
  s->cur = c;
  if (s->untimed) return;
  frame *f = s->sp;
  f->n = c;
  s->sp = f + 1;
  f->t0 = now();
}

HONE__NOINST static void calibrated(void);

/* A thread's first hook: the process's first calibrates the runtime's cost (a process that
 * never records never calibrates), then the thread's state is made and the call recorded. */
HONE__NOINST __attribute__((noinline)) static void enter_first(uint64_t fn) {
  calibrated();
  tstate *s = thread_start();
  if (s) enter_slow(s, s->cur, fn);
}

/* The clock read of a timed entry, out of line (see exit_timed); a tail call. */
HONE__NOINST __attribute__((noinline)) static void stamp(frame *f) {
  f->t0 = now();
}

/* The hooks' bodies take the flag that says whether to record: the hooks read g_on, and the
 * calibration runs copies of them that read flags of its own (g_cal_on, g_cal_off), so that it
 * times the very code the program runs without turning recording off for the other threads. */
HONE__RT_INLINE void hook_enter(_Atomic int *on, void *fn) {
  if (UNLIKELY(!atomic_load_explicit(on, memory_order_relaxed))) {
    if (UNLIKELY(g_plain)) g_plain_hooked = 1;
    return;
  }
  tstate *s = tls;
  uint64_t a = (uint64_t)(uintptr_t)fn;
  if (UNLIKELY(!s)) {
    enter_first(a);
    return;
  }
  node *p = s->cur, *c;
  if (LIKELY(p->cf[0] == a))
    c = p->cn[0];
  else if (p->cf[1] == a)
    c = p->cn[1];
  else if (p->cf[2] == a)
    c = p->cn[2];
  else if (p->cf[3] == a)
    c = p->cn[3];
  else
    goto slow;
  /* An untimed thread keeps no frames: its stack is the chain from s->cur up through the
   * nodes' parents, which is the same path (perf put the frame stack's loads and stores at a
   * third of these hooks' samples on examples/profiling.c, and an instrumented build's shares
   * further from the plain build's the heavier its hooks are: bench/prof_truth.sh's floor). */
  if (LIKELY(s->untimed)) {
    if (UNLIKELY(s->skipped)) goto slow;
    c->calls++;
    s->cur = c;
    return;
  }
  frame *f = s->sp;
  if (UNLIKELY(f == s->limit || s->skipped)) goto slow;
  c->calls++;
  s->cur = c;
  f->n = c;
  s->sp = f + 1;
  stamp(f);
  return;
slow:
  enter_slow(s, p, a);
}

HOOK void __cyg_profile_func_enter(void *fn, void *site) {
  (void)site;
  hook_enter(&g_on, fn);
}

/* The exit of a function that is not the top frame: frames skipped on entry, or frames
 * abandoned by longjmp (unwound up to the frame of `fn`, closed now), or a function entered
 * before recording started (ignored). Returns the frame to close, or NULL. */
HONE__NOINST __attribute__((noinline)) static frame *exit_slow(tstate *s, uint64_t fn, uint64_t t) {
  if (s->skipped) {
    s->skipped--;
    return NULL;
  }
  frame *g = s->sp - 1;
  while (g > s->base && g->n->func != fn) g--;
  if (g == s->base) return NULL;
  for (frame *f = s->sp - 1; f > g; f--) f->n->incl += t - f->t0;
  return g;
}

/* exit_slow for an untimed thread, whose stack is the node chain: the nearest node of `fn` up
 * from the top is closed with those above it (longjmp); none (entered before recording
 * started): ignored. */
HONE__NOINST __attribute__((noinline)) static void exit_untimed_slow(tstate *s, uint64_t fn) {
  if (s->skipped) {
    s->skipped--;
    return;
  }
  node *g = s->cur;
  while (g != &s->root && g->func != fn) g = g->parent;
  if (g != &s->root) s->cur = g->parent;
}

/* An exit while recording is stopped: a call that was recorded (pushed while recording) and
 * returns now is closed, so that its time ends here and later calls are not taken for its
 * children. Calls entered while stopped were never pushed and are ignored. */
HONE__NOINST __attribute__((noinline)) static void exit_stopped(tstate *s, uint64_t fn) {
  if (s->skipped) return;
  if (s->untimed) {
    if (s->cur != &s->root && s->cur->func == fn) s->cur = s->cur->parent;
    return;
  }
  frame *f = s->sp - 1;
  if (f <= s->base || f->n->func != fn) return;
  node *n = f->n;
  n->incl += now() - f->t0;
  s->cur = n->parent;
  s->sp = f;
}

/* The exit of a timed thread, out of line: only the untimed path stays in the hook itself, which
 * then saves no register and reserves no stack frame. */
HONE__NOINST __attribute__((noinline)) static void exit_timed(tstate *s, uint64_t fn) {
  uint64_t t = now();
  frame *f = s->sp - 1;
  if (UNLIKELY(s->skipped || f->n->func != fn)) {
    f = exit_slow(s, fn, t);
    if (!f) return;
  }
  node *n = f->n;
  n->incl += t - f->t0;
  s->cur = n->parent;
  s->sp = f;
}

HONE__RT_INLINE void hook_exit(_Atomic int *on, void *fn) {
  uint64_t a = (uint64_t)(uintptr_t)fn;
  tstate *s = tls; /* NULL in a thread that never recorded, and always with HONE_PROF=off */
  if (UNLIKELY(!atomic_load_explicit(on, memory_order_relaxed))) {
    if (UNLIKELY(s != NULL)) exit_stopped(s, a);
    return;
  }
  if (UNLIKELY(!s)) return;
  if (LIKELY(s->untimed)) { /* sampled: no clock read, no frames */
    node *c = s->cur;
    if (UNLIKELY(s->skipped || c->func != a)) {
      exit_untimed_slow(s, a);
      return;
    }
    s->cur = c->parent;
    return;
  }
  exit_timed(s, a);
}

HOOK void __cyg_profile_func_exit(void *fn, void *site) {
  (void)site;
  hook_exit(&g_on, fn);
}

/* The calibration's copies of the hooks: recording (g_cal_on is 1) and not (g_cal_off is 0). */
static _Atomic int g_cal_on, g_cal_off;
HONE__NOINST __attribute__((noinline)) static void cal_enter_on(void *fn, void *site) {
  (void)site;
  hook_enter(&g_cal_on, fn);
}
HONE__NOINST __attribute__((noinline)) static void cal_exit_on(void *fn, void *site) {
  (void)site;
  hook_exit(&g_cal_on, fn);
}
HONE__NOINST __attribute__((noinline)) static void cal_enter_off(void *fn, void *site) {
  (void)site;
  hook_enter(&g_cal_off, fn);
}
HONE__NOINST __attribute__((noinline)) static void cal_exit_off(void *fn, void *site) {
  (void)site;
  hook_exit(&g_cal_off, fn);
}

/* ---- clock and calibration ---- */

/* A (counter, CLOCK_MONOTONIC) pair read as close together as possible: the best of a few
 * tries, the counter read on both sides of the clock, so that a preemption between the two reads
 * cannot skew the frequency. */
HONE__NOINST static void clock_pair(uint64_t *c, uint64_t *n) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 8; i++) {
    uint64_t a = hone__rt_counter(), m = hone__rt_mono_ns(), b = hone__rt_counter();
    if (b >= a && b - a < best) {
      best = b - a;
      *c = a + (b - a) / 2;
      *n = m;
    }
  }
}

/* Chooses the clock at load, cheaply: the counter when it is invariant (and not declined with
 * HONE_PROF_CLOCK=monotonic). Only a (counter, CLOCK_MONOTONIC) pair is read now; the counter's
 * frequency, and whether it ticks plausibly, is measured from that pair when the process first
 * records (counter_rate) or writes a file (ticks_per_second). */
HONE__NOINST static void choose_clock(void) {
  g_use_counter = 0;
  g_tps = 1e9;
  /* HONE_PROF_CLOCK=monotonic: the fallback of machines without a usable counter, on demand. */
  const char *want = getenv("HONE_PROF_CLOCK");
  if (want && strcmp(want, "monotonic") == 0) {
    g_clock_why = HONE__CLOCKWHY_ASKED;
    return;
  }
  /* The same verdict as hone clocks (common/cycles.h): CPUID, then the kernel's flags. */
  enum hone__cycles_verdict v = hone__cycles_verdict();
  g_clock_why = (uint32_t)v;
  if (v != HONE__CYCLES_CPUID && v != HONE__CYCLES_KERNEL) return;
  clock_pair(&g_cal_ticks, &g_cal_ns);
  g_use_counter = 1;
}

/* The counter's rate from the load pair to now, over at least `min_ns` (waited out when the
 * process is younger: at most that long, and only in processes that record or write). 0 when
 * the counter went backwards or ticks implausibly. */
HONE__NOINST static double counter_rate(uint64_t min_ns) {
  double nominal = hone__cycles_stated_hz();
  if (nominal > 0) return nominal;
  uint64_t prev = hone__rt_counter();
  while (hone__rt_mono_ns() - g_cal_ns < min_ns) {
    uint64_t c = hone__rt_counter();
    if (c < prev) return 0;
    prev = c;
  }
  uint64_t c = 0, n = 0;
  clock_pair(&c, &n);
  if (c <= g_cal_ticks || n <= g_cal_ns) return 0;
  double hz = (double)(c - g_cal_ticks) / ((double)(n - g_cal_ns) * 1e-9);
  return hz > 1e6 && hz < 1e11 ? hz : 0;
}

/* Ticks per second at a write: over the whole run so far, which is at least 2 ms in a process
 * that recorded (its calibration alone takes longer); a file with no call only needs a rough
 * figure for its total time. */
HONE__NOINST static double ticks_per_second(bool recorded) {
  if (!g_use_counter) return 1e9;
  double hz = counter_rate(recorded ? 2000000u : 100000u);
  return hz > 0 ? hz : g_tps;
}

HONE__NOINST static node *scratch_node(tstate *s, uint64_t fn, node *parent) {
  size_t j = hash_of(parent, fn, s->hash_mask);
  for (node *n; (n = s->hash[j]) != NULL; j = (j + 1) & s->hash_mask)
    if (n->parent == parent && n->func == fn) return n;
  return NULL;
}

/* A small recursive function shaped as -finstrument-functions compiles one: the hooks are
 * called around a body with a little work, so the processor overlaps the hooks with that work as
 * it does in a real program (a tight loop of bare hook calls overstates the cost by a fifth). */
static void *volatile g_cal_self;
static void (*volatile g_cal_enter)(void *, void *);
static void (*volatile g_cal_exit)(void *, void *);
HONE__NOINST __attribute__((noinline)) static unsigned long cal_fib(unsigned n) {
  void *self = g_cal_self, *site = __builtin_return_address(0);
  g_cal_enter(self, site);
  unsigned long r = n < 2 ? n : cal_fib(n - 1) + cal_fib(n - 2);
  g_cal_exit(self, site);
  return r;
}

/* A real program calls the hooks from another object (its executable) through a PLT jump, and
 * those far calls and returns cost more than calls inside this library. The cost of calling the
 * hooks when not recording is measured both ways and the mean kept: direct (near: a lower bound)
 * and through a PLT-like jump stub placed away from this library, near the executable (the call
 * crosses twice: an upper bound). The recording cost hides the difference, as measured. Only
 * x86-64 writes the stub; elsewhere, and where code cannot be mapped, the near figure is used. */
HONE__NOINST static unsigned char *far_stubs(void) {
#if defined(__x86_64__)
  hone__rt_maps *m = atomic_load(&g_maps);
  uintptr_t hint = m && m->n ? (uintptr_t)m->m[0].end + ((uintptr_t)1 << 30) : 0;
  unsigned char *page =
      mmap((void *)hint, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return NULL;
  void *target[2] = {(void *)cal_enter_off, (void *)cal_exit_off};
  for (int k = 0; k < 2; k++) {
    unsigned char *st = page + 64 * k; /* jmp *0(%rip); .quad target */
    static const unsigned char jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
    memcpy(st, jmp, sizeof jmp);
    memcpy(st + 6, &target[k], 8);
  }
  if (mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0) {
    munmap(page, 4096);
    return NULL;
  }
  return page;
#else
  return NULL;
#endif
}

/* Calibrates the runtime's cost per call on a scratch tree. cal_fib is timed recording and not
 * recording (as with HONE_PROF=off): the difference per call is what recording adds, the cost to
 * remove. A leaf call's own measured time (enter A, exit A with nothing between) is the part of it
 * that lands inside a callee's interval (inner); the rest is charged to the caller (outer).
 * Minimum over repeats: the quiet machine. About 5 ms. Sets g_over_*; `dbg` gets the figures
 * HONE_PROF_DEBUG prints (on, not recording, near, far, inner). */
HONE__NOINST static void calibrate(double dbg[5]) {
  g_over_inner = g_over_outer = 0;
  for (int i = 0; i < 5; i++) dbg[i] = NAN;
  tstate *s = tstate_new();
  if (!s) return;
  tstate *saved = tls;
  tls = s;
  atomic_store(&g_cal_on, 1); /* stored at run time, so that no compiler takes them as constants */
  atomic_store(&g_cal_off, 0);
  unsigned char *stubs = far_stubs();
  g_cal_self = (void *)(uintptr_t)cal_fib;
  void (*volatile enter)(void *, void *) = cal_enter_on;
  void (*volatile leave)(void *, void *) = cal_exit_on;
  void *A = (void *)(uintptr_t)0x10;
  enum { N = 1000, REPS = 10, FIB = 20, FIB_CALLS = 21891 };
  double inner = INFINITY, on = INFINITY, off = INFINITY, off_far = INFINITY;
  uint64_t t_end = hone__rt_mono_ns() + 15000000; /* 3 repeats, more within ~15 ms */
  enter(A, NULL);
  leave(A, NULL);
  node *a = scratch_node(s, 0x10, &s->root);
  g_cal_enter = cal_enter_on;
  g_cal_exit = cal_exit_on;
  volatile unsigned long sink = cal_fib(FIB);
  for (int r = 0; a && r < REPS && (r < 3 || hone__rt_mono_ns() < t_end); r++) {
    tls = s;
    g_cal_enter = cal_enter_on;
    g_cal_exit = cal_exit_on;
    uint64_t a0 = a->incl, t0 = now();
    for (int i = 0; i < N; i++) {
      enter(A, NULL);
      leave(A, NULL);
    }
    uint64_t t1 = now();
    double x = (double)(a->incl - a0) / N;
    if (x < inner) inner = x;
    t0 = now();
    sink += cal_fib(FIB);
    t1 = now();
    double y = (double)(t1 - t0) / FIB_CALLS;
    if (y < on) on = y;
    tls = saved; /* not recording, as with HONE_PROF=off: a thread with no state */
    g_cal_enter = cal_enter_off;
    g_cal_exit = cal_exit_off;
    t0 = now();
    sink += cal_fib(FIB);
    t1 = now();
    y = (double)(t1 - t0) / FIB_CALLS;
    if (y < off) off = y;
    if (stubs) {
      g_cal_enter = (void (*)(void *, void *))(void *)stubs;
      g_cal_exit = (void (*)(void *, void *))(void *)(stubs + 64);
      t0 = now();
      sink += cal_fib(FIB);
      t1 = now();
      g_cal_enter = cal_enter_off;
      g_cal_exit = cal_exit_off;
      y = (double)(t1 - t0) / FIB_CALLS;
      if (y < off_far) off_far = y;
    }
  }
  (void)sink;
  tls = saved;
  tstate_free(s);
  if (stubs) munmap(stubs, 4096);
  double not_rec = isfinite(off_far) ? (off + off_far) / 2 : off;
  if (isfinite(inner) && isfinite(on) && isfinite(not_rec)) {
    double added = on > not_rec ? on - not_rec : 0;
    g_over_inner = inner < added ? inner : added;
    g_over_outer = added - g_over_inner;
  }
  dbg[0] = on;
  dbg[1] = not_rec;
  dbg[2] = off;
  dbg[3] = off_far;
  dbg[4] = inner;
}

/* Makes sure the runtime's cost is calibrated before the caller records: the first caller
 * calibrates (every signal held back, so that no handler of this thread runs meanwhile), the
 * others wait for it; no thread has recorded yet. The calibration runs its own copies of the
 * hooks, so the other threads' recording is left alone. The time it takes is moved out of the
 * recording: the start moves forward by as much. */
HONE__NOINST static void calibrated(void) {
  /* A plain run records no call: its calibration (of the sampling only) ran at load. */
  if (g_plain || atomic_load_explicit(&g_cal_state, memory_order_acquire) == 2) return;
  int none = 0;
  if (!atomic_compare_exchange_strong(&g_cal_state, &none, 1)) {
    wait_for(&g_cal_state, 2);
    return;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  uint64_t n0 = hone__rt_mono_ns(), t0 = now();
  double dbg[5];
  calibrate(dbg);
  calibrate_sampling();
  if (g_use_counter) {
    /* The counter's rate, from the load pair: the calibration made the span long enough. */
    double hz = counter_rate(2000000u);
    if (hz > 0) {
      g_tps = hz;
    } else {
      /* A counter that ticks implausibly: CLOCK_MONOTONIC instead (nothing was recorded). */
      g_use_counter = 0;
      g_clock_why = HONE__CLOCKWHY_IMPLAUSIBLE;
      g_tps = 1e9;
      g_start_ticks = g_start_ns;
      calibrate(dbg);
    }
  }
  uint64_t took_ns = hone__rt_mono_ns() - n0;
  g_start_ticks += g_use_counter ? now() - t0 : took_ns;
  g_start_ns += took_ns;
  g_start_unix_ns += (int64_t)took_ns;
  if (g_debug) {
    char b[256];
    int l = snprintf(b, sizeof b,
                     "hone-prof: clock %s at %.4f GHz; ticks per call: %.2f added = %.2f "
                     "recording - %.2f not (near %.2f, far %.2f); inner %.2f\n",
                     g_use_counter ? "counter" : "monotonic", g_tps / 1e9, dbg[0] - dbg[1], dbg[0],
                     dbg[1], dbg[2], dbg[3], dbg[4]);
    if (l > 0) say(b);
  }
  atomic_store_explicit(&g_cal_state, 2, memory_order_release);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- writing the file ---- */

typedef struct wthread {
  tstate *s;
  uint32_t pc_cursor; /* next slot of s->pcs to look at */
  hone__prof_wthread w;
  char name[17];
} wthread;

typedef struct wctx {
  wthread *t;
  size_t nt;
  const hone__rt_maps *maps;
} wctx;

HONE__NOINST static const hone__prof_wthread *w_thread(void *ctx, size_t i) {
  return &((wctx *)ctx)->t[i].w;
}

HONE__NOINST static node *node_at(tstate *s, uint64_t i) {
  return &s->chunks[i >> CHUNK_SHIFT][i & (CHUNK_NODES - 1)];
}

HONE__NOINST static void w_nodes(void *ctx, size_t ti, uint64_t first, hone_prof_node *out,
                                 size_t n) {
  tstate *s = ((wctx *)ctx)->t[ti].s;
  for (size_t k = 0; k < n; k++) {
    node *x = node_at(s, first + k);
    uint64_t incl = x->snap;
    out[k].func = x->func;
    out[k].parent = x->parent == &s->root ? HONE_PROF_NO_PARENT : x->parent->index;
    out[k].flags = 0;
    out[k].calls = x->calls;
    out[k].incl = incl;
    out[k].excl = incl > x->child ? incl - x->child : 0;
  }
}

HONE__NOINST static void w_samples(void *ctx, size_t ti, uint64_t first, uint64_t *out, size_t n) {
  tstate *s = ((wctx *)ctx)->t[ti].s;
  for (size_t k = 0; k < n; k++) out[k] = s->sampled_flag ? node_at(s, first + k)->samples : 0;
}

/* A record is written when its node is (in a plain run: every record, none has a node). */
HONE__RT_INLINE bool pc_kept(uint32_t ni, uint32_t nnodes) {
  return g_plain ? ni == HONE_PROF_NO_PARENT : ni < nnodes;
}

/* The first npcs records of the table (in slot order) whose node was written. */
HONE__NOINST static uint32_t count_pcs(tstate *s, uint32_t nnodes) {
  uint32_t k = 0;
  if (s->pcs)
    for (uint32_t j = 0; j < PCS_CAP; j++) k += s->pcs[j].count && pc_kept(s->pcs[j].node, nnodes);
  return k;
}

HONE__NOINST static void w_pcs(void *ctx, size_t ti, hone__prof_pc_rec *out, size_t n) {
  wthread *w = &((wctx *)ctx)->t[ti];
  tstate *s = w->s;
  size_t k = 0;
  while (k < n && s->pcs && w->pc_cursor < PCS_CAP) {
    hone__prof_pc_rec e = s->pcs[w->pc_cursor++];
    if (e.count && pc_kept(e.node, (uint32_t)w->w.nnodes)) out[k++] = e;
  }
  for (; k < n; k++) out[k] = (hone__prof_pc_rec){0, 0, 0}; /* not reached: records stay */
}

HONE__NOINST static const hone__prof_wmap *w_map(void *ctx, size_t i) {
  return &((wctx *)ctx)->maps->m[i];
}

/* The thread's name without stdio: prctl for the caller, /proc for the others. */
HONE__NOINST static void thread_name(tstate *s, char *out) {
  memcpy(out, s->name, 16);
  out[16] = '\0';
  if (s == tls) {
    prctl(PR_GET_NAME, out, 0, 0, 0);
    out[16] = '\0';
    return;
  }
  if (atomic_load(&s->end_ticks)) return;
  char path[64] = "/proc/self/task/";
  char digits[24];
  int nd = 0;
  uint64_t v = s->tid;
  do digits[nd++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  size_t l = strlen(path);
  while (nd) path[l++] = digits[--nd];
  memcpy(path + l, "/comm", 6);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t r = read(fd, out, 16);
  close(fd);
  if (r > 0) {
    out[r] = '\0';
    if (out[r - 1] == '\n') out[r - 1] = '\0';
  }
}

/* Prepares the writer's scratch fields of thread s at time `at`: each active frame's time so
 * far, then (children have higher indexes than parents) the children's inclusive sums. */
HONE__NOINST static void prepare_thread(tstate *s, uint32_t n, uint64_t at) {
  /* Each node's incl is read once, here: the owner thread goes on updating it meanwhile. */
  for (uint32_t i = 0; i < n; i++) {
    node *x = node_at(s, i);
    x->snap = x->incl;
    x->child = 0;
  }
  /* An ended thread has no stack: its open calls were closed when it ended. An untimed one has
   * no times. */
  if (s->base && !s->untimed) {
    frame *top = s->sp;
    for (frame *f = s->base + 1; f < top && f < s->limit; f++) {
      node *x = f->n;
      if (!x || x == &s->root || x->index >= n) continue;
      uint64_t t0 = f->t0;
      if (t0 < at) x->snap += at - t0;
    }
  }
  for (uint32_t i = n; i-- > 0;) {
    node *x = node_at(s, i);
    if (x->parent != &s->root) x->parent->child += x->snap;
  }
}

HONE__NOINST static size_t u64_to_str(uint64_t v, char *out) {
  char d[24];
  size_t n = 0, l = 0;
  do d[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n) out[l++] = d[--n];
  out[l] = '\0';
  return l;
}

HONE__NOINST static int dump_frozen(const char *path, bool in_signal);

/* Writes the file with the address tables frozen (g_pcs_frozen) and this thread's samples held
 * back until it is written (SIGPROF blocked here: the table of the writing thread is then
 * exactly as counted). Async-signal-safe when in_signal (no allocator, no loader lock). */
HONE__NOINST static int dump_held(const char *path, bool in_signal) {
  sigset_t prof, old;
  sigemptyset(&prof);
  sigaddset(&prof, SIGPROF);
  pthread_sigmask(SIG_BLOCK, &prof, &old);
  atomic_fetch_add(&g_pcs_frozen, 1);
  int rc = dump_frozen(path, in_signal);
  atomic_fetch_sub(&g_pcs_frozen, 1);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

HONE__NOINST static int dump_frozen(const char *path, bool in_signal) {
  if (atomic_exchange(&g_dumping, 1)) return HONE_EBUSY;
  int rc = 0;
  uint64_t at = now();
  if (!in_signal) maps_refresh();
  /* The list only grows at its head: what hangs from this head stays as it is. */
  tstate *head = atomic_load_explicit(&g_threads, memory_order_acquire);
  size_t nt = 0;
  for (tstate *s = head; s; s = s->next) nt++;
  size_t bytes = (nt ? nt : 1) * sizeof(wthread);
  wthread *wt = map_mem(bytes, PROT_READ | PROT_WRITE);
  if (!wt) {
    atomic_store(&g_dumping, 0);
    return HONE_ENOMEM;
  }
  /* Threads in the order they started (the list is newest first). */
  size_t i = nt;
  for (tstate *s = head; s && i; s = s->next) {
    wthread *w = &wt[--i];
    w->s = s;
    uint32_t n = atomic_load_explicit(&s->nnodes, memory_order_acquire);
    prepare_thread(s, n, at);
    thread_name(s, w->name);
    w->w.tid = s->tid;
    w->w.name = w->name;
    w->w.nnodes = n;
    w->w.sampled = g_sample_ok && s->sampled_flag;
    w->w.samples_own = w->w.sampled ? s->samples_own : 0;
    w->w.samples_outside = w->w.sampled ? s->samples_outside : 0;
    w->w.npcs = w->w.sampled ? count_pcs(s, n) : 0;
    w->pc_cursor = 0;
  }
  /* Threads with nothing recorded (in a plain run: no sample) are left out. */
  size_t k = 0;
  for (size_t j = 0; j < nt; j++)
    if (wt[j].w.nnodes || (g_plain && (wt[j].w.npcs || wt[j].w.samples_outside))) {
      if (k != j) wt[k] = wt[j];
      wt[k].w.name = wt[k].name;
      k++;
    }
  wctx ctx = {wt, k, atomic_load_explicit(&g_maps, memory_order_acquire)};
  hone__prof_wsrc src = {
      .clock = g_use_counter ? HONE__RT_COUNTER : HONE__CLOCK_MONOTONIC,
      .ticks_per_second = ticks_per_second(k > 0),
      .pid = (uint64_t)getpid(),
      .ppid = (uint64_t)getppid(),
      .start_unix_ns = g_start_unix_ns,
      .total_ticks = at > g_start_ticks ? at - g_start_ticks : 0,
      .overhead_inner_ticks = g_over_inner,
      .overhead_outer_ticks = g_over_outer,
      .clock_why = g_clock_why,
      .times = g_plain        ? HONE__TIMES_PLAIN
               : !g_sample_ok ? HONE__TIMES_INSTRUMENTED
               : g_untimed    ? HONE__TIMES_SAMPLED_UNTIMED
                              : HONE__TIMES_SAMPLED,
      .sample_period_ns = g_sample_ok ? g_period_ns : 0,
      .sample_scale = g_sample_ok ? g_sample_scale : 1,
      .scale_how = g_sample_ok ? g_scale_how : HONE__SCALE_NONE,
      .argc = g_argc,
      .argv = g_argv,
      .nthreads = k,
      .thread = w_thread,
      .nodes = w_nodes,
      .samples = w_samples,
      .pcs = w_pcs,
      .nmaps = ctx.maps ? ctx.maps->n : 0,
      .map = w_map,
      .ctx = &ctx,
  };
  char tmp[4200];
  size_t pl = strlen(path);
  if (pl + 40 > sizeof tmp) {
    rc = HONE_EINVAL;
  } else {
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp.", 5);
    u64_to_str((uint64_t)getpid(), tmp + pl + 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      rc = HONE_EIO;
    } else {
      rc = hone__prof_write_fd(fd, &src);
      if (close(fd) != 0 && rc == 0) rc = HONE_EIO;
      if (rc == 0 && rename(tmp, path) != 0) rc = HONE_EIO;
      if (rc != 0) unlink(tmp);
    }
  }
  munmap(wt, bytes);
  atomic_store(&g_dumping, 0);
  return rc;
}

/* dump_held with SIGINT and SIGTERM held back (a signal handler runs with every signal held). */
HONE__NOINST static int dump(const char *path, bool in_signal) {
  if (in_signal) return dump_held(path, true);
  sigset_t old;
  hold_signals(&old);
  int rc = dump_held(path, false);
  release_signals(&old);
  return rc;
}

/* The default file: HONE_PROF_OUT (made absolute at start), "<name>.<pid>" in a forked child. */
HONE__NOINST static void default_path(char *out, size_t len) {
  size_t l = strlen(g_out);
  if (l + 24 > len) l = len - 24;
  memcpy(out, g_out, l);
  out[l] = '\0';
  if (g_is_child) {
    out[l] = '.';
    u64_to_str((uint64_t)getpid(), out + l + 1);
  }
}

HONE__NOINST static void final_write(bool in_signal) {
  char path[sizeof g_out + 32];
  default_path(path, sizeof path);
  /* A process that recorded nothing (a shell or make between `hone record` and the instrumented
   * program, which inherit the same HONE_PROF_OUT) does not overwrite another's file. */
  uint64_t nodes = 0;
  for (tstate *s = atomic_load(&g_threads); s; s = s->next)
    nodes += g_plain ? s->pcs_used + s->samples_outside : atomic_load(&s->nnodes);
  if (nodes == 0 && access(path, F_OK) == 0) return;
  if (g_plain && g_plain_hooked) {
    say("hone-prof: HONE_PROF_PLAIN is set, but this program's -finstrument-functions hooks ran: "
        "it is not a plain build; its samples are not written\n");
    return;
  }
  int rc = dump(path, in_signal);
  /* Another thread's hone_prof_dump() or thread exit holds the writer's flag: wait for it. */
  for (int i = 0; rc == HONE_EBUSY && i < 100 && wait_for(&g_dumping, 0); i++)
    rc = dump(path, in_signal);
  if (rc != 0) {
    say("hone-prof: could not write ");
    say(path);
    say(rc == HONE_EBUSY ? " (another write was in progress)\n" : "\n");
  }
}

/* Writes the exit file once. A signal that arrives while another thread writes it waits for the
 * file before its default action ends the process; in the writing thread it is held back until
 * the file is written. */
HONE__NOINST static void final_dump(bool in_signal) {
  if (g_mode != 0) return;
  if (g_debug && atomic_load(&g_cal_state) == 0)
    say("hone-prof: no call recorded: calibration skipped\n");
  sigset_t old;
  if (!in_signal) hold_signals(&old);
  int none = 0;
  if (atomic_compare_exchange_strong(&g_final, &none, 1)) {
    final_write(in_signal);
    atomic_store(&g_final, 2);
  } else if (in_signal) {
    wait_for(&g_final, 2);
  }
  if (!in_signal) release_signals(&old);
}

/* ---- signals, fork, start and exit ---- */

static const int g_signals[] = {SIGINT, SIGTERM};

HONE__NOINST static void on_signal(int sig) {
  int e = errno;
  final_dump(true);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  raise(sig); /* the default action: the process ends as if we had never been here */
  errno = e;
}

HONE__NOINST static void install_signals(void) {
  for (size_t i = 0; i < sizeof g_signals / sizeof g_signals[0]; i++) {
    struct sigaction old;
    if (sigaction(g_signals[i], NULL, &old) != 0) continue;
    /* Only where the program keeps the default: its own handler or SIG_IGN wins. */
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(g_signals[i], &sa, NULL);
  }
}

/* The start of the recording: now (t, read with now()). */
HONE__NOINST static void mark_start(uint64_t t) {
  g_start_ticks = t;
  g_start_ns = hone__rt_mono_ns();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  g_start_unix_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* In a forked child only the forking thread exists: the other trees go, the child starts empty
 * and writes its own file. */
HONE__NOINST static void atfork_child(void) {
  tstate *self = tls;
  tstate *s = atomic_load(&g_threads);
  atomic_store(&g_threads, NULL);
  while (s) {
    tstate *next = s->next;
    /* The parent's events, inherited as descriptors: the child samples itself on its own. */
    if (s->perf_fd >= 0) close(s->perf_fd);
    s->perf_fd = -1;
    if (s != self) tstate_free(s);
    s = next;
  }
  tls = NULL;
  if (self) tstate_free(self);
  atomic_store(&g_dumping, 0);
  atomic_store(&g_final, 0);
  g_is_child = 1;
  mark_start(now());
  /* A plain run samples the child's thread from its start, as it sampled the parent's. */
  if (g_plain && g_sample_ok) thread_start();
  /* Forked while another thread calibrated: that thread is gone, the child calibrates anew. */
  if (atomic_load(&g_cal_state) == 1) atomic_store(&g_cal_state, 0);
}

HONE__NOINST static void read_cmdline(void) {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t cap = 1 << 16, len = 0;
  char *buf = map_mem(cap, PROT_READ | PROT_WRITE);
  if (!buf) {
    close(fd);
    return;
  }
  ssize_t r;
  while (len < cap - 1 && (r = read(fd, buf + len, cap - 1 - len)) > 0) len += (size_t)r;
  close(fd);
  buf[len] = '\0';
  size_t argc = 0;
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\0') argc++;
  if (len && buf[len - 1] != '\0') argc++;
  const char **argv = map_mem((argc + 1) * sizeof *argv, PROT_READ | PROT_WRITE);
  if (!argv) return;
  size_t k = 0;
  for (size_t i = 0; i < len && k < argc; i += strlen(buf + i) + 1) argv[k++] = buf + i;
  g_cmdline = buf;
  g_argv = argv;
  g_argc = k;
}

/* ---- a plain build's run ----
 * HONE_PROF_PLAIN=1 (`hone record --plain`): no hook will run, so the sampling is started here
 * for the first thread and by the pthread_create below for every other; recording stays off.
 * The samples' addresses are the run's result: the report takes each function's time from
 * them (the plain build's own code, unslowed by hooks) and its calls from an instrumented run. */
HONE__NOINST static void plain_start(void) {
  g_plain = 1;
  if (!g_sample_ok) {
    say("hone-prof: HONE_PROF_PLAIN: perf_event_open is refused here, so a plain run cannot be "
        "sampled\n");
    return;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  calibrate_sampling();
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  mark_start(now());
  thread_start();
}

typedef struct plain_arg {
  void *(*fn)(void *);
  void *arg;
} plain_arg;

HONE__NOINST static void *plain_thread(void *v) {
  plain_arg a = *(plain_arg *)v;
  free(v);
  if (!tls) thread_start(); /* its end (the key's destructor) stops the sampling */
  return a.fn(a.arg);
}

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* Every thread of a plain run is sampled from its first instruction; otherwise this only passes
 * the call on. */
HOOK int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  static _Atomic(pthread_create_fn) real;
  pthread_create_fn next = atomic_load_explicit(&real, memory_order_acquire);
  if (!next) {
    next = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    if (!next) return EAGAIN;
    atomic_store_explicit(&real, next, memory_order_release);
  }
  if (!g_plain || !g_sample_ok) return next(t, attr, fn, arg);
  plain_arg *a = malloc(sizeof *a);
  if (!a) return EAGAIN;
  *a = (plain_arg){fn, arg};
  int rc = next(t, attr, plain_thread, a);
  if (rc != 0) free(a);
  return rc;
}

HONE__NOINST __attribute__((constructor(101))) static void hone_prof_init(void) {
  if (g_inited) return;
  const char *mode = getenv("HONE_PROF");
  g_mode = !mode ? 0 : strcmp(mode, "off") == 0 ? 2 : strcmp(mode, "manual") == 0 ? 1 : 0;
  if (g_mode == 2) {
    g_inited = 1;
    return;
  }
  /* Hooks that ran before this constructor (other constructors) are forgotten: they ran while
   * g_on was 0, so nothing was recorded. */
  const char *out = getenv("HONE_PROF_OUT");
  if (!out || !*out) out = "hone.prof";
  size_t l = 0;
  if (out[0] != '/' && getcwd(g_out, sizeof g_out - 2)) {
    l = strlen(g_out);
    g_out[l++] = '/';
  }
  size_t ol = strlen(out);
  if (l + ol >= sizeof g_out) ol = sizeof g_out - 1 - l;
  memcpy(g_out + l, out, ol);
  g_out[l + ol] = '\0';

  /* Only cheap steps here: the runtime is loaded into every process of a preloaded tree, most
   * of which record nothing. The calibration waits for the first recorded call (calibrated()). */
  const char *debug = getenv("HONE_PROF_DEBUG");
  g_debug = debug != NULL;
  pthread_key_create(&g_key, thread_ended);
  read_cmdline();
  choose_clock();
  sample_init();
  maps_refresh();
  pthread_atfork(NULL, NULL, atfork_child);
  if (g_mode == 0) install_signals();
  g_inited = 1;
  const char *plain = getenv("HONE_PROF_PLAIN");
  if (plain && strcmp(plain, "1") == 0 && g_mode == 0) {
    plain_start();
    return;
  }
  mark_start(now());
  if (g_mode == 0) atomic_store(&g_on, 1);
}

HONE__NOINST __attribute__((destructor(101))) static void hone_prof_fini(void) {
  if (g_mode == 2 || !g_inited) return;
  final_dump(false);
}

/* ---- control API ---- */

HOOK int hone_prof_start(void) {
  if (g_mode == 2) return HONE_ENOTSUP;
  calibrated(); /* here rather than in the first hook, while recording is still off */
  atomic_store(&g_on, 1);
  return 0;
}

HOOK int hone_prof_stop(void) {
  atomic_store(&g_on, 0);
  return 0;
}

HOOK int hone_prof_enabled(void) {
  return atomic_load(&g_on);
}

HOOK int hone_prof_clear(void) {
  if (g_mode == 2) return 0;
  sigset_t old;
  lock_writer(&old);
  uint64_t t = now();
  /* Other threads may be updating their counters meanwhile; a count lost to that race is a
   * count of a call that straddled the clear. */
  for (tstate *s = atomic_load(&g_threads); s; s = s->next) {
    uint32_t n = atomic_load_explicit(&s->nnodes, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
      node *x = node_at(s, i);
      x->calls = 0;
      x->incl = 0;
      x->samples = 0;
    }
    s->samples_own = s->samples_outside = 0;
    if (s->pcs) {
      memset(s->pcs, 0, PCS_CAP * sizeof(hone__prof_pc_rec));
      s->pcs_used = 0;
    }
    if (s->base)
      for (frame *f = s->base + 1; f < s->sp && f < s->limit; f++) f->t0 = t;
  }
  mark_start(t);
  unlock_writer(&old);
  return 0;
}

HOOK int hone_prof_dump(const char *path) {
  if (g_mode == 2) return HONE_ENOTSUP;
  char def[sizeof g_out + 32];
  if (!path) {
    default_path(def, sizeof def);
    path = def;
  }
  return dump(path, false);
}

HOOK void *hone_prof_runcall(void *(*fn)(void *), void *arg) {
  int was = atomic_load(&g_on);
  if (g_mode != 2) {
    calibrated();
    atomic_store(&g_on, 1);
  }
  void *r = fn(arg);
  atomic_store(&g_on, was);
  return r;
}
