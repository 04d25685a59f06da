/* test_sqlviews.c: common/hk_sqlviews.c: a view an older build stored is
 * replaced by the script's definition; a view the script defines the same
 * way is not touched (the schema does not change); a user's own view
 * stays; no TEMP object is left behind; and the TEMP copy of a script. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hk_sqlviews.h"

static const char script[] =
    "CREATE TABLE IF NOT EXISTS t (a INTEGER, b INTEGER);\n"
    "-- v1: a comment inside the script\n"
    "CREATE VIEW IF NOT EXISTS v1 AS SELECT a, b FROM t;\n"
    "CREATE VIEW IF NOT EXISTS v2 AS SELECT a + b AS s FROM t;\n";

static sqlite3 *open_db(void) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  return db;
}

static int64_t one(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void ok(sqlite3 *db, const char *sql) {
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void refresh(sqlite3 *db) {
  const char *const scripts[] = {script};
  char why[256] = "";
  ok(db, "BEGIN IMMEDIATE");
  assert_int_equal(hk_sql_drop_stale_views(db, scripts, 1, why, sizeof why), 0);
  ok(db, script);
  ok(db, "COMMIT");
  assert_int_equal(one(db, "SELECT COUNT(*) FROM temp.sqlite_master"), 0);
}

static void test_stale_view_replaced(void **state) {
  (void)state;
  sqlite3 *db = open_db();
  ok(db, "CREATE TABLE t (a INTEGER, b INTEGER); INSERT INTO t VALUES (2, 3);"
         "CREATE VIEW v2 AS SELECT a * b AS s FROM t;" /* an older build's */
         "CREATE VIEW mine AS SELECT b FROM t;");      /* the user's own */
  assert_int_equal(one(db, "SELECT s FROM v2"), 6);
  refresh(db);
  assert_int_equal(one(db, "SELECT s FROM v2"), 5);
  assert_int_equal(one(db, "SELECT b FROM mine"), 3);
  assert_int_equal(one(db, "SELECT COUNT(*) FROM v1"), 1);
  sqlite3_close(db);
}

static void test_current_views_untouched(void **state) {
  (void)state;
  sqlite3 *db = open_db();
  ok(db, script);
  int64_t cookie = one(db, "PRAGMA schema_version");
  refresh(db);
  assert_int_equal(one(db, "PRAGMA schema_version"), cookie);
  sqlite3_close(db);
}

static void test_temp_copy(void **state) {
  (void)state;
  char *t = hk_sql_temp_copy(script);
  assert_non_null(t);
  assert_non_null(strstr(t, "CREATE TEMP TABLE IF NOT EXISTS t "));
  assert_non_null(strstr(t, "CREATE TEMP VIEW IF NOT EXISTS v1 "));
  assert_null(strstr(t, "CREATE VIEW"));
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stale_view_replaced),
      cmocka_unit_test(test_current_views_untouched),
      cmocka_unit_test(test_temp_copy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
