/* pol_ucb1.c: UCB1 per call site over 6 mmap thresholds (64 KiB..2 MiB),
 * hakmem's "evolving" learner. A site serves its adopted arm; one decision
 * in ucb1_probe_every is a UCB1 probe (mean reward + sqrt(c ln N / n)).
 * An arm's mean cost is its decisions' whole-life cost (the allocation,
 * then the delayed credit of the block's free and flush) over its pulls.
 * A challenger is adopted only after ucb1_streak consecutive evaluations in
 * which its mean cost beats the adopted arm's by >= ucb1_improve, each on
 * a new sample of the challenger (a decision of it since the last step
 * counted; the first step counts its latest), and not
 * within the cooldown (the program's time and ops) of the previous
 * adoption. */
#include <math.h>
#include <stdlib.h>

#include "pol_internal.h"

#define SITES 256 /* sites hash into this many slots; collisions share */

typedef struct {
  uint64_t site;
  uint64_t decisions;
  uint64_t pulls[POL_UCB1_ARMS];
  double cost_sum[POL_UCB1_ARMS];
  int adopted;
  int challenger;
  uint32_t streak;
  uint64_t streak_mark; /* pulls[challenger] at the streak's last step */
  int has_adopted_once;
  uint64_t last_adopt_ns, last_adopt_op;
  uint64_t adoptions;
  int last_chosen;
} ucb_site_t;

typedef struct {
  pol_t base;
  ucb_site_t sites[SITES];
  uint64_t adoptions;
} ucb_pol_t;

static unsigned slot_of(uint64_t site) {
  return (unsigned)(hk_hash64(&site, sizeof site, 0x55cb1) & (SITES - 1));
}

static pol_t *ucb_create(const pol_config_t *cfg, uint64_t seed) {
  ucb_pol_t *u = calloc(1, sizeof *u);
  if (!u) return NULL;
  if (pol_base_init(&u->base, &pol_ucb1_ops, cfg, seed) < 0) {
    free(u);
    return NULL;
  }
  int a0 = (int)u->base.cfg.ucb1_initial_arm;
  if (a0 < 0 || a0 >= POL_UCB1_ARMS) a0 = 2;
  for (int i = 0; i < SITES; i++) {
    u->sites[i].adopted = a0;
    u->sites[i].challenger = -1;
    u->sites[i].last_chosen = a0;
  }
  if (u->base.cfg.ucb1_probe_every == 0) u->base.cfg.ucb1_probe_every = 1;
  return &u->base;
}

static double mean_cost(const ucb_site_t *s, int a) {
  return s->pulls[a] ? s->cost_sum[a] / (double)s->pulls[a] : 0;
}

static int ucb_probe(const ucb_pol_t *u, const ucb_site_t *s) {
  uint64_t total = 0;
  double worst = 0;
  for (int a = 0; a < POL_UCB1_ARMS; a++) {
    if (s->pulls[a] == 0) return a; /* every arm once first */
    total += s->pulls[a];
    double m = mean_cost(s, a);
    if (m > worst) worst = m;
  }
  /* Rewards in [0, 1]: 1 - mean cost / worst mean cost at this site. */
  int best = 0;
  double best_v = -INFINITY;
  for (int a = 0; a < POL_UCB1_ARMS; a++) {
    double r = worst > 0 ? 1.0 - mean_cost(s, a) / worst : 0;
    double v = r + sqrt(u->base.cfg.ucb1_c * log((double)total) /
                        (double)s->pulls[a]);
    if (v > best_v) {
      best_v = v;
      best = a;
    }
  }
  return best;
}

static pol_strategy_t ucb_choose(pol_t *p, uint64_t site, uint64_t size) {
  ucb_pol_t *u = (ucb_pol_t *)p;
  ucb_site_t *s = &u->sites[slot_of(site)];
  s->site = site;
  int arm = s->adopted;
  if (++s->decisions % p->cfg.ucb1_probe_every == 0) arm = ucb_probe(u, s);
  s->last_chosen = arm;
  pol_strategy_t r = {pol_ucb1_thresholds[arm], arm};
  pol_record(p, site, size, r);
  return r;
}

/* One evaluation after each outcome and credit: the best-mean arm other
 * than the adopted one is the challenger; its streak grows while it stays
 * the same arm and beats the adopted arm by the margin, and resets
 * otherwise. A challenger that still beats the adopted arm by the margin
 * stays the challenger unless another arm beats it by the margin too:
 * arms that make the same decisions (say 512 KiB and 1 MiB for 400 KiB
 * blocks) have means that cross back and forth, and swapping on every
 * crossing would reset the streak forever. */
static void evaluate(ucb_pol_t *u, ucb_site_t *s, const pol_outcome_t *o) {
  const pol_config_t *c = &u->base.cfg;
  int ch = -1;
  double ch_cost = INFINITY;
  for (int a = 0; a < POL_UCB1_ARMS; a++) {
    if (a == s->adopted || s->pulls[a] == 0) continue;
    double m = mean_cost(s, a);
    if (m < ch_cost) {
      ch_cost = m;
      ch = a;
    }
  }
  int cur = s->challenger;
  if (cur >= 0 && cur != ch && cur != s->adopted && s->pulls[cur] > 0) {
    double m = mean_cost(s, cur);
    if (m > 0 && (m - ch_cost) / m < c->ucb1_improve) {
      ch = cur;
      ch_cost = m;
    }
  }
  double base_cost = mean_cost(s, s->adopted);
  int improved = ch >= 0 && s->pulls[s->adopted] > 0 && base_cost > 0 &&
                 (base_cost - ch_cost) / base_cost >= c->ucb1_improve;
  if (!improved) {
    s->streak = 0;
    s->challenger = -1;
    return;
  }
  if (ch != s->challenger) {
    s->challenger = ch;
    s->streak = 0;
    s->streak_mark = s->pulls[ch] - 1; /* its latest sample is new */
  }
  /* Each step of the streak needs a new sample of the challenger:
   * evaluations repeated on the same samples (outcomes of the adopted arm
   * in between, credits) add nothing. */
  if (s->pulls[ch] <= s->streak_mark) return;
  s->streak_mark = s->pulls[ch];
  s->streak++;
  if (s->streak < c->ucb1_streak) return;
  /* the program's time never runs back: an outcome that carries none (0)
   * is taken as the last adoption's time and waits */
  uint64_t now = o->time_ns > s->last_adopt_ns ? o->time_ns : s->last_adopt_ns;
  int cooled = !s->has_adopted_once ||
               (now - s->last_adopt_ns >= c->ucb1_cooldown_ns &&
                o->op_seq - s->last_adopt_op >= c->ucb1_cooldown_ops);
  if (!cooled) return; /* the streak stands; adopt once the cooldown ends */
  s->adopted = ch;
  s->challenger = -1;
  s->streak = 0;
  s->has_adopted_once = 1;
  s->last_adopt_ns = now;
  s->last_adopt_op = o->op_seq;
  s->adoptions++;
  u->adoptions++;
  pol_record_event(&u->base, 0xad09, ((uint64_t)slot_of(o->site) << 8) | (uint64_t)ch);
}

static void ucb_observe(pol_t *p, const pol_outcome_t *o) {
  ucb_pol_t *u = (ucb_pol_t *)p;
  int a = o->strategy.arm;
  if (a < 0 || a >= POL_UCB1_ARMS) return;
  ucb_site_t *s = &u->sites[slot_of(o->site)];
  s->site = o->site;
  /* A delayed credit adds to its decision's arm without a new sample; the
   * means are then re-evaluated (a free completes most of a block's life,
   * so its evaluation sees the whole-life mean) */
  if (o->kind == POL_OUT_ALLOC) s->pulls[a]++;
  s->cost_sum[a] += o->cost_ns;
  evaluate(u, s, o);
}

static void ucb_snapshot(const pol_t *p, pol_emit_fn emit, void *ctx) {
  const ucb_pol_t *u = (const ucb_pol_t *)p;
  uint64_t pulls[POL_UCB1_ARMS] = {0}, adopted[POL_UCB1_ARMS] = {0};
  double cost[POL_UCB1_ARMS] = {0};
  unsigned active = 0;
  for (int i = 0; i < SITES; i++) {
    const ucb_site_t *s = &u->sites[i];
    uint64_t seen = s->decisions;
    for (int a = 0; a < POL_UCB1_ARMS; a++) seen += s->pulls[a];
    if (!seen) continue;
    active++;
    adopted[s->adopted]++;
    /* per-site arms (view site_arms): the slot's first site address */
    emit(ctx, s->adopted, "site_arm", (double)s->site);
    for (int a = 0; a < POL_UCB1_ARMS; a++) {
      pulls[a] += s->pulls[a];
      cost[a] += s->cost_sum[a];
    }
  }
  for (int a = 0; a < POL_UCB1_ARMS; a++) {
    emit(ctx, a, "threshold", (double)pol_ucb1_thresholds[a]);
    emit(ctx, a, "pulls", (double)pulls[a]);
    emit(ctx, a, "mean_cost", pulls[a] ? cost[a] / (double)pulls[a] : 0);
    emit(ctx, a, "sites_adopted", (double)adopted[a]);
  }
  emit(ctx, -1, "sites", active);
  emit(ctx, -1, "adoptions", (double)u->adoptions);
  emit(ctx, -1, "decisions", (double)p->decisions);
}

static void ucb_destroy(pol_t *p) {
  pol_base_release(p);
  free(p);
}

const pol_ops_t pol_ucb1_ops = {"ucb1", ucb_create, ucb_choose, ucb_observe,
                                ucb_snapshot, ucb_destroy};
