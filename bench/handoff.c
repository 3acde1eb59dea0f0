/* handoff.c: the machine's cost of handing work between two processes, the limit under any design
 * that runs a task in another process than the one that received it (hone's serving rank and
 * its worker process, bound to one core by mpirun --bind-to core) or in another thread (rank 0's
 * caller and its dispatcher thread). Two processes pass a token back and forth through one
 * shared cache line, 1) on one CPU, the waiting side spinning with sched_yield, 2) on one CPU,
 * sleeping on a futex, 3) the same between two threads of one process (no change of address
 * space), 4) on two CPUs, spinning, 5) on two CPUs, sleeping on a futex (the wake-up of a CPU
 * that went idle: in a VM, the host must run the halted vCPU again). Prints, as bench/mpi.sh
 * reads them, "handoff.KEY VALUE" lines: the median round trip (two hand-offs) in microseconds
 * of each, yield1_us, futex1_us, thread_futex1_us, spin2_us, futex2_us (the last two missing on
 * a machine with one CPU), and the CPUs used. */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

enum { MODE_YIELD, MODE_FUTEX, MODE_SPIN };

static void futex_wait(_Atomic uint32_t *a, uint32_t v) {
  syscall(SYS_futex, a, FUTEX_WAIT, v, NULL, NULL, 0);
}
static void futex_wake(_Atomic uint32_t *a) {
  syscall(SYS_futex, a, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set);
}

/* Waits until *s is `want`, the way `mode` waits; `seen` is the value before it. */
static void await_value(_Atomic uint32_t *s, uint32_t want, uint32_t seen, int mode) {
  while (atomic_load_explicit(s, memory_order_acquire) != want) {
    if (mode == MODE_FUTEX)
      futex_wait(s, seen);
    else if (mode == MODE_YIELD)
      sched_yield();
  }
}

static void put_value(_Atomic uint32_t *s, uint32_t v, int mode) {
  atomic_store_explicit(s, v, memory_order_release);
  if (mode == MODE_FUTEX) futex_wake(s);
}

/* The answering side: on `cpu`, answers each odd value v of *s with v + 1 until `last`. */
typedef struct partner {
  _Atomic uint32_t *s;
  uint32_t last;
  int mode, cpu, failed;
} partner;

static void *answer(void *arg) {
  partner *a = arg;
  if (pin(a->cpu) != 0) { /* a thread pins itself only: tid 0 is the calling thread */
    a->failed = 1;
    return NULL;
  }
  for (uint32_t v = 1;; v += 2) {
    await_value(a->s, v, v - 1, a->mode);
    if (v == a->last) return NULL;
    put_value(a->s, v + 1, a->mode);
  }
}

/* The median round trip in microseconds of `trips` hand-off pairs, this process on cpu_a and
 * a child process (or, with `thread`, a thread of this process: no change of address space) on
 * cpu_b; negative on a failure. */
static double round_trip(int mode, int cpu_a, int cpu_b, int trips, int thread) {
  _Atomic uint32_t *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) return -1;
  atomic_store(s, 0);
  partner pa = {.s = s, .last = 2u * (uint32_t)trips + 1, .mode = mode, .cpu = cpu_b};
  pthread_t th;
  pid_t pid = -1;
  if (thread) {
    if (pthread_create(&th, NULL, answer, &pa) != 0) return -1;
  } else {
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      answer(&pa);
      _exit(pa.failed);
    }
  }
  double *rt = malloc((size_t)trips * sizeof *rt);
  int ok = rt && pin(cpu_a) == 0;
  for (int k = 0; ok && k < trips; k++) {
    uint32_t v = 2u * (uint32_t)k + 1;
    int64_t t0 = now_ns();
    put_value(s, v, mode);
    await_value(s, v + 1, v, mode);
    rt[k] = (double)(now_ns() - t0) / 1e3;
  }
  put_value(s, pa.last, mode);
  int st = 0;
  if (thread)
    pthread_join(th, NULL);
  else
    waitpid(pid, &st, 0);
  int answered = thread ? !pa.failed : WIFEXITED(st) && WEXITSTATUS(st) == 0;
  double med = ok && answered ? median(rt, trips) : -1;
  free(rt);
  munmap((void *)s, 4096);
  return med;
}

int main(void) {
  cpu_set_t mine;
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) return 1;
  int cpu[2] = {-1, -1};
  for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
    if (CPU_ISSET(c, &mine)) cpu[k++] = c;
  if (cpu[0] < 0) return 1;
  /* 20,000 trips of a few microseconds; the cross-CPU futex trips take tens of them. */
  struct {
    const char *key;
    int mode, two, trips, thread;
  } runs[] = {{"yield1_us", MODE_YIELD, 0, 20000, 0},
              {"futex1_us", MODE_FUTEX, 0, 20000, 0},
              {"thread_futex1_us", MODE_FUTEX, 0, 20000, 1},
              {"spin2_us", MODE_SPIN, 1, 20000, 0},
              {"futex2_us", MODE_FUTEX, 1, 4000, 0}};
  printf("handoff.cpus %d", cpu[0]);
  if (cpu[1] >= 0) printf(",%d", cpu[1]);
  printf("\n");
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    if (runs[i].two && cpu[1] < 0) continue;
    double v = round_trip(runs[i].mode, cpu[0], runs[i].two ? cpu[1] : cpu[0], runs[i].trips,
                          runs[i].thread);
    if (v > 0) printf("handoff.%s %.3f\n", runs[i].key, v);
  }
  return 0;
}
