/* hksim.c: the hksim program, a git-style front end over every module:
 * record, trace, gen, replay, report. Dispatches to cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "trc.h"

static void usage(FILE *f) {
  fprintf(f, "usage: hksim COMMAND [ARGS...]\n\ncommands:\n");
  for (const cli_cmd_t *const *c = cli_commands; *c; c++)
    fprintf(f, "  %-8s %s\n", (*c)->name, (*c)->summary);
  fprintf(f, "\n'hksim COMMAND --help' describes each one.\n"
             "exit codes: 0 success, 1 runtime failure, 2 usage error\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "hksim: missing command (try 'hksim --help')\n");
    return CLI_USAGE;
  }
  if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return CLI_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("hksim 0.1.0 (trace format %d)\n", TRC_VERSION);
    return CLI_OK;
  }
  /* Every database connection of the process reads trace ops (the view
   * trace_op) through analysis/'s module, the replayer's and merge's too. */
  if (ana_sqlite_auto()) {
    fprintf(stderr, "hksim: cannot register the SQLite module hksim_trace_op\n");
    return CLI_FAIL;
  }
  for (const cli_cmd_t *const *c = cli_commands; *c; c++)
    if (strcmp((*c)->name, argv[1]) == 0) return (*c)->run(argc - 1, argv + 1);
  fprintf(stderr, "hksim: '%s' is not a command (try 'hksim --help')\n", argv[1]);
  return CLI_USAGE;
}
