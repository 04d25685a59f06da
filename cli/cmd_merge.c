/* cmd_merge.c: `hksim merge OUT.db IN.db...`, joining results databases
 * (the shards of a sweep) into one with rpl_merge (replayer/rpl_merge.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "replayer.h"

static const struct option opts[] = {
    {"quiet", no_argument, NULL, 'q'},
    {"progress", no_argument, NULL, 'p'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
static const char *const opt_help[] = {
    "print nothing but errors",
    "a progress line on stderr (default: only on a terminal)",
    "this text",
};

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim merge OUT.db IN.db... [--quiet] [--progress]\n\n"
          "Joins results databases of this schema version into OUT.db (created\n"
          "if missing): traces deduplicated by content hash, sites and symbols\n"
          "once per trace, runs renumbered and identified by their run_uuid,\n"
          "so that merging an input twice adds nothing. A database of another\n"
          "schema version is refused before anything is written.\n\n");
  for (size_t i = 0; opts[i].name; i++)
    fprintf(f, "  -%c, --%-8s %s\n", opts[i].val, opts[i].name, opt_help[i]);
  fprintf(f, "\nexit: 0 merged, 1 an input or the output could not be merged,\n"
             "2 usage\n");
}

/* Same file by device and inode: merging a database into itself would
 * attach it twice. */
static int same_file(const char *a, const char *b) {
  struct stat x, y;
  return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
         x.st_ino == y.st_ino;
}

static int run(int argc, char **argv) {
  int quiet = 0, progress = -1, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "qph", opts, NULL)) != -1) {
    if (c == 'h') {
      help(stdout);
      return CLI_OK;
    } else if (c == 'q') {
      quiet = 1;
      progress = 0;
    } else if (c == 'p') {
      progress = 1;
    } else {
      return cli_usage("merge", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind < 2)
    return cli_usage("merge", "want OUT.db and at least one IN.db");
  const char *out = argv[optind];
  const char *const *in = (const char *const *)argv + optind + 1;
  size_t n = (size_t)(argc - optind - 1);
  for (size_t i = 0; i < n; i++)
    if (same_file(out, in[i]))
      return cli_usage("merge", "%s is the output: it cannot be an input", in[i]);
  rpl_merge_stats_t *st = calloc(n, sizeof *st);
  if (!st) return cli_fail(out, HK_E_NOMEM, NULL);
  size_t bad = n;
  char why[512] = "";
  int rc = rpl_merge(out, in, n, st, &bad, why, sizeof why, progress);
  for (size_t i = 0; i < n && !quiet; i++) {
    if (!st[i].merged) continue;
    printf("%s: %llu run(s) added, %llu already there, %llu trace(s) added, "
           "%llu other row(s)\n", in[i], (unsigned long long)st[i].runs_added,
           (unsigned long long)st[i].runs_skipped,
           (unsigned long long)st[i].traces_added,
           (unsigned long long)st[i].rows_copied);
    if (st[i].tables_skipped)
      printf("%s: %llu table(s) this program does not know were left out\n",
             in[i], (unsigned long long)st[i].tables_skipped);
  }
  free(st);
  if (rc) {
    cli_error(bad < n ? in[bad] : out, "%s", why[0] ? why : hk_strerror(rc));
    return CLI_FAIL;
  }
  return CLI_OK;
}

const cli_cmd_t cli_cmd_merge = {"merge",
                                 "join results databases (sweep shards) into one",
                                 run};
