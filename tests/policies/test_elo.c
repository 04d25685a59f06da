/* test_elo.c: ELO selection (pol_elo.c): converges to the cheapest
 * strategy, keeps exactly 6 survivors (the cheapest ones), re-selects only
 * every period-th allocation, and is reproducible per seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pol_test_util.h"

static double cheapest_7(int arm, void *ctx) {
  (void)ctx;
  return 1000.0 + 100.0 * abs(arm - 7);
}

static void test_converges_and_culls(void **state) {
  (void)state;
  pol_t *p = pol_create(&pol_elo_ops, NULL, 42);
  uint64_t vt = 0, op = 0;
  drive(p, 30000, 0x1, 1 << 20, cheapest_7, NULL, &vt, &op);
  int best;
  snap(p, "best", -2, &best);
  assert_int_equal(best, 7);
  assert_int_equal(snap(p, "survivors", -1, NULL), 6);
  for (int a = 5; a <= 9; a++) assert_int_equal(snap(p, "alive", a, NULL), 1);
  for (int a = 0; a <= 3; a++) assert_int_equal(snap(p, "alive", a, NULL), 0);
  assert_int_equal(snap(p, "alive", 11, NULL), 0);
  /* mostly exploiting now: 90% of the next selections pick arm 7 */
  int on7 = 0;
  for (int i = 0; i < 100; i++)
    on7 += drive(p, 100, 0x1, 1 << 20, cheapest_7, NULL, &vt, &op).arm == 7;
  assert_true(on7 >= 80);
  assert_true(snap(p, "pulls", 7, NULL) > snap(p, "pulls", 3, NULL));
  pol_free(p);
}

static void test_period(void **state) {
  (void)state;
  pol_config_t c;
  pol_config_defaults(&c);
  c.elo_epsilon = 1.0; /* every re-selection after warm-up is random */
  c.elo_min_samples = 1;
  pol_t *p = pol_create(&pol_elo_ops, &c, 5);
  uint64_t vt = 0, op = 0;
  drive(p, 1200, 0x1, 1 << 20, cheapest_7, NULL, &vt, &op); /* warm-up */
  int changes = 0, prev = -1;
  for (int i = 0; i < 1000; i++) {
    int arm = drive(p, 1, 0x1, 1 << 20, cheapest_7, NULL, &vt, &op).arm;
    if (i % 100 != 0) assert_int_equal(arm, prev); /* only every 100th */
    changes += arm != prev;
    prev = arm;
  }
  assert_true(changes >= 3);
  pol_free(p);
}

static void run(uint64_t seed, char out[33]) {
  pol_t *p = pol_create(&pol_elo_ops, NULL, seed);
  uint64_t vt = 0, op = 0;
  drive(p, 20000, 0x1, 1 << 20, cheapest_7, NULL, &vt, &op);
  pol_digest_hex(p, out);
  pol_free(p);
}

static void test_digest(void **state) {
  (void)state;
  char a[33], b[33], d[33];
  run(9, a);
  run(9, b);
  run(10, d);
  assert_string_equal(a, b);
  assert_string_not_equal(a, d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_converges_and_culls),
      cmocka_unit_test(test_period),
      cmocka_unit_test(test_digest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
