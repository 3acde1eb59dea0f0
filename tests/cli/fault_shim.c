/* fault_shim.c: an LD_PRELOAD library for fault injection into the real hone binary (SQLite's
 * practice). HONE_FAULT_ALLOC=N makes the Nth allocation (malloc, calloc, realloc; strdup and
 * the rest of libc allocate through them) made after the program starts fail with ENOMEM;
 * HONE_FAULT_WRITE=N makes the Nth write(2) fail with ENOSPC. The count is per process and
 * carries into forked children; LD_PRELOAD is removed at start, so programs it runs (the
 * compiler) are not affected. Writes the number of allocations and writes made to the file
 * named by HONE_FAULT_COUNT at exit, so a driver knows when N has passed every point. */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

static long alloc_at, write_at, allocs, writes;
static int armed, trace;
static char count_path[4096];

static long env_long(const char *name) {
  const char *v = getenv(name);
  return v ? strtol(v, NULL, 10) : 0;
}

static void report(void) {
  if (!count_path[0]) return;
  armed = 0;
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%ld %ld\n", allocs, writes);
  int fd = open(count_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd >= 0) {
    syscall(SYS_write, fd, buf, (size_t)n);
    close(fd);
  }
}

__attribute__((constructor)) static void init(void) {
  alloc_at = env_long("HONE_FAULT_ALLOC");
  write_at = env_long("HONE_FAULT_WRITE");
  trace = env_long("HONE_FAULT_TRACE") != 0;
  const char *c = getenv("HONE_FAULT_COUNT");
  if (c) snprintf(count_path, sizeof count_path, "%s", c);
  unsetenv("LD_PRELOAD");
  unsetenv("HONE_FAULT_ALLOC");
  unsetenv("HONE_FAULT_WRITE");
  unsetenv("HONE_FAULT_COUNT");
  armed = 1;
  atexit(report);
}

static int fail_alloc(void) {
  if (!armed) return 0;
  allocs++;
  if (!(alloc_at > 0 && allocs == alloc_at)) return 0;
  if (trace) { /* HONE_FAULT_TRACE=1: where the failed allocation was made, on stderr */
    armed = 0;
    void *f[32];
    backtrace_symbols_fd(f, backtrace(f, 32), 2);
    armed = 1;
  }
  return 1;
}

void *malloc(size_t n) {
  if (fail_alloc()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_malloc(n);
}

void *calloc(size_t n, size_t m) {
  if (fail_alloc()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n) {
  if (fail_alloc()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_realloc(p, n);
}

ssize_t write(int fd, const void *buf, size_t n) {
  if (armed) {
    writes++;
    if (write_at > 0 && writes == write_at) {
      errno = ENOSPC;
      return -1;
    }
  }
  return syscall(SYS_write, fd, buf, n);
}
