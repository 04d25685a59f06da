/* rpl_be_jemalloc.c: jemalloc as a program uses it: its malloc, free,
 * calloc, realloc, posix_memalign and malloc_usable_size (the fast path
 * through the calling thread's tcache and automatic arena), dlopen()ed
 * with RTLD_DEEPBIND in the replaying child (Debian's libjemalloc exports
 * unprefixed names and no je_*). No explicit arena or tcache: the thread
 * that replays owns the caches, and jemalloc retires a thread's tcache
 * itself when that thread exits (docs/backends.md). */
#include <stdio.h>
#include <string.h>

#include "rpl_internal.h"

typedef struct je_be {
  void *lib;
  void *(*malloc)(size_t);
  void (*free)(void *);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  int (*posix_memalign)(void **, size_t, size_t);
  size_t (*usable)(void *);
  int (*mallctl)(const char *, void *, size_t *, void *, size_t);
} je_be_t;

static const char *const libs[] = {"libjemalloc.so.2", "libjemalloc.so", NULL};

static int je_available(char *why, size_t len) {
  void *h = rpl_dlopen(libs, why, len);
  if (!h) return HK_E_BACKEND;
  return rpl_dlsym(h, "mallctl", why, len) ? 0 : HK_E_BACKEND;
}

static je_be_t je;

#define SYM(f, s)                                                              \
  if (!(*(void **)&je.f = rpl_dlsym(je.lib, s, why, len))) return HK_E_BACKEND

static int je_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                   size_t len) {
  memset(&je, 0, sizeof je);
  je.lib = rpl_dlopen(libs, why, len);
  if (!je.lib) return HK_E_BACKEND;
  SYM(malloc, "malloc");
  SYM(free, "free");
  SYM(calloc, "calloc");
  SYM(realloc, "realloc");
  SYM(posix_memalign, "posix_memalign");
  SYM(usable, "malloc_usable_size");
  SYM(mallctl, "mallctl");
  *ctx = &je;
  return 0;
}

static void *je_malloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  return je.malloc(size);
}
static void *je_calloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  return je.calloc(1, size);
}
static void *je_realloc(void *ctx, void *p, size_t old, size_t size,
                        unsigned t, uint32_t caller) {
  return je.realloc(p, size);
}
static void je_free(void *ctx, void *p, size_t size, unsigned t,
                    uint32_t caller) {
  je.free(p);
}
static void *je_aligned(void *ctx, size_t align, size_t size, unsigned t,
                        uint32_t caller) {
  void *p = NULL;
  return je.posix_memalign(&p, align, size) == 0 ? p : NULL;
}
static size_t je_usable(void *ctx, void *p) { return je.usable(p); }

static void je_stats(void *ctx, rpl_be_stats_t *st) {
  const char *v = NULL;
  size_t sz = sizeof v;
  if (je.mallctl("version", &v, &sz, NULL, 0) == 0 && v)
    snprintf(st->version, sizeof st->version, "jemalloc %.60s", v);
  else
    strcpy(st->version, "jemalloc");
}

static void je_release(void *ctx) {} /* the process ends with the run */

const rpl_backend_t rpl_be_jemalloc = {
    .name = "jemalloc",
    .thread_safe = 1,
    .summary = "jemalloc (malloc API: the thread's tcache, automatic arenas)",
    .available = je_available,
    .init = je_init,
    .malloc = je_malloc,
    .calloc = je_calloc,
    .realloc = je_realloc,
    .free = je_free,
    .aligned = je_aligned,
    .usable_size = je_usable,
    .stats = je_stats,
    .release = je_release,
};
