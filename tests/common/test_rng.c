/* test_rng.c: seeded RNG is reproducible, seed-sensitive and in range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hk_common.h"

static void test_reproducible(void **state) {
  (void)state;
  hk_rng_t a, b, c;
  hk_rng_init(&a, 7);
  hk_rng_init(&b, 7);
  hk_rng_init(&c, 8);
  int differ = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = hk_rng_next(&a);
    assert_true(x == hk_rng_next(&b));
    differ += x != hk_rng_next(&c);
  }
  assert_true(differ > 990);
}

static void test_below(void **state) {
  (void)state;
  hk_rng_t r;
  hk_rng_init(&r, 1);
  unsigned hist[6] = {0};
  for (int i = 0; i < 60000; i++) {
    uint64_t v = hk_rng_below(&r, 6);
    assert_true(v < 6);
    hist[v]++;
  }
  for (int i = 0; i < 6; i++) assert_true(hist[i] > 9000 && hist[i] < 11000);
  for (int i = 0; i < 1000; i++) {
    double d = hk_rng_double(&r);
    assert_true(d >= 0.0 && d < 1.0);
  }
}

static void test_digest(void **state) {
  (void)state;
  hk_digest_t *a = hk_digest_create(), *b = hk_digest_create();
  char ha[33], hb[33];
  hk_digest_u64(a, 1);
  hk_digest_u64(a, 2);
  hk_digest_u64(b, 1);
  hk_digest_u64(b, 2);
  hk_digest_hex(a, ha);
  hk_digest_hex(b, hb);
  assert_string_equal(ha, hb);
  assert_int_equal(strlen(ha), 32);
  hk_digest_u64(b, 3);
  hk_digest_hex(b, hb);
  assert_string_not_equal(ha, hb);
  hk_digest_free(a);
  hk_digest_free(b);
  hk_digest_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reproducible),
                                     cmocka_unit_test(test_below),
                                     cmocka_unit_test(test_digest)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
