/* bench_prepare.c: prepare rate against a plain decode of the same trace,
 * and prepare's memory against trace length (it must not grow with it);
 * then prepare to .hkp with the chunks decoded on its own thread (before)
 * and decoded ahead on a second thread (after), REPEATS interleaved
 * rounds, median and range of wall time and CPU time, with the load.
 * Reproduce: build/bench/bench_prepare [SCALE] [REPEATS]   (defaults 20:
 * ~3.5 M events, and 5) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "trc.h"

#define MAX_REPEATS 32

static int decode_all(const char *path, uint64_t *events) {
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  if (rc) return rc;
  trc_chunk_t c;
  *events = 0;
  while ((rc = trc_reader_next(r, &c)) > 0)
    if (c.kind == TRC_CHUNK_EVENTS) *events += c.n;
  trc_reader_free(r);
  return rc;
}

/* Peak RSS (KiB) that prepare adds, measured in a child: the peak is reset
 * (clear_refs 5) after the fork, so the pages inherited from this process
 * and never touched do not count, then prepare runs, then VmHWM is read. */
static long prepare_rss_kib(const char *path) {
  int fd[2];
  if (pipe(fd)) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    long before = vm_hwm_reset_kib();
    long v = trc_prepare(path, NULL, NULL) ? -1 : vm_hwm_kib() - before;
    _exit(write(fd[1], &v, sizeof v) == sizeof v ? 0 : 1);
  }
  close(fd[1]);
  long v = -1;
  if (read(fd[0], &v, sizeof v) != sizeof v) v = -1;
  close(fd[0]);
  waitpid(pid, NULL, 0);
  return v;
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 20;
  int repeats = argc > 2 ? atoi(argv[2]) : 5;
  if (scale <= 0 || repeats < 1 || repeats > MAX_REPEATS) {
    fprintf(stderr, "bench_prepare: usage: bench_prepare [SCALE > 0] "
                    "[REPEATS 1..%d]\n", MAX_REPEATS);
    return 2;
  }
  char dir[] = "/tmp/hksim-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char small[64], big[64], prog[64];
  snprintf(small, sizeof small, "%s/s.hkt", dir);
  snprintf(big, sizeof big, "%s/b.hkt", dir);
  snprintf(prog, sizeof prog, "%s/b.hkp", dir);
  trc_gen_opts_t o = {1, scale};
  if (trc_gen("threads", big, &o)) return 1;
  o.scale = scale / 8;
  if (trc_gen("threads", small, &o)) return 1;

  uint64_t ev = 0;
  double best_dec = 1e9, best_prep = 1e9, best_build = 1e9;
  trc_prep_stats_t st;
  for (int rep = 0; rep < 3; rep++) { /* interleaved, best of 3 */
    double t0 = now_s();
    if (decode_all(big, &ev) < 0) return 1;
    double t1 = now_s();
    if (trc_prepare(big, NULL, &st)) return 1;
    double t2 = now_s();
    if (trc_program_build(big, prog, &st)) return 1;
    double t3 = now_s();
    if (t1 - t0 < best_dec) best_dec = t1 - t0;
    if (t2 - t1 < best_prep) best_prep = t2 - t1;
    if (t3 - t2 < best_build) best_build = t3 - t2;
  }
  long rss_small = prepare_rss_kib(small), rss_big = prepare_rss_kib(big);
  printf("bench_prepare: threads scenario, scale %.1f: %llu events, 4 threads\n",
         scale, (unsigned long long)ev);
  printf("  decode only          %8.2f M events/s   (1.00x)\n", ev / best_dec / 1e6);
  printf("  prepare (stats)      %8.2f M events/s   (%.2fx the decode time)\n",
         ev / best_prep / 1e6, best_prep / best_dec);
  printf("  prepare to .hkp      %8.2f M events/s   (%.2fx the decode time)\n",
         ev / best_build / 1e6, best_build / best_dec);
  printf("  peak RSS prepare adds: %ld KiB at 1/8 length, %ld KiB at full "
         "length (ratio %.2f for 8x the events)\n", rss_small, rss_big,
         rss_small > 0 ? (double)rss_big / (double)rss_small : 0.0);
  /* Decoding ahead on a second thread, side by side: rounds alternate
   * which goes first. */
  double wall[2][MAX_REPEATS], cpu[2][MAX_REPEATS], ratio[MAX_REPEATS];
  double mine[2][MAX_REPEATS]; /* CPU of prepare's own thread */
  double load[1] = {-1};
  getloadavg(load, 1);
  for (int r = 0; r < repeats; r++) {
    for (int k = 0; k < 2; k++) {
      int v = r % 2 ? 1 - k : k;
      trc_prepare_set_decode_ahead(v);
      double t0 = now_s(), c0 = cpu_s(), m0 = thread_cpu_s();
      if (trc_program_build(big, prog, &st)) return 1;
      wall[v][r] = now_s() - t0;
      cpu[v][r] = cpu_s() - c0;
      mine[v][r] = thread_cpu_s() - m0;
    }
    ratio[r] = wall[0][r] / wall[1][r];
  }
  trc_prepare_set_decode_ahead(-1);
  double load_end[1] = {-1};
  getloadavg(load_end, 1);
  printf("  prepare to .hkp, %d interleaved rounds (load average %.1f at the "
         "start, %.1f at the end, %ld CPUs), M events/s median (min..max):\n",
         repeats, load[0], load_end[0], sysconf(_SC_NPROCESSORS_ONLN));
  const char *what[2] = {"decoded on prepare's thread (before)",
                         "decoded ahead on a second thread (after)"};
  for (int v = 0; v < 2; v++) {
    double lo, hi, clo, chi;
    double m = bench_median(wall[v], repeats, &lo, &hi);
    double c = bench_median(cpu[v], repeats, &clo, &chi);
    double t = bench_median(mine[v], repeats, &clo, &chi);
    printf("    %-42s wall %6.2f (%.2f..%.2f)  CPU %6.2f, prepare's own "
           "thread's CPU %6.2f\n", what[v], ev / m / 1e6, ev / hi / 1e6,
           ev / lo / 1e6, ev / c / 1e6, ev / t / 1e6);
  }
  double rlo, rhi, rm = bench_median(ratio, repeats, &rlo, &rhi);
  printf("    after / before: %.2fx wall (median of the rounds' ratios, "
         "%.2f..%.2f); prepare's own thread's CPU bounds the rate where the "
         "decoder gets a core of its own\n", rm, rlo, rhi);
  printf("reproduce: build/bench/bench_prepare %g %d\n", scale, repeats);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) ? 1 : 0;
}
