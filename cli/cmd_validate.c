/* cmd_validate.c: `hksim validate --db DB [--backend LIST] [--policy LIST]
 * [--repeat N] -- CMD ARGS`: does a replay predict the live program?
 * Records CMD once (through `hksim record`), replays the recording against
 * the back ends (rpl_replay), then runs CMD live --repeat times per back
 * end, rounds interleaved across back ends, with each allocator preloaded
 * (rpl_live.c), and prints the fidelity views (analysis/views.sql). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "record_internal.h"
#include "replayer.h"

#define MAX_LIST 32

/* One table: getopt_long's options and the help text. */
typedef struct opt_doc {
  struct option o;
  const char *arg, *help;
} opt_doc_t;

enum { O_DB = 'd', O_BACKEND = 'b', O_POLICY = 'p', O_REPEAT = 'r',
       O_HELP = 'h', O_TOUCH = 256, O_PER_OP, O_STDIN, O_TRACE, O_HAKMEM,
       O_SEED, O_THREADS, O_GAPS };

static const opt_doc_t opts[] = {
    {{"db", required_argument, 0, O_DB}, "DB", "results database (required)"},
    {{"backend", required_argument, 0, O_BACKEND}, "LIST",
     "glibc, mimalloc, jemalloc, tcmalloc, hakmem, so:PATH[:prefix=P]\n"
     "(default glibc,mimalloc,jemalloc,tcmalloc)"},
    {{"policy", required_argument, 0, O_POLICY}, "LIST",
     "hakmem policies (default static); live: HAKMEM_POLICY"},
    {{"repeat", required_argument, 0, O_REPEAT}, "N",
     "live runs and replays per back end (default 3)"},
    {{"touch", required_argument, 0, O_TOUCH}, "MODE",
     "replay --touch (default pages)"},
    {{"per-op", required_argument, 0, O_PER_OP}, "MODE",
     "replay --per-op (default none: the loop time is compared)"},
    {{"seed", required_argument, 0, O_SEED}, "N", "replay --seed (default 1)"},
    {{"threads", required_argument, 0, O_THREADS}, "MODE",
     "replay --threads: auto (default: recorded for a multi-thread\n"
     "recording on glibc, mimalloc, jemalloc, tcmalloc, so:; serial\n"
     "otherwise), serial or recorded"},
    {{"gaps", required_argument, 0, O_GAPS}, "WS[:SCALE]",
     "replay --gaps: spend the recorded time between ops (default none)"},
    {{"hakmem", required_argument, 0, O_HAKMEM}, "K=V",
     "hakmem setting, repeatable (live: HAKMEM_CONFIG)"},
    {{"stdin", required_argument, 0, O_STDIN}, "FILE",
     "CMD's standard input, every run (default /dev/null)"},
    {{"trace", required_argument, 0, O_TRACE}, "FILE",
     "keep the recording as FILE (default: a temporary file)"},
    {{"help", no_argument, 0, O_HELP}, NULL, "this text"},
};

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim validate --db DB [OPTIONS] -- CMD [ARGS...]\n\n"
          "Records CMD once, replays the recording against each back end,\n"
          "and runs CMD live --repeat times per back end (rounds interleaved\n"
          "across back ends; glibc plain, the others LD_PRELOADed; CMD's\n"
          "output goes to /dev/null). Live wall time, user/sys CPU, max RSS\n"
          "and page faults go to live_runs; the views fidelity and\n"
          "fidelity_summary (Kendall's tau, delta_error) compare the two.\n\n");
  for (size_t i = 0; i < HK_ARRAY_LEN(opts); i++) {
    char left[40];
    snprintf(left, sizeof left, "--%s%s%s", opts[i].o.name,
             opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
    fprintf(f, "  %-18s ", left);
    /* A help text's further lines start under its first. */
    for (const char *h = opts[i].help; *h; h++)
      if (*h == '\n')
        fprintf(f, "\n%21s", "");
      else
        fputc(*h, f);
    fputc('\n', f);
  }
  fprintf(f,
          "\nThe hakmem library is HKSIM_HAKMEM_LIB, else BINDIR/../hakmem/"
          "libhakmem.so\nor BINDIR/../lib/libhakmem.so.\n"
          "exit: 0 all runs done; 1 CMD failed, a run failed, or a database\n"
          "error; 2 usage (unknown back end or policy, null: nothing run).\n");
}

static void on_error(void *ctx, const char *what, const char *msg) {
  cli_error(what, "%s", msg);
}

/* libhakmem.so: HKSIM_HAKMEM_LIB, else beside this program's build. */
static void find_hakmem(char *out, size_t len) {
  out[0] = 0;
  const char *env = getenv("HKSIM_HAKMEM_LIB");
  if (env && *env) {
    snprintf(out, len, "%s", env);
    return;
  }
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k <= 0) return;
  exe[k] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return;
  *slash = 0;
  static const char *const rel[] = {"../hakmem/libhakmem.so",
                                    "../lib/libhakmem.so"};
  for (size_t i = 0; i < HK_ARRAY_LEN(rel); i++) {
    char cand[PATH_MAX + 32];
    snprintf(cand, sizeof cand, "%s/%s", exe, rel[i]);
    if (realpath(cand, out) && access(out, R_OK) == 0) return;
  }
  out[0] = 0;
}

/* The recording to replay: of the files `hksim record` wrote (one per
 * process), the largest, which is where the program's allocations are
 * (a shell wrapper's own trace is small). */
static int pick_trace(const char *dir, char *out, size_t len) {
  char p[PATH_MAX + 300];
  DIR *d = opendir(dir);
  if (!d) return -errno;
  off_t best = -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 4, ".hkt") != 0) continue;
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= len)
      continue;
    if (stat(p, &st) == 0 && st.st_size > best) {
      best = st.st_size;
      memcpy(out, p, strlen(p) + 1);
    }
  }
  closedir(d);
  return best < 0 ? HK_E_NOTFOUND : 0;
}

static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[PATH_MAX + 300];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

typedef struct vcfg {
  const char *backends[MAX_LIST], *policies[MAX_LIST], *overrides[MAX_LIST];
  const char *runtime_env[8]; /* what `hksim record` sets, "VAR=value" */
  size_t nb, np, no;
  uint32_t repeat;
  const char *stdin_path, *trace_out;
  char **cmd;
  int ncmd;
} vcfg_t;

/* The live side: --repeat rounds, each running every (back end, policy)
 * once, so that drift of the machine falls on all back ends alike. */
static int live_side(const vcfg_t *v, rpl_db_t *db, int64_t trace_id,
                     const char *hakmem_lib, const char *command,
                     uint64_t *failed) {
  char hconf[1024] = "HAKMEM_CONFIG=";
  for (size_t k = 0; k < v->no; k++)
    snprintf(hconf + strlen(hconf), sizeof hconf - strlen(hconf), "%s%s",
             k ? "," : "", v->overrides[k]);
  for (uint32_t r = 0; r < v->repeat; r++)
    for (size_t b = 0; b < v->nb; b++) {
      int hak = strcmp(v->backends[b], "hakmem") == 0;
      for (size_t p = 0; p < (hak ? v->np : 1); p++) {
        char lib[PATH_MAX], why[PATH_MAX + 64] = "", pol[96];
        rpl_live_result_t res;
        int rc = rpl_live_preload(v->backends[b], hakmem_lib, lib, sizeof lib,
                                  why, sizeof why);
        if (rc) {
          memset(&res, 0, sizeof res);
          res.status = rc;
          snprintf(res.error, sizeof res.error, "%.*s", (int)sizeof res.error - 1,
                   why);
        } else {
          snprintf(pol, sizeof pol, "HAKMEM_POLICY=%s",
                   hak ? v->policies[p] : "");
          const char *env[12];
          size_t ne = 0;
          for (size_t k = 0; v->runtime_env[k]; k++) env[ne++] = v->runtime_env[k];
          if (hak) env[ne++] = pol;
          if (hak && v->no) env[ne++] = hconf;
          env[ne] = NULL;
          rc = rpl_live_run(v->cmd, lib, env, v->stdin_path, NULL, &res);
          if (rc) return cli_fail("validate", rc, "starting a live run");
        }
        rpl_live_info_t li = {.trace_id = trace_id,
                              .backend = v->backends[b],
                              .policy = hak ? v->policies[p] : NULL,
                              .command = command,
                              .preload = lib,
                              .repeat = r};
        if (rpl_db_live_store(db, &li, &res)) {
          cli_error("validate", "storing a live run: %s", rpl_db_errmsg(db));
          return CLI_FAIL;
        }
        if (res.status) {
          (*failed)++;
          cli_error(v->cmd[0], "live run (%s%s%s, round %u) failed: %s",
                    v->backends[b], hak ? "/" : "", hak ? v->policies[p] : "",
                    r, res.error);
        } else {
          char label[96];
          snprintf(label, sizeof label, "%s%s%s", v->backends[b],
                   hak ? "/" : "", hak ? v->policies[p] : "");
          printf("live %-24.24s round %u  wall %8.3f s  user %7.3f s  sys "
                 "%6.3f s  maxrss %7.1f MiB  faults %llu\n",
                 label, r,
                 (double)res.wall_ns / 1e9, (double)res.user_ns / 1e9,
                 (double)res.sys_ns / 1e9,
                 (double)res.max_rss_bytes / 1048576.0,
                 (unsigned long long)(res.minor_faults + res.major_faults));
          fflush(stdout);
        }
      }
    }
  return CLI_OK;
}

static int validate(int argc, char **argv) {
  vcfg_t v;
  memset(&v, 0, sizeof v);
  v.repeat = 3;
  rpl_opts_t o;
  memset(&o, 0, sizeof o);
  o.seed = 1;
  o.touch = RPL_TOUCH_PAGES;
  o.sample_every = 0;
  o.progress = 0;
  o.threads = RPL_THREADS_AUTO;
  const char *dbp = NULL;

  struct option lo[HK_ARRAY_LEN(opts) + 1];
  for (size_t i = 0; i < HK_ARRAY_LEN(opts); i++) lo[i] = opts[i].o;
  memset(&lo[HK_ARRAY_LEN(opts)], 0, sizeof lo[0]);
  optind = 1;
  opterr = 0;
  int c;
  uint64_t n;
  while ((c = getopt_long(argc, argv, "+:d:b:p:r:h", lo, NULL)) != -1) {
    switch (c) {
    case O_DB: dbp = optarg; break;
    case O_BACKEND:
      if (cli_split(optarg, ",", v.backends, &v.nb, MAX_LIST))
        return cli_usage("validate", "too many back ends");
      break;
    case O_POLICY:
      if (cli_split(optarg, ",", v.policies, &v.np, MAX_LIST))
        return cli_usage("validate", "too many policies");
      break;
    case O_REPEAT:
      if (cli_parse_u64(optarg, &n) || n < 1 || n > 1000)
        return cli_usage("validate", "bad --repeat '%s' (1..1000)", optarg);
      v.repeat = (uint32_t)n;
      break;
    case O_TOUCH:
      if (rpl_touch_parse(optarg, &o.touch))
        return cli_usage("validate", "bad --touch '%s'", optarg);
      break;
    case O_PER_OP:
      if (cli_parse_per_op(optarg, 0, &o))
        return cli_usage("validate", "bad --per-op '%s'", optarg);
      break;
    case O_SEED:
      if (cli_parse_u64(optarg, &o.seed))
        return cli_usage("validate", "bad --seed '%s'", optarg);
      break;
    case O_HAKMEM:
      if (!strchr(optarg, '=') || v.no == MAX_LIST)
        return cli_usage("validate", "--hakmem wants KEY=VALUE, not '%s'",
                         optarg);
      v.overrides[v.no++] = optarg;
      break;
    case O_THREADS:
      if (rpl_threads_parse(optarg, &o.threads))
        return cli_usage("validate", "bad --threads '%s' (auto, serial or "
                         "recorded)", optarg);
      break;
    case O_GAPS:
      if (rpl_gaps_parse(optarg, &o.gap_ws, &o.gap_scale))
        return cli_usage("validate", "bad --gaps '%s' (want WS[:SCALE] such "
                         "as 256K or 1M:0.5, 0 to spin only, or none)", optarg);
      break;
    case O_STDIN: v.stdin_path = optarg; break;
    case O_TRACE: v.trace_out = optarg; break;
    case O_HELP: help(stdout); return CLI_OK;
    case ':':
      return cli_usage("validate", "%s needs a value", argv[optind - 1]);
    default:
      return cli_usage("validate", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc && strcmp(argv[optind], "--") == 0) optind++;
  if (!dbp) return cli_usage("validate", "--db DB is required");
  if (optind >= argc) return cli_usage("validate", "no command to run");
  v.cmd = argv + optind;
  v.ncmd = argc - optind;
  if (v.nb == 0) {
    static const char *const def[] = {"glibc", "mimalloc", "jemalloc",
                                      "tcmalloc"};
    for (size_t i = 0; i < HK_ARRAY_LEN(def); i++) v.backends[v.nb++] = def[i];
  }
  if (v.np == 0) v.policies[v.np++] = "static";
  char hakmem_lib[PATH_MAX];
  find_hakmem(hakmem_lib, sizeof hakmem_lib);
  for (size_t b = 0; b < v.nb; b++) {
    char lib[PATH_MAX], why[PATH_MAX + 64];
    if (!rpl_backend_find(v.backends[b]))
      return cli_usage("validate", "unknown back end '%s'", v.backends[b]);
    if (rpl_live_preload(v.backends[b], hakmem_lib, lib, sizeof lib, why,
                         sizeof why) == HK_E_USAGE)
      return cli_usage("validate", "%s", why);
  }
  for (size_t p = 0; p < v.np; p++)
    if (!rpl_policy_known(v.policies[p]))
      return cli_usage("validate", "unknown policy '%s' (known: %s)",
                       v.policies[p], rpl_policy_names());
  if (v.stdin_path && access(v.stdin_path, R_OK)) {
    cli_error(v.stdin_path, "cannot read: %s", strerror(errno));
    return CLI_FAIL;
  }
  /* Before anything is written: the replay of jemalloc may need this
   * program restarted (rpl_replay would otherwise restart it after the
   * recording). */
  rpl_reexec_for_static_tls(v.backends, v.nb);

  /* The live program runs as it was recorded: the switches `hksim
   * record` sets for runtimes with an allocator of their own (CPython's
   * PYTHONMALLOC=malloc...) are set for the live runs too, else the two
   * sides would not run the same allocation stream. */
  static char rt_env[8][96];
  char prog[PATH_MAX], target[PATH_MAX], rwhy[128];
  size_t nrt = 0;
  if (cli_record_resolve(v.cmd[0], prog, sizeof prog, rwhy, sizeof rwhy)) {
    /* Nothing to record or run live: one line, as hksim record's. */
    cli_error(v.cmd[0], "%s", rwhy);
    return CLI_FAIL;
  }
  unsigned mask = cli_record_runtimes(prog, v.cmd, target, sizeof target);
  for (unsigned i = 0; rec_runtimes[i].name && nrt + 1 < HK_ARRAY_LEN(rt_env);
       i++)
    if ((mask & (1u << i)) && !getenv(rec_runtimes[i].var)) {
      snprintf(rt_env[nrt], sizeof rt_env[nrt], "%s=%s", rec_runtimes[i].var,
               rec_runtimes[i].value);
      v.runtime_env[nrt] = rt_env[nrt];
      nrt++;
    }
  v.runtime_env[nrt] = NULL;

  char command[2048] = "";
  for (int i = 0; i < v.ncmd; i++)
    snprintf(command + strlen(command), sizeof command - strlen(command),
             "%s%s", i ? " " : "", v.cmd[i]);
  char options[2048] = "hksim";
  for (int i = 0; i < argc; i++)
    snprintf(options + strlen(options), sizeof options - strlen(options),
             " %s", argv[i]);

  /* 1. Record, through `hksim record` itself. */
  const char *tmpd = getenv("TMPDIR");
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/hksim-validate-XXXXXX",
           tmpd && *tmpd ? tmpd : "/tmp");
  if (!mkdtemp(dir)) return cli_fail(dir, -errno, "creating a directory");
  char out[PATH_MAX + 8];
  snprintf(out, sizeof out, "%s/rec.hkt", dir);
  char *rargv[4096];
  int ra = 0;
  rargv[ra++] = "/proc/self/exe";
  rargv[ra++] = "record";
  rargv[ra++] = "-o";
  rargv[ra++] = out;
  /* The switches are the ones above, for the recording as for the live
   * runs: not the recorder's own, which the live runs would not have
   * (a python started by a shell script would record with malloc and run
   * live with pymalloc). */
  rargv[ra++] = "--no-runtime-env";
  rargv[ra++] = "--";
  for (int i = 0; i < v.ncmd && ra < (int)HK_ARRAY_LEN(rargv) - 1; i++)
    rargv[ra++] = v.cmd[i];
  rargv[ra] = NULL;
  fprintf(stderr, "hksim validate: recording %s\n", command);
  rpl_live_result_t rr;
  int rc = rpl_live_run(rargv, NULL, v.runtime_env, v.stdin_path, NULL, &rr);
  char trace[PATH_MAX];
  if (rc || rr.status) {
    cli_error(v.cmd[0], "recording failed: %s",
              rc ? hk_strerror(rc) : rr.error);
    rm_dir(dir);
    return CLI_FAIL;
  }
  if (pick_trace(dir, trace, sizeof trace)) {
    cli_error(v.cmd[0], "recording wrote no trace");
    rm_dir(dir);
    return CLI_FAIL;
  }
  if (v.trace_out) {
    if (rename(trace, v.trace_out)) {
      int e = errno;
      cli_error(v.trace_out, "cannot keep the recording: %s", strerror(e));
      rm_dir(dir);
      return CLI_FAIL;
    }
    snprintf(trace, sizeof trace, "%s", v.trace_out);
  }

  /* 2. Replay the recording. */
  const char *traces[1] = {trace};
  o.traces = traces;
  o.n_traces = 1;
  o.db_path = dbp;
  o.backends = v.backends;
  o.n_backends = v.nb;
  o.policies = v.policies;
  o.n_policies = v.np;
  o.repeat = v.repeat;
  o.overrides = v.overrides;
  o.n_overrides = v.no;
  o.options_text = options;
  o.on_error = on_error;
  rpl_report_t rep;
  rc = rpl_replay(&o, &rep);
  uint64_t hash = 0;
  int hrc = rc ? rc : trc_file_hash(trace, &hash);
  if (!v.trace_out) unlink(trace);
  rm_dir(dir);
  if (rc == HK_E_USAGE) return CLI_USAGE;
  if (hrc) return hrc == rc ? CLI_FAIL : cli_fail(trace, hrc, "hashing");

  /* 3. The live side, stored beside the trace the replay stored. */
  rpl_db_t *db;
  char why[512] = "";
  if (rpl_db_open(&db, dbp, why, sizeof why)) {
    cli_error(dbp, "%s", why);
    return CLI_FAIL;
  }
  int64_t trace_id = 0;
  if (rpl_db_trace_id(db, hash, &trace_id)) {
    cli_error(dbp, "the recording's trace is not in the database");
    rpl_db_free(db);
    return CLI_FAIL;
  }
  uint64_t live_failed = 0;
  rc = live_side(&v, db, trace_id, hakmem_lib, command, &live_failed);
  if (rc == CLI_OK) {
    printf("\nfidelity of %s (trace %lld):\n", command, (long long)trace_id);
    if (rpl_db_fidelity_print(db, trace_id, stdout))
      cli_error(dbp, "reading the fidelity views: %s", rpl_db_errmsg(db));
  }
  rpl_db_free(db);
  if (rc) return rc;
  if (rep.runs_failed || live_failed) {
    cli_error(dbp, "%llu replay run(s) and %llu live run(s) failed",
              (unsigned long long)rep.runs_failed,
              (unsigned long long)live_failed);
    return CLI_FAIL;
  }
  return CLI_OK;
}

static int run(int argc, char **argv) {
  int rc = validate(argc, argv);
  cli_split_release();
  return rc;
}

const cli_cmd_t cli_cmd_validate = {
    "validate", "run a program live beside the replay of its recording", run};
