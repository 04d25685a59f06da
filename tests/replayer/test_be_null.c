/* test_be_null.c: the null back end (rpl_be_null.c) reuses what is freed:
 * a freed block serves the next allocation of its size class, a block
 * freed at the bump pointer gives its bytes back, calloc is zero on reused
 * memory, aligned blocks keep their alignment and are reused, and under
 * --touch check a long churn of every op kind never hands out overlapping
 * blocks and holds little more than its live set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replayer.h"

static const rpl_backend_t *be;
static void *ctx;

static int setup(void **state) {
  char why[128];
  be = rpl_backend_find("null");
  rpl_be_config_t cfg = {.threads = 1, .seed = 1};
  return be && be->init(&ctx, &cfg, why, sizeof why) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  be->release(ctx);
  return 0;
}

/* LIFO per class: the last block freed comes back first, for any size of
 * its class (100 and 110 share the 112-byte class; 1100 does not). */
static void test_reuse_per_class(void **state) {
  void *a = be->malloc(ctx, 100, 0, 0), *b = be->malloc(ctx, 100, 0, 0);
  void *pin = be->malloc(ctx, 100, 0, 0); /* keeps a, b off the top */
  assert_non_null(a);
  assert_non_null(b);
  assert_ptr_not_equal(a, b);
  be->free(ctx, a, 100, 0, 0);
  be->free(ctx, b, 100, 0, 0);
  assert_ptr_equal(be->malloc(ctx, 110, 0, 0), b);
  void *big = be->malloc(ctx, 1100, 0, 0); /* another class: a stays free */
  assert_ptr_not_equal(big, a);
  assert_ptr_equal(be->malloc(ctx, 97, 0, 0), a);
  be->free(ctx, pin, 100, 0, 0);
}

/* A malloc/free loop of one size reuses one block for ever (the top gives
 * its bytes back), whatever the size. */
static void test_loop_reuses_the_top(void **state) {
  size_t sizes[] = {0, 1, 24, 1024, 1025, 5000, 1u << 20, 3u << 20};
  for (size_t k = 0; k < HK_ARRAY_LEN(sizes); k++) {
    void *first = be->malloc(ctx, sizes[k], 0, 0);
    assert_non_null(first);
    be->free(ctx, first, sizes[k], 0, 0);
    for (int i = 0; i < 1000; i++) {
      void *p = be->malloc(ctx, sizes[k], 0, 0);
      assert_ptr_equal(p, first);
      be->free(ctx, p, sizes[k], 0, 0);
    }
  }
}

/* calloc is zero on a reused block and below the high-water mark. */
static void test_calloc_zero_on_reuse(void **state) {
  uint8_t *a = be->malloc(ctx, 500, 0, 0), *pin = be->malloc(ctx, 16, 0, 0);
  memset(a, 0xff, 500);
  be->free(ctx, a, 500, 0, 0); /* heads the 512-byte list */
  uint8_t *c = be->calloc(ctx, 500, 0, 0);
  assert_ptr_equal(c, a);
  for (int i = 0; i < 500; i++) assert_int_equal(c[i], 0);
  /* At the top: freed, the bump pointer hands the same bytes out again. */
  uint8_t *t = be->malloc(ctx, 4000, 0, 0);
  memset(t, 0xee, 4000);
  be->free(ctx, t, 4000, 0, 0);
  uint8_t *u = be->calloc(ctx, 3000, 0, 0); /* another class, same place */
  assert_ptr_equal(u, t);
  for (int i = 0; i < 3000; i++) assert_int_equal(u[i], 0);
  be->free(ctx, u, 3000, 0, 0);
  be->free(ctx, c, 500, 0, 0);
  be->free(ctx, pin, 16, 0, 0);
}

/* realloc: within its class in place, the last block grows or shrinks in
 * place, elsewhere it moves with the contents and frees the old block
 * (shrinking too: a block keeps exactly its class's bytes). */
static void test_realloc_moves(void **state) {
  uint8_t *p = be->malloc(ctx, 40, 0, 0);
  memset(p, 0x5a, 40);
  assert_ptr_equal(be->realloc(ctx, p, 40, 48, 0, 0), p); /* same class */
  uint8_t *q = be->realloc(ctx, p, 48, 5000, 0, 0); /* the top grows */
  assert_ptr_equal(q, p);
  uint8_t *pin = be->malloc(ctx, 16, 0, 0);
  uint8_t *r = be->realloc(ctx, q, 5000, 9000, 0, 0); /* moves */
  assert_ptr_not_equal(r, q);
  for (int i = 0; i < 40; i++) assert_int_equal(r[i], 0x5a);
  assert_ptr_equal(be->malloc(ctx, 5000, 0, 0), q); /* the old block */
  be->malloc(ctx, 16, 0, 0); /* r is not the top */
  uint8_t *s = be->realloc(ctx, r, 9000, 100, 0, 0); /* moves to its class */
  assert_ptr_not_equal(s, r);
  for (int i = 0; i < 40; i++) assert_int_equal(s[i], 0x5a);
  assert_ptr_equal(be->malloc(ctx, 9000, 0, 0), r);
  uint8_t *top = be->malloc(ctx, 9000, 0, 0);
  assert_ptr_equal(be->realloc(ctx, top, 9000, 100, 0, 0), top); /* the top */
  assert_ptr_equal(be->malloc(ctx, 16, 0, 0), top + 112);
  be->free(ctx, pin, 16, 0, 0);
}

/* An aligned request reuses a free block of its class aligned at least as
 * asked, and only such a block. */
static void test_aligned(void **state) {
  for (size_t al = 16; al <= 65536; al *= 4) {
    uint8_t *a = be->aligned(ctx, al, 300, 0, 0);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % al, 0);
    uint8_t *pin = be->aligned(ctx, al, 300, 0, 0); /* a is not the top */
    be->free(ctx, a, 300, 0, 0);
    assert_ptr_equal(be->aligned(ctx, al, 300, 0, 0), a);
    be->free(ctx, a, 300, 0, 0);
    if (al > 16) /* a smaller alignment takes it too */
      assert_ptr_equal(be->aligned(ctx, al / 2, 300, 0, 0), a);
    be->free(ctx, pin, 300, 0, 0);
  }
  /* A free block of the class at a smaller alignment is left alone. */
  uint8_t *m = be->aligned(ctx, 64, 300, 0, 0);
  if ((uintptr_t)m % 4096 == 0) m = be->aligned(ctx, 64, 300, 0, 0);
  be->aligned(ctx, 64, 300, 0, 0); /* m is not the top */
  be->free(ctx, m, 300, 0, 0);
  uint8_t *x = be->aligned(ctx, 4096, 300, 0, 0);
  assert_ptr_not_equal(x, m);
  assert_int_equal((uintptr_t)x % 4096, 0);
  assert_ptr_equal(be->aligned(ctx, 64, 300, 0, 0), m);
  /* 10,000 page-aligned blocks allocated and freed in turn, two live at a
   * time, and a malloc between: the same few pages serve them all. */
  uint8_t *lo = NULL, *hi = NULL, *prev = NULL;
  for (int i = 0; i < 10000; i++) {
    uint8_t *p = be->aligned(ctx, 4096, 5000, 0, 0);
    assert_int_equal((uintptr_t)p % 4096, 0);
    if (!lo || p < lo) lo = p;
    if (!hi || p > hi) hi = p;
    be->free(ctx, be->malloc(ctx, 100, 0, 0), 100, 0, 0);
    if (prev) be->free(ctx, prev, 5000, 0, 0);
    prev = p;
  }
  assert_true(hi - lo <= 4 * 8192);
}

/* More than any reservation: refused, not wrapped round. */
static void test_refuses_huge(void **state) {
  assert_null(be->malloc(ctx, (size_t)1 << 41, 0, 0));
  assert_null(be->malloc(ctx, SIZE_MAX - 8, 0, 0));
  assert_null(be->aligned(ctx, 4096, SIZE_MAX - 8, 0, 0));
  void *p = be->malloc(ctx, 64, 0, 0);
  assert_null(be->realloc(ctx, p, 64, SIZE_MAX - 8, 0, 0));
  be->free(ctx, p, 64, 0, 0);
}

/* 200,000 ops over 512 slots: every op kind, sizes across the small and
 * large classes, reallocs both ways. --touch check writes a pattern per
 * slot and checks it at every realloc and free, so two live blocks that
 * overlapped would fail the run. */
static void test_churn_under_check(void **state) {
  enum { N = 200000, SLOTS = 512 };
  trc_pop_t *ops = calloc(N, sizeof *ops);
  uint8_t live[SLOTS] = {0};
  uint64_t x = 7;
  static const uint8_t kinds[] = {TRC_OP_MALLOC, TRC_OP_CALLOC,
                                  TRC_OP_REALLOC, TRC_OP_POSIX_MEMALIGN};
  for (int i = 0; i < N; i++) {
    uint64_t r = hk_splitmix64(&x);
    uint32_t s = (uint32_t)(r % SLOTS);
    trc_pop_t *o = &ops[i];
    o->slot = s;
    if (live[s] && (r >> 20) % 3) {
      o->op = (r >> 22) & 1 ? TRC_OP_FREE : TRC_OP_REALLOC;
    } else {
      o->op = live[s] ? TRC_OP_FREE : kinds[(r >> 24) % 4];
    }
    o->size = (r >> 32) & 1 ? 1 + (r >> 40) % 2048 : 1 + (r >> 40) % 70000;
    if (o->op == TRC_OP_POSIX_MEMALIGN) o->align_log2 = 4 + (r >> 50) % 9;
    if (o->op == TRC_OP_FREE) o->size = 0;
    live[s] = o->op != TRC_OP_FREE;
  }
  rpl_exec_cfg_t ec = {.backend = be, .be = {.threads = 1, .seed = 1},
                       .touch = RPL_TOUCH_CHECK, .rss_every = 4096};
  rpl_result_t res;
  be->release(ctx); /* rpl_exec brings its own */
  assert_int_equal(rpl_exec(&ec, ops, N, SLOTS, &res), 0);
  if (res.status) fprintf(stderr, "%s\n", res.error);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.ops, N);
  assert_int_equal(res.alloc_failures, 0);
  /* What it holds stays near the live set (2.1x measured: class rounding,
   * per-class and per-alignment high-water marks); never freeing it held
   * every byte allocated, about 1.8 GB here. */
  assert_true(res.peak_rss_bytes < 4 * res.peak_live_bytes);
  rpl_result_release(&res);
  free(ops);
  assert_int_equal(setup(state), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reuse_per_class, setup, teardown),
      cmocka_unit_test_setup_teardown(test_loop_reuses_the_top, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_calloc_zero_on_reuse, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_realloc_moves, setup, teardown),
      cmocka_unit_test_setup_teardown(test_aligned, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refuses_huge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_churn_under_check, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
