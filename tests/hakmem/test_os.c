/* test_os.c: the default OS table (hak_os.c) makes real, usable calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hak_internal.h"

static void test_default_table(void **state) {
  (void)state;
  const hak_os_t *os = hak_os_default();
  char *p = os->mmap(os->ctx, 1u << 20);
  assert_non_null(p);
  memset(p, 1, 1u << 20);
  assert_int_equal(os->madvise(os->ctx, p, 1u << 20, HAK_MADV_DONTNEED), 0);
  assert_int_equal(p[12345], 0); /* DONTNEED on private anonymous: zero */
  os->madvise(os->ctx, p, 1u << 20, HAK_MADV_FREE);
  os->madvise(os->ctx, p, 1u << 20, HAK_MADV_HUGEPAGE); /* may be refused */
  assert_int_equal(os->munmap(os->ctx, p, 1u << 20), 0);
  void *m = os->malloc(os->ctx, 100);
  assert_non_null(m);
  os->free(os->ctx, m);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_default_table)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
