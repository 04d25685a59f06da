/* test_psquare.c: the P-square estimator (pol_psquare.c) against exact
 * quantiles of known streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pol_internal.h"

static void test_uniform_p99(void **state) {
  (void)state;
  pol_psquare_t ps;
  pol_psquare_init(&ps, 0.99);
  hk_rng_t r;
  hk_rng_init(&r, 1);
  for (int i = 0; i < 100000; i++) pol_psquare_add(&ps, hk_rng_double(&r) * 1000);
  double q = pol_psquare_get(&ps);
  assert_true(q > 980 && q < 1000);
}

static void test_few_and_constant(void **state) {
  (void)state;
  pol_psquare_t ps;
  pol_psquare_init(&ps, 0.99);
  assert_true(pol_psquare_get(&ps) == 0);
  pol_psquare_add(&ps, 3);
  pol_psquare_add(&ps, 1);
  pol_psquare_add(&ps, 2);
  assert_true(pol_psquare_get(&ps) == 3);
  pol_psquare_init(&ps, 0.5);
  for (int i = 0; i < 1000; i++) pol_psquare_add(&ps, 7);
  assert_true(pol_psquare_get(&ps) == 7);
  /* a heavy tail: 2% of values are 100x */
  pol_psquare_init(&ps, 0.99);
  for (int i = 0; i < 50000; i++) pol_psquare_add(&ps, i % 50 == 0 ? 100 : 1);
  assert_true(pol_psquare_get(&ps) > 50);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_uniform_p99),
                                     cmocka_unit_test(test_few_and_constant)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
