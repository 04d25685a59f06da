/* ana_plot.c: the plots of `hksim report --out DIR`, drawn by gnuplot run
 * as a child process: for each plot a data file (.dat) and a script (.gp)
 * are written into DIR, then `gnuplot NAME.gp` writes NAME.svg, NAME.png
 * and, where gnuplot has pdfcairo, NAME.pdf. One run per (trace, back end,
 * policy) is drawn, its first done repeat, except in the bar chart of
 * total ns/op, which draws every repeat. The scripts stay in DIR, so a
 * figure can be restyled and redrawn by hand. docs/analysis.md lists the
 * plots and what each shows. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ana_latstats.h"
#include "analysis.h"
#include "hk_progress.h"

/* A curve needs this many points: one or two show no shape (issue 12: a
 * hit-rate "curve" drawn from one snapshot). */
#define MIN_POINTS 3
/* Line styles: 8 colours, each with a dash pattern, so that up to 16
 * series never share a look (style k and k + 8 share a colour, never a
 * dash). Beyond 16 configurations the looks repeat. */
#define N_STYLES 16
/* CDF and CCDF points are thinned to one per 1/100 of a decade of x. */
#define BUCKETS_PER_DECADE 100.0
/* Op kinds are drawn in three groups (columns of the figures). */
#define N_GROUPS 3
static const char *const group_name[N_GROUPS] = {"alloc", "free", "realloc"};

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

/* A configuration drawn: its first done run and its look. */
typedef struct cfg {
  int64_t run;
  char label[128];
  char backend[128];
  char policy[64];
  int has_policy;
  int style;  /* 1..N_STYLES: gnuplot linetype */
  double res; /* timer resolution of the run, ns; 0 unknown */
} cfg_t;

typedef struct plotter {
  sqlite3 *db;
  const char *dir;
  const char *gnuplot;
  const ana_plot_opts_t *o;
  ana_plot_stats_t *st;
  char *why;
  size_t len;
  char (*labels)[128]; /* every label drawn, sorted: the style order */
  size_t n_labels;
  hk_progress_t pg;    /* "plotting": count_steps' steps, all traces */
  uint64_t steps;
} plotter_t;

static int sql_fail(plotter_t *p) {
  snprintf(p->why, p->len, "%s", sqlite3_errmsg(p->db));
  return HK_E_SQLITE;
}

static int prepare(plotter_t *p, const char *sql, sqlite3_stmt **st) {
  return sqlite3_prepare_v2(p->db, sql, -1, st, NULL) == SQLITE_OK
             ? 0
             : sql_fail(p);
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return s ? s : "";
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

/* "64 KiB" for 65536. */
static void bytes_text(char *out, size_t len, double b) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    u++;
  }
  snprintf(out, len, b == floor(b) ? "%.0f %s" : "%.1f %s", b, unit[u]);
}

static void note(plotter_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(plotter_t *p, const char *fmt, ...) {
  if (!p->o->notes) return;
  va_list ap;
  va_start(ap, fmt);
  /* the progress line, if drawn, is cleared: the next update redraws it */
  if (p->pg.on && p->o->notes == p->pg.f) fputs("\r\033[K", p->o->notes);
  fputs("hksim: plots: ", p->o->notes);
  vfprintf(p->o->notes, fmt, ap);
  fputc('\n', p->o->notes);
  va_end(ap);
}

/* A growing text buffer for plot commands. */
typedef struct buf {
  char *s;
  size_t n, cap;
} buf_t;

static void bprintf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bprintf(buf_t *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0,
                      fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (b->s && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = (b->cap + (size_t)k + 1) * 2;
    char *s = realloc(b->s, cap);
    if (!s) return; /* the script loses a line; gnuplot will say so */
    b->s = s;
    b->cap = cap;
  }
}

/* A curve of n points: kept (1), or left out (0): with 1 or 2 points its
 * name is added to drops, said once per plot (drops_said, skip_plot);
 * with none there is nothing to say. */
static int enough(plotter_t *p, buf_t *drops, const char *series, long n) {
  if (n >= MIN_POINTS) return 1;
  if (n > 0) {
    p->st->sparse++;
    bprintf(drops, "%s%s (%ld point%s)", drops->n ? ", " : "", series, n,
            n == 1 ? "" : "s");
  }
  return 0;
}

/* A plot drawn: the curves left out of it, in one line. */
static void drops_said(plotter_t *p, const char *plot, buf_t *drops) {
  if (drops->n)
    note(p, "%s: left out, fewer than %d points: %s", plot, MIN_POINTS,
         drops->s);
  free(drops->s);
  memset(drops, 0, sizeof *drops);
}

/* A plot with no curve left: counted, and said (one line) when there was
 * data. */
static void skip_plot(plotter_t *p, const char *plot, long most,
                      buf_t *drops) {
  p->st->skipped++;
  if (most > 0)
    note(p, "%s skipped: no curve has %d points or more (at most %ld)", plot,
         MIN_POINTS, most);
  free(drops->s);
  memset(drops, 0, sizeof *drops);
}

static FILE *open_in(plotter_t *p, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", p->dir, name);
  FILE *f = fopen(path, "w");
  if (!f) snprintf(p->why, p->len, "%s: %s", path, strerror(errno));
  return f;
}

/* Whether the plots draw this back end: named in opts, or, with no list,
 * any but null (it measures the harness, not an allocator). */
static int wanted(const plotter_t *p, const char *backend) {
  if (!p->o->n_backends) return strcmp(backend, "null") != 0;
  for (size_t i = 0; i < p->o->n_backends; i++)
    if (strcmp(p->o->backends[i], backend) == 0) return 1;
  return 0;
}

static int style_of(const plotter_t *p, const char *label) {
  for (size_t i = 0; i < p->n_labels; i++)
    if (strcmp(p->labels[i], label) == 0) return (int)(i % N_STYLES) + 1;
  return 1;
}

/* ---- scripts -------------------------------------------------------------- */

/* Okabe and Ito's colour-blind-safe palette, yellow replaced by a purple
 * that reads on white. */
static const char *const colours[8] = {"#0072B2", "#D55E00", "#009E73",
                                       "#CC79A7", "#E69F00", "#56B4E9",
                                       "#000000", "#7F3C8D"};
/* gnuplot dash types: 1 solid, 2 dashed, 4 dash-dot, 3 dotted. */
static const int dashes[4] = {1, 2, 4, 3};

/* Linetype 1..16 for the series, 17 for live bytes. */
static void styles(FILE *f) {
  fputs("# Series looks: 8 colours x dash patterns, unique up to 16 "
        "series.\n",
        f);
  for (int k = 0; k < N_STYLES; k++)
    fprintf(f, "set linetype %d lc rgb \"%s\" lw 2 dt %d pt %d\n", k + 1,
            colours[k % 8], dashes[(k + k / 8) % 4], k + 1);
  fputs("set linetype 17 lc rgb \"#888888\" lw 5 dt 1\n", f);
}

typedef struct fig {
  FILE *f;
  char name[512];
} fig_t;

/* Opens NAME.gp: styles, then a loop over the output formats whose body
 * (written by the caller, ended by fig_close) draws the figure once per
 * format. w x h: pixels of the SVG and PNG; the PDF is the same at 150
 * pixels an inch. */
static int fig_open(plotter_t *p, fig_t *g, const char *name, int w, int h) {
  char file[600];
  snprintf(g->name, sizeof g->name, "%s", name);
  snprintf(file, sizeof file, "%s.gp", name);
  g->f = open_in(p, file);
  if (!g->f) return -EIO;
  fprintf(g->f,
          "# %s.gp: written by hksim report; `gnuplot %s.gp` redraws\n"
          "# %s.svg, .png and (with pdfcairo) .pdf from %s.dat.\n",
          name, name, name, name);
  styles(g->f);
  fprintf(g->f,
          "hk_fmts = \"svg png\"\n"
          "if (strstrt(GPVAL_TERMINALS, \"pdfcairo\") > 0) "
          "{ hk_fmts = hk_fmts . \" pdf\" }\n"
          "do for [hk_fmt in hk_fmts] {\n"
          "if (hk_fmt eq \"svg\") {\n"
          "  set terminal svg size %d,%d dynamic noenhanced font "
          "\"sans,11\"\n}\n"
          "if (hk_fmt eq \"png\") {\n"
          "  if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
          "    set terminal pngcairo size %d,%d noenhanced font \"sans,10\"\n"
          "  } else {\n    set terminal png size %d,%d noenhanced\n  }\n}\n"
          "if (hk_fmt eq \"pdf\") {\n"
          "  set terminal pdfcairo size %.2fin,%.2fin noenhanced font "
          "\"sans,7\"\n}\n"
          "set output '%s.' . hk_fmt\n"
          "reset\nset grid\n",
          w, h, w, h, w, h, w / 150.0, h / 150.0, name);
  return 0;
}

/* Runs gnuplot NAME.gp in dir, its stderr appended to dir/gnuplot.log. */
static int draw(plotter_t *p, const char *name) {
  char gp[600], log[4096];
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
  char pdf[4096];
  struct stat sb;
  snprintf(pdf, sizeof pdf, "%s/%s.pdf", p->dir, name);
  if (stat(pdf, &sb) == 0 && sb.st_size > 0) p->st->pdf++;
  return 0;
}

static int fig_close(plotter_t *p, fig_t *g) {
  fputs("set output\n}\n", g->f);
  int bad = ferror(g->f);
  if (fclose(g->f) || bad) {
    snprintf(p->why, p->len, "%s/%s.gp: write error", p->dir, g->name);
    return -EIO;
  }
  return draw(p, g->name);
}

/* Appends one series to a plot command ("plot" first, then ", \"). */
static void series(buf_t *b, int *count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void series(buf_t *b, int *count, const char *fmt, ...) {
  char one[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(one, sizeof one, fmt, ap);
  va_end(ap);
  bprintf(b, "%s%s", *count ? ", \\\n     " : "plot ", one);
  (*count)++;
}

/* ---- configurations ------------------------------------------------------- */

/* Every label the plots draw, sorted, so that a configuration keeps its
 * look across traces and plots. */
static int load_labels(plotter_t *p) {
  sqlite3_stmt *st;
  int rc = prepare(p,
                   "SELECT DISTINCT label, backend FROM run_config WHERE"
                   " status = 'done' ORDER BY label",
                   &st);
  if (rc) return rc;
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (!wanted(p, col_text(st, 1))) continue;
    void *n = realloc(p->labels, (p->n_labels + 1) * sizeof *p->labels);
    if (!n) {
      sqlite3_finalize(st);
      return -ENOMEM;
    }
    p->labels = n;
    snprintf(p->labels[p->n_labels++], sizeof *p->labels, "%s",
             col_text(st, 0));
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE) return sql_fail(p);
  /* A back end named but never run: said once, not an error. */
  for (size_t i = 0; i < p->o->n_backends; i++) {
    if (sqlite3_prepare_v2(p->db,
                           "SELECT 1 FROM runs WHERE backend = ? AND"
                           " status = 'done' LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
      return sql_fail(p);
    sqlite3_bind_text(st, 1, p->o->backends[i], -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
      note(p, "back end '%s' has no done runs in this database",
           p->o->backends[i]);
    sqlite3_finalize(st);
  }
  return 0;
}

/* The configurations of a trace to draw (first done repeat of each),
 * ordered by label. *out is malloc'ed (NULL when none). */
static int load_cfgs(plotter_t *p, int64_t trace, cfg_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st;
  int rc = prepare(p,
                   "SELECT r.run_id, c.label, r.backend, r.policy,"
                   " r.timer_resolution_ns FROM runs r JOIN run_config c"
                   " USING (run_id) WHERE r.run_id IN (SELECT MIN(run_id)"
                   " FROM runs WHERE trace_id = ? AND status = 'done'"
                   " GROUP BY backend, policy) ORDER BY c.label",
                   &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, trace);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (!wanted(p, col_text(st, 2))) continue;
    cfg_t *nc = realloc(*out, (*n + 1) * sizeof *nc);
    if (!nc) {
      sqlite3_finalize(st);
      return -ENOMEM;
    }
    *out = nc;
    cfg_t *c = &nc[(*n)++];
    memset(c, 0, sizeof *c);
    c->run = sqlite3_column_int64(st, 0);
    snprintf(c->label, sizeof c->label, "%s", col_text(st, 1));
    snprintf(c->backend, sizeof c->backend, "%s", col_text(st, 2));
    c->has_policy = sqlite3_column_type(st, 3) != SQLITE_NULL;
    snprintf(c->policy, sizeof c->policy, "%s", col_text(st, 3));
    c->res = sqlite3_column_double(st, 4);
    c->style = style_of(p, c->label);
  }
  sqlite3_finalize(st);
  return s == SQLITE_DONE ? 0 : sql_fail(p);
}

/* The steps of the progress line, over all traces: a configuration's
 * ops read (load_cfgs' runs), then the plots trace_plots draws or skips
 * (cdf, ccdf and sizes after the reads, bars, rss, hitrate; arms and elo
 * per learning configuration). */
static int count_steps(plotter_t *p, uint64_t *n) {
  sqlite3_stmt *st;
  *n = 0;
  int rc = prepare(p,
                   "SELECT trace_id, backend, policy IS NOT NULL FROM runs"
                   " WHERE run_id IN (SELECT MIN(run_id) FROM runs WHERE"
                   " status = 'done' GROUP BY trace_id, backend, policy)"
                   " ORDER BY trace_id",
                   &st);
  if (rc) return rc;
  int s;
  int64_t trace = -1;
  uint64_t cfgs = 0;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (sqlite3_column_int64(st, 0) != trace) {
      *n += trace < 0 ? 0 : cfgs ? 6 : 1;
      trace = sqlite3_column_int64(st, 0);
      cfgs = 0;
    }
    if (!wanted(p, col_text(st, 1))) continue;
    cfgs++;
    *n += 1 + 2 * (uint64_t)sqlite3_column_int(st, 2);
  }
  *n += trace < 0 ? 0 : cfgs ? 6 : 1;
  sqlite3_finalize(st);
  return s == SQLITE_DONE ? 0 : sql_fail(p);
}

static void step(plotter_t *p, uint64_t k) {
  p->steps += k;
  hk_progress_update(&p->pg, p->steps);
}

/* ---- per-op latency: CDF, CCDF and size classes --------------------------- */

/* A run's timed ops of one group: (size class << 40 | latency ns), and
 * the latencies alone. */
typedef struct lat {
  uint64_t *v;
  size_t n, cap;
} lat_t;

static int lat_push(lat_t *l, uint64_t v) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4096;
    uint64_t *nv = realloc(l->v, cap * sizeof *nv);
    if (!nv) return -ENOMEM;
    l->v = nv;
    l->cap = cap;
  }
  l->v[l->n++] = v;
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}


static int group_of(const char *kind) {
  if (strcmp(kind, "free") == 0) return 1;
  if (strcmp(kind, "realloc") == 0 || strcmp(kind, "reallocarray") == 0)
    return 2;
  return 0;
}

/* Reads a run's timed ops into by_class[group] (class << 40 | latency),
 * sorted. */
static int read_ops(plotter_t *p, int64_t run, lat_t by_class[N_GROUPS]) {
  sqlite3_stmt *st;
  int rc = prepare(p,
                   "SELECT kind, size, latency_ns FROM op_latency WHERE"
                   " run_id = ?",
                   &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    int g = group_of(col_text(st, 0));
    sqlite3_int64 size = sqlite3_column_int64(st, 1);
    sqlite3_int64 ns = sqlite3_column_int64(st, 2);
    if (ns < 0) ns = 0;
    uint64_t v = ((uint64_t)ana_size_class(size > 0 ? (uint64_t)size : 0)
                  << ANA_LAT_BITS) |
                 ((uint64_t)ns > ANA_LAT_MASK ? ANA_LAT_MASK : (uint64_t)ns);
    if ((rc = lat_push(&by_class[g], v))) break;
  }
  sqlite3_finalize(st);
  if (rc) return rc;
  if (s != SQLITE_DONE) return sql_fail(p);
  for (int g = 0; g < N_GROUPS; g++)
    if (by_class[g].n)
      qsort(by_class[g].v, by_class[g].n, sizeof *by_class[g].v, cmp_u64);
  return 0;
}

/* Nearest-rank quantile of sorted latencies (views.sql's definition). */
static uint64_t quantile(const uint64_t *v, size_t n, double q) {
  return v[ana_nearest_rank(n, q)] & ANA_LAT_MASK;
}

/* What one CDF/CCDF curve held, for the script. */
typedef struct curve {
  int block;    /* index in the .dat, -1: not drawn */
  double zero;  /* share of ops read as 0 ns */
  double xlo;   /* where 0 ns readings are drawn */
  double p999;  /* nearest-rank p99.9 */
  double xmax;  /* largest latency */
  size_t n;
} curve_t;

static int bucket(double x) {
  return (int)floor(log10(x) * BUCKETS_PER_DECADE);
}

/* Writes one CDF block (x, P(X <= x)) and one CCDF block (x, P(X >= x))
 * of sorted latencies v[0..n). A 0 ns reading is below the timer's
 * resolution: it is drawn at x = the resolution (else the smallest
 * positive reading, else 1 ns), where each curve then starts at the share
 * of such readings; the scripts say so. Points are thinned to the last
 * (CDF) or first (CCDF) distinct value of each 1/100 decade of x. */
static void write_dist(const uint64_t *v, size_t n, double res, FILE *cdf,
                       FILE *ccdf, curve_t *c) {
  size_t zeros = 0;
  while (zeros < n && v[zeros] == 0) zeros++;
  double xlo = res > 0 ? res : (zeros < n ? (double)v[zeros] : 1.0);
  if (zeros < n && (double)v[zeros] < xlo) xlo = (double)v[zeros];
  c->zero = (double)zeros / (double)n;
  c->xlo = xlo;
  c->p999 = (double)quantile(v, n, 0.999);
  if (c->p999 < xlo) c->p999 = xlo;
  c->xmax = (double)v[n - 1] > xlo ? (double)v[n - 1] : xlo;
  c->n = n;
  int last_b = 0, have = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && v[j] == v[i]) j++; /* [i, j): one distinct value */
    double x = v[i] ? (double)v[i] : xlo;
    int b = bucket(x);
    /* CCDF: the first value of a bucket, the largest value, and the
     * least positive one (where the 0 ns readings stop counting). */
    if (!have || b != last_b || j == n || (i > 0 && v[i - 1] == 0))
      fprintf(ccdf, "%.6g %.9g\n", x, (double)(n - i) / (double)n);
    /* CDF: the last value of a bucket; and the 0 ns readings always,
     * even where the least positive reading shares their x bucket:
     * their share is where the curve starts. */
    if (j == n || v[i] == 0 || bucket((double)v[j]) != b)
      fprintf(cdf, "%.6g %.9g\n", x, (double)j / (double)n);
    have = 1;
    last_b = b;
    i = j;
  }
  fputs("\n\n", cdf);
  fputs("\n\n", ccdf);
}

/* Per class of one group (sorted by class, then latency): a block of
 * (class upper bound in bytes, p50, p99, ops) for classes > 0. Returns
 * the number of points. */
static long write_classes(const uint64_t *v, size_t n, FILE *dat,
                          unsigned *lo, unsigned *hi) {
  long points = 0;
  for (size_t i = 0; i < n;) {
    unsigned k = (unsigned)(v[i] >> ANA_LAT_BITS);
    size_t j = i;
    while (j < n && (v[j] >> ANA_LAT_BITS) == k) j++;
    if (k > 0) {
      if (!*lo || k < *lo) *lo = k;
      if (k > *hi) *hi = k;
      fprintf(dat, "%.0f %llu %llu %zu\n", ldexp(1.0, (int)k),
              (unsigned long long)quantile(v + i, j - i, 0.50),
              (unsigned long long)quantile(v + i, j - i, 0.99), j - i);
      points++;
    }
    i = j;
  }
  fputs("\n\n", dat);
  return points;
}

/* The latency figures of one trace: cdf-T (CDF by op kind), ccdf-T (its
 * tail, log-log), sizes-T (p50 and p99 by size class). Each run's ops are
 * read once for all three. */
static int latency_plots(plotter_t *p, const char *tname, const cfg_t *cfg,
                         size_t n_cfg) {
  char cdf_name[512], ccdf_name[512], size_name[512], file[600];
  snprintf(cdf_name, sizeof cdf_name, "cdf-%s", tname);
  snprintf(ccdf_name, sizeof ccdf_name, "ccdf-%s", tname);
  snprintf(size_name, sizeof size_name, "sizes-%s", tname);
  FILE *dat[3] = {NULL, NULL, NULL};
  const char *names[3] = {cdf_name, ccdf_name, size_name};
  int rc = 0;
  for (int k = 0; k < 3 && !rc; k++) {
    snprintf(file, sizeof file, "%s.dat", names[k]);
    if (!(dat[k] = open_in(p, file))) rc = -EIO;
  }
  curve_t *cv = calloc(n_cfg * N_GROUPS + 1, sizeof *cv);
  int *sz_block = calloc(n_cfg * N_GROUPS + 1, sizeof *sz_block);
  if (!rc && (!cv || !sz_block)) rc = -ENOMEM;
  buf_t drops = {0}, sz_drops = {0};
  int blocks = 0, sz_blocks = 0, free_sizes = 0, frees = 0;
  unsigned cls_lo = 0, cls_hi = 0;
  long most = 0, sz_most = 0;
  double res_lo = 0, res_hi = 0;
  for (size_t c = 0; c < n_cfg && !rc; c++) {
    lat_t ops[N_GROUPS];
    memset(ops, 0, sizeof ops);
    rc = read_ops(p, cfg[c].run, ops);
    step(p, 1);
    for (int g = 0; g < N_GROUPS && !rc; g++) {
      curve_t *u = &cv[c * N_GROUPS + g];
      u->block = -1;
      sz_block[c * N_GROUPS + g] = -1;
      if (!ops[g].n) continue;
      char what[256];
      snprintf(what, sizeof what, "%s %s", cfg[c].label, group_name[g]);
      if ((long)ops[g].n > most) most = (long)ops[g].n;
      /* sizes first: the latencies alone are then sorted in place */
      if (g == 1) {
        frees = 1;
        free_sizes |= (ops[g].v[ops[g].n - 1] >> ANA_LAT_BITS) != 0;
      }
      /* sorted by class: any class > 0 sorts last (a gnuplot index
       * counts only blocks with data, so none is written empty) */
      if (ops[g].v[ops[g].n - 1] >> ANA_LAT_BITS) {
        fprintf(dat[2], "# %s %s run %lld: size_class_bytes p50_ns p99_ns ops\n",
                group_name[g], cfg[c].label, (long long)cfg[c].run);
        long pts = write_classes(ops[g].v, ops[g].n, dat[2], &cls_lo, &cls_hi);
        if (pts > sz_most) sz_most = pts;
        if (enough(p, &sz_drops, what, pts))
          sz_block[c * N_GROUPS + g] = sz_blocks;
        sz_blocks++;
      }
      for (size_t i = 0; i < ops[g].n; i++) ops[g].v[i] &= ANA_LAT_MASK;
      qsort(ops[g].v, ops[g].n, sizeof *ops[g].v, cmp_u64);
      if (!enough(p, &drops, what, (long)ops[g].n)) continue;
      fprintf(dat[0], "# %s %s run %lld\n", group_name[g], cfg[c].label,
              (long long)cfg[c].run);
      fprintf(dat[1], "# %s %s run %lld\n", group_name[g], cfg[c].label,
              (long long)cfg[c].run);
      write_dist(ops[g].v, ops[g].n, cfg[c].res, dat[0], dat[1], u);
      u->block = blocks++;
      if (cfg[c].res > 0 && (res_lo == 0 || cfg[c].res < res_lo))
        res_lo = cfg[c].res;
      if (cfg[c].res > res_hi) res_hi = cfg[c].res;
    }
    for (int g = 0; g < N_GROUPS; g++) free(ops[g].v);
  }
  for (int k = 0; k < 3; k++)
    if (dat[k] && fclose(dat[k]) && !rc) rc = -EIO;
  if (rc) goto out;

  /* The panels: op-kind groups with at least one curve. */
  int panel[N_GROUPS], np = 0;
  double xlo = 0, xhi = 0, xmax = 0, zeros = 0;
  for (int g = 0; g < N_GROUPS; g++) {
    panel[g] = 0;
    for (size_t c = 0; c < n_cfg; c++) {
      const curve_t *u = &cv[c * N_GROUPS + g];
      if (u->block < 0) continue;
      panel[g] = 1;
      if (xlo == 0 || u->xlo < xlo) xlo = u->xlo;
      if (u->p999 > xhi) xhi = u->p999;
      if (u->xmax > xmax) xmax = u->xmax;
      if (u->zero > zeros) zeros = u->zero;
    }
    np += panel[g];
  }
  if (!np) {
    skip_plot(p, cdf_name, most, &drops);
    p->st->skipped++; /* and its CCDF */
  } else {
    if (xhi <= xlo) xhi = xlo * 10;
    if (xmax <= xlo) xmax = xlo * 10;
    /* x starts a little left of the resolution, marked by a dotted line,
     * so that the height where each curve starts stays visible. */
    double res_x = res_lo > 0 ? res_lo : xlo;
    char res_text[2][200] = {"", ""};
    if (zeros > 0) {
      snprintf(res_text[0], sizeof res_text[0],
               "\\n0 ns readings (below the timer's resolution%s%.1f ns) are "
               "drawn at it (or at a lower least reading): a curve starts at "
               "their share",
               res_lo > 0 ? ", " : ": none stored; ", res_x);
      snprintf(res_text[1], sizeof res_text[1],
               "\\n0 ns readings (below the timer's resolution%s%.1f ns) "
               "count at it (or at a lower least reading)",
               res_lo > 0 ? ", " : ": none stored; ", res_x);
    }
    for (int k = 0; k < 2 && !rc; k++) {
      fig_t f;
      int w = np > 1 ? 520 * np : 900;
      if ((rc = fig_open(p, &f, k ? ccdf_name : cdf_name, w, 560))) break;
      if (k)
        fprintf(f.f,
                "set multiplot layout 1,%d title \"Latency CCDF, log-log, to "
                "the largest op: %s%s\"\n",
                np, tname, res_text[1]);
      else
        fprintf(f.f,
                "set multiplot layout 1,%d title \"Latency CDF by op kind: "
                "%s (x ends at the largest p99.9; the tail is in ccdf-%s)%s\"\n",
                np, tname, tname, res_text[0]);
      fprintf(f.f,
              "set arrow 1 from %.6g, graph 0 to %.6g, graph 1 nohead dt 3 "
              "lc rgb \"#666666\" lw 1\n"
              "set label 1 \"timer resolution\" at %.6g, graph 0.5 rotate "
              "by 90 center offset -0.8,0 font \",8\" tc rgb \"#666666\"\n",
              res_x, res_x, res_x);
      if (k) {
        fprintf(f.f,
                "set logscale xy\nset xrange [%.6g:%.6g]\n"
                "set ylabel \"fraction of ops >= x\"\n"
                "set format y \"%%g\"\nset key top right\n",
                xlo / 1.6, xmax);
      } else {
        fprintf(f.f,
                "set logscale x\nset xrange [%.6g:%.6g]\nset yrange [0:1]\n"
                "set ylabel \"fraction of ops <= x\"\nset key bottom right\n",
                xlo / 1.6, xhi);
      }
      for (int g = 0; g < N_GROUPS; g++) {
        if (!panel[g]) continue;
        buf_t b = {0};
        int ns = 0;
        for (size_t c = 0; c < n_cfg; c++) {
          const curve_t *u = &cv[c * N_GROUPS + g];
          if (u->block < 0) continue;
          char t[256], ti[300];
          quoted(t, sizeof t, cfg[c].label);
          if (u->zero > 0)
            snprintf(ti, sizeof ti, "%s (0 ns: %.1f%%)", t, u->zero * 100);
          else
            snprintf(ti, sizeof ti, "%s", t);
          series(&b, &ns, "'%s.dat' index %d using 1:2 with %s lt %d "
                          "title \"%s\"",
                 k ? ccdf_name : cdf_name, u->block, k ? "fsteps" : "steps",
                 cfg[c].style, ti);
        }
        fprintf(f.f, "set title \"%s\"\nset xlabel \"ns per op (log)\"\n%s\n",
                group_name[g], b.s ? b.s : "");
        free(b.s);
      }
      fputs("unset multiplot\n", f.f);
      rc = fig_close(p, &f);
    }
  }
  if (rc) goto out;

  /* Size classes: p50 (top) and p99 (bottom) by class, a column per group
   * with curves; frees only where the database carries their sizes. */
  int scol[N_GROUPS], nsc = 0;
  for (int g = 0; g < N_GROUPS; g++) {
    scol[g] = 0;
    for (size_t c = 0; c < n_cfg; c++)
      if (sz_block[c * N_GROUPS + g] >= 0) scol[g] = 1;
    nsc += scol[g];
  }
  if (!nsc) {
    skip_plot(p, size_name, sz_most, &sz_drops);
    goto out;
  }
  {
    fig_t f;
    if ((rc = fig_open(p, &f, size_name, nsc > 1 ? 450 * nsc + 150 : 900,
                       760)))
      goto out;
    double floor_ns = res_lo > 0 ? res_lo : 1.0;
    fprintf(f.f,
            "set multiplot layout 2,%d title \"Latency by size class: %s "
            "(first run of each configuration)%s\" margins 0.08,%.2f,0.08,0.88"
            " spacing 0.07,0.12\n"
            "set logscale x 2\nset logscale y 10\nset mxtics 4\n"
            "set xrange [%.0f:%.0f]\nset xlabel \"size class (upper bound)\"\n",
            nsc, tname,
            frees && !free_sizes
                ? "\\nfrees carry no size in this database: allocs only"
                : "",
            nsc > 1 ? 0.80 : 0.75, ldexp(1.0, (int)cls_lo) / 1.3,
            ldexp(1.0, (int)cls_hi) * 1.3);
    /* a tic every 4 classes (x16), named in binary units */
    fputs("set xtics (", f.f);
    for (unsigned k = cls_lo & ~3u, first = 1; k <= cls_hi + 3; k += 4) {
      char t[32];
      bytes_text(t, sizeof t, ldexp(1.0, (int)k));
      fprintf(f.f, "%s\"%s\" %.0f", first ? "" : ", ", t, ldexp(1.0, (int)k));
      first = 0;
    }
    fputs(")\n", f.f);
    if (res_hi > 0)
      fprintf(f.f,
              "set object 1 rect from graph 0, first %.6g to graph 1, first "
              "%.6g fc rgb \"#e8e8e8\" fs solid noborder behind\n"
              "set label 1 \"< 3 x timer resolution: bounds\" at graph 0.02,"
              " first %.6g left font \",8\"\n",
              floor_ns, 3 * res_hi, floor_ns * 1.3);
    int key = 1, first_col = 0;
    while (!scol[first_col]) first_col++;
    for (int row = 0; row < 2 && !rc; row++) {
      for (int g = 0; g < N_GROUPS; g++) {
        if (!scol[g]) continue;
        buf_t b = {0};
        int ns = 0;
        for (size_t c = 0; c < n_cfg; c++) {
          int blk = sz_block[c * N_GROUPS + g];
          if (blk < 0) continue;
          char t[256];
          quoted(t, sizeof t, cfg[c].label);
          /* a reading below the floor (0 ns) is drawn at the floor */
          series(&b, &ns, "'%s.dat' index %d using 1:(($%d) < %.6g ? %.6g :"
                          " $%d) with linespoints lt %d title \"%s\"",
                 size_name, blk, row + 2, floor_ns, floor_ns, row + 2,
                 cfg[c].style, t);
        }
        /* one key for all panels, right of them */
        fputs(key ? "set key at screen 0.995,0.86 right top\n" : "unset key\n",
              f.f);
        key = 0;
        /* the y label on the first column only: the columns are close */

        fprintf(f.f,
                "set title \"%s, %s\"\nset yrange [%.6g:*]\n"
                "%s%s ns per op (log)\"\n%s\n",
                group_name[g], row ? "p99" : "p50 (median)", floor_ns,
                g == first_col ? "set ylabel \"" : "unset ylabel  # \"", row ? "p99" : "p50",
                b.s ? b.s : "");
        free(b.s);
      }
    }
    fputs("unset multiplot\n", f.f);
    rc = fig_close(p, &f);
  }
out:
  drops_said(p, cdf_name, &drops);
  drops_said(p, size_name, &sz_drops);
  free(cv);
  free(sz_block);
  return rc;
}

/* ---- total ns/op per configuration, with its CI -------------------------- */

static int bars_plot(plotter_t *p, int64_t trace, const char *tname) {
  char name[512], file[600];
  snprintf(name, sizeof name, "bars-%s", tname);
  snprintf(file, sizeof file, "%s.dat", name);
  sqlite3_stmt *st, *rep;
  int rc = prepare(p,
                   /* a trace timed in several --per-op modes: a bar
                    * per mode, named by it (config_summary.per_op) */
                   "SELECT CASE WHEN COUNT(*) OVER (PARTITION BY backend,"
                   " policy) > 1 THEN label || ' (' || per_op || ')' ELSE"
                   " label END, backend, policy, runs, ops,"
                   " total_ns_mean / NULLIF(ops, 0), ns_per_op_ci_lo,"
                   " ns_per_op_ci_hi, per_op FROM config_summary WHERE"
                   " trace_id = ? AND ops > 0 AND total_ns_mean IS NOT NULL"
                   " ORDER BY total_ns_mean / ops, label",
                   &st);
  if (rc) return rc;
  if ((rc = prepare(p,
                    "SELECT CAST(total_ns AS REAL) / ops FROM runs WHERE"
                    " trace_id = ? AND backend = ? AND policy IS ? AND"
                    " per_op IS ? AND status = 'done' AND ops > 0 AND"
                    " total_ns IS NOT NULL ORDER BY repeat, run_id",
                    &rep))) {
    sqlite3_finalize(st);
    return rc;
  }
  sqlite3_bind_int64(st, 1, trace);
  FILE *dat = open_in(p, file);
  if (!dat) rc = -EIO;
  buf_t b = {0};
  int ns = 0, s = SQLITE_DONE;
  long bars = 0;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    if (!wanted(p, col_text(st, 1))) continue;
    char t[256], lab[300];
    quoted(t, sizeof t, col_text(st, 0));
    int runs = sqlite3_column_int(st, 3);
    double mean = sqlite3_column_double(st, 5);
    int has_ci = sqlite3_column_type(st, 6) != SQLITE_NULL;
    double lo = has_ci ? sqlite3_column_double(st, 6) : mean;
    double hi = has_ci ? sqlite3_column_double(st, 7) : mean;
    snprintf(lab, sizeof lab, "%s\\n%d run%s%s", t, runs, runs == 1 ? "" : "s",
             has_ci ? "" : ", no CI");
    /* block 2k: the bar; block 2k + 1: each repeat */
    fprintf(dat, "# %s: x mean ci_lo ci_hi\n%ld %.6g %.6g %.6g\n\n\n", t, bars,
            mean, lo, hi);
    fprintf(dat, "# %s: x ns_per_op of each repeat\n", t);
    sqlite3_reset(rep);
    sqlite3_bind_int64(rep, 1, trace);
    sqlite3_bind_text(rep, 2, col_text(st, 1), -1, SQLITE_TRANSIENT);
    if (sqlite3_column_type(st, 2) == SQLITE_NULL)
      sqlite3_bind_null(rep, 3);
    else
      sqlite3_bind_text(rep, 3, col_text(st, 2), -1, SQLITE_TRANSIENT);
    if (sqlite3_column_type(st, 8) == SQLITE_NULL)
      sqlite3_bind_null(rep, 4);
    else
      sqlite3_bind_text(rep, 4, col_text(st, 8), -1, SQLITE_TRANSIENT);
    int r, k = 0;
    while ((r = sqlite3_step(rep)) == SQLITE_ROW) {
      /* spread the dots across the bar so that equal values stay seen */
      fprintf(dat, "%.3f %.6g\n", (double)bars + 0.2 * ((k % 5) - 2) / 2.0,
              sqlite3_column_double(rep, 0));
      k++;
    }
    if (r != SQLITE_DONE) rc = sql_fail(p);
    fputs("\n\n", dat);
    int style = style_of(p, col_text(st, 0));
    series(&b, &ns,
           "'%s' index %ld using 1:2:3:4:(0.35):xtic(\"%s\") with "
           "boxerrorbars lt %d fs %s title \"%s\"",
           file, 2 * bars, lab, style,
           style > 8 ? "pattern 4 border" : "solid 0.45 border", t);
    series(&b, &ns,
           "'%s' index %ld using 1:2 with points pt 7 ps 0.6 lc rgb "
           "\"#000000\" notitle",
           file, 2 * bars + 1);
    bars++;
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(p);
  sqlite3_finalize(st);
  sqlite3_finalize(rep);
  if (dat && fclose(dat) && !rc) rc = -EIO;
  if (!rc && bars < MIN_POINTS) {
    p->st->skipped++;
    if (bars) {
      p->st->sparse++;
      note(p, "%s skipped: %ld configuration%s, fewer than %d bars", name,
           bars, bars == 1 ? "" : "s", MIN_POINTS);
    }
  } else if (!rc) {
    fig_t f;
    if (!(rc = fig_open(p, &f, name, bars > 6 ? 110 * (int)bars + 200 : 900,
                        560))) {
      fprintf(f.f,
              "set title \"Total ns per op: %s\\nbars: mean over repeats, "
              "95%% t-CI of the mean; dots: each repeat\"\n"
              "set ylabel \"ns per op (replay loop time / ops)\"\n"
              "set yrange [0:*]\nset xrange [-0.6:%ld.6]\nset boxwidth 0.7\n"
              "set grid noxtics\nset xtics scale 0\nset bmargin 5\n"
              "unset key\n%s\n",
              tname, bars - 1, b.s ? b.s : "");
      rc = fig_close(p, &f);
    }
  }
  free(b.s);
  return rc;
}

/* ---- over the run: RSS and live bytes, BigCache hit rate ------------------ */

/* Writes one timeline row of st (op first) to dat. */
typedef void (*timeline_row_fn)(FILE *dat, sqlite3_stmt *st);

/* The data of a timeline plot over the configurations, named
 * "KIND-TNAME" (name), in NAME.dat (file): sql (the run bound as ?) gives
 * each run's rows, written by row as a block under "# LABEL run N: COLS";
 * a run with no rows has no block. A run with enough points gets a series
 * "using 1:2" in b (ns of them). *first: the block of the first series, -1
 * when none; *most: the most points of a run. */
static int timeline_data(plotter_t *p, const char *kind, const char *tname,
                         char name[512], char file[600], const char *sql,
                         const char *cols, timeline_row_fn row,
                         const cfg_t *cfg, size_t n_cfg, buf_t *b, int *ns,
                         buf_t *drops, long *most, int *first) {
  snprintf(name, 512, "%s-%s", kind, tname);
  snprintf(file, 600, "%s.dat", name);
  sqlite3_stmt *st;
  *first = -1;
  *most = 0;
  int rc = prepare(p, sql, &st);
  if (rc) return rc;
  FILE *dat = open_in(p, file);
  if (!dat) rc = -EIO;
  int blocks = 0;
  for (size_t c = 0; c < n_cfg && !rc; c++) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, cfg[c].run);
    long n = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
      if (!n)
        fprintf(dat, "# %s run %lld: %s\n", cfg[c].label,
                (long long)cfg[c].run, cols);
      row(dat, st);
      n++;
    }
    if (s != SQLITE_DONE) rc = sql_fail(p);
    if (!n) continue; /* a block only where there is data */
    fputs("\n\n", dat);
    if (n > *most) *most = n;
    if (!rc && enough(p, drops, cfg[c].label, n)) {
      char t[256];
      quoted(t, sizeof t, cfg[c].label);
      if (*first < 0) *first = blocks;
      series(b, ns, "'%s' index %d using 1:2 with lines lt %d title \"%s\"",
             file, blocks, cfg[c].style, t);
    }
    blocks++;
  }
  sqlite3_finalize(st);
  if (dat && fclose(dat) && !rc) rc = -EIO;
  return rc;
}

static void rss_row(FILE *dat, sqlite3_stmt *st) {
  fprintf(dat, "%lld %.4f %.4f\n", (long long)sqlite3_column_int64(st, 0),
          (double)sqlite3_column_int64(st, 1) / 1048576.0,
          (double)sqlite3_column_int64(st, 2) / 1048576.0);
}

static int rss_plot(plotter_t *p, const char *tname, const cfg_t *cfg,
                    size_t n_cfg) {
  char name[512], file[600];
  buf_t b = {0};
  buf_t drops = {0};
  int ns = 0, live_block;
  long most;
  /* net of the harness: base_rss_bytes is the child's RSS before the
   * first op (the mapped program faulted in), as peak_rss_bytes */
  int rc = timeline_data(p, "rss", tname, name, file,
                         "SELECT x.op_seq, MAX(x.rss_bytes - COALESCE("
                         "r.base_rss_bytes, 0), 0), x.live_bytes FROM "
                         "rss_timeline x JOIN runs r USING (run_id) WHERE "
                         "x.run_id = ? ORDER BY x.op_seq",
                         "op net_rss_MiB live_MiB", rss_row, cfg, n_cfg, &b,
                         &ns, &drops, &most, &live_block);
  if (!rc && live_block < 0) {
    skip_plot(p, name, most, &drops);
  } else if (!rc) {
    fig_t f;
    if (!(rc = fig_open(p, &f, name, 900, 560))) {
      /* live bytes are the trace's, the same for every back end: drawn
       * once, behind, from the first run */
      fprintf(f.f,
              "set title \"RSS over the run, net of the harness: %s\"\n"
              "set xlabel \"op\"\nset ylabel \"MiB\"\n"
              "set key outside right top\nset yrange [0:*]\n"
              "plot '%s' index %d using 1:3 with lines lt 17 title \"live "
              "bytes (the trace's)\", \\\n     %s\n",
              tname, file, live_block, b.s ? b.s + 5 : "");
      rc = fig_close(p, &f);
    }
  }
  drops_said(p, name, &drops);
  free(b.s);
  return rc;
}

static void hitrate_row(FILE *dat, sqlite3_stmt *st) {
  fprintf(dat, "%lld %.6f\n", (long long)sqlite3_column_int64(st, 0),
          sqlite3_column_double(st, 1) * 100.0);
}

static int hitrate_plot(plotter_t *p, const char *tname, const cfg_t *cfg,
                        size_t n_cfg) {
  char name[512], file[600];
  buf_t b = {0};
  buf_t drops = {0};
  int ns = 0, first;
  long most;
  /* runs of back ends without a BigCache have no rows, so no block */
  int rc = timeline_data(p, "hitrate", tname, name, file,
                         "SELECT op_seq, hit_rate FROM hit_rate_timeline "
                         "WHERE run_id = ? AND hit_rate IS NOT NULL ORDER BY "
                         "op_seq",
                         "op hit_rate_pct", hitrate_row, cfg, n_cfg, &b, &ns,
                         &drops, &most, &first);
  if (!rc && !ns) {
    skip_plot(p, name, most, &drops);
  } else if (!rc) {
    fig_t f;
    if (!(rc = fig_open(p, &f, name, 900, 560))) {
      fprintf(f.f,
              "set title \"BigCache hit rate over the run (cumulative): %s\"\n"
              "set xlabel \"op\"\nset ylabel \"hit rate (%%)\"\n"
              "set yrange [0:100]\nset key outside right top\n%s\n",
              tname, b.s);
      rc = fig_close(p, &f);
    }
  }
  drops_said(p, name, &drops);
  free(b.s);
  return rc;
}

/* ---- learning policies: arm shares and ELO ratings, one plot per run ---- */

/* The start of a per-run plot: its name "KIND-T-LABEL-runN" and data file
 * NAME.dat, and its two statements: arms (a row per arm of the run, the
 * run bound) and points (one arm's points: the run bound, the arm bound
 * per row as ?2). Both finalized on failure. */
static int run_plot_open(plotter_t *p, const char *kind, const char *tname,
                         const cfg_t *c, char *name, size_t name_len,
                         char *file, size_t file_len, const char *arms_sql,
                         sqlite3_stmt **arms, const char *points_sql,
                         sqlite3_stmt **points) {
  char lab[160];
  safe(lab, sizeof lab, c->label);
  snprintf(name, name_len, "%s-%s-%s-run%lld", kind, tname, lab,
           (long long)c->run);
  snprintf(file, file_len, "%s.dat", name);
  int rc = prepare(p, arms_sql, arms);
  if (rc) return rc;
  sqlite3_bind_int64(*arms, 1, c->run);
  if ((rc = prepare(p, points_sql, points))) {
    sqlite3_finalize(*arms);
    return rc;
  }
  sqlite3_bind_int64(*points, 1, c->run);
  return 0;
}

/* The arms of a run in policy_arm_shares, their snapshots as one block
 * each: op, share of the decisions since the previous snapshot, of the
 * sites that adopted the arm. */
static int arms_plot(plotter_t *p, const char *tname, const cfg_t *c) {
  char name[600], file[700];
  sqlite3_stmt *arms, *q;
  int rc = run_plot_open(
      p, "arms", tname, c, name, sizeof name, file, sizeof file,
      "SELECT arm, MAX(threshold_bytes), COUNT(*),"
      " MAX(sites_adopted IS NOT NULL) FROM policy_arm_shares"
      " WHERE run_id = ? GROUP BY arm ORDER BY arm",
      &arms,
      "SELECT op_seq, window_share, site_share FROM policy_arm_shares"
      " WHERE run_id = ?1 AND arm = ?2 ORDER BY op_seq",
      &q);
  if (rc) return rc;
  FILE *dat = NULL;
  buf_t top = {0}, bottom = {0};
  buf_t drops = {0};
  int nt = 0, nb = 0, blocks = 0, s = SQLITE_DONE, sites = 0, any = 0;
  long most = 0;
  while (!rc && (s = sqlite3_step(arms)) == SQLITE_ROW) {
    if (!dat && !(dat = open_in(p, file))) {
      rc = -EIO;
      break;
    }
    any = 1;
    int arm = sqlite3_column_int(arms, 0);
    char t[128], th[64];
    if (sqlite3_column_type(arms, 1) != SQLITE_NULL) {
      bytes_text(th, sizeof th, sqlite3_column_double(arms, 1));
      snprintf(t, sizeof t, "arm %d (%s)", arm, th);
    } else {
      snprintf(t, sizeof t, "arm %d", arm);
    }
    long n = sqlite3_column_int(arms, 2);
    int has_sites = sqlite3_column_int(arms, 3);
    fprintf(dat, "# %s: op window_share site_share\n", t);
    sqlite3_reset(q);
    sqlite3_bind_int(q, 2, arm);
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
      /* NaN: no decision in that window, or no site yet (a gap) */
      char w[32] = "NaN", si[32] = "NaN";
      if (sqlite3_column_type(q, 1) != SQLITE_NULL)
        snprintf(w, sizeof w, "%.6f", sqlite3_column_double(q, 1));
      if (sqlite3_column_type(q, 2) != SQLITE_NULL)
        snprintf(si, sizeof si, "%.6f", sqlite3_column_double(q, 2));
      fprintf(dat, "%lld %s %s\n", (long long)sqlite3_column_int64(q, 0), w,
              si);
    }
    if (r != SQLITE_DONE) rc = sql_fail(p);
    fputs("\n\n", dat);
    if (n > most) most = n;
    if (!rc && enough(p, &drops, t, n)) {
      int lt = arm % N_STYLES + 1;
      series(&top, &nt,
             "'%s' index %d using 1:2 with lines lt %d title \"%s\"", file,
             blocks, lt, t);
      if (has_sites) {
        sites = 1;
        series(&bottom, &nb,
               "'%s' index %d using 1:3 with lines lt %d title \"%s\"", file,
               blocks, lt, t);
      }
    }
    blocks++;
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(p);
  sqlite3_finalize(arms);
  sqlite3_finalize(q);
  if (dat && fclose(dat) && !rc) rc = -EIO;
  if (!rc && any && !nt) {
    skip_plot(p, name, most, &drops);
  } else if (!rc && nt) {
    fig_t f;
    if (!(rc = fig_open(p, &f, name, 900, sites ? 760 : 560))) {
      fprintf(f.f,
              "set multiplot layout %d,1 title \"Arm shares over the run: "
              "%s, %s (run %lld)\"\n"
              "set xlabel \"op\"\nset yrange [0:1]\n"
              "set key outside right top\n"
              "set title \"share of the decisions since the previous "
              "snapshot\"\nset ylabel \"share\"\n%s\n",
              sites ? 2 : 1, tname, c->label, (long long)c->run, top.s);
      if (sites)
        fprintf(f.f,
                "set title \"share of the call sites that adopted the arm\"\n"
                "%s\n",
                bottom.s);
      fputs("unset multiplot\n", f.f);
      rc = fig_close(p, &f);
    }
  }
  drops_said(p, name, &drops);
  free(top.s);
  free(bottom.s);
  return rc;
}

static int elo_plot(plotter_t *p, const char *tname, const cfg_t *c) {
  char name[600], file[700];
  sqlite3_stmt *st, *q;
  int rc = run_plot_open(
      p, "elo", tname, c, name, sizeof name, file, sizeof file,
      "SELECT e.arm, COALESCE(a.label, 'arm ' || e.arm), e.n FROM (SELECT"
      " arm, COUNT(*) AS n FROM elo_ratings WHERE run_id = ? GROUP BY arm) e"
      " LEFT JOIN elo_arms a USING (arm) ORDER BY e.arm",
      &st,
      "SELECT op_seq, rating FROM elo_ratings WHERE run_id = ?1 AND arm = ?2"
      " ORDER BY op_seq",
      &q);
  if (rc) return rc;
  FILE *dat = NULL;
  buf_t b = {0};
  buf_t drops = {0};
  int ns = 0, blocks = 0, s = SQLITE_DONE, any = 0;
  long most = 0;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    if (!dat && !(dat = open_in(p, file))) {
      rc = -EIO;
      break;
    }
    any = 1;
    char t[128];
    quoted(t, sizeof t, col_text(st, 1));
    int arm = sqlite3_column_int(st, 0);
    long n = sqlite3_column_int(st, 2);
    fprintf(dat, "# arm %d %s\n", arm, t);
    sqlite3_reset(q);
    sqlite3_bind_int(q, 2, arm);
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW)
      fprintf(dat, "%lld %.4f\n", (long long)sqlite3_column_int64(q, 0),
              sqlite3_column_double(q, 1));
    if (r != SQLITE_DONE) rc = sql_fail(p);
    fputs("\n\n", dat);
    if (n > most) most = n;
    if (!rc && enough(p, &drops, t, n))
      series(&b, &ns, "'%s' index %d using 1:2 with lines lt %d title \"%s\"",
             file, blocks, arm % N_STYLES + 1, t);
    blocks++;
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(p);
  sqlite3_finalize(q);
  sqlite3_finalize(st);
  if (dat && fclose(dat) && !rc) rc = -EIO;
  if (!rc && any && !ns) {
    skip_plot(p, name, most, &drops);
  } else if (!rc && ns) {
    fig_t f;
    if (!(rc = fig_open(p, &f, name, 900, 560))) {
      fprintf(f.f,
              "set title \"ELO ratings over the run: %s, %s (run %lld)\"\n"
              "set xlabel \"op\"\nset ylabel \"rating\"\n"
              "set key outside right top\n%s\n",
              tname, c->label, (long long)c->run, b.s);
      rc = fig_close(p, &f);
    }
  }
  drops_said(p, name, &drops);
  free(b.s);
  return rc;
}

/* ---- all of it ------------------------------------------------------------ */

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

static int trace_plots(plotter_t *p, int64_t id, const char *tname) {
  cfg_t *cfg;
  size_t n;
  int rc = load_cfgs(p, id, &cfg, &n);
  if (rc) return rc;
  if (n && !(rc = latency_plots(p, tname, cfg, n))) step(p, 3);
  if (!rc && !(rc = bars_plot(p, id, tname))) step(p, 1);
  if (!rc && n && !(rc = rss_plot(p, tname, cfg, n))) step(p, 1);
  if (!rc && n && !(rc = hitrate_plot(p, tname, cfg, n))) step(p, 1);
  for (size_t c = 0; c < n && !rc; c++) {
    if (!cfg[c].has_policy) continue;
    if (!(rc = arms_plot(p, tname, &cfg[c]))) step(p, 1);
    if (!rc && !(rc = elo_plot(p, tname, &cfg[c]))) step(p, 1);
  }
  free(cfg);
  return rc;
}

int ana_plot_all(ana_db_t *adb, const char *dir, const char *gnuplot,
                 const ana_plot_opts_t *opts, ana_plot_stats_t *st,
                 char *why, size_t len) {
  ana_plot_stats_t local;
  ana_plot_opts_t defaults;
  memset(&defaults, 0, sizeof defaults);
  if (!st) st = &local;
  if (!opts) opts = &defaults;
  memset(st, 0, sizeof *st);
  int rc = make_dir(dir, why, len);
  if (rc) return rc;
  plotter_t p = {ana_db_sqlite(adb), dir, gnuplot, opts, st, why, len,
                 NULL, 0, {0}, 0};
  char log[4096];
  snprintf(log, sizeof log, "%s/gnuplot.log", dir);
  unlink(log);
  uint64_t total = 0;
  if ((rc = load_labels(&p)) || (rc = count_steps(&p, &total))) {
    free(p.labels);
    return rc;
  }
  hk_progress_begin(&p.pg, opts->progress, dir, "plotting", "steps", total);
  sqlite3_stmt *tr;
  if ((rc = prepare(&p,
                    "SELECT t.trace_id, t.name, (SELECT COUNT(*) FROM"
                    " traces u WHERE u.name = t.name) FROM traces t"
                    " WHERE EXISTS (SELECT 1 FROM runs r WHERE"
                    " r.trace_id = t.trace_id AND r.status = 'done')"
                    " ORDER BY t.trace_id",
                    &tr))) {
    free(p.labels);
    return rc;
  }
  int s;
  while (!rc && (s = sqlite3_step(tr)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(tr, 0);
    char tname[256], raw[300];
    /* Two traces of one name (different content): the id tells apart. */
    if (sqlite3_column_int(tr, 2) > 1)
      snprintf(raw, sizeof raw, "%s-%lld", col_text(tr, 1), (long long)id);
    else
      snprintf(raw, sizeof raw, "%s", col_text(tr, 1));
    safe(tname, sizeof tname, raw);
    rc = trace_plots(&p, id, tname);
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(&p);
  sqlite3_finalize(tr);
  free(p.labels);
  if (!rc)
    hk_progress_end(&p.pg, p.steps);
  else if (p.pg.on) /* the error line that follows starts clean */
    fputs("\r\033[K", p.pg.f);
  return rc;
}
