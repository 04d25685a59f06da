/* hk_sqlviews.c: stale views of an older build replaced (hk_sqlviews.h). */
#include "hk_sqlviews.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk_error.h"

char *hk_sql_temp_copy(const char *script) {
  size_t n = strlen(script), extra = 0;
  for (const char *p = script; (p = strstr(p, "CREATE ")); p += 7) extra += 5;
  char *out = malloc(n + extra + 1), *o = out;
  if (!out) return NULL;
  for (const char *p = script; *p;) {
    if (strncmp(p, "CREATE TABLE IF", 15) == 0 ||
        strncmp(p, "CREATE VIEW IF", 14) == 0) {
      memcpy(o, "CREATE TEMP ", 12);
      o += 12;
      p += 7;
    } else {
      *o++ = *p++;
    }
  }
  *o = 0;
  return out;
}

static int fail(sqlite3 *db, char *why, size_t len, const char *what) {
  snprintf(why, len, "%s: %s", what, sqlite3_errmsg(db));
  return HK_E_SQLITE;
}

/* Runs sql (no rows) once per name the query gives, "%s" the name. */
static int for_each_name(sqlite3 *db, const char *query, const char *fmt,
                         char *why, size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK)
    return fail(db, why, len, "listing views");
  /* Collected first: dropping while the query steps over sqlite_master
   * would change what it reads. */
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0, s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? 2 * cap : 32;
      char **nn = realloc(names, cap * sizeof *names);
      if (!nn) { rc = HK_E_NOMEM; break; }
      names = nn;
    }
    const char *t = (const char *)sqlite3_column_text(st, 0);
    if (!(names[n] = sqlite3_mprintf(fmt, t ? t : ""))) { rc = HK_E_NOMEM; break; }
    n++;
  }
  if (!rc && s != SQLITE_DONE) rc = fail(db, why, len, "listing views");
  sqlite3_finalize(st);
  for (size_t i = 0; i < n; i++) {
    if (!rc && sqlite3_exec(db, names[i], NULL, NULL, NULL) != SQLITE_OK)
      rc = fail(db, why, len, "dropping a stale view");
    sqlite3_free(names[i]);
  }
  free(names);
  if (rc == HK_E_NOMEM) snprintf(why, len, "out of memory");
  return rc;
}

/* The CREATE VIEW IF NOT EXISTS statements of script, each made CREATE
 * TEMP VIEW IF NOT EXISTS, appended to *out (malloc'd, grown). A statement
 * ends at the first ';' that completes it (sqlite3_complete knows strings,
 * comments and triggers). Tables, indexes, inserts and pragmas are left
 * out: only views are compared. */
static int views_of(const char *script, char **out, size_t *used) {
  static const char key[] = "CREATE VIEW IF NOT EXISTS";
  for (const char *p = script; (p = strstr(p, key)); p++) {
    const char *q = p;
    char *stmt = NULL;
    for (;;) {
      q = strchr(q, ';');
      if (!q) break;
      size_t n = (size_t)(q - p) + 1;
      char *c = realloc(stmt, n + 1);
      if (!c) { free(stmt); return HK_E_NOMEM; }
      stmt = c;
      memcpy(stmt, p, n);
      stmt[n] = 0;
      if (sqlite3_complete(stmt)) break;
      q++;
    }
    if (!q) { free(stmt); break; }
    char *t = hk_sql_temp_copy(stmt);
    free(stmt);
    if (!t) return HK_E_NOMEM;
    size_t n = strlen(t);
    char *o = realloc(*out, *used + n + 2);
    if (!o) { free(t); return HK_E_NOMEM; }
    *out = o;
    memcpy(o + *used, t, n);
    *used += n;
    o[(*used)++] = '\n';
    o[*used] = 0;
    free(t);
    p = q;
  }
  return 0;
}

char *hk_sql_temp_views(const char *const *scripts, size_t n) {
  char *temp = NULL;
  size_t used = 0;
  for (size_t i = 0; i < n; i++)
    if (views_of(scripts[i], &temp, &used)) {
      free(temp);
      return NULL;
    }
  return temp ? temp : calloc(1, 1);
}

int hk_sql_drop_stale_views(sqlite3 *db, const char *const *scripts, size_t n,
                            char *why, size_t len) {
  char *temp = hk_sql_temp_views(scripts, n);
  int rc = 0;
  if (!temp) {
    snprintf(why, len, "out of memory");
    return HK_E_NOMEM;
  }
  if (sqlite3_exec(db, temp, NULL, NULL, NULL) != SQLITE_OK)
    rc = fail(db, why, len, "reading the views");
  free(temp);
  /* SQLite stores a view's statement without TEMP and IF NOT EXISTS, so a
   * main view and its TEMP copy compare equal exactly when the script has
   * not changed it. */
  if (!rc)
    rc = for_each_name(db,
                       "SELECT t.name FROM temp.sqlite_master t JOIN "
                       "main.sqlite_master m ON m.name = t.name AND m.type = "
                       "'view' WHERE t.type = 'view' AND m.sql IS NOT t.sql",
                       "DROP VIEW main.\"%w\"", why, len);
  /* The TEMP copies go whatever happened: left, they would shadow the
   * main views for the rest of this connection. */
  char tmp[128];
  int r2 = for_each_name(db,
                         "SELECT name FROM temp.sqlite_master WHERE type = "
                         "'view'",
                         "DROP VIEW temp.\"%w\"", tmp, sizeof tmp);
  if (!rc && r2) {
    snprintf(why, len, "%s", tmp);
    rc = r2;
  }
  return rc;
}
