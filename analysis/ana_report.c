/* ana_report.c: the standard tables of `hksim report`, from the views of
 * views.sql and published.sql, printed as Markdown, CSV or LaTeX. Each
 * table is one SQL query plus a column list saying how to print each
 * value; CSV keeps raw numbers (one table, a trace column), Markdown and
 * LaTeX print one readable table per trace. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk_text.h"
#include "analysis.h"

int ana_format_parse(const char *name, ana_format_t *fmt) {
  if (!name) return -1;
  if (strcmp(name, "md") == 0 || strcmp(name, "markdown") == 0)
    *fmt = ANA_FMT_MD;
  else if (strcmp(name, "csv") == 0)
    *fmt = ANA_FMT_CSV;
  else if (strcmp(name, "tex") == 0 || strcmp(name, "latex") == 0)
    *fmt = ANA_FMT_TEX;
  else
    return -1;
  return 0;
}

/* How a column prints in md / tex (CSV always prints the raw value). */
typedef enum ckind {
  C_TEXT,  /* as is */
  C_INT,   /* 12,345 */
  C_NS,    /* 12,345 (rounded) */
  C_PCT,   /* +31.4% of a percent value */
  C_MIB,   /* bytes as 12.3 MiB */
  C_RATE,  /* fraction as 90.0% */
} ckind_t;

/* A column: its heading in md and tex; in CSV the heading made an
 * identifier ("median ns" -> median_ns) so that pandas, R and SQL imports
 * get names they can use. */
typedef struct col {
  const char *head;
  ckind_t kind;
} col_t;

/* The heading as an identifier: lower case letters, digits and single
 * underscores ("peak RSS" -> peak_rss, "ns/op" -> ns_op). */
static void ident(const char *head, char *buf, size_t len) {
  size_t o = 0;
  int gap = 0;
  for (const char *c = head; *c && o + 2 < len; c++) {
    char ch = *c;
    if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
      if (gap && o) buf[o++] = '_';
      buf[o++] = ch;
      gap = 0;
    } else {
      gap = 1;
    }
  }
  buf[o] = 0;
}

static void grouped(char *buf, size_t len, long long v) {
  char raw[32];
  snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v);
  size_t n = strlen(raw), o = 0;
  if (v < 0 && o + 1 < len) buf[o++] = '-';
  for (size_t i = 0; i < n && o + 2 < len; i++) {
    buf[o++] = raw[i];
    if ((n - i - 1) % 3 == 0 && i + 1 < n) buf[o++] = ',';
  }
  buf[o] = 0;
}

/* The printed form of column i of the current row. */
static void cell(sqlite3_stmt *st, int i, ckind_t k, ana_format_t fmt,
                 char *buf, size_t len) {
  int type = sqlite3_column_type(st, i);
  if (type == SQLITE_NULL) {
    snprintf(buf, len, "%s", fmt == ANA_FMT_CSV ? "" : "-");
    return;
  }
  if (fmt == ANA_FMT_CSV || k == C_TEXT || type == SQLITE_TEXT) {
    if (type == SQLITE_FLOAT)
      snprintf(buf, len, "%.10g", sqlite3_column_double(st, i));
    else
      snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, i));
    return;
  }
  double v = sqlite3_column_double(st, i);
  switch (k) {
  case C_INT:
  case C_NS: grouped(buf, len, (long long)llround(v)); break;
  case C_PCT: snprintf(buf, len, "%+.1f%%", v); break;
  case C_MIB: snprintf(buf, len, "%.1f MiB", v / 1048576.0); break;
  case C_RATE: snprintf(buf, len, "%.1f%%", v * 100.0); break;
  default: snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, i));
  }
}

static void put_escaped(FILE *out, const char *s, ana_format_t fmt) {
  if (fmt == ANA_FMT_CSV) {
    if (!strpbrk(s, ",\"\n") && !hk_needs_escape(s)) {
      fputs(s, out);
      return;
    }
    fputc('"', out);
    for (; *s; s++) {
      if (*s == '"') fputc('"', out);
      if ((unsigned char)*s < 0x20 || *s == 0x7f)
        fprintf(out, "\\x%02x", (unsigned char)*s); /* no terminal escapes */
      else
        fputc(*s, out);
    }
    fputc('"', out);
    return;
  }
  for (; *s; s++) {
    if (fmt == ANA_FMT_TEX && strchr("_%&#${}", *s)) {
      fputc('\\', out);
      fputc(*s, out);
    } else if (fmt == ANA_FMT_TEX && (*s == '~' || *s == '^' || *s == '\\')) {
      fputs(*s == '~' ? "\\textasciitilde{}"
                      : *s == '^' ? "\\textasciicircum{}"
                                  : "\\textbackslash{}",
            out);
    } else if (fmt == ANA_FMT_TEX && (*s == '<' || *s == '>')) {
      /* C++ names (templates) and the report's "called from" arrows:
       * plain < and > print as other glyphs in LaTeX's OT1 encoding. */
      fputs(*s == '<' ? "\\textless{}" : "\\textgreater{}", out);
    } else if (fmt == ANA_FMT_MD && *s == '|') {
      fputs("\\|", out);
    } else if ((unsigned char)*s < 0x20 || *s == 0x7f) {
      /* From a trace (exe, names): no forged lines, no terminal escapes. */
      fprintf(out, "\\x%02x", (unsigned char)*s);
    } else {
      fputc(*s, out);
    }
  }
}

static void row_start(FILE *out, ana_format_t fmt) {
  if (fmt == ANA_FMT_MD) fputs("| ", out);
}

static void row_sep(FILE *out, ana_format_t fmt) {
  fputs(fmt == ANA_FMT_MD ? " | " : fmt == ANA_FMT_TEX ? " & " : ",", out);
}

static void row_end(FILE *out, ana_format_t fmt) {
  fputs(fmt == ANA_FMT_MD ? " |\n" : fmt == ANA_FMT_TEX ? " \\\\\n" : "\n",
        out);
}

/* Whether column i is printed in the table of group g: g < 0 or no
 * groups, every column; else the columns of group 0 (keys) and of g. */
static int in_group(const int *groups, int i, int g) {
  return g < 0 || !groups || groups[i] == 0 || groups[i] == g;
}

static void header_g(FILE *out, ana_format_t fmt, const col_t *cols, int n,
                     const char *caption, const int *groups, int g) {
  if (fmt == ANA_FMT_TEX) {
    fputs("\\begin{table}[htbp]\n\\centering\n\\small\n", out);
    if (caption) {
      fputs("\\caption{", out);
      put_escaped(out, caption, fmt);
      fputs("}\n", out);
    }
    fputs("\\begin{tabular}{", out);
    for (int i = 0; i < n; i++)
      if (in_group(groups, i, g)) fputc(cols[i].kind == C_TEXT ? 'l' : 'r', out);
    fputs("}\n\\toprule\n", out);
  }
  row_start(out, fmt);
  int first = 1;
  for (int i = 0; i < n; i++) {
    if (!in_group(groups, i, g)) continue;
    if (!first) row_sep(out, fmt);
    first = 0;
    if (fmt == ANA_FMT_CSV) {
      char id[96];
      ident(cols[i].head, id, sizeof id);
      fputs(id, out);
    } else {
      put_escaped(out, cols[i].head, fmt);
    }
  }
  row_end(out, fmt);
  if (fmt == ANA_FMT_MD) {
    fputs("|", out);
    for (int i = 0; i < n; i++)
      if (in_group(groups, i, g))
        fputs(cols[i].kind == C_TEXT ? "---|" : "---:|", out);
    fputs("\n", out);
  } else if (fmt == ANA_FMT_TEX) {
    fputs("\\midrule\n", out);
  }
}

static void header(FILE *out, ana_format_t fmt, const col_t *cols, int n,
                   const char *caption) {
  header_g(out, fmt, cols, n, caption, NULL, -1);
}

static void footer(FILE *out, ana_format_t fmt) {
  if (fmt == ANA_FMT_TEX)
    fputs("\\bottomrule\n\\end{tabular}\n\\end{table}\n", out);
}

/* Prints the rows of st (already bound) with cols; the first skip result
 * columns are not printed (grouping keys). Returns rows or < 0. */
static long rows_g(sqlite3_stmt *st, FILE *out, ana_format_t fmt,
                   const col_t *cols, int n, int skip, const int *groups,
                   int g) {
  long count = 0;
  int s;
  char buf[256];
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    row_start(out, fmt);
    int first = 1;
    for (int i = 0; i < n; i++) {
      if (!in_group(groups, i, g)) continue;
      if (!first) row_sep(out, fmt);
      first = 0;
      cell(st, i + skip, cols[i].kind, fmt, buf, sizeof buf);
      put_escaped(out, buf, fmt);
    }
    row_end(out, fmt);
    count++;
  }
  return s == SQLITE_DONE ? count : -1;
}

static long rows(sqlite3_stmt *st, FILE *out, ana_format_t fmt,
                 const col_t *cols, int n, int skip) {
  return rows_g(st, out, fmt, cols, n, skip, NULL, -1);
}

static int sql_fail(sqlite3 *db, char *why, size_t len) {
  snprintf(why, len, "%s", sqlite3_errmsg(db));
  return HK_E_SQLITE;
}

/* ---- the standard comparison table ----------------------------------- */

/* The standard table. Groups (tex prints one table per group, so each
 * fits a page): 1 time, 2 memory and system calls. */
static const col_t std_cols[] = {
    {"trace", C_TEXT},       {"backend", C_TEXT},    {"policy", C_TEXT},
    {"runs", C_INT},         {"failed", C_INT},
    {"ns/op [95% CI]", C_TEXT}, {"vs best", C_TEXT}, {"median ns", C_NS},
    {"p95 ns", C_NS},        {"p99 ns", C_NS},       {"vs mimalloc", C_PCT},
    {"page faults", C_INT},  {"mmap", C_INT},        {"munmap", C_INT},
    {"madvise", C_INT},      {"mremap", C_INT},      {"brk", C_INT},
    {"peak RSS", C_MIB},     {"hit rate", C_RATE},
};
static const int std_groups[] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                 2, 2, 2, 2, 2, 2, 2, 2};
static const char *const std_group_caption[] = {
    NULL, "time", "memory and system calls"};

/* CSV: raw numbers under identifiers, the CI as two columns, and the
 * bound below which the per-op percentiles are not resolved (3 x the
 * timer's resolution, per op: divided by K for --per-op batch:K). */
static const col_t std_csv_cols[] = {
    {"trace", C_TEXT},          {"backend", C_TEXT},
    {"policy", C_TEXT},         {"runs", C_INT},
    {"failed", C_INT},          {"ns_per_op", C_NS},
    {"ns_per_op_ci_lo", C_NS},  {"ns_per_op_ci_hi", C_NS},
    {"vs_best", C_TEXT},        {"median_ns", C_NS},
    {"p95_ns", C_NS},           {"p99_ns", C_NS},
    {"resolution_bound_ns", C_NS},
    {"vs_mimalloc_pct", C_PCT}, {"page_faults", C_INT},
    {"mmap_calls", C_INT},      {"munmap_calls", C_INT},
    {"madvise_calls", C_INT},   {"mremap_calls", C_INT},
    {"brk_calls", C_INT},       {"peak_rss_bytes", C_INT},
    {"hit_rate", C_RATE},       {"per_op", C_TEXT},
};

/* A per-op percentile below 3 times the timer's resolution is not a number
 * to compare: it is printed as the bound "< X" (X in ns). For --per-op
 * batch:K runs the resolution per op is the timer's over K
 * (config_summary.latency_resolution_ns). */
#define BOUNDED(col)                                                         \
  " CASE WHEN v." col " < 3 * v.latency_resolution_ns THEN '< ' ||"         \
  " CAST(3 * v.latency_resolution_ns + 0.999 AS INTEGER) ELSE v." col " END,"

/* Configurations are compared by total loop time per op (median over
 * repeats, with the 95% CI of the mean over repeats); "vs best" says
 * whether that CI overlaps the best configuration's (config_rank): "best",
 * "tied", "slower" when the data separate them, or "no CI" when either
 * side has a single repeat. */
/* A trace whose runs were timed in more than one --per-op mode has a row
 * per mode (config_summary.per_op): the back end cell names the mode. */
#define PER_OP_BACKEND                                                       \
  " CASE WHEN (SELECT COUNT(DISTINCT x.per_op) FROM runs x WHERE"           \
  "  x.trace_id = v.trace_id AND x.status = 'done') > 1 THEN v.backend ||"  \
  "  ' (per-op ' || v.per_op || ')' ELSE v.backend END,"
/* Failed runs of the configuration, in its timing mode. */
#define FAILED                                                               \
  " (SELECT COUNT(*) FROM runs f WHERE f.trace_id = v.trace_id"             \
  "   AND f.backend = v.backend AND f.policy IS v.policy"                   \
  "   AND f.per_op IS v.per_op AND f.status = 'failed'),"
static const char std_sql[] =
    "SELECT v.trace," PER_OP_BACKEND " v.policy, v.runs," FAILED
    " CASE WHEN v.ns_per_op_ci_lo IS NULL THEN printf('%.1f', v.ns_per_op)"
    "  ELSE printf('%.1f [%.1f, %.1f]', v.ns_per_op, v.ns_per_op_ci_lo,"
    "   v.ns_per_op_ci_hi) END,"
    " CASE WHEN k.place IS NULL THEN NULL"
    "  WHEN k.ns_per_op = k.best_ns_per_op THEN 'best'"
    "  WHEN k.tied THEN 'tied'"
    "  WHEN k.ns_per_op_ci_lo IS NULL OR k.best_ci_hi IS NULL THEN 'no CI'"
    "  ELSE 'slower' END,"
    BOUNDED("median_ns") BOUNDED("p95_ns") BOUNDED("p99_ns")
    " v.vs_mimalloc_pct, v.page_faults,"
    " v.mmap_calls, v.munmap_calls, v.madvise_calls, v.mremap_calls,"
    " v.brk_calls, v.peak_rss_bytes, v.hit_rate"
    " FROM vs_mimalloc v LEFT JOIN config_rank k ON k.trace_id = v.trace_id"
    "  AND k.backend = v.backend AND k.policy IS v.policy"
    "  AND k.per_op IS v.per_op"
    " WHERE ?1 IS NULL OR v.trace_id = ?1"
    " ORDER BY v.trace, v.trace_id, v.per_op, v.ns_per_op IS NULL,"
    " v.ns_per_op, v.backend, v.policy";
#undef BOUNDED

#define VS_BEST                                                              \
  " CASE WHEN k.place IS NULL THEN NULL"                                     \
  "  WHEN k.ns_per_op = k.best_ns_per_op THEN 'best'"                        \
  "  WHEN k.tied THEN 'tied'"                                                \
  "  WHEN k.ns_per_op_ci_lo IS NULL OR k.best_ci_hi IS NULL THEN 'no CI'"    \
  "  ELSE 'slower' END,"
static const char std_csv_sql[] =
    "SELECT v.trace, v.backend, v.policy, v.runs," FAILED
    " v.ns_per_op, v.ns_per_op_ci_lo, v.ns_per_op_ci_hi," VS_BEST
    " v.median_ns, v.p95_ns, v.p99_ns, 3 * v.latency_resolution_ns,"
    " v.vs_mimalloc_pct, v.page_faults,"
    " v.mmap_calls, v.munmap_calls, v.madvise_calls, v.mremap_calls,"
    " v.brk_calls, v.peak_rss_bytes, v.hit_rate, v.per_op"
    " FROM vs_mimalloc v LEFT JOIN config_rank k ON k.trace_id = v.trace_id"
    "  AND k.backend = v.backend AND k.policy IS v.policy"
    "  AND k.per_op IS v.per_op"
    " ORDER BY v.trace, v.trace_id, v.per_op, v.ns_per_op IS NULL,"
    " v.ns_per_op, v.backend, v.policy";
#undef VS_BEST
#undef FAILED
#undef PER_OP_BACKEND

static const col_t fail_cols[] = {
    {"run", C_INT},     {"trace", C_TEXT},  {"backend", C_TEXT},
    {"policy", C_TEXT}, {"repeat", C_INT},  {"status", C_TEXT},
    {"error", C_TEXT},
};

/* ---- fidelity: live runs beside their replays (hksim validate) -------- */

static const col_t fid_cols[] = {
    {"trace", C_TEXT},          {"backend", C_TEXT},
    {"live runs", C_INT},       {"live wall s [95% CI]", C_TEXT},
    {"replays", C_INT},         {"replay loop ms [95% CI]", C_TEXT},
    {"live rank", C_INT},       {"replay rank", C_INT},
};

static const col_t fsum_cols[] = {
    {"trace", C_TEXT},        {"back ends", C_INT},
    {"Kendall's tau", C_TEXT}, {"tau-b (live ties)", C_TEXT},
    {"separated pairs", C_INT}, {"delta error", C_TEXT},
};

/* Printed only when the database has live runs; after the tables. */
static int fidelity_section(sqlite3 *db, ana_format_t fmt, FILE *out,
                            char *why, size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM fidelity", -1, &st,
                         NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  if (!n) return 0;
  static const char *const q[2] = {
      "SELECT trace, backend || COALESCE('/' || policy, ''), live_runs,"
      " printf('%.3f [%.3f, %.3f]', live_wall_s, live_ci_lo, live_ci_hi),"
      " replay_runs, printf('%.2f [%.2f, %.2f]', replay_ns / 1e6,"
      " replay_ci_lo / 1e6, replay_ci_hi / 1e6), live_rank, replay_rank"
      " FROM fidelity",
      "SELECT trace, backends,"
      " CASE WHEN kendall_tau IS NOT NULL THEN printf('%.2f', kendall_tau) END,"
      " CASE WHEN kendall_tau_b IS NOT NULL"
      "  THEN printf('%.2f', kendall_tau_b) END, live_separated_pairs,"
      " CASE WHEN delta_error IS NOT NULL"
      "  THEN printf('%.0f%%', 100 * delta_error) END FROM fidelity_summary"};
  const col_t *cols[2] = {fid_cols, fsum_cols};
  const int nc[2] = {(int)HK_ARRAY_LEN(fid_cols), (int)HK_ARRAY_LEN(fsum_cols)};
  const char *cap[2] = {
      "Fidelity: live runs beside the replays of their recording (medians)",
      "Fidelity summary: rank agreement and error of the differences to "
      "mimalloc"};
  for (int k = 0; k < 2; k++) {
    if (sqlite3_prepare_v2(db, q[k], -1, &st, NULL) != SQLITE_OK)
      return sql_fail(db, why, len);
    if (fmt == ANA_FMT_MD) {
      fputs("\n### ", out);
      fputs(cap[k], out);
      fputs("\n\n", out);
    } else {
      fputs("\n", out);
    }
    header(out, fmt, cols[k], nc[k], cap[k]);
    long r = rows(st, out, fmt, cols[k], nc[k], 0);
    footer(out, fmt);
    sqlite3_finalize(st);
    if (r < 0) return sql_fail(db, why, len);
  }
  return 0;
}

int ana_report_tables(ana_db_t *adb, ana_format_t fmt, FILE *out, char *why,
                      size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  sqlite3_stmt *st = NULL, *tr = NULL;
  int n = (int)HK_ARRAY_LEN(std_cols);
  int rc = 0;
  if (sqlite3_prepare_v2(db, std_sql, -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  if (fmt == ANA_FMT_CSV) {
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, std_csv_sql, -1, &st, NULL) != SQLITE_OK)
      return sql_fail(db, why, len);
    int nc = (int)HK_ARRAY_LEN(std_csv_cols);
    header(out, fmt, std_csv_cols, nc, NULL);
    if (rows(st, out, fmt, std_csv_cols, nc, 0) < 0) rc = sql_fail(db, why, len);
    sqlite3_finalize(st);
    return rc;
  }
  /* One table per trace, the trace in the heading instead of a column. */
  if (sqlite3_prepare_v2(db,
                         "SELECT t.trace_id, t.name, t.ops, t.exe,"
                         " (SELECT COUNT(*) FROM runs r"
                         "   WHERE r.trace_id = t.trace_id),"
                         " (SELECT group_concat(DISTINCT r.per_op) FROM runs r"
                         "   WHERE r.trace_id = t.trace_id AND r.status ="
                         "   'done' AND (r.per_op LIKE 'batch:%'"
                         "   OR r.per_op = 'iteration')),"
                         /* Back ends replayed threaded (replay_threads > 1:
                          * --threads auto or recorded), the most threads,
                          * and how many of them have serial runs too. */
                         " (SELECT group_concat(b, ', ') FROM (SELECT"
                         "   r.backend AS b FROM runs r WHERE r.trace_id ="
                         "   t.trace_id AND r.status = 'done' GROUP BY"
                         "   r.backend HAVING MAX(r.replay_threads) > 1"
                         "   ORDER BY r.backend)),"
                         " (SELECT MAX(r.replay_threads) FROM runs r"
                         "   WHERE r.trace_id = t.trace_id AND r.status ="
                         "   'done'),"
                         " (SELECT COUNT(*) FROM (SELECT 1 FROM runs r"
                         "   WHERE r.trace_id = t.trace_id AND r.status ="
                         "   'done' GROUP BY r.backend HAVING"
                         "   MAX(r.replay_threads) > 1 AND"
                         "   MIN(COALESCE(r.replay_threads, 1)) = 1))"
                         " FROM traces t ORDER BY t.name, t.trace_id",
                         -1, &tr, NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return sql_fail(db, why, len);
  }
  int s, traces = 0;
  while (!rc && (s = sqlite3_step(tr)) == SQLITE_ROW) {
    if (sqlite3_column_int64(tr, 4) == 0) continue;
    const char *name = (const char *)sqlite3_column_text(tr, 1);
    const char *exe = (const char *)sqlite3_column_text(tr, 3);
    char cap[640];
    /* Runs timed in spans (run_span): their percentiles are not per op. */
    const char *spans = (const char *)sqlite3_column_text(tr, 5);
    char sp[200] = "";
    if (spans)
      snprintf(sp, sizeof sp,
               "; runs with --per-op %.80s: percentiles over spans (batch:K: "
               "ns per op of a batch; iteration: ns per alloc + touch + free)",
               spans);
    /* Which back ends replayed each recorded thread on a thread of its
     * own: their times hold the threads' contention, the others' do not. */
    const char *thr = (const char *)sqlite3_column_text(tr, 6);
    char th[200] = "";
    if (thr)
      snprintf(th, sizeof th, "; threaded replay (%lld threads): %.80s%s",
               (long long)sqlite3_column_int64(tr, 7), thr,
               sqlite3_column_int64(tr, 8)
                   ? " (with serial runs in the same rows)"
                   : "");
    snprintf(cap, sizeof cap,
             "%s (%s, %lld ops): total ns per op and per-op percentiles, "
             "medians over repeats%s%s",
             name ? name : "?", exe ? exe : "?",
             (long long)sqlite3_column_int64(tr, 2), sp, th);
    if (fmt == ANA_FMT_MD) {
      fputs(traces ? "\n### " : "### ", out);
      put_escaped(out, cap, fmt);
      fputs("\n\n", out);
    } else if (traces) {
      fputs("\n", out);
    }
    /* LaTeX: one table per metric group, each narrow enough for a page;
     * Markdown: one wide table. */
    int g0 = fmt == ANA_FMT_TEX ? 1 : -1, g1 = fmt == ANA_FMT_TEX ? 2 : -1;
    for (int g = g0; g <= g1 && !rc; g++) {
      char gcap[720];
      if (g > 0)
        snprintf(gcap, sizeof gcap, "%s: %s", cap, std_group_caption[g]);
      if (g > g0) fputs("\n", out);
      header_g(out, fmt, std_cols + 1, n - 1, g > 0 ? gcap : cap,
               std_groups + 1, g);
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, sqlite3_column_int64(tr, 0));
      /* rows() prints columns 1.. of the query: the trace is the heading. */
      long k = rows_g(st, out, fmt, std_cols + 1, n - 1, 1, std_groups + 1, g);
      if (k < 0) rc = sql_fail(db, why, len);
      footer(out, fmt);
    }
    traces++;
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(tr);
  sqlite3_finalize(st);
  if (rc) return rc;
  if (!traces) {
    fputs(fmt == ANA_FMT_TEX ? "% no runs in this database\n"
                             : "_No runs in this database._\n",
          out);
    return 0;
  }
  if ((rc = fidelity_section(db, fmt, out, why, len))) return rc;
  /* The runs that did not finish, with their errors. */
  if (sqlite3_prepare_v2(db,
                         "SELECT COUNT(*) FROM runs WHERE status <> 'done'", -1,
                         &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  int bad = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  if (!bad) return 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT r.run_id, t.name, r.backend, r.policy,"
                         " r.repeat, r.status, r.error FROM runs r"
                         " JOIN traces t USING (trace_id)"
                         " WHERE r.status <> 'done' ORDER BY r.run_id",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  fputs(fmt == ANA_FMT_MD ? "\n### Runs not done\n\n" : "\n", out);
  header(out, fmt, fail_cols, (int)HK_ARRAY_LEN(fail_cols), "Runs not done");
  if (rows(st, out, fmt, fail_cols, (int)HK_ARRAY_LEN(fail_cols), 0) < 0)
    rc = sql_fail(db, why, len);
  footer(out, fmt);
  sqlite3_finalize(st);
  return rc;
}

/* ---- hakmem's published tables beside the measured ones -------------- */

static const col_t pub_cols[] = {
    {"scenario", C_TEXT},     {"allocator", C_TEXT},
    {"trace", C_TEXT},        {"median ns", C_NS},
    {"vs mimalloc", C_PCT},   {"page faults", C_INT},
    {"syscalls", C_TEXT},     {"published median ns", C_NS},
    {"published vs mimalloc", C_PCT}, {"published page faults", C_TEXT},
    {"published syscalls", C_TEXT},
};

static const char pub_sql[] =
    "SELECT scenario, allocator, trace, median_ns, vs_mimalloc_pct,"
    " page_faults, syscalls, pub_median_ns, pub_vs_mimalloc_pct,"
    " pub_page_faults, pub_syscalls FROM published_comparison"
    " WHERE ?1 IS NULL OR scenario = ?1 ORDER BY scenario = 'json',"
    " scenario = 'mir', scenario, ord, trace";

/* Below a published table (md, tex): whether the measured order of the
 * allocators agrees with the published one (published_rank_agreement),
 * one line per trace, saying which metric was measured. */
static int rank_agreement(sqlite3 *db, const char *scenario, ana_format_t fmt,
                          FILE *out, char *why, size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT trace, allocators, kendall_tau,"
                         " measured_per_op FROM published_rank_agreement"
                         " WHERE scenario = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_text(st, 1, scenario, -1, SQLITE_STATIC);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    const char *mode = (const char *)sqlite3_column_text(st, 3);
    int same = mode && strcmp(mode, "iteration") == 0;
    char line[512];
    snprintf(line, sizeof line,
             "%s: rank agreement with the published order, Kendall's tau "
             "%.2f over %d allocators (measured %s)",
             (const char *)sqlite3_column_text(st, 0),
             sqlite3_column_double(st, 2), sqlite3_column_int(st, 1),
             same ? "ns per alloc + touch + free iteration, the published "
                    "metric"
                  : "per-op medians, not the published metric: --per-op "
                    "iteration measures it");
    fputs(fmt == ANA_FMT_MD ? "\n" : "\n\\noindent ", out);
    put_escaped(out, line, fmt);
    fputs("\n", out);
  }
  sqlite3_finalize(st);
  return s == SQLITE_DONE ? 0 : sql_fail(db, why, len);
}

int ana_report_published(ana_db_t *adb, ana_format_t fmt, FILE *out,
                         char *why, size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  sqlite3_stmt *st;
  int n = (int)HK_ARRAY_LEN(pub_cols), rc = 0;
  if (sqlite3_prepare_v2(db, pub_sql, -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  if (fmt == ANA_FMT_CSV) {
    header(out, fmt, pub_cols, n, NULL);
    sqlite3_bind_null(st, 1);
    if (rows(st, out, fmt, pub_cols, n, 0) < 0) rc = sql_fail(db, why, len);
    sqlite3_finalize(st);
    return rc;
  }
  static const char *const scen[] = {"vm", "json", "mir"};
  static const char *const caps[] = {
      "Phase 6.7, vm scenario (2 MiB): measured beside hakmem's published",
      "json scenario (64 KiB): measured beside hakmem's published",
      "mir scenario (256 KiB): measured beside hakmem's published"};
  for (int i = 0; i < 3 && !rc; i++) {
    if (fmt == ANA_FMT_MD) {
      fprintf(out, "%s### %s\n\n", i ? "\n" : "", caps[i]);
    } else if (i) {
      fputs("\n", out);
    }
    header(out, fmt, pub_cols + 1, n - 1, caps[i]);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, scen[i], -1, SQLITE_STATIC);
    if (rows(st, out, fmt, pub_cols + 1, n - 1, 1) < 0)
      rc = sql_fail(db, why, len);
    footer(out, fmt);
    if (!rc) rc = rank_agreement(db, scen[i], fmt, out, why, len);
  }
  sqlite3_finalize(st);
  return rc;
}

/* ---- who allocates (the sites of ana_sites.c) ------------------------- */

/* A name cut to 60 characters for a table cell (C++ names run long). */
#define SHORT(x)                                                               \
  "CASE WHEN length(" x ") > 60 THEN substr(" x ", 1, 57) || '...' ELSE " x  \
  " END"

/* "libfoo.so+0x1a2b" for a frame without a name. */
#define MODOFF(f)                                                              \
  "replace(" f ".module, rtrim(" f ".module, replace(" f ".module, '/', '')),"  \
  " '') || printf('+0x%x', " f ".offset)"

/* One row per site of trace ?1 with its attributed function, what it did,
 * and its next two callers (a short stack, innermost first). */
static const char sites_base[] =
    "WITH b AS (SELECT s.site, s.allocs, s.bytes,"
    " COALESCE(l.peak_bytes, 0) AS pb, COALESCE(l.peak_objects, 0) AS po,"
    " COALESCE(l.temporary, 0) AS tmp, COALESCE(l.leaked, 0) AS lk,"
    " COALESCE(l.leaked_bytes, 0) AS lkb,"
    " " SHORT("COALESCE(f.function, " MODOFF("f") ", printf('0x%x',"
              " COALESCE(f.address, s.caller)))") " AS fn,"
    " (SELECT group_concat(n, ' < ') FROM (SELECT " SHORT("COALESCE("
    "   x.function, " MODOFF("x") ", printf('0x%x', x.address))") " AS n"
    "   FROM site_stack x"
    "   WHERE x.trace_id = s.trace_id AND x.site = s.site"
    "   AND x.depth > a.depth ORDER BY x.depth LIMIT 2)) AS stack"
    " FROM sites s"
    " LEFT JOIN site_attr a ON a.trace_id = s.trace_id AND a.site = s.site"
    " LEFT JOIN site_stack f ON f.trace_id = a.trace_id AND f.site = a.site"
    "  AND f.depth = a.depth"
    " LEFT JOIN site_life l ON l.trace_id = s.trace_id AND l.site = s.site"
    " WHERE s.trace_id = ?1),"
    " tot AS (SELECT SUM(allocs) AS n, SUM(bytes) AS b, SUM(pb) AS p,"
    " SUM(lkb) AS lb FROM b) ";

typedef struct site_table {
  const char *title; /* printf format with one %s: a total */
  const char *total_sql; /* the total for the title */
  const char *sql;   /* after sites_base; ?2 = top */
  col_t cols[7];
  int n;
} site_table_t;

/* Every site table's columns: the site, its function, two counts, a
 * ratio and the stack it was called from. */
#define SITE_COLS(count, count2, ratio)                                      \
  {{"site", C_INT}, {"function", C_TEXT}, {count, C_INT},                    \
   {count2, C_INT}, {ratio, C_RATE},      {"called from", C_TEXT}},          \
      6

static const site_table_t site_tables[] = {
    {"Top sites by bytes requested (%s bytes)", "SELECT b FROM tot",
     "SELECT site, fn, allocs, bytes, CAST(bytes AS REAL) / NULLIF(tot.b, 0),"
     " stack FROM b, tot WHERE bytes > 0 ORDER BY bytes DESC, site LIMIT ?2",
     SITE_COLS("allocs", "bytes", "share")},
    {"Top sites by allocations (%s allocations)", "SELECT n FROM tot",
     "SELECT site, fn, allocs, bytes, CAST(allocs AS REAL) / NULLIF(tot.n, 0),"
     " stack FROM b, tot WHERE allocs > 0 ORDER BY allocs DESC, site"
     " LIMIT ?2",
     SITE_COLS("allocs", "bytes", "share")},
    {"Peak consumers: bytes live at the peak (%s bytes)", "SELECT p FROM tot",
     "SELECT site, fn, po, pb, CAST(pb AS REAL) / NULLIF(tot.p, 0), stack"
     " FROM b, tot WHERE pb > 0 ORDER BY pb DESC, site LIMIT ?2",
     SITE_COLS("objects", "bytes", "share")},
    {"Temporary allocations: freed within 8 ops, no allocation between (%s)",
     "SELECT SUM(tmp) FROM b",
     "SELECT site, fn, tmp, allocs, CAST(tmp AS REAL) / NULLIF(allocs, 0),"
     " stack FROM b WHERE tmp > 0 ORDER BY tmp DESC, site LIMIT ?2",
     SITE_COLS("temporary", "of allocs", "rate")},
    {"Leaks: live at exit (%s bytes)", "SELECT lb FROM tot",
     "SELECT site, fn, lk, lkb, CAST(lkb AS REAL) / NULLIF(tot.lb, 0), stack"
     " FROM b, tot WHERE lk > 0 ORDER BY lkb DESC, lk DESC, site LIMIT ?2",
     SITE_COLS("objects", "bytes", "share")},
};
#undef SITE_COLS

static const col_t pred_cols[] = {
    {"label", C_TEXT},           {"labels", C_INT},
    {"bytes", C_INT},            {"size class >= 90%", C_RATE},
    {"lifetime class >= 90%", C_RATE}, {"both", C_RATE},
};

static void heading(FILE *out, ana_format_t fmt, const char *level,
                    const char *text) {
  if (fmt == ANA_FMT_MD) {
    fprintf(out, "\n%s ", level);
    put_escaped(out, text, fmt);
    fputs("\n\n", out);
  } else {
    fputs("\n% ", out);
    put_escaped(out, text, fmt);
    fputs("\n", out);
  }
}

/* A sentence below a heading (md) or a comment (tex). */
static void note(FILE *out, ana_format_t fmt, const char *text) {
  fputs(fmt == ANA_FMT_MD ? "" : "% ", out);
  put_escaped(out, text, fmt);
  fputs(fmt == ANA_FMT_MD ? "\n\n" : "\n", out);
}

static int site_section(sqlite3 *db, int64_t trace, const char *name,
                        ana_format_t fmt, unsigned top, FILE *out, char *why,
                        size_t len) {
  char text[1024], sql[4096];
  sqlite3_stmt *st;
  snprintf(text, sizeof text, "Who allocates: %s", name);
  heading(out, fmt, "###", text);
  /* The attribution share, and the forwarders found. */
  if (sqlite3_prepare_v2(db,
                         "SELECT named_share, frame0_named_share, sites,"
                         " (SELECT group_concat(function, ', ') FROM (SELECT"
                         "  function FROM trace_wrappers WHERE trace_id = ?1"
                         "  ORDER BY bytes DESC LIMIT 5)), forwarders"
                         " FROM attribution_summary WHERE trace_id = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(st, 1, trace);
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *fw = (const char *)sqlite3_column_text(st, 3);
    snprintf(text, sizeof text,
             "%.1f%% of the bytes requested are attributed to a named "
             "function of the program past the allocator and the wrappers "
             "(frame 0 alone is named for %.1f%%), over %lld sites; %lld "
             "functions found to forward their caller's size%s%s.",
             100 * sqlite3_column_double(st, 0),
             100 * sqlite3_column_double(st, 1),
             (long long)sqlite3_column_int64(st, 2),
             (long long)sqlite3_column_int64(st, 4), fw ? ": " : "",
             fw ? fw : "");
    note(out, fmt, text);
  }
  sqlite3_finalize(st);
  for (size_t i = 0; i < HK_ARRAY_LEN(site_tables); i++) {
    const site_table_t *t = &site_tables[i];
    long long total = 0;
    snprintf(sql, sizeof sql, "%s%s", sites_base, t->total_sql);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
      return sql_fail(db, why, len);
    sqlite3_bind_int64(st, 1, trace);
    if (sqlite3_step(st) == SQLITE_ROW) total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    char num[32];
    grouped(num, sizeof num, total);
    snprintf(text, sizeof text, t->title, num);
    heading(out, fmt, "####", text);
    if (total == 0) {
      note(out, fmt, "none");
      continue;
    }
    snprintf(sql, sizeof sql, "%s%s", sites_base, t->sql);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
      return sql_fail(db, why, len);
    sqlite3_bind_int64(st, 1, trace);
    sqlite3_bind_int(st, 2, (int)top);
    header(out, fmt, t->cols, t->n, text);
    long k = rows(st, out, fmt, t->cols, t->n, 0);
    footer(out, fmt);
    sqlite3_finalize(st);
    if (k < 0) return sql_fail(db, why, len);
  }
  /* Is the call site a purpose label? */
  heading(out, fmt, "####",
          "Do call sites predict size and lifetime? (byte-weighted share of "
          "allocations whose label's dominant class holds >= 90%)");
  if (sqlite3_prepare_v2(db,
                         "SELECT CASE grouping WHEN 'stack' THEN 'whole stack'"
                         " WHEN 'frame0' THEN 'frame 0 (caller)'"
                         " ELSE 'attributed frame' END, labels, bytes,"
                         " size_predicted, lifetime_predicted, both_predicted"
                         " FROM trace_predictability WHERE trace_id = ?1"
                         " ORDER BY grouping = 'stack', grouping = 'frame0'",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(st, 1, trace);
  header(out, fmt, pred_cols, (int)HK_ARRAY_LEN(pred_cols),
         "Do call sites predict size and lifetime?");
  long k = rows(st, out, fmt, pred_cols, (int)HK_ARRAY_LEN(pred_cols), 0);
  footer(out, fmt);
  sqlite3_finalize(st);
  if (k < 0) return sql_fail(db, why, len);
  if (fmt == ANA_FMT_MD) fputs("\n", out);
  note(out, fmt,
       "Lifetime classes: decimal orders of magnitude of an object's life "
       "in ops (site_predictability, lifetime_classes).");
  return 0;
}

int ana_report_sites(ana_db_t *adb, ana_format_t fmt, unsigned top, FILE *out,
                     char *why, size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  if (fmt == ANA_FMT_CSV) return 0;
  sqlite3_stmt *tr;
  /* Recorded traces that were attributed (synthetic ones have no stacks). */
  if (sqlite3_prepare_v2(db,
                         "SELECT t.trace_id, t.name FROM traces t WHERE"
                         " EXISTS (SELECT 1 FROM site_attr a WHERE"
                         " a.trace_id = t.trace_id) ORDER BY t.name,"
                         " t.trace_id",
                         -1, &tr, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  int rc = 0, s;
  while (!rc && (s = sqlite3_step(tr)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(tr, 1);
    rc = site_section(db, sqlite3_column_int64(tr, 0), name ? name : "?", fmt,
                      top, out, why, len);
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(tr);
  return rc;
}
