/* test_core.c: the header, the allocation order and the free dispatch of
 * hak_core.c; realloc, calloc, alignment; statistics and the cost model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hak_test_os.h"

#define SITE 0x401234u

static void test_header_and_dispatch(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_t *h = test_hak(&t, &c);
  char *small = hak_alloc(h, 1000, SITE);
  assert_non_null(small);
  const hak_header_t *hd = (const hak_header_t *)(small - 32);
  assert_int_equal(sizeof(hak_header_t), 32);
  assert_int_equal(hd->magic, HAK_MAGIC);
  assert_int_equal(hd->method, HAK_METHOD_MALLOC);
  assert_int_equal(hd->site, SITE);
  assert_int_equal(hdr_size(hd), 1000);
  assert_int_equal(t.mallocs, 1);
  assert_int_equal(t.mmaps, 0);
  memset(small, 0xab, 1000);

  char *big = hak_alloc(h, 300u << 10, SITE); /* >= 256 KiB: mmap */
  assert_non_null(big);
  hd = (const hak_header_t *)(big - 32);
  assert_int_equal(hd->method, HAK_METHOD_MMAP);
  assert_int_equal(hd->cls, HAK_NO_CLASS); /* below BigCache's 512 KiB */
  assert_int_equal(t.mmaps, 1);
  assert_true(hak_usable_size(h, big) >= (300u << 10));
  memset(big, 1, 300u << 10);

  hak_dealloc(h, small, SITE);
  assert_int_equal(t.frees, 1);
  hak_dealloc(h, big, SITE); /* >= 64 KiB: into the batch, not unmapped */
  assert_int_equal(t.munmaps, 0);
  assert_int_equal(hak_stats(h)->batch_adds, 1);

  /* a pointer without our header is refused and counted */
  uint64_t fake[8] = {0};
  hak_dealloc(h, &fake[4], SITE);
  assert_int_equal(hak_stats(h)->bad_frees, 1);
  assert_int_equal(hak_stats(h)->frees, 2);
  hak_free(h);
  assert_int_equal(t.munmaps, 1); /* the batch flushed at teardown */
  assert_int_equal(t.mapped, 0);
}

static void test_small_mmap_unmapped_at_once(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_config_set(&c, "static.threshold", "4K");
  hak_t *h = test_hak(&t, &c);
  void *p = hak_alloc(h, 10000, SITE); /* mmap, but < 64 KiB */
  assert_int_equal(t.mmaps, 1);
  hak_dealloc(h, p, SITE);
  assert_int_equal(t.munmaps, 1);
  assert_int_equal(hak_stats(h)->batch_adds, 0);
  hak_free(h);
}

static void test_header16(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  assert_int_equal(hak_config_set(&c, "header_size", "16"), 0);
  hak_t *h = test_hak(&t, &c);
  char *p = hak_alloc(h, 100, SITE);
  const hak_header_t *hd = (const hak_header_t *)(p - 16);
  assert_int_equal(hd->magic, HAK_MAGIC);
  assert_int_equal((uintptr_t)p % 16, 0);
  char *q = hak_alloc(h, 1u << 20, SITE);
  assert_int_equal(((const hak_header_t *)(q - 16))->method, HAK_METHOD_MMAP);
  hak_dealloc(h, p, SITE);
  hak_dealloc(h, q, SITE);
  assert_int_equal(hak_stats(h)->bad_frees, 0);
  hak_free(h);
}

static void test_realloc_calloc(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_t *h = test_hak(&t, &c);
  char *p = hak_realloc(h, NULL, 100, SITE);
  for (int i = 0; i < 100; i++) p[i] = (char)i;
  char *q = hak_realloc(h, p, 50, SITE); /* shrink in place */
  assert_ptr_equal(p, q);
  q = hak_realloc(h, p, 1u << 20, SITE); /* grows into an mmap block */
  assert_ptr_not_equal(p, q);
  for (int i = 0; i < 100; i++) assert_int_equal(q[i], (char)i);
  assert_int_equal(((const hak_header_t *)(q - 32))->method, HAK_METHOD_MMAP);
  assert_null(hak_realloc(h, q, 0, SITE));
  unsigned char *z = hak_calloc(h, 100, 10, SITE);
  for (int i = 0; i < 1000; i++) assert_int_equal(z[i], 0);
  hak_dealloc(h, z, SITE);
  assert_null(hak_calloc(h, SIZE_MAX / 2, 4, SITE)); /* overflow */
  /* calloc of a recycled BigCache block is zeroed too */
  unsigned char *b = hak_alloc(h, 600u << 10, SITE);
  memset(b, 0xff, 600u << 10);
  hak_dealloc(h, b, SITE);
  unsigned char *b2 = hak_calloc(h, 600u << 10, 1, SITE);
  assert_ptr_equal(b, b2);
  for (size_t i = 0; i < (600u << 10); i += 4096) assert_int_equal(b2[i], 0);
  hak_dealloc(h, b2, SITE);
  hak_free(h);
}

static void test_alignment(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_t *h = test_hak(&t, &c);
  size_t aligns[] = {16, 64, 4096, 65536, 2u << 20};
  size_t sizes[] = {24, 5000, 300u << 10};
  for (size_t i = 0; i < HK_ARRAY_LEN(aligns); i++)
    for (size_t j = 0; j < HK_ARRAY_LEN(sizes); j++) {
      char *p = hak_memalign(h, aligns[i], sizes[j], SITE);
      assert_non_null(p);
      assert_int_equal((uintptr_t)p % aligns[i], 0);
      assert_true(hak_usable_size(h, p) >= sizes[j]);
      memset(p, 7, sizes[j]);
      hak_dealloc(h, p, SITE);
    }
  assert_null(hak_memalign(h, 48, 10, SITE));
  assert_int_equal(hak_stats(h)->bad_frees, 0);
  hak_free(h);
  assert_int_equal(t.mapped, 0);
}

static void test_failed_mmap(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_t *h = test_hak(&t, &c);
  t.fail_mmap = 1;
  assert_null(hak_alloc(h, 1u << 20, SITE));
  assert_int_equal(hak_stats(h)->sys_failed, 1);
  t.fail_mmap = 0;
  void *p = hak_alloc(h, 1u << 20, SITE);
  assert_non_null(p);
  hak_dealloc(h, p, SITE);
  hak_free(h);
}

static void test_stats_and_cost(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_t *h = test_hak(&t, &c);
  /* a fresh 2 MiB mmap block: its pages are first-touch faults; the same
   * size again is a BigCache hit and costs no faults */
  void *p = hak_alloc(h, 2u << 20, SITE);
  uint64_t pages = hak_stats(h)->first_touch_pages;
  assert_int_equal(pages, (2u << 20) / 4096 + 1);
  double v1 = hak_stats(h)->vtime_ns;
  assert_true(v1 >= c.cost.mmap_ns + pages * c.cost.fault_ns);
  hak_dealloc(h, p, SITE);
  double v2 = hak_stats(h)->vtime_ns;
  p = hak_alloc(h, 2u << 20, SITE);
  assert_int_equal(hak_stats(h)->cache_hits, 1);
  assert_int_equal(hak_stats(h)->first_touch_pages, pages);
  assert_true(hak_stats(h)->vtime_ns - v2 < c.cost.mmap_ns);
  hak_dealloc(h, p, SITE);
  /* per-site profile */
  const hak_site_stats_t *ss = NULL;
  for (int i = 0; i < HAK_SITES; i++)
    if (hak_stats(h)->sites[i].site == SITE) ss = &hak_stats(h)->sites[i];
  assert_non_null(ss);
  assert_int_equal(ss->allocs, 2);
  assert_int_equal(ss->frees, 2);
  assert_int_equal(ss->size_hist[21], 2);
  assert_int_equal(ss->lifetime_n, 2);
  assert_int_equal(ss->lifetime_sum, 2); /* each freed one op later */
  assert_int_equal(ss->hits[2], 1);
  assert_int_equal(ss->misses[2], 1);
  hak_free(h);
}

static void run_script(uint64_t seed, char out[33], hak_stats_t *st) {
  test_os_t t;
  hak_config_t c;
  hak_config_init(&c, HAK_MODE_LEARNING);
  c.seed = seed;
  hak_config_set(&c, "elo.period", "10");
  hak_config_set(&c, "elo.min_samples", "5");
  hak_t *h = test_hak(&t, &c);
  hk_rng_t r;
  hk_rng_init(&r, 99);
  void *live[16] = {0};
  for (int i = 0; i < 4000; i++) {
    int k = (int)hk_rng_below(&r, 16);
    if (live[k]) {
      hak_dealloc(h, live[k], 0x1000 + (uint64_t)k);
      live[k] = NULL;
    } else {
      size_t sz = (size_t)1 << (12 + hk_rng_below(&r, 11));
      live[k] = hak_alloc(h, sz, 0x1000 + (uint64_t)k);
    }
  }
  for (int k = 0; k < 16; k++) hak_dealloc(h, live[k], 0);
  pol_digest_hex(hak_policy(h), out);
  *st = *hak_stats(h);
  hak_free(h);
}

static void test_determinism(void **state) {
  (void)state;
  static hak_stats_t a, b, d;
  char da[33], db[33], dd[33];
  run_script(1, da, &a);
  run_script(1, db, &b);
  run_script(2, dd, &d);
  assert_string_equal(da, db);
  assert_true(a.vtime_ns == b.vtime_ns);
  assert_int_equal(a.cache_hits, b.cache_hits);
  assert_int_equal(a.sys_mmap, b.sys_mmap);
  assert_string_not_equal(da, dd); /* the seed opens the digest */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_and_dispatch),
      cmocka_unit_test(test_small_mmap_unmapped_at_once),
      cmocka_unit_test(test_header16),
      cmocka_unit_test(test_realloc_calloc),
      cmocka_unit_test(test_alignment),
      cmocka_unit_test(test_failed_mmap),
      cmocka_unit_test(test_stats_and_cost),
      cmocka_unit_test(test_determinism),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
