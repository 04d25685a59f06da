/* trc_internal.h: private to traces/. Constants and byte helpers shared by
 * the writer (trc_writer.c), the reader (trc_reader.c) and the verifier
 * (trc_verify.c). The layouts they implement are specified in
 * docs/trace-format.md; a change here is a change of the format.
 *
 * Map (sections name the file that defines them):
 *   layout constants, little-endian helpers ... header only
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
/* Thread indexes the writer accepts (dense from 0). */
#define TRC_MAX_THREADS (1u << 20)
/* A pending table is written as soon as its raw bytes pass this. */
#define TRC_TABLE_FLUSH_BYTES (1u << 20)

/* Op byte of an EVENTS chunk: op in bits 0-3, FAILED in bit 4, pointer
 * mode in bits 5-6, bit 7: the size equals the size cache's entry. */
#define TRC_OB_OP_MASK 0x0f
#define TRC_OB_FAILED 0x10
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
/* Entries of the recent-pointer ring (a power of 2): 1024 since format
 * version 2, 64 in version 1. */
#define TRC_PTR_RING 1024
#define TRC_PTR_RING_V1 64

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
