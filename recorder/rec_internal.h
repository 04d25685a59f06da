/* rec_internal.h: private to recorder/: the session and thread-state
 * layouts that the inline per-event path of rec_preload.c needs. Sections
 * name the file that owns them. */
#ifndef REC_INTERNAL_H
#define REC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "recorder.h"

/* ---- thread state (rec_core.c) --------------------------------------- */

/* One event buffer. A thread fills its current buffer without any lock;
 * a full one is queued for the writer thread and comes back to its
 * owner's spares once written. Fields other than ev are guarded by the
 * session's queue lock while the buffer is queued or spare. */
typedef struct rec_buf {
  struct rec_buf *next;  /* queue or spare list */
  struct rec_thread_s *owner;
  trc_event_t *ev;       /* cap events, in the owner's mmap */
  uint32_t n;            /* events to write */
  uint32_t index;        /* thread index the events belong to */
  int final;             /* the thread's last buffer: flush after it */
} rec_buf_t;

/* One mmap per thread: this header, the site cache, then `buffers`
 * arrays of `cap` events. Only the owning thread writes buf and n (the
 * current buffer), except rec_finish, which reads buf[0..n) of other live
 * threads under the queue lock (n is published with a release store after
 * the event is written; resetting n past a full buffer takes that lock). */
struct rec_thread_s {
  rec_t *rec;
  uint32_t index;
  uint32_t cap;
  _Atomic uint32_t n;
  int live;              /* attached and not yet released */
  int64_t tid;
  uint64_t start_time;
  uint64_t events;       /* handed over so far */
  uint64_t last;         /* time of the last stamp: keeps stamps monotonic,
                            and is the stored time of unstamped events */
  uint32_t ts_mask;      /* cfg.ts_every - 1: positions n with (n & mask)
                            == 0 read the clock */
  uint32_t epoch;        /* rec_t.epoch when this thread last read the
                            clock */
  size_t map_len;
  struct rec_thread_s *next;      /* every state of the session */
  struct rec_thread_s *next_free; /* released, reusable */
  trc_event_t *buf;      /* cur->ev */
  rec_buf_t *cur;        /* being filled; NULL while released */
  rec_buf_t *spares;     /* written, free to fill (queue lock) */
  rec_buf_t bufs[REC_MAX_BUFFERS];
  /* The recorder's cost on this thread (summary hook_ns, wait_ns). The
   * owner adds with relaxed stores, the finish reads: never reset, so a
   * reused state carries its earlier threads' time (the sum is the
   * session's). */
  _Atomic uint64_t hook_ticks;  /* sampled events' recorder time */
  _Atomic uint64_t hook_samples;
  _Atomic uint64_t handoff_ticks; /* handoffs, waits left out */
  _Atomic uint64_t wait_ticks;  /* blocked for a spare (qlock) */
  rec_site_cache_t cache;
};

/* ---- session (rec_core.c) -------------------------------------------- */

/* The stored-chunk rule's window (rec_core.c behind()): the writer judges,
 * every REC_STORE_WINDOW buffers it takes, whether the program's threads
 * spent at least 1/REC_STORE_SHARE of that window's time waiting for it
 * (backpressure), or it was behind at 3/4 of the window's takes; if so in
 * this window and the one before, the chunks
 * that start during the next window are stored uncompressed, and they are
 * until a window in which the writer found the queue empty (and slept) at
 * REC_STORE_IDLE of its takes or more: it keeps up then. 16 buffers of the default 4096 events are one
 * default chunk of 65536 events per thread. */
#define REC_STORE_WINDOW 16
#define REC_STORE_SHARE 4
#define REC_STORE_IDLE 12
typedef struct rec_store_win {
  uint64_t start;  /* TSC when the window opened (0: none yet) */
  uint64_t wait0;  /* rec_t.wait_sum then */
  uint64_t idle0;  /* rec_t.writer_idle then */
  uint32_t takes;  /* buffers taken since */
  uint32_t late;   /* of them, taken with the writer behind */
  int last;        /* the last window was full of waiting */
  int on;          /* the verdict: it and the one before were */
} rec_store_win_t;
/* One buffer taken at TSC now, with wait_sum the ticks program threads
 * have waited for a spare so far and idle the times the writer slept for
 * want of a buffer: returns whether chunks that start now are stored.
 * Pure (the caller holds the queue lock); a window's verdict holds until
 * the next window closes. */
int rec_store_window(rec_store_win_t *w, uint64_t now, uint64_t wait_sum,
                     uint64_t idle, int late);

/* Locks: `late_lock` (rec_late_enter) before the others; `lock` (sites,
 * modules, thread list, table sink calls) is taken before `qlock` (the queue, spares, writer thread state); `wlock`
 * serialises the events/flush sink calls and is taken with neither
 * held by the writer, under qlock by rec_finish. */
struct rec_s {
  rec_config_t cfg;
  rec_sink_t sink;
  void *sink_ctx;
  pthread_mutex_t lock; /* sites, modules, threads list, table sink calls */
  _Atomic int state;
  _Atomic int err;      /* first error, sticky */
  _Atomic int end_signal; /* the fatal signal ending the session, or 0 */
  int64_t pid;
  int clock;            /* trc_clock_t */
  uint64_t tick_hz;
  uint64_t start_ticks;
  _Atomic uint32_t next_index;
  _Atomic uint64_t dropped;
  uint64_t mod_adds, mod_subs; /* loader generation last merged */
  rec_sites_t *sites;
  rec_modules_t *mods;
  rec_thread_t *threads, *free_threads;
  rec_skip_t skip;
  /* The handoff queue and the writer thread. */
  pthread_mutex_t qlock;
  pthread_cond_t work;  /* writer: a buffer is queued, or stop */
  pthread_cond_t space; /* a buffer came back; the writer went idle */
  pthread_mutex_t wlock; /* events and flush calls of the sink */
  rec_buf_t *q_head, *q_tail;
  uint32_t q_len;
  int writer_on;        /* thread running (joinable) */
  int writer_busy;      /* writing a buffer taken off the queue */
  int writer_stop;      /* asked to exit once idle */
  int writer_failed;    /* could not be created: write inline */
  pthread_t writer;
  void *wstack;         /* the writer's own stack (rec_core.c
                           writer_attr), mapped once, reused */
  void (*writer_init)(void);
  uint32_t waiters;     /* threads blocked for a spare (qlock) */
  uint32_t wait_streak; /* buffers the writer took in a row while a thread
                           waited (qlock; rec_core.c behind()) */
  uint64_t wait_sum;    /* TSC ticks threads waited for a spare (qlock) */
  uint64_t writer_idle; /* times the writer slept on an empty queue */
  rec_store_win_t store_win; /* behind()'s share of waiting (qlock) */
  _Atomic uint64_t writer_ns; /* CPU time coding buffers (summary) */
  uint64_t read_ticks;  /* cost of one bare TSC read, taken off samples */
  /* Events of threads past their last key-destructor round (rec_late_enter):
   * one state shared by them, every event stamped. late_lock is taken
   * before lock and qlock, by the hooks only. */
  pthread_mutex_t late_lock;
  rec_thread_t *late;
  char path[1100];
  /* Bumped at every buffer handoff of any thread (qlock held): a thread
   * that sees it changed since its last stamp stamps its next event, so
   * an estimated time never spans another thread's handoff (a thread that
   * slept, blocked or waited for others stamps its first event after). On
   * its own line: written once per HKREC_BLOCK events of some thread, read
   * by every event. */
  _Alignas(64) _Atomic uint32_t epoch;
  char pad_[60];
};

/* Whether the event about to be pushed reads the clock: one buffer
 * position in cfg.ts_every, and the buffer's last, so that every buffer
 * (hence every chunk the writer makes of whole buffers) ends on a stamp
 * the reader interpolates up to, and the first event after any thread's
 * buffer handoff (rec_t.epoch). The clock read is the hook's largest cost
 * (57 ns fenced on the development VM against 13 ns for glibc's malloc);
 * the others are stored unstamped (docs/recorder.md, "Time"). */
HK_FORCE_INLINE int rec_ts_due(rec_thread_t *t) {
  uint32_t n = atomic_load_explicit(&t->n, memory_order_relaxed);
  uint32_t ep = atomic_load_explicit(&t->rec->epoch, memory_order_relaxed);
  int pos = (n & t->ts_mask) == 0;
  if (HK_LIKELY(!pos & (n + 1 != t->cap) & (ep == t->epoch))) return 0;
  /* A stamp at a multiple of N also moves the epoch, so every other
   * thread stamps its next event: an estimated event's window then holds
   * fewer than N events of any other thread (one that made N would have
   * stamped a multiple). A plain store: a lost update still changes the
   * value the others saw. */
  if (pos & (t->ts_mask != 0))
    atomic_store_explicit(&t->rec->epoch, ++ep, memory_order_relaxed);
  t->epoch = ep;
  return 1;
}

/* rec_push's raw time for an event that did not read the clock. */
#define REC_NO_STAMP 0

/* Raw clock reading: TSC or CLOCK_MONOTONIC ns, or REC_NO_STAMP when this
 * event is not due a stamp. "after" stamps (allocation results) wait for
 * the call to finish; "before" stamps (frees) are taken before the call
 * starts (hk_clock.h explains the fencing). */
HK_FORCE_INLINE uint64_t rec_stamp_after(rec_thread_t *t) {
  if (!rec_ts_due(t)) return REC_NO_STAMP;
  return HK_LIKELY(t->rec->clock == TRC_CLOCK_TSC) ? hk_tsc_order_after()
                                                  : hk_now_ns();
}
HK_FORCE_INLINE uint64_t rec_stamp_before(rec_thread_t *t) {
  if (!rec_ts_due(t)) return REC_NO_STAMP;
  return HK_LIKELY(t->rec->clock == TRC_CLOCK_TSC) ? hk_tsc_order_before()
                                                  : hk_now_ns();
}

/* Queues a full buffer and takes a spare; out of line (rec_core.c). */
HK_COLD void rec_thread_full(rec_thread_t *t);

/* Hook-time sampling (summary hook_ns): the hooks time the recorder's part
 * of one event in REC_SAMPLE_EVERY of a thread (those at buffer positions
 * REC_SAMPLE_AT modulo it: mid-page, since the event at a page's start
 * costs a TLB miss the others do not), with bare TSC reads around the
 * real call and at the end. Two or three extra reads on a sampled event,
 * one test on the others. */
#define REC_SAMPLE_EVERY 256
#define REC_SAMPLE_AT 155
HK_FORCE_INLINE int rec_sample_due(const rec_thread_t *t) {
  return HK_UNLIKELY(
      (atomic_load_explicit(&t->n, memory_order_relaxed) &
       (REC_SAMPLE_EVERY - 1)) == REC_SAMPLE_AT);
}
/* The recorder's costs so far into end's hook_ns, hook_samples, wait_ns
 * and writer_ns (rec_core.c). */
void rec_costs(const rec_t *r, trc_summary_t *end);

/* Adds one sampled event: recorder time = (call_start - entry) + (now -
 * call_end), less the cost of the reads that measured it. */
HK_COLD void rec_sample_add(rec_thread_t *t, uint64_t entry,
                            uint64_t call_start, uint64_t call_end);

/* The per-event path: store one event, publish the count, hand the buffer
 * over when full. Budget: ~8 stores and one predictable branch; the
 * handoff (one per `cap` events) queues the buffer for the writer thread
 * and takes a spare one (a short lock; it waits only when the writer is
 * `buffers - 1` buffers behind this thread). */
HK_FORCE_INLINE void rec_push(rec_thread_t *t, uint8_t op, uint8_t flags,
                              uint64_t raw_time, uint64_t ptr,
                              uint64_t old_ptr, uint64_t size, uint64_t nmemb,
                              uint64_t align, uint32_t site) {
  uint32_t n = atomic_load_explicit(&t->n, memory_order_relaxed);
  trc_event_t *e = &t->buf[n];
  rec_t *r = t->rec;
  if (raw_time == REC_NO_STAMP) { /* stored at the last stamp */
    e->time = t->last;
    flags |= TRC_EV_EST;
  } else {
    uint64_t tm = raw_time > r->start_ticks ? raw_time - r->start_ticks : 0;
    if (HK_UNLIKELY(tm < t->last)) tm = t->last; /* clock skew across cores */
    t->last = tm;
    e->time = tm;
  }
  e->ptr = ptr;
  e->old_ptr = old_ptr;
  e->size = size;
  e->nmemb = nmemb;
  e->align = align;
  e->site = site;
  e->thread = t->index;
  e->op = op;
  e->flags = flags;
  atomic_store_explicit(&t->n, n + 1, memory_order_release);
  if (HK_UNLIKELY(n + 1 == t->cap)) rec_thread_full(t);
}

#endif
