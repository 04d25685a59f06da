/* test_model.c: the residency model (hakmem/hak_model.c): the pointer
 * map, fresh-mapping faults with and without huge pages, the libc model
 * (glibc's dynamic mmap threshold, heap growth, reuse, trimming), and the
 * core's use of it (BigCache hits, MADV_FREE'd blocks, batch flushes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hak_test_os.h"

static void test_map(void **state) {
  (void)state;
  hak_map_t m = {0};
  uint64_t v;
  for (uint64_t k = 0; k < 5000; k++) assert_int_equal(hak_map_put(&m, k * 4096, k), 0);
  assert_int_equal(m.n, 5000);
  for (uint64_t k = 0; k < 5000; k += 2) assert_int_equal(hak_map_del(&m, k * 4096, NULL), 1);
  assert_int_equal(hak_map_del(&m, 0, NULL), 0); /* gone already */
  for (uint64_t k = 0; k < 5000; k++) {
    int found = hak_map_get(&m, k * 4096, &v);
    assert_int_equal(found, (int)(k & 1)); /* deletion kept the others reachable */
    if (found) assert_int_equal(v, k);
  }
  assert_int_equal(m.n, 2500);
  hak_map_release(&m);
}

static void test_fresh_faults(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_t *h = test_hak(&t, &c);
  const size_t M2 = 2u << 20, P = 4096;
  /* 4 MiB + 4 KiB, all written: one huge extent and 513 small pages, as
   * measured on Linux for lengths that are not multiples of 2 MiB */
  assert_int_equal(hak_model_fresh_faults(h, 2 * M2 + P, 2 * M2 + P, 1), 1 + 513);
  assert_int_equal(hak_model_fresh_faults(h, M2 + P, M2 + P, 1), 513);
  assert_int_equal(hak_model_fresh_faults(h, 2 * M2, 2 * M2, 1), 2); /* aligned */
  assert_int_equal(hak_model_fresh_faults(h, 2 * M2 + P, 2 * M2 + P, 0), 1025);
  assert_int_equal(hak_model_fresh_faults(h, 2 * M2, 100, 1), 1); /* touched part only */
  hak_free(h);
  c.cost.thp_huge = 0; /* a kernel that ignores MADV_HUGEPAGE */
  h = test_hak(&t, &c);
  assert_int_equal(hak_model_fresh_faults(h, 2 * M2 + P, 2 * M2 + P, 1), 1025);
  hak_free(h);
}

/* glibc: a 256 KiB chunk is first mmapped (threshold 128 KiB); freeing it
 * raises the threshold, so the next one comes from the heap (a brk and
 * fresh pages), and after its free the heap keeps its pages: reuse is free
 * of faults. */
static void test_libc_dynamic_threshold(void **state) {
  (void)state;
  hak_config_t c;
  hak_config_init(&c, HAK_MODE_BALANCED);
  hak_lm_t m;
  hak_lm_init(&m, &c.cost);
  hak_lm_effect_t fx;
  const size_t n = (256u << 10) + 32;
  uint64_t a = hak_lm_malloc(&m, n, HAK_LM_UNKNOWN, &fx);
  assert_int_equal(fx.mmaps, 1);
  assert_int_equal(fx.faults, (n + 16 + 4095) / 4096);
  hak_lm_free(&m, a, &fx);
  assert_int_equal(fx.munmaps, 1);
  assert_true(m.mmap_threshold > n);
  assert_int_equal(m.trim_threshold, 2 * m.mmap_threshold);
  a = hak_lm_malloc(&m, n, HAK_LM_UNKNOWN, &fx);
  assert_int_equal(fx.mmaps, 0);
  assert_int_equal(fx.brks, 1);
  assert_true(fx.faults >= n / 4096);
  hak_lm_free(&m, a, &fx);
  assert_int_equal(fx.brks, 0); /* top below the trim threshold: kept */
  for (int i = 0; i < 10; i++) {
    a = hak_lm_malloc(&m, n, HAK_LM_UNKNOWN, &fx);
    assert_int_equal(fx.faults, 0);
    assert_int_equal(fx.mmaps + fx.brks, 0);
    hak_lm_free(&m, a, &fx);
  }
  hak_lm_release(&m);
}

/* libc sync: glibc served the chunk from its heap although the model's
 * threshold (128 KiB) says mmap (the process raised glibc's threshold
 * before): the model follows, raises its threshold and faults the heap
 * pages once; reuse is then free. The other way round: glibc mapped a
 * chunk the model would have put on the heap. */
static void test_libc_sync(void **state) {
  (void)state;
  hak_config_t c;
  hak_config_init(&c, HAK_MODE_BALANCED);
  hak_lm_t m;
  hak_lm_init(&m, &c.cost);
  hak_lm_effect_t fx;
  const size_t n = (256u << 10) + 32;
  uint64_t a = hak_lm_malloc(&m, n, HAK_LM_HEAP, &fx);
  assert_int_equal(fx.mmaps, 0);
  assert_int_equal(fx.brks, 1);
  assert_int_equal(fx.faults, (n + 16 + 16 + 4095) / 4096);
  assert_true(m.mmap_threshold > n);
  hak_lm_free(&m, a, &fx);
  assert_int_equal(fx.brks, 0);
  a = hak_lm_malloc(&m, n, HAK_LM_HEAP, &fx);
  assert_int_equal(fx.faults, 0);
  hak_lm_free(&m, a, &fx);
  uint64_t thr = m.mmap_threshold;
  a = hak_lm_malloc(&m, 200u << 10, HAK_LM_MMAP, &fx); /* fits the top */
  assert_int_equal(fx.mmaps, 1);
  assert_true(m.mmap_threshold < thr);
  hak_lm_free(&m, a, &fx);
  assert_int_equal(fx.munmaps, 1);
  hak_lm_release(&m);
  /* glibc's answer as read back: a 1 MiB request is mapped, 100 bytes not */
  char *big = malloc(1u << 20), *small = malloc(100);
  assert_non_null(big);
  assert_non_null(small);
  int mb = hak_lm_real_method(big), ms = hak_lm_real_method(small);
  free(big);
  free(small);
#if defined(__GLIBC__)
  if (mb != HAK_LM_UNKNOWN) { /* not under a sanitizer's allocator */
    assert_int_equal(mb, HAK_LM_MMAP);
    assert_int_equal(ms, HAK_LM_HEAP);
  }
#else
  assert_int_equal(mb, HAK_LM_UNKNOWN);
  (void)ms;
#endif
}

/* Small blocks: freed chunks are reused (split, coalesced), so a steady
 * churn faults only while the heap grows; freeing a big top block past the
 * trim threshold gives pages back, and they fault again when reused. */
static void test_libc_reuse_and_trim(void **state) {
  (void)state;
  hak_config_t c;
  hak_config_init(&c, HAK_MODE_BALANCED);
  hak_lm_t m;
  hak_lm_init(&m, &c.cost);
  hak_lm_effect_t fx;
  uint64_t h[64];
  uint64_t faults = 0;
  for (int i = 0; i < 64; i++) {
    h[i] = hak_lm_malloc(&m, 100 + (size_t)i * 8, HAK_LM_UNKNOWN, &fx);
    faults += fx.faults;
  }
  assert_true(faults >= 5 && faults <= 8); /* ~23 KiB of chunks */
  for (int r = 0; r < 20; r++)
    for (int i = 0; i < 64; i += 2) { /* free and re-take the same sizes */
      hak_lm_free(&m, h[i], &fx);
      h[i] = hak_lm_malloc(&m, 100 + (size_t)i * 8, HAK_LM_UNKNOWN, &fx);
      assert_int_equal(fx.faults, 0);
    }
  /* three 100 KiB blocks on top (below the mmap threshold); freed, the top
   * chunk passes the 128 KiB trim threshold and all but top_pad (128 KiB)
   * goes back: ~172 KiB of pages, which fault again when taken again */
  uint64_t b[3], got = 0, again = 0;
  for (int i = 0; i < 3; i++) {
    b[i] = hak_lm_malloc(&m, 100u << 10, HAK_LM_UNKNOWN, &fx);
    got += fx.faults;
  }
  assert_true(got >= 75);
  uint64_t released = 0, brks = 0;
  for (int i = 2; i >= 0; i--) {
    hak_lm_free(&m, b[i], &fx);
    released += fx.released;
    brks += fx.brks;
  }
  assert_true(brks >= 1);
  assert_true(released >= 40 && released <= 46);
  for (int i = 0; i < 3; i++) {
    b[i] = hak_lm_malloc(&m, 100u << 10, HAK_LM_UNKNOWN, &fx);
    again += fx.faults;
  }
  assert_int_equal(again, released);
  hak_lm_release(&m);
}

/* The core: a BigCache hit is resident, MADV_FREE keeps pages, a bigger
 * use of a cached block faults only its new pages. */
static void test_core_residency(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_t *h = test_hak(&t, &c);
  const hak_stats_t *st = hak_stats(h);
  void *p = hak_alloc(h, 600u << 10, 0x77); /* class 1 MiB, mmap path */
  uint64_t f0 = st->first_touch_pages;
  assert_int_equal(f0, ((600u << 10) + 32 + 4095) / 4096);
  hak_dealloc(h, p, 0x77); /* hot: kept in BigCache */
  p = hak_alloc(h, 600u << 10, 0x77);
  assert_int_equal(st->cache_hits, 1);
  assert_int_equal(st->first_touch_pages, f0); /* resident */
  hak_dealloc(h, p, 0x77);
  p = hak_alloc(h, 900u << 10, 0x77); /* same class, 300 KiB more */
  assert_int_equal(st->cache_hits, 2);
  assert_int_equal(st->first_touch_pages,
                   f0 + ((900u << 10) + 32 + 4095) / 4096 - f0);
  hak_dealloc(h, p, 0x77);
  /* warm: MADV_FREE'd, still resident */
  hak_free(h);
  hak_config_set(&c, "thermal.hot_ops", "0");
  h = test_hak(&t, &c);
  st = hak_stats(h);
  p = hak_alloc(h, 600u << 10, 0x78);
  hak_dealloc(h, p, 0x78);
  p = hak_alloc(h, 600u << 10, 0x78);
  hak_dealloc(h, p, 0x78);
  p = hak_alloc(h, 600u << 10, 0x78);
  assert_true(t.madv_free >= 1);
  assert_true(st->cache_hits >= 1);
  assert_int_equal(st->first_touch_pages, f0);
  hak_dealloc(h, p, 0x78);
  hak_free(h);
}

/* The model's totals: every syscall counted, faults charged at fault_ns. */
static void test_core_costs(void **state) {
  (void)state;
  test_os_t t;
  hak_config_t c;
  test_config(&c);
  hak_config_set(&c, "bigcache", "off");
  hak_config_set(&c, "batch", "off");
  hak_config_set(&c, "cost.fault_ns", "1000");
  hak_config_set(&c, "cost.munmap_page_ns", "10");
  hak_t *h = test_hak(&t, &c);
  const hak_stats_t *st = hak_stats(h);
  void *p = hak_alloc(h, 400u << 10, 1); /* mmap path: 101 pages */
  double v0 = st->vtime_ns;
  assert_true(v0 >= 101 * 1000.0);
  hak_dealloc(h, p, 1); /* munmap of 101 resident pages */
  assert_true(st->vtime_ns - v0 >= c.cost.munmap_ns + 101 * 10.0);
  assert_int_equal(st->model_syscalls, t.mmaps + t.munmaps + t.madvises);
  hak_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_map),
      cmocka_unit_test(test_fresh_faults),
      cmocka_unit_test(test_libc_dynamic_threshold),
      cmocka_unit_test(test_libc_reuse_and_trim),
      cmocka_unit_test(test_libc_sync),
      cmocka_unit_test(test_core_residency),
      cmocka_unit_test(test_core_costs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
