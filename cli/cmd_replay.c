/* cmd_replay.c: `hksim replay`, the command-line front of replayer/:
 * parses the flags of DESIGN.md's contract (plus --hakmem, --rss-every,
 * --progress) and hands them to rpl_replay(). Then symbolizes and
 * attributes the traces it stored (analysis/, which replayer/ may not
 * use), so that a fresh database already names its call sites. */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "cli.h"
#include "hk_progress.h"
#include "replayer.h"
#include "trc.h"

#define MAX_LIST 64

/* getopt_long's values; the one-letter ones are -q and -h. */
enum { O_QUIET = 'q', O_HELP = 'h', O_DB = 256, O_BACKEND, O_POLICY,
       O_SEED, O_TOUCH, O_PER_OP, O_REPEAT, O_HAKMEM, O_CALIBRATION,
       O_RSS_EVERY, O_CACHE_DIR, O_NO_CACHE, O_SHARD, O_MEM_LIMIT,
       O_MAX_EXPANSION, O_THREADS, O_GAPS, O_PROGRESS };

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim replay TRACE... --db DB [--backend LIST] [--policy LIST]\n"
          "         [--seed N] [--touch none|first|pages|full|check]\n"
          "         [--per-op all|sample:N|batch:K|iteration|none] [--repeat N]\n"
          "         [--hakmem KEY=VALUE]... [--rss-every N] [--progress|--quiet]\n"
          "         [--cache-dir DIR|--no-cache] [--shard I/N]\n"
          "         [--mem-limit SIZE|none] [--max-expansion N|none]\n"
          "         [--calibration NAME] [--threads auto|serial|recorded]\n"
          "         [--gaps WS[:SCALE]|none]\n\n"
          "Replays each trace against each back end (and each policy, for\n"
          "hakmem), --repeat times, one fresh child process per run, and\n"
          "stores every run in the SQLite database DB (analysis/schema.sql).\n\n"
          "  --backend LIST  comma-separated: hakmem, mimalloc, glibc, jemalloc,\n"
          "                  tcmalloc, null, so:PATH[:prefix=P] (any malloc-API\n"
          "                  library, docs/backends.md), or 'all' (default:\n"
          "                  hakmem,mimalloc)\n"
          "                  null is the cheapest allocator that reuses\n"
          "                  memory (size-class free lists over a bump\n"
          "                  pointer): it measures the harness alone (its\n"
          "                  floor) and is left out of 'all', the winner\n"
          "                  queries and the plots unless named\n"
          "  --policy LIST   hakmem policies (default: static):\n"
          "                  static  a fixed threshold (static.threshold, 256K)\n"
          "                  ucb1    per-site UCB1 over 64K..2M\n"
          "                  elo     ELO over 12 global strategies 512K..32M\n"
          "                  evo     the learning lifecycle around elo: LEARN,\n"
          "                          FROZEN once stable, CANARY, re-learn on a\n"
          "                          shift or degradation (evo.mode=auto);\n"
          "                          --hakmem evo.mode=frozen starts it frozen on\n"
          "                          elo.initial_arm, as libhakmem.so's balanced\n"
          "                          mode does; evo.mode=learn never freezes\n"
          "                  oracle  the best fixed arm per site in hindsight,\n"
          "                          searched by model replays over oracle.arms\n"
          "                          (default UCB1's six); the yardstick of the\n"
          "                          policy_regret view\n"
          "                  The lifecycle's times run on the trace's own clock\n"
          "                  (recorded time; a scenario's virtual clock) and\n"
          "                  take units: --hakmem evo.freeze_after=0|2s|180s,\n"
          "                  evo.window=2s, ucb1.cooldown=180s (ns, us, ms, s,\n"
          "                  m, h); timeline.every=N samples the policy's\n"
          "                  state every N decisions (default 1000; 0: only\n"
          "                  with RSS samples)\n"
          "  --seed N        seed of the policies' random numbers (default 1)\n"
          "  --touch MODE    memory written after each allocation, outside the\n"
          "                  timed region (default pages; check: test mode that\n"
          "                  verifies realloc kept the contents)\n"
          "  --per-op MODE   per-op latency rows: all, sample:N (every Nth op),\n"
          "                  none; or spans timed as one (table run_span):\n"
          "                  batch:K, up to K consecutive ops of one kind (for a\n"
          "                  coarse timer; percentiles are ns/op per batch);\n"
          "                  iteration, an allocation + its touch + its free\n"
          "                  when the free comes next (hakmem's harness metric)\n"
          "  --repeat N      runs per (trace, back end, policy) (default 1);\n"
          "                  interleaved: every configuration once, in an order\n"
          "                  shuffled from the seed, before the next repeat;\n"
          "                  numbered on from the repeats already in DB\n"
          "  --hakmem K=V    hakmem config override, repeatable (e.g. bigcache=off)\n"
          "  --calibration NAME  the cost model's event costs measured by\n"
          "                  `hksim calibrate --name NAME` into DB (default: the\n"
          "                  built-in costs; runs.calibration says which)\n"
          "  --rss-every N   ops between RSS samples (default: about 256 a run)\n"
          "  --cache-dir DIR prepared programs, kept by trace content hash (default:\n"
          "                  $HKSIM_CACHE_DIR, $XDG_CACHE_HOME/hksim, ~/.cache/hksim)\n"
          "  --no-cache      prepare every trace afresh into a temporary file\n"
          "  --shard I/N     only the I-th (0..N-1) of N parts of the run matrix,\n"
          "                  balanced by op count; the N parts make every run once\n"
          "  --mem-limit SIZE  memory a run may hold (K, M, G, T suffixes; 'none'):\n"
          "                  a trace needing more is refused before its runs, a\n"
          "                  run crossing it fails (default: half of physical\n"
          "                  memory, or of the cgroup's limit when lower)\n"
          "  --max-expansion N  a trace holding more than N events per byte of\n"
          "                  file (at least 1 M events) is refused before it\n"
          "                  is prepared, its cost named (default 64;\n"
          "                  recordings hold about 1; 'none': no limit); a\n"
          "                  trace of over 10 M events has its cost said\n"
          "  --threads MODE  recorded: each recorded thread of a multi-thread\n"
          "                  trace on its own replay thread, waiting only where\n"
          "                  causality needs it, for the back ends that take\n"
          "                  calls from several threads (glibc, mimalloc,\n"
          "                  jemalloc, tcmalloc, so:; hakmem and null replay\n"
          "                  serially); serial: one replay thread in the\n"
          "                  recorded causal order; auto (default): recorded\n"
          "                  where it applies, serial for a one-thread trace\n"
          "                  and with --per-op batch:K or iteration. Each run\n"
          "                  prints and stores what it did (runs.replay_threads)\n"
          "  --gaps WS[:SCALE]  before each op spend the recorded time since the\n"
          "                  previous op (serial: of the program; threaded: of\n"
          "                  its thread) times SCALE (default 1), at most 1 ms,\n"
          "                  walking a WS-byte buffer (K, M, G; 0: spin only);\n"
          "                  'none' (default): no gaps. Needs a recording's\n"
          "                  times (docs/backends.md, --gaps)\n"
          "  --progress      progress bar on stderr even if it is not a terminal\n"
          "  --quiet         no progress bar, no warning when the load average\n"
          "                  is above the CPU count (it is stored per run)\n\n"
          "exit: 0 every run done, 1 a run failed or an input/database error,\n"
          "2 usage (unknown back end or policy: nothing is written),\n"
          "130/143 interrupted by SIGINT/SIGTERM (the run in progress is\n"
          "stored failed, \"interrupted by SIGINT\"; no temporary file is left)\n");
}

static void on_error(void *ctx, const char *what, const char *msg) {
  cli_error(what, "%s", msg);
}

/* Symbolization is an extra: the runs are stored whatever happens here,
 * so a failure is one line and not the replay's exit status (hksim
 * symbolize can do it again). Traces already symbolized are skipped. */
static void symbolize_stored(const char *db_path, int progress) {
  progress = hk_progress_wanted(progress);
  ana_db_t *db;
  char why[512] = "";
  int rc = ana_db_open(db_path, 0, &db, why, sizeof why);
  if (!rc) {
    rc = ana_symbolize(db, -1, progress ? ANA_SYM_PROGRESS : 0, NULL, why,
                       sizeof why);
    ana_db_free(db);
  }
  if (rc)
    cli_error(db_path, "call sites not symbolized (hksim symbolize): %s",
              why[0] ? why : hk_strerror(rc));
}

/* 1 when the cost check (rpl_cost_judge, expansion only: where the program
 * goes is the session's business) refuses every trace; their lines are
 * printed then. */
static int all_refused(const char *const *traces, size_t nt, uint64_t mx) {
  mx = mx == UINT64_MAX ? 0 : mx ? mx : RPL_COST_MAX_EXPANSION;
  char why[400];
  for (int say = 0; say < 2; say++)
    for (size_t i = 0; i < nt; i++) {
      rpl_cost_t c;
      int bad = !rpl_cost_estimate(traces[i], &c) &&
                rpl_cost_judge(&c, mx, NULL, why, sizeof why);
      if (!bad) return 0;
      if (say) cli_error(traces[i], "%s", why);
    }
  return nt > 0;
}

static int run_replay(int argc, char **argv) {
  const char *traces[MAX_LIST], *backends[MAX_LIST], *policies[MAX_LIST],
      *overrides[MAX_LIST];
  size_t nt = 0, nb = 0, np = 0, no = 0;
  const char *calib = NULL;
  rpl_opts_t o;
  memset(&o, 0, sizeof o);
  o.seed = 1;
  o.touch = RPL_TOUCH_PAGES;
  o.sample_every = 1;
  o.repeat = 1;
  o.progress = -1;
  o.threads = RPL_THREADS_AUTO;
  char options[2048] = "hksim";
  for (int i = 0; i < argc; i++)
    snprintf(options + strlen(options), sizeof options - strlen(options),
             " %s", argv[i]);

  static const struct option lo[] = {
      {"db", required_argument, 0, O_DB},
      {"backend", required_argument, 0, O_BACKEND},
      {"backends", required_argument, 0, O_BACKEND},
      {"policy", required_argument, 0, O_POLICY},
      {"policies", required_argument, 0, O_POLICY},
      {"seed", required_argument, 0, O_SEED},
      {"touch", required_argument, 0, O_TOUCH},
      {"per-op", required_argument, 0, O_PER_OP},
      {"repeat", required_argument, 0, O_REPEAT},
      {"hakmem", required_argument, 0, O_HAKMEM},
      {"calibration", required_argument, 0, O_CALIBRATION},
      {"rss-every", required_argument, 0, O_RSS_EVERY},
      {"cache-dir", required_argument, 0, O_CACHE_DIR},
      {"no-cache", no_argument, 0, O_NO_CACHE},
      {"shard", required_argument, 0, O_SHARD},
      {"mem-limit", required_argument, 0, O_MEM_LIMIT},
      {"max-expansion", required_argument, 0, O_MAX_EXPANSION},
      {"threads", required_argument, 0, O_THREADS},
      {"gaps", required_argument, 0, O_GAPS},
      {"progress", no_argument, 0, O_PROGRESS},
      {"quiet", no_argument, 0, O_QUIET},
      {"help", no_argument, 0, O_HELP},
      {0, 0, 0, 0}};
  /* Traces and options in any order (getopt_long permutes); "--" ends the
   * options. */
  optind = 1;
  opterr = 0;
  int c;
  uint64_t n;
  while ((c = getopt_long(argc, argv, ":qh", lo, NULL)) != -1) {
    const char *v = optarg;
    switch (c) {
    case O_HELP:
      help(stdout);
      return CLI_OK;
    case O_DB: o.db_path = v; break;
    case O_BACKEND:
      if (strcmp(v, "all") == 0) {
        /* null measures the harness, not an allocator: only by name. */
        for (const rpl_backend_t *const *b = rpl_backends; *b; b++)
          if (strcmp((*b)->name, "null") != 0 && nb < MAX_LIST)
            backends[nb++] = (*b)->name;
      } else if (cli_split(v, ",", backends, &nb, MAX_LIST)) {
        return cli_usage("replay", "too many back ends");
      } else if (nb == 0) { /* "" or ",": not the default in disguise */
        return cli_usage("replay", "--backend '%s' names no back end", v);
      }
      break;
    case O_POLICY:
      if (cli_split(v, ",", policies, &np, MAX_LIST))
        return cli_usage("replay", "too many policies");
      if (np == 0)
        return cli_usage("replay", "--policy '%s' names no policy", v);
      break;
    case O_SEED:
      if (cli_parse_u64(v, &o.seed))
        return cli_usage("replay", "bad --seed '%s'", v);
      break;
    case O_TOUCH:
      if (rpl_touch_parse(v, &o.touch))
        return cli_usage("replay", "bad --touch '%s'", v);
      break;
    case O_PER_OP:
      if (cli_parse_per_op(v, 1, &o))
        return cli_usage("replay", "bad --per-op '%s' (all, sample:N, "
                         "batch:K with K 2..65536, iteration, none)", v);
      break;
    case O_REPEAT:
      if (cli_parse_u64(v, &n) || n < 1 || n > 100000)
        return cli_usage("replay", "bad --repeat '%s'", v);
      o.repeat = (uint32_t)n;
      break;
    case O_HAKMEM:
      if (!strchr(v, '='))
        return cli_usage("replay", "--hakmem wants KEY=VALUE, not '%s'", v);
      if (no == MAX_LIST) return cli_usage("replay", "too many --hakmem");
      overrides[no++] = v;
      break;
    case O_CALIBRATION: calib = v; break;
    case O_RSS_EVERY:
      if (cli_parse_u64(v, &o.rss_every))
        return cli_usage("replay", "bad --rss-every '%s'", v);
      break;
    case O_CACHE_DIR: o.cache_dir = v; break;
    case O_NO_CACHE: o.cache_dir = ""; break;
    case O_SHARD:
      if (rpl_shard_parse(v, &o.shard_index, &o.shard_count))
        return cli_usage("replay", "bad --shard '%s' (want I/N, 0 <= I < N)",
                         v);
      break;
    case O_MEM_LIMIT:
      if (strcmp(v, "none") == 0)
        o.mem_limit = UINT64_MAX;
      else if (cli_parse_size(v, &o.mem_limit) || o.mem_limit == 0 ||
               o.mem_limit == UINT64_MAX)
        return cli_usage("replay", "bad --mem-limit '%s' (a size such as 512M "
                         "or 4G, or 'none')", v);
      break;
    case O_MAX_EXPANSION: {
      char *end;
      if (strcmp(v, "none") == 0)
        o.max_expansion = UINT64_MAX;
      else if (!isdigit((unsigned char)v[0]) ||
               (o.max_expansion = strtoull(v, &end, 10)) == 0 || *end ||
               o.max_expansion == UINT64_MAX)
        return cli_usage("replay", "bad --max-expansion '%s' (events per byte "
                         "of trace, a positive number, or 'none')", v);
      break;
    }
    case O_THREADS:
      if (rpl_threads_parse(v, &o.threads))
        return cli_usage("replay", "bad --threads '%s' (auto, serial or "
                         "recorded)", v);
      break;
    case O_GAPS:
      if (rpl_gaps_parse(v, &o.gap_ws, &o.gap_scale))
        return cli_usage("replay", "bad --gaps '%s' (want WS[:SCALE] such as "
                         "256K or 1M:0.5, 0 to spin only, or none)", v);
      break;
    case O_PROGRESS: o.progress = 1; break;
    case O_QUIET: o.progress = 0; break;
    case ':':
      return cli_usage("replay", "%s needs a value", argv[optind - 1]);
    default:
      return cli_usage("replay", "unknown option '%s'", argv[optind - 1]);
    }
  }
  for (int i = optind; i < argc; i++) {
    if (nt == MAX_LIST) return cli_usage("replay", "too many traces");
    traces[nt++] = argv[i];
  }
  if (nt == 0) return cli_usage("replay", "no trace given");
  if (!o.db_path) return cli_usage("replay", "--db DB is required");
  if (o.span && o.threads == RPL_THREADS_RECORDED)
    return cli_usage("replay", "--per-op %s times consecutive ops of the "
                     "program as one: not with --threads recorded",
                     o.span == RPL_SPAN_BATCH ? "batch:K" : "iteration");
  if (nb == 0) {
    backends[nb++] = "hakmem";
    backends[nb++] = "mimalloc";
  }
  if (np == 0) {
    policies[np++] = "static";
  } else {
    /* Policies steer hakmem alone: say so when none of the back ends
     * asked for will use them (the runs go on, without a policy). */
    int takes = 0;
    for (size_t b = 0; b < nb; b++) {
      const rpl_backend_t *be = rpl_backend_find(backends[b]);
      takes |= be && be->takes_policy;
    }
    if (!takes)
      fprintf(stderr, "hksim replay: warning: --policy applies to hakmem "
                      "only; these back ends run without a policy\n");
  }
  /* A trace that cannot be opened is refused before the database is
   * created: a failed first replay leaves no empty results file. */
  for (size_t i = 0; i < nt; i++) {
    trc_reader_t *r;
    int orc = trc_reader_open(&r, traces[i]);
    if (orc == HK_E_VERSION) continue; /* the replayer names both versions */
    if (orc) {
      char why[160];
      cli_error(traces[i], "%s", trc_open_error(traces[i], orc, why, sizeof why));
      return CLI_FAIL;
    }
    trc_reader_free(r);
  }
  /* Likewise a first replay whose every trace the cost check refuses (a
   * decompression bomb): said here, before the database exists. When some
   * trace is good the session runs it and names the refused ones itself. */
  if (access(o.db_path, F_OK) != 0 && all_refused(traces, nt, o.max_expansion))
    return CLI_FAIL;
  /* A calibration's cost.* settings come first, so --hakmem can still
   * override one of them. */
  static const char *all[2 * MAX_LIST];
  static char calib_kv[64];
  size_t na = 0;
  if (calib) {
    char buf[4096], why[512] = "";
    int rc = rpl_calib_load(o.db_path, calib, buf, sizeof buf, why, sizeof why);
    if (rc) {
      cli_error(o.db_path, "%s", why[0] ? why : hk_strerror(rc));
      return CLI_FAIL;
    }
    if (cli_split(buf, "\n", all, &na, MAX_LIST)) {
      cli_error(o.db_path, "calibration %s: more than %d settings, or out of "
                "memory", calib, MAX_LIST);
      return CLI_FAIL;
    }
    snprintf(calib_kv, sizeof calib_kv, "cost.calibration=%s", calib);
    all[na++] = calib_kv;
  }
  for (size_t k = 0; k < no; k++) all[na++] = overrides[k];
  o.traces = traces;
  o.n_traces = nt;
  o.backends = backends;
  o.n_backends = nb;
  o.policies = policies;
  o.n_policies = np;
  o.overrides = all;
  o.n_overrides = na;
  o.options_text = options;
  o.on_error = on_error;

  rpl_report_t rep;
  int rc = rpl_replay(&o, &rep);
  if (rep.interrupted) { /* the shell's convention: 128 + the signal */
    char run[64] = "no run was in progress";
    if (rep.interrupted_run)
      snprintf(run, sizeof run, "run %lld stored as failed",
               (long long)rep.interrupted_run);
    cli_error(o.db_path, "interrupted by %s: %s, %llu run(s) done",
              rep.interrupted == SIGINT ? "SIGINT" : "SIGTERM", run,
              (unsigned long long)rep.runs_done);
    return 128 + rep.interrupted;
  }
  if (rc == HK_E_USAGE) return CLI_USAGE;
  if (rc) return CLI_FAIL;
  symbolize_stored(o.db_path, o.progress);
  if (rep.runs_failed) {
    cli_error(o.db_path, "%llu run(s) failed, %llu done (see runs.error)",
              (unsigned long long)rep.runs_failed,
              (unsigned long long)rep.runs_done);
    return CLI_FAIL;
  }
  return CLI_OK;
}

static int run(int argc, char **argv) {
  int rc = run_replay(argc, argv);
  cli_split_release();
  return rc;
}

const cli_cmd_t cli_cmd_replay = {"replay",
                                  "replay traces against allocators into SQLite",
                                  run};
