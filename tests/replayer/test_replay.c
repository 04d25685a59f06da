/* test_replay.c: the run matrix of rpl_replay.c: the order of the
 * configurations within a repeat (rpl_repeat_order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rpl_internal.h"

/* Every index once: a permutation. */
static void test_order_is_permutation(void **state) {
  (void)state;
  for (uint32_t r = 0; r < 20; r++) {
    uint32_t idx[7];
    int seen[7] = {0};
    rpl_repeat_order(1, r, idx, 7);
    for (int i = 0; i < 7; i++) {
      assert_true(idx[i] < 7);
      seen[idx[i]]++;
    }
    for (int i = 0; i < 7; i++) assert_int_equal(seen[i], 1);
  }
}

/* Same seed and repeat, same order; the orders of repeats differ, and the
 * first configuration is not always the same one (drift would favour it). */
static void test_order_seeded_and_varied(void **state) {
  (void)state;
  uint32_t a[6], b[6];
  rpl_repeat_order(42, 3, a, 6);
  rpl_repeat_order(42, 3, b, 6);
  assert_memory_equal(a, b, sizeof a);
  int firsts[6] = {0}, distinct = 0;
  for (uint32_t r = 0; r < 30; r++) {
    rpl_repeat_order(42, r, a, 6);
    firsts[a[0]]++;
  }
  for (int i = 0; i < 6; i++) distinct += firsts[i] > 0;
  assert_true(distinct >= 3);
  rpl_repeat_order(43, 3, b, 6);
  rpl_repeat_order(42, 3, a, 6);
  uint32_t c[6];
  rpl_repeat_order(44, 3, c, 6);
  /* two other seeds cannot both give the same order as seed 42 by design
   * of a good shuffle; one may by chance (1/720) */
  assert_false(memcmp(a, b, sizeof a) == 0 && memcmp(a, c, sizeof a) == 0);
}

static void test_order_small(void **state) {
  (void)state;
  uint32_t one[1] = {99};
  rpl_repeat_order(1, 0, one, 1);
  assert_int_equal(one[0], 0);
  rpl_repeat_order(1, 0, NULL, 0); /* nothing to order: no access */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_is_permutation),
      cmocka_unit_test(test_order_seeded_and_varied),
      cmocka_unit_test(test_order_small),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
