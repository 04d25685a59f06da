/* rpl_be_hakmem.c: the hakmem core in-process (hakmem/hakmem.h): one
 * instance per run with the run's policy and seed, key=value config
 * overrides from the command line, the recorded immediate caller as its
 * site, each op's recorded time as the lifecycle's clock. Reports BigCache
 * hits and misses, OS calls counted by the core, the policy's digest and
 * its timeline (snapshots every timeline.every decisions and at each RSS
 * sample). The oracle policy is searched here before the run
 * (rpl_oracle.c). */
#include <stdio.h>
#include <string.h>

#include "rpl_internal.h"

#ifdef RPL_HAVE_HAKMEM
#include "hakmem.h"
#include "policy.h"

typedef struct hk_be {
  hak_t *h;
  const hak_stats_t *st;
  const uint64_t *callers;
  uint32_t n_callers;
  uint64_t last_mmap, last_malloc, last_hit, last_miss; /* last_decision */
  rpl_pol_row_t *rows; /* timeline, mmap'd, grows after ops */
  uint64_t n_rows, cap_rows, at;
  pol_t *pol;           /* the policy (borrowed from the core, or ours) */
  pol_t *own_pol;       /* the oracle, created and searched here */
  uint64_t every, next_snap, last_snap; /* timeline.every sampling */
  double oracle_uniform_ns, oracle_mixed_ns;
  uint64_t n_ops;   /* the program's length: at_op(n_ops) is its end */
  int live_credited; /* hak_credit_live done */
} hk_be_t;

static hk_be_t hb;

static int apply(hak_config_t *c, const rpl_be_config_t *cfg, char *why,
                 size_t len) {
  hak_config_init(c, HAK_MODE_BALANCED);
  c->seed = cfg->seed;
  /* --policy evo is the learning lifecycle (LEARN, FROZEN, CANARY,
   * re-learn); balanced mode's frozen start (libhakmem.so's default) is
   * the explicit --hakmem evo.mode=frozen, applied after this. */
  if (cfg->policy && strcmp(cfg->policy, "evo") == 0)
    c->pol.evo_mode = POL_EVO_AUTO;
  for (size_t i = 0; i < cfg->n_overrides; i++) {
    int rc = hak_config_set_kv(c, cfg->overrides[i]);
    if (rc) {
      snprintf(why, len, "hakmem setting '%s': %s", cfg->overrides[i],
               rc == HK_E_NOTFOUND ? "unknown key" : "bad value");
      return HK_E_USAGE;
    }
  }
  if (cfg->policy) {
    if (strlen(cfg->policy) >= sizeof c->policy || !pol_find(cfg->policy)) {
      snprintf(why, len, "unknown policy '%s'", cfg->policy);
      return HK_E_USAGE;
    }
    strcpy(c->policy, cfg->policy);
  }
  return 0;
}

static int hkb_check(const rpl_be_config_t *cfg, char *why, size_t len) {
  hak_config_t c;
  return apply(&c, cfg, why, len);
}

static int hkb_available(char *why, size_t len) { return 0; }

static int hkb_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                    size_t len) {
  memset(&hb, 0, sizeof hb);
  hak_config_t c;
  int rc = apply(&c, cfg, why, len);
  if (rc) return rc;
  if (strcmp(hak_config_policy(&c), "oracle") == 0) {
    hb.own_pol = pol_create(&pol_oracle_ops, &c.pol, c.seed);
    if (!hb.own_pol) {
      snprintf(why, len, "oracle: out of memory");
      return HK_E_NOMEM;
    }
    rc = rpl_oracle_search(hb.own_pol, &c, cfg->ops, cfg->n_ops, cfg->callers,
                           cfg->n_callers, &hb.oracle_uniform_ns,
                           &hb.oracle_mixed_ns, why, len);
    if (rc) {
      pol_free(hb.own_pol);
      hb.own_pol = NULL;
      return rc;
    }
  }
  rc = hak_create(&hb.h, &c, NULL, hb.own_pol);
  if (rc) {
    snprintf(why, len, "hak_create: %s", hk_strerror(rc));
    pol_free(hb.own_pol);
    hb.own_pol = NULL;
    return rc;
  }
  hb.pol = hak_policy(hb.h);
  hb.every = c.timeline_every;
  hb.next_snap = hb.every;
  hb.last_snap = UINT64_MAX;
  hb.st = hak_stats(hb.h);
  hb.callers = cfg->callers;
  hb.n_callers = cfg->n_callers;
  hb.n_ops = cfg->n_ops;
  *ctx = &hb;
  return 0;
}

/* The site hakmem sees: the recorded caller address (ids are dense and
 * stable too, but addresses are what the real preload library keys on). */
static inline uint64_t site(const hk_be_t *b, uint32_t caller) {
  return rpl_hak_site(b->callers, b->n_callers, caller);
}

static void *hkb_malloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  hk_be_t *b = ctx;
  return hak_alloc(b->h, size, site(b, caller));
}
static void *hkb_calloc(void *ctx, size_t size, unsigned t, uint32_t caller) {
  hk_be_t *b = ctx;
  return hak_calloc(b->h, 1, size, site(b, caller));
}
static void *hkb_realloc(void *ctx, void *p, size_t old, size_t size,
                         unsigned t, uint32_t caller) {
  hk_be_t *b = ctx;
  return hak_realloc(b->h, p, size, site(b, caller));
}
static void hkb_free(void *ctx, void *p, size_t size, unsigned t,
                     uint32_t caller) {
  hk_be_t *b = ctx;
  hak_dealloc(b->h, p, site(b, caller));
}
static void *hkb_aligned(void *ctx, size_t align, size_t size, unsigned t,
                         uint32_t caller) {
  hk_be_t *b = ctx;
  return hak_memalign(b->h, align, size, site(b, caller));
}
static size_t hkb_usable(void *ctx, void *p) {
  return hak_usable_size(((hk_be_t *)ctx)->h, p);
}

/* The path the last call took (RPL_DEC_* bits: mmap, BigCache hit,
 * malloc, BigCache miss). Read from the core's counters, outside the
 * timed region. */
static uint8_t hkb_decision(void *ctx) {
  hk_be_t *b = ctx;
  const hak_stats_t *s = b->st;
  uint8_t d = (uint8_t)((s->mmap_path != b->last_mmap ? RPL_DEC_MMAP : 0) |
                        (s->cache_hits != b->last_hit ? RPL_DEC_CACHE_HIT : 0) |
                        (s->malloc_path != b->last_malloc ? RPL_DEC_MALLOC : 0) |
                        (s->cache_misses != b->last_miss ? RPL_DEC_CACHE_MISS : 0));
  b->last_mmap = s->mmap_path;
  b->last_hit = s->cache_hits;
  b->last_malloc = s->malloc_path;
  b->last_miss = s->cache_misses;
  return d;
}

static void emit(void *ctx, int arm, const char *metric, double value) {
  hk_be_t *b = ctx;
  if (rpl_map_grow(&b->rows, &b->cap_rows, b->n_rows, sizeof *b->rows)) return;
  rpl_pol_row_t *r = &b->rows[b->n_rows++];
  r->op_seq = b->at;
  if (arm >= 0)
    snprintf(r->arm, sizeof r->arm, "%d", arm);
  else
    r->arm[0] = 0;
  snprintf(r->metric, sizeof r->metric, "%s", metric);
  r->value = value;
}

static void hkb_at_op(void *ctx, uint64_t op_seq) {
  hk_be_t *b = ctx;
  pol_t *p = b->pol;
  /* The program's end (rpl_exec's last at_op, at its op count): blocks
   * still live are credited to their decisions with the bytes they held
   * (whole-life reward), before the final snapshot. */
  if (op_seq >= b->n_ops && !b->live_credited && b->h) {
    hak_credit_live(b->h);
    b->live_credited = 1;
  }
  if (!p || op_seq == b->last_snap) return; /* one snapshot per op */
  b->at = b->last_snap = op_seq;
  pol_snapshot(p, emit, b);
  /* Policy-wide, cumulative: the hit rate over the run (views.sql). */
  emit(b, -1, "cache_hits", (double)b->st->cache_hits);
  emit(b, -1, "cache_misses", (double)b->st->cache_misses);
  if (b->own_pol) { /* the oracle's search: its two candidates' totals */
    emit(b, -1, "search_uniform_ns", b->oracle_uniform_ns);
    emit(b, -1, "search_mixed_ns", b->oracle_mixed_ns);
  }
}

/* Before every op, outside the timed region: the op's recorded time is the
 * lifecycle's clock, and every timeline.every decisions the policy's state
 * is sampled (a compare when no sample is due). */
static void hkb_before_op(void *ctx, uint64_t op_seq, uint64_t time_ns) {
  hk_be_t *b = ctx;
  hak_set_time(b->h, time_ns);
  if (b->every && b->pol && pol_decisions(b->pol) >= b->next_snap) {
    hkb_at_op(b, op_seq);
    b->next_snap = (pol_decisions(b->pol) / b->every + 1) * b->every;
  }
}

static int hkb_timeline(void *ctx, rpl_pol_sink_fn sink, void *sink_ctx) {
  hk_be_t *b = ctx;
  for (uint64_t i = 0; i < b->n_rows; i++) {
    int rc = sink(sink_ctx, &b->rows[i]);
    if (rc) return rc;
  }
  return 0;
}

static void hkb_stats(void *ctx, rpl_be_stats_t *st) {
  hk_be_t *b = ctx;
  hak_flush(b->h);
  const hak_stats_t *s = b->st;
  st->have_cache = 1;
  st->cache_hits = s->cache_hits;
  st->cache_misses = s->cache_misses;
  st->have_os = 1;
  st->os_mmap = s->sys_mmap;
  st->os_munmap = s->sys_munmap;
  st->os_madvise = s->sys_madvise;
  pol_t *p = b->pol;
  if (p) pol_digest_hex(p, st->digest);
  const hak_config_t *c = hak_config(b->h);
  snprintf(st->version, sizeof st->version, "hakmem (mode %s, policy %s)",
           hak_mode_name((enum hak_mode)c->mode), p ? pol_name(p) : "-");
  hak_config_describe(c, st->config, sizeof st->config);
  int n = snprintf(st->cost_model, sizeof st->cost_model, "%s; ",
                   c->reward == HAK_REWARD_COST ? "virtual cost model"
                                                : "measured time (NOT "
                                                  "deterministic)");
  if (n > 0 && (size_t)n < sizeof st->cost_model)
    hak_cost_describe(c, st->cost_model + n, sizeof st->cost_model - (size_t)n);
  for (char *q = st->cost_model; *q; q++)
    if (*q == '\n') *q = ' ';
  st->have_model = 1;
  st->model_ns = s->vtime_ns;
  st->model_page_faults = s->first_touch_pages;
  st->model_syscalls = s->model_syscalls;
  st->arms_distinguishable =
      s->policy_arms >= 2 ? s->arm_split_allocs > 0 : -1;
  snprintf(st->calibration, sizeof st->calibration, "%s", c->cost.calibration);
}

static void hkb_release(void *ctx) {
  hk_be_t *b = ctx;
  if (!b) return;
  hak_free(b->h);
  pol_free(b->own_pol); /* borrowed by the core until here */
  rpl_unmap(b->rows, b->cap_rows * sizeof *b->rows);
  memset(b, 0, sizeof *b);
}

int rpl_policy_known(const char *name) { return pol_find(name) != NULL; }

const char *rpl_policy_names(void) {
  static char buf[256];
  size_t n = 0;
  const pol_ops_t *const *l = pol_list(&n);
  buf[0] = 0;
  for (size_t i = 0; i < n; i++)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s",
             i ? ", " : "", l[i]->name);
  return buf;
}

const rpl_backend_t rpl_be_hakmem = {
    .name = "hakmem",
    .summary = "the hakmem core in-process, with a policy",
    .takes_policy = 1,
    .check = hkb_check,
    .available = hkb_available,
    .init = hkb_init,
    .malloc = hkb_malloc,
    .calloc = hkb_calloc,
    .realloc = hkb_realloc,
    .free = hkb_free,
    .aligned = hkb_aligned,
    .usable_size = hkb_usable,
    .last_decision = hkb_decision,
    .stats = hkb_stats,
    .timeline = hkb_timeline,
    .at_op = hkb_at_op,
    .before_op = hkb_before_op,
    .release = hkb_release,
};

#else /* hakmem/ not built: the name is known, the back end unavailable */

static const char *const known[] = {"static", "ucb1", "elo", "evo", "oracle"};

int rpl_policy_known(const char *name) {
  for (size_t i = 0; i < HK_ARRAY_LEN(known); i++)
    if (strcmp(name, known[i]) == 0) return 1;
  return 0;
}

const char *rpl_policy_names(void) { return "static, ucb1, elo, evo, oracle"; }

static int hkb_missing(char *why, size_t len) {
  snprintf(why, len, "hksim was built without hakmem/");
  return HK_E_BACKEND;
}

const rpl_backend_t rpl_be_hakmem = {
    .name = "hakmem",
    .summary = "the hakmem core (not built in)",
    .takes_policy = 1,
    .available = hkb_missing,
};
#endif
