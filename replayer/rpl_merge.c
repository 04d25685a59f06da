/* rpl_merge.c: joins results databases (the shards of a sweep, or any
 * databases of this schema version) into one: traces deduplicated by
 * content hash, per-trace tables (sites, symbols, ...) once per trace, runs
 * renumbered and identified by run_uuid so that merging the same input
 * twice adds nothing. Tables are copied by what their columns say (run_id,
 * trace_id, neither), so tables added to the schema later merge too. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "hk_progress.h"
#include "rpl_internal.h"

#define WHY(...) snprintf(why, len, __VA_ARGS__)

/* An input's version and whether it holds results at all, read-only, so
 * that a refused input (or every input, when one is refused) is left as it
 * was and nothing is written to OUT. */
static int check_input(const char *path, char *why, size_t len) {
  sqlite3 *s = NULL;
  int rc = 0;
  if (sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    WHY("cannot open: %s", s ? sqlite3_errmsg(s) : "no memory");
    rc = HK_E_SQLITE;
    goto out;
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s,
                         "SELECT (SELECT user_version FROM pragma_user_version),"
                         " (SELECT COUNT(*) FROM sqlite_master WHERE type = "
                         "'table' AND name IN ('traces', 'runs'))",
                         -1, &st, NULL) != SQLITE_OK) {
    WHY("not a results database: %s", sqlite3_errmsg(s));
    rc = HK_E_SQLITE;
    goto out;
  }
  int v = -1, tables = 0;
  if (sqlite3_step(st) == SQLITE_ROW) {
    v = sqlite3_column_int(st, 0);
    tables = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  if (v < 0) {
    WHY("not a results database: %s", sqlite3_errmsg(s));
    rc = HK_E_SQLITE;
  } else if (tables != 2) {
    WHY("not a results database (no traces and runs tables)");
    rc = HK_E_SQLITE;
  } else if (v != rpl_sql_user_version) {
    WHY("schema version %d, but this program writes version %d: merge only "
        "databases of one version", v, rpl_sql_user_version);
    rc = HK_E_SCHEMA;
  }
out:
  sqlite3_close(s);
  return rc;
}

static int exec(sqlite3 *s, const char *sql) {
  return sqlite3_exec(s, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : HK_E_SQLITE;
}

/* A growing string for generated SQL. */
typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *fmt, ...) HK_PRINTF(2, 3);
static void sb_add(sbuf_t *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if (b->p && b->n + (size_t)n < b->cap) {
      b->n += (size_t)n;
      return;
    }
    size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
    char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
}

/* Columns of table in schema db ("main" or "src"), comma-joined with
 * quotes, and what they say about the table. */
typedef struct table_shape {
  char cols[64][64];
  int n;
  int has_run, has_trace;
  int rowid_pk;   /* index of an INTEGER PRIMARY KEY that is not run_id or
                     trace_id (renumbered on copy), -1 none */
  int has_pk;
} table_shape_t;

static int shape_of(sqlite3 *s, const char *schema, const char *table,
                    table_shape_t *sh) {
  memset(sh, 0, sizeof *sh);
  sh->rowid_pk = -1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s,
                         "SELECT name, upper(type), pk FROM pragma_table_info(?, ?)"
                         " ORDER BY cid",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
  int n_pk = 0, int_pk = -1;
  while (sqlite3_step(st) == SQLITE_ROW && sh->n < 64) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    const char *type = (const char *)sqlite3_column_text(st, 1);
    int pk = sqlite3_column_int(st, 2);
    snprintf(sh->cols[sh->n], sizeof sh->cols[0], "%s", name ? name : "");
    if (strcmp(sh->cols[sh->n], "run_id") == 0) sh->has_run = 1;
    if (strcmp(sh->cols[sh->n], "trace_id") == 0) sh->has_trace = 1;
    if (pk) {
      n_pk++;
      if (type && strcmp(type, "INTEGER") == 0) int_pk = sh->n;
    }
    sh->n++;
  }
  sqlite3_finalize(st);
  sh->has_pk = n_pk > 0;
  if (n_pk == 1 && int_pk >= 0 && strcmp(sh->cols[int_pk], "run_id") &&
      strcmp(sh->cols[int_pk], "trace_id"))
    sh->rowid_pk = int_pk;
  return 0;
}

static int in_shape(const table_shape_t *sh, const char *col) {
  for (int i = 0; i < sh->n; i++)
    if (strcmp(sh->cols[i], col) == 0) return 1;
  return 0;
}

/* Tables keyed by trace that hold measurements of it (live runs of the
 * recorded program), not data derived from its content: every input
 * brings its own, so they are added for a trace already there too. */
static int observed(const char *table) {
  return strcmp(table, "live_runs") == 0;
}

/* Copies one table's rows of src that belong to what this merge added. */
static int copy_table(sqlite3 *s, const char *table, uint64_t *rows) {
  table_shape_t in, out;
  if (shape_of(s, "src", table, &in) || shape_of(s, "main", table, &out))
    return HK_E_SQLITE;
  sbuf_t cols = {0}, sel = {0}, q = {0};
  int k = 0;
  for (int i = 0; i < in.n; i++) {
    const char *c = in.cols[i];
    if (i == in.rowid_pk || !in_shape(&out, c)) continue;
    sb_add(&cols, "%s\"%s\"", k ? ", " : "", c);
    if (strcmp(c, "run_id") == 0)
      sb_add(&sel, "%smr.dst", k ? ", " : "");
    else if (strcmp(c, "trace_id") == 0)
      sb_add(&sel, "%smt.dst", k ? ", " : "");
    else
      sb_add(&sel, "%ss.\"%s\"", k ? ", " : "", c);
    k++;
  }
  if (k == 0) return 0;
  sb_add(&q, "INSERT OR IGNORE INTO main.\"%s\"(%s) SELECT %s FROM src.\"%s\" s",
         table, cols.p, sel.p, table);
  if (in.has_run)
    sb_add(&q, " JOIN temp.merge_run mr ON mr.src = s.run_id");
  if (in.has_trace) {
    sb_add(&q, " JOIN temp.merge_trace mt ON mt.src = s.trace_id");
    /* Rows keyed only by trace: a trace already there keeps its own,
     * except that keyed tables (sites, symbols, ...) take the rows it
     * lacks, which INSERT OR IGNORE makes idempotent. The program of a
     * trace is fixed by its content hash: never copied twice. */
    int union_ok = in.has_pk && in.rowid_pk < 0 && strncmp(table, "trace_op", 8);
    if (!in.has_run && !union_ok && !observed(table))
      sb_add(&q, " WHERE mt.fresh = 1");
  }
  /* Lookups, and observations of a trace: rows not there yet. */
  if (!in.has_run && (!in.has_trace || observed(table)))
    sb_add(&q, " EXCEPT SELECT %s FROM main.\"%s\"", cols.p, table);
  int rc = cols.oom || sel.oom || q.oom ? HK_E_NOMEM : exec(s, q.p);
  if (!rc) *rows += (uint64_t)sqlite3_changes(s);
  free(cols.p);
  free(sel.p);
  free(q.p);
  return rc;
}

/* Traces of src: found by content hash, or added. */
static int merge_traces(sqlite3 *s, rpl_merge_stats_t *ms) {
  table_shape_t sh;
  if (shape_of(s, "src", "traces", &sh)) return HK_E_SQLITE;
  sbuf_t cols = {0}, q = {0};
  int k = 0;
  for (int i = 0; i < sh.n; i++)
    if (strcmp(sh.cols[i], "trace_id"))
      sb_add(&cols, "%s\"%s\"", k++ ? ", " : "", sh.cols[i]);
  /* A new id past those a store in progress reserved (trace_store). */
  sb_add(&q, "INSERT INTO main.traces(trace_id, %s) SELECT 1 + MAX(COALESCE("
             "(SELECT MAX(trace_id) FROM main.traces), 0), COALESCE((SELECT "
             "MAX(trace_id) FROM main.trace_store), 0)), %s FROM src.traces "
             "WHERE trace_id = ?", cols.p, cols.p);
  sqlite3_stmt *list = NULL, *find = NULL, *ins = NULL, *map = NULL;
  int rc = cols.oom || q.oom ? HK_E_NOMEM : 0;
  if (!rc &&
      (sqlite3_prepare_v2(s, "SELECT trace_id, content_hash FROM src.traces "
                             "ORDER BY trace_id", -1, &list, NULL) ||
       sqlite3_prepare_v2(s, "SELECT trace_id FROM main.traces WHERE "
                             "content_hash = ?", -1, &find, NULL) ||
       sqlite3_prepare_v2(s, q.p, -1, &ins, NULL) ||
       sqlite3_prepare_v2(s, "INSERT INTO temp.merge_trace(src, dst, fresh) "
                             "VALUES (?,?,?)", -1, &map, NULL)))
    rc = HK_E_SQLITE;
  while (!rc && sqlite3_step(list) == SQLITE_ROW) {
    int64_t src = sqlite3_column_int64(list, 0), dst = 0;
    int fresh = 0;
    sqlite3_bind_value(find, 1, sqlite3_column_value(list, 1));
    if (sqlite3_step(find) == SQLITE_ROW) {
      dst = sqlite3_column_int64(find, 0);
    } else {
      sqlite3_bind_int64(ins, 1, src);
      if (sqlite3_step(ins) != SQLITE_DONE) rc = HK_E_SQLITE;
      sqlite3_reset(ins);
      dst = sqlite3_last_insert_rowid(s);
      fresh = 1;
      ms->traces_added++;
    }
    sqlite3_reset(find);
    sqlite3_bind_int64(map, 1, src);
    sqlite3_bind_int64(map, 2, dst);
    sqlite3_bind_int(map, 3, fresh);
    if (!rc && sqlite3_step(map) != SQLITE_DONE) rc = HK_E_SQLITE;
    sqlite3_reset(map);
  }
  sqlite3_finalize(list);
  sqlite3_finalize(find);
  sqlite3_finalize(ins);
  sqlite3_finalize(map);
  free(cols.p);
  free(q.p);
  return rc;
}

/* Runs of src that OUT lacks, by identity: run_uuid, or for a run written
 * without one (a hand-built database), its settings, host and start. */
#define RUN_IDENTITY                                                           \
  "COALESCE(r.run_uuid, printf('%s|%s|%s|%d|%d|%s|%s|%s', t.content_hash, "  \
  "r.backend, COALESCE(r.policy, ''), r.seed, r.repeat, "                     \
  "COALESCE(r.options, ''), COALESCE(r.host, ''), r.started_at))"

static int merge_runs(sqlite3 *s, rpl_merge_stats_t *ms) {
  table_shape_t in, out;
  if (shape_of(s, "src", "runs", &in) || shape_of(s, "main", "runs", &out))
    return HK_E_SQLITE;
  sbuf_t cols = {0}, sel = {0}, q = {0};
  int k = 0;
  for (int i = 0; i < in.n; i++) {
    const char *c = in.cols[i];
    if (!strcmp(c, "run_id") || !strcmp(c, "run_uuid") || !in_shape(&out, c))
      continue;
    sb_add(&cols, "%s\"%s\"", k ? ", " : "", c);
    if (!strcmp(c, "trace_id"))
      sb_add(&sel, "%s(SELECT dst FROM temp.merge_trace WHERE src = r.trace_id)",
             k ? ", " : "");
    else
      sb_add(&sel, "%sr.\"%s\"", k ? ", " : "", c);
    k++;
  }
  sb_add(&q, "INSERT INTO main.runs(%s, run_uuid) SELECT %s, ?2 FROM src.runs r "
             "WHERE r.run_id = ?1", cols.p, sel.p);
  sqlite3_stmt *list = NULL, *find = NULL, *ins = NULL, *map = NULL;
  int rc = cols.oom || sel.oom || q.oom ? HK_E_NOMEM : 0;
  if (!rc &&
      (sqlite3_prepare_v2(s, "SELECT r.run_id, " RUN_IDENTITY " FROM src.runs r"
                             " JOIN src.traces t USING (trace_id) ORDER BY "
                             "r.run_id", -1, &list, NULL) ||
       sqlite3_prepare_v2(s, "SELECT 1 FROM main.runs WHERE run_uuid = ?", -1,
                          &find, NULL) ||
       sqlite3_prepare_v2(s, q.p, -1, &ins, NULL) ||
       sqlite3_prepare_v2(s, "INSERT INTO temp.merge_run(src, dst) VALUES (?,?)",
                          -1, &map, NULL)))
    rc = HK_E_SQLITE;
  while (!rc && sqlite3_step(list) == SQLITE_ROW) {
    int64_t src = sqlite3_column_int64(list, 0);
    sqlite3_bind_value(find, 1, sqlite3_column_value(list, 1));
    int there = sqlite3_step(find) == SQLITE_ROW;
    sqlite3_reset(find);
    if (there) {
      ms->runs_skipped++;
      continue;
    }
    sqlite3_bind_int64(ins, 1, src);
    sqlite3_bind_value(ins, 2, sqlite3_column_value(list, 1));
    if (sqlite3_step(ins) != SQLITE_DONE) rc = HK_E_SQLITE;
    sqlite3_reset(ins);
    if (rc) break;
    sqlite3_bind_int64(map, 1, src);
    sqlite3_bind_int64(map, 2, sqlite3_last_insert_rowid(s));
    if (sqlite3_step(map) != SQLITE_DONE) rc = HK_E_SQLITE;
    sqlite3_reset(map);
    ms->runs_added++;
  }
  sqlite3_finalize(list);
  sqlite3_finalize(find);
  sqlite3_finalize(ins);
  sqlite3_finalize(map);
  free(cols.p);
  free(sel.p);
  free(q.p);
  return rc;
}

/* The programs of the traces this merge added, where the input holds them
 * as rows (a database written before trace_op_chunk): coded into chunks
 * (hksim_pack_ops, analysis/ana_opvtab.c). Then, where OUT's trace_op is a
 * table (hksim expand), the rows of the traces it lacks. Both need the
 * module hksim registers on its connections. */
static int merge_ops(sqlite3 *s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s, "SELECT (SELECT type FROM src.sqlite_master WHERE"
                            " name = 'trace_op'), (SELECT type FROM "
                            "main.sqlite_master WHERE name = 'trace_op')",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  int in_rows = 0, out_rows = 0, out_time = 0;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *a = sqlite3_column_text(st, 0);
    const unsigned char *b = sqlite3_column_text(st, 1);
    in_rows = a && !strcmp((const char *)a, "table");
    out_rows = b && !strcmp((const char *)b, "table");
  }
  sqlite3_finalize(st);
  /* A row table of the old layout has no time_ns column. */
  table_shape_t sh;
  if (out_rows) {
    if (shape_of(s, "main", "trace_op", &sh)) return HK_E_SQLITE;
    out_time = in_shape(&sh, "time_ns");
  }
  if (in_rows &&
      exec(s, "INSERT INTO main.trace_op_chunk(trace_id, k0, n, ops) SELECT "
              "mt.dst, o.seq / 65536 * 65536, COUNT(*), hksim_pack_ops(o.seq, "
              "o.kind, o.size, o.site, o.thread, o.slot, o.align, o.flags, "
              "0) FROM src.trace_op o JOIN temp.merge_trace mt ON mt.src = "
              "o.trace_id WHERE mt.fresh = 1 AND NOT EXISTS (SELECT 1 FROM "
              "main.trace_op_chunk c WHERE c.trace_id = mt.dst) GROUP BY "
              "mt.dst, o.seq / 65536"))
    return HK_E_SQLITE;
  if (out_rows &&
      exec(s, out_time
                  ? "INSERT INTO main.trace_op(trace_id, seq, kind, size, "
                    "site, thread, slot, align, flags, time_ns) SELECT "
                    "o.trace_id, o.seq, o.kind, o.size, o.site, o.thread, "
                    "o.slot, o.align, o.flags, o.time_ns FROM "
                    "temp.merge_trace mt CROSS JOIN hksim_trace_op o WHERE "
                    "mt.fresh = 1 AND o.trace_id = mt.dst"
                  : "INSERT INTO main.trace_op(trace_id, seq, kind, size, "
                    "site, thread, slot, align, flags) SELECT o.trace_id, "
                    "o.seq, o.kind, o.size, o.site, o.thread, o.slot, "
                    "o.align, o.flags FROM temp.merge_trace mt CROSS JOIN "
                    "hksim_trace_op o WHERE mt.fresh = 1 AND o.trace_id = "
                    "mt.dst"))
    return HK_E_SQLITE;
  return 0;
}

static int merge_one(sqlite3 *s, const char *path, rpl_merge_stats_t *ms,
                     char *why, size_t len) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s, "ATTACH ? AS src", -1, &st, NULL) != SQLITE_OK)
    goto fail;
  sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_DONE) goto fail;
  if (exec(s, "BEGIN IMMEDIATE")) goto fail_detach;
  if (exec(s, "CREATE TEMP TABLE merge_trace(src INTEGER PRIMARY KEY, "
              "dst INTEGER NOT NULL, fresh INTEGER NOT NULL);"
              "CREATE TEMP TABLE merge_run(src INTEGER PRIMARY KEY, "
              "dst INTEGER NOT NULL)"))
    goto fail_rollback;
  if ((rc = merge_traces(s, ms)) || (rc = merge_runs(s, ms))) goto fail_rollback;
  /* Every other table of the input, as its columns say; trace_op, where
   * it is a table (hksim expand, or the row-per-op layout), is derived
   * from the chunks and made after them. */
  if (sqlite3_prepare_v2(s, "SELECT name FROM src.sqlite_master WHERE type = "
                            "'table' AND name NOT LIKE 'sqlite_%' AND name NOT "
                            "IN ('traces', 'runs', 'trace_op') ORDER BY name",
                         -1, &st, NULL) != SQLITE_OK)
    goto fail_rollback;
  while (sqlite3_step(st) == SQLITE_ROW) {
    char name[128];
    snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 0));
    table_shape_t out;
    if (shape_of(s, "main", name, &out)) goto fail_rollback;
    if (out.n == 0) { /* a table this program's schema does not have */
      ms->tables_skipped++;
      continue;
    }
    if (copy_table(s, name, &ms->rows_copied)) goto fail_rollback;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (merge_ops(s)) goto fail_rollback;
  if (exec(s, "DROP TABLE temp.merge_trace; DROP TABLE temp.merge_run") ||
      exec(s, "COMMIT"))
    goto fail_rollback;
  exec(s, "DETACH src");
  return 0;
fail_rollback:
  WHY("merging: %s", sqlite3_errmsg(s));
  sqlite3_finalize(st);
  exec(s, "ROLLBACK");
  exec(s, "DETACH src");
  return HK_E_SQLITE;
fail_detach:
  WHY("merging: %s", sqlite3_errmsg(s));
  exec(s, "DETACH src");
  return HK_E_SQLITE;
fail:
  WHY("cannot attach: %s", sqlite3_errmsg(s));
  return HK_E_SQLITE;
}

int rpl_merge(const char *out, const char *const *in, size_t n_in,
              rpl_merge_stats_t *stats, size_t *bad, char *why, size_t len,
              int progress) {
  *bad = n_in; /* the output's own errors */
  for (size_t i = 0; i < n_in; i++) {
    int rc = check_input(in[i], why, len);
    if (rc) {
      *bad = i;
      return rc;
    }
  }
  rpl_db_t *db;
  int rc = rpl_db_open(&db, out, why, len);
  if (rc) return rc;
  sqlite3 *s = rpl_db_sqlite(db);
  /* One step a database: a shard of a long sweep takes seconds to copy. */
  hk_progress_t pg;
  hk_progress_begin(&pg, hk_progress_wanted(progress), out, "merging",
                    "databases", n_in);
  size_t i = 0;
  for (; i < n_in && !rc; i++) {
    hk_progress_update(&pg, i);
    memset(&stats[i], 0, sizeof stats[i]);
    rc = merge_one(s, in[i], &stats[i], why, len);
    if (rc)
      *bad = i;
    else
      stats[i].merged = 1;
  }
  if (!rc) hk_progress_end(&pg, i);
  rpl_db_free(db);
  return rc;
}
