/* bench_passthru.c: libbench_passthru.so, an LD_PRELOAD interposer that
 * records nothing: each malloc-family call goes straight to the next
 * definition (glibc's). It measures what any preloaded recorder pays
 * before it does any work of its own: the extra call, the indirect call
 * through a resolved pointer and the lost inlining of the program's PLT
 * call into glibc. bench_recorder.sh's floor table runs programs plain,
 * with this library, with libhkrec.so at HKREC_DISCARD=1 (the hooks'
 * whole work, the events dropped unread) and with libhkrec.so: the
 * differences are the interposition, the hooks and the writer. Not a
 * test.
 *
 * dlsym may allocate while the pointers are resolved: those calls are
 * served from a small static arena, never freed to glibc. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static void *(*next_malloc)(size_t);
static void (*next_free)(void *);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static void *(*next_memalign)(size_t, size_t);

static _Alignas(64) unsigned char arena[64 << 10];
static size_t arena_used;
static int resolving;

static int in_arena(const void *p) {
  return (const unsigned char *)p >= arena &&
         (const unsigned char *)p < arena + sizeof arena;
}

/* 16-aligned, zeroed (static memory), never reused. */
static void *arena_alloc(size_t n) {
  size_t at = (arena_used + 15) & ~(size_t)15;
  if (n > sizeof arena - at) return NULL;
  arena_used = at + n;
  return arena + at;
}

static void resolve(void) {
  if (resolving) return;
  resolving = 1;
  *(void **)&next_malloc = dlsym(RTLD_NEXT, "malloc");
  *(void **)&next_calloc = dlsym(RTLD_NEXT, "calloc");
  *(void **)&next_realloc = dlsym(RTLD_NEXT, "realloc");
  *(void **)&next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  *(void **)&next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  *(void **)&next_memalign = dlsym(RTLD_NEXT, "memalign");
  *(void **)&next_free = dlsym(RTLD_NEXT, "free"); /* last: the ready flag */
  resolving = 0;
}

static int ready(void) {
  if (__builtin_expect(next_free != NULL, 1)) return 1;
  resolve();
  return next_free != NULL;
}

EXPORT void *malloc(size_t n) {
  return ready() ? next_malloc(n) : arena_alloc(n);
}

EXPORT void free(void *p) {
  if (!p || in_arena(p)) return;
  if (ready()) next_free(p);
}

EXPORT void *calloc(size_t k, size_t n) {
  if (ready()) return next_calloc(k, n);
  size_t b;
  return __builtin_mul_overflow(k, n, &b) ? NULL : arena_alloc(b);
}

EXPORT void *realloc(void *p, size_t n) {
  if (!in_arena(p)) return ready() ? next_realloc(p, n) : NULL;
  /* A block from the arena: its size is unknown; copy what can be. */
  void *q = malloc(n);
  if (q) {
    size_t room = (size_t)(arena + sizeof arena - (unsigned char *)p);
    memcpy(q, p, n < room ? n : room);
  }
  return q;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  return ready() ? next_posix_memalign(out, align, n) : ENOMEM;
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
  return ready() ? next_aligned_alloc(align, n) : NULL;
}

EXPORT void *memalign(size_t align, size_t n) {
  return ready() ? next_memalign(align, n) : NULL;
}
