/* trc_prepare.c: turns a trace into the program a replayer runs.
 *
 * Pass 1 reads the file once, keeping only an index: the offsets of every
 * thread's EVENTS chunks and the site table's immediate callers. Pass 2
 * merges the threads by time with one decoded chunk per thread (memory:
 * threads x chunk size, plus the table of live objects), pairs each free
 * with its allocation through the live table and gives every object a dense
 * slot. The result goes to a sink; trc_program_build() writes it as a .hkp
 * file that replayers map. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "hk_progress.h"
#include "trc.h"
#include "trc_internal.h"

/* ---- live objects: address -> (slot, size), open addressing ---------- */

typedef struct live_ent {
  uint64_t addr; /* 0: empty (a live object never has address 0) */
  uint64_t size;
  uint32_t slot;
} live_ent_t;

typedef struct live_tab {
  live_ent_t *e;
  size_t cap; /* power of two */
  size_t n;
} live_tab_t;

static size_t live_hash(uint64_t a, size_t mask) {
  a ^= a >> 33;
  a *= 0xff51afd7ed558ccdull;
  a ^= a >> 33;
  return (size_t)a & mask;
}

static live_ent_t *live_find(const live_tab_t *t, uint64_t addr) {
  if (!t->cap) return NULL;
  size_t mask = t->cap - 1;
  for (size_t i = live_hash(addr, mask);; i = (i + 1) & mask) {
    if (t->e[i].addr == addr) return &t->e[i];
    if (t->e[i].addr == 0) return NULL;
  }
}

static int live_put(live_tab_t *t, uint64_t addr, uint64_t size, uint32_t slot);

static int live_rehash(live_tab_t *t, size_t cap) {
  live_tab_t nt = {calloc(cap, sizeof(live_ent_t)), cap, 0};
  if (!nt.e) return HK_E_NOMEM;
  for (size_t i = 0; i < t->cap; i++)
    if (t->e[i].addr) live_put(&nt, t->e[i].addr, t->e[i].size, t->e[i].slot);
  free(t->e);
  *t = nt;
  return 0;
}

/* Inserts a new key (the caller has checked it is absent). */
static int live_put(live_tab_t *t, uint64_t addr, uint64_t size, uint32_t slot) {
  if ((t->n + 1) * 2 > t->cap) {
    int rc = live_rehash(t, t->cap ? t->cap * 2 : 1024);
    if (rc) return rc;
  }
  size_t mask = t->cap - 1, i = live_hash(addr, mask);
  while (t->e[i].addr) i = (i + 1) & mask;
  t->e[i] = (live_ent_t){addr, size, slot};
  t->n++;
  return 0;
}

/* Removes e (a pointer from live_find), backward-shift deletion so no
 * tombstones accumulate over 10^9 events. */
static void live_del(live_tab_t *t, live_ent_t *e) {
  size_t mask = t->cap - 1, i = (size_t)(e - t->e);
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    if (t->e[j].addr == 0) break;
    size_t home = live_hash(t->e[j].addr, mask);
    /* Can entry j move to the hole at i? Only if its home is not in (i, j]. */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      t->e[i] = t->e[j];
      i = j;
    }
  }
  t->e[i].addr = 0;
  t->n--;
}

/* ---- slots: the most recently released slot is reused first --------- */

typedef struct slots {
  uint32_t *free_;
  size_t nfree, cap;
  uint32_t next; /* slots ever used = peak live objects */
} slots_t;

static int slot_take(slots_t *s, uint32_t *out) {
  if (s->nfree) {
    *out = s->free_[--s->nfree];
    return 0;
  }
  if (s->next == UINT32_MAX) return HK_E_RANGE;
  *out = s->next++;
  return 0;
}

static int slot_give(slots_t *s, uint32_t slot) {
  int rc = trc_grow(&s->free_, &s->cap, s->nfree + 1, sizeof(uint32_t));
  if (rc) return rc;
  s->free_[s->nfree++] = slot;
  return 0;
}

/* ---- pass 1: the index ----------------------------------------------- */

typedef struct thread_idx {
  uint64_t *off; /* offsets of this thread's EVENTS chunks, in file order */
  size_t n, cap;
  /* pass 2 cursor */
  trc_event_t *ev;
  size_t nev, evcap, pos, next_chunk;
  /* causality repair (sparse stamps): time of the last stamped event
   * stepped, and whether the head must be stepped as it is */
  uint64_t stamp;
  int forced;
  uint64_t end; /* the thread's end (threads table), 0: not known */
  uint64_t end_hi; /* upper bound of the cursor's last estimated events
                      when no stamp follows them (tail_hi) */
} thread_idx_t;

typedef struct prep {
  trc_reader_t *r;
  thread_idx_t *th;
  size_t nth, thcap;
  uint32_t *site_caller; /* stack id -> caller id */
  size_t site_cap;
  uint64_t *caller_addr; /* caller id -> address */
  size_t ncaller, caller_cap;
  live_tab_t callers_by_addr; /* address -> caller id (slot field) */
  live_tab_t live;
  slots_t slots;
  uint64_t live_bytes;
  uint64_t tick_hz;   /* of the trace's clock; 0: no usable clock */
  uint64_t last_ns;   /* time_ns of the last op emitted */
  uint64_t end_all;   /* the summary's end_time: threads alive at the end */
  int repair;         /* TRC_HF_SPARSE_TIME: repair cross-thread order */
  trc_prep_stats_t *st;
  const trc_prepare_opts_t *o;
  struct ahead *ahead; /* chunks decoded on a second thread; NULL none */
} prep_t;

static int index_sites(prep_t *p, const trc_chunk_t *c) {
  for (size_t i = 0; i < c->n; i++) {
    const trc_site_t *s = &c->sites[i];
    if (s->id == 0 || s->id > (1u << 28)) return HK_E_CORRUPT;
    int rc = trc_grow(&p->site_caller, &p->site_cap, (size_t)s->id + 1,
                  sizeof(uint32_t));
    if (rc) return rc;
    uint64_t a = s->depth ? s->frames[0] : 0;
    uint32_t cid = 0;
    if (a) {
      live_ent_t *e = live_find(&p->callers_by_addr, a);
      if (e) {
        cid = e->slot;
      } else {
        rc = trc_grow(&p->caller_addr, &p->caller_cap, p->ncaller + 2,
                  sizeof(uint64_t));
        if (rc) return rc;
        cid = (uint32_t)++p->ncaller;
        p->caller_addr[0] = 0;
        p->caller_addr[cid] = a;
        rc = live_put(&p->callers_by_addr, a, 0, cid);
        if (rc) return rc;
      }
    }
    if (!p->site_caller[s->id]) p->st->sites++;
    p->site_caller[s->id] = cid;
  }
  return 0;
}

static int index_events(prep_t *p, const trc_chunk_t *c) {
  if (c->thread >= (1u << 20)) return HK_E_CORRUPT;
  int rc = trc_grow(&p->th, &p->thcap, (size_t)c->thread + 1,
                sizeof(thread_idx_t));
  if (rc) return rc;
  if ((size_t)c->thread + 1 > p->nth) p->nth = (size_t)c->thread + 1;
  thread_idx_t *t = &p->th[c->thread];
  rc = trc_grow(&t->off, &t->cap, t->n + 1, sizeof(uint64_t));
  if (rc) return rc;
  t->off[t->n++] = c->offset;
  return 0;
}

/* Thread ends: the upper bound of a thread's last estimated events, which
 * no stamp follows (a buffer handed over before it was full at the
 * thread's end). */
static int index_threads(prep_t *p, const trc_chunk_t *c) {
  for (size_t i = 0; i < c->n; i++) {
    const trc_thread_t *t = &c->threads[i];
    if (!t->end_time) continue;
    if (t->index >= (1u << 20)) return HK_E_CORRUPT;
    int rc = trc_grow(&p->th, &p->thcap, (size_t)t->index + 1,
                      sizeof(thread_idx_t));
    if (rc) return rc;
    p->th[t->index].end = t->end_time;
  }
  return 0;
}

static int pass1(prep_t *p) {
  trc_chunk_t c;
  int rc;
  while ((rc = trc_reader_next_index(p->r, &c)) > 0) {
    if (c.kind == TRC_CHUNK_SITES)
      rc = index_sites(p, &c);
    else if (c.kind == TRC_CHUNK_EVENTS)
      rc = index_events(p, &c);
    else if (c.kind == TRC_CHUNK_THREADS)
      rc = index_threads(p, &c);
    else if (c.kind == TRC_CHUNK_SUMMARY)
      p->end_all = c.summary->end_time, rc = 0;
    else
      rc = 0;
    if (rc) return rc;
  }
  if (rc < 0) {
    if (p->o->stop_at_damage || rc == HK_E_NOMEM) return rc;
    p->st->damaged = 1;
    p->st->damage_offset = trc_reader_offset(p->r);
  }
  for (size_t i = 0; i < p->nth; i++) p->st->threads += p->th[i].n > 0;
  p->st->callers = (uint32_t)p->ncaller;
  return 0;
}

/* ---- decoding ahead on a second thread ---------------------------------
 *
 * Decoding the EVENTS chunks (zstd, columns, pointers) was a third of
 * prepare's time on one core (perf: decode_events 22%, get_ptr 5%, the
 * copy into the cursor 5%). Pass 2 takes each thread's chunks in order
 * and the threads by time, which is close to file order: a second thread,
 * with a reader of its own, decodes the chunks in file order into a ring
 * of AHEAD_SLOTS buffers, and pass 2 takes a chunk from there when it is
 * ready, waits when it is being decoded, and decodes it itself when the
 * decoder has not reached it (it then skips it). A chunk decodes to the
 * same events whoever decodes it (each chunk stands alone), so the
 * program is the same bytes. The decoder never waits for pass 2 except
 * for a free slot, and pass 2 never waits for a chunk nobody decodes: no
 * deadlock. Off with one CPU, or trc_prepare_set_decode_ahead(0). */

#define AHEAD_SLOTS 4

enum { CH_TODO, CH_DECODING, CH_READY, CH_TAKEN };

typedef struct ahead_slot {
  int rc;           /* trc_reader_read_at's return */
  uint8_t kind;     /* the chunk's kind */
  trc_event_t *ev;  /* its events (kind EVENTS, rc 1) */
  size_t n, cap;
} ahead_slot_t;

typedef struct ahead {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a slot ready, a slot free, or stop */
  trc_reader_t *r;   /* the decoder's own */
  uint64_t *offs;    /* every EVENTS chunk's offset, in file order */
  size_t n, next;    /* chunks; the next the decoder looks at */
  uint8_t *state;    /* CH_* per chunk */
  uint8_t *slot_of;  /* the slot of a CH_READY chunk */
  ahead_slot_t slot[AHEAD_SLOTS];
  uint8_t free_[AHEAD_SLOTS];
  int nfree, stop;
} ahead_t;

static int decode_ahead = -1; /* -1: when there are 2 CPUs or more */

void trc_prepare_set_decode_ahead(int on) { decode_ahead = on < 0 ? -1 : !!on; }

/* Copies chunk c (as read, rc) into slot s. */
static void slot_fill(ahead_slot_t *s, int rc, const trc_chunk_t *c) {
  s->rc = rc;
  s->kind = rc == 1 ? (uint8_t)c->kind : 0;
  s->n = 0;
  if (rc != 1 || c->kind != TRC_CHUNK_EVENTS || !c->n) return;
  if (trc_grow(&s->ev, &s->cap, c->n, sizeof(trc_event_t))) {
    s->rc = HK_E_NOMEM;
    return;
  }
  memcpy(s->ev, c->events, c->n * sizeof(trc_event_t));
  s->n = c->n;
}

static void *ahead_main(void *arg) {
  ahead_t *a = arg;
  pthread_mutex_lock(&a->mu);
  while (!a->stop) {
    while (a->next < a->n && a->state[a->next] != CH_TODO) a->next++;
    if (a->next >= a->n) break;
    if (a->nfree == 0) {
      pthread_cond_wait(&a->cv, &a->mu);
      continue;
    }
    size_t g = a->next++;
    int k = a->free_[--a->nfree];
    a->state[g] = CH_DECODING;
    pthread_mutex_unlock(&a->mu);
    trc_chunk_t c;
    int rc = trc_reader_read_at(a->r, a->offs[g], &c);
    slot_fill(&a->slot[k], rc, &c);
    pthread_mutex_lock(&a->mu);
    a->slot_of[g] = (uint8_t)k;
    a->state[g] = CH_READY;
    pthread_cond_broadcast(&a->cv);
  }
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

static void ahead_free(ahead_t *a) {
  if (!a) return;
  for (int k = 0; k < AHEAD_SLOTS; k++) free(a->slot[k].ev);
  free(a->offs);
  free(a->state);
  free(a->slot_of);
  trc_reader_free(a->r);
  free(a);
}

/* Starts the decoder after pass 1 (p->th holds every chunk's offset);
 * leaves p->ahead NULL (decoding on this thread) when it is off or cannot
 * start. */
static void ahead_start(prep_t *p, const char *path) {
  int on = decode_ahead;
  if (on < 0) on = sysconf(_SC_NPROCESSORS_ONLN) > 1;
  size_t n = 0;
  for (size_t i = 0; i < p->nth; i++) n += p->th[i].n;
  if (!on || n < 2) return;
  ahead_t *a = calloc(1, sizeof *a);
  if (!a) return;
  a->offs = malloc(n * sizeof *a->offs);
  a->state = calloc(n, 1);
  a->slot_of = calloc(n, 1);
  if (!a->offs || !a->state || !a->slot_of || trc_reader_open(&a->r, path)) {
    ahead_free(a);
    return;
  }
  for (size_t i = 0; i < p->nth; i++)
    for (size_t j = 0; j < p->th[i].n; j++) a->offs[a->n++] = p->th[i].off[j];
  qsort(a->offs, a->n, sizeof *a->offs, cmp_u64);
  for (int k = 0; k < AHEAD_SLOTS; k++) a->free_[a->nfree++] = (uint8_t)k;
  if (pthread_mutex_init(&a->mu, NULL)) {
    ahead_free(a);
    return;
  }
  if (pthread_cond_init(&a->cv, NULL)) {
    pthread_mutex_destroy(&a->mu);
    ahead_free(a);
    return;
  }
  if (pthread_create(&a->th, NULL, ahead_main, a)) {
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    ahead_free(a);
    return;
  }
  p->ahead = a;
}

static void ahead_stop(prep_t *p) {
  ahead_t *a = p->ahead;
  if (!a) return;

  pthread_mutex_lock(&a->mu);
  a->stop = 1;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
  pthread_join(a->th, NULL);
  pthread_cond_destroy(&a->cv);
  pthread_mutex_destroy(&a->mu);
  ahead_free(a);
  p->ahead = NULL;
}

/* ---- pass 2: merge and pair ------------------------------------------ */

/* Appends the chunk at off (c, as read: rc) to t's cursor; *added its
 * events. */
static int cursor_add(thread_idx_t *t, int rc, uint8_t kind,
                      const trc_event_t *ev, size_t n, size_t *added) {
  if (rc < 0) return rc;
  if (rc == 0 || kind != TRC_CHUNK_EVENTS) return HK_E_CORRUPT;
  if (!n) return 0;
  rc = trc_grow(&t->ev, &t->evcap, t->nev + n, sizeof(trc_event_t));
  if (rc) return rc;
  memcpy(t->ev + t->nev, ev, n * sizeof(trc_event_t));
  t->nev += n;
  *added = n;
  return 0;
}

/* Chunk at off through the decoder: 1 with it appended to t's cursor
 * (rc its result), 0 when this thread must read it itself. */
static int ahead_take(ahead_t *a, uint64_t off, thread_idx_t *t, size_t *added,
                      int *rc) {
  uint64_t *f = bsearch(&off, a->offs, a->n, sizeof *a->offs, cmp_u64);
  if (!f) return 0;
  size_t g = (size_t)(f - a->offs);
  pthread_mutex_lock(&a->mu);
  if (a->state[g] == CH_TODO) { /* not reached: the decoder skips it */
    a->state[g] = CH_TAKEN;
    pthread_mutex_unlock(&a->mu);
    return 0;
  }
  while (a->state[g] == CH_DECODING) pthread_cond_wait(&a->cv, &a->mu);
  int k = a->slot_of[g];
  a->state[g] = CH_TAKEN;
  pthread_mutex_unlock(&a->mu);
  ahead_slot_t *s = &a->slot[k];
  if (s->rc == 1 && s->kind == TRC_CHUNK_EVENTS && s->n && t->nev == 0) {
    /* The cursor is empty: swap buffers rather than copy. */
    trc_event_t *ev = t->ev;
    size_t cap = t->evcap;
    t->ev = s->ev;
    t->evcap = s->cap;
    t->nev = s->n;
    *added = s->n;
    s->ev = ev;
    s->cap = cap;
    *rc = 0;
  } else {
    *rc = cursor_add(t, s->rc, s->kind, s->ev, s->n, added);
  }
  pthread_mutex_lock(&a->mu);
  a->free_[a->nfree++] = (uint8_t)k;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
  return 1;
}

/* Appends thread t's next non-empty chunk to its cursor at t->nev; sets
 * *added (0 when the thread is exhausted); negative on a read error. */
static int cursor_load(prep_t *p, thread_idx_t *t, size_t *added) {
  *added = 0;
  while (t->next_chunk < t->n) {
    uint64_t off = t->off[t->next_chunk++];
    int rc;
    if (!p->ahead || !ahead_take(p->ahead, off, t, added, &rc)) {
      trc_chunk_t c;
      rc = trc_reader_read_at(p->r, off, &c);
      rc = cursor_add(t, rc, rc == 1 ? (uint8_t)c.kind : 0, c.events,
                      rc == 1 && c.kind == TRC_CHUNK_EVENTS ? c.n : 0, added);
    }
    if (rc) return rc;
    if (*added) return 0;
  }
  return 0;
}

/* The upper bound of thread t's estimated events that no stamp follows
 * (its last ones, once no chunk is left): its end in the threads table,
 * else the trace's end for a thread alive then; UINT64_MAX when neither
 * is past the last stamp (t->ev[t->nev - 1] holds it). */
static uint64_t tail_hi(const prep_t *p, const thread_idx_t *t) {
  uint64_t end = t->end ? t->end : p->end_all;
  uint64_t lo = t->nev ? t->ev[t->nev - 1].time : 0;
  return t->next_chunk == t->n && end > lo ? end : UINT64_MAX;
}

/* Loads the next chunk of thread t into its cursor; 0 ok (t->nev may be 0
 * when the thread is exhausted), negative on a read error. A chunk that
 * ends on estimated times (a buffer handed over before it was full: a
 * fork, an exec, the thread's end) has its next stamp in a later chunk:
 * with the repair on, chunks are appended until one comes (the run is
 * interpolated up to it, and head_hi finds it). */
static int cursor_fill(prep_t *p, thread_idx_t *t) {
  t->nev = t->pos = 0;
  t->end_hi = UINT64_MAX;
  size_t added;
  int rc = cursor_load(p, t, &added);
  while (!rc && p->repair && t->nev && (t->ev[t->nev - 1].flags & TRC_EV_EST)) {
    size_t s0 = t->nev, old = t->nev;
    while (s0 > 0 && (t->ev[s0 - 1].flags & TRC_EV_EST)) s0--;
    rc = cursor_load(p, t, &added);
    if (rc) break;
    if (!added) { /* the thread's last events: up to its end */
      uint64_t lo = t->ev[s0].time, hi = tail_hi(p, t);
      uint64_t len = (uint64_t)(t->nev - s0);
      t->end_hi = hi;
      if (hi != UINT64_MAX)
        for (size_t k = s0; k < t->nev; k++)
          t->ev[k].time = lo + (uint64_t)((unsigned __int128)(hi - lo) *
                                          (uint64_t)(k - s0 + 1) / (len + 1));
      break;
    }
    size_t i = old;
    while (i < t->nev && (t->ev[i].flags & TRC_EV_EST)) i++;
    if (i < t->nev) trc_interpolate_times(t->ev + s0, i + 1 - s0);
  }
  return rc;
}

/* Min-heap of threads ordered by (time of current event, thread index);
 * each node caches its thread's current time so sifting touches no events. */
typedef struct hnode {
  uint64_t time;
  uint32_t th;
} hnode_t;

typedef struct heap {
  hnode_t *h;
  size_t n;
} heap_t;

static int heap_less(hnode_t a, hnode_t b) {
  return a.time != b.time ? a.time < b.time : a.th < b.th;
}

static void heap_down(heap_t *h, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->n && heap_less(h->h[l], h->h[m])) m = l;
    if (r < h->n && heap_less(h->h[r], h->h[m])) m = r;
    if (m == i) return;
    hnode_t tmp = h->h[i];
    h->h[i] = h->h[m];
    h->h[m] = tmp;
    i = m;
  }
}

static uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint8_t align_log2(uint64_t a) {
  if (a <= 1) return 0;
  unsigned l = 63u - (unsigned)__builtin_clzll(a);
  return (uint8_t)(l > 63 ? 63 : l);
}

/* ticks -> ns since the start, saturated to what trc_pop_t holds. */
static uint64_t ticks_ns(uint64_t ticks, uint64_t hz) {
  if (hz == 0) return 0;
  unsigned __int128 ns = (unsigned __int128)ticks * 1000000000u / hz;
  return ns > TRC_POP_TIME_MAX ? TRC_POP_TIME_MAX : (uint64_t)ns;
}

static int emit(prep_t *p, const trc_event_t *e, uint8_t op, uint32_t slot,
                uint64_t size, uint8_t flags) {
  trc_pop_t o;
  memset(&o, 0, sizeof o);
  uint64_t ns = ticks_ns(e->time, p->tick_hz);
  if (ns > p->last_ns) p->last_ns = ns;
  o.time_ns = p->last_ns;
  o.size = size;
  o.slot = slot;
  o.site = e->site;
  o.caller = e->site < p->site_cap ? p->site_caller[e->site] : 0;
  o.thread = (uint16_t)(e->thread > UINT16_MAX ? UINT16_MAX : e->thread);
  o.op = op;
  o.align_log2 = align_log2(e->align);
  o.flags = flags;
  p->st->ops++;
  return p->o->sink ? p->o->sink(p->o->sink_ctx, &o) : 0;
}

static void account(prep_t *p, int64_t delta) {
  p->live_bytes += (uint64_t)delta;
  if (p->live_bytes > p->st->peak_live_bytes) p->st->peak_live_bytes = p->live_bytes;
}

static int release(prep_t *p, live_ent_t *le) {
  uint32_t slot = le->slot;
  account(p, -(int64_t)le->size);
  live_del(&p->live, le);
  return slot_give(&p->slots, slot);
}

/* A new object at addr: retires a still-live previous owner of the same
 * address (a double allocation), then takes a slot. */
static int new_object(prep_t *p, const trc_event_t *e, uint64_t size,
                      uint32_t *slot) {
  live_ent_t *old = live_find(&p->live, e->ptr);
  if (old) {
    p->st->double_allocs++;
    int rc = emit(p, e, TRC_OP_FREE, old->slot, old->size, TRC_PF_IMPLICIT);
    if (!rc) rc = release(p, old);
    if (rc) return rc;
  }
  int rc = slot_take(&p->slots, slot);
  if (!rc) rc = live_put(&p->live, e->ptr, size, *slot);
  if (!rc) account(p, (int64_t)size);
  return rc;
}

static int step(prep_t *p, const trc_event_t *e) {
  trc_prep_stats_t *st = p->st;
  uint64_t size = e->nmemb ? sat_mul(e->nmemb, e->size) : e->size;
  uint32_t slot;
  int rc;
  st->events++;
  if (e->op > TRC_OP_NONE_ && e->op < TRC_OP_COUNT) st->counts[e->op]++;
  if (e->op == TRC_OP_FREE) {
    live_ent_t *le = live_find(&p->live, e->ptr);
    if (!le) {
      st->unmatched_frees++;
      return 0;
    }
    rc = emit(p, e, TRC_OP_FREE, le->slot, le->size, 0);
    return rc ? rc : release(p, le);
  }
  if (trc_op_is_realloc(e->op)) {
    live_ent_t *le = e->old_ptr ? live_find(&p->live, e->old_ptr) : NULL;
    if (e->old_ptr && !le) st->unmatched_frees++;
    if (!le) { /* realloc(NULL, n), or of an unknown block: a new object */
      if ((e->flags & TRC_EV_FAILED) || !e->ptr) {
        st->failed_allocs++;
        return emit(p, e, e->op, UINT32_MAX, size, TRC_PF_FAILED);
      }
      rc = new_object(p, e, size, &slot);
      return rc ? rc : emit(p, e, e->op, slot, size, TRC_PF_FROM_NULL);
    }
    if (size == 0 && !e->ptr) { /* realloc(p, 0) that freed p */
      rc = emit(p, e, e->op, le->slot, 0, 0);
      return rc ? rc : release(p, le);
    }
    if ((e->flags & TRC_EV_FAILED) || !e->ptr) { /* old block stays live */
      st->failed_allocs++;
      return emit(p, e, e->op, le->slot, size, TRC_PF_FAILED);
    }
    slot = le->slot;
    account(p, (int64_t)size - (int64_t)le->size);
    if (e->ptr == e->old_ptr) {
      le->size = size;
    } else {
      live_del(&p->live, le);
      live_ent_t *other = live_find(&p->live, e->ptr);
      if (other) {
        st->double_allocs++;
        rc = emit(p, e, TRC_OP_FREE, other->slot, other->size,
                  TRC_PF_IMPLICIT);
        if (!rc) rc = release(p, other);
        if (rc) return rc;
      }
      rc = live_put(&p->live, e->ptr, size, slot);
      if (rc) return rc;
    }
    return emit(p, e, e->op, slot, size, 0);
  }
  if (!trc_op_is_alloc(e->op)) return HK_E_CORRUPT;
  if ((e->flags & TRC_EV_FAILED) || !e->ptr) {
    st->failed_allocs++;
    return emit(p, e, e->op, UINT32_MAX, size, TRC_PF_FAILED);
  }
  rc = new_object(p, e, size, &slot);
  return rc ? rc : emit(p, e, e->op, slot, size, 0);
}

/* ---- causality repair (traces with sparse stamps) ---------------------
 *
 * With HKREC_TS_EVERY > 1 most events carry an interpolated time
 * (TRC_EV_EST): the true time of such an event lies between the stamps
 * around it in its thread, lo (the last stamp before it) and hi (the next
 * one), so merging by time may put a free before the allocation another
 * thread made of its block, or an allocation of an address before the
 * free of its previous owner. The pointer model says when that happened:
 * the event at the head of a thread "conflicts" (a free or realloc of an
 * address not live, an allocation or a moving realloc onto a live one).
 * Such a thread is held back (stalled) while the others go on, the thread
 * holding what it waits for first (pick), until the conflict resolves (the
 * allocation or free it waits for is stepped: order_fixups counts these),
 * or nothing pending can resolve it: no event with lo <= hi of the held
 * event does (events past hi truly came after it; stepping one first could
 * pair its pointer with the wrong object), or every thread is held. Then
 * it is stepped as it is, a genuine unmatched free or double allocation,
 * or, when held events wait on each other (an earlier pairing was wrong:
 * one pass cannot take it back), a guess counted in order_unresolved.
 * A thread's last estimated events are bounded by its end (tail_hi).
 * Per-thread order is never changed,
 * and every decision depends only on the trace: deterministic. */

static void heap_push(heap_t *h, hnode_t x) {
  size_t i = h->n++;
  h->h[i] = x;
  while (i) {
    size_t up = (i - 1) / 2;
    if (!heap_less(h->h[i], h->h[up])) break;
    hnode_t tmp = h->h[i];
    h->h[i] = h->h[up];
    h->h[up] = tmp;
    i = up;
  }
}

/* Whether stepping e now contradicts the live table (see above). */
static int conflicts(const prep_t *p, const trc_event_t *e) {
  int ok = !(e->flags & TRC_EV_FAILED) && e->ptr;
  if (e->op == TRC_OP_FREE) return !live_find(&p->live, e->ptr);
  if (trc_op_is_realloc(e->op)) {
    if (e->old_ptr && !live_find(&p->live, e->old_ptr)) return 1;
    return ok && e->ptr != e->old_ptr && live_find(&p->live, e->ptr);
  }
  return ok && trc_op_is_alloc(e->op) && live_find(&p->live, e->ptr);
}

/* lo and hi of a thread's head event: the stamps its true time lies
 * between (a stamped event: its own time; an estimated one with no stamp
 * after it in the chunk: no upper bound). */
static uint64_t head_lo(const thread_idx_t *t) {
  const trc_event_t *e = &t->ev[t->pos];
  return (e->flags & TRC_EV_EST) ? t->stamp : e->time;
}
static uint64_t head_hi(const prep_t *p, const thread_idx_t *t) {
  for (size_t j = t->pos; j < t->nev; j++)
    if (!(t->ev[j].flags & TRC_EV_EST)) return t->ev[j].time;
  return t->end_hi;
}

typedef struct stall {
  uint32_t th;
  uint64_t hi;
} stall_t;

/* After a step: held threads whose conflict resolved go back into the
 * heap (the allocation or free they waited for was stepped). */
static void recheck_stalls(prep_t *p, heap_t *h, stall_t *st, size_t *nst,
                           uint64_t *gen) {
  for (size_t i = 0; i < *nst;) {
    thread_idx_t *t = &p->th[st[i].th];
    if (conflicts(p, &t->ev[t->pos])) {
      i++;
      continue;
    }
    p->st->order_fixups++;
    heap_push(h, (hnode_t){t->ev[t->pos].time, st[i].th});
    st[i] = st[--*nst];
    ++*gen;
  }
}

static void heap_up(heap_t *h, size_t i) {
  while (i) {
    size_t up = (i - 1) / 2;
    if (!heap_less(h->h[i], h->h[up])) break;
    hnode_t tmp = h->h[i];
    h->h[i] = h->h[up];
    h->h[up] = tmp;
    i = up;
  }
}

/* Removes node i; the heap stays a heap. */
static void heap_remove_at(heap_t *h, size_t i) {
  h->h[i] = h->h[--h->n];
  if (i < h->n) {
    heap_down(h, i);
    heap_up(h, i);
  }
}

/* Whether stepping x would end held event e's conflict: x makes live the
 * address e frees or reallocates, or frees the one e allocates onto (as
 * conflicts() reads them). */
static int makes(const trc_event_t *x, uint64_t a) {
  return x->ptr == a && !(x->flags & TRC_EV_FAILED) &&
         (trc_op_is_alloc(x->op) || trc_op_is_realloc(x->op));
}
static int unmakes(const trc_event_t *x, uint64_t a) {
  if (x->op == TRC_OP_FREE) return x->ptr == a;
  return trc_op_is_realloc(x->op) && x->old_ptr == a && x->ptr != a &&
         !(x->flags & TRC_EV_FAILED);
}
static int resolves(const prep_t *p, const trc_event_t *x,
                    const trc_event_t *e) {
  if (e->op == TRC_OP_FREE) return makes(x, e->ptr);
  if (trc_op_is_realloc(e->op) && e->old_ptr &&
      !live_find(&p->live, e->old_ptr))
    return makes(x, e->old_ptr);
  return unmakes(x, e->ptr);
}

/* Events find_resolver looks at per thread: bounds one search's cost (a
 * held event with no upper bound would otherwise scan whole chunks). */
#define REPAIR_SCAN 4096

/* Looks through thread t's pending events, from its head, for one that
 * resolves held event e (upper bound hi), as long as they could still
 * have come before e (lo <= hi). 1: found; 0: none can (the scan passed
 * hi, or the thread has no events left; *at: its place in the cursor);
 * -1: not known (the decoded
 * events or REPAIR_SCAN ran out first). */
static int find_resolver(const prep_t *p, const thread_idx_t *t,
                         const trc_event_t *e, uint64_t hi, size_t *at) {
  uint64_t lo = t->stamp;
  size_t end = t->nev - t->pos > REPAIR_SCAN ? t->pos + REPAIR_SCAN : t->nev;
  for (size_t j = t->pos; j < end; j++) {
    const trc_event_t *x = &t->ev[j];
    if (!(x->flags & TRC_EV_EST)) lo = x->time;
    if (lo > hi) return 0;
    if (resolves(p, x, e)) {
      *at = j;
      return 1;
    }
  }
  return end == t->nev && t->next_chunk == t->n ? 0 : -1;
}

/* What pick decided for the current set of held events (its search is
 * repeated only when that set changes: gen). */
typedef struct target {
  uint64_t gen, at_gen; /* held set's generation; when searched */
  uint32_t th;          /* the thread to step; UINT32_MAX: none known */
  size_t at, chunk;     /* until its cursor passes ev[at] (of the cursor
                           loaded before next_chunk == chunk) */
  size_t force;         /* stall to step as it is; SIZE_MAX: none */
  int dead_end;         /* the resolvers wait on each other */
} target_t;

/* The held event whose resolver pick looks for first: least hi. */
static size_t least_hi(const stall_t *st, size_t nst) {
  size_t m = 0;
  for (size_t i = 1; i < nst; i++)
    if (st[i].hi < st[m].hi || (st[i].hi == st[m].hi && st[i].th < st[m].th))
      m = i;
  return m;
}

/* The search behind pick: starting from the held event of least hi, the
 * thread whose pending events resolve it (the least-time one if several),
 * following the chain when that thread is itself held (its held event
 * comes first, so its own resolver is wanted). Sets tg->th, or tg->force
 * when no pending event can resolve the event searched (a genuine
 * unmatched free or double allocation); neither when not known. */
static void search(prep_t *p, const heap_t *h, const stall_t *st, size_t nst,
                   target_t *tg) {
  tg->th = UINT32_MAX;
  tg->force = SIZE_MAX;
  tg->dead_end = 0;
  tg->at_gen = tg->gen;
  size_t cur = least_hi(st, nst);
  for (size_t hop = 0; hop < nst; hop++) {
    const thread_idx_t *ct = &p->th[st[cur].th];
    const trc_event_t *e = &ct->ev[ct->pos];
    int unknown = 0;
    size_t best = SIZE_MAX, via = SIZE_MAX, at, best_at = 0;
    for (size_t i = 0; i < h->n; i++) {
      int r = find_resolver(p, &p->th[h->h[i].th], e, st[cur].hi, &at);
      if (r < 0) unknown = 1;
      if (r > 0 && (best == SIZE_MAX || heap_less(h->h[i], h->h[best]))) {
        best = i;
        best_at = at;
      }
    }
    if (best != SIZE_MAX) {
      tg->th = h->h[best].th;
      tg->at = best_at;
      tg->chunk = p->th[tg->th].next_chunk;
      return;
    }
    for (size_t i = 0; i < nst; i++) {
      if (i == cur) continue;
      int r = find_resolver(p, &p->th[st[i].th], e, st[cur].hi, &at);
      if (r < 0) unknown = 1;
      if (r > 0 && (via == SIZE_MAX || st[i].th < st[via].th)) via = i;
    }
    if (via != SIZE_MAX) {
      cur = via;
      continue;
    }
    if (!unknown) tg->force = cur;
    return;
  }
  tg->dead_end = 1; /* a cycle: an earlier pairing was wrong */
}

/* Which heap node to step (repair on, threads held). First the thread
 * whose pending events hold what a held event waits for (search()): it
 * truly came before the held event, while another thread's event that
 * merely could have (its window spans the held one's) may pair its
 * pointer with the wrong object: a free of an address stepped early
 * takes the object a later free truly released, and that free is left
 * unmatched (rec_threads failed so, 1 run in 200 under load:
 * test_sparse_resolver_first). When the search cannot tell (REPAIR_SCAN,
 * the end of the decoded events), the least time, node 0, unless an event
 * whose lo is past the least hi H of the held events (it truly came after
 * that held event, so it must not go first): then the least-time node with
 * lo <= H. With none, or when the search shows nothing pending can
 * resolve a held event, that event is stepped as it is (*force gets its
 * index in stalls). Also when every thread is held. */
static size_t pick(prep_t *p, const heap_t *h, const stall_t *st, size_t nst,
                   target_t *tg, size_t *force) {
  *force = SIZE_MAX;
  if (!nst) return 0;
  if (tg->at_gen != tg->gen) search(p, h, st, nst, tg);
  if (tg->force != SIZE_MAX) {
    *force = tg->force;
    return SIZE_MAX;
  }
  const thread_idx_t *tt = tg->th != UINT32_MAX ? &p->th[tg->th] : NULL;
  if (tt && tt->next_chunk == tg->chunk && tt->pos <= tg->at)
    for (size_t i = 0; i < h->n; i++)
      if (h->h[i].th == tg->th) return i;
  size_t m = least_hi(st, nst);
  if (h->n && head_lo(&p->th[h->h[0].th]) <= st[m].hi) return 0;
  size_t k = SIZE_MAX;
  for (size_t i = 0; i < h->n; i++)
    if (head_lo(&p->th[h->h[i].th]) <= st[m].hi &&
        (k == SIZE_MAX || heap_less(h->h[i], h->h[k])))
      k = i;
  if (k == SIZE_MAX) {
    *force = m;
    if (tg->dead_end) p->st->order_unresolved++;
  }
  return k;
}

static int pass2(prep_t *p) {
  heap_t h = {calloc(p->nth ? p->nth : 1, sizeof(hnode_t)), 0};
  stall_t *stalls = calloc(p->nth ? p->nth : 1, sizeof(stall_t));
  size_t nst = 0;
  target_t tg = {.gen = 1, .th = UINT32_MAX, .force = SIZE_MAX};
  if (!h.h || !stalls) {
    free(h.h);
    free(stalls);
    return HK_E_NOMEM;
  }
  int rc = 0;
  for (size_t i = 0; i < p->nth && !rc; i++) {
    rc = cursor_fill(p, &p->th[i]);
    if (!rc && p->th[i].nev) h.h[h.n++] = (hnode_t){p->th[i].ev[0].time, (uint32_t)i};
  }
  for (size_t i = h.n; i-- > 0;) heap_down(&h, i);
  while (!rc && (h.n || nst)) {
    size_t force, k = pick(p, &h, stalls, nst, &tg, &force);
    if (force != SIZE_MAX) {
      thread_idx_t *t = &p->th[stalls[force].th];
      t->forced = 1;
      heap_push(&h, (hnode_t){t->ev[t->pos].time, stalls[force].th});
      stalls[force] = stalls[--nst];
      tg.gen++;
      continue;
    }
    thread_idx_t *ti = &p->th[h.h[k].th];
    const trc_event_t *e = &ti->ev[ti->pos];
    if (p->repair && !ti->forced && h.n + nst > 1 && conflicts(p, e)) {
      stalls[nst++] = (stall_t){h.h[k].th, head_hi(p, ti)};
      heap_remove_at(&h, k);
      tg.gen++;
      continue;
    }
    ti->forced = 0;
    if (!(e->flags & TRC_EV_EST)) ti->stamp = e->time;
    rc = step(p, e);
    if (rc) break;
    if (++ti->pos == ti->nev) {
      rc = cursor_fill(p, ti);
      if (rc) break;
      if (!ti->nev) {
        heap_remove_at(&h, k);
        if (nst) recheck_stalls(p, &h, stalls, &nst, &tg.gen);
        tg.gen++; /* a thread ended: a search's "not known" may be "none" */
        continue;
      }
    }
    /* The same thread usually stays first: sift only when it must. */
    h.h[k].time = ti->ev[ti->pos].time;
    if (h.n > 1) {
      heap_down(&h, k);
      if (k) heap_up(&h, k);
    }
    if (nst) recheck_stalls(p, &h, stalls, &nst, &tg.gen);
  }
  free(h.h);
  free(stalls);
  return rc;
}

static void prep_release(prep_t *p) {
  for (size_t i = 0; i < p->nth; i++) {
    free(p->th[i].off);
    free(p->th[i].ev);
  }
  free(p->th);
  free(p->site_caller);
  free(p->caller_addr);
  free(p->callers_by_addr.e);
  free(p->live.e);
  free(p->slots.free_);
  trc_reader_free(p->r);
}

/* Shared by trc_prepare and trc_program_build: runs both passes and, if
 * callers is non-NULL, hands over the caller table. */
static int prepare(const char *path, const trc_prepare_opts_t *opts,
                   trc_prep_stats_t *stats, trc_callers_t *callers) {
  static const trc_prepare_opts_t none;
  prep_t p;
  memset(&p, 0, sizeof p);
  memset(stats, 0, sizeof *stats);
  p.st = stats;
  p.o = opts ? opts : &none;
  int rc = trc_reader_open(&p.r, path);
  if (!rc) {
    p.tick_hz = trc_reader_header(p.r)->tick_hz;
    p.repair = (trc_reader_header(p.r)->flags & TRC_HF_SPARSE_TIME) != 0;
  }
  if (!rc) rc = pass1(&p);
  if (!rc) ahead_start(&p, path);
  if (!rc) rc = pass2(&p);
  ahead_stop(&p);
  if (!rc) {
    stats->peak_live_objects = p.slots.next;
    stats->live_at_exit = p.live.n;
    stats->live_bytes_at_exit = p.live_bytes;
    if (callers) {
      callers->n = (uint32_t)p.ncaller;
      callers->addr = p.caller_addr;
      p.caller_addr = NULL;
    }
  }
  prep_release(&p);
  return rc;
}

int trc_prepare(const char *path, const trc_prepare_opts_t *opts,
                trc_prep_stats_t *stats) {
  trc_prep_stats_t local;
  return prepare(path, opts, stats ? stats : &local, NULL);
}

/* ---- prepared programs on disk (.hkp) -------------------------------- */

#define PROG_MAGIC "HKPROG1\n"
#define PROG_VERSION 4 /* 2: the checksum; 3: trc_pop_t.time_ns; 4: a
                          free's size is the freed block's */
#define PROG_ALIGN 64

/* The .hkp header; ops start at ops_off, callers (u64 addr[0..n]) at
 * callers_off. Native byte order: a .hkp is a cache local to one machine,
 * rebuilt from the trace whenever needed, never exchanged. checksum covers
 * the whole file: XXH3-64 of the header (checksum field zero) seeded with
 * the XXH3-64 of everything after the header, so a cache damaged on disk
 * is rebuilt instead of replayed. */
typedef struct prog_hdr {
  char magic[8];
  uint32_t version, pop_size;
  uint64_t n_ops, ops_off, callers_off, file_len;
  uint32_t n_slots, n_threads, n_callers, pad_;
  uint64_t trace_hash;
  uint64_t checksum;
  trc_prep_stats_t stats;
} prog_hdr_t;

typedef struct prog_sink {
  int fd;
  trc_pop_t buf[4096];
  size_t n;
  uint64_t written;
  XXH3_state_t *body; /* hash of the bytes after the header, as written */
  hk_progress_t *progress;
} prog_sink_t;

static uint64_t header_checksum(const prog_hdr_t *h, uint64_t body) {
  prog_hdr_t c = *h;
  c.checksum = 0;
  return XXH3_64bits_withSeed(&c, sizeof c, body);
}

static int write_all(int fd, const void *data, size_t len, uint64_t off) {
  const char *p = data;
  while (len) {
    ssize_t w = pwrite(fd, p, len, (off_t)off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    off += (uint64_t)w;
    len -= (size_t)w;
  }
  return 0;
}

static int sink_flush(prog_sink_t *s) {
  size_t len = s->n * sizeof(trc_pop_t);
  XXH3_64bits_update(s->body, s->buf, len);
  int rc = write_all(s->fd, s->buf, len, PROG_ALIGN * 8 + s->written * sizeof(trc_pop_t));
  s->written += s->n;
  s->n = 0;
  return rc;
}

static int sink_op(void *ctx, const trc_pop_t *op) {
  prog_sink_t *s = ctx;
  s->buf[s->n++] = *op;
  if (s->n < HK_ARRAY_LEN(s->buf)) return 0;
  hk_progress_update(s->progress, s->written + s->n);
  return sink_flush(s);
}

int trc_program_build(const char *trace_path, const char *prog_path,
                      trc_prep_stats_t *stats) {
  return trc_program_build_progress(trace_path, prog_path, stats, NULL);
}

int trc_program_build_progress(const char *trace_path, const char *prog_path,
                               trc_prep_stats_t *stats,
                               hk_progress_t *progress) {
  _Static_assert(sizeof(trc_pop_t) == 32, "trc_pop_t layout");
  _Static_assert(sizeof(prog_hdr_t) <= PROG_ALIGN * 8, "prog header room");
  trc_prep_stats_t local;
  if (!stats) stats = &local;
  uint64_t hash = 0;
  int rc = trc_file_hash(trace_path, &hash);
  if (rc) return rc;
  prog_sink_t *s = calloc(1, sizeof *s);
  if (!s) return HK_E_NOMEM;
  s->body = XXH3_createState();
  if (!s->body) {
    free(s);
    return HK_E_NOMEM;
  }
  XXH3_64bits_reset(s->body);
  s->progress = progress;
  { /* the zero padding between the header and the ops */
    static const uint8_t zero[PROG_ALIGN * 8];
    XXH3_64bits_update(s->body, zero, PROG_ALIGN * 8 - sizeof(prog_hdr_t));
  }
  s->fd = open(prog_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (s->fd < 0) {
    rc = -errno;
    XXH3_freeState(s->body);
    free(s);
    return rc;
  }
  trc_prepare_opts_t o = {sink_op, s, 0};
  trc_callers_t callers = {0, NULL};
  rc = prepare(trace_path, &o, stats, &callers);
  if (!rc) rc = sink_flush(s);
  if (!rc) {
    prog_hdr_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, PROG_MAGIC, 8);
    h.version = PROG_VERSION;
    h.pop_size = sizeof(trc_pop_t);
    h.n_ops = s->written;
    h.ops_off = PROG_ALIGN * 8;
    h.callers_off = h.ops_off + h.n_ops * sizeof(trc_pop_t);
    h.n_slots = (uint32_t)stats->peak_live_objects;
    h.n_threads = stats->threads;
    h.n_callers = callers.n;
    h.trace_hash = hash;
    h.stats = *stats;
    size_t clen = ((size_t)callers.n + 1) * sizeof(uint64_t);
    uint64_t zero = 0;
    const void *cdata = callers.addr ? (const void *)callers.addr : &zero;
    size_t cl = callers.addr ? clen : sizeof zero;
    rc = write_all(s->fd, cdata, cl, h.callers_off);
    XXH3_64bits_update(s->body, cdata, cl);
    h.file_len = h.callers_off + cl;
    h.checksum = header_checksum(&h, XXH3_64bits_digest(s->body));
    if (!rc) rc = write_all(s->fd, &h, sizeof h, 0);
  }
  free((void *)callers.addr);
  if (close(s->fd) && !rc) rc = -errno;
  XXH3_freeState(s->body);
  free(s);
  if (rc) unlink(prog_path);
  return rc;
}

/* XXH3 of the mapped file from byte `from` to its end, read front to back
 * in windows whose pages are given back once hashed (MADV_DONTNEED on a
 * read-only file mapping: they come again from the page cache when read),
 * so that checking a program does not make all of it resident: at 32 B/op
 * a 183 M-op program was 5.7 GiB of RSS before the first run. The first
 * page (the header) stays. Streaming XXH3 gives the one-shot digest, so
 * programs written before this check still verify. A window costs one
 * madvise: 1 MiB keeps that below 1% of the hashing. */
#define MAP_WINDOW ((size_t)1 << 20)

static uint64_t hash_windowed(const char *m, size_t from, size_t len) {
  XXH3_state_t *st = XXH3_createState();
  if (!st) return XXH3_64bits(m + from, len - from); /* all resident */
  XXH3_64bits_reset(st);
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  size_t given = pg; /* pages below this are given back (or the header) */
  for (size_t off = from; off < len;) {
    size_t end = off + MAP_WINDOW < len ? off + MAP_WINDOW : len;
    XXH3_64bits_update(st, m + off, end - off);
    /* Whole pages only; a page the window ends in goes with the next. */
    size_t b = end / pg * pg;
    if (b > given) {
      madvise((void *)(m + given), b - given, MADV_DONTNEED);
      given = b;
    }
    off = end;
  }
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

int trc_program_map(trc_program_t *p, const char *prog_path) {
  memset(p, 0, sizeof *p);
  int fd = open(prog_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat sb;
  if (fstat(fd, &sb)) {
    int rc = -errno;
    close(fd);
    return rc;
  }
  if ((size_t)sb.st_size < sizeof(prog_hdr_t)) {
    close(fd);
    return HK_E_TRUNCATED;
  }
  void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return -errno;
  const prog_hdr_t *h = m;
  int rc = 0;
  if (memcmp(h->magic, PROG_MAGIC, 8))
    rc = HK_E_BADMAGIC;
  else if (h->version != PROG_VERSION || h->pop_size != sizeof(trc_pop_t))
    rc = HK_E_VERSION;
  else if (h->file_len != (uint64_t)sb.st_size ||
           h->callers_off != h->ops_off + h->n_ops * sizeof(trc_pop_t) ||
           h->callers_off + ((uint64_t)h->n_callers + 1) * 8 > h->file_len ||
           h->ops_off != PROG_ALIGN * 8 ||
           h->checksum !=
               header_checksum(h, hash_windowed((const char *)m, sizeof *h,
                                                h->file_len)))
    rc = HK_E_CORRUPT;
  if (rc) {
    munmap(m, (size_t)sb.st_size);
    return rc;
  }
  p->ops = (const trc_pop_t *)((const char *)m + h->ops_off);
  p->n_ops = h->n_ops;
  p->n_slots = h->n_slots;
  p->n_threads = h->n_threads;
  p->callers.n = h->n_callers;
  p->callers.addr = (const uint64_t *)((const char *)m + h->callers_off);
  p->stats = h->stats;
  p->trace_hash = h->trace_hash;
  p->map_ = m;
  p->map_len_ = (size_t)sb.st_size;
  return 0;
}

void trc_program_release(trc_program_t *p) {
  if (p->map_) munmap(p->map_, p->map_len_);
  memset(p, 0, sizeof *p);
}
