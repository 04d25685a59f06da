/* rpl_backend.c: the registry of allocator back ends (one const table per
 * rpl_be_*.c) and the helpers they share: dlopen with a reason, and
 * mmap'd harness memory. Adding a back end is one file and one line here. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "rpl_internal.h"

extern const rpl_backend_t rpl_be_hakmem;
extern const rpl_backend_t rpl_be_mimalloc;
extern const rpl_backend_t rpl_be_glibc;
extern const rpl_backend_t rpl_be_jemalloc;
extern const rpl_backend_t rpl_be_tcmalloc;
extern const rpl_backend_t rpl_be_null;
extern const rpl_backend_t rpl_be_so;

const rpl_backend_t *const rpl_backends[] = {
    &rpl_be_hakmem, &rpl_be_mimalloc, &rpl_be_glibc, &rpl_be_jemalloc,
    &rpl_be_tcmalloc, &rpl_be_null,   NULL,
};

const rpl_backend_t *rpl_backend_find(const char *name) {
  if (strncmp(name, "so:", 3) == 0 || strcmp(name, "so") == 0)
    return &rpl_be_so;
  for (const rpl_backend_t *const *b = rpl_backends; *b; b++)
    if (strcmp((*b)->name, name) == 0) return *b;
  return NULL;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RPL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RPL_SANITIZED 1
#endif
#endif

void *rpl_dlopen(const char *const *names, char *why, size_t len) {
#ifdef RPL_SANITIZED
  /* The sanitizer runtimes abort on RTLD_DEEPBIND: report, do not load. */
  snprintf(why, len, "not loadable under a sanitizer build (RTLD_DEEPBIND)");
  (void)names;
  return NULL;
#endif
  const char *err = "no library name";
  for (; *names; names++) {
    void *h = dlopen(*names, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (h) return h;
    err = dlerror();
  }
  snprintf(why, len, "%s", err ? err : "dlopen failed");
  return NULL;
}

void *rpl_dlsym(void *h, const char *sym, char *why, size_t len) {
  void *p = dlsym(h, sym);
  if (!p) snprintf(why, len, "symbol %s missing", sym);
  return p;
}

void *rpl_map(size_t bytes, int populate) {
  if (bytes == 0) bytes = 1;
  int fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  if (populate) fl |= MAP_POPULATE;
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, fl, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void rpl_unmap(void *p, size_t bytes) {
  if (p) munmap(p, bytes ? bytes : 1);
}

int rpl_map_grow(void *pp, uint64_t *cap, uint64_t n, size_t sz) {
  if (n < *cap) return 0;
  uint64_t ncap = *cap ? *cap * 2 : 256;
  void *np = rpl_map(ncap * sz, 0);
  if (!np) return HK_E_NOMEM;
  void *old = *(void **)pp;
  if (old) {
    memcpy(np, old, n * sz);
    rpl_unmap(old, *cap * sz);
  }
  *(void **)pp = np;
  *cap = ncap;
  return 0;
}
