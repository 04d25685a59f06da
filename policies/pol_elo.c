/* pol_elo.c: ELO selection among 12 global mmap thresholds (512 KiB..32
 * MiB), hakmem Phase 6.2 with the Phase 6.11 re-selection period. Each arm
 * collects outcomes; every elo_min_samples outcomes its mean (cpu, faults,
 * memory) is compared pairwise with every other rated arm on the 40/30/30
 * composite (each component normalised by the larger of the pair, lower
 * wins) and both ratings move by K (S - E). Once every arm has been rated,
 * only the top elo_survivors stay in play. Selection, every elo_period-th
 * allocation (HAKMEM.md's "epsilon-greedy + softmax"): until the cull, a
 * softmax draw (P ~ exp(rating / T), T = elo_temperature, seeded RNG) over
 * the arms still short of elo_cull_after rated batches, so which arms are
 * tried, how often and in what order (hence the matches they play, their
 * ratings and the cull) follow the seed; the cull comes when every arm
 * has elo_cull_after rated batches. After it: the best-rated live arm,
 * and with probability elo_epsilon a softmax draw over the live arms. Delayed credit (a block's free and flush, policy.h) adds to its
 * arm's current batch sums without counting a sample, so a batch mean is
 * the whole-life cost of its decisions. */
#include <math.h>
#include <stdlib.h>

#include "pol_internal.h"

#define N POL_ELO_ARMS

typedef struct {
  pol_t base;
  double rating[N];
  int alive[N];
  uint64_t total[N];
  uint64_t batch_n[N];
  double batch_cpu[N], batch_flt[N], batch_mem[N];
  int has_mean[N];
  double m_cpu[N], m_flt[N], m_mem[N];
  uint64_t matches[N];
  uint32_t rated[N]; /* batches rated */
  int culled;
  int current;
  uint64_t allocs;
  uint64_t explorations;
  uint64_t reselections;
} elo_pol_t;

static pol_t *elo_create(const pol_config_t *cfg, uint64_t seed) {
  elo_pol_t *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  if (pol_base_init(&e->base, &pol_elo_ops, cfg, seed) < 0) {
    free(e);
    return NULL;
  }
  pol_config_t *c = &e->base.cfg;
  if (c->elo_period == 0) c->elo_period = 1;
  if (c->elo_min_samples == 0) c->elo_min_samples = 1;
  if (c->elo_cull_after == 0) c->elo_cull_after = 1;
  if (c->elo_survivors == 0 || c->elo_survivors > N) c->elo_survivors = N;
  for (int a = 0; a < N; a++) {
    e->rating[a] = c->elo_initial;
    e->alive[a] = 1;
  }
  e->current = c->elo_initial_arm < N ? (int)c->elo_initial_arm : 0;
  return &e->base;
}

int pol_elo_best(const pol_t *p, int exclude_mask) {
  const elo_pol_t *e = (const elo_pol_t *)p;
  int best = -1;
  for (int a = 0; a < N; a++) {
    if (!e->alive[a] || (exclude_mask >> a & 1)) continue;
    if (best < 0 || e->rating[a] > e->rating[best]) best = a;
  }
  return best;
}

int pol_elo_alive(const pol_t *p, int arm) {
  return arm >= 0 && arm < N && ((const elo_pol_t *)p)->alive[arm];
}

/* An arm of `in` drawn with probability ~ exp(rating / T) (seeded). */
static int softmax(elo_pol_t *e, const int in[N]) {
  double t = e->base.cfg.elo_temperature > 0 ? e->base.cfg.elo_temperature : 1;
  double top = -INFINITY, w[N], sum = 0;
  for (int a = 0; a < N; a++)
    if (in[a] && e->rating[a] > top) top = e->rating[a];
  for (int a = 0; a < N; a++) {
    w[a] = in[a] ? exp((e->rating[a] - top) / t) : 0;
    sum += w[a];
  }
  double x = hk_rng_double(&e->base.rng) * sum;
  int last = 0;
  for (int a = 0; a < N; a++) {
    if (!in[a]) continue;
    last = a;
    if (x < w[a]) return a;
    x -= w[a];
  }
  return last; /* rounding */
}

static int reselect(elo_pol_t *e) {
  const pol_config_t *c = &e->base.cfg;
  if (!e->culled) { /* the seeded exploration the cull is decided on */
    int in[N], any = 0;
    for (int a = 0; a < N; a++) {
      in[a] = e->alive[a] && e->rated[a] < c->elo_cull_after;
      any |= in[a];
    }
    e->explorations++;
    return softmax(e, any ? in : e->alive);
  }
  if (hk_rng_double(&e->base.rng) < c->elo_epsilon) {
    e->explorations++;
    return softmax(e, e->alive);
  }
  return pol_elo_best(&e->base, 0);
}

static pol_strategy_t elo_choose(pol_t *p, uint64_t site, uint64_t size) {
  elo_pol_t *e = (elo_pol_t *)p;
  if (e->allocs++ % p->cfg.elo_period == 0) {
    e->current = reselect(e);
    e->reselections++;
  }
  pol_strategy_t r = {pol_elo_thresholds[e->current], e->current};
  pol_record(p, site, size, r);
  return r;
}

static double norm(double x, double y) {
  double m = x > y ? x : y;
  return m > 0 ? x / m : 0;
}

static double composite(const elo_pol_t *e, int a, int b) {
  const pol_config_t *c = &e->base.cfg;
  return c->elo_w_cpu * norm(e->m_cpu[a], e->m_cpu[b]) +
         c->elo_w_faults * norm(e->m_flt[a], e->m_flt[b]) +
         c->elo_w_mem * norm(e->m_mem[a], e->m_mem[b]);
}

static void rate(elo_pol_t *e, int a) {
  const pol_config_t *c = &e->base.cfg;
  for (int b = 0; b < N; b++) {
    if (b == a || !e->alive[b] || !e->has_mean[b]) continue;
    double sa = composite(e, a, b), sb = composite(e, b, a);
    double s = fabs(sa - sb) < 1e-9 ? 0.5 : (sa < sb ? 1.0 : 0.0);
    double ex = 1.0 / (1.0 + pow(10.0, (e->rating[b] - e->rating[a]) / 400.0));
    e->rating[a] += c->elo_k * (s - ex);
    e->rating[b] -= c->elo_k * (s - ex);
    e->matches[a]++;
    e->matches[b]++;
  }
}

static void cull(elo_pol_t *e) {
  int order[N];
  for (int a = 0; a < N; a++) order[a] = a;
  for (int i = 1; i < N; i++) /* by rating, ties to the lower index */
    for (int j = i; j > 0 && e->rating[order[j]] > e->rating[order[j - 1]]; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (unsigned i = e->base.cfg.elo_survivors; i < N; i++)
    e->alive[order[i]] = 0;
  e->culled = 1;
  uint64_t mask = 0;
  for (int a = 0; a < N; a++) mask |= (uint64_t)e->alive[a] << a;
  pol_record_event(&e->base, 0xc011, mask);
}

static void elo_observe(pol_t *p, const pol_outcome_t *o) {
  elo_pol_t *e = (elo_pol_t *)p;
  int a = o->strategy.arm;
  if (a < 0 || a >= N || !e->alive[a]) return;
  e->batch_cpu[a] += o->cpu_ns;
  e->batch_flt[a] += o->fault_ns;
  e->batch_mem[a] += o->mem_ns;
  if (o->kind != POL_OUT_ALLOC) return; /* credit: no new sample */
  e->total[a]++;
  e->batch_n[a]++;
  if (e->batch_n[a] < p->cfg.elo_min_samples) return;
  double n = (double)e->batch_n[a];
  e->m_cpu[a] = e->batch_cpu[a] / n;
  e->m_flt[a] = e->batch_flt[a] / n;
  e->m_mem[a] = e->batch_mem[a] / n;
  e->has_mean[a] = 1;
  e->batch_n[a] = 0;
  e->batch_cpu[a] = e->batch_flt[a] = e->batch_mem[a] = 0;
  rate(e, a);
  e->rated[a]++;
  if (!e->culled) {
    int all = 1;
    for (int b = 0; b < N; b++) all &= e->rated[b] >= p->cfg.elo_cull_after;
    if (all) cull(e);
  }
}

static void elo_snapshot(const pol_t *p, pol_emit_fn emit, void *ctx) {
  const elo_pol_t *e = (const elo_pol_t *)p;
  int alive = 0;
  for (int a = 0; a < N; a++) {
    emit(ctx, a, "rating", e->rating[a]);
    emit(ctx, a, "alive", e->alive[a]);
    emit(ctx, a, "pulls", (double)e->total[a]);
    alive += e->alive[a];
  }
  emit(ctx, e->current, "chosen", (double)pol_elo_thresholds[e->current]);
  emit(ctx, pol_elo_best(p, 0), "best", e->rating[pol_elo_best(p, 0)]);
  emit(ctx, -1, "survivors", alive);
  emit(ctx, -1, "explorations", (double)e->explorations);
  emit(ctx, -1, "decisions", (double)p->decisions);
}

static void elo_destroy(pol_t *p) {
  pol_base_release(p);
  free(p);
}

const pol_ops_t pol_elo_ops = {"elo", elo_create, elo_choose, elo_observe,
                               elo_snapshot, elo_destroy};
