/* test_rec_modules.c: unit tests of recorder/rec_modules.c: the module
 * map from dl_iterate_phdr, build ids, dlopen/dlclose through merges. */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "recorder.h"

typedef struct seen {
  int added, unloaded;
  char last[256];
} seen_t;

static int cb(void *ctx, const trc_module_t *m) {
  seen_t *s = ctx;
  if (m->unload_time)
    s->unloaded++;
  else
    s->added++;
  snprintf(s->last, sizeof s->last, "%s", m->path);
  return 0;
}

static void test_map(void **state) {
  (void)state;
  rec_modules_t *m;
  assert_int_equal(rec_modules_create(&m), 0);
  rec_modsnap_t *s = rec_modsnap_take();
  assert_non_null(s);
  seen_t seen = {0};
  assert_int_equal(rec_modules_merge(m, s, 10, cb, &seen), 0);
  rec_modsnap_free(s);
  assert_true(seen.added >= 3); /* the test, libc, ld.so at least */
  const trc_module_t *me = rec_modules_find(m, (uint64_t)(uintptr_t)test_map);
  assert_non_null(me);
  assert_non_null(strstr(me->path, "test_rec_modules"));
  assert_int_equal(me->id, 1);
  assert_true(me->build_id_len >= 16); /* a GNU build id (sha1: 20) */
  /* Not memcpy: sanitizers interpose it. */
  const trc_module_t *libc =
      rec_modules_find(m, (uint64_t)(uintptr_t)gnu_get_libc_version);
  assert_non_null(libc);
  assert_non_null(strstr(libc->path, "libc"));

  /* Nothing changed: a second merge reports nothing. */
  seen_t again = {0};
  s = rec_modsnap_take();
  assert_int_equal(rec_modules_merge(m, s, 20, cb, &again), 0);
  rec_modsnap_free(s);
  assert_int_equal(again.added + again.unloaded, 0);

  /* dlopen: one new module, with a new id; dlclose: unloaded. */
  uint64_t a0, s0, a1, s1;
  rec_modules_generation(&a0, &s0);
  void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    rec_modules_free(m);
    skip();
  }
  rec_modules_generation(&a1, &s1);
  assert_true(a1 > a0);
  seen_t dl = {0};
  s = rec_modsnap_take();
  assert_int_equal(rec_modules_merge(m, s, 30, cb, &dl), 0);
  rec_modsnap_free(s);
  assert_true(dl.added >= 1);
  assert_non_null(strstr(dl.last, "libz"));
  size_t n = rec_modules_count(m);
  dlclose(h);
  seen_t cl = {0};
  s = rec_modsnap_take();
  assert_int_equal(rec_modules_merge(m, s, 40, cb, &cl), 0);
  rec_modsnap_free(s);
  assert_true(cl.unloaded >= 1);
  assert_int_equal(rec_modules_count(m), n); /* kept, marked unloaded */
  int found = 0;
  for (size_t i = 0; i < n; i++) {
    const trc_module_t *x = rec_modules_at(m, i);
    /* Unloaded at 40, unless the loader kept it mapped (sanitizer
     * runtimes may): then the entry is still the loaded one. */
    if (strstr(x->path, "libz") &&
        (x->unload_time == 40 || rec_modules_find(m, x->lo) == x))
      found = 1;
  }
  assert_true(found);
  rec_modules_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_map)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
