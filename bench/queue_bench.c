/* queue_bench.c: hone's shared-memory queue between two processes, side by side with a raw pipe
 * (write/read of the same sizes) and, figures passed in by queue.sh and measured in the same run,
 * Python's multiprocessing.Queue. Prints a table with ratios and whether each target of issue 6
 * is met. Each figure is the median of several runs; each run forks one consumer process and
 * times from the first send until the consumer has received the last message and exited.
 * Measured twice: where the scheduler puts the two processes (often taking turns on one CPU,
 * where the data stays in that CPU's cache), and with producer and consumer pinned to two
 * different CPUs (truly in parallel, every byte crossing between caches) — the same for hone
 * and the pipe each time.
 * Each hone figure is also given as the time per message in cache-line round trips between two
 * CPUs (cacheline.h, measured first in the same run): the machine's physical limit.
 * Usage: bench_queue [--python-small MSGS_PER_S] [--python-large BYTES_PER_S] [--quick] */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hone/queue.h"

#include "bench_util.h"
#include "cacheline.h"

#define SMALL 64
#define LARGE 65536
#define RING (1u << 20) /* the shared queue's ring for 64 KiB messages: 16 of them */

/* CPUs to pin the producer (0) and the consumer (1) to; -1: not pinned. */
static int pin_cpu[2] = {-1, -1};

static void pin_self(int who) {
  if (pin_cpu[who] < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(pin_cpu[who], &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    perror("bench_queue: sched_setaffinity");
    exit(1);
  }
}

static void die(const char *what) {
  fprintf(stderr, "bench_queue: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Waits for the consumer; exits the bench if it failed (a lost or corrupt message). */
static void reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) die("waitpid");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "bench_queue: the consumer failed (status %d)\n", st);
    exit(1);
  }
}

/* Seconds to move n messages of `size` bytes through a fresh shared queue. */
static double run_hone(size_t size, long n) {
  hone_queue *q;
  int rc = hone_queue_new_shared(&q, size == SMALL ? 64 * 1024 : RING, 0);
  if (rc) {
    fprintf(stderr, "bench_queue: hone_queue_new_shared: %s\n", hone_strerror(rc));
    exit(1);
  }
  unsigned char *buf = calloc(1, size);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    pin_self(1);
    size_t got;
    for (long i = 0; i < n; i++) {
      if (hone_queue_recv(q, buf, size, &got, HONE_WAIT_FOREVER) != 0 || got != size) _exit(2);
      if (buf[0] != (unsigned char)i) _exit(3);
    }
    _exit(0);
  }
  int64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    buf[0] = (unsigned char)i;
    if (hone_queue_send(q, buf, size, HONE_WAIT_FOREVER) != 0) die("send");
  }
  reap(pid);
  double s = (double)(now_ns() - t0) / 1e9;
  free(buf);
  hone_queue_free(q);
  return s;
}

static int full_io(int fd, unsigned char *p, size_t n, int wr) {
  while (n) {
    ssize_t k = wr ? write(fd, p, n) : read(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* The same through a pipe: one write and (at least) one read per message. */
static double run_pipe(size_t size, long n) {
  int fds[2];
  if (pipe(fds) != 0) die("pipe");
  unsigned char *buf = calloc(1, size);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    pin_self(1);
    close(fds[1]);
    for (long i = 0; i < n; i++) {
      if (full_io(fds[0], buf, size, 0) != 0) _exit(2);
      if (buf[0] != (unsigned char)i) _exit(3);
    }
    _exit(0);
  }
  close(fds[0]);
  int64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    buf[0] = (unsigned char)i;
    if (full_io(fds[1], buf, size, 1) != 0) die("write");
  }
  close(fds[1]);
  reap(pid);
  double s = (double)(now_ns() - t0) / 1e9;
  free(buf);
  return s;
}

static cacheline_rtt rtt;

/* One table row. `msg_bytes`: 0 when hone/other are messages/s, else the bytes of one message
 * when they are bytes/s (to turn hone's rate into a time per message, in round trips). */
static void row(const char *what, double hone, double other, const char *unit, double scale,
                double target, double msg_bytes) {
  double ratio = other > 0 ? hone / other : 0;
  char tgt[32] = "-";
  if (target > 0) snprintf(tgt, sizeof tgt, ">= %.0fx", target);
  double per_msg_ns = hone > 0 ? 1e9 * (msg_bytes > 0 ? msg_bytes : 1) / hone : 0;
  char rt[32] = "-";
  if (rtt.ns > 0) snprintf(rt, sizeof rt, "%.2f", cacheline_multiple(&rtt, per_msg_ns));
  printf("%-40s %10.2f%-5s %10.2f%-5s %8.2fx  %-8s %-14s %s\n", what, hone / scale, unit,
         other / scale, unit, ratio, tgt,
         target <= 0       ? ""
         : other <= 0      ? "(not measured)"
         : ratio >= target ? "MET"
                           : "MISSED",
         rt);
}

int main(int argc, char **argv) {
  double py_small = 0, py_large = 0;
  int quick = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--python-small") && i + 1 < argc)
      py_small = atof(argv[++i]);
    else if (!strcmp(argv[i], "--python-large") && i + 1 < argc)
      py_large = atof(argv[++i]);
    else if (!strcmp(argv[i], "--quick"))
      quick = 1;
    else {
      fprintf(stderr, "usage: bench_queue [--python-small MSGS_PER_S] [--python-large "
                      "BYTES_PER_S] [--quick]\n");
      return 2;
    }
  }
  rtt = cacheline_measure();
  int reps = quick ? 1 : 5;
  long n_small = quick ? 200000 : 2000000, n_large = quick ? 5000 : 40000;
  long n_small_pipe = n_small / 2, n_large_pipe = n_large / 2;

  /* Interleaved, so that a change in the machine's load touches every contender alike. */
  double vhs[9], vps[9], vhl[9], vpl[9];
  for (int r = 0; r < reps; r++) {
    vhs[r] = (double)n_small / run_hone(SMALL, n_small);
    vps[r] = (double)n_small_pipe / run_pipe(SMALL, n_small_pipe);
    vhl[r] = (double)n_large * LARGE / run_hone(LARGE, n_large);
    vpl[r] = (double)n_large_pipe * LARGE / run_pipe(LARGE, n_large_pipe);
  }
  double hs = median(vhs, reps), ps = median(vps, reps), hl = median(vhl, reps),
         pl = median(vpl, reps);

  /* Again with the two processes on two different CPUs (the first two this process may use). */
  cpu_set_t mine, all;
  int pinned = 0;
  double xhs = 0, xps = 0, xhl = 0, xpl = 0;
  if (sched_getaffinity(0, sizeof mine, &mine) == 0 && CPU_COUNT(&mine) >= 2) {
    all = mine;
    for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
      if (CPU_ISSET(c, &mine)) pin_cpu[k++] = c;
    pin_self(0);
    for (int r = 0; r < reps; r++) {
      vhs[r] = (double)n_small / run_hone(SMALL, n_small);
      vps[r] = (double)n_small_pipe / run_pipe(SMALL, n_small_pipe);
      vhl[r] = (double)n_large * LARGE / run_hone(LARGE, n_large);
      vpl[r] = (double)n_large_pipe * LARGE / run_pipe(LARGE, n_large_pipe);
    }
    sched_setaffinity(0, sizeof all, &all);
    xhs = median(vhs, reps), xps = median(vps, reps), xhl = median(vhl, reps),
    xpl = median(vpl, reps);
    pinned = 1;
  }

  printf("queue between two processes (median of %d runs; Python measured by bench/queue.sh)\n",
         reps);
  cacheline_print(&rtt);
  printf("%-40s %15s %15s %9s  %-8s %-14s %s\n", "measure", "hone", "other", "ratio", "target",
         "verdict", "hone/msg in RT");
  row("64 B messages/s vs a pipe", hs, ps, "M/s", 1e6, 2, 0);
  row("64 B messages/s vs mp.Queue", hs, py_small, "M/s", 1e6, 20, 0);
  row("64 KiB throughput vs a pipe", hl, pl, "GB/s", 1e9, 3, LARGE);
  row("64 KiB throughput vs mp.Queue", hl, py_large, "GB/s", 1e9, 0, LARGE);
  if (pinned) {
    printf("the same, producer on CPU %d and consumer on CPU %d (in parallel):\n", pin_cpu[0],
           pin_cpu[1]);
    row("64 B messages/s vs a pipe, 2 CPUs", xhs, xps, "M/s", 1e6, 2, 0);
    row("64 KiB throughput vs a pipe, 2 CPUs", xhl, xpl, "GB/s", 1e9, 3, LARGE);
  }
  printf("hone/msg in RT: hone's time per message in cache-line round trips (the machine line)\n");
  return 0;
}
