/* hk_rng.h: the project's seeded random numbers (xoshiro256**, seeded by
 * splitmix64). Policies and the scenario generator use only this, so that
 * one seed gives one sequence on every machine. Caller-owned, no globals. */
#ifndef HK_RNG_H
#define HK_RNG_H

#include <stdint.h>

#include "compiler.h"

typedef struct hk_rng {
  uint64_t s[4];
} hk_rng_t;

HK_FORCE_INLINE uint64_t hk_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

HK_FORCE_INLINE void hk_rng_init(hk_rng_t *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = hk_splitmix64(&x);
}

HK_FORCE_INLINE uint64_t hk_rng_next(hk_rng_t *r) {
  uint64_t *s = r->s;
  uint64_t x = s[1] * 5;
  uint64_t result = ((x << 7) | (x >> 57)) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}

/* Uniform in [0, n); n > 0. Lemire's multiply-shift with rejection. */
HK_FORCE_INLINE uint64_t hk_rng_below(hk_rng_t *r, uint64_t n) {
  for (;;) {
    unsigned __int128 m = (unsigned __int128)hk_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo >= n || lo >= (-n) % n) return (uint64_t)(m >> 64);
  }
}

/* Uniform double in [0, 1). */
HK_FORCE_INLINE double hk_rng_double(hk_rng_t *r) {
  return (double)(hk_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
