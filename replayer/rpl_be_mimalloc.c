/* rpl_be_mimalloc.c: mimalloc through its own API (mi_heap_*), loaded with
 * dlopen in the replaying child so that it never replaces the process's
 * malloc. One mi_heap_t per recorded thread, created on first use. */
#include <stdio.h>
#include <string.h>

#include "rpl_internal.h"

typedef struct mi_heap_s mi_heap_t;

typedef struct mim_be {
  void *lib;
  mi_heap_t *(*heap_new)(void);
  void *(*heap_malloc)(mi_heap_t *, size_t);
  void *(*heap_zalloc)(mi_heap_t *, size_t);
  void *(*heap_realloc)(mi_heap_t *, void *, size_t);
  void *(*heap_malloc_aligned)(mi_heap_t *, size_t, size_t);
  void (*free)(void *);
  size_t (*usable_size)(const void *);
  int (*version)(void);
  mi_heap_t **heaps; /* per recorded thread; mmap'd */
  uint32_t n_heaps;
} mim_be_t;

static const char *const libs[] = {"libmimalloc.so.2", "libmimalloc.so", NULL};

static int mim_available(char *why, size_t len) {
  void *h = rpl_dlopen(libs, why, len);
  if (!h) return HK_E_BACKEND;
  int ok = rpl_dlsym(h, "mi_heap_new", why, len) != NULL;
  return ok ? 0 : HK_E_BACKEND;
}

static mim_be_t mim; /* one run per process */

#define SYM(f, s)                                                              \
  if (!(*(void **)&mim.f = rpl_dlsym(mim.lib, s, why, len))) return HK_E_BACKEND

static int mim_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                    size_t len) {
  memset(&mim, 0, sizeof mim);
  mim.lib = rpl_dlopen(libs, why, len);
  if (!mim.lib) return HK_E_BACKEND;
  SYM(heap_new, "mi_heap_new");
  SYM(heap_malloc, "mi_heap_malloc");
  SYM(heap_zalloc, "mi_heap_zalloc");
  SYM(heap_realloc, "mi_heap_realloc");
  SYM(heap_malloc_aligned, "mi_heap_malloc_aligned");
  SYM(free, "mi_free");
  SYM(usable_size, "mi_usable_size");
  SYM(version, "mi_version");
  mim.n_heaps = cfg->threads ? cfg->threads : 1;
  mim.heaps = rpl_map(mim.n_heaps * sizeof(mi_heap_t *), 0);
  if (!mim.heaps) return HK_E_NOMEM;
  for (uint32_t i = 0; i < mim.n_heaps; i++) {
    mim.heaps[i] = mim.heap_new();
    if (!mim.heaps[i]) {
      snprintf(why, len, "mi_heap_new failed");
      return HK_E_NOMEM;
    }
  }
  *ctx = &mim;
  return 0;
}

static inline mi_heap_t *heap(mim_be_t *m, unsigned t) {
  return m->heaps[t < m->n_heaps ? t : 0];
}

static void *mim_malloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  mim_be_t *m = ctx;
  return m->heap_malloc(heap(m, t), size);
}
static void *mim_calloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  mim_be_t *m = ctx;
  return m->heap_zalloc(heap(m, t), size);
}
static void *mim_realloc(void *ctx, void *p, size_t old, size_t size,
                         unsigned t, uint32_t caller) {
  mim_be_t *m = ctx;
  return m->heap_realloc(heap(m, t), p, size);
}
static void mim_free(void *ctx, void *p, size_t size, unsigned t, uint32_t caller) {
  ((mim_be_t *)ctx)->free(p);
}
static void *mim_aligned(void *ctx, size_t align, size_t size, unsigned t, uint32_t caller) {
  mim_be_t *m = ctx;
  return m->heap_malloc_aligned(heap(m, t), size, align);
}
static size_t mim_usable(void *ctx, void *p) {
  return ((mim_be_t *)ctx)->usable_size(p);
}

static void mim_stats(void *ctx, rpl_be_stats_t *st) {
  mim_be_t *m = ctx;
  int v = m->version();
  snprintf(st->version, sizeof st->version, "mimalloc %d.%d.%d", v / 100,
           (v / 10) % 10, v % 10);
}

static void mim_release(void *ctx) {
  mim_be_t *m = ctx;
  if (m && m->heaps) rpl_unmap(m->heaps, m->n_heaps * sizeof(mi_heap_t *));
  /* The library stays loaded: the process ends with the run. */
}

const rpl_backend_t rpl_be_mimalloc = {
    .name = "mimalloc",
    .summary = "mimalloc (mi_heap_* API, one heap per recorded thread)",
    .available = mim_available,
    .init = mim_init,
    .malloc = mim_malloc,
    .calloc = mim_calloc,
    .realloc = mim_realloc,
    .free = mim_free,
    .aligned = mim_aligned,
    .usable_size = mim_usable,
    .stats = mim_stats,
    .release = mim_release,
};
