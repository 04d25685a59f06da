/* cmd_registry.c: the subcommands of hksim. Adding one is a new
 * cmd_NAME.c and one line here. */
#include "cli.h"

extern const cli_cmd_t cli_cmd_record;
extern const cli_cmd_t cli_cmd_trace;
extern const cli_cmd_t cli_cmd_gen;
extern const cli_cmd_t cli_cmd_replay;
extern const cli_cmd_t cli_cmd_merge, cli_cmd_sweep;
extern const cli_cmd_t cli_cmd_validate;
extern const cli_cmd_t cli_cmd_calibrate;
extern const cli_cmd_t cli_cmd_report, cli_cmd_symbolize, cli_cmd_expand;
extern const cli_cmd_t cli_cmd_compare;

const cli_cmd_t *const cli_commands[] = {
    &cli_cmd_record,
    &cli_cmd_trace,
    &cli_cmd_gen,
    &cli_cmd_replay,
    &cli_cmd_merge,
    &cli_cmd_validate,
    &cli_cmd_sweep,
    &cli_cmd_calibrate,
    &cli_cmd_report, &cli_cmd_symbolize, &cli_cmd_expand,
    &cli_cmd_compare,
    NULL,
};
