/* rec_internal.h: private to recorder/: the session and thread-state
 * layouts that the inline per-event path of rec_preload.c needs. Sections
 * name the file that owns them. */
#ifndef REC_INTERNAL_H
#define REC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "recorder.h"

/* ---- thread state (rec_core.c) --------------------------------------- */

/* One mmap per thread: this header, the site cache, then `cap` events.
 * Only the owning thread writes buf and n, except rec_finish, which reads
 * buf[0..n) of other live threads under the session lock (n is published
 * with a release store after the event is written). */
struct rec_thread_s {
  rec_t *rec;
  uint32_t index;
  uint32_t cap;
  _Atomic uint32_t n;
  int live;              /* attached and not yet released */
  int64_t tid;
  uint64_t start_time;
  uint64_t events;       /* handed to the sink so far */
  uint64_t last;         /* time of the last event: keeps stamps monotonic */
  size_t map_len;
  struct rec_thread_s *next;      /* every state of the session */
  struct rec_thread_s *next_free; /* released, reusable */
  trc_event_t *buf;
  rec_site_cache_t cache;
};

/* ---- session (rec_core.c) -------------------------------------------- */

struct rec_s {
  rec_config_t cfg;
  rec_sink_t sink;
  void *sink_ctx;
  pthread_mutex_t lock; /* sites, modules, threads list, every sink call */
  _Atomic int state;
  int err;              /* first error, sticky */
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
  char path[1100];
};

/* Raw clock reading: TSC or CLOCK_MONOTONIC ns. "after" stamps (allocation
 * results) wait for the call to finish; "before" stamps (frees) are taken
 * before the call starts (hk_clock.h explains the fencing). */
HK_FORCE_INLINE uint64_t rec_stamp_after(const rec_t *r) {
  return HK_LIKELY(r->clock == TRC_CLOCK_TSC) ? hk_tsc_end() : hk_now_ns();
}
HK_FORCE_INLINE uint64_t rec_stamp_before(const rec_t *r) {
  return HK_LIKELY(r->clock == TRC_CLOCK_TSC) ? hk_tsc_begin() : hk_now_ns();
}

/* Hands a full buffer over; out of line (rec_core.c). */
HK_COLD void rec_thread_full(rec_thread_t *t);

/* The per-event path: store one event, publish the count, hand the buffer
 * over when full. Budget: ~8 stores and one predictable branch; the
 * handoff (one per `cap` events) compresses and writes under the session
 * lock. */
HK_FORCE_INLINE void rec_push(rec_thread_t *t, uint8_t op, uint8_t flags,
                              uint64_t raw_time, uint64_t ptr,
                              uint64_t old_ptr, uint64_t size, uint64_t nmemb,
                              uint64_t align, uint32_t site) {
  uint32_t n = atomic_load_explicit(&t->n, memory_order_relaxed);
  trc_event_t *e = &t->buf[n];
  rec_t *r = t->rec;
  uint64_t tm = raw_time > r->start_ticks ? raw_time - r->start_ticks : 0;
  if (HK_UNLIKELY(tm < t->last)) tm = t->last; /* clock skew across cores */
  t->last = tm;
  e->time = tm;
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
