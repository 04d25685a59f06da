/* pol_base.c: what every policy instance shares: the base struct, the
 * decision digest, the config defaults and the dispatchers through the ops
 * table. */
#include <stdlib.h>

#include "pol_internal.h"

const uint64_t pol_ucb1_thresholds[POL_UCB1_ARMS] = {
    64u << 10, 128u << 10, 256u << 10, 512u << 10, 1u << 20, 2u << 20};

/* HAKMEM.md's inferred geometric list, 512 KiB to 32 MiB. */
const uint64_t pol_elo_thresholds[POL_ELO_ARMS] = {
    512u << 10, 768u << 10, 1u << 20,  1536u << 10, 2u << 20,  3u << 20,
    4u << 20,   6u << 20,   8u << 20,  12u << 20,   16u << 20, 32u << 20};

void pol_config_defaults(pol_config_t *c) {
  *c = (pol_config_t){
      .static_threshold = 256u << 10,
      .ucb1_c = 2.0,
      .ucb1_improve = 0.08,
      .ucb1_streak = 3,
      .ucb1_cooldown_ns = 180ull * 1000000000ull,
      .ucb1_cooldown_ops = 0,
      .ucb1_probe_every = 10,
      .ucb1_initial_arm = 2,
      .elo_k = 32.0,
      .elo_initial = 1500.0,
      .elo_epsilon = 0.1,
      .elo_temperature = 100.0,
      .elo_min_samples = 50,
      .elo_survivors = 6,
      .elo_cull_after = 3,
      .elo_period = 100,
      .elo_w_cpu = 0.4,
      .elo_w_faults = 0.3,
      .elo_w_mem = 0.3,
      .elo_initial_arm = 0,
      .evo_mode = POL_EVO_AUTO,
      .evo_freeze_after_ns = 180ull * 1000000000ull,
      .evo_stable = 0.01,
      .evo_stable_windows = 3,
      .evo_degrade = 0.20,
      .evo_degrade_windows = 3,
      .evo_shift = 0.25,
      .evo_window_ops = 10000,
      .evo_window_ns = 2ull * 1000000000ull,
      .evo_history = 10,
      .evo_canary_frac = 0.05,
      .evo_canary_every = 5,
      .oracle_n_arms = POL_UCB1_ARMS,
  };
  for (int i = 0; i < POL_UCB1_ARMS; i++) c->oracle_arms[i] = pol_ucb1_thresholds[i];
}

int pol_base_init(pol_t *p, const pol_ops_t *ops, const pol_config_t *cfg,
                  uint64_t seed) {
  p->ops = ops;
  p->decisions = 0;
  if (cfg)
    p->cfg = *cfg;
  else
    pol_config_defaults(&p->cfg);
  hk_rng_init(&p->rng, seed);
  p->digest = hk_digest_create();
  if (!p->digest) return -1;
  /* The digest covers decisions only: neither the policy's name nor the
   * seed is mixed in (the seed is stored beside the digest), so the same
   * decisions give the same digest whatever produced them. */
  return 0;
}

void pol_base_release(pol_t *p) { hk_digest_free(p->digest); }

void pol_record(pol_t *p, uint64_t site, uint64_t size, pol_strategy_t s) {
  uint64_t rec[4] = {site, size, s.threshold, (uint64_t)(int64_t)s.arm};
  hk_digest_update(p->digest, rec, sizeof rec);
  p->decisions++;
}

void pol_record_event(pol_t *p, uint64_t tag, uint64_t value) {
  uint64_t rec[3] = {~0ull, tag, value};
  hk_digest_update(p->digest, rec, sizeof rec);
}

pol_t *pol_create(const pol_ops_t *ops, const pol_config_t *cfg,
                  uint64_t seed) {
  return ops ? ops->create(cfg, seed) : NULL;
}

void pol_free(pol_t *p) {
  if (p) p->ops->destroy(p);
}

const pol_ops_t *pol_ops(const pol_t *p) { return p->ops; }
const char *pol_name(const pol_t *p) { return p->ops->name; }
uint64_t pol_decisions(const pol_t *p) { return p->decisions; }

void pol_digest_hex(const pol_t *p, char out[33]) {
  hk_digest_hex(p->digest, out);
}

int pol_arm_range(const pol_t *p, uint64_t *lo, uint64_t *hi) {
  const uint64_t *t = NULL;
  int n = 0;
  if (p->ops == &pol_static_ops) {
    *lo = *hi = p->cfg.static_threshold;
    return 1;
  }
  if (p->ops == &pol_ucb1_ops) {
    t = pol_ucb1_thresholds;
    n = POL_UCB1_ARMS;
  } else if (p->ops == &pol_elo_ops || p->ops == &pol_evo_ops) {
    t = pol_elo_thresholds;
    n = POL_ELO_ARMS;
  } else if (p->ops == &pol_oracle_ops) {
    t = p->cfg.oracle_arms;
    n = (int)p->cfg.oracle_n_arms;
  }
  if (!t || n < 1) return 0;
  *lo = *hi = t[0];
  for (int i = 1; i < n; i++) {
    if (t[i] < *lo) *lo = t[i];
    if (t[i] > *hi) *hi = t[i];
  }
  return n;
}

pol_strategy_t pol_choose(pol_t *p, uint64_t site, uint64_t size) {
  return p->ops->choose(p, site, size);
}

void pol_observe(pol_t *p, const pol_outcome_t *o) { p->ops->observe(p, o); }

void pol_snapshot(const pol_t *p, pol_emit_fn emit, void *ctx) {
  p->ops->snapshot(p, emit, ctx);
}
