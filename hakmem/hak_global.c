/* hak_global.c: the process-wide instance behind hak_init()/hak_alloc_at()
 * and libhakmem.so. Thread safety: one mutex around the core (the core
 * itself is single-threaded); fork: the mutex is taken across fork so the
 * child never inherits it locked. */
#include <pthread.h>
#include <unistd.h>

#include "hak_internal.h"

static hak_t *g;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_atfork;

static void fork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&g_lock); }
static void fork_child(void) { pthread_mutex_init(&g_lock, NULL); }

int hak_global_init_os(const hak_os_t *os) {
  int rc = 0;
  pthread_mutex_lock(&g_lock);
  if (!g) {
    hak_config_t cfg;
    hak_config_init(&cfg, HAK_MODE_BALANCED);
    hak_config_from_env(&cfg); /* a bad variable keeps the default */
    hak_t *h = NULL;
    rc = hak_create(&h, &cfg, os, NULL);
    if (rc < 0) { /* e.g. a bad HAKMEM_POLICY: fall back to defaults */
      hak_config_init(&cfg, HAK_MODE_BALANCED);
      rc = hak_create(&h, &cfg, os, NULL);
    }
    __atomic_store_n(&g, h, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&g_lock);
  if (rc == 0 && !__atomic_exchange_n(&g_atfork, 1, __ATOMIC_ACQ_REL))
    pthread_atfork(fork_prepare, fork_parent, fork_child);
  return rc;
}

int hak_init(void) { return hak_global_init_os(NULL); }

hak_t *hak_global(void) { return __atomic_load_n(&g, __ATOMIC_ACQUIRE); }

void hak_global_exit_report(void) {
  pthread_mutex_lock(&g_lock);
  if (g) {
    hak_flush(g);
    if (g->cfg.verbose) hak_print_summary(g, STDERR_FILENO);
  }
  pthread_mutex_unlock(&g_lock);
}

void hak_shutdown(void) {
  pthread_mutex_lock(&g_lock);
  if (g) {
    if (g->cfg.verbose) hak_print_summary(g, STDERR_FILENO);
    hak_free(g);
    __atomic_store_n(&g, NULL, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&g_lock);
}

static hak_t *ready(void) {
  hak_t *h = hak_global();
  if (HK_UNLIKELY(!h)) {
    hak_init();
    h = hak_global();
  }
  return h;
}

#define LOCKED(expr)                                                           \
  do {                                                                         \
    pthread_mutex_lock(&g_lock);                                               \
    expr;                                                                      \
    pthread_mutex_unlock(&g_lock);                                             \
  } while (0)

void *hak_alloc_at(size_t size, uint64_t site) {
  hak_t *h = ready();
  void *p = NULL;
  if (h) LOCKED(p = hak_alloc(h, size, site));
  return p;
}

void hak_free_at(void *p, uint64_t site) {
  hak_t *h = hak_global();
  if (h && p) LOCKED(hak_dealloc(h, p, site));
}

void *hak_calloc_at(size_t n, size_t size, uint64_t site) {
  hak_t *h = ready();
  void *p = NULL;
  if (h) LOCKED(p = hak_calloc(h, n, size, site));
  return p;
}

void *hak_realloc_at(void *p, size_t size, uint64_t site) {
  hak_t *h = ready();
  void *q = NULL;
  if (h) LOCKED(q = hak_realloc(h, p, size, site));
  return q;
}

void *hak_memalign_at(size_t align, size_t size, uint64_t site) {
  hak_t *h = ready();
  void *p = NULL;
  if (h) LOCKED(p = hak_memalign(h, align, size, site));
  return p;
}

size_t hak_usable_size_at(const void *p) {
  hak_t *h = hak_global();
  return h && p ? hak_usable_size(h, p) : 0;
}
