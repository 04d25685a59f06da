/* hak_core.c: the hakmem instance: allocation order, header, free
 * dispatch, thermal free policy, THP, statistics and the cost model's
 * accounting. Allocation order (HAKMEM.md, Phase 6.6): the policy picks the
 * mmap threshold; BigCache is tried for sizes in its range; then mmap for
 * size >= threshold, libc malloc(header + size) below it. Cost budget of a
 * BigCache hit beyond the policy: a site hash, a comparison chain, a slot
 * read and a 32-byte header write. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hak_internal.h"

/* ---- counted OS calls --------------------------------------------- */

void *hak_sys_mmap(hak_t *h, size_t len) {
  void *p = h->os.mmap(h->os.ctx, len);
  h->st.sys_mmap++;
  h->st.model_syscalls++;
  h->op_sys_ns += h->cfg.cost.mmap_ns;
  if (!p) h->st.sys_failed++;
  return p;
}

void hak_sys_munmap(hak_t *h, void *p, size_t len, uint64_t pages) {
  if (h->os.munmap(h->os.ctx, p, len) != 0) h->st.sys_failed++;
  h->st.sys_munmap++;
  h->st.model_syscalls++;
  h->op_sys_ns += h->cfg.cost.munmap_ns + (double)pages * h->cfg.cost.munmap_page_ns;
}

void hak_sys_madvise(hak_t *h, void *p, size_t len, int advice,
                     uint64_t pages) {
  if (h->os.madvise(h->os.ctx, p, len, advice) != 0) h->st.sys_failed++;
  h->st.sys_madvise++;
  h->st.model_syscalls++;
  if (advice == HAK_MADV_DONTNEED) h->st.sys_madv_dontneed++;
  if (advice == HAK_MADV_FREE) h->st.sys_madv_free++;
  if (advice == HAK_MADV_HUGEPAGE) h->st.sys_madv_hugepage++;
  h->op_sys_ns += h->cfg.cost.madvise_ns;
  /* MADV_FREE keeps the pages until memory pressure: nothing dropped */
  if (advice == HAK_MADV_DONTNEED)
    h->op_sys_ns += (double)pages * h->cfg.cost.madvise_page_ns;
}

/* What a libc call cost beyond its base price, as the libc model says. */
static void libc_effect(hak_t *h, const hak_lm_effect_t *fx) {
  const hak_cost_t *c = &h->cfg.cost;
  h->op_pages += fx->faults;
  h->st.libc_mmaps += fx->mmaps;
  h->st.libc_munmaps += fx->munmaps;
  h->st.libc_brks += fx->brks;
  h->st.model_syscalls += fx->mmaps + fx->munmaps + fx->brks;
  h->op_sys_ns += fx->mmaps * c->mmap_ns + fx->munmaps * c->munmap_ns +
                  fx->brks * c->brk_ns + (double)fx->released * c->munmap_page_ns;
}

/* ---- delayed credit --------------------------------------------------- */

void hak_credit(hak_t *h, int kind, hak_owner_t owner, uint64_t size,
                double cpu_ns, double mem_ns) {
  h->op_credit_ns += cpu_ns;
  if (owner.arm < 0) return;
  pol_outcome_t o = {.site = owner.site, .size = size, .kind = (uint32_t)kind};
  o.strategy.arm = owner.arm;
  o.cpu_ns = cpu_ns;
  o.mem_ns = mem_ns;
  o.cost_ns = cpu_ns + mem_ns;
  o.op_seq = h->st.ops;
  o.vtime_ns = (uint64_t)h->st.vtime_ns;
  o.time_ns = h->have_clock ? h->now_ns : o.vtime_ns;
  h->st.credits++;
  h->pops->observe(h->pol, &o);
}

/* The decision recorded in a block's header (arm -1 when none). */
static hak_owner_t owner_of(const hak_t *h, const hak_header_t *hd) {
  hak_owner_t w = {0, -1};
  if (h->hs >= 32 && hd->flags >> HAK_ARM_SHIFT) {
    w.site = hd->site;
    w.arm = (hd->flags >> HAK_ARM_SHIFT) - 1;
  }
  return w;
}

/* ---- lifecycle ------------------------------------------------------ */

int hak_create(hak_t **out, const hak_config_t *cfg, const hak_os_t *os,
               pol_t *pol) {
  *out = NULL;
  hak_config_t c;
  if (cfg)
    c = *cfg;
  else
    hak_config_init(&c, HAK_MODE_BALANCED);
  if (c.header_size != 16 && c.header_size != 32) return HK_E_RANGE;
  if (c.bigcache_sites == 0 || c.bigcache_sites > HAK_SITES) return HK_E_RANGE;
  if (c.batch_blocks == 0) return HK_E_RANGE;
  /* The instance lives in its own mapping, not in the heap it manages:
   * the preload front end creates it while malloc is being interposed. */
  size_t sz = page_round(sizeof(hak_t) + c.batch_blocks * sizeof(batch_ent_t));
  void *mem = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (mem == MAP_FAILED) return HK_E_NOMEM;
  hak_t *h = mem;
  h->cfg = c;
  h->os = os ? *os : *hak_os_default();
  h->hs = c.header_size;
  h->batch = (batch_ent_t *)(h + 1);
  hak_lm_init(&h->lm, &c.cost);
  if (pol) {
    h->pol = pol;
  } else {
    const pol_ops_t *ops = pol_find(hak_config_policy(&c));
    if (!ops) {
      munmap(mem, sz);
      return HK_E_NOTFOUND;
    }
    pol_config_t pc;
    hak_config_pol(&c, &pc);
    h->pol = pol_create(ops, &pc, c.seed);
    if (!h->pol) {
      munmap(mem, sz);
      return HK_E_NOMEM;
    }
    h->own_pol = 1;
  }
  h->pops = pol_ops(h->pol);
  h->st.policy_arms = pol_arm_range(h->pol, &h->arm_lo, &h->arm_hi);
  *out = h;
  return 0;
}

void hak_free(hak_t *h) {
  if (!h) return;
  hak_batch_flush(h);
  hak_bc_drain(h);
  hak_map_release(&h->blocks);
  hak_lm_release(&h->lm);
  if (h->own_pol) pol_free(h->pol);
  munmap(h, page_round(sizeof(hak_t) + h->cfg.batch_blocks * sizeof(batch_ent_t)));
}

const hak_stats_t *hak_stats(const hak_t *h) { return &h->st; }
const hak_config_t *hak_config(const hak_t *h) { return &h->cfg; }
pol_t *hak_policy(const hak_t *h) { return h->pol; }
void hak_flush(hak_t *h) {
  h->op_sys_ns = 0;
  h->op_credit_ns = 0;
  hak_batch_flush(h);
  h->st.vtime_ns += h->op_sys_ns;
}

void hak_set_time(hak_t *h, uint64_t now_ns) {
  h->now_ns = now_ns;
  h->have_clock = 1;
}

/* ---- helpers -------------------------------------------------------- */

HK_FORCE_INLINE unsigned site_slot(uint64_t site) {
  uint64_t x = site * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing */
  return (unsigned)(x >> 56);
}

HK_FORCE_INLINE hak_header_t *header_of(const hak_t *h, const void *p) {
  return (hak_header_t *)((char *)(uintptr_t)p - h->hs);
}

static void note_held(hak_t *h) {
  uint64_t held = h->st.live_bytes + h->st.cached_bytes + h->st.batched_bytes;
  if (held > h->st.peak_held_bytes) h->st.peak_held_bytes = held;
}

static double held_cost(const hak_t *h) {
  return (double)(h->st.live_bytes + h->st.cached_bytes + h->st.batched_bytes) *
         h->cfg.cost.byte_op_ns;
}

static unsigned size_bucket(size_t size) {
  unsigned b = size ? 63u - (unsigned)__builtin_clzll(size) : 0;
  return b < HAK_SIZE_BUCKETS ? b : HAK_SIZE_BUCKETS - 1;
}

static void *write_header(hak_t *h, char *user, int method, int cls,
                          unsigned slot, int flags, size_t usable, size_t off,
                          uint64_t site) {
  hak_header_t *hd = header_of(h, user);
  hd->magic = HAK_MAGIC;
  hd->method = (uint8_t)method;
  hd->cls = cls < 0 ? HAK_NO_CLASS : (uint8_t)cls;
  hd->slot = (uint8_t)slot;
  hd->flags = (uint8_t)flags;
  hd->size_off = (uint64_t)usable | ((uint64_t)(off / 16) << 48);
  if (h->hs >= 32) {
    hd->site = site;
    hd->birth = h->st.ops;
  }
  return user;
}

/* The MMAP method. align <= 16 needs nothing; align <= a page is absorbed
 * by an offset; larger alignments map extra and trim head and tail so the
 * header sits in the page just below the aligned pointer. */
static void *mmap_block(hak_t *h, size_t size, size_t align, int cls,
                        unsigned slot, uint64_t site) {
  size_t hs = h->hs, cap = cls >= 0 ? hak_class_size[cls] : size;
  size_t len, off;
  char *base, *user;
  if (align <= 16) {
    len = page_round(hs + cap);
    if (len < cap) return NULL;
    base = hak_sys_mmap(h, len);
    if (!base) return NULL;
    off = 0;
    user = base + hs;
  } else if (align <= HAK_PAGE) {
    len = page_round(hs + align + size);
    if (len < size) return NULL;
    base = hak_sys_mmap(h, len);
    if (!base) return NULL;
    user = (char *)(((uintptr_t)base + hs + align - 1) & ~(uintptr_t)(align - 1));
    off = (size_t)(user - hs - base);
  } else {
    size_t total = page_round(HAK_PAGE + size) + align;
    if (total < size) return NULL;
    char *raw = hak_sys_mmap(h, total);
    if (!raw) return NULL;
    user = (char *)(((uintptr_t)raw + HAK_PAGE + align - 1) &
                    ~(uintptr_t)(align - 1));
    base = user - HAK_PAGE;
    len = page_round(HAK_PAGE + size);
    size_t head = (size_t)(base - raw), tail = total - head - len;
    if (head) hak_sys_munmap(h, raw, head, 0);
    if (tail) hak_sys_munmap(h, base + len, tail, 0);
    off = HAK_PAGE - hs;
  }
  int huge = h->cfg.thp == HAK_THP_ON ||
             (h->cfg.thp == HAK_THP_AUTO && len >= h->cfg.thp_gate);
  if (huge) hak_sys_madvise(h, base, len, HAK_MADV_HUGEPAGE, 0);
  /* the program writes header and block: every page up to its end */
  size_t touched = off + hs + size;
  h->op_pages += hak_model_fresh_faults(h, len, touched, huge);
  hak_map_put(&h->blocks, (uint64_t)(uintptr_t)(base + off + hs),
              page_round(touched) / HAK_PAGE);
  h->st.mmap_path++;
  size_t usable = len - off - hs;
  h->st.live_bytes += usable;
  return write_header(h, user, HAK_METHOD_MMAP, cls, slot, 0, usable, off,
                      site);
}

static void *malloc_block(hak_t *h, size_t size, size_t align, unsigned slot,
                          uint64_t site) {
  size_t hs = h->hs, extra = align > 16 ? align : 0;
  size_t n = hs + size + extra;
  if (n < size) return NULL;
  char *raw = h->os.malloc(h->os.ctx, n);
  h->st.sys_malloc++;
  h->op_sys_ns += h->cfg.cost.malloc_ns;
  if (!raw) {
    h->st.sys_failed++;
    return NULL;
  }
  char *user = raw + hs;
  if (align > 16)
    user = (char *)(((uintptr_t)raw + hs + align - 1) & ~(uintptr_t)(align - 1));
  hak_lm_effect_t fx;
  /* Ask glibc what it did only when the MALLOC method is glibc itself (a
   * test's or the preload's table may be anything). */
  int real = h->cfg.cost.libc_sync && h->os.malloc == hak_os_default()->malloc
                 ? hak_lm_real_method(raw)
                 : HAK_LM_UNKNOWN;
  uint64_t handle = hak_lm_malloc(&h->lm, n, real, &fx);
  libc_effect(h, &fx);
  hak_map_put(&h->blocks, (uint64_t)(uintptr_t)user, handle);
  h->st.malloc_path++;
  h->st.live_bytes += size;
  return write_header(h, user, HAK_METHOD_MALLOC, -1, slot, 0, size,
                      (size_t)(user - hs - raw), site);
}

/* ---- allocation ----------------------------------------------------- */

static void *alloc_impl(hak_t *h, size_t size, size_t align, uint64_t site,
                        int *fresh) {
  const hak_config_t *c = &h->cfg;
  uint64_t t0 = c->reward == HAK_REWARD_MEASURED ? hk_now_ns() : 0;
  h->op_sys_ns = 0;
  h->op_pages = 0;
  h->st.ops++;
  h->st.allocs++;
  unsigned slot = site_slot(site);
  hak_site_stats_t *ss = &h->st.sites[slot];
  if (!ss->allocs) ss->site = site;
  if (ss->last_alloc_op) {
    double d = (double)(h->st.ops - ss->last_alloc_op);
    ss->interval_ops = ss->interval_ops > 0 ? 0.875 * ss->interval_ops + 0.125 * d : d;
  }
  ss->last_alloc_op = h->st.ops;
  ss->allocs++;
  ss->bytes += size;
  ss->size_hist[size_bucket(size)]++;

  /* (1) the policy picks the strategy */
  pol_strategy_t s = h->pops->choose(h->pol, site, size);
  void *user = NULL;
  double path_ns;
  int cls = c->bigcache && align <= 16 ? hak_class_of(size, c->bigcache_min) : -1;
  *fresh = 0;
  /* (2) BigCache for sizes in its range */
  int warm = 0;
  uint64_t pages = 0;
  char *base = cls >= 0 ? hak_bc_get(h, slot, cls, &warm, &pages) : NULL;
  if (base) {
    path_ns = c->cost.hit_path_ns;
    /* A cached block is resident (MADV_FREE keeps its pages too); only
     * pages beyond what its earlier users wrote are first touches. */
    uint64_t need = page_round(h->hs + size) / HAK_PAGE;
    if (need > pages) {
      h->op_pages += need - pages;
      pages = need;
    }
    hak_map_put(&h->blocks, (uint64_t)(uintptr_t)(base + h->hs), pages);
    size_t len = hak_class_size[cls], usable = page_round(h->hs + len) - h->hs;
    h->st.live_bytes += usable;
    user = write_header(h, base + h->hs, HAK_METHOD_MMAP, cls, slot, 0, usable,
                        0, site);
  } else if (size >= s.threshold || align > HAK_PAGE) {
    /* (3) mmap at or above the threshold */
    h->st.arm_split_allocs += align <= HAK_PAGE && size >= h->arm_lo &&
                              size < h->arm_hi;
    path_ns = c->cost.mmap_path_ns;
    user = mmap_block(h, size, align, cls, slot, site);
    *fresh = 1;
  } else {
    h->st.arm_split_allocs += size >= h->arm_lo && size < h->arm_hi;
    path_ns = c->cost.malloc_path_ns;
    user = malloc_block(h, size, align, slot, site);
  }
  note_held(h);
  if (user && s.arm >= 0 && s.arm <= HAK_ARM_MAX)
    header_of(h, user)->flags |= (uint8_t)((s.arm + 1) << HAK_ARM_SHIFT);

  pol_outcome_t o = {.site = site, .size = size, .strategy = s,
                     .kind = POL_OUT_ALLOC};
  o.cpu_ns = path_ns + h->op_sys_ns;
  o.fault_ns = (double)h->op_pages * c->cost.fault_ns;
  /* The bytes the block holds reach its decision at free and flush (its
   * own bytes x its own lifetime): charging every allocation the bytes
   * the whole allocator holds at that moment rewarded arms for when they
   * were tried, not for what they do. The clock still counts them. */
  o.mem_ns = 0;
  h->st.first_touch_pages += h->op_pages;
  double modelled = o.cpu_ns + o.fault_ns + held_cost(h);
  h->st.vtime_ns += modelled;
  if (c->reward == HAK_REWARD_MEASURED) /* not deterministic */
    o.cpu_ns = (double)(hk_now_ns() - t0);
  o.cost_ns = o.cpu_ns + o.fault_ns + o.mem_ns;
  o.op_seq = h->st.ops;
  o.vtime_ns = (uint64_t)h->st.vtime_ns;
  o.time_ns = h->have_clock ? h->now_ns : o.vtime_ns;
  h->pops->observe(h->pol, &o);
  return user;
}

void *hak_alloc(hak_t *h, size_t size, uint64_t site) {
  int fresh;
  return alloc_impl(h, size, 16, site, &fresh);
}

void *hak_calloc(hak_t *h, size_t n, size_t size, uint64_t site) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) return NULL;
  int fresh;
  void *p = alloc_impl(h, total, 16, site, &fresh);
  if (p && !fresh) memset(p, 0, total); /* fresh mappings are zero */
  return p;
}

void *hak_memalign(hak_t *h, size_t align, size_t size, uint64_t site) {
  if (align == 0 || (align & (align - 1))) return NULL;
  if (align < 16) align = 16;
  int fresh;
  return alloc_impl(h, size, align, site, &fresh);
}

int hak_owns(const hak_t *h, const void *p) {
  return p && header_of(h, p)->magic == HAK_MAGIC;
}

size_t hak_usable_size(const hak_t *h, const void *p) {
  if (!hak_owns(h, p)) return 0;
  return hdr_size(header_of(h, p));
}

/* ---- free ------------------------------------------------------------ */

enum { HOT, WARM, COLD };

/* Thermal free policy (adaptive): a site's temperature is the EWMA of the
 * ops between its allocations: hot (<= hot_ops) blocks are cached as is,
 * warm (<= warm_ops) are cached after MADV_FREE, cold skip the cache for
 * the batch (MADV_DONTNEED + munmap at the flush). */
static int temperature(const hak_t *h, unsigned slot) {
  if (h->cfg.free_policy != HAK_FREE_ADAPTIVE) return HOT;
  double iv = h->st.sites[slot].interval_ops;
  if (iv <= (double)h->cfg.hot_ops) return HOT;
  if (iv <= (double)h->cfg.warm_ops) return WARM;
  return COLD;
}

void hak_dealloc(hak_t *h, void *p, uint64_t site) {
  (void)site; /* the header's site keys BigCache: the allocating site */
  if (!p) return;
  hak_header_t *hd = header_of(h, p);
  if (HK_UNLIKELY(hd->magic != HAK_MAGIC)) {
    h->st.bad_frees++;
    return;
  }
  const hak_config_t *c = &h->cfg;
  h->op_sys_ns = 0;
  h->op_credit_ns = 0;
  h->st.ops++;
  h->st.frees++;
  hak_owner_t owner = owner_of(h, hd);
  /* ops not yet credited: since its birth, or since hak_credit_live */
  uint64_t from = hd->birth > h->live_credited_op ? hd->birth
                                                   : h->live_credited_op;
  double live_mem = h->hs >= 32 ? (double)hdr_size(hd) *
                                      (double)(h->st.ops - from) *
                                      c->cost.byte_op_ns
                                : 0;
  unsigned slot = hd->slot;
  hak_site_stats_t *ss = &h->st.sites[slot];
  ss->frees++;
  if (h->hs >= 32) {
    uint64_t life = h->st.ops - hd->birth;
    ss->lifetime_sum += life;
    ss->lifetime_n++;
    if (life > ss->lifetime_max) ss->lifetime_max = life;
  }
  size_t usable = hdr_size(hd), off = hdr_off(hd);
  hd->magic = 0; /* a second free of the block is a bad free */
  uint64_t info = 0;
  int known = hak_map_del(&h->blocks, (uint64_t)(uintptr_t)p, &info);
  if (hd->method == HAK_METHOD_MALLOC) {
    h->st.live_bytes -= usable;
    h->os.free(h->os.ctx, (char *)hd - off);
    h->st.sys_free++;
    h->op_sys_ns += c->cost.libc_free_ns;
    if (known) {
      hak_lm_effect_t fx;
      hak_lm_free(&h->lm, info, &fx);
      libc_effect(h, &fx);
    }
  } else {
    char *base = (char *)hd - off;
    size_t len = page_round(off + h->hs + usable);
    uint64_t pages = known ? info : len / HAK_PAGE;
    h->st.live_bytes -= usable;
    int kept = 0;
    if (c->bigcache && hd->cls != HAK_NO_CLASS && off == 0) {
      int t = temperature(h, slot);
      if (t == HOT) {
        h->st.hot_frees++;
        kept = hak_bc_put(h, slot, hd->cls, base, len, 0, pages, owner);
      } else if (t == WARM) {
        h->st.warm_frees++;
        hak_sys_madvise(h, base, len, HAK_MADV_FREE, pages);
        kept = hak_bc_put(h, slot, hd->cls, base, len, 1, pages, owner);
      } else {
        h->st.cold_frees++;
      }
    }
    if (!kept) {
      if (c->batch && len >= c->batch_min)
        hak_batch_add(h, base, len, pages, owner); /* munmap at the flush */
      else
        hak_sys_munmap(h, base, len, pages);
    }
  }
  /* whole-life credit: the free's own cost (not a flush it triggered:
   * each flushed block's decision got its share) and the bytes x ops the
   * block was live */
  hak_credit(h, POL_OUT_FREE, owner, usable,
             c->cost.free_ns + h->op_sys_ns - h->op_credit_ns, live_mem);
  h->st.vtime_ns += c->cost.free_ns + h->op_sys_ns + held_cost(h);
}

void *hak_realloc(hak_t *h, void *p, size_t size, uint64_t site) {
  if (!p) return hak_alloc(h, size, site);
  if (size == 0) {
    hak_dealloc(h, p, site);
    return NULL;
  }
  if (!hak_owns(h, p)) {
    h->st.bad_frees++;
    return NULL;
  }
  h->st.reallocs++;
  size_t usable = hdr_size(header_of(h, p));
  if (size <= usable) return p;
  void *q = hak_alloc(h, size, site);
  if (!q) return NULL;
  memcpy(q, p, usable);
  h->st.vtime_ns += (double)usable * h->cfg.cost.copy_byte_ns;
  hak_dealloc(h, p, site);
  return q;
}

/* ---- summary ---------------------------------------------------------- */

typedef struct {
  int fd;
} emit_ctx_t;

static void emit_row(void *ctx, int arm, const char *metric, double value) {
  emit_ctx_t *e = ctx;
  dprintf(e->fd, "  arm %3d %-14s %.6g\n", arm, metric, value);
}

void hak_print_summary(const hak_t *h, int fd) {
  const hak_stats_t *s = &h->st;
  char dg[33];
  pol_digest_hex(h->pol, dg);
  dprintf(fd, "[hakmem] mode=%s policy=%s decisions=%llu digest=%s\n",
          hak_mode_name((enum hak_mode)h->cfg.mode), pol_name(h->pol),
          (unsigned long long)pol_decisions(h->pol), dg);
  emit_ctx_t e = {fd};
  pol_snapshot(h->pol, emit_row, &e);
  dprintf(fd,
          "[hakmem] bigcache hits=%llu misses=%llu puts=%llu evictions=%llu\n"
          "[hakmem] batch adds=%llu flushes=%llu blocks=%llu bytes=%llu\n"
          "[hakmem] syscalls mmap=%llu munmap=%llu madvise=%llu\n",
          (unsigned long long)s->cache_hits, (unsigned long long)s->cache_misses,
          (unsigned long long)s->cache_puts,
          (unsigned long long)s->cache_evictions,
          (unsigned long long)s->batch_adds,
          (unsigned long long)s->batch_flushes,
          (unsigned long long)s->batch_flushed_blocks,
          (unsigned long long)s->batch_bytes, (unsigned long long)s->sys_mmap,
          (unsigned long long)s->sys_munmap, (unsigned long long)s->sys_madvise);
}

/* ---- the end of the program ------------------------------------------ */

/* Heapsort of headers by birth, in place: glibc's qsort may malloc, and
 * nothing here may touch the heap under study (or recurse into the
 * preloaded hakmem). */
static void sift(hak_header_t **v, size_t i, size_t n) {
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && v[c + 1]->birth > v[c]->birth) c++;
    if (v[i]->birth >= v[c]->birth) return;
    hak_header_t *t = v[i];
    v[i] = v[c];
    v[c] = t;
    i = c;
  }
}
static void sort_by_birth(hak_header_t **v, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift(v, i, n);
  for (size_t k = n; k-- > 1;) {
    hak_header_t *t = v[0];
    v[0] = v[k];
    v[k] = t;
    sift(v, 0, k);
  }
}

uint64_t hak_credit_live(hak_t *h) {
  if (h->hs < 32 || !h->blocks.e || !h->blocks.n) {
    h->live_credited_op = h->st.ops;
    return 0; /* none live, or no block carries its decision */
  }
  /* h->blocks holds every live block the model tracks, keyed by its user
   * pointer (+1); a block it could not track (its map out of memory)
   * goes uncredited, as it goes unmodelled. Credited in the order of
   * their allocations (birth), not of the map (addresses differ from run
   * to run), so the policy sees the same sums in the same order. The list
   * lives in its own mapping, never in the heap under study. */
  size_t bytes = page_round(h->blocks.n * sizeof(hak_header_t *));
  hak_header_t **v = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (v == MAP_FAILED) return 0;
  size_t n = 0;
  for (size_t i = 0; i < h->blocks.cap && n < h->blocks.n; i++) {
    uint64_t key = h->blocks.e[i].key;
    if (!key) continue;
    hak_header_t *hd = header_of(h, (const void *)(uintptr_t)(key - 1));
    if (hd->magic == HAK_MAGIC && owner_of(h, hd).arm >= 0) v[n++] = hd;
  }
  sort_by_birth(v, n);
  for (size_t i = 0; i < n; i++) {
    const hak_header_t *hd = v[i];
    uint64_t from = hd->birth > h->live_credited_op ? hd->birth
                                                     : h->live_credited_op;
    double mem = (double)hdr_size(hd) * (double)(h->st.ops - from) *
                 h->cfg.cost.byte_op_ns;
    h->op_credit_ns = 0;
    hak_credit(h, POL_OUT_LIVE, owner_of(h, hd), hdr_size(hd), 0, mem);
  }
  munmap(v, bytes);
  h->live_credited_op = h->st.ops;
  return n;
}
