/* bench_replay.c: what the replayer costs and what it measures. (1) The
 * harness alone: the null back end, no memory touch, per-op timing off
 * (target >= 50 M ops/s) and on; (2) end to end with per-op timing and
 * storage (hksim replay into a fresh database; target >= 2 M ops/s) and the
 * SQLite per-op row rate alone; (3) ns per op of every back end on the json,
 * mir, vm and mixed scenarios side by side, with ratios against mimalloc,
 * and (4) the same on recorded programs given as extra arguments. (2b)
 * prices the fresh process every run starts in (rpl_child.c): runs of a
 * tiny trace re-executed against forked only, interleaved.
 * Not a test: prints numbers, gates nothing.
 * usage: bench_replay [OPS_PER_SCENARIO (default 2000000)] [RECORDED.hkt...]
 * e.g. after `hksim record -o /tmp/py.hkt -- /usr/bin/python3 script.py`:
 *      bench_replay 1000000 /tmp/py.*.hkt */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "replayer.h"
#include "rpl_internal.h"
#include "trc.h"

static const char *const scenarios[] = {"json", "mir", "vm", "mixed"};
#define NS HK_ARRAY_LEN(scenarios)
#define MAX_EXTRA 8 /* recorded traces given on the command line */

static char dir[64];

/* Generates scenario s with about want ops; maps its program. */
static int make(const char *s, uint64_t want, char *trace, char *hkp,
                trc_program_t *p) {
  trc_gen_opts_t g = {.seed = 1, .scale = 1.0};
  trc_prep_stats_t st;
  snprintf(trace, 256, "%s/%s.hkt", dir, s);
  snprintf(hkp, 256, "%s/%s.hkp", dir, s);
  int rc = trc_gen(s, trace, &g);
  if (!rc) rc = trc_program_build(trace, hkp, &st);
  if (rc) return rc;
  g.scale = (double)want / (double)(st.ops ? st.ops : 1);
  if (g.scale < 1) g.scale = 1;
  rc = trc_gen(s, trace, &g);
  if (!rc) rc = trc_program_build(trace, hkp, &st);
  if (!rc) rc = trc_program_map(p, hkp);
  return rc;
}

/* One run in a child; the result comes back through a pipe. */
static int run(const trc_program_t *p, const char *be, rpl_touch_t touch,
               uint32_t every, rpl_result_t *out) {
  int fd[2];
  if (pipe(fd)) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    rpl_exec_cfg_t c = {.backend = rpl_backend_find(be),
                        .be = {.threads = p->n_threads ? p->n_threads : 1,
                               .seed = 1,
                               .policy = strcmp(be, "hakmem") ? NULL : "static",
                               .callers = p->callers.addr,
                               .n_callers = p->callers.n},
                        .touch = touch,
                        .sample_every = every};
    rpl_result_t r;
    int rc = rpl_exec(&c, p->ops, p->n_ops, p->n_slots, &r);
    if (rc && !r.status) r.status = rc;
    r.n_lat = 0; /* the numbers are enough here */
    _exit(rpl_result_write(fd[1], &r) ? 1 : 0);
  }
  close(fd[1]);
  int rc = rpl_result_read(fd[0], out);
  close(fd[0]);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) return -1;
  return rc ? rc : (out->status ? out->status : 0);
}

/* One row of the per-back-end table: ns per op of each back end on p
 * (loop wall time / ops, --touch pages, timing off), the median of a timed
 * run in brackets, the ratio to the first back end. */
static void backend_row(const char *name, const trc_program_t *p,
                        const char *const *bes, size_t nb, const char *note) {
  printf("   %-8.24s", name);
  double base = 0;
  for (size_t b = 0; b < nb; b++) {
    rpl_result_t a, t;
    char cell[64];
    if (run(p, bes[b], RPL_TOUCH_PAGES, 0, &a) ||
        run(p, bes[b], RPL_TOUCH_PAGES, 1, &t)) {
      snprintf(cell, sizeof cell, "n/a");
    } else {
      double ns = (double)a.total_ns / (double)a.ops;
      if (b == 0) base = ns;
      snprintf(cell, sizeof cell, "%.1f [%.0f] x%.2f", ns, t.median_ns,
               base > 0 ? ns / base : 0);
      rpl_result_release(&a);
      rpl_result_release(&t);
    }
    printf(" %22s", cell);
  }
  printf("   (%llu ops%s)\n", (unsigned long long)p->n_ops, note);
}

/* (2b) What the fresh child of every run costs: rounds x (N runs of a
 * 2-op trace re-executed, N runs forked only: HKSIM_REPLAY_INPROCESS=1),
 * alternating, the per-run wall time of the session and the children's
 * CPU time (RUSAGE_CHILDREN), median and range over the rounds. */
static void fresh_child_cost(const char *db) {
  enum { ROUNDS = 7, RUNS = 10 };
  char tr[300];
  snprintf(tr, sizeof tr, "%s/tiny.hkt", dir);
  trc_gen_opts_t g = {.seed = 1, .scale = 0.01};
  if (trc_gen("json", tr, &g)) return;
  const char *trs[] = {tr}, *be[] = {"null"}, *pol[] = {"static"};
  rpl_opts_t o = {.traces = trs, .n_traces = 1, .db_path = db,
                  .backends = be, .n_backends = 1, .policies = pol,
                  .n_policies = 1, .seed = 1, .touch = RPL_TOUCH_NONE,
                  .sample_every = 0, .repeat = RUNS, .progress = 0};
  double wall[2][ROUNDS], cpu[2][ROUNDS];
  int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
  fflush(stdout);
  dup2(devnull, 1);
  rpl_report_t rep;
  rpl_replay(&o, &rep); /* the trace stored, caches warm */
  for (int r = 0; r < ROUNDS; r++)
    for (int m = 0; m < 2; m++) {
      if (m) setenv("HKSIM_REPLAY_INPROCESS", "1", 1);
      else unsetenv("HKSIM_REPLAY_INPROCESS");
      double c0 = children_cpu_s(), t0 = now_s();
      rpl_replay(&o, &rep);
      wall[m][r] = (now_s() - t0) * 1e3 / RUNS;
      cpu[m][r] = (children_cpu_s() - c0) * 1e3 / RUNS;
    }
  unsetenv("HKSIM_REPLAY_INPROCESS");
  fflush(stdout);
  dup2(saved, 1);
  close(devnull);
  close(saved);
  unlink(tr);
  double load = -1;
  if (getloadavg(&load, 1) != 1) load = -1;
  printf("2b. a fresh process per run (re-executed child) against forked "
         "only, %d rounds x %d runs of a 2-op trace, interleaved; ms per "
         "run, median [min..max], load %.1f\n",
         ROUNDS, RUNS, load);
  static const char *const what[] = {"re-executed", "forked only"};
  double med[2][2];
  for (int m = 0; m < 2; m++) {
    double wlo, whi, clo, chi;
    med[m][0] = bench_median(wall[m], ROUNDS, &wlo, &whi);
    med[m][1] = bench_median(cpu[m], ROUNDS, &clo, &chi);
    printf("   %-12s wall %7.2f [%.2f..%.2f]   child CPU %6.2f [%.2f..%.2f]\n",
           what[m], med[m][0], wlo, whi, med[m][1], clo, chi);
  }
  printf("   the exec adds %.2f ms wall and %.2f ms of child CPU per run "
         "(medians)\n\n", med[0][0] - med[1][0], med[0][1] - med[1][1]);
}

static void reexec_for_jemalloc(char **argv) {
  if (getenv("GLIBC_TUNABLES")) return;
  setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536", 1);
  execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
  reexec_for_jemalloc(argv);
  uint64_t want = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
  strcpy(dir, "/tmp/bench_replay-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  char trace[NS][256], hkp[NS][256];
  trc_program_t prog[NS];
  uint64_t total_ops = 0;
  for (size_t s = 0; s < NS; s++) {
    int rc = make(scenarios[s], want, trace[s], hkp[s], &prog[s]);
    if (rc) {
      fprintf(stderr, "bench_replay: %s: %s\n", scenarios[s], hk_strerror(rc));
      return 1;
    }
    total_ops += prog[s].n_ops;
  }
  printf("bench_replay: %llu ops per scenario asked; reproduce with: "
         "build/bench/bench_replay %llu [RECORDED.hkt...]\n\n",
         (unsigned long long)want, (unsigned long long)want);

  /* (1) the harness alone */
  printf("1. harness (null back end, --touch none)\n");
  printf("   %-8s %10s %14s %12s %14s %12s\n", "scenario", "ops",
         "untimed Mops/s", "ns/op", "timed Mops/s", "ns/op");
  for (size_t s = 0; s < NS; s++) {
    rpl_result_t a, b;
    if (run(&prog[s], "null", RPL_TOUCH_NONE, 0, &a) ||
        run(&prog[s], "null", RPL_TOUCH_NONE, 1, &b)) {
      printf("   %s: run failed\n", scenarios[s]);
      continue;
    }
    printf("   %-8s %10llu %14.1f %12.2f %14.1f %12.2f\n", scenarios[s],
           (unsigned long long)a.ops, a.ops * 1e3 / (double)a.total_ns,
           (double)a.total_ns / (double)a.ops, b.ops * 1e3 / (double)b.total_ns,
           (double)b.total_ns / (double)b.ops);
    rpl_result_release(&a);
    rpl_result_release(&b);
  }
  printf("   target: >= 50 Mops/s untimed (<= 5 ns/op harness overhead is "
         "the budget with a real back end)\n\n");

  /* (2) end to end, with per-op timing and storage */
  printf("2. end to end: hksim replay --backend null --touch none --per-op "
         "all, fresh database\n");
  char db[300];
  snprintf(db, sizeof db, "%s/bench.db", dir);
  const char *tr[NS];
  for (size_t s = 0; s < NS; s++) tr[s] = trace[s];
  const char *be[] = {"null"}, *pol[] = {"static"};
  rpl_opts_t o = {.traces = tr, .n_traces = NS, .db_path = db,
                  .backends = be, .n_backends = 1, .policies = pol,
                  .n_policies = 1, .seed = 1, .touch = RPL_TOUCH_NONE,
                  .sample_every = 1, .repeat = 1, .progress = 0};
  rpl_report_t rep;
  int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
  fflush(stdout);
  dup2(devnull, 1); /* the per-run lines */
  uint64_t t0 = hk_now_ns();
  int rc = rpl_replay(&o, &rep);
  double first = (double)(hk_now_ns() - t0) / 1e9;
  t0 = hk_now_ns();
  int rc2 = rpl_replay(&o, &rep); /* traces already stored: runs only */
  double again = (double)(hk_now_ns() - t0) / 1e9;
  fflush(stdout);
  dup2(saved, 1);
  close(devnull);
  close(saved);
  printf("   %llu ops in %.3f s with the traces stored: %.2f Mops/s\n",
         (unsigned long long)total_ops, first, total_ops / first / 1e6);
  printf("   %llu ops in %.3f s appending runs only:   %.2f Mops/s  (rc %d/%d)\n",
         (unsigned long long)total_ops, again, total_ops / again / 1e6, rc,
         rc2);
  /* The row rate of the sink alone. */
  rpl_db_t *d;
  char why[256];
  if (rpl_db_open(&d, db, why, sizeof why) == 0) {
    rpl_result_t r;
    memset(&r, 0, sizeof r);
    r.n_lat = 4000000;
    r.lat = rpl_map(r.n_lat * 4, 1);
    for (uint64_t k = 0; k < r.n_lat; k++) r.lat[k] = (uint32_t)(20 + k % 97);
    r.sample_every = 1;
    r.timed = r.n_lat;
    rpl_run_info_t ri = {.trace_id = 1, .backend = "null", .seed = 1,
                         .touch = "none", .per_op = "all"};
    int64_t id;
    rpl_db_run_begin(d, &ri, &id);
    t0 = hk_now_ns();
    rc = rpl_db_run_finish(d, id, &r);
    double sec = (double)(hk_now_ns() - t0) / 1e9;
    printf("   SQLite sink alone: %llu per-op rows in %.3f s: %.2f M rows/s "
           "(rc %d)\n",
           (unsigned long long)r.n_lat, sec, r.n_lat / sec / 1e6, rc);
    rpl_unmap(r.lat, r.n_lat * 4);
    rpl_db_free(d);
  }
  printf("   target: >= 2 M ops/s end to end\n\n");
  fresh_child_cost(db);

  /* (3) back ends side by side */
  static const char *const bes[] = {"mimalloc", "hakmem", "glibc",
                                    "jemalloc", "tcmalloc"};
  printf("3. ns per op (loop wall time / ops, --touch pages, per-op timing "
         "off); median of timed ops in brackets; ratio vs mimalloc\n");
  printf("   %-8s", "scenario");
  for (size_t b = 0; b < HK_ARRAY_LEN(bes); b++) printf(" %22s", bes[b]);
  printf("\n");
  for (size_t s = 0; s < NS; s++)
    backend_row(scenarios[s], &prog[s], bes, HK_ARRAY_LEN(bes), "");
  for (size_t s = 0; s < NS; s++) {
    trc_program_release(&prog[s]);
    unlink(trace[s]);
    unlink(hkp[s]);
  }
  /* (4) the same on recorded programs, if any were given */
  for (int x = 2; x < argc && x < 2 + MAX_EXTRA; x++) {
    char xh[300];
    snprintf(xh, sizeof xh, "%s/extra-%d.hkp", dir, x);
    trc_prep_stats_t st;
    trc_program_t xp;
    int xrc = trc_program_build(argv[x], xh, &st);
    if (!xrc) xrc = trc_program_map(&xp, xh);
    const char *name = strrchr(argv[x], '/');
    name = name ? name + 1 : argv[x];
    if (xrc) {
      printf("   %s: %s\n", name, hk_strerror(xrc));
      unlink(xh);
      continue;
    }
    backend_row(name, &xp, bes, HK_ARRAY_LEN(bes), ", recorded");
    trc_program_release(&xp);
    unlink(xh);
  }
  unlink(db);
  char w[320];
  snprintf(w, sizeof w, "%s-wal", db);
  unlink(w);
  snprintf(w, sizeof w, "%s-shm", db);
  unlink(w);
  rmdir(dir);
  return 0;
}
