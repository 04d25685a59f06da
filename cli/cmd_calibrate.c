/* cmd_calibrate.c: `hksim calibrate --db DB [--name NAME]`: measures this
 * machine's event costs for hakmem's cost model (hakmem/hak_calibrate.c)
 * and stores them as a named calibration in DB (replayer/rpl_calib.c),
 * which `hksim replay --calibration NAME` applies to its hakmem runs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hakmem.h"
#include "replayer.h"

static const struct option opts[] = {
    {"db", required_argument, NULL, 'd'},
    {"name", required_argument, NULL, 'n'},
    {"repeat", required_argument, NULL, 'r'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
static const char *const opt_help[] = {
    "results database to store the calibration in (created if missing)",
    "its name (default 'default'; letters, digits, '.', '_', '-')",
    "micro-runs per event, 1..64; the median is kept (default 9)",
    "print nothing but errors",
    "this text",
};

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim calibrate --db DB [--name NAME] [--repeat N] [--quiet]\n\n"
          "Measures what the events of hakmem's cost model cost on this machine\n"
          "(mmap, munmap, madvise, brk, a first-touch fault per 4 KiB page, pages\n"
          "given back, libc malloc and free, realloc's copy per byte, hakmem's\n"
          "own path costs, whether huge pages are honoured), repeating each\n"
          "micro-run, and stores the medians as calibration NAME in DB (a name\n"
          "given again is replaced). `hksim replay --calibration NAME` uses it;\n"
          "without it replays use the built-in costs ('builtin').\n\n");
  for (size_t i = 0; opts[i].name; i++)
    fprintf(f, "  -%c, --%-8s %s\n", opts[i].val, opts[i].name, opt_help[i]);
  fprintf(f, "\nexit: 0 stored, 1 could not measure or store, 2 usage\n");
}

static int name_ok(const char *s) {
  if (!*s || strlen(s) >= 32) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
      return 0;
  return 1;
}

static int run(int argc, char **argv) {
  const char *db = NULL, *name = "default";
  uint64_t repeats = 9;
  int quiet = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "d:n:r:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'h': help(stdout); return CLI_OK;
    case 'd': db = optarg; break;
    case 'n': name = optarg; break;
    case 'r':
      if (cli_parse_u64(optarg, &repeats) || repeats < 1 || repeats > 64)
        return cli_usage("calibrate", "bad --repeat '%s' (1..64)", optarg);
      break;
    case 'q': quiet = 1; break;
    default:
      return cli_usage("calibrate", "unknown option or missing value '%s'",
                       argv[optind - 1]);
    }
  }
  if (optind < argc)
    return cli_usage("calibrate", "unexpected argument '%s'", argv[optind]);
  if (!db) return cli_usage("calibrate", "--db DB is required");
  if (!name_ok(name))
    return cli_usage("calibrate", "bad --name '%s' (letters, digits, '.', '_', "
                     "'-', under 32)", name);
  if (strcmp(name, "builtin") == 0)
    return cli_usage("calibrate", "'builtin' names the built-in costs");
  hak_config_t cfg;
  hak_config_init(&cfg, HAK_MODE_BALANCED);
  char text[2048], spread[2048], why[512] = "";
  int rc = hak_calibrate(&cfg, (unsigned)repeats, text, sizeof text, spread,
                         sizeof spread);
  if (rc) return cli_fail("calibrate", rc, NULL);
  rc = rpl_calib_store(db, name, (unsigned)repeats, text, spread, why, sizeof why);
  if (rc) {
    cli_error(db, "%s", why[0] ? why : hk_strerror(rc));
    return CLI_FAIL;
  }
  if (!quiet) {
    printf("calibration '%s' stored in %s (%llu micro-runs per event):\n%s",
           name, db, (unsigned long long)repeats, text);
  }
  return CLI_OK;
}

const cli_cmd_t cli_cmd_calibrate = {
    "calibrate", "measure this machine's event costs for the cost model", run};
