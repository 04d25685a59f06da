/* test_views.c: every view of analysis/views.sql and published.sql on the
 * hand-built database of ana_fixture.h, against values computed by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>

#include <cmocka.h>

#include "ana_fixture.h"


/* The first column of the first row of sql, as a double (NAN: NULL or no
 * row) or as text into buf ("<null>", "<none>"). */
static double qd(ana_db_t *db, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(ana_db_sqlite(db), sql, -1, &st, NULL),
                   SQLITE_OK);
  double v = NAN;
  if (sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_type(st, 0) != SQLITE_NULL)
    v = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  return v;
}

static const char *qs(ana_db_t *db, const char *sql) {
  static char buf[512];
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(ana_db_sqlite(db), sql, -1, &st, NULL),
                   SQLITE_OK);
  snprintf(buf, sizeof buf, "<none>");
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, sizeof buf, "%s", t ? (const char *)t : "<null>");
  }
  sqlite3_finalize(st);
  return buf;
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-6)

static void test_contract_views(void **state) {
  ana_db_t *db = *state;
  NEAR(qd(db, "SELECT COUNT(*) FROM run_summary"), 8);
  NEAR(qd(db, "SELECT page_faults FROM run_summary WHERE run_id = 1"), 513);
  NEAR(qd(db, "SELECT hit_rate FROM run_summary WHERE run_id = 6"), 0.5);
  NEAR(qd(db, "SELECT COUNT(*) FROM op_latency WHERE run_id = 1"), 10);
  assert_string_equal(qs(db, "SELECT function FROM site_summary WHERE site = 1"),
                      "make_vm");
  NEAR(qd(db, "SELECT hit_rate FROM site_summary WHERE site = 1"), 0.7);
  NEAR(qd(db, "SELECT COUNT(*) FROM policy_timeline WHERE run_id = 8"), 11);
}

static void test_config_summary(void **state) {
  ana_db_t *db = *state;
  /* 4 configurations with done runs; the failed glibc run is not one. */
  NEAR(qd(db, "SELECT COUNT(*) FROM config_summary"), 4);
  /* mimalloc: 2 repeats, medians of 100 and 120 -> 110 */
  NEAR(qd(db, "SELECT median_ns FROM config_summary WHERE backend = 'mimalloc'"),
       110);
  NEAR(qd(db, "SELECT p99_ns FROM config_summary WHERE backend = 'mimalloc'"), 310);
  NEAR(qd(db, "SELECT page_faults FROM config_summary WHERE backend = 'mimalloc'"),
       513);
  /* elo: 150, 200, 160 -> 160; p99 400, 500, 450 -> 450 */
  NEAR(qd(db, "SELECT median_ns FROM config_summary WHERE policy = 'elo'"), 160);
  NEAR(qd(db, "SELECT p99_ns FROM config_summary WHERE policy = 'elo'"), 450);
  NEAR(qd(db, "SELECT runs FROM config_summary WHERE policy = 'elo'"), 3);
  NEAR(qd(db, "SELECT hit_rate FROM config_summary WHERE policy = 'elo'"), 0.9);
  assert_string_equal(
      qs(db, "SELECT label FROM config_summary WHERE policy = 'static'"),
      "hakmem-baseline");
  assert_string_equal(
      qs(db, "SELECT scenario FROM config_summary WHERE policy = 'static'"), "vm");
  /* elo totals 1500, 2000, 1600 over 10 ops: mean 1700, sd sqrt(70000),
   * 95% CI 1700 +- 4.303 * sd / sqrt(3); median 1600 -> 160 ns/op */
  double sd = sqrt(70000.0), half = 4.303 * sd / sqrt(3.0);
  NEAR(qd(db, "SELECT total_ns_stddev FROM config_summary WHERE policy = 'elo'"),
       sd);
  NEAR(qd(db, "SELECT total_ns_ci_lo FROM config_summary WHERE policy = 'elo'"),
       1700 - half);
  NEAR(qd(db, "SELECT total_ns_ci_hi FROM config_summary WHERE policy = 'elo'"),
       1700 + half);
  NEAR(qd(db, "SELECT total_ns_min FROM config_summary WHERE policy = 'elo'"),
       1500);
  NEAR(qd(db, "SELECT total_ns_max FROM config_summary WHERE policy = 'elo'"),
       2000);
  NEAR(qd(db, "SELECT ns_per_op FROM config_summary WHERE policy = 'elo'"), 160);
  NEAR(qd(db, "SELECT ns_per_op_ci_hi FROM config_summary WHERE policy = 'elo'"),
       (1700 + half) / 10);
  /* mimalloc, 2 repeats: t = 12.706 with 1 degree of freedom */
  NEAR(qd(db, "SELECT total_ns_ci_hi FROM config_summary WHERE backend ="
              " 'mimalloc'"), 1100 + 12.706 * sqrt(20000.0) / sqrt(2.0));
  /* one repeat: no spread, no interval */
  assert_true(isnan(qd(db, "SELECT total_ns_ci_lo FROM config_summary WHERE"
                           " policy = 'static'")));
  assert_true(isnan(qd(db, "SELECT total_ns_stddev FROM config_summary WHERE"
                           " policy = 'static'")));
}

/* Runs timed in different --per-op modes are configurations of their own:
 * config_summary, vs_mimalloc and config_rank compare like with like, and
 * the report names the mode where a trace has more than one. */
static void test_config_summary_per_op(void **state) {
  (void)state;
  char path[256], why[256];
  ana_db_t *db = ana_fixture_open(path, sizeof path, 0);
  assert_non_null(db);
  assert_int_equal(
      ana_db_exec(db,
                  "INSERT INTO traces(trace_id, content_hash, name, path, exe,"
                  " ops, added_at) VALUES (1, '00000000000000cc', 'm.hkt',"
                  " '/tmp/m.hkt', 'gen:m', 100, '2025-01-01T00:00:00Z');"
                  "INSERT INTO runs(run_id, trace_id, backend, policy, seed,"
                  " repeat, touch, per_op, status, started_at, ops, total_ns,"
                  " median_ns) VALUES"
                  " (1, 1, 'glibc', NULL, 1, 0, 'pages', 'all', 'done', 'x',"
                  "  100, 10000, 50),"
                  " (2, 1, 'glibc', NULL, 1, 1, 'pages', 'all', 'done', 'x',"
                  "  100, 12000, 60),"
                  " (3, 1, 'glibc', NULL, 1, 2, 'pages', 'none', 'done', 'x',"
                  "  100, 4000, NULL),"
                  " (4, 1, 'mimalloc', NULL, 1, 0, 'pages', 'all', 'done',"
                  "  'x', 100, 8000, 40),"
                  " (5, 1, 'glibc', NULL, 1, 3, 'pages', 'none', 'failed',"
                  "  'x', NULL, NULL, NULL);",
                  why, sizeof why),
      0);
  /* glibc all, glibc none, mimalloc all */
  NEAR(qd(db, "SELECT COUNT(*) FROM config_summary"), 3);
  /* glibc timed per op: its two runs only (11000 / 100), not the untimed
   * one (a mixed row read 100 ns, the median of 4000, 10000, 12000) */
  NEAR(qd(db, "SELECT ns_per_op FROM config_summary WHERE backend = 'glibc'"
              " AND per_op = 'all'"), 110);
  NEAR(qd(db, "SELECT runs FROM config_summary WHERE backend = 'glibc'"
              " AND per_op = 'all'"), 2);
  NEAR(qd(db, "SELECT ns_per_op FROM config_summary WHERE backend = 'glibc'"
              " AND per_op = 'none'"), 40);
  /* against mimalloc timed the same way; none has no mimalloc run */
  NEAR(qd(db, "SELECT total_ratio FROM vs_mimalloc WHERE backend = 'glibc'"
              " AND per_op = 'all'"), 110.0 / 80.0);
  assert_true(isnan(qd(db, "SELECT total_ratio FROM vs_mimalloc WHERE"
                           " backend = 'glibc' AND per_op = 'none'")));
  /* ranked within the mode: mimalloc first of 'all', glibc alone in
   * 'none' (not ahead of mimalloc's per-op-timed loop) */
  NEAR(qd(db, "SELECT place FROM config_rank WHERE backend = 'mimalloc'"), 1);
  NEAR(qd(db, "SELECT place FROM config_rank WHERE backend = 'glibc' AND"
              " per_op = 'all'"), 2);
  NEAR(qd(db, "SELECT place FROM config_rank WHERE backend = 'glibc' AND"
              " per_op = 'none'"), 1);
  /* the report: a row per mode, named; the failed run counted in its mode */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(ana_report_tables(db, ANA_FMT_MD, f, why, sizeof why), 0);
  fclose(f);
  assert_non_null(strstr(buf, "| glibc (per-op all) | - | 2 | 0 | 110.0"));
  assert_non_null(strstr(buf, "| glibc (per-op none) | - | 1 | 1 | 40.0 | best"));
  assert_non_null(strstr(buf, "| mimalloc (per-op all) | - | 1 | 0 | 80.0 | best"));
  free(buf);
  buf = NULL;
  f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(ana_report_tables(db, ANA_FMT_CSV, f, why, sizeof why), 0);
  fclose(f);
  assert_non_null(strstr(buf, ",hit_rate,per_op\n"));
  assert_non_null(strstr(buf, "m.hkt,glibc,,1,1,40,"));
  assert_non_null(strstr(buf, ",none\n"));
  free(buf);
  ana_db_free(db);
  unlink(path);
}

static void test_config_rank(void **state) {
  ana_db_t *db = *state;
  /* ns/op: mimalloc 110, elo 160, evo 170, static 300 */
  assert_string_equal(qs(db, "SELECT label FROM config_rank WHERE place = 1"),
                      "mimalloc");
  NEAR(qd(db, "SELECT place FROM config_rank WHERE policy = 'static'"), 4);
  /* elo's CI (104.3 .. 235.7) overlaps mimalloc's (-17 .. 237): tied */
  NEAR(qd(db, "SELECT tied FROM config_rank WHERE policy = 'elo'"), 1);
  /* one repeat: no CI, never called tied */
  NEAR(qd(db, "SELECT tied FROM config_rank WHERE policy = 'static'"), 0);
  NEAR(qd(db, "SELECT tied FROM config_rank WHERE backend = 'mimalloc'"), 1);
}

static void test_vs_mimalloc(void **state) {
  ana_db_t *db = *state;
  NEAR(qd(db, "SELECT median_ratio FROM vs_mimalloc WHERE backend = 'mimalloc'"),
       1.0);
  NEAR(qd(db, "SELECT median_ratio FROM vs_mimalloc WHERE policy = 'elo'"),
       160.0 / 110.0);
  /* total ns per op: static 3000 / 10 against mimalloc's median 1100 / 10 */
  NEAR(qd(db, "SELECT vs_mimalloc_pct FROM vs_mimalloc WHERE policy = 'static'"),
       (300.0 / 110.0 - 1) * 100);
  NEAR(qd(db, "SELECT total_ratio FROM vs_mimalloc WHERE policy = 'elo'"),
       160.0 / 110.0);
  NEAR(qd(db, "SELECT faults_ratio FROM vs_mimalloc WHERE policy = 'static'"),
       2.0);
  NEAR(qd(db, "SELECT rss_ratio FROM vs_mimalloc WHERE policy = 'static'"), 1.2);
}

static void test_size_class_latency(void **state) {
  ana_db_t *db = *state;
  /* run 1 mallocs (2 MiB) took 10, 30, 50, 70, 90 ns: nearest rank */
  const char *w = " FROM size_class_latency WHERE run_id = 1 AND kind = 'malloc'";
  char q[256];
  snprintf(q, sizeof q, "SELECT size_class%s", w);
  assert_string_equal(qs(db, q), "2 MiB");
  snprintf(q, sizeof q, "SELECT ops%s", w);
  NEAR(qd(db, q), 5);
  snprintf(q, sizeof q, "SELECT p50_ns%s", w);
  NEAR(qd(db, q), 50);
  snprintf(q, sizeof q, "SELECT p90_ns%s", w);
  NEAR(qd(db, q), 90);
  snprintf(q, sizeof q, "SELECT p99_ns%s", w);
  NEAR(qd(db, q), 90);
  snprintf(q, sizeof q, "SELECT mean_ns%s", w);
  NEAR(qd(db, q), 50);
  /* frees carry the freed block's size: 2 MiB, 20..100 ns -> p50 60 */
  NEAR(qd(db, "SELECT p50_ns FROM size_class_latency WHERE run_id = 1"
              " AND kind = 'free'"), 60);
  assert_string_equal(qs(db, "SELECT size_class FROM size_class_latency WHERE"
                             " run_id = 1 AND kind = 'free'"), "2 MiB");
  NEAR(qd(db, "SELECT COUNT(*) FROM size_class_latency WHERE"
              " size_class = 'size 0'"), 0);
  NEAR(qd(db, "SELECT COUNT(*) FROM size_class_latency"), 4);
  /* size classes: 2 MiB is the top of its class, 2 MiB + 1 the next */
  NEAR(qd(db, "SELECT class FROM size_classes WHERE lo <= 2097152 ORDER BY lo"
              " DESC LIMIT 1"), 21);
  NEAR(qd(db, "SELECT class FROM size_classes WHERE lo <= 2097153 ORDER BY lo"
              " DESC LIMIT 1"), 22);
}

/* The definition of size_class_latency before the aggregate (window
 * functions over every op), kept as the reference the view must match
 * row for row. */
static const char old_size_class_latency[] =
    "CREATE TEMP VIEW old_scl AS "
    "WITH o AS (SELECT o.run_id, o.kind, (SELECT c.class FROM size_classes c"
    " WHERE c.lo <= o.size ORDER BY c.lo DESC LIMIT 1) AS class,"
    " o.latency_ns FROM op_latency o),"
    "rk AS (SELECT run_id, kind, class, latency_ns, ROW_NUMBER() OVER"
    " (PARTITION BY run_id, kind, class ORDER BY latency_ns) AS rn,"
    " COUNT(*) OVER (PARTITION BY run_id, kind, class) AS n FROM o)"
    "SELECT rk.run_id, c.trace, c.backend, c.policy, c.label, rk.kind,"
    " rk.class, sc.label AS size_class, MAX(rk.n) AS ops,"
    " MIN(CASE WHEN rk.rn >= 0.50 * rk.n THEN rk.latency_ns END) AS p50_ns,"
    " MIN(CASE WHEN rk.rn >= 0.90 * rk.n THEN rk.latency_ns END) AS p90_ns,"
    " MIN(CASE WHEN rk.rn >= 0.95 * rk.n THEN rk.latency_ns END) AS p95_ns,"
    " MIN(CASE WHEN rk.rn >= 0.99 * rk.n THEN rk.latency_ns END) AS p99_ns,"
    " AVG(rk.latency_ns) AS mean_ns, MAX(rk.latency_ns) AS max_ns"
    " FROM rk JOIN size_classes sc ON sc.class = rk.class"
    " JOIN run_config c ON c.run_id = rk.run_id"
    " GROUP BY rk.run_id, rk.kind, rk.class;";

/* size_class_latency (hksim_size_class_stats) against the old definition
 * on 3000 ops of 4 kinds over the class edges (0, 1, 16, 17, 4096, 4097,
 * 2 MiB, 2^47 + 1, 2^50) with many tied latencies, two runs: the same
 * rows, the same values, the same order. */
static void test_size_class_latency_old(void **state) {
  (void)state;
  char path[256], why[256];
  ana_db_t *db = ana_fixture_open(path, sizeof path, 0);
  assert_non_null(db);
  assert_int_equal(
      ana_db_exec(db,
                  "INSERT INTO traces(trace_id, content_hash, name, path, exe,"
                  " ops, added_at) VALUES (1, '00000000000000bb', 'e.hkt',"
                  " '/tmp/e.hkt', 'gen:e', 3000, '2025-01-01T00:00:00Z');"
                  "INSERT INTO trace_op_chunk WITH RECURSIVE s(n) AS (SELECT 0"
                  " UNION ALL SELECT n + 1 FROM s WHERE n < 2999)"
                  " SELECT 1, 0, COUNT(*), hksim_pack_ops(n,"
                  " CASE n % 4 WHEN 0 THEN 1 WHEN 1 THEN 5 WHEN 2 THEN 3"
                  " ELSE 7 END, CASE (n * 7) % 9 WHEN 0 THEN 0 WHEN 1 THEN 1"
                  " WHEN 2 THEN 16 WHEN 3 THEN 17 WHEN 4 THEN 4096"
                  " WHEN 5 THEN 4097 WHEN 6 THEN 2097152"
                  " WHEN 7 THEN 140737488355329 ELSE 1125899906842624 END,"
                  " 1, 0, n, 0, 0, 10 * n) FROM s;"
                  "INSERT INTO runs(run_id, trace_id, backend, policy, seed,"
                  " repeat, touch, per_op, status, started_at, ops) VALUES"
                  " (1, 1, 'glibc', NULL, 1, 0, 'pages', 'all', 'done', 'x',"
                  " 3000), (2, 1, 'hakmem', 'elo', 1, 0, 'pages', 'all',"
                  " 'done', 'x', 3000);"
                  "INSERT INTO run_op SELECT 1, seq, (seq * 7919) % 37 * 10"
                  " FROM trace_op;"
                  "INSERT INTO run_op SELECT 2, seq, (seq * 104729) % 1013"
                  " FROM trace_op WHERE seq % 3 <> 0;",
                  why, sizeof why),
      0);
  assert_int_equal(ana_db_exec(db, old_size_class_latency, why, sizeof why), 0);
  /* the classes and kinds the ops fall in: 4 kinds x 7 classes (1 and 16
   * share class 4, 2^47 + 1 and 2^50 class 48) in run 1 */
  NEAR(qd(db, "SELECT COUNT(*) FROM size_class_latency WHERE run_id = 1"), 28);
  NEAR(qd(db, "SELECT COUNT(*) FROM old_scl"),
       qd(db, "SELECT COUNT(*) FROM size_class_latency"));
  NEAR(qd(db, "SELECT COUNT(*) FROM (SELECT * FROM size_class_latency EXCEPT"
              " SELECT * FROM old_scl)"), 0);
  NEAR(qd(db, "SELECT COUNT(*) FROM (SELECT * FROM old_scl EXCEPT"
              " SELECT * FROM size_class_latency)"), 0);
  /* same order as the old GROUP BY (run, kind, class) */
  assert_string_equal(
      qs(db, "SELECT group_concat(run_id || kind || class, ' ') FROM"
             " size_class_latency"),
      qs(db, "SELECT group_concat(run_id || kind || class, ' ') FROM"
             " (SELECT * FROM old_scl ORDER BY run_id, kind, class)"));
  /* one run, filtered (the filter reaches op_latency) */
  NEAR(qd(db, "SELECT SUM(ops) FROM size_class_latency WHERE run_id = 2"),
       2000);
  /* and by hand: run 1, malloc (n % 4 == 0), class 4 (sizes 1 and 16:
   * (n * 7) % 9 in {1, 2}) */
  NEAR(qd(db, "SELECT ops FROM size_class_latency WHERE run_id = 1 AND"
              " kind = 'malloc' AND class = 4"),
       qd(db, "SELECT COUNT(*) FROM trace_op WHERE kind = 1 AND size"
              " BETWEEN 1 AND 16"));
  NEAR(qd(db, "SELECT max_ns FROM size_class_latency WHERE run_id = 1 AND"
              " kind = 'malloc' AND class = 48"),
       qd(db, "SELECT MAX(latency_ns) FROM op_latency WHERE run_id = 1 AND"
              " kind = 'malloc' AND size > 140737488355328"));
  ana_db_free(db);
  unlink(path);
}

static void test_sites(void **state) {
  ana_db_t *db = *state;
  assert_string_equal(qs(db, "SELECT label FROM site_symbols WHERE site = 1"),
                      "make_vm (vm.c:42)");
  /* no symbols row, no module id: found by range, module + offset */
  assert_string_equal(qs(db, "SELECT label FROM site_symbols WHERE site = 2"),
                      "libfoo.so+0x388");
  NEAR(qd(db, "SELECT hit_rate FROM site_hit_rates WHERE run_id = 3 AND"
              " site = 1"), 0.8);
  NEAR(qd(db, "SELECT hit_rate FROM site_bigcache WHERE site = 1"), 0.7);
  NEAR(qd(db, "SELECT runs FROM site_bigcache WHERE site = 1"), 2);
  NEAR(qd(db, "SELECT hit_rate FROM site_bigcache WHERE site = 2"), 1.0);
}

static void test_elo(void **state) {
  ana_db_t *db = *state;
  NEAR(qd(db, "SELECT COUNT(*) FROM elo_ratings WHERE run_id = 3"), 6);
  assert_string_equal(
      qs(db, "SELECT strategy FROM elo_leaderboard WHERE run_id = 3 AND rank = 1"),
      "768K");
  NEAR(qd(db, "SELECT rating FROM elo_leaderboard WHERE run_id = 3 AND rank = 2"),
       1480);
  NEAR(qd(db, "SELECT pulls FROM elo_leaderboard WHERE run_id = 3 AND rank = 1"),
       7);
  NEAR(qd(db, "SELECT chosen FROM elo_leaderboard WHERE run_id = 3 AND arm = 1"),
       1);
  NEAR(qd(db, "SELECT chosen FROM elo_leaderboard WHERE run_id = 3 AND arm = 0"),
       0);
  /* leader arm 0 at op 0, arm 1 from op 5 on */
  NEAR(qd(db, "SELECT final_arm FROM elo_convergence WHERE run_id = 3"), 1);
  NEAR(qd(db, "SELECT converged_seq FROM elo_convergence WHERE run_id = 3"), 5);
  NEAR(qd(db, "SELECT converged_fraction FROM elo_convergence WHERE run_id = 3"),
       0.5);
  NEAR(qd(db, "SELECT leader_changes FROM elo_convergence WHERE run_id = 3"), 1);
  NEAR(qd(db, "SELECT snapshots FROM elo_convergence WHERE run_id = 3"), 3);
}

static void test_lifecycle(void **state) {
  ana_db_t *db = *state;
  NEAR(qd(db, "SELECT COUNT(*) FROM lifecycle_transitions WHERE run_id = 8"), 3);
  assert_string_equal(
      qs(db, "SELECT group_concat(from_name || '>' || to_name || ':' ||"
             " reason_name, ' ') FROM (SELECT * FROM lifecycle_transitions"
             " ORDER BY op_seq)"),
      "LEARN>FROZEN:stable FROZEN>CANARY:canary CANARY>LEARN:degraded");
  assert_string_equal(qs(db, "SELECT final_mode FROM lifecycle_summary"), "LEARN");
  NEAR(qd(db, "SELECT relearns FROM lifecycle_summary WHERE run_id = 8"), 1);
  NEAR(qd(db, "SELECT transitions_seen FROM lifecycle_summary"), 3);
  NEAR(qd(db, "SELECT relearns_per_mop FROM lifecycle_summary"), 1e5);
}

static void test_timelines(void **state) {
  ana_db_t *db = *state;
  NEAR(qd(db, "SELECT hit_rate FROM hit_rate_timeline WHERE run_id = 3 AND"
              " op_seq = 9"), 0.9);
  NEAR(qd(db, "SELECT window_hit_rate FROM hit_rate_timeline WHERE run_id = 3"
              " AND op_seq = 9"), 1.0);
  NEAR(qd(db, "SELECT window_hit_rate FROM hit_rate_timeline WHERE run_id = 3"
              " AND op_seq = 5"), 2.0 / 3.0);
  NEAR(qd(db, "SELECT COUNT(*) FROM rss_over_run WHERE label = 'mimalloc'"), 2);
}

static void test_published(void **state) {
  ana_db_t *db = *state;
  NEAR(qd(db, "SELECT COUNT(*) FROM published"), 15);
  NEAR(qd(db, "SELECT median_ns FROM published_comparison WHERE scenario = 'vm'"
              " AND allocator = 'hakmem-evolving'"), 160);
  NEAR(qd(db, "SELECT pub_median_ns FROM published_comparison WHERE scenario ="
              " 'vm' AND allocator = 'hakmem-evolving'"), 37602);
  /* printed where the source printed it, computed elsewhere */
  NEAR(qd(db, "SELECT pub_vs_mimalloc_pct FROM published_comparison WHERE"
              " scenario = 'vm' AND allocator = 'glibc'"), 200.4);
  NEAR(qd(db, "SELECT pub_vs_mimalloc_pct FROM published_comparison WHERE"
              " scenario = 'mir' AND allocator = 'jemalloc'"), 21.0);
  /* glibc failed: published row, nothing measured */
  assert_true(isnan(qd(db, "SELECT median_ns FROM published_comparison WHERE"
                           " scenario = 'vm' AND allocator = 'glibc'")));
  assert_string_equal(
      qs(db, "SELECT syscalls FROM published_comparison WHERE scenario = 'vm'"
             " AND allocator = 'mimalloc'"),
      "10 mmap + 2 madvise + 5 munmap");
}

/* published_rank_agreement: Kendall's tau of the measured and published
 * orders; vs mimalloc from the medians for --per-op iteration runs. */
static void test_published_rank(void **state) {
  ana_db_t *db = *state;
  char why[256];
  const char *tau = "SELECT kendall_tau FROM published_rank_agreement"
                    " WHERE scenario = 'vm'";
  /* mimalloc 110 < evolving 160 < baseline 300, as published */
  NEAR(qd(db, tau), 1.0);
  NEAR(qd(db, "SELECT allocators FROM published_rank_agreement"), 3);
  assert_string_equal(qs(db, "SELECT measured_per_op FROM"
                             " published_rank_agreement"), "all");
  /* baseline first: 2 of its 3 pairs reversed */
  assert_int_equal(ana_db_exec(db, "UPDATE runs SET median_ns = 100 WHERE"
                                   " run_id = 6", why, sizeof why), 0);
  NEAR(qd(db, tau), -1.0 / 3.0);
  NEAR(qd(db, "SELECT discordant FROM published_rank_agreement"), 2);
  const char *vs = "SELECT vs_mimalloc_pct FROM published_comparison WHERE"
                   " allocator = 'hakmem-baseline' AND scenario = 'vm'";
  NEAR(qd(db, vs), (300.0 / 110.0 - 1) * 100); /* total ns per op */
  assert_int_equal(ana_db_exec(db, "UPDATE runs SET per_op = 'iteration'",
                               why, sizeof why), 0);
  assert_string_equal(qs(db, "SELECT measured_per_op FROM"
                             " published_rank_agreement"), "iteration");
  NEAR(qd(db, vs), (100.0 / 110.0 - 1) * 100); /* medians, as published */
  assert_int_equal(ana_db_exec(db, "UPDATE runs SET per_op = 'all';"
                                   " UPDATE runs SET median_ns = 300 WHERE"
                                   " run_id = 6", why, sizeof why), 0);
  NEAR(qd(db, tau), 1.0);
}

static void test_views_idempotent(void **state) {
  ana_db_t *db = *state;
  char why[256];
  assert_int_equal(ana_db_exec(db, ana_views_sql, why, sizeof why), 0);
  assert_int_equal(ana_db_exec(db, ana_published_sql, why, sizeof why), 0);
  assert_int_equal(ana_db_exec(db, ana_schema_sql, why, sizeof why), 0);
  NEAR(qd(db, "SELECT COUNT(*) FROM published"), 15);
  NEAR(qd(db, "SELECT COUNT(*) FROM size_classes"), 46);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_contract_views),
      cmocka_unit_test(test_config_summary),
      cmocka_unit_test(test_vs_mimalloc),
      cmocka_unit_test(test_config_rank),
      cmocka_unit_test(test_config_summary_per_op),
      cmocka_unit_test(test_size_class_latency),
      cmocka_unit_test(test_size_class_latency_old),
      cmocka_unit_test(test_sites),
      cmocka_unit_test(test_elo),
      cmocka_unit_test(test_lifecycle),
      cmocka_unit_test(test_timelines),
      cmocka_unit_test(test_published),
      cmocka_unit_test(test_published_rank),
      cmocka_unit_test(test_views_idempotent),
  };
  return cmocka_run_group_tests(tests, ana_fixture_setup, ana_fixture_teardown);
}
