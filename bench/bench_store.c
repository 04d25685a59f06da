/* bench_store.c: what a node pays before its first run of a long trace,
 * phase by phase (issue 16, "scale on each node"): hashing the trace,
 * preparing it to a .hkp, mapping (checking) the program, and storing its
 * ops in the results database, with the rate of each in wall time and in
 * CPU time (the machine is shared: wall time carries the other tenants'
 * load, printed beside it), the peak RSS each adds, the bytes per op of
 * the prepared program and of the stored trace, and the WAL at its
 * largest (sampled every millisecond while the store runs). Printed beside the goals (store >= 10 M ops/s, <= 8 B/op).
 * Then the store again, before (chunks coded on the inserting thread)
 * and after (coded by worker threads), and prepare, before (chunks
 * decoded on its thread) and after (decoded ahead on a second thread),
 * REPEATS interleaved rounds each.
 * Reproduce: build/bench/bench_store [MILLION_OPS=100] [DIR=/tmp] [REPEATS=3]
 * (100 M ops: about 3.2 GB of program and 0.6 GB of database in DIR, and
 * several minutes; it says how long it took). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "rpl_internal.h"

static uint64_t file_bytes(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* What one phase measured in a child (so that each peak RSS is its own). */
typedef struct phase {
  double seconds, cpu; /* wall and CPU (user + sys, all threads) time */
  double main_cpu;     /* store: CPU of the inserting thread alone */
  long rss_kib; /* peak RSS the phase added */
  uint64_t wal_bytes, wal_after, n; /* WAL after the store, after a run begins */
  int rc;
} phase_t;

enum { PH_HASH, PH_PREPARE, PH_MAP, PH_STORE };

/* The WAL's size sampled every millisecond while the store runs: its
 * largest, which the file's size at the end need not be (the WAL is
 * written again from its start after each checkpoint, and cut back to
 * journal_size_limit when longer). */
typedef struct wal_watch {
  const char *path;
  volatile int stop;
  uint64_t peak;
} wal_watch_t;

static uint64_t file_bytes(const char *p);

static void *wal_watch(void *arg) {
  wal_watch_t *w = arg;
  while (!w->stop) {
    uint64_t b = file_bytes(w->path);
    if (b > w->peak) w->peak = b;
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

/* Chunk coders for the store phase: -1 the default (as many as the CPUs,
 * at most 4), 0 coded on the inserting thread as before (the A/B). */
static int store_threads = -1;
/* Prepare's decoding ahead on a second thread: -1 the default (on with 2
 * CPUs or more), 0 off (before), 1 on (the A/B). */
static int prepare_ahead = -1;

static void remove_db(const char *db) {
  char p[640];
  unlink(db);
  snprintf(p, sizeof p, "%s-wal", db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", db);
  unlink(p);
  snprintf(p, sizeof p, "%s-hkstore", db);
  unlink(p);
}

static phase_t run_phase(int which, const char *trace, const char *prog,
                         const char *db) {
  int fd[2];
  phase_t r = {0, 0, 0, -1, 0, 0, 0, -1};
  if (pipe(fd)) return r;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    long before = vm_hwm_reset_kib();
    phase_t p = {0, 0, 0, 0, 0, 0, 0, 0};
    double t0 = now_s(), c0 = cpu_s();
    if (which == PH_MAP) { /* what the parent holds once it has the program */
      trc_program_t pr;
      p.rc = trc_program_map(&pr, prog);
      p.n = pr.n_ops;
      p.seconds = now_s() - t0;
      p.cpu = cpu_s() - c0;
      p.rss_kib = vm_hwm_kib() - before;
      trc_program_release(&pr);
      _exit(write(fd[1], &p, sizeof p) == sizeof p ? 0 : 1);
    }
    if (which == PH_HASH) {
      uint64_t h;
      p.rc = trc_file_hash(trace, &h);
    } else if (which == PH_PREPARE) {
      trc_prep_stats_t st;
      trc_prepare_set_decode_ahead(prepare_ahead);
      double m0 = thread_cpu_s();
      p.rc = trc_program_build(trace, prog, &st);
      p.main_cpu = thread_cpu_s() - m0;
      p.n = st.ops;
    } else {
      trc_program_t pr;
      rpl_db_t *d = NULL;
      char why[256] = "";
      int64_t id;
      p.rc = trc_program_map(&pr, prog);
      if (!p.rc) {
        p.n = pr.n_ops;
        p.rc = rpl_db_open(&d, db, why, sizeof why);
        if (!p.rc) {
          rpl_db_set_store_threads(d, store_threads);
          uint64_t h;
          trc_file_hash(trace, &h);
          char wal[512];
          snprintf(wal, sizeof wal, "%s-wal", db);
          wal_watch_t ww = {wal, 0, 0};
          pthread_t wt;
          int watching = pthread_create(&wt, NULL, wal_watch, &ww) == 0;
          t0 = now_s(); /* the store alone */
          c0 = cpu_s();
          double m0 = thread_cpu_s();
          p.rc = rpl_db_trace(d, trace, h, &pr, &id, why, sizeof why);
          p.cpu = cpu_s() - c0;
          p.main_cpu = thread_cpu_s() - m0;
          p.seconds = now_s() - t0;
          ww.stop = 1;
          if (watching) pthread_join(wt, NULL);
          p.wal_bytes = file_bytes(wal);
          if (ww.peak > p.wal_bytes) p.wal_bytes = ww.peak;
          /* The session's next write: the first run begins. */
          rpl_run_info_t ri = {.trace_id = id, .backend = "null",
                               .touch = "none", .per_op = "all",
                               .load_avg = -1};
          int64_t run;
          if (!p.rc) p.rc = rpl_db_run_begin(d, &ri, &run);
          p.wal_after = file_bytes(wal);
        }
        if (p.rc) fprintf(stderr, "bench_store: %s\n", why);
      }
      rpl_db_free(d);
      trc_program_release(&pr);
      p.rss_kib = vm_hwm_kib() - before;
      _exit(write(fd[1], &p, sizeof p) == sizeof p ? 0 : 1);
    }
    p.seconds = now_s() - t0;
    p.cpu = cpu_s() - c0;
    p.rss_kib = vm_hwm_kib() - before;
    _exit(write(fd[1], &p, sizeof p) == sizeof p ? 0 : 1);
  }
  close(fd[1]);
  if (read(fd[0], &r, sizeof r) != sizeof r) r.rc = -1;
  close(fd[0]);
  waitpid(pid, NULL, 0);
  return r;
}

#define MAX_REPEATS 32

int main(int argc, char **argv) {
  double t_start = now_s();
  double mops = argc > 1 ? atof(argv[1]) : 100;
  const char *base = argc > 2 ? argv[2] : "/tmp";
  int repeats = argc > 3 ? atoi(argv[3]) : 3;
  if (repeats < 0 || repeats > MAX_REPEATS) {
    fprintf(stderr, "bench_store: REPEATS must be 0..%d\n", MAX_REPEATS);
    return 2;
  }
  char dir[512];
  snprintf(dir, sizeof dir, "%s/hksim-bench-store-XXXXXX", base);
  if (mops <= 0 || !mkdtemp(dir)) return 1;
  char trace[600], prog[600], db[600];
  snprintf(trace, sizeof trace, "%s/t.hkt", dir);
  snprintf(prog, sizeof prog, "%s/t.hkp", dir);
  snprintf(db, sizeof db, "%s/r.db", dir);
  /* The threads scenario gives about 175 k events per unit of scale. */
  trc_gen_opts_t o = {1, mops * 1e6 / 175e3};
  double g0 = now_s();
  if (trc_gen("threads", trace, &o)) return 1;
  printf("bench_store: threads scenario, scale %.0f, generated in %.1f s "
         "(%.1f MB on disk)\n", o.scale, now_s() - g0, file_bytes(trace) / 1e6);
  double load[1] = {-1};
  getloadavg(load, 1);
  phase_t h = run_phase(PH_HASH, trace, prog, db);
  phase_t p = run_phase(PH_PREPARE, trace, prog, db);
  phase_t m = run_phase(PH_MAP, trace, prog, db);
  phase_t s = run_phase(PH_STORE, trace, prog, db);
  if (h.rc || p.rc || m.rc || s.rc) {
    fprintf(stderr, "bench_store: a phase failed (%d %d %d %d)\n", h.rc, p.rc,
            m.rc, s.rc);
    return 1;
  }
  uint64_t n = p.n, dbb = file_bytes(db);
  printf("  ops: %llu; load average %.1f on %ld CPUs when the phases began\n",
         (unsigned long long)n, load[0], sysconf(_SC_NPROCESSORS_ONLN));
  printf("  %-10s %8s %12s %8s %12s  %s\n", "phase", "wall s", "M ops/s",
         "CPU s", "M ops/s CPU", "peak RSS added");
  const phase_t *ph[] = {&h, &p, &m, &s};
  const char *names[] = {"hash", "prepare", "map+check", "store"};
  for (int i = 0; i < 4; i++)
    printf("  %-10s %8.2f %12.2f %8.2f %12.2f  %7.1f MiB\n", names[i],
           ph[i]->seconds, n / ph[i]->seconds / 1e6, ph[i]->cpu,
           ph[i]->cpu > 0 ? n / ph[i]->cpu / 1e6 : 0, ph[i]->rss_kib / 1024.0);
  printf("  program %.1f B/op; database %.2f B/op (%.1f MB), WAL at its "
         "largest %.2f B/op (%.1f MB), %.1f MB once the first run begins\n",
         (double)file_bytes(prog) / (double)n, (double)dbb / (double)n,
         dbb / 1e6, (double)s.wal_bytes / (double)n, s.wal_bytes / 1e6,
         s.wal_after / 1e6);
  double rate = n / s.seconds / 1e6, rate_cpu = n / s.cpu / 1e6;
  /* The store before and after its coding went to worker threads, side by
   * side: rounds alternate which goes first, each into a new database. */
  if (repeats > 0) {
    double wall[2][MAX_REPEATS], cpu[2][MAX_REPEATS], mcpu[2][MAX_REPEATS];
    double ratio[MAX_REPEATS];
    const int threads[2] = {0, -1};
    getloadavg(load, 1);
    for (int r = 0; r < repeats; r++)
      for (int k = 0; k < 2; k++) {
        int v = r % 2 ? 1 - k : k;
        remove_db(db);
        store_threads = threads[v];
        phase_t x = run_phase(PH_STORE, trace, prog, db);
        if (x.rc) {
          fprintf(stderr, "bench_store: store A/B failed (%d)\n", x.rc);
          return 1;
        }
        wall[v][r] = n / x.seconds / 1e6;
        cpu[v][r] = n / x.cpu / 1e6;
        mcpu[v][r] = n / x.main_cpu / 1e6;
      }
    for (int r = 0; r < repeats; r++) ratio[r] = wall[1][r] / wall[0][r];
    printf("  store A/B, %d interleaved rounds (load average %.1f at the "
           "start), M ops/s median (min..max):\n", repeats, load[0]);
    const char *what[2] = {"coded on the inserting thread (before)",
                           "coded by worker threads (after)"};
    double med[2];
    for (int v = 0; v < 2; v++) {
      double lo, hi;
      med[v] = bench_median(wall[v], repeats, &lo, &hi);
      printf("    %-40s wall %6.2f (%.2f..%.2f)  CPU %6.2f, inserting "
             "thread's CPU %6.2f\n", what[v], med[v], lo, hi,
             bench_median(cpu[v], repeats, NULL, NULL),
             bench_median(mcpu[v], repeats, NULL, NULL));
    }
    printf("    after / before: %.2fx wall (median of the rounds' ratios); "
           "the inserting thread's CPU bounds the rate where workers get "
           "cores of their own\n", bench_median(ratio, repeats, NULL, NULL));
    rate = med[1];
    /* Prepare before and after its chunks were decoded ahead on a second
     * thread, likewise interleaved. */
    double pw[2][MAX_REPEATS], pc[2][MAX_REPEATS], pratio[MAX_REPEATS];
    double pm[2][MAX_REPEATS];
    getloadavg(load, 1);
    for (int r = 0; r < repeats; r++) {
      for (int k = 0; k < 2; k++) {
        int v = r % 2 ? 1 - k : k;
        prepare_ahead = v;
        phase_t x = run_phase(PH_PREPARE, trace, prog, db);
        if (x.rc) {
          fprintf(stderr, "bench_store: prepare A/B failed (%d)\n", x.rc);
          return 1;
        }
        pw[v][r] = n / x.seconds / 1e6;
        pc[v][r] = n / x.cpu / 1e6;
        pm[v][r] = n / x.main_cpu / 1e6;
      }
      pratio[r] = pw[1][r] / pw[0][r];
    }
    prepare_ahead = -1;
    printf("  prepare A/B, %d interleaved rounds (load average %.1f at the "
           "start), M ops/s median (min..max):\n", repeats, load[0]);
    const char *pwhat[2] = {"decoded on prepare's thread (before)",
                            "decoded ahead on a second thread (after)"};
    for (int v = 0; v < 2; v++) {
      double lo, hi, pwm = bench_median(pw[v], repeats, &lo, &hi);
      printf("    %-40s wall %6.2f (%.2f..%.2f)  CPU %6.2f, prepare's own "
             "thread's CPU %6.2f\n", pwhat[v], pwm, lo, hi,
             bench_median(pc[v], repeats, NULL, NULL),
             bench_median(pm[v], repeats, NULL, NULL));
    }
    printf("    after / before: %.2fx wall (median of the rounds' ratios); "
           "prepare's own thread's CPU bounds the rate where the decoder "
           "gets a core of its own\n", bench_median(pratio, repeats, NULL, NULL));
  }
  printf("  goals (issue 16): store >= 10 M ops/s: %.2f M ops/s wall, %.2f "
         "M ops/s CPU; <= 8 B/op stored: %.2f B/op; WAL bounded while "
         "storing: %.1f MB at its largest against %.1f MB of stored trace\n",
         rate, rate_cpu, (double)dbb / (double)n, s.wal_bytes / 1e6,
         dbb / 1e6);
  printf("took %.1f s; reproduce: build/bench/bench_store %g %s %d\n",
         now_s() - t_start, mops, base, repeats);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) ? 1 : 0;
}
