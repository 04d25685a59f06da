/* test_compare.c: analysis/ana_stats.c against values known in closed
 * form or computed independently (numerical integration of Student's t
 * density), and ana_compare on the hand-built database of ana_fixture.h:
 * the refusals (too few repeats, unknown or ambiguous configurations,
 * unknown trace) and a comparison whose figures are computed by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ana_fixture.h"

#define NEAR(a, b, eps) assert_true(fabs((a) - (b)) < (eps))

static void test_t_distribution(void **state) {
  (void)state;
  NEAR(ana_t_cdf(1.0, 1.0), 0.75, 1e-12); /* Cauchy */
  /* df 2: 1/2 + t / (2 sqrt(2 + t^2)) */
  NEAR(ana_t_cdf(1.0, 2.0), 0.5 + 1.0 / (2.0 * sqrt(3.0)), 1e-12);
  NEAR(ana_t_cdf(-1.0, 2.0), 0.5 - 1.0 / (2.0 * sqrt(3.0)), 1e-12);
  NEAR(ana_t_cdf(2.0, 5.0), 0.9490302605850709, 1e-9);
  NEAR(ana_t_cdf(0.0, 7.5), 0.5, 1e-15);
  NEAR(ana_t_quantile(0.975, 1.0), 12.706204736174698, 1e-7);
  NEAR(ana_t_quantile(0.975, 4.0), 2.7764451051977987, 1e-8);
  NEAR(ana_t_quantile(0.975, 10.0), 2.2281388519649385, 1e-8);
  NEAR(ana_t_quantile(0.025, 10.0), -2.2281388519649385, 1e-8);
  assert_true(isnan(ana_t_quantile(1.0, 3.0)));
  assert_true(isnan(ana_t_cdf(1.0, 0.0)));
}

static void test_welch(void **state) {
  (void)state;
  const double a[] = {1, 2, 3, 4}, b[] = {3, 4, 5, 6, 7};
  ana_welch_t w;
  assert_int_equal(ana_welch(a, 4, b, 5, &w), 0);
  NEAR(w.diff, -2.5, 1e-12);
  NEAR(w.t, -2.6111648393354674, 1e-9);
  NEAR(w.df, 6.980769230769232, 1e-9);
  NEAR(w.p, 0.034938782359952736, 1e-6); /* numerical integration */
  /* one value a side cannot give a variance */
  assert_int_equal(ana_welch(a, 1, b, 5, &w), HK_E_USAGE);
  /* constant samples: exact */
  const double c[] = {2, 2, 2}, d[] = {3, 3, 3};
  assert_int_equal(ana_welch(c, 3, d, 3, &w), 0);
  NEAR(w.p, 0.0, 1e-15);
  assert_int_equal(ana_welch(c, 3, c, 3, &w), 0);
  NEAR(w.p, 1.0, 1e-15);
}

static void test_permutation(void **state) {
  (void)state;
  const double a[] = {1, 2, 3}, b[] = {4, 5, 6};
  ana_perm_t p;
  assert_int_equal(ana_permutation(a, 3, b, 3, 1000000, 1000, 1, &p), 0);
  assert_true(p.exact);
  assert_int_equal(p.arrangements, 20);
  NEAR(p.p, 0.1, 1e-12); /* the observed split and its mirror */
  NEAR(p.p_min, 0.1, 1e-12);
  /* the same values in both groups: every split is as extreme */
  const double c[] = {1, 2, 3}, d[] = {3, 2, 1};
  assert_int_equal(ana_permutation(c, 3, d, 3, 1000000, 1000, 1, &p), 0);
  NEAR(p.p, 1.0, 1e-12);
  /* 20 against 20: C(40,20) splits, drawn; far apart, so p is 1/(draws+1),
   * and the same seed gives the same p */
  double x[20], y[20];
  for (int i = 0; i < 20; i++) {
    x[i] = i;
    y[i] = 1000 + i;
  }
  assert_int_equal(ana_permutation(x, 20, y, 20, 1000000, 999, 7, &p), 0);
  assert_false(p.exact);
  assert_int_equal(p.arrangements, 1000);
  NEAR(p.p, 1.0 / 1000, 1e-12);
  for (int i = 0; i < 20; i++) y[i] = i + (i % 2 ? 0.5 : -0.5);
  ana_perm_t q, r;
  assert_int_equal(ana_permutation(x, 20, y, 20, 1000000, 999, 7, &q), 0);
  assert_int_equal(ana_permutation(x, 20, y, 20, 1000000, 999, 7, &r), 0);
  assert_true(q.p == r.p);
  assert_true(q.p > 0.5);
  assert_int_equal(ana_permutation(x, 40, y, 40, 10, 10, 1, &p), HK_E_USAGE);
}

static void test_config_parse(void **state) {
  (void)state;
  ana_config_t c;
  assert_int_equal(ana_config_parse("hakmem/elo", &c), 0);
  assert_string_equal(c.backend, "hakmem");
  assert_string_equal(c.policy, "elo");
  assert_true(c.has_policy);
  assert_int_equal(ana_config_parse("glibc", &c), 0);
  assert_false(c.has_policy);
  assert_int_equal(ana_config_parse("", &c), HK_E_USAGE);
  assert_int_equal(ana_config_parse("/elo", &c), HK_E_USAGE);
  assert_int_equal(ana_config_parse("hakmem/", &c), HK_E_USAGE);
  assert_int_equal(ana_config_parse("a/b/c", &c), HK_E_USAGE);
}

static int cmp(ana_db_t *db, const char *trace, const char *sa,
               const char *sb, ana_cmp_t **rows, size_t *n, char *why) {
  ana_config_t a, b;
  assert_int_equal(ana_config_parse(sa, &a), 0);
  assert_int_equal(ana_config_parse(sb, &b), 0);
  why[0] = 0;
  return ana_compare(db, trace, &a, &b, rows, n, why, 512);
}

static void test_compare_fixture(void **state) {
  ana_db_t *db = *state;
  ana_cmp_t *rows = NULL;
  size_t n = 0;
  char why[512];
  /* mimalloc has 2 done repeats: refused, saying so */
  assert_int_equal(cmp(db, NULL, "hakmem/elo", "mimalloc", &rows, &n, why), 0);
  assert_int_equal(n, 1);
  assert_non_null(strstr(rows[0].refused, "mimalloc has 2 done repeats"));
  assert_non_null(strstr(rows[0].refused, "at least 3"));
  free(rows);
  /* glibc's only run failed: 0 done repeats */
  assert_int_equal(cmp(db, NULL, "glibc", "hakmem/elo", &rows, &n, why), 0);
  assert_non_null(strstr(rows[0].refused, "glibc has 0 done repeats"));
  free(rows);
  /* unknown back end, policy, trace; ambiguous policy; itself */
  assert_int_equal(cmp(db, NULL, "tcmalloc", "glibc", &rows, &n, why),
                   HK_E_NOTFOUND);
  assert_non_null(strstr(why, "no runs of back end 'tcmalloc'"));
  assert_non_null(strstr(why, "glibc, hakmem, mimalloc"));
  assert_int_equal(cmp(db, NULL, "hakmem/ucb1", "glibc", &rows, &n, why),
                   HK_E_NOTFOUND);
  assert_non_null(strstr(why, "policies of hakmem: elo, evo, static"));
  assert_int_equal(cmp(db, NULL, "hakmem", "glibc", &rows, &n, why),
                   HK_E_USAGE);
  assert_non_null(strstr(why, "several policies"));
  assert_int_equal(cmp(db, "nope.hkt", "hakmem/elo", "mimalloc", &rows, &n,
                       why),
                   HK_E_NOTFOUND);
  assert_non_null(strstr(why, "no trace 'nope.hkt'"));
  assert_int_equal(cmp(db, NULL, "hakmem/elo", "hakmem/elo", &rows, &n, why),
                   HK_E_USAGE);

  /* A third mimalloc repeat (110 ns/op): hakmem/elo (150, 200, 160 ns/op)
   * against mimalloc (100, 120, 110). Expected from the logs by hand:
   * ratio exp(mean log a - mean log b) = 1.53776, Welch t 4.22632 with
   * 3.28823 df, p 0.02015 (numerical integration); the permutation test
   * has 20 splits of which 2 are as extreme: p 0.1. */
  char w2[256];
  assert_int_equal(
      ana_db_exec(db,
                  "INSERT INTO runs(run_id, trace_id, backend, policy, seed,"
                  " repeat, touch, per_op, status, started_at, ops, total_ns)"
                  " VALUES (9, 1, 'mimalloc', NULL, 1, 2, 'pages', 'all',"
                  " 'done', 'x', 10, 1100)",
                  w2, sizeof w2),
      0);
  assert_int_equal(cmp(db, "vm.hkt", "hakmem/elo", "mimalloc", &rows, &n, why),
                   0);
  assert_int_equal(n, 1);
  ana_cmp_t *r = &rows[0];
  assert_string_equal(r->refused, "");
  assert_string_equal(r->modes, "pages/all");
  assert_int_equal(r->a.n, 3);
  assert_int_equal(r->b.n, 3);
  NEAR(r->a.mean, 170, 1e-9);
  NEAR(r->b.mean, 110, 1e-9);
  NEAR(r->ratio, 1.5377619196572572, 1e-9);
  NEAR(r->welch.t, 4.226318067407429, 1e-8);
  NEAR(r->welch.df, 3.288232799870093, 1e-8);
  NEAR(r->welch.p, 0.02014978813155688, 1e-5);
  assert_true(r->ratio_lo > 1.0 && r->ratio_hi > r->ratio);
  /* the CI is exp(diff +- t(0.975, df) se) */
  NEAR(log(r->ratio_hi) - log(r->ratio), 3.0303081319595773 * r->welch.se,
       1e-4);
  assert_true(r->perm.exact);
  NEAR(r->perm.p, 0.1, 1e-12);
  free(rows);

  /* a run of another --per-op mode on one side: refused */
  assert_int_equal(
      ana_db_exec(db,
                  "UPDATE runs SET per_op = 'none' WHERE run_id = 9", w2,
                  sizeof w2),
      0);
  assert_int_equal(cmp(db, NULL, "hakmem/elo", "mimalloc", &rows, &n, why), 0);
  assert_non_null(strstr(rows[0].refused, "different --touch/--per-op"));
  free(rows);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_t_distribution),
      cmocka_unit_test(test_welch),
      cmocka_unit_test(test_permutation),
      cmocka_unit_test(test_config_parse),
      cmocka_unit_test_setup_teardown(test_compare_fixture, ana_fixture_setup,
                                      ana_fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
