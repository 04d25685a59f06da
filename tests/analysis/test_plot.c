/* test_plot.c: the plots of ana_plot.c on a hand-built database whose
 * expected series are worked out below: which plots and curves are drawn
 * (the data files and scripts, not the pixels), the 0 ns readings and the
 * x ranges of the CDF and CCDF, the bar chart's means and CIs, size-class
 * percentiles, net RSS beside live bytes, arm shares, the fewer-than-3-
 * points rule, null left out unless named, and unique series looks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "ana_fixture.h"

/* Trace 1 (t.hkt), 40 ops: seq 0..19 malloc of 16 << (seq % 6) bytes
 * (classes 4..9), seq 20..39 free (size 0). Runs: glibc x3 (1-3),
 * tcmalloc x3 (4-6), mimalloc (7), null (8), hakmem ucb1 (9); timer
 * resolution 10 ns. Latencies of the first run of each:
 *   glibc  (1): seq % 4 == 0 -> 0 ns, else 10 * seq
 *   tcmalloc (4): 20 + seq; mimalloc (7): 5 * seq; null (8): 1;
 *   hakmem (9): 100 + seq.
 * total_ns / ops: glibc 10, 11, 12; tcmalloc 20, 20, 22; mimalloc 30;
 * null 2.5; hakmem 50. RSS: glibc 4 samples (base 1 MiB), tcmalloc 2,
 * hakmem 3. ucb1 pulls (arm 0, arm 1) at ops 0, 10, 20, 39: (0,0),
 * (6,4), (8,12), (10,30); sites adopted 1 and 3. Hit rate: 2 snapshots. */
static const char plot_sql[] =
    "INSERT INTO traces(trace_id, content_hash, name, path, exe, ops,"
    " added_at) VALUES (1, '00000000000000bb', 't.hkt', '/tmp/t.hkt',"
    " 'gen:t', 40, '2025-01-01T00:00:00Z');"
    "INSERT INTO trace_op_chunk WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL"
    " SELECT n + 1 FROM s WHERE n < 39) SELECT 1, 0, COUNT(*),"
    " hksim_pack_ops(n, CASE WHEN n < 20 THEN 1 ELSE 5 END, CASE WHEN"
    " n < 20 THEN 16 << (n % 6) ELSE 0 END, 1, 0, n % 20, 0, 0, 1000 * n)"
    " FROM s;"
    "INSERT INTO runs(run_id, trace_id, backend, policy, seed, repeat, touch,"
    " per_op, status, started_at, ops, total_ns, median_ns,"
    " timer_resolution_ns, base_rss_bytes) VALUES"
    " (1, 1, 'glibc', NULL, 1, 0, 'pages', 'all', 'done', 'x', 40, 400, 10,"
    "  10, 1048576),"
    " (2, 1, 'glibc', NULL, 1, 1, 'pages', 'all', 'done', 'x', 40, 440, 10,"
    "  10, 1048576),"
    " (3, 1, 'glibc', NULL, 1, 2, 'pages', 'all', 'done', 'x', 40, 480, 10,"
    "  10, 1048576),"
    " (4, 1, 'tcmalloc', NULL, 1, 0, 'pages', 'all', 'done', 'x', 40, 800,"
    "  20, 10, 0),"
    " (5, 1, 'tcmalloc', NULL, 1, 1, 'pages', 'all', 'done', 'x', 40, 800,"
    "  20, 10, 0),"
    " (6, 1, 'tcmalloc', NULL, 1, 2, 'pages', 'all', 'done', 'x', 40, 880,"
    "  20, 10, 0),"
    " (7, 1, 'mimalloc', NULL, 1, 0, 'pages', 'all', 'done', 'x', 40, 1200,"
    "  50, 10, 0),"
    " (8, 1, 'null', NULL, 1, 0, 'pages', 'all', 'done', 'x', 40, 100, 1,"
    "  10, 0),"
    " (9, 1, 'hakmem', 'ucb1', 1, 0, 'pages', 'all', 'done', 'x', 40, 2000,"
    "  110, 10, 0);"
    "INSERT INTO run_op SELECT 1, seq, CASE WHEN seq % 4 = 0 THEN 0 ELSE"
    " 10 * seq END FROM trace_op;"
    "INSERT INTO run_op SELECT 4, seq, 20 + seq FROM trace_op;"
    "INSERT INTO run_op SELECT 7, seq, 5 * seq FROM trace_op;"
    "INSERT INTO run_op SELECT 8, seq, 1 FROM trace_op;"
    "INSERT INTO run_op SELECT 9, seq, 100 + seq FROM trace_op;"
    "INSERT INTO rss_timeline VALUES (1, 0, 1048576, 0),"
    " (1, 10, 2097152, 1048576), (1, 20, 3145728, 2097152),"
    " (1, 40, 2097152, 0), (4, 0, 1048576, 0), (4, 40, 2097152, 0),"
    " (9, 0, 1048576, 0), (9, 20, 3145728, 2097152), (9, 40, 2097152, 0),"
    " (8, 0, 1048576, 0), (8, 20, 3145728, 2097152), (8, 40, 4194304, 0);"
    "INSERT INTO policy_events(run_id, op_seq, arm, metric, value) VALUES"
    " (9, 0, 0, 'pulls', 0), (9, 0, 1, 'pulls', 0),"
    " (9, 10, 0, 'pulls', 6), (9, 10, 1, 'pulls', 4),"
    " (9, 20, 0, 'pulls', 8), (9, 20, 1, 'pulls', 12),"
    " (9, 39, 0, 'pulls', 10), (9, 39, 1, 'pulls', 30),"
    " (9, 0, 0, 'threshold', 65536), (9, 0, 1, 'threshold', 131072),"
    " (9, 10, 0, 'threshold', 65536), (9, 10, 1, 'threshold', 131072),"
    " (9, 20, 0, 'threshold', 65536), (9, 20, 1, 'threshold', 131072),"
    " (9, 39, 0, 'threshold', 65536), (9, 39, 1, 'threshold', 131072),"
    " (9, 39, 0, 'sites_adopted', 1), (9, 39, 1, 'sites_adopted', 3),"
    " (9, 20, NULL, 'cache_hits', 1), (9, 20, NULL, 'cache_misses', 1),"
    " (9, 39, NULL, 'cache_hits', 3), (9, 39, NULL, 'cache_misses', 1);";

static char db_path[256];

static int setup(void **state) {
  ana_db_t *db = ana_fixture_open(db_path, sizeof db_path, 0);
  char why[256];
  if (!db) return -1;
  if (ana_db_exec(db, plot_sql, why, sizeof why)) {
    fprintf(stderr, "fixture: %s\n", why);
    ana_db_free(db);
    return -1;
  }
  *state = db;
  return 0;
}

static int teardown(void **state) {
  ana_db_free(*state);
  unlink(db_path);
  return 0;
}

static char *slurp(const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static int exists(const char *dir, const char *name) {
  char path[1024];
  struct stat sb;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return stat(path, &sb) == 0 && sb.st_size > 0;
}

static void has(const char *text, const char *want) {
  if (!strstr(text, want)) fprintf(stderr, "missing '%s' in:\n%s\n", want, text);
  assert_non_null(strstr(text, want));
}

static void lacks(const char *text, const char *bad) {
  if (strstr(text, bad)) fprintf(stderr, "unexpected '%s' in:\n%s\n", bad, text);
  assert_null(strstr(text, bad));
}

/* The linetype of the series titled "label..." in a script, or -1. */
static int lt_of(const char *gp, const char *label) {
  char key[160];
  snprintf(key, sizeof key, "title \"%s", label);
  const char *t = strstr(gp, key);
  if (!t) return -1;
  const char *lt = t;
  while (lt > gp && strncmp(lt, " lt ", 4) != 0) lt--;
  return atoi(lt + 4);
}

typedef struct run_out {
  char dir[64];
  char *notes;
  size_t notes_len;
  ana_plot_stats_t st;
} run_out_t;

static const char *gnuplot_or_skip(char *gp, size_t len) {
  unsetenv("HKSIM_GNUPLOT");
  return ana_gnuplot_find(gp, len);
}

static void plot(ana_db_t *db, const char *const *be, size_t n_be,
                 run_out_t *r) {
  char gp[4096];
  const char *g = gnuplot_or_skip(gp, sizeof gp);
  if (!g) skip(); /* gnuplot not installed: test_gnuplot_missing covers it */
  snprintf(r->dir, sizeof r->dir, "/tmp/hksim-plot-XXXXXX");
  assert_non_null(mkdtemp(r->dir));
  FILE *notes = open_memstream(&r->notes, &r->notes_len);
  assert_non_null(notes);
  ana_plot_opts_t o = {be, n_be, notes, 0};
  char why[512] = "";
  int rc = ana_plot_all(db, r->dir, g, &o, &r->st, why, sizeof why);
  fclose(notes);
  if (rc) fprintf(stderr, "plots: %s\n", why);
  assert_int_equal(rc, 0);
}

static void done(run_out_t *r) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
  assert_int_equal(system(cmd), 0);
  free(r->notes);
}

static void test_default_plots(void **state) {
  run_out_t r;
  plot(*state, NULL, 0, &r);
  /* cdf, ccdf, sizes, bars, rss, arms; the hit rate has 2 snapshots */
  assert_int_equal(r.st.plots, 6);
  assert_true(r.st.pdf == 0 || r.st.pdf == r.st.plots);
  const char *names[] = {"cdf-t.hkt", "ccdf-t.hkt", "sizes-t.hkt",
                         "bars-t.hkt", "rss-t.hkt",
                         "arms-t.hkt-hakmem-ucb1-run9"};
  for (size_t i = 0; i < HK_ARRAY_LEN(names); i++) {
    const char *ext[] = {"gp", "dat", "svg", "png", "pdf"};
    for (size_t k = 0; k < (r.st.pdf ? 5 : 4); k++) {
      char f[256];
      snprintf(f, sizeof f, "%s.%s", names[i], ext[k]);
      if (!exists(r.dir, f)) fprintf(stderr, "missing %s/%s\n", r.dir, f);
      assert_true(exists(r.dir, f));
    }
  }
  assert_false(exists(r.dir, "hitrate-t.hkt.gp"));
  has(r.notes, "hitrate-t.hkt skipped: no curve has 3 points or more (at "
               "most 2)");
  has(r.notes, "rss-t.hkt: left out, fewer than 3 points: tcmalloc (2 "
               "points)\n");

  /* CDF: alloc and free panels, null left out; glibc's 0 ns readings
   * (5 of 20 in each kind) drawn at the 10 ns resolution; x from a little
   * left of the least x (mimalloc reads 5 ns) to the largest p99.9
   * (glibc's free max, 390 ns). */
  char *gp = slurp(r.dir, "cdf-t.hkt.gp");
  assert_non_null(gp);
  has(gp, "title \"glibc (0 ns: 25.0%)\"");
  has(gp, "title \"tcmalloc\"");
  has(gp, "title \"mimalloc (0 ns: 5.0%)\"");
  has(gp, "title \"hakmem-ucb1\"");
  lacks(gp, "null");
  has(gp, "set xrange [3.125:390]");
  has(gp, "set title \"alloc\"");
  has(gp, "set title \"free\"");
  lacks(gp, "set title \"realloc\"");
  int glibc = lt_of(gp, "glibc"), tc = lt_of(gp, "tcmalloc");
  assert_true(glibc > 0 && tc > 0 && glibc != tc);
  /* the looks: 16 linetypes, no two alike */
  char seen[16][64];
  for (int k = 1; k <= 16; k++) {
    char key[32];
    snprintf(key, sizeof key, "set linetype %d lc", k);
    const char *l = strstr(gp, key);
    assert_non_null(l);
    const char *e = strchr(l, '\n');
    const char *rgb = strstr(l, "rgb"), *pt = strstr(l, " pt ");
    assert_true(rgb && pt && pt < e);
    snprintf(seen[k - 1], sizeof seen[k - 1], "%.*s", (int)(pt - rgb), rgb);
    for (int j = 0; j < k - 1; j++) assert_string_not_equal(seen[j], seen[k - 1]);
  }
  free(gp);
  char *dat = slurp(r.dir, "cdf-t.hkt.dat");
  assert_non_null(dat);
  /* glibc allocs: 0 (x5) -> 10 ns at 0.25, then 10 ns (seq 1) at 0.3 */
  has(dat, "# alloc glibc run 1\n10 0.25\n10 0.3\n");
  has(dat, "# free glibc run 1\n");
  lacks(dat, "\n0.5 "); /* no clamping of 0 ns at 0.5 ns */
  /* mimalloc's one 0 ns alloc sits at its least reading, 5 ns */
  has(dat, "# alloc mimalloc run 7\n5 0.05\n5 0.1\n");
  lacks(dat, "null");
  free(dat);

  /* CCDF: P(X >= x), to the largest op */
  gp = slurp(r.dir, "ccdf-t.hkt.gp");
  has(gp, "set logscale xy");
  has(gp, "set xrange [3.125:390]");
  has(gp, "fsteps");
  free(gp);
  dat = slurp(r.dir, "ccdf-t.hkt.dat");
  has(dat, "# alloc glibc run 1\n10 1\n10 0.75\n");
  free(dat);

  /* sizes: class 4 (16 B) of glibc holds seq 0, 6, 12, 18: 0, 60, 0,
   * 180 ns: p50 (nearest rank 2) 0, p99 180; class 5 (32 B) seq 1, 7, 13,
   * 19: p50 70; frees carry no size */
  gp = slurp(r.dir, "sizes-t.hkt.gp");
  has(gp, "frees carry no size in this database: allocs only");
  has(gp, "\"16 B\" 16");
  free(gp);
  dat = slurp(r.dir, "sizes-t.hkt.dat");
  has(dat, "# alloc glibc run 1: size_class_bytes p50_ns p99_ns ops\n"
           "16 0 180 4\n32 70 190 4\n");
  lacks(dat, "# free");
  free(dat);

  /* bars: by mean ns/op, glibc 11 with the t-CI 11 -+ 4.303 / sqrt(3) */
  dat = slurp(r.dir, "bars-t.hkt.dat");
  has(dat, "# glibc: x mean ci_lo ci_hi\n0 11 8.51566 13.4843\n");
  has(dat, "# tcmalloc: x mean ci_lo ci_hi\n1 20.6667");
  has(dat, "# hakmem-ucb1: x mean ci_lo ci_hi\n3 50 50 50\n");
  lacks(dat, "null");
  free(dat);
  gp = slurp(r.dir, "bars-t.hkt.gp");
  has(gp, "hakmem-ucb1\\n1 run, no CI");
  free(gp);

  /* RSS net of the 1 MiB base, live bytes drawn once from glibc's block */
  dat = slurp(r.dir, "rss-t.hkt.dat");
  has(dat, "# glibc run 1: op net_rss_MiB live_MiB\n0 0.0000 0.0000\n"
           "10 1.0000 1.0000\n20 2.0000 2.0000\n");
  free(dat);
  gp = slurp(r.dir, "rss-t.hkt.gp");
  has(gp, "index 0 using 1:3 with lines lt 17 title \"live bytes");
  lacks(gp, "title \"tcmalloc\"");
  has(gp, "title \"hakmem-ucb1\"");
  free(gp);

  /* arms: window shares (6/10, 2/10, 2/20 for arm 0), site shares */
  dat = slurp(r.dir, "arms-t.hkt-hakmem-ucb1-run9.dat");
  has(dat, "# arm 0 (64 KiB): op window_share site_share\n0 NaN NaN\n"
           "10 0.600000 NaN\n20 0.200000 NaN\n39 0.100000 0.250000\n");
  has(dat, "39 0.900000 0.750000\n");
  free(dat);
  done(&r);
}

static void test_null_by_name(void **state) {
  const char *be[] = {"null", "glibc", "nosuch"};
  run_out_t r;
  plot(*state, be, 3, &r);
  char *gp = slurp(r.dir, "cdf-t.hkt.gp");
  assert_non_null(gp);
  has(gp, "title \"null\"");
  has(gp, "title \"glibc (0 ns: 25.0%)\"");
  lacks(gp, "tcmalloc");
  free(gp);
  gp = slurp(r.dir, "rss-t.hkt.gp");
  has(gp, "title \"null\"");
  free(gp);
  /* two bars are fewer than 3 points: skipped, and said */
  assert_false(exists(r.dir, "bars-t.hkt.gp"));
  has(r.notes, "bars-t.hkt skipped: 2 configurations, fewer than 3 bars");
  has(r.notes, "back end 'nosuch' has no done runs in this database");
  /* cdf, ccdf, sizes, rss */
  assert_int_equal(r.st.plots, 4);
  done(&r);
}

static void test_arm_shares_view(void **state) {
  sqlite3 *db = ana_db_sqlite(*state);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT window_share, cum_share,"
                                      " site_share, threshold_bytes,"
                                      " window_pulls FROM policy_arm_shares"
                                      " WHERE run_id = 9 AND op_seq = 20"
                                      " AND arm = 1",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_float_equal(sqlite3_column_double(st, 0), 0.8, 1e-12);
  assert_float_equal(sqlite3_column_double(st, 1), 0.6, 1e-12);
  assert_int_equal(sqlite3_column_type(st, 2), SQLITE_NULL);
  assert_int_equal(sqlite3_column_int(st, 3), 131072);
  assert_int_equal(sqlite3_column_int(st, 4), 8);
  sqlite3_finalize(st);
}

static void test_gnuplot_missing(void **state) {
  (void)state;
  char gp[4096];
  setenv("HKSIM_GNUPLOT", "/nonexistent/gnuplot", 1);
  assert_null(ana_gnuplot_find(gp, sizeof gp));
  setenv("HKSIM_GNUPLOT", "gnuplot-that-is-not-there", 1);
  assert_null(ana_gnuplot_find(gp, sizeof gp));
  assert_non_null(strstr(gp, "not in PATH"));
  unsetenv("HKSIM_GNUPLOT");
}

static void test_gnuplot_fails(void **state) {
  /* A "gnuplot" that fails: one error naming the script, no crash. */
  char dir[] = "/tmp/hksim-plot-fail-XXXXXX";
  assert_non_null(mkdtemp(dir));
  ana_plot_stats_t st;
  char why[512] = "";
  assert_int_equal(
      ana_plot_all(*state, dir, "/bin/false", NULL, &st, why, sizeof why),
      HK_E_CHILD);
  assert_non_null(strstr(why, "gnuplot failed on"));
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_out_not_a_directory(void **state) {
  char path[] = "/tmp/hksim-plot-file-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  ana_plot_stats_t st;
  char why[512] = "";
  assert_int_equal(
      ana_plot_all(*state, path, "/bin/true", NULL, &st, why, sizeof why),
      -ENOTDIR);
  assert_non_null(strstr(why, "not a directory"));
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_plots),
      cmocka_unit_test(test_null_by_name),
      cmocka_unit_test(test_arm_shares_view),
      cmocka_unit_test(test_gnuplot_missing),
      cmocka_unit_test(test_gnuplot_fails),
      cmocka_unit_test(test_out_not_a_directory),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
