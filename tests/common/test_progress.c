/* test_progress.c: common/hk_progress: the line's phase, count, percent,
 * rate and ETA; nothing at all when off; the end line kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hk_progress.h"

static void test_text(void **state) {
  (void)state;
  hk_progress_t p;
  hk_progress_begin(&p, 1, "/tmp/dir/x.hkt", "preparing", "ops", 1000);
  char line[200];
  /* 250 of 1000 in 10 s: 25 ops/s, 750 left: 30 s. */
  hk_progress_text(&p, 250, p.t0 + 10000000000ull, line, sizeof line);
  assert_string_equal(line, "x.hkt: preparing 250/1000 ops (25%), 25 ops/s, ETA 0:30");
  /* Done: no ETA. */
  hk_progress_text(&p, 1000, p.t0 + 20000000000ull, line, sizeof line);
  assert_string_equal(line, "x.hkt: preparing 1000/1000 ops (100%), 50 ops/s");
  /* Unknown total: a count and a rate only. */
  hk_progress_begin(&p, 1, NULL, "storing", "rows", 0);
  hk_progress_text(&p, 90, p.t0 + 3000000000ull, line, sizeof line);
  assert_string_equal(line, "storing 90 rows, 30 rows/s");
  /* Minutes. */
  hk_progress_begin(&p, 1, "db", "merging", "runs", 10000);
  hk_progress_text(&p, 100, p.t0 + 1000000000ull, line, sizeof line);
  assert_string_equal(line, "db: merging 100/10000 runs (1%), 100 runs/s, ETA 1:39");
}

static void test_output(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  hk_progress_t p;
  /* Off: nothing, whatever is called. */
  hk_progress_begin(&p, 0, "x", "preparing", "ops", 10);
  p.f = f;
  p.last = 0;
  hk_progress_update(&p, 5);
  hk_progress_end(&p, 10);
  fflush(f);
  assert_int_equal(len, 0);
  /* On: an update redraws once its interval passed; the end line stays. */
  hk_progress_begin(&p, 1, "x", "preparing", "ops", 10);
  p.f = f;
  hk_progress_update(&p, 1); /* within the first interval: not drawn */
  fflush(f);
  assert_int_equal(len, 0);
  p.last -= 1000000000ull; /* as if a second passed */
  hk_progress_update(&p, 5);
  hk_progress_update(&p, 6); /* rate-limited: not drawn */
  hk_progress_end(&p, 10);
  fclose(f);
  assert_non_null(strstr(buf, "\r\033[Kx: preparing 5/10 ops (50%)"));
  assert_null(strstr(buf, "preparing 6/10"));
  assert_non_null(strstr(buf, "\r\033[Kx: preparing 10 ops in "));
  assert_int_equal(buf[strlen(buf) - 1], '\n');
  free(buf);
  hk_progress_update(NULL, 1); /* no bar: a no-op */
  assert_int_equal(hk_progress_wanted(1), 1);
  assert_int_equal(hk_progress_wanted(0), 0);
}

/* show draws at once (a phase that cannot count as it goes), even inside
 * the redraw interval; off, it draws nothing. */
static void test_show(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  hk_progress_t p;
  hk_progress_begin(&p, 0, "t.hkt", "attributing", "ops", 400);
  p.f = f;
  hk_progress_show(&p, 0);
  fflush(f);
  assert_int_equal(len, 0);
  hk_progress_begin(&p, 1, "t.hkt", "attributing", "ops", 400);
  p.f = f;
  hk_progress_show(&p, 0);
  fclose(f);
  assert_string_equal(buf, "\r\033[Kt.hkt: attributing 0/400 ops (0%)");
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_output),
      cmocka_unit_test(test_show),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
