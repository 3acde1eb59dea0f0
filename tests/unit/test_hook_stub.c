/* test_hook_stub.c: the sampling handler's test for a PLT stub into the profiler runtime
 * (src/profile/runtime_stub.h), on instruction bytes laid out here: the stub forms the linkers
 * emit (.plt's `jmp *GOT(%rip)`, .plt.sec's `endbr64; bnd jmp *GOT(%rip)`), a slot that points
 * into the runtime or elsewhere, and instructions that are not such a jump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "profile/runtime_stub.h"

#define LO 0x7f0000001000u
#define HI 0x7f0000009000u

/* Code bytes and the slot they jump through, in one object so that the displacement fits. */
static struct {
  unsigned char code[32];
  uintptr_t slot;
} g;

/* Lays out prefix (n bytes) then `op 25 disp32` aimed at g.slot, which holds `to`. */
static uintptr_t layout(const unsigned char *prefix, size_t n, unsigned char op2, uintptr_t to) {
  memset(g.code, 0x90, sizeof g.code);
  memcpy(g.code, prefix, n);
  g.code[n] = 0xff;
  g.code[n + 1] = op2;
  int32_t disp = (int32_t)((intptr_t)&g.slot - (intptr_t)&g.code[n + 6]);
  memcpy(&g.code[n + 2], &disp, sizeof disp);
  g.slot = to;
  return (uintptr_t)g.code;
}

static void test_plt_forms(void **state) {
  (void)state;
#if defined(__x86_64__)
  static const unsigned char none[1], bnd[] = {0xf2}, endbr[] = {0xf3, 0x0f, 0x1e, 0xfa},
                                      endbr_bnd[] = {0xf3, 0x0f, 0x1e, 0xfa, 0xf2};
  assert_int_equal(hone__rt_hook_stub(layout(none, 0, 0x25, LO + 0x10), LO, HI), 1);
  assert_int_equal(hone__rt_hook_stub(layout(bnd, 1, 0x25, LO), LO, HI), 1);
  assert_int_equal(hone__rt_hook_stub(layout(endbr, 4, 0x25, HI - 1), LO, HI), 1);
  assert_int_equal(hone__rt_hook_stub(layout(endbr_bnd, 5, 0x25, LO + 0x800), LO, HI), 1);
  /* The bnd jmp of a .plt.sec stub is itself where a sample may land. */
  layout(endbr_bnd, 5, 0x25, LO + 0x800);
  assert_int_equal(hone__rt_hook_stub((uintptr_t)&g.code[4], LO, HI), 1);
#else
  skip();
#endif
}

static void test_not_into_runtime(void **state) {
  (void)state;
#if defined(__x86_64__)
  static const unsigned char none[1], endbr[] = {0xf3, 0x0f, 0x1e, 0xfa};
  /* A stub of another function (libc's, say): its slot points outside the runtime. */
  assert_int_equal(hone__rt_hook_stub(layout(none, 0, 0x25, LO - 1), LO, HI), 0);
  assert_int_equal(hone__rt_hook_stub(layout(endbr, 4, 0x25, HI), LO, HI), 0);
  /* `call *d32(%rip)` (ff 15, -fno-plt's call) is the program's own instruction. */
  assert_int_equal(hone__rt_hook_stub(layout(none, 0, 0x15, LO + 0x10), LO, HI), 0);
  /* Ordinary code, and the push of a lazy-binding stub's second half. */
  static const unsigned char push[] = {0x68, 0x03, 0x00, 0x00, 0x00};
  memcpy(g.code, push, sizeof push);
  assert_int_equal(hone__rt_hook_stub((uintptr_t)g.code, LO, HI), 0);
  memset(g.code, 0x90, sizeof g.code);
  assert_int_equal(hone__rt_hook_stub((uintptr_t)g.code, LO, HI), 0);
  assert_int_equal(hone__rt_hook_stub(0, LO, HI), 0);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plt_forms),
      cmocka_unit_test(test_not_into_runtime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
