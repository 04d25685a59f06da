/* pol_test_util.h: helpers for the policy tests: read one timeline value
 * from a snapshot, and drive a policy with a scripted cost per arm. */
#ifndef POL_TEST_UTIL_H
#define POL_TEST_UTIL_H

#include <string.h>

#include "policy.h"

typedef struct {
  const char *metric;
  int arm; /* -2: any arm */
  double value;
  int found_arm;
  int count;
} probe_t;

static void probe_emit(void *ctx, int arm, const char *metric, double value) {
  probe_t *p = ctx;
  if (strcmp(metric, p->metric) != 0 || (p->arm != -2 && p->arm != arm)) return;
  p->value = value;
  p->found_arm = arm;
  p->count++;
}

/* The value of metric (for arm, or any arm with -2); *arm_out its arm. */
static inline double snap(const pol_t *p, const char *metric, int arm,
                          int *arm_out) {
  probe_t pr = {metric, arm, -1, -3, 0};
  pol_snapshot(p, probe_emit, &pr);
  if (arm_out) *arm_out = pr.found_arm;
  return pr.value;
}

typedef double (*cost_fn)(int arm, void *ctx);

/* n allocations of size at site, each costing f(arm); vtime advances by
 * the cost. Returns the last strategy. */
static inline pol_strategy_t drive(pol_t *p, int n, uint64_t site,
                                   uint64_t size, cost_fn f, void *ctx,
                                   uint64_t *vtime, uint64_t *op) {
  pol_strategy_t s = {0, 0};
  for (int i = 0; i < n; i++) {
    s = pol_choose(p, site, size);
    double c = f(s.arm, ctx);
    *vtime += (uint64_t)c;
    ++*op;
    pol_outcome_t o = {.site = site, .size = size, .strategy = s,
                       .cost_ns = c, .cpu_ns = c * 0.5, .fault_ns = c * 0.3,
                       .mem_ns = c * 0.2, .op_seq = *op, .vtime_ns = *vtime,
                       .time_ns = *vtime};
    pol_observe(p, &o);
  }
  return s;
}

#endif
