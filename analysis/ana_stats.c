/* ana_stats.c: the small statistics `hksim compare` needs, on samples of
 * repeat-level values (a handful of numbers, never the ops of one run):
 * Student's t distribution (CDF and quantile, through the regularized
 * incomplete beta function), Welch's unequal-variance t-test and an exact
 * (or seeded Monte Carlo) permutation test of the difference of means. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"

/* Continued fraction of the incomplete beta function (modified Lentz),
 * valid for x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-15;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 400; m++) {
    double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + num * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1.0 + num / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + num * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1.0 + num / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1.0) < eps) break;
  }
  return h;
}

double ana_beta_inc(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) +
               b * log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return exp(lbt) * beta_cf(a, b, x) / a;
  return 1.0 - exp(lbt) * beta_cf(b, a, 1.0 - x) / b;
}

double ana_t_cdf(double t, double df) {
  if (!(df > 0) || isnan(t)) return NAN;
  if (isinf(t)) return t > 0 ? 1.0 : 0.0;
  double tail = 0.5 * ana_beta_inc(df / 2.0, 0.5, df / (df + t * t));
  return t > 0 ? 1.0 - tail : tail;
}

double ana_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
  if (p == 0.5) return 0;
  if (p < 0.5) return -ana_t_quantile(1.0 - p, df);
  double lo = 0, hi = 1;
  while (ana_t_cdf(hi, df) < p && hi < 1e12) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    double mid = 0.5 * (lo + hi);
    if (ana_t_cdf(mid, df) < p)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

static void mean_var(const double *x, size_t n, double *mean, double *var) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
  *mean = m;
  *var = n > 1 ? s / (double)(n - 1) : NAN;
}

int ana_welch(const double *a, size_t na, const double *b, size_t nb,
              ana_welch_t *out) {
  memset(out, 0, sizeof *out);
  if (na < 2 || nb < 2) return HK_E_USAGE;
  double ma, va, mb, vb;
  mean_var(a, na, &ma, &va);
  mean_var(b, nb, &mb, &vb);
  double sa = va / (double)na, sb = vb / (double)nb, se2 = sa + sb;
  out->mean_a = ma;
  out->mean_b = mb;
  out->diff = ma - mb;
  out->se = sqrt(se2);
  if (se2 == 0) { /* both samples constant: the difference is exact */
    out->df = (double)(na + nb - 2);
    out->t = ma == mb ? 0 : (ma > mb ? INFINITY : -INFINITY);
    out->p = ma == mb ? 1.0 : 0.0;
    out->half = 0;
    return 0;
  }
  /* Welch-Satterthwaite degrees of freedom. */
  out->df = se2 * se2 / (sa * sa / (double)(na - 1) + sb * sb / (double)(nb - 1));
  out->t = out->diff / out->se;
  out->p = 2.0 * ana_t_cdf(-fabs(out->t), out->df);
  if (out->p > 1) out->p = 1;
  out->half = ana_t_quantile(0.975, out->df) * out->se;
  return 0;
}

/* Sum of x[idx[k]] for the k < m chosen indexes. */
static double sum_of(const double *x, const unsigned *idx, size_t m) {
  double s = 0;
  for (size_t k = 0; k < m; k++) s += x[idx[k]];
  return s;
}

static double binom(size_t n, size_t k) {
  double r = 1;
  for (size_t i = 1; i <= k; i++) r = r * (double)(n - k + i) / (double)i;
  return r;
}

int ana_permutation(const double *a, size_t na, const double *b, size_t nb,
                    uint64_t max_exact, uint64_t draws, uint64_t seed,
                    ana_perm_t *out) {
  memset(out, 0, sizeof *out);
  size_t n = na + nb;
  if (na < 1 || nb < 1 || n > 64) return HK_E_USAGE;
  double x[64], total = 0;
  for (size_t i = 0; i < na; i++) x[i] = a[i];
  for (size_t i = 0; i < nb; i++) x[na + i] = b[i];
  for (size_t i = 0; i < n; i++) total += x[i];
  /* The statistic: the difference of means, from the sum of group A. */
  double sa0 = 0;
  for (size_t i = 0; i < na; i++) sa0 += x[i];
#define DIFF(sa) ((sa) / (double)na - (total - (sa)) / (double)nb)
  double obs = fabs(DIFF(sa0));
  /* Ties within rounding count as "as extreme" (the observed arrangement
   * must count itself). */
  double tol = 1e-9 * (fabs(obs) + fabs(total) / (double)n + 1e-300);
  unsigned idx[64];
  uint64_t hit = 0, all = 0;
  double arrangements = binom(n, na);
  if (arrangements <= (double)max_exact) {
    /* Every choice of na of the n values, in lexicographic order. */
    for (size_t k = 0; k < na; k++) idx[k] = (unsigned)k;
    double maxd = -1;
    uint64_t at_max = 0;
    for (;;) {
      all++;
      double d = fabs(DIFF(sum_of(x, idx, na)));
      if (d >= obs - tol) hit++;
      if (d > maxd + tol) {
        maxd = d;
        at_max = 1;
      } else if (d >= maxd - tol) {
        at_max++;
      }
      size_t k = na;
      while (k > 0 && idx[k - 1] == n - na + k - 1) k--;
      if (k == 0) break;
      idx[k - 1]++;
      for (size_t j = k; j < na; j++) idx[j] = idx[j - 1] + 1;
    }
    out->exact = 1;
    out->p = (double)hit / (double)all;
    out->p_min = (double)at_max / (double)all;
  } else {
    /* Seeded draws (a partial Fisher-Yates shuffle each); the observed
     * arrangement is counted once, so p is never 0. */
    hk_rng_t r;
    hk_rng_init(&r, seed);
    unsigned perm[64];
    for (size_t i = 0; i < n; i++) perm[i] = (unsigned)i;
    hit = 1;
    all = 1;
    for (uint64_t d = 0; d < draws; d++) {
      for (size_t k = 0; k < na; k++) {
        size_t j = k + (size_t)hk_rng_below(&r, n - k);
        unsigned t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
      }
      all++;
      if (fabs(DIFF(sum_of(x, perm, na))) >= obs - tol) hit++;
    }
    out->exact = 0;
    out->p = (double)hit / (double)all;
  }
#undef DIFF
  out->arrangements = all;
  return 0;
}
