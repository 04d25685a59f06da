/* cmd_report.c: `hksim report --db DB [--format md|csv|tex] [--out DIR]`,
 * the standard comparison tables of a results database (analysis/
 * ana_report.c) and, with --out, the plots through gnuplot (ana_plot.c);
 * `--published` prints hakmem's published tables beside the measured ones.
 * Also `hksim symbolize --db DB`: call sites to functions, files, lines. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim report --db DB [--format md|csv|tex] [--out DIR]\n"
          "                    [--published] [--no-symbolize]\n\n"
          "Prints the standard comparison tables of a results database to\n"
          "stdout: per trace, back end and policy the median, p95 and p99 ns\n"
          "per op, the ratio to mimalloc, page faults, syscalls by kind, peak\n"
          "RSS and BigCache hit rate; repeats are aggregated as medians (of\n"
          "medians). --published prints instead hakmem's published tables\n"
          "(Phase 6.7 vm, json, mir) beside the measured figures.\n\n"
          "--out DIR  also draws with gnuplot (SVG and PNG, scripts and data\n"
          "           kept in DIR): latency CDF per back end and policy, ELO\n"
          "           ratings, BigCache hit rate and RSS over the run. Without\n"
          "           gnuplot ($HKSIM_GNUPLOT, else PATH) the tables still print,\n"
          "           one line says the plots were skipped, and the exit is 0.\n"
          "--no-symbolize  do not symbolize call sites first (the report\n"
          "           otherwise symbolizes traces not yet done, and stores it).\n\n"
          "The database gets the views of analysis/views.sql (idempotent).\n"
          "exit: 0 ok, 1 missing / not a results database / newer schema /\n"
          "gnuplot failed, 2 usage.\n");
}

static int open_db(const char *path, ana_db_t **db) {
  char why[512] = "";
  int rc = ana_db_open(path, 0, db, why, sizeof why);
  if (rc) {
    cli_error(path, "%s", why[0] ? why : hk_strerror(rc));
    return CLI_FAIL;
  }
  return CLI_OK;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'},   {"format", required_argument, 0, 'f'},
      {"out", required_argument, 0, 'o'},  {"published", no_argument, 0, 'p'},
      {"phase67", no_argument, 0, 'p'},    {"no-symbolize", no_argument, 0, 'n'},
      {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
  const char *dbp = NULL, *out = NULL;
  ana_format_t fmt = ANA_FMT_MD;
  int published = 0, symbolize = 1, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+d:f:o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': dbp = optarg; break;
    case 'f':
      if (ana_format_parse(optarg, &fmt))
        return cli_usage("report", "bad --format '%s' (md, csv or tex)", optarg);
      break;
    case 'o': out = optarg; break;
    case 'p': published = 1; break;
    case 'n': symbolize = 0; break;
    case 'h': help(stdout); return CLI_OK;
    default: return cli_usage("report", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage("report", "unexpected argument '%s'", argv[optind]);
  if (!dbp) return cli_usage("report", "missing --db DB");
  ana_db_t *db;
  if (open_db(dbp, &db)) return CLI_FAIL;
  char why[512] = "";
  if (symbolize && ana_symbolize(db, -1, 0, NULL, why, sizeof why))
    cli_error(dbp, "symbolization skipped: %s", why);
  why[0] = 0;
  int rc = published ? ana_report_published(db, fmt, stdout, why, sizeof why)
                     : ana_report_tables(db, fmt, stdout, why, sizeof why);
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
      rc = ana_plot_all(db, out, g, &ps, why, sizeof why);
      if (rc) {
        cli_error(out, "plots: %s", why[0] ? why : hk_strerror(rc));
        ana_db_free(db);
        return CLI_FAIL;
      }
      fprintf(stderr, "hksim: %s: %u plots (SVG and PNG)%s\n", out, ps.plots,
              ps.skipped ? ", some skipped for lack of data" : "");
    }
  }
  ana_db_free(db);
  return CLI_OK;
}

const cli_cmd_t cli_cmd_report = {
    "report", "tables and plots of a results database (md, csv, tex; gnuplot)",
    run};

/* ---- hksim symbolize --------------------------------------------------- */

static void sym_help(FILE *f) {
  fprintf(f,
          "usage: hksim symbolize --db DB [--trace ID] [--force] [--no-build-id]\n\n"
          "Resolves the call sites of every trace (or trace ID) to function,\n"
          "file, line and module with elfutils libdw, from the recorded module\n"
          "map, into the symbols table (inlined frames: symbol_inlines). Once\n"
          "per trace: traces already done are skipped unless --force. Missing\n"
          "files, debug information or a build id that differs from the\n"
          "recorded one (unless --no-build-id) leave module + offset.\n");
}

static int sym_run(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'}, {"trace", required_argument, 0, 't'},
      {"force", no_argument, 0, 'F'},    {"no-build-id", no_argument, 0, 'B'},
      {"help", no_argument, 0, 'h'},     {0, 0, 0, 0}};
  const char *dbp = NULL;
  int64_t trace = -1;
  unsigned flags = 0;
  uint64_t v;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': dbp = optarg; break;
    case 't':
      if (cli_parse_u64(optarg, &v) || v > INT64_MAX)
        return cli_usage("symbolize", "bad --trace '%s'", optarg);
      trace = (int64_t)v;
      break;
    case 'F': flags |= ANA_SYM_FORCE; break;
    case 'B': flags |= ANA_SYM_NO_BUILDID; break;
    case 'h': sym_help(stdout); return CLI_OK;
    default: return cli_usage("symbolize", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage("symbolize", "unexpected argument '%s'", argv[optind]);
  if (!dbp) return cli_usage("symbolize", "missing --db DB");
  ana_db_t *db;
  if (open_db(dbp, &db)) return CLI_FAIL;
  ana_sym_stats_t st;
  char why[512] = "";
  int rc = ana_symbolize(db, trace, flags, &st, why, sizeof why);
  ana_db_free(db);
  if (rc) {
    cli_error(dbp, "symbolize: %s", why[0] ? why : hk_strerror(rc));
    return CLI_FAIL;
  }
  printf("%s: %llu traces symbolized (%llu already done): %llu addresses, "
         "%llu with function, %llu with line, %llu inlined, %llu outside "
         "modules; %u modules, %u missing, %u build id mismatches\n",
         dbp, (unsigned long long)st.traces,
         (unsigned long long)st.traces_skipped,
         (unsigned long long)st.addresses, (unsigned long long)st.with_function,
         (unsigned long long)st.with_line, (unsigned long long)st.inlined,
         (unsigned long long)st.no_module, st.modules, st.modules_missing,
         st.build_id_mismatch);
  return CLI_OK;
}

const cli_cmd_t cli_cmd_symbolize = {
    "symbolize", "resolve call sites to function, file, line (libdw)", sym_run};
