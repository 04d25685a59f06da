/* cmd_gen.c: `hksim gen SCENARIO -o FILE [--seed N] [--scale K]`, synthetic
 * traces from traces/trc_gen.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "trc.h"

static void help(FILE *f) {
  fprintf(f, "usage: hksim gen SCENARIO -o FILE [--seed N] [--scale K] [--force]\n"
             "       hksim gen --list\n\n"
             "Writes a synthetic trace. --scale multiplies its length (default 1,\n"
             "fractions allowed); --seed picks the random sequence (default 0).\n"
             "An existing FILE is refused unless --force.\n\n"
             "scenarios:\n");
  for (const char *const *s = trc_gen_scenarios; *s; s++)
    fprintf(f, "  %-8s %s\n", *s, trc_gen_describe(*s));
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {
      {"output", required_argument, 0, 'o'}, {"seed", required_argument, 0, 's'},
      {"scale", required_argument, 0, 'k'},  {"list", no_argument, 0, 'l'},
      {"force", no_argument, 0, 'f'},
      {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
  int force = 0;
  const char *out = NULL;
  trc_gen_opts_t o = {0, 1.0};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 's':
      if (cli_parse_u64(optarg, &o.seed)) return cli_usage("gen", "bad --seed '%s'", optarg);
      break;
    case 'k':
      if (cli_parse_double(optarg, &o.scale) || o.scale <= 0 || o.scale > 1e6)
        return cli_usage("gen", "bad --scale '%s' (a number > 0)", optarg);
      break;
    case 'l':
      for (const char *const *s = trc_gen_scenarios; *s; s++) printf("%s\n", *s);
      return CLI_OK;
    case 'f': force = 1; break;
    case 'h': help(stdout); return CLI_OK;
    default: return cli_usage("gen", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return cli_usage("gen", "expected one SCENARIO");
  const char *sc = argv[optind];
  if (!trc_gen_describe(sc))
    return cli_usage("gen", "unknown scenario '%s' (see 'hksim gen --list')", sc);
  if (!out) return cli_usage("gen", "missing -o FILE");
  /* A recorded trace cannot be made again: never replace one silently. */
  if (!force && access(out, F_OK) == 0) {
    cli_error(out, "file exists (--force replaces it)");
    return CLI_FAIL;
  }
  int rc = trc_gen(sc, out, &o);
  if (rc) return cli_fail(out, rc, "cannot write trace");
  trc_scan_t s;
  if (trc_scan(out, &s) == 0)
    printf("%s: %s, %llu events, %llu bytes (%.2f bytes/event)\n", out, sc,
           (unsigned long long)s.events, (unsigned long long)s.file_bytes,
           s.events ? (double)s.file_bytes / (double)s.events : 0.0);
  return CLI_OK;
}

const cli_cmd_t cli_cmd_gen = {"gen", "write a synthetic trace (json, mir, vm, mixed, ...)", run};
