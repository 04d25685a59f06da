/* test_rec_sites.c: unit tests of recorder/rec_sites.c and rec_unwind.c:
 * stack deduplication, the per-thread cache, capture with skipped frames. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "recorder.h"

static void test_dedup(void **state) {
  (void)state;
  rec_sites_t *s;
  assert_int_equal(rec_sites_create(&s, 0), 0);
  uint64_t a[3] = {0x1000, 0x2000, 0x3000}, b[3] = {0x1000, 0x2000, 0x3001};
  int added;
  uint32_t ia = rec_sites_intern(s, rec_stack_hash(a, 3), a, 3, &added);
  assert_int_equal(ia, 1);
  assert_true(added);
  uint32_t ib = rec_sites_intern(s, rec_stack_hash(b, 3), b, 3, &added);
  assert_int_equal(ib, 2);
  assert_true(added);
  assert_int_equal(rec_sites_intern(s, rec_stack_hash(a, 3), a, 3, &added), 1);
  assert_false(added);
  /* Same frames, shorter: another stack. */
  assert_int_equal(rec_sites_intern(s, rec_stack_hash(a, 2), a, 2, &added), 3);
  /* A forced hash collision still compares the frames. */
  assert_int_equal(rec_sites_intern(s, 77, a, 3, &added), 4);
  assert_int_equal(rec_sites_intern(s, 77, b, 3, &added), 5);
  assert_int_equal(rec_sites_intern(s, 77, a, 3, &added), 4);
  assert_false(added);
  uint32_t d;
  const uint64_t *f = rec_sites_get(s, 2, &d);
  assert_non_null(f);
  assert_int_equal(d, 3);
  assert_int_equal(f[2], 0x3001);
  assert_null(rec_sites_get(s, 99, &d));
  assert_int_equal(rec_sites_count(s), 5);
  rec_sites_free(s);
}

static void test_grow_and_cap(void **state) {
  (void)state;
  rec_sites_t *s;
  assert_int_equal(rec_sites_create(&s, 5000), 0);
  int added;
  for (uint64_t i = 0; i < 6000; i++) {
    uint64_t f[2] = {i, i * 7};
    uint32_t id = rec_sites_intern(s, rec_stack_hash(f, 2), f, 2, &added);
    if (i < 5000) {
      assert_int_equal(id, i + 1);
    } else {
      assert_int_equal(id, 0); /* full: unknown site */
    }
  }
  for (uint64_t i = 0; i < 5000; i += 97) {
    uint64_t f[2] = {i, i * 7};
    assert_int_equal(rec_sites_intern(s, rec_stack_hash(f, 2), f, 2, &added),
                     i + 1);
  }
  rec_sites_free(s);
  rec_sites_free(NULL);
}

static void test_cache(void **state) {
  (void)state;
  static rec_site_cache_t c; /* zeroed */
  assert_int_equal(rec_cache_get(&c, 0x1234), 0);
  rec_cache_put(&c, 0x1234, 9);
  assert_int_equal(rec_cache_get(&c, 0x1234), 9);
  assert_int_equal(rec_cache_get(&c, 0x1235), 0);
  assert_int_not_equal(rec_stack_hash(NULL, 0), 0);
}

/* A stand-in for operator new: its frame must be skipped. */
static void *fake_ret;
__attribute__((noinline)) static uint32_t fake_new(uint64_t *frames,
                                                   rec_skip_t *skip) {
  fake_ret = __builtin_return_address(0);
  uint32_t n = rec_capture(frames, 4, skip);
  __asm__ volatile("" ::: "memory");
  return n;
}

static void *user_ret;
__attribute__((noinline)) static uint32_t user_code(uint64_t *frames,
                                                    rec_skip_t *skip) {
  user_ret = __builtin_return_address(0);
  uint32_t n = fake_new(frames, skip);
  __asm__ volatile("" ::: "memory");
  return n;
}

static void test_capture_skips(void **state) {
  (void)state;
  rec_unwind_init();
  /* Without skips: some frames of the recorder, then fake_new's frame,
   * then user_code's (fake_ret), then the test's (user_ret). */
  uint64_t all[8];
  rec_skip_t none = {0};
  uint32_t n = user_code(all, &none);
  uint32_t k = 0;
  while (k < n && all[k] != (uint64_t)(uintptr_t)fake_ret) k++;
  assert_true(k >= 1 && k + 1 < n);
  assert_int_equal(all[k + 1], (uint64_t)(uintptr_t)user_ret);
  /* Skip everything above user_code: the recorder and "operator new". */
  rec_skip_t skip = {0};
  for (uint32_t i = 0; i < k; i++)
    assert_int_equal(rec_skip_add(&skip, all[i], all[i] + 1), 0);
  uint64_t frames[4];
  n = user_code(frames, &skip);
  assert_true(n >= 2);
  assert_int_equal(frames[0], (uint64_t)(uintptr_t)fake_ret);
  assert_int_equal(frames[1], (uint64_t)(uintptr_t)user_ret);
  /* C++ operators are skipped when a C++ runtime is loaded (under ASan it
   * is: the sanitizer runtime pulls libstdc++ in), and none is invented
   * when it is not; the ranges already there stay. */
  void *op_new = dlsym(RTLD_DEFAULT, "_Znwm");
  int added = rec_skip_add_cxx_operators(&skip);
  if (op_new) {
    assert_true(added > 0);
    assert_true(rec_skip_has(&skip, (uint64_t)(uintptr_t)op_new));
  } else {
    assert_int_equal(added, 0);
  }
  assert_true(rec_skip_has(&skip, all[0]));
  assert_false(rec_skip_has(&skip, frames[0]));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dedup),
      cmocka_unit_test(test_grow_and_cap),
      cmocka_unit_test(test_cache),
      cmocka_unit_test(test_capture_skips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
