/* hk_opchunk.c: the trace_op_chunk blob (hk_opchunk.h; the layout is in
 * docs/schema.md, "Trace ops"). Columns rather than rows because each
 * column is nearly constant or slowly changing (kind, thread, flags, the
 * slot's LIFO reuse, the clock), which fixed-width columns expose to zstd;
 * fixed widths rather than varints so that numpy reads a column with one
 * frombuffer (analysis/hksim_pandas.py). */
#include "hk_opchunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "hk_error.h"
#include "hk_varint.h"

#define MAGIC "HKOC"
#define VERSION 1
#define HDR 32
#define NCOL 8
/* zstd's fastest levels: level 1 stores 65536 ops in about 2 ms here; the
 * higher levels gain a few percent for several times the time. */
#define LEVEL 1

enum { C_KIND, C_SIZE, C_SITE, C_THREAD, C_SLOT, C_ALIGN, C_FLAGS, C_TIME };

struct hk_opcodec_s {
  ZSTD_CCtx *cc;
  ZSTD_DCtx *dc;
  uint64_t *col;  /* one column's values, before they are narrowed */
  uint8_t *raw;   /* the payload before compression / after it */
  uint8_t *out;   /* header + compressed payload */
  size_t out_cap;
};

#define RAW_CAP ((size_t)HK_OPCHUNK_OPS * 8 * NCOL)

hk_opcodec_t *hk_opcodec_create(void) {
  hk_opcodec_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->cc = ZSTD_createCCtx();
  c->dc = ZSTD_createDCtx();
  c->col = malloc((size_t)HK_OPCHUNK_OPS * sizeof *c->col);
  c->raw = malloc(RAW_CAP);
  c->out_cap = HDR + ZSTD_compressBound(RAW_CAP);
  c->out = malloc(c->out_cap);
  if (!c->cc || !c->dc || !c->col || !c->raw || !c->out ||
      ZSTD_isError(ZSTD_CCtx_setParameter(c->cc, ZSTD_c_compressionLevel,
                                          LEVEL)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(c->cc, ZSTD_c_checksumFlag, 1))) {
    hk_opcodec_free(c);
    return NULL;
  }
  return c;
}

void hk_opcodec_free(hk_opcodec_t *c) {
  if (!c) return;
  ZSTD_freeCCtx(c->cc);
  ZSTD_freeDCtx(c->dc);
  free(c->col);
  free(c->raw);
  free(c->out);
  free(c);
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Column c's value of a row, transformed (slots and times as deltas). */
static void column(hk_opcodec_t *c, int k, const hk_oprow_t *r, uint32_t n,
                   uint64_t t0) {
  uint64_t *v = c->col;
  switch (k) {
  case C_KIND: for (uint32_t i = 0; i < n; i++) v[i] = r[i].kind; break;
  case C_SIZE: for (uint32_t i = 0; i < n; i++) v[i] = r[i].size; break;
  case C_SITE: for (uint32_t i = 0; i < n; i++) v[i] = r[i].site; break;
  case C_THREAD: for (uint32_t i = 0; i < n; i++) v[i] = r[i].thread; break;
  case C_SLOT: { /* slot + 1 (no object: 0), as a zigzag 32-bit delta */
    uint32_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t s = r[i].slot + 1u;
      int32_t d = (int32_t)(s - prev);
      v[i] = (uint32_t)(((uint32_t)d << 1) ^ (uint32_t)(d >> 31));
      prev = s;
    }
    break;
  }
  case C_ALIGN: for (uint32_t i = 0; i < n; i++) v[i] = r[i].align_log2; break;
  case C_FLAGS: for (uint32_t i = 0; i < n; i++) v[i] = r[i].flags; break;
  default: { /* time: zigzag delta from the previous op (from t0 first) */
    uint64_t prev = t0;
    for (uint32_t i = 0; i < n; i++) {
      v[i] = hk_zigzag((int64_t)(r[i].time_ns - prev));
      prev = r[i].time_ns;
    }
  }
  }
}

static int width_of(uint64_t max) {
  return max == 0 ? 0 : max <= 0xff ? 1 : max <= 0xffff ? 2
         : max <= 0xffffffffu ? 4 : 8;
}

int hk_opchunk_encode(hk_opcodec_t *c, const hk_oprow_t *rows, uint32_t n,
                      const void **blob, size_t *len) {
  if (n == 0 || n > HK_OPCHUNK_OPS) return HK_E_RANGE;
  uint8_t *h = c->out, *p = c->raw;
  memset(h, 0, HDR);
  memcpy(h, MAGIC, 4);
  h[4] = VERSION;
  put32(h + 8, n);
  uint64_t t0 = rows[0].time_ns;
  put64(h + 20, t0);
  for (int k = 0; k < NCOL; k++) {
    column(c, k, rows, n, t0);
    uint64_t max = 0;
    for (uint32_t i = 0; i < n; i++) max |= c->col[i];
    int w = width_of(max);
    h[12 + k] = (uint8_t)w;
    const uint64_t *v = c->col;
    switch (w) {
    case 1: for (uint32_t i = 0; i < n; i++) p[i] = (uint8_t)v[i]; break;
    case 2:
      for (uint32_t i = 0; i < n; i++) {
        p[2 * i] = (uint8_t)v[i];
        p[2 * i + 1] = (uint8_t)(v[i] >> 8);
      }
      break;
    case 4: for (uint32_t i = 0; i < n; i++) put32(p + 4 * i, (uint32_t)v[i]); break;
    case 8: for (uint32_t i = 0; i < n; i++) put64(p + 8 * i, v[i]); break;
    default: break;
    }
    p += (size_t)w * n;
  }
  size_t raw = (size_t)(p - c->raw);
  put32(h + 28, (uint32_t)raw);
  size_t z = ZSTD_compress2(c->cc, h + HDR, c->out_cap - HDR, c->raw, raw);
  if (ZSTD_isError(z)) return HK_E_COMPRESS;
  *blob = h;
  *len = HDR + z;
  return 0;
}

uint32_t hk_opchunk_count(const void *blob, size_t len) {
  const uint8_t *h = blob;
  if (!h || len < HDR || memcmp(h, MAGIC, 4) || h[4] != VERSION) return 0;
  uint32_t n = get32(h + 8);
  return n <= HK_OPCHUNK_OPS ? n : 0;
}

#define WHY(...) (why && wlen ? (void)snprintf(why, wlen, __VA_ARGS__) : (void)0)

int hk_opchunk_decode(hk_opcodec_t *c, const void *blob, size_t len,
                      hk_oprow_t *rows, uint32_t *n_out, char *why,
                      size_t wlen) {
  const uint8_t *h = blob;
  *n_out = 0;
  if (!h || len < HDR || memcmp(h, MAGIC, 4)) {
    WHY("not an op chunk (%zu bytes, no HKOC header)", len);
    return HK_E_CORRUPT;
  }
  if (h[4] != VERSION) {
    WHY("op chunk version %u, this program reads %u", h[4], VERSION);
    return HK_E_CORRUPT;
  }
  uint32_t n = get32(h + 8), raw = get32(h + 28);
  uint64_t want = 0;
  int width[NCOL];
  for (int k = 0; k < NCOL; k++) {
    width[k] = h[12 + k];
    if (width[k] != 0 && width[k] != 1 && width[k] != 2 && width[k] != 4 &&
        width[k] != 8) {
      WHY("op chunk header damaged (column %d width %d)", k, width[k]);
      return HK_E_CORRUPT;
    }
    want += (uint64_t)width[k] * n;
  }
  if (n == 0 || n > HK_OPCHUNK_OPS || want != raw) {
    WHY("op chunk header damaged (%u ops, %u payload bytes)", n, raw);
    return HK_E_CORRUPT;
  }
  size_t got = ZSTD_decompressDCtx(c->dc, c->raw, RAW_CAP, h + HDR, len - HDR);
  if (ZSTD_isError(got) || got != raw) {
    WHY("op chunk payload damaged (%s)", ZSTD_isError(got)
                                             ? ZSTD_getErrorName(got)
                                             : "wrong length");
    return HK_E_DECOMPRESS;
  }
  const uint8_t *p = c->raw;
  uint64_t t = get64(h + 20);
  uint32_t slot = 0;
  for (int k = 0; k < NCOL; k++) {
    int w = width[k];
    for (uint32_t i = 0; i < n; i++) {
      uint64_t v;
      switch (w) {
      case 0: v = 0; break;
      case 1: v = p[i]; break;
      case 2: v = (uint64_t)p[2 * i] | (uint64_t)p[2 * i + 1] << 8; break;
      case 4: v = get32(p + 4 * i); break;
      default: v = get64(p + 8 * i); break;
      }
      hk_oprow_t *r = &rows[i];
      switch (k) {
      case C_KIND: r->kind = (uint8_t)v; break;
      case C_SIZE: r->size = v; break;
      case C_SITE: r->site = (uint32_t)v; break;
      case C_THREAD: r->thread = (uint16_t)v; break;
      case C_SLOT: {
        uint32_t u = (uint32_t)v;
        slot += (uint32_t)((u >> 1) ^ -(u & 1));
        r->slot = slot - 1u;
        break;
      }
      case C_ALIGN: r->align_log2 = (uint8_t)v; break;
      case C_FLAGS: r->flags = (uint8_t)v; break;
      default:
        t += (uint64_t)hk_unzigzag(v);
        r->time_ns = t;
      }
    }
    p += (size_t)w * n;
  }
  *n_out = n;
  return 0;
}
