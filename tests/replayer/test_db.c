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

#include "analysis.h"
#include "hk_opchunk.h"
#include "rpl_internal.h"
#include "traces/trace_fixture.h"

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

/* The first column of the first row of sql. */
static sqlite3_int64 q1(sqlite3 *s, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  sqlite3_int64 v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
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
  assert_int_equal(ana_sqlite_register(s), 0); /* trace_op's module */
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
  assert_int_equal(q1(s, "SELECT COUNT(*) FROM traces"), 1);
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
  assert_int_equal(
      q1(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'run_summary'"),
      0);
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

/* Generates scenario at scale (seed 5) as DIR/NAME.hkt (trace), prepares
 * it into DIR/NAME.hkp (pp) and maps it into *prog. */
static void gen_program(const char *scenario, double scale, const char *name,
                        char trace[300], char pp[300], trc_program_t *prog) {
  snprintf(trace, 300, "%s/%s.hkt", dir, name);
  snprintf(pp, 300, "%s/%s.hkp", dir, name);
  trc_gen_opts_t o = {5, scale};
  assert_int_equal(trc_gen(scenario, trace, &o), 0);
  trc_prep_stats_t ps;
  assert_int_equal(trc_program_build(trace, pp, &ps), 0);
  assert_int_equal(trc_program_map(prog, pp), 0);
}

/* A generated trace of 200,000 ops (4 chunks), prepared and stored. */
static void store_gen(const char *scenario, double scale, trc_program_t *prog,
                      int64_t *tid) {
  char trace[300], pp[300], why[256] = "";
  gen_program(scenario, scale, scenario, trace, pp, prog);
  rpl_db_t *db;
  assert_int_equal(rpl_db_open(&db, path, why, sizeof why), 0);
  uint64_t h;
  assert_int_equal(trc_file_hash(trace, &h), 0);
  assert_int_equal(rpl_db_trace(db, trace, h, prog, tid, why, sizeof why), 0);
  rpl_db_free(db);
}

/* Every op of the program comes back through the view trace_op, whole
 * scans, point lookups and ranges alike; the chunks take <= 8 B/op. */
static void test_trace_ops_round_trip(void **state) {
  unlink(path);
  trc_program_t prog;
  int64_t tid;
  store_gen("json", 100, &prog, &tid);
  assert_true(prog.n_ops > 3 * HK_OPCHUNK_OPS);
  sqlite3 *s;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(ana_sqlite_register(s), 0);
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT SUM(length(ops)) FROM trace_op_chunk "
                            "WHERE trace_id = %lld", (long long)tid);
  assert_true(q1(s, sql) <= 8 * (sqlite3_int64)prog.n_ops);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(s,
                                      "SELECT seq, kind, size, site, thread, "
                                      "slot, align, flags, time_ns FROM "
                                      "trace_op WHERE trace_id = ? ORDER BY seq",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_int64(st, 1, tid);
  uint64_t i = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const trc_pop_t *o = &prog.ops[i];
    assert_int_equal(sqlite3_column_int64(st, 0), (sqlite3_int64)i);
    assert_int_equal(sqlite3_column_int(st, 1), o->op);
    assert_int_equal(sqlite3_column_int64(st, 2), (sqlite3_int64)o->size);
    assert_int_equal(sqlite3_column_int64(st, 3), o->site);
    assert_int_equal(sqlite3_column_int64(st, 4), o->thread);
    assert_int_equal(sqlite3_column_int64(st, 5), o->slot);
    assert_int_equal(sqlite3_column_int64(st, 6),
                     o->align_log2 ? 1ll << o->align_log2 : 0);
    assert_int_equal(sqlite3_column_int(st, 7), o->flags);
    assert_int_equal(sqlite3_column_int64(st, 8), (sqlite3_int64)o->time_ns);
    i++;
  }
  sqlite3_finalize(st);
  assert_int_equal(i, prog.n_ops);
  /* point lookups on both sides of a chunk boundary, a range across it */
  uint64_t probe[] = {0, HK_OPCHUNK_OPS - 1, HK_OPCHUNK_OPS, prog.n_ops - 1};
  for (size_t k = 0; k < 4; k++) {
    snprintf(sql, sizeof sql, "SELECT size FROM trace_op WHERE trace_id = %lld"
             " AND seq = %llu", (long long)tid, (unsigned long long)probe[k]);
    assert_int_equal(q1(s, sql), (sqlite3_int64)prog.ops[probe[k]].size);
  }
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM trace_op WHERE trace_id = "
           "%lld AND seq > %u AND seq <= %u", (long long)tid,
           HK_OPCHUNK_OPS - 10, HK_OPCHUNK_OPS + 10);
  assert_int_equal(q1(s, sql), 20);
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM trace_op WHERE seq = %llu",
           (unsigned long long)prog.n_ops);
  assert_int_equal(q1(s, sql), 0);
  sqlite3_close(s);
  trc_program_release(&prog);
}

/* Storing reads the mapped program once and gives its pages back as it
 * goes: what the store leaves resident of a 6 MB program is a few pages,
 * not the program. */
static void test_trace_store_bounded(void **state) {
  unlink(path);
  char trace[300], pp[300], why[256] = "";
  trc_program_t prog;
  gen_program("json", 100, "b", trace, pp, &prog);
  uint64_t len = prog.n_ops * sizeof(trc_pop_t);
  assert_true(len > (4u << 20));
  rpl_db_t *db;
  assert_int_equal(rpl_db_open(&db, path, why, sizeof why), 0);
  uint64_t h;
  assert_int_equal(trc_file_hash(trace, &h), 0);
  long before = rss_file_kib();
  int64_t tid;
  assert_int_equal(rpl_db_trace(db, trace, h, &prog, &tid, why, sizeof why), 0);
  long added = rss_file_kib() - before;
  assert_true(before >= 0);
  assert_true(added * 1024 < (long)(len / 8)); /* may be below 0 */
  rpl_db_free(db);
  trc_program_release(&prog);
}

/* The chunks' bytes of trace 1 of the database at db_path, in order. */
static size_t read_chunks(const char *db_path, uint8_t **out) {
  sqlite3 *s;
  assert_int_equal(sqlite3_open(db_path, &s), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(s, "SELECT ops FROM trace_op_chunk "
                                         "ORDER BY trace_id, k0",
                                      -1, &st, NULL),
                   SQLITE_OK);
  size_t len = 0;
  *out = NULL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    *out = realloc(*out, len + n);
    assert_non_null(*out);
    memcpy(*out + len, sqlite3_column_blob(st, 0), n);
    len += n;
  }
  sqlite3_finalize(st);
  sqlite3_close(s);
  return len;
}

/* Chunks coded on 0, 1 or 3 worker threads are stored byte for byte the
 * same, in order; a store that fails half-way with workers running (a
 * trigger refuses the third chunk) stops them, names the failure and
 * leaves no trace behind, and the same database then stores it whole. */
static void test_trace_store_threads(void **state) {
  char trace[300], pp[300], db_path[300], why[256] = "";
  trc_program_t prog;
  gen_program("json", 100, "m", trace, pp, &prog);
  assert_true(prog.n_ops > 3 * HK_OPCHUNK_OPS);
  uint64_t h;
  assert_int_equal(trc_file_hash(trace, &h), 0);
  uint8_t *first = NULL;
  size_t first_len = 0;
  const int workers[] = {0, 1, 3};
  for (size_t k = 0; k < 3; k++) {
    snprintf(db_path, sizeof db_path, "%s/w%d.db", dir, workers[k]);
    rpl_db_t *db;
    assert_int_equal(rpl_db_open(&db, db_path, why, sizeof why), 0);
    rpl_db_set_store_threads(db, workers[k]);
    int64_t tid;
    assert_int_equal(rpl_db_trace(db, trace, h, &prog, &tid, why, sizeof why),
                     0);
    rpl_db_free(db);
    uint8_t *got;
    size_t len = read_chunks(db_path, &got);
    assert_true(len > 0);
    if (!first) {
      first = got;
      first_len = len;
      continue;
    }
    assert_int_equal(len, first_len);
    assert_memory_equal(got, first, len);
    free(got);
  }
  free(first);

  snprintf(db_path, sizeof db_path, "%s/fail.db", dir);
  rpl_db_t *db;
  assert_int_equal(rpl_db_open(&db, db_path, why, sizeof why), 0);
  sqlite3 *s;
  assert_int_equal(sqlite3_open(db_path, &s), SQLITE_OK);
  char sql[300];
  snprintf(sql, sizeof sql,
           "CREATE TRIGGER refuse BEFORE INSERT ON trace_op_chunk WHEN "
           "NEW.k0 = %u BEGIN SELECT RAISE(ABORT, 'no third chunk'); END",
           2 * HK_OPCHUNK_OPS);
  assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
  rpl_db_set_store_threads(db, 2);
  int64_t tid;
  assert_int_equal(rpl_db_trace(db, trace, h, &prog, &tid, why, sizeof why),
                   HK_E_SQLITE);
  if (!strstr(why, "no third chunk")) fail_msg("why: '%s'", why);
  assert_int_equal(q1(s, "SELECT COUNT(*) FROM traces"), 0);
  assert_int_equal(q1(s, "SELECT COUNT(*) FROM trace_op_chunk"), 0);
  assert_int_equal(sqlite3_exec(s, "DROP TRIGGER refuse", NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(rpl_db_trace(db, trace, h, &prog, &tid, why, sizeof why), 0);
  assert_int_equal(q1(s, "SELECT COUNT(*) FROM trace_op_chunk"),
                   (sqlite3_int64)((prog.n_ops + HK_OPCHUNK_OPS - 1) /
                                   HK_OPCHUNK_OPS));
  sqlite3_close(s);
  rpl_db_free(db);
  trc_program_release(&prog);
}

static long long file_size(const char *p) {
  FILE *fp = fopen(p, "r");
  if (!fp) return -1;
  fseek(fp, 0, SEEK_END);
  long long n = ftell(fp);
  fclose(fp);
  return n;
}

/* Storing a trace grows the WAL to about the trace's size; once it is
 * checkpointed, the next write (a run beginning) cuts the file back to
 * RPL_DB_WAL_LIMIT_S bytes instead of keeping it for the whole session. */
static void test_trace_store_wal_cut(void **state) {
  unlink(path);
  char trace[300], pp[300], wal[300], why[256] = "";
  snprintf(wal, sizeof wal, "%s-wal", path);
  trc_program_t prog;
  gen_program("threads", 6, "wal", trace, pp, &prog);
  rpl_db_t *db;
  assert_int_equal(rpl_db_open(&db, path, why, sizeof why), 0);
  uint64_t h;
  assert_int_equal(trc_file_hash(trace, &h), 0);
  int64_t tid, run;
  assert_int_equal(rpl_db_trace(db, trace, h, &prog, &tid, why, sizeof why), 0);
  long long limit = atoll(RPL_DB_WAL_LIMIT_S);
  assert_true(file_size(wal) > limit);
  sqlite3 *s;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(s, "PRAGMA wal_checkpoint(FULL)", NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(s);
  rpl_run_info_t ri = {.trace_id = tid, .backend = "null", .touch = "none",
                       .per_op = "all", .load_avg = -1};
  assert_int_equal(rpl_db_run_begin(db, &ri, &run), 0);
  assert_true(file_size(wal) <= limit);
  rpl_db_free(db);
  trc_program_release(&prog);
}

/* A damaged chunk: reading it fails with the chunk named, the other
 * chunks and every other table still read, nothing is lost. */
static void test_trace_ops_damaged(void **state) {
  unlink(path);
  trc_program_t prog;
  int64_t tid;
  store_gen("json", 100, &prog, &tid);
  sqlite3 *s;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(ana_sqlite_register(s), 0);
  char sql[300];
  snprintf(sql, sizeof sql,
           "UPDATE trace_op_chunk SET ops = substr(ops, 1, 40) || "
           "zeroblob(8) || substr(ops, 49) WHERE trace_id = %lld AND k0 = %u",
           (long long)tid, HK_OPCHUNK_OPS);
  assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
  char *err = NULL;
  assert_int_not_equal(sqlite3_exec(s, "SELECT COUNT(*) FROM trace_op", NULL,
                                    NULL, &err),
                       SQLITE_OK);
  assert_non_null(err);
  char want[80];
  snprintf(want, sizeof want, "trace_op_chunk of trace %lld at op %u: ",
           (long long)tid, HK_OPCHUNK_OPS);
  if (!strstr(err, want) || !strstr(err, "damaged"))
    fail_msg("error '%s' does not name the chunk", err);
  sqlite3_free(err);
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM trace_op WHERE trace_id = "
           "%lld AND seq < %u", (long long)tid, HK_OPCHUNK_OPS);
  assert_int_equal(q1(s, sql), HK_OPCHUNK_OPS);
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM trace_op WHERE trace_id = "
           "%lld AND seq >= %u", (long long)tid, 2 * HK_OPCHUNK_OPS);
  assert_int_equal(q1(s, sql), (sqlite3_int64)prog.n_ops - 2 * HK_OPCHUNK_OPS);
  assert_int_equal(q1(s, "SELECT COUNT(*) FROM trace_op_chunk"), 4);
  assert_int_equal(q1(s, "SELECT ops FROM traces"), (sqlite3_int64)prog.n_ops);
  sqlite3_close(s);
  trc_program_release(&prog);
}

/* hksim expand: trace_op a table with the same rows, views read it, and a
 * trace stored afterwards gets its rows there too. */
static void test_trace_ops_expand(void **state) {
  unlink(path);
  trc_program_t a, b;
  int64_t ta, tb;
  store_gen("json", 20, &a, &ta);
  ana_db_t *adb;
  char why[256] = "";
  assert_int_equal(ana_db_open(path, 0, &adb, why, sizeof why), 0);
  uint64_t rows = 0;
  assert_int_equal(ana_expand(adb, &rows, why, sizeof why), 0);
  assert_int_equal(rows, a.n_ops);
  assert_int_equal(ana_expand(adb, &rows, why, sizeof why), 0);
  assert_int_equal(rows, 0);
  ana_db_free(adb);
  store_gen("vm", 1, &b, &tb);
  sqlite3 *s; /* no module: the table alone must serve */
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(q1(s, "SELECT COUNT(*) FROM sqlite_master WHERE name = "
                         "'trace_op' AND type = 'table'"), 1);
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM trace_op WHERE trace_id = "
           "%lld", (long long)tb);
  assert_int_equal(q1(s, sql), (sqlite3_int64)b.n_ops);
  snprintf(sql, sizeof sql, "SELECT SUM(size) FROM trace_op WHERE trace_id = "
           "%lld", (long long)ta);
  sqlite3_int64 sum = 0;
  for (uint64_t i = 0; i < a.n_ops; i++) sum += (sqlite3_int64)a.ops[i].size;
  assert_int_equal(q1(s, sql), sum);
  sqlite3_close(s);
  trc_program_release(&a);
  trc_program_release(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trace_ops_round_trip),
      cmocka_unit_test(test_trace_ops_damaged),
      cmocka_unit_test(test_trace_store_bounded),
      cmocka_unit_test(test_trace_store_threads),
      cmocka_unit_test(test_trace_store_wal_cut),
      cmocka_unit_test(test_trace_ops_expand),
      cmocka_unit_test(test_schema_contract),
      cmocka_unit_test(test_reopen_is_idempotent),
      cmocka_unit_test(test_newer_version_refused),
      cmocka_unit_test(test_bad_paths),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
