/* rpl_be_null.c: a bump allocator that never frees, to measure the harness
 * itself (the loop, the slot table, the timer). Address space is reserved
 * once (MAP_NORESERVE) and only touched pages cost memory, so use it with
 * --touch none on long traces. realloc copies (it knows the old size from
 * the harness), so the contents test holds for it too. */
#include <string.h>
#include <sys/mman.h>

#include "rpl_internal.h"

#define NULL_RESERVE (1ull << 40) /* 1 TiB of address space */

typedef struct null_be {
  uint8_t *base, *cur, *end;
} null_be_t;

static int null_available(char *why, size_t len) { return 0; }

static int null_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                     size_t len) {
  static null_be_t st; /* one run per process */
  void *p = mmap(NULL, NULL_RESERVE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    strncpy(why, "cannot reserve address space", len - 1);
    return HK_E_NOMEM;
  }
  st.base = st.cur = p;
  st.end = st.base + NULL_RESERVE;
  *ctx = &st;
  return 0;
}

/* About 2 ns: an add, a compare, a mask. */
static inline void *bump(null_be_t *b, size_t align, size_t size) {
  uintptr_t a = ((uintptr_t)b->cur + align - 1) & ~(uintptr_t)(align - 1);
  if (HK_UNLIKELY(size > (size_t)(b->end - (uint8_t *)a))) return NULL;
  b->cur = (uint8_t *)a + (size ? size : 1);
  return (void *)a;
}

static void *null_malloc(void *ctx, size_t size, unsigned thread, uint32_t caller) {
  return bump(ctx, 16, size);
}
static void *null_calloc(void *ctx, size_t size, unsigned thread, uint32_t caller) {
  return bump(ctx, 16, size); /* fresh anonymous memory is zero */
}
static void *null_realloc(void *ctx, void *p, size_t old, size_t size,
                          unsigned thread, uint32_t caller) {
  if (p && size <= old) return p;
  void *q = bump(ctx, 16, size);
  if (q && p) memcpy(q, p, old);
  return q;
}
static void null_free(void *ctx, void *p, size_t size, unsigned thread, uint32_t caller) {}
static void *null_aligned(void *ctx, size_t align, size_t size,
                          unsigned thread, uint32_t caller) {
  return bump(ctx, align < 16 ? 16 : align, size);
}

static void null_stats(void *ctx, rpl_be_stats_t *st) {
  strcpy(st->version, "null bump allocator");
}

static void null_release(void *ctx) {
  null_be_t *b = ctx;
  if (b && b->base) munmap(b->base, NULL_RESERVE);
}

const rpl_backend_t rpl_be_null = {
    .name = "null",
    .summary = "bump allocator that never frees: measures the harness",
    .available = null_available,
    .init = null_init,
    .malloc = null_malloc,
    .calloc = null_calloc,
    .realloc = null_realloc,
    .free = null_free,
    .aligned = null_aligned,
    .stats = null_stats,
    .release = null_release,
};
