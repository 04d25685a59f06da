/* test_varint.c: LEB128 and zigzag edge cases (common/hk_varint.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hk_common.h"

static void roundtrip(uint64_t v) {
  uint8_t buf[HK_VARINT_MAX + 4];
  size_t n = hk_varint_put(buf, v);
  assert_int_equal(n, hk_varint_len(v));
  assert_true(n >= 1 && n <= HK_VARINT_MAX);
  const uint8_t *p = buf;
  uint64_t out = 0;
  assert_int_equal(hk_varint_get(&p, buf + n, &out), 0);
  assert_true(out == v);
  assert_ptr_equal(p, buf + n);
  /* Every proper prefix is reported as truncated, never decoded. */
  for (size_t cut = 0; cut < n; cut++) {
    p = buf;
    assert_int_equal(hk_varint_get(&p, buf + cut, &out), -1);
    assert_ptr_equal(p, buf);
  }
}

static void test_edges(void **state) {
  (void)state;
  const uint64_t vals[] = {0, 1, 127, 128, 255, 16383, 16384, UINT32_MAX,
                           (uint64_t)UINT32_MAX + 1, INT64_MAX,
                           (uint64_t)INT64_MAX + 1, UINT64_MAX - 1, UINT64_MAX};
  for (size_t i = 0; i < HK_ARRAY_LEN(vals); i++) roundtrip(vals[i]);
  for (unsigned b = 0; b < 64; b++) {
    roundtrip(1ull << b);
    roundtrip((1ull << b) - 1);
  }
  assert_int_equal(hk_varint_len(UINT64_MAX), 10);
  assert_int_equal(hk_varint_len(127), 1);
  assert_int_equal(hk_varint_len(128), 2);
}

static void test_random(void **state) {
  (void)state;
  hk_rng_t r;
  hk_rng_init(&r, 42);
  for (int i = 0; i < 100000; i++) {
    uint64_t v = hk_rng_next(&r) >> hk_rng_below(&r, 64);
    roundtrip(v);
  }
}

static void test_overlong(void **state) {
  (void)state;
  /* 11 continuation bytes: longer than any 64-bit value. */
  uint8_t bad[11];
  for (int i = 0; i < 10; i++) bad[i] = 0x80;
  bad[10] = 0;
  const uint8_t *p = bad;
  uint64_t v;
  assert_int_equal(hk_varint_get(&p, bad + sizeof bad, &v), -1);
  /* 10th byte carrying more than the one remaining bit overflows. */
  uint8_t over[10];
  for (int i = 0; i < 9; i++) over[i] = 0xff;
  over[9] = 0x02;
  p = over;
  assert_int_equal(hk_varint_get(&p, over + sizeof over, &v), -1);
  over[9] = 0x01;
  p = over;
  assert_int_equal(hk_varint_get(&p, over + sizeof over, &v), 0);
  assert_true(v == UINT64_MAX);
}

static void test_zigzag(void **state) {
  (void)state;
  const int64_t vals[] = {0, -1, 1, -2, 2, INT64_MAX, INT64_MIN, -4096, 4096};
  for (size_t i = 0; i < HK_ARRAY_LEN(vals); i++)
    assert_true(hk_unzigzag(hk_zigzag(vals[i])) == vals[i]);
  assert_true(hk_zigzag(0) == 0);
  assert_true(hk_zigzag(-1) == 1);
  assert_true(hk_zigzag(1) == 2);
  assert_true(hk_zigzag(INT64_MIN) == UINT64_MAX);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_edges), cmocka_unit_test(test_random),
      cmocka_unit_test(test_overlong), cmocka_unit_test(test_zigzag)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
