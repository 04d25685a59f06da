/* cli_util.c: error printing and argument parsing shared by subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "replayer.h"

void cli_error(const char *what, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* One line, whatever the message holds. */
  for (char *p = msg; *p; p++)
    if (*p == '\n') *p = ' ';
  if (what)
    fprintf(stderr, "hksim: %s: %s\n", what, msg);
  else
    fprintf(stderr, "hksim: %s\n", msg);
}

int cli_fail(const char *what, int err, const char *doing) {
  if (doing)
    cli_error(what, "%s: %s", doing, hk_strerror(err));
  else
    cli_error(what, "%s", hk_strerror(err));
  return CLI_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "hksim %s: %s (try 'hksim %s --help')\n", cmd, msg, cmd);
  return CLI_USAGE;
}

int cli_parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s || *s == '-') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

int cli_parse_double(const char *s, double *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || v != v) return -1;
  *out = v;
  return 0;
}

int cli_parse_size(const char *s, uint64_t *out) {
  if (!s || !*s || *s == '-') return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v != v || v < 0) return -1;
  double mult = 1;
  switch (*end) {
  case 'k': case 'K': mult = 1024.0; end++; break;
  case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
  case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
  case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
  default: break;
  }
  if (mult > 1 && (*end == 'i' || *end == 'I')) end++;
  if (*end == 'b' || *end == 'B') end++;
  if (*end) return -1;
  v *= mult;
  if (v >= 18446744073709551615.0) return -1;
  *out = (uint64_t)v;
  return 0;
}

int cli_parse_per_op(const char *v, int spans, struct rpl_opts *o) {
  uint64_t n;
  if (strcmp(v, "all") == 0)
    o->sample_every = 1;
  else if (strcmp(v, "none") == 0)
    o->sample_every = 0;
  else if (strncmp(v, "sample:", 7) == 0 && cli_parse_u64(v + 7, &n) == 0 &&
           n >= 1 && n <= UINT32_MAX)
    o->sample_every = (uint32_t)n;
  else if (spans && strncmp(v, "batch:", 6) == 0 &&
           cli_parse_u64(v + 6, &n) == 0 && n >= 2 && n <= 65536) {
    o->span = RPL_SPAN_BATCH;
    o->batch_k = (uint32_t)n;
  } else if (spans && strcmp(v, "iteration") == 0)
    o->span = RPL_SPAN_ITERATION;
  else
    return -1;
  return 0;
}

int cli_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static char *split_copies[16];
static size_t n_split_copies;

int cli_split(const char *arg, const char *sep, const char **out, size_t *n,
              size_t max) {
  if (n_split_copies == HK_ARRAY_LEN(split_copies)) return -1;
  char *s = strdup(arg);
  if (!s) return -1;
  split_copies[n_split_copies++] = s;
  char *save = NULL;
  for (char *w = strtok_r(s, sep, &save); w; w = strtok_r(NULL, sep, &save)) {
    if (*n == max) return -1;
    out[(*n)++] = w;
  }
  return 0;
}

void cli_split_release(void) {
  while (n_split_copies) free(split_copies[--n_split_copies]);
}

int cli_open_db(const char *path, unsigned flags, ana_db_t **db) {
  char why[512] = "";
  int rc = ana_db_open(path, flags, db, why, sizeof why);
  if (!rc) return CLI_OK;
  cli_error(path, "%s", why[0] ? why : hk_strerror(rc));
  return CLI_FAIL;
}
