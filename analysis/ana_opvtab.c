/* ana_opvtab.c: the SQLite module hksim_trace_op, through which the view
 * trace_op reads a trace's ops out of their compressed chunks
 * (trace_op_chunk, common/hk_opchunk.h) one row per op. Every connection
 * hksim opens has it (ana_sqlite_register, ana_sqlite_auto); the same file,
 * built with HKSIM_SQLITE_EXTENSION, is the loadable extension
 * hksim_sqlite.so for the sqlite3 shell and other programs (docs/schema.md).
 */
#ifdef HKSIM_SQLITE_EXTENSION
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
int ana_sqlite_register(sqlite3 *db);
int sqlite3_hksimsqlite_init(sqlite3 *db, char **err,
                             const sqlite3_api_routines *api);
#else
#include <sqlite3.h>

#include "analysis.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ana_latstats.h"
#include "hk_error.h"
#include "hk_opchunk.h"

/* Columns, in the order of the view trace_op (schema.sql). */
enum {
  COL_TRACE,
  COL_SEQ,
  COL_KIND,
  COL_SIZE,
  COL_SITE,
  COL_THREAD,
  COL_SLOT,
  COL_ALIGN,
  COL_FLAGS,
  COL_TIME
};

/* idxNum bits: which constraints xFilter receives, in this order. */
enum {
  IX_TRACE = 1,
  IX_SEQ_EQ = 2,
  IX_SEQ_LO = 4,
  IX_SEQ_HI = 8,
  IX_LO_STRICT = 16, /* seq > lo rather than >= */
  IX_HI_STRICT = 32  /* seq < hi rather than <= */
};

typedef struct vtab {
  sqlite3_vtab base;
  sqlite3 *db;
} vtab_t;

typedef struct cursor {
  sqlite3_vtab_cursor base;
  sqlite3_stmt *chunks; /* the chunks the constraints select, in order */
  hk_opcodec_t *codec;
  hk_oprow_t *rows;     /* the decoded chunk */
  int64_t trace, k0;    /* which chunk rows holds; k0 < 0: none */
  uint32_t n, i;        /* ops in it, the current one */
  int64_t lo, hi;       /* seq bounds (inclusive) */
  int eof;
} cursor_t;

static int connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                   sqlite3_vtab **out, char **err) {
  (void)aux, (void)argc, (void)argv, (void)err;
  int rc = sqlite3_declare_vtab(
      db, "CREATE TABLE x(trace_id INTEGER, seq INTEGER, kind INTEGER, "
          "size INTEGER, site INTEGER, thread INTEGER, slot INTEGER, "
          "align INTEGER, flags INTEGER, time_ns INTEGER)");
  if (rc != SQLITE_OK) return rc;
  vtab_t *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  v->db = db;
  *out = &v->base;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  return SQLITE_OK;
}

static int disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

/* A point lookup (trace and seq) costs one chunk; a trace's scan its
 * chunks; anything else every chunk of every trace. */
static int best_index(sqlite3_vtab *tab, sqlite3_index_info *ix) {
  (void)tab;
  int use[4] = {-1, -1, -1, -1}; /* trace, seq eq, seq lo, seq hi */
  for (int i = 0; i < ix->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
    if (!c->usable) continue;
    if (c->iColumn == COL_TRACE && c->op == SQLITE_INDEX_CONSTRAINT_EQ)
      use[0] = i;
    else if (c->iColumn == COL_SEQ && c->op == SQLITE_INDEX_CONSTRAINT_EQ)
      use[1] = i;
    else if (c->iColumn == COL_SEQ && (c->op == SQLITE_INDEX_CONSTRAINT_GE ||
                                       c->op == SQLITE_INDEX_CONSTRAINT_GT))
      use[2] = i;
    else if (c->iColumn == COL_SEQ && (c->op == SQLITE_INDEX_CONSTRAINT_LE ||
                                       c->op == SQLITE_INDEX_CONSTRAINT_LT))
      use[3] = i;
  }
  if (use[1] >= 0) use[2] = use[3] = -1;
  int argv = 1, num = 0;
  for (int k = 0; k < 4; k++) {
    if (use[k] < 0) continue;
    num |= 1 << k;
    ix->aConstraintUsage[use[k]].argvIndex = argv++;
    ix->aConstraintUsage[use[k]].omit = 1; /* xFilter applies them all */
    int op = ix->aConstraint[use[k]].op;
    if (op == SQLITE_INDEX_CONSTRAINT_GT) num |= IX_LO_STRICT;
    if (op == SQLITE_INDEX_CONSTRAINT_LT) num |= IX_HI_STRICT;
  }
  ix->idxNum = num;
  double rows = 1e9;
  if (num & IX_SEQ_EQ) rows = num & IX_TRACE ? 1 : 100;
  else if (num & IX_TRACE) rows = (num & (IX_SEQ_LO | IX_SEQ_HI)) ? 1e5 : 1e7;
  else if (num & (IX_SEQ_LO | IX_SEQ_HI)) rows = 1e8;
  ix->estimatedRows = (sqlite3_int64)rows;
  ix->estimatedCost = rows;
  if (num & IX_SEQ_EQ && num & IX_TRACE) ix->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  /* Rows come in (trace_id, seq) order. */
  int ordered = 1;
  for (int i = 0; i < ix->nOrderBy && ordered; i++) {
    const struct sqlite3_index_orderby *o = &ix->aOrderBy[i];
    if (o->desc) ordered = 0;
    else if (o->iColumn == COL_TRACE) ordered = i == 0;
    else if (o->iColumn == COL_SEQ)
      ordered = i == 1 || (i == 0 && (num & IX_TRACE));
    else ordered = 0;
  }
  ix->orderByConsumed = ix->nOrderBy > 0 && ordered;
  return SQLITE_OK;
}

static int open_cursor(sqlite3_vtab *tab, sqlite3_vtab_cursor **out) {
  (void)tab;
  cursor_t *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->codec = hk_opcodec_create();
  c->rows = sqlite3_malloc64((sqlite3_uint64)HK_OPCHUNK_OPS * sizeof *c->rows);
  c->k0 = -1;
  if (!c->codec || !c->rows) {
    hk_opcodec_free(c->codec);
    sqlite3_free(c->rows);
    sqlite3_free(c);
    return SQLITE_NOMEM;
  }
  *out = &c->base;
  return SQLITE_OK;
}

static int close_cursor(sqlite3_vtab_cursor *cur) {
  cursor_t *c = (cursor_t *)cur;
  sqlite3_finalize(c->chunks);
  hk_opcodec_free(c->codec);
  sqlite3_free(c->rows);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int fail(cursor_t *c, const char *fmt, int64_t trace, int64_t k0,
                const char *why) {
  sqlite3_free(c->base.pVtab->zErrMsg);
  c->base.pVtab->zErrMsg = sqlite3_mprintf(fmt, (long long)trace,
                                           (long long)k0, why);
  return SQLITE_ERROR;
}

/* Loads the chunk the statement is on (unless it is the one held), and
 * puts the cursor on its first op within the bounds. */
static int load(cursor_t *c) {
  int64_t trace = sqlite3_column_int64(c->chunks, 0);
  int64_t k0 = sqlite3_column_int64(c->chunks, 1);
  if (trace != c->trace || k0 != c->k0) {
    const void *blob = sqlite3_column_blob(c->chunks, 2);
    size_t len = (size_t)sqlite3_column_bytes(c->chunks, 2);
    char why[160];
    uint32_t n;
    c->k0 = -1;
    if (hk_opchunk_decode(c->codec, blob, len, c->rows, &n, why, sizeof why))
      return fail(c, "trace_op_chunk of trace %lld at op %lld: %s", trace, k0,
                  why);
    c->trace = trace;
    c->k0 = k0;
    c->n = n;
  }
  c->i = c->lo > k0 ? (uint32_t)(c->lo - k0 < c->n ? c->lo - k0 : c->n) : 0;
  return SQLITE_OK;
}

/* Moves to the next op within the bounds, across chunks. */
static int advance(cursor_t *c) {
  for (;;) {
    if (c->k0 >= 0 && c->i < c->n) {
      if (c->k0 + c->i > c->hi) break;
      return SQLITE_OK;
    }
    int rc = sqlite3_step(c->chunks);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      sqlite3_vtab *v = c->base.pVtab;
      sqlite3_free(v->zErrMsg);
      v->zErrMsg = sqlite3_mprintf("reading trace_op_chunk: %s",
                                   sqlite3_errmsg(((vtab_t *)v)->db));
      return rc;
    }
    if ((rc = load(c)) != SQLITE_OK) return rc;
  }
  c->eof = 1;
  return SQLITE_OK;
}

/* An integer, or a real that is one (seq = 5.0 matches op 5). */
static int integral(sqlite3_value *v, int64_t *out) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_INTEGER) {
    *out = sqlite3_value_int64(v);
    return 1;
  }
  double d = sqlite3_value_double(v);
  if (t != SQLITE_FLOAT || d < -9e18 || d > 9e18 || (double)(int64_t)d != d)
    return 0;
  *out = (int64_t)d;
  return 1;
}

static int filter(sqlite3_vtab_cursor *cur, int num, const char *str,
                  int argc, sqlite3_value **argv) {
  (void)str, (void)argc;
  cursor_t *c = (cursor_t *)cur;
  vtab_t *v = (vtab_t *)cur->pVtab;
  int a = 0;
  int64_t trace = 0;
  c->lo = 0;
  c->hi = INT64_MAX;
  c->eof = 0;
  if (num & IX_TRACE) {
    if (!integral(argv[a], &trace)) { /* NULL, text, 1.5: no row equals */
      c->eof = 1;
      return SQLITE_OK;
    }
    a++;
  }
  if (num & IX_SEQ_EQ) {
    if (!integral(argv[a], &c->lo)) {
      c->eof = 1;
      return SQLITE_OK;
    }
    c->hi = c->lo;
    a++;
  }
  if (num & IX_SEQ_LO) {
    int t = sqlite3_value_type(argv[a]);
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) { /* NULL, or text: above
                                                        every integer */
      c->eof = 1;
      return SQLITE_OK;
    }
    double d = sqlite3_value_double(argv[a]);
    if (t == SQLITE_INTEGER) {
      int64_t x = sqlite3_value_int64(argv[a]);
      c->lo = num & IX_LO_STRICT ? (x == INT64_MAX ? x : x + 1) : x;
    } else { /* the least integer above (or at) d */
      c->lo = d >= 9e18 ? INT64_MAX : d < -9e18 ? INT64_MIN : (int64_t)d;
      if (c->lo != INT64_MAX &&
          ((double)c->lo < d || ((num & IX_LO_STRICT) && (double)c->lo == d)))
        c->lo++;
    }
    if (c->lo < 0) c->lo = 0;
    a++;
  }
  if (num & IX_SEQ_HI) {
    int t = sqlite3_value_type(argv[a]);
    double d = sqlite3_value_double(argv[a]);
    if (t == SQLITE_NULL) {
      c->eof = 1;
      return SQLITE_OK;
    }
    if (t == SQLITE_INTEGER) {
      int64_t x = sqlite3_value_int64(argv[a]);
      c->hi = num & IX_HI_STRICT ? (x == INT64_MIN ? -1 : x - 1) : x;
    } else if (t == SQLITE_FLOAT) { /* the greatest integer below (or at) d */
      c->hi = d >= 9e18 ? INT64_MAX : d < -9e18 ? -1 : (int64_t)d;
      if ((double)c->hi > d || ((num & IX_HI_STRICT) && (double)c->hi == d))
        c->hi--;
    } else { /* text: above every integer */
      c->hi = INT64_MAX;
    }
    a++;
  }
  if (c->hi < c->lo) {
    c->eof = 1;
    return SQLITE_OK;
  }
  /* A point lookup inside the chunk held: no query (op_latency looks up
   * every timed op of a run, in order). */
  if ((num & (IX_TRACE | IX_SEQ_EQ)) == (IX_TRACE | IX_SEQ_EQ) && c->k0 >= 0 &&
      trace == c->trace && c->lo >= c->k0 && c->lo < c->k0 + c->n) {
    sqlite3_finalize(c->chunks);
    c->chunks = NULL;
    c->i = (uint32_t)(c->lo - c->k0);
    return SQLITE_OK;
  }
  sqlite3_finalize(c->chunks);
  c->chunks = NULL;
  /* Chunks start at multiples of HK_OPCHUNK_OPS (rpl_db.c), so the one
   * holding lo starts after lo - HK_OPCHUNK_OPS. */
  int rc = sqlite3_prepare_v2(
      v->db,
      num & IX_TRACE
          ? "SELECT trace_id, k0, ops FROM trace_op_chunk WHERE trace_id = ?3"
            " AND k0 > ?1 AND k0 <= ?2 ORDER BY k0"
          /* Not the chunks of a trace still being stored (trace_store):
           * only traces in traces. */
          : "SELECT trace_id, k0, ops FROM trace_op_chunk WHERE k0 > ?1 AND "
            "k0 <= ?2 AND trace_id IN (SELECT trace_id FROM traces) ORDER BY "
            "trace_id, k0",
      -1, &c->chunks, NULL);
  if (rc != SQLITE_OK) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg =
        sqlite3_mprintf("reading trace_op_chunk: %s", sqlite3_errmsg(v->db));
    return rc;
  }
  sqlite3_bind_int64(c->chunks, 1,
                     c->lo > (int64_t)HK_OPCHUNK_OPS
                         ? c->lo - (int64_t)HK_OPCHUNK_OPS
                         : -1);
  sqlite3_bind_int64(c->chunks, 2, c->hi);
  if (num & IX_TRACE) sqlite3_bind_int64(c->chunks, 3, trace);
  /* Nothing held is current: step to the first chunk selected (load()
   * keeps the chunk held when that is the one). */
  c->i = c->n;
  return advance(c);
}

static int next(sqlite3_vtab_cursor *cur) {
  cursor_t *c = (cursor_t *)cur;
  if (!c->chunks) { /* a point lookup served from the chunk held */
    c->eof = 1;
    return SQLITE_OK;
  }
  c->i++;
  return advance(c);
}

static int eof(sqlite3_vtab_cursor *cur) { return ((cursor_t *)cur)->eof; }

static int column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  cursor_t *c = (cursor_t *)cur;
  const hk_oprow_t *r = &c->rows[c->i];
  sqlite3_int64 v;
  switch (col) {
  case COL_TRACE: v = c->trace; break;
  case COL_SEQ: v = c->k0 + c->i; break;
  case COL_KIND: v = r->kind; break;
  case COL_SIZE: v = (sqlite3_int64)r->size; break;
  case COL_SITE: v = r->site; break;
  case COL_THREAD: v = r->thread; break;
  case COL_SLOT: v = r->slot; break;
  case COL_ALIGN: v = r->align_log2 ? (sqlite3_int64)1 << r->align_log2 : 0; break;
  case COL_FLAGS: v = r->flags; break;
  default: v = (sqlite3_int64)r->time_ns;
  }
  sqlite3_result_int64(ctx, v);
  return SQLITE_OK;
}

static int rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out) {
  cursor_t *c = (cursor_t *)cur;
  *out = c->k0 + c->i;
  return SQLITE_OK;
}

static const sqlite3_module module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE */
    .xConnect = connect,
    .xBestIndex = best_index,
    .xDisconnect = disconnect,
    .xDestroy = disconnect,
    .xOpen = open_cursor,
    .xClose = close_cursor,
    .xFilter = filter,
    .xNext = next,
    .xEof = eof,
    .xColumn = column,
    .xRowid = rowid,
};

/* ---- hksim_pack_ops(seq, kind, size, site, thread, slot, align, flags,
 * time_ns): the aggregate that codes rows into one chunk blob, for
 * databases built by hand (tests, a program that writes its own ops) and
 * for rows of the old one-row-per-op layout. Rows may come in any order;
 * their seqs must be contiguous and at most HK_OPCHUNK_OPS. */

typedef struct pack {
  hk_oprow_t *rows;
  int64_t *seq;
  uint32_t n, cap;
  int bad; /* 1 too many rows, 2 a value out of range */
} pack_t;

static void pack_step(sqlite3_context *ctx, int argc, sqlite3_value **v) {
  (void)argc;
  pack_t *p = sqlite3_aggregate_context(ctx, sizeof *p);
  if (!p || p->bad) return;
  if (p->n == HK_OPCHUNK_OPS) {
    p->bad = 1;
    return;
  }
  if (p->n == p->cap) {
    uint32_t nc = p->cap ? p->cap * 2 : 256;
    hk_oprow_t *r = sqlite3_realloc64(p->rows, (sqlite3_uint64)nc * sizeof *r);
    int64_t *q = r ? sqlite3_realloc64(p->seq, (sqlite3_uint64)nc * sizeof *q)
                   : NULL;
    if (r) p->rows = r;
    if (!q) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    p->seq = q;
    p->cap = nc;
  }
  int64_t a[9];
  for (int i = 0; i < 9; i++) a[i] = sqlite3_value_int64(v[i]);
  int64_t align = a[6], log2 = 0;
  while (log2 < 63 && ((int64_t)1 << log2) < align) log2++;
  if (a[0] < 0 || a[1] < 0 || a[1] > 255 || a[3] < 0 || a[3] > UINT32_MAX ||
      a[4] < 0 || a[4] > 65535 || a[5] < -1 || a[5] > UINT32_MAX ||
      a[7] < 0 || a[7] > 255 || a[8] < 0 ||
      (align && ((int64_t)1 << log2) != align)) {
    p->bad = 2;
    return;
  }
  p->seq[p->n] = a[0];
  p->rows[p->n++] = (hk_oprow_t){(uint64_t)a[2], (uint64_t)a[8],
                                 (uint32_t)a[5], (uint32_t)a[3],
                                 (uint16_t)a[4], (uint8_t)a[1],
                                 (uint8_t)log2, (uint8_t)a[7]};
}

static void pack_final(sqlite3_context *ctx) {
  pack_t *p = sqlite3_aggregate_context(ctx, 0);
  hk_oprow_t *sorted = NULL;
  hk_opcodec_t *codec = NULL;
  if (!p || (p->n == 0 && !p->bad)) { /* no rows */
    sqlite3_result_null(ctx);
    goto out;
  }
  if (p->bad) {
    sqlite3_result_error(ctx, p->bad == 1
                                  ? "hksim_pack_ops: more than 65536 rows"
                                  : "hksim_pack_ops: a value out of range",
                         -1);
    goto out;
  }
  int64_t k0 = p->seq[0];
  for (uint32_t i = 1; i < p->n; i++)
    if (p->seq[i] < k0) k0 = p->seq[i];
  sorted = sqlite3_malloc64((sqlite3_uint64)p->n * sizeof *sorted);
  uint8_t *seen = sorted ? sqlite3_malloc64(p->n) : NULL;
  if (!seen) {
    sqlite3_result_error_nomem(ctx);
    goto out;
  }
  memset(seen, 0, p->n);
  for (uint32_t i = 0; i < p->n; i++) {
    int64_t k = p->seq[i] - k0;
    if (k >= (int64_t)p->n || seen[k]) {
      sqlite3_free(seen);
      sqlite3_result_error(ctx, "hksim_pack_ops: seqs are not contiguous", -1);
      goto out;
    }
    seen[k] = 1;
    sorted[k] = p->rows[i];
  }
  sqlite3_free(seen);
  const void *blob;
  size_t len;
  codec = hk_opcodec_create();
  if (!codec || hk_opchunk_encode(codec, sorted, p->n, &blob, &len))
    sqlite3_result_error(ctx, "hksim_pack_ops: cannot code the chunk", -1);
  else
    sqlite3_result_blob(ctx, blob, (int)len, SQLITE_TRANSIENT);
out:
  hk_opcodec_free(codec);
  sqlite3_free(sorted);
  if (p) {
    sqlite3_free(p->rows);
    sqlite3_free(p->seq);
  }
}

static int register_all(sqlite3 *db) {
  int rc = sqlite3_create_module(db, "hksim_trace_op", &module, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "hksim_pack_ops", 9,
                                 SQLITE_UTF8 | SQLITE_INNOCUOUS, NULL, NULL,
                                 pack_step, pack_final);
  /* size_class_latency's aggregate (ana_latstats.c) */
  if (rc == SQLITE_OK) rc = ana_latstats_register(db);
  return rc;
}

#ifndef HKSIM_SQLITE_EXTENSION
/* ---- hksim expand: trace_op as a plain table ------------------------- */

static int expand_fail(sqlite3 *db, char *why, size_t len) {
  snprintf(why, len, "%s", sqlite3_errmsg(db));
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return HK_E_SQLITE;
}

int ana_expand(ana_db_t *adb, uint64_t *rows, char *why, size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  *rows = 0;
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return expand_fail(db, why, len);
  sqlite3_stmt *st = NULL;
  int table = 0;
  if (sqlite3_prepare_v2(db, "SELECT type = 'table' FROM sqlite_master WHERE "
                             "name = 'trace_op'", -1, &st, NULL) != SQLITE_OK)
    return expand_fail(db, why, len);
  if (sqlite3_step(st) == SQLITE_ROW) table = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  /* The view goes, a table of its columns comes (views over trace_op read
   * it by name, so they read the table from now on). */
  if (!table &&
      sqlite3_exec(db,
                   "DROP VIEW IF EXISTS trace_op;"
                   "CREATE TABLE trace_op (trace_id INTEGER NOT NULL, seq "
                   "INTEGER NOT NULL, kind INTEGER NOT NULL, size INTEGER NOT "
                   "NULL, site INTEGER NOT NULL, thread INTEGER NOT NULL, slot "
                   "INTEGER NOT NULL, align INTEGER NOT NULL, flags INTEGER "
                   "NOT NULL, time_ns INTEGER NOT NULL, PRIMARY KEY "
                   "(trace_id, seq)) WITHOUT ROWID",
                   NULL, NULL, NULL) != SQLITE_OK)
    return expand_fail(db, why, len);
  /* Traces whose rows are not there yet (all of them for a new table). */
  if (sqlite3_exec(db,
                   "INSERT INTO trace_op SELECT o.trace_id, o.seq, o.kind, "
                   "o.size, o.site, o.thread, o.slot, o.align, o.flags, "
                   "o.time_ns FROM (SELECT trace_id FROM traces) t CROSS "
                   "JOIN hksim_trace_op o WHERE "
                   "o.trace_id = t.trace_id AND NOT EXISTS (SELECT 1 FROM "
                   "trace_op x WHERE x.trace_id = t.trace_id)",
                   NULL, NULL, NULL) != SQLITE_OK)
    return expand_fail(db, why, len);
  *rows = (uint64_t)sqlite3_changes(db);
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    return expand_fail(db, why, len);
  return 0;
}
#endif

int ana_sqlite_register(sqlite3 *db) {
  return register_all(db) == SQLITE_OK ? 0 : HK_E_SQLITE;
}

#ifdef HKSIM_SQLITE_EXTENSION
/* sqlite3 shell: .load path/to/hksim_sqlite; Python: load_extension(). */
#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_hksimsqlite_init(sqlite3 *db, char **err,
                             const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  (void)err;
  return register_all(db);
}
#else
static int auto_init(sqlite3 *db, char **err, const void *api) {
  (void)err, (void)api;
  return register_all(db);
}

int ana_sqlite_auto(void) {
  return sqlite3_auto_extension((void (*)(void))auto_init) == SQLITE_OK
             ? 0
             : HK_E_SQLITE;
}
#endif
