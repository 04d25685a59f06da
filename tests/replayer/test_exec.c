/* test_exec.c: the replay loop and the back ends. Every back end returns
 * memory with the requested alignment and keeps contents across realloc;
 * the loop counts what it should, its check mode catches a back end that
 * loses data, and replays are deterministic (same digest twice, another
 * policy changes it). Each back end runs in a forked child: they keep
 * process-wide state and are meant for one run per process. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "replayer.h"

/* A small program: mixed sizes, aligned ops, reallocs that grow and
 * shrink, frees, a failed op, two threads. */
static uint64_t make_program(trc_pop_t *ops, uint64_t cap, uint32_t *n_slots) {
  uint64_t n = 0;
  uint32_t live[64] = {0}, nl = 0, next = 0;
  uint64_t x = 12345;
  for (int round = 0; round < 400 && n + 4 < cap; round++) {
    uint64_t r = hk_splitmix64(&x);
    trc_pop_t o;
    memset(&o, 0, sizeof o);
    o.thread = (uint16_t)(r & 1);
    o.caller = (uint32_t)(1 + (r >> 8) % 5);
    o.site = o.caller;
    if (nl < 64 && (nl == 0 || (r >> 16) % 3 != 0)) {
      static const uint8_t kinds[] = {TRC_OP_MALLOC, TRC_OP_CALLOC,
                                      TRC_OP_POSIX_MEMALIGN, TRC_OP_MALLOC,
                                      TRC_OP_ALIGNED_ALLOC, TRC_OP_MEMALIGN,
                                      TRC_OP_VALLOC};
      o.op = kinds[(r >> 20) % HK_ARRAY_LEN(kinds)];
      o.size = 1 + (r >> 24) % ((r & 64) ? 300000 : 2000);
      if (o.op == TRC_OP_POSIX_MEMALIGN || o.op == TRC_OP_ALIGNED_ALLOC ||
          o.op == TRC_OP_MEMALIGN)
        o.align_log2 = (uint8_t)(4 + (r >> 40) % 9); /* 16 .. 4096 */
      o.slot = next; /* the program keeps slots simple: never reused */
      live[nl++] = next++;
      ops[n++] = o;
      if ((r >> 50) % 5 == 0) { /* realloc it, growing or shrinking */
        trc_pop_t q = o;
        q.op = TRC_OP_REALLOC;
        q.align_log2 = 0;
        q.size = 1 + (r >> 33) % 400000;
        ops[n++] = q;
      }
    } else {
      uint32_t k = (uint32_t)((r >> 16) % nl);
      o.op = TRC_OP_FREE;
      o.slot = live[k];
      live[k] = live[--nl];
      ops[n++] = o;
    }
  }
  trc_pop_t f; /* a failed recorded allocation: skipped */
  memset(&f, 0, sizeof f);
  f.op = TRC_OP_MALLOC;
  f.size = 1ull << 50;
  f.flags = TRC_PF_FAILED;
  f.slot = next++;
  ops[n++] = f;
  *n_slots = next;
  return n;
}

static trc_pop_t prog[4096];
static uint64_t n_ops;
static uint32_t n_slots;

static int setup(void **state) {
  n_ops = make_program(prog, HK_ARRAY_LEN(prog), &n_slots);
  return 0;
}

/* Child: direct API checks on one back end. Exit 0 ok, 77 unavailable,
 * other codes name the failed check. */
static int api_checks(const rpl_backend_t *be) {
  char why[256];
  if (be->available(why, sizeof why)) return 77;
  void *ctx;
  rpl_be_config_t cfg = {.threads = 2, .seed = 1,
                         .policy = be->takes_policy ? "static" : NULL};
  if (be->init(&ctx, &cfg, why, sizeof why)) return 10;
  for (unsigned lg = 3; lg <= 16; lg++) {
    size_t al = (size_t)1 << lg;
    for (size_t sz = 1; sz < 600000; sz = sz * 7 + 3) {
      uint8_t *p = be->aligned(ctx, al, sz, lg & 1, 1);
      if (!p) return 11;
      if ((uintptr_t)p % al) return 12;
      memset(p, 0xab, sz);
      be->free(ctx, p, sz, lg & 1, 1);
    }
  }
  for (size_t sz = 1; sz < 3000000; sz = sz * 3 + 1) {
    uint8_t *p = be->malloc(ctx, sz, 0, 2);
    if (!p || (uintptr_t)p % 16) return 13;
    for (size_t i = 0; i < sz; i++) p[i] = (uint8_t)(i * 31 + sz);
    size_t ns = sz * 5 / 2 + 1;
    uint8_t *q = be->realloc(ctx, p, sz, ns, 1, 2);
    if (!q) return 14;
    for (size_t i = 0; i < sz; i++)
      if (q[i] != (uint8_t)(i * 31 + sz)) return 15;
    uint8_t *r = be->realloc(ctx, q, ns, sz / 2 + 1, 0, 2);
    if (!r) return 16;
    for (size_t i = 0; i < sz / 2 + 1 && i < sz; i++)
      if (r[i] != (uint8_t)(i * 31 + sz)) return 17;
    if (be->usable_size && be->usable_size(ctx, r) < sz / 2 + 1) return 18;
    be->free(ctx, r, sz / 2 + 1, 0, 2);
    uint8_t *c = be->calloc(ctx, sz, 1, 3);
    if (!c) return 19;
    for (size_t i = 0; i < sz; i++)
      if (c[i]) return 20;
    be->free(ctx, c, sz, 1, 3);
  }
  be->release(ctx);
  /* The whole loop in check mode: contents verified on realloc and free. */
  rpl_exec_cfg_t ec = {.backend = be, .be = cfg, .touch = RPL_TOUCH_CHECK,
                       .sample_every = 1, .rss_every = 100};
  rpl_result_t res;
  if (rpl_exec(&ec, prog, n_ops, n_slots, &res)) return 21;
  if (res.status) {
    fprintf(stderr, "%s: %s\n", be->name, res.error);
    return 22;
  }
  if (res.ops != n_ops - 1) return 23; /* the failed op is skipped */
  if (res.timed != n_ops - 1) return 24;
  rpl_result_release(&res);
  return 0;
}

static void test_every_backend(void **state) {
  int tested = 0;
  for (const rpl_backend_t *const *b = rpl_backends; *b; b++) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(api_checks(*b));
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    int code = WEXITSTATUS(st);
    if (code == 77) {
      printf("# %s: not available here, skipped\n", (*b)->name);
      continue;
    }
    if (code) fprintf(stderr, "back end %s failed check %d\n", (*b)->name, code);
    assert_int_equal(code, 0);
    tested++;
  }
  assert_true(tested >= 3); /* glibc, null and mimalloc at least */
}

/* A back end whose realloc loses data: the check mode must notice. */
static void *bad_malloc(void *c, size_t s, unsigned t, uint32_t k) {
  return malloc(s);
}
static void *bad_calloc(void *c, size_t s, unsigned t, uint32_t k) {
  return calloc(1, s);
}
static void *bad_realloc(void *c, void *p, size_t o, size_t s, unsigned t,
                         uint32_t k) {
  free(p);
  return calloc(1, s); /* forgets the contents */
}
static void bad_free(void *c, void *p, size_t s, unsigned t, uint32_t k) {
  free(p);
}
static void *bad_aligned(void *c, size_t a, size_t s, unsigned t, uint32_t k) {
  void *p = NULL;
  return posix_memalign(&p, a, s) ? NULL : p;
}
static int bad_available(char *w, size_t l) { return 0; }
static int bad_init(void **ctx, const rpl_be_config_t *c, char *w, size_t l) {
  *ctx = NULL;
  return 0;
}
static void bad_release(void *c) {}
static const rpl_backend_t bad_be = {
    .name = "bad", .available = bad_available, .init = bad_init,
    .malloc = bad_malloc, .calloc = bad_calloc, .realloc = bad_realloc,
    .free = bad_free, .aligned = bad_aligned, .release = bad_release};

static void test_check_mode_catches_lost_contents(void **state) {
  rpl_exec_cfg_t ec = {.backend = &bad_be, .touch = RPL_TOUCH_CHECK,
                       .be = {.threads = 1}};
  rpl_result_t res;
  assert_int_equal(rpl_exec(&ec, prog, n_ops, n_slots, &res), 0);
  assert_int_not_equal(res.status, 0);
  assert_non_null(strstr(res.error, "realloc lost the contents"));
  rpl_result_release(&res);
  /* Without the check the same back end "works". */
  ec.touch = RPL_TOUCH_PAGES;
  assert_int_equal(rpl_exec(&ec, prog, n_ops, n_slots, &res), 0);
  assert_int_equal(res.status, 0);
  rpl_result_release(&res);
}

/* Known program, known counts: peak live bytes and objects, samples. */
static void test_counts_and_sampling(void **state) {
  trc_pop_t p[6];
  memset(p, 0, sizeof p);
  p[0].op = TRC_OP_MALLOC, p[0].size = 100, p[0].slot = 0;
  p[1].op = TRC_OP_MALLOC, p[1].size = 50, p[1].slot = 1;
  p[2].op = TRC_OP_REALLOC, p[2].size = 300, p[2].slot = 0;
  p[3].op = TRC_OP_FREE, p[3].slot = 1;
  p[4].op = TRC_OP_FREE, p[4].slot = 0;
  p[5].op = TRC_OP_CALLOC, p[5].size = 10, p[5].slot = 0;
  rpl_exec_cfg_t ec = {.backend = rpl_backend_find("null"),
                       .touch = RPL_TOUCH_FULL, .sample_every = 2,
                       .be = {.threads = 1}};
  rpl_result_t res;
  assert_int_equal(rpl_exec(&ec, p, 6, 2, &res), 0);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.ops, 6);
  assert_int_equal(res.peak_live_bytes, 350);
  assert_int_equal(res.peak_live_objects, 2);
  assert_int_equal(res.n_lat, 3); /* ops 0, 2, 4 */
  assert_int_equal(res.timed, 3);
  assert_true(res.tsc_hz > 0);
  assert_int_equal(strlen(res.digest), 32);
  rpl_result_release(&res);
  /* Per-op timing off: no latencies at all. */
  ec.sample_every = 0;
  assert_int_equal(rpl_exec(&ec, p, 6, 2, &res), 0);
  assert_int_equal(res.n_lat, 0);
  assert_int_equal(res.timed, 0);
  rpl_result_release(&res);
  /* A slot outside the program's range is refused, not followed. */
  p[3].slot = 7;
  assert_int_equal(rpl_exec(&ec, p, 6, 2, &res), 0);
  assert_int_not_equal(res.status, 0);
  rpl_result_release(&res);
}

/* The timer's resolution is measured (the least positive step between
 * reads: above 0, far below a microsecond) and named in timer_method; the
 * peak RSS is the allocator's, net of the harness (gross - base). */
static void test_timer_and_net_rss(void **state) {
  (void)state;
  enum { N = 100000 };
  trc_pop_t *p = calloc(N, sizeof *p);
  assert_non_null(p);
  for (uint32_t i = 0; i < N; i++) {
    p[i].op = i % 2 ? TRC_OP_FREE : TRC_OP_MALLOC;
    p[i].size = i % 2 ? 0 : 64;
    p[i].slot = 0;
  }
  rpl_exec_cfg_t ec = {.backend = rpl_backend_find("glibc"),
                       .touch = RPL_TOUCH_PAGES, .sample_every = 1,
                       .be = {.threads = 1}};
  rpl_result_t res;
  assert_int_equal(rpl_exec(&ec, p, N, 1, &res), 0);
  assert_int_equal(res.status, 0);
  assert_true(res.timer_resolution_ns > 0);
  assert_true(res.timer_resolution_ns < 1000);
  assert_non_null(strstr(res.timer_method, "resolution"));
  assert_true(rpl_timer_resolution() > 0);
  if (res.peak_rss_gross_bytes) { /* /proc readable */
    assert_true(res.base_rss_bytes > 0);
    assert_int_equal(res.peak_rss_bytes,
                     res.peak_rss_gross_bytes - res.base_rss_bytes);
    /* one live 64-byte block: the latency buffer (400 KB) and the program
     * (3.2 MB) are the harness's, not in the allocator's peak. Under ASan
     * "glibc" is ASan's allocator, whose quarantine keeps every freed block
     * (50,000 of them here): its peak is real, and bounded only by that. */
#if defined(__SANITIZE_ADDRESS__)
    assert_true(res.peak_rss_bytes < 64 * 1024 * 1024);
#else
    assert_true(res.peak_rss_bytes < 1024 * 1024);
#endif
  }
  rpl_result_release(&res);
  free(p);
}

/* Runs one replay in a child and returns its digest through a pipe. */
static void digest_of(const char *backend, const char *policy, uint64_t seed,
                      char out[33]) {
  int fd[2];
  assert_int_equal(pipe(fd), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fd[0]);
    rpl_exec_cfg_t ec = {.backend = rpl_backend_find(backend),
                         .touch = RPL_TOUCH_PAGES,
                         .sample_every = 1,
                         .be = {.threads = 2, .seed = seed, .policy = policy}};
    rpl_result_t res;
    if (!ec.backend || rpl_exec(&ec, prog, n_ops, n_slots, &res) || res.status)
      _exit(1);
    _exit(write(fd[1], res.digest, 33) == 33 ? 0 : 2);
  }
  close(fd[1]);
  memset(out, 0, 33);
  ssize_t n = read(fd[0], out, 33);
  close(fd[0]);
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(n, 33);
}

static void test_determinism(void **state) {
  char a[33], b[33], c[33], d[33], e[33];
  if (!rpl_backend_find("hakmem")->init) {
    skip();
    return;
  }
  digest_of("hakmem", "static", 1, a);
  digest_of("hakmem", "static", 1, b);
  assert_string_equal(a, b);
  /* the seed is stored beside the digest, not mixed in: static decides
   * the same for every seed */
  digest_of("hakmem", "static", 2, b);
  assert_string_equal(a, b);
  digest_of("hakmem", "ucb1", 1, c);
  assert_string_not_equal(a, c);
  digest_of("hakmem", "ucb1", 1, d);
  assert_string_equal(c, d);
  digest_of("glibc", NULL, 1, e);
  assert_string_not_equal(a, e);
  digest_of("glibc", NULL, 1, d);
  assert_string_equal(e, d);
}

/* Open descriptors of this process. */
static int open_fds(void) {
  int n = 0;
  for (int fd = 0; fd < 4096; fd++) n += fcntl(fd, F_GETFD) >= 0;
  return n;
}

/* A set-up shared by many runs (rpl_exec_setup_t, the fuzzer's): runs with
 * it replay as runs without (same digest), take its calibration (the same
 * overhead and resolution in every run), and neither way leaks a
 * descriptor over 20 runs; freeing it gives back its own. */
static void test_shared_setup(void **state) {
  (void)state;
  int fds0 = open_fds();
  rpl_exec_setup_t *su;
  assert_int_equal(rpl_exec_setup_create(&su, 1000000000ull), 0);
  int fds1 = open_fds();
  rpl_exec_cfg_t ec = {.backend = rpl_backend_find("null"),
                       .touch = RPL_TOUCH_CHECK, .sample_every = 1,
                       .tsc_hz = 1000000000ull, .be = {.threads = 2}};
  rpl_result_t res;
  assert_int_equal(rpl_exec(&ec, prog, n_ops, n_slots, &res), 0);
  assert_int_equal(res.status, 0);
  char own[33];
  memcpy(own, res.digest, 33);
  rpl_result_release(&res);
  ec.setup = su;
  double ovh = -1, reso = -1;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(rpl_exec(&ec, prog, n_ops, n_slots, &res), 0);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.digest, own);
    assert_true(res.tsc_hz == 1000000000ull);
    if (i == 0) {
      ovh = res.timer_overhead_ticks;
      reso = res.timer_resolution_ns;
    }
    assert_true(res.timer_overhead_ticks == ovh);
    assert_true(res.timer_resolution_ns == reso);
    rpl_result_release(&res);
  }
  assert_int_equal(open_fds(), fds1);
  ec.setup = NULL;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(rpl_exec(&ec, prog, n_ops, n_slots, &res), 0);
    rpl_result_release(&res);
  }
  assert_int_equal(open_fds(), fds1);
  rpl_exec_setup_free(su);
  assert_int_equal(open_fds(), fds0);
  rpl_exec_setup_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_backend),
      cmocka_unit_test(test_check_mode_catches_lost_contents),
      cmocka_unit_test(test_counts_and_sampling),
      cmocka_unit_test(test_timer_and_net_rss),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_shared_setup),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
