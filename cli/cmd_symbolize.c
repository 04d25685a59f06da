/* cmd_symbolize.c: `hksim symbolize --db DB`, call sites to functions,
 * files and lines (analysis/ana_symbolize.c), whole stacks and attribution
 * past allocation wrappers (ana_sites.c). hksim replay does this when it
 * stores a trace; this command serves databases made before, redoes a
 * trace (--force) and adds user wrappers (--wrappers FILE). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "hk_progress.h"

static const struct option opts[] = {
    {"db", required_argument, 0, 'd'},       {"trace", required_argument, 0, 't'},
    {"force", no_argument, 0, 'F'},          {"no-build-id", no_argument, 0, 'B'},
    {"wrappers", required_argument, 0, 'W'}, {"progress", no_argument, 0, 'p'},
    {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim symbolize --db DB [--trace ID] [--force] [--no-build-id]\n"
          "                       [--wrappers FILE] [--progress|--quiet]\n\n"
          "Resolves the call sites of every trace (or trace ID) to function,\n"
          "file, line and module with elfutils libdw, from the recorded module\n"
          "map, into the symbols table (inlined frames: symbol_inlines; C++\n"
          "names demangled), then stores each site's whole stack (site_stack,\n"
          "view site_frames) and its attributed frame, past the allocator, the\n"
          "runtime and allocation wrappers (site_attr; site_summary names it).\n"
          "Once per trace: traces already done are skipped unless --force.\n"
          "Missing files, debug information or a build id that differs from\n"
          "the recorded one (unless --no-build-id) leave module + offset.\n\n"
          "--wrappers FILE  add wrappers to the database's wrappers table, one\n"
          "           a line: 'GLOB [reason]' (a function, demangled, without\n"
          "           parameters: 'my_alloc', 'pool::*'), 'runtime:GLOB' (a\n"
          "           runtime function), 'module:GLOB' (a runtime library file\n"
          "           name); '#' comments. Every trace is attributed again.\n"
          "--progress  progress lines on stderr (per trace: symbolizing N\n"
          "           addresses, attributing N ops; count and ETA) even off a\n"
          "           terminal (default: only when stderr is a terminal).\n"
          "--quiet    no progress lines.\n\n"
          "exit: 0 ok, 1 missing or bad database or wrappers file, 2 usage.\n");
}

static int run(int argc, char **argv) {
  const char *dbp = NULL, *wrappers = NULL;
  int64_t trace = -1;
  unsigned flags = 0;
  uint64_t v;
  int c, progress = -1;
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
    case 'W': wrappers = optarg; break;
    case 'p': progress = 1; break;
    case 'q': progress = 0; break;
    case 'h': help(stdout); return CLI_OK;
    default: return cli_usage("symbolize", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage("symbolize", "unexpected argument '%s'", argv[optind]);
  if (!dbp) return cli_usage("symbolize", "missing --db DB");
  ana_db_t *db;
  if (cli_open_db(dbp, 0, &db)) return CLI_FAIL;
  char why[512] = "";
  int rc = 0;
  if (wrappers && (rc = ana_wrappers_load(db, wrappers, why, sizeof why))) {
    cli_error(wrappers, "%s", why[0] ? why : hk_strerror(rc));
    ana_db_free(db);
    return CLI_FAIL;
  }
  ana_sym_stats_t st;
  ana_attr_stats_t as = {0};
  if (hk_progress_wanted(progress)) flags |= ANA_SYM_PROGRESS;
  rc = ana_symbolize(db, trace, flags, &st, why, sizeof why);
  /* New wrappers change the attribution of traces symbolized before. */
  if (!rc && wrappers && !(flags & ANA_SYM_FORCE))
    rc = ana_attribute(db, trace, 0, &as, why, sizeof why);
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
  if (wrappers && !(flags & ANA_SYM_FORCE))
    printf("%s: %llu traces attributed again with %s\n", dbp,
           (unsigned long long)as.traces, wrappers);
  return CLI_OK;
}

const cli_cmd_t cli_cmd_symbolize = {
    "symbolize", "resolve call sites to function, file, line (libdw)", run};
