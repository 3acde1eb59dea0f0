/* prof_fixture.c: a program with a known call graph, built with -finstrument-functions and linked
 * to libhone-prof.so, for tests/prof/prof.sh. `prof_fixture MODE SYMS` writes the addresses of its
 * functions to SYMS (so the checker needs no symbol lookup), then runs MODE. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hone/prof.h"

static volatile unsigned long sink;
static unsigned long token;
int main(int argc, char **argv);

__attribute__((noinline)) void leaf(void) {
  sink++;
}
__attribute__((noinline)) void caller_a(void) {
  for (int i = 0; i < 3; i++) leaf();
}
__attribute__((noinline)) void caller_b(void) {
  for (int i = 0; i < 2; i++) leaf();
}
__attribute__((noinline)) unsigned long fact(unsigned long n) {
  return n == 0 ? 1 : n * fact(n - 1);
}
int is_odd(unsigned n);
__attribute__((noinline)) int is_even(unsigned n) {
  return n == 0 ? 1 : is_odd(n - 1);
}
__attribute__((noinline)) int is_odd(unsigned n) {
  return n == 0 ? 0 : is_even(n - 1);
}
__attribute__((noinline)) void work(void) {
  for (int i = 0; i < 10; i++) sink += (unsigned long)i;
}
/* Burns CPU for `ms` milliseconds, calling work() along the way. */
__attribute__((noinline)) void spin(long ms) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    for (int i = 0; i < 100; i++) work();
    clock_gettime(CLOCK_MONOTONIC, &b);
  } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}
__attribute__((noinline)) void *thread_main(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) leaf();
  return NULL;
}
__attribute__((noinline)) void down(long n) {
  if (n > 1) down(n - 1);
  sink++;
}
__attribute__((noinline)) void *deep_main(void *arg) {
  down((long)arg);
  return NULL;
}
static jmp_buf jb;
__attribute__((noinline)) void deep2(void) {
  longjmp(jb, 1);
}
__attribute__((noinline)) void deep1(void) {
  deep2();
  sink++;
}
__attribute__((noinline)) void jumper(void) {
  if (setjmp(jb) == 0) deep1();
}
__attribute__((noinline)) void post(void) {
  leaf();
}
__attribute__((noinline)) void nested_exit(int code) {
  leaf();
  exit(code);
}
__attribute__((noinline)) void nested_signal(int sig) {
  leaf();
  raise(sig);
  sink++; /* not reached: the default action ends the process */
}
/* Calls along ever new paths for `ms` milliseconds: the tree grows while main writes files. */
static volatile int stop_busy;
static pthread_mutex_t started_lock = PTHREAD_MUTEX_INITIALIZER;
static int started;
__attribute__((noinline)) void *busy(void *arg) {
  (void)arg;
  pthread_mutex_lock(&started_lock);
  started++;
  pthread_mutex_unlock(&started_lock);
  unsigned long i = 0;
  while (!stop_busy) {
    sink += fact(i++ % 64);
    caller_a();
  }
  return NULL;
}
/* Never returns: still running when main returns and the file is written. */
__attribute__((noinline)) void *forever(void *arg) {
  for (;;) {
    leaf();
    usleep(1000);
  }
  return arg;
}
/* Waits for the exit file's temporary name to appear, then sends SIGTERM to the process: the
 * signal lands while the file is being written. */
static char tmp_path[4200];
__attribute__((no_instrument_function)) static void *term_watcher(void *arg) {
  (void)arg;
  while (access(tmp_path, F_OK) != 0) {
  }
  kill(getpid(), SIGTERM);
  return NULL;
}
/* Stops recording and returns: its call ends here, while recording is stopped. */
__attribute__((noinline)) void stopper(void) {
  leaf();
  hone_prof_stop();
}
__attribute__((noinline)) void *api_fn(void *arg) {
  leaf();
  return arg;
}

static void write_syms(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) exit(99);
#define S(fn) fprintf(f, "%s %lx\n", #fn, (unsigned long)(void *)fn)
  S(main);
  S(leaf);
  S(caller_a);
  S(caller_b);
  S(fact);
  S(is_even);
  S(is_odd);
  S(work);
  S(spin);
  S(thread_main);
  S(down);
  S(deep_main);
  S(deep1);
  S(deep2);
  S(jumper);
  S(post);
  S(nested_exit);
  S(nested_signal);
  S(api_fn);
  S(write_syms);
  S(forever);
  S(busy);
  S(stopper);
#undef S
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc < 3) return 98;
  const char *mode = argv[1];
  write_syms(argv[2]);
  if (strcmp(mode, "graph") == 0) {
    caller_a();
    caller_b();
    sink += fact(5);
    sink += (unsigned long)is_even(4);
    for (int i = 0; i < 1000; i++) work();
    spin(300);
  } else if (strcmp(mode, "threads") == 0) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
      if (pthread_create(&t[i], NULL, thread_main, NULL) != 0) return 97;
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  } else if (strcmp(mode, "fork") == 0) {
    caller_a();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      caller_b();
      exit(0);
    }
    printf("%d\n", (int)pid);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 96;
    post();
  } else if (strcmp(mode, "exit") == 0) {
    caller_a();
    nested_exit(3);
  } else if (strcmp(mode, "sigterm") == 0 || strcmp(mode, "sigint") == 0) {
    caller_a();
    nested_signal(strcmp(mode, "sigterm") == 0 ? SIGTERM : SIGINT);
  } else if (strcmp(mode, "longjmp") == 0) {
    for (int i = 0; i < 1000; i++) jumper();
    post();
  } else if (strcmp(mode, "deep") == 0) {
    /* A million frames need more than the default 8 MiB stack: the thread gets its own. */
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, (size_t)512 << 20);
    pthread_t t;
    if (pthread_create(&t, &at, deep_main, (void *)1000000L) != 0) return 95;
    pthread_join(t, NULL);
  } else if (strcmp(mode, "dlopen") == 0) {
    /* argv[3]: an instrumented library, loaded after the runtime took its map of objects. */
    void *h = dlopen(argv[3], RTLD_NOW);
    if (!h) return 88;
    int (*entry)(int) = (int (*)(int))dlsym(h, "dso_entry");
    void *leaf_addr = dlsym(h, "dso_leaf");
    if (!entry || !leaf_addr) return 87;
    FILE *f = fopen(argv[2], "a");
    if (!f) return 86;
    fprintf(f, "dso_entry %lx\ndso_leaf %lx\n", (unsigned long)(void *)entry,
            (unsigned long)leaf_addr);
    fclose(f);
    sink += (unsigned long)entry(10);
  } else if (strcmp(mode, "dumpbusy") == 0) {
    /* Writes while three threads extend their trees: every file must read back whole. */
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
      if (pthread_create(&t[i], NULL, busy, NULL) != 0) return 83;
    for (int n = 0; n < 3; usleep(1000)) {
      pthread_mutex_lock(&started_lock);
      n = started;
      pthread_mutex_unlock(&started_lock);
    }
    for (int i = 0; i < 20; i++) {
      char path[4096];
      snprintf(path, sizeof path, "%s.%d", argv[2], i);
      if (hone_prof_dump(path) != 0) return 82;
      printf("%s\n", path);
      usleep(5000);
    }
    stop_busy = 1;
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  } else if (strcmp(mode, "running") == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, forever, NULL) != 0) return 85;
    spin(100);
  } else if (strcmp(mode, "termwrite") == 0) {
    /* SIGTERM while the exit file is written: the file is still written whole (a tree of 50000
     * nodes keeps the writer busy long enough for the watcher to see the temporary file). */
    const char *out = getenv("HONE_PROF_OUT");
    if (!out) return 81;
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp.%d", out, (int)getpid());
    down(50000);
    pthread_t t;
    if (pthread_create(&t, NULL, term_watcher, NULL) != 0) return 80;
  } else if (strcmp(mode, "stopinside") == 0) {
    /* Run with HONE_PROF=manual; argv[3] is the dump path. stopper() returns while recording is
     * stopped: its call must end there, and caller_a, recorded after the restart, is no child of
     * it. */
    if (hone_prof_start() != 0) return 79;
    stopper();
    usleep(100000);
    if (hone_prof_start() != 0) return 78;
    caller_a();
    hone_prof_stop();
    if (hone_prof_dump(argv[3]) != 0) return 77;
  } else if (strcmp(mode, "api") == 0) {
    /* Run with HONE_PROF=manual: nothing until start; argv[3], argv[4] are the dump paths. */
    caller_b(); /* not recorded */
    if (hone_prof_enabled()) return 94;
    if (hone_prof_start() != 0) return 93;
    caller_a();
    hone_prof_stop();
    caller_b(); /* not recorded */
    if (hone_prof_dump(argv[3]) != 0) return 92;
    hone_prof_clear();
    if (hone_prof_runcall(api_fn, &token) != &token) return 91;
    if (hone_prof_enabled()) return 90;
    if (hone_prof_dump(argv[4]) != 0) return 89;
    if (hone_prof_dump("/nonexistent-dir/x.prof") != HONE_EIO) return 84;
  } else {
    return 98;
  }
  return 0;
}
