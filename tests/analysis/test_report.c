/* test_report.c: the tables of `hksim report` in each format on the
 * fixture database, diffed against golden files (tests/analysis/golden/;
 * HKSIM_UPDATE_GOLDEN=1 rewrites them), and the plots: files exist and
 * are non-empty when gnuplot is installed; a missing gnuplot is found
 * missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ana_fixture.h"


static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0;
  *n = 0;
  for (;;) {
    if (*n + 4096 > cap) {
      cap = cap * 2 + 8192;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    size_t k = fread(buf + *n, 1, cap - *n - 1, f);
    *n += k;
    if (k == 0) break;
  }
  buf[*n] = 0;
  fclose(f);
  return buf;
}

typedef int (*report_fn)(ana_db_t *, ana_format_t, FILE *, char *, size_t);

static void golden(ana_db_t *db, report_fn fn, ana_format_t fmt,
                   const char *name) {
  char *out = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&out, &n);
  assert_non_null(f);
  char why[256] = "";
  int rc = fn(db, fmt, f, why, sizeof why);
  fclose(f);
  if (rc) fprintf(stderr, "report: %s\n", why);
  assert_int_equal(rc, 0);
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", ANA_GOLDEN_DIR, name);
  const char *upd = getenv("HKSIM_UPDATE_GOLDEN");
  if (upd && *upd == '1') {
    FILE *g = fopen(path, "wb");
    assert_non_null(g);
    fwrite(out, 1, n, g);
    fclose(g);
  }
  size_t gn = 0;
  char *want = slurp(path, &gn);
  if (!want) fprintf(stderr, "missing golden file %s\n", path);
  assert_non_null(want);
  if (gn != n || memcmp(want, out, n) != 0)
    fprintf(stderr, "%s differs; got:\n%s\n", path, out);
  assert_string_equal(out, want);
  free(want);
  free(out);
}

static void test_tables_md(void **state) {
  golden(*state, ana_report_tables, ANA_FMT_MD, "report.md");
}
static void test_tables_csv(void **state) {
  golden(*state, ana_report_tables, ANA_FMT_CSV, "report.csv");
}
static void test_tables_tex(void **state) {
  golden(*state, ana_report_tables, ANA_FMT_TEX, "report.tex");
}
static void test_published_md(void **state) {
  golden(*state, ana_report_published, ANA_FMT_MD, "published.md");
}
static void test_published_csv(void **state) {
  golden(*state, ana_report_published, ANA_FMT_CSV, "published.csv");
}
static void test_published_tex(void **state) {
  golden(*state, ana_report_published, ANA_FMT_TEX, "published.tex");
}

static void test_format_parse(void **state) {
  ana_format_t f;
  assert_int_equal(ana_format_parse("md", &f), 0);
  assert_int_equal(f, ANA_FMT_MD);
  assert_int_equal(ana_format_parse("tex", &f), 0);
  assert_int_equal(f, ANA_FMT_TEX);
  assert_int_equal(ana_format_parse("csv", &f), 0);
  assert_int_equal(f, ANA_FMT_CSV);
  assert_int_equal(ana_format_parse("html", &f), -1);
  assert_int_equal(ana_format_parse(NULL, &f), -1);
}

static void test_empty_database(void **state) {
  char path[256];
  ana_db_t *db = ana_fixture_open(path, sizeof path, 0);
  assert_non_null(db);
  char *out = NULL, why[256];
  size_t n;
  FILE *f = open_memstream(&out, &n);
  assert_int_equal(ana_report_tables(db, ANA_FMT_MD, f, why, sizeof why), 0);
  fclose(f);
  assert_string_equal(out, "_No runs in this database._\n");
  free(out);
  ana_db_free(db);
  unlink(path);
}

static off_t file_size(const char *dir, const char *name) {
  char p[1024];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &sb) == 0 ? sb.st_size : -1;
}

static void test_plots(void **state) {
  char gp[4096];
  unsetenv("HKSIM_GNUPLOT");
  const char *g = ana_gnuplot_find(gp, sizeof gp);
  if (!g) skip(); /* gnuplot not installed: test_gnuplot_missing covers it */
  char dir[] = "/tmp/hksim-ana-plots-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char sub[256];
  snprintf(sub, sizeof sub, "%s/plots", dir); /* created by ana_plot_all */
  ana_plot_stats_t st;
  char why[512] = "";
  int rc = ana_plot_all(*state, sub, g, &st, why, sizeof why);
  if (rc) fprintf(stderr, "plots: %s\n", why);
  assert_int_equal(rc, 0);
  /* cdf, rss, hit rate of vm.hkt and the ELO ratings of run 3 */
  assert_int_equal(st.plots, 4);
  const char *names[] = {"cdf-vm.hkt", "rss-vm.hkt", "hitrate-vm.hkt",
                         "elo-vm.hkt-hakmem-evolving-run3"};
  char f[512];
  for (size_t i = 0; i < HK_ARRAY_LEN(names); i++) {
    const char *ext[] = {"svg", "png", "gp", "dat"};
    for (size_t k = 0; k < 4; k++) {
      snprintf(f, sizeof f, "%s.%s", names[i], ext[k]);
      off_t sz = file_size(sub, f);
      if (sz <= 0) fprintf(stderr, "%s/%s: size %lld\n", sub, f, (long long)sz);
      assert_true(sz > 0);
      char p[1024];
      snprintf(p, sizeof p, "%s/%s", sub, f);
      unlink(p);
    }
  }
  snprintf(f, sizeof f, "%s/gnuplot.log", sub);
  unlink(f);
  assert_int_equal(rmdir(sub), 0);
  assert_int_equal(rmdir(dir), 0);
}

static void test_gnuplot_missing(void **state) {
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
  char dir[] = "/tmp/hksim-ana-fail-XXXXXX";
  assert_non_null(mkdtemp(dir));
  ana_plot_stats_t st;
  char why[512] = "";
  assert_int_equal(ana_plot_all(*state, dir, "/bin/false", &st, why, sizeof why),
                   HK_E_CHILD);
  assert_non_null(strstr(why, "gnuplot failed on"));
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tables_md),     cmocka_unit_test(test_tables_csv),
      cmocka_unit_test(test_tables_tex),    cmocka_unit_test(test_published_md),
      cmocka_unit_test(test_published_csv), cmocka_unit_test(test_published_tex),
      cmocka_unit_test(test_format_parse),  cmocka_unit_test(test_empty_database),
      cmocka_unit_test(test_plots),         cmocka_unit_test(test_gnuplot_missing),
      cmocka_unit_test(test_gnuplot_fails),
  };
  return cmocka_run_group_tests(tests, ana_fixture_setup, ana_fixture_teardown);
}
