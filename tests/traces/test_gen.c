/* test_gen.c: traces/trc_gen.c: every scenario writes a whole, consistent
 * trace with the documented shape; --scale and --seed behave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "trace_fixture.h"

/* Every allocation a scenario makes succeeds: a real, 16-aligned pointer
 * (a 0 would read as a failed call), and a free never names 0. */
static void check_pointers(const char *path) {
  trc_reader_t *r;
  assert_int_equal(trc_reader_open(&r, path), 0);
  trc_chunk_t c;
  int rc;
  while ((rc = trc_reader_next(r, &c)) > 0) {
    if (c.kind != TRC_CHUNK_EVENTS) continue;
    for (size_t i = 0; i < c.n; i++) {
      const trc_event_t *e = &c.events[i];
      assert_int_equal(e->flags & TRC_EV_FAILED, 0);
      assert_true(e->ptr != 0);
      assert_int_equal(e->ptr & 15, 0);
    }
  }
  assert_int_equal(rc, 0);
  trc_reader_free(r);
}

static void gen_scan(fixture_t *f, const char *sc, uint64_t seed, double scale,
                     trc_scan_t *s, trc_prep_stats_t *p) {
  trc_gen_opts_t o = {seed, scale};
  assert_int_equal(trc_gen(sc, f->path, &o), 0);
  assert_int_equal(trc_scan(f->path, s), 0);
  assert_int_equal(s->status, 0);
  assert_true(s->have_summary);
  assert_int_equal(s->failed, 0);
  check_pointers(f->path);
  assert_int_equal(trc_prepare(f->path, NULL, p), 0);
  assert_int_equal(p->unmatched_frees, 0);
  assert_int_equal(p->double_allocs, 0);
  assert_int_equal(p->failed_allocs, 0);
}

static void test_harness_scenarios(void **state) {
  fixture_t *f = *state;
  struct { const char *name; uint64_t n, size; } cases[] = {
      {"json", 1000, 64 << 10}, {"mir", 100, 256 << 10}, {"vm", 10, 2 << 20}};
  for (size_t i = 0; i < HK_ARRAY_LEN(cases); i++) {
    trc_scan_t s;
    trc_prep_stats_t p;
    gen_scan(f, cases[i].name, 0, 1.0, &s, &p);
    assert_int_equal(s.counts[TRC_OP_MALLOC], cases[i].n);
    assert_int_equal(s.counts[TRC_OP_FREE], cases[i].n);
    assert_int_equal(s.events, 2 * cases[i].n);
    assert_int_equal(p.peak_live_bytes, cases[i].size);
    assert_int_equal(p.live_at_exit, 0);
    gen_scan(f, cases[i].name, 0, 2.5, &s, &p);
    assert_int_equal(s.counts[TRC_OP_MALLOC], cases[i].n * 5 / 2);
  }
}

static void test_mixed(void **state) {
  trc_scan_t s;
  trc_prep_stats_t p;
  gen_scan(*state, "mixed", 0, 1.0, &s, &p);
  /* 1000 json + 100 mir + 10 vm buffers, 4 tokens per round. */
  assert_int_equal(s.counts[TRC_OP_MALLOC], 1000 + 100 + 10 + 4000);
  assert_int_equal(p.live_at_exit, 0);
  /* vm + mir + json live together at the peak, plus tokens. */
  assert_true(p.peak_live_bytes >= (2u << 20) + (256u << 10) + (64u << 10));
}

static void test_threads(void **state) {
  trc_scan_t s;
  trc_prep_stats_t p;
  gen_scan(*state, "threads", 5, 0.5, &s, &p);
  assert_int_equal(s.threads, 4);
  assert_int_equal(p.threads, 4);
  assert_true(s.events > 50000);
  assert_true(p.live_at_exit > 0); /* a few objects outlive their threads */
}

static void test_sites(void **state) {
  trc_scan_t s;
  trc_prep_stats_t p;
  gen_scan(*state, "sites", 9, 1.0, &s, &p);
  assert_true(s.sites >= 150);
  for (unsigned op = 1; op < TRC_OP_COUNT; op++) {
    if (op == TRC_OP_REALLOCARRAY) continue; /* not used by the scenario */
    assert_true(s.counts[op] > 0);
  }
  assert_true(p.callers >= 150);
}

typedef struct {
  uint64_t allocs, small_first, big_second, last_time, backwards;
} shift_t;

static int shift_sink(void *ctx, const trc_pop_t *op) {
  shift_t *t = ctx;
  if (op->time_ns < t->last_time) t->backwards++;
  t->last_time = op->time_ns;
  if (op->op != TRC_OP_MALLOC) return 0;
  if (t->allocs < 5000)
    t->small_first += op->size >= 16 && op->size < 1024;
  else
    t->big_second += op->size >= (4 << 10) && op->size < (16 << 10);
  t->allocs++;
  return 0;
}

/* gen shift: every allocation of the first half is 16 B..1 KiB, every one
 * of the second 4..16 KiB, on the generator's clock (ns, increasing). */
static void test_shift(void **state) {
  trc_scan_t s;
  trc_prep_stats_t p;
  fixture_t *f = *state;
  gen_scan(f, "shift", 3, 1.0 / 30, &s, &p);
  assert_int_equal(s.counts[TRC_OP_MALLOC], 10000);
  assert_int_equal(s.counts[TRC_OP_FREE], 10000);
  assert_int_equal(p.live_at_exit, 0);
  shift_t t = {0};
  trc_prepare_opts_t o = {shift_sink, &t, 0};
  assert_int_equal(trc_prepare(f->path, &o, &p), 0);
  assert_int_equal(t.allocs, 10000);
  assert_int_equal(t.small_first, 5000);
  assert_int_equal(t.big_second, 5000);
  assert_int_equal(t.backwards, 0);
  /* each event advances the clock by >= 10 ns, a 4 KiB use by >= 64 */
  assert_true(t.last_time > 20000 * 10 + 5000 * 64);
}

static void test_seed_and_unknown(void **state) {
  fixture_t *f = *state;
  uint64_t h1, h2, h3;
  trc_gen_opts_t a = {1, 0.3}, b = {2, 0.3};
  assert_int_equal(trc_gen("threads", f->path, &a), 0);
  assert_int_equal(trc_file_hash(f->path, &h1), 0);
  assert_int_equal(trc_gen("threads", f->path, &a), 0);
  assert_int_equal(trc_file_hash(f->path, &h2), 0);
  assert_int_equal(trc_gen("threads", f->path, &b), 0);
  assert_int_equal(trc_file_hash(f->path, &h3), 0);
  assert_true(h1 == h2);
  assert_true(h1 != h3);
  assert_int_equal(trc_gen("nope", f->path, &a), HK_E_NOTFOUND);
  assert_null(trc_gen_describe("nope"));
  for (const char *const *sc = trc_gen_scenarios; *sc; sc++)
    assert_non_null(trc_gen_describe(*sc));
  assert_true(trc_gen("json", "/nonexistent-dir/x.hkt", &a) < 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_harness_scenarios, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_mixed, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_threads, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_sites, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_shift, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_seed_and_unknown, fixture_setup, fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
