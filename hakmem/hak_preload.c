/* hak_preload.c: libhakmem.so, the preloadable front end: the malloc
 * family onto the global hakmem instance. The bootstrap and recursion
 * rules, all here:
 *  - the libc functions are found with dlsym(RTLD_NEXT); dlsym's own
 *    allocations are served from a static bootstrap arena, never freed;
 *  - a thread-local guard marks "inside hakmem": an allocation made from
 *    inside (the policy's calloc, stdio in a report) goes straight to libc
 *    with a 32-byte fallback header so that free() can tell it apart;
 *  - a pointer is: in the arena (ignored by free), a fallback block
 *    (marker at p-16), or a hakmem block (its header, checked by magic).
 * Everything except the interposed functions is hidden. Threads: the
 * global instance is one mutex-protected core (hak_global.c). */
#include <dlfcn.h>
#include <malloc.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hak_internal.h"

#define FB_MARK 0xfa11bac4fa11bac4ull /* non-canonical: never a site */
#define ARENA_SIZE (256u << 10)

static __thread int guard __attribute__((tls_model("initial-exec")));
static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static int resolving;
static char arena[ARENA_SIZE] __attribute__((aligned(64)));
static size_t arena_used;

static int in_arena(const void *p) {
  return (const char *)p >= arena && (const char *)p < arena + ARENA_SIZE;
}

/* [size][pad] then the block, 16-aligned; never freed. */
static void *arena_alloc(size_t n) {
  size_t need = (n + 16 + 15) & ~(size_t)15;
  size_t at = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
  if (at + need > ARENA_SIZE) return NULL;
  char *p = arena + at;
  memcpy(p, &n, sizeof n);
  return p + 16;
}

static void resolve(void) {
  if (real_malloc) return;
  resolving = 1;
  void *m = dlsym(RTLD_NEXT, "malloc");
  void *f = dlsym(RTLD_NEXT, "free");
  memcpy(&real_free, &f, sizeof f);
  __atomic_store_n(&real_malloc, (void *(*)(size_t))m, __ATOMIC_RELEASE);
  resolving = 0;
}

/* libc allocation with the fallback header: [raw][size][FB_MARK][pad]. */
static void *fb_alloc(size_t n, size_t align) {
  if (!real_malloc) {
    if (resolving || align > 16) return arena_alloc(n);
    resolve();
    if (!real_malloc) return arena_alloc(n);
  }
  if (align < 16) align = 16;
  size_t total = n + 32 + align;
  if (total < n) return NULL;
  char *raw = real_malloc(total);
  if (!raw) return NULL;
  char *p = (char *)(((uintptr_t)raw + 32 + align - 1) & ~(uintptr_t)(align - 1));
  uint64_t w[3] = {(uint64_t)(uintptr_t)raw, n, FB_MARK};
  memcpy(p - 32, w, sizeof w);
  return p;
}

static int is_fb(const void *p) {
  uint64_t m;
  memcpy(&m, (const char *)p - 16, sizeof m);
  return m == FB_MARK;
}

static size_t fb_size(const void *p) {
  uint64_t n;
  if (in_arena(p)) {
    memcpy(&n, (const char *)p - 16, sizeof n);
    return n;
  }
  memcpy(&n, (const char *)p - 24, sizeof n);
  return n;
}

/* libc for the MALLOC method of the core, through the resolved pointers */
static void *os_malloc(void *ctx, size_t n) {
  (void)ctx;
  return real_malloc(n);
}
static void os_free(void *ctx, void *p) {
  (void)ctx;
  real_free(p);
}

static int enter(void) {
  if (guard) return 0;
  guard = 1;
  if (HK_UNLIKELY(!hak_global())) {
    resolve();
    hak_os_t os = *hak_os_default();
    os.malloc = os_malloc;
    os.free = os_free;
    hak_global_init_os(&os);
    if (!hak_global()) {
      guard = 0;
      return 0;
    }
  }
  return 1;
}

static void leave(void) { guard = 0; }

static size_t block_size(const void *p) {
  if (in_arena(p) || is_fb(p)) return fb_size(p);
  return hak_usable_size_at(p);
}

static void *do_alloc(size_t n, size_t align, uint64_t site) {
  if (!enter()) return fb_alloc(n, align);
  void *p = align <= 16 ? hak_alloc_at(n, site) : hak_memalign_at(align, n, site);
  leave();
  if (!p) errno = ENOMEM;
  return p;
}

HK_EXPORT void *malloc(size_t n) { return do_alloc(n, 16, HAK_SITE()); }

HK_EXPORT void free(void *p) {
  if (!p || in_arena(p)) return;
  if (is_fb(p)) {
    uint64_t raw;
    memcpy(&raw, (char *)p - 32, sizeof raw);
    if (!real_free) resolve();
    real_free((void *)(uintptr_t)raw);
    return;
  }
  int in = !guard;
  guard = 1;
  hak_free_at(p, HAK_SITE());
  if (in) guard = 0;
}

HK_EXPORT void *calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  if (!enter()) {
    void *p = fb_alloc(total, 16);
    if (p) memset(p, 0, total); /* the arena is zero, the heap may not be */
    return p;
  }
  void *p = hak_calloc_at(n, size, HAK_SITE());
  leave();
  if (!p) errno = ENOMEM;
  return p;
}

HK_EXPORT void *realloc(void *p, size_t n) {
  uint64_t site = HAK_SITE();
  if (!p) return do_alloc(n, 16, site);
  if (in_arena(p) || is_fb(p) || guard) {
    /* move foreign blocks into a fresh block; never realloc in place */
    if (n == 0) {
      free(p);
      return NULL;
    }
    void *q = guard ? fb_alloc(n, 16) : do_alloc(n, 16, site);
    if (!q) return NULL;
    size_t old = block_size(p);
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
  }
  if (!enter()) return NULL;
  void *q = hak_realloc_at(p, n, site);
  leave();
  if (!q && n) errno = ENOMEM;
  return q;
}

HK_EXPORT void *reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, total);
}

HK_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
  void *p = do_alloc(n, align, HAK_SITE());
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

HK_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (align == 0 || (align & (align - 1))) {
    errno = EINVAL;
    return NULL;
  }
  return do_alloc(n, align, HAK_SITE());
}

HK_EXPORT void *memalign(size_t align, size_t n) {
  if (align == 0 || (align & (align - 1))) {
    errno = EINVAL;
    return NULL;
  }
  return do_alloc(n, align, HAK_SITE());
}

HK_EXPORT void *valloc(size_t n) {
  return do_alloc(n, (size_t)sysconf(_SC_PAGESIZE), HAK_SITE());
}

HK_EXPORT void *pvalloc(size_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  return do_alloc((n + pg - 1) & ~(pg - 1), pg, HAK_SITE());
}

HK_EXPORT size_t malloc_usable_size(void *p) { return p ? block_size(p) : 0; }

/* The global instance outlives main (late frees still need it); at exit
 * only the batch is flushed and, with HAKMEM_VERBOSE, the summary printed. */
__attribute__((destructor)) static void hakmem_preload_fini(void) {
  guard = 1;
  hak_global_exit_report();
  guard = 0;
}
