/* hak_os.c: the default OS table: the real mmap, munmap, madvise and the
 * libc malloc/free behind the MALLOC method. Tests and the replayer pass
 * counting or faulting tables to hak_create() instead. */
#include <stdlib.h>
#include <sys/mman.h>

#include "hak_internal.h"

static void *os_mmap(void *ctx, size_t len) {
  (void)ctx;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static int os_munmap(void *ctx, void *p, size_t len) {
  (void)ctx;
  return munmap(p, len);
}

static int os_madvise(void *ctx, void *p, size_t len, int advice) {
  (void)ctx;
  int a = MADV_DONTNEED;
  if (advice == HAK_MADV_FREE) {
#ifdef MADV_FREE
    a = MADV_FREE;
#endif
  } else if (advice == HAK_MADV_HUGEPAGE) {
#ifdef MADV_HUGEPAGE
    a = MADV_HUGEPAGE;
#else
    return 0;
#endif
  }
  return madvise(p, len, a);
}

static void *os_malloc(void *ctx, size_t n) {
  (void)ctx;
  return malloc(n);
}

static void os_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

static const hak_os_t default_os = {os_mmap, os_munmap, os_madvise, os_malloc,
                                    os_free, NULL};

const hak_os_t *hak_os_default(void) { return &default_os; }
