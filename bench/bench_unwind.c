/* bench_unwind.c: what one stack capture costs with the recorder's CFI
 * walker (rec_capture_cfi) and with libunwind's unw_backtrace
 * (rec_capture_unw), side by side in one run (issue 14 item 7). The stack
 * under the capture is a chain of STACK frames, alternately frameless and
 * with a variable-size (rbp-based) frame, and each capture keeps DEPTH
 * frames, as the recorder does at --depth DEPTH. Rounds interleave the two
 * walkers; each cell is the median ns per capture over rounds, with the
 * lowest and highest, and both walkers' frames are compared once per cell.
 * Not a test.   bench_unwind [ROUNDS=5] [CAPTURES=100000] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "recorder.h"

static volatile uint64_t sink;
static long captures;
static uint32_t cur_depth;
static double t_cfi, t_unw;
static int frames_equal;

/* The bottom of the chain: one timed batch of each walker. */
static HK_NOINLINE void measure(void) {
  uint64_t a[TRC_MAX_DEPTH], b[TRC_MAX_DEPTH];
  uint64_t x = 0;
  /* This thread's CPU time: on a machine shared with other jobs, wall
   * time counts their turns too. */
  double t0 = thread_cpu_s();
  for (long i = 0; i < captures; i++) x += (uint64_t)rec_capture_cfi(a, cur_depth, NULL);
  double t1 = thread_cpu_s();
  for (long i = 0; i < captures; i++) x += rec_capture_unw(b, cur_depth, NULL);
  double t2 = thread_cpu_s();
  t_cfi = t1 - t0;
  t_unw = t2 - t1;
  sink = x;
  /* Same frames: the walkers' own leading frames differ (libunwind's
   * holds one more, inside rec_capture_unw), the rest must not. */
  int na = rec_capture_cfi(a, TRC_MAX_DEPTH, NULL);
  int nb = (int)rec_capture_unw(b, TRC_MAX_DEPTH, NULL);
  frames_equal = na > 1 && na - 1 == nb - 2 &&
                 memcmp(a + 1, b + 2, (size_t)(na - 1) * sizeof *a) == 0;
}

static HK_NOINLINE int chain(int n);
static HK_NOINLINE int chain_vla(int n) {
  volatile char *p = __builtin_alloca((size_t)(16 + (n & 7) * 8));
  p[0] = (char)n;
  int r = chain(n - 1);
  return r + p[0];
}
static HK_NOINLINE int chain(int n) {
  if (n <= 0) {
    measure();
    return 0;
  }
  int r = (n & 1) ? chain_vla(n - 1) : chain(n - 1);
  __asm__ volatile("" ::: "memory"); /* no tail call */
  return r + 1;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 5;
  captures = argc > 2 ? atol(argv[2]) : 100000;
  if (rounds < 1 || rounds > 99 || captures < 1) {
    fprintf(stderr, "usage: bench_unwind [ROUNDS 1-99] [CAPTURES]\n");
    return 2;
  }
  rec_unwind_init();
  static const int stacks[] = {8, 24, 48};
  static const uint32_t depths[] = {1, 8, 16};
  printf("%-6s %-6s %10s %15s %10s %15s %7s %6s\n", "stack", "depth",
         "cfi_ns", "cfi_range", "unw_ns", "unw_range", "unw/cfi", "same");
  for (size_t s = 0; s < HK_ARRAY_LEN(stacks); s++) {
    for (size_t d = 0; d < HK_ARRAY_LEN(depths); d++) {
      double c[99], u[99], r[99];
      int same = 1;
      cur_depth = depths[d];
      for (int i = 0; i < rounds; i++) {
        chain(stacks[s]);
        c[i] = t_cfi * 1e9 / (double)captures;
        u[i] = t_unw * 1e9 / (double)captures;
        r[i] = u[i] / c[i];
        same &= frames_equal;
      }
      double clo, chi, ulo, uhi;
      double cm = bench_median(c, rounds, &clo, &chi);
      double um = bench_median(u, rounds, &ulo, &uhi);
      double rm = bench_median(r, rounds, NULL, NULL);
      char cr[32], ur[32];
      snprintf(cr, sizeof cr, "%.1f-%.1f", clo, chi);
      snprintf(ur, sizeof ur, "%.1f-%.1f", ulo, uhi);
      printf("%-6d %-6u %10.1f %15s %10.1f %15s %6.2fx %6s\n", stacks[s],
             depths[d], cm, cr, um, ur, rm, same ? "yes" : "NO");
    }
  }
  printf("stack: frames under the capture (plus main's); depth: frames kept;\n"
         "cfi: the recorder's CFI walker, unw: libunwind's unw_backtrace;\n"
         "CPU ns per capture, median over %d interleaved rounds of %ld captures\n"
         "(range: lowest-highest); same: both walkers gave the same frames.\n",
         rounds, captures);
  return 0;
}
