/* hk_hash.c: xxHash wrappers behind hk_hash.h. */
#include "hk_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

struct hk_digest_s {
  XXH3_state_t *st;
};

uint64_t hk_hash64(const void *data, size_t len, uint64_t seed) {
  return XXH3_64bits_withSeed(data, len, seed);
}

hk_digest_t *hk_digest_create(void) {
  hk_digest_t *d = malloc(sizeof *d);
  if (!d) return NULL;
  d->st = XXH3_createState();
  if (!d->st) {
    free(d);
    return NULL;
  }
  hk_digest_reset(d);
  return d;
}

void hk_digest_free(hk_digest_t *d) {
  if (!d) return;
  XXH3_freeState(d->st);
  free(d);
}

void hk_digest_reset(hk_digest_t *d) { XXH3_128bits_reset(d->st); }

void hk_digest_update(hk_digest_t *d, const void *data, size_t len) {
  XXH3_128bits_update(d->st, data, len);
}

void hk_digest_u64(hk_digest_t *d, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  XXH3_128bits_update(d->st, b, sizeof b);
}

void hk_digest_hex(const hk_digest_t *d, char out[33]) {
  XXH128_hash_t h = XXH3_128bits_digest(d->st);
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
           (unsigned long long)h.low64);
}
