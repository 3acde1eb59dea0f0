/* test_error.c: the error codes' names and messages, and the version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "hone/error.h"

static void test_names_and_messages(void **state) {
  (void)state;
  assert_string_equal(hone_err_name(HONE_EINVAL), "HONE_EINVAL");
  assert_string_equal(hone_strerror(HONE_EINVAL), "invalid argument");
  assert_string_equal(hone_err_name(HONE_ETIMEDOUT), "HONE_ETIMEDOUT");
  assert_string_equal(hone_strerror(HONE_OK), "success");
  assert_string_equal(hone_err_name(12345), "HONE_UNKNOWN");
  assert_string_equal(hone_strerror(-9999), "unknown error");
}

static void test_codes_are_distinct_and_negative(void **state) {
  (void)state;
  static const int codes[] = {
#define X(name, value, msg) HONE_##name,
      HONE_ERRNO_MAP(X)
#undef X
  };
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    assert_true(codes[i] < 0);
    assert_string_not_equal(hone_strerror(codes[i]), "unknown error");
    for (size_t j = i + 1; j < n; j++) assert_int_not_equal(codes[i], codes[j]);
  }
}

static void test_version(void **state) {
  (void)state;
  const char *v = hone_version();
  assert_non_null(v);
  assert_non_null(strchr(v, '.'));
  assert_true(hone_version_number() >= 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_messages),
      cmocka_unit_test(test_codes_are_distinct_and_negative),
      cmocka_unit_test(test_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
