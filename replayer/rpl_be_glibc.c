/* rpl_be_glibc.c: the process's own malloc (glibc ptmalloc2 in a normal
 * build), called directly, as a program calls it. No heaps of its own: a
 * serial replay runs every recorded thread on the one replaying thread (the
 * main arena and its tcache); with --threads recorded each replay thread
 * gets the arena and tcache glibc gives a new thread, and gives them back
 * when it exits after its last op, as an exiting program thread does. */
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "rpl_internal.h"

static int glibc_available(char *why, size_t len) { return 0; }

static int glibc_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                      size_t len) {
  *ctx = NULL;
  return 0;
}

static void *glibc_malloc(void *ctx, size_t size, unsigned thread, uint32_t caller) {
  return malloc(size);
}
static void *glibc_calloc(void *ctx, size_t size, unsigned thread, uint32_t caller) {
  return calloc(1, size);
}
static void *glibc_realloc(void *ctx, void *p, size_t old, size_t size,
                           unsigned thread, uint32_t caller) {
  return realloc(p, size);
}
static void glibc_free(void *ctx, void *p, size_t size, unsigned thread, uint32_t caller) {
  free(p);
}
static void *glibc_aligned(void *ctx, size_t align, size_t size,
                           unsigned thread, uint32_t caller) {
  void *p = NULL;
  return posix_memalign(&p, align, size) == 0 ? p : NULL;
}
static size_t glibc_usable(void *ctx, void *p) { return malloc_usable_size(p); }

static void glibc_stats(void *ctx, rpl_be_stats_t *st) {
  snprintf(st->version, sizeof st->version, "glibc %s", gnu_get_libc_version());
}

static void glibc_release(void *ctx) {}

const rpl_backend_t rpl_be_glibc = {
    .name = "glibc",
    .thread_safe = 1,
    .summary = "the C library's malloc (ptmalloc2)",
    .available = glibc_available,
    .init = glibc_init,
    .malloc = glibc_malloc,
    .calloc = glibc_calloc,
    .realloc = glibc_realloc,
    .free = glibc_free,
    .aligned = glibc_aligned,
    .usable_size = glibc_usable,
    .stats = glibc_stats,
    .release = glibc_release,
};
