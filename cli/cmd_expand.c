/* cmd_expand.c: `hksim expand --db DB`, the trace ops of a results database
 * as a plain table (analysis/ana_opvtab.c, ana_expand), for programs that
 * read it without hksim's SQLite module (the view trace_op needs it). */
#include <getopt.h>
#include <stdio.h>

#include "analysis.h"
#include "cli.h"

static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                     {"help", no_argument, 0, 'h'},
                                     {0, 0, 0, 0}};

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim expand --db DB\n\n"
          "Trace ops are stored compressed, 65536 a row of trace_op_chunk, and\n"
          "read one row per op through the view trace_op, which needs hksim's\n"
          "SQLite module (hksim has it; the sqlite3 shell: '.load\n"
          "build/analysis/hksim_sqlite'; Python: load_extension). For a\n"
          "program that cannot load it, expand makes trace_op a plain table\n"
          "of the same columns holding every trace's ops (about 20 B/op more\n"
          "on disk); views such as op_latency then read it. Traces stored\n"
          "later get their rows too. Running it again adds what is missing.\n\n"
          "exit: 0 ok, 1 missing or bad database (a damaged chunk is named;\n"
          "the database is left as it was), 2 usage.\n");
}

static int run(int argc, char **argv) {
  const char *dbp = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': dbp = optarg; break;
    case 'h': help(stdout); return CLI_OK;
    default: return cli_usage("expand", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage("expand", "unexpected argument '%s'", argv[optind]);
  if (!dbp) return cli_usage("expand", "missing --db DB");
  ana_db_t *db;
  if (cli_open_db(dbp, 0, &db)) return CLI_FAIL;
  char why[512] = "";
  int rc = 0;
  uint64_t rows = 0;
  rc = ana_expand(db, &rows, why, sizeof why);
  ana_db_free(db);
  if (rc) {
    cli_error(dbp, "expand: %s", why[0] ? why : hk_strerror(rc));
    return CLI_FAIL;
  }
  printf("%s: trace_op is a table; %llu rows added\n", dbp,
         (unsigned long long)rows);
  return CLI_OK;
}

const cli_cmd_t cli_cmd_expand = {
    "expand", "trace ops as a plain table (readers without the module)", run};
