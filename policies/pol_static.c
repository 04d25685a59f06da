/* pol_static.c: a fixed mmap threshold (256 KiB by default: the
 * hakmem-baseline configuration). Learns nothing; still digests and
 * reports its decisions so runs compare like for like. */
#include <stdlib.h>

#include "pol_internal.h"

typedef struct {
  pol_t base;
  uint64_t observed;
} static_pol_t;

static pol_t *st_create(const pol_config_t *cfg, uint64_t seed) {
  static_pol_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (pol_base_init(&s->base, &pol_static_ops, cfg, seed) < 0) {
    free(s);
    return NULL;
  }
  return &s->base;
}

static pol_strategy_t st_choose(pol_t *p, uint64_t site, uint64_t size) {
  pol_strategy_t r = {p->cfg.static_threshold, 0};
  pol_record(p, site, size, r);
  return r;
}

static void st_observe(pol_t *p, const pol_outcome_t *o) {
  if (o->kind == POL_OUT_ALLOC) ((static_pol_t *)p)->observed++;
}

static void st_snapshot(const pol_t *p, pol_emit_fn emit, void *ctx) {
  emit(ctx, 0, "threshold", (double)p->cfg.static_threshold);
  emit(ctx, 0, "chosen", 0);
  emit(ctx, -1, "decisions", (double)p->decisions);
}

static void st_destroy(pol_t *p) {
  pol_base_release(p);
  free(p);
}

const pol_ops_t pol_static_ops = {"static", st_create, st_choose, st_observe,
                                  st_snapshot, st_destroy};
