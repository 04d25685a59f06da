/* test_evo.c: the LEARN/FROZEN/CANARY lifecycle (pol_evo.c): freezes once
 * stable and past the freeze delay, re-learns on a size-distribution shift
 * and on a sustained degradation, rolls back a worse canary, starts frozen
 * when asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pol_test_util.h"

enum { LEARN = 0, FROZEN = 1, CANARY = 2 };

static double scale = 1.0;
static double cheapest_4(int arm, void *ctx) {
  (void)ctx;
  return scale * (1000.0 + 200.0 * abs(arm - 4));
}

static pol_config_t cfg(void) {
  pol_config_t c;
  pol_config_defaults(&c);
  c.elo_period = 10;
  c.elo_min_samples = 10;
  c.elo_epsilon = 0.0;
  c.evo_window_ops = 500;
  c.evo_freeze_after_ns = 20000000; /* 20 ms virtual: about 16,000 ops */
  c.evo_canary_every = 1000;        /* no canary unless a test wants one */
  return c;
}

static void test_freeze_then_shift(void **state) {
  (void)state;
  scale = 1.0;
  pol_config_t c = cfg();
  pol_t *p = pol_create(&pol_evo_ops, &c, 1);
  uint64_t vt = 0, op = 0;
  drive(p, 5000, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op);
  assert_true(vt < c.evo_freeze_after_ns);
  assert_int_equal(snap(p, "mode", -1, NULL), LEARN); /* stable, too early */
  drive(p, 20000, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op);
  assert_int_equal(snap(p, "mode", -1, NULL), FROZEN);
  assert_int_equal(snap(p, "freezes", -1, NULL), 1);
  int conf;
  snap(p, "confirmed", -2, &conf);
  assert_int_equal(conf, 4);
  pol_strategy_t s = drive(p, 1000, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op);
  assert_int_equal(s.arm, 4);
  assert_int_equal(snap(p, "mode", -1, NULL), FROZEN);
  /* the sizes move from 1 MiB to 16 KiB: a shift of 1.0 >= 0.25 */
  drive(p, 500, 0x1, 16 << 10, cheapest_4, NULL, &vt, &op);
  assert_int_equal(snap(p, "mode", -1, NULL), LEARN);
  assert_true(snap(p, "shift", -1, NULL) >= 0.25);
  assert_int_equal(snap(p, "relearns", -1, NULL), 1);
  assert_int_equal(snap(p, "history", -1, NULL), 10);
  pol_free(p);
}

static void test_degradation(void **state) {
  (void)state;
  scale = 1.0;
  pol_config_t c = cfg();
  c.evo_mode = POL_EVO_FROZEN;
  c.elo_initial_arm = 4;
  pol_t *p = pol_create(&pol_evo_ops, &c, 1);
  uint64_t vt = 0, op = 0;
  pol_strategy_t s = drive(p, 1000, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op);
  assert_int_equal(s.arm, 4); /* frozen from the start */
  assert_int_equal(snap(p, "mode", -1, NULL), FROZEN);
  scale = 1.3; /* 30% worse */
  drive(p, 1000, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op); /* 2 windows */
  assert_int_equal(snap(p, "mode", -1, NULL), FROZEN);
  drive(p, 500, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op); /* the third */
  assert_int_equal(snap(p, "mode", -1, NULL), LEARN);
  assert_int_equal(snap(p, "reason", -1, NULL), 2);
  scale = 1.0;
  pol_free(p);
}

/* Balanced mode's lifecycle starts frozen; after a shift sends it back to
 * LEARN it freezes again once stable (it used to stay in LEARN for good). */
static void test_frozen_refreezes(void **state) {
  (void)state;
  scale = 1.0;
  pol_config_t c = cfg();
  c.evo_mode = POL_EVO_FROZEN;
  c.evo_freeze_after_ns = 0;
  pol_t *p = pol_create(&pol_evo_ops, &c, 1);
  uint64_t vt = 0, op = 0;
  drive(p, 2000, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op);
  assert_int_equal(snap(p, "mode", -1, NULL), FROZEN);
  drive(p, 500, 0x1, 16 << 10, cheapest_4, NULL, &vt, &op);
  assert_int_equal(snap(p, "mode", -1, NULL), LEARN);
  assert_int_equal(snap(p, "relearns", -1, NULL), 1);
  for (int i = 0; i < 100 && snap(p, "mode", -1, NULL) == LEARN; i++)
    drive(p, 500, 0x1, 16 << 10, cheapest_4, NULL, &vt, &op);
  assert_int_equal(snap(p, "mode", -1, NULL), FROZEN);
  assert_int_equal(snap(p, "freezes", -1, NULL), 1);
  int conf;
  snap(p, "confirmed", -2, &conf);
  assert_int_equal(conf, 4);
  pol_free(p);
}

/* The freeze delay runs on the program's time (time_ns), not on the model
 * clock: with the model clock far past 20 ms and the program's time short
 * of it, evo stays in LEARN; once the program's time passes, it freezes. */
static void test_freeze_on_program_time(void **state) {
  (void)state;
  pol_config_t c = cfg();
  pol_t *p = pol_create(&pol_evo_ops, &c, 1);
  uint64_t op = 0;
  for (int i = 0; i < 30000; i++) {
    pol_strategy_t s = pol_choose(p, 0x1, 1 << 20);
    ++op;
    pol_outcome_t o = {.site = 0x1, .size = 1 << 20, .strategy = s,
                       .cost_ns = cheapest_4(s.arm, NULL), .op_seq = op,
                       .vtime_ns = op * 1000000, .time_ns = op * 100};
    pol_observe(p, &o);
  }
  assert_int_equal(snap(p, "mode", -1, NULL), LEARN); /* 3 ms of program time */
  for (int i = 0; i < 200000 && snap(p, "mode", -1, NULL) == LEARN; i++) {
    pol_strategy_t s = pol_choose(p, 0x1, 1 << 20);
    ++op;
    pol_outcome_t o = {.site = 0x1, .size = 1 << 20, .strategy = s,
                       .cost_ns = cheapest_4(s.arm, NULL), .op_seq = op,
                       .vtime_ns = op * 1000000, .time_ns = op * 100};
    pol_observe(p, &o);
  }
  assert_int_equal(snap(p, "mode", -1, NULL), FROZEN);
  assert_true(op * 100 >= c.evo_freeze_after_ns);
  assert_true(op * 100 < c.evo_freeze_after_ns + 2 * 500 * 100);
  pol_free(p);
}

static void test_canary_rollback(void **state) {
  (void)state;
  scale = 1.0;
  pol_config_t c = cfg();
  c.evo_canary_every = 2;
  c.evo_canary_frac = 0.2;
  pol_t *p = pol_create(&pol_evo_ops, &c, 7);
  uint64_t vt = 0, op = 0;
  for (int i = 0; i < 400 && snap(p, "freezes", -1, NULL) < 1; i++)
    drive(p, 100, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op);
  assert_int_equal(snap(p, "freezes", -1, NULL), 1);
  assert_int_equal(snap(p, "rollbacks", -1, NULL), 0);
  /* two frozen windows, then a canary window on the next-best arm */
  int saw_canary = 0, cand = -1;
  for (int i = 0; i < 40 && snap(p, "rollbacks", -1, NULL) < 1; i++) {
    drive(p, 100, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op);
    if (snap(p, "mode", -1, NULL) == CANARY) {
      saw_canary = 1;
      snap(p, "candidate", -2, &cand);
    }
  }
  assert_true(saw_canary);
  assert_true(cand != 4 && cand >= 0);
  assert_int_equal(snap(p, "rollbacks", -1, NULL), 1);
  assert_int_equal(snap(p, "promotions", -1, NULL), 0);
  assert_int_equal(snap(p, "mode", -1, NULL), FROZEN);
  int conf;
  snap(p, "confirmed", -2, &conf);
  assert_int_equal(conf, 4);
  pol_free(p);
}

static void run(uint64_t seed, char out[33]) {
  pol_config_t c = cfg();
  c.elo_epsilon = 0.1;
  c.evo_canary_every = 2;
  pol_t *p = pol_create(&pol_evo_ops, &c, seed);
  uint64_t vt = 0, op = 0;
  drive(p, 30000, 0x1, 1 << 20, cheapest_4, NULL, &vt, &op);
  pol_digest_hex(p, out);
  pol_free(p);
}

static void test_digest(void **state) {
  (void)state;
  scale = 1.0;
  char a[33], b[33], d[33];
  run(3, a);
  run(3, b);
  run(4, d);
  assert_string_equal(a, b);
  assert_string_not_equal(a, d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_freeze_then_shift),
      cmocka_unit_test(test_degradation),
      cmocka_unit_test(test_frozen_refreezes),
      cmocka_unit_test(test_freeze_on_program_time),
      cmocka_unit_test(test_canary_rollback),
      cmocka_unit_test(test_digest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
