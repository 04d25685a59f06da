/* rpl_replay.c: a whole `hksim replay`. Checks the names, opens the
 * database, prepares each trace once into a temporary .hkp and stores it,
 * then forks one child per (trace, back end, policy, repeat), repeats
 * interleaved (every configuration once, in a seeded order, before the
 * next repeat) and numbered on from those already stored: the child
 * re-executes this program as a fresh process (rpl_child.c), replays
 * (rpl_exec) and writes its result to a file; the parent alone writes
 * SQLite, so a child that crashes leaves a failed run and nothing else. */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "hk_progress.h"
#include "hk_rng.h"
#include "rpl_internal.h"

typedef struct session {
  const rpl_opts_t *o;
  rpl_report_t *rep;
  rpl_db_t *db;
  uint64_t tsc_hz;           /* 0 until the first run needs it */
  uint64_t cal_tsc, cal_ns;  /* calibration start (see session_tsc_hz) */
  char tmp[256];
  char cache[256];           /* "" when prepared programs are not cached */
  volatile uint64_t *progress; /* shared with the children */
  int progress_fd;             /* its memfd (crosses the exec), -1 none */
  /* HKSIM_REPLAY_INPROCESS=1: the forked child replays without
   * re-executing, inheriting the session's glibc state (the harness
   * before issue 11's fix; kept to measure what the exec costs). */
  int inprocess;
  int show;                    /* progress bar on stderr */
  uint64_t runs_total, runs_started;
  uint64_t t_start;
  uint64_t crash_after;
  const char *crash_backend;
  char overrides[512];
  char per_op[32];
  /* --shard: owner[run index] of the canonical matrix (run_index()); NULL
   * when this session makes every run. */
  uint32_t *owner;
  size_t np_max;
  char shard[24];
  uint64_t mem_limit;        /* bytes a run may hold; 0: no cap */
  hk_progress_t bar;         /* the phase before a trace's runs */
  uint64_t est_events;       /* the trace being prepared (weigh_trace) */
  char mem_how[96];          /* where the cap comes from, for messages */
} session_t;

/* Index of run (trace t, back end b, policy p, repeat r) in the canonical
 * matrix; back ends without policies use p = 0 only. */
static size_t run_index(const session_t *S, size_t t, size_t b, size_t p,
                        uint32_t r) {
  return ((t * S->o->n_backends + b) * S->np_max + p) * S->o->repeat + r;
}

static int owns(const session_t *S, size_t t, size_t b, size_t p, uint32_t r) {
  return !S->owner || S->owner[run_index(S, t, b, p, r)] == S->o->shard_index;
}

static void report(const session_t *S, const char *what, const char *fmt, ...)
    HK_PRINTF(3, 4);
static uint64_t session_tsc_hz(session_t *S);
static void report(const session_t *S, const char *what, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (S->show) fputs("\r\033[K", stderr);
  if (S->o->on_error)
    S->o->on_error(S->o->err_ctx, what, msg);
  else if (what)
    fprintf(stderr, "hksim: %s: %s\n", what, msg);
  else
    fprintf(stderr, "hksim: %s\n", msg);
}

/* ---- progress --------------------------------------------------------- */

static void progress_bar(session_t *S, const char *trace, const char *label,
                         uint64_t done, uint64_t total, uint64_t run_t0) {
  double el = (double)(hk_now_ns() - run_t0) / 1e9;
  double rate = el > 0 ? (double)done / el : 0;
  double left = rate > 0 ? (double)(total - done) / rate : 0;
  /* Runs still to come are assumed to take as long as this one. */
  uint64_t later = S->runs_total - S->runs_started;
  if (rate > 0) left += (double)later * (double)total / rate;
  int w = 24, fill = total ? (int)((double)w * (double)done / (double)total) : 0;
  char bar[32];
  for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
  bar[w] = 0;
  fprintf(stderr,
          "\r\033[K[%llu/%llu] %.24s %-16s [%s] %llu/%llu ops %.1f Mops/s "
          "left %d:%02d",
          (unsigned long long)S->runs_started,
          (unsigned long long)S->runs_total, trace, label, bar,
          (unsigned long long)done, (unsigned long long)total, rate / 1e6,
          (int)(left / 60), (int)left % 60);
}

/* ---- interruption ----------------------------------------------------- */

/* SIGINT or SIGTERM received (the signal number), 0 if none. The handler
 * only records it: the run in progress is killed and marked failed, and
 * the session ends cleanly, from the main flow. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  if (!interrupted) interrupted = sig;
}

/* Removes the session's temporary directory and whatever is left in it. */
static void remove_tmp(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char p[600];
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
      }
    closedir(d);
  }
  rmdir(dir);
}

/* What a session does before a trace's first run (hash, prepare, store)
 * takes minutes on a long trace: one line per phase, so the bar never sits
 * at "0/N ops" through it. t0 == 0: the phase starts (a transient line);
 * else it ended, and its time and rate stay on screen. */
static void phase_line(const session_t *S, const char *path, const char *what,
                       uint64_t ops, uint64_t t0) {
  if (!S->show) return;
  const char *name = strrchr(path, '/');
  name = name ? name + 1 : path;
  if (!t0) {
    fprintf(stderr, "\r\033[K%.40s: %s", name, what);
    if (ops) fprintf(stderr, " %llu ops", (unsigned long long)ops);
    fputs("...", stderr);
    return;
  }
  double s = (double)(hk_now_ns() - t0) / 1e9;
  fprintf(stderr, "\r\033[K%.40s: %s", name, what);
  if (ops)
    fprintf(stderr, " %llu ops in %.2f s (%.2f M ops/s)\n",
            (unsigned long long)ops, s, s > 0 ? (double)ops / s / 1e6 : 0.0);
  else
    fprintf(stderr, " in %.2f s\n", s);
}

/* ---- one run ---------------------------------------------------------- */

static void describe_status(const session_t *S, int st, char *buf,
                            size_t len) {
  if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && S->mem_limit) {
    char lim[32];
    rpl_size_text(S->mem_limit, lim, sizeof lim);
    snprintf(buf, len,
             "replay child killed by signal 9 (Killed): most likely the "
             "kernel's OOM killer, memory ran out before --mem-limit %s",
             lim);
  } else if (WIFSIGNALED(st))
    snprintf(buf, len, "replay child killed by signal %d (%s)", WTERMSIG(st),
             strsignal(WTERMSIG(st)));
  else if (WIFEXITED(st))
    snprintf(buf, len, "replay child exited with status %d", WEXITSTATUS(st));
  else
    snprintf(buf, len, "replay child ended oddly (status %#x)", st);
}

/* A latency as printed: below 3 timer steps it is a bound ("< 30"), never a
 * figure to compare, rounded up as hksim report does. Batched and per-iteration spans
 * hold many steps, so they print as measured. */
static const char *fmt_ns(char *buf, size_t len, double v, double bound) {
  if (bound > 0 && v < bound)
    snprintf(buf, len, "< %llu", (unsigned long long)(bound + 0.999));
  else
    snprintf(buf, len, "%6.1f", v);
  return buf;
}

static void print_run(const char *trace, const char *label, int64_t run_id,
                      const rpl_result_t *r) {
  char lat[80] = "per-op timing off", med[16], p99[16];
  double bound = r->span == RPL_SPAN_NONE ? 3 * r->timer_resolution_ns : 0;
  if (r->timed)
    snprintf(lat, sizeof lat, "median %6s ns  p99 %7s ns%s",
             fmt_ns(med, sizeof med, r->median_ns, bound),
             fmt_ns(p99, sizeof p99, r->p99_ns, bound),
             r->span == RPL_SPAN_ITERATION ? " /iter"
             : r->span == RPL_SPAN_BATCH   ? " /op (batch)"
                                           : "");
  /* How the run replayed (--threads auto resolves per trace and back end),
   * as runs.replay_threads stores it. */
  char thr[24] = "serial";
  if (r->replay_threads > 1)
    snprintf(thr, sizeof thr, "threads %u", r->replay_threads);
  printf("run %-4lld %-20.20s %-16s done  ops %-10llu %s  total %9.3f ms  "
         "digest %.12s  %s\n",
         (long long)run_id, trace, label, (unsigned long long)r->ops, lat,
         (double)r->total_ns / 1e6, r->digest, thr);
  fflush(stdout);
}

static int one_run(session_t *S, const trc_program_t *prog, int prog_fd,
                   const char *trace, int64_t trace_id, const char *warning, const rpl_backend_t *be,
                   const char *be_name, const char *policy, uint32_t repeat) {
  const rpl_opts_t *o = S->o;
  char label[64];
  snprintf(label, sizeof label, "%s%s%s", be_name, policy ? "/" : "",
           policy ? policy : "");
  double load = -1;
  if (getloadavg(&load, 1) != 1) load = -1;
  rpl_run_info_t ri = {.trace_id = trace_id,
                       .backend = be_name,
                       .policy = policy,
                       .seed = o->seed,
                       .touch = rpl_touch_name(o->touch),
                       .per_op = S->per_op,
                       .options = o->options_text,
                       .overrides = S->overrides[0] ? S->overrides : NULL,
                       .shard = S->shard[0] ? S->shard : NULL,
                       .repeat = repeat,
                       .load_avg = load,
                       .cpus = sysconf(_SC_NPROCESSORS_ONLN),
                       .warning = warning};
  int64_t run_id;
  if (rpl_db_run_begin(S->db, &ri, &run_id)) {
    report(S, o->db_path, "%s", rpl_db_errmsg(S->db));
    return HK_E_SQLITE;
  }
  S->runs_started++;

  char rpath[300];
  snprintf(rpath, sizeof rpath, "%s/run-%lld.res", S->tmp, (long long)run_id);
  int fd = open(rpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    char err[400];
    snprintf(err, sizeof err, "cannot create %s: %s", rpath, strerror(errno));
    rpl_db_run_fail(S->db, run_id, err);
    S->rep->runs_failed++;
    report(S, rpath, "%s", strerror(errno));
    return -errno;
  }

  rpl_exec_cfg_t cfg = {.backend = be,
                        .be = {.threads = prog->n_threads ? prog->n_threads : 1,
                               .seed = o->seed,
                               .policy = policy,
                               .overrides = o->overrides,
                               .n_overrides = o->n_overrides,
                               .callers = prog->callers.addr,
                               .n_callers = prog->callers.n,
                               .arg = be_name},
                        .touch = o->touch,
                        .sample_every = o->sample_every,
                        .span = o->span,
                        .batch_k = o->batch_k,
                        .rss_every = o->rss_every,
                        .tsc_hz = session_tsc_hz(S),
                        .threaded = rpl_threads_resolve(
                            o->threads, be, prog->n_threads, o->span),
                        .gap_scale = o->gap_scale,
                        .gap_ws = o->gap_ws,
                        .progress = S->progress,
                        .mem_limit = S->mem_limit};
  if (cfg.rss_every == 0) { /* auto: about 256 samples a run */
    cfg.rss_every = prog->n_ops / 256;
    if (cfg.rss_every < 1024) cfg.rss_every = 1024;
    if (cfg.rss_every > (1u << 20)) cfg.rss_every = 1u << 20;
  }
  if (S->crash_after &&
      (!S->crash_backend || strcmp(S->crash_backend, be->name) == 0))
    cfg.crash_after = S->crash_after;
  *S->progress = 0;
  fflush(stdout);
  fflush(stderr);
  uint64_t t0 = hk_now_ns();
  /* The child inherits this process's resident memory and its peak RSS
   * would count it: give SQLite's page cache and freed heap back first. */
  rpl_db_shrink(S->db);
  malloc_trim(0);
  pid_t pid = fork();
  if (pid < 0) {
    char err[200];
    snprintf(err, sizeof err, "fork: %s", strerror(errno));
    rpl_db_run_fail(S->db, run_id, err);
    S->rep->runs_failed++;
    close(fd);
    unlink(rpath);
    return -errno;
  }
  if (pid == 0) {
    /* The child: never touches the database; ends with _exit so that no
     * parent state (SQLite, stdio buffers) is flushed or closed twice.
     * A ^C reaches it too and ends it at once. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    rpl_result_t res;
    char why[200];
    /* A fresh process replays: the recorded program started with a
     * pristine glibc, and this one's heap and mmap threshold are the
     * session's (SQLite's frees raise the threshold). Only if the exec
     * fails does the replay run here, saying so. */
    if (!S->inprocess) {
      int xrc = rpl_child_exec(&cfg, prog, prog_fd, fd, S->progress_fd);
      fprintf(stderr,
              "hksim: %s: cannot re-execute /proc/self/exe for the run (%s): "
              "replaying in the forked process, with the session's glibc "
              "state\n",
              trace, hk_strerror(xrc));
    }
    int rc = rpl_mem_enforce(S->mem_limit, why, sizeof why);
    if (rc) {
      memset(&res, 0, sizeof res);
      res.status = rc;
      snprintf(res.error, sizeof res.error, "memory cap: %s", why);
    } else {
      rc = rpl_exec(&cfg, prog->ops, prog->n_ops, prog->n_slots, &res);
    }
    if (rc < 0 && res.status == 0) {
      res.status = rc;
      snprintf(res.error, sizeof res.error, "replay harness: %s",
               hk_strerror(rc));
    }
    rc = rpl_result_write(fd, &res);
    _exit(rc ? 3 : 0);
  }

  int st = 0, killed = 0;
  for (;;) {
    if (interrupted && !killed) {
      kill(pid, SIGKILL);
      killed = 1;
    }
    pid_t w = waitpid(pid, &st, S->show && !killed ? WNOHANG : 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (S->show) {
      progress_bar(S, trace, label, *S->progress, prog->n_ops, t0);
      usleep(100000);
    }
  }
  if (S->show) fputs("\r\033[K", stderr);

  rpl_result_t res;
  memset(&res, 0, sizeof res);
  int rc = 0;
  if (interrupted && (killed || !WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
    char err[64];
    snprintf(err, sizeof err, "interrupted by %s",
             interrupted == SIGINT ? "SIGINT" : "SIGTERM");
    rc = rpl_db_run_fail(S->db, run_id, err);
    S->rep->runs_failed++;
    S->rep->interrupted_run = run_id;
  } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    char err[256];
    describe_status(S, st, err, sizeof err);
    rc = rpl_db_run_fail(S->db, run_id, err);
    S->rep->runs_failed++;
    report(S, trace, "run %lld (%s) failed: %s", (long long)run_id, label, err);
  } else if (lseek(fd, 0, SEEK_SET) != 0 || (rc = rpl_result_read(fd, &res))) {
    char err[200];
    snprintf(err, sizeof err, "reading the child's result: %s",
             hk_strerror(rc ? rc : -errno));
    rc = rpl_db_run_fail(S->db, run_id, err);
    S->rep->runs_failed++;
    report(S, trace, "run %lld (%s) failed: %s", (long long)run_id, label, err);
  } else {
    rc = rpl_db_run_finish(S->db, run_id, &res);
    if (rc) {
      /* The run's rows are rolled back; it must not stay 'running'. A
       * one-row update often still fits where the rows did not (a full
       * disk); the session stops either way. */
      char err[300];
      snprintf(err, sizeof err, "storing the run: %s", rpl_db_errmsg(S->db));
      report(S, o->db_path, "storing run %lld: %s", (long long)run_id,
             rpl_db_errmsg(S->db));
      rpl_db_run_fail(S->db, run_id, err);
      S->rep->runs_failed++;
    } else if (res.status) {
      S->rep->runs_failed++;
      report(S, trace, "run %lld (%s) failed: %s", (long long)run_id, label,
             res.error);
    } else {
      S->rep->runs_done++;
      print_run(trace, label, run_id, &res);
      if (warning)
        report(S, trace, "run %lld (%s): warning: %s", (long long)run_id,
               label, warning);
    }
  }
  rpl_result_release(&res);
  close(fd);
  unlink(rpath);
  return rc;
}

/* ---- TSC calibration and the program cache ---------------------------- */

/* The TSC rate, measured against CLOCK_MONOTONIC over the whole time since
 * the session started (which covers hashing and preparing the first trace),
 * spinning only for what is missing of 25 ms: clock_gettime's resolution
 * makes that a relative error of a few parts per million, far below the
 * TSC's own granularity per op. */
static uint64_t session_tsc_hz(session_t *S) {
  if (S->tsc_hz) return S->tsc_hz;
  uint64_t n1;
  while ((n1 = hk_now_ns()) - S->cal_ns < 25000000ull) {
  }
  uint64_t t1 = hk_tsc_end();
  S->tsc_hz = (uint64_t)((double)(t1 - S->cal_tsc) * 1e9 / (double)(n1 - S->cal_ns) + 0.5);
  return S->tsc_hz;
}

static void cache_dir_init(session_t *S) {
  const char *d = S->o->cache_dir;
  char buf[256];
  S->cache[0] = 0;
  if (!d) d = getenv("HKSIM_CACHE_DIR");
  if (!d) {
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (x && *x)
      snprintf(buf, sizeof buf, "%s/hksim", x);
    else if (h && *h)
      snprintf(buf, sizeof buf, "%s/.cache/hksim", h);
    else
      return;
    d = buf;
  }
  if (!*d) return;
  /* mkdir -p for the last two components; a failure only disables it. */
  char parent[256];
  snprintf(parent, sizeof parent, "%s", d);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = 0;
    mkdir(parent, 0755);
  }
  if (mkdir(d, 0755) && errno != EEXIST) return;
  if (access(d, W_OK)) return;
  snprintf(S->cache, sizeof S->cache, "%s", d);
}

/* Maps the prepared program of the trace at path (content hash given):
 * from the cache when a valid one is there, else built (into the cache by
 * an atomic rename, or into the session's tmp). *owned tells the caller to
 * unlink prog_path after use. */
static int program_for(session_t *S, const char *path, uint64_t hash,
                       size_t index, trc_program_t *prog, char *prog_path,
                       size_t len, int *owned) {
  *owned = 0;
  if (S->cache[0]) {
    snprintf(prog_path, len, "%s/%016llx.hkp", S->cache, (unsigned long long)hash);
    int mrc = trc_program_map(prog, prog_path);
    if (mrc == 0 && prog->trace_hash == hash) return 0;
    if (mrc == 0) trc_program_release(prog);
    /* A cached program that is there but unusable (damaged on disk, cut
     * short, an older version, another trace's) is rebuilt, never used. */
    if (mrc != -ENOENT)
      report(S, prog_path, "cached prepared program unusable (%s): rebuilding",
             mrc == 0 ? "made from another trace"
             : mrc == HK_E_VERSION ? "another format version"
                                   : hk_strerror(mrc));
    /* Host and pid: tasks on several nodes share the cache directory. */
    char part[400], host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(part, sizeof part, "%s.%s.%d.part", prog_path, host, (int)getpid());
    trc_prep_stats_t ps;
    int rc = trc_program_build_progress(path, part, &ps, &S->bar);
    if (rc == 0 && rename(part, prog_path) == 0) return trc_program_map(prog, prog_path);
    unlink(part);
    if (rc) return rc; /* the trace is bad: no point trying again in tmp */
  }
  snprintf(prog_path, len, "%s/trace-%zu.hkp", S->tmp, index);
  *owned = 1;
  trc_prep_stats_t ps;
  int rc = trc_program_build_progress(path, prog_path, &ps, &S->bar);
  return rc ? rc : trc_program_map(prog, prog_path);
}

/* ---- the traces and the run matrix ----------------------------------- */

/* A trace ready to replay: its program mapped, its row stored. */
typedef struct ready {
  trc_program_t prog;
  char prog_path[300];
  int prog_fd; /* the mapped file, for the runs' children (-1 none) */
  int owned, ok;
  const char *name;
  int64_t trace_id;
  char warning[200]; /* stored with each run (runs.warning); "" none */
} ready_t;

/* Counts the trace's events before preparing it (rpl_cost.c): a trace
 * that decodes to far more than its size suggests, or whose program would
 * not fit on disk, is refused in one line; a long one has its cost said
 * first. */
static int weigh_trace(session_t *S, const char *path, uint64_t hash,
                       int *have_summary) {
  rpl_cost_t cost;
  char why[400];
  int rc = rpl_cost_estimate(path, &cost);
  if (rc) {
    report(S, path, "%s", trc_open_error(path, rc, why, sizeof why));
    return rc;
  }
  /* The program goes to the cache or to tmp; one already cached costs no
   * space (and is not rebuilt). */
  const char *dir = S->cache[0] ? S->cache : S->tmp;
  char cached[400];
  snprintf(cached, sizeof cached, "%s/%016llx.hkp", S->cache,
           (unsigned long long)hash);
  if (S->cache[0] && access(cached, R_OK) == 0) dir = NULL;
  uint64_t mx = S->o->max_expansion;
  mx = mx == UINT64_MAX ? 0 : mx ? mx : RPL_COST_MAX_EXPANSION;
  *have_summary = cost.est.have_summary;
  S->est_events = cost.est.events;
  if (rpl_cost_judge(&cost, mx, dir, why, sizeof why)) {
    report(S, path, "%s", why);
    return HK_E_RANGE;
  }
  if (S->o->progress != 0 &&
      (S->show || cost.est.events >= RPL_COST_NOTE_EVENTS)) {
    rpl_cost_text(&cost, why, sizeof why);
    report(S, path, "%s", why);
  }
  return 0;
}

static int prepare_trace(session_t *S, const char *path, size_t index,
                         ready_t *t) {
  const rpl_opts_t *o = S->o;
  int mine = 0; /* runs of this trace in this shard: none, nothing to do */
  for (size_t b = 0; b < o->n_backends; b++)
    for (size_t p = 0; p < S->np_max; p++)
      for (uint32_t r = 0; r < o->repeat; r++)
        mine |= owns(S, index, b, p, r);
  if (!mine) return 0;
  uint64_t hash, t_phase = hk_now_ns();
  phase_line(S, path, "hashing", 0, 0);
  int rc = trc_file_hash(path, &hash);
  if (rc) {
    report(S, path, "%s", hk_strerror(rc));
    S->rep->traces_bad++;
    return rc;
  }
  phase_line(S, path, "hashed", 0, t_phase);
  int have_summary = 0;
  rc = weigh_trace(S, path, hash, &have_summary);
  if (rc) {
    S->rep->traces_bad++;
    return rc;
  }
  t_phase = hk_now_ns();
  /* Prepare and store: a count of ops and an ETA (hk_progress), not a
   * silent minute. */
  hk_progress_begin(&S->bar, S->show, path, "preparing", "ops",
                    S->est_events);
  rc = program_for(S, path, hash, index, &t->prog, t->prog_path,
                   sizeof t->prog_path, &t->owned);
  if (rc) {
    char why[160];
    report(S, path, "%s", trc_open_error(path, rc, why, sizeof why));
    if (t->owned) unlink(t->prog_path);
    S->rep->traces_bad++;
    return rc;
  }
  uint64_t need = rpl_mem_need(&t->prog, o->span ? 1 : o->sample_every);
  if (S->mem_limit && need > S->mem_limit) {
    char nb[32], lb[32], pl[32];
    rpl_size_text(need, nb, sizeof nb);
    rpl_size_text(S->mem_limit, lb, sizeof lb);
    rpl_size_text(t->prog.stats.peak_live_bytes, pl, sizeof pl);
    report(S, path,
           "needs %s (peak live bytes %s plus the harness), more than "
           "--mem-limit %s%s: not replayed",
           nb, pl, lb, S->mem_how);
    trc_program_release(&t->prog);
    if (t->owned) unlink(t->prog_path);
    S->rep->traces_bad++;
    return HK_E_NOMEM;
  }
  if (t->prog.stats.damaged && t->prog.n_ops == 0) {
    report(S, path, "damaged from offset %llu, with no readable op before "
           "it: not replayed", (unsigned long long)t->prog.stats.damage_offset);
    trc_program_release(&t->prog);
    if (t->owned) unlink(t->prog_path);
    S->rep->traces_bad++;
    return HK_E_TRUNCATED;
  }
  /* A damaged or cut-short trace replays what is readable; every run of
   * it carries the warning (runs.warning, and a line after the run), so a
   * partial run is never read as a whole one. */
  if (t->prog.stats.damaged)
    snprintf(t->warning, sizeof t->warning,
             "trace damaged from offset %llu: only the %llu ops before it "
             "replayed", (unsigned long long)t->prog.stats.damage_offset,
             (unsigned long long)t->prog.n_ops);
  else if (!have_summary)
    snprintf(t->warning, sizeof t->warning,
             "trace has no end-of-trace summary (the recording was cut "
             "short): its %llu ops replayed, the rest never recorded",
             (unsigned long long)t->prog.n_ops);
  if (t->warning[0]) report(S, path, "%s", t->warning);
  char why[300];
  hk_progress_end(&S->bar, t->prog.n_ops);
  t_phase = hk_now_ns();
  hk_progress_begin(&S->bar, S->show, path, "storing", "ops", t->prog.n_ops);
  rpl_db_set_progress(S->db, &S->bar);
  rc = rpl_db_trace(S->db, path, hash, &t->prog, &t->trace_id, why, sizeof why);
  rpl_db_set_progress(S->db, NULL);
  if (!rc) hk_progress_end(&S->bar, t->prog.n_ops);
  if (rc) {
    report(S, o->db_path, "%s", why);
    trc_program_release(&t->prog);
    if (t->owned) unlink(t->prog_path);
    return rc;
  }
  const char *name = strrchr(path, '/');
  t->name = name ? name + 1 : path;
  /* The children map the program from this fd (the file the parent
   * checked; a cache entry renamed over meanwhile holds the same bytes).
   * Without it a child replays in the forked process. */
  t->prog_fd = open(t->prog_path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (t->prog_fd >= 0 &&
      (fstat(t->prog_fd, &sb) || (size_t)sb.st_size != t->prog.map_len_)) {
    close(t->prog_fd);
    t->prog_fd = -1;
  }
  t->ok = 1;
  return 0;
}

static void release_trace(ready_t *t) {
  if (!t->ok) return;
  if (t->prog_fd >= 0) close(t->prog_fd);
  trc_program_release(&t->prog);
  if (t->owned) unlink(t->prog_path);
  t->ok = 0;
}

/* One cell of the run matrix: a (trace, back end, policy), and the repeat
 * number its first run of this session gets (repeats continue from those
 * already stored; a shard's database starts at 0, so merged shards keep
 * the matrix's numbering). */
typedef struct cell {
  uint32_t trace, backend, policy;
  uint32_t base;
} cell_t;

/* The order of the cells within repeat r: a Fisher-Yates shuffle drawn
 * from the seed and r, so that drift of the machine over a session does
 * not always favour the configuration that runs first, and the same
 * command gives the same order. */
void rpl_repeat_order(uint64_t seed, uint32_t r, uint32_t *idx, size_t n) {
  for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
  hk_rng_t g;
  hk_rng_init(&g, seed ^ (0x5eed0000ull + r) * 0x9e3779b97f4a7c15ull);
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)hk_rng_below(&g, i);
    uint32_t x = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = x;
  }
}

/* Every cell once per repeat, repeat after repeat (interleaved): a slow
 * spell of the machine then touches every configuration alike instead of
 * the repeats of one. */
static int run_matrix(session_t *S, ready_t *tr, size_t n_traces) {
  const rpl_opts_t *o = S->o;
  size_t n = 0;
  for (size_t t = 0; t < n_traces; t++)
    for (size_t b = 0; tr[t].ok && b < o->n_backends; b++)
      n += rpl_backend_find(o->backends[b])->takes_policy ? o->n_policies : 1;
  cell_t *cells = calloc(n ? n : 1, sizeof *cells);
  uint32_t *idx = calloc(n ? n : 1, sizeof *idx);
  if (!cells || !idx) {
    free(cells);
    free(idx);
    return HK_E_NOMEM;
  }
  size_t k = 0;
  for (size_t t = 0; t < n_traces; t++)
    for (size_t b = 0; tr[t].ok && b < o->n_backends; b++) {
      const rpl_backend_t *be = rpl_backend_find(o->backends[b]);
      size_t np = be->takes_policy ? o->n_policies : 1;
      for (size_t p = 0; p < np; p++) {
        rpl_run_info_t ri = {.trace_id = tr[t].trace_id,
                             .backend = o->backends[b],
                             .policy = be->takes_policy ? o->policies[p] : NULL,
                             .seed = o->seed,
                             .touch = rpl_touch_name(o->touch),
                             .per_op = S->per_op};
        int64_t base = rpl_db_next_repeat(S->db, &ri);
        if (base < 0) {
          report(S, o->db_path, "%s", rpl_db_errmsg(S->db));
          free(cells);
          free(idx);
          return HK_E_SQLITE;
        }
        cells[k++] = (cell_t){(uint32_t)t, (uint32_t)b, (uint32_t)p,
                              (uint32_t)base};
      }
    }
  int rc = 0;
  for (uint32_t r = 0; r < o->repeat && !rc && !interrupted; r++) {
    rpl_repeat_order(o->seed, r, idx, n);
    for (size_t i = 0; i < n && !rc && !interrupted; i++) {
      const cell_t *c = &cells[idx[i]];
      if (!owns(S, c->trace, c->backend, c->policy, r)) continue;
      const rpl_backend_t *be = rpl_backend_find(o->backends[c->backend]);
      ready_t *t = &tr[c->trace];
      rc = one_run(S, &t->prog, t->prog_fd, t->name, t->trace_id,
                   t->warning[0] ? t->warning : NULL, be,
                   o->backends[c->backend],
                   be->takes_policy ? o->policies[c->policy] : NULL,
                   c->base + r);
      if (rc != HK_E_SQLITE) rc = 0; /* a run's failure is stored */
    }
  }
  free(cells);
  free(idx);
  return rc;
}

/* ---- the session ------------------------------------------------------ */

/* jemalloc's TLS uses the initial-exec model: dlopen() fails with "cannot
 * allocate memory in static TLS block" unless the process started with more
 * optional static TLS than glibc's 512 bytes. The tunable is read only at
 * start-up, so when a jemalloc run is asked for, hksim re-executes itself
 * once with it (before anything is written); if that fails, jemalloc runs
 * are stored as unavailable with the loader's reason. */
void rpl_reexec_for_static_tls(const char *const *backends, size_t n_be) {
  int want = 0;
  for (size_t b = 0; b < n_be; b++)
    want |= strcmp(backends[b], "jemalloc") == 0 ||
            strncmp(backends[b], "so:", 3) == 0; /* may be jemalloc */
  const char *tun = getenv("GLIBC_TUNABLES");
  if (!want || getenv("HKSIM_REEXEC") ||
      (tun && strstr(tun, "glibc.rtld.optional_static_tls")))
    return;
  static char buf[1 << 16];
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0 || n == (ssize_t)sizeof buf - 1) return;
  buf[n] = 0;
  static char *argv[4096];
  size_t argc = 0;
  for (char *p = buf; p < buf + n && argc < HK_ARRAY_LEN(argv) - 1;
       p += strlen(p) + 1)
    argv[argc++] = p;
  argv[argc] = NULL;
  static char env[1024];
  snprintf(env, sizeof env, "%s%sglibc.rtld.optional_static_tls=65536",
           tun ? tun : "", tun && *tun ? ":" : "");
  setenv("HKSIM_TUNABLES_ORIG", tun ? tun : "", 1); /* for live runs */
  setenv("GLIBC_TUNABLES", env, 1);
  setenv("HKSIM_REEXEC", "1", 1);
  fflush(NULL);
  execv("/proc/self/exe", argv);
  unsetenv("HKSIM_REEXEC"); /* could not: go on without jemalloc */
}

/* Decides which runs are this shard's: weights are the traces' event
 * counts, runs that do not exist (a policy of a back end without
 * policies) weigh nothing and are given to no shard. */
static int shard_split(session_t *S) {
  const rpl_opts_t *o = S->o;
  size_t n = o->n_traces * o->n_backends * S->np_max * o->repeat;
  uint32_t *own = calloc(n ? n : 1, sizeof *own);
  uint32_t *idx = calloc(n ? n : 1, sizeof *idx);
  uint64_t *ww = calloc(n ? n : 1, sizeof *ww);
  S->owner = calloc(n ? n : 1, sizeof *S->owner);
  if (!own || !idx || !ww || !S->owner) {
    free(own);
    free(idx);
    free(ww);
    return HK_E_NOMEM;
  }
  size_t m = 0; /* runs that exist, in canonical order */
  for (size_t t = 0; t < o->n_traces; t++) {
    uint64_t tw = rpl_trace_events(o->traces[t]);
    for (size_t b = 0; b < o->n_backends; b++) {
      size_t np = rpl_backend_find(o->backends[b])->takes_policy ? S->np_max : 1;
      for (size_t p = 0; p < S->np_max; p++)
        for (uint32_t r = 0; r < o->repeat; r++) {
          size_t k = run_index(S, t, b, p, r);
          S->owner[k] = UINT32_MAX;
          if (p < np) {
            ww[m] = tw;
            idx[m++] = (uint32_t)k;
          }
        }
    }
  }
  rpl_shard_plan(ww, m, o->shard_count, own);
  S->runs_total = 0;
  for (size_t j = 0; j < m; j++) {
    uint32_t owner = own[j];
    S->owner[idx[j]] = owner;
    S->runs_total += owner == o->shard_index;
  }
  snprintf(S->shard, sizeof S->shard, "%u/%u", o->shard_index, o->shard_count);
  free(own);
  free(idx);
  free(ww);
  return 0;
}

/* A warning, before the first run, when the machine is busier than it has
 * CPUs: timings taken then carry the other load's noise. The load and the
 * CPU count are also stored with every run (runs.load_avg, runs.cpus);
 * --quiet silences the warning, not the record. */
static void warn_load(session_t *S) {
  if (S->o->progress == 0) return; /* --quiet */
  double load;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (getloadavg(&load, 1) == 1 && cpus > 0 && load > (double)cpus)
    report(S, NULL,
           "warning: load average %.2f is above the %ld CPUs: timings will "
           "be noisy (stored with each run as load_avg)",
           load, cpus);
}

int rpl_replay(const rpl_opts_t *o, rpl_report_t *rep) {
  session_t S;
  memset(&S, 0, sizeof S);
  memset(rep, 0, sizeof *rep);
  S.o = o;
  S.rep = rep;

  /* Names first: a usage error writes nothing. */
  size_t n_pol_runs = 0;
  for (size_t b = 0; b < o->n_backends; b++) {
    const rpl_backend_t *be = rpl_backend_find(o->backends[b]);
    if (!be) {
      char known[256] = "";
      for (const rpl_backend_t *const *k = rpl_backends; *k; k++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                 known[0] ? ", " : "", (*k)->name);
      report(&S, NULL, "unknown back end '%s' (known: %s, so:PATH)",
             o->backends[b], known);
      return HK_E_USAGE;
    }
    n_pol_runs += be->takes_policy ? o->n_policies : 1;
    char why[300] = "";
    rpl_be_config_t bc = {.threads = 1,
                          .seed = o->seed,
                          .overrides = o->overrides,
                          .n_overrides = o->n_overrides,
                          .arg = o->backends[b]};
    for (size_t p = 0; be->check && p < (be->takes_policy ? o->n_policies : 1);
         p++) {
      bc.policy = be->takes_policy ? o->policies[p] : NULL;
      if (be->check(&bc, why, sizeof why) == HK_E_USAGE) {
        report(&S, NULL, "%s", why);
        return HK_E_USAGE;
      }
    }
  }
  for (size_t p = 0; p < o->n_policies; p++)
    if (!rpl_policy_known(o->policies[p])) {
      report(&S, NULL, "unknown policy '%s' (known: %s)", o->policies[p],
             rpl_policy_names());
      return HK_E_USAGE;
    }
  if (o->n_traces == 0 || !o->db_path || o->repeat == 0) {
    report(&S, NULL, "nothing to replay");
    return HK_E_USAGE;
  }
  if (o->span == RPL_SPAN_BATCH)
    snprintf(S.per_op, sizeof S.per_op, "batch:%u", o->batch_k);
  else if (o->span == RPL_SPAN_ITERATION)
    strcpy(S.per_op, "iteration");
  else if (o->sample_every == 0)
    strcpy(S.per_op, "none");
  else if (o->sample_every == 1)
    strcpy(S.per_op, "all");
  else
    snprintf(S.per_op, sizeof S.per_op, "sample:%u", o->sample_every);
  for (size_t k = 0; k < o->n_overrides; k++)
    snprintf(S.overrides + strlen(S.overrides),
             sizeof S.overrides - strlen(S.overrides), "%s%s", k ? " " : "",
             o->overrides[k]);
  const char *ca = getenv("HKSIM_TEST_CRASH_AFTER");
  if (ca && *ca) S.crash_after = strtoull(ca, NULL, 10);
  S.crash_backend = getenv("HKSIM_TEST_CRASH_BACKEND");

  if (o->mem_limit == UINT64_MAX) {
    S.mem_limit = 0;
  } else if (o->mem_limit) {
    S.mem_limit = o->mem_limit;
  } else {
    char how[80];
    S.mem_limit = rpl_mem_default(how, sizeof how);
    snprintf(S.mem_how, sizeof S.mem_how, ", the default: %s", how);
  }

  rpl_reexec_for_static_tls(o->backends, o->n_backends);
  char why[300] = "";
  int rc = rpl_db_open(&S.db, o->db_path, why, sizeof why);
  if (rc) {
    report(&S, o->db_path, "%s", why[0] ? why : hk_strerror(rc));
    return rc;
  }
  /* Test hooks: chunks per transaction of a trace's store, and SIGKILL
   * after that many commits (store_kill.sh). */
  const char *tx = getenv("HKSIM_TEST_STORE_TXN");
  const char *tk = getenv("HKSIM_TEST_STORE_KILL");
  if (tx && *tx)
    rpl_db_set_store_txn(S.db, atoi(tx), tk && *tk ? atoi(tk) : 0);
  const char *tmpd = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
  snprintf(S.tmp, sizeof S.tmp, "%s/hksim-replay-XXXXXX",
           tmpd && *tmpd ? tmpd : "/tmp");
  if (!mkdtemp(S.tmp)) {
    rc = -errno;
    report(&S, S.tmp, "cannot create a temporary directory: %s",
           strerror(errno));
    rpl_db_free(S.db);
    return rc;
  }
  /* The progress word is a memfd page, so that it survives the children's
   * exec; anonymous shared memory where memfd_create is missing. */
  S.progress_fd = memfd_create("hksim-progress", MFD_CLOEXEC);
  if (S.progress_fd >= 0 && ftruncate(S.progress_fd, 4096)) {
    close(S.progress_fd);
    S.progress_fd = -1;
  }
  S.progress = S.progress_fd >= 0
                   ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                          S.progress_fd, 0)
                   : mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const char *inproc = getenv("HKSIM_REPLAY_INPROCESS");
  S.inprocess = inproc && strcmp(inproc, "1") == 0;
  if (S.progress == MAP_FAILED) {
    if (S.progress_fd >= 0) close(S.progress_fd);
    rmdir(S.tmp);
    rpl_db_free(S.db);
    return HK_E_NOMEM;
  }
  S.show = o->progress < 0 ? isatty(2) : o->progress;
  S.runs_total = (uint64_t)o->n_traces * n_pol_runs * o->repeat;
  S.np_max = o->n_policies ? o->n_policies : 1;
  if (o->shard_count > 1 && (rc = shard_split(&S)) != 0) {
    munmap((void *)S.progress, 4096);
    if (S.progress_fd >= 0) close(S.progress_fd);
    rmdir(S.tmp);
    rpl_db_free(S.db);
    return rc;
  }
  S.cal_ns = hk_now_ns();
  S.cal_tsc = hk_tsc_begin();
  cache_dir_init(&S);
  S.t_start = hk_now_ns();

  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: waitpid returns EINTR */
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  warn_load(&S);
  int first_err = 0;
  ready_t *tr = calloc(o->n_traces, sizeof *tr);
  if (!tr) first_err = HK_E_NOMEM;
  for (size_t t = 0; tr && t < o->n_traces && !interrupted; t++) {
    rc = prepare_trace(&S, o->traces[t], t, &tr[t]);
    if (rc && !first_err) first_err = rc;
    if (rc == HK_E_SQLITE) break; /* the database is gone: stop */
  }
  if (tr && first_err != HK_E_SQLITE && !interrupted) {
    /* Traces that prepared are replayed even if another one was bad. */
    uint64_t good = 0;
    for (size_t t = 0; t < o->n_traces; t++) good += tr[t].ok;
    if (!S.owner) S.runs_total = good * n_pol_runs * o->repeat;
    rc = run_matrix(&S, tr, o->n_traces);
    if (rc && !first_err) first_err = rc;
  }
  for (size_t t = 0; tr && t < o->n_traces; t++) release_trace(&tr[t]);
  free(tr);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  rep->interrupted = interrupted;
  munmap((void *)S.progress, 4096);
  if (S.progress_fd >= 0) close(S.progress_fd);
  remove_tmp(S.tmp);
  rpl_db_free(S.db);
  free(S.owner);
  return first_err;
}
