/* test_bigcache.c: BigCache (hak_bigcache.c): the class chain, a hit, a
 * miss, LFU eviction within a site row into the batch (never munmap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hak_test_os.h"

#define SITE 0x7001u
#define MIB (1u << 20)

static void test_classes(void **state) {
  (void)state;
  size_t min = 512u << 10;
  assert_int_equal(hak_class_of(100, min), -1);
  assert_int_equal(hak_class_of(min, min), 0);
  assert_int_equal(hak_class_of(min + 1, min), 1);
  assert_int_equal(hak_class_of(2 * MIB, min), 2);
  assert_int_equal(hak_class_of(2 * MIB + 1, min), 3);
  assert_int_equal(hak_class_of(5 * MIB, min), 5);
  assert_int_equal(hak_class_of(7 * MIB, min), 6);
  assert_int_equal(hak_class_of(16 * MIB, min), 7);
  assert_int_equal(hak_class_of(16 * MIB + 1, min), -1);
}

static void test_hit_and_miss(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_t *h = test_hak(&t, &c);
  void *a = hak_alloc(h, 2 * MIB, SITE);
  assert_int_equal(hak_stats(h)->cache_misses, 1);
  hak_dealloc(h, a, SITE);
  assert_int_equal(hak_stats(h)->cache_puts, 1);
  assert_int_equal(t.munmaps, 0);
  void *b = hak_alloc(h, 2 * MIB - 100, SITE); /* same class: a hit */
  assert_ptr_equal(a, b);
  assert_int_equal(hak_stats(h)->cache_hits, 1);
  assert_int_equal(t.mmaps, 1);
  void *d = hak_alloc(h, 2 * MIB, SITE + 1); /* another site: a miss */
  assert_ptr_not_equal(d, b);
  assert_int_equal(hak_stats(h)->cache_misses, 2);
  hak_dealloc(h, b, SITE);
  hak_dealloc(h, d, SITE + 1);
  hak_free(h);
  assert_int_equal(t.mapped, 0);
}

static void test_disabled(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_config_set(&c, "bigcache", "off");
  hak_t *h = test_hak(&t, &c);
  for (int i = 0; i < 3; i++) hak_dealloc(h, hak_alloc(h, 2 * MIB, SITE), SITE);
  assert_int_equal(hak_stats(h)->cache_hits, 0);
  assert_int_equal(t.mmaps, 3);
  hak_free(h);
}

static void test_lfu_eviction_into_batch(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_config_set(&c, "bigcache.ways", "2");
  hak_t *h = test_hak(&t, &c);
  /* class 0 (512 KiB) gets two hits, class 1 (1 MiB) none */
  void *p = hak_alloc(h, 512u << 10, SITE);
  hak_dealloc(h, p, SITE);
  for (int i = 0; i < 2; i++) {
    p = hak_alloc(h, 512u << 10, SITE);
    hak_dealloc(h, p, SITE);
  }
  void *q = hak_alloc(h, 1 * MIB, SITE);
  hak_dealloc(h, q, SITE);
  assert_int_equal(hak_stats(h)->cache_hits, 2);
  unsigned munmaps = t.munmaps;
  /* a third class into the full row: the 1 MiB block (fewest hits) goes */
  void *r = hak_alloc(h, 3 * MIB, SITE);
  hak_dealloc(h, r, SITE);
  assert_int_equal(hak_stats(h)->cache_evictions, 1);
  assert_int_equal(hak_stats(h)->batch_adds, 1); /* into the batch ... */
  assert_int_equal(t.munmaps, munmaps);          /* ... not unmapped */
  assert_int_equal(t.frees, 0);                  /* ... and never free() */
  void *again = hak_alloc(h, 512u << 10, SITE);
  assert_ptr_equal(again, p); /* the frequent one stayed */
  void *gone = hak_alloc(h, 1 * MIB, SITE);
  assert_int_equal(hak_stats(h)->cache_hits, 3);
  (void)gone;
  hak_dealloc(h, again, SITE);
  hak_dealloc(h, gone, SITE);
  hak_free(h);
  assert_int_equal(t.mapped, 0);
}

static void test_thermal(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_config_set(&c, "thermal.hot_ops", "4");
  hak_config_set(&c, "thermal.warm_ops", "50");
  hak_t *h = test_hak(&t, &c);
  void *filler[200];
  void *p = hak_alloc(h, 2 * MIB, SITE);
  hak_dealloc(h, p, SITE); /* no history: hot, kept as is */
  assert_int_equal(hak_stats(h)->hot_frees, 1);
  assert_int_equal(t.madv_free, 0);
  /* 20 ops apart: warm, MADV_FREE then cached */
  for (int i = 0; i < 20; i++) filler[i] = hak_alloc(h, 64, 0x99);
  p = hak_alloc(h, 2 * MIB, SITE);
  hak_dealloc(h, p, SITE);
  assert_int_equal(hak_stats(h)->warm_frees, 1);
  assert_int_equal(t.madv_free, 1);
  assert_int_equal(hak_stats(h)->cache_puts, 2);
  /* 200 ops apart: cold, skips the cache for the batch */
  for (int i = 20; i < 200; i++) filler[i] = hak_alloc(h, 64, 0x99);
  p = hak_alloc(h, 2 * MIB, SITE);
  hak_alloc(h, 2 * MIB, SITE + 5); /* nothing: keeps the ops count moving */
  hak_dealloc(h, p, SITE);
  assert_true(hak_stats(h)->cold_frees >= 1 || hak_stats(h)->warm_frees >= 2);
  for (int i = 0; i < 200; i++) hak_dealloc(h, filler[i], 0x99);
  hak_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classes),
      cmocka_unit_test(test_hit_and_miss),
      cmocka_unit_test(test_disabled),
      cmocka_unit_test(test_lfu_eviction_into_batch),
      cmocka_unit_test(test_thermal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
