/* test_registry.c: how a task crosses to a process that is not a fork image of this one (an MPI
 * rank): by name plus a hash of the name, both checked on arrival (registry.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "parallel/pool_internal.h"

static int t_noop(hone_task_ctx *ctx, const void *arg, size_t arg_size, void *result,
                  size_t result_size) {
  (void)ctx, (void)arg, (void)arg_size, (void)result, (void)result_size;
  return 0;
}

/* The published FNV-1a 64 test vectors: the hash must not depend on this build or machine. */
static void test_hash_is_fnv1a(void **state) {
  (void)state;
  assert_true(hone__task_name_hash("") == 0xcbf29ce484222325u);
  assert_true(hone__task_name_hash("a") == 0xaf63dc4c8601ec8cu);
  assert_true(hone__task_name_hash("foobar") == 0x85944171f73967e8u);
}

static void test_resolve(void **state) {
  (void)state;
  hone_task_id id, got = -1;
  assert_int_equal(hone_task_register("reg.noop", t_noop, 8, &id), 0);
  const hone__task *t = hone__task_get(id);
  assert_non_null(t);
  assert_true(t->hash == hone__task_name_hash("reg.noop"));
  char msg[128];
  assert_int_equal(hone__task_resolve("reg.noop", t->hash, &got, msg, sizeof msg), 0);
  assert_int_equal(got, id);

  /* a task this process lacks: named in the message */
  assert_int_equal(
      hone__task_resolve("reg.absent", hone__task_name_hash("reg.absent"), &got, msg, sizeof msg),
      HONE_ENOENT);
  assert_string_equal(msg, "task 'reg.absent' is not registered on this process");

  /* a hash that does not match the name is refused, even when the name is registered */
  assert_int_equal(hone__task_resolve("reg.noop", t->hash ^ 1, &got, msg, sizeof msg), HONE_EINVAL);
  assert_non_null(strstr(msg, "'reg.noop'"));

  /* a short message buffer is truncated and terminated; a NULL one is allowed */
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  assert_int_equal(
      hone__task_resolve("reg.absent", hone__task_name_hash("reg.absent"), &got, tiny, sizeof tiny),
      HONE_ENOENT);
  assert_int_equal(strlen(tiny), sizeof tiny - 1);
  assert_int_equal(
      hone__task_resolve("reg.absent", hone__task_name_hash("reg.absent"), &got, NULL, 0),
      HONE_ENOENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_is_fnv1a),
      cmocka_unit_test(test_resolve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
