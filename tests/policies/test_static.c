/* test_static.c: the fixed-threshold policy (pol_static.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pol_test_util.h"

static void test_static(void **state) {
  (void)state;
  pol_t *p = pol_create(&pol_static_ops, NULL, 1);
  for (uint64_t sz = 1; sz < (1u << 30); sz *= 3) {
    pol_strategy_t s = pol_choose(p, sz, sz);
    assert_int_equal(s.threshold, 256u << 10);
    assert_int_equal(s.arm, 0);
  }
  assert_int_equal(pol_decisions(p), 19);
  assert_int_equal(snap(p, "threshold", 0, NULL), 256 << 10);
  pol_free(p);
  pol_config_t c;
  pol_config_defaults(&c);
  c.static_threshold = 1 << 20;
  p = pol_create(&pol_static_ops, &c, 1);
  assert_int_equal(pol_choose(p, 0, 0).threshold, 1 << 20);
  pol_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_static)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
