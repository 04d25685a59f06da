/* test_global.c: the global instance (hak_global.c): hak_init, the _at
 * wrappers, hak_shutdown, and the mutex under concurrent threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hakmem.h"

static void *worker(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  for (int i = 0; i < 2000; i++) {
    size_t sz = (size_t)1 << (4 + (i + id) % 18);
    char *p = hak_alloc_at(sz, 0x100 + id);
    if (!p) return (void *)1;
    p[0] = p[sz - 1] = (char)id;
    if (hak_usable_size_at(p) < sz) return (void *)1;
    hak_free_at(p, 0x100 + id);
  }
  return NULL;
}

static void test_global(void **state) {
  (void)state;
  assert_int_equal(hak_init(), 0);
  assert_int_equal(hak_init(), 0); /* idempotent */
  void *p = hak_alloc_at(100, HAK_SITE());
  char *q = hak_calloc_at(10, 10, HAK_SITE());
  assert_int_equal(q[99], 0);
  q = hak_realloc_at(q, 5000, HAK_SITE());
  void *a = hak_memalign_at(4096, 100, HAK_SITE());
  assert_int_equal((uintptr_t)a % 4096, 0);
  hak_free_at(p, 0);
  hak_free_at(q, 0);
  hak_free_at(a, 0);
  assert_int_equal(hak_stats(hak_global())->frees, 4); /* the realloc moved the block: one more */
  pthread_t th[4];
  for (uintptr_t i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)i), 0);
  for (int i = 0; i < 4; i++) {
    void *rc;
    pthread_join(th[i], &rc);
    assert_null(rc);
  }
  assert_int_equal(hak_stats(hak_global())->bad_frees, 0);
  assert_int_equal(hak_stats(hak_global())->allocs, 4 + 4 * 2000);
  hak_shutdown();
  assert_null(hak_global());
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_global)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
