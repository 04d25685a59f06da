/* trc_gen.c: synthetic traces (`hksim gen`). The scenarios of hakmem's own
 * harness (json, mir, vm, mixed) plus a threaded one with cross-thread frees
 * and a many-sites one for per-site learning. Written with the same writer
 * as the recorder, on a virtual clock (1 tick = 1 ns), seeded. Addresses
 * come from a small model of a size-class allocator, so that freed
 * addresses are reused the way real allocators reuse them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trc.h"
#include "trc_internal.h"

#define GEN_MODULE_BASE 0x0000555555554000ull
#define GEN_DEPTH 4

/* ---- the generator state --------------------------------------------- */

typedef struct addr_class {
  uint64_t *free_; /* LIFO of freed addresses of this class */
  size_t n, cap;
} addr_class_t;

enum { N_CLASSES = 256 };

typedef struct gen {
  trc_writer_t *w;
  hk_rng_t rng;
  uint64_t now;
  uint64_t bump; /* next fresh address */
  addr_class_t cls[N_CLASSES];
  uint32_t nsites;
  int err;
} gen_t;

/* Size classes: 4 per power of two from 16 bytes, so rounded sizes stay
 * within 19% of the request, as in common allocators. */
static unsigned size_class(uint64_t size, uint64_t *rounded) {
  if (size < 16) size = 16;
  unsigned lg = 63u - (unsigned)__builtin_clzll(size);
  uint64_t step = lg >= 2 ? (1ull << (lg - 2)) : 1;
  uint64_t r = (size + step - 1) & ~(step - 1);
  unsigned c = (lg - 4) * 4 + (unsigned)((r >> (lg - 2)) & 3);
  if (r == (2ull << lg)) c = (lg - 3) * 4;
  if (c >= N_CLASSES) c = N_CLASSES - 1;
  *rounded = r;
  return c;
}

static uint64_t addr_take(gen_t *g, uint64_t size, uint64_t align) {
  uint64_t rounded;
  addr_class_t *c = &g->cls[size_class(size, &rounded)];
  if (c->n && align <= 16) return c->free_[--c->n];
  uint64_t a = align > 16 ? align : 16;
  if (rounded >= 128 * 1024) a = a > 4096 ? a : 4096; /* mmap-like */
  g->bump = (g->bump + a - 1) & ~(a - 1);
  uint64_t p = g->bump;
  g->bump += rounded;
  return p;
}

static void addr_give(gen_t *g, uint64_t addr, uint64_t size) {
  uint64_t rounded;
  addr_class_t *c = &g->cls[size_class(size, &rounded)];
  if (trc_grow(&c->free_, &c->cap, c->n + 1, sizeof *c->free_)) {
    g->err = HK_E_NOMEM;
    return;
  }
  c->free_[c->n++] = addr;
}

static void tick(gen_t *g, uint64_t lo, uint64_t hi) {
  g->now += lo + hk_rng_below(&g->rng, hi - lo + 1);
}

static void put(gen_t *g, const trc_event_t *e) {
  if (!g->err) g->err = trc_writer_events(g->w, e->thread, e, 1);
}

/* Defines sites 1..n: frames[0] is the call site, then a shared chain of
 * callers, the way a real program's stacks share their outer frames. */
static void define_sites(gen_t *g, uint32_t n) {
  for (uint32_t id = 1; id <= n && !g->err; id++) {
    uint64_t f[GEN_DEPTH];
    f[0] = GEN_MODULE_BASE + 0x1000 + (uint64_t)id * 0x40;
    for (unsigned d = 1; d < GEN_DEPTH; d++)
      f[d] = GEN_MODULE_BASE + 0x100000 + (uint64_t)(id % (7 * d + 1)) * 0x80 + d;
    g->err = trc_writer_add_site(g->w, id, f, GEN_DEPTH);
  }
  g->nsites = n;
}

static uint64_t g_alloc(gen_t *g, uint32_t th, uint32_t site, unsigned op,
                        uint64_t size, uint64_t nmemb, uint64_t align) {
  trc_event_t e;
  memset(&e, 0, sizeof e);
  uint64_t total = nmemb ? nmemb * size : size;
  e.op = (uint8_t)op;
  e.size = size;
  e.nmemb = nmemb;
  e.align = align;
  e.site = site;
  e.thread = th;
  e.ptr = addr_take(g, total, align);
  tick(g, 15, 120);
  e.time = g->now;
  put(g, &e);
  return e.ptr;
}

static void g_free(gen_t *g, uint32_t th, uint32_t site, uint64_t ptr,
                   uint64_t size) {
  trc_event_t e;
  memset(&e, 0, sizeof e);
  e.op = TRC_OP_FREE;
  e.ptr = ptr;
  e.site = site;
  e.thread = th;
  tick(g, 10, 80);
  e.time = g->now;
  put(g, &e);
  addr_give(g, ptr, size);
}

static uint64_t g_realloc(gen_t *g, uint32_t th, uint32_t site, uint64_t ptr,
                          uint64_t old_size, uint64_t size) {
  trc_event_t e;
  memset(&e, 0, sizeof e);
  e.op = TRC_OP_REALLOC;
  e.old_ptr = ptr;
  e.size = size;
  e.site = site;
  e.thread = th;
  uint64_t r1, r2;
  size_class(old_size, &r1);
  size_class(size, &r2);
  if (ptr && r1 == r2) {
    e.ptr = ptr; /* fits in place */
  } else {
    e.ptr = addr_take(g, size, 0);
    if (ptr) addr_give(g, ptr, old_size);
  }
  tick(g, 20, 200);
  e.time = g->now;
  put(g, &e);
  return e.ptr;
}

/* "use": the program touches the block; time passes in proportion. */
static void use(gen_t *g, uint64_t bytes) { tick(g, bytes / 64, bytes / 32 + 1); }

static uint64_t scaled(double scale, uint64_t n) {
  double v = (double)n * scale;
  return v < 1 ? 1 : (uint64_t)v;
}

/* ---- scenarios ------------------------------------------------------- */

/* hakmem's harness: one size, allocate, use, free, n times. */
static void loop_one(gen_t *g, uint64_t size, uint64_t n) {
  define_sites(g, 2);
  for (uint64_t i = 0; i < n && !g->err; i++) {
    uint64_t p = g_alloc(g, 0, 1, TRC_OP_MALLOC, size, 0, 0);
    use(g, size);
    g_free(g, 0, 2, p, size);
  }
}

static void sc_json(gen_t *g, double s) { loop_one(g, 64 << 10, scaled(s, 1000)); }
static void sc_mir(gen_t *g, double s) { loop_one(g, 256 << 10, scaled(s, 100)); }
static void sc_vm(gen_t *g, double s) { loop_one(g, 2 << 20, scaled(s, 10)); }

/* All three interleaved like a compiler: a json-sized buffer every round,
 * a mir-sized one living 10 rounds, a vm-sized one living 100 rounds, and
 * small token allocations with short lifetimes in between. */
static void sc_mixed(gen_t *g, double s) {
  define_sites(g, 8);
  uint64_t n = scaled(s, 1000), mir = 0, vm = 0;
  uint64_t tok[16] = {0}, toksz[16] = {0};
  for (uint64_t i = 0; i < n && !g->err; i++) {
    if (i % 100 == 0) vm = g_alloc(g, 0, 5, TRC_OP_MALLOC, 2 << 20, 0, 0);
    if (i % 10 == 0) mir = g_alloc(g, 0, 3, TRC_OP_MALLOC, 256 << 10, 0, 0);
    uint64_t j = g_alloc(g, 0, 1, TRC_OP_MALLOC, 64 << 10, 0, 0);
    use(g, 64 << 10);
    for (int k = 0; k < 4; k++) {
      unsigned t = (unsigned)hk_rng_below(&g->rng, 16);
      if (tok[t]) g_free(g, 0, 8, tok[t], toksz[t]);
      toksz[t] = 16 + hk_rng_below(&g->rng, 240);
      tok[t] = g_alloc(g, 0, 7, TRC_OP_MALLOC, toksz[t], 0, 0);
    }
    g_free(g, 0, 2, j, 64 << 10);
    if (i % 10 == 9 || i + 1 == n) g_free(g, 0, 4, mir, 256 << 10), mir = 0;
    if (i % 100 == 99 || i + 1 == n) {
      if (vm) g_free(g, 0, 6, vm, 2 << 20);
      vm = 0;
    }
  }
  for (int t = 0; t < 16; t++)
    if (tok[t]) g_free(g, 0, 8, tok[t], toksz[t]);
}

/* Size drawn from a skewed mix: mostly small, some medium, a few large. */
static uint64_t skewed_size(hk_rng_t *r) {
  uint64_t u = hk_rng_below(r, 100);
  if (u < 80) return 16 + hk_rng_below(r, 497);
  if (u < 95) return 512 + hk_rng_below(r, 16 << 10);
  return (16 << 10) + hk_rng_below(r, 240 << 10);
}

typedef struct obj {
  uint64_t ptr, size;
} obj_t;

/* Four threads, each allocating from its own 8 sites into a pool; 30% of
 * frees are made by another thread (producer/consumer hand-off). */
static void sc_threads(gen_t *g, double s) {
  enum { T = 4, POOL = 512 };
  define_sites(g, T * 8 + T);
  obj_t *pool = calloc((size_t)T * POOL, sizeof *pool);
  if (!pool) {
    g->err = HK_E_NOMEM;
    return;
  }
  uint64_t n = scaled(s, 200000);
  for (uint64_t i = 0; i < n && !g->err; i++) {
    uint32_t th = (uint32_t)hk_rng_below(&g->rng, T);
    uint32_t owner = th;
    if (hk_rng_below(&g->rng, 100) < 30) owner = (uint32_t)hk_rng_below(&g->rng, T);
    obj_t *o = &pool[(size_t)owner * POOL + hk_rng_below(&g->rng, POOL)];
    if (o->ptr) {
      g_free(g, th, T * 8 + 1 + th, o->ptr, o->size);
      o->ptr = 0;
    } else if (owner == th) {
      o->size = skewed_size(&g->rng);
      uint32_t site = 1 + th * 8 + (uint32_t)hk_rng_below(&g->rng, 8);
      o->ptr = g_alloc(g, th, site, TRC_OP_MALLOC, o->size, 0, 0);
    }
  }
  /* Threads exit freeing most of what they hold; a few objects stay live. */
  for (size_t k = 0; k < (size_t)T * POOL && !g->err; k++)
    if (pool[k].ptr && k % 16)
      g_free(g, (uint32_t)(k / POOL), T * 8 + 1 + (uint32_t)(k / POOL),
             pool[k].ptr, pool[k].size);
  free(pool);
}

/* Many call sites, each with its own size and lifetime and op mix, so that
 * a per-site learner has something to learn: small short-lived sites, big
 * buffers (BigCache range) reused at a steady rhythm, growing realloc
 * chains, aligned and calloc'd blocks, long-lived tables. */
typedef struct site_prof {
  uint64_t size;
  uint32_t life; /* mean lifetime in ops */
  unsigned op;
  uint64_t align;
} site_prof_t;

static void sc_sites(gen_t *g, double s) {
  enum { NS = 200, LIVE = 2048 };
  define_sites(g, NS + 1);
  site_prof_t prof[NS + 1];
  for (uint32_t i = 1; i <= NS; i++) {
    site_prof_t *p = &prof[i];
    double lg = 4 + hk_rng_double(&g->rng) * 12; /* 16 B .. 64 KiB */
    if (i % 10 == 0) lg = 19 + hk_rng_double(&g->rng) * 4; /* 512K..8M */
    p->size = (uint64_t)exp2(lg);
    p->life = 1 + (uint32_t)exp2(hk_rng_double(&g->rng) * 12);
    if (i % 10 == 0) p->life = 1 + (uint32_t)hk_rng_below(&g->rng, 16); /* big: short */
    uint64_t u = hk_rng_below(&g->rng, 100);
    p->op = u < 70 ? TRC_OP_MALLOC : u < 80 ? TRC_OP_CALLOC : u < 88 ? TRC_OP_REALLOC
          : u < 92 ? TRC_OP_POSIX_MEMALIGN : u < 95 ? TRC_OP_ALIGNED_ALLOC
          : u < 97 ? TRC_OP_MEMALIGN : u < 99 ? TRC_OP_VALLOC : TRC_OP_PVALLOC;
    p->align = p->op == TRC_OP_VALLOC || p->op == TRC_OP_PVALLOC ? 4096
             : (p->op == TRC_OP_POSIX_MEMALIGN || p->op == TRC_OP_ALIGNED_ALLOC ||
                p->op == TRC_OP_MEMALIGN) ? (32ull << hk_rng_below(&g->rng, 7)) : 0;
  }
  typedef struct live {
    uint64_t ptr, size, due;
    uint32_t site;
  } live_t;
  live_t *lv = calloc(LIVE, sizeof *lv);
  if (!lv) {
    g->err = HK_E_NOMEM;
    return;
  }
  uint64_t n = scaled(s, 100000);
  for (uint64_t i = 0; i < n && !g->err; i++) {
    live_t *l = &lv[hk_rng_below(&g->rng, LIVE)];
    if (l->ptr && l->due <= i) {
      site_prof_t *p = &prof[l->site];
      if (p->op == TRC_OP_REALLOC && l->size < (p->size << 4) &&
          hk_rng_below(&g->rng, 3)) {
        uint64_t ns = l->size + l->size / 2 + 1;
        l->ptr = g_realloc(g, 0, l->site, l->ptr, l->size, ns);
        l->size = ns;
        l->due = i + 1 + hk_rng_below(&g->rng, p->life);
        continue;
      }
      g_free(g, 0, NS + 1, l->ptr, l->size);
      l->ptr = 0;
    }
    if (l->ptr) continue;
    /* Big sites are called rarely, at their own rhythm. */
    uint32_t site = 1 + (uint32_t)hk_rng_below(&g->rng, NS);
    if (site % 10 == 0 && hk_rng_below(&g->rng, 8)) site--;
    if (site == 0) site = 1;
    site_prof_t *p = &prof[site];
    uint64_t size = p->size + hk_rng_below(&g->rng, p->size / 8 + 1);
    if (p->op == TRC_OP_ALIGNED_ALLOC) size = (size + p->align - 1) & ~(p->align - 1);
    if (p->op == TRC_OP_CALLOC) {
      uint64_t elem = 8 << hk_rng_below(&g->rng, 3);
      uint64_t cnt = size / elem + 1;
      l->ptr = g_alloc(g, 0, site, TRC_OP_CALLOC, elem, cnt, 0);
      size = elem * cnt;
    } else if (p->op == TRC_OP_REALLOC) {
      l->ptr = g_realloc(g, 0, site, 0, 0, size);
    } else {
      l->ptr = g_alloc(g, 0, site, p->op, size, 0, p->align);
    }
    l->size = size;
    l->site = site;
    l->due = i + 1 + hk_rng_below(&g->rng, 2 * (uint64_t)p->life);
  }
  for (size_t k = 0; k < LIVE && !g->err; k++)
    if (lv[k].ptr && k % 8) g_free(g, 0, NS + 1, lv[k].ptr, lv[k].size);
  free(lv);
}

/* A size distribution that changes halfway (the lifecycle's re-learn
 * case): one call site allocates into a ring of 64 live blocks (each
 * freed 64 allocations later), 300,000 rounds, sizes uniform in
 * 16 B..1 KiB for the first half, then in 4..16 KiB. The log2 size
 * histograms of the halves do not overlap (total variation distance 1);
 * each half is 15 of evo's 10,000-allocation windows, room to learn and
 * freeze, and sizes that stay inside libc's heap keep the windows' mean
 * cost steady enough (< 1% apart) for the lifecycle to freeze. */
static void sc_shift(gen_t *g, double s) {
  enum { RING = 64 };
  define_sites(g, 2);
  uint64_t n = scaled(s, 300000), ptr[RING] = {0}, sz[RING] = {0};
  for (uint64_t i = 0; i < n && !g->err; i++) {
    unsigned k = (unsigned)(i % RING);
    if (ptr[k]) g_free(g, 0, 2, ptr[k], sz[k]);
    sz[k] = i < n / 2 ? 16 + hk_rng_below(&g->rng, 1008)
                      : (4 << 10) + hk_rng_below(&g->rng, 12 << 10);
    ptr[k] = g_alloc(g, 0, 1, TRC_OP_MALLOC, sz[k], 0, 0);
    use(g, sz[k]);
  }
  for (unsigned k = 0; k < RING && !g->err; k++)
    if (ptr[k]) g_free(g, 0, 2, ptr[k], sz[k]);
}

typedef struct scenario {
  const char *name;
  const char *about;
  void (*run)(gen_t *, double);
  uint32_t threads;
} scenario_t;

static const scenario_t scenarios[] = {
    {"json", "64 KiB x 1000 allocate, use, free (hakmem harness)", sc_json, 1},
    {"mir", "256 KiB x 100 allocate, use, free (hakmem harness)", sc_mir, 1},
    {"vm", "2 MiB x 10 allocate, use, free (hakmem harness)", sc_vm, 1},
    {"mixed", "json, mir and vm interleaved with small tokens, like a compiler",
     sc_mixed, 1},
    {"threads", "4 threads, skewed sizes, 30% cross-thread frees", sc_threads, 4},
    {"sites", "200 call sites with their own sizes, lifetimes and op kinds",
     sc_sites, 1},
    {"shift", "sizes 16 B..1 KiB, then 4..16 KiB from halfway (re-learn)",
     sc_shift, 1},
};

const char *const trc_gen_scenarios[] = {"json", "mir", "vm", "mixed",
                                         "threads", "sites", "shift", NULL};

static const scenario_t *find(const char *name) {
  for (size_t i = 0; i < HK_ARRAY_LEN(scenarios); i++)
    if (strcmp(scenarios[i].name, name) == 0) return &scenarios[i];
  return NULL;
}

const char *trc_gen_describe(const char *scenario) {
  const scenario_t *s = find(scenario);
  return s ? s->about : NULL;
}

int trc_gen(const char *scenario, const char *path, const trc_gen_opts_t *o) {
  const scenario_t *sc = find(scenario);
  if (!sc) return HK_E_NOTFOUND;
  double scale = o && o->scale > 0 ? o->scale : 1.0;
  char exe[64];
  snprintf(exe, sizeof exe, "gen:%s", sc->name);
  trc_header_t h;
  memset(&h, 0, sizeof h);
  h.flags = TRC_HF_SYNTHETIC;
  h.clock = TRC_CLOCK_VIRTUAL;
  h.tick_hz = 1000000000ull;
  h.exe = exe;
  h.depth = GEN_DEPTH;
  gen_t *g = calloc(1, sizeof *g);
  if (!g) return HK_E_NOMEM;
  hk_rng_init(&g->rng, o ? o->seed : 0);
  g->bump = 0x00007f0000000000ull;
  int rc = trc_writer_create(&g->w, path, &h, NULL);
  if (rc) {
    free(g);
    return rc;
  }
  trc_module_t m = {.id = 1, .base = GEN_MODULE_BASE, .lo = GEN_MODULE_BASE,
                    .hi = GEN_MODULE_BASE + 0x200000, .path = exe};
  g->err = trc_writer_add_module(g->w, &m);
  for (uint32_t t = 0; t < sc->threads && !g->err; t++) {
    trc_thread_t th = {.index = t, .tid = 1000 + t, .name = t ? "worker" : "main"};
    g->err = trc_writer_add_thread(g->w, &th);
  }
  if (!g->err) sc->run(g, scale);
  rc = g->err;
  int frc = trc_writer_finish(g->w, g->now, 0);
  if (!rc) rc = frc;
  trc_writer_free(g->w);
  for (int i = 0; i < N_CLASSES; i++) free(g->cls[i].free_);
  free(g);
  return rc;
}
