/* test_shard.c: unit tests of replayer/rpl_shard.c, the split of a run
 * matrix into shards: a partition, balanced by weight, deterministic, and
 * the parsing of --shard I/N. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replayer.h"

static void test_every_run_once(void **state) {
  (void)state;
  uint64_t w[23];
  uint32_t own[23];
  for (size_t k = 0; k < 23; k++) w[k] = (k * 7919) % 101;
  for (uint32_t n = 1; n <= 8; n++) {
    memset(own, 0xff, sizeof own);
    rpl_shard_plan(w, 23, n, own);
    for (size_t k = 0; k < 23; k++) assert_true(own[k] < n);
  }
}

static void test_balanced(void **state) {
  (void)state;
  /* Two traces: 16 runs of 1000 ops and 8 runs of 3000 ops over 4 shards:
   * 40000 ops, 10000 a shard exactly. */
  uint64_t w[24];
  uint32_t own[24];
  uint64_t load[4] = {0};
  for (size_t k = 0; k < 24; k++) w[k] = k < 16 ? 1000 : 3000;
  rpl_shard_plan(w, 24, 4, own);
  for (size_t k = 0; k < 24; k++) load[own[k]] += w[k];
  for (int s = 0; s < 4; s++) assert_int_equal(load[s], 10000);
  /* Any weights: no shard exceeds the lightest by more than the heaviest
   * run (the bound of longest-first onto the least loaded). */
  uint64_t v[40], lo = UINT64_MAX, hi = 0, max = 0;
  uint32_t o[40];
  uint64_t l[3] = {0};
  for (size_t k = 0; k < 40; k++) {
    v[k] = 1 + (k * k * 31) % 977;
    if (v[k] > max) max = v[k];
  }
  rpl_shard_plan(v, 40, 3, o);
  for (size_t k = 0; k < 40; k++) l[o[k]] += v[k];
  for (int s = 0; s < 3; s++) {
    if (l[s] < lo) lo = l[s];
    if (l[s] > hi) hi = l[s];
  }
  assert_true(hi - lo <= max);
}

static void test_deterministic_and_spread(void **state) {
  (void)state;
  uint64_t w[8] = {5, 5, 5, 5, 5, 5, 5, 5};
  uint32_t a[8], b[8];
  rpl_shard_plan(w, 8, 4, a);
  rpl_shard_plan(w, 8, 4, b);
  assert_memory_equal(a, b, sizeof a);
  /* Equal weights go round robin in run order. */
  for (uint32_t k = 0; k < 8; k++) assert_int_equal(a[k], k % 4);
  /* Empty traces (weight 0) are spread as well, not all on shard 0. */
  uint64_t z[4] = {0, 0, 0, 0};
  uint32_t oz[4];
  rpl_shard_plan(z, 4, 2, oz);
  assert_int_equal(oz[0] + oz[1] + oz[2] + oz[3], 2);
}

static void test_parse(void **state) {
  (void)state;
  uint32_t i = 9, n = 9;
  assert_int_equal(rpl_shard_parse("0/4", &i, &n), 0);
  assert_int_equal(i, 0);
  assert_int_equal(n, 4);
  assert_int_equal(rpl_shard_parse("3/4", &i, &n), 0);
  assert_int_equal(i, 3);
  const char *bad[] = {"4/4", "1/0", "", "x", "1", "-1/2", "1/2/3", "1/ 2",
                       "1/2x", "/2", "0/65537", NULL};
  for (const char **s = bad; *s; s++) {
    i = 7;
    n = 7;
    assert_int_equal(rpl_shard_parse(*s, &i, &n), -1);
    assert_int_equal(i, 7); /* untouched on failure */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_run_once),
      cmocka_unit_test(test_balanced),
      cmocka_unit_test(test_deterministic_and_spread),
      cmocka_unit_test(test_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
