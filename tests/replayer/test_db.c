/* test_db.c: the results database. The schema embedded in the binary is
 * analysis/schema.sql; every column the results contract names exists on
 * the views; a database of a newer schema version is refused, naming both
 * versions, and left untouched; opening twice changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "replayer.h"

static char dir[64];
static char path[128];

static int setup(void **state) {
  strcpy(dir, "/tmp/test_rpl_db-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(path, sizeof path, "%s/r.db", dir);
  return 0;
}

static int teardown(void **state) {
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Whether every name of cols is a column of table (or view). */
static void has_columns(sqlite3 *db, const char *table, const char *cols) {
  char sql[128];
  snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  char have[4096] = " ";
  while (sqlite3_step(st) == SQLITE_ROW) {
    strcat(have, (const char *)sqlite3_column_text(st, 1));
    strcat(have, " ");
  }
  sqlite3_finalize(st);
  char want[1024];
  snprintf(want, sizeof want, "%s", cols);
  for (char *c = strtok(want, ", "); c; c = strtok(NULL, ", ")) {
    char key[80];
    snprintf(key, sizeof key, " %s ", c);
    if (!strstr(have, key)) fail_msg("%s has no column %s", table, c);
  }
}

static void test_schema_contract(void **state) {
  rpl_db_t *db;
  char why[256] = "";
  unlink(path);
  assert_int_equal(rpl_db_open(&db, path, why, sizeof why), 0);
  rpl_db_free(db);
  sqlite3 *s;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  has_columns(s, "run_summary",
              "run_id, trace, backend, policy, seed, status, ops, median_ns, "
              "p95_ns, p99_ns, total_ns, mmap_calls, munmap_calls, "
              "madvise_calls, page_faults, peak_rss_bytes, cache_hits, "
              "cache_misses, hit_rate, digest");
  has_columns(s, "op_latency", "run_id, seq, kind, size, site, latency_ns");
  has_columns(s, "site_summary",
              "trace, site, function, file, line, module, allocs, bytes");
  has_columns(s, "policy_timeline", "run_id, op_seq, arm, metric, value");
  sqlite3_stmt *st;
  assert_int_equal(
      sqlite3_prepare_v2(s, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), rpl_sql_user_version);
  sqlite3_finalize(st);
  assert_int_equal(
      sqlite3_prepare_v2(s, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(s);
  /* The embedded text is the file in analysis/. */
  assert_non_null(strstr(rpl_schema_sql, "CREATE VIEW IF NOT EXISTS run_summary"));
}

static void test_reopen_is_idempotent(void **state) {
  rpl_db_t *db;
  char why[256] = "";
  unlink(path);
  assert_int_equal(rpl_db_open(&db, path, why, sizeof why), 0);
  rpl_db_free(db);
  sqlite3 *s;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s,
                                "INSERT INTO traces(content_hash, name, path, "
                                "added_at) VALUES ('x', 'n', 'p', 'now')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(s);
  assert_int_equal(rpl_db_open(&db, path, why, sizeof why), 0);
  rpl_db_free(db);
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(s, "SELECT COUNT(*) FROM traces", -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  sqlite3_close(s);
}

static void test_newer_version_refused(void **state) {
  rpl_db_t *db;
  char why[256] = "";
  unlink(path);
  assert_int_equal(rpl_db_open(&db, path, why, sizeof why), 0);
  rpl_db_free(db);
  sqlite3 *s;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", rpl_sql_user_version + 7);
  assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, "DROP VIEW run_summary", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(s);
  assert_int_equal(rpl_db_open(&db, path, why, sizeof why), HK_E_SCHEMA);
  assert_null(db);
  char v1[16], v2[16];
  snprintf(v1, sizeof v1, "%d", rpl_sql_user_version + 7);
  snprintf(v2, sizeof v2, "%d", rpl_sql_user_version);
  assert_non_null(strstr(why, v1));
  assert_non_null(strstr(why, v2));
  /* Untouched: the dropped view was not recreated. */
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(s,
                     "SELECT COUNT(*) FROM sqlite_master WHERE name = "
                     "'run_summary'",
                     -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 0);
  sqlite3_finalize(st);
  sqlite3_close(s);
}

static void test_bad_paths(void **state) {
  rpl_db_t *db;
  char why[256] = "";
  assert_int_not_equal(rpl_db_open(&db, "/dev/null/x.db", why, sizeof why), 0);
  assert_null(db);
  assert_true(why[0] != 0);
  /* A file that is not a database is refused and not changed. */
  char junk[160];
  snprintf(junk, sizeof junk, "%s/junk.db", dir);
  FILE *f = fopen(junk, "w");
  assert_non_null(f);
  for (int i = 0; i < 200; i++) fputs("this is not sqlite at all\n", f);
  fclose(f);
  assert_int_not_equal(rpl_db_open(&db, junk, why, sizeof why), 0);
  f = fopen(junk, "r");
  char line[64];
  assert_non_null(fgets(line, sizeof line, f));
  assert_string_equal(line, "this is not sqlite at all\n");
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schema_contract),
      cmocka_unit_test(test_reopen_is_idempotent),
      cmocka_unit_test(test_newer_version_refused),
      cmocka_unit_test(test_bad_paths),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
