/* rpl_be_so.c: any malloc-API shared library as a back end, named on the
 * command line as `so:PATH` or `so:PATH:prefix=P` (docs/backends.md). The
 * library is dlopen()ed in the replaying child with RTLD_NOW|RTLD_LOCAL|
 * RTLD_DEEPBIND, so it never replaces the harness's own malloc; its
 * (optionally prefixed) malloc, free, calloc, realloc, posix_memalign or
 * aligned_alloc, and malloc_usable_size are called as a program calls them.
 * The run stores the library's resolved path, GNU build id and version. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk_elf.h"
#include "rpl_internal.h"

#define SO_PREFIX_MAX 32

typedef struct so_be {
  void *lib;
  void *(*malloc)(size_t);
  void (*free)(void *);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  int (*posix_memalign)(void **, size_t, size_t);
  void *(*aligned_alloc)(size_t, size_t);
  size_t (*usable)(void *);
  char path[256];   /* the library as the loader resolved it */
  char build_id[41]; /* hex, "" when the library has none */
  char version[96];  /* from an exported version call, "" when none */
} so_be_t;

static so_be_t so; /* one run per process (the built-in library back ends
                      jemalloc, mimalloc and tcmalloc load into it too) */

int rpl_so_parse(const char *spec, char *path, size_t path_len, char *prefix,
                 size_t prefix_len) {
  if (strncmp(spec, "so:", 3) != 0) return HK_E_USAGE;
  const char *p = spec + 3, *pre = strstr(p, ":prefix=");
  size_t n = pre ? (size_t)(pre - p) : strlen(p);
  if (n == 0 || n >= path_len) return HK_E_USAGE;
  memcpy(path, p, n);
  path[n] = 0;
  prefix[0] = 0;
  if (pre) {
    pre += 8;
    size_t m = strlen(pre);
    if (m == 0 || m >= prefix_len || m >= SO_PREFIX_MAX) return HK_E_USAGE;
    for (size_t i = 0; i < m; i++) /* a C identifier's characters */
      if (!(pre[i] == '_' || (pre[i] >= 'a' && pre[i] <= 'z') ||
            (pre[i] >= 'A' && pre[i] <= 'Z') || (pre[i] >= '0' && pre[i] <= '9')))
        return HK_E_USAGE;
    memcpy(prefix, pre, m + 1);
  }
  return 0;
}

static int so_check(const rpl_be_config_t *cfg, char *why, size_t len) {
  char path[256], prefix[SO_PREFIX_MAX];
  if (!cfg->arg ||
      rpl_so_parse(cfg->arg, path, sizeof path, prefix, sizeof prefix)) {
    snprintf(why, len,
             "bad back end '%s': want so:PATH or so:PATH:prefix=IDENT",
             cfg->arg ? cfg->arg : "so");
    return HK_E_USAGE;
  }
  return 0;
}

/* Whether the library itself is usable is only known once loaded: init
 * says why it is not, and the run is stored as failed with that reason. */
static int so_available(char *why, size_t len) { return 0; }

/* The GNU build id of the loaded object whose base is base. */
typedef struct bid_find {
  ElfW(Addr) base;
  char *hex;
} bid_find_t;

static int bid_cb(struct dl_phdr_info *info, size_t size, void *arg) {
  bid_find_t *f = arg;
  if (info->dlpi_addr != f->base) return 0;
  uint8_t id[20];
  uint32_t n = hk_build_id(info, id, sizeof id);
  for (uint32_t k = 0; k < n; k++) sprintf(f->hex + 2 * k, "%02x", id[k]);
  return 1;
}

/* dlsym of prefix+name that must come from the library itself: through a
 * handle dlsym also searches the library's dependencies, and a library
 * that defines no malloc would otherwise silently replay libc's. */
static void *own_sym(const char *prefix, const char *name, int required,
                     const struct link_map *lm, char *why, size_t len) {
  char sym[SO_PREFIX_MAX + 32];
  snprintf(sym, sizeof sym, "%s%s", prefix, name);
  void *f = dlsym(so.lib, sym);
  Dl_info di;
  if (f && (!dladdr(f, &di) || (ElfW(Addr))di.dli_fbase != lm->l_addr)) {
    if (required)
      snprintf(why, len, "%s does not define %s (it resolves to %s)", so.path,
               sym, f && di.dli_fname ? di.dli_fname : "another object");
    return NULL;
  }
  if (!f && required)
    snprintf(why, len, "%s does not export %s", so.path, sym);
  return f;
}

/* The version a library exports, if it exports one this knows how to ask
 * (mimalloc's mi_version, jemalloc's mallctl "version", gperftools'
 * tc_version); prefixed names are tried first. */
static void so_version(const char *prefix, const struct link_map *lm) {
  char why[8];
  int (*mi_version)(void) = (int (*)(void))own_sym("", "mi_version", 0, lm, why, sizeof why);
  if (mi_version) {
    int v = mi_version();
    snprintf(so.version, sizeof so.version, "mimalloc %d.%d.%d", v / 100,
             (v / 10) % 10, v % 10);
    return;
  }
  int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
      (int (*)(const char *, void *, size_t *, void *, size_t))own_sym(
          prefix, "mallctl", 0, lm, why, sizeof why);
  if (!mallctl)
    mallctl = (int (*)(const char *, void *, size_t *, void *, size_t))own_sym(
        "", "mallctl", 0, lm, why, sizeof why);
  if (mallctl) {
    const char *v = NULL;
    size_t sz = sizeof v;
    if (mallctl("version", &v, &sz, NULL, 0) == 0 && v)
      snprintf(so.version, sizeof so.version, "jemalloc %.60s", v);
    return;
  }
  const char *(*tc_version)(int *, int *, const char **) =
      (const char *(*)(int *, int *, const char **))own_sym(
          "", "tc_version", 0, lm, why, sizeof why);
  if (tc_version) {
    int a, b;
    const char *c;
    const char *v = tc_version(&a, &b, &c);
    if (v) snprintf(so.version, sizeof so.version, "%.90s", v);
  }
}

#define OWN(f, name, req)                                                      \
  do {                                                                         \
    *(void **)&so.f = own_sym(prefix, name, req, lm, why, len);                \
    if (req && !so.f) return HK_E_BACKEND;                                     \
  } while (0)

int rpl_so_probe(const char *const *names, const char *sym, char *why,
                 size_t len) {
  void *h = rpl_dlopen(names, why, len);
  if (!h) return HK_E_BACKEND;
  return rpl_dlsym(h, sym, why, len) ? 0 : HK_E_BACKEND;
}

int rpl_so_load(const char *const *names, const char *prefix, char *why,
                size_t len) {
  memset(&so, 0, sizeof so);
  snprintf(so.path, sizeof so.path, "%s", names[0]);
  so.lib = rpl_dlopen(names, why, len);
  if (!so.lib) return HK_E_BACKEND;
  struct link_map *lm = NULL;
  if (dlinfo(so.lib, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
    snprintf(why, len, "%s: dlinfo failed", so.path);
    return HK_E_BACKEND;
  }
  if (lm->l_name && lm->l_name[0])
    snprintf(so.path, sizeof so.path, "%s", lm->l_name);
  OWN(malloc, "malloc", 1);
  OWN(free, "free", 1);
  OWN(calloc, "calloc", 1);
  OWN(realloc, "realloc", 1);
  OWN(posix_memalign, "posix_memalign", 0);
  OWN(aligned_alloc, "aligned_alloc", 0);
  if (!so.posix_memalign && !so.aligned_alloc) {
    snprintf(why, len, "%s exports neither %sposix_memalign nor %saligned_alloc",
             so.path, prefix, prefix);
    return HK_E_BACKEND;
  }
  OWN(usable, "malloc_usable_size", 0);
  if (!so.usable) OWN(usable, "usable_size", 0); /* mimalloc: mi_usable_size */
  if (!so.usable) OWN(usable, "malloc_size", 0); /* gperftools: tc_malloc_size */
  bid_find_t f = {lm->l_addr, so.build_id};
  dl_iterate_phdr(bid_cb, &f);
  so_version(prefix, lm);
  return 0;
}

static int so_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                   size_t len) {
  char path[256], prefix[SO_PREFIX_MAX];
  if (so_check(cfg, why, len)) return HK_E_USAGE;
  rpl_so_parse(cfg->arg, path, sizeof path, prefix, sizeof prefix);
  const char *const names[] = {path, NULL};
  int rc = rpl_so_load(names, prefix, why, len);
  if (!rc) *ctx = &so;
  return rc;
}

void *rpl_so_malloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  return so.malloc(size);
}
void *rpl_so_calloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  return so.calloc(1, size);
}
void *rpl_so_realloc(void *ctx, void *p, size_t old, size_t size,
                        unsigned t, uint32_t caller) {
  return so.realloc(p, size);
}
void rpl_so_free(void *ctx, void *p, size_t size, unsigned t,
                    uint32_t caller) {
  so.free(p);
}
void *rpl_so_aligned(void *ctx, size_t align, size_t size, unsigned t,
                        uint32_t caller) {
  if (so.posix_memalign) {
    void *p = NULL;
    return so.posix_memalign(&p, align, size) == 0 ? p : NULL;
  }
  /* C11 wants a multiple of the alignment. */
  return so.aligned_alloc(align, (size + align - 1) & ~(align - 1));
}
size_t rpl_so_usable(void *ctx, void *p) {
  return so.usable ? so.usable(p) : 0;
}

void rpl_so_stats(void *ctx, rpl_be_stats_t *st) {
  snprintf(st->version, sizeof st->version, "%.95s (%.230s, build-id %.40s)",
           so.version[0] ? so.version : "version unknown", so.path,
           so.build_id[0] ? so.build_id : "none");
}

void rpl_so_release(void *ctx) {} /* the process ends with the run */

const rpl_backend_t rpl_be_so = {
    .name = "so",
    .thread_safe = 1,
    .summary = "any malloc-API library: so:PATH[:prefix=P] (dlopen, "
               "RTLD_DEEPBIND)",
    .check = so_check,
    .available = so_available,
    .init = so_init,
    RPL_SO_OPS,
};
