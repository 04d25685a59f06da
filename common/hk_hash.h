/* hk_hash.h: hashing for checksums, content keys and run digests, over
 * xxHash (XXH3). A digest is an incremental hash of a decision sequence:
 * the replayer and the policies feed it, the run stores its hex form. */
#ifndef HK_HASH_H
#define HK_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hk_hash64(const void *data, size_t len, uint64_t seed);

typedef struct hk_digest_s hk_digest_t;

/* Creates a digest; NULL when out of memory. hk_digest_free(NULL) is a no-op. */
hk_digest_t *hk_digest_create(void);
void hk_digest_free(hk_digest_t *d);
void hk_digest_reset(hk_digest_t *d);
void hk_digest_update(hk_digest_t *d, const void *data, size_t len);
void hk_digest_u64(hk_digest_t *d, uint64_t v);
/* The 128-bit digest so far, as 32 lowercase hex digits plus NUL. */
void hk_digest_hex(const hk_digest_t *d, char out[33]);

#endif
