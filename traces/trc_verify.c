/* trc_verify.c: trc_scan, the full check behind `hksim trace verify` and the
 * counts of `hksim trace info`: every chunk whole, events ordered per
 * thread, sites defined before use, threads known, and the end-of-trace
 * summary present and agreeing with what was read. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "trc.h"
#include "trc_internal.h"

/* Open-addressing map u32 -> u64 (key + 1 stored, 0 = empty). */
typedef struct umap {
  uint64_t *keys, *vals;
  size_t cap, n;
} umap_t;

static size_t slot_of(const umap_t *m, uint32_t key) {
  size_t i = (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 20) &
             (m->cap - 1);
  while (m->keys[i] && m->keys[i] != (uint64_t)key + 1) i = (i + 1) & (m->cap - 1);
  return i;
}

static uint64_t *umap_find(const umap_t *m, uint32_t key) {
  if (!m->cap) return NULL;
  size_t i = slot_of(m, key);
  return m->keys[i] ? &m->vals[i] : NULL;
}

/* Returns the value slot of key, inserting it with value v if absent. */
static uint64_t *umap_put(umap_t *m, uint32_t key, uint64_t v) {
  uint64_t *f = umap_find(m, key);
  if (f) return f;
  if ((m->n + 1) * 2 > m->cap) {
    umap_t g = {0};
    g.cap = m->cap ? m->cap * 2 : 64;
    g.keys = calloc(g.cap, sizeof *g.keys);
    g.vals = calloc(g.cap, sizeof *g.vals);
    if (!g.keys || !g.vals) {
      free(g.keys);
      free(g.vals);
      return NULL;
    }
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i]) {
        size_t j = slot_of(&g, (uint32_t)(m->keys[i] - 1));
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
      }
    g.n = m->n;
    free(m->keys);
    free(m->vals);
    *m = g;
  }
  size_t i = slot_of(m, key);
  m->keys[i] = (uint64_t)key + 1;
  m->vals[i] = v;
  m->n++;
  return &m->vals[i];
}

static void umap_release(umap_t *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* Records the first problem only. */
HK_PRINTF(3, 4)
static void problem(trc_scan_t *s, int status, const char *fmt, ...) {
  if (s->status) return;
  s->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->problem, sizeof s->problem, fmt, ap);
  va_end(ap);
}

static void check_summary(trc_scan_t *s, const trc_summary_t *sum,
                          uint64_t chunks_before) {
  const char *what = NULL;
  uint64_t want = 0, got = 0;
  if (sum->events != s->events)
    what = "events", want = sum->events, got = s->events;
  else if (sum->failed != s->failed)
    what = "failed events", want = sum->failed, got = s->failed;
  else if (sum->chunks != chunks_before)
    what = "chunks", want = sum->chunks, got = chunks_before;
  else if (sum->threads != s->threads)
    what = "threads", want = sum->threads, got = s->threads;
  else if (sum->sites != s->sites)
    what = "sites", want = sum->sites, got = s->sites;
  else if (sum->modules != s->modules)
    what = "modules", want = sum->modules, got = s->modules;
  for (unsigned op = 1; !what && op < TRC_OP_COUNT; op++)
    if (sum->counts[op] != s->counts[op])
      what = trc_op_name(op), want = sum->counts[op], got = s->counts[op];
  if (what)
    problem(s, HK_E_CORRUPT,
            "end-of-trace summary disagrees: it says %" PRIu64
            " %s, the file holds %" PRIu64,
            want, what, got);
}

int trc_scan(const char *path, trc_scan_t *s) {
  memset(s, 0, sizeof *s);
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  if (rc) {
    s->status = rc;
    snprintf(s->problem, sizeof s->problem, "cannot read the header: %s",
             hk_strerror(rc));
    return rc;
  }
  s->file_bytes = trc_reader_file_size(r);
  umap_t sites = {0}, threads = {0}, last_time = {0};
  trc_chunk_t c;
  int nomem = 0;
  for (;;) {
    uint64_t off = trc_reader_offset(r);
    rc = trc_reader_next(r, &c);
    if (rc == 0) break;
    if (rc < 0) {
      s->damage_offset = off;
      /* Where and how much is readable are fields the caller prints
       * (once): the problem says only what is wrong there. */
      problem(s, rc, "%s", hk_strerror(rc));
      break;
    }
    if (s->have_summary)
      problem(s, HK_E_CORRUPT,
              "chunk at offset %" PRIu64 " follows the end-of-trace summary",
              off);
    s->chunks++;
    switch (c.kind) {
    case TRC_CHUNK_EVENTS: {
      s->event_chunks++;
      uint64_t *last = umap_put(&last_time, c.thread, 0);
      if (!last) {
        nomem = 1;
        break;
      }
      if (c.n && c.events[0].time < *last)
        problem(s, HK_E_CORRUPT,
                "chunk at offset %" PRIu64 ": thread %" PRIu32
                " goes back in time (%" PRIu64 " after %" PRIu64 ")",
                off, c.thread, c.events[0].time, *last);
      for (size_t i = 0; i < c.n; i++) {
        const trc_event_t *e = &c.events[i];
        s->counts[e->op]++;
        if (e->flags & TRC_EV_FAILED) s->failed++;
        if (e->site && !umap_find(&sites, e->site))
          problem(s, HK_E_CORRUPT,
                  "chunk at offset %" PRIu64 ": event at t=%" PRIu64
                  " uses site %" PRIu32 ", not defined before it",
                  off, e->time, e->site);
      }
      s->events += c.n;
      if (c.n) *last = c.events[c.n - 1].time;
      break;
    }
    case TRC_CHUNK_SITES:
      s->sites += (uint32_t)c.n;
      for (size_t i = 0; i < c.n; i++) {
        if (!umap_put(&sites, c.sites[i].id, 1)) nomem = 1;
        if (c.sites[i].depth > s->max_depth) s->max_depth = c.sites[i].depth;
      }
      break;
    case TRC_CHUNK_MODULES: s->modules += (uint32_t)c.n; break;
    case TRC_CHUNK_THREADS:
      /* An index may be defined again (with its end time): count each
       * thread once. */
      for (size_t i = 0; i < c.n; i++) {
        if (!umap_find(&threads, c.threads[i].index)) s->threads++;
        if (!umap_put(&threads, c.threads[i].index, 1)) nomem = 1;
      }
      break;
    case TRC_CHUNK_SUMMARY:
      s->have_summary = 1;
      s->summary = *c.summary;
      check_summary(s, c.summary, s->chunks - 1);
      break;
    }
    if (nomem) break;
  }
  s->readable_bytes = trc_reader_offset(r); /* the damage, or the end */
  if (nomem) problem(s, HK_E_NOMEM, "out of memory while scanning");
  /* Threads tables may come last: check thread indexes only now. */
  for (size_t i = 0; i < last_time.cap; i++) {
    if (!last_time.keys[i]) continue;
    uint32_t th = (uint32_t)(last_time.keys[i] - 1);
    if (!umap_find(&threads, th))
      problem(s, HK_E_CORRUPT,
              "thread %" PRIu32 " has events but no entry in a threads table",
              th);
  }
  if (!s->have_summary && rc == 0)
    problem(s, HK_E_NOTAIL,
            "no end-of-trace summary: recording was cut short after %" PRIu64
            " events",
            s->events);
  else if (!s->have_summary && !s->problem[0])
    problem(s, HK_E_NOTAIL, "no end-of-trace summary");
  if (s->status == HK_E_NOTAIL) s->damage_offset = s->file_bytes;
  umap_release(&sites);
  umap_release(&threads);
  umap_release(&last_time);
  trc_reader_free(r);
  return 0;
}

int trc_estimate(const char *path, trc_estimate_t *e) {
  memset(e, 0, sizeof *e);
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  if (rc) return rc;
  e->file_bytes = trc_reader_file_size(r);
  umap_t threads = {0};
  trc_chunk_t c;
  for (;;) {
    uint64_t off = trc_reader_offset(r);
    rc = trc_reader_next_index(r, &c);
    if (rc == 0) break;
    if (rc < 0) {
      e->damaged = 1;
      e->damage_offset = off;
      break;
    }
    e->chunks++;
    if (c.kind == TRC_CHUNK_SUMMARY) e->have_summary = 1;
    if (c.kind != TRC_CHUNK_EVENTS) continue;
    e->event_chunks++;
    e->events += c.n;
    if (!umap_find(&threads, c.thread)) {
      e->threads++;
      umap_put(&threads, c.thread, 1); /* out of memory: counted again */
    }
  }
  umap_release(&threads);
  trc_reader_free(r);
  return 0;
}

const char *trc_open_error(const char *path, int rc, char *buf, size_t len) {
  struct stat sb;
  if (rc == HK_E_VERSION)
    snprintf(buf, len,
             "trace format version %u is newer than this reader (reads up "
             "to %d)",
             trc_reader_file_version(path), TRC_VERSION);
  else if (rc == HK_E_CORRUPT && trc_header_problem(path, buf, len))
    ; /* buf names the field */
  else if (rc == HK_E_TRUNCATED && stat(path, &sb) == 0 && sb.st_size == 0)
    snprintf(buf, len, "empty file, not a trace");
  else if (rc == HK_E_TRUNCATED && stat(path, &sb) == 0)
    snprintf(buf, len,
             "file ends inside the trace header, after %lld bytes (truncated)",
             (long long)sb.st_size);
  else
    snprintf(buf, len, "%s", hk_strerror(rc));
  return buf;
}
