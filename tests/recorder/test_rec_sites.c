/* test_rec_sites.c: unit tests of recorder/rec_sites.c and rec_unwind.c:
 * stack deduplication, the per-thread cache, capture with skipped frames,
 * the CFI walker against libunwind. */
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- the CFI walker against libunwind ------------------------------------
 * A known call chain: a function with a variable-size frame (its CFA is
 * rbp-based), libc's qsort (Debian's libc has no frame pointers: its
 * frames are rsp-based and use rbp as a register), a comparator and a
 * leaf built without frame pointers (-O2). Both walkers capture from the
 * leaf; the frames from the leaf's caller out must be the same, to the
 * end of the stack. */
static uint64_t wa[TRC_MAX_DEPTH], wb[TRC_MAX_DEPTH];
static int wna, wnb, wdone;
static void *vla_ret;

__attribute__((noinline)) static void capture_both(void) {
  wna = rec_capture_cfi(wa, TRC_MAX_DEPTH, NULL);
  wnb = (int)rec_capture_unw(wb, TRC_MAX_DEPTH, NULL);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static int by_value(const void *x, const void *y) {
  if (!wdone) {
    wdone = 1;
    capture_both();
  }
  int a = *(const int *)x, b = *(const int *)y;
  return (a > b) - (a < b);
}

__attribute__((noinline)) static int sort_in_vla(int n) {
  vla_ret = __builtin_return_address(0);
  int *v = __builtin_alloca((size_t)n * sizeof *v);
  for (int i = 0; i < n; i++) v[i] = n - i;
  qsort(v, (size_t)n, sizeof *v, by_value);
  __asm__ volatile("" : : "r"(v) : "memory");
  return v[0];
}

static int in_module(uint64_t a, const char *name) {
  Dl_info info;
  return dladdr((void *)(uintptr_t)a, &info) && info.dli_fname &&
         strstr(info.dli_fname, name);
}

static void test_cfi_matches_libunwind(void **state) {
  (void)state;
  rec_unwind_init();
  Dl_info qi;
  assert_true(dladdr((void *)(uintptr_t)qsort, &qi) && qi.dli_fname);
  const char *qsort_lib = strrchr(qi.dli_fname, '/');
  qsort_lib = qsort_lib ? qsort_lib + 1 : qi.dli_fname;
  assert_true(strstr(qsort_lib, ".so") != NULL); /* a shared library */
  for (int round = 0; round < 2; round++) { /* rules read, then cached */
    wdone = 0;
    assert_int_equal(sort_in_vla(64 + round), 1);
    /* The walker did it itself (it declines nothing on this chain). */
    assert_true(wna >= 6);
    /* wa[0] is in capture_both after the first call; wb[0] is inside
     * rec_capture_unw and wb[1] in capture_both after the second call. */
    assert_int_equal(wna - 1, wnb - 2);
    for (int i = 1; i < wna; i++) assert_int_equal(wa[i], wb[i + 1]);
    int vla = 0, libc = 0;
    for (int i = 0; i < wna; i++) {
      if (wa[i] == (uint64_t)(uintptr_t)vla_ret) vla = 1;
      /* qsort's own library: libc, or under a sanitizer its interceptor's
       * (libasan, libtsan sort themselves), built without frame pointers
       * too. */
      if (!vla && in_module(wa[i], qsort_lib)) libc = 1;
    }
    assert_true(vla); /* past the variable-size frame */
    assert_true(libc); /* through qsort's frames */
    /* A shorter capture is the same frames cut. */
    uint64_t cut[3];
    wdone = 0;
    assert_int_equal(rec_capture_cfi(cut, 3, NULL), 3);
  }
}

/* A signal frame is declined by the walker; rec_capture then takes
 * libunwind's walk, which crosses it to the code the signal came in. */
static uint64_t sig_frames[TRC_MAX_DEPTH];
static int sig_cfi;
static uint32_t sig_n;
static void *raiser_ret;

static void on_usr1(int sig) {
  (void)sig;
  uint64_t f[TRC_MAX_DEPTH];
  sig_cfi = rec_capture_cfi(f, TRC_MAX_DEPTH, NULL);
  sig_n = rec_capture(sig_frames, TRC_MAX_DEPTH, NULL);
}

__attribute__((noinline)) static void raiser(void) {
  raiser_ret = __builtin_return_address(0);
  raise(SIGUSR1);
  __asm__ volatile("" ::: "memory");
}

static void test_cfi_declines_signal_frame(void **state) {
  (void)state;
  rec_unwind_init();
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
  raiser();
  sigaction(SIGUSR1, &old, NULL);
  assert_int_equal(sig_cfi, -1);
  int found = 0;
  for (uint32_t i = 0; i < sig_n; i++)
    if (sig_frames[i] == (uint64_t)(uintptr_t)raiser_ret) found = 1;
  assert_true(found);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dedup),
      cmocka_unit_test(test_grow_and_cap),
      cmocka_unit_test(test_cache),
      cmocka_unit_test(test_capture_skips),
      cmocka_unit_test(test_cfi_matches_libunwind),
      cmocka_unit_test(test_cfi_declines_signal_frame),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
