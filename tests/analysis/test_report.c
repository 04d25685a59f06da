/* test_report.c: the tables of `hksim report` in each format on the
 * fixture database, diffed against golden files (tests/analysis/golden/;
 * HKSIM_UPDATE_GOLDEN=1 rewrites them). The plots are test_plot.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tables_md),     cmocka_unit_test(test_tables_csv),
      cmocka_unit_test(test_tables_tex),    cmocka_unit_test(test_published_md),
      cmocka_unit_test(test_published_csv), cmocka_unit_test(test_published_tex),
      cmocka_unit_test(test_format_parse),  cmocka_unit_test(test_empty_database),
  };
  return cmocka_run_group_tests(tests, ana_fixture_setup, ana_fixture_teardown);
}
