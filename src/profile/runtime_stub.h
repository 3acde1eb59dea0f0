/* runtime_stub.h: whether a sampled instruction is a PLT stub into the profiler runtime.
 * Internal to libhone-prof.so (and its unit test); header-only so that the signal handler
 * inlines it. */
#ifndef HONE_RUNTIME_STUB_H
#define HONE_RUNTIME_STUB_H

#include <stdint.h>

/* 1 when the instruction at pc is a PLT stub whose jump lands in [lo, hi), the runtime's code.
 * A call of a hook from the program goes through its stub (`jmp *GOT(%rip)`, after `endbr64`
 * and with a `bnd` prefix in the .plt.sec form); while it runs, the caller is still the top on
 * the enter side and the callee on the exit side, so a sample there would be charged to the
 * program although it is the profiler's cost, as the hook is (examples/profiling.c: 2.6 % of the
 * samples were in enter's stub, all charged to bubble_sort). Reads only bytes of the instruction
 * the CPU was about to run (pc is an instruction's start, so a 6-byte jump's bytes are mapped)
 * and the slot that instruction jumps through. Async-signal-safe. x86-64 only: 0 elsewhere. */
static inline __attribute__((always_inline, no_instrument_function)) int
hone__rt_hook_stub(uintptr_t pc, uintptr_t lo, uintptr_t hi) {
#if defined(__x86_64__)
  if (!pc) return 0;
  const unsigned char *b = (const unsigned char *)pc;
  if (b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa) b += 4; /* endbr64 */
  if (b[0] == 0xf2) b++;                                                    /* bnd */
  if (b[0] != 0xff || b[1] != 0x25) return 0;                               /* jmp *d32(%rip) */
  int32_t disp;
  __builtin_memcpy(&disp, b + 2, sizeof disp);
  uintptr_t slot = (uintptr_t)(b + 6) + (uintptr_t)(intptr_t)disp, to;
  __builtin_memcpy(&to, (const void *)slot, sizeof to);
  return to >= lo && to < hi;
#else
  (void)pc;
  (void)lo;
  (void)hi;
  return 0;
#endif
}

#endif /* HONE_RUNTIME_STUB_H */
