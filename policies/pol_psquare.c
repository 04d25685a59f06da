/* pol_psquare.c: the P-square algorithm (Jain & Chlamtac 1985): one
 * quantile of a stream in O(1) memory, five markers adjusted by parabolic
 * interpolation. evo tracks each window's p99 cost with it. */
#include <math.h>
#include <string.h>

#include "pol_internal.h"

void pol_psquare_init(pol_psquare_t *ps, double p) {
  memset(ps, 0, sizeof *ps);
  ps->p = p;
  for (int i = 0; i < 5; i++) ps->n[i] = i + 1;
  ps->np[0] = 1;
  ps->np[1] = 1 + 2 * p;
  ps->np[2] = 1 + 4 * p;
  ps->np[3] = 3 + 2 * p;
  ps->np[4] = 5;
  ps->dn[0] = 0;
  ps->dn[1] = p / 2;
  ps->dn[2] = p;
  ps->dn[3] = (1 + p) / 2;
  ps->dn[4] = 1;
}

static void sort5(double *a, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
      double t = a[j];
      a[j] = a[j - 1];
      a[j - 1] = t;
    }
}

void pol_psquare_add(pol_psquare_t *ps, double x) {
  if (ps->count < 5) {
    ps->q[ps->count++] = x;
    if (ps->count == 5) sort5(ps->q, 5);
    return;
  }
  ps->count++;
  int k;
  if (x < ps->q[0]) {
    ps->q[0] = x;
    k = 0;
  } else if (x >= ps->q[4]) {
    ps->q[4] = x;
    k = 3;
  } else {
    for (k = 0; k < 3 && x >= ps->q[k + 1]; k++) {
    }
  }
  for (int i = k + 1; i < 5; i++) ps->n[i] += 1;
  for (int i = 0; i < 5; i++) ps->np[i] += ps->dn[i];
  for (int i = 1; i < 4; i++) {
    double d = ps->np[i] - ps->n[i];
    if ((d >= 1 && ps->n[i + 1] - ps->n[i] > 1) ||
        (d <= -1 && ps->n[i - 1] - ps->n[i] < -1)) {
      double s = d >= 0 ? 1 : -1;
      double qp = ps->q[i] + s / (ps->n[i + 1] - ps->n[i - 1]) *
                                 ((ps->n[i] - ps->n[i - 1] + s) *
                                      (ps->q[i + 1] - ps->q[i]) /
                                      (ps->n[i + 1] - ps->n[i]) +
                                  (ps->n[i + 1] - ps->n[i] - s) *
                                      (ps->q[i] - ps->q[i - 1]) /
                                      (ps->n[i] - ps->n[i - 1]));
      if (ps->q[i - 1] < qp && qp < ps->q[i + 1]) {
        ps->q[i] = qp;
      } else {
        int j = i + (int)s;
        ps->q[i] += s * (ps->q[j] - ps->q[i]) / (ps->n[j] - ps->n[i]);
      }
      ps->n[i] += s;
    }
  }
}

double pol_psquare_get(const pol_psquare_t *ps) {
  if (ps->count == 0) return 0;
  if (ps->count < 5) {
    double a[5];
    memcpy(a, ps->q, sizeof a);
    sort5(a, (int)ps->count);
    int idx = (int)ceil(ps->p * (double)ps->count) - 1;
    if (idx < 0) idx = 0;
    return a[idx];
  }
  return ps->q[2];
}
