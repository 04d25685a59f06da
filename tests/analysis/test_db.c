/* test_db.c: ana_db_open refuses what is not a results database of a
 * version it reads, each with its own code and a one-line reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sqlite3.h>
#include <string.h>

#include <cmocka.h>

#include "ana_fixture.h"

static void test_missing(void **state) {
  ana_db_t *db = (ana_db_t *)1;
  char why[256] = "";
  assert_int_equal(ana_db_open("/nonexistent/r.db", 0, &db, why, sizeof why),
                   -ENOENT);
  assert_null(db);
  assert_non_null(strstr(why, "No such file"));
}

static void test_not_sqlite(void **state) {
  char path[] = "/tmp/hksim-ana-notdb-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char junk[] = "this is not a database, just text that is long enough"
                      " to fill an SQLite header and then some more bytes.....";
  assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
  close(fd);
  ana_db_t *db;
  char why[256] = "";
  assert_int_equal(ana_db_open(path, 0, &db, why, sizeof why), HK_E_BADMAGIC);
  assert_non_null(strstr(why, "not a hakmem-sim results database"));
  unlink(path);
}

static void test_foreign_sqlite(void **state) {
  char path[] = "/tmp/hksim-ana-foreign-XXXXXX";
  close(mkstemp(path));
  sqlite3 *s;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, "CREATE TABLE t(x)", NULL, NULL, NULL), 0);
  sqlite3_close(s);
  ana_db_t *db;
  char why[256] = "";
  assert_int_equal(ana_db_open(path, 0, &db, why, sizeof why), HK_E_BADMAGIC);
  assert_non_null(strstr(why, "no traces and runs tables"));
  unlink(path);
}

static void test_newer_schema(void **state) {
  char path[256];
  ana_db_t *db = ana_fixture_open(path, sizeof path, 0);
  assert_non_null(db);
  char why[256] = "";
  assert_int_equal(ana_db_version(db), ana_schema_version());
  assert_true(ana_schema_version() >= 1);
  assert_int_equal(ana_db_exec(db, "PRAGMA user_version = 999", why, sizeof why),
                   0);
  ana_db_free(db);
  assert_int_equal(ana_db_open(path, 0, &db, why, sizeof why), HK_E_SCHEMA);
  char want[128];
  snprintf(want, sizeof want, "version 999 is newer than this program's %d",
           ana_schema_version());
  assert_non_null(strstr(why, want));
  unlink(path);
}

static void test_readonly_file(void **state) {
  /* A database the program cannot write still reports: views as TEMP. */
  char path[256];
  ana_db_t *db = ana_fixture_open(path, sizeof path, 1);
  assert_non_null(db);
  char why[256] = "";
  /* an older build's definition: the read-only open must shadow it */
  assert_int_equal(ana_db_exec(db,
                               "DROP VIEW config_summary; CREATE VIEW "
                               "config_summary AS SELECT 1 AS stale",
                               why, sizeof why),
                   0);
  ana_db_free(db);
  assert_int_equal(chmod(path, 0444), 0);
  if (access(path, W_OK) == 0) { /* root writes anyway: nothing to test */
    unlink(path);
    skip();
  }
  assert_int_equal(ana_db_open(path, 0, &db, why, sizeof why), 0);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(ana_db_sqlite(db),
                                      "SELECT COUNT(*) FROM config_summary", -1,
                                      &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 4);
  sqlite3_finalize(st);
  ana_db_free(db);
  unlink(path);
}

static int64_t count_of(ana_db_t *db, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(ana_db_sqlite(db), sql, -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

static void test_stale_views_replaced(void **state) {
  /* A database an older build wrote keeps that build's view definitions
   * under CREATE VIEW IF NOT EXISTS; opening it replaces them, and leaves
   * a view of the user's own alone. */
  char path[256];
  ana_db_t *db = ana_fixture_open(path, sizeof path, 1);
  assert_non_null(db);
  char why[256] = "";
  assert_int_equal(ana_db_exec(db,
                               "DROP VIEW config_summary; CREATE VIEW "
                               "config_summary AS SELECT 1 AS stale; DROP "
                               "VIEW run_summary; CREATE VIEW run_summary AS "
                               "SELECT 1 AS stale; CREATE VIEW my_runs AS "
                               "SELECT run_id FROM runs",
                               why, sizeof why),
                   0);
  assert_int_equal(count_of(db, "SELECT COUNT(*) FROM config_summary"), 1);
  ana_db_free(db);
  assert_int_equal(ana_db_open(path, 0, &db, why, sizeof why), 0);
  assert_int_equal(count_of(db, "SELECT COUNT(*) FROM config_summary"), 4);
  assert_int_equal(count_of(db, "SELECT COUNT(*) FROM my_runs"),
                   count_of(db, "SELECT COUNT(*) FROM runs"));
  /* run_summary is schema.sql's, not views.sql's */
  assert_int_equal(count_of(db, "SELECT COUNT(*) FROM run_summary"),
                   count_of(db, "SELECT COUNT(*) FROM runs"));
  assert_true(count_of(db, "SELECT COUNT(*) FROM runs") > 1);
  assert_int_equal(count_of(db, "SELECT COUNT(*) FROM temp.sqlite_master"), 0);
  ana_db_free(db);
  unlink(path);
}

static void test_free_null(void **state) { ana_db_free(NULL); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_missing),       cmocka_unit_test(test_not_sqlite),
      cmocka_unit_test(test_foreign_sqlite), cmocka_unit_test(test_newer_schema),
      cmocka_unit_test(test_readonly_file), cmocka_unit_test(test_stale_views_replaced),
      cmocka_unit_test(test_free_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
