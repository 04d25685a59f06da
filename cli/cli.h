/* cli.h: shared pieces of the hksim program (cli/): the subcommand
 * registry, exit codes and the one-line error convention of DESIGN.md.
 * Each subcommand lives in its own cmd_NAME.c. */
#ifndef CLI_H
#define CLI_H

#include "hk_common.h"

/* Exit codes of the command-line contract. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_cmd {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} cli_cmd_t;

/* The registry (cmd_registry.c): NULL-terminated. */
extern const cli_cmd_t *const cli_commands[];

/* "hksim: WHAT: message" on stderr, one line. what may be NULL. */
void cli_error(const char *what, const char *fmt, ...) HK_PRINTF(2, 3);
/* cli_error with hk_strerror(err); returns CLI_FAIL. */
int cli_fail(const char *what, int err, const char *doing);
/* Usage error: message plus "try 'hksim CMD --help'"; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) HK_PRINTF(2, 3);

/* Strict number parsing: whole string, in range. 0 ok, -1 bad. */
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_double(const char *s, double *out);
/* A byte count with an optional binary suffix: 512, 64K, 1.5G, 2TiB, 8MB
 * (K, M, G, T are powers of 1024). 0 ok, -1 bad. */
int cli_parse_size(const char *s, uint64_t *out);
/* --per-op of replay and validate: "all", "none" or "sample:N" (N
 * 1..UINT32_MAX) into o->sample_every; with spans, also "batch:K" (K
 * 2..65536: o->span, o->batch_k) and "iteration" (o->span). 0 ok, -1 bad
 * (o untouched). */
struct rpl_opts;
int cli_parse_per_op(const char *v, int spans, struct rpl_opts *o);

/* Splits arg at any of the characters of sep, appending the words to
 * out[*n..] (at most max in all). The words point into a copy of arg that
 * lives until cli_split_release(), so argv itself stays intact (the
 * replayer may re-execute its command line). 0, or -1 when the words do
 * not fit or memory ran out. */
int cli_split(const char *arg, const char *sep, const char **out, size_t *n,
              size_t max);
/* Frees the copies made by cli_split. */
void cli_split_release(void);

/* Whether argv[i] is -h or --help. */
int cli_is_help(const char *arg);

/* Opens a results database for a command (ana_db_open with flags): CLI_OK,
 * or CLI_FAIL after one line naming path and what is wrong. */
struct ana_db_s;
int cli_open_db(const char *path, unsigned flags, struct ana_db_s **db);

#endif
