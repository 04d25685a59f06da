/* compiler.h: the one place for compiler hints and attributes.
 * Every module includes this (through hk_common.h); nothing else defines
 * likely/unlikely or visibility macros. */
#ifndef HK_COMPILER_H
#define HK_COMPILER_H

#define HK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HK_FORCE_INLINE static inline __attribute__((always_inline))
#define HK_NOINLINE    __attribute__((noinline))
#define HK_COLD        __attribute__((cold, noinline))
#define HK_HIDDEN      __attribute__((visibility("hidden")))
#define HK_EXPORT      __attribute__((visibility("default")))
#define HK_UNUSED      __attribute__((unused))
#define HK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Debug checks in tiers: HK_ASSERT stays in debug builds only;
 * HK_ASSERT_EXPENSIVE needs HK_DEBUG_EXPENSIVE as well. Both vanish in
 * release builds (NDEBUG). */
#ifndef NDEBUG
#include <assert.h>
#define HK_ASSERT(x) assert(x)
#else
#define HK_ASSERT(x) ((void)0)
#endif
#if !defined(NDEBUG) && defined(HK_DEBUG_EXPENSIVE)
#define HK_ASSERT_EXPENSIVE(x) assert(x)
#else
#define HK_ASSERT_EXPENSIVE(x) ((void)0)
#endif

#endif
