/* pol_internal.h: private to policies/. The base every instance starts
 * with, digest helpers, and the P-square quantile estimator used by evo.
 * Sections are labelled with the file that defines them. */
#ifndef POL_INTERNAL_H
#define POL_INTERNAL_H

#include "policy.h"

/* Every policy struct embeds this as its first member. */
struct pol_s {
  const pol_ops_t *ops;
  hk_digest_t *digest;
  uint64_t decisions;
  pol_config_t cfg;
  hk_rng_t rng;
};

/* pol_base.c */
/* Fills the base; returns -1 when the digest cannot be allocated. */
int pol_base_init(pol_t *p, const pol_ops_t *ops, const pol_config_t *cfg,
                  uint64_t seed);
void pol_base_release(pol_t *p);
/* Feeds one decision into the digest and counts it. */
void pol_record(pol_t *p, uint64_t site, uint64_t size, pol_strategy_t s);
/* Feeds a state change (tag, value) into the digest. */
void pol_record_event(pol_t *p, uint64_t tag, uint64_t value);

/* pol_elo.c: accessors evo needs. */
int pol_elo_best(const pol_t *elo, int exclude_mask);
int pol_elo_alive(const pol_t *elo, int arm);

/* pol_psquare.c: Jain & Chlamtac's P-square estimator of one quantile. */
typedef struct pol_psquare {
  double p;
  double q[5];   /* marker heights */
  double n[5];   /* marker positions */
  double np[5];  /* desired positions */
  double dn[5];
  uint64_t count;
} pol_psquare_t;
void pol_psquare_init(pol_psquare_t *ps, double p);
void pol_psquare_add(pol_psquare_t *ps, double x);
double pol_psquare_get(const pol_psquare_t *ps);

#endif
