/* hak_bigcache.c: the per-site cache of large MMAP blocks (Phase 6.11
 * form): a row per site slot, a slot per size class (512 KiB, 1, 2, 3, 4,
 * 6, 8, 16 MiB). A row holds at most bigcache_ways blocks; a put into a
 * full row evicts the row's least-frequently-hit block into the madvise
 * batch (hakmem's bug was to free() it). Lookup budget: a hash already
 * computed, one comparison chain, one slot read: tens of ns. */
#include "hak_internal.h"

const size_t hak_class_size[HAK_CLASSES] = {
    512u << 10, 1u << 20, 2u << 20, 3u << 20,
    4u << 20,   6u << 20, 8u << 20, 16u << 20};

int hak_class_of(size_t size, size_t min_size) {
  if (size < min_size) return -1;
  /* not powers of two: a chain of comparisons, smallest first */
  if (size <= (512u << 10)) return 0;
  if (size <= (1u << 20)) return 1;
  if (size <= (2u << 20)) return 2;
  if (size <= (3u << 20)) return 3;
  if (size <= (4u << 20)) return 4;
  if (size <= (6u << 20)) return 5;
  if (size <= (8u << 20)) return 6;
  if (size <= (16u << 20)) return 7;
  return -1;
}

static bc_row_t *row_of(hak_t *h, unsigned slot) {
  return &h->bc[slot % h->cfg.bigcache_sites];
}

void *hak_bc_get(hak_t *h, unsigned slot, int cls, int *warm,
                 uint64_t *pages) {
  bc_row_t *r = row_of(h, slot);
  bc_slot_t *s = &r->slot[cls];
  hak_site_stats_t *ss = &h->st.sites[slot];
  if (!s->base) {
    h->st.cache_misses++;
    ss->misses[cls]++;
    return NULL;
  }
  void *b = s->base;
  *warm = s->warm;
  *pages = s->pages;
  h->st.cached_bytes -= s->len;
  s->base = NULL;
  s->freq++;
  r->used--;
  h->st.cache_hits++;
  ss->hits[cls]++;
  return b;
}

int hak_bc_put(hak_t *h, unsigned slot, int cls, void *base, size_t len,
               int warm, uint64_t pages, hak_owner_t owner) {
  bc_row_t *r = row_of(h, slot);
  bc_slot_t *s = &r->slot[cls];
  if (s->base) { /* one block per (site, class): keep the one we have */
    h->st.cache_refused++;
    return 0;
  }
  if (r->used >= h->cfg.bigcache_ways) {
    int victim = -1;
    for (int c = 0; c < HAK_CLASSES; c++) {
      if (!r->slot[c].base) continue;
      if (victim < 0 || r->slot[c].freq < r->slot[victim].freq) victim = c;
    }
    if (victim < 0) { /* ways == 0: caching disabled in effect */
      h->st.cache_refused++;
      return 0;
    }
    bc_slot_t *v = &r->slot[victim];
    h->st.cached_bytes -= v->len;
    h->st.cache_evictions++;
    h->st.sites[slot].evictions[victim]++;
    hak_batch_add(h, v->base, v->len, v->pages,
                  (hak_owner_t){v->site, v->arm});
    v->base = NULL;
    v->freq = 0;
    r->used--;
  }
  s->base = base;
  s->len = len;
  s->warm = (uint8_t)warm;
  s->pages = pages;
  s->site = owner.site;
  s->arm = (int8_t)owner.arm;
  r->used++;
  h->st.cached_bytes += len;
  h->st.cache_puts++;
  h->st.sites[slot].puts[cls]++;
  return 1;
}

void hak_bc_drain(hak_t *h) {
  for (unsigned i = 0; i < HAK_SITES; i++)
    for (int c = 0; c < HAK_CLASSES; c++) {
      bc_slot_t *s = &h->bc[i].slot[c];
      if (!s->base) continue;
      hak_sys_munmap(h, s->base, s->len, s->pages);
      h->st.cached_bytes -= s->len;
      s->base = NULL;
    }
  for (unsigned i = 0; i < HAK_SITES; i++) h->bc[i].used = 0;
}
