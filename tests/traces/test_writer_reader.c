/* test_writer_reader.c: traces/trc_writer.c and trc_reader.c (and the small
 * things of trc_common.c): every op and field survives a round trip, with
 * random values from fixed seeds, many interleaved threads, side tables and
 * extreme values; the writer's sticky errors; reading at known offsets. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <xxhash.h>

#include "trc.h"
#include "trc_internal.h"

static char dir[64];
static char path[128];

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/hksim-trc-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(path, sizeof path, "%s/t.hkt", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(path);
  return rmdir(dir);
}

/* The least header a reader accepts: all zero but a valid clock. */
static trc_header_t minimal_header(void) {
  trc_header_t h = {0};
  h.clock = TRC_CLOCK_VIRTUAL;
  h.tick_hz = TRC_NS_HZ;
  return h;
}

static trc_header_t header(void) {
  static const char argv[] = "prog\0--flag\0x";
  trc_header_t h = {0};
  h.flags = TRC_HF_ARGV;
  h.clock = TRC_CLOCK_TSC;
  h.tick_hz = 2900000000ull;
  h.start_wall_ns = 1700000000123456789ull;
  h.start_ticks = 0x123456789abcull;
  h.pid = 4242;
  h.ppid = -1;
  h.exe = "/usr/bin/prog";
  h.argv = argv;
  h.argv_len = sizeof argv;
  h.depth = 16;
  return h;
}

/* Expected streams, one per thread. */
typedef struct stream {
  trc_event_t *ev;
  size_t n, cap;
  uint64_t time;
  uint64_t live[32]; /* recent allocations, for frees and reallocs */
  uint64_t live_size[32];
  uint64_t freed[8], freed_size[8]; /* recent frees, to allocate again */
  uint32_t last_site;
} stream_t;

static void push(stream_t *s, const trc_event_t *e) {
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 1024;
    s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
    assert_non_null(s->ev);
  }
  s->ev[s->n++] = *e;
}

static uint64_t rnd_val(hk_rng_t *r) {
  switch (hk_rng_below(r, 6)) {
  case 0: return 0;
  case 1: return UINT64_MAX;
  case 2: return hk_rng_below(r, 100);
  case 3: return hk_rng_below(r, 1 << 20);
  default: return hk_rng_next(r) >> hk_rng_below(r, 64);
  }
}

static uint64_t rnd_ptr(hk_rng_t *r, stream_t *s) {
  switch (hk_rng_below(r, 8)) {
  case 0: return hk_rng_next(r) | 1;                      /* unaligned */
  case 1: return hk_rng_next(r) & ~15ull;                 /* anywhere */
  case 2: return UINT64_MAX - 15 * hk_rng_below(r, 3);     /* top */
  case 3: return 16 * (1 + hk_rng_below(r, 4));             /* bottom */
  default: /* near the previous one, both directions */
    return (s->live[0] + 16 * (hk_rng_below(r, 2000) - 1000)) | 16;
  }
}

/* A random event of a random op, with only the fields its op stores. */
static trc_event_t rnd_event(hk_rng_t *r, stream_t *s, uint32_t nsites) {
  trc_event_t e = {0};
  e.op = (uint8_t)(1 + hk_rng_below(r, TRC_OP_COUNT - 1));
  uint64_t dt = hk_rng_below(r, 4) ? hk_rng_below(r, 5000)
                                   : hk_rng_next(r) >> 40;
  s->time += dt;
  e.time = s->time;
  /* Half the time the site of the previous event (often of the same op):
   * version 3 then stores no site. */
  e.site = hk_rng_below(r, 2) ? s->last_site : (uint32_t)hk_rng_below(r, nsites + 1);
  s->last_site = e.site;
  int failed = e.op != TRC_OP_FREE && hk_rng_below(r, 20) == 0;
  if (e.op == TRC_OP_FREE) {
    unsigned k = (unsigned)hk_rng_below(r, 32);
    e.ptr = hk_rng_below(r, 4) ? s->live[k] : rnd_ptr(r, s);
    if (!e.ptr) e.ptr = 0x1000;
    /* Remember it with its size, as an allocator's free list would. */
    memmove(s->freed + 1, s->freed, sizeof s->freed - sizeof s->freed[0]);
    memmove(s->freed_size + 1, s->freed_size,
            sizeof s->freed_size - sizeof s->freed_size[0]);
    s->freed[0] = e.ptr;
    s->freed_size[0] = e.ptr == s->live[k] ? s->live_size[k] : 0;
  } else {
    e.size = rnd_val(r);
    e.ptr = failed ? 0 : rnd_ptr(r, s);
    if (!failed && hk_rng_below(r, 3) == 0) e.ptr = s->live[hk_rng_below(r, 32)];
    /* A block freed recently, of the same size: the size-class stacks of
     * format version 3 (calloc's request is nmemb * size; nmemb = 1). */
    if (!failed && hk_rng_below(r, 3) == 0) {
      unsigned k = (unsigned)hk_rng_below(r, 8);
      if (s->freed[k]) {
        e.ptr = s->freed[k];
        e.size = s->freed_size[k];
      }
    }
    /* NULL without failing, as malloc(0) may return. */
    if (!failed && hk_rng_below(r, 40) == 0) e.ptr = 0;
    if (failed) e.flags = TRC_EV_FAILED;
  }
  if (trc_op_has_old(e.op))
    e.old_ptr = hk_rng_below(r, 3) ? s->live[hk_rng_below(r, 32)]
                                   : (hk_rng_below(r, 2) ? 0 : rnd_ptr(r, s));
  if (trc_op_has_nmemb(e.op)) e.nmemb = hk_rng_below(r, 2) ? 1 : rnd_val(r);
  if (trc_op_has_align(e.op)) {
    switch (hk_rng_below(r, 4)) {
    case 0: e.align = 0; break;
    case 1: e.align = rnd_val(r); break;
    default: e.align = 1ull << hk_rng_below(r, 64); break;
    }
  }
  if (e.ptr && e.op != TRC_OP_FREE) {
    memmove(s->live + 1, s->live, sizeof s->live - sizeof s->live[0]);
    memmove(s->live_size + 1, s->live_size,
            sizeof s->live_size - sizeof s->live_size[0]);
    s->live[0] = e.ptr;
    s->live_size[0] = trc_op_has_nmemb(e.op) && e.nmemb != 1 ? 0 : e.size;
  }
  return e;
}

static void assert_event_eq(const trc_event_t *a, const trc_event_t *b,
                            uint32_t thread) {
  char la[256], lb[256];
  trc_event_t x = *a;
  x.thread = thread;
  trc_event_format(&x, la, sizeof la);
  trc_event_format(b, lb, sizeof lb);
  assert_string_equal(la, lb);
  assert_true(a->time == b->time && a->ptr == b->ptr &&
              a->old_ptr == b->old_ptr && a->size == b->size &&
              a->nmemb == b->nmemb && a->align == b->align &&
              a->site == b->site && a->op == b->op && a->flags == b->flags);
  assert_int_equal(b->thread, thread);
}

/* Reads the whole file back and compares it with the streams. */
static void check_file(stream_t *st, uint32_t nth, uint32_t nsites,
                       uint64_t (*frames)[TRC_MAX_DEPTH], uint32_t *depth) {
  trc_reader_t *r;
  assert_int_equal(trc_reader_open(&r, path), 0);
  trc_header_t want = header();
  const trc_header_t *h = trc_reader_header(r);
  assert_int_equal(h->version, TRC_VERSION);
  assert_int_equal(h->flags, want.flags);
  assert_int_equal(h->clock, want.clock);
  assert_true(h->tick_hz == want.tick_hz &&
              h->start_wall_ns == want.start_wall_ns &&
              h->start_ticks == want.start_ticks && h->pid == want.pid &&
              h->ppid == want.ppid && h->depth == want.depth);
  assert_string_equal(h->exe, want.exe);
  assert_int_equal(h->argv_len, want.argv_len);
  assert_memory_equal(h->argv, want.argv, want.argv_len);
  size_t *pos = calloc(nth, sizeof *pos);
  int seen_summary = 0;
  uint32_t sites_seen = 0, threads_seen = 0, modules_seen = 0;
  uint64_t chunks = 0, total = 0;
  trc_chunk_t c;
  int rc;
  while ((rc = trc_reader_next(r, &c)) == 1) {
    assert_false(seen_summary);
    switch (c.kind) {
    case TRC_CHUNK_EVENTS:
      assert_true(c.thread < nth);
      for (size_t i = 0; i < c.n; i++) {
        assert_true(pos[c.thread] < st[c.thread].n);
        assert_event_eq(&st[c.thread].ev[pos[c.thread]++], &c.events[i],
                        c.thread);
      }
      total += c.n;
      break;
    case TRC_CHUNK_SITES:
      for (size_t i = 0; i < c.n; i++) {
        uint32_t id = c.sites[i].id;
        assert_true(id >= 1 && id <= nsites);
        assert_int_equal(c.sites[i].depth, depth[id]);
        if (depth[id])
          assert_memory_equal(c.sites[i].frames, frames[id],
                              depth[id] * sizeof(uint64_t));
        sites_seen++;
      }
      break;
    case TRC_CHUNK_MODULES:
      for (size_t i = 0; i < c.n; i++) {
        const trc_module_t *m = &c.modules[i];
        char want_path[64];
        snprintf(want_path, sizeof want_path, "/lib/mod%u.so", m->id);
        assert_string_equal(m->path, want_path);
        assert_true(m->base == 0x7f0000000000ull + m->id * 0x100000ull);
        assert_true(m->lo == m->base + 0x1000 && m->hi == m->base + 0x9000);
        assert_true(m->time == m->id && m->unload_time == (m->id % 2 ? 0 : UINT64_MAX));
        assert_int_equal(m->build_id_len, m->id % 3 ? 20 : 0);
        for (uint32_t k = 0; k < m->build_id_len; k++)
          assert_int_equal(m->build_id[k], (uint8_t)(m->id + k));
        modules_seen++;
      }
      break;
    case TRC_CHUNK_THREADS:
      for (size_t i = 0; i < c.n; i++) {
        const trc_thread_t *t = &c.threads[i];
        char name[32];
        if (t->index)
          snprintf(name, sizeof name, "worker-%u", t->index);
        else
          name[0] = 0;
        assert_string_equal(t->name, name);
        assert_true(t->tid == 1000 + (int64_t)t->index);
        assert_true(t->start_time == t->index && t->end_time == 0);
        threads_seen++;
      }
      break;
    case TRC_CHUNK_SUMMARY:
      seen_summary = 1;
      assert_true(c.summary->events == total);
      assert_true(c.summary->chunks == chunks);
      assert_true(c.summary->end_time == 777 && c.summary->dropped == 3);
      assert_int_equal(c.summary->sites, sites_seen);
      assert_int_equal(c.summary->threads, threads_seen);
      assert_int_equal(c.summary->modules, modules_seen);
      break;
    default: fail();
    }
    chunks++;
  }
  assert_int_equal(rc, 0);
  assert_true(seen_summary);
  assert_true(trc_reader_offset(r) == trc_reader_file_size(r));
  for (uint32_t t = 0; t < nth; t++) assert_int_equal(pos[t], st[t].n);
  free(pos);
  trc_reader_free(r);
}

/* Fast coding in roundtrip: 0 never; 1 the pressure hint moves at random
 * between 0, 1 and 2 between batches (chunks coded in full, fast at zstd
 * level rt_fast_level, and fast stored uncompressed in one file). */
static int rt_fast, rt_fast_level;

/* Random op streams of many threads handed to the writer in interleaved
 * batches, with small chunks so that tables and events alternate. */
static void roundtrip(uint64_t seed, uint32_t nth, uint32_t per_thread,
                      uint32_t chunk_events, int level) {
  enum { NSITES = 40 };
  hk_rng_t r;
  hk_rng_init(&r, seed);
  stream_t *st = calloc(nth, sizeof *st);
  for (uint32_t t = 0; t < nth; t++) {
    for (uint32_t i = 0; i < per_thread; i++) {
      trc_event_t e = rnd_event(&r, &st[t], NSITES);
      e.thread = t;
      push(&st[t], &e);
    }
  }
  static uint64_t frames[NSITES + 1][TRC_MAX_DEPTH];
  uint32_t depth[NSITES + 1];
  for (uint32_t s = 1; s <= NSITES; s++) {
    depth[s] = (uint32_t)hk_rng_below(&r, TRC_MAX_DEPTH + 1);
    for (uint32_t k = 0; k < depth[s]; k++)
      frames[s][k] = k % 3 ? hk_rng_next(&r) : 0x555555554000ull + 8 * s - k;
  }
  trc_header_t h = header();
  trc_writer_opts_t o = {level, chunk_events, NULL, rt_fast_level};
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, &o), 0);
  size_t *pos = calloc(nth, sizeof *pos);
  uint32_t next_site = 1, next_mod = 1;
  for (;;) {
    uint32_t t = (uint32_t)hk_rng_below(&r, nth);
    size_t k = 1 + hk_rng_below(&r, chunk_events);
    if (pos[t] + k > st[t].n) k = st[t].n - pos[t];
    /* Sites are defined before any event that uses them is written:
     * define them all first, some at a time. */
    while (next_site <= NSITES && hk_rng_below(&r, 2))
      assert_int_equal(trc_writer_add_site(w, next_site, frames[next_site],
                                           depth[next_site]), 0),
          next_site++;
    if (next_site <= NSITES) continue;
    if (next_mod <= 12 && hk_rng_below(&r, 4) == 0) {
      uint8_t bid[20];
      for (int b = 0; b < 20; b++) bid[b] = (uint8_t)(next_mod + b);
      char p[64];
      snprintf(p, sizeof p, "/lib/mod%u.so", next_mod);
      trc_module_t m = {next_mod, 0x7f0000000000ull + next_mod * 0x100000ull,
                        0, 0, next_mod, next_mod % 2 ? 0 : UINT64_MAX, p,
                        next_mod % 3 ? bid : NULL, next_mod % 3 ? 20 : 0};
      m.lo = m.base + 0x1000;
      m.hi = m.base + 0x9000;
      assert_int_equal(trc_writer_add_module(w, &m), 0);
      next_mod++;
    }
    if (rt_fast) trc_writer_set_pressure(w, (int)hk_rng_below(&r, 3));
    if (k) {
      assert_int_equal(trc_writer_events(w, t, st[t].ev + pos[t], k), 0);
      pos[t] += k;
    }
    int done = 1;
    for (uint32_t i = 0; i < nth; i++) done &= pos[i] == st[i].n;
    if (done) break;
  }
  /* Threads table at the end, as a recorder learns names late. */
  for (uint32_t t = 0; t < nth; t++) {
    char name[32];
    if (t)
      snprintf(name, sizeof name, "worker-%u", t);
    else
      name[0] = 0;
    trc_thread_t th = {t, 1000 + (int64_t)t, t, 0, name};
    assert_int_equal(trc_writer_add_thread(w, &th), 0);
  }
  uint64_t n_total = (uint64_t)nth * per_thread;
  assert_true(trc_writer_events_total(w) == n_total);
  assert_int_equal(trc_writer_finish(w, 777, 3), 0);
  assert_int_equal(trc_writer_error(w), 0);
  assert_int_equal(trc_writer_finish(w, 777, 3), HK_E_STATE);
  uint64_t bytes = trc_writer_bytes(w);
  trc_writer_free(w);
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  assert_true((uint64_t)ftell(f) == bytes);
  fclose(f);
  check_file(st, nth, NSITES, frames, depth);
  trc_scan_t sc;
  assert_int_equal(trc_scan(path, &sc), 0);
  assert_int_equal(sc.status, 0);
  assert_true(sc.events == n_total && sc.have_summary);
  if (rt_fast) { /* both codings, counted */
    assert_true(sc.summary.chunks_fast > 0);
    assert_true(sc.summary.events_fast > 0 && sc.summary.events_fast < n_total);
    assert_true(sc.summary.chunks_stored > 0 &&
                sc.summary.chunks_stored < sc.summary.chunks_fast);
    assert_true(sc.summary.events_stored > 0 &&
                sc.summary.events_stored < sc.summary.events_fast);
  } else {
    assert_true(sc.summary.chunks_fast == 0 && sc.summary.events_fast == 0);
    assert_true(sc.summary.chunks_stored == 0 && sc.summary.events_stored == 0);
  }
  for (uint32_t t = 0; t < nth; t++) free(st[t].ev);
  free(st);
  free(pos);
}

static void test_roundtrip_random(void **state) {
  (void)state;
  roundtrip(1, 1, 5000, 65536, 0);
  roundtrip(2, 8, 3000, 500, 1);
  roundtrip(3, 33, 400, 7, 3);
  roundtrip(4, 3, 20000, 4096, 9);
}

/* Fast coding (trc_writer_set_pressure): chunks coded with pointer deltas
 * only, at a negative zstd level, stored uncompressed, or at level 1,
 * mixed with fully coded ones in one file, read back event for event
 * (check_file), and counted in the summary. */
static void test_roundtrip_fast(void **state) {
  (void)state;
  rt_fast = 1;
  const int lv[] = {-1, TRC_LEVEL_NONE, 1, -7};
  for (int i = 0; i < 4; i++) {
    rt_fast_level = lv[i];
    roundtrip(10 + (uint64_t)i, 4, 6000, 300, 3);
  }
  rt_fast_level = 0; /* the default fast level */
  roundtrip(20, 1, 20000, 1000, 0);
  rt_fast = 0;
}

/* Version 5: estimated times (TRC_EV_EST). The writer stores each at its
 * thread's last stamp, whatever time it is given; the reader spreads a run
 * evenly up to the next stamp in the chunk and leaves a run with none after
 * it at the last stamp. Read and written again (trace compact), the file
 * decodes to the same times. */
static void test_estimated_times(void **state) {
  (void)state;
  trc_event_t ev[8];
  memset(ev, 0, sizeof ev);
  const uint64_t t[8] = {100, 150, 160, 170, 500, 501, 600, 700};
  const int est[8] = {0, 1, 1, 1, 0, 1, 0, 1};
  for (int i = 0; i < 8; i++) {
    ev[i].time = t[i];
    ev[i].op = TRC_OP_MALLOC;
    ev[i].ptr = 0x1000 + 16 * (uint64_t)i;
    ev[i].size = 8;
    ev[i].flags = est[i] ? TRC_EV_EST : 0;
  }
  const uint64_t want[8] = {100, 200, 300, 400, 500, 550, 600, 600};
  for (int pass = 0; pass < 2; pass++) {
    trc_header_t h = minimal_header();
    trc_writer_t *w;
    assert_int_equal(trc_writer_create(&w, path, &h, NULL), 0);
    assert_int_equal(trc_writer_events(w, 0, ev, 8), 0);
    assert_int_equal(trc_writer_finish(w, 800, 0), 0);
    trc_writer_free(w);
    trc_reader_t *r;
    assert_int_equal(trc_reader_open(&r, path), 0);
    assert_int_equal(trc_reader_header(r)->version, 5);
    trc_chunk_t c;
    int rc, seen = 0;
    while ((rc = trc_reader_next(r, &c)) == 1) {
      if (c.kind != TRC_CHUNK_EVENTS) continue;
      assert_int_equal(c.n, 8);
      for (int i = 0; i < 8; i++) {
        assert_int_equal(c.events[i].time, want[i]);
        assert_int_equal(c.events[i].flags, est[i] ? TRC_EV_EST : 0);
        ev[i] = c.events[i]; /* the second pass writes what was read */
      }
      seen = 1;
    }
    assert_int_equal(rc, 0);
    assert_true(seen);
    trc_reader_free(r);
  }
  /* In place, as the reader does it: equal stamps leave a run flat. */
  trc_event_t f[3] = {{.time = 9}, {.time = 9, .flags = TRC_EV_EST}, {.time = 9}};
  trc_interpolate_times(f, 3);
  assert_int_equal(f[1].time, 9);
}

/* The summary's recorder fields (version 4 extension): what finish_ext is
 * given comes back, the writer's fast counts are its own, and a reopened
 * count given is added to the writer's (a recoded trace keeps it). */
static void test_summary_costs(void **state) {
  (void)state;
  trc_header_t h = header();
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, NULL), 0);
  trc_thread_t th = {0, 1, 0, 0, ""};
  assert_int_equal(trc_writer_add_thread(w, &th), 0);
  trc_event_t ev[40];
  memset(ev, 0, sizeof ev);
  for (int i = 0; i < 40; i++) {
    ev[i].time = (uint64_t)i;
    ev[i].op = TRC_OP_MALLOC;
    ev[i].size = 16;
    ev[i].ptr = 0x1000 + 32 * (uint64_t)i;
  }
  trc_writer_set_pressure(w, 1);
  assert_int_equal(trc_writer_events(w, 0, ev, 20), 0);
  assert_int_equal(trc_writer_flush(w), 0);
  trc_writer_set_pressure(w, 2); /* far behind: the next chunk is stored */
  assert_int_equal(trc_writer_events(w, 0, ev + 20, 20), 0);
  trc_summary_t end = {0};
  end.end_time = 50;
  end.hook_ns = 123456789012ull;
  end.hook_samples = 77;
  end.wait_ns = 5;
  end.writer_ns = 987654321;
  end.reopened = 2;
  end.chunks_fast = 999; /* ignored: the writer counts its own */
  assert_int_equal(trc_writer_finish_ext(w, &end), 0);
  trc_writer_free(w);
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, 0);
  assert_true(s.summary.hook_ns == 123456789012ull);
  assert_true(s.summary.hook_samples == 77 && s.summary.wait_ns == 5);
  assert_true(s.summary.writer_ns == 987654321);
  assert_true(s.summary.chunks_fast == 2 && s.summary.events_fast == 40);
  assert_true(s.summary.chunks_stored == 1 && s.summary.events_stored == 20);
  assert_true(s.summary.reopened == 2);
}

/* Pressure 2 stores fast chunks uncompressed, whatever the fast level:
 * 4000 events of one size and stride, stored, take at least 3 bytes each
 * more than at pressure 1 (zstd -1 codes them in a fraction of a byte). */
static uint64_t stored_size(int pressure) {
  trc_header_t h = header();
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, NULL), 0);
  trc_thread_t th = {0, 1, 0, 0, ""};
  assert_int_equal(trc_writer_add_thread(w, &th), 0);
  enum { N = 4000 };
  trc_event_t *ev = calloc(N, sizeof *ev);
  for (int i = 0; i < N; i++) {
    ev[i].time = (uint64_t)i * 5;
    ev[i].op = TRC_OP_MALLOC;
    ev[i].size = 48;
    ev[i].ptr = 0x10000 + 64 * (uint64_t)i;
  }
  trc_writer_set_pressure(w, pressure);
  assert_int_equal(trc_writer_events(w, 0, ev, N), 0);
  assert_int_equal(trc_writer_finish(w, N * 5, 0), 0);
  uint64_t b = trc_writer_bytes(w);
  trc_writer_free(w);
  free(ev);
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, 0);
  assert_true(s.events == N);
  assert_true(s.summary.chunks_stored == (pressure == 2 ? 1u : 0u));
  return b;
}
static void test_pressure_stored(void **state) {
  (void)state;
  uint64_t z = stored_size(1), raw = stored_size(2);
  if (raw < z + 3 * 4000)
    fail_msg("stored %llu bytes, zstd %llu", (unsigned long long)raw,
             (unsigned long long)z);
}

/* Hand-picked extremes: sizes 0 and UINT64_MAX, pointers at both ends of
 * the address space (deltas of both signs, aligned or not), odd aligns,
 * failed calls, equal times, the largest site id and a far thread index. */
static void test_extremes(void **state) {
  (void)state;
  const uint64_t M = UINT64_MAX;
  trc_event_t ev[] = {
      {0, 16, 0, 0, 0, 0, 1, 0, TRC_OP_MALLOC, 0},
      {0, M - 15, 0, M, 0, 0, UINT32_MAX, 0, TRC_OP_MALLOC, 0},
      {0, M, 0, 1, 0, 0, 0, 0, TRC_OP_MALLOC, 0},
      {1, 1, 0, 0, 0, 0, 0, 0, TRC_OP_MALLOC, 0},
      {1, 0, 0, M, M, 0, 0, 0, TRC_OP_CALLOC, TRC_EV_FAILED},
      {2, M - 15, 0, 0, 0, 0, 0, 0, TRC_OP_FREE, 0},
      {3, 0, M, M, 0, 0, 0, 0, TRC_OP_REALLOC, TRC_EV_FAILED},
      {3, M, 0, 5, 0, 0, 0, 0, TRC_OP_REALLOC, 0},
      {4, 32, M, 0, M, 0, 0, 0, TRC_OP_REALLOCARRAY, 0},
      {5, 48, 0, 64, 0, 1ull << 63, 0, 0, TRC_OP_POSIX_MEMALIGN, 0},
      {6, 0, 0, 64, 0, 3, 0, 0, TRC_OP_ALIGNED_ALLOC, TRC_EV_FAILED},
      {7, 0, 0, 64, 0, M, 0, 0, TRC_OP_MEMALIGN, TRC_EV_FAILED},
      {8, 0, 0, 64, 0, 0, 0, 0, TRC_OP_MEMALIGN, TRC_EV_FAILED},
      {9, 4096, 0, 1, 0, 4096, 0, 0, TRC_OP_VALLOC, 0},
      {10, 8192, 0, 1, 0, 4096, 0, 0, TRC_OP_PVALLOC, 0},
      {10, 8192, 0, 0, 0, 0, 0, 0, TRC_OP_FREE, 0},
      {10, 1, 0, 0, 0, 0, 0, 0, TRC_OP_FREE, 0},
      {TRC_TIME_MAX, M, 0, 0, 0, 0, 0, 0, TRC_OP_FREE, 0},
  };
  size_t n = HK_ARRAY_LEN(ev);
  uint64_t fr[TRC_MAX_DEPTH];
  for (int i = 0; i < TRC_MAX_DEPTH; i++) fr[i] = i % 2 ? M - (uint64_t)i : (uint64_t)i;
  trc_header_t h = {0};
  h.clock = TRC_CLOCK_VIRTUAL;
  h.tick_hz = TRC_NS_HZ;
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, NULL), 0);
  assert_int_equal(trc_writer_add_site(w, 1, fr, TRC_MAX_DEPTH), 0);
  assert_int_equal(trc_writer_add_site(w, UINT32_MAX, fr, 1), 0);
  assert_int_equal(trc_writer_add_site(w, 0, fr, 1), HK_E_RANGE);
  assert_int_equal(trc_writer_add_site(w, 2, fr, TRC_MAX_DEPTH + 1),
                   HK_E_RANGE);
  const uint32_t far = 70000;
  /* Version 5 holds times up to TRC_TIME_MAX (2^63 - 1): one more is the
   * caller's error, refused whole. */
  trc_event_t late = ev[0];
  late.time = TRC_TIME_MAX + 1;
  assert_int_equal(trc_writer_events(w, far, &late, 1), HK_E_RANGE);
  assert_int_equal(trc_writer_events(w, far, ev, n), 0);
  trc_thread_t th = {far, INT64_MIN, 0, M, "x"};
  assert_int_equal(trc_writer_add_thread(w, &th), 0);
  assert_int_equal(trc_writer_finish(w, M, 0), 0);
  trc_writer_free(w);

  trc_reader_t *r;
  assert_int_equal(trc_reader_open(&r, path), 0);
  assert_string_equal(trc_reader_header(r)->exe, "");
  assert_null(trc_reader_header(r)->argv);
  trc_chunk_t c;
  size_t got = 0;
  int rc;
  while ((rc = trc_reader_next(r, &c)) == 1) {
    if (c.kind == TRC_CHUNK_EVENTS) {
      assert_int_equal(c.thread, far);
      for (size_t i = 0; i < c.n; i++) assert_event_eq(&ev[got++], &c.events[i], far);
    } else if (c.kind == TRC_CHUNK_SITES) {
      assert_int_equal(c.n, 2);
      assert_memory_equal(c.sites[0].frames, fr, sizeof fr);
      assert_int_equal(c.sites[1].id, UINT32_MAX);
      assert_true(c.sites[1].frames[0] == fr[0]);
    } else if (c.kind == TRC_CHUNK_THREADS) {
      assert_true(c.threads[0].tid == INT64_MIN && c.threads[0].end_time == M);
    }
  }
  assert_int_equal(rc, 0);
  assert_int_equal(got, n);
  trc_reader_free(r);
}

/* Bad input to the writer is refused without recording any of the call,
 * and is not sticky. */
static void test_writer_refuses(void **state) {
  (void)state;
  trc_header_t h = minimal_header();
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, NULL), 0);
  trc_event_t ev[2] = {{.time = 10, .op = TRC_OP_MALLOC, .ptr = 16},
                       {.time = 9, .op = TRC_OP_FREE, .ptr = 16}};
  assert_int_equal(trc_writer_events(w, 0, ev, 2), HK_E_RANGE);
  ev[1].time = 10;
  ev[1].op = 0;
  assert_int_equal(trc_writer_events(w, 0, ev, 2), HK_E_RANGE);
  ev[1].op = TRC_OP_COUNT;
  assert_int_equal(trc_writer_events(w, 0, ev, 2), HK_E_RANGE);
  /* A failed call returns no pointer, and a free cannot fail. */
  ev[1].op = TRC_OP_MALLOC;
  ev[1].flags = TRC_EV_FAILED;
  assert_int_equal(trc_writer_events(w, 0, ev, 2), HK_E_RANGE);
  ev[1].op = TRC_OP_FREE;
  ev[1].ptr = 0;
  assert_int_equal(trc_writer_events(w, 0, ev, 2), HK_E_RANGE);
  ev[1].flags = 0;
  ev[1].op = TRC_OP_COUNT;
  assert_int_equal(trc_writer_events(w, TRC_MAX_THREADS, ev, 1), HK_E_RANGE);
  assert_true(trc_writer_events_total(w) == 0);
  assert_int_equal(trc_writer_error(w), 0);
  assert_int_equal(trc_writer_events(w, 0, ev, 1), 0);
  ev[0].time = 5; /* earlier than what this thread already has */
  assert_int_equal(trc_writer_events(w, 0, ev, 1), HK_E_RANGE);
  assert_int_equal(trc_writer_finish(w, 0, 0), 0);
  assert_int_equal(trc_writer_events(w, 0, ev, 1), HK_E_STATE);
  trc_writer_free(w);
  trc_writer_free(NULL);
}

/* A refused call into a fast chunk (checked as it is coded) leaves no
 * trace of itself: not at a chunk's start (the chunk's coding is decided
 * again by the next call), not in the middle of one after its size cache,
 * last sites, times and prev moved, at pressure 1 and 2. The file reads
 * back event for event as if the refused calls had never been made. */
static void refused_fast(int pressure) {
  enum { N = 500 };
  trc_event_t ev[N];
  memset(ev, 0, sizeof ev);
  for (int i = 0; i < N; i++) {
    ev[i].time = 10 + (uint64_t)i * 3;
    ev[i].op = i % 3 == 2 ? TRC_OP_FREE : TRC_OP_MALLOC;
    ev[i].ptr = 0x100000 + 48 * (uint64_t)(i * 7 % 211);
    ev[i].size = ev[i].op == TRC_OP_FREE ? 0 : 16 + 16 * (uint64_t)(i % 5);
    ev[i].site = ev[i].op == TRC_OP_FREE ? 0 : 1 + (uint32_t)(i % 4);
    ev[i].flags = i % 4 == 1 ? TRC_EV_EST : 0;
  }
  ev[N - 1].flags = 0;
  trc_header_t h = minimal_header();
  trc_writer_opts_t o = {0, 1000, NULL, 0};
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, &o), 0);
  static const uint64_t fr[1] = {0x401000};
  for (uint32_t s = 1; s <= 4; s++)
    assert_int_equal(trc_writer_add_site(w, s, fr, 1), 0);
  trc_thread_t th = {0, 1, 0, 0, ""};
  assert_int_equal(trc_writer_add_thread(w, &th), 0);
  trc_event_t bad[N];
  trc_writer_set_pressure(w, pressure);
  memcpy(bad, ev, sizeof bad);
  bad[120].op = 0; /* a fast chunk would start here */
  assert_int_equal(trc_writer_events(w, 0, bad, 300), HK_E_RANGE);
  trc_writer_set_pressure(w, 0); /* so this chunk is coded in full */
  assert_int_equal(trc_writer_events(w, 0, ev, 100), 0);
  assert_int_equal(trc_writer_flush(w), 0);
  trc_writer_set_pressure(w, pressure);
  assert_int_equal(trc_writer_events(w, 0, ev + 100, 100), 0);
  trc_writer_set_pressure(w, 0); /* a started chunk keeps its coding */
  memcpy(bad, ev, sizeof bad);
  bad[449].time = bad[448].time - 1; /* out of order, late in the call */
  assert_int_equal(trc_writer_events(w, 0, bad + 200, 300), HK_E_RANGE);
  memcpy(bad, ev, sizeof bad);
  bad[300].flags = TRC_EV_FAILED; /* a failed call with a pointer */
  assert_int_equal(trc_writer_events(w, 0, bad + 200, 300), HK_E_RANGE);
  bad[300] = ev[300];
  bad[499].op = TRC_OP_COUNT; /* the very last event */
  /* Sizes that leave the size cache holding what the events from 200 on
   * will ask: a cache not put back would code them as cached. */
  uint64_t next_size[5] = {0};
  for (int i = N - 1; i >= 200; i--)
    if (ev[i].op == TRC_OP_MALLOC) next_size[ev[i].site] = ev[i].size;
  for (int i = 200; i < 499; i++)
    if (bad[i].op == TRC_OP_MALLOC) bad[i].size = next_size[bad[i].site];
  assert_int_equal(trc_writer_events(w, 0, bad + 200, 300), HK_E_RANGE);
  assert_true(trc_writer_events_total(w) == 200);
  assert_int_equal(trc_writer_events(w, 0, ev + 200, 300), 0);
  assert_int_equal(trc_writer_finish(w, 5000, 0), 0);
  assert_int_equal(trc_writer_error(w), 0);
  trc_writer_free(w);
  trc_reader_t *r;
  assert_int_equal(trc_reader_open(&r, path), 0);
  trc_chunk_t c;
  size_t got = 0;
  int rc;
  while ((rc = trc_reader_next(r, &c)) == 1) {
    if (c.kind != TRC_CHUNK_EVENTS) continue;
    for (size_t i = 0; i < c.n; i++, got++) {
      trc_event_t want = ev[got];
      if (want.flags & TRC_EV_EST) { /* read back interpolated */
        want.time = c.events[i].time;
        assert_true(c.events[i].flags & TRC_EV_EST);
      }
      assert_event_eq(&want, &c.events[i], 0);
    }
  }
  assert_int_equal(rc, 0);
  assert_int_equal(got, N);
  trc_reader_free(r);
  trc_scan_t sc;
  assert_int_equal(trc_scan(path, &sc), 0);
  if (sc.status) fail_msg("pressure %d: %s", pressure, sc.problem);
  assert_true(sc.summary.chunks_fast == 1 && sc.summary.events_fast == 400);
  assert_true(sc.summary.events_stored == (pressure == 2 ? 400u : 0u));
  assert_true(sc.summary.counts[TRC_OP_FREE] == 166);
}
static void test_writer_refuses_fast(void **state) {
  (void)state;
  refused_fast(1);
  refused_fast(2);
}

static void fill_events(trc_event_t *ev, size_t n) {
  for (size_t i = 0; i < n; i++) {
    trc_event_t e = {.time = i, .op = TRC_OP_MALLOC, .size = i, .ptr = 16 * (i + 1)};
    ev[i] = e;
  }
}

/* Write errors are sticky: the first one is kept, later calls return it,
 * nothing crashes; /dev/full gives ENOSPC, a closed fd EBADF. */
static void test_writer_errors(void **state) {
  (void)state;
  trc_header_t h = minimal_header();
  trc_writer_t *w;
  trc_writer_opts_t o = {1, 16, NULL, 0};
  trc_event_t ev[64];
  fill_events(ev, 64);

  int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
  assert_true(full >= 0);
  assert_int_equal(trc_writer_create_fd(&w, full, &h, &o), -ENOSPC);
  assert_null(w);

  int ro = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  assert_true(ro >= 0);
  assert_int_equal(trc_writer_create_fd(&w, ro, &h, &o), -EBADF);
  assert_int_equal(trc_writer_create(&w, "/nonexistent-dir/x.hkt", &h, &o),
                   -ENOENT);

  /* The disk fills up after the header: swap /dev/full in under the fd. */
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(trc_writer_create_fd(&w, fd, &h, &o), 0);
  full = open("/dev/full", O_WRONLY | O_CLOEXEC);
  assert_true(dup2(full, fd) == fd);
  close(full);
  assert_int_equal(trc_writer_events(w, 0, ev, 10), 0); /* buffered */
  assert_int_equal(trc_writer_events(w, 0, ev + 10, 10), -ENOSPC);
  assert_int_equal(trc_writer_error(w), -ENOSPC);
  assert_int_equal(trc_writer_add_site(w, 1, NULL, 0), -ENOSPC);
  assert_int_equal(trc_writer_events(w, 1, ev, 1), -ENOSPC);
  assert_int_equal(trc_writer_flush(w), -ENOSPC);
  assert_int_equal(trc_writer_finish(w, 0, 0), -ENOSPC);
  trc_writer_free(w);

  /* The fd is closed under the writer. */
  fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  assert_int_equal(trc_writer_create_fd(&w, fd, &h, &o), 0);
  assert_int_equal(trc_writer_events(w, 0, ev, 8), 0);
  close(fd);
  assert_int_equal(trc_writer_flush(w), -EBADF);
  assert_int_equal(trc_writer_events(w, 0, ev + 8, 30), -EBADF);
  assert_int_equal(trc_writer_error(w), -EBADF);
  trc_writer_free(w); /* closes -1 or a dead fd: harmless */
}

/* A guarded fd (opts.reopen_path): moved high at once; closed, or its
 * number taken by another file, it is reopened by path before the next
 * write, the other file is never written, and the summary counts it. */
static void test_guarded_fd(void **state) {
  (void)state;
  trc_header_t h = minimal_header();
  trc_writer_t *w;
  trc_writer_opts_t o = {0, 16, path, 0};
  trc_event_t ev[64];
  fill_events(ev, 64);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(trc_writer_create_fd(&w, fd, &h, &o), 0);
  assert_int_equal(fcntl(fd, F_GETFD), -1); /* the low number was given up */
  int hi = trc_writer_high_fd();
  int found = -1;
  for (int i = hi; i < hi + 64 && found < 0; i++)
    if (fcntl(i, F_GETFD) >= 0) found = i;
  assert_true(found >= hi);
  trc_thread_t th = {0, 1, 0, 0, "main"};
  assert_int_equal(trc_writer_add_thread(w, &th), 0);
  assert_int_equal(trc_writer_events(w, 0, ev, 20), 0); /* one chunk */
  close(found);                                         /* the program closes it */
  assert_int_equal(trc_writer_events(w, 0, ev + 20, 20), 0);
  /* The number now names another file (as after a dup2). */
  char other[] = "/tmp/hksim_guard_XXXXXX";
  int ofd = mkstemp(other);
  assert_true(ofd >= 0);
  int now = -1;
  for (int i = hi; i < hi + 64 && now < 0; i++)
    if (i != ofd && fcntl(i, F_GETFD) >= 0) now = i;
  assert_true(now >= hi);
  assert_true(dup2(ofd, now) == now);
  assert_int_equal(trc_writer_events(w, 0, ev + 40, 24), 0);
  assert_int_equal(trc_writer_finish(w, 99, 0), 0);
  trc_writer_free(w);
  struct stat st;
  assert_int_equal(fstat(ofd, &st), 0);
  assert_int_equal(st.st_size, 0); /* nothing went to the other file */
  assert_int_equal(fcntl(now, F_GETFD) >= 0, 1); /* and its fd was not closed */
  close(now);
  close(ofd);
  unlink(other);
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, 0);
  assert_true(s.events == 64);
  assert_true(s.summary.reopened == 2);
  assert_int_equal(s.summary.end_signal, 0);
}

/* The fd gate (trc_writer_gate_*), used as the recorder's close and dup2
 * hooks use it, while a thread writes 16-event chunks: a "dup2" thread
 * vacates the trace's number, puts a file of its own there and writes
 * 8-byte records through it; a "close loop" thread closes every number
 * near the trace's but the one the gate names. The program's file holds
 * exactly the records written to it, the trace every event, and the
 * writer never had to reopen (every change went through the gate).
 * Without vacate's move, the writer would write chunks into the file. */
enum { GATE_ROUNDS = 300, GATE_CHUNKS = 400 };
typedef struct gate_ctx {
  trc_writer_t *w;
  int prog_fd;          /* the program's file, dup2'ed onto the number */
  _Atomic int done;     /* the event writer finished */
  _Atomic int bad;      /* a thread met something it should not */
  _Atomic int records;  /* 8-byte records written to the program's file */
  /* The program's own lock between its threads' uses of one number (a
   * write to it, a close of it): without it the program itself races, and
   * TSan says so (CI). The trace's writer never takes it, so the race the
   * test is about, the writer against the program's closes and dup2s, is
   * untouched. Taken inside the gate only, never the other way round. */
  pthread_mutex_t prog;
} gate_ctx_t;

static void *gate_events(void *arg) {
  gate_ctx_t *c = arg;
  trc_event_t ev[16];
  for (int k = 0; k < GATE_CHUNKS; k++) {
    for (int i = 0; i < 16; i++) {
      trc_event_t e = {.time = (uint64_t)(k * 16 + i), .op = TRC_OP_MALLOC,
                       .size = 32, .ptr = 16 * (uint64_t)(k * 16 + i + 1)};
      ev[i] = e;
    }
    if (trc_writer_events(c->w, 0, ev, 16)) atomic_store(&c->bad, 1);
  }
  atomic_store(&c->done, 1);
  return NULL;
}

static void *gate_dup2(void *arg) {
  gate_ctx_t *c = arg;
  for (int r = 0; r < GATE_ROUNDS; r++) {
    trc_fd_gate_t g;
    trc_writer_gate_enter(c->w, &g);
    int t = g.fd;
    if (t < 0 || !trc_writer_gate_holds(c->w, &g)) atomic_store(&c->bad, 2);
    int moved = trc_writer_gate_vacate(c->w, &g, t);
    pthread_mutex_lock(&c->prog);
    int dup_ok = dup2(c->prog_fd, t) == t;
    pthread_mutex_unlock(&c->prog);
    if (moved != 1 || g.fd == t || g.fd < 0 || !dup_ok)
      atomic_store(&c->bad, 3);
    trc_writer_gate_leave(c->w, &g);
    /* The number is the program's now: its record goes to its file (or
     * nowhere, if the close loop closed the number first). */
    char rec[9];
    snprintf(rec, sizeof rec, "p%06d\n", r);
    trc_writer_gate_enter(c->w, &g); /* as the close hook: not the trace */
    pthread_mutex_lock(&c->prog);     /* always inside the gate */
    if (write(t, rec, 8) == 8) atomic_fetch_add(&c->records, 1);
    if (g.fd != t) close(t);
    pthread_mutex_unlock(&c->prog);
    trc_writer_gate_leave(c->w, &g);
  }
  return NULL;
}

static void *gate_closer(void *arg) {
  gate_ctx_t *c = arg;
  int hi = trc_writer_high_fd();
  while (!atomic_load(&c->done)) {
    trc_fd_gate_t g;
    trc_writer_gate_enter(c->w, &g);
    pthread_mutex_lock(&c->prog);
    for (int fd = hi; fd < hi + 8; fd++)
      if (fd != g.fd && fd != c->prog_fd) close(fd);
    pthread_mutex_unlock(&c->prog);
    trc_writer_gate_leave(c->w, &g);
  }
  return NULL;
}

static void test_fd_gate(void **state) {
  (void)state;
  trc_header_t h = minimal_header();
  trc_writer_t *w;
  trc_writer_opts_t o = {1, 16, path, 0};
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(trc_writer_create_fd(&w, fd, &h, &o), 0);
  trc_thread_t th = {0, 1, 0, 0, "main"};
  assert_int_equal(trc_writer_add_thread(w, &th), 0);
  char other[] = "/tmp/hksim_gate_XXXXXX";
  gate_ctx_t c = {.w = w, .prog_fd = mkstemp(other)};
  assert_true(c.prog_fd >= 0);
  pthread_mutex_init(&c.prog, NULL);
  pthread_t a, b, d;
  assert_int_equal(pthread_create(&a, NULL, gate_events, &c), 0);
  assert_int_equal(pthread_create(&b, NULL, gate_dup2, &c), 0);
  assert_int_equal(pthread_create(&d, NULL, gate_closer, &c), 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  pthread_join(d, NULL);
  pthread_mutex_destroy(&c.prog);
  assert_int_equal(atomic_load(&c.bad), 0);
  assert_int_equal(trc_writer_finish(w, GATE_CHUNKS * 16, 0), 0);
  trc_writer_free(w);
  /* The program's file: only its own records, whole. */
  struct stat st;
  assert_int_equal(fstat(c.prog_fd, &st), 0);
  assert_int_equal(st.st_size, 8 * atomic_load(&c.records));
  assert_true(atomic_load(&c.records) > 0);
  char buf[8];
  for (off_t off = 0; off < st.st_size; off += 8) {
    assert_int_equal(pread(c.prog_fd, buf, 8, off), 8);
    assert_true(buf[0] == 'p' && buf[7] == '\n');
  }
  close(c.prog_fd);
  unlink(other);
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, 0);
  assert_true(s.events == GATE_CHUNKS * 16);
  assert_true(s.summary.reopened == 0);
}

/* Free without finish (a forked child): buffered events are dropped, what
 * was written stays readable and the scan calls the trace cut short. */
static void test_free_unfinished(void **state) {
  (void)state;
  trc_header_t h = minimal_header();
  trc_writer_t *w;
  trc_writer_opts_t o = {0, 16, NULL, 0};
  trc_event_t ev[40];
  fill_events(ev, 40);
  assert_int_equal(trc_writer_create(&w, path, &h, &o), 0);
  trc_thread_t th = {0, 1, 0, 0, "main"};
  assert_int_equal(trc_writer_add_thread(w, &th), 0);
  assert_int_equal(trc_writer_events(w, 0, ev, 40), 0); /* 2 chunks + 8 */
  trc_writer_free(w);
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, HK_E_NOTAIL);
  assert_true(s.events == 32);
  assert_false(s.have_summary);
}

/* A thread's end writes its partial chunk at once (the others' stay
 * buffered) and frees its state; the index may then start again. */
static void test_end_thread(void **state) {
  (void)state;
  trc_header_t h = minimal_header();
  trc_writer_t *w;
  trc_writer_opts_t o = {0, 100, NULL, 0};
  trc_event_t ev[60];
  fill_events(ev, 60);
  assert_int_equal(trc_writer_create(&w, path, &h, &o), 0);
  assert_int_equal(trc_writer_events(w, 0, ev, 30), 0);
  assert_int_equal(trc_writer_events(w, 1, ev, 20), 0);
  uint64_t before = trc_writer_bytes(w);
  assert_int_equal(trc_writer_end_thread(w, 1), 0);
  assert_true(trc_writer_bytes(w) > before);
  assert_int_equal(trc_writer_end_thread(w, 1), 0); /* nothing left: no-op */
  assert_int_equal(trc_writer_end_thread(w, 7), 0); /* never used */
  assert_int_equal(trc_writer_events(w, 1, ev + 20, 40), 0);
  assert_int_equal(trc_writer_finish(w, 0, 0), 0);
  trc_writer_free(w);
  trc_reader_t *r;
  assert_int_equal(trc_reader_open(&r, path), 0);
  trc_chunk_t c;
  uint32_t seen[2] = {0, 0}, first = UINT32_MAX;
  while (trc_reader_next(r, &c) == 1) {
    if (c.kind != TRC_CHUNK_EVENTS) continue;
    if (first == UINT32_MAX) first = c.thread;
    for (size_t i = 0; i < c.n; i++) {
      const trc_event_t *e = &ev[seen[c.thread] + i];
      assert_true(c.events[i].ptr == e->ptr && c.events[i].size == e->size);
    }
    seen[c.thread] += (uint32_t)c.n;
  }
  assert_int_equal(first, 1); /* thread 1's chunk came first */
  assert_int_equal(seen[0], 30);
  assert_int_equal(seen[1], 60);
  trc_reader_free(r);
}

/* Offsets from a first pass can be read again in any order. */
static void test_read_at(void **state) {
  (void)state;
  trc_header_t h = minimal_header();
  trc_writer_t *w;
  trc_writer_opts_t o = {0, 100, NULL, 0};
  enum { N = 1000 };
  trc_event_t *ev = calloc(N, sizeof *ev);
  fill_events(ev, N);
  assert_int_equal(trc_writer_create(&w, path, &h, &o), 0);
  for (uint32_t t = 0; t < 3; t++) assert_int_equal(trc_writer_events(w, t, ev, N), 0);
  assert_int_equal(trc_writer_finish(w, 0, 0), 0);
  trc_writer_free(w);
  trc_reader_t *r;
  assert_int_equal(trc_reader_open(&r, path), 0);
  uint64_t offs[64];
  uint32_t ths[64];
  uint64_t first[64];
  size_t k = 0;
  trc_chunk_t c;
  while (trc_reader_next(r, &c) == 1)
    if (c.kind == TRC_CHUNK_EVENTS) {
      assert_true(k < 64);
      offs[k] = c.offset;
      ths[k] = c.thread;
      first[k++] = c.events[0].time;
    }
  assert_int_equal(k, 30);
  for (size_t i = k; i-- > 0;) {
    assert_int_equal(trc_reader_read_at(r, offs[i], &c), 1);
    assert_int_equal(c.kind, TRC_CHUNK_EVENTS);
    assert_int_equal(c.thread, ths[i]);
    assert_int_equal(c.n, 100);
    assert_true(c.events[0].time == first[i]);
    assert_true(trc_reader_offset(r) == offs[i] + c.stored);
  }
  /* Not a chunk boundary: refused, never decoded. */
  assert_int_equal(trc_reader_read_at(r, offs[3] + 1, &c), HK_E_CORRUPT);
  assert_true(trc_reader_offset(r) == offs[3] + 1);
  assert_int_equal(trc_reader_read_at(r, trc_reader_file_size(r), &c), 0);
  trc_reader_free(r);
  free(ev);
}

typedef struct targ {
  trc_writer_t *w;
  uint32_t t;
} targ_t;

static void *writer_thread(void *p) {
  targ_t *a = p;
  trc_event_t ev[10];
  for (int round = 0; round < 200; round++) {
    for (int i = 0; i < 10; i++) {
      trc_event_t e = {.time = (uint64_t)round * 10 + (uint64_t)i,
                       .op = i % 2 ? TRC_OP_FREE : TRC_OP_MALLOC,
                       .size = 24, .ptr = 0x1000 + 16 * (uint64_t)(i / 2)};
      ev[i] = e;
    }
    if (trc_writer_events(a->w, a->t, ev, 10)) return p;
    if (round % 50 == 0) {
      trc_thread_t th = {a->t + 100 * (uint32_t)round, 1, 0, 0, "t"};
      if (trc_writer_add_thread(a->w, &th)) return p;
    }
  }
  return NULL;
}

/* Any thread may call the writer. */
static void test_threads(void **state) {
  (void)state;
  enum { NT = 6 };
  trc_header_t h = minimal_header();
  trc_writer_t *w;
  trc_writer_opts_t o = {1, 64, NULL, 0};
  assert_int_equal(trc_writer_create(&w, path, &h, &o), 0);
  pthread_t tid[NT];
  targ_t a[NT];
  for (uint32_t i = 0; i < NT; i++) {
    a[i].w = w;
    a[i].t = i;
    assert_int_equal(pthread_create(&tid[i], NULL, writer_thread, &a[i]), 0);
  }
  for (int i = 0; i < NT; i++) {
    void *ret;
    pthread_join(tid[i], &ret);
    assert_null(ret);
  }
  assert_int_equal(trc_writer_finish(w, 0, 0), 0);
  trc_writer_free(w);
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, 0);
  assert_true(s.events == NT * 2000);
  assert_true(s.counts[TRC_OP_FREE] == NT * 1000);
}

static void test_ops_and_text(void **state) {
  (void)state;
  for (unsigned op = 1; op < TRC_OP_COUNT; op++) {
    assert_non_null(trc_op_name(op));
    assert_int_equal(trc_op_parse(trc_op_name(op)), op);
    assert_int_equal(trc_op_is_alloc(op),
                     op != TRC_OP_FREE && op != TRC_OP_REALLOC &&
                         op != TRC_OP_REALLOCARRAY);
  }
  assert_null(trc_op_name(0));
  assert_null(trc_op_name(TRC_OP_COUNT));
  assert_int_equal(trc_op_parse("nope"), 0);
  assert_int_equal(trc_op_parse(NULL), 0);
  assert_true(trc_op_is_realloc(TRC_OP_REALLOCARRAY));
  assert_false(trc_op_is_realloc(TRC_OP_MALLOC));
  assert_string_equal(trc_op_name(TRC_OP_POSIX_MEMALIGN), "posix_memalign");

  struct {
    trc_event_t e;
    const char *want;
  } cases[] = {
      {{123, 0x55aa0, 0, 64, 0, 0, 3, 0, TRC_OP_MALLOC, 0},
       "t=123 th=0 malloc size=64 ptr=0x55aa0 site=3"},
      {{1, 0, 0, 8, 4, 0, 0, 2, TRC_OP_CALLOC, TRC_EV_FAILED},
       "t=1 th=2 calloc nmemb=4 size=8 ptr=0x0 site=0 FAILED"},
      {{2, 0x20, 0x10, 100, 0, 0, 1, 1, TRC_OP_REALLOC, 0},
       "t=2 th=1 realloc old=0x10 size=100 ptr=0x20 site=1"},
      {{3, 0x20, 0x10, 8, 5, 0, 1, 1, TRC_OP_REALLOCARRAY, 0},
       "t=3 th=1 reallocarray old=0x10 nmemb=5 size=8 ptr=0x20 site=1"},
      {{4, 0x20, 0, 0, 0, 0, 9, 1, TRC_OP_FREE, 0},
       "t=4 th=1 free ptr=0x20 site=9"},
      {{5, 0x40, 0, 10, 0, 64, 9, 1, TRC_OP_POSIX_MEMALIGN, 0},
       "t=5 th=1 posix_memalign align=64 size=10 ptr=0x40 site=9"},
      {{6, 0x1000, 0, 10, 0, 4096, 9, 1, TRC_OP_VALLOC, 0},
       "t=6 th=1 valloc align=4096 size=10 ptr=0x1000 site=9"},
      {{7, 0, 0, 0, 0, 0, 0, 0, 77, 0}, "t=7 th=0 op=77 size=0 ptr=0x0 site=0"},
  };
  char buf[256];
  for (size_t i = 0; i < HK_ARRAY_LEN(cases); i++) {
    int n = trc_event_format(&cases[i].e, buf, sizeof buf);
    assert_string_equal(buf, cases[i].want);
    assert_int_equal(n, (int)strlen(cases[i].want));
  }
  char small[8];
  int n = trc_event_format(&cases[0].e, small, sizeof small);
  assert_int_equal(n, (int)strlen(cases[0].want));
  assert_string_equal(small, "t=123 t");
}

static void test_file_hash(void **state) {
  (void)state;
  uint8_t data[200000];
  hk_rng_t r;
  hk_rng_init(&r, 9);
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)hk_rng_next(&r);
  FILE *f = fopen(path, "wb");
  assert_int_equal(fwrite(data, 1, sizeof data, f), sizeof data);
  fclose(f);
  uint64_t hsh = 0;
  assert_int_equal(trc_file_hash(path, &hsh), 0);
  assert_true(hsh == XXH3_64bits(data, sizeof data));
  assert_int_equal(trc_file_hash("/nonexistent-file", &hsh), -ENOENT);
}

/* A SITES chunk whose sites all have depth 0 (unknown stacks): the reader
 * gives them no frames (it computed NULL + 0 before, which clang's UBSan
 * reports as undefined; the fuzz corpus holds such a trace too). */
/* Writes an empty trace with header h; returns what trc_reader_open says
 * and, for a refused field, the reason trc_open_error gives. */
static int open_with(const trc_header_t *h, char *why, size_t len) {
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, h, NULL), 0);
  assert_int_equal(trc_writer_finish(w, 0, 0), 0);
  trc_writer_free(w);
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  trc_reader_free(r);
  why[0] = '\0';
  if (rc) trc_open_error(path, rc, why, len);
  return rc;
}

/* Header fields a crafted trace could abuse are refused by the reader with
 * a reason naming the field (issue 10); the valid edges are read. */
static void test_header_check(void **state) {
  (void)state;
  static const char args[] = "prog\0-x"; /* last argument not terminated */
  const struct {
    uint32_t clock;
    uint64_t hz;
    uint32_t depth;
    const char *want; /* NULL: accepted */
  } cases[] = {
      {TRC_CLOCK_TSC, 0, 1, "tick_hz is 0"},
      {TRC_CLOCK_VIRTUAL, 0, 1, "tick_hz is 0"},
      {0, TRC_NS_HZ, 1, "unknown clock 0"},
      {4, TRC_NS_HZ, 1, "unknown clock 4"},
      {UINT32_MAX, TRC_NS_HZ, 1, "unknown clock 4294967295"},
      {TRC_CLOCK_MONOTONIC, 1000, 1, "tick_hz 1000 for a monotonic clock"},
      {TRC_CLOCK_VIRTUAL, TRC_NS_HZ + 1, 1, "for a virtual clock"},
      {TRC_CLOCK_TSC, TRC_TSC_HZ_MIN - 1, 1, "out of range"},
      {TRC_CLOCK_TSC, TRC_TSC_HZ_MAX + 1, 1, "out of range"},
      {TRC_CLOCK_TSC, UINT64_MAX, 1, "out of range"},
      {TRC_CLOCK_TSC, 2900000000ull, TRC_MAX_DEPTH + 1,
       "stack depth 65 is over the maximum of 64"},
      {TRC_CLOCK_TSC, 2900000000ull, 1000000, "stack depth 1000000"},
      {TRC_CLOCK_TSC, TRC_TSC_HZ_MIN, TRC_MAX_DEPTH, NULL},
      {TRC_CLOCK_TSC, TRC_TSC_HZ_MAX, 0, NULL},
      {TRC_CLOCK_MONOTONIC, TRC_NS_HZ, 1, NULL},
      {TRC_CLOCK_VIRTUAL, TRC_NS_HZ, 1, NULL},
  };
  char why[160];
  for (size_t i = 0; i < HK_ARRAY_LEN(cases); i++) {
    trc_header_t h = header();
    h.clock = cases[i].clock;
    h.tick_hz = cases[i].hz;
    h.depth = cases[i].depth;
    int rc = open_with(&h, why, sizeof why);
    if (!cases[i].want) {
      assert_int_equal(rc, 0);
      assert_int_equal(trc_header_check(&h, NULL, 0), 0);
      continue;
    }
    assert_int_equal(rc, HK_E_CORRUPT);
    if (!strstr(why, cases[i].want)) fail_msg("case %zu: '%s'", i, why);
    assert_int_equal(trc_header_check(&h, NULL, 0), HK_E_CORRUPT);
  }
  /* The environment: read back as written; malformed lists refused. */
  {
    static const char envs[] = "MALLOC_ARENA_MAX=2\0PYTHONMALLOC=malloc";
    trc_header_t he = header();
    he.flags |= TRC_HF_ENV;
    he.env = envs;
    he.env_len = sizeof envs;
    assert_int_equal(open_with(&he, why, sizeof why), 0);
    trc_reader_t *re;
    assert_int_equal(trc_reader_open(&re, path), 0);
    const trc_header_t *got = trc_reader_header(re);
    assert_true(got->flags & TRC_HF_ENV);
    assert_int_equal(got->env_len, sizeof envs);
    assert_memory_equal(got->env, envs, sizeof envs);
    assert_int_equal(got->argv_len, header().argv_len); /* argv intact */
    trc_reader_free(re);
    static const char *const bad[] = {"A=1", "A=1\0NOEQ", "=1", "A=1\0=2"};
    for (size_t i = 0; i < HK_ARRAY_LEN(bad); i++) {
      he.env = bad[i];
      he.env_len = (uint32_t)(strlen(bad[i]) + (i == 0 ? 0 : 1));
      if (i == 1) he.env_len = 9; /* "A=1\0NOEQ\0": the literal's 9 bytes */
      if (i == 3) he.env_len = 7; /* "A=1\0=2\0": 7 bytes */
      assert_int_equal(open_with(&he, why, sizeof why), HK_E_CORRUPT);
      if (!strstr(why, "environment is not a list of NAME=VALUE"))
        fail_msg("bad env %zu: '%s'", i, why);
    }
  }
  /* argv whose last argument has no NUL. */
  trc_header_t h = header();
  h.argv = args;
  h.argv_len = sizeof args - 1;
  assert_int_equal(open_with(&h, why, sizeof why), HK_E_CORRUPT);
  assert_non_null(strstr(why, "argv does not end with a NUL"));
  /* A NUL inside exe (the writer cannot write one: patched in, with the
   * header checksum redone, as a crafted file would be). */
  h = header();
  h.exe = "/bin/aXb";
  assert_int_equal(open_with(&h, why, sizeof why), 0);
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t b[512];
  ssize_t k = pread(fd, b, sizeof b, 0);
  assert_true(k > 16);
  uint32_t body = trc_get32(b + 12);
  assert_true(16 + body + 8 <= (size_t)k);
  uint8_t *x = memmem(b, 16 + body, "/bin/aXb", 8);
  assert_non_null(x);
  x[6] = 0;
  trc_put64(b + 16 + body, XXH64(b, 16 + body, 0));
  assert_int_equal(pwrite(fd, b, 16 + body + 8, 0), (ssize_t)(16 + body + 8));
  close(fd);
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  assert_int_equal(rc, HK_E_CORRUPT);
  trc_open_error(path, rc, why, sizeof why);
  assert_string_equal(why, "header: executable path contains a NUL byte");
  /* Other damage keeps the generic message: no field is blamed. */
  b[16] ^= 0xff; /* flags, checksum now wrong */
  fd = open(path, O_WRONLY);
  assert_int_equal(pwrite(fd, b, 17, 0), 17);
  close(fd);
  assert_int_equal(trc_header_problem(path, why, sizeof why), 0);
}

static void test_sites_depth0(void **state) {
  (void)state;
  trc_header_t h;
  memset(&h, 0, sizeof h);
  h.clock = TRC_CLOCK_VIRTUAL;
  h.tick_hz = 1000000000ull;
  h.exe = "depth0";
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, NULL), 0);
  assert_int_equal(trc_writer_add_site(w, 1, NULL, 0), 0);
  assert_int_equal(trc_writer_add_site(w, 2, NULL, 0), 0);
  assert_int_equal(trc_writer_finish(w, 1, 0), 0);
  trc_writer_free(w);
  trc_reader_t *r;
  assert_int_equal(trc_reader_open(&r, path), 0);
  trc_chunk_t c;
  int sites = 0;
  while (trc_reader_next(r, &c) == 1)
    if (c.kind == TRC_CHUNK_SITES)
      for (size_t i = 0; i < c.n; i++, sites++) {
        assert_int_equal(c.sites[i].depth, 0);
        assert_null(c.sites[i].frames);
      }
  assert_int_equal(sites, 2);
  trc_reader_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sites_depth0),
      cmocka_unit_test(test_header_check),
      cmocka_unit_test(test_roundtrip_random),
      cmocka_unit_test(test_roundtrip_fast),
      cmocka_unit_test(test_pressure_stored),
      cmocka_unit_test(test_summary_costs),
      cmocka_unit_test(test_extremes),
      cmocka_unit_test(test_estimated_times),
      cmocka_unit_test(test_writer_refuses),
      cmocka_unit_test(test_writer_refuses_fast),
      cmocka_unit_test(test_writer_errors),
      cmocka_unit_test(test_free_unfinished),
      cmocka_unit_test(test_end_thread),
      cmocka_unit_test(test_read_at),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_ops_and_text),
      cmocka_unit_test(test_file_hash),
      cmocka_unit_test(test_guarded_fd),
      cmocka_unit_test(test_fd_gate),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
