/* rec_sparse.c: how far the times of sparse stamps (HKREC_TS_EVERY) are
 * from true ones. Takes events that were all stamped (a recording at
 * HKREC_TS_EVERY=1, or a synthetic stream), decides which ones the
 * recorder would have stamped at ts_every with the recorder's own rule
 * (rec_ts_due on simulated thread states, the epoch moved at every buffer
 * handoff as rec_thread_full does), writes the others as TRC_EV_EST
 * through the trace writer, reads the file back (the reader interpolates,
 * as prepare sees it) and compares each time with the true one. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec_internal.h"

/* Each simulated thread is a whole rec_thread_t (48 KiB with its site
 * cache): bounded. */
#define REC_SPARSE_MAX_THREADS 4096

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n), n > 0. */
static uint64_t pct(const uint64_t *v, size_t n, double p) {
  size_t k = (size_t)(p * (double)n + 0.999999);
  if (k < 1) k = 1;
  if (k > n) k = n;
  return v[k - 1];
}

static double to_ns(uint64_t ticks, uint64_t hz) {
  return (double)ticks * 1e9 / (double)hz;
}

/* Marks in stamped[] the events the recorder would have stamped. A
 * thread's last event stands for its end: its final buffer is handed off
 * (rec_thread_flush), which moves the epoch too. */
static int simulate(const trc_event_t *ev, size_t n, uint32_t nth,
                    uint32_t ts_every, uint32_t block, uint8_t *stamped) {
  rec_t *r = calloc(1, sizeof *r);
  rec_thread_t *ts = calloc(nth, sizeof *ts);
  size_t *last = calloc(nth, sizeof *last);
  if (!r || !ts || !last) {
    free(r);
    free(ts);
    free(last);
    return HK_E_NOMEM;
  }
  for (size_t k = 0; k < n; k++) last[ev[k].thread] = k;
  for (uint32_t i = 0; i < nth; i++) {
    ts[i].rec = r;
    ts[i].cap = block;
    ts[i].ts_mask = ts_every - 1;
  }
  for (size_t k = 0; k < n; k++) {
    rec_thread_t *t = &ts[ev[k].thread];
    stamped[k] = (uint8_t)rec_ts_due(t);
    uint32_t pos = atomic_load_explicit(&t->n, memory_order_relaxed) + 1;
    if (pos == t->cap || k == last[ev[k].thread]) { /* a handoff */
      pos = 0;
      atomic_fetch_add_explicit(&r->epoch, 1, memory_order_relaxed);
    }
    atomic_store_explicit(&t->n, pos, memory_order_relaxed);
  }
  free(last);
  free(ts);
  free(r);
  return 0;
}

/* Writes the events with the unstamped ones estimated, per thread in
 * order, in chunks of whole buffers as the recorder's writer does. */
static int write_sparse(const char *path, const trc_event_t *ev, size_t n,
                        const uint8_t *stamped, uint32_t nth,
                        uint32_t block, uint64_t tick_hz) {
  trc_header_t h = {0};
  h.flags = TRC_HF_SPARSE_TIME;
  h.clock = TRC_CLOCK_TSC;
  h.tick_hz = tick_hz;
  h.exe = "rec_sparse";
  uint32_t chunk = (REC_DEFAULT_CHUNK / block) * block;
  trc_writer_opts_t o = {0, chunk ? chunk : block, NULL, 0};
  trc_writer_t *w;
  int rc = trc_writer_create(&w, path, &h, &o);
  if (rc) return rc;
  uint32_t *fill = calloc(nth, sizeof *fill);
  trc_event_t *pend = malloc((size_t)nth * block * sizeof *pend);
  if (!fill || !pend) rc = HK_E_NOMEM;
  for (uint32_t t = 0; !rc && t < nth; t++) {
    trc_thread_t th = {t, (int64_t)t + 1, 0, 0, ""};
    rc = trc_writer_add_thread(w, &th);
  }
  /* Each thread's events go out a buffer at a time, as they fill. */
  for (size_t k = 0; !rc && k < n; k++) {
    uint32_t t = ev[k].thread;
    trc_event_t e = ev[k];
    e.site = 0;
    if (!stamped[k]) e.flags |= TRC_EV_EST;
    pend[(size_t)t * block + fill[t]++] = e;
    if (fill[t] == block) {
      rc = trc_writer_events(w, t, pend + (size_t)t * block, block);
      fill[t] = 0;
    }
  }
  for (uint32_t t = 0; !rc && t < nth; t++)
    if (fill[t]) rc = trc_writer_events(w, t, pend + (size_t)t * block, fill[t]);
  uint64_t end = n ? ev[n - 1].time + 1 : 1;
  int frc = trc_writer_finish(w, end, 0);
  if (!rc) rc = frc;
  trc_writer_free(w);
  free(fill);
  free(pend);
  return rc;
}

int rec_sparse_eval(const trc_event_t *ev, size_t n, uint32_t ts_every,
                    uint32_t block, uint64_t tick_hz, const char *tmp,
                    rec_sparse_stats_t *st) {
  memset(st, 0, sizeof *st);
  if (!ev || !n || !tmp || !tick_hz || block < 16 || block > REC_MAX_BLOCK ||
      ts_every < 1 || ts_every > REC_MAX_TS_EVERY ||
      (ts_every & (ts_every - 1)))
    return HK_E_USAGE;
  uint32_t nth = 0;
  for (size_t k = 0; k < n; k++) {
    if (ev[k].thread >= REC_SPARSE_MAX_THREADS) return HK_E_RANGE;
    if (k && ev[k].time < ev[k - 1].time) return HK_E_RANGE; /* not in order */
    if (ev[k].thread + 1 > nth) nth = ev[k].thread + 1;
  }
  uint8_t *stamped = malloc(n);
  uint64_t *interp = malloc(n * sizeof *interp);
  size_t *seen = calloc(nth, sizeof *seen);
  size_t *cnt = calloc(nth, sizeof *cnt);
  size_t **idx = calloc(nth, sizeof *idx); /* thread's i-th -> global */
  uint64_t *err = malloc(n * sizeof *err);
  int rc = stamped && interp && seen && cnt && idx && err ? 0 : HK_E_NOMEM;
  if (!rc) rc = simulate(ev, n, nth, ts_every, block, stamped);
  for (size_t k = 0; !rc && k < n; k++) cnt[ev[k].thread]++;
  for (uint32_t t = 0; !rc && t < nth; t++)
    if (cnt[t] && !(idx[t] = malloc(cnt[t] * sizeof **idx))) rc = HK_E_NOMEM;
  for (size_t k = 0; !rc && k < n; k++) idx[ev[k].thread][seen[ev[k].thread]++] = k;
  if (!rc) rc = write_sparse(tmp, ev, n, stamped, nth, block, tick_hz);
  trc_reader_t *rd = NULL;
  if (!rc) rc = trc_reader_open(&rd, tmp);
  if (!rc) memset(seen, 0, nth * sizeof *seen);
  size_t got = 0;
  while (!rc) {
    trc_chunk_t c;
    int k = trc_reader_next(rd, &c);
    if (k < 0) rc = k;
    if (k <= 0) break;
    if (c.kind != TRC_CHUNK_EVENTS) continue;
    for (size_t i = 0; i < c.n && !rc; i++) {
      if (c.thread >= nth || seen[c.thread] >= cnt[c.thread]) {
        rc = HK_E_CORRUPT;
        break;
      }
      interp[idx[c.thread][seen[c.thread]++]] = c.events[i].time;
      got++;
    }
  }
  trc_reader_free(rd);
  unlink(tmp);
  if (!rc && got != n) rc = HK_E_CORRUPT;
  if (!rc) {
    size_t ne = 0;
    for (size_t k = 0; k < n; k++) {
      if (stamped[k]) continue;
      uint64_t a = interp[k], b = ev[k].time;
      err[ne++] = a > b ? a - b : b - a;
    }
    st->events = n;
    st->estimated = ne;
    st->threads = nth;
    if (ne) {
      qsort(err, ne, sizeof *err, cmp_u64);
      st->median_ns = to_ns(pct(err, ne, 0.5), tick_hz);
      st->p99_ns = to_ns(pct(err, ne, 0.99), tick_hz);
      st->max_ns = to_ns(err[ne - 1], tick_hz);
    }
    /* Cross-thread frees: a free of the block another thread's
     * allocation returned last (an open-addressed map of live pointers
     * to the allocating event; realloc's old pointer is let go). */
    size_t cap = 1024;
    while (cap < 2 * n) cap *= 2;
    uint64_t *key = calloc(cap, sizeof *key);
    size_t *val = calloc(cap, sizeof *val);
    if (!key || !val) rc = HK_E_NOMEM;
    for (size_t k = 0; !rc && k < n; k++) {
      uint64_t p = ev[k].ptr;
      if (!p) continue;
      size_t h = (size_t)((p * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
      while (key[h] && key[h] != p) h = (h + 1) & (cap - 1);
      if (ev[k].op == TRC_OP_FREE) {
        if (key[h] == p && val[h] != SIZE_MAX &&
            ev[val[h]].thread != ev[k].thread) {
          st->xfrees++;
          if (interp[k] < interp[val[h]]) st->xfrees_inverted++;
        }
        if (key[h] == p) val[h] = SIZE_MAX; /* freed: a tombstone */
      } else {
        key[h] = p;
        val[h] = k;
      }
    }
    free(key);
    free(val);
    /* Cross-thread order: neighbours in true time from two threads. */
    for (size_t k = 0; k + 1 < n; k++) {
      if (ev[k].thread == ev[k + 1].thread || ev[k].time == ev[k + 1].time)
        continue;
      st->pairs++;
      if (interp[k] > interp[k + 1]) st->inverted++;
      if (interp[k] == interp[k + 1]) st->tied++;
    }
  }
  for (uint32_t t = 0; idx && t < nth; t++) free(idx[t]);
  free(idx);
  free(cnt);
  free(seen);
  free(stamped);
  free(interp);
  free(err);
  return rc;
}
