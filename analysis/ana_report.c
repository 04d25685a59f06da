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

typedef struct col {
  const char *head;
  ckind_t kind;
} col_t;

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
    if (!strpbrk(s, ",\"\n")) {
      fputs(s, out);
      return;
    }
    fputc('"', out);
    for (; *s; s++) {
      if (*s == '"') fputc('"', out);
      fputc(*s, out);
    }
    fputc('"', out);
    return;
  }
  for (; *s; s++) {
    if (fmt == ANA_FMT_TEX && strchr("_%&#$", *s)) {
      fputc('\\', out);
      fputc(*s, out);
    } else if (fmt == ANA_FMT_TEX && (*s == '~' || *s == '^' || *s == '\\')) {
      fputs(*s == '~' ? "\\textasciitilde{}"
                      : *s == '^' ? "\\textasciicircum{}"
                                  : "\\textbackslash{}",
            out);
    } else if (fmt == ANA_FMT_MD && *s == '|') {
      fputs("\\|", out);
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

static void header(FILE *out, ana_format_t fmt, const col_t *cols, int n,
                   const char *caption) {
  if (fmt == ANA_FMT_TEX) {
    fputs("\\begin{table}[htbp]\n\\centering\n\\small\n", out);
    if (caption) {
      fputs("\\caption{", out);
      put_escaped(out, caption, fmt);
      fputs("}\n", out);
    }
    fputs("\\begin{tabular}{", out);
    for (int i = 0; i < n; i++) fputc(cols[i].kind == C_TEXT ? 'l' : 'r', out);
    fputs("}\n\\toprule\n", out);
  }
  row_start(out, fmt);
  for (int i = 0; i < n; i++) {
    if (i) row_sep(out, fmt);
    put_escaped(out, cols[i].head, fmt);
  }
  row_end(out, fmt);
  if (fmt == ANA_FMT_MD) {
    fputs("|", out);
    for (int i = 0; i < n; i++)
      fputs(cols[i].kind == C_TEXT ? "---|" : "---:|", out);
    fputs("\n", out);
  } else if (fmt == ANA_FMT_TEX) {
    fputs("\\midrule\n", out);
  }
}

static void footer(FILE *out, ana_format_t fmt) {
  if (fmt == ANA_FMT_TEX)
    fputs("\\bottomrule\n\\end{tabular}\n\\end{table}\n", out);
}

/* Prints the rows of st (already bound) with cols; the first skip result
 * columns are not printed (grouping keys). Returns rows or < 0. */
static long rows(sqlite3_stmt *st, FILE *out, ana_format_t fmt,
                 const col_t *cols, int n, int skip) {
  long count = 0;
  int s;
  char buf[256];
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    row_start(out, fmt);
    for (int i = 0; i < n; i++) {
      if (i) row_sep(out, fmt);
      cell(st, i + skip, cols[i].kind, fmt, buf, sizeof buf);
      put_escaped(out, buf, fmt);
    }
    row_end(out, fmt);
    count++;
  }
  return s == SQLITE_DONE ? count : -1;
}

static int sql_fail(sqlite3 *db, char *why, size_t len) {
  snprintf(why, len, "%s", sqlite3_errmsg(db));
  return HK_E_SQLITE;
}

/* ---- the standard comparison table ----------------------------------- */

static const col_t std_cols[] = {
    {"trace", C_TEXT},       {"backend", C_TEXT},    {"policy", C_TEXT},
    {"runs", C_INT},         {"failed", C_INT},      {"median ns", C_NS},
    {"p95 ns", C_NS},        {"p99 ns", C_NS},       {"vs mimalloc", C_PCT},
    {"page faults", C_INT},  {"mmap", C_INT},        {"munmap", C_INT},
    {"madvise", C_INT},      {"mremap", C_INT},      {"brk", C_INT},
    {"peak RSS", C_MIB},     {"hit rate", C_RATE},
};

static const char std_sql[] =
    "SELECT v.trace, v.backend, v.policy, v.runs,"
    " (SELECT COUNT(*) FROM runs f WHERE f.trace_id = v.trace_id"
    "   AND f.backend = v.backend AND f.policy IS v.policy"
    "   AND f.status = 'failed'),"
    " v.median_ns, v.p95_ns, v.p99_ns, v.vs_mimalloc_pct, v.page_faults,"
    " v.mmap_calls, v.munmap_calls, v.madvise_calls, v.mremap_calls,"
    " v.brk_calls, v.peak_rss_bytes, v.hit_rate"
    " FROM vs_mimalloc v WHERE ?1 IS NULL OR v.trace_id = ?1"
    " ORDER BY v.trace, v.trace_id, v.median_ns IS NULL, v.median_ns,"
    " v.backend, v.policy";

static const col_t fail_cols[] = {
    {"run", C_INT},     {"trace", C_TEXT},  {"backend", C_TEXT},
    {"policy", C_TEXT}, {"repeat", C_INT},  {"status", C_TEXT},
    {"error", C_TEXT},
};

int ana_report_tables(ana_db_t *adb, ana_format_t fmt, FILE *out, char *why,
                      size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  sqlite3_stmt *st = NULL, *tr = NULL;
  int n = (int)HK_ARRAY_LEN(std_cols);
  int rc = 0;
  if (sqlite3_prepare_v2(db, std_sql, -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  if (fmt == ANA_FMT_CSV) {
    header(out, fmt, std_cols, n, NULL);
    sqlite3_bind_null(st, 1);
    if (rows(st, out, fmt, std_cols, n, 0) < 0) rc = sql_fail(db, why, len);
    sqlite3_finalize(st);
    return rc;
  }
  /* One table per trace, the trace in the heading instead of a column. */
  if (sqlite3_prepare_v2(db,
                         "SELECT t.trace_id, t.name, t.ops, t.exe,"
                         " (SELECT COUNT(*) FROM runs r"
                         "   WHERE r.trace_id = t.trace_id)"
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
    char cap[512];
    snprintf(cap, sizeof cap, "%s (%s, %lld ops): ns per op, medians over repeats",
             name ? name : "?", exe ? exe : "?",
             (long long)sqlite3_column_int64(tr, 2));
    if (fmt == ANA_FMT_MD) {
      fputs(traces ? "\n### " : "### ", out);
      put_escaped(out, cap, fmt);
      fputs("\n\n", out);
    } else if (traces) {
      fputs("\n", out);
    }
    header(out, fmt, std_cols + 1, n - 1, cap);
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, sqlite3_column_int64(tr, 0));
    /* rows() prints columns 1.. of the query: the trace is the heading. */
    long k = rows(st, out, fmt, std_cols + 1, n - 1, 1);
    if (k < 0) rc = sql_fail(db, why, len);
    footer(out, fmt);
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
  }
  sqlite3_finalize(st);
  return rc;
}
