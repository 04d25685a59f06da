/* bench_util.h: the clocks and the median the benchmarks share (header
 * only: each benchmark is one program). Wall time from hk_clock's
 * monotonic clock, CPU time of the process (user + system, all threads),
 * of its waited-for children and of the calling thread, the peak RSS, and
 * the median of repeated measurements with their range, which every
 * benchmark prints (the machine is shared: medians and spread, never one
 * run). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "hk_clock.h"

static inline double now_s(void) { return (double)hk_now_ns() / 1e9; }

/* User + system seconds of getrusage(who). */
static inline double rusage_cpu_s(int who) {
  struct rusage u;
  getrusage(who, &u);
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 +
         (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static inline double cpu_s(void) { return rusage_cpu_s(RUSAGE_SELF); }

/* The children this process has waited for (replay's run children). */
static inline double children_cpu_s(void) {
  return rusage_cpu_s(RUSAGE_CHILDREN);
}

static inline double thread_cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* VmHWM (KiB) of this process, from /proc/self/status; -1 unreadable. */
static inline long vm_hwm_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

/* Resets the peak RSS to the current RSS (clear_refs 5: in a forked child,
 * the pages inherited and never touched stop counting) and returns the
 * VmHWM it starts from (KiB). */
static inline long vm_hwm_reset_kib(void) {
  FILE *c = fopen("/proc/self/clear_refs", "w");
  if (c) fputs("5", c), fclose(c);
  return vm_hwm_kib();
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median of v[0..n) (n >= 1), sorted in place; its range in *lo and *hi
 * when they are not NULL. */
static inline double bench_median(double *v, int n, double *lo, double *hi) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
  if (lo) *lo = v[0];
  if (hi) *hi = v[n - 1];
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
