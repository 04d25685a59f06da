/* test_rec_core.c: unit tests of recorder/rec_core.c with a fake sink:
 * block handoff, dense thread indexes, site interning through the
 * per-thread cache, finish with partial buffers of live threads, reuse of
 * released thread states; and one session on a real trace file. */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "rec_internal.h" /* rec_stamp_after: the hooks' stamp */

typedef struct fake {
  pthread_mutex_t mu;
  uint64_t events, calls, sites, modules, threads, flushes, finished;
  uint64_t max_call, per_thread[64];
  uint64_t last_time[64];
  uint64_t ends, start_of[64], end_of[64]; /* entries with an end time */
  int unordered;
  uint64_t slow_ns;          /* each events call spins this long */
  uint64_t est;              /* events without a clock reading */
  uint8_t flags0[256];       /* flags of thread 0's first 256 events */
  uint64_t behind[2];        /* pressure calls by value */
  trc_summary_t end;         /* what finish was given */
} fake_t;

static int f_site(void *c, uint32_t id, const uint64_t *fr, uint32_t d) {
  fake_t *f = c;
  f->sites++;
  (void)id, (void)fr, (void)d;
  return 0;
}
static int f_module(void *c, const trc_module_t *m) {
  ((fake_t *)c)->modules++;
  (void)m;
  return 0;
}
/* A thread's first entry (end 0) counts in threads; its entry again with
 * its end time counts in ends. */
static int f_thread(void *c, const trc_thread_t *t) {
  fake_t *f = c;
  pthread_mutex_lock(&f->mu);
  if (t->end_time) {
    f->ends++;
    if (t->index < 64) f->end_of[t->index] = t->end_time;
  } else {
    f->threads++;
    if (t->index < 64) f->start_of[t->index] = t->start_time;
  }
  pthread_mutex_unlock(&f->mu);
  return 0;
}
static int f_events(void *c, uint32_t th, const trc_event_t *ev, size_t n) {
  fake_t *f = c;
  if (f->slow_ns) { /* spin: the writer's CPU time, not a sleep */
    uint64_t t0 = hk_now_ns();
    while (hk_now_ns() - t0 < f->slow_ns) {
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (ev[i].flags & TRC_EV_EST) f->est++;
    if (th == 0 && f->per_thread[0] + i < 256)
      f->flags0[f->per_thread[0] + i] = ev[i].flags;
  }
  f->events += n;
  f->calls++;
  if (n > f->max_call) f->max_call = n;
  if (th < 64) {
    f->per_thread[th] += n;
    for (size_t i = 0; i < n; i++) {
      if (ev[i].time < f->last_time[th] || ev[i].thread != th) f->unordered = 1;
      f->last_time[th] = ev[i].time;
    }
  }
  return 0;
}
static int f_end_thread(void *c, uint32_t thread) {
  (void)thread;
  ((fake_t *)c)->flushes++;
  return 0;
}
static int f_finish(void *c, const trc_summary_t *end) {
  ((fake_t *)c)->finished++;
  ((fake_t *)c)->end = *end;
  return 0;
}
static void f_release(void *c) { (void)c; }
static void f_pressure(void *c, int behind) {
  fake_t *f = c;
  pthread_mutex_lock(&f->mu);
  f->behind[behind ? 1 : 0]++;
  pthread_mutex_unlock(&f->mu);
}
static const rec_sink_t fake_sink = {f_site,       f_module, f_thread,
                                     f_events,     f_end_thread, f_finish,
                                     f_release,    f_pressure};

/* Sparse stamps (HKREC_TS_EVERY): a thread stamps buffer positions that
 * are multiples of N and each buffer's last event; another thread's stamp
 * at a multiple moves the epoch, so the next event stamps too. The chunk
 * is rounded up to whole buffers. */
/* The late state: one for the session, attached at first use, every
 * event stamped (its events come from many threads), its lock held from
 * rec_late_enter to rec_late_leave; none once the session has ended. */
static void test_late_state(void **state) {
  (void)state;
  fake_t f;
  memset(&f, 0, sizeof f);
  rec_config_t c;
  rec_config_default(&c);
  rec_t *r;
  assert_int_equal(rec_create(&r, &c, &fake_sink, &f), 0);
  rec_thread_t *a = rec_thread_attach(r, 1);
  assert_non_null(a);
  for (int i = 0; i < 10; i++)
    rec_record(a, TRC_OP_MALLOC, 0, rec_stamp_after(a), 0x1000 + 16 * (uint64_t)i,
               0, 8, 0, 0, 0);
  rec_thread_flush(a, 1);
  rec_thread_t *l = rec_late_enter(r);
  assert_non_null(l);
  assert_int_equal(rec_thread_index(l), 1);
  for (int i = 0; i < 5; i++)
    rec_record(l, TRC_OP_FREE, 0, rec_stamp_before(l), 0x1000 + 16 * (uint64_t)i,
               0, 0, 0, 0, 0);
  rec_late_leave(r);
  assert_ptr_equal(rec_late_enter(r), l);
  rec_record(l, TRC_OP_FREE, 0, rec_stamp_before(l), 0x1050, 0, 0, 0, 0, 0);
  rec_late_leave(r);
  assert_int_equal(rec_finish(r, 0), 0);
  assert_int_equal(f.events, 16);
  assert_int_equal(f.per_thread[1], 6);
  assert_int_equal(f.est, 9); /* a's, past its first; none of the late */
  assert_int_equal(f.threads, 2);
  assert_null(rec_late_enter(r)); /* ended: nothing taken, no lock held */
  rec_free(r);
}

static void test_sparse_stamps(void **state) {
  (void)state;
  fake_t f;
  memset(&f, 0, sizeof f);
  rec_config_t c;
  rec_config_default(&c);
  c.block = 64;
  c.chunk = 1000;
  rec_t *r;
  assert_int_equal(rec_create(&r, &c, &fake_sink, &f), 0);
  assert_int_equal(rec_config(r)->ts_every, 16);
  assert_int_equal(rec_config(r)->chunk, 1024);
  rec_thread_t *a = rec_thread_attach(r, 1), *b = rec_thread_attach(r, 2);
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(rec_thread_index(a), 0);
  for (int i = 0; i < 64 * 3; i++) {
    rec_record(a, TRC_OP_MALLOC, 0, rec_stamp_after(a), 0x1000 + 16 * (uint64_t)i,
               0, 8, 0, 0, 0);
    if (i == 70) /* b stamps its first event: a's next event stamps */
      rec_record(b, TRC_OP_MALLOC, 0, rec_stamp_after(b), 0x9000, 0, 8, 0, 0, 0);
  }
  rec_thread_flush(a, 1);
  rec_thread_flush(b, 1);
  assert_int_equal(rec_finish(r, 0), 0);
  assert_int_equal(f.events, 64 * 3 + 1);
  for (int i = 0; i < 64 * 3; i++) {
    int n = i % 64;
    int want = n % 16 == 0 || n == 63 || i == 71;
    int stamped = (f.flags0[i] & TRC_EV_EST) == 0;
    if (stamped != want)
      fail_msg("event %d (position %d): stamped %d, wanted %d", i, n, stamped,
               want);
  }
  assert_int_equal(f.est, 64 * 3 - 3 * 5 - 1);
  rec_free(r);

  /* HKREC_TS_EVERY=1: every event stamped, the chunk as given. */
  memset(&f, 0, sizeof f);
  c.ts_every = 1;
  assert_int_equal(rec_create(&r, &c, &fake_sink, &f), 0);
  assert_int_equal(rec_config(r)->chunk, 1000);
  a = rec_thread_attach(r, 1);
  for (int i = 0; i < 100; i++)
    rec_record(a, TRC_OP_MALLOC, 0, rec_stamp_after(a), 0x1000 + 16 * (uint64_t)i,
               0, 8, 0, 0, 0);
  rec_thread_flush(a, 1);
  assert_int_equal(rec_finish(r, 0), 0);
  assert_int_equal(f.events, 100);
  assert_int_equal(f.est, 0);
  rec_free(r);
}

static rec_t *make(fake_t *f, uint32_t block) {
  memset(f, 0, sizeof *f);
  rec_config_t c;
  rec_config_default(&c);
  c.block = block;
  c.depth = 4;
  rec_t *r;
  assert_int_equal(rec_create(&r, &c, &fake_sink, f), 0);
  return r;
}

/* A writer slower than the thread: the thread blocks on backpressure
 * (summary wait_ns), the writer's CPU time is counted (writer_ns), and the
 * writer tells the sink it is behind (pressure 1), so the trace writer
 * codes fast. With HKREC_FAST=0 (cfg.fast 0) it never does. */
/* The stored-chunk rule's window: one window of REC_STORE_WINDOW takes
 * over span ticks in which the program waited `waited` of them and the
 * writer slept `slept` times; returns the verdict at the window's last
 * take, having checked that every take before it kept the previous one. */
static uint64_t idle_n;
static int store_window(rec_store_win_t *w, uint64_t *now, uint64_t *wait,
                        uint64_t span, uint64_t waited, uint64_t slept) {
  int before = w->on;
  for (int i = 1; i < REC_STORE_WINDOW; i++) {
    *now += span / REC_STORE_WINDOW;
    *wait += waited / REC_STORE_WINDOW;
    if ((uint64_t)i <= slept) idle_n++;
    assert_int_equal(rec_store_window(w, *now, *wait, idle_n, 0), before);
  }
  *now += span - (REC_STORE_WINDOW - 1) * (span / REC_STORE_WINDOW);
  *wait += waited - (REC_STORE_WINDOW - 1) * (waited / REC_STORE_WINDOW);
  return rec_store_window(w, *now, *wait, idle_n, 0);
}

/* Stored after two windows in a row with waits >= 1/4 of their time (not
 * after one: a burst), kept while the writer sleeps at fewer than
 * REC_STORE_IDLE takes of a window whatever the waits, dropped when it
 * sleeps at that many; a clock that goes back is no verdict. */
static void test_store_window(void **state) {
  (void)state;
  rec_store_win_t w = {0};
  uint64_t now = 1000000, wait = 0;
  idle_n = 0;
  assert_int_equal(rec_store_window(&w, now, wait, idle_n, 0), 0); /* opens */
  assert_int_equal(store_window(&w, &now, &wait, 16000, 5000, 0), 0);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 1000, 0), 0);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 4000, 0), 0); /* 1/4 */
  assert_int_equal(store_window(&w, &now, &wait, 16000, 8000, 9), 1);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 0, 0), 1);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 0,
                                REC_STORE_IDLE - 1), 1);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 16000,
                                REC_STORE_IDLE), 0);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 3999, 0), 0);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 16000, 0), 0);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 16000, 0), 1);
  /* The clock goes back across the window: the verdict stands. */
  for (int i = 1; i < REC_STORE_WINDOW; i++)
    assert_int_equal(rec_store_window(&w, now, wait, idle_n, 0), 1);
  assert_int_equal(rec_store_window(&w, now - 500, wait, idle_n, 0), 1);
  assert_int_equal(store_window(&w, &now, &wait, 16000, 0, 15), 0);
  /* No waits, but the writer behind at 3/4 of the takes of two windows in
   * a row (12 of 16: on), or at 11 of 16 (never on). */
  for (int late = 11; late <= 12; late++) {
    rec_store_win_t v = {0};
    int got = rec_store_window(&v, now, wait, idle_n, 1);
    for (int k = 0; k < 3 * REC_STORE_WINDOW; k++)
      got = rec_store_window(&v, now += 100, wait, idle_n,
                             (k + 1) % REC_STORE_WINDOW < late + 1 &&
                                 (k + 1) % REC_STORE_WINDOW != 0);
    assert_int_equal(got, late == 12);
  }
}

static void test_backpressure_counted(void **state) {
  (void)state;
  for (int fast = 0; fast <= 1; fast++) {
    fake_t f;
    memset(&f, 0, sizeof f);
    f.slow_ns = 2000000; /* 2 ms per buffer of 16 events */
    rec_config_t c;
    rec_config_default(&c);
    c.block = 16;
    c.buffers = 2;
    c.fast = fast;
    rec_t *r;
    assert_int_equal(rec_create(&r, &c, &fake_sink, &f), 0);
    rec_thread_t *t = rec_thread_attach(r, 1);
    assert_non_null(t);
    for (int i = 0; i < 16 * 12; i++)
      rec_record(t, TRC_OP_MALLOC, 0, hk_tsc_end(), 0x1000 + (uint64_t)i, 0, 8,
                 0, 0, 0);
    rec_thread_flush(t, 1);
    assert_int_equal(rec_finish(r, 0), 0);
    assert_int_equal(f.events, 16 * 12);
    /* 11 buffers queued while the writer needs 2 ms for each: the thread
     * waited most of ~20 ms; the writer spun ~2 ms per buffer. */
    assert_true(f.end.wait_ns > 5000000);
    assert_true(f.end.writer_ns > 10000000);
    if (fast)
      assert_true(f.behind[1] > 0);
    else
      assert_true(f.behind[0] == 0 && f.behind[1] == 0);
    rec_free(r);
  }
}

static void test_handoff_blocks(void **state) {
  (void)state;
  fake_t f;
  rec_t *r = make(&f, 64);
  assert_true(f.modules >= 3); /* the module map went to the sink */
  rec_thread_t *t = rec_thread_attach(r, 1);
  assert_non_null(t);
  assert_int_equal(rec_thread_index(t), 0);
  for (int i = 0; i < 200; i++)
    rec_record(t, TRC_OP_MALLOC, 0, hk_tsc_end(), 0x1000 + (uint64_t)i, 0, 8,
               0, 0, 0);
  /* Three full blocks handed over, 8 events still in the buffer. */
  rec_drain(r);
  assert_int_equal(f.events, 192);
  assert_int_equal(f.calls, 3);
  assert_int_equal(f.max_call, 64);
  assert_int_equal(rec_finish(r, 0), 0);
  assert_int_equal(f.events, 200);
  assert_int_equal(f.finished, 1);
  assert_int_equal(rec_finish(r, 0), 0); /* idempotent */
  assert_int_equal(f.finished, 1);
  assert_false(f.unordered);
  rec_free(r);
}

static void test_sites_and_reuse(void **state) {
  (void)state;
  fake_t f;
  rec_t *r = make(&f, 64);
  rec_thread_t *t = rec_thread_attach(r, 1);
  uint64_t a[2] = {0x10, 0x20}, b[2] = {0x10, 0x21};
  uint32_t ia = rec_site_of(t, a, 2);
  uint32_t ib = rec_site_of(t, b, 2);
  assert_int_not_equal(ia, 0);
  assert_int_not_equal(ia, ib);
  for (int i = 0; i < 100; i++) assert_int_equal(rec_site_of(t, a, 2), ia);
  assert_int_equal(f.sites, 2);
  /* Another thread sees the same ids through the shared table. */
  rec_thread_t *u = rec_thread_attach(r, 2);
  assert_int_equal(rec_thread_index(u), 1);
  assert_int_equal(rec_site_of(u, b, 2), ib);
  assert_int_equal(f.sites, 2);
  /* A released state is reused, with a new dense index. */
  rec_record(u, TRC_OP_FREE, 0, hk_tsc_begin(), 0x10, 0, 0, 0, 0, 0);
  rec_thread_flush(u, 1);
  rec_drain(r);
  assert_int_equal(f.per_thread[1], 1);
  assert_int_equal(f.flushes, 1);
  /* Its end time was written when it ended, not later. */
  assert_int_equal(f.ends, 1);
  assert_true(f.end_of[1] >= f.start_of[1] && f.end_of[1] > 0);
  assert_int_equal(f.end_of[0], 0);
  rec_thread_t *v = rec_thread_attach(r, 3);
  assert_ptr_equal(v, u);
  assert_int_equal(rec_thread_index(v), 2);
  assert_int_equal(f.threads, 3);
  assert_true(rec_memory(r) > 0);
  assert_true(rec_thread_memory(r) >= 64 * sizeof(trc_event_t));
  rec_free(r);
}

typedef struct targ {
  rec_t *r;
  int n;
} targ_t;

static void *worker(void *p) {
  targ_t *a = p;
  rec_thread_t *t = rec_thread_attach(a->r, 0);
  if (!t) return NULL;
  uint64_t fr[1] = {0x4000};
  for (int i = 0; i < a->n; i++) {
    fr[0] = 0x4000 + (uint64_t)(i % 50);
    uint32_t site = rec_site_of(t, fr, 1);
    rec_record(t, TRC_OP_MALLOC, 0, hk_tsc_end(), 0x1000 + (uint64_t)i, 0, 16,
               0, 0, site);
  }
  rec_thread_flush(t, 1);
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  fake_t f;
  rec_t *r = make(&f, 128);
  pthread_t th[8];
  targ_t a = {r, 10000};
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, worker, &a);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  assert_int_equal(rec_finish(r, 0), 0);
  assert_int_equal(f.events, 80000);
  assert_int_equal(f.sites, 50);
  assert_true(f.threads >= 1 && f.threads <= 8);
  assert_int_equal(f.ends, f.threads); /* each ended, each said so once */
  assert_false(f.unordered);
  rec_free(r);
}

/* Two 16-event buffers per thread and a slow sink: threads wait for the
 * writer thread (backpressure), nothing is lost, each thread's events
 * arrive in order, and the calls come from one thread at a time. */
static _Atomic int in_sink, overlap;
static int slow_events(void *c, uint32_t th, const trc_event_t *ev, size_t n) {
  if (atomic_fetch_add(&in_sink, 1)) atomic_store(&overlap, 1);
  usleep(50);
  int rc = f_events(c, th, ev, n);
  atomic_fetch_sub(&in_sink, 1);
  return rc;
}

static void test_backpressure(void **state) {
  (void)state;
  fake_t f;
  memset(&f, 0, sizeof f);
  rec_sink_t sink = fake_sink;
  sink.events = slow_events;
  rec_config_t c;
  rec_config_default(&c);
  c.block = 16;
  c.buffers = 2;
  c.depth = 1;
  rec_t *r;
  assert_int_equal(rec_create(&r, &c, &sink, &f), 0);
  pthread_t th[8];
  targ_t a = {r, 3000};
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, worker, &a);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  assert_int_equal(rec_finish(r, 0), 0);
  assert_int_equal(f.events, 24000);
  assert_int_equal(rec_dropped(r), 0);
  assert_int_equal(f.max_call, 16);
  assert_false(f.unordered);
  assert_false(atomic_load(&overlap));
  rec_free(r);
}

/* Live threads' buffered events are written by rec_finish. */
static void test_finish_live(void **state) {
  (void)state;
  fake_t f;
  rec_t *r = make(&f, 1024);
  rec_thread_t *t1 = rec_thread_attach(r, 1), *t2 = rec_thread_attach(r, 2);
  for (int i = 0; i < 10; i++) {
    rec_record(t1, TRC_OP_MALLOC, 0, hk_tsc_end(), 1, 0, 1, 0, 0, 0);
    rec_record(t2, TRC_OP_MALLOC, 0, hk_tsc_end(), 2, 0, 1, 0, 0, 0);
  }
  assert_int_equal(f.events, 0);
  assert_int_equal(f.ends, 0);
  rec_finish(r, 0);
  assert_int_equal(f.per_thread[0], 10);
  assert_int_equal(f.per_thread[1], 10);
  /* Threads still running end with the recording. */
  assert_int_equal(f.ends, 2);
  assert_true(f.end_of[0] > 0 && f.end_of[1] > 0);
  /* After finish: dropped, not written. */
  for (int i = 0; i < 2000; i++)
    rec_record(t1, TRC_OP_MALLOC, 0, hk_tsc_end(), 1, 0, 1, 0, 0, 0);
  assert_int_equal(f.events, 20);
  assert_true(rec_dropped(r) >= 1000);
  assert_int_equal(rec_state(r), REC_FINISHED);
  rec_free(r);
}

/* After an exec the new image's file is the .1 one: when it cannot be
 * written (here a file-size limit stands for the full disk), the error
 * names that file, not the complete one of the image before. */
static void test_failed_path(void **state) {
  (void)state;
  char dir[] = "/tmp/test_rec_core_XXXXXX";
  assert_non_null(mkdtemp(dir));
  rec_config_t c;
  rec_config_default(&c);
  snprintf(c.out, sizeof c.out, "%s/t", dir);
  char first[512];
  snprintf(first, sizeof first, "%s/t.%d.hkt", dir, (int)getpid());
  FILE *f = fopen(first, "w"); /* the image before the exec */
  assert_non_null(f);
  fclose(f);
  struct rlimit old, small = {16, 16};
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  small.rlim_max = old.rlim_max;
  void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  rec_t *r;
  int rc = rec_create(&r, &c, NULL, NULL);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, was);
  assert_int_equal(rc, -EFBIG);
  char want[512];
  snprintf(want, sizeof want, "%s/t.%d.1.hkt", dir, (int)getpid());
  assert_string_equal(rec_create_failed_path(), want);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* A real file: created with the process's name, readable by trc_scan. */
static void test_file(void **state) {
  (void)state;
  char dir[] = "/tmp/test_rec_core_XXXXXX";
  assert_non_null(mkdtemp(dir));
  rec_config_t c;
  rec_config_default(&c);
  snprintf(c.out, sizeof c.out, "%s/t", dir);
  snprintf(c.manifest, sizeof c.manifest, "%s/manifest", dir);
  c.block = 256;
  rec_t *r;
  /* Mode 0600 whatever the umask (a umask of 0 would leave 0644 as it is). */
  mode_t um = umask(0);
  assert_int_equal(rec_create(&r, &c, NULL, NULL), 0);
  umask(um);
  char want[512];
  snprintf(want, sizeof want, "%s/t.%d.hkt", dir, (int)getpid());
  assert_string_equal(rec_path(r), want);
  struct stat st;
  assert_int_equal(stat(want, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(stat(c.manifest, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  rec_thread_t *t = rec_thread_attach(r, 1);
  uint64_t fr[2] = {0x5000, 0x6000};
  uint32_t site = rec_site_of(t, fr, 2);
  for (int i = 0; i < 1000; i++) {
    rec_record(t, TRC_OP_MALLOC, 0, hk_tsc_end(), 0x10000 + 64 * (uint64_t)i, 0,
               48, 0, 0, site);
    rec_record(t, TRC_OP_FREE, 0, hk_tsc_begin(), 0x10000 + 64 * (uint64_t)i,
               0, 0, 0, 0, 0);
  }
  /* A second session of the same pid gets a .1 name (after exec); this
   * one is asked for the command line (HKREC_ARGV=1). */
  rec_t *r2;
  c.argv = 1;
  assert_int_equal(rec_create(&r2, &c, NULL, NULL), 0);
  assert_non_null(strstr(rec_path(r2), ".1.hkt"));
  char path2[1100];
  snprintf(path2, sizeof path2, "%s", rec_path(r2));
  rec_free(r2);
  /* Privacy: without HKREC_ARGV only the executable, with it argv. */
  trc_reader_t *rd;
  assert_int_equal(trc_reader_open(&rd, want), 0);
  assert_int_equal(trc_reader_header(rd)->flags & TRC_HF_ARGV, 0);
  assert_int_equal(trc_reader_header(rd)->argv_len, 0);
  assert_non_null(strstr(trc_reader_header(rd)->exe, "test_rec_core"));
  trc_reader_free(rd);
  assert_int_equal(trc_reader_open(&rd, path2), 0);
  assert_int_not_equal(trc_reader_header(rd)->flags & TRC_HF_ARGV, 0);
  assert_true(trc_reader_header(rd)->argv_len > 0);
  assert_non_null(strstr(trc_reader_header(rd)->argv, "test_rec_core"));
  trc_reader_free(rd);
  assert_int_equal(rec_finish(r, 0), 0);
  trc_scan_t s;
  assert_int_equal(trc_scan(want, &s), 0);
  assert_int_equal(s.status, 0);
  assert_int_equal(s.events, 2000);
  assert_int_equal(s.counts[TRC_OP_MALLOC], 1000);
  assert_int_equal(s.sites, 1);
  assert_int_equal(s.threads, 1);
  assert_true(s.modules >= 3);
  rec_free(r);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* A sink that fails (a full disk): recording stops, the error sticks,
 * recording calls keep working and write nothing more. */
static int enospc(void *c, uint32_t th, const trc_event_t *ev, size_t n) {
  (void)c, (void)th, (void)ev, (void)n;
  return -28; /* ENOSPC */
}

static void test_write_error(void **state) {
  (void)state;
  fake_t f;
  memset(&f, 0, sizeof f);
  rec_sink_t sink = fake_sink;
  sink.events = enospc;
  rec_config_t c;
  rec_config_default(&c);
  c.block = 32;
  rec_t *r;
  assert_int_equal(rec_create(&r, &c, &sink, &f), 0);
  rec_thread_t *t = rec_thread_attach(r, 1);
  for (int i = 0; i < 100; i++)
    rec_record(t, TRC_OP_MALLOC, 0, hk_tsc_end(), 1, 0, 1, 0, 0, 0);
  rec_drain(r);
  assert_int_equal(rec_error(r), -28);
  assert_int_equal(rec_state(r), REC_STOPPED);
  assert_true(rec_dropped(r) >= 32);
  assert_null(rec_thread_attach(r, 2));
  assert_int_equal(rec_finish(r, 0), -28);
  assert_int_equal(f.finished, 0); /* nothing more is written */
  rec_free(r);
}

/* An output that cannot be created: an error, nothing else. */
static void test_unwritable(void **state) {
  (void)state;
  rec_config_t c;
  rec_config_default(&c);
  snprintf(c.out, sizeof c.out, "/nonexistent-dir/x");
  rec_t *r = NULL;
  assert_int_not_equal(rec_create(&r, &c, NULL, NULL), 0);
  assert_null(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handoff_blocks),
      cmocka_unit_test(test_late_state),
      cmocka_unit_test(test_backpressure_counted), cmocka_unit_test(test_sites_and_reuse),
      cmocka_unit_test(test_sparse_stamps),
      cmocka_unit_test(test_store_window),
      cmocka_unit_test(test_threads),        cmocka_unit_test(test_backpressure),
      cmocka_unit_test(test_finish_live),
      cmocka_unit_test(test_file), cmocka_unit_test(test_failed_path),           cmocka_unit_test(test_unwritable),
      cmocka_unit_test(test_write_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
