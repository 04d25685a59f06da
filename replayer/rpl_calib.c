/* rpl_calib.c: named calibrations of hakmem's cost model in the results
 * database (the calibrations table of analysis/schema.sql): written by
 * `hksim calibrate`, read by `hksim replay --calibration NAME`, which
 * applies the stored cost.* settings to every hakmem run it makes. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rpl_internal.h"

int rpl_calib_store(const char *path, const char *name, unsigned repeats,
                    const char *settings, const char *spread, char *why,
                    size_t len) {
  rpl_db_t *db;
  int rc = rpl_db_open(&db, path, why, len);
  if (rc) return rc;
  char host[64] = "";
  gethostname(host, sizeof host - 1);
  sqlite3_stmt *st = NULL;
  rc = HK_E_SQLITE;
  if (sqlite3_prepare_v2(rpl_db_sqlite(db),
                         "INSERT OR REPLACE INTO calibrations(name, created_at, "
                         "host, repeats, settings, spread) VALUES (?, "
                         "strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?, ?, ?, ?)",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)repeats);
    sqlite3_bind_text(st, 4, settings, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, spread, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) rc = 0;
  }
  if (rc) snprintf(why, len, "%s", rpl_db_errmsg(db));
  sqlite3_finalize(st);
  rpl_db_free(db);
  return rc;
}

int rpl_calib_load(const char *path, const char *name, char *buf, size_t n,
                   char *why, size_t len) {
  if (access(path, F_OK) != 0) {
    snprintf(why, len, "no such database (calibration '%s' not found)", name);
    return -ENOENT;
  }
  rpl_db_t *db;
  int rc = rpl_db_open(&db, path, why, len);
  if (rc) return rc;
  sqlite3_stmt *st = NULL;
  rc = HK_E_SQLITE;
  if (sqlite3_prepare_v2(rpl_db_sqlite(db),
                         "SELECT settings FROM calibrations WHERE name = ?", -1,
                         &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(st, 0);
      if (t && strlen(t) < n) {
        strcpy(buf, t);
        rc = 0;
      } else {
        snprintf(why, len, "calibration '%s' has no usable settings", name);
        rc = HK_E_CORRUPT;
      }
    } else if (s == SQLITE_DONE) {
      snprintf(why, len, "no calibration named '%s' (run hksim calibrate)",
               name);
      rc = HK_E_NOTFOUND;
    } else {
      snprintf(why, len, "%s", rpl_db_errmsg(db));
    }
  } else {
    snprintf(why, len, "%s", rpl_db_errmsg(db));
  }
  sqlite3_finalize(st);
  rpl_db_free(db);
  return rc;
}
