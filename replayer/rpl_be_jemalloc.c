/* rpl_be_jemalloc.c: jemalloc as a program uses it: its malloc, free,
 * calloc, realloc, posix_memalign and malloc_usable_size (the fast path
 * through the calling thread's tcache and automatic arena), dlopen()ed
 * with RTLD_DEEPBIND in the replaying child (Debian's libjemalloc exports
 * unprefixed names and no je_*). No explicit arena or tcache: the thread
 * that replays owns the caches, and jemalloc retires a thread's tcache
 * itself when that thread exits (docs/backends.md). Loading, the calls and
 * the version are the so: back end's (rpl_be_so.c): this is so:libjemalloc
 * under its own name. */
#include "rpl_internal.h"

static const char *const libs[] = {"libjemalloc.so.2", "libjemalloc.so", NULL};

static int je_available(char *why, size_t len) {
  return rpl_so_probe(libs, "mallctl", why, len);
}

static int je_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                   size_t len) {
  *ctx = NULL; /* the calls use the one loaded library */
  return rpl_so_load(libs, "", why, len);
}

const rpl_backend_t rpl_be_jemalloc = {
    .name = "jemalloc",
    .thread_safe = 1,
    .summary = "jemalloc (malloc API: the thread's tcache, automatic arenas)",
    .available = je_available,
    .init = je_init,
    RPL_SO_OPS,
};
