/* test_oracle.c: the oracle policy (pol_oracle.c): while probing it serves
 * one arm everywhere and sums each site's costs; serving, it gives each
 * site its table arm and the default elsewhere; bad arms and non-oracle
 * instances are refused; its decisions do not depend on the seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pol_test_util.h"

static void observe(pol_t *p, uint64_t site, pol_strategy_t s, double cost) {
  pol_outcome_t o = {.site = site, .size = 4096, .strategy = s, .cost_ns = cost};
  pol_observe(p, &o);
}

typedef struct {
  uint64_t site[8];
  double cost[8];
  int n;
} seen_t;

static void each(void *ctx, uint64_t site, double cost, uint64_t allocs) {
  seen_t *s = ctx;
  (void)allocs;
  s->site[s->n] = site;
  s->cost[s->n++] = cost;
}

static double cost_of(const seen_t *s, uint64_t site) {
  for (int i = 0; i < s->n; i++)
    if (s->site[i] == site) return s->cost[i];
  return -1;
}

static void test_probe_and_serve(void **state) {
  (void)state;
  pol_t *p = pol_create(&pol_oracle_ops, NULL, 1);
  assert_non_null(p);
  /* default arms: UCB1's six */
  assert_int_equal(pol_choose(p, 0x10, 100).threshold, pol_ucb1_thresholds[0]);
  assert_int_equal(pol_oracle_probe(p, 3), 0);
  for (int i = 0; i < 4; i++) {
    pol_strategy_t s = pol_choose(p, 0x10 + (uint64_t)(i % 2), 100);
    assert_int_equal(s.arm, 3);
    assert_int_equal(s.threshold, pol_ucb1_thresholds[3]);
    observe(p, 0x10 + (uint64_t)(i % 2), s, 10.0 * (i + 1));
  }
  seen_t seen = {0};
  assert_int_equal(pol_oracle_each(p, each, &seen), 0);
  assert_int_equal(seen.n, 2);
  assert_true(cost_of(&seen, 0x10) == 10.0 + 30.0);
  assert_true(cost_of(&seen, 0x11) == 20.0 + 40.0);
  /* a new probe starts the sums again */
  assert_int_equal(pol_oracle_probe(p, 1), 0);
  observe(p, 0x10, pol_choose(p, 0x10, 100), 5.0);
  seen.n = 0;
  pol_oracle_each(p, each, &seen);
  assert_true(cost_of(&seen, 0x10) == 5.0);
  assert_true(cost_of(&seen, 0x11) == 0.0);
  /* serving: the table, the default elsewhere, and nothing summed */
  assert_int_equal(pol_oracle_probe(p, -1), 0);
  assert_int_equal(pol_oracle_set(p, 0x10, 5), 0);
  assert_int_equal(pol_oracle_set(p, 0, 2), 0);
  assert_int_equal(pol_choose(p, 0x10, 100).arm, 5);
  assert_int_equal(pol_choose(p, 0x11, 100).arm, 2);
  assert_int_equal(pol_choose(p, 0x999, 100).arm, 2);
  assert_int_equal(pol_choose(p, 0, 100).arm, 2);
  observe(p, 0x10, pol_choose(p, 0x10, 100), 1000.0);
  seen.n = 0;
  pol_oracle_each(p, each, &seen);
  assert_true(cost_of(&seen, 0x10) == 0.0); /* probe(-1) cleared the sums */
  int arm;
  assert_int_equal(snap(p, "sites_adopted", 5, &arm), 1);
  assert_int_equal(snap(p, "site_arm", 5, &arm), 0x10);
  assert_int_equal(snap(p, "default", -2, &arm), pol_ucb1_thresholds[2]);
  assert_int_equal(arm, 2);
  pol_free(p);
}

static void test_errors_and_arms(void **state) {
  (void)state;
  pol_config_t c;
  pol_config_defaults(&c);
  c.oracle_n_arms = 2;
  c.oracle_arms[0] = 1000;
  c.oracle_arms[1] = 2000;
  pol_t *p = pol_create(&pol_oracle_ops, &c, 1);
  assert_int_equal(pol_oracle_set(p, 0x1, 2), HK_E_RANGE);
  assert_int_equal(pol_oracle_set(p, 0x1, -1), HK_E_RANGE);
  assert_int_equal(pol_oracle_probe(p, 2), HK_E_RANGE);
  assert_int_equal(pol_oracle_set(p, 0x1, 1), 0);
  assert_int_equal(pol_choose(p, 0x1, 5).threshold, 2000);
  assert_int_equal(pol_choose(p, 0x2, 5).threshold, 1000);
  /* many sites: the table grows and keeps every one */
  for (uint64_t s = 1; s <= 1000; s++) assert_int_equal(pol_oracle_set(p, s * 16, (int)(s % 2)), 0);
  for (uint64_t s = 1; s <= 1000; s++) assert_int_equal(pol_choose(p, s * 16, 5).arm, (int)(s % 2));
  pol_t *u = pol_create(&pol_ucb1_ops, NULL, 1);
  assert_int_equal(pol_oracle_set(u, 0x1, 0), HK_E_STATE);
  assert_int_equal(pol_oracle_probe(u, 0), HK_E_STATE);
  assert_int_equal(pol_oracle_each(NULL, each, NULL), HK_E_STATE);
  pol_free(u);
  pol_free(p);
}

static void digest_of(uint64_t seed, char out[33]) {
  pol_t *p = pol_create(&pol_oracle_ops, NULL, seed);
  pol_oracle_set(p, 0x10, 4);
  for (int i = 0; i < 100; i++) pol_choose(p, 0x10 + (uint64_t)(i % 3), 100);
  pol_digest_hex(p, out);
  pol_free(p);
}

static void test_digest_not_seeded(void **state) {
  (void)state;
  char a[33], b[33];
  digest_of(1, a);
  digest_of(2, b);
  assert_string_equal(a, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_probe_and_serve),
      cmocka_unit_test(test_errors_and_arms),
      cmocka_unit_test(test_digest_not_seeded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
