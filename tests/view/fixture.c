/* fixture.c: the viewers' test program, built with -finstrument-functions and recorded by the
 * real runtime (tests/view/browser.sh, tests/cli/view.sh). Its call graph is known:
 *   main -> fib(N) (N = argv[1], default 10: 177 calls, 1 primitive; N = 12: 465 calls)
 *   main -> even(7) -> odd(6) -> ...: even 4 calls, odd 4 calls
 *   main -> caller_a -> leaf x2; main -> caller_b -> leaf x3
 *   worker (a second thread) -> leaf x4
 * Every function is static: names come from DWARF. Each call also spins a loop (no call in it),
 * so that every function has a visible share of the time, fib by far the largest. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int sink;
#define BURN(n) for (volatile int k_ = 0; k_ < (n); k_++)
static int fib(int n) {
  BURN(20000);
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
static int odd(int n);
static int even(int n) {
  BURN(40000);
  return n == 0 ? 1 : odd(n - 1);
}
static int odd(int n) {
  BURN(40000);
  return n == 0 ? 0 : even(n - 1);
}
static void leaf(int i) {
  BURN(40000);
  sink += i;
}
static void caller_a(void) {
  BURN(100000);
  for (int i = 0; i < 2; i++) leaf(i);
}
static void caller_b(void) {
  BURN(100000);
  for (int i = 0; i < 3; i++) leaf(i);
}
static void *worker(void *arg) {
  BURN(100000);
  for (int i = 0; i < 4; i++) leaf(i);
  return arg;
}

int main(int argc, char **argv) {
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_join(t, NULL);
  sink += fib(argc > 1 ? atoi(argv[1]) : 10);
  sink += even(7);
  caller_a();
  caller_b();
  printf("%d\n", sink);
  return 0;
}
