/* hk_clock.h: clocks. The TSC for cheap timestamps (recorder events,
 * per-op latency in the replayer), CLOCK_MONOTONIC for wall time, and the
 * calibration between them. Fencing: hk_tsc_begin() for "before" stamps,
 * hk_tsc_end() (rdtscp) for "after" stamps. */
#ifndef HK_CLOCK_H
#define HK_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "compiler.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HK_HAVE_TSC 1
/* Stamp taken before the measured work: later instructions do not start
 * until the TSC is read (rdtsc; lfence). */
HK_FORCE_INLINE uint64_t hk_tsc_begin(void) {
  uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}
/* Stamp taken after the measured work: rdtscp waits for earlier
 * instructions to finish; the lfence keeps later ones from moving up. */
HK_FORCE_INLINE uint64_t hk_tsc_end(void) {
  unsigned aux;
  uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}
/* Unfenced read, for timestamps where ordering slack is acceptable. */
HK_FORCE_INLINE uint64_t hk_tsc_raw(void) { return __rdtsc(); }

/* Stamps that order events across threads, not measure durations (the
 * recorder's). A stamp taken before an action that another thread can
 * observe (a free: the block may be handed out again) must also come after
 * everything the thread did before, in particular the load that brought it
 * the pointer from another thread: a bare rdtsc does not wait for earlier
 * instructions, so it can read the counter while that load (a cache line
 * coming from the other core, 100+ cycles) is still in flight, and stamp
 * the free before the allocation that produced the pointer. That was the
 * recorder's causality defect (issue 10 item 9; docs/recorder.md): two
 * threads passing a stamp through an atomic exchange saw 6,304 to 919,525
 * inversions in 2 M hand-offs with rdtsc (up to 674 ticks), none with
 * lfence; rdtsc. The lfence waits for earlier instructions to complete;
 * the action's own stores still become visible only after rdtsc retires.
 * A stamp taken after an action's result is known (an allocation) needs
 * rdtscp, which waits for every earlier instruction; nothing later has to
 * wait for it. */
HK_FORCE_INLINE uint64_t hk_tsc_order_before(void) {
  _mm_lfence();
  return __rdtsc();
}
HK_FORCE_INLINE uint64_t hk_tsc_order_after(void) {
  unsigned aux;
  return __rdtscp(&aux);
}
#else
#define HK_HAVE_TSC 0
uint64_t hk_now_ns(void);
HK_FORCE_INLINE uint64_t hk_tsc_begin(void) { return hk_now_ns(); }
HK_FORCE_INLINE uint64_t hk_tsc_end(void) { return hk_now_ns(); }
HK_FORCE_INLINE uint64_t hk_tsc_raw(void) { return hk_now_ns(); }
HK_FORCE_INLINE uint64_t hk_tsc_order_before(void) { return hk_now_ns(); }
HK_FORCE_INLINE uint64_t hk_tsc_order_after(void) { return hk_now_ns(); }
#endif

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hk_now_ns(void);
/* CLOCK_REALTIME in nanoseconds since the epoch. */
uint64_t hk_wall_ns(void);

/* Measures the TSC frequency against CLOCK_MONOTONIC over about ms
 * milliseconds; returns ticks per second (1e9 where there is no TSC). */
uint64_t hk_tsc_hz(unsigned ms);

/* Whether the CPU declares an invariant TSC (constant rate, synchronised
 * across cores), which cross-thread ordering by TSC relies on. */
int hk_tsc_invariant(void);

#endif
