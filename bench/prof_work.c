/* prof_work.c: the profiler benchmark's workload (bench/prof.sh) — a recursive fib and a loop of
 * short leaf calls, tens of millions of calls in all. Built plain, with -finstrument-functions
 * (preloaded runtime, or linked to libhone-prof.so), and with -pg, always with
 * -fno-optimize-sibling-calls so that fib stays recursive.
 *
 * usage: prof_work [FIB_N [LEAVES]]; prints "calls N": how many function calls the run makes
 * (main, fib's, leaves' and leaf's), so that each tool's cost can be divided per call. */
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long fib(unsigned n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) static void leaf(unsigned long i) {
  sink += i;
}

__attribute__((noinline)) static void leaves(unsigned long n) {
  for (unsigned long i = 0; i < n; i++) leaf(i);
}

/* Calls fib(n) makes, itself included: c(n) = 1 + c(n-1) + c(n-2), c(0) = c(1) = 1. */
__attribute__((no_instrument_function)) static unsigned long fib_calls(unsigned n) {
  unsigned long a = 1, b = 1; /* c(0), c(1) */
  for (unsigned i = 1; i < n; i++) {
    unsigned long c = 1 + a + b;
    a = b;
    b = c;
  }
  return n == 0 ? a : b;
}

int main(int argc, char **argv) {
  unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 32;
  unsigned long l = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000000ul;
  sink += fib(n);
  leaves(l);
  printf("calls %lu\n", 1 + fib_calls(n) + 1 + l);
  return 0;
}
