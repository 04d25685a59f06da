/* cmd_record.c: `hksim record [-o FILE] [--argv] ... -- CMD [ARGS...]`: runs
 * CMD with the recorder preloaded (libhkrec.so, recorder/), follows its
 * children (each process image writes its own file, named from FILE),
 * then names the program's trace FILE, drops the traces of launchers and
 * of processes that recorded nothing, and prints every path it wrote with
 * events, threads, call sites and bytes per event. What it learns about
 * CMD before running it (static, setuid, CPython...) is record_runtime.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "record_internal.h"
#include "recorder.h"
#include "trc.h"

/* The longest output path accepted: the recorder's template buffer is
 * 1024 bytes and a derived name adds ".PID.SEQ.hkt". */
#define OUT_MAX 1000

/* One table for getopt_long and --help. */
typedef struct opt_doc {
  const char *name;
  int has_arg;
  int val;
  const char *arg;
  const char *help;
} opt_doc_t;

static const opt_doc_t opt_docs[] = {
    {"output", required_argument, 'o', "FILE",
     "the program's trace is exactly FILE (see NAMES)"},
    {"force", no_argument, 'f', NULL, "replace FILE if it exists"},
    {"depth", required_argument, 'd', "N",
     "stack frames per call site, 1..64 (default 1)"},
    {"block", required_argument, 'b', "N",
     "events per thread buffer, 16..65536 (default 4096)"},
    {"argv", no_argument, 'a', NULL,
     "record the command line (argv) and the allocation-related "
     "environment variables (see PRIVACY); without it only the executable "
     "path"},
    {"env", required_argument, 'e', "LIST",
     "also record these environment variables: NAME or PREFIX*, "
     "comma-separated ('*': all); repeatable"},
    {"keep-launchers", no_argument, 'k', NULL,
     "keep the traces of launchers (see LAUNCHERS)"},
    {"no-runtime-env", no_argument, 'n', NULL,
     "set none of the runtime switches (see RUNTIMES)"},
    {"help", no_argument, 'h', NULL, "this help"},
};
#define NOPTS (sizeof opt_docs / sizeof opt_docs[0])

static void usage(FILE *f) {
  fprintf(f, "usage: hksim record [-o FILE] [OPTIONS] -- CMD [ARGS...]\n\n"
             "Runs CMD under the allocation recorder; every process it "
             "starts is followed.\n\n");
  for (size_t i = 0; i < NOPTS; i++) {
    const opt_doc_t *d = &opt_docs[i];
    char left[64];
    snprintf(left, sizeof left, "%s--%s%s%s",
             d->val == 'o' ? "-o, " : d->val == 'h' ? "-h, " : "    ",
             d->name, d->arg ? " " : "", d->arg ? d->arg : "");
    fprintf(f, "  %-22s %s\n", left, d->help);
  }
  fprintf(
      f,
      "\nNAMES (a relative path is made absolute before CMD runs, so "
      "processes that\nchange directory still write where you asked):\n"
      "  -o FILE     the program's trace is FILE (refused if FILE exists, "
      "unless\n"
      "              --force); other processes write STEM.PID.hkt, and an "
      "image\n"
      "              started by exec in a process that already has a file\n"
      "              STEM.PID.N.hkt (STEM: FILE without .hkt). \"The "
      "program\" is\n"
      "              the image the first process runs last.\n"
      "  -o DIR/     every trace in DIR, as DIR/hkrec.PID.hkt\n"
      "  -o T%%p.hkt  every trace named by the template (%%p: the pid), "
      "no exact name\n"
      "  no -o       ./hkrec.PID.hkt\n"
      "Every path written is printed at the end. Processes that record no "
      "allocation\nleave no file.\n\n"
      "DEPTH: the default 1 keeps the immediate caller only (what hakmem's\n"
      "hak_alloc_at sees). Use --depth 16 to see who allocates past wrappers\n"
      "(xmalloc, sqlite3Malloc, operator new, std::vector): hksim report then\n"
      "names the function, draws flame graphs and says whether call sites\n"
      "predict size and lifetime (docs/attribution.md). It costs CPU: 1.4x\n"
      "(sqlite3) to 1.8x (python3) the program's CPU time at depth 16, against\n"
      "1.1x to 1.4x at depth 1 (bench/bench_recorder.sh), so record deep\n"
      "stacks for attribution runs, not for every recording.\n\n"
      "LAUNCHERS: programs that only exec another (env, nohup, setsid, "
      "nice, timeout,\n"
      "#! lines, shell wrappers that `exec`, pyenv-style shims) are "
      "followed: the\n"
      "program is the image the first process runs last, and the traces of "
      "the\n"
      "launchers and of the processes they started before it (a shim's "
      "helpers) are\n"
      "not kept. A wrapper that runs the program as a child (no exec) is "
      "not a\nlauncher.\n\n"
      "RUNTIMES: when the program (through launchers) is one of these, the "
      "switch is\n"
      "set, unless the variable is already set, and a line on stderr says "
      "so. The\n"
      "recorder also looks in every process it records, before main, and "
      "sets the\n"
      "switch in those that hold one (a python3 that a shell script or "
      "make runs);\n"
      "a line after the run says in how many. --no-runtime-env: none of "
      "either.\n");
  for (const rec_runtime_t *r = rec_runtimes; r->name; r++)
    fprintf(f, "  %-10s %s=%s\n             %s\n", r->name, r->var, r->value,
            r->why);
  fprintf(f,
          "\nEXIT: the program's status (128+N if signal N killed it); "
          "SIGINT, SIGTERM,\n"
          "SIGHUP and SIGQUIT sent to hksim record are passed on to the "
          "program.\n"
          "1 if the program succeeded but nothing complete was recorded, "
          "or it cannot be\n"
          "recorded (static, setuid), or the output cannot be written; "
          "126 if CMD cannot\n"
          "be run (a directory, not executable), 127 if it is not found; "
          "2 on usage errors.\n"
          "The recorder library is HKSIM_RECORDER, else "
          "BINDIR/../lib/libhkrec.so.\n");
}

/* libhkrec.so: HKSIM_RECORDER, else next to this program's bin/. */
static int find_library(char *out) {
  const char *env = getenv("HKSIM_RECORDER");
  if (env && *env) {
    if (realpath(env, out) && access(out, R_OK) == 0) return 0;
    return -1;
  }
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k <= 0) return -1;
  exe[k] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = 0;
  char cand[PATH_MAX + 32];
  snprintf(cand, sizeof cand, "%s/../lib/libhkrec.so", exe);
  if (!realpath(cand, out) || access(out, R_OK) != 0) return -1;
  return 0;
}

/* ---- output names ---------------------------------------------------- */

typedef struct plan {
  char cwd[PATH_MAX];
  char tmpl[PATH_MAX]; /* absolute template handed to the recorder */
  char exact[PATH_MAX]; /* the program's trace, or "" (no exact name) */
  char dir[PATH_MAX];   /* where the traces go */
  int relative;         /* print paths relative to cwd */
} plan_t;

/* Checks and absolutises -o before anything runs: too long, existing
 * FILE, missing or unwritable directory are refused here. */
static int plan_output(plan_t *p, const char *o, int force) {
  if (!getcwd(p->cwd, sizeof p->cwd))
    return cli_fail("record", -errno, "reading the current directory");
  int derived_only = !o; /* no -o: ./hkrec.PID.hkt, no exact name */
  if (!o) o = "hkrec";
  if (!*o) return cli_usage("record", "-o needs a file name");
  p->relative = o[0] != '/';
  int n = p->relative ? snprintf(p->tmpl, sizeof p->tmpl, "%s/%s", p->cwd, o)
                      : snprintf(p->tmpl, sizeof p->tmpl, "%s", o);
  if (n < 0 || (size_t)n > OUT_MAX)
    return cli_usage("record", "-o: output path too long (%d bytes made "
                               "absolute, at most %d)",
                     n, OUT_MAX);
  size_t len = (size_t)n;
  p->exact[0] = 0;
  if (p->tmpl[len - 1] == '/') {
    memcpy(p->dir, p->tmpl, len + 1);
  } else {
    memcpy(p->dir, p->tmpl, len + 1);
    char *slash = strrchr(p->dir, '/');
    slash[slash == p->dir ? 1 : 0] = 0;
    if (!derived_only && !strstr(o, "%p")) {
      memcpy(p->exact, p->tmpl, len + 1);
      struct stat st;
      if (stat(p->exact, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
          cli_error(o, "is a directory (write -o %s/ to put the traces in "
                       "it)",
                    o);
          return CLI_FAIL;
        }
        if (!force) {
          cli_error(o, "file exists (--force replaces it)");
          return CLI_FAIL;
        }
      }
    }
  }
  struct stat st;
  if (stat(p->dir, &st)) {
    cli_error(p->dir, "output directory: %s", strerror(errno));
    return CLI_FAIL;
  }
  if (!S_ISDIR(st.st_mode)) {
    cli_error(p->dir, "output directory is not a directory");
    return CLI_FAIL;
  }
  if (access(p->dir, W_OK | X_OK)) {
    cli_error(p->dir, "output directory is not writable: %s",
              strerror(errno));
    return CLI_FAIL;
  }
  return CLI_OK;
}

static const char *shown(const plan_t *p, const char *path) {
  size_t n = strlen(p->cwd);
  if (p->relative && strncmp(path, p->cwd, n) == 0 && path[n] == '/')
    return path + n + 1;
  return path;
}

/* ---- running the program --------------------------------------------- */

static volatile sig_atomic_t g_child;

/* SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to us (kill, a job scheduler) go on
 * to the program. The terminal's own signals (SI_KERNEL) reached the
 * program's process group already: not sent twice. */
static void forward(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (si && si->si_code == SI_KERNEL) return;
  if (g_child > 0) kill((pid_t)g_child, sig);
}

static const int fwd_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

typedef struct run_opts {
  const char *lib, *manifest, *tmpl, *depth, *block;
  int argv;
  const char *env; /* HKREC_ENV allow-list, "" none */
  unsigned runtimes; /* rec_runtimes bits to set */
  int rt_switch;     /* HKREC_RUNTIMES: the recorder sets the switches of
                        the runtimes it finds in processes (rec_runtime.c) */
} run_opts_t;

/* Forks and execs prog; *status is the wait status, *exec_err the errno
 * of a failed exec (0 when it ran). */
static int run_program(const run_opts_t *o, const char *prog, char **cmd,
                       pid_t *child, int *status, int *exec_err) {
  const char *old = getenv("LD_PRELOAD");
  /* Ours first: a user's preloaded allocator then sits below the
   * recorder (RTLD_NEXT), so the program's calls reach the recorder. */
  size_t plen = strlen(o->lib) + (old ? strlen(old) : 0) + 2;
  char *preload = malloc(plen);
  if (!preload) return HK_E_NOMEM;
  snprintf(preload, plen, "%s%s%s", o->lib, old && *old ? ":" : "",
           old ? old : "");
  char hz[32];
  snprintf(hz, sizeof hz, "%" PRIu64, hk_tsc_hz(50));
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC)) {
    free(preload);
    return -errno;
  }
  sigset_t block, oldmask;
  sigemptyset(&block);
  for (size_t i = 0; i < HK_ARRAY_LEN(fwd_signals); i++)
    sigaddset(&block, fwd_signals[i]);
  sigprocmask(SIG_BLOCK, &block, &oldmask);
  pid_t pid = fork();
  if (pid < 0) {
    int e = -errno;
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    free(preload);
    close(pfd[0]);
    close(pfd[1]);
    return e;
  }
  if (pid == 0) {
    close(pfd[0]);
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    setenv("LD_PRELOAD", preload, 1);
    setenv("HKREC_OUT", o->tmpl, 1);
    setenv("HKREC_MANIFEST", o->manifest, 1);
    setenv("HKREC_ARGV", o->argv ? "1" : "0", 1);
    setenv("HKREC_ENV", o->env, 1);
    setenv("HKREC_RUNTIMES", o->rt_switch ? "1" : "0", 1);
    if (HK_HAVE_TSC && hk_tsc_invariant()) setenv("HKREC_TSC_HZ", hz, 1);
    if (o->depth) setenv("HKREC_DEPTH", o->depth, 1);
    if (o->block) setenv("HKREC_BLOCK", o->block, 1);
    for (size_t i = 0; rec_runtimes[i].name; i++)
      if (o->runtimes & (1u << i))
        setenv(rec_runtimes[i].var, rec_runtimes[i].value, 1);
    execv(prog, cmd);
    int e = errno;
    ssize_t k = write(pfd[1], &e, sizeof e);
    (void)k;
    _exit(127);
  }
  g_child = pid;
  *child = pid;
  close(pfd[1]);
  free(preload);
  struct sigaction sa, saved[HK_ARRAY_LEN(fwd_signals)];
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: waitpid sees EINTR */
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < HK_ARRAY_LEN(fwd_signals); i++) {
    sigaction(fwd_signals[i], NULL, &saved[i]);
    /* Ignored when we started (nohup, a background job): the program
     * inherited that; nothing to pass on. */
    if (saved[i].sa_handler != SIG_IGN) sigaction(fwd_signals[i], &sa, NULL);
  }
  sigprocmask(SIG_SETMASK, &oldmask, NULL);
  int e = 0;
  ssize_t k;
  while ((k = read(pfd[0], &e, sizeof e)) < 0 && errno == EINTR) {
  }
  close(pfd[0]);
  *exec_err = k == (ssize_t)sizeof e ? e : 0;
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  for (size_t i = 0; i < HK_ARRAY_LEN(fwd_signals); i++)
    if (saved[i].sa_handler != SIG_IGN)
      sigaction(fwd_signals[i], &saved[i], NULL);
  return 0;
}

/* ---- what was written -------------------------------------------------- */

enum { ROLE_PROGRAM, ROLE_OTHER, ROLE_LAUNCHER, ROLE_EMPTY };

typedef struct entry {
  char *path;
  int64_t pid;
  uint64_t start_ns;
  char exe[256];
  int open_rc, scan_rc;
  trc_scan_t scan;
  int role;
} entry_t;

/* The switches the recorder set in processes whose runtime the command
 * line did not show: per runtime, how many processes and the first. */
typedef struct rt_tally {
  unsigned count[REC_MAX_RUNTIMES];
  char first[REC_MAX_RUNTIMES][PATH_MAX + 64];
} rt_tally_t;

/* One manifest line REC_MANIFEST_RUNTIME NAME VAR=VALUE PID EXE into t. */
static void tally_runtime(char *line, rt_tally_t *t) {
  char *save, *tag = strtok_r(line, "\t", &save);
  char *name = strtok_r(NULL, "\t", &save);
  char *set = strtok_r(NULL, "\t", &save);
  char *pid = strtok_r(NULL, "\t", &save);
  char *exe = strtok_r(NULL, "", &save);
  if (!tag || strcmp(tag, REC_MANIFEST_RUNTIME) || !name || !set || !pid)
    return;
  for (size_t i = 0; rec_runtimes[i].name; i++)
    if (strcmp(rec_runtimes[i].name, name) == 0 && t->count[i]++ == 0)
      snprintf(t->first[i], sizeof t->first[i], "%s, pid %s",
               exe && *exe ? exe : "?", pid);
}

/* The manifest: one path per line, in the order the files were created;
 * a path is listed once. Runtime lines go to rt. */
static entry_t *read_manifest(const char *manifest, size_t *count,
                              rt_tally_t *rt) {
  FILE *mf = fopen(manifest, "r");
  entry_t *v = NULL;
  size_t n = 0, cap = 0;
  char line[PATH_MAX + 64];
  while (mf && fgets(line, sizeof line, mf)) {
    line[strcspn(line, "\n")] = 0;
    if (line[0] == '#') tally_runtime(line, rt);
    if (!line[0] || line[0] == '#') continue;
    int dup = 0;
    for (size_t k = 0; k < n && !dup; k++) dup = strcmp(v[k].path, line) == 0;
    if (dup) continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      entry_t *nv = realloc(v, nc * sizeof *nv);
      if (!nv) break;
      v = nv;
      cap = nc;
    }
    entry_t *e = &v[n];
    memset(e, 0, sizeof *e);
    e->path = strdup(line);
    if (!e->path) break;
    n++;
    trc_reader_t *r;
    e->open_rc = trc_reader_open(&r, e->path);
    if (!e->open_rc) {
      const trc_header_t *h = trc_reader_header(r);
      e->pid = h->pid;
      e->start_ns = h->start_wall_ns;
      snprintf(e->exe, sizeof e->exe, "%s", h->exe ? h->exe : "");
      trc_reader_free(r);
      e->scan_rc = trc_scan(e->path, &e->scan);
    }
  }
  if (mf) fclose(mf);
  *count = n;
  return v;
}

/* A line per runtime whose switch the recorder set at run time. */
static void report_runtimes(const rt_tally_t *t) {
  for (size_t i = 0; rec_runtimes[i].name; i++) {
    const rec_runtime_t *r = &rec_runtimes[i];
    if (!t->count[i]) continue;
    fprintf(stderr,
            "hksim record: %s found at run time in %u process%s (%s%s): "
            "the recorder set %s=%s in %s so that its allocations reach "
            "malloc (%s; set %s yourself, or --no-runtime-env, to choose)\n",
            r->name, t->count[i], t->count[i] == 1 ? "" : "es",
            t->count[i] == 1 ? "" : "the first ", t->first[i], r->var,
            r->value, t->count[i] == 1 ? "it" : "each", r->why, r->var);
  }
}

/* The program's trace: the last image of the first process. Earlier
 * images of that process exec'd (launchers), and traces started before
 * the program's are their helpers. Traces of no allocation go too. */
static int classify(entry_t *v, size_t n, int64_t root) {
  int prog = -1;
  for (size_t i = 0; i < n; i++)
    if (!v[i].open_rc && v[i].pid == root) prog = (int)i;
  for (size_t i = 0; i < n; i++) {
    entry_t *e = &v[i];
    if ((int)i == prog)
      e->role = ROLE_PROGRAM;
    else if (e->open_rc)
      e->role = ROLE_OTHER;
    else if (prog >= 0 && (e->pid == root || e->start_ns < v[prog].start_ns))
      e->role = ROLE_LAUNCHER;
    else if (!e->scan_rc && e->scan.events == 0)
      e->role = ROLE_EMPTY;
    else
      e->role = ROLE_OTHER;
  }
  return prog;
}

/* Gives the program's trace its exact name. Without --force a FILE that
 * appeared meanwhile is not replaced (link fails with EEXIST). */
static int name_program(entry_t *e, const char *exact, int force) {
  if (force) {
    if (rename(e->path, exact)) return -errno;
  } else if (link(e->path, exact) == 0) {
    unlink(e->path);
  } else {
    if (errno == EEXIST) return -EEXIST;
    if (access(exact, F_OK) == 0) return -EEXIST;
    if (rename(e->path, exact)) return -errno;
  }
  char *p = strdup(exact);
  if (!p) return HK_E_NOMEM;
  free(e->path);
  e->path = p;
  return 0;
}

static int report(const plan_t *p, entry_t *v, size_t n, int prog,
                  int keep_launchers, int force, int code) {
  uint64_t files = 0, events = 0, bytes = 0, damaged = 0;
  uint64_t nlaunch = 0, launch_events = 0, nempty = 0, nempty_cut = 0;
  uint32_t threads = 0, sites = 0;
  int exact_failed = 0;
  if (prog >= 0 && p->exact[0]) {
    int rc = name_program(&v[prog], p->exact, force);
    if (rc) {
      cli_error(shown(p, p->exact), "not written (%s); the program's trace "
                                    "is %s",
                rc == -EEXIST ? "the file appeared meanwhile"
                              : hk_strerror(rc),
                shown(p, v[prog].path));
      exact_failed = 1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    entry_t *e = &v[i];
    if (e->role == ROLE_EMPTY ||
        (e->role == ROLE_LAUNCHER && !keep_launchers)) {
      if (e->role == ROLE_EMPTY) {
        nempty++;
        nempty_cut += e->scan.status != 0;
      } else {
        nlaunch++;
        launch_events += e->scan.events;
      }
      unlink(e->path);
      continue;
    }
    files++;
    if (e->open_rc || e->scan_rc) {
      int rc = e->open_rc ? e->open_rc : e->scan_rc;
      fprintf(stderr, "hksim record: %s: %s\n", shown(p, e->path),
              hk_strerror(rc));
      if (e->role != ROLE_LAUNCHER) damaged++;
      continue;
    }
    const trc_scan_t *s = &e->scan;
    fprintf(stderr,
            "hksim record: %s: %" PRIu64 " events, %u threads, %u call "
            "sites, %" PRIu64 " bytes (%.2f bytes/event) [%s%s, pid %" PRId64
            "]%s%s\n",
            shown(p, e->path), s->events, s->threads, s->sites, s->file_bytes,
            s->events ? (double)s->file_bytes / (double)s->events : 0.0,
            e->role == ROLE_LAUNCHER ? "launcher " : "", e->exe, e->pid,
            s->status ? "; INCOMPLETE: " : "", s->status ? s->problem : "");
    if (s->status && e->role != ROLE_LAUNCHER) damaged++;
    events += s->events;
    bytes += s->file_bytes;
    threads += s->threads;
    sites += s->sites;
  }
  if (nlaunch)
    fprintf(stderr,
            "hksim record: launchers followed to %s: %" PRIu64
            " launcher trace%s (%" PRIu64 " events) not kept "
            "(--keep-launchers keeps them)\n",
            prog >= 0 ? v[prog].exe : "the program", nlaunch,
            nlaunch == 1 ? "" : "s", launch_events);
  if (nempty)
    fprintf(stderr,
            "hksim record: %" PRIu64 " process image%s recorded no "
            "allocation%s: no file kept\n",
            nempty, nempty == 1 ? "" : "s",
            nempty_cut ? " (some were cut short)" : "");
  fprintf(stderr,
          "hksim record: %" PRIu64 " file%s, %" PRIu64 " events, %u threads, "
          "%u call sites, %.2f bytes/event; program exit %d\n",
          files, files == 1 ? "" : "s", events, threads, sites,
          events ? (double)bytes / (double)events : 0.0, code);
  if (code != 0) return code;
  if (files == 0) {
    cli_error("record", "nothing was recorded");
    return CLI_FAIL;
  }
  if (p->exact[0] && prog < 0) {
    cli_error(shown(p, p->exact), "not written: the program itself was not "
                                  "recorded");
    return CLI_FAIL;
  }
  if (exact_failed) return CLI_FAIL;
  if (damaged) {
    cli_error("record", "%" PRIu64 " trace file(s) incomplete", damaged);
    return CLI_FAIL;
  }
  return CLI_OK;
}

static int run(int argc, char **argv) {
  struct option opts[NOPTS + 1];
  for (size_t i = 0; i < NOPTS; i++)
    opts[i] = (struct option){opt_docs[i].name, opt_docs[i].has_arg, NULL,
                              opt_docs[i].val};
  opts[NOPTS] = (struct option){0, 0, 0, 0};
  const char *out = NULL, *depth = NULL, *block = NULL;
  int force = 0, want_argv = 0, keep_launchers = 0, no_rt = 0, c;
  char env_extra[REC_ENV_PATTERNS - sizeof REC_ENV_DEFAULT - 1] = "";
  optind = 1;
  opterr = 0;
  /* '+': the first non-option is CMD; its own options are not ours. */
  while ((c = getopt_long(argc, argv, "+o:fh", opts, NULL)) != -1) {
    uint64_t v;
    switch (c) {
    case 'o': out = optarg; break;
    case 'f': force = 1; break;
    case 'a': want_argv = 1; break;
    case 'e': {
      /* Names as the shell and the kernel spell them: letters, digits,
       * '_', and '*' only at the end of a pattern. */
      for (const char *q = optarg; *q; q++)
        if (!(isalnum((unsigned char)*q) || *q == '_' || *q == ',' ||
              (*q == '*' && (q[1] == ',' || !q[1]))))
          return cli_usage("record", "bad --env '%s' (comma-separated NAME "
                           "or PREFIX*)", optarg);
      size_t have = strlen(env_extra);
      if (have + 1 + strlen(optarg) >= sizeof env_extra)
        return cli_usage("record", "--env lists are too long (at most %zu "
                         "bytes)", sizeof env_extra - 1);
      snprintf(env_extra + have, sizeof env_extra - have, "%s%s",
               have ? "," : "", optarg);
      break;
    }
    case 'k': keep_launchers = 1; break;
    case 'n': no_rt = 1; break;
    case 'd':
      if (cli_parse_u64(optarg, &v) || v < 1 || v > TRC_MAX_DEPTH)
        return cli_usage("record", "--depth needs a number in 1..%d",
                         TRC_MAX_DEPTH);
      depth = optarg;
      break;
    case 'b':
      if (cli_parse_u64(optarg, &v) || v < 16 || v > 65536)
        return cli_usage("record", "--block needs a number in 16..65536");
      block = optarg;
      break;
    case 'h': usage(stdout); return CLI_OK;
    case ':':
      return cli_usage("record", "%s needs a value", argv[optind - 1]);
    default:
      if (optopt && strchr("o", optopt))
        return cli_usage("record", "-%c needs a value", optopt);
      return cli_usage("record", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return cli_usage("record", "no command to run");
  char **cmd = argv + optind;

  plan_t plan;
  int rc = plan_output(&plan, out, force);
  if (rc) return rc;
  char lib[PATH_MAX];
  if (find_library(lib)) {
    cli_error("record", "cannot find libhkrec.so (set HKSIM_RECORDER to its "
                        "path)");
    return CLI_FAIL;
  }
  char prog[PATH_MAX], why[PATH_MAX + 128];
  rc = cli_record_resolve(cmd[0], prog, sizeof prog, why, sizeof why);
  if (rc) {
    cli_error(cmd[0], "%s", why);
    return rc; /* 126 or 127, as a shell */
  }
  if (cli_record_check_binary(prog, why, sizeof why) > 0) {
    cli_error("record", "cannot record %s", why);
    return CLI_FAIL;
  }

  unsigned runtimes = 0;
  if (!no_rt) {
    char target[PATH_MAX];
    unsigned found = cli_record_runtimes(prog, cmd, target, sizeof target);
    for (size_t i = 0; rec_runtimes[i].name; i++) {
      const rec_runtime_t *r = &rec_runtimes[i];
      if (!(found & (1u << i))) continue;
      if (getenv(r->var)) {
        fprintf(stderr, "hksim record: %s (%s): %s=%s kept as you set it\n",
                r->name, target, r->var, getenv(r->var));
        continue;
      }
      runtimes |= 1u << i;
      fprintf(stderr,
              "hksim record: %s (%s): setting %s=%s so that its allocations "
              "reach malloc (%s; set %s yourself to choose)\n",
              r->name, target, r->var, r->value, r->why, r->var);
    }
  }

  const char *tmp = getenv("TMPDIR");
  char manifest[PATH_MAX];
  if ((size_t)snprintf(manifest, sizeof manifest, "%s/hksim-record-XXXXXX",
                       tmp && *tmp ? tmp : "/tmp") >= sizeof manifest)
    return cli_usage("record", "TMPDIR is too long");
  int mfd = mkstemp(manifest);
  if (mfd < 0) return cli_fail(manifest, -errno, "creating a temporary file");
  close(mfd);

  /* The environment: only with --argv or --env, and only the variables
   * allow-listed: those that change how the program allocates, plus the
   * user's. */
  char env[REC_ENV_PATTERNS] = "";
  if (want_argv || env_extra[0])
    snprintf(env, sizeof env, "%s%s%s", REC_ENV_DEFAULT,
             env_extra[0] ? "," : "", env_extra);
  run_opts_t ro = {lib,  manifest, plan.tmpl, depth, block, want_argv,
                   env,  runtimes, !no_rt};
  int st = 0, exec_err = 0;
  pid_t child = 0;
  rc = run_program(&ro, prog, cmd, &child, &st, &exec_err);
  if (rc) {
    unlink(manifest);
    return cli_fail("record", rc, "starting the program");
  }
  if (exec_err) {
    unlink(manifest);
    cli_error(prog, "cannot run it: %s", strerror(exec_err));
    return exec_err == ENOENT ? 127 : 126;
  }
  int code = WIFEXITED(st)     ? WEXITSTATUS(st)
             : WIFSIGNALED(st) ? 128 + WTERMSIG(st)
                               : 1;
  size_t n = 0;
  static rt_tally_t rt; /* PATH_MAX-sized names: not on the stack */
  entry_t *v = read_manifest(manifest, &n, &rt);
  report_runtimes(&rt);
  unlink(manifest);
  int prog_idx = classify(v, n, child);
  rc = report(&plan, v, n, prog_idx, keep_launchers, force, code);
  for (size_t i = 0; i < n; i++) free(v[i].path);
  free(v);
  return rc;
}

const cli_cmd_t cli_cmd_record = {"record", "run a program under the recorder",
                                  run};
