/* test_threads.c: threaded replay (--threads recorded, rpl_exec.c): a
 * generated 4-thread trace replayed with one thread per recorded thread
 * against glibc (the back end every build has, sanitizers included) with
 * the contents check on: every free finds the pattern its allocating
 * thread wrote, which the causal waits must guarantee; the digest and the
 * per-thread digests equal the serial replay's; the counts match; the
 * edges are exactly the ops on an object whose previous op was another
 * thread's (counted here independently), not every reuse of a prepared
 * slot by another thread; the plan of a threaded run (28 bytes an op) is
 * not counted as the allocator's peak RSS or page faults. Also: the waits'
 * slack and targeted wakes (blocks and context switches bounded on a
 * producer/consumer program), the stall that releases a waiter (a
 * ping-pong), per-thread rows numbered when a run fails, and which runs
 * --threads auto replays threaded. Run under TSan (label threads), which
 * reports a missing happens-before edge as a race. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "replayer.h"

static void run(const trc_program_t *p, int threaded, rpl_result_t *res) {
  rpl_exec_cfg_t ec = {.backend = rpl_backend_find("glibc"),
                       .be = {.threads = p->n_threads, .seed = 1},
                       .touch = RPL_TOUCH_CHECK,
                       .sample_every = 7,
                       .tsc_hz = 1000000000ull,
                       .threaded = threaded};
  assert_int_equal(rpl_exec(&ec, p->ops, p->n_ops, p->n_slots, res), 0);
}

static void test_threaded_equals_serial(void **state) {
  char dir[] = "/tmp/hksim-test-threads-XXXXXX", trace[64], prog[64];
  assert_non_null(mkdtemp(dir));
  snprintf(trace, sizeof trace, "%s/t.hkt", dir);
  snprintf(prog, sizeof prog, "%s/t.hkp", dir);
  trc_gen_opts_t go = {.seed = 5, .scale = 0.1};
  assert_int_equal(trc_gen("threads", trace, &go), 0);
  trc_prep_stats_t ps;
  assert_int_equal(trc_program_build(trace, prog, &ps), 0);
  trc_program_t p;
  assert_int_equal(trc_program_map(&p, prog), 0);
  assert_true(p.n_threads > 1);

  rpl_result_t s, t;
  run(&p, 0, &s);
  run(&p, 1, &t);
  assert_int_equal(s.status, 0);
  assert_int_equal(t.status, 0); /* the contents check held */
  assert_int_equal(s.replay_threads, 1);
  assert_int_equal(t.replay_threads, p.n_threads);
  assert_int_equal(t.ops, s.ops);
  assert_true(t.ops > 1000);
  assert_string_equal(t.digest, s.digest);
  assert_int_equal(t.peak_live_bytes, s.peak_live_bytes);
  assert_true(t.timed > 0);

  /* Per-thread rows: one per recorded thread, digests as serial. */
  assert_int_equal(s.n_threads, p.n_threads);
  assert_int_equal(t.n_threads, p.n_threads);
  uint64_t want_edges = 0, slot_reuse = 0, edges = 0, blocked = 0, ops = 0;
  uint16_t *owner = calloc(p.n_slots, sizeof *owner);
  uint8_t *live = calloc(p.n_slots, 1);
  assert_non_null(owner);
  assert_non_null(live);
  memset(owner, 0xff, p.n_slots * sizeof *owner); /* never used */
  for (uint64_t i = 0; i < p.n_ops; i++) {
    const trc_pop_t *o = &p.ops[i];
    if (o->flags & TRC_PF_FAILED) continue;
    if (live[o->slot] && owner[o->slot] != o->thread) want_edges++;
    if (!live[o->slot] && owner[o->slot] != 0xffff &&
        owner[o->slot] != o->thread)
      slot_reuse++;
    live[o->slot] = o->op != TRC_OP_FREE &&
                    !((o->op == TRC_OP_REALLOC || o->op == TRC_OP_REALLOCARRAY) &&
                      o->size == 0);
    owner[o->slot] = o->thread;
  }
  free(owner);
  free(live);
  for (uint64_t k = 0; k < t.n_threads; k++) {
    assert_int_equal(t.threads[k].thread, k);
    assert_string_equal(t.threads[k].digest, s.threads[k].digest);
    assert_int_equal(strlen(t.threads[k].digest), 32);
    assert_int_equal(t.threads[k].ops, s.threads[k].ops);
    assert_int_equal(s.threads[k].edges, 0); /* serial: none */
    assert_true(t.threads[k].blocked <= t.threads[k].edges);
    assert_true(t.threads[k].ns > 0 && t.threads[k].ns <= t.total_ns);
    if (k) assert_string_not_equal(t.threads[k].digest, t.threads[0].digest);
    edges += t.threads[k].edges;
    blocked += t.threads[k].blocked;
    ops += t.threads[k].ops;
  }
  assert_int_equal(ops, t.ops);
  assert_true(want_edges > 0);
  assert_int_equal(edges, want_edges);
  assert_true(blocked <= edges); /* a thread waits only on an edge */
  /* Ordering by prepared slot would have added these waits too. */
  assert_true(slot_reuse > 0);
  rpl_result_release(&s);
  rpl_result_release(&t);

  /* A back end that is not thread_safe stays serial. */
  rpl_exec_cfg_t ec = {.backend = rpl_backend_find("null"),
                       .be = {.threads = p.n_threads},
                       .touch = RPL_TOUCH_NONE,
                       .tsc_hz = 1000000000ull,
                       .threaded = 1};
  assert_int_equal(rpl_exec(&ec, p.ops, p.n_ops, p.n_slots, &t), 0);
  if (t.status) fprintf(stderr, "null run: status %d: %s\n", t.status, t.error);
  assert_int_equal(t.status, 0);
  assert_int_equal(t.replay_threads, 1);
  rpl_result_release(&t);

  trc_program_release(&p);
  unlink(trace);
  unlink(prog);
  rmdir(dir);
}

/* The threaded replay's plan (edges, renamed slots, per-thread lists: 28
 * bytes an op) is made before the RSS base and the fault counters are read:
 * a threaded run's peak RSS and faults are the allocator's, within a
 * fraction of the plan of the serial run's. Before, the plan was made
 * inside the counted span and every threaded run carried it (py-queue:
 * 108 MiB and 28,000 faults for every back end, 9 MiB and 2,500 serial). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HK_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HK_TEST_ASAN 1
#endif

static void test_plan_not_counted(void **state) {
#ifdef HK_TEST_ASAN
  /* ASan's quarantine holds the previous run's frees: the base RSS of two
   * runs differs by tens of MB (248 against 162 MB measured), more than
   * the plan. */
  skip();
#endif
  char dir[] = "/tmp/hksim-test-threads-XXXXXX", trace[64], prog[64];
  assert_non_null(mkdtemp(dir));
  snprintf(trace, sizeof trace, "%s/t.hkt", dir);
  snprintf(prog, sizeof prog, "%s/t.hkp", dir);
  trc_gen_opts_t go = {.seed = 5, .scale = 1};
  assert_int_equal(trc_gen("threads", trace, &go), 0);
  trc_prep_stats_t ps;
  assert_int_equal(trc_program_build(trace, prog, &ps), 0);
  trc_program_t p;
  assert_int_equal(trc_program_map(&p, prog), 0);
  uint64_t plan = 28 * p.n_ops;
  assert_true(plan > 4u << 20); /* large against the noise */
  rpl_exec_cfg_t ec = {.backend = rpl_backend_find("glibc"),
                       .be = {.threads = p.n_threads, .seed = 1},
                       .touch = RPL_TOUCH_NONE,
                       .tsc_hz = 1000000000ull};
  rpl_result_t s, t;
  assert_int_equal(rpl_exec(&ec, p.ops, p.n_ops, p.n_slots, &s), 0);
  ec.threaded = 1;
  assert_int_equal(rpl_exec(&ec, p.ops, p.n_ops, p.n_slots, &t), 0);
  assert_int_equal(s.status, 0);
  assert_int_equal(t.status, 0);
  assert_int_equal(t.replay_threads, p.n_threads);
  fprintf(stderr, "plan %llu B; base RSS serial %llu, threaded %llu B; "
          "peak %llu, %llu B; faults %llu, %llu\n", (unsigned long long)plan,
          (unsigned long long)s.base_rss_bytes,
          (unsigned long long)t.base_rss_bytes,
          (unsigned long long)s.peak_rss_bytes,
          (unsigned long long)t.peak_rss_bytes,
          (unsigned long long)s.minor_faults,
          (unsigned long long)t.minor_faults);
  /* The plan is resident before the base is read: in the base, not in
   * the peak above it (glibc's per-thread arenas do raise the threaded
   * peak and faults: 10 MB and 2,500 faults here against 1 MB and 260
   * serial; the plan added another 9.7 MB and 2,400 faults on top). */
  assert_true(t.base_rss_bytes >= s.base_rss_bytes + plan / 2);
  assert_true(t.peak_rss_bytes < t.base_rss_bytes);
  rpl_result_release(&s);
  rpl_result_release(&t);
  trc_program_release(&p);
  unlink(trace);
  unlink(prog);
  rmdir(dir);
}

/* Per-thread rows are numbered when they are allocated (ad48eff), not only
 * by thread_digests: a run of a multi-thread trace that fails so that
 * thread_digests cannot map its buffer (a memory cap reached, as with the
 * old never-freeing null back end at the cap) must still give one row per
 * thread, 0..n-1, or storing it fails on run_thread's key and hides the
 * run's own error. The back end below refuses the allocation of 4242
 * bytes after lowering RLIMIT_DATA to one page (in a child of its own), so
 * that under a --mem-limit the run fails there and no further private
 * mapping can be made: thread_digests fails. Without ad48eff's numbering
 * every row comes back thread 0 (seen: the test fails on thread 1).
 * RLIMIT_DATA also starves a sanitizer's runtime: skipped under those. */
static void *lim_malloc(void *c, size_t size, unsigned th, uint32_t caller) {
  (void)c, (void)th, (void)caller;
  if (size == 4242) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_DATA, &rl) == 0) {
      rl.rlim_cur = 4096; /* not 0: the kernel lets 0 pass (valgrind) */
      setrlimit(RLIMIT_DATA, &rl);
    }
    return NULL;
  }
  return malloc(size);
}
static void *lim_calloc(void *c, size_t size, unsigned th, uint32_t caller) {
  (void)c, (void)th, (void)caller;
  return calloc(1, size);
}
static void *lim_realloc(void *c, void *p, size_t old, size_t size,
                         unsigned th, uint32_t caller) {
  (void)c, (void)old, (void)th, (void)caller;
  return realloc(p, size);
}
static void lim_free(void *c, void *p, size_t size, unsigned th,
                     uint32_t caller) {
  (void)c, (void)size, (void)th, (void)caller;
  free(p);
}
static void *lim_aligned(void *c, size_t align, size_t size, unsigned th,
                         uint32_t caller) {
  (void)c, (void)th, (void)caller;
  void *p = NULL;
  return posix_memalign(&p, align, size) ? NULL : p;
}
static int lim_available(char *why, size_t len) {
  (void)why, (void)len;
  return 0;
}
static int lim_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                    size_t len) {
  (void)cfg, (void)why, (void)len;
  *ctx = NULL;
  return 0;
}
static void lim_release(void *c) { (void)c; }
static const rpl_backend_t lim_be = {
    .name = "lim", .available = lim_available, .init = lim_init,
    .malloc = lim_malloc, .calloc = lim_calloc, .realloc = lim_realloc,
    .free = lim_free, .aligned = lim_aligned, .release = lim_release};

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HK_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HK_TEST_SANITIZED 1
#endif

typedef struct rows_seen {
  int rc, status, has_cap_error;
  uint64_t n_threads;
  uint32_t thread[8];
} rows_seen_t;

static void test_rows_numbered_when_run_fails(void **state) {
  (void)state;
#ifdef HK_TEST_SANITIZED
  skip();
#endif
  enum { NT = 3, N = 3 * 2000 };
  static trc_pop_t p[N]; /* per thread: 1000 mallocs, then their frees */
  memset(p, 0, sizeof p);
  for (unsigned i = 0; i < N / 2; i++) {
    p[i].op = TRC_OP_MALLOC;
    p[i].size = i == N / 4 ? 4242 : 32; /* thread 0's, mid-way */
    p[i].slot = i;
    p[i].thread = (uint16_t)(i % NT);
    p[N / 2 + i].op = TRC_OP_FREE;
    p[N / 2 + i].size = p[i].size;
    p[N / 2 + i].slot = i;
    p[N / 2 + i].thread = (uint16_t)(i % NT);
  }
  int fd[2];
  assert_int_equal(pipe(fd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fd[0]);
    rows_seen_t seen;
    memset(&seen, 0, sizeof seen);
    rpl_exec_cfg_t ec = {.backend = &lim_be,
                         .be = {.threads = NT, .seed = 1},
                         .touch = RPL_TOUCH_NONE,
                         .tsc_hz = 1000000000ull,
                         .mem_limit = 1ull << 30};
    rpl_result_t res;
    seen.rc = rpl_exec(&ec, p, N, N / 2, &res);
    seen.status = res.status;
    seen.has_cap_error = strstr(res.error, "under --mem-limit") != NULL;
    seen.n_threads = res.n_threads;
    for (unsigned t = 0; t < res.n_threads && t < 8; t++)
      seen.thread[t] = res.threads ? res.threads[t].thread : 99;
    ssize_t w = write(fd[1], &seen, sizeof seen);
    _exit(w == (ssize_t)sizeof seen ? 0 : 1);
  }
  close(fd[1]);
  rows_seen_t seen;
  ssize_t r = read(fd[0], &seen, sizeof seen);
  close(fd[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(r, (ssize_t)sizeof seen);
  assert_int_equal(seen.rc, 0);
  assert_int_equal(seen.status, HK_E_NOMEM); /* the run failed at the cap */
  assert_true(seen.has_cap_error);            /* with its own error */
  assert_int_equal(seen.n_threads, NT);
  for (unsigned t = 0; t < NT; t++) assert_int_equal(seen.thread[t], t);
}

/* A thread-safe back end without locks or frees (a bump pointer over a
 * static arena), so that the only waits of a threaded run are the
 * harness's own: no allocator lock puts a thread to sleep. */
static _Alignas(64) unsigned char bump_arena[64u << 20];
static _Atomic size_t bump_top;
static void *bump_malloc(void *c, size_t size, unsigned th, uint32_t caller) {
  (void)c, (void)th, (void)caller;
  size_t n = (size + 15) & ~(size_t)15;
  size_t at = atomic_fetch_add(&bump_top, n);
  return at + n <= sizeof bump_arena ? bump_arena + at : NULL;
}
static void *bump_calloc(void *c, size_t size, unsigned th, uint32_t caller) {
  return bump_malloc(c, size, th, caller); /* never reused: still zero */
}
static void *bump_realloc(void *c, void *p, size_t old, size_t size,
                          unsigned th, uint32_t caller) {
  void *q = bump_malloc(c, size, th, caller);
  if (q && p) memcpy(q, p, old < size ? old : size);
  return q;
}
static void bump_free(void *c, void *p, size_t size, unsigned th,
                      uint32_t caller) {
  (void)c, (void)p, (void)size, (void)th, (void)caller;
}
static void *bump_aligned(void *c, size_t align, size_t size, unsigned th,
                          uint32_t caller) {
  return bump_malloc(c, size + align, th, caller); /* only 16 B used here */
}
static int bump_init(void **ctx, const rpl_be_config_t *cfg, char *why,
                     size_t len) {
  (void)cfg, (void)why, (void)len;
  atomic_store(&bump_top, 0);
  *ctx = NULL;
  return 0;
}
static const rpl_backend_t bump_be = {
    .name = "bump", .thread_safe = 1, .available = lim_available,
    .init = bump_init, .malloc = bump_malloc, .calloc = bump_calloc,
    .realloc = bump_realloc, .free = bump_free, .aligned = bump_aligned,
    .release = lim_release};

static uint64_t voluntary_switches(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) ? 0 : (uint64_t)ru.ru_nvcsw;
}

/* Runs ops on bump_be, threaded or serially; the process's voluntary
 * context switches over the run in *vcsw. */
static void bump_run(const trc_pop_t *ops, uint64_t n, uint32_t n_slots,
                     unsigned nt, int threaded, double gaps,
                     rpl_result_t *res, uint64_t *vcsw) {
  rpl_exec_cfg_t ec = {.backend = &bump_be,
                       .be = {.threads = nt, .seed = 1},
                       .touch = RPL_TOUCH_NONE,
                       .tsc_hz = 1000000000ull,
                       .threaded = threaded,
                       .gap_scale = gaps};
  uint64_t v0 = voluntary_switches();
  assert_int_equal(rpl_exec(&ec, ops, n, n_slots, res), 0);
  if (vcsw) *vcsw = voluntary_switches() - v0;
  assert_int_equal(res->status, 0);
  assert_int_equal(res->replay_threads, threaded ? nt : 1);
}

/* The slack and the targeted wakes (wait_done, publish in rpl_exec.c).
 * A producer (thread 0) makes R records, each followed by K private
 * malloc/free pairs of its own; a consumer (thread 1) frees each record.
 * Replayed with --gaps (spin only), the producer makes a record every 5 us
 * and the consumer would free one every 2.5 us (its recorded times are
 * halved: gaps are per thread), so it keeps catching up. A waiter goes on
 * only once the producer is WAIT_SLACK (4096) of its ops past the one it
 * needs (or has ended): record r's malloc is the producer's op 7r, so
 * after a block at record r the next can come at r + 586 at the earliest,
 * 35 blocks at most for R = 20,000 and K = 3, whatever the schedule (the
 * bound below is 36). Without the slack it ran in lockstep, blocking at
 * most records (seen: over a thousand). A sleeping waiter is woken
 * only by the publish that meets its want (or a stall): the process's
 * voluntary context switches stay within one per block plus the joins,
 * where waking every sleeper at every publish gave one per publish while
 * it slept (585 a block). */
static void test_slack_and_targeted_wakes(void **state) {
  (void)state;
  enum { R = 20000, K = 3, PER = 1 + 2 * K + 1 };
  static trc_pop_t p[R * PER];
  memset(p, 0, sizeof p);
  uint64_t n = 0;
  for (uint32_t r = 0; r < R; r++) {
    uint64_t t0 = 5000ull * (r + 1);
    p[n].op = TRC_OP_MALLOC, p[n].size = 64, p[n].slot = 1 + r;
    p[n].time_ns = t0;
    p[n++].thread = 0;
    for (int k = 0; k < K; k++) {
      p[n].op = TRC_OP_MALLOC, p[n].size = 32, p[n].slot = 0;
      p[n].time_ns = t0 + 2 * k + 1;
      p[n++].thread = 0;
      p[n].op = TRC_OP_FREE, p[n].size = 32, p[n].slot = 0;
      p[n].time_ns = t0 + 2 * k + 2;
      p[n++].thread = 0;
    }
    p[n].op = TRC_OP_FREE, p[n].size = 64, p[n].slot = 1 + r;
    p[n].time_ns = t0 / 2; /* its gaps are half the producer's */
    p[n++].thread = 1;
  }
  assert_int_equal(n, R * PER);
  alarm(120); /* a lost wake-up is a hang: fail instead */
  rpl_result_t s, t;
  bump_run(p, n, R + 1, 2, 0, 0, &s, NULL);
  uint64_t vcsw;
  bump_run(p, n, R + 1, 2, 1, 1.0, &t, &vcsw);
  alarm(0);
  assert_string_equal(t.digest, s.digest);
  assert_int_equal(t.n_threads, 2);
  uint64_t bound = (uint64_t)R * (PER - 1) / 4096 + 2;
  fprintf(stderr, "consumer: %llu edges, %llu blocked (bound %llu); "
          "voluntary context switches %llu\n",
          (unsigned long long)t.threads[1].edges,
          (unsigned long long)t.threads[1].blocked,
          (unsigned long long)bound, (unsigned long long)vcsw);
  assert_int_equal(t.threads[1].edges, R);
  assert_int_equal(t.threads[0].edges, 0);
  assert_int_equal(t.threads[0].blocked, 0);
  assert_true(t.threads[1].blocked <= bound);
  /* A sleep per block at most, two joins, and room for the sanitizers'
   * own threads; one a publish would be thousands. */
  assert_true(vcsw <= 2 * bound + 60);
  rpl_result_release(&s);
  rpl_result_release(&t);
}

/* Ping-pong: each thread frees what the other just made, so every op
 * waits on the other thread, which is itself waiting: the slack can never
 * be met, and only the stall (a thread about to wait wakes the waiters
 * whose need it has met, and a waiter that finds its thread stalled goes
 * on at need) keeps them going. A lost wake-up or a waiter holding out for
 * need + slack would hang (alarm). */
static void test_stall_releases_waiter(void **state) {
  (void)state;
  enum { M = 3000 };
  static trc_pop_t p[4 * M];
  memset(p, 0, sizeof p);
  uint64_t n = 0;
  for (uint32_t k = 0; k < M; k++) {
    p[n].op = TRC_OP_MALLOC, p[n].size = 48, p[n].slot = 0;
    p[n++].thread = 0;
    p[n].op = TRC_OP_FREE, p[n].size = 48, p[n].slot = 0;
    p[n++].thread = 1;
    p[n].op = TRC_OP_MALLOC, p[n].size = 80, p[n].slot = 1;
    p[n++].thread = 1;
    p[n].op = TRC_OP_FREE, p[n].size = 80, p[n].slot = 1;
    p[n++].thread = 0;
  }
  alarm(120);
  rpl_result_t s, t;
  bump_run(p, n, 2, 2, 0, 0, &s, NULL);
  bump_run(p, n, 2, 2, 1, 0, &t, NULL);
  alarm(0);
  assert_string_equal(t.digest, s.digest);
  assert_int_equal(t.threads[0].edges, M);
  assert_int_equal(t.threads[1].edges, M);
  fprintf(stderr, "ping-pong: %llu + %llu of %u edges blocked\n",
          (unsigned long long)t.threads[0].blocked,
          (unsigned long long)t.threads[1].blocked, 2 * M);
  for (int th = 0; th < 2; th++) {
    assert_true(t.threads[th].blocked <= M);
    assert_string_equal(t.threads[th].digest, s.threads[th].digest);
  }
  rpl_result_release(&s);
  rpl_result_release(&t);
}

/* --threads: the names, and which runs auto and recorded replay threaded:
 * a trace of more than one thread on a back end that takes calls from
 * several threads and keeps no per-op decisions, with no span timing. */
static void test_resolve(void **state) {
  (void)state;
  static const char *const names[] = {"serial", "recorded", "auto"};
  for (int m = 0; m < 3; m++) {
    rpl_threads_t got = (rpl_threads_t)-1;
    assert_int_equal(rpl_threads_parse(names[m], &got), 0);
    assert_int_equal(got, m);
    assert_string_equal(rpl_threads_name(got), names[m]);
  }
  rpl_threads_t keep = RPL_THREADS_AUTO;
  assert_int_equal(rpl_threads_parse("Auto", &keep), HK_E_USAGE);
  assert_int_equal(rpl_threads_parse("", &keep), HK_E_USAGE);
  assert_int_equal(rpl_threads_parse("recorded ", &keep), HK_E_USAGE);
  assert_int_equal(keep, RPL_THREADS_AUTO); /* untouched when refused */

  static const struct {
    const char *be;
    int threadable;
  } bes[] = {{"glibc", 1},  {"mimalloc", 1}, {"jemalloc", 1},
             {"tcmalloc", 1}, {"so:/lib/x.so", 1}, {"hakmem", 0},
             {"null", 0}};
  for (size_t b = 0; b < sizeof bes / sizeof bes[0]; b++) {
    const rpl_backend_t *be = rpl_backend_find(bes[b].be);
    assert_non_null(be);
    assert_int_equal(rpl_backend_threadable(be), bes[b].threadable);
    for (int m = 0; m < 3; m++) {
      int on = m != RPL_THREADS_SERIAL && bes[b].threadable;
      assert_int_equal(rpl_threads_resolve((rpl_threads_t)m, be, 4,
                                           RPL_SPAN_NONE), on);
      assert_int_equal(rpl_threads_resolve((rpl_threads_t)m, be, 2,
                                           RPL_SPAN_NONE), on);
      assert_int_equal(rpl_threads_resolve((rpl_threads_t)m, be, 1,
                                           RPL_SPAN_NONE), 0);
      assert_int_equal(rpl_threads_resolve((rpl_threads_t)m, be, 0,
                                           RPL_SPAN_NONE), 0);
      assert_int_equal(rpl_threads_resolve((rpl_threads_t)m, be, 4,
                                           RPL_SPAN_BATCH), 0);
      assert_int_equal(rpl_threads_resolve((rpl_threads_t)m, be, 4,
                                           RPL_SPAN_ITERATION), 0);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_rows_numbered_when_run_fails),
      cmocka_unit_test(test_slack_and_targeted_wakes),
      cmocka_unit_test(test_stall_releases_waiter),
      cmocka_unit_test(test_threaded_equals_serial),
      cmocka_unit_test(test_plan_not_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
