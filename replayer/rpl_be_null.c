/* rpl_be_null.c: a bump allocator that never frees, to measure the harness
 * itself (the loop, the slot table, the timer). Address space is reserved
 * once (PROT_NONE) and made writable as the bump pointer reaches it, so a
 * memory cap (RLIMIT_DATA) counts what was handed out, not the reservation;
 * only touched pages cost memory, so use it with --touch none on long
 * traces. realloc copies (it knows the old size from the harness), so the
 * contents test holds for it too. */
#include <string.h>
#include <sys/mman.h>

#include "rpl_internal.h"

#define NULL_RESERVE (1ull << 40) /* 1 TiB of address space, at most */
#define NULL_RESERVE_MIN (1ull << 30) /* halved down to this, at least */
#define NULL_COMMIT (64ull << 20)  /* made writable this much at a time */

typedef struct null_be {
  uint8_t *base, *cur, *end; /* end: the writable part ends here */
  uintptr_t size;            /* of the reservation */
} null_be_t;

static int null_available(char *why, size_t len) { return 0; }

static int null_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                     size_t len) {
  static null_be_t st; /* one run per process */
  /* A sanitizer's shadow, or a tight RLIMIT_AS, can leave no 1 TiB hole:
   * halve the reservation until one fits (the run fails only when the
   * trace needs more than what was reserved). */
  uintptr_t size = NULL_RESERVE;
  void *p;
  while ((p = mmap(NULL, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) ==
             MAP_FAILED &&
         size > NULL_RESERVE_MIN)
    size /= 2;
  if (p == MAP_FAILED) {
    strncpy(why, "cannot reserve address space", len - 1);
    return HK_E_NOMEM;
  }
  st.base = st.cur = st.end = p;
  st.size = size;
  *ctx = &st;
  return 0;
}

/* Makes the reservation writable up to at least want; 0 or -1 (the
 * reservation is used up, or the memory cap refused it). */
static HK_NOINLINE int commit(null_be_t *b, uintptr_t want) {
  uintptr_t top = (uintptr_t)b->base + b->size;
  if (want > top) return -1;
  uintptr_t to = (want + NULL_COMMIT - 1) & ~(uintptr_t)(NULL_COMMIT - 1);
  if (to > top) to = top;
  if (mprotect(b->end, to - (uintptr_t)b->end, PROT_READ | PROT_WRITE)) {
    /* Near the cap: no more than the pages this block needs. */
    to = (want + 4095) & ~(uintptr_t)4095;
    if (mprotect(b->end, to - (uintptr_t)b->end, PROT_READ | PROT_WRITE))
      return -1;
  }
  b->end = (uint8_t *)to;
  return 0;
}

/* About 2 ns: an add, a compare, a mask; growing the writable part is
 * the out-of-line exception. */
static inline void *bump(null_be_t *b, size_t align, size_t size) {
  uintptr_t a = ((uintptr_t)b->cur + align - 1) & ~(uintptr_t)(align - 1);
  uintptr_t e = a + (size ? size : 1);
  if (HK_UNLIKELY(e > (uintptr_t)b->end || e <= a || a < (uintptr_t)b->cur) &&
      (e <= a || a < (uintptr_t)b->cur || commit(b, e)))
    return NULL; /* wrapped around, or beyond what can be made writable */
  b->cur = (uint8_t *)e;
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
  if (b && b->base) munmap(b->base, b->size);
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
