/* trc_reader.c: reads a trace chunk by chunk, in file order (next) or at a
 * known offset (read_at, for prepare's per-thread merge). Every read is a
 * pread(2); one zstd context and the decode buffers are reused. Nothing is
 * decoded before its checksum passes, and the decoder still checks every
 * bound, so damage is reported (with where it starts), never decoded. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "trc.h"
#include "trc_internal.h"

struct trc_reader_s {
  int fd;
  int exe_nul;   /* the header's exe has a NUL byte inside (refused) */
  uint64_t size; /* file size at open */
  uint64_t off;  /* next chunk (the damaged one after an error) */
  trc_header_t hdr;
  char *exe, *argv, *env;
  ZSTD_DCtx *dctx;
  trc_buf_t stored, raw;
  trc_event_t *ev;
  size_t ev_cap;
  trc_site_t *sites;
  size_t sites_cap;
  uint64_t *frames;
  size_t frames_cap;
  trc_module_t *mods;
  size_t mods_cap;
  trc_thread_t *ths;
  size_t ths_cap;
  char *strs;
  size_t strs_cap;
  trc_summary_t sum;
  trc_pmodel_t *pm; /* pointer state of the chunk being decoded */
};

/* Reads up to n bytes at off; returns the count read (short at EOF) or
 * -errno. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
    if (k < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (k == 0) break;
    got += (size_t)k;
  }
  return (ssize_t)got;
}

/* ---- header ------------------------------------------------------------ */

/* Every entry "NAME=VALUE" with a non-empty NAME, NUL-terminated. */
static int env_well_formed(const char *e, uint32_t n) {
  if (n && (!e || e[n - 1] != '\0')) return 0;
  for (uint32_t i = 0; i < n;) {
    const char *s = e + i, *eq = strchr(s, '=');
    if (!eq || eq == s) return 0;
    i += (uint32_t)strlen(s) + 1;
  }
  return 1;
}

int trc_header_check(const trc_header_t *h, char *why, size_t len) {
  char tmp[8];
  if (!why || !len) {
    why = tmp;
    len = sizeof tmp;
  }
  /* Each field below is used as a divisor, a loop bound or a unit by a
   * reader of the trace; a crafted value is refused here, once, instead of
   * being trusted by each of them. */
  if (h->clock < TRC_CLOCK_MONOTONIC || h->clock > TRC_CLOCK_VIRTUAL)
    snprintf(why, len, "header: unknown clock %" PRIu32 " (known: 1 monotonic, "
             "2 tsc, 3 virtual)", h->clock);
  else if (h->tick_hz == 0)
    snprintf(why, len, "header: tick_hz is 0 (ticks per second must be "
             "positive)");
  else if (h->clock != TRC_CLOCK_TSC && h->tick_hz != TRC_NS_HZ)
    snprintf(why, len, "header: tick_hz %" PRIu64 " for a %s clock, which "
             "counts nanoseconds (tick_hz must be %llu)", h->tick_hz,
             h->clock == TRC_CLOCK_MONOTONIC ? "monotonic" : "virtual",
             (unsigned long long)TRC_NS_HZ);
  else if (h->tick_hz < TRC_TSC_HZ_MIN || h->tick_hz > TRC_TSC_HZ_MAX)
    snprintf(why, len, "header: tick_hz %" PRIu64 " for the tsc clock is out "
             "of range [%llu, %llu]", h->tick_hz,
             (unsigned long long)TRC_TSC_HZ_MIN,
             (unsigned long long)TRC_TSC_HZ_MAX);
  else if (h->depth > TRC_MAX_DEPTH)
    snprintf(why, len, "header: stack depth %" PRIu32 " is over the maximum "
             "of %d", h->depth, TRC_MAX_DEPTH);
  else if ((h->flags & TRC_HF_ARGV) && h->argv_len &&
           h->argv[h->argv_len - 1] != '\0')
    snprintf(why, len, "header: argv does not end with a NUL byte");
  else if ((h->flags & TRC_HF_ENV) && !env_well_formed(h->env, h->env_len))
    snprintf(why, len, "header: environment is not a list of NAME=VALUE "
             "entries each ending with a NUL byte");
  else
    return 0;
  return HK_E_CORRUPT;
}

static int read_header(trc_reader_t *r, int check) {
  uint8_t pre[TRC_FILE_PREFIX];
  ssize_t k = pread_full(r->fd, pre, sizeof pre, 0);
  if (k < 0) return (int)k;
  size_t m = (size_t)k < 8 ? (size_t)k : 8;
  if (memcmp(pre, TRC_MAGIC, m) != 0) return HK_E_BADMAGIC;
  if (k < 12) return HK_E_TRUNCATED;
  /* The version is judged before anything else, so that a newer file is
   * named as such whatever its layout. */
  uint32_t version = trc_get32(pre + 8);
  if (version == 0) return HK_E_CORRUPT;
  if (version > TRC_VERSION) return HK_E_VERSION;
  if (k < TRC_FILE_PREFIX) return HK_E_TRUNCATED;
  uint32_t body = trc_get32(pre + 12);
  if (body < TRC_FILE_BODY_FIXED || body > TRC_MAX_HEADER_BODY)
    return HK_E_CORRUPT;
  size_t total = TRC_FILE_PREFIX + (size_t)body + 8;
  if (r->size < total) return HK_E_TRUNCATED;
  uint8_t *b = malloc(total);
  if (!b) return HK_E_NOMEM;
  int rc = 0;
  k = pread_full(r->fd, b, total, 0);
  if (k < 0 || (size_t)k < total) {
    rc = k < 0 ? (int)k : HK_E_TRUNCATED;
    goto out;
  }
  if (XXH64(b, TRC_FILE_PREFIX + body, 0) !=
      trc_get64(b + TRC_FILE_PREFIX + body)) {
    rc = HK_E_CORRUPT;
    goto out;
  }
  const uint8_t *p = b + TRC_FILE_PREFIX, *end = p + body;
  trc_header_t *h = &r->hdr;
  h->version = version;
  h->flags = trc_get32(p);
  h->clock = trc_get32(p + 4);
  h->tick_hz = trc_get64(p + 8);
  h->start_wall_ns = trc_get64(p + 16);
  h->start_ticks = trc_get64(p + 24);
  h->pid = (int64_t)trc_get64(p + 32);
  h->ppid = (int64_t)trc_get64(p + 40);
  h->depth = trc_get32(p + 48);
  uint32_t exe_len = trc_get32(p + 52);
  p += TRC_FILE_BODY_FIXED;
  rc = HK_E_CORRUPT;
  if (exe_len > (size_t)(end - p)) goto out;
  if (!(r->exe = malloc((size_t)exe_len + 1))) goto nomem;
  memcpy(r->exe, p, exe_len);
  r->exe[exe_len] = '\0';
  r->exe_nul = memchr(r->exe, '\0', exe_len) != NULL;
  p += exe_len;
  if (h->flags & TRC_HF_ARGV) {
    if (end - p < 4) goto out;
    uint32_t alen = trc_get32(p);
    p += 4;
    if (alen > (size_t)(end - p)) goto out;
    if (!(r->argv = malloc((size_t)alen + 1))) goto nomem;
    memcpy(r->argv, p, alen);
    r->argv[alen] = '\0';
    h->argv_len = alen;
    p += alen;
  }
  if (h->flags & TRC_HF_ENV) {
    if (end - p < 4) goto out;
    uint32_t elen = trc_get32(p);
    p += 4;
    if (elen > (size_t)(end - p)) goto out;
    if (!(r->env = malloc((size_t)elen + 1))) goto nomem;
    memcpy(r->env, p, elen);
    r->env[elen] = '\0';
    h->env_len = elen;
    p += elen;
  }
  if (p != end) goto out;
  h->exe = r->exe;
  h->argv = r->argv;
  h->env = r->env;
  if (check && (r->exe_nul || trc_header_check(h, NULL, 0))) goto out;
  r->off = total;
  rc = 0;
  goto out;
nomem:
  rc = HK_E_NOMEM;
out:
  free(b);
  return rc;
}

static int reader_open(trc_reader_t **out, const char *path, int check) {
  *out = NULL;
  trc_reader_t *r = calloc(1, sizeof *r);
  if (!r) return HK_E_NOMEM;
  r->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (r->fd < 0) {
    int e = -errno;
    free(r);
    return e;
  }
  struct stat st;
  int rc = fstat(r->fd, &st) ? -errno : 0;
  r->size = (uint64_t)st.st_size;
  if (!rc) rc = read_header(r, check);
  if (!rc && !(r->dctx = ZSTD_createDCtx())) rc = HK_E_NOMEM;
  if (rc) {
    trc_reader_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int trc_reader_open(trc_reader_t **out, const char *path) {
  return reader_open(out, path, 1);
}

int trc_header_problem(const char *path, char *buf, size_t len) {
  trc_reader_t *r;
  if (reader_open(&r, path, 0)) return 0; /* not a field problem */
  int bad = 1;
  if (r->exe_nul)
    snprintf(buf, len, "header: executable path contains a NUL byte");
  else
    bad = trc_header_check(&r->hdr, buf, len) != 0;
  trc_reader_free(r);
  return bad;
}

uint32_t trc_reader_file_version(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint8_t pre[12];
  ssize_t k = pread_full(fd, pre, sizeof pre, 0);
  close(fd);
  if (k < (ssize_t)sizeof pre || memcmp(pre, TRC_MAGIC, 8) != 0) return 0;
  return trc_get32(pre + 8);
}

void trc_reader_free(trc_reader_t *r) {
  if (!r) return;
  if (r->fd >= 0) close(r->fd);
  free(r->pm);
  ZSTD_freeDCtx(r->dctx);
  free(r->exe);
  free(r->argv);
  free(r->env);
  trc_buf_release(&r->stored);
  trc_buf_release(&r->raw);
  free(r->ev);
  free(r->sites);
  free(r->frames);
  free(r->mods);
  free(r->ths);
  free(r->strs);
  free(r);
}

const trc_header_t *trc_reader_header(const trc_reader_t *r) { return &r->hdr; }
uint64_t trc_reader_offset(const trc_reader_t *r) { return r->off; }
uint64_t trc_reader_file_size(const trc_reader_t *r) { return r->size; }

/* ---- payload decoders ---------------------------------------------------
 * Each gets the raw payload [p, end) and fails with HK_E_CORRUPT on any
 * value out of range, count larger than the bytes left could hold, or
 * bytes left over. */

#define GET(v)                                                                 \
  do {                                                                         \
    if (hk_varint_get(&p, end, &(v))) return HK_E_CORRUPT;                     \
  } while (0)
#define GET32(v)                                                               \
  do {                                                                         \
    uint64_t t_;                                                               \
    GET(t_);                                                                   \
    if (t_ > UINT32_MAX) return HK_E_CORRUPT;                                  \
    (v) = (uint32_t)t_;                                                        \
  } while (0)

/* Reads a pointer coded in the given mode from [*pp, end) against the
 * ring. A ring value v is an index, minus cls_d (the class stack entries
 * come first, see decode_events). *ring_k gets the ring index used (for
 * its class), or -1. */
static int get_ptr(const trc_pmodel_t *s, unsigned mode, unsigned cls_d,
                   const uint8_t **pp, const uint8_t *end, uint64_t *out,
                   int *ring_k) {
  uint64_t k = 0, v = 0;
  *ring_k = -1;
  if (mode == TRC_PM_NULL) {
    *out = 0;
    return 0;
  }
  if (mode == TRC_PM_NEAR16 && hk_varint_get(pp, end, &k)) return HK_E_CORRUPT;
  if (hk_varint_get(pp, end, &v)) return HK_E_CORRUPT;
  switch (mode) {
  case TRC_PM_RING:
    if (v < cls_d) return HK_E_CORRUPT;
    k = v - cls_d;
    /* fall through */
  case TRC_PM_NEAR16: {
    if (k >= s->n) return HK_E_CORRUPT;
    uint64_t e = s->ring[trc_pm_pos(s, (unsigned)k)];
    if (mode == TRC_PM_RING) {
      *out = e;
      *ring_k = (int)k;
    } else {
      *out = ((e >> 4) + (uint64_t)hk_unzigzag(v)) << 4;
    }
    break;
  }
  case TRC_PM_DELTA: *out = s->prev + (uint64_t)hk_unzigzag(v); break;
  default: return HK_E_CORRUPT;
  }
  return *out ? 0 : HK_E_CORRUPT;
}

static unsigned ring_class(const trc_pmodel_t *s, int k) {
  return k < 0 ? 0 : trc_pm_class_at(s, (unsigned)k);
}

void trc_interpolate_times(trc_event_t *ev, size_t n) {
  for (size_t i = 0; i < n;) {
    if (!(ev[i].flags & TRC_EV_EST)) {
      i++;
      continue;
    }
    size_t s = i;
    while (i < n && (ev[i].flags & TRC_EV_EST)) i++;
    if (i == n) break; /* no later stamp in the chunk: kept at the last */
    /* Run [s, i) between lo (the run's stored time: the last stamp) and
     * hi, the next stamped event's; k-th of len gets lo + (hi-lo)*k/(len+1),
     * so times rise strictly when hi > lo and never pass hi. */
    uint64_t lo = ev[s].time, hi = ev[i].time;
    if (hi <= lo) continue;
    uint64_t len = (uint64_t)(i - s);
    for (size_t k = s; k < i; k++) {
      unsigned __int128 d = (unsigned __int128)(hi - lo) * (uint64_t)(k - s + 1);
      uint64_t tk = lo + (uint64_t)(d / (len + 1));
      if (tk > ev[k].time) ev[k].time = tk;
    }
  }
}

static int decode_events(trc_reader_t *r, const uint8_t *p,
                         const uint8_t *end, trc_chunk_t *c) {
  const int v3 = r->hdr.version >= 3;
  uint32_t thread;
  uint64_t n;
  GET32(thread);
  GET(n);
  /* Every event has at least an op byte, a time and a site. */
  if (n == 0 || n > TRC_MAX_CHUNK_EVENTS || n > (uint64_t)(end - p) / 3)
    return HK_E_CORRUPT;
  if (trc_grow(&r->ev, &r->ev_cap, n, sizeof *r->ev)) return HK_E_NOMEM;
  trc_event_t *ev = r->ev;
  memset(ev, 0, n * sizeof *ev);
  const uint8_t *ops = p;
  for (size_t i = 0; i < n; i++) {
    unsigned op = ops[i] & TRC_OB_OP_MASK;
    if (op == 0 || op >= TRC_OP_COUNT ||
        ((ops[i] & TRC_OB_SIZE_CACHED) && !trc_op_has_size(op)))
      return HK_E_CORRUPT;
    ev[i].op = (uint8_t)op;
    if (!v3) ev[i].flags = (ops[i] & TRC_OB_FAILED) ? TRC_EV_FAILED : 0;
    ev[i].thread = thread;
  }
  p += n;
  uint64_t t = 0;
  /* Version 5: bit 0 of a time value is TRC_EV_EST, the delta is above it. */
  const int v5 = r->hdr.version >= 5;
  int est = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t d;
    GET(d);
    if (v5) {
      if (d & 1) ev[i].flags |= TRC_EV_EST, est = 1;
      d >>= 1;
    }
    if (t + d < t) return HK_E_CORRUPT;
    ev[i].time = t += d;
  }
  if (est) trc_interpolate_times(ev, n);
  /* Version 3: bit 4 of the op byte repeats the site of the previous event
   * of the same op in this chunk (initially 0) instead of storing it. */
  uint32_t last_site[TRC_OP_COUNT] = {0};
  for (size_t i = 0; i < n; i++) {
    if (v3 && (ops[i] & TRC_OB_SITE_SAME))
      ev[i].site = last_site[ev[i].op];
    else
      GET32(ev[i].site);
    last_site[ev[i].op] = ev[i].site;
  }
  /* The pointer column can only be read in event order, with the ring,
   * and the extras (old_ptr needs the ring too) come after the sizes:
   * find where each column starts first. */
  const uint8_t *pc = p;
  for (size_t i = 0; i < n; i++) {
    unsigned mode = (ops[i] >> TRC_OB_PM_SHIFT) & TRC_OB_PM_MASK;
    uint64_t v;
    if (mode == TRC_PM_NEAR16) GET(v);
    if (mode != TRC_PM_NULL) GET(v);
  }
  {
    trc_size_cache_t sc;
    memset(&sc, 0, sizeof sc);
    for (size_t i = 0; i < n; i++) {
      if (!trc_op_has_size(ev[i].op)) continue;
      unsigned k = ev[i].site % TRC_SIZE_CACHE;
      if (ops[i] & TRC_OB_SIZE_CACHED) {
        if (sc.site[k] != ev[i].site) return HK_E_CORRUPT;
        ev[i].size = sc.size[k];
      } else {
        GET(ev[i].size);
      }
      sc.site[k] = ev[i].site;
      sc.size[k] = ev[i].size;
    }
  }
  if (!r->pm && !(r->pm = malloc(sizeof *r->pm))) return HK_E_NOMEM;
  trc_pmodel_t *s = r->pm;
  trc_pm_reset(s, r->hdr.version);
  for (size_t i = 0; i < n; i++) {
    trc_event_t *e = &ev[i];
    uint64_t m;
    int rk = -1;
    unsigned old_cls = 0, cls = 0;
    if (trc_op_has_old(e->op)) {
      GET(m);
      if (m > TRC_PM_DELTA ||
          get_ptr(s, (unsigned)m, 0, &p, end, &e->old_ptr, &rk))
        return HK_E_CORRUPT;
      old_cls = ring_class(s, rk);
    }
    if (trc_op_has_nmemb(e->op)) GET(e->nmemb);
    if (trc_op_has_align(e->op)) {
      GET(m);
      if (m < 64)
        e->align = 1ull << m;
      else if (m == TRC_ALIGN_RAW)
        GET(e->align);
      else if (m != TRC_ALIGN_ZERO)
        return HK_E_CORRUPT;
    }
    const unsigned mode = (ops[i] >> TRC_OB_PM_SHIFT) & TRC_OB_PM_MASK;
    /* Version 3: an allocation's ring value below TRC_CLS_D takes that
     * entry of its size class's stack. */
    unsigned cls_d = 0;
    int taken = 0;
    if (s->classes && trc_op_has_size(e->op) && mode != TRC_PM_NULL) {
      cls = trc_size_class(trc_request(e->op, e->size, e->nmemb));
      cls_d = TRC_CLS_D;
      if (mode == TRC_PM_RING) {
        const uint8_t *q = pc;
        uint64_t j;
        if (hk_varint_get(&q, end, &j)) return HK_E_CORRUPT;
        if (j < TRC_CLS_D) {
          if (!(e->ptr = trc_pm_take(s, cls, (unsigned)j))) return HK_E_CORRUPT;
          pc = q;
          taken = 1;
        }
      }
    }
    if (!taken && mode != TRC_PM_NULL &&
        get_ptr(s, mode, cls_d, &pc, end, &e->ptr, &rk))
      return HK_E_CORRUPT;
    /* Version 3: an allocation with no pointer says whether it failed. */
    if (v3 && e->op != TRC_OP_FREE && mode == TRC_PM_NULL) {
      GET(m);
      if (m > 1) return HK_E_CORRUPT;
      e->flags = m ? TRC_EV_FAILED : 0;
    }
    trc_pm_event(s, e->op, e->ptr, e->old_ptr, cls, ring_class(s, rk),
                 old_cls);
  }
  if (p != end) return HK_E_CORRUPT;
  c->thread = thread;
  c->n = n;
  c->events = ev;
  return 0;
}

static int decode_sites(trc_reader_t *r, const uint8_t *p, const uint8_t *end,
                        trc_chunk_t *c) {
  uint64_t n;
  GET(n);
  if (n > (uint64_t)(end - p) / 2) return HK_E_CORRUPT;
  if (trc_grow(&r->sites, &r->sites_cap, n, sizeof *r->sites)) return HK_E_NOMEM;
  size_t nf = 0;
  uint64_t prev0 = 0;
  for (size_t i = 0; i < n; i++) {
    trc_site_t *s = &r->sites[i];
    GET32(s->id);
    GET32(s->depth);
    if (s->id == 0 || s->depth > TRC_MAX_DEPTH ||
        s->depth > (size_t)(end - p))
      return HK_E_CORRUPT;
    if (trc_grow(&r->frames, &r->frames_cap, nf + s->depth, sizeof *r->frames))
      return HK_E_NOMEM;
    uint64_t prev = prev0;
    for (uint32_t k = 0; k < s->depth; k++) {
      uint64_t z;
      GET(z);
      prev = r->frames[nf + k] = prev + (uint64_t)hk_unzigzag(z);
    }
    if (s->depth) prev0 = r->frames[nf];
    s->frames = (const uint64_t *)(uintptr_t)nf; /* fixed up below */
    nf += s->depth;
  }
  /* A chunk whose sites all have depth 0 has no frames array: NULL + 0
   * is undefined behaviour (UBSan reported it), so such sites get NULL. */
  for (size_t i = 0; i < n; i++)
    r->sites[i].frames = r->sites[i].depth
                             ? r->frames + (uintptr_t)r->sites[i].frames
                             : NULL;
  c->n = n;
  c->sites = r->sites;
  return 0;
}

/* A length-prefixed byte string, copied NUL-terminated into the arena. */
static int get_bytes(const uint8_t **pp, const uint8_t *end, char **arena,
                     const char **out, uint32_t *len) {
  const uint8_t *p = *pp;
  uint64_t n;
  GET(n);
  if (n > (uint64_t)(end - p)) return HK_E_CORRUPT;
  memcpy(*arena, p, n);
  (*arena)[n] = '\0';
  *out = *arena;
  *arena += n + 1;
  if (len) *len = (uint32_t)n;
  *pp = p + n;
  return 0;
}

static int decode_modules(trc_reader_t *r, const uint8_t *p,
                          const uint8_t *end, trc_chunk_t *c) {
  uint64_t n;
  GET(n);
  if (n > (uint64_t)(end - p) / 8) return HK_E_CORRUPT;
  if (trc_grow(&r->mods, &r->mods_cap, n, sizeof *r->mods) ||
      trc_grow(&r->strs, &r->strs_cap, (size_t)(end - p) + 2 * n + 1, 1))
    return HK_E_NOMEM;
  char *arena = r->strs;
  for (size_t i = 0; i < n; i++) {
    trc_module_t *m = &r->mods[i];
    const char *bid;
    GET32(m->id);
    GET(m->base);
    GET(m->lo);
    GET(m->hi);
    GET(m->time);
    GET(m->unload_time);
    if (get_bytes(&p, end, &arena, &m->path, NULL) ||
        get_bytes(&p, end, &arena, &bid, &m->build_id_len))
      return HK_E_CORRUPT;
    m->build_id = m->build_id_len ? (const uint8_t *)bid : NULL;
  }
  if (p != end) return HK_E_CORRUPT;
  c->n = n;
  c->modules = r->mods;
  return 0;
}

static int decode_threads(trc_reader_t *r, const uint8_t *p,
                          const uint8_t *end, trc_chunk_t *c) {
  uint64_t n;
  GET(n);
  if (n > (uint64_t)(end - p) / 5) return HK_E_CORRUPT;
  if (trc_grow(&r->ths, &r->ths_cap, n, sizeof *r->ths) ||
      trc_grow(&r->strs, &r->strs_cap, (size_t)(end - p) + n + 1, 1))
    return HK_E_NOMEM;
  char *arena = r->strs;
  for (size_t i = 0; i < n; i++) {
    trc_thread_t *t = &r->ths[i];
    uint64_t z;
    GET32(t->index);
    GET(z);
    t->tid = hk_unzigzag(z);
    GET(t->start_time);
    GET(t->end_time);
    if (get_bytes(&p, end, &arena, &t->name, NULL)) return HK_E_CORRUPT;
  }
  if (p != end) return HK_E_CORRUPT;
  c->n = n;
  c->threads = r->ths;
  return 0;
}

static int decode_summary(trc_reader_t *r, const uint8_t *p,
                          const uint8_t *end, trc_chunk_t *c) {
  trc_summary_t *s = &r->sum;
  memset(s, 0, sizeof *s);
  uint64_t nops;
  GET(s->events);
  GET(nops);
  if (nops > TRC_OP_COUNT - 1) return HK_E_CORRUPT;
  for (unsigned op = 1; op <= nops; op++) GET(s->counts[op]);
  GET(s->failed);
  GET(s->chunks);
  GET32(s->threads);
  GET32(s->sites);
  GET32(s->modules);
  GET(s->end_time);
  GET(s->dropped);
  if (r->hdr.version >= 4) { /* the extension: known fields, then skipped */
    uint64_t next, v;
    GET(next);
    if (next > (uint64_t)(end - p)) return HK_E_CORRUPT;
    for (uint64_t i = 0; i < next; i++) {
      GET(v);
      if (i == TRC_SUMX_REOPENED) s->reopened = v;
      if (i == TRC_SUMX_HOOK_NS) s->hook_ns = v;
      if (i == TRC_SUMX_HOOK_SAMPLES) s->hook_samples = v;
      if (i == TRC_SUMX_WAIT_NS) s->wait_ns = v;
      if (i == TRC_SUMX_WRITER_NS) s->writer_ns = v;
      if (i == TRC_SUMX_CHUNKS_FAST) s->chunks_fast = v;
      if (i == TRC_SUMX_EVENTS_FAST) s->events_fast = v;
      if (i == TRC_SUMX_CHUNKS_STORED) s->chunks_stored = v;
      if (i == TRC_SUMX_EVENTS_STORED) s->events_stored = v;
      if (i == TRC_SUMX_SIGNAL) {
        if (v > 255) return HK_E_CORRUPT;
        s->end_signal = (uint32_t)v;
      }
    }
  }
  if (p != end) return HK_E_CORRUPT;
  c->n = 1;
  c->summary = s;
  return 0;
}

/* The head of an EVENTS chunk alone: thread and count, no columns. */
static int index_events(const uint8_t *p, const uint8_t *end, trc_chunk_t *c) {
  uint32_t thread;
  uint64_t n;
  GET32(thread);
  GET(n);
  if (n == 0 || n > TRC_MAX_CHUNK_EVENTS || n > (uint64_t)(end - p) / 3)
    return HK_E_CORRUPT;
  c->thread = thread;
  c->n = (size_t)n;
  return 0;
}

#undef GET
#undef GET32

/* ---- chunks ------------------------------------------------------------ */

static int read_chunk(trc_reader_t *r, uint64_t off, trc_chunk_t *c,
                      int index_only) {
  memset(c, 0, sizeof *c);
  if (off == r->size) return 0;
  if (off > r->size || r->size - off < TRC_CHUNK_HDR_SIZE)
    return HK_E_TRUNCATED;
  uint8_t h[TRC_CHUNK_HDR_SIZE];
  ssize_t k = pread_full(r->fd, h, sizeof h, off);
  if (k < 0) return (int)k;
  if (k < (ssize_t)sizeof h) return HK_E_TRUNCATED;
  if (trc_get32(h + TRC_CH_MAGIC) != TRC_CHUNK_MAGIC) return HK_E_CORRUPT;
  uint8_t kind = h[TRC_CH_KIND], codec = h[TRC_CH_CODEC];
  uint32_t stored = trc_get32(h + TRC_CH_STORED);
  uint32_t raw_len = trc_get32(h + TRC_CH_RAW);
  /* Lengths are checked before anything is allocated or read. */
  if (raw_len > TRC_MAX_CHUNK_RAW ||
      (codec == TRC_CODEC_RAW && stored != raw_len) ||
      (codec == TRC_CODEC_ZSTD && stored > ZSTD_compressBound(raw_len)))
    return HK_E_CORRUPT;
  if (stored > r->size - off - TRC_CHUNK_HDR_SIZE) return HK_E_TRUNCATED;
  r->stored.len = 0;
  if (trc_buf_reserve(&r->stored, (size_t)stored + 1)) return HK_E_NOMEM;
  k = pread_full(r->fd, r->stored.p, stored, off + TRC_CHUNK_HDR_SIZE);
  if (k < 0) return (int)k;
  if ((size_t)k < stored) return HK_E_TRUNCATED;
  if (trc_chunk_checksum(h, r->stored.p, stored) !=
      trc_get64(h + TRC_CH_CHECKSUM))
    return HK_E_CORRUPT;
  if (trc_get16(h + TRC_CH_RESERVED) != 0 || kind < TRC_CHUNK_EVENTS ||
      kind > TRC_CHUNK_SUMMARY || codec > TRC_CODEC_ZSTD)
    return HK_E_CORRUPT;
  const uint8_t *raw = r->stored.p;
  if (codec == TRC_CODEC_ZSTD) {
    r->raw.len = 0;
    if (trc_buf_reserve(&r->raw, (size_t)raw_len + 1)) return HK_E_NOMEM;
    size_t got = ZSTD_decompressDCtx(r->dctx, r->raw.p, raw_len, r->stored.p,
                                     stored);
    if (ZSTD_isError(got)) return HK_E_DECOMPRESS;
    if (got != raw_len) return HK_E_CORRUPT;
    raw = r->raw.p;
  }
  const uint8_t *end = raw + raw_len;
  int rc;
  switch (kind) {
  case TRC_CHUNK_EVENTS:
    rc = index_only ? index_events(raw, end, c) : decode_events(r, raw, end, c);
    break;
  case TRC_CHUNK_SITES: rc = decode_sites(r, raw, end, c); break;
  case TRC_CHUNK_MODULES: rc = decode_modules(r, raw, end, c); break;
  case TRC_CHUNK_THREADS: rc = decode_threads(r, raw, end, c); break;
  default: rc = decode_summary(r, raw, end, c); break;
  }
  if (rc) return rc;
  c->kind = kind;
  c->offset = off;
  c->stored = TRC_CHUNK_HDR_SIZE + (uint64_t)stored;
  return 1;
}

static int read_at(trc_reader_t *r, uint64_t offset, trc_chunk_t *c,
                   int index_only) {
  r->off = offset;
  int rc = read_chunk(r, offset, c, index_only);
  if (rc == 1) r->off = offset + c->stored;
  if (rc < 0) memset(c, 0, sizeof *c);
  return rc;
}

int trc_reader_read_at(trc_reader_t *r, uint64_t offset, trc_chunk_t *c) {
  return read_at(r, offset, c, 0);
}

int trc_reader_next(trc_reader_t *r, trc_chunk_t *c) {
  return read_at(r, r->off, c, 0);
}

int trc_reader_next_index(trc_reader_t *r, trc_chunk_t *c) {
  return read_at(r, r->off, c, 1);
}
