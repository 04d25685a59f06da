/* test_sites.c: attribution past wrappers (ana_sites.c) on a database
 * built by hand: a site through xmalloc is attributed to its caller, one
 * through libc to the program; a function forwarding its callers' sizes is
 * found by the forwarding rule; the one pass over the ops gives the peak
 * per site, temporaries and leaks; C++ names are demangled; the views
 * read what was stored. Expected values are worked out from the rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sqlite3.h>
#include <string.h>

#include <cmocka.h>

#include "ana_fixture.h"

static const char rows_sql[] =
    "INSERT INTO traces(trace_id, content_hash, name, path, ops, added_at)"
    " VALUES (1, '00000000000000bb', 'prog.hkt', '/tmp/prog.hkt', 7, 'x');"
    "INSERT INTO modules VALUES (1, 1, '/bin/prog', 0, 0, 4096, NULL),"
    " (1, 2, '/lib/libc.so.6', 8192, 8192, 12288, NULL);"
    /* 0x10 xmalloc < 0x20 parse_config < 0x30 main; 0x2040 in libc
     * (strdup) < 0x30 main; 0x50 grab < 0x60 small / 0x70 large < main */
    "INSERT INTO symbols VALUES (1, 16, 'xmalloc', 'x.c', 1, '/bin/prog'),"
    " (1, 32, 'parse_config', 'p.c', 2, '/bin/prog'),"
    " (1, 48, 'main', 'm.c', 3, '/bin/prog'),"
    " (1, 8256, 'strdup', NULL, NULL, '/lib/libc.so.6'),"
    " (1, 80, 'grab', 'g.c', 4, '/bin/prog'),"
    " (1, 96, 'small', 'g.c', 5, '/bin/prog'),"
    " (1, 112, 'large', 'g.c', 6, '/bin/prog');"
    "INSERT INTO sites(trace_id, site, caller, module_id, depth, frames,"
    " allocs, bytes) VALUES (1, 1, 16, 1, 3, '10 20 30', 1, 100),"
    " (1, 2, 8256, 2, 2, '2040 30', 1, 50),"
    " (1, 3, 80, 1, 3, '50 60 30', 4, 96),"
    " (1, 4, 80, 1, 3, '50 70 30', 4, 4096);"
    /* seq: 0 malloc 100 @1 slot0; 1 malloc 50 @2 slot1; 2 free slot1
     * (temporary: nothing allocated since); 3 free slot0; then site 3:
     * 4 x 24 bytes, site 4: 4 x 1024 bytes, never freed (leaks) */
    "CREATE TEMP TABLE op_rows(trace_id, seq, kind, size, site, thread,"
    " slot, align, flags, time_ns DEFAULT 0);"
    "INSERT INTO op_rows(trace_id, seq, kind, size, site, thread, slot,"
    " align, flags) VALUES (1, 0, 1, 100, 1, 0, 0, 0, 0),"
    " (1, 1, 1, 50, 2, 0, 1, 0, 0), (1, 2, 5, 0, 2, 0, 1, 0, 0),"
    " (1, 3, 5, 0, 1, 0, 0, 0, 0),"
    " (1, 4, 1, 24, 3, 0, 0, 0, 0), (1, 5, 1, 24, 3, 0, 1, 0, 0),"
    " (1, 6, 1, 24, 3, 0, 2, 0, 0), (1, 7, 1, 24, 3, 0, 3, 0, 0),"
    " (1, 8, 1, 1024, 4, 0, 4, 0, 0), (1, 9, 1, 1024, 4, 0, 5, 0, 0),"
    " (1, 10, 1, 1024, 4, 0, 6, 0, 0), (1, 11, 1, 1024, 4, 0, 7, 0, 0);"
    /* times: site 2's object lives 500 ns, site 1's 50 ms (3 ops) */
    "UPDATE op_rows SET time_ns = CASE seq WHEN 0 THEN 0 WHEN 1 THEN 1000"
    " WHEN 2 THEN 1500 ELSE 50000000 + seq END;"
    "INSERT INTO trace_op_chunk SELECT trace_id, 0, COUNT(*),"
    " hksim_pack_ops(seq, kind, size, site, thread, slot, align, flags,"
    " time_ns)"
    " FROM op_rows GROUP BY trace_id;";

static char path[256];

static const char *qs(ana_db_t *db, const char *sql) {
  static char buf[512];
  sqlite3_stmt *st;
  buf[0] = 0;
  assert_int_equal(sqlite3_prepare_v2(ana_db_sqlite(db), sql, -1, &st, NULL),
                   SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(buf, sizeof buf, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

static int setup(void **state) {
  char why[256];
  ana_db_t *db = ana_fixture_open(path, sizeof path, 0);
  if (!db) return -1;
  if (ana_db_exec(db, rows_sql, why, sizeof why)) {
    fprintf(stderr, "%s\n", why);
    return -1;
  }
  ana_attr_stats_t st = {0};
  if (ana_attribute(db, 1, 0, &st, why, sizeof why)) {
    fprintf(stderr, "%s\n", why);
    return -1;
  }
  *state = db;
  return 0;
}

static int teardown(void **state) {
  ana_db_free(*state);
  unlink(path);
  return 0;
}

static void test_demangle(void **state) {
  (void)state;
  char *d = ana_demangle("_ZN8workload9make_nodeEi");
  assert_non_null(d);
  assert_string_equal(d, "workload::make_node(int)");
  free(d);
  assert_null(ana_demangle("malloc"));   /* C names stay */
  assert_null(ana_demangle("f"));        /* not "float" */
  assert_null(ana_demangle("_Z$$bad"));  /* not a mangled name */
  assert_null(ana_demangle(NULL));
}

static void test_attribution(void **state) {
  ana_db_t *db = *state;
  /* xmalloc is a wrapper: parse_config; strdup is in libc: main. */
  assert_string_equal(qs(db, "SELECT function FROM site_summary WHERE site=1"),
                      "parse_config");
  assert_string_equal(
      qs(db, "SELECT caller_function FROM site_summary WHERE site=1"),
      "xmalloc");
  assert_string_equal(qs(db, "SELECT function FROM site_summary WHERE site=2"),
                      "main");
  assert_string_equal(
      qs(db, "SELECT group_concat(COALESCE(role, '-'), ',') FROM (SELECT role"
             " FROM site_frames WHERE site = 2 ORDER BY depth)"),
      "runtime,-");
  assert_string_equal(qs(db, "SELECT SUM(attributed) FROM site_frames"), "4");
}

static void test_forwarder(void **state) {
  ana_db_t *db = *state;
  /* grab: sizes 24 and 1024 (1 bit given the call), fixed per caller. */
  assert_string_equal(qs(db, "SELECT function FROM trace_wrappers"), "grab");
  assert_string_equal(qs(db, "SELECT printf('%.3f %.3f', h_call_bits,"
                             " h_caller_bits) FROM trace_wrappers"),
                      "1.000 0.000");
  assert_string_equal(qs(db, "SELECT function FROM site_summary WHERE site=3"),
                      "small");
  assert_string_equal(qs(db, "SELECT function FROM site_summary WHERE site=4"),
                      "large");
}

static void test_life(void **state) {
  ana_db_t *db = *state;
  /* The peak, 150 bytes after op 1, is the only one until op 11 reaches
   * 4 x 24 + 4 x 1024 = 4192: that is the peak, held by sites 3 and 4. */
  assert_string_equal(qs(db, "SELECT group_concat(site || ':' || peak_bytes"
                             " || ':' || temporary || ':' || leaked || ':' ||"
                             " leaked_bytes, ' ') FROM (SELECT * FROM"
                             " site_life ORDER BY site)"),
                      "1:0:0:0:0 2:0:1:0:0 3:96:0:4:96 4:4096:0:4:4096");
  /* site 1 lived 3 ops (<10), site 3 never freed (class 0). */
  assert_string_equal(
      qs(db, "SELECT dominant_lifetime_class || ' ' || dominant_share ||"
             " ' ' || size_class_entropy_bits FROM site_predictability"
             " WHERE site = 3"),
      "never freed 1.0 0.0");
  assert_string_equal(
      qs(db, "SELECT dominant_lifetime_class FROM site_predictability"
             " WHERE site = 1"),
      "<10 ops");
  /* In the trace's time: site 1's object lived 50 ms, site 2's 500 ns;
   * site 3 never freed. */
  assert_string_equal(
      qs(db, "SELECT group_concat(site || ':' || dominant_time_lifetime_class"
             " || ':' || time_lifetime_classes, ' ') FROM (SELECT * FROM"
             " site_predictability ORDER BY site)"),
      "1:<100 ms:1 2:<1 us:1 3:never freed:1 4:never freed:1");
  assert_string_equal(
      qs(db, "SELECT printf('%.4f', time_lifetime_predicted) FROM"
             " trace_predictability WHERE grouping = 'stack'"),
      "1.0000");
  /* frame 0 lumps sites 3 and 4 (grab): sizes 24 and 1024 are half and
   * half, so only sites 1 and 2 (150 of 4342 bytes) are predicted. */
  assert_string_equal(
      qs(db, "SELECT printf('%.4f', size_predicted) FROM trace_predictability"
             " WHERE grouping = 'frame0'"),
      "0.0345");
  assert_string_equal(
      qs(db, "SELECT printf('%.4f', size_predicted) FROM trace_predictability"
             " WHERE grouping = 'attributed'"),
      "1.0000");
}

static void test_folded(void **state) {
  ana_db_t *db = *state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ana_folded_stats_t st;
  char why[256];
  assert_int_equal(ana_folded(db, 1, ANA_W_BYTES, f, &st, why, sizeof why),
                   0);
  fclose(f);
  assert_int_equal(st.stacks, 4);
  assert_int_equal(st.total, 100 + 50 + 96 + 4096);
  assert_non_null(strstr(buf, "main;parse_config;xmalloc 100\n"));
  assert_non_null(strstr(buf, "main;strdup 50\n"));
  free(buf);
  f = open_memstream(&buf, &len);
  assert_int_equal(ana_folded(db, 7, ANA_W_BYTES, f, &st, why, sizeof why),
                   HK_E_NOTFOUND);
  fclose(f);
  free(buf);
}

static void test_wrappers_file(void **state) {
  ana_db_t *db = *state;
  char wp[] = "/tmp/hksim-wrappers-XXXXXX", why[256];
  int fd = mkstemp(wp);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs("# ours\nparse_config  reads for main\n", f);
  fclose(f);
  assert_int_equal(ana_wrappers_load(db, wp, why, sizeof why), 0);
  assert_int_equal(ana_attribute(db, 1, 0, NULL, why, sizeof why), 0);
  assert_string_equal(qs(db, "SELECT function FROM site_summary WHERE site=1"),
                      "main");
  f = fopen(wp, "w");
  fputs("ok_one\nruntime:\n", f);
  fclose(f);
  assert_int_not_equal(ana_wrappers_load(db, wp, why, sizeof why), 0);
  assert_non_null(strstr(why, "line 2"));
  /* Nothing of a refused file is kept. */
  assert_string_equal(
      qs(db, "SELECT COUNT(*) FROM wrappers WHERE pattern = 'ok_one'"), "0");
  unlink(wp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_demangle),     cmocka_unit_test(test_attribution),
      cmocka_unit_test(test_forwarder),    cmocka_unit_test(test_life),
      cmocka_unit_test(test_folded),       cmocka_unit_test(test_wrappers_file),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
