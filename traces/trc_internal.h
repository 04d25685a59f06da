/* trc_internal.h: private to traces/. Constants and byte helpers shared by
 * the writer (trc_writer.c), the reader (trc_reader.c) and the verifier
 * (trc_verify.c). The layouts they implement are specified in
 * docs/trace-format.md; a change here is a change of the format.
 *
 * Map (sections name the file that defines them):
 *   layout constants, little-endian helpers ... header only
 *   pointer model (ring, size-class stacks) .... header only
 *   growable arrays and byte buffer ........... header only
 */
#ifndef TRC_INTERNAL_H
#define TRC_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trc.h"

/* ---- layout constants (docs/trace-format.md) ------------------------- */

/* File header: magic (8), u32 version, u32 body length, body, u64 XXH64. */
#define TRC_FILE_PREFIX 16
#define TRC_FILE_BODY_FIXED 56         /* body bytes before the exe path */
#define TRC_MAX_HEADER_BODY (16u << 20) /* reader refuses larger headers */
#define TRC_MAX_STRING (1u << 20)       /* writer refuses longer strings */

/* Chunk header offsets. */
#define TRC_CH_MAGIC 0
#define TRC_CH_KIND 4
#define TRC_CH_CODEC 5
#define TRC_CH_RESERVED 6
#define TRC_CH_STORED 8
#define TRC_CH_RAW 12
#define TRC_CH_CHECKSUM 16
#define TRC_CH_HASHED 16 /* header bytes covered by the checksum */

#define TRC_CODEC_RAW 0
#define TRC_CODEC_ZSTD 1

/* Events per EVENTS chunk: at most this many (the writer clamps its
 * chunk_events option; the reader refuses more). With the worst case of 57
 * raw bytes per event this keeps a chunk under TRC_MAX_CHUNK_RAW. */
#define TRC_MAX_CHUNK_EVENTS (1u << 20)
#define TRC_DEFAULT_CHUNK_EVENTS 65536u
#define TRC_DEFAULT_LEVEL 3
/* zstd level of fast-coded chunks (trc_writer_set_pressure): measured in
 * docs/recorder.md, "Keeping up". */
#define TRC_DEFAULT_FAST_LEVEL (-1)
/* Thread indexes the writer accepts (dense from 0). */
#define TRC_MAX_THREADS (1u << 20)
/* A pending table is written as soon as its raw bytes pass this. */
#define TRC_TABLE_FLUSH_BYTES (1u << 20)

/* Op byte of an EVENTS chunk: op in bits 0-3; bit 4: FAILED (versions 1
 * and 2), the site is that of the previous event of the same op (version
 * 3); pointer mode in bits 5-6; bit 7: the size equals the size cache's
 * entry. */
#define TRC_OB_OP_MASK 0x0f
#define TRC_OB_FAILED 0x10    /* versions 1 and 2 */
#define TRC_OB_SITE_SAME 0x10 /* version 3 */
#define TRC_OB_PM_SHIFT 5
#define TRC_OB_PM_MASK 0x03
#define TRC_OB_SIZE_CACHED 0x80
/* Size cache: the last size seen per site, direct-mapped by site % 256. */
#define TRC_SIZE_CACHE 256
typedef struct trc_size_cache {
  uint32_t site[TRC_SIZE_CACHE];
  uint64_t size[TRC_SIZE_CACHE];
} trc_size_cache_t;
enum {
  TRC_PM_NULL = 0,    /* ptr is 0, nothing in the pointer column */
  TRC_PM_RING = 1,    /* index into the recent-pointer ring, newest = 0 */
  TRC_PM_NEAR16 = 2,  /* ring index k, then zigzag((ptr >> 4) -
                         (ring[k] >> 4)); ptr % 16 == 0 */
  TRC_PM_DELTA = 3    /* zigzag(ptr - prev) */
};
/* Entries of the recent-pointer ring (a power of 2) by format version. */
#define TRC_PTR_RING 16384   /* version 3 */
#define TRC_PTR_RING_V2 1024
#define TRC_PTR_RING_V1 64
/* Size-class stacks (version 3): TRC_CLS_N classes of TRC_CLS_D pointers. */
#define TRC_CLS_N 512
#define TRC_CLS_D 8

/* Align extra: varint a < 64 means 1 << a; these two escape. */
#define TRC_ALIGN_ZERO 64  /* align is 0 */
#define TRC_ALIGN_RAW 65   /* followed by a varint holding align */

/* Which optional fields an op stores (docs/trace-format.md, "Extras"). */
static inline int trc_op_has_old(unsigned op) {
  return op == TRC_OP_REALLOC || op == TRC_OP_REALLOCARRAY;
}
static inline int trc_op_has_nmemb(unsigned op) {
  return op == TRC_OP_CALLOC || op == TRC_OP_REALLOCARRAY;
}
static inline int trc_op_has_align(unsigned op) {
  return op == TRC_OP_POSIX_MEMALIGN || op == TRC_OP_ALIGNED_ALLOC ||
         op == TRC_OP_MEMALIGN || op == TRC_OP_VALLOC || op == TRC_OP_PVALLOC;
}
static inline int trc_op_has_size(unsigned op) { return op != TRC_OP_FREE; }

/* Request size of an allocating op: nmemb * size for calloc and
 * reallocarray (saturating), else size. */
static inline uint64_t trc_request(unsigned op, uint64_t size, uint64_t nmemb) {
  if (!trc_op_has_nmemb(op)) return size;
  uint64_t r;
  return __builtin_mul_overflow(size, nmemb, &r) ? UINT64_MAX : r;
}

/* ---- pointer model (docs/trace-format.md, "Pointers") ---------------- */

/* Size class of a request (version 3), 1 .. TRC_CLS_N - 1: 16-byte steps
 * up to 1 KiB, shifted by 8 so that a class is one glibc chunk size
 * (request + 8 rounded up to 16), then 4 classes per power of 2. */
static inline unsigned trc_size_class(uint64_t s) {
  if (s <= 1024) return (unsigned)((s + 23) >> 4);
  unsigned e = 63 - (unsigned)__builtin_clzll(s - 1); /* 10 .. 63 */
  return 66 + (e - 10) * 4 + (unsigned)(((s - 1) >> (e - 2)) & 3);
}

/* The per-chunk pointer state shared by the writer and the reader: prev,
 * the ring of recent pointers with the size class each entered with (0 =
 * unknown), and (version 3) per-class stacks of freed pointers, newest
 * first: most allocators hand a freed block of a size class out again. */
typedef struct trc_pmodel {
  uint64_t prev;
  unsigned n;       /* ring entries in this file's version */
  unsigned head;    /* where the next insertion goes */
  uint32_t seq;     /* insertions in this chunk */
  int push_frees;   /* version 2 on: freed pointers enter the ring */
  int classes;      /* version 3: size-class stacks in use */
  uint64_t ring[TRC_PTR_RING];
  uint16_t rcls[TRC_PTR_RING];
  uint64_t stk[TRC_CLS_N][TRC_CLS_D];
} trc_pmodel_t;

/* Chunk start: everything 0, sized and ruled by the file's version. */
static inline void trc_pm_reset(trc_pmodel_t *m, unsigned version) {
  m->n = version >= 3 ? TRC_PTR_RING
                      : version == 2 ? TRC_PTR_RING_V2 : TRC_PTR_RING_V1;
  m->push_frees = version >= 2;
  m->classes = version >= 3;
  m->prev = 0;
  m->head = 0;
  m->seq = 0;
  memset(m->ring, 0, m->n * sizeof m->ring[0]);
  memset(m->rcls, 0, m->n * sizeof m->rcls[0]);
  if (m->classes) memset(m->stk, 0, sizeof m->stk);
}
/* Position in ring[] of the k-th most recent entry (k = 0 the newest). */
static inline unsigned trc_pm_pos(const trc_pmodel_t *m, unsigned k) {
  return (m->head - 1 - k) & (m->n - 1);
}
/* Class the k-th most recent ring entry entered with (0 = unknown). */
static inline unsigned trc_pm_class_at(const trc_pmodel_t *m, unsigned k) {
  return m->rcls[trc_pm_pos(m, k)];
}
/* A freed pointer of a known class goes on top of its stack. */
static inline void trc_pm_freed(trc_pmodel_t *m, unsigned cls, uint64_t p) {
  if (!cls || !m->classes) return;
  uint64_t *s = m->stk[cls];
  memmove(s + 1, s, (TRC_CLS_D - 1) * sizeof *s);
  s[0] = p;
}
/* What an event does to the state once its pointers are coded, the same
 * for writer and reader: a nonzero ptr becomes prev and enters the ring
 * with the event's size class cls (0 for a free; version 1 kept frees
 * out); a free pushes ptr on the stack of freed_cls, the class of the ring
 * entry it was coded against (0: none); a realloc that moved pushes
 * old_ptr likewise with old_cls. */
static inline void trc_pm_event(trc_pmodel_t *m, unsigned op, uint64_t ptr,
                                uint64_t old_ptr, unsigned cls,
                                unsigned freed_cls, unsigned old_cls) {
  if (ptr) {
    m->prev = ptr;
    if (m->push_frees || op != TRC_OP_FREE) {
      m->ring[m->head] = ptr;
      m->rcls[m->head] = (uint16_t)cls;
      m->seq++;
      m->head = (m->head + 1) & (m->n - 1);
    }
  }
  if (op == TRC_OP_FREE) trc_pm_freed(m, freed_cls, ptr);
  if (trc_op_has_old(op) && ptr && old_ptr && ptr != old_ptr)
    trc_pm_freed(m, old_cls, old_ptr);
}
/* Entry of the class stack holding p (0 = the newest), or -1. */
static inline int trc_pm_find(const trc_pmodel_t *m, unsigned cls, uint64_t p) {
  for (unsigned j = 0; j < TRC_CLS_D; j++)
    if (m->stk[cls][j] == p) return (int)j;
  return -1;
}
/* Takes entry j of a class stack (0 = the newest); 0 if it is empty. */
static inline uint64_t trc_pm_take(trc_pmodel_t *m, unsigned cls, unsigned j) {
  uint64_t *s = m->stk[cls], p = s[j];
  memmove(s + j, s + j + 1, (TRC_CLS_D - 1 - j) * sizeof *s);
  s[TRC_CLS_D - 1] = 0;
  return p;
}

/* ---- little-endian helpers ------------------------------------------- */

static inline void trc_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void trc_put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void trc_put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t trc_get16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t trc_get32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static inline uint64_t trc_get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* The seed trc_chunk_checksum hashes a payload with: the header's first
 * TRC_CH_HASHED bytes (for a payload hashed in pieces, XXH3 streaming). */
uint64_t trc_chunk_checksum_seed(const uint8_t hdr16[TRC_CH_HASHED]);
/* The chunk checksum: XXH3-64 of the payload, seeded with the XXH3-64 (seed
 * 0) of the first 16 header bytes. Defined in trc_common.c. */
uint64_t trc_chunk_checksum(const uint8_t hdr16[TRC_CH_HASHED],
                            const void *payload, size_t len);

/* ---- growable arrays and byte buffer --------------------------------- */

/* Grows the array *pp (capacity *cap items of sz bytes) to hold n items,
 * doubling; new items are zeroed. 0 or HK_E_NOMEM (the array is kept). */
static inline int trc_grow(void *pp, size_t *cap, size_t n, size_t sz) {
  if (n <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < n) c *= 2;
  void *np = realloc(*(void **)pp, c * sz);
  if (!np) return HK_E_NOMEM;
  memset((char *)np + *cap * sz, 0, (c - *cap) * sz);
  *(void **)pp = np;
  *cap = c;
  return 0;
}

typedef struct trc_buf {
  uint8_t *p;
  size_t len, cap;
} trc_buf_t;

/* Makes room for extra more bytes; 0 or HK_E_NOMEM. */
static inline int trc_buf_reserve(trc_buf_t *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < extra) cap *= 2;
  uint8_t *np = realloc(b->p, cap);
  if (!np) return HK_E_NOMEM;
  b->p = np;
  b->cap = cap;
  return 0;
}
/* Appends a varint; the caller reserved HK_VARINT_MAX bytes. */
static inline void trc_buf_varint(trc_buf_t *b, uint64_t v) {
  b->len += hk_varint_put(b->p + b->len, v);
}
static inline void trc_buf_release(trc_buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

#endif
