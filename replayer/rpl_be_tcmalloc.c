/* rpl_be_tcmalloc.c: gperftools tcmalloc through its tc_* API, dlopen()ed
 * with RTLD_DEEPBIND in the replaying child. Its caches are per OS thread,
 * so a serial replay shares one cache across recorded threads. */
#include <stdio.h>
#include <string.h>

#include "rpl_internal.h"

typedef struct tc_be {
  void *lib;
  void *(*malloc)(size_t);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void (*free)(void *);
  void *(*memalign)(size_t, size_t);
  size_t (*size)(void *);
  const char *(*version)(int *, int *, const char **);
} tc_be_t;

static const char *const libs[] = {"libtcmalloc.so.4",
                                   "libtcmalloc_minimal.so.4", NULL};

static int tc_available(char *why, size_t len) {
  void *h = rpl_dlopen(libs, why, len);
  if (!h) return HK_E_BACKEND;
  return rpl_dlsym(h, "tc_malloc", why, len) ? 0 : HK_E_BACKEND;
}

static tc_be_t tc;

#define SYM(f, s)                                                              \
  if (!(*(void **)&tc.f = rpl_dlsym(tc.lib, s, why, len))) return HK_E_BACKEND

static int tc_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                   size_t len) {
  memset(&tc, 0, sizeof tc);
  tc.lib = rpl_dlopen(libs, why, len);
  if (!tc.lib) return HK_E_BACKEND;
  SYM(malloc, "tc_malloc");
  SYM(calloc, "tc_calloc");
  SYM(realloc, "tc_realloc");
  SYM(free, "tc_free");
  SYM(memalign, "tc_memalign");
  SYM(size, "tc_malloc_size");
  SYM(version, "tc_version");
  *ctx = &tc;
  return 0;
}

static void *tc_malloc_(void *ctx, size_t size, unsigned t, uint32_t caller) {
  return ((tc_be_t *)ctx)->malloc(size);
}
static void *tc_calloc_(void *ctx, size_t size, unsigned t, uint32_t caller) {
  return ((tc_be_t *)ctx)->calloc(1, size);
}
static void *tc_realloc_(void *ctx, void *p, size_t old, size_t size,
                         unsigned t, uint32_t caller) {
  return ((tc_be_t *)ctx)->realloc(p, size);
}
static void tc_free_(void *ctx, void *p, size_t size, unsigned t, uint32_t caller) {
  ((tc_be_t *)ctx)->free(p);
}
static void *tc_aligned(void *ctx, size_t align, size_t size, unsigned t, uint32_t caller) {
  return ((tc_be_t *)ctx)->memalign(align, size);
}
static size_t tc_usable(void *ctx, void *p) {
  return ((tc_be_t *)ctx)->size(p);
}

static void tc_stats(void *ctx, rpl_be_stats_t *st) {
  int major = 0, minor = 0;
  const char *patch = NULL;
  const char *v = ((tc_be_t *)ctx)->version(&major, &minor, &patch);
  snprintf(st->version, sizeof st->version, "%.60s", v ? v : "tcmalloc");
}

static void tc_release(void *ctx) {}

const rpl_backend_t rpl_be_tcmalloc = {
    .name = "tcmalloc",
    .thread_safe = 1,
    .summary = "gperftools tcmalloc (tc_* API)",
    .available = tc_available,
    .init = tc_init,
    .malloc = tc_malloc_,
    .calloc = tc_calloc_,
    .realloc = tc_realloc_,
    .free = tc_free_,
    .aligned = tc_aligned,
    .usable_size = tc_usable,
    .stats = tc_stats,
    .release = tc_release,
};
