/* ana_latstats.c: the SQL aggregate hksim_size_class_stats(kind, size,
 * latency_ns), which the view size_class_latency groups by run: one pass
 * over a run's timed ops, one sort per op kind, instead of SQLite sorting
 * every op of every run by (run, kind, class, latency) for window
 * functions (58 s for five runs of 430k ops under load; views.sql). Part
 * of hksim's SQLite module: registered with hksim_trace_op on every
 * connection hksim opens and in the loadable extension hksim_sqlite. */
#ifdef HKSIM_SQLITE_EXTENSION
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

#include <stdlib.h>
#include <string.h>

#include "ana_latstats.h"

#define MAX_KINDS 32 /* op_kinds has 10 */

typedef struct kind_ops {
  char name[32];
  uint64_t *v;
  size_t n, cap;
} kind_ops_t;

typedef struct agg {
  kind_ops_t k[MAX_KINDS];
  int nk;
  const char *err; /* static message once a row was refused */
} agg_t;

static kind_ops_t *kind_of(agg_t *a, const char *name) {
  for (int i = 0; i < a->nk; i++)
    if (strcmp(a->k[i].name, name) == 0) return &a->k[i];
  if (a->nk == MAX_KINDS || strlen(name) >= sizeof a->k[0].name) {
    a->err = "hksim_size_class_stats: more than 32 op kinds, or a kind name "
             "over 31 bytes";
    return NULL;
  }
  kind_ops_t *k = &a->k[a->nk++];
  memset(k, 0, sizeof *k);
  strcpy(k->name, name);
  return k;
}

/* A row: NULL latency (an op not timed) and negative sizes (in no class,
 * as the view's join with size_classes leaves them out) are skipped. */
static void step(sqlite3_context *ctx, int argc, sqlite3_value **v) {
  (void)argc;
  agg_t *a = sqlite3_aggregate_context(ctx, sizeof *a);
  if (!a) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (a->err || sqlite3_value_type(v[2]) == SQLITE_NULL ||
      sqlite3_value_type(v[0]) == SQLITE_NULL)
    return;
  sqlite3_int64 size = sqlite3_value_int64(v[1]);
  sqlite3_int64 ns = sqlite3_value_int64(v[2]);
  if (size < 0) return;
  const char *name = (const char *)sqlite3_value_text(v[0]);
  if (!name) {
    a->err = "hksim_size_class_stats: out of memory";
    return;
  }
  kind_ops_t *k = kind_of(a, name);
  if (!k) return;
  if (k->n == k->cap) {
    size_t nc = k->cap ? k->cap * 2 : 1024;
    uint64_t *nv = sqlite3_realloc64(k->v, nc * sizeof *nv);
    if (!nv) {
      a->err = "hksim_size_class_stats: out of memory";
      return;
    }
    k->v = nv;
    k->cap = nc;
  }
  uint64_t lat = ns < 0 ? 0 : (uint64_t)ns > ANA_LAT_MASK ? ANA_LAT_MASK : (uint64_t)ns;
  k->v[k->n++] = (uint64_t)ana_size_class((uint64_t)size) << ANA_LAT_BITS | lat;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

static int cmp_kind(const void *x, const void *y) {
  return strcmp(((const kind_ops_t *)x)->name, ((const kind_ops_t *)y)->name);
}

/* JSON string body: kinds are identifiers, but quote what JSON needs. */
static void json_str(sqlite3_str *s, const char *t) {
  sqlite3_str_appendchar(s, 1, '"');
  for (; *t; t++) {
    unsigned char c = (unsigned char)*t;
    if (c == '"' || c == '\\')
      sqlite3_str_appendf(s, "\\%c", c);
    else if (c < 0x20)
      sqlite3_str_appendf(s, "\\u%04x", c);
    else
      sqlite3_str_appendchar(s, 1, (char)c);
  }
  sqlite3_str_appendchar(s, 1, '"');
}

/* The run's groups as a JSON array ordered by kind (bytewise, as SQLite's
 * BINARY collation) then class: [kind, class, ops, p50, p90, p95, p99,
 * sum_ns, max_ns] each, percentiles by nearest rank. NULL for no rows. */
static void write_groups(sqlite3_context *ctx, agg_t *a) {
  qsort(a->k, (size_t)a->nk, sizeof a->k[0], cmp_kind);
  sqlite3_str *s = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_appendchar(s, 1, '[');
  int first = 1;
  static const double q[4] = {0.50, 0.90, 0.95, 0.99};
  for (int i = 0; i < a->nk; i++) {
    kind_ops_t *k = &a->k[i];
    qsort(k->v, k->n, sizeof *k->v, cmp_u64);
    for (size_t lo = 0, hi; lo < k->n; lo = hi) {
      uint64_t cls = k->v[lo] >> ANA_LAT_BITS;
      sqlite3_int64 sum = 0;
      for (hi = lo; hi < k->n && k->v[hi] >> ANA_LAT_BITS == cls; hi++)
        sum += (sqlite3_int64)(k->v[hi] & ANA_LAT_MASK);
      size_t n = hi - lo;
      sqlite3_str_appendall(s, first ? "[" : ",[");
      first = 0;
      json_str(s, k->name);
      sqlite3_str_appendf(s, ",%llu,%llu", (unsigned long long)cls,
                          (unsigned long long)n);
      for (int j = 0; j < 4; j++)
        sqlite3_str_appendf(
            s, ",%llu",
            (unsigned long long)(k->v[lo + ana_nearest_rank(n, q[j])] &
                                 ANA_LAT_MASK));
      sqlite3_str_appendf(s, ",%lld,%llu]", sum,
                          (unsigned long long)(k->v[hi - 1] & ANA_LAT_MASK));
    }
  }
  sqlite3_str_appendchar(s, 1, ']');
  if (sqlite3_str_errcode(s)) {
    sqlite3_free(sqlite3_str_finish(s));
    sqlite3_result_error_nomem(ctx);
  } else {
    int len = sqlite3_str_length(s);
    sqlite3_result_text(ctx, sqlite3_str_finish(s), len, sqlite3_free);
  }
}

static void final(sqlite3_context *ctx) {
  agg_t *a = sqlite3_aggregate_context(ctx, 0);
  if (!a || (!a->nk && !a->err)) {
    sqlite3_result_null(ctx);
    return;
  }
  if (a->err)
    sqlite3_result_error(ctx, a->err, -1);
  else
    write_groups(ctx, a);
  for (int i = 0; i < a->nk; i++) sqlite3_free(a->k[i].v);
}

int ana_latstats_register(struct sqlite3 *db) {
  return sqlite3_create_function(db, "hksim_size_class_stats", 3,
                                 SQLITE_UTF8 | SQLITE_INNOCUOUS |
                                     SQLITE_DETERMINISTIC,
                                 NULL, NULL, step, final);
}
