/* record_internal.h: the parts of `hksim record` (cmd_record.c) that look
 * at the program before it runs (record_runtime.c): finding it, refusing
 * what LD_PRELOAD cannot reach, following launchers (env, shell shims) to
 * the program that allocates, and the table of runtimes whose own
 * allocator hides malloc unless an environment switch is set. */
#ifndef CLI_RECORD_INTERNAL_H
#define CLI_RECORD_INTERNAL_H

#include <stddef.h>

#include "recorder.h" /* rec_runtimes: the table of runtimes */

/* CMD as execvp would find it (PATH search when it has no '/'). Returns 0
 * with the path in out, 127 when there is no such file, 126 when it exists
 * but cannot be run (a directory, not a regular file, no execute
 * permission); why then says which, in a few words. */
int cli_record_resolve(const char *cmd, char *out, size_t n, char *why,
                       size_t wn);

/* 0 recordable (dynamic ELF, a script, or something the kernel decides),
 * 1 statically linked, 2 setuid/setgid; why says which. For a script the
 * interpreter is checked (one level). */
int cli_record_check_binary(const char *path, char *why, size_t n);

/* Follows cmd (resolved to prog) through launchers: `env`, `nohup`,
 * `setsid`, `nice`, `timeout`, `#!` interpreters (`#!/usr/bin/env NAME`
 * included) and shell scripts that `exec` a program or are named like one
 * (pyenv-style shims), at most 6 levels. Returns the mask of runtimes the
 * program found at the end uses (bits of rec_runtimes); target (n bytes) names it, or is "" when
 * it could not be told. */
unsigned cli_record_runtimes(const char *prog, char *const *args,
                             char *target, size_t n);

#endif
