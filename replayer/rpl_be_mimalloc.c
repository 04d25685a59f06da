/* rpl_be_mimalloc.c: mimalloc as a program uses it through its malloc
 * override: mi_malloc, mi_free, mi_calloc, mi_realloc, mi_malloc_aligned
 * on the calling thread's default heap, loaded with dlopen (RTLD_DEEPBIND)
 * in the replaying child so that it never replaces the process's malloc.
 * No explicit heaps: mimalloc abandons a thread's heap itself when the
 * thread exits (docs/backends.md). */
#include <stdio.h>
#include <string.h>

#include "rpl_internal.h"

typedef struct mim_be {
  void *lib;
  void *(*malloc)(size_t);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void *(*malloc_aligned)(size_t, size_t);
  void (*free)(void *);
  size_t (*usable_size)(const void *);
  int (*version)(void);
} mim_be_t;

static const char *const libs[] = {"libmimalloc.so.2", "libmimalloc.so", NULL};

static int mim_available(char *why, size_t len) {
  void *h = rpl_dlopen(libs, why, len);
  if (!h) return HK_E_BACKEND;
  return rpl_dlsym(h, "mi_malloc", why, len) ? 0 : HK_E_BACKEND;
}

static mim_be_t mim; /* one run per process */

#define SYM(f, s)                                                              \
  if (!(*(void **)&mim.f = rpl_dlsym(mim.lib, s, why, len))) return HK_E_BACKEND

static int mim_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                    size_t len) {
  memset(&mim, 0, sizeof mim);
  mim.lib = rpl_dlopen(libs, why, len);
  if (!mim.lib) return HK_E_BACKEND;
  SYM(malloc, "mi_malloc");
  SYM(calloc, "mi_calloc");
  SYM(realloc, "mi_realloc");
  SYM(malloc_aligned, "mi_malloc_aligned");
  SYM(free, "mi_free");
  SYM(usable_size, "mi_usable_size");
  SYM(version, "mi_version");
  *ctx = &mim;
  return 0;
}

static void *mim_malloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  return mim.malloc(size);
}
static void *mim_calloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  return mim.calloc(1, size);
}
static void *mim_realloc(void *ctx, void *p, size_t old, size_t size,
                         unsigned t, uint32_t caller) {
  return mim.realloc(p, size);
}
static void mim_free(void *ctx, void *p, size_t size, unsigned t,
                     uint32_t caller) {
  mim.free(p);
}
static void *mim_aligned(void *ctx, size_t align, size_t size, unsigned t,
                         uint32_t caller) {
  return mim.malloc_aligned(size, align);
}
static size_t mim_usable(void *ctx, void *p) { return mim.usable_size(p); }

static void mim_stats(void *ctx, rpl_be_stats_t *st) {
  int v = mim.version();
  snprintf(st->version, sizeof st->version, "mimalloc %d.%d.%d", v / 100,
           (v / 10) % 10, v % 10);
}

static void mim_release(void *ctx) {} /* the process ends with the run */

const rpl_backend_t rpl_be_mimalloc = {
    .name = "mimalloc",
    .thread_safe = 1,
    .summary = "mimalloc (mi_malloc API: the thread's default heap)",
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
