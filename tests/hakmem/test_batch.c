/* test_batch.c: batch madvise (hak_batch.c): a block added is never
 * unmapped at once; the flush issues MADV_DONTNEED and munmap for every
 * block, at 8 MiB, at 256 blocks, or when asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hak_test_os.h"

#define SITE 0x8001u

static void test_flush_at_8mib(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_config_set(&c, "bigcache", "off");
  hak_t *h = test_hak(&t, &c);
  void *p[8];
  for (int i = 0; i < 8; i++) p[i] = hak_alloc(h, 1u << 20, SITE);
  for (int i = 0; i < 7; i++) {
    hak_dealloc(h, p[i], SITE);
    assert_int_equal(t.munmaps, 0); /* never right after adding */
    assert_int_equal(hak_stats(h)->batch_adds, (uint64_t)i + 1);
  }
  assert_int_equal(hak_stats(h)->batch_flushes, 0);
  hak_dealloc(h, p[7], SITE); /* 8 x (1 MiB + a page) >= 8 MiB */
  assert_int_equal(hak_stats(h)->batch_flushes, 1);
  assert_int_equal(t.munmaps, 8);
  assert_int_equal(t.dontneed, 8);
  assert_int_equal(hak_stats(h)->batched_bytes, 0);
  assert_int_equal(t.mapped, 0);
  hak_free(h);
}

static void test_flush_at_block_limit(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_config_set(&c, "bigcache", "off");
  hak_config_set(&c, "batch.blocks", "4");
  hak_config_set(&c, "batch.madvise", "0");
  hak_t *h = test_hak(&t, &c);
  void *p[5];
  for (int i = 0; i < 5; i++) p[i] = hak_alloc(h, 300u << 10, SITE);
  for (int i = 0; i < 3; i++) hak_dealloc(h, p[i], SITE);
  assert_int_equal(t.munmaps, 0);
  hak_dealloc(h, p[3], SITE);
  assert_int_equal(t.munmaps, 4);
  assert_int_equal(t.dontneed, 0);
  hak_dealloc(h, p[4], SITE);
  assert_int_equal(t.munmaps, 4);
  hak_flush(h);
  assert_int_equal(t.munmaps, 5);
  assert_int_equal(hak_stats(h)->batch_flushes, 2);
  hak_free(h);
}

static void test_batch_off(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_config_set(&c, "bigcache", "off");
  hak_config_set(&c, "batch", "off");
  hak_t *h = test_hak(&t, &c);
  hak_dealloc(h, hak_alloc(h, 1u << 20, SITE), SITE);
  assert_int_equal(t.munmaps, 1);
  assert_int_equal(hak_stats(h)->batch_adds, 0);
  hak_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flush_at_8mib),
      cmocka_unit_test(test_flush_at_block_limit),
      cmocka_unit_test(test_batch_off),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
