/* rpl_be_mimalloc.c: mimalloc as a program uses it through its malloc
 * override: mi_malloc, mi_free, mi_calloc, mi_realloc, mi_posix_memalign
 * on the calling thread's default heap, loaded with dlopen (RTLD_DEEPBIND)
 * in the replaying child so that it never replaces the process's malloc.
 * No explicit heaps: mimalloc abandons a thread's heap itself when the
 * thread exits (docs/backends.md). Loading, the calls and the version are
 * the so: back end's (rpl_be_so.c) with the prefix mi_. */
#include "rpl_internal.h"

static const char *const libs[] = {"libmimalloc.so.2", "libmimalloc.so", NULL};

static int mim_available(char *why, size_t len) {
  return rpl_so_probe(libs, "mi_malloc", why, len);
}

static int mim_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                    size_t len) {
  *ctx = NULL; /* the calls use the one loaded library */
  return rpl_so_load(libs, "mi_", why, len);
}

const rpl_backend_t rpl_be_mimalloc = {
    .name = "mimalloc",
    .thread_safe = 1,
    .summary = "mimalloc (mi_malloc API: the thread's default heap)",
    .available = mim_available,
    .init = mim_init,
    RPL_SO_OPS,
};
