/* rpl_child.c: every run's replay child starts as a fresh process. The
 * child rpl_replay forks re-executes this program (/proc/self/exe) with a
 * hidden first argument; a constructor here recognises it before main,
 * maps the prepared program from an inherited fd, replays it (rpl_exec)
 * and writes the result for the parent. So the run's glibc (its dynamic
 * mmap threshold, heap, arenas, tcache) is that of a program that has just
 * started, as the recorded program's was, and not the session's: the
 * parent's SQLite frees had raised glibc's mmap threshold to 335,872 bytes
 * before any run (docs/hakmem.md, "Validation"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpl_internal.h"

/* The hidden argv[1]; never a word hksim's commands take. */
#define CHILD_MARK "--hksim-replay-child"
/* Overrides a child takes (--hakmem settings and a calibration's). */
#define CHILD_MAX_OVERRIDES 512

int rpl_child_exec(const rpl_exec_cfg_t *cfg, const trc_program_t *prog,
                   int prog_fd, int res_fd, int progress_fd) {
  if (!prog->map_ || prog_fd < 0 || res_fd < 0)
    return HK_E_STATE;
  size_t n_arg = 24 + cfg->be.n_overrides;
  if (cfg->be.n_overrides > CHILD_MAX_OVERRIDES) return HK_E_RANGE;
  char **argv = calloc(n_arg, sizeof *argv);
  /* The numbers, each "key=value" in one buffer. */
  size_t cap = 2048 + strlen(cfg->be.arg ? cfg->be.arg : cfg->backend->name) +
               (cfg->be.policy ? strlen(cfg->be.policy) : 0);
  char *buf = malloc(cap);
  if (!argv || !buf) {
    free(argv);
    free(buf);
    return HK_E_NOMEM;
  }
  const char *base = prog->map_;
  size_t k = 0, used = 0;
#define ARG(...)                                                               \
  do {                                                                         \
    int n_ = snprintf(buf + used, cap - used, __VA_ARGS__);                    \
    argv[k++] = buf + used;                                                    \
    used += (size_t)n_ + 1;                                                    \
  } while (0)
  argv[k++] = "hksim-replay-child";
  argv[k++] = CHILD_MARK;
  ARG("prog=%d:%llu:%llu:%llu:%u:%llu:%u", prog_fd,
      (unsigned long long)prog->map_len_,
      (unsigned long long)((const char *)prog->ops - base),
      (unsigned long long)prog->n_ops, prog->n_slots,
      (unsigned long long)(prog->callers.addr
                               ? (const char *)prog->callers.addr - base
                               : 0),
      prog->callers.n);
  ARG("res=%d", res_fd);
  ARG("progress=%d", progress_fd);
  ARG("backend=%s", cfg->be.arg ? cfg->be.arg : cfg->backend->name);
  if (cfg->be.policy) ARG("policy=%s", cfg->be.policy);
  ARG("threads=%u", cfg->be.threads);
  ARG("seed=%llu", (unsigned long long)cfg->be.seed);
  ARG("touch=%d", (int)cfg->touch);
  ARG("every=%u", cfg->sample_every);
  ARG("span=%d", (int)cfg->span);
  ARG("batch=%u", cfg->batch_k);
  ARG("rss=%llu", (unsigned long long)cfg->rss_every);
  ARG("tsc=%llu", (unsigned long long)cfg->tsc_hz);
  ARG("crash=%llu", (unsigned long long)cfg->crash_after);
  ARG("threaded=%d", cfg->threaded);
  ARG("gapscale=%a", cfg->gap_scale); /* hex: the double exactly */
  ARG("gapws=%llu", (unsigned long long)cfg->gap_ws);
  ARG("memlimit=%llu", (unsigned long long)cfg->mem_limit);
#undef ARG
  /* "o=KEY=VALUE": hakmem's keys (policy, seed, ...) never meet ours. */
  for (size_t i = 0; i < cfg->be.n_overrides; i++) {
    size_t n = strlen(cfg->be.overrides[i]) + 3;
    char *o = malloc(n);
    if (!o) {
      for (size_t j = 0; j < i; j++) free(argv[k - i + j]);
      free(argv);
      free(buf);
      return HK_E_NOMEM;
    }
    snprintf(o, n, "o=%s", cfg->be.overrides[i]);
    argv[k++] = o;
  }
  argv[k] = NULL;
  /* The fds cross the exec; everything else the session holds is CLOEXEC
   * or harmless. */
  int fds[3] = {prog_fd, res_fd, progress_fd};
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0) fcntl(fds[i], F_SETFD, 0);
  execv("/proc/self/exe", argv);
  int e = errno;
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0) fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  for (size_t i = 0; i < cfg->be.n_overrides; i++)
    free(argv[k - cfg->be.n_overrides + i]);
  free(argv);
  free(buf);
  return -e;
}

/* ---- the child's side ------------------------------------------------- */

/* Parses an unsigned decimal that must fill the whole of s. */
static int num(const char *s, unsigned long long *out) {
  char *end;
  errno = 0;
  *out = strtoull(s, &end, 10);
  return errno || end == s || *end ? HK_E_USAGE : 0;
}

static int fd_arg(const char *s, int *fd) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < -1 || v > 1 << 20) return HK_E_USAGE;
  *fd = (int)v;
  return 0;
}

/* Maps the program the parent described: the whole .hkp read-only, its
 * size checked against what the parent mapped; the checksum was verified
 * there (trc_program_map), on the same open file. */
static int map_prog(const char *s, trc_program_t *p) {
  unsigned long long v[6];
  int fd;
  char *end;
  long f = strtol(s, &end, 10);
  if (end == s || *end != ':' || f < 0) return HK_E_USAGE;
  fd = (int)f;
  s = end + 1;
  for (int i = 0; i < 6; i++) {
    errno = 0;
    v[i] = strtoull(s, &end, 10);
    if (errno || end == s || *end != (i < 5 ? ':' : 0)) return HK_E_USAGE;
    s = end + 1;
  }
  unsigned long long len = v[0], ops_off = v[1], n_ops = v[2], slots = v[3],
                     callers_off = v[4], n_callers = v[5];
  struct stat sb;
  if (fstat(fd, &sb)) return -errno;
  if ((unsigned long long)sb.st_size != len || len == 0 ||
      ops_off > len || n_ops > (len - ops_off) / sizeof(trc_pop_t) ||
      callers_off > len || slots > UINT32_MAX || n_callers > UINT32_MAX ||
      (callers_off && (n_callers + 1) > (len - callers_off) / 8))
    return HK_E_CORRUPT;
  void *m = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return -errno;
  memset(p, 0, sizeof *p);
  p->ops = (const trc_pop_t *)((const char *)m + ops_off);
  p->n_ops = n_ops;
  p->n_slots = (uint32_t)slots;
  p->callers.n = (uint32_t)n_callers;
  p->callers.addr =
      callers_off ? (const uint64_t *)((const char *)m + callers_off) : NULL;
  p->map_ = m;
  p->map_len_ = (size_t)len;
  return 0;
}

/* The replay, as the forked child ran it before: the memory cap, the loop,
 * the result into the parent's file. Exit 0 when the result is written
 * (a failed run says so inside it), 3 when it could not be, 2 (usage,
 * one line) when the arguments name no result file: run by hand. Allocates nothing before
 * rpl_exec beyond what the cap's /proc read takes (glibc's stdio). */
static int child_main(int argc, char **argv) {
  rpl_exec_cfg_t cfg;
  memset(&cfg, 0, sizeof cfg);
  const char *overrides[CHILD_MAX_OVERRIDES];
  size_t n_over = 0;
  int res_fd = -1, progress_fd = -1;
  const char *prog_arg = NULL, *bad = NULL;
  for (int i = 2; i < argc && !bad; i++) {
    const char *a = argv[i], *eq = strchr(a, '=');
    unsigned long long v = 0;
    if (!eq) {
      bad = a;
      break;
    }
    size_t kl = (size_t)(eq - a);
    const char *val = eq + 1;
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(a, s, kl) == 0)
    if (KEY("prog"))
      prog_arg = val;
    else if (KEY("res")) {
      if (fd_arg(val, &res_fd)) bad = a;
    } else if (KEY("progress")) {
      if (fd_arg(val, &progress_fd)) bad = a;
    } else if (KEY("backend"))
      cfg.be.arg = val;
    else if (KEY("policy"))
      cfg.be.policy = val;
    else if (KEY("o")) {
      if (n_over == CHILD_MAX_OVERRIDES)
        bad = a;
      else
        overrides[n_over++] = val;
    } else if (KEY("gapscale")) {
      char *end;
      cfg.gap_scale = strtod(val, &end);
      if (end == val || *end) bad = a;
    } else if (!(KEY("threads") || KEY("seed") || KEY("touch") ||
                 KEY("every") || KEY("span") || KEY("batch") || KEY("rss") ||
                 KEY("tsc") || KEY("crash") || KEY("threaded") ||
                 KEY("gapws") || KEY("memlimit")))
      bad = a;
    else if (num(val, &v))
      bad = a;
    else if (KEY("threads"))
      cfg.be.threads = (uint32_t)v;
    else if (KEY("seed"))
      cfg.be.seed = v;
    else if (KEY("touch"))
      cfg.touch = (rpl_touch_t)v;
    else if (KEY("every"))
      cfg.sample_every = (uint32_t)v;
    else if (KEY("span"))
      cfg.span = (rpl_span_t)v;
    else if (KEY("batch"))
      cfg.batch_k = (uint32_t)v;
    else if (KEY("rss"))
      cfg.rss_every = v;
    else if (KEY("tsc"))
      cfg.tsc_hz = v;
    else if (KEY("crash"))
      cfg.crash_after = v;
    else if (KEY("threaded"))
      cfg.threaded = v != 0;
    else if (KEY("gapws"))
      cfg.gap_ws = v;
    else if (KEY("memlimit"))
      cfg.mem_limit = v;
#undef KEY
  }
  if (res_fd < 0) { /* run by hand: nowhere to put a result */
    fprintf(stderr, "hksim: %s is internal to hksim replay (it needs the "
            "run's result file)\n", CHILD_MARK);
    return 2;
  }
  rpl_result_t res;
  memset(&res, 0, sizeof res);
  trc_program_t prog;
  memset(&prog, 0, sizeof prog);
  int rc = 0;
  if (!bad && (!prog_arg || !cfg.be.arg)) bad = "(prog= or backend= missing)";
  if (bad) {
    res.status = HK_E_USAGE;
    snprintf(res.error, sizeof res.error,
             "replay harness: the run's child got a bad argument '%.100s'",
             bad);
  } else if ((rc = map_prog(prog_arg, &prog)) != 0) {
    res.status = rc;
    snprintf(res.error, sizeof res.error,
             "replay harness: the run's child cannot map the prepared "
             "program: %s", hk_strerror(rc));
  } else if (!(cfg.backend = rpl_backend_find(cfg.be.arg))) {
    res.status = HK_E_USAGE;
    snprintf(res.error, sizeof res.error,
             "replay harness: unknown back end '%.100s'", cfg.be.arg);
  } else {
    if (progress_fd >= 0) {
      void *pm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                      progress_fd, 0);
      if (pm != MAP_FAILED) cfg.progress = pm;
      close(progress_fd);
    }
    cfg.be.overrides = overrides;
    cfg.be.n_overrides = n_over;
    cfg.be.callers = prog.callers.addr;
    cfg.be.n_callers = prog.callers.n;
    char why[200];
    rc = rpl_mem_enforce(cfg.mem_limit, why, sizeof why);
    if (rc) {
      res.status = rc;
      snprintf(res.error, sizeof res.error, "memory cap: %s", why);
    } else {
      rc = rpl_exec(&cfg, prog.ops, prog.n_ops, prog.n_slots, &res);
    }
    if (rc < 0 && res.status == 0) {
      res.status = rc;
      snprintf(res.error, sizeof res.error, "replay harness: %s",
               hk_strerror(rc));
    }
  }
  rc = rpl_result_write(res_fd, &res);
  return rc ? 3 : 0;
}

/* glibc calls constructors with (argc, argv, envp). This one runs in every
 * program that links rpl_replay (hksim, bench_replay), before main and
 * before anything of the program allocated; a process started without the
 * mark returns at once. */
__attribute__((constructor)) static void child_entry(int argc, char **argv,
                                                     char **envp) {
  (void)envp;
  if (argc < 2 || !argv || !argv[1] || strcmp(argv[1], CHILD_MARK) != 0)
    return;
  _exit(child_main(argc, argv));
}
