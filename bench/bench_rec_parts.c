/* bench_rec_parts.c: what each part of the recorder's per-event path and
 * of its writer costs on this machine, in ns per event, measured in one
 * run (issue 15). Hook parts: a bare TSC read, rdtscp (the allocation's
 * "after" stamp), lfence; rdtsc (the free's "before" stamp), the site
 * cache probe, the 64-byte event store with its handoffs (rec_push into a
 * session whose sink discards), a stack walk at depth 8 (libunwind), and
 * glibc's own malloc+free pair for scale, and the stamp with the store as
 * a hook does them, every event stamped against one in 16 (HKREC_TS_EVERY).
 * Writer: trc_writer_events on the small-block program's event stream (real
 * glibc addresses), coded in full and fast, at the zstd levels the recorder
 * uses, with bytes/event, and with 15 events in 16 estimated.
 * Times are the thread's CPU time. Each figure is the least and the median
 * of ROUNDS rounds (the machine
 * is shared: the least is the floor, the median what a run sees). Not a
 * test.   bench_rec_parts [ROUNDS=5] [MILLION_EVENTS=4]
 *                         [all|hook|writer|writer=ROW] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hk_clock.h"
#include "rec_internal.h"

/* The calling thread's CPU time: on a machine shared with other jobs,
 * time spent waiting for a core is not the part's cost. */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint64_t sink_u64;

/* ---- hook parts --------------------------------------------------------- */

static double p_rdtsc(long n) {
  uint64_t x = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) x += hk_tsc_raw();
  double el = now() - t0;
  sink_u64 = x;
  return el;
}
static double p_rdtscp(long n) {
  uint64_t x = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) x += hk_tsc_order_after();
  double el = now() - t0;
  sink_u64 = x;
  return el;
}
static double p_lfence(long n) {
  uint64_t x = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) x += hk_tsc_order_before();
  double el = now() - t0;
  sink_u64 = x;
  return el;
}

static rec_site_cache_t cache;
static double p_probe(long n) {
  /* The keys a small program's hooks see: a handful of return addresses. */
  uint64_t keys[8];
  for (int k = 0; k < 8; k++) {
    keys[k] = 0x55550000a000ull + (uint64_t)k * 0x1234;
    rec_cache_put(&cache, keys[k], (uint32_t)k + 1);
  }
  uint64_t x = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) x += rec_cache_get(&cache, keys[i & 7]);
  double el = now() - t0;
  sink_u64 = x;
  return el;
}

/* A session whose sink discards events: rec_push and its handoffs. */
static int d_site(void *c, uint32_t id, const uint64_t *f, uint32_t d) {
  (void)c, (void)id, (void)f, (void)d;
  return 0;
}
static int d_module(void *c, const trc_module_t *m) {
  (void)c, (void)m;
  return 0;
}
static int d_thread(void *c, const trc_thread_t *t) {
  (void)c, (void)t;
  return 0;
}
static int d_events(void *c, uint32_t th, const trc_event_t *ev, size_t n) {
  (void)c, (void)th, (void)ev, (void)n;
  return 0;
}
static int d_end(void *c, uint32_t th) {
  (void)c, (void)th;
  return 0;
}
static int d_finish(void *c, const trc_summary_t *e) {
  (void)c, (void)e;
  return 0;
}
static void d_release(void *c) { (void)c; }
static const rec_sink_t discard = {d_site, d_module, d_thread, d_events,
                                   d_end,  d_finish, d_release, NULL};

static rec_thread_t *push_thread;
static double p_push(long n) {
  double t0 = now();
  for (long i = 0; i < n; i++)
    rec_push(push_thread, TRC_OP_MALLOC, 0, (uint64_t)i + 1000,
             0x5555000000ull + (uint64_t)(i & 63) * 32, 0, 32, 0, 0, 3);
  return now() - t0;
}

/* The stamp and the store together, as a hook does them: every event
 * stamped (rdtscp, HKREC_TS_EVERY=1) against one in 16 (the default; the
 * others only test the buffer position and the handoff epoch). */
static double stamp_push(long n, uint32_t mask) {
  push_thread->ts_mask = mask;
  double t0 = now();
  for (long i = 0; i < n; i++) {
    uint64_t ts = rec_stamp_after(push_thread);
    rec_push(push_thread, TRC_OP_MALLOC, 0, ts,
             0x5555000000ull + (uint64_t)(i & 63) * 32, 0, 32, 0, 0, 3);
  }
  double el = now() - t0;
  push_thread->ts_mask = 0;
  return el;
}
static double p_stamp_push1(long n) { return stamp_push(n, 0); }
static double p_stamp_push16(long n) { return stamp_push(n, 15); }

static double p_malloc_free(long n) {
  void *win[64] = {0};
  double t0 = now();
  for (long i = 0; i < n; i++) {
    unsigned s = (unsigned)(i * 2654435761u) >> 26;
    free(win[s]);
    win[s] = malloc(16 + (size_t)(i & 7) * 16);
  }
  double el = now() - t0;
  for (int i = 0; i < 64; i++) free(win[i]);
  return el / 2; /* per event: a malloc and a free per iteration */
}

static rec_skip_t noskip;
static HK_NOINLINE double p_unwind8(long n) {
  uint64_t f[8], x = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) x += rec_capture(f, 8, &noskip);
  double el = now() - t0;
  sink_u64 = x;
  return el;
}

/* ---- the writer --------------------------------------------------------- */

static trc_event_t *stream;
static size_t nstream;

/* The small-block program's events with the addresses glibc hands out. */
static void make_stream(size_t nalloc) {
  stream = malloc(2 * nalloc * sizeof *stream);
  void *win[64] = {0};
  size_t k = 0;
  uint64_t seed = 42, t = 1000;
  for (size_t i = 0; i < nalloc; i++) {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    unsigned s = (unsigned)(z >> 58);
    if (win[s]) {
      trc_event_t e = {0};
      e.time = t += 30 + (z & 15);
      e.op = TRC_OP_FREE;
      e.ptr = (uintptr_t)win[s];
      stream[k++] = e;
      free(win[s]);
    }
    size_t sz = 16 + (z & 7) * 16;
    win[s] = malloc(sz);
    trc_event_t e = {0};
    e.time = t += 30 + ((z >> 8) & 15);
    e.op = TRC_OP_MALLOC;
    e.ptr = (uintptr_t)win[s];
    e.size = sz;
    e.site = 7;
    stream[k++] = e;
  }
  for (int i = 0; i < 64; i++) free(win[i]);
  nstream = k;
}

/* The same stream as the recorder writes it at HKREC_TS_EVERY=16: 15
 * events in 16 estimated, stored at the last stamp. */
static void make_sparse(int on) {
  for (size_t k = 0; k < nstream; k++) /* the writer stores the last stamp */
    stream[k].flags = on && (k & 15) && (k + 1) % 4096 ? TRC_EV_EST : 0;
}

static double bpe_last;
static double w_code(int fast, int level) {
  char path[] = "/tmp/bench_rec_parts.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 0;
  close(fd);
  trc_header_t h = {0};
  h.clock = TRC_CLOCK_TSC;
  h.tick_hz = 1000000000;
  h.exe = "bench";
  trc_writer_opts_t o = {3, 0, NULL, level};
  trc_writer_t *w;
  if (trc_writer_create(&w, path, &h, &o)) return 0;
  trc_thread_t th = {0, 1, 0, 0, ""};
  trc_writer_add_thread(w, &th);
  uint64_t fr = 0x401000;
  trc_writer_add_site(w, 7, &fr, 1);
  trc_writer_set_pressure(w, fast);
  double t0 = now();
  for (size_t i = 0; i < nstream; i += 4096) {
    size_t m = nstream - i < 4096 ? nstream - i : 4096;
    trc_writer_events(w, 0, stream + i, m);
  }
  trc_writer_finish(w, stream[nstream - 1].time + 1, 0);
  double el = now() - t0;
  bpe_last = (double)trc_writer_bytes(w) / (double)nstream;
  trc_writer_free(w);
  unlink(path);
  return el;
}

/* ---- driver ------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void row(const char *name, double (*f)(long), long n, int rounds) {
  double v[32];
  for (int r = 0; r < rounds; r++) v[r] = f(n) * 1e9 / (double)n;
  qsort(v, (size_t)rounds, sizeof v[0], cmp_d);
  printf("%-34s %8.2f %8.2f\n", name, v[0], v[rounds / 2]);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 5;
  double mev = argc > 2 ? atof(argv[2]) : 4;
  /* PART: "hook" or "writer" runs only that half, "writer=K" only the
   * writer's row K (from 1): a profile or an instruction count of one. */
  const char *part = argc > 3 ? argv[3] : "all";
  int only = 0;
  if (strncmp(part, "writer=", 7) == 0) only = atoi(part + 7);
  int hook = strcmp(part, "all") == 0 || strcmp(part, "hook") == 0;
  int writer = strcmp(part, "all") == 0 || strcmp(part, "writer") == 0 ||
               (only >= 1 && only <= 8);
  if (rounds < 1 || rounds > 31 || mev <= 0 || argc > 4 || (!hook && !writer)) {
    fprintf(stderr, "usage: bench_rec_parts [ROUNDS 1..31] [MILLION_EVENTS] "
                    "[all|hook|writer|writer=1..8]\n");
    return 2;
  }
  long n = (long)(mev * 1e6);
  rec_config_t cfg;
  rec_config_default(&cfg);
  rec_t *r;
  if (rec_create(&r, &cfg, &discard, NULL)) return 1;
  push_thread = rec_thread_attach(r, 1);
  if (!push_thread) return 1;

  if (hook) {
  printf("hook part (ns per event)            least   median\n");
  row("TSC read, bare rdtsc", p_rdtsc, n, rounds);
  row("alloc stamp: rdtscp", p_rdtscp, n, rounds);
  row("free stamp: lfence; rdtsc", p_lfence, n, rounds);
  row("site cache probe (depth 1)", p_probe, n, rounds);
  row("64-byte event store + handoffs", p_push, n, rounds);
  row("rdtscp + store, every event", p_stamp_push1, n, rounds);
  row("stamp 1 in 16 + store (default)", p_stamp_push16, n, rounds);
  row("stack walk, depth 8 (libunwind)", p_unwind8, n / 20, rounds);
  row("glibc malloc/free itself (scale)", p_malloc_free, n / 2, rounds);
  }
  if (writer) {

  make_stream((size_t)n / 2);
  printf("\nwriter on the small-block stream (%zu events): ns/event, B/event\n",
         nstream);
  struct { const char *name; int fast, level; } wm[] = {
      {"full coding, zstd 3 (default)", 0, 3},
      {"fast coding, zstd 1", 1, 1},
      {"fast coding, zstd -1 (default fast)", 1, -1},
      {"fast coding, zstd -5", 1, -5},
      {"fast coding, stored (none)", 1, TRC_LEVEL_NONE},
      {"1 in 16 stamped: full, zstd 3", 0, 3},
      {"1 in 16 stamped: fast, zstd -1", 1, -1},
      {"1 in 16 stamped: fast, stored", 1, TRC_LEVEL_NONE},
  };
  for (size_t i = 0; i < sizeof wm / sizeof wm[0]; i++) {
    if (only && i + 1 != (size_t)only) continue;
    make_sparse(i >= 5);
    double v[32], b = 0;
    for (int k = 0; k < rounds; k++) {
      v[k] = w_code(wm[i].fast, wm[i].level) * 1e9 / (double)nstream;
      b = bpe_last;
    }
    qsort(v, (size_t)rounds, sizeof v[0], cmp_d);
    printf("%-36s %8.2f %8.2f %6.2f B\n", wm[i].name, v[0], v[rounds / 2], b);
  }
  }
  printf("reproduce: build/bench/bench_rec_parts %d %g %s\n", rounds, mev, part);
  rec_thread_flush(push_thread, 1);
  rec_free(r);
  free(stream);
  return 0;
}
