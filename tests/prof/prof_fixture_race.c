/* prof_fixture_race.c: a program whose first recorded calls come from several threads at once
 * (main is not instrumented), for tests/prof/prof.sh. The runtime calibrates its cost at the
 * process's first recorded call: the thread that does it must not make the others lose calls.
 * `prof_fixture_race SYMS` writes the addresses of its functions to SYMS, as prof_fixture does. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NOINST __attribute__((no_instrument_function))

enum { THREADS = 4, CALLS = 200000 };

static volatile unsigned long sink;
static pthread_barrier_t barrier;
int main(int argc, char **argv);

__attribute__((noinline)) void leaf(void) {
  sink++;
}

NOINST static void *runner(void *arg) {
  (void)arg;
  pthread_barrier_wait(&barrier);
  for (int i = 0; i < CALLS; i++) leaf();
  return NULL;
}

NOINST int main(int argc, char **argv) {
  if (argc < 2) return 98;
  FILE *f = fopen(argv[1], "w");
  if (!f) return 99;
  fprintf(f, "main %lx\nleaf %lx\n", (unsigned long)(void *)main, (unsigned long)(void *)leaf);
  fclose(f);
  pthread_t t[THREADS];
  pthread_barrier_init(&barrier, NULL, THREADS);
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, runner, NULL) != 0) return 97;
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  return 0;
}
