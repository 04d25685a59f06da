/* ana_compare.c: `hksim compare`'s analysis: two configurations (back end
 * and policy) of one results database, compared on the samples that are
 * independent, the repeat-level totals (the replay loop's wall time per
 * op of each done run), never on the ops of a run (docs/analysis.md). The
 * ratio of A to B is the ratio of geometric means with Welch's 95% CI on
 * the log scale; Welch's t-test and a permutation test say whether the
 * data separate them. cli/cmd_compare.c prints what this computes. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"

int ana_config_parse(const char *spec, ana_config_t *out) {
  memset(out, 0, sizeof *out);
  if (!spec || !*spec) return HK_E_USAGE;
  const char *slash = strchr(spec, '/');
  size_t bl = slash ? (size_t)(slash - spec) : strlen(spec);
  if (bl == 0 || bl >= sizeof out->backend) return HK_E_USAGE;
  memcpy(out->backend, spec, bl);
  if (slash) {
    const char *p = slash + 1;
    if (!*p || strchr(p, '/') || strlen(p) >= sizeof out->policy)
      return HK_E_USAGE;
    strcpy(out->policy, p);
    out->has_policy = 1;
  }
  return 0;
}

void ana_config_text(const ana_config_t *c, char *buf, size_t len) {
  if (c->has_policy && c->policy[0])
    snprintf(buf, len, "%s/%s", c->backend, c->policy);
  else
    snprintf(buf, len, "%s", c->backend);
}

static int sql_fail(sqlite3 *db, char *why, size_t len) {
  snprintf(why, len, "%s", sqlite3_errmsg(db));
  return HK_E_SQLITE;
}

/* The distinct values of column 0 of sql (one text parameter, may be
 * NULL), ", "-joined into buf; returns how many there were. */
static int list_of(sqlite3 *db, const char *sql, const char *param, char *buf,
                   size_t len) {
  sqlite3_stmt *st;
  buf[0] = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
  if (param) sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
  int n = 0;
  size_t o = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(st, 0);
    int w = snprintf(buf + o, len - o, "%s%s", n ? ", " : "", v ? v : "-");
    if (w < 0 || (size_t)w >= len - o) {
      if (len > 4) strcpy(buf + len - 4, "...");
      n++;
      break;
    }
    o += (size_t)w;
    n++;
  }
  sqlite3_finalize(st);
  return n;
}

/* Settles c against the runs in the database: the back end must have
 * runs, a policy named must be one of them, and a back end run under
 * several policies needs one named. */
static int resolve_config(sqlite3 *db, ana_config_t *c, char *why,
                          size_t len) {
  char have[512], pols[512], name[160];
  ana_config_text(c, name, sizeof name);
  int any = list_of(db, "SELECT DISTINCT backend FROM runs WHERE backend = ?1",
                    c->backend, have, sizeof have);
  int n = list_of(db,
                  "SELECT DISTINCT policy FROM runs WHERE backend = ?1"
                  " AND policy IS NOT NULL ORDER BY policy",
                  c->backend, pols, sizeof pols);
  if (n < 0 || any < 0) return sql_fail(db, why, len);
  if (any == 0) {
    int nb = list_of(db, "SELECT DISTINCT backend FROM runs ORDER BY backend",
                     NULL, have, sizeof have);
    snprintf(why, len, "no runs of back end '%s' in this database (%s%s)",
             c->backend, nb > 0 ? "back ends: " : "it has no runs",
             nb > 0 ? have : "");
    return HK_E_NOTFOUND;
  }
  if (c->has_policy) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM runs WHERE backend = ?1 AND"
                           " policy = ?2 LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
      return sql_fail(db, why, len);
    sqlite3_bind_text(st, 1, c->backend, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->policy, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!found) {
      if (n)
        snprintf(why, len, "no runs of '%s' in this database (policies of %s: "
                 "%s)", name, c->backend, pols);
      else
        snprintf(why, len, "no runs of '%s' in this database (%s has no "
                 "policy: name it as '%s')", name, c->backend, c->backend);
      return HK_E_NOTFOUND;
    }
    return 0;
  }
  if (n > 1) {
    snprintf(why, len, "%s was replayed under several policies (%s): name "
             "one, as %s/POLICY", c->backend, pols, c->backend);
    return HK_E_USAGE;
  }
  if (n == 1) { /* the only policy it was run under */
    size_t pl = strnlen(pols, sizeof c->policy - 1);
    memcpy(c->policy, pols, pl);
    c->policy[pl] = 0;
    c->has_policy = 1;
  }
  return 0;
}

/* The per-op totals (total_ns / ops) of the done runs of c on trace_id,
 * in repeat order, at most max; also the distinct touch/per_op modes. */
static int load_side(sqlite3 *db, int64_t trace_id, const ana_config_t *c,
                     double *v, unsigned max, unsigned *n, char *modes,
                     size_t mlen) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT CAST(total_ns AS REAL) / ops, touch || '/' ||"
                         " per_op FROM runs WHERE trace_id = ?1 AND"
                         " backend = ?2 AND policy IS ?3 AND status = 'done'"
                         " AND ops > 0 AND total_ns IS NOT NULL"
                         " ORDER BY repeat, run_id",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  sqlite3_bind_int64(st, 1, trace_id);
  sqlite3_bind_text(st, 2, c->backend, -1, SQLITE_STATIC);
  if (c->has_policy)
    sqlite3_bind_text(st, 3, c->policy, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 3);
  *n = 0;
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    const char *m = (const char *)sqlite3_column_text(st, 1);
    if (m && !strstr(modes, m) && strlen(modes) + strlen(m) + 3 < mlen) {
      if (modes[0]) strcat(modes, ", ");
      strcat(modes, m);
    }
    if (*n < max) v[(*n)++] = sqlite3_column_double(st, 0);
  }
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? 0 : HK_E_SQLITE;
}

static void describe(const double *v, unsigned n, ana_cmp_side_t *s) {
  s->n = n;
  double m = 0, q = 0;
  for (unsigned i = 0; i < n; i++) m += v[i];
  m /= n ? n : 1;
  for (unsigned i = 0; i < n; i++) q += (v[i] - m) * (v[i] - m);
  s->mean = m;
  s->sd = n > 1 ? sqrt(q / (n - 1)) : NAN;
  double half = n > 1 ? ana_t_quantile(0.975, n - 1) * s->sd / sqrt(n) : NAN;
  s->ci_lo = m - half;
  s->ci_hi = m + half;
}

static void compare_one(ana_cmp_t *r, const double *a, const double *b) {
  describe(a, r->a.n, &r->a);
  describe(b, r->b.n, &r->b);
  double la[ANA_CMP_MAX], lb[ANA_CMP_MAX];
  for (unsigned i = 0; i < r->a.n; i++) la[i] = log(a[i]);
  for (unsigned i = 0; i < r->b.n; i++) lb[i] = log(b[i]);
  ana_welch(la, r->a.n, lb, r->b.n, &r->welch);
  r->ratio = exp(r->welch.diff);
  r->ratio_lo = exp(r->welch.diff - r->welch.half);
  r->ratio_hi = exp(r->welch.diff + r->welch.half);
  if (r->a.n + r->b.n <= 64)
    ana_permutation(la, r->a.n, lb, r->b.n, 1000000, 100000, 1, &r->perm);
  else
    r->perm.p = NAN;
}

int ana_compare(ana_db_t *adb, const char *trace, ana_config_t *a,
                ana_config_t *b, ana_cmp_t **rows, size_t *n_rows, char *why,
                size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  *rows = NULL;
  *n_rows = 0;
  int rc = resolve_config(db, a, why, len);
  if (!rc) rc = resolve_config(db, b, why, len);
  if (rc) return rc;
  char na[160], nb[160];
  ana_config_text(a, na, sizeof na);
  ana_config_text(b, nb, sizeof nb);
  if (strcmp(a->backend, b->backend) == 0 &&
      strcmp(a->policy, b->policy) == 0) {
    snprintf(why, len, "'%s' compared with itself: name two configurations",
             na);
    return HK_E_USAGE;
  }
  if (trace) {
    char names[512];
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM traces WHERE name = ?1 OR"
                           " content_hash = ?1 OR CAST(trace_id AS TEXT) = ?1",
                           -1, &st, NULL) != SQLITE_OK)
      return sql_fail(db, why, len);
    sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!found) {
      int k = list_of(db, "SELECT name FROM traces ORDER BY name", NULL,
                      names, sizeof names);
      snprintf(why, len, "no trace '%s' in this database (%s%s)", trace,
               k > 0 ? "traces: " : "it has no traces", k > 0 ? names : "");
      return HK_E_NOTFOUND;
    }
  }
  /* Traces where both configurations have runs (any status: a side with
   * failed runs only is refused below, saying so). */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(
          db,
          "SELECT t.trace_id, t.name, t.ops FROM traces t WHERE"
          " (?1 IS NULL OR t.name = ?1 OR t.content_hash = ?1 OR"
          "  CAST(t.trace_id AS TEXT) = ?1)"
          " AND EXISTS (SELECT 1 FROM runs r WHERE r.trace_id = t.trace_id"
          "  AND r.backend = ?2 AND r.policy IS ?3)"
          " AND EXISTS (SELECT 1 FROM runs r WHERE r.trace_id = t.trace_id"
          "  AND r.backend = ?4 AND r.policy IS ?5)"
          " ORDER BY t.name, t.trace_id",
          -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  if (trace)
    sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 1);
  sqlite3_bind_text(st, 2, a->backend, -1, SQLITE_STATIC);
  if (a->has_policy) sqlite3_bind_text(st, 3, a->policy, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, b->backend, -1, SQLITE_STATIC);
  if (b->has_policy) sqlite3_bind_text(st, 5, b->policy, -1, SQLITE_STATIC);
  size_t cap = 0, n = 0;
  ana_cmp_t *out = NULL;
  int s;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 4;
      ana_cmp_t *g = realloc(out, nc * sizeof *g);
      if (!g) {
        rc = HK_E_NOMEM;
        break;
      }
      out = g;
      cap = nc;
    }
    ana_cmp_t *r = &out[n++];
    memset(r, 0, sizeof *r);
    r->trace_id = sqlite3_column_int64(st, 0);
    snprintf(r->trace, sizeof r->trace, "%s",
             (const char *)sqlite3_column_text(st, 1));
    r->ops = sqlite3_column_int64(st, 2);
    double va[ANA_CMP_MAX], vb[ANA_CMP_MAX];
    char ma[128] = "", mb[128] = "";
    rc = load_side(db, r->trace_id, a, va, ANA_CMP_MAX, &r->a.n, ma,
                   sizeof ma);
    if (!rc)
      rc = load_side(db, r->trace_id, b, vb, ANA_CMP_MAX, &r->b.n, mb,
                     sizeof mb);
    if (rc) {
      sql_fail(db, why, len);
      break;
    }
    const char *few = r->a.n < ANA_CMP_MIN ? na : r->b.n < ANA_CMP_MIN ? nb
                                                                       : NULL;
    if (few) {
      unsigned k = r->a.n < ANA_CMP_MIN ? r->a.n : r->b.n;
      snprintf(r->refused, sizeof r->refused,
               "%.130s has %u done repeat%s on %.200s; a comparison needs at least "
               "%d of each (replay with --repeat %d)",
               few, k, k == 1 ? "" : "s", r->trace, ANA_CMP_MIN, ANA_CMP_MIN);
    } else if (strchr(ma, ',') || strchr(mb, ',') || strcmp(ma, mb) != 0) {
      snprintf(r->refused, sizeof r->refused,
               "runs on %.200s were made with different --touch/--per-op "
               "(%.64s: %.60s; %.64s: %.60s); compare like with like",
               r->trace, na, ma, nb, mb);
    } else {
      snprintf(r->modes, sizeof r->modes, "%.63s", ma);
      compare_one(r, va, vb);
    }
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(st);
  if (!rc && n == 0) {
    snprintf(why, len, "%s and %s were never replayed on the same trace%s%s",
             na, nb, trace ? " " : "", trace ? trace : "");
    rc = HK_E_NOTFOUND;
  }
  if (rc) {
    free(out);
    return rc;
  }
  *rows = out;
  *n_rows = n;
  return 0;
}
