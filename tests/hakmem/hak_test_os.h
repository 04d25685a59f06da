/* hak_test_os.h: a counting, faultable OS table for the hakmem tests. The
 * calls are real (blocks are usable); each one is counted, and mmap can be
 * made to fail. */
#ifndef HAK_TEST_OS_H
#define HAK_TEST_OS_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hak_internal.h"

typedef struct test_os {
  unsigned mmaps, munmaps, madvises, dontneed, madv_free, hugepage;
  unsigned mallocs, frees;
  int fail_mmap;
  size_t mapped; /* bytes currently mapped through the table */
} test_os_t;

static void *t_mmap(void *ctx, size_t len) {
  test_os_t *t = ctx;
  t->mmaps++;
  if (t->fail_mmap) return NULL;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) return NULL;
  t->mapped += len;
  return p;
}
static int t_munmap(void *ctx, void *p, size_t len) {
  test_os_t *t = ctx;
  t->munmaps++;
  t->mapped -= len;
  return munmap(p, len);
}
static int t_madvise(void *ctx, void *p, size_t len, int advice) {
  test_os_t *t = ctx;
  (void)p;
  (void)len;
  t->madvises++;
  t->dontneed += advice == HAK_MADV_DONTNEED;
  t->madv_free += advice == HAK_MADV_FREE;
  t->hugepage += advice == HAK_MADV_HUGEPAGE;
  return 0;
}
static void *t_malloc(void *ctx, size_t n) {
  ((test_os_t *)ctx)->mallocs++;
  return malloc(n);
}
static void t_free(void *ctx, void *p) {
  ((test_os_t *)ctx)->frees++;
  free(p);
}

static inline hak_os_t test_os_table(test_os_t *t) {
  memset(t, 0, sizeof *t);
  return (hak_os_t){t_mmap, t_munmap, t_madvise, t_malloc, t_free, t};
}

/* A config with the fixed 256 KiB threshold and no THP noise. */
/* A core on the counting table t with config c. Uses cmocka's assertions:
 * include <cmocka.h> before this header. */
static inline hak_t *test_hak(test_os_t *t, hak_config_t *c) {
  hak_os_t os = test_os_table(t);
  hak_t *h = NULL;
  assert_int_equal(hak_create(&h, c, &os, NULL), 0);
  return h;
}

static inline void test_config(hak_config_t *c) {
  hak_config_init(c, HAK_MODE_BALANCED);
  hak_config_set(c, "policy", "static");
  hak_config_set(c, "thp", "off");
}

#endif
