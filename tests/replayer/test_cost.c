/* test_cost.c: the cost of preparing a trace, said and judged before
 * preparing it (replayer/rpl_cost.c, trc_estimate): the event count is
 * what prepare meets, a cut trace is counted up to its damage, a trace
 * that expands beyond any recording is refused (unless the limit is off),
 * and a program that cannot fit on disk is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "replayer.h"
#include "trc.h"

static char dir[64], path[128], cut[128];

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/hksim-cost-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(path, sizeof path, "%s/t.hkt", dir);
  snprintf(cut, sizeof cut, "%s/cut.hkt", dir);
  trc_gen_opts_t o = {3, 2.0};
  return trc_gen("mixed", path, &o);
}

static int teardown(void **state) {
  (void)state;
  unlink(path);
  unlink(cut);
  return rmdir(dir);
}

static void test_estimate_counts_what_prepare_reads(void **state) {
  (void)state;
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, 0);
  rpl_cost_t c;
  assert_int_equal(rpl_cost_estimate(path, &c), 0);
  assert_true(c.est.events > 1000);
  assert_true(c.est.events == s.events);
  assert_true(c.est.event_chunks == s.event_chunks);
  assert_true(c.est.file_bytes == s.file_bytes);
  assert_int_equal(c.est.damaged, 0);
  assert_int_equal(c.est.threads, 1);
  assert_true(c.program_bytes == c.est.events * sizeof(trc_pop_t));
  assert_true(c.db_bytes == c.est.events * RPL_COST_DB_BYTES_PER_OP);
  char text[256];
  rpl_cost_text(&c, text, sizeof text);
  char want[64];
  snprintf(want, sizeof want, "%llu events: about ",
           (unsigned long long)c.est.events);
  assert_non_null(strstr(text, want));
  assert_non_null(strstr(text, "of prepared program"));

  /* Cut in the middle of the events: counted up to the damage, as
   * prepare reads it. */
  FILE *in = fopen(path, "rb"), *out = fopen(cut, "wb");
  assert_true(in && out);
  char buf[4096];
  size_t want_bytes = (size_t)(s.file_bytes * 2 / 3), n, done = 0;
  while (done < want_bytes && (n = fread(buf, 1, sizeof buf, in)) > 0) {
    if (n > want_bytes - done) n = want_bytes - done;
    fwrite(buf, 1, n, out);
    done += n;
  }
  fclose(in);
  fclose(out);
  assert_int_equal(rpl_cost_estimate(cut, &c), 0);
  assert_int_equal(c.est.damaged, 1);
  assert_true(c.est.events < s.events);
  trc_prep_stats_t ps;
  trc_prepare_opts_t po = {NULL, NULL, 0};
  assert_int_equal(trc_prepare(cut, &po, &ps), 0);
  assert_true(ps.damaged);
  assert_true(c.est.events == ps.events);
  assert_true(c.est.damage_offset == ps.damage_offset);

  /* Not a trace: the open error. */
  assert_int_equal(rpl_cost_estimate("/nonexistent/x.hkt", &c), -2);
}

static void test_judge(void **state) {
  (void)state;
  char why[400];
  rpl_cost_t c;
  memset(&c, 0, sizeof c);
  /* The bomb: 33.5 M events in 60 KB. */
  c.est.events = 33554432;
  c.est.file_bytes = 60562;
  c.program_bytes = c.est.events * 32;
  c.db_bytes = c.est.events * RPL_COST_DB_BYTES_PER_OP;
  c.prepare_s = 20;
  c.store_s = 105;
  assert_int_equal(rpl_cost_judge(&c, 64, NULL, why, sizeof why), HK_E_RANGE);
  assert_non_null(strstr(why, "60562 bytes decode to 33554432 events (554 per byte"));
  assert_non_null(strstr(why, "1.0 GiB of prepared program"));
  assert_non_null(strstr(why, "2.1 min"));
  assert_non_null(strstr(why, "--max-expansion none"));
  assert_null(strchr(why, '\n'));
  /* The limit off, or above the ratio: accepted. */
  assert_int_equal(rpl_cost_judge(&c, 0, NULL, why, sizeof why), 0);
  assert_int_equal(rpl_cost_judge(&c, 555, NULL, why, sizeof why), 0);
  assert_int_equal(rpl_cost_judge(&c, 554, NULL, why, sizeof why), HK_E_RANGE);
  /* Few events are cheap whatever the ratio. */
  c.est.events = RPL_COST_MIN_EVENTS - 1;
  c.est.file_bytes = 100;
  assert_int_equal(rpl_cost_judge(&c, 64, NULL, why, sizeof why), 0);
  /* A recording's ratio (1.4 bytes per event) is never refused. */
  c.est.events = 300000000;
  c.est.file_bytes = 420000000;
  assert_int_equal(rpl_cost_judge(&c, 64, NULL, why, sizeof why), 0);
  /* A program that cannot fit where it goes: /proc has no free space. */
  c.est.events = 1000;
  c.est.file_bytes = 2000;
  c.program_bytes = 32000;
  assert_int_equal(rpl_cost_judge(&c, 64, "/proc", why, sizeof why), HK_E_RANGE);
  assert_non_null(strstr(why, "need 31.2 KiB for the prepared program in /proc"));
  assert_int_equal(rpl_cost_judge(&c, 64, dir, why, sizeof why), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_estimate_counts_what_prepare_reads),
      cmocka_unit_test(test_judge),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
