/* ana_db.c: opening a results database for analysis. Checks that the file
 * is an SQLite database written by hksim (its traces and runs tables) of a
 * schema version this program reads, then applies the paper views
 * (views.sql, published.sql), which are idempotent. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ana_internal.h"
#include "hk_sqlviews.h"
#include "analysis.h"

struct ana_db_s {
  sqlite3 *db;
  int version;
};

int ana_schema_version(void) { return ana_sql_user_version; }

static int int_query(sqlite3 *s, const char *sql, int *out) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(st, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  return rc;
}

int ana_db_exec(ana_db_t *db, const char *sql, char *why, size_t len) {
  char *msg = NULL;
  if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
  snprintf(why, len, "%s", msg ? msg : sqlite3_errmsg(db->db));
  sqlite3_free(msg);
  return HK_E_SQLITE;
}

/* Applies a view script, as TEMP objects when the file is read-only: they
 * then also shadow the views an older build may have stored in it. */
static int apply(ana_db_t *db, const char *sql, char *why, size_t len) {
  if (sqlite3_db_readonly(db->db, "main") != 1) {
    int rc = ana_db_exec(db, sql, why, len);
    if (rc == 0 || sqlite3_errcode(db->db) != SQLITE_READONLY) return rc;
  }
  char *t = hk_sql_temp_copy(sql);
  if (!t) return -ENOMEM;
  int rc = ana_db_exec(db, t, why, len);
  free(t);
  return rc;
}

/* The views of schema.sql (run_summary, trace_op, ...), which the checks
 * above dropped if an older build stored them otherwise: recreated in
 * place, or as TEMP views over a read-only file (never the schema's
 * tables as TEMP: empty, they would hide the stored ones). */
static int apply_schema_views(ana_db_t *db, char *why, size_t len) {
  if (sqlite3_db_readonly(db->db, "main") != 1) {
    int rc = ana_db_exec(db, ana_schema_sql, why, len);
    if (rc == 0 || sqlite3_errcode(db->db) != SQLITE_READONLY) return rc;
  }
  const char *const scripts[] = {ana_schema_sql};
  char *t = hk_sql_temp_views(scripts, 1);
  if (!t) return -ENOMEM;
  int rc = ana_db_exec(db, t, why, len);
  free(t);
  return rc;
}

int ana_db_open(const char *path, unsigned flags, ana_db_t **out, char *why,
                size_t len) {
  *out = NULL;
  struct stat sb;
  int create = (flags & ANA_DB_CREATE) != 0;
  if (!create && stat(path, &sb) != 0) {
    int e = errno;
    snprintf(why, len, "%s", strerror(e));
    return -e;
  }
  if (!create && S_ISDIR(sb.st_mode)) {
    snprintf(why, len, "is a directory, not a results database");
    return -EISDIR;
  }
  ana_db_t *db = calloc(1, sizeof *db);
  if (!db) return -ENOMEM;
  int oflags = (flags & ANA_DB_READONLY) ? SQLITE_OPEN_READONLY
                                         : SQLITE_OPEN_READWRITE;
  if (create) oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path, &db->db, oflags, NULL);
  if (rc != SQLITE_OK) {
    snprintf(why, len, "cannot open: %s",
             db->db ? sqlite3_errmsg(db->db) : "out of memory");
    ana_db_free(db);
    return HK_E_SQLITE;
  }
  /* As the replayer's: replay sessions may hold the write lock a while. */
  sqlite3_busy_timeout(db->db, 10 * 60 * 1000);
  sqlite3_extended_result_codes(db->db, 0);
  /* The view trace_op reads the op chunks through it. */
  if (ana_sqlite_register(db->db)) {
    snprintf(why, len, "%s", sqlite3_errmsg(db->db));
    ana_db_free(db);
    return HK_E_SQLITE;
  }
  int tables = 0;
  rc = int_query(db->db, "PRAGMA user_version", &db->version);
  if (rc == SQLITE_OK)
    rc = int_query(db->db,
                   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                   "AND name IN ('traces', 'runs')",
                   &tables);
  if (rc == SQLITE_NOTADB) {
    snprintf(why, len, "not a hakmem-sim results database (not SQLite)");
    ana_db_free(db);
    return HK_E_BADMAGIC;
  }
  if (rc != SQLITE_OK) {
    snprintf(why, len, "%s", sqlite3_errmsg(db->db));
    ana_db_free(db);
    return HK_E_SQLITE;
  }
  if (db->version > ana_schema_version()) {
    snprintf(why, len,
             "database schema version %d is newer than this program's %d",
             db->version, ana_schema_version());
    ana_db_free(db);
    return HK_E_SCHEMA;
  }
  if (db->version != 0 && db->version < ana_schema_version()) {
    snprintf(why, len,
             "database schema version %d is older than this program's %d "
             "(its tables differ): replay into a new "
             "database", db->version, ana_schema_version());
    ana_db_free(db);
    return HK_E_SCHEMA;
  }
  if (create && tables == 0) {
    if ((rc = ana_db_exec(db, ana_schema_sql, why, len))) {
      ana_db_free(db);
      return rc;
    }
    db->version = ana_schema_version();
    tables = 2;
  }
  if (tables != 2) {
    snprintf(why, len,
             "not a hakmem-sim results database (no traces and runs tables)");
    ana_db_free(db);
    return HK_E_BADMAGIC;
  }
  /* Tables named traces and runs alone do not make a database ours: every
   * database hksim writes has its schema version in user_version. Anything
   * else is refused before a single view is added to it. */
  if (db->version == 0) {
    snprintf(why, len,
             "not a hakmem-sim results database (tables traces and runs, but "
             "no hakmem-sim schema version): left as it is");
    ana_db_free(db);
    return HK_E_BADMAGIC;
  }
  if (!(flags & ANA_DB_READONLY)) {
    /* All views or none: a script failing half-way leaves nothing. The
     * write lock is taken first (BEGIN IMMEDIATE waits for other sessions;
     * a read transaction upgraded later would fail at once with "database
     * is locked" while a replay writes). A read-only file gets TEMP views,
     * outside any transaction. */
    char tmp[256];
    int txn = ana_db_exec(db, "BEGIN IMMEDIATE", tmp, sizeof tmp) == 0;
    const char *const scripts[] = {ana_schema_sql, ana_views_sql,
                                   ana_published_sql};
    /* A database written by an older build keeps its views otherwise. */
    rc = sqlite3_db_readonly(db->db, "main") == 1
             ? 0
             : hk_sql_drop_stale_views(db->db, scripts, 3, why, len);
    if (rc == 0) rc = apply_schema_views(db, why, len);
    if (rc == 0 && (rc = apply(db, ana_views_sql, why, len)) == 0)
      rc = apply(db, ana_published_sql, why, len);
    if (txn && rc) ana_db_exec(db, "ROLLBACK", tmp, sizeof tmp);
    if (txn && !rc) rc = ana_db_exec(db, "COMMIT", why, len);
    if (rc) {
      ana_db_free(db);
      return rc;
    }
  }
  *out = db;
  return 0;
}

void ana_db_free(ana_db_t *db) {
  if (!db) return;
  sqlite3_close(db->db);
  free(db);
}

sqlite3 *ana_db_sqlite(const ana_db_t *db) { return db->db; }

int ana_db_version(const ana_db_t *db) { return db->version; }

void ana_bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

int ana_exec_trace(sqlite3 *db, const char *sql, int64_t trace) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  sqlite3_bind_int64(st, 1, trace);
  int s = sqlite3_step(st);
  int rc = s == SQLITE_DONE ? 0 : s == SQLITE_ROW ? 1 : HK_E_SQLITE;
  sqlite3_finalize(st);
  return rc;
}

int ana_ids_of(sqlite3_stmt *q, int64_t **ids, size_t *n) {
  int s;
  *ids = NULL;
  *n = 0;
  while ((s = sqlite3_step(q)) == SQLITE_ROW) {
    int64_t *ni = realloc(*ids, (*n + 1) * sizeof **ids);
    if (!ni) return -ENOMEM;
    *ids = ni;
    (*ids)[(*n)++] = sqlite3_column_int64(q, 0);
  }
  return s == SQLITE_DONE ? 0 : HK_E_SQLITE;
}
