/* rpl_be_jemalloc.c: jemalloc through its non-standard API (mallocx,
 * rallocx, dallocx), dlopen()ed with RTLD_DEEPBIND in the replaying child
 * (Debian's libjemalloc exports unprefixed names and no je_*). Multi-thread
 * traces get one arena and one explicit tcache per recorded thread, passed
 * with MALLOCX_ARENA / MALLOCX_TCACHE. */
#include <stdio.h>
#include <string.h>

#include "rpl_internal.h"

/* From jemalloc.h (stable ABI flags). */
#define JE_LG_ALIGN(la) ((int)(la))
#define JE_ZERO ((int)0x40)
#define JE_TCACHE(tc) ((int)(((tc) + 2) << 8))
#define JE_ARENA(a) ((((int)(a)) + 1) << 20)

typedef struct je_be {
  void *lib;
  void *(*mallocx)(size_t, int);
  void *(*rallocx)(void *, size_t, int);
  void (*dallocx)(void *, int);
  size_t (*sallocx)(const void *, int);
  int (*mallctl)(const char *, void *, size_t *, void *, size_t);
  int *flags; /* per recorded thread: arena + tcache; mmap'd */
  uint32_t n;
} je_be_t;

static const char *const libs[] = {"libjemalloc.so.2", "libjemalloc.so", NULL};

static int je_available(char *why, size_t len) {
  void *h = rpl_dlopen(libs, why, len);
  if (!h) return HK_E_BACKEND;
  return rpl_dlsym(h, "mallocx", why, len) ? 0 : HK_E_BACKEND;
}

static je_be_t je;

#define SYM(f, s)                                                              \
  if (!(*(void **)&je.f = rpl_dlsym(je.lib, s, why, len))) return HK_E_BACKEND

static int je_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                   size_t len) {
  memset(&je, 0, sizeof je);
  je.lib = rpl_dlopen(libs, why, len);
  if (!je.lib) return HK_E_BACKEND;
  SYM(mallocx, "mallocx");
  SYM(rallocx, "rallocx");
  SYM(dallocx, "dallocx");
  SYM(sallocx, "sallocx");
  SYM(mallctl, "mallctl");
  je.n = cfg->threads ? cfg->threads : 1;
  je.flags = rpl_map(je.n * sizeof(int), 0);
  if (!je.flags) return HK_E_NOMEM;
  if (je.n > 1) {
    for (uint32_t i = 0; i < je.n; i++) {
      unsigned arena = 0, tc = 0;
      size_t sz = sizeof arena;
      if (je.mallctl("arenas.create", &arena, &sz, NULL, 0) != 0) {
        snprintf(why, len, "mallctl arenas.create failed");
        return HK_E_BACKEND;
      }
      sz = sizeof tc;
      if (je.mallctl("tcache.create", &tc, &sz, NULL, 0) != 0) {
        snprintf(why, len, "mallctl tcache.create failed");
        return HK_E_BACKEND;
      }
      je.flags[i] = JE_ARENA(arena) | JE_TCACHE(tc);
    }
  }
  *ctx = &je;
  return 0;
}

static inline int fl(je_be_t *j, unsigned t) {
  return j->flags[t < j->n ? t : 0];
}

static void *je_malloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  je_be_t *j = ctx;
  return j->mallocx(size ? size : 1, fl(j, t));
}
static void *je_calloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  je_be_t *j = ctx;
  return j->mallocx(size ? size : 1, fl(j, t) | JE_ZERO);
}
static void *je_realloc(void *ctx, void *p, size_t old, size_t size,
                        unsigned t, uint32_t caller) {
  je_be_t *j = ctx;
  if (!p) return j->mallocx(size ? size : 1, fl(j, t));
  return j->rallocx(p, size ? size : 1, fl(j, t));
}
static void je_free(void *ctx, void *p, size_t size, unsigned t, uint32_t caller) {
  je_be_t *j = ctx;
  if (p) j->dallocx(p, fl(j, t) & ~0xfff00000); /* tcache only: free
                                                   returns to the owner */
}
static void *je_aligned(void *ctx, size_t align, size_t size, unsigned t, uint32_t caller) {
  je_be_t *j = ctx;
  return j->mallocx(size ? size : 1,
                    fl(j, t) | JE_LG_ALIGN(__builtin_ctzll(align)));
}
static size_t je_usable(void *ctx, void *p) {
  return ((je_be_t *)ctx)->sallocx(p, 0);
}

static void je_stats(void *ctx, rpl_be_stats_t *st) {
  je_be_t *j = ctx;
  const char *v = NULL;
  size_t sz = sizeof v;
  if (j->mallctl("version", &v, &sz, NULL, 0) == 0 && v)
    snprintf(st->version, sizeof st->version, "jemalloc %.40s", v);
  else
    strcpy(st->version, "jemalloc");
}

static void je_release(void *ctx) {
  je_be_t *j = ctx;
  if (j && j->flags) rpl_unmap(j->flags, j->n * sizeof(int));
}

const rpl_backend_t rpl_be_jemalloc = {
    .name = "jemalloc",
    .summary = "jemalloc (mallocx API; an arena and tcache per thread)",
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
