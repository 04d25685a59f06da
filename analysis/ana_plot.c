/* ana_plot.c: the plots of `hksim report --out DIR`, drawn by gnuplot run
 * as a child process: for each plot a data file (.dat) and a script (.gp)
 * are written into DIR, then `gnuplot NAME.gp` writes NAME.svg and
 * NAME.png. One run per (trace, back end, policy) is drawn: the first
 * done repeat. The scripts stay in DIR, so a figure can be restyled and
 * redrawn by hand. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis.h"

#define CDF_POINTS 2000

const char *ana_gnuplot_find(char *path, size_t len) {
  const char *env = getenv("HKSIM_GNUPLOT");
  const char *name = env && *env ? env : "gnuplot";
  if (strchr(name, '/')) {
    snprintf(path, len, "%s", name);
    return access(path, X_OK) == 0 ? path : NULL;
  }
  const char *p = getenv("PATH");
  if (!p || !*p) p = "/usr/bin:/bin";
  while (*p) {
    const char *c = strchr(p, ':');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    snprintf(path, len, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", name);
    if (access(path, X_OK) == 0) return path;
    p += n + (c != NULL);
  }
  snprintf(path, len, "%s (not in PATH)", name);
  return NULL;
}

typedef struct plotter {
  sqlite3 *db;
  const char *dir;
  const char *gnuplot;
  ana_plot_stats_t *st;
  char *why;
  size_t len;
} plotter_t;

static int sql_fail(plotter_t *p) {
  snprintf(p->why, p->len, "%s", sqlite3_errmsg(p->db));
  return HK_E_SQLITE;
}

/* A file-name-safe copy of s. */
static void safe(char *out, size_t len, const char *s) {
  size_t o = 0;
  for (; s && *s && o + 1 < len; s++)
    out[o++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                              (*s >= '0' && *s <= '9') || *s == '.' ||
                              *s == '-' || *s == '_'
                          ? *s
                          : '_');
  out[o] = 0;
}

/* A title safe inside gnuplot double quotes. */
static void quoted(char *out, size_t len, const char *s) {
  size_t o = 0;
  for (; s && *s && o + 1 < len; s++)
    out[o++] = *s == '"' || *s == '\\' ? '\'' : *s;
  out[o] = 0;
}

static FILE *open_in(plotter_t *p, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", p->dir, name);
  FILE *f = fopen(path, "w");
  if (!f) snprintf(p->why, p->len, "%s: %s", path, strerror(errno));
  return f;
}

/* Writes the script head: both outputs share one plot command (replot). */
static FILE *script(plotter_t *p, const char *name, const char *title,
                    const char *xlabel, const char *ylabel) {
  char file[512], t[512];
  snprintf(file, sizeof file, "%s.gp", name);
  FILE *f = open_in(p, file);
  if (!f) return NULL;
  quoted(t, sizeof t, title);
  fprintf(f,
          "# %s.gp: written by hksim report; `gnuplot %s.gp` redraws it.\n"
          "set terminal svg size 900,560 dynamic noenhanced font 'sans,11'\n"
          "set output '%s.svg'\n"
          "set title \"%s\"\nset xlabel \"%s\"\nset ylabel \"%s\"\n"
          "set grid\nset key outside right top\n",
          name, name, name, t, xlabel, ylabel);
  return f;
}

static void script_end(FILE *f, const char *name) {
  fprintf(f,
          "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
          "  set terminal pngcairo size 900,560 noenhanced font 'sans,10'\n"
          "} else {\n  set terminal png size 900,560 noenhanced\n}\n"
          "set output '%s.png'\nreplot\nset output\n",
          name);
}

/* Runs gnuplot NAME.gp in dir, its stderr appended to dir/gnuplot.log. */
static int draw(plotter_t *p, const char *name) {
  char gp[512], log[4096];
  snprintf(gp, sizeof gp, "%s.gp", name);
  snprintf(log, sizeof log, "%s/gnuplot.log", p->dir);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(p->why, p->len, "fork: %s", strerror(errno));
    return -errno;
  }
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int nul = open("/dev/null", O_RDWR);
    if (fd >= 0) dup2(fd, 2);
    if (nul >= 0) {
      dup2(nul, 0);
      dup2(nul, 1);
    }
    if (chdir(p->dir) != 0) _exit(126);
    execl(p->gnuplot, p->gnuplot, gp, (char *)NULL);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -errno;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    snprintf(p->why, p->len, "gnuplot failed on %s/%s (see %s)", p->dir, gp,
             log);
    return HK_E_CHILD;
  }
  p->st->plots++;
  return 0;
}

/* The runs drawn for a trace: the first done repeat of each configuration,
 * ordered by label. Columns: run_id, label. */
static const char runs_sql[] =
    "SELECT MIN(run_id), label FROM run_config WHERE trace_id = ?"
    " AND status = 'done' GROUP BY backend, policy ORDER BY label";

/* ---- latency CDF ------------------------------------------------------- */

static int cdf_run(plotter_t *p, int64_t run, FILE *dat, long *points) {
  sqlite3_stmt *st;
  int64_t n = 0;
  if (sqlite3_prepare_v2(p->db, "SELECT COUNT(*) FROM run_op WHERE run_id=?",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(p);
  sqlite3_bind_int64(st, 1, run);
  if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  *points = 0;
  if (!n) return 0;
  if (sqlite3_prepare_v2(p->db,
                         "SELECT latency_ns FROM run_op WHERE run_id=?"
                         " ORDER BY latency_ns",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(p);
  sqlite3_bind_int64(st, 1, run);
  int64_t step = n > CDF_POINTS ? n / CDF_POINTS : 1, i = 0;
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    i++;
    if (i % step == 0 || i == n || i == 1) {
      /* log scale: a 0 ns op is drawn at 0.5 ns. */
      double x = (double)sqlite3_column_int64(st, 0);
      fprintf(dat, "%.1f %.6f\n", x > 0 ? x : 0.5, (double)i / (double)n);
      (*points)++;
    }
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE) return sql_fail(p);
  fputs("\n\n", dat);
  return 0;
}

/* One line per configuration of a trace, each a block ("index") of one
 * data file. kind: what the blocks hold. */
typedef int (*block_fn)(plotter_t *p, int64_t run, FILE *dat, long *points);

static int multi_plot(plotter_t *p, int64_t trace, const char *tname,
                      const char *kind, const char *title, const char *xl,
                      const char *yl, const char *setup, const char *using,
                      block_fn fill) {
  char name[512], dat_name[600], t[256];
  snprintf(name, sizeof name, "%s-%s", kind, tname);
  snprintf(dat_name, sizeof dat_name, "%s.dat", name);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(p->db, runs_sql, -1, &st, NULL) != SQLITE_OK)
    return sql_fail(p);
  sqlite3_bind_int64(st, 1, trace);
  FILE *dat = open_in(p, dat_name);
  if (!dat) {
    sqlite3_finalize(st);
    return -EIO;
  }
  char plot[8192];
  size_t o = 0;
  int rc = 0, blocks = 0, s;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    long points = 0;
    int64_t run = sqlite3_column_int64(st, 0);
    fprintf(dat, "# run %lld %s\n", (long long)run,
            (const char *)sqlite3_column_text(st, 1));
    rc = fill(p, run, dat, &points);
    if (rc || !points) continue;
    quoted(t, sizeof t, (const char *)sqlite3_column_text(st, 1));
    if (o < sizeof plot)
      o += (size_t)snprintf(plot + o, sizeof plot - o,
                            "%s'%s' index %d using %s with %s title \"%s\"",
                            blocks ? ", \\\n     " : "plot ", dat_name,
                            blocks, using,
                            strcmp(kind, "cdf") == 0 ? "steps" : "lines", t);
    blocks++;
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(p);
  sqlite3_finalize(st);
  fclose(dat);
  if (rc) return rc;
  if (!blocks) {
    p->st->skipped++;
    return 0;
  }
  char full[512];
  snprintf(full, sizeof full, "%s: %s", title, tname);
  FILE *f = script(p, name, full, xl, yl);
  if (!f) return -EIO;
  fprintf(f, "%s%s\n", setup, plot);
  script_end(f, name);
  fclose(f);
  return draw(p, name);
}

/* ---- RSS and hit rate over the run -------------------------------------- */

static int rss_run(plotter_t *p, int64_t run, FILE *dat, long *points) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(p->db,
                         "SELECT op_seq, rss_bytes, live_bytes FROM"
                         " rss_timeline WHERE run_id=? ORDER BY op_seq",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(p);
  sqlite3_bind_int64(st, 1, run);
  int s;
  *points = 0;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    fprintf(dat, "%lld %.4f %.4f\n", (long long)sqlite3_column_int64(st, 0),
            (double)sqlite3_column_int64(st, 1) / 1048576.0,
            (double)sqlite3_column_int64(st, 2) / 1048576.0);
    (*points)++;
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE) return sql_fail(p);
  fputs("\n\n", dat);
  return 0;
}

static int hit_run(plotter_t *p, int64_t run, FILE *dat, long *points) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(p->db,
                         "SELECT op_seq, hit_rate, window_hit_rate FROM"
                         " hit_rate_timeline WHERE run_id=? AND hit_rate"
                         " IS NOT NULL ORDER BY op_seq",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(p);
  sqlite3_bind_int64(st, 1, run);
  int s;
  *points = 0;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    fprintf(dat, "%lld %.6f\n", (long long)sqlite3_column_int64(st, 0),
            sqlite3_column_double(st, 1) * 100.0);
    (*points)++;
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE) return sql_fail(p);
  fputs("\n\n", dat);
  return 0;
}

/* ---- ELO ratings over the run: one plot per run with ratings ---------- */

static int elo_plot(plotter_t *p, int64_t run, const char *tname,
                    const char *label) {
  char name[512], dat_name[600], lab[128];
  safe(lab, sizeof lab, label);
  snprintf(name, sizeof name, "elo-%s-%s-run%lld", tname, lab,
           (long long)run);
  snprintf(dat_name, sizeof dat_name, "%s.dat", name);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(p->db,
                         "SELECT e.arm, COALESCE(a.label, 'arm ' || e.arm)"
                         " FROM (SELECT DISTINCT arm FROM elo_ratings"
                         " WHERE run_id=?) e LEFT JOIN elo_arms a"
                         " USING (arm) ORDER BY e.arm",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(p);
  sqlite3_bind_int64(st, 1, run);
  FILE *dat = open_in(p, dat_name);
  if (!dat) {
    sqlite3_finalize(st);
    return -EIO;
  }
  char plot[8192];
  size_t o = 0;
  int blocks = 0, s, rc = 0;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(p->db,
                         "SELECT op_seq, rating FROM elo_ratings WHERE"
                         " run_id=? AND arm=? ORDER BY op_seq",
                         -1, &q, NULL) != SQLITE_OK)
    rc = sql_fail(p);
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    char t[128];
    quoted(t, sizeof t, (const char *)sqlite3_column_text(st, 1));
    fprintf(dat, "# arm %d %s\n", sqlite3_column_int(st, 0), t);
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, run);
    sqlite3_bind_int(q, 2, sqlite3_column_int(st, 0));
    int s2;
    while ((s2 = sqlite3_step(q)) == SQLITE_ROW)
      fprintf(dat, "%lld %.4f\n", (long long)sqlite3_column_int64(q, 0),
              sqlite3_column_double(q, 1));
    if (s2 != SQLITE_DONE) rc = sql_fail(p);
    fputs("\n\n", dat);
    if (o < sizeof plot)
      o += (size_t)snprintf(plot + o, sizeof plot - o,
                            "%s'%s' index %d using 1:2 with lines title \"%s\"",
                            blocks ? ", \\\n     " : "plot ", dat_name,
                            blocks, t);
    blocks++;
  }
  sqlite3_finalize(q);
  sqlite3_finalize(st);
  fclose(dat);
  if (rc) return rc;
  if (!blocks) {
    p->st->skipped++;
    return 0;
  }
  char title[512];
  snprintf(title, sizeof title, "ELO ratings over the run: %s, %s (run %lld)",
           tname, label, (long long)run);
  FILE *f = script(p, name, title, "op", "rating");
  if (!f) return -EIO;
  fprintf(f, "%s\n", plot);
  script_end(f, name);
  fclose(f);
  return draw(p, name);
}

static int make_dir(const char *dir, char *why, size_t len) {
  if (mkdir(dir, 0755) == 0 || errno == EEXIST) {
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
    snprintf(why, len, "%s: not a directory", dir);
    return -ENOTDIR;
  }
  int e = errno;
  snprintf(why, len, "%s: %s", dir, strerror(e));
  return -e;
}

int ana_plot_all(ana_db_t *adb, const char *dir, const char *gnuplot,
                 ana_plot_stats_t *st, char *why, size_t len) {
  ana_plot_stats_t local;
  if (!st) st = &local;
  memset(st, 0, sizeof *st);
  int rc = make_dir(dir, why, len);
  if (rc) return rc;
  plotter_t p = {ana_db_sqlite(adb), dir, gnuplot, st, why, len};
  char log[4096];
  snprintf(log, sizeof log, "%s/gnuplot.log", dir);
  unlink(log);
  sqlite3_stmt *tr;
  if (sqlite3_prepare_v2(p.db,
                         "SELECT t.trace_id, t.name, (SELECT COUNT(*) FROM"
                         " traces u WHERE u.name = t.name) FROM traces t"
                         " WHERE EXISTS (SELECT 1 FROM runs r WHERE"
                         " r.trace_id = t.trace_id AND r.status = 'done')"
                         " ORDER BY t.trace_id",
                         -1, &tr, NULL) != SQLITE_OK)
    return sql_fail(&p);
  int s;
  while (!rc && (s = sqlite3_step(tr)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(tr, 0);
    char tname[256], raw[300];
    /* Two traces of one name (different content): the id tells apart. */
    if (sqlite3_column_int(tr, 2) > 1)
      snprintf(raw, sizeof raw, "%s-%lld",
               (const char *)sqlite3_column_text(tr, 1), (long long)id);
    else
      snprintf(raw, sizeof raw, "%s", (const char *)sqlite3_column_text(tr, 1));
    safe(tname, sizeof tname, raw);
    rc = multi_plot(&p, id, tname, "cdf", "Latency CDF", "ns per op (log)",
                    "fraction of ops",
                    "set logscale x\nset yrange [0:1]\nset key bottom right "
                    "inside\n",
                    "1:2", cdf_run);
    if (!rc)
      rc = multi_plot(&p, id, tname, "rss", "RSS over the run", "op",
                      "RSS (MiB)", "", "1:2", rss_run);
    if (!rc)
      rc = multi_plot(&p, id, tname, "hitrate",
                      "BigCache hit rate over the run (cumulative)", "op",
                      "hit rate (%)", "set yrange [0:100]\n", "1:2", hit_run);
    if (rc) break;
    /* ELO: the first done repeat of each configuration with ratings. */
    sqlite3_stmt *er;
    if (sqlite3_prepare_v2(p.db,
                           "SELECT MIN(c.run_id), c.label FROM run_config c"
                           " WHERE c.trace_id = ? AND c.status = 'done' AND"
                           " EXISTS (SELECT 1 FROM policy_events e WHERE"
                           " e.run_id = c.run_id AND e.metric = 'rating')"
                           " GROUP BY c.backend, c.policy ORDER BY c.label",
                           -1, &er, NULL) != SQLITE_OK) {
      rc = sql_fail(&p);
      break;
    }
    sqlite3_bind_int64(er, 1, id);
    while (!rc && sqlite3_step(er) == SQLITE_ROW)
      rc = elo_plot(&p, sqlite3_column_int64(er, 0), tname,
                    (const char *)sqlite3_column_text(er, 1));
    sqlite3_finalize(er);
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(&p);
  sqlite3_finalize(tr);
  return rc;
}
