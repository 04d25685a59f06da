/* cmd_report.c: `hksim report --db DB [--format md|csv|tex] [--out DIR]`,
 * the standard comparison tables of a results database (analysis/
 * ana_report.c) and, with --out, the plots through gnuplot (ana_plot.c);
 * `--published` prints hakmem's published tables beside the measured ones;
 * the who-allocates section (ana_report_sites); `--folded FILE` writes
 * collapsed stacks for flame graphs instead (analysis/ana_sites.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "cli.h"
#include "hk_progress.h"

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim report --db DB [--format md|csv|tex] [--out DIR]\n"
          "                    [--plot-backend LIST] [--published]\n"
          "                    [--no-symbolize] [--top N]\n"
          "                    [--wrappers FILE] [--no-sites]\n"
          "                    [--progress|--quiet]\n"
          "       hksim report --db DB --folded FILE [--weight bytes|allocs|peak]\n"
          "                    [--trace ID]\n\n"
          "Prints the standard comparison tables of a results database to\n"
          "stdout: per trace, back end and policy the median, p95 and p99 ns\n"
          "per op, the ratio to mimalloc, page faults, syscalls by kind, peak\n"
          "RSS and BigCache hit rate; repeats are aggregated as medians (of\n"
          "medians). --published prints instead hakmem's published tables\n"
          "(Phase 6.7 vm, json, mir) beside the measured figures.\n\n"
          "--out DIR  also draws with gnuplot (SVG, PNG and, with pdfcairo,\n"
          "           PDF; scripts and data kept in DIR), per trace: latency\n"
          "           CDF by op kind and its log-log CCDF, total ns/op per\n"
          "           configuration with 95%% CI bars, latency by size class,\n"
          "           RSS net of the harness with live bytes, BigCache hit\n"
          "           rate, and per learning run arm shares and ELO ratings.\n"
          "           A curve of fewer than 3 points is left out and a plot\n"
          "           left without curves is skipped, each said on stderr.\n"
          "           Without gnuplot ($HKSIM_GNUPLOT, else PATH) the tables\n"
          "           still print, one line says the plots were skipped, and\n"
          "           the exit is 0.\n"
          "--plot-backend LIST  the back ends to draw, comma-separated\n"
          "           (default: all but null, which measures the harness and\n"
          "           is drawn only when named here).\n"
          "--no-symbolize  do not symbolize call sites first (the report\n"
          "           otherwise symbolizes traces not yet done, and stores it).\n"
          "Who allocates (md and tex, after the tables; --no-sites: not):\n"
          "           per recorded trace the share of bytes attributed to a\n"
          "           named function past the allocation wrappers, the top\n"
          "           --top N sites (default 10) by bytes, by allocations and\n"
          "           by bytes live at the peak with a short stack, temporary\n"
          "           allocations, leaks, and whether call sites predict size\n"
          "           and lifetime classes (docs/attribution.md).\n"
          "--wrappers FILE  add allocation wrappers (one glob pattern a line,\n"
          "           '# comment', 'module:GLOB' for a runtime library) to the\n"
          "           database's wrappers table and attribute again.\n"
          "--folded FILE  write collapsed stacks (root first, 'outer;...;inner\n"
          "           WEIGHT', one line per call site; '-' for stdout) for\n"
          "           flamegraph.pl, inferno or speedscope, and nothing else.\n"
          "           --weight: bytes requested (default), allocations, or\n"
          "           bytes live at the trace's peak; the weights sum to the\n"
          "           trace's totals. --trace ID: one trace (default: all, each\n"
          "           under its name as the root frame).\n"
          "--progress  progress lines on stderr even off a terminal (default:\n"
          "           only when stderr is a terminal): per trace symbolized,\n"
          "           'symbolizing N addresses' and 'attributing N ops'; with\n"
          "           --out, 'DIR: plotting N/M steps' (a run's ops\n"
          "           read, a plot drawn) with its ETA. Each phase\n"
          "           ends with its own line before the tables are written,\n"
          "           so progress and tables never share a line.\n"
          "--quiet    no progress lines.\n\n"
          "The database gets the views of analysis/views.sql (idempotent).\n"
          "exit: 0 ok, 1 missing / not a results database / newer schema /\n"
          "gnuplot failed, 2 usage.\n");
}

/* --folded: into a temporary file renamed over path when complete, so a
 * failure never leaves half a flame graph under the name asked for. */
static int write_folded(ana_db_t *db, const char *dbp, const char *path,
                        int64_t trace, ana_weight_t weight) {
  char why[512] = "", tmp[4096];
  int to_stdout = strcmp(path, "-") == 0;
  FILE *f = stdout;
  if (!to_stdout) {
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >=
        (int)sizeof tmp)
      return cli_fail(path, -ENAMETOOLONG, "writing");
    f = fopen(tmp, "w");
    if (!f) return cli_fail(path, -errno, "writing");
  }
  ana_folded_stats_t st;
  int rc = ana_folded(db, trace, weight, f, &st, why, sizeof why);
  if (to_stdout) {
    if (fflush(stdout) && !rc) rc = -EIO;
  } else {
    if (fclose(f) && !rc) rc = -errno;
    if (!rc && rename(tmp, path)) rc = -errno;
    if (rc) remove(tmp);
  }
  if (rc) {
    cli_error(rc == HK_E_NOTFOUND || rc == HK_E_SQLITE ? dbp : path, "%s",
              why[0] ? why : hk_strerror(rc));
    return CLI_FAIL;
  }
  fprintf(stderr, "hksim: %s: %llu stacks, total weight %llu\n",
          to_stdout ? "stdout" : path, (unsigned long long)st.stacks,
          (unsigned long long)st.total);
  return CLI_OK;
}

static int report(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'},   {"format", required_argument, 0, 'f'},
      {"out", required_argument, 0, 'o'},  {"published", no_argument, 0, 'p'},
      {"phase67", no_argument, 0, 'p'},    {"no-symbolize", no_argument, 0, 'n'},
      {"folded", required_argument, 0, 'F'}, {"weight", required_argument, 0, 'w'},
      {"trace", required_argument, 0, 't'}, {"top", required_argument, 0, 'T'},
      {"wrappers", required_argument, 0, 'W'}, {"no-sites", no_argument, 0, 'S'},
      {"plot-backend", required_argument, 0, 'B'},
      {"progress", no_argument, 0, 'P'},   {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
  const char *dbp = NULL, *out = NULL, *folded = NULL, *wrappers = NULL;
  const char *plot_be[64];
  ana_plot_opts_t popts = {plot_be, 0, stderr, 0};
  ana_format_t fmt = ANA_FMT_MD;
  ana_weight_t weight = ANA_W_BYTES;
  int64_t trace = -1;
  unsigned top = 10;
  uint64_t v;
  int published = 0, symbolize = 1, sites = 1, have_weight = 0, c;
  int progress = -1;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:d:f:o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': dbp = optarg; break;
    case 'f':
      if (ana_format_parse(optarg, &fmt))
        return cli_usage("report", "bad --format '%s' (md, csv or tex)", optarg);
      break;
    case 'o': out = optarg; break;
    case 'p': published = 1; break;
    case 'n': symbolize = 0; break;
    case 'F': folded = optarg; break;
    case 'w':
      if (ana_weight_parse(optarg, &weight))
        return cli_usage("report", "bad --weight '%s' (bytes, allocs or peak)",
                         optarg);
      have_weight = 1;
      break;
    case 't':
      if (cli_parse_u64(optarg, &v) || v > INT64_MAX)
        return cli_usage("report", "bad --trace '%s'", optarg);
      trace = (int64_t)v;
      break;
    case 'T':
      if (cli_parse_u64(optarg, &v) || v < 1 || v > 10000)
        return cli_usage("report", "bad --top '%s' (1 to 10000)", optarg);
      top = (unsigned)v;
      break;
    case 'W': wrappers = optarg; break;
    case 'S': sites = 0; break;
    case 'B':
      if (cli_split(optarg, ",", plot_be, &popts.n_backends,
                    HK_ARRAY_LEN(plot_be)) ||
          !popts.n_backends) {
        return cli_usage("report", "bad --plot-backend '%s' (a comma-"
                                   "separated list of back ends)", optarg);
      }
      for (size_t i = 0; i < popts.n_backends; i++)
        if (!plot_be[i][0]) {
          return cli_usage("report", "bad --plot-backend '%s' (an empty "
                                     "name)", optarg);
        }
      break;
    case 'P': progress = 1; break;
    case 'q': progress = 0; break;
    case 'h': help(stdout); return CLI_OK;
    case ':': /* a known option at the end of the line, its value missing */
      return cli_usage("report", "%s needs a value", argv[optind - 1]);
    default: return cli_usage("report", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage("report", "unexpected argument '%s'", argv[optind]);
  if (!dbp) return cli_usage("report", "missing --db DB");
  if (popts.n_backends && !out)
    return cli_usage("report", "--plot-backend goes with --out DIR");
  if ((have_weight || trace >= 0) && !folded)
    return cli_usage("report", "--weight and --trace go with --folded FILE");
  if (folded && (out || published))
    return cli_usage("report", "--folded writes stacks only: not with "
                               "--out or --published");
  progress = hk_progress_wanted(progress);
  popts.progress = progress;
  ana_db_t *db;
  if (cli_open_db(dbp, 0, &db)) return CLI_FAIL;
  char why[512] = "";
  if (wrappers) {
    ana_attr_stats_t as;
    int wr = ana_wrappers_load(db, wrappers, why, sizeof why);
    if (!wr) wr = ana_attribute(db, -1, 0, &as, why, sizeof why);
    if (wr) {
      cli_error(wrappers, "%s", why[0] ? why : hk_strerror(wr));
      ana_db_free(db);
      return CLI_FAIL;
    }
  }
  /* Its progress lines end before a byte of the report is written. */
  if (symbolize && ana_symbolize(db, -1, progress ? ANA_SYM_PROGRESS : 0,
                                 NULL, why, sizeof why))
    cli_error(dbp, "symbolization skipped: %s", why);
  why[0] = 0;
  if (folded) {
    int rc = write_folded(db, dbp, folded, trace, weight);
    ana_db_free(db);
    return rc;
  }
  int rc = published ? ana_report_published(db, fmt, stdout, why, sizeof why)
                     : ana_report_tables(db, fmt, stdout, why, sizeof why);
  if (!rc && sites && !published && fmt != ANA_FMT_CSV)
    rc = ana_report_sites(db, fmt, top, stdout, why, sizeof why);
  fflush(stdout);
  if (rc) {
    cli_error(dbp, "report: %s", why[0] ? why : hk_strerror(rc));
    ana_db_free(db);
    return CLI_FAIL;
  }
  if (out) {
    char gp[4096];
    const char *g = ana_gnuplot_find(gp, sizeof gp);
    if (!g) {
      cli_error(out, "gnuplot not found (%s; set HKSIM_GNUPLOT or PATH): "
                     "plots skipped", gp);
    } else {
      ana_plot_stats_t ps;
      rc = ana_plot_all(db, out, g, &popts, &ps, why, sizeof why);
      if (rc) {
        cli_error(out, "plots: %s", why[0] ? why : hk_strerror(rc));
        ana_db_free(db);
        return CLI_FAIL;
      }
      fprintf(stderr, "hksim: %s: %u plots (SVG, PNG%s)%s\n", out, ps.plots,
              ps.pdf ? ", PDF" : "",
              ps.skipped ? ", some skipped for lack of data" : "");
    }
  }
  ana_db_free(db);
  return CLI_OK;
}

/* The copies cli_split made for --plot-backend live until the end. */
static int run(int argc, char **argv) {
  int rc = report(argc, argv);
  cli_split_release();
  return rc;
}

const cli_cmd_t cli_cmd_report = {
    "report", "tables and plots of a results database (md, csv, tex; gnuplot)",
    run};
