/* hk_common.h: the public header of common/, the bottom of the dependency
 * graph: compiler hints, error codes, varints, hashing, seeded RNG, clocks.
 * Depends on nothing else in the project. */
#ifndef HK_COMMON_H
#define HK_COMMON_H

#include "compiler.h"   /* compiler.h */
#include "hk_clock.h"   /* hk_clock.c */
#include "hk_error.h"   /* hk_error.c */
#include "hk_hash.h"    /* hk_hash.c */
#include "hk_rng.h"     /* header only */
#include "hk_varint.h"  /* header only */

#endif
