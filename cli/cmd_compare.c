/* cmd_compare.c: `hksim compare --db DB A B [--trace T]`: whether two
 * configurations (backend[/policy]) differ, from the repeat-level totals
 * of their done runs (analysis/ana_compare.c): the ratio A/B with its 95%
 * CI, Welch's t-test and a permutation test. Refuses below 3 repeats a
 * side: fewer cannot say anything (docs/analysis.md). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"

static const struct option opts[] = {
    {"db", required_argument, NULL, 'd'},
    {"trace", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
static const char *const opt_arg[] = {"DB", "T", ""};
static const char *const opt_help[] = {
    "results database (hksim replay --repeat N, N >= 3)",
    ("only trace T (its name, content hash or id; default: every trace\n"
     "                 both configurations were replayed on)"),
    "this text",
};

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim compare --db DB A B [--trace T]\n\n"
          "Compares configuration A with B (each backend or backend/policy:\n"
          "glibc, hakmem/elo; a back end replayed under one policy needs no\n"
          "policy named) on every trace where both were replayed. The samples\n"
          "are the done runs' totals (the replay loop's wall time per op, one\n"
          "value per repeat), never the ops of one run: ops of a run are not\n"
          "independent (docs/analysis.md). Prints per trace each side's mean\n"
          "ns/op with its 95%% t-CI, the ratio A/B of the geometric means with\n"
          "its 95%% CI (Welch, on the logs), Welch's t-test and an exact (or\n"
          "seeded Monte Carlo) permutation test, and a verdict at the 5%%\n"
          "level. A side with fewer than %d done repeats on a trace is refused.\n\n",
          ANA_CMP_MIN);
  for (size_t i = 0; opts[i].name; i++) {
    char o[32];
    snprintf(o, sizeof o, "--%s%s%s", opts[i].name, opt_arg[i][0] ? " " : "",
             opt_arg[i]);
    fprintf(f, "  -%c, %-12s %s\n", opts[i].val, o, opt_help[i]);
  }
  fprintf(f, "\nexit: 0 compared, 1 unknown configuration or trace, too few "
             "repeats,\nruns of different modes, or not a results database; "
             "2 usage\n");
}

static void print_row(const ana_cmp_t *r, const char *na, const char *nb) {
  printf("%s (%lld ops, touch/per-op %s): %s against %s, %u and %u repeats\n",
         r->trace, (long long)r->ops, r->modes, na, nb, r->a.n, r->b.n);
  int w = (int)(strlen(na) > strlen(nb) ? strlen(na) : strlen(nb));
  printf("  %-*s  ns/op %.3f [%.3f, %.3f]  sd %.3f\n", w, na, r->a.mean,
         r->a.ci_lo, r->a.ci_hi, r->a.sd);
  printf("  %-*s  ns/op %.3f [%.3f, %.3f]  sd %.3f\n", w, nb, r->b.mean,
         r->b.ci_lo, r->b.ci_hi, r->b.sd);
  printf("  %s / %s = %.4f [%.4f, %.4f] (ratio of geometric means, 95%% CI)\n",
         na, nb, r->ratio, r->ratio_lo, r->ratio_hi);
  printf("  Welch t = %.3f, df = %.1f, p = %.3g", r->welch.t, r->welch.df,
         r->welch.p);
  if (isnan(r->perm.p))
    printf("; permutation test not run (over 64 repeats)\n");
  else if (r->perm.exact)
    printf("; permutation p = %.3g (exact, %llu splits; smallest possible "
           "%.3g)\n",
           r->perm.p, (unsigned long long)r->perm.arrangements, r->perm.p_min);
  else
    printf("; permutation p = %.3g (%llu seeded random splits)\n", r->perm.p,
           (unsigned long long)r->perm.arrangements);
  if (r->welch.p < 0.05)
    printf("  => %s is %s than %s by %.1f%% [%.1f%%, %.1f%%] (p < 0.05)\n", na,
           r->ratio > 1 ? "slower" : "faster", nb,
           fabs(r->ratio - 1) * 100, (r->ratio > 1 ? r->ratio_lo - 1 : 1 - r->ratio_hi) * 100,
           (r->ratio > 1 ? r->ratio_hi - 1 : 1 - r->ratio_lo) * 100);
  else
    printf("  => the data do not separate %s and %s at the 5%% level\n", na,
           nb);
  if (r->perm.exact && r->perm.p_min > 0.05)
    printf("  (with %u and %u repeats no permutation test can reach 0.05)\n",
           r->a.n, r->b.n);
}

static int run(int argc, char **argv) {
  const char *dbp = NULL, *trace = NULL;
  int c;
  optind = 1;
  opterr = 0;
  /* getopt_long permutes: A and B may stand before or after the options. */
  while ((c = getopt_long(argc, argv, "d:t:h", opts, NULL)) != -1) {
    switch (c) {
    case 'h': help(stdout); return CLI_OK;
    case 'd': dbp = optarg; break;
    case 't': trace = optarg; break;
    default:
      return cli_usage("compare", "unknown option or missing value '%s'",
                       argv[optind - 1]);
    }
  }
  if (!dbp) return cli_usage("compare", "--db DB is required");
  if (argc - optind != 2)
    return cli_usage("compare", "want two configurations A B (backend or "
                     "backend/policy), got %d", argc - optind);
  ana_config_t a, b;
  if (ana_config_parse(argv[optind], &a))
    return cli_usage("compare", "bad configuration '%s' (backend or "
                     "backend/policy)", argv[optind]);
  if (ana_config_parse(argv[optind + 1], &b))
    return cli_usage("compare", "bad configuration '%s' (backend or "
                     "backend/policy)", argv[optind + 1]);
  ana_db_t *db = NULL;
  if (cli_open_db(dbp, ANA_DB_READONLY, &db)) return CLI_FAIL;
  char why[1024] = "";
  int rc = 0;
  ana_cmp_t *rows = NULL;
  size_t n = 0;
  rc = ana_compare(db, trace, &a, &b, &rows, &n, why, sizeof why);
  ana_db_free(db);
  if (rc) {
    cli_error(dbp, "%s", why[0] ? why : hk_strerror(rc));
    return CLI_FAIL;
  }
  char na[160], nb[160];
  ana_config_text(&a, na, sizeof na);
  ana_config_text(&b, nb, sizeof nb);
  int refused = 0, shown = 0;
  for (size_t i = 0; i < n; i++) {
    if (rows[i].refused[0]) {
      cli_error(dbp, "%s", rows[i].refused);
      refused++;
      continue;
    }
    if (shown++) putchar('\n');
    print_row(&rows[i], na, nb);
  }
  free(rows);
  return refused ? CLI_FAIL : CLI_OK;
}

const cli_cmd_t cli_cmd_compare = {
    "compare", "ratio of two configurations with its CI and a test", run};
