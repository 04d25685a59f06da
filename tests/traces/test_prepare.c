/* test_prepare.c: traces/trc_prepare.c: causal merge across threads, dense
 * slots, unmatched frees, double allocations, realloc chains, failed
 * allocations, statistics, and .hkp programs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include "trace_fixture.h"

enum { MAXOPS = 64 };
typedef struct collected {
  trc_pop_t op[MAXOPS];
  size_t n;
} collected_t;

static int collect(void *ctx, const trc_pop_t *op) {
  collected_t *c = ctx;
  if (c->n == MAXOPS) return HK_E_RANGE;
  c->op[c->n++] = *op;
  return 0;
}

static trc_event_t ev(uint64_t t, uint32_t th, unsigned op, uint64_t ptr,
                      uint64_t size) {
  trc_event_t e;
  memset(&e, 0, sizeof e);
  e.time = t;
  e.thread = th;
  e.op = (uint8_t)op;
  e.ptr = ptr;
  e.size = size;
  e.site = 1;
  return e;
}

static trc_event_t re(uint64_t t, uint64_t old, uint64_t ptr, uint64_t size) {
  trc_event_t e = ev(t, 0, TRC_OP_REALLOC, ptr, size);
  e.old_ptr = old;
  return e;
}

static void run(fixture_t *f, const trc_event_t *e, size_t n, collected_t *c,
                trc_prep_stats_t *st) {
  assert_int_equal(write_events(f->path, e, n, 3, 2, 2, 0), 0);
  memset(c, 0, sizeof *c);
  trc_prepare_opts_t o = {collect, c, 1};
  assert_int_equal(trc_prepare(f->path, &o, st), 0);
  assert_int_equal(st->ops, c->n);
}

/* Sparse stamps (TRC_EV_EST, docs/recorder.md "Time"): an estimated event
 * is written at its thread's last stamp and read back interpolated. */
static trc_event_t est(uint32_t th, unsigned op, uint64_t ptr, uint64_t size) {
  trc_event_t e = ev(0, th, op, ptr, size);
  e.flags = TRC_EV_EST;
  return e;
}

static void run_sparse(fixture_t *f, const trc_event_t *e, size_t n,
                       uint32_t hflags, collected_t *c, trc_prep_stats_t *st) {
  /* The writer takes each thread's times in order: an EST event's stored
   * time is its thread's last stamp. */
  trc_event_t w[16];
  uint64_t last[4] = {0, 0, 0, 0};
  uint32_t nth = 0;
  assert_true(n <= 16);
  for (size_t i = 0; i < n; i++) {
    w[i] = e[i];
    assert_true(w[i].thread < 4);
    if (w[i].flags & TRC_EV_EST) w[i].time = last[w[i].thread];
    last[w[i].thread] = w[i].time;
    if (w[i].thread + 1 > nth) nth = w[i].thread + 1;
  }
  assert_int_equal(write_events_hf(f->path, w, n, 3, 2, nth, 0,
                                   TRC_CLOCK_VIRTUAL, 1000000000ull, hflags),
                   0);
  memset(c, 0, sizeof *c);
  trc_prepare_opts_t o = {collect, c, 1};
  assert_int_equal(trc_prepare(f->path, &o, st), 0);
}

/* Thread 1's free of P is interpolated to 166 (between its stamps 50 and
 * 400), thread 0's allocation of P to 550 (between 100 and 1000): merged
 * by time the free comes first. The repair holds thread 1 back until the
 * allocation is stepped. Its free of Q, never allocated, is held until
 * thread 0's head is past its window (free Z stamped at 1000 > 400) and
 * then stepped as an unmatched free. Without TRC_HF_SPARSE_TIME the same
 * events are merged by time alone: the free of P is unmatched. */
static void test_sparse_repair(void **state) {
  const uint64_t P = 0x7000, Q = 0x9000;
  trc_event_t e[] = {
      ev(50, 1, TRC_OP_MALLOC, 0x100, 8),    est(1, TRC_OP_FREE, P, 0),
      est(1, TRC_OP_FREE, Q, 0),             ev(400, 1, TRC_OP_MALLOC, 0x200, 8),
      ev(100, 0, TRC_OP_MALLOC, 0x300, 8),   est(0, TRC_OP_MALLOC, P, 24),
      ev(1000, 0, TRC_OP_FREE, 0x300, 0),
  };
  collected_t c;
  trc_prep_stats_t st;
  run_sparse(*state, e, 7, TRC_HF_SPARSE_TIME, &c, &st);
  assert_int_equal(st.unmatched_frees, 1); /* Q only */
  assert_int_equal(st.double_allocs, 0);
  assert_int_equal(st.order_fixups, 1);
  assert_int_equal(st.order_unresolved, 0); /* Q is no dead end */
  assert_int_equal(c.n, 6);
  static const unsigned want[] = {TRC_OP_MALLOC, TRC_OP_MALLOC, TRC_OP_MALLOC,
                                  TRC_OP_FREE,   TRC_OP_MALLOC, TRC_OP_FREE};
  for (size_t i = 0; i < 6; i++) assert_int_equal(c.op[i].op, want[i]);
  assert_int_equal(c.op[2].size, 24); /* P's allocation, then its free */
  assert_int_equal(c.op[3].slot, c.op[2].slot);
  assert_int_equal(c.op[3].thread, 1);
  assert_true(c.op[3].time_ns >= c.op[2].time_ns); /* never back in time */
  assert_int_equal(c.op[4].time_ns, 550); /* malloc 0x200 at 400: after P */
  /* The same events in a trace without sparse stamps: no repair. */
  run_sparse(*state, e, 7, 0, &c, &st);
  assert_int_equal(st.unmatched_frees, 2);
  assert_int_equal(st.order_fixups, 0);
  assert_int_equal(st.live_at_exit, 3);
}

/* An allocation of an address whose previous owner another thread frees
 * later by interpolated time (the free truly came first): held back until
 * that free, not a double allocation. And two threads each held by a free
 * nothing will match: the least is released, then the other (no hang). */
static void test_sparse_realloc_addr(void **state) {
  const uint64_t P = 0x7000;
  trc_event_t e[] = {
      ev(10, 0, TRC_OP_MALLOC, P, 16),       ev(20, 0, TRC_OP_MALLOC, 0x100, 8),
      est(0, TRC_OP_MALLOC, P, 32),          ev(900, 0, TRC_OP_FREE, 0x100, 0),
      ev(30, 1, TRC_OP_MALLOC, 0x200, 8),    est(1, TRC_OP_FREE, P, 0),
      ev(1000, 1, TRC_OP_FREE, 0x200, 0),
  };
  collected_t c;
  trc_prep_stats_t st;
  run_sparse(*state, e, 7, TRC_HF_SPARSE_TIME, &c, &st);
  /* P(32) at 460 would come before thread 1's free of P at 515. */
  assert_int_equal(st.double_allocs, 0);
  assert_int_equal(st.unmatched_frees, 0);
  assert_int_equal(st.order_fixups, 1);
  assert_int_equal(st.live_at_exit, 1); /* P(32) */
  /* Merged by time alone: P(16) retired as a double allocation and the
   * free paired with P(32), which then looks freed. */
  run_sparse(*state, e, 7, 0, &c, &st);
  assert_int_equal(st.double_allocs, 1);
  assert_int_equal(st.live_at_exit, 0);

  trc_event_t d[] = {
      ev(10, 0, TRC_OP_MALLOC, 0x100, 8), est(0, TRC_OP_FREE, 0xa000, 0),
      ev(20, 0, TRC_OP_FREE, 0x100, 0),   ev(11, 1, TRC_OP_MALLOC, 0x200, 8),
      est(1, TRC_OP_FREE, 0xb000, 0),     ev(21, 1, TRC_OP_FREE, 0x200, 0),
  };
  run_sparse(*state, d, 6, TRC_HF_SPARSE_TIME, &c, &st);
  assert_int_equal(st.unmatched_frees, 2);
  assert_int_equal(c.n, 4);
  assert_int_equal(st.live_at_exit, 0);
}

/* rec_threads' flake (1 run in 200 with 2 CPU hogs): thread 1 is held at
 * its free of Y (window 100..300) while thread 2's allocation of Y, whose
 * window 50..2000 spans a preemption, is interpolated to 1025. Thread 0's
 * head (stamped at 500) truly came after the held free; thread 3's free of
 * X (window 200..1800, at 1000) could have come before it, and so could
 * the allocation of Y. Stepping the least-time of those two paired thread
 * 3's free with X's first owner (truly freed by thread 1's stamped free at
 * 300, and X reallocated by thread 0 at 550 before thread 3 freed it):
 * thread 1's free of X was then unmatched and held with nothing before 300
 * left to resolve it. The repair steps the thread whose pending events
 * hold what the held free waits for (thread 2's allocation of Y) instead. */
static void test_sparse_resolver_first(void **state) {
  const uint64_t X = 0x7000, Y = 0x8000;
  trc_event_t e[] = {
      ev(10, 0, TRC_OP_MALLOC, X, 16),      ev(500, 0, TRC_OP_MALLOC, 0x500, 8),
      est(0, TRC_OP_MALLOC, X, 16),         ev(600, 0, TRC_OP_MALLOC, 0x600, 8),
      ev(100, 1, TRC_OP_MALLOC, 0x100, 8),  est(1, TRC_OP_FREE, Y, 0),
      ev(300, 1, TRC_OP_FREE, X, 0),
      ev(50, 2, TRC_OP_MALLOC, 0x200, 8),   est(2, TRC_OP_MALLOC, Y, 24),
      ev(2000, 2, TRC_OP_MALLOC, 0x210, 8),
      ev(200, 3, TRC_OP_MALLOC, 0x300, 8),  est(3, TRC_OP_FREE, X, 0),
      ev(1800, 3, TRC_OP_FREE, 0x300, 0),
  };
  collected_t c;
  trc_prep_stats_t st;
  run_sparse(*state, e, 13, TRC_HF_SPARSE_TIME, &c, &st);
  assert_int_equal(st.unmatched_frees, 0);
  assert_int_equal(st.double_allocs, 0);
  assert_int_equal(st.order_fixups, 1);
  /* 0x100, 0x500, 0x600, 0x200, 0x210 stay live; X twice and Y freed. */
  assert_int_equal(st.live_at_exit, 5);
  /* Thread 1's stamped free of X frees the first X (slot of op 0). */
  size_t f1 = SIZE_MAX;
  for (size_t i = 0; i < c.n; i++)
    if (c.op[i].op == TRC_OP_FREE && c.op[i].thread == 1 && c.op[i].size == 16)
      f1 = i;
  assert_true(f1 != SIZE_MAX);
  assert_int_equal(c.op[f1].slot, c.op[0].slot);
  /* The same trace prepared twice: the same ops (determinism). */
  collected_t c2;
  trc_prep_stats_t st2;
  run_sparse(*state, e, 13, TRC_HF_SPARSE_TIME, &c2, &st2);
  assert_int_equal(c2.n, c.n);
  assert_memory_equal(c2.op, c.op, c.n * sizeof c.op[0]);
}

/* A thread's last events, after its last stamp (its final buffer handed
 * over before it was full), are bounded by its end in the threads table:
 * thread 1's free of W (stamped at 200, ended at 900) is placed at 550,
 * not at 200. At 200 it came before thread 2's free of W stamped at 300,
 * took W's first owner, and left that free unmatched (nothing allocates W
 * between 200 and 300) and W's second owner, thread 0's at 400-500, never
 * freed: rec_threads failed so once in 400 runs under load. */
static void test_sparse_thread_end(void **state) {
  fixture_t *f = *state;
  const uint64_t W = 0x7000;
  trc_event_t e[] = {
      ev(100, 0, TRC_OP_MALLOC, W, 16),     ev(400, 0, TRC_OP_MALLOC, 0x400, 8),
      est(0, TRC_OP_MALLOC, W, 16),         ev(500, 0, TRC_OP_MALLOC, 0x500, 8),
      ev(200, 1, TRC_OP_MALLOC, 0x200, 8),  est(1, TRC_OP_FREE, W, 0),
      ev(300, 2, TRC_OP_FREE, W, 0),
  };
  e[2].time = 400;
  e[5].time = 200; /* stored at the thread's last stamp */
  trc_header_t h;
  memset(&h, 0, sizeof h);
  h.flags = TRC_HF_SPARSE_TIME;
  h.clock = TRC_CLOCK_VIRTUAL;
  h.tick_hz = 1000000000ull;
  h.exe = "fixture";
  h.depth = 2;
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, f->path, &h, NULL), 0);
  uint64_t fr[2] = {0x1000, 0x9001};
  assert_int_equal(trc_writer_add_site(w, 1, fr, 2), 0);
  for (uint32_t t = 0; t < 3; t++) {
    trc_thread_t th = {.index = t, .tid = 100 + t, .start_time = 1,
                       .end_time = t == 1 ? 900 : 0, .name = "t"};
    assert_int_equal(trc_writer_add_thread(w, &th), 0);
  }
  for (size_t i = 0; i < 7; i++)
    assert_int_equal(trc_writer_events(w, e[i].thread, &e[i], 1), 0);
  assert_int_equal(trc_writer_finish(w, 1000, 0), 0);
  trc_writer_free(w);
  collected_t c;
  memset(&c, 0, sizeof c);
  trc_prep_stats_t st;
  trc_prepare_opts_t o = {collect, &c, 1};
  assert_int_equal(trc_prepare(f->path, &o, &st), 0);
  assert_int_equal(st.unmatched_frees, 0);
  assert_int_equal(st.double_allocs, 0);
  assert_int_equal(st.live_at_exit, 3); /* 0x400, 0x500, 0x200 */
  /* Ops: W, 0x200, thread 2's free of W (300), 0x400, W again (450),
   * 0x500, and last thread 1's free (550) of W's second owner. */
  assert_int_equal(c.n, 7);
  assert_int_equal(c.op[6].op, TRC_OP_FREE);
  assert_int_equal(c.op[6].thread, 1);
  assert_int_equal(c.op[6].time_ns, 550);
  assert_int_equal(c.op[4].op, TRC_OP_MALLOC);
  assert_int_equal(c.op[4].size, 16);
  assert_int_equal(c.op[6].slot, c.op[4].slot);
}

/* A dead end: thread 1 waits (its allocation of X, live) for thread 2's
 * free of X, which comes after thread 2's free of Z, which waits for
 * thread 1's allocation of Z, after the held one. No order of these events
 * is consistent (in a recording, an earlier pairing the interpolated times
 * got wrong leads here): the repair steps the held event of least upper
 * bound as it is, a double allocation, and counts it in order_unresolved,
 * which a genuine unmatched free (test_sparse_repair's Q) is not. */
static void test_sparse_dead_end(void **state) {
  const uint64_t X = 0x7000, Z = 0x8000;
  trc_event_t e[] = {
      ev(10, 0, TRC_OP_MALLOC, X, 16),
      ev(100, 1, TRC_OP_MALLOC, 0x100, 8), est(1, TRC_OP_MALLOC, X, 16),
      est(1, TRC_OP_MALLOC, Z, 16),        ev(300, 1, TRC_OP_MALLOC, 0x300, 8),
      ev(100, 2, TRC_OP_MALLOC, 0x110, 8), est(2, TRC_OP_FREE, Z, 0),
      est(2, TRC_OP_FREE, X, 0),           ev(300, 2, TRC_OP_FREE, 0x110, 0),
  };
  collected_t c;
  trc_prep_stats_t st;
  run_sparse(*state, e, 9, TRC_HF_SPARSE_TIME, &c, &st);
  assert_int_equal(st.order_unresolved, 1);
  assert_int_equal(st.double_allocs, 1);
  assert_int_equal(st.unmatched_frees, 0);
}

static void test_pair(void **state) {
  trc_event_t e[] = {ev(1, 0, TRC_OP_MALLOC, 0x1000, 100), ev(2, 0, TRC_OP_FREE, 0x1000, 0)};
  collected_t c;
  trc_prep_stats_t st;
  run(*state, e, 2, &c, &st);
  assert_int_equal(c.n, 2);
  assert_int_equal(c.op[0].op, TRC_OP_MALLOC);
  assert_int_equal(c.op[0].slot, 0);
  assert_int_equal(c.op[0].size, 100);
  assert_int_equal(c.op[1].op, TRC_OP_FREE);
  assert_int_equal(c.op[1].slot, 0);
  assert_int_equal(c.op[1].size, 100); /* a free carries the freed size */
  assert_int_equal(st.unmatched_frees, 0);
  assert_int_equal(st.live_at_exit, 0);
  assert_int_equal(st.peak_live_bytes, 100);
  assert_int_equal(st.peak_live_objects, 1);
  assert_int_equal(st.counts[TRC_OP_MALLOC], 1);
  assert_int_equal(st.counts[TRC_OP_FREE], 1);
}

static void test_unmatched_free(void **state) {
  trc_event_t e[] = {ev(1, 0, TRC_OP_FREE, 0x5000, 0), ev(2, 0, TRC_OP_MALLOC, 0x1000, 8),
                     ev(3, 0, TRC_OP_FREE, 0x1000, 0), ev(4, 0, TRC_OP_FREE, 0x1000, 0)};
  collected_t c;
  trc_prep_stats_t st;
  run(*state, e, 4, &c, &st);
  assert_int_equal(st.unmatched_frees, 2); /* unknown, then a double free */
  assert_int_equal(c.n, 2);
  assert_int_equal(st.events, 4);
}

static void test_double_alloc(void **state) {
  trc_event_t e[] = {ev(1, 0, TRC_OP_MALLOC, 0x1000, 10), ev(2, 0, TRC_OP_MALLOC, 0x2000, 20),
                     ev(3, 0, TRC_OP_MALLOC, 0x1000, 30), ev(4, 0, TRC_OP_FREE, 0x1000, 0)};
  collected_t c;
  trc_prep_stats_t st;
  run(*state, e, 4, &c, &st);
  assert_int_equal(st.double_allocs, 1);
  assert_int_equal(c.n, 5);
  assert_int_equal(c.op[2].op, TRC_OP_FREE);
  assert_true(c.op[2].flags & TRC_PF_IMPLICIT);
  assert_int_equal(c.op[2].slot, 0);
  assert_int_equal(c.op[2].size, 10); /* the retired block's size */
  assert_int_equal(c.op[3].slot, 0); /* the released slot is reused */
  assert_int_equal(c.op[3].size, 30);
  assert_int_equal(c.op[4].slot, 0);
  assert_int_equal(st.live_at_exit, 1);
  assert_int_equal(st.live_bytes_at_exit, 20);
  assert_int_equal(st.peak_live_bytes, 50);
}

static void test_realloc_chain(void **state) {
  trc_event_t e[] = {ev(1, 0, TRC_OP_MALLOC, 0x1000, 10), re(2, 0x1000, 0x2000, 20),
                     re(3, 0x2000, 0x2000, 30), re(4, 0x2000, 0x3000, 40),
                     ev(5, 0, TRC_OP_FREE, 0x3000, 0), ev(6, 0, TRC_OP_FREE, 0x2000, 0)};
  collected_t c;
  trc_prep_stats_t st;
  run(*state, e, 6, &c, &st);
  assert_int_equal(c.n, 5);
  for (size_t i = 0; i < 5; i++) assert_int_equal(c.op[i].slot, 0);
  assert_int_equal(c.op[3].size, 40);
  assert_int_equal(c.op[4].op, TRC_OP_FREE);
  assert_int_equal(c.op[4].size, 40); /* the block as the last realloc left it */
  assert_int_equal(st.unmatched_frees, 1); /* 0x2000 moved away already */
  assert_int_equal(st.peak_live_bytes, 40);
  assert_int_equal(st.live_at_exit, 0);
  assert_int_equal(st.peak_live_objects, 1);
}

static void test_realloc_null_and_zero(void **state) {
  trc_event_t e[] = {re(1, 0, 0x1000, 16), re(2, 0x1000, 0, 0), re(3, 0x7777, 0x2000, 8)};
  collected_t c;
  trc_prep_stats_t st;
  run(*state, e, 3, &c, &st);
  assert_int_equal(c.n, 3);
  assert_true(c.op[0].flags & TRC_PF_FROM_NULL);
  assert_int_equal(c.op[1].size, 0); /* realloc(p, 0): frees */
  assert_int_equal(c.op[1].slot, 0);
  assert_true(c.op[2].flags & TRC_PF_FROM_NULL); /* unknown old block */
  assert_int_equal(st.unmatched_frees, 1);
  assert_int_equal(st.live_at_exit, 1);
}

static void test_failed(void **state) {
  trc_event_t e[] = {ev(1, 0, TRC_OP_MALLOC, 0, 1ull << 50), ev(2, 0, TRC_OP_MALLOC, 0x1000, 8),
                     re(3, 0x1000, 0, 1ull << 50), ev(4, 0, TRC_OP_FREE, 0x1000, 0)};
  e[0].flags = TRC_EV_FAILED;
  e[2].flags = TRC_EV_FAILED;
  collected_t c;
  trc_prep_stats_t st;
  run(*state, e, 4, &c, &st);
  assert_int_equal(st.failed_allocs, 2);
  assert_int_equal(c.n, 4);
  assert_true(c.op[0].flags & TRC_PF_FAILED);
  assert_int_equal(c.op[0].slot, UINT32_MAX);
  assert_true(c.op[2].flags & TRC_PF_FAILED);
  assert_int_equal(c.op[2].slot, 0); /* the old block stays live */
  assert_int_equal(st.unmatched_frees, 0); /* so its free still matches */
  assert_int_equal(st.live_at_exit, 0);
}

static void test_cross_thread_order(void **state) {
  /* Thread 1's free is handed to the writer (and lands in the file) before
   * thread 0's allocation; the merge by time must still pair them. */
  trc_event_t e[] = {ev(20, 1, TRC_OP_FREE, 0x1000, 0), ev(25, 1, TRC_OP_MALLOC, 0x1000, 7),
                     ev(10, 0, TRC_OP_MALLOC, 0x1000, 64), ev(30, 0, TRC_OP_FREE, 0x1000, 0)};
  fixture_t *f = *state;
  assert_int_equal(write_events(f->path, e, 4, 3, 2, 2, 1), 0);
  collected_t c = {0};
  trc_prep_stats_t st;
  trc_prepare_opts_t o = {collect, &c, 1};
  assert_int_equal(trc_prepare(f->path, &o, &st), 0);
  assert_int_equal(st.unmatched_frees, 0);
  assert_int_equal(st.double_allocs, 0);
  assert_int_equal(c.n, 4);
  assert_int_equal(c.op[0].size, 64);
  assert_int_equal(c.op[0].thread, 0);
  assert_int_equal(c.op[1].thread, 1);
  assert_int_equal(c.op[2].size, 7);
  assert_int_equal(st.threads, 2);
}

/* Each op carries its recorded time in ns: ticks converted with tick_hz,
 * merged across threads in causal order, never decreasing, and saturated
 * at what the op holds. */
static void test_time_ns(void **state) {
  fixture_t *f = *state;
  const uint64_t hz = 3000000000ull; /* a 3 GHz TSC */
  trc_event_t e[] = {ev(3000, 0, TRC_OP_MALLOC, 0x1000, 64),
                     ev(4500, 1, TRC_OP_MALLOC, 0x2000, 8),
                     ev(9000, 0, TRC_OP_FREE, 0x1000, 0),
                     ev(3 * hz * 100, 1, TRC_OP_FREE, 0x2000, 0)};
  assert_int_equal(write_events_hz(f->path, e, 4, 3, 2, 2, 0, TRC_CLOCK_TSC, hz), 0);
  collected_t c = {0};
  trc_prep_stats_t st;
  trc_prepare_opts_t o = {collect, &c, 1};
  assert_int_equal(trc_prepare(f->path, &o, &st), 0);
  assert_int_equal(c.n, 4);
  assert_int_equal(c.op[0].time_ns, 1000);
  assert_int_equal(c.op[1].time_ns, 1500);
  assert_int_equal(c.op[2].time_ns, 3000);
  assert_int_equal(c.op[3].time_ns, 300000000000ull); /* 300 s */

  /* 2^50 ticks of a 1 MHz clock (36 years) are past 2^56 ns: saturated. */
  trc_event_t big[] = {ev(1, 0, TRC_OP_MALLOC, 0x1000, 64),
                       ev(1ull << 50, 0, TRC_OP_FREE, 0x1000, 0)};
  assert_int_equal(write_events_hz(f->path, big, 2, 3, 2, 1, 0, TRC_CLOCK_TSC, 1000000), 0);
  memset(&c, 0, sizeof c);
  assert_int_equal(trc_prepare(f->path, &o, &st), 0);
  assert_int_equal(c.n, 2);
  assert_int_equal(c.op[0].time_ns, 1000);
  assert_int_equal(c.op[1].time_ns, TRC_POP_TIME_MAX);
}

static void test_slots_lifo_and_calloc(void **state) {
  trc_event_t e[] = {ev(1, 0, TRC_OP_MALLOC, 0x1000, 1), ev(2, 0, TRC_OP_MALLOC, 0x2000, 1),
                     ev(3, 0, TRC_OP_MALLOC, 0x3000, 1), ev(4, 0, TRC_OP_FREE, 0x2000, 0),
                     ev(5, 0, TRC_OP_CALLOC, 0x4000, 3), ev(6, 0, TRC_OP_CALLOC, 0x5000, 1ull << 40)};
  e[4].nmemb = 5;
  e[5].nmemb = 1ull << 40; /* nmemb * size overflows: saturates */
  collected_t c;
  trc_prep_stats_t st;
  run(*state, e, 6, &c, &st);
  assert_int_equal(c.op[4].slot, 1);
  assert_int_equal(c.op[4].size, 15);
  assert_true(c.op[5].size == UINT64_MAX);
  assert_int_equal(c.op[5].slot, 3);
  assert_int_equal(st.peak_live_objects, 4);
}

static void test_callers(void **state) {
  trc_event_t e[] = {ev(1, 0, TRC_OP_MALLOC, 0x1000, 1), ev(2, 0, TRC_OP_MALLOC, 0x2000, 1),
                     ev(3, 0, TRC_OP_MALLOC, 0x3000, 1)};
  e[1].site = 2;
  e[2].site = 3; /* sites 1 and 3 share an immediate caller (ncallers 2) */
  collected_t c;
  trc_prep_stats_t st;
  run(*state, e, 3, &c, &st);
  assert_int_equal(st.callers, 2);
  assert_int_equal(st.sites, 3);
  assert_int_equal(c.op[0].caller, c.op[2].caller);
  assert_int_not_equal(c.op[0].caller, c.op[1].caller);
  assert_int_equal(c.op[1].site, 2);
}

/* A generated trace through trc_program_build / trc_program_map: the program
 * is consistent (every free hits a live slot, slots within n_slots). */
static void test_program(void **state) {
  fixture_t *f = *state;
  trc_gen_opts_t g = {3, 0.2};
  assert_int_equal(trc_gen("threads", f->path, &g), 0);
  char prog[160];
  snprintf(prog, sizeof prog, "%s/t.hkp", f->dir);
  trc_prep_stats_t st;
  assert_int_equal(trc_program_build(f->path, prog, &st), 0);
  trc_program_t p;
  assert_int_equal(trc_program_map(&p, prog), 0);
  assert_true(p.n_ops == st.ops && p.n_ops > 1000);
  assert_int_equal(p.n_slots, st.peak_live_objects);
  assert_int_equal(p.n_threads, 4);
  assert_int_equal(st.unmatched_frees, 0);
  assert_int_equal(st.double_allocs, 0);
  uint8_t *live = calloc(p.n_slots, 1);
  uint64_t nlive = 0;
  for (uint64_t i = 0; i < p.n_ops; i++) {
    const trc_pop_t *o = &p.ops[i];
    assert_true(o->caller <= p.callers.n);
    if (o->flags & TRC_PF_FAILED) continue;
    assert_true(o->slot < p.n_slots);
    if (o->op == TRC_OP_FREE) {
      assert_true(live[o->slot]);
      live[o->slot] = 0;
      nlive--;
    } else if (!trc_op_is_realloc(o->op) || (o->flags & TRC_PF_FROM_NULL)) {
      assert_false(live[o->slot]);
      live[o->slot] = 1;
      nlive++;
    }
  }
  assert_int_equal(nlive, st.live_at_exit);
  for (uint32_t id = 1; id <= p.callers.n; id++) assert_true(p.callers.addr[id] != 0);
  uint64_t h;
  assert_int_equal(trc_file_hash(f->path, &h), 0);
  assert_true(h == p.trace_hash);
  free(live);
  trc_program_release(&p);
  /* A file that is not a program is refused. */
  assert_int_equal(trc_program_map(&p, f->path), HK_E_BADMAGIC);
}

/* The prepared program's ops folded into one number, as the sink sees them. */
typedef struct fold {
  uint64_t h, n;
} fold_t;

static uint64_t fold_op(uint64_t h, const trc_pop_t *o) {
  const uint8_t *b = (const uint8_t *)o;
  for (size_t i = 0; i < sizeof *o; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

static int fold_sink(void *ctx, const trc_pop_t *op) {
  fold_t *f = ctx;
  f->h = fold_op(f->h, op);
  f->n++;
  return 0;
}

static void flip_byte(const char *path, long off) {
  FILE *fp = fopen(path, "r+");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, off, SEEK_SET), 0);
  int c = fgetc(fp);
  assert_true(c != EOF);
  assert_int_equal(fseek(fp, off, SEEK_SET), 0);
  assert_int_equal(fputc(c ^ 0x40, fp), c ^ 0x40);
  assert_int_equal(fclose(fp), 0);
}

/* trc_program_map checks a program of many hashing windows without making
 * it resident (its pages are given back as they are hashed), the digest is
 * the one the writer computed, the ops read afterwards are the prepared
 * ones, and a byte changed in any window (or in the caller table at the
 * end) is still refused. */
static void test_program_window(void **state) {
  fixture_t *f = *state;
  trc_gen_opts_t g = {5, 0.75};
  assert_int_equal(trc_gen("threads", f->path, &g), 0);
  char prog[160];
  snprintf(prog, sizeof prog, "%s/w.hkp", f->dir);
  trc_prep_stats_t st;
  assert_int_equal(trc_program_build(f->path, prog, &st), 0);
  FILE *fp = fopen(prog, "r");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  fclose(fp);
  assert_true(len > (4l << 20)); /* more than four 1 MiB windows */

  long before = rss_file_kib();
  assert_true(before >= 0);
  trc_program_t p;
  assert_int_equal(trc_program_map(&p, prog), 0);
  long added = rss_file_kib() - before;
  /* All of it resident would be len / 1024 KiB. */
  assert_true(added * 1024 < len / 8);

  fold_t want = {0xcbf29ce484222325ull, 0};
  trc_prepare_opts_t o = {fold_sink, &want, 1};
  assert_int_equal(trc_prepare(f->path, &o, &st), 0);
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < p.n_ops; i++) h = fold_op(h, &p.ops[i]);
  assert_int_equal(p.n_ops, want.n);
  assert_true(h == want.h);
  trc_program_release(&p);

  const long at[] = {600, len / 3, len / 2 + 4097, len - 3};
  for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
    flip_byte(prog, at[i]);
    assert_int_equal(trc_program_map(&p, prog), HK_E_CORRUPT);
    flip_byte(prog, at[i]); /* back as it was: accepted again */
    assert_int_equal(trc_program_map(&p, prog), 0);
    trc_program_release(&p);
  }
}

static void test_damaged(void **state) {
  fixture_t *f = *state;
  trc_gen_opts_t g = {1, 1.0};
  assert_int_equal(trc_gen("sites", f->path, &g), 0);
  trc_prep_stats_t full, cut;
  assert_int_equal(trc_prepare(f->path, NULL, &full), 0);
  assert_int_equal(full.damaged, 0);
  FILE *fp = fopen(f->path, "r+");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  assert_int_equal(ftruncate(fileno(fp), len * 2 / 3), 0);
  fclose(fp);
  trc_prepare_opts_t lenient = {NULL, NULL, 0}, strict = {NULL, NULL, 1};
  assert_int_equal(trc_prepare(f->path, &lenient, &cut), 0);
  assert_int_equal(cut.damaged, 1);
  assert_true(cut.damage_offset > 0 && cut.damage_offset < (uint64_t)len);
  assert_true(cut.events > 0 && cut.events < full.events);
  assert_int_equal(trc_prepare(f->path, &strict, &cut), HK_E_TRUNCATED);
  assert_int_equal(trc_prepare("/nonexistent/x.hkt", NULL, &cut), -ENOENT);
}

/* The whole file at path (*len bytes), malloc'd. */
static uint8_t *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  *len = (size_t)ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *b = malloc(*len ? *len : 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, *len, fp), *len);
  fclose(fp);
  return b;
}

/* Prepare with the chunks decoded ahead on a second thread
 * (trc_prepare_set_decode_ahead) makes the same program, byte for byte,
 * as with them decoded on its own thread: on a generated trace of 4
 * threads and many chunks, on the same trace damaged in the middle (a
 * byte flipped: prepared up to the damage), and on sparse stamps written
 * one event a chunk (the repair appends chunks to a thread's cursor). */
static void test_decode_ahead(void **state) {
  fixture_t *f = *state;
  trc_gen_opts_t g = {5, 4.0};
  assert_int_equal(trc_gen("threads", f->path, &g), 0);
  char prog[2][160];
  for (int damaged = 0; damaged < 2; damaged++) {
    if (damaged) {
      size_t len;
      uint8_t *b = slurp(f->path, &len);
      FILE *fp = fopen(f->path, "r+b");
      assert_non_null(fp);
      fseek(fp, (long)(len / 2), SEEK_SET);
      fputc(b[len / 2] ^ 0x5a, fp);
      fclose(fp);
      free(b);
    }
    trc_prep_stats_t st[2];
    for (int on = 0; on < 2; on++) {
      snprintf(prog[on], sizeof prog[on], "%s/a%d.hkp", f->dir, on);
      trc_prepare_set_decode_ahead(on);
      assert_int_equal(trc_program_build(f->path, prog[on], &st[on]), 0);
    }
    trc_prepare_set_decode_ahead(-1);
    assert_int_equal(st[0].damaged, damaged);
    assert_true(st[0].ops > 10000);
    assert_memory_equal(&st[0], &st[1], sizeof st[0]);
    size_t la, lb;
    uint8_t *a = slurp(prog[0], &la), *b = slurp(prog[1], &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
  }
  const uint64_t P = 0x7000, Q = 0x9000;
  trc_event_t e[] = {
      ev(50, 1, TRC_OP_MALLOC, 0x100, 8),    est(1, TRC_OP_FREE, P, 0),
      est(1, TRC_OP_FREE, Q, 0),             ev(400, 1, TRC_OP_MALLOC, 0x200, 8),
      ev(100, 0, TRC_OP_MALLOC, 0x300, 8),   est(0, TRC_OP_MALLOC, P, 24),
      ev(1000, 0, TRC_OP_FREE, 0x300, 0),
  };
  uint64_t last[2] = {0, 0};
  for (size_t i = 0; i < 7; i++) {
    if (e[i].flags & TRC_EV_EST) e[i].time = last[e[i].thread];
    last[e[i].thread] = e[i].time;
  }
  assert_int_equal(write_events_hf(f->path, e, 7, 3, 2, 2, 1,
                                   TRC_CLOCK_VIRTUAL, 1000000000ull,
                                   TRC_HF_SPARSE_TIME),
                   0);
  collected_t c[2];
  trc_prep_stats_t st[2];
  for (int on = 0; on < 2; on++) {
    memset(&c[on], 0, sizeof c[on]);
    trc_prepare_opts_t o = {collect, &c[on], 1};
    trc_prepare_set_decode_ahead(on);
    assert_int_equal(trc_prepare(f->path, &o, &st[on]), 0);
  }
  trc_prepare_set_decode_ahead(-1);
  assert_int_equal(st[0].order_fixups, 1);
  assert_int_equal(c[0].n, 6);
  assert_int_equal(c[1].n, 6);
  assert_memory_equal(c[0].op, c[1].op, 6 * sizeof c[0].op[0]);
  assert_memory_equal(&st[0], &st[1], sizeof st[0]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_decode_ahead, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_pair, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_unmatched_free, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_double_alloc, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_realloc_chain, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_realloc_null_and_zero, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_failed, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_cross_thread_order, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_time_ns, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_slots_lifo_and_calloc, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_callers, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_program, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_program_window, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_damaged, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_sparse_repair, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_sparse_realloc_addr, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_sparse_resolver_first, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_sparse_thread_end, fixture_setup, fixture_teardown),
      cmocka_unit_test_setup_teardown(test_sparse_dead_end, fixture_setup, fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
