/* hak_model.c: the residency half of hakmem's cost model: which pages of
 * a block fault when the program first writes them. Three pieces: a map
 * from hakmem's user pointers to what the model knows of each block; the
 * fault count of a fresh mapping (THP extents included); and a model of
 * glibc's malloc behind the MALLOC method (main arena, one thread): its
 * dynamic mmap threshold, its top chunk with brk growth and trimming, and
 * best-fit reuse of coalesced free chunks, on model offsets rather than
 * real addresses, so it is deterministic and costs no system call. The
 * model assumes the program writes every page it asks for (replay's
 * --touch pages or full). Validated by bench/bench_costmodel.sh. */
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "hak_internal.h"

/* ---- a u64 -> u64 map (open addressing, linear probing) ------------ */

static void *map_pages(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static inline uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return k;
}

static int map_grow(hak_map_t *m) {
  size_t cap = m->cap ? m->cap * 2 : 1024;
  hak_map_ent_t *e = map_pages(cap * sizeof *e);
  if (!e) return -1;
  hak_map_ent_t *old = m->e;
  size_t ocap = m->cap;
  m->e = e;
  m->cap = cap;
  m->n = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key) hak_map_put(m, old[i].key - 1, old[i].val);
  if (old) munmap(old, ocap * sizeof *old);
  return 0;
}

int hak_map_put(hak_map_t *m, uint64_t key, uint64_t val) {
  if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m)) return -1;
  size_t mask = m->cap - 1, i = mix(key) & mask;
  while (m->e[i].key && m->e[i].key != key + 1) i = (i + 1) & mask;
  if (!m->e[i].key) m->n++;
  m->e[i].key = key + 1; /* 0 marks an empty entry */
  m->e[i].val = val;
  return 0;
}

int hak_map_get(const hak_map_t *m, uint64_t key, uint64_t *val) {
  if (!m->cap) return 0;
  size_t mask = m->cap - 1, i = mix(key) & mask;
  while (m->e[i].key) {
    if (m->e[i].key == key + 1) {
      *val = m->e[i].val;
      return 1;
    }
    i = (i + 1) & mask;
  }
  return 0;
}

/* Removes key (backward-shift deletion keeps probe chains whole). */
int hak_map_del(hak_map_t *m, uint64_t key, uint64_t *val) {
  if (!m->cap) return 0;
  size_t mask = m->cap - 1, i = mix(key) & mask;
  while (m->e[i].key && m->e[i].key != key + 1) i = (i + 1) & mask;
  if (!m->e[i].key) return 0;
  if (val) *val = m->e[i].val;
  size_t j = i;
  for (;;) {
    m->e[i].key = 0;
    for (;;) {
      j = (j + 1) & mask;
      if (!m->e[j].key) {
        m->n--;
        return 1;
      }
      size_t home = mix(m->e[j].key - 1) & mask;
      /* j's entry may move to i if its home is not in (i, j] */
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
    }
    m->e[i] = m->e[j];
    i = j;
  }
}

void hak_map_release(hak_map_t *m) {
  if (m->e) munmap(m->e, m->cap * sizeof *m->e);
  memset(m, 0, sizeof *m);
}

/* ---- fresh mappings -------------------------------------------------- */

/* Faults of writing the first `touched` bytes of a fresh mapping of len
 * bytes. With transparent huge pages (MADV_HUGEPAGE given and the
 * calibration says the kernel honours it) every 2 MiB extent lying whole
 * inside the mapping faults once. Linux aligns a mapping to 2 MiB only
 * when its length is a multiple of 2 MiB; otherwise the extents inside
 * are one fewer than the length holds (measured: 4 MiB + 4 KiB gives one
 * huge extent and 513 small pages). The extents come first: the model
 * places them at the start of the touched part. */
uint64_t hak_model_fresh_faults(const hak_t *h, size_t len, size_t touched,
                                int huge) {
  uint64_t pages = page_round(touched) / HAK_PAGE;
  if (!huge || !h->cfg.cost.thp_huge) return pages;
  const size_t X = 2u << 20;
  uint64_t ext = len / X;
  if (len % X && ext) ext--;
  uint64_t whole = touched / X; /* extents the touched part covers */
  if (ext > whole) ext = whole;
  return ext + pages - ext * (X / HAK_PAGE);
}

/* ---- the libc model -------------------------------------------------- */

#define LM_MIN 32u                 /* MINSIZE */
#define LM_CONSOLIDATE (64u << 10) /* FASTBIN_CONSOLIDATION_THRESHOLD */
#define LM_MMAP_MAX (32ull << 20)  /* DEFAULT_MMAP_THRESHOLD_MAX, 64-bit */

static unsigned bin_of(uint64_t size) {
  if (size < 1024) return (unsigned)(size >> 4); /* exact, 16-byte steps */
  unsigned lg = 63u - (unsigned)__builtin_clzll(size);
  unsigned b = 64 + (lg - 10) * 4 + (unsigned)((size >> (lg - 2)) & 3);
  return b < HAK_LM_BINS ? b : HAK_LM_BINS - 1;
}

static uint32_t chunk_new(hak_lm_t *m) {
  if (m->free_idx) {
    m->free_idx--;
    return m->recycle[m->free_idx];
  }
  if (m->n_chunks == m->cap_chunks) {
    uint32_t cap = m->cap_chunks ? m->cap_chunks * 2 : 4096;
    hak_lm_chunk_t *c = map_pages((size_t)cap * sizeof *c);
    uint32_t *r = map_pages((size_t)cap * sizeof *r);
    if (!c || !r) {
      if (c) munmap(c, (size_t)cap * sizeof *c);
      if (r) munmap(r, (size_t)cap * sizeof *r);
      return 0;
    }
    if (m->chunks) {
      memcpy(c, m->chunks, (size_t)m->cap_chunks * sizeof *c);
      munmap(m->chunks, (size_t)m->cap_chunks * sizeof *c);
      memcpy(r, m->recycle, (size_t)m->cap_chunks * sizeof *r);
      munmap(m->recycle, (size_t)m->cap_chunks * sizeof *r);
    }
    m->chunks = c;
    m->recycle = r;
    m->cap_chunks = cap;
    if (m->n_chunks == 0) m->n_chunks = 1; /* index 0 means none */
  }
  return m->n_chunks++;
}

static void chunk_drop(hak_lm_t *m, uint32_t i) { m->recycle[m->free_idx++] = i; }

static void bin_insert(hak_lm_t *m, uint32_t i) {
  hak_lm_chunk_t *c = &m->chunks[i];
  unsigned b = bin_of(c->size);
  c->prev = 0;
  c->next = m->bins[b];
  if (c->next) m->chunks[c->next].prev = i;
  m->bins[b] = i;
  m->nonempty[b >> 6] |= 1ull << (b & 63);
  c->free = 1;
  hak_map_put(&m->by_off, c->off, i);
  hak_map_put(&m->by_end, c->off + c->size, i);
}

static void bin_remove(hak_lm_t *m, uint32_t i) {
  hak_lm_chunk_t *c = &m->chunks[i];
  unsigned b = bin_of(c->size);
  if (c->prev)
    m->chunks[c->prev].next = c->next;
  else
    m->bins[b] = c->next;
  if (c->next) m->chunks[c->next].prev = c->prev;
  if (!m->bins[b]) m->nonempty[b >> 6] &= ~(1ull << (b & 63));
  c->free = 0;
  hak_map_del(&m->by_off, c->off, NULL);
  hak_map_del(&m->by_end, c->off + c->size, NULL);
}

/* The best-fitting free chunk of at least size, 0 if none: the smallest
 * in the request's own bin, else the smallest of the next non-empty bin. */
static uint32_t best_fit(hak_lm_t *m, uint64_t size) {
  unsigned b = bin_of(size);
  for (;;) {
    unsigned w = b >> 6;
    if (w >= (HAK_LM_BINS + 63) / 64) return 0;
    uint64_t bits = m->nonempty[w] & (~0ull << (b & 63));
    if (!bits) {
      b = (w + 1) << 6;
      continue;
    }
    b = (w << 6) + (unsigned)__builtin_ctzll(bits);
    uint32_t best = 0;
    for (uint32_t i = m->bins[b]; i; i = m->chunks[i].next)
      if (m->chunks[i].size >= size &&
          (!best || m->chunks[i].size < m->chunks[best].size))
        best = i;
    if (best) return best;
    b++;
  }
}

/* Pages of [from, to) above the resident high-water mark fault; the mark
 * moves up to `to`. */
static uint64_t touch_heap(hak_lm_t *m, uint64_t from, uint64_t to) {
  uint64_t lo = from / HAK_PAGE, hi = (to + HAK_PAGE - 1) / HAK_PAGE;
  if (lo < m->hwm) lo = m->hwm;
  if (hi <= lo) return 0;
  m->hwm = hi;
  return hi - lo;
}

void hak_lm_init(hak_lm_t *m, const hak_cost_t *c) {
  memset(m, 0, sizeof *m);
  m->mmap_threshold = c->libc_mmap_threshold;
  m->trim_threshold = c->libc_trim_threshold;
  m->top_pad = c->libc_top_pad;
}

void hak_lm_release(hak_lm_t *m) {
  hak_map_release(&m->by_off);
  hak_map_release(&m->by_end);
  if (m->chunks) {
    munmap(m->chunks, (size_t)m->cap_chunks * sizeof *m->chunks);
    munmap(m->recycle, (size_t)m->cap_chunks * sizeof *m->recycle);
  }
  memset(m, 0, sizeof *m);
}

/* malloc(n): the chunk chosen and what it costs in faults and syscalls.
 * Returns the model chunk's handle (0: out of model memory, counted as a
 * fresh, untracked allocation). */
uint64_t hak_lm_malloc(hak_lm_t *m, size_t n, int real, hak_lm_effect_t *fx) {
  memset(fx, 0, sizeof *fx);
  uint64_t c = (n + 8 + 15) & ~15ull;
  if (c < LM_MIN) c = LM_MIN;
  uint32_t i = real == HAK_LM_MMAP ? 0 : best_fit(m, c);
  uint64_t top_size = m->brk_end - m->top;
  int model_mmap = !i && top_size < c + LM_MIN && c >= m->mmap_threshold;
  if (real == HAK_LM_HEAP && model_mmap) {
    /* glibc's threshold is above c: raised by frees the model never saw
     * (the process before hakmem started). Its trim threshold is then at
     * least twice that. */
    m->mmap_threshold = c + 16;
    if (m->trim_threshold < 2 * m->mmap_threshold)
      m->trim_threshold = 2 * m->mmap_threshold;
  }
  if (real == HAK_LM_MMAP && !(c >= m->mmap_threshold && top_size < c + LM_MIN)) {
    /* glibc mapped it: its threshold is at or below c, or its top chunk
     * was smaller than the model's */
    if (m->mmap_threshold > c) m->mmap_threshold = c;
  }
  if (i) {
    bin_remove(m, i);
    hak_lm_chunk_t *k = &m->chunks[i];
    if (k->size - c >= LM_MIN) { /* split: the remainder stays free */
      uint32_t r = chunk_new(m);
      k = &m->chunks[i];
      if (r) {
        m->chunks[r] = (hak_lm_chunk_t){.off = k->off + c, .size = k->size - c};
        bin_insert(m, r);
        k->size = c;
      }
    }
    fx->faults = touch_heap(m, k->off, k->off + 16 + n);
    return (uint64_t)i << 1;
  }
  if (real == HAK_LM_MMAP ||
      (real != HAK_LM_HEAP && top_size < c + LM_MIN && c >= m->mmap_threshold)) {
    /* sysmalloc maps the chunk on its own: every page is fresh */
    uint64_t len = page_round(c + 8);
    fx->mmaps = 1;
    fx->faults = page_round(16 + n) / HAK_PAGE;
    fx->resident = fx->faults;
    return (uint64_t)len << 1 | 1; /* odd handle: an mmapped chunk */
  }
  i = chunk_new(m);
  if (!i) return 0;
  if (top_size < c + LM_MIN) { /* grow the heap with brk */
    uint64_t need = c + LM_MIN - top_size + m->top_pad;
    m->brk_end += page_round(need);
    fx->brks = 1;
  }
  m->chunks[i] = (hak_lm_chunk_t){.off = m->top, .size = c};
  m->top += c;
  /* the top chunk's size field just past the block is written too */
  fx->faults = touch_heap(m, m->chunks[i].off, m->top + 16);
  return (uint64_t)i << 1;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LM_SANITIZED 1 /* a sanitizer's malloc replaces glibc's */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LM_SANITIZED 1
#endif
#endif

int hak_lm_real_method(const void *p) {
#if defined(__GLIBC__) && UINTPTR_MAX == 0xffffffffffffffffu && !defined(LM_SANITIZED)
  size_t u = malloc_usable_size((void *)(uintptr_t)p);
  return (u + 16) % HAK_PAGE == 0 ? HAK_LM_MMAP : HAK_LM_HEAP;
#else
  (void)p;
  return HAK_LM_UNKNOWN;
#endif
}

/* free(): coalescing, the dynamic threshold of mmapped chunks, trimming. */
void hak_lm_free(hak_lm_t *m, uint64_t handle, hak_lm_effect_t *fx) {
  memset(fx, 0, sizeof *fx);
  if (!handle) return;
  if (handle & 1) {
    uint64_t len = handle >> 1;
    fx->munmaps = 1;
    fx->released = len / HAK_PAGE;
    if (len > m->mmap_threshold && len <= LM_MMAP_MAX) {
      m->mmap_threshold = len; /* glibc's dynamic threshold */
      m->trim_threshold = 2 * len;
    }
    return;
  }
  uint32_t i = (uint32_t)(handle >> 1);
  hak_lm_chunk_t *k = &m->chunks[i];
  uint64_t v;
  if (hak_map_get(&m->by_end, k->off, &v)) { /* the free chunk before */
    uint32_t p = (uint32_t)v;
    bin_remove(m, p);
    m->chunks[p].size += m->chunks[i].size;
    chunk_drop(m, i);
    i = p;
    k = &m->chunks[i];
  }
  if (hak_map_get(&m->by_off, k->off + k->size, &v)) { /* the one after */
    uint32_t q = (uint32_t)v;
    bin_remove(m, q);
    k->size += m->chunks[q].size;
    chunk_drop(m, q);
  }
  uint64_t size = k->size;
  if (k->off + k->size == m->top) { /* merges into the top chunk */
    m->top = k->off;
    chunk_drop(m, i);
  } else {
    bin_insert(m, i);
  }
  if (size >= LM_CONSOLIDATE && m->brk_end - m->top >= m->trim_threshold) {
    /* systrim: give back all but top_pad, whole pages */
    uint64_t keep = m->top + LM_MIN + m->top_pad;
    uint64_t end = page_round(keep);
    if (end < m->brk_end) {
      uint64_t drop_lo = end / HAK_PAGE;
      if (m->hwm > drop_lo) {
        fx->released = m->hwm - drop_lo;
        m->hwm = drop_lo;
      }
      m->brk_end = end;
      fx->brks = 1;
    }
  }
}
