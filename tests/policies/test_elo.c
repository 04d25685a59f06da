/* test_elo.c: ELO selection (pol_elo.c): converges to the cheapest
 * strategy, keeps exactly 6 survivors (the cheapest ones), re-selects only
 * every period-th allocation, and is reproducible per seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
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
  c.elo_epsilon = 1.0;      /* every re-selection after the cull ... */
  c.elo_temperature = 1e9;  /* ... a softmax draw, here near uniform */
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

/* A synthetic cost: arm a's true cost plus seeded noise (xorshift on the
 * test's own state, independent of the policy's seed). */
typedef struct {
  double base[POL_ELO_ARMS];
  double noise;
  uint64_t x;
} noisy_t;

static double noisy(int arm, void *ctx) {
  noisy_t *n = ctx;
  n->x ^= n->x << 13;
  n->x ^= n->x >> 7;
  n->x ^= n->x << 17;
  double u = (double)(n->x >> 11) / 9007199254740992.0; /* [0, 1) */
  return n->base[arm] * (1.0 + n->noise * (u - 0.5));
}

static uint64_t alive_mask(const pol_t *p) {
  uint64_t m = 0;
  for (int a = 0; a < POL_ELO_ARMS; a++)
    m |= (uint64_t)(snap(p, "alive", a, NULL) != 0) << a;
  return m;
}

/* Arms of equal true cost: the cull follows the ratings the seeded
 * exploration produced, so different seeds keep different arms (the old
 * fixed warm-up kept the same six whatever the seed). */
static void test_cull_follows_seed(void **state) {
  (void)state;
  uint64_t masks[6];
  int distinct = 0;
  for (int i = 0; i < 6; i++) {
    noisy_t n = {.noise = 0.4, .x = 0x9e3779b97f4a7c15ull};
    for (int a = 0; a < POL_ELO_ARMS; a++) n.base[a] = 1000;
    pol_t *p = pol_create(&pol_elo_ops, NULL, (uint64_t)i + 1);
    uint64_t vt = 0, op = 0;
    drive(p, 20000, 0x1, 1 << 20, noisy, &n, &vt, &op);
    assert_int_equal(snap(p, "survivors", -1, NULL), 6);
    masks[i] = alive_mask(p);
    int seen = 0;
    for (int j = 0; j < i; j++) seen |= masks[j] == masks[i];
    distinct += !seen;
    pol_free(p);
  }
  assert_true(distinct >= 3);
}

/* Ratings track true arm cost: on a shuffled synthetic cost with 20%
 * noise, the correlation between rating and cost is strongly negative
 * for every seed (< -0.7; the issue measured -0.19..+0.12 on real traces). */
static void test_ratings_track_cost(void **state) {
  (void)state;
  static const int rank[POL_ELO_ARMS] = {5, 11, 2, 8, 0, 9, 3, 6, 10, 1, 7, 4};
  for (uint64_t seed = 1; seed <= 5; seed++) {
    noisy_t n = {.noise = 0.2, .x = seed * 0x2545f4914f6cdd1dull};
    for (int a = 0; a < POL_ELO_ARMS; a++) n.base[a] = 1000 + 100.0 * rank[a];
    pol_t *p = pol_create(&pol_elo_ops, NULL, seed);
    uint64_t vt = 0, op = 0;
    drive(p, 20000, 0x1, 1 << 20, noisy, &n, &vt, &op);
    double r[POL_ELO_ARMS], mr = 0, mc = 0;
    for (int a = 0; a < POL_ELO_ARMS; a++) {
      r[a] = snap(p, "rating", a, NULL);
      mr += r[a] / POL_ELO_ARMS;
      mc += n.base[a] / POL_ELO_ARMS;
    }
    double sxy = 0, sxx = 0, syy = 0;
    for (int a = 0; a < POL_ELO_ARMS; a++) {
      sxy += (r[a] - mr) * (n.base[a] - mc);
      sxx += (r[a] - mr) * (r[a] - mr);
      syy += (n.base[a] - mc) * (n.base[a] - mc);
    }
    double corr = sxy / sqrt(sxx * syy);
    print_message("seed %d corr %.3f\n", (int)seed, corr);
    assert_true(corr < -0.7);
    /* the cheapest arm (rank 0: arm 4) is the best rated */
    int best;
    snap(p, "best", -2, &best);
    assert_int_equal(best, 4);
    pol_free(p);
  }
}

/* Softmax selection after the cull: with epsilon 1 every re-selection is
 * a draw ~ exp(rating / T): a low temperature picks the best-rated arm
 * almost always, a high one spreads over every live arm. */
static void test_softmax(void **state) {
  (void)state;
  for (int hot = 0; hot < 2; hot++) {
    pol_config_t c;
    pol_config_defaults(&c);
    c.elo_epsilon = 1.0;
    c.elo_temperature = hot ? 1e9 : 10;
    pol_t *p = pol_create(&pol_elo_ops, &c, 3);
    uint64_t vt = 0, op = 0;
    drive(p, 20000, 0x1, 1 << 20, cheapest_7, NULL, &vt, &op);
    int count[POL_ELO_ARMS] = {0};
    for (int i = 0; i < 300; i++)
      count[drive(p, 100, 0x1, 1 << 20, cheapest_7, NULL, &vt, &op).arm]++;
    int used = 0;
    for (int a = 0; a < POL_ELO_ARMS; a++) used += count[a] > 0;
    if (hot) {
      assert_int_equal(used, 6);  /* every survivor drawn */
      assert_true(count[7] < 150); /* near uniform: about 50 */
    } else {
      assert_true(count[7] >= 290);
    }
    pol_free(p);
  }
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
      cmocka_unit_test(test_cull_follows_seed),
      cmocka_unit_test(test_ratings_track_cost),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_digest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
