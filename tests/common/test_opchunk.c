/* test_opchunk.c: the trace_op_chunk blob (common/hk_opchunk.c): every
 * column round-trips (edge values, deltas both ways, no-object slots),
 * and a blob that is cut, altered or not ours is refused with a reason,
 * never decoded in part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hk_error.h"
#include "hk_opchunk.h"
#include "compiler.h"
#include "hk_rng.h"

static hk_oprow_t *rows_make(uint32_t n, uint64_t seed) {
  hk_oprow_t *r = calloc(n, sizeof *r);
  hk_rng_t g;
  hk_rng_init(&g, seed);
  uint64_t t = 1000000000ull;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t x = hk_rng_next(&g);
    r[i].kind = (uint8_t)(1 + x % 10);
    r[i].size = i % 97 == 0 ? UINT64_MAX - i : (x >> 8) % (1ull << (i % 40));
    r[i].site = (uint32_t)((x >> 20) % 5000);
    r[i].thread = (uint16_t)(i % 300 == 0 ? 65535 : (x >> 33) % 4);
    r[i].slot = i % 31 == 0 ? UINT32_MAX : (uint32_t)((x >> 40) % 100000);
    r[i].align_log2 = (uint8_t)(i % 50 == 0 ? 12 : 0);
    r[i].flags = (uint8_t)(i % 13 == 0 ? 1 : 0);
    /* mostly forward, sometimes back (decode must not assume order) */
    t = i % 77 == 0 ? t - 5 : t + (x >> 50);
    r[i].time_ns = t;
  }
  return r;
}

static void same(const hk_oprow_t *a, const hk_oprow_t *b, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    assert_int_equal(a[i].kind, b[i].kind);
    assert_true(a[i].size == b[i].size);
    assert_int_equal(a[i].site, b[i].site);
    assert_int_equal(a[i].thread, b[i].thread);
    assert_int_equal(a[i].slot, b[i].slot);
    assert_int_equal(a[i].align_log2, b[i].align_log2);
    assert_int_equal(a[i].flags, b[i].flags);
    assert_true(a[i].time_ns == b[i].time_ns);
  }
}

static void test_round_trip(void **state) {
  (void)state;
  hk_opcodec_t *c = hk_opcodec_create();
  assert_non_null(c);
  hk_oprow_t *out = calloc(HK_OPCHUNK_OPS, sizeof *out);
  uint32_t sizes[] = {1, 2, 1000, HK_OPCHUNK_OPS};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    uint32_t n = sizes[k];
    hk_oprow_t *in = rows_make(n, 7 + k);
    const void *blob;
    size_t len;
    assert_int_equal(hk_opchunk_encode(c, in, n, &blob, &len), 0);
    assert_int_equal(hk_opchunk_count(blob, len), n);
    void *copy = malloc(len);
    memcpy(copy, blob, len);
    uint32_t got = 0;
    char why[160] = "";
    assert_int_equal(hk_opchunk_decode(c, copy, len, out, &got, why, sizeof why), 0);
    assert_int_equal(got, n);
    same(in, out, n);
    free(copy);
    free(in);
  }
  free(out);
  hk_opcodec_free(c);
}

/* A regular program (what prepare gives: same sizes, LIFO slots, a clock)
 * codes in a few bytes an op: the storage goal is <= 8. */
static void test_compact(void **state) {
  (void)state;
  hk_opcodec_t *c = hk_opcodec_create();
  hk_oprow_t *in = calloc(HK_OPCHUNK_OPS, sizeof *in);
  for (uint32_t i = 0; i < HK_OPCHUNK_OPS; i++) {
    int is_free = i % 2;
    in[i] = (hk_oprow_t){is_free ? 0 : 64u << (i % 7), 1000u * i,
                         (i / 2) % 64, 1 + i % 9, 0, is_free ? 5 : 1, 0, 0};
  }
  const void *blob;
  size_t len;
  assert_int_equal(hk_opchunk_encode(c, in, HK_OPCHUNK_OPS, &blob, &len), 0);
  assert_true(len < 2 * HK_OPCHUNK_OPS);
  free(in);
  hk_opcodec_free(c);
}

static void test_damaged(void **state) {
  (void)state;
  hk_opcodec_t *c = hk_opcodec_create();
  uint32_t n = 5000;
  hk_oprow_t *in = rows_make(n, 3);
  hk_oprow_t *out = calloc(HK_OPCHUNK_OPS, sizeof *out);
  const void *blob;
  size_t len;
  assert_int_equal(hk_opchunk_encode(c, in, n, &blob, &len), 0);
  uint8_t *b = malloc(len);
  memcpy(b, blob, len);
  uint32_t got = 99;
  char why[160] = "";
  /* one bit of the payload: zstd's checksum or frame says so */
  b[len / 2] ^= 0x10;
  assert_int_equal(hk_opchunk_decode(c, b, len, out, &got, why, sizeof why),
                   HK_E_DECOMPRESS);
  assert_int_equal(got, 0);
  assert_non_null(strstr(why, "payload damaged"));
  b[len / 2] ^= 0x10;
  /* cut short */
  assert_int_equal(hk_opchunk_decode(c, b, len - 7, out, &got, why, sizeof why),
                   HK_E_DECOMPRESS);
  /* the header: count, width, magic, version, too short */
  b[8] ^= 1;
  assert_int_equal(hk_opchunk_decode(c, b, len, out, &got, why, sizeof why),
                   HK_E_CORRUPT);
  assert_non_null(strstr(why, "header damaged"));
  b[8] ^= 1;
  uint8_t w = b[13];
  b[13] = 3;
  assert_int_equal(hk_opchunk_decode(c, b, len, out, &got, why, sizeof why),
                   HK_E_CORRUPT);
  b[13] = w;
  b[0] = 'X';
  assert_int_equal(hk_opchunk_decode(c, b, len, out, &got, why, sizeof why),
                   HK_E_CORRUPT);
  assert_int_equal(hk_opchunk_count(b, len), 0);
  assert_non_null(strstr(why, "not an op chunk"));
  b[0] = 'H';
  b[4] = 9;
  assert_int_equal(hk_opchunk_decode(c, b, len, out, &got, why, sizeof why),
                   HK_E_CORRUPT);
  assert_non_null(strstr(why, "version 9"));
  b[4] = 1;
  assert_int_equal(hk_opchunk_decode(c, b, 20, out, &got, why, sizeof why),
                   HK_E_CORRUPT);
  /* whole again: decodes */
  assert_int_equal(hk_opchunk_decode(c, b, len, out, &got, why, sizeof why), 0);
  same(in, out, n);
  /* bad counts to encode */
  assert_int_equal(hk_opchunk_encode(c, in, 0, &blob, &len), HK_E_RANGE);
  assert_int_equal(hk_opchunk_encode(c, in, HK_OPCHUNK_OPS + 1, &blob, &len),
                   HK_E_RANGE);
  free(b);
  free(in);
  free(out);
  hk_opcodec_free(c);
  hk_opcodec_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_compact),
      cmocka_unit_test(test_damaged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
