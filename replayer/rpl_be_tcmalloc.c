/* rpl_be_tcmalloc.c: gperftools tcmalloc through its tc_* API (tc_malloc,
 * tc_free, tc_calloc, tc_realloc, tc_posix_memalign, tc_malloc_size),
 * dlopen()ed with RTLD_DEEPBIND in the replaying child. Its caches are per
 * OS thread, so a serial replay shares one cache across recorded threads.
 * Loading, the calls and the version are the so: back end's (rpl_be_so.c)
 * with the prefix tc_. */
#include "rpl_internal.h"

static const char *const libs[] = {"libtcmalloc.so.4",
                                   "libtcmalloc_minimal.so.4", NULL};

static int tc_available(char *why, size_t len) {
  return rpl_so_probe(libs, "tc_malloc", why, len);
}

static int tc_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                   size_t len) {
  *ctx = NULL; /* the calls use the one loaded library */
  return rpl_so_load(libs, "tc_", why, len);
}

const rpl_backend_t rpl_be_tcmalloc = {
    .name = "tcmalloc",
    .thread_safe = 1,
    .summary = "gperftools tcmalloc (tc_* API)",
    .available = tc_available,
    .init = tc_init,
    RPL_SO_OPS,
};
