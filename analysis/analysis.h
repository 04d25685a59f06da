/* analysis.h: the public header of analysis/, the results side of the
 * pipeline. Reads a results database written by `hksim replay` (the schema
 * of analysis/schema.sql), symbolizes its call sites offline with elfutils
 * libdw, applies the paper views (views.sql, published.sql), prints the
 * standard tables and draws plots through gnuplot. Depends on common/ only:
 * everything it knows comes from the database. */
#ifndef ANALYSIS_H
#define ANALYSIS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hk_common.h"

typedef struct sqlite3 sqlite3;

/* ---- ana_db.c: opening a results database ------------------------------ */

/* The SQL embedded at build time (ana_sql.c, generated from analysis/). */
extern const char ana_schema_sql[];    /* schema.sql */
extern const char ana_views_sql[];     /* views.sql */
extern const char ana_published_sql[]; /* published.sql */
extern const int ana_sql_user_version; /* schema.sql's PRAGMA user_version */

/* The schema version this program reads: the PRAGMA user_version of the
 * embedded schema.sql. */
int ana_schema_version(void);

typedef struct ana_db_s ana_db_t;

enum {
  ANA_DB_READONLY = 1u << 0, /* do not apply views.sql / published.sql */
  ANA_DB_CREATE = 1u << 1,   /* create and apply the schema (tests, tools) */
};

/* Opens the results database at path into *out. Refuses, with one line in
 * why (which names the file's problem, never the path):
 *  -ENOENT         no such file (unless ANA_DB_CREATE);
 *  HK_E_BADMAGIC   not an SQLite database, or one without hksim's tables;
 *  HK_E_SCHEMA     user_version newer than ana_schema_version() (both
 *                  versions named in why);
 *  HK_E_SQLITE     anything else SQLite refuses.
 * Unless ANA_DB_READONLY, applies views.sql and published.sql (idempotent).
 * The handle is freed with ana_db_free. */
int ana_db_open(const char *path, unsigned flags, ana_db_t **out, char *why,
                size_t why_len);
void ana_db_free(ana_db_t *db); /* NULL is a no-op */
sqlite3 *ana_db_sqlite(const ana_db_t *db);
/* The database's PRAGMA user_version. */
int ana_db_version(const ana_db_t *db);

/* Runs a script of statements; on failure HK_E_SQLITE and SQLite's message
 * in why. */
int ana_db_exec(ana_db_t *db, const char *sql, char *why, size_t why_len);

/* ---- ana_opvtab.c: a trace's ops in SQL -------------------------------- */

/* Registers the module hksim_trace_op on db: the view trace_op reads the
 * compressed op chunks (trace_op_chunk) through it, one row per op
 * (docs/schema.md, "Trace ops"). ana_db_open does it on its connection.
 * 0 or HK_E_SQLITE. */
int ana_sqlite_register(sqlite3 *db);
/* Registers the module on every connection the process opens from now on
 * (sqlite3_auto_extension): hksim calls it first thing. */
int ana_sqlite_auto(void);
/* `hksim expand`: makes trace_op a plain table holding every trace's ops
 * (the view is dropped; a table already there gets the traces it lacks),
 * for readers that cannot load the module; about 20 B/op more on disk.
 * The replayer writes the rows of traces stored later into it too. One
 * transaction: on failure (a damaged chunk: HK_E_SQLITE, why names it)
 * the database is as it was. *rows: rows added. */
int ana_expand(ana_db_t *db, uint64_t *rows, char *why, size_t why_len);

/* ---- ana_symbolize.c: offline symbolization with libdw ----------------- */

/* A module as the recorder saw it (the modules table). */
typedef struct ana_module {
  const char *path;
  uint64_t base;      /* load bias (dl_iterate_phdr's dlpi_addr) */
  uint64_t lo, hi;    /* executable range; lo == hi: unknown */
  const char *build_id; /* hex, NULL if not recorded */
} ana_module_t;

/* One frame of an inlined chain, innermost first. */
typedef struct ana_frame {
  char *function; /* NULL when unknown */
  char *file;     /* NULL when unknown */
  int line;       /* 0 when unknown */
} ana_frame_t;

/* What one address resolves to. Strings are owned by the value and freed
 * by ana_sym_release. Unknown parts are NULL / 0: no debug information, a
 * missing file or a build id mismatch degrade to module + offset. */
typedef struct ana_sym {
  char *function;      /* innermost function (an inlined one if inlined) */
  char *file;
  int line;
  const char *module;  /* module path (borrowed from the symtab), or NULL */
  uint64_t offset;     /* address - module base when module is known */
  ana_frame_t *inlines; /* n_inlines frames, [0] = the innermost */
  size_t n_inlines;    /* 0 when nothing was inlined */
} ana_sym_t;

void ana_sym_release(ana_sym_t *s);

typedef struct ana_symtab_s ana_symtab_t;

enum {
  ANA_SYM_FORCE = 1u << 0,       /* ana_symbolize: redo traces already done */
  ANA_SYM_NO_BUILDID = 1u << 1,  /* do not compare build ids */
  ANA_SYM_PROGRESS = 1u << 2,    /* progress lines on stderr (hk_progress:
                                    * the caller decides, hk_progress_wanted) */
};

typedef struct ana_sym_stats {
  uint64_t traces, traces_skipped; /* done / already symbolized */
  uint64_t addresses;    /* distinct addresses looked up */
  uint64_t with_function, with_line, inlined;
  uint64_t no_module;    /* address in no recorded module */
  uint32_t modules, modules_missing, build_id_mismatch;
} ana_sym_stats_t;

/* Builds a symbol table over the n modules (copied). Never fails for a
 * missing or unreadable file: that module degrades to module + offset. st
 * (may be NULL) counts modules, missing ones and build id mismatches.
 * -ENOMEM or HK_E_UNSUPPORTED (libdw refused to start) on failure. */
int ana_symtab_create(const ana_module_t *mods, size_t n, unsigned flags,
                      ana_symtab_t **out, ana_sym_stats_t *st);
void ana_symtab_free(ana_symtab_t *t); /* NULL is a no-op */

/* Resolves addr into *out (released by the caller). return_addr: addr is
 * a return address, so addr - 1 is looked up (the call instruction), which
 * gives the caller's line rather than the next statement's. 0, or -ENOMEM. */
int ana_symtab_lookup(ana_symtab_t *t, uint64_t addr, int return_addr,
                      ana_sym_t *out);

/* The demangled form of a C++ (Itanium ABI, "_Z...") name, malloc'd, or
 * NULL when name is not one (C names stay as they are). */
char *ana_demangle(const char *name);

/* Symbolizes every address of the sites of trace_id (all traces when
 * negative) into the symbols table (and symbol_inlines), once per trace:
 * traces that already have symbols rows are skipped unless ANA_SYM_FORCE.
 * Every frame is treated as a return address. One transaction per trace,
 * which also attributes the trace (ana_attribute_trace); a trace that was
 * symbolized before but never attributed is attributed. Names are stored
 * demangled. st may be NULL. */
int ana_symbolize(ana_db_t *db, int64_t trace_id, unsigned flags,
                  ana_sym_stats_t *st, char *why, size_t why_len);

/* ---- ana_sites.c: whole stacks and who allocates ----------------------- */

typedef struct ana_attr_stats {
  uint64_t traces;      /* traces attributed */
  uint64_t sites;       /* sites with a stack */
  uint64_t sites_named; /* attributed to a named function of the program */
  uint64_t bytes, bytes_named; /* bytes requested at those sites */
  uint64_t frames;      /* logical frames stored (site_stack) */
  uint32_t forwarders;  /* functions found to forward their caller's size */
} ana_attr_stats_t;

/* Expands the sites of one symbolized trace into site_stack, attributes
 * each past the runtime and the wrappers (the wrappers table, then the
 * forwarding rule: trace_wrappers) into site_attr, and walks its ops once
 * for site_life and site_hist. Replaces what the trace had; runs inside
 * the caller's transaction. st (may be NULL) is added to. */
int ana_attribute_trace(ana_db_t *db, int64_t trace_id, ana_attr_stats_t *st,
                        char *why, size_t why_len);

/* ana_attribute_trace for every symbolized trace (trace_id < 0) or one,
 * one transaction each; only_missing: only traces never attributed. */
int ana_attribute(ana_db_t *db, int64_t trace_id, int only_missing,
                  ana_attr_stats_t *st, char *why, size_t why_len);

/* Adds the wrappers of a file to the wrappers table (source = path), in
 * one transaction: one pattern a line, "PATTERN [reason]" for a function
 * wrapper, "runtime:PATTERN" for a runtime function, "module:PATTERN" for
 * a runtime module; '#' starts a comment. Errors name the line in why. */
int ana_wrappers_load(ana_db_t *db, const char *path, char *why,
                      size_t why_len);

typedef enum ana_weight { ANA_W_BYTES, ANA_W_ALLOCS, ANA_W_PEAK } ana_weight_t;

/* "bytes", "allocs", "peak" -> *w; -1 when unknown. */
int ana_weight_parse(const char *name, ana_weight_t *w);

typedef struct ana_folded_stats {
  uint64_t stacks; /* lines written */
  uint64_t total;  /* sum of their weights */
} ana_folded_stats_t;

/* Collapsed stacks for flame graphs (flamegraph.pl, inferno, speedscope):
 * one line per site of trace_id (every trace when negative; then the
 * trace's name is the root frame), "outer;...;inner WEIGHT", weighted by
 * bytes or allocations requested, or by bytes live at the trace's peak
 * (site_life). Sites of weight 0 are left out, so the weights sum to the
 * trace's totals. HK_E_NOTFOUND for a trace_id not in the database. */
int ana_folded(ana_db_t *db, int64_t trace_id, ana_weight_t w, FILE *out,
               ana_folded_stats_t *st, char *why, size_t why_len);

/* ---- ana_report.c: the standard tables -------------------------------- */

typedef enum ana_format { ANA_FMT_MD, ANA_FMT_CSV, ANA_FMT_TEX } ana_format_t;

/* "md", "csv", "tex" -> *fmt; -1 when unknown. */
int ana_format_parse(const char *name, ana_format_t *fmt);

/* The standard comparison tables (one per trace: back end, policy, runs,
 * median / p95 / p99 ns per op, vs mimalloc, page faults, syscalls by
 * kind, peak RSS, hit rate; repeats aggregated as medians of medians),
 * then the failed runs, to out. Needs the views (a database opened
 * without ANA_DB_READONLY, or one they were applied to). */
int ana_report_tables(ana_db_t *db, ana_format_t fmt, FILE *out, char *why,
                      size_t why_len);

/* Who allocates, per attributed trace (ana_sites.c), as heaptrack_print
 * gives it: the share of bytes attributed to a named function, the top
 * sites by bytes, by allocations and by bytes live at the peak (each with
 * its attributed function and a short stack), temporary allocations,
 * leaks, and whether sites predict size and lifetime classes
 * (trace_predictability). top: rows per table. md and tex only. */
int ana_report_sites(ana_db_t *db, ana_format_t fmt, unsigned top, FILE *out,
                     char *why, size_t why_len);

/* hakmem's published tables (Phase 6.7 vm, json, mir) beside what the
 * database measured for traces of the same scenarios. */
int ana_report_published(ana_db_t *db, ana_format_t fmt, FILE *out,
                         char *why, size_t why_len);

/* ---- ana_plot.c: plots through gnuplot --------------------------------- */

typedef struct ana_plot_stats {
  unsigned plots;   /* plots drawn (each as .svg, .png and, with pdfcairo,
                       .pdf) */
  unsigned skipped; /* plots not drawn: no data, or too little */
  unsigned sparse;  /* curves or plots left out for fewer than 3 points */
  unsigned pdf;     /* plots of which gnuplot also wrote a .pdf */
} ana_plot_stats_t;

/* What ana_plot_all draws. All zero: every back end but null. */
typedef struct ana_plot_opts {
  /* Back ends to draw (runs.backend, exactly): n_backends == 0 means every
   * back end in the database except null, which measures the harness and
   * is drawn only when named here. */
  const char *const *backends;
  size_t n_backends;
  /* One line per curve or plot left out for fewer than 3 points, and per
   * named back end without runs; NULL: silent (the counts stay in st). */
  FILE *notes;
  /* 1: a progress line on stderr (hk_progress: "DIR: plotting N/M steps"
   * with its ETA, a step being a configuration's ops read or a plot drawn
   * or skipped);
   * the caller decides (hk_progress_wanted). A note clears the line
   * first, so the two never share a line. */
  int progress;
} ana_plot_opts_t;

/* The gnuplot to run: $HKSIM_GNUPLOT if set, else "gnuplot" from PATH.
 * Returns NULL when it cannot be found or run; path_out then names what
 * was tried. */
const char *ana_gnuplot_find(char *path_out, size_t len);

/* Writes into dir (created if needed) the data files (.dat), gnuplot
 * scripts (.gp) and SVG + PNG (+ PDF where gnuplot has pdfcairo) of, per
 * trace: the latency CDF and the log-log CCDF by op kind, total ns/op per
 * configuration with its 95% CI, latency by size class, RSS net of the
 * harness beside live bytes, BigCache hit rate, and per learning run the
 * arm shares and ELO ratings over the run (docs/analysis.md). One run is
 * drawn per configuration (its first done repeat) except in the bar chart,
 * which uses every repeat. A curve of fewer than 3 points is left out,
 * and a plot left without one is skipped. opts may be NULL (defaults).
 * gnuplot is the program to run (from ana_gnuplot_find). HK_E_CHILD when
 * gnuplot fails (its stderr is kept in dir/gnuplot.log). */
int ana_plot_all(ana_db_t *db, const char *dir, const char *gnuplot,
                 const ana_plot_opts_t *opts, ana_plot_stats_t *st, char *why,
                 size_t why_len);


/* ---- ana_stats.c: statistics over repeat-level samples ------------------ */

/* Regularized incomplete beta function I_x(a, b), a, b > 0. */
double ana_beta_inc(double a, double b, double x);
/* Student's t distribution with df degrees of freedom (df > 0, real):
 * P(T <= t), and its p-quantile (0 < p < 1). NAN outside the domain. */
double ana_t_cdf(double t, double df);
double ana_t_quantile(double p, double df);

/* Welch's unequal-variance t-test of mean(a) - mean(b). */
typedef struct ana_welch {
  double mean_a, mean_b, diff; /* diff = mean_a - mean_b */
  double se, df, t, p;         /* p two-sided; df Welch-Satterthwaite */
  double half;                 /* 95% CI of diff: diff +- half */
} ana_welch_t;
/* Needs at least 2 values on each side (HK_E_USAGE otherwise). Two
 * constant samples give se 0: p 1 when equal, else 0. */
int ana_welch(const double *a, size_t na, const double *b, size_t nb,
              ana_welch_t *out);

/* Two-sided permutation test of the difference of means: the share of
 * the ways of splitting the pooled values into groups of na and nb whose
 * |difference of means| is at least the observed one. Exact (every
 * split) when there are at most max_exact splits, else draws seeded
 * random splits (the observed one counted once). p_min (exact only) is
 * the smallest p any data could give with these sizes and ties: 3 against
 * 3 repeats cannot go below 0.1. na + nb <= 64 (HK_E_USAGE otherwise). */
typedef struct ana_perm {
  double p, p_min;
  uint64_t arrangements; /* splits looked at */
  int exact;
} ana_perm_t;
int ana_permutation(const double *a, size_t na, const double *b, size_t nb,
                    uint64_t max_exact, uint64_t draws, uint64_t seed,
                    ana_perm_t *out);

/* ---- ana_compare.c: two configurations on repeat-level totals ----------- */

/* A configuration as `hksim compare` names it: backend[/policy]. */
typedef struct ana_config {
  char backend[64];
  char policy[64];
  int has_policy;
} ana_config_t;
/* Parses "backend" or "backend/policy"; HK_E_USAGE when empty or malformed. */
int ana_config_parse(const char *spec, ana_config_t *out);
void ana_config_text(const ana_config_t *c, char *buf, size_t len);

#define ANA_CMP_MIN 3  /* repeats a side needs before anything is said */
#define ANA_CMP_MAX 256 /* repeats read per side */

typedef struct ana_cmp_side {
  unsigned n;             /* done repeats */
  double mean, sd;        /* of total_ns / ops over the repeats */
  double ci_lo, ci_hi;    /* 95% t-CI of the mean */
} ana_cmp_side_t;

/* One trace's comparison. refused non-empty: nothing was computed, and it
 * says why (too few repeats, different --touch/--per-op). */
typedef struct ana_cmp {
  int64_t trace_id;
  char trace[256];
  int64_t ops;
  char modes[64];         /* touch/per_op of the runs */
  char refused[768];
  ana_cmp_side_t a, b;
  /* A/B: ratio of the geometric means of ns/op, its 95% CI (Welch on the
   * logs, so the CI and the test agree: the CI excludes 1 exactly when
   * welch.p < 0.05) */
  double ratio, ratio_lo, ratio_hi;
  ana_welch_t welch;      /* on log(ns/op) */
  ana_perm_t perm;        /* on log(ns/op); p NAN above 64 repeats */
} ana_cmp_t;

/* Compares a with b on every trace of the database where both have runs
 * (only trace, matched by name, content hash or id, when not NULL).
 * Resolves a and b first: a back end replayed under one policy takes it,
 * under several one must be named. *rows (malloc'd, freed by the caller)
 * gets one entry per trace. Errors, with one line in why: HK_E_NOTFOUND
 * (unknown back end, policy or trace; never replayed on one trace),
 * HK_E_USAGE (policy ambiguous; a compared with itself), HK_E_SQLITE. */
int ana_compare(ana_db_t *db, const char *trace, ana_config_t *a,
                ana_config_t *b, ana_cmp_t **rows, size_t *n_rows, char *why,
                size_t len);

#endif
