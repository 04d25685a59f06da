/* hk_varint.h: LEB128 varints and zigzag, the integer coding of the trace
 * format (docs/trace-format.md, "Integers"). Encoders write at most
 * HK_VARINT_MAX bytes; decoders are bounds-checked and never read past end. */
#ifndef HK_VARINT_H
#define HK_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#define HK_VARINT_MAX 10

HK_FORCE_INLINE uint64_t hk_zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
HK_FORCE_INLINE int64_t hk_unzigzag(uint64_t u) {
  return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Writes v at p (room for HK_VARINT_MAX bytes); returns bytes written. */
HK_FORCE_INLINE size_t hk_varint_put(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* Bytes hk_varint_put would write for v. */
HK_FORCE_INLINE size_t hk_varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/* Reads a varint from [*pp, end). On success advances *pp, stores the value
 * and returns 0. Returns -1 if the input ends inside the varint or the
 * encoding is longer than 10 bytes or overflows 64 bits. */
HK_FORCE_INLINE int hk_varint_get(const uint8_t **pp, const uint8_t *end,
                                  uint64_t *out) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (HK_UNLIKELY(p >= end)) return -1;
    uint8_t b = *p++;
    if (shift == 63 && b > 1) return -1;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *pp = p;
      *out = v;
      return 0;
    }
  }
  return -1;
}

#endif
