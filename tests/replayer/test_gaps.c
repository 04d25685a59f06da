/* test_gaps.c: --gaps (rpl_exec.c): the replay spends the recorded time
 * between ops (trc_pop_t.time_ns), scaled, capped at RPL_GAP_CAP_NS a gap,
 * in a busy loop over a buffer; serial replay spends the program's gaps,
 * threaded replay each thread's own. The loop time must hold at least the
 * gaps (the deadline is on the TSC, so a loaded machine only lengthens
 * it); the bounds above are far from the expected values. And the --gaps
 * argument parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replayer.h"

#define N 2000
#define STEP_NS 20000ull /* 20 us between ops */

/* Two threads, each mallocs a block and frees it on its next op; op i at
 * i * STEP_NS, alternating threads, so each thread's own gaps are 2 *
 * STEP_NS and the program's STEP_NS. With big_gap, op N/2 comes 200 ms
 * late (a thread that slept: capped). */
static void make(trc_pop_t *ops, int big_gap) {
  memset(ops, 0, N * sizeof *ops);
  uint64_t t = 0;
  for (unsigned i = 0; i < N; i++) {
    trc_pop_t *o = &ops[i];
    o->thread = (uint16_t)(i & 1);
    o->slot = i & 1;
    o->op = (i / 2) % 2 == 0 ? TRC_OP_MALLOC : TRC_OP_FREE;
    o->size = o->op == TRC_OP_MALLOC ? 64 + i % 100 : 0;
    if (big_gap && i == N / 2) t += 200000000ull;
    o->time_ns = t;
    t += STEP_NS;
  }
}

static uint64_t run(const trc_pop_t *ops, double scale, uint64_t ws,
                    int threaded) {
  rpl_exec_cfg_t ec = {.backend = rpl_backend_find("glibc"),
                       .be = {.threads = 2, .seed = 1},
                       .touch = RPL_TOUCH_CHECK,
                       .tsc_hz = 0,
                       .threaded = threaded,
                       .gap_scale = scale,
                       .gap_ws = ws};
  rpl_result_t r;
  assert_int_equal(rpl_exec(&ec, ops, N, 2, &r), 0);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.ops, N);
  assert_int_equal(r.replay_threads, threaded ? 2 : 1);
  uint64_t ns = r.total_ns;
  rpl_result_release(&r);
  return ns;
}

static void test_serial_spends_the_gaps(void **state) {
  trc_pop_t *ops = calloc(N, sizeof *ops);
  make(ops, 0);
  uint64_t want = (N - 1) * STEP_NS; /* 40 ms */
  /* The upper bounds take the least of 3 runs: a loaded machine can
   * preempt one run for longer than its whole loop, never all three
   * (CI's sanitizer stage failed 'none < want / 4' once at load 24). */
  uint64_t none = UINT64_MAX, quarter = UINT64_MAX;
  for (int i = 0; i < 3; i++) {
    uint64_t a = run(ops, 0, 0, 0), b = run(ops, 0.25, 0, 0);
    none = a < none ? a : none;
    quarter = b < quarter ? b : quarter;
  }
  uint64_t full = run(ops, 1, 256 << 10, 0);
  assert_true(none < want / 4); /* 2000 mallocs and frees: far below */
  assert_true(full >= want * 95 / 100);
  assert_true(quarter >= want / 4 * 95 / 100);
  assert_true(quarter < full); /* a quarter of it (10 ms against 40) */
  free(ops);
}

static void test_gap_is_capped(void **state) {
  trc_pop_t *ops = calloc(N, sizeof *ops);
  make(ops, 1);
  uint64_t want = (N - 2) * STEP_NS + RPL_GAP_CAP_NS + STEP_NS;
  uint64_t ns = UINT64_MAX; /* the least of 3 runs: see above */
  for (int i = 0; i < 3; i++) {
    uint64_t t = run(ops, 1, 0, 0);
    assert_true(t >= want * 95 / 100);
    ns = t < ns ? t : ns;
  }
  assert_true(ns < want + 100000000ull); /* not the 200 ms of the trace */
  free(ops);
}

static void test_threaded_spends_each_threads_gaps(void **state) {
  trc_pop_t *ops = calloc(N, sizeof *ops);
  make(ops, 0);
  /* Each thread's ops are 2 * STEP_NS apart: its own gaps add up to the
   * span (N/2 - 1 of them), spent alongside the other thread's. */
  uint64_t want = (N / 2 - 1) * 2 * STEP_NS;
  uint64_t ns = run(ops, 1, 64 << 10, 1);
  assert_true(ns >= want * 95 / 100);
  free(ops);
}

static void test_parse(void **state) {
  uint64_t ws = 1;
  double f = 0;
  assert_int_equal(rpl_gaps_parse("256K", &ws, &f), 0);
  assert_int_equal(ws, 256 << 10);
  assert_true(f == 1.0);
  assert_int_equal(rpl_gaps_parse("1MiB:0.5", &ws, &f), 0);
  assert_int_equal(ws, 1 << 20);
  assert_true(f == 0.5);
  assert_int_equal(rpl_gaps_parse("0", &ws, &f), 0);
  assert_int_equal(ws, 0);
  assert_int_equal(rpl_gaps_parse("none", &ws, &f), 0);
  assert_true(f == 0);
  static const char *const bad[] = {"", "x", "-1", "1X", "1K:", "1K:0",
                                    "1K:-2", "1K:abc", "1Kb", "100G",
                                    "1K:2000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(rpl_gaps_parse(bad[i], &ws, &f), HK_E_USAGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_serial_spends_the_gaps),
      cmocka_unit_test(test_gap_is_capped),
      cmocka_unit_test(test_threaded_spends_each_threads_gaps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
