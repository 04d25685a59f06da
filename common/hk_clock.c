/* hk_clock.c: wall clocks and TSC calibration for hk_clock.h. */
#include "hk_clock.h"

#if HK_HAVE_TSC
#include <cpuid.h>
#endif

uint64_t hk_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t hk_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t hk_tsc_hz(unsigned ms) {
#if HK_HAVE_TSC
  if (ms == 0) ms = 1;
  uint64_t n0 = hk_now_ns(), t0 = hk_tsc_begin();
  uint64_t target = n0 + (uint64_t)ms * 1000000ull, n1;
  do {
    n1 = hk_now_ns();
  } while (n1 < target);
  uint64_t t1 = hk_tsc_end();
  return (uint64_t)((double)(t1 - t0) * 1e9 / (double)(n1 - n0) + 0.5);
#else
  (void)ms;
  return 1000000000ull;
#endif
}

int hk_tsc_invariant(void) {
#if HK_HAVE_TSC
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) return 0;
  __get_cpuid(0x80000007u, &a, &b, &c, &d);
  return (d >> 8) & 1;
#else
  return 0;
#endif
}
