/* pol_oracle.c: the best fixed arm per call site in hindsight, the
 * yardstick of regret (docs/hakmem.md). The oracle learns nothing while it
 * serves: it replays a table site -> arm that a search filled in advance
 * (replayer/rpl_oracle.c: one deterministic model replay per arm of
 * cfg.oracle_arms, each site then takes the arm that cost it least). The
 * same instance type probes for that search: while probing arm k it serves
 * k to every site and sums each site's outcome costs. */
#include <stdlib.h>
#include <string.h>

#include "pol_internal.h"

typedef struct {
  uint64_t site; /* 0: empty */
  int arm;       /* -1: not set (the default arm) */
  double cost;   /* under the arm probed */
  uint64_t allocs;
} ent_t;

typedef struct {
  pol_t base;
  ent_t *tab;
  size_t cap, n; /* cap a power of two, n < cap / 2 */
  int probe;     /* arm served everywhere while probing; -1 serving */
  int dflt;
  uint64_t set_sites;
} oracle_t;

static pol_t *or_create(const pol_config_t *cfg, uint64_t seed) {
  oracle_t *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  if (pol_base_init(&o->base, &pol_oracle_ops, cfg, seed) < 0) {
    free(o);
    return NULL;
  }
  pol_config_t *c = &o->base.cfg;
  if (c->oracle_n_arms == 0 || c->oracle_n_arms > POL_MAX_ARMS) {
    c->oracle_n_arms = POL_UCB1_ARMS;
    memcpy(c->oracle_arms, pol_ucb1_thresholds, sizeof pol_ucb1_thresholds);
  }
  o->probe = -1;
  o->cap = 64;
  o->tab = calloc(o->cap, sizeof *o->tab);
  if (!o->tab) {
    pol_base_release(&o->base);
    free(o);
    return NULL;
  }
  return &o->base;
}

static size_t hash_of(uint64_t site, size_t cap) {
  return (size_t)(hk_hash64(&site, sizeof site, 0x0ac1e) & (cap - 1));
}

static ent_t *find(const oracle_t *o, uint64_t site) {
  for (size_t i = hash_of(site, o->cap);; i = (i + 1) & (o->cap - 1)) {
    if (o->tab[i].site == site) return &o->tab[i];
    if (o->tab[i].site == 0) return NULL;
  }
}

/* The entry of site, inserted if new; NULL when out of memory. */
static ent_t *get(oracle_t *o, uint64_t site) {
  ent_t *e = find(o, site);
  if (e) return e;
  if ((o->n + 1) * 2 > o->cap) {
    size_t cap = o->cap * 2;
    ent_t *t = calloc(cap, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < o->cap; i++) {
      if (!o->tab[i].site) continue;
      size_t j = hash_of(o->tab[i].site, cap);
      while (t[j].site) j = (j + 1) & (cap - 1);
      t[j] = o->tab[i];
    }
    free(o->tab);
    o->tab = t;
    o->cap = cap;
  }
  size_t i = hash_of(site, o->cap);
  while (o->tab[i].site) i = (i + 1) & (o->cap - 1);
  o->tab[i] = (ent_t){site, -1, 0, 0};
  o->n++;
  return &o->tab[i];
}

/* Site 0 is never a table key (it marks empty entries): the replayer's
 * unknown caller. It is served the default arm. */
static int arm_of(const oracle_t *o, uint64_t site) {
  if (o->probe >= 0) return o->probe;
  const ent_t *e = site ? find(o, site) : NULL;
  return e && e->arm >= 0 ? e->arm : o->dflt;
}

static pol_strategy_t or_choose(pol_t *p, uint64_t site, uint64_t size) {
  const oracle_t *o = (const oracle_t *)p;
  int arm = arm_of(o, site);
  pol_strategy_t r = {p->cfg.oracle_arms[arm], arm};
  pol_record(p, site, size, r);
  return r;
}

static void or_observe(pol_t *p, const pol_outcome_t *out) {
  oracle_t *o = (oracle_t *)p;
  if (o->probe < 0 || !out->site) return;
  ent_t *e = get(o, out->site);
  if (!e) return; /* out of memory: the site is missing from the search */
  e->cost += out->cost_ns; /* delayed credit too: whole-life cost */
  e->allocs += out->kind == POL_OUT_ALLOC;
}

static void or_snapshot(const pol_t *p, pol_emit_fn emit, void *ctx) {
  const oracle_t *o = (const oracle_t *)p;
  const pol_config_t *c = &p->cfg;
  uint64_t per[POL_MAX_ARMS] = {0};
  for (size_t i = 0; i < o->cap; i++) {
    const ent_t *e = &o->tab[i];
    if (!e->site) continue;
    int arm = e->arm >= 0 ? e->arm : o->dflt;
    per[arm]++;
    /* per-site arms (view site_arms); addresses fit a double's 53 bits */
    emit(ctx, arm, "site_arm", (double)e->site);
  }
  for (uint32_t a = 0; a < c->oracle_n_arms; a++) {
    emit(ctx, (int)a, "threshold", (double)c->oracle_arms[a]);
    emit(ctx, (int)a, "sites_adopted", (double)per[a]);
  }
  emit(ctx, o->dflt, "default", (double)c->oracle_arms[o->dflt]);
  emit(ctx, -1, "sites", (double)o->n);
  emit(ctx, -1, "decisions", (double)p->decisions);
}

static void or_destroy(pol_t *p) {
  free(((oracle_t *)p)->tab);
  pol_base_release(p);
  free(p);
}

const pol_ops_t pol_oracle_ops = {"oracle", or_create, or_choose, or_observe,
                                  or_snapshot, or_destroy};

int pol_oracle_probe(pol_t *p, int arm) {
  if (!p || p->ops != &pol_oracle_ops) return HK_E_STATE;
  oracle_t *o = (oracle_t *)p;
  if (arm < -1 || arm >= (int)p->cfg.oracle_n_arms) return HK_E_RANGE;
  o->probe = arm;
  for (size_t i = 0; i < o->cap; i++) o->tab[i].cost = 0, o->tab[i].allocs = 0;
  return 0;
}

int pol_oracle_set(pol_t *p, uint64_t site, int arm) {
  if (!p || p->ops != &pol_oracle_ops) return HK_E_STATE;
  oracle_t *o = (oracle_t *)p;
  if (arm < 0 || arm >= (int)p->cfg.oracle_n_arms) return HK_E_RANGE;
  if (site == 0) {
    o->dflt = arm;
    return 0;
  }
  ent_t *e = get(o, site);
  if (!e) return HK_E_NOMEM;
  e->arm = arm;
  return 0;
}

int pol_oracle_each(const pol_t *p, pol_site_cost_fn fn, void *ctx) {
  if (!p || p->ops != &pol_oracle_ops) return HK_E_STATE;
  const oracle_t *o = (const oracle_t *)p;
  for (size_t i = 0; i < o->cap; i++)
    if (o->tab[i].site) fn(ctx, o->tab[i].site, o->tab[i].cost, o->tab[i].allocs);
  return 0;
}
