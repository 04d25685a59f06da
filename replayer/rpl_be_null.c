/* rpl_be_null.c: the cheapest allocator that reuses memory, to measure the
 * harness itself (the loop, the slot table, the timer). Size classes (16 B
 * steps to 1 KiB, then four per power of two), each a LIFO free list linked
 * through the freed blocks' first word, over a bump pointer; no splitting,
 * no coalescing (a block freed at the bump pointer gives its bytes back).
 * Blocks aligned beyond 16 bytes come from a second arena whose free lists
 * are also keyed by the address's alignment, so aligned ops reuse too.
 * Address space is reserved once (PROT_NONE) and made writable as the bump
 * pointers reach it, so a memory cap (RLIMIT_DATA) counts the high-water
 * marks of the arenas, not the reservation. realloc copies (it knows the
 * old size from the harness), so the contents test holds for it too. */
#include <string.h>
#include <sys/mman.h>

#include "rpl_internal.h"

#define NULL_RESERVE (1ull << 40) /* 1 TiB of address space, at most */
#define NULL_RESERVE_MIN (1ull << 30) /* halved down to this, at least */
#define NULL_COMMIT (64ull << 20)  /* made writable this much at a time */
#define SMALL_MAX 1024             /* 16-byte classes up to here */
/* 64 small classes and a zero-size one; four per power of two from 1 KiB
 * up to NULL_RESERVE (the largest is 184); the last list stays empty: it is
 * where sizes no reservation can hold go, so the bump refuses them. */
#define N_CLASS 186
/* The aligned arena's lists per class: addresses aligned to 2^5 .. 2^20,
 * and 2^21 or more (checked when taken). */
#define AL_MIN_LG 5
#define AL_KEYS 17

/* A bump pointer over part of the reservation. */
typedef struct arena {
  uint8_t *cur, *end, *top; /* end: the writable part ends here */
  uint8_t *fresh;           /* at or above max(fresh, cur): never handed out */
} arena_t;

typedef struct null_be {
  arena_t m;             /* every block not aligned beyond 16 bytes */
  arena_t a;             /* blocks aligned beyond 16; starts at the middle */
  uint8_t *base;
  uintptr_t size;        /* of the reservation */
  void *head[N_CLASS];   /* free blocks of each class, last freed first */
  void *ahead[N_CLASS][AL_KEYS]; /* the aligned arena's, by alignment */
} null_be_t;

static int null_available(char *why, size_t len) { return 0; }

static int null_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                     size_t len) {
  static null_be_t st; /* one run at a time per process (fuzz_replay: many) */
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
  memset(&st, 0, sizeof st);
  st.base = p;
  st.size = size;
  st.m.cur = st.m.end = st.m.fresh = p;
  st.m.top = st.a.cur = st.a.end = st.a.fresh = st.base + size / 2;
  st.a.top = st.base + size;
  *ctx = &st;
  return 0;
}

/* The class of a block of size bytes and the bytes every block of it has
 * (*cs). Small sizes: an add and a shift; larger: a count of leading zeros
 * and two shifts. Contract: the same size always gives the same class, and
 * a size never exceeds its class's bytes. */
HK_FORCE_INLINE size_t class_large(size_t s, size_t *cs) {
  if (HK_UNLIKELY(s > NULL_RESERVE)) {
    *cs = s; /* more than any reservation: the bump refuses it */
    return N_CLASS - 1;
  }
  unsigned p = 63u - (unsigned)__builtin_clzll(s - 1), sh = p - 2;
  size_t q = (s - 1) >> sh; /* 4..7: the quarter of [2^p, 2^(p+1)) */
  *cs = (q + 1) << sh;
  return SMALL_MAX / 16 + (p - 10) * 4 + q - 3;
}

HK_FORCE_INLINE size_t class_of(size_t s, size_t *cs) {
  if (HK_LIKELY(s <= SMALL_MAX)) {
    size_t c = (s + 15) >> 4;
    *cs = (c + !c) << 4; /* class 0 (size 0) holds 16 bytes too */
    return c;
  }
  return class_large(s, cs);
}

/* Makes the arena writable up to at least want; 0 or -1 (its part of the
 * reservation is used up, or the memory cap refused it). */
static HK_NOINLINE int commit(arena_t *r, uintptr_t want) {
  uintptr_t top = (uintptr_t)r->top;
  if (want > top) return -1;
  uintptr_t to = (want + NULL_COMMIT - 1) & ~(uintptr_t)(NULL_COMMIT - 1);
  if (to > top) to = top;
  if (mprotect(r->end, to - (uintptr_t)r->end, PROT_READ | PROT_WRITE)) {
    /* Near the cap: no more than the pages this block needs. */
    to = (want + 4095) & ~(uintptr_t)4095;
    if (mprotect(r->end, to - (uintptr_t)r->end, PROT_READ | PROT_WRITE))
      return -1;
  }
  r->end = (uint8_t *)to;
  return 0;
}

/* About 2 ns: an add, a compare, a mask; growing the writable part is
 * the out-of-line exception. size is a class's bytes (a multiple of 16). */
static inline void *bump(arena_t *r, size_t align, size_t size) {
  uintptr_t a = ((uintptr_t)r->cur + align - 1) & ~(uintptr_t)(align - 1);
  uintptr_t e = a + size;
  if (HK_UNLIKELY(e > (uintptr_t)r->end || e <= a || a < (uintptr_t)r->cur) &&
      (e <= a || a < (uintptr_t)r->cur || commit(r, e)))
    return NULL; /* wrapped around, or beyond what can be made writable */
  r->cur = (uint8_t *)e;
  return (void *)a;
}

/* Block p of cs bytes ends at the arena's bump pointer: lower it (a
 * malloc/free loop then never touches a list). 1 if it did. */
HK_FORCE_INLINE int retract(arena_t *r, uint8_t *p, size_t cs) {
  if (p + cs != r->cur) return 0;
  if (r->cur > r->fresh) r->fresh = r->cur; /* what lies below is used */
  r->cur = p;
  return 1;
}

HK_FORCE_INLINE void push(void **head, void *p) {
  *(void **)p = *head;
  *head = p;
}

/* A block of class c (cs bytes): the last one freed, else a new one. The
 * common case is a load, a dependent load and a store. */
HK_FORCE_INLINE void *take(null_be_t *b, size_t c, size_t cs) {
  void *p = b->head[c];
  if (HK_LIKELY(p != NULL)) {
    b->head[c] = *(void **)p;
    return p;
  }
  return bump(&b->m, 16, cs);
}

/* A block of the aligned arena back: on the list of its class and of the
 * alignment its address has (16 only: the plain list, malloc reuses it). */
static HK_NOINLINE void give_aligned(null_be_t *b, uint8_t *p, size_t c,
                                     size_t cs) {
  if (retract(&b->a, p, cs)) return;
  unsigned tz = (unsigned)__builtin_ctzll((uintptr_t)p);
  if (tz < AL_MIN_LG) {
    push(&b->head[c], p);
    return;
  }
  unsigned k = tz - AL_MIN_LG;
  push(&b->ahead[c][k < AL_KEYS ? k : AL_KEYS - 1], p);
}

/* Gives block p of size bytes back. Cost: the class, a compare for the
 * arena, a compare for the bump pointer, a push. */
HK_FORCE_INLINE void give(null_be_t *b, void *p, size_t size) {
  size_t cs, c = class_of(size, &cs);
  if (HK_UNLIKELY((uint8_t *)p >= b->m.top)) {
    give_aligned(b, p, c, cs);
    return;
  }
  if (!retract(&b->m, p, cs)) push(&b->head[c], p);
}

static void *null_malloc(void *ctx, size_t size, unsigned thread,
                         uint32_t caller) {
  size_t cs, c = class_of(size, &cs);
  return take(ctx, c, cs);
}

static void *null_calloc(void *ctx, size_t size, unsigned thread,
                         uint32_t caller) {
  null_be_t *b = ctx;
  size_t cs, c = class_of(size, &cs);
  uint8_t *p = b->head[c];
  if (p) { /* a reused block holds what its last owner wrote */
    b->head[c] = *(void **)p;
    return memset(p, 0, size);
  }
  /* Fresh anonymous memory is zero; what the bump pointer hands out again
   * below its high-water mark is not. */
  p = bump(&b->m, 16, cs);
  if (p && p < b->m.fresh)
    memset(p, 0, (size_t)(b->m.fresh - p) < size ? (size_t)(b->m.fresh - p)
                                                   : size);
  return p;
}

/* Every live block holds exactly its class's bytes (a block shrunk in
 * place would be freed into a smaller class and its tail lost for good),
 * so realloc stays in place only within the class or at the bump pointer,
 * and otherwise moves. */
static void *null_realloc(void *ctx, void *p, size_t old, size_t size,
                          unsigned thread, uint32_t caller) {
  null_be_t *b = ctx;
  size_t cs, c = class_of(size, &cs);
  if (!p) return take(b, c, cs);
  size_t ocs;
  class_of(old, &ocs);
  if (cs == ocs) return p;
  arena_t *r = (uint8_t *)p >= b->m.top ? &b->a : &b->m;
  if ((uint8_t *)p + ocs == r->cur &&
      (cs < ocs || cs - ocs <= (size_t)(r->end - r->cur))) {
    if (r->cur > r->fresh) r->fresh = r->cur;
    r->cur = (uint8_t *)p + cs; /* the last block grows or shrinks */
    return p;
  }
  void *q = take(b, c, cs);
  if (q) {
    memcpy(q, p, old < size ? old : size);
    give(b, p, old);
  }
  return q;
}

static void null_free(void *ctx, void *p, size_t size, unsigned thread,
                      uint32_t caller) {
  if (p) give(ctx, p, size);
}

/* A new block of the aligned arena. The bump pointer skips a gap to reach
 * the alignment: the gap goes to the free lists cut into blocks of exact
 * class sizes (small classes are every multiple of 16; above 1 KiB the
 * largest class that fits, a handful of pieces), so it is not lost. */
static HK_NOINLINE void *bump_aligned(null_be_t *b, size_t align, size_t cs) {
  uint8_t *from = b->a.cur, *p = bump(&b->a, align, cs);
  if (!p) return NULL;
  for (size_t g = (size_t)(p - from); g;) {
    size_t k = g;
    if (g > SMALL_MAX) {
      unsigned lg = 63u - (unsigned)__builtin_clzll(g);
      k = (g >> (lg - 2)) << (lg - 2); /* 4..7 quarters: a class's bytes */
    }
    size_t kc, c = class_of(k, &kc);
    HK_ASSERT(kc == k);
    give_aligned(b, from, c, kc);
    from += k;
    g -= k;
  }
  return p;
}

/* align > 16: the first free block of the class aligned at least as
 * asked (its list, then those of larger alignments), else a new one. */
static void *null_aligned(void *ctx, size_t align, size_t size,
                          unsigned thread, uint32_t caller) {
  null_be_t *b = ctx;
  size_t cs, c = class_of(size, &cs);
  if (align <= 16) return take(b, c, cs);
  void **h = b->ahead[c];
  unsigned k = (unsigned)__builtin_ctzll(align) - AL_MIN_LG;
  for (k = k < AL_KEYS ? k : AL_KEYS - 1; k < AL_KEYS; k++) {
    void *p = h[k];
    if (p && !((uintptr_t)p & (align - 1))) {
      h[k] = *(void **)p;
      return p;
    }
  }
  return bump_aligned(b, align, cs);
}

static void null_stats(void *ctx, rpl_be_stats_t *st) {
  strcpy(st->version, "null size classes, LIFO free lists");
}

static void null_release(void *ctx) {
  null_be_t *b = ctx;
  if (b && b->base) munmap(b->base, b->size);
}

const rpl_backend_t rpl_be_null = {
    .name = "null",
    .summary = "size-class free lists over a bump pointer: measures the "
               "harness",
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
