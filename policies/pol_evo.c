/* pol_evo.c: the LEARN / FROZEN / CANARY lifecycle (hakmem Phase 6.5)
 * around an elo instance. Outcomes are grouped into windows (evo_window_ops
 * ops or evo_window_ns of the program's own time, pol_outcome_t.time_ns,
 * whichever ends first); each window's mean
 * cost, p99 (P-square) and size distribution (log2 buckets) are kept, the
 * last evo_history of them. LEARN: elo chooses and learns; freeze on elo's
 * best once the window mean changed < evo_stable for evo_stable_windows
 * windows and evo_freeze_after_ns have passed. FROZEN: the confirmed arm,
 * no learning; re-learn after evo_degrade worse than at freeze for
 * evo_degrade_windows windows, or a size shift (total variation distance)
 * >= evo_shift, and the re-learn freezes again by the same rule (unless
 * evo_mode is learn: learn forever); every evo_canary_every windows a CANARY window sends
 * evo_canary_frac of traffic to the best other arm, promoted if its mean
 * cost is lower by evo_stable, else rolled back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pol_internal.h"

enum { M_LEARN = 0, M_FROZEN = 1, M_CANARY = 2 };
enum { R_NONE, R_STABLE, R_DEGRADED, R_SHIFT, R_PROMOTE, R_ROLLBACK, R_CANARY };
#define BUCKETS 48
#define HIST_MAX 64

typedef struct {
  double mean, p99;
} window_t;

typedef struct {
  pol_t base;
  pol_t *elo;
  int mode;
  int confirmed, candidate;
  int rejected;
  uint64_t now_ns;
  /* the open window */
  uint64_t w_ops, w_start_ns;
  double w_cost;
  pol_psquare_t w_p99;
  uint64_t w_hist[BUCKETS];
  uint64_t w_canary_n, w_main_n;
  double w_canary_cost, w_main_cost;
  /* closed windows */
  window_t hist[HIST_MAX];
  uint32_t nhist, hist_pos;
  double prev_mean;
  int have_prev, have_ref;
  uint32_t stable, degraded, frozen_windows;
  uint64_t learn_start_ns;
  double ref_mean, ref_dist[BUCKETS];
  double last_shift;
  uint64_t windows, freezes, relearns, canaries, rollbacks, promotions;
  int last_reason;
} evo_pol_t;

static pol_t *evo_create(const pol_config_t *cfg, uint64_t seed) {
  evo_pol_t *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  if (pol_base_init(&v->base, &pol_evo_ops, cfg, seed) < 0) {
    free(v);
    return NULL;
  }
  pol_config_t *c = &v->base.cfg;
  if (c->evo_history == 0 || c->evo_history > HIST_MAX) c->evo_history = 10;
  if (c->evo_window_ops == 0) c->evo_window_ops = 1;
  if (c->evo_canary_every == 0) c->evo_canary_every = 1;
  /* the inner elo draws from its own stream, derived from the seed */
  v->elo = pol_elo_ops.create(c, seed ^ 0xe10e10e10ull);
  if (!v->elo) {
    pol_base_release(&v->base);
    free(v);
    return NULL;
  }
  v->confirmed = c->elo_initial_arm < POL_ELO_ARMS ? (int)c->elo_initial_arm : 0;
  v->candidate = -1;
  v->mode = c->evo_mode == POL_EVO_FROZEN ? M_FROZEN : M_LEARN;
  pol_psquare_init(&v->w_p99, 0.99);
  return &v->base;
}

static void set_mode(evo_pol_t *v, int mode, int reason) {
  v->mode = mode;
  v->last_reason = reason;
  v->stable = v->degraded = v->frozen_windows = 0;
  pol_record_event(&v->base, 0xe70, ((uint64_t)mode << 8) | (uint64_t)reason);
  if (mode == M_LEARN) {
    v->learn_start_ns = v->now_ns;
    v->rejected = 0;
    v->have_ref = 0;
    v->relearns++;
  }
}

static pol_strategy_t evo_choose(pol_t *p, uint64_t site, uint64_t size) {
  evo_pol_t *v = (evo_pol_t *)p;
  pol_strategy_t r;
  if (v->mode == M_LEARN) {
    r = v->elo->ops->choose(v->elo, site, size);
  } else {
    int arm = v->confirmed;
    if (v->mode == M_CANARY &&
        hk_rng_double(&p->rng) < p->cfg.evo_canary_frac)
      arm = v->candidate;
    r = (pol_strategy_t){pol_elo_thresholds[arm], arm};
  }
  pol_record(p, site, size, r);
  return r;
}

static unsigned bucket(uint64_t size) {
  unsigned b = size ? 63u - (unsigned)__builtin_clzll(size) : 0;
  return b < BUCKETS ? b : BUCKETS - 1;
}

static double window_shift(const evo_pol_t *v, double *dist) {
  double tv = 0;
  for (int i = 0; i < BUCKETS; i++) {
    dist[i] = v->w_ops ? (double)v->w_hist[i] / (double)v->w_ops : 0;
    tv += fabs(dist[i] - v->ref_dist[i]);
  }
  return tv / 2;
}

static void close_window(evo_pol_t *v) {
  const pol_config_t *c = &v->base.cfg;
  double mean = v->w_cost / (double)v->w_ops;
  window_t w = {mean, pol_psquare_get(&v->w_p99)};
  v->hist[v->hist_pos] = w;
  v->hist_pos = (v->hist_pos + 1) % c->evo_history;
  if (v->nhist < c->evo_history) v->nhist++;
  v->windows++;
  double dist[BUCKETS];
  double shift = window_shift(v, dist);

  if (v->mode == M_LEARN) {
    if (v->have_prev && v->prev_mean > 0 &&
        fabs(mean - v->prev_mean) / v->prev_mean < c->evo_stable)
      v->stable++;
    else
      v->stable = 0;
    /* auto and frozen alike freeze again after a re-learn: a lifecycle that
     * started frozen (balanced mode) must not stay in LEARN for good once a
     * shift sent it back there. */
    if (c->evo_mode != POL_EVO_LEARN && v->stable >= c->evo_stable_windows &&
        v->now_ns - v->learn_start_ns >= c->evo_freeze_after_ns) {
      v->confirmed = pol_elo_best(v->elo, 0);
      set_mode(v, M_FROZEN, R_STABLE);
      v->freezes++;
      v->ref_mean = mean;
      memcpy(v->ref_dist, dist, sizeof dist);
      v->have_ref = 1;
    }
  } else if (!v->have_ref) { /* frozen from the start: first window is the reference */
    v->ref_mean = mean;
    memcpy(v->ref_dist, dist, sizeof dist);
    v->have_ref = 1;
  } else if (shift >= c->evo_shift) {
    v->last_shift = shift;
    set_mode(v, M_LEARN, R_SHIFT);
  } else if (v->mode == M_CANARY) {
    double cm = v->w_canary_n ? v->w_canary_cost / (double)v->w_canary_n : INFINITY;
    double mm = v->w_main_n ? v->w_main_cost / (double)v->w_main_n : INFINITY;
    v->canaries++;
    if (cm < mm * (1.0 - c->evo_stable)) {
      v->confirmed = v->candidate;
      v->promotions++;
      v->ref_mean = cm;
      set_mode(v, M_FROZEN, R_PROMOTE);
    } else {
      v->rejected |= 1 << v->candidate;
      v->rollbacks++;
      set_mode(v, M_FROZEN, R_ROLLBACK);
    }
    v->candidate = -1;
  } else {
    if (mean > v->ref_mean * (1.0 + c->evo_degrade))
      v->degraded++;
    else
      v->degraded = 0;
    v->frozen_windows++;
    if (v->degraded >= c->evo_degrade_windows) {
      set_mode(v, M_LEARN, R_DEGRADED);
    } else if (c->evo_mode != POL_EVO_LEARN && c->evo_canary_frac > 0 &&
               v->frozen_windows % c->evo_canary_every == 0) {
      int cand = pol_elo_best(v->elo, v->rejected | 1 << v->confirmed);
      if (cand >= 0) {
        v->candidate = cand;
        set_mode(v, M_CANARY, R_CANARY);
      }
    }
  }
  v->last_shift = shift;
  v->prev_mean = mean;
  v->have_prev = 1;
  v->w_ops = 0;
  v->w_cost = 0;
  v->w_start_ns = v->now_ns;
  memset(v->w_hist, 0, sizeof v->w_hist);
  v->w_canary_n = v->w_main_n = 0;
  v->w_canary_cost = v->w_main_cost = 0;
  pol_psquare_init(&v->w_p99, 0.99);
}

static void evo_observe(pol_t *p, const pol_outcome_t *o) {
  evo_pol_t *v = (evo_pol_t *)p;
  const pol_config_t *c = &p->cfg;
  /* the program's time never runs back (an outcome without it, 0, keeps
   * the clock where it is) */
  if (o->time_ns > v->now_ns) v->now_ns = o->time_ns;
  if (c->evo_mode == POL_EVO_OFF || v->mode == M_LEARN)
    v->elo->ops->observe(v->elo, o);
  if (c->evo_mode == POL_EVO_OFF) return;
  if (o->kind != POL_OUT_ALLOC) { /* delayed credit: cost, not an op */
    v->w_cost += o->cost_ns;
    return;
  }
  if (v->w_ops == 0 && v->windows == 0) v->w_start_ns = v->now_ns;
  v->w_ops++;
  v->w_cost += o->cost_ns;
  pol_psquare_add(&v->w_p99, o->cost_ns);
  v->w_hist[bucket(o->size)]++;
  if (v->mode == M_CANARY && o->strategy.arm == v->candidate) {
    v->w_canary_n++;
    v->w_canary_cost += o->cost_ns;
  } else {
    v->w_main_n++;
    v->w_main_cost += o->cost_ns;
  }
  if (v->w_ops >= c->evo_window_ops ||
      v->now_ns - v->w_start_ns >= c->evo_window_ns)
    close_window(v);
}

static void evo_snapshot(const pol_t *p, pol_emit_fn emit, void *ctx) {
  const evo_pol_t *v = (const evo_pol_t *)p;
  v->elo->ops->snapshot(v->elo, emit, ctx);
  emit(ctx, -1, "mode", v->mode);
  emit(ctx, v->confirmed, "confirmed", (double)pol_elo_thresholds[v->confirmed]);
  if (v->candidate >= 0)
    emit(ctx, v->candidate, "candidate",
         (double)pol_elo_thresholds[v->candidate]);
  emit(ctx, -1, "windows", (double)v->windows);
  emit(ctx, -1, "freezes", (double)v->freezes);
  emit(ctx, -1, "relearns", (double)v->relearns);
  emit(ctx, -1, "canaries", (double)v->canaries);
  emit(ctx, -1, "rollbacks", (double)v->rollbacks);
  emit(ctx, -1, "promotions", (double)v->promotions);
  emit(ctx, -1, "reason", v->last_reason);
  emit(ctx, -1, "shift", v->last_shift);
  if (v->nhist) {
    const pol_config_t *c = &p->cfg;
    const window_t *w = &v->hist[(v->hist_pos + c->evo_history - 1) % c->evo_history];
    emit(ctx, -1, "window_mean", w->mean);
    emit(ctx, -1, "window_p99", w->p99);
  }
  emit(ctx, -1, "history", v->nhist);
}

static void evo_destroy(pol_t *p) {
  evo_pol_t *v = (evo_pol_t *)p;
  pol_free(v->elo);
  pol_base_release(p);
  free(p);
}

const pol_ops_t pol_evo_ops = {"evo", evo_create, evo_choose, evo_observe,
                               evo_snapshot, evo_destroy};
