/* test_error.c: the error list gives every code a distinct name and message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "hk_common.h"

static void test_names(void **state) {
  (void)state;
  const int codes[] = {
#define X(name, msg) HK_E_##name,
      HK_ERRNO_MAP(X)
#undef X
  };
  for (size_t i = 0; i < HK_ARRAY_LEN(codes); i++) {
    assert_true(codes[i] <= -HK_E_BASE);
    assert_string_not_equal(hk_strerror(codes[i]), "unknown error");
    for (size_t j = 0; j < i; j++) assert_int_not_equal(codes[i], codes[j]);
  }
  assert_string_equal(hk_errname(HK_E_CORRUPT), "HK_E_CORRUPT");
  assert_string_equal(hk_errname(-ENOSPC), "ENOSPC");
  assert_string_equal(hk_strerror(-ENOSPC), strerror(ENOSPC));
  assert_string_equal(hk_strerror(0), "success");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_names)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
