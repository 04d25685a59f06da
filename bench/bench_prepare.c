/* bench_prepare.c: prepare rate against a plain decode of the same trace,
 * and prepare's memory against trace length (it must not grow with it).
 * Reproduce: build/bench/bench_prepare [SCALE]   (default 20: ~3.5 M events) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trc.h"

static double now_s(void) { return (double)hk_now_ns() / 1e9; }

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

/* VmHWM (KiB) of this process, from /proc/self/status. */
static long vm_hwm_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &v) == 1) break;
  if (f) fclose(f);
  return v;
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
    FILE *c = fopen("/proc/self/clear_refs", "w");
    if (c) fputs("5", c), fclose(c);
    long before = vm_hwm_kib();
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
  printf("reproduce: build/bench/bench_prepare %.0f\n", scale);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) ? 1 : 0;
}
