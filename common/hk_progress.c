/* hk_progress.c: the shared progress line (hk_progress.h). */
#include "hk_progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hk_clock.h"

int hk_progress_wanted(int want) {
  return want < 0 ? isatty(STDERR_FILENO) : want != 0;
}

void hk_progress_begin(hk_progress_t *p, int on, const char *what,
                       const char *phase, const char *unit, uint64_t total) {
  memset(p, 0, sizeof *p);
  p->on = on;
  p->f = stderr;
  if (what) {
    const char *base = strrchr(what, '/');
    snprintf(p->what, sizeof p->what, "%s", base && base[1] ? base + 1 : what);
  }
  p->phase = phase;
  p->unit = unit;
  p->total = total;
  p->t0 = p->last = hk_now_ns();
}

/* "12,345" style is not used: counts are machine-readable as printed. */
void hk_progress_text(const hk_progress_t *p, uint64_t done, uint64_t now_ns,
                      char *buf, size_t len) {
  double s = (double)(now_ns - p->t0) / 1e9;
  double rate = s > 0 ? (double)done / s : 0;
  size_t n = (size_t)snprintf(buf, len, "%s%s%s %llu", p->what,
                              p->what[0] ? ": " : "", p->phase,
                              (unsigned long long)done);
  if (n >= len) return;
  if (p->total)
    n += (size_t)snprintf(buf + n, len - n, "/%llu %s (%.0f%%)",
                          (unsigned long long)p->total, p->unit,
                          100.0 * (double)(done < p->total ? done : p->total) /
                              (double)p->total);
  else
    n += (size_t)snprintf(buf + n, len - n, " %s", p->unit);
  if (n >= len || rate <= 0) return;
  n += (size_t)snprintf(buf + n, len - n, ", %.3g %s/s", rate, p->unit);
  if (n >= len || !p->total || done >= p->total) return;
  /* ETA from the rate so far: steady phases (a pass over ops) are what
   * this is used for. */
  double left = (double)(p->total - done) / rate;
  snprintf(buf + n, len - n, ", ETA %d:%02d", (int)(left / 60),
           (int)left % 60);
}

static void draw(hk_progress_t *p, uint64_t done, uint64_t now) {
  p->last = now;
  char line[200];
  hk_progress_text(p, done, now, line, sizeof line);
  fprintf(p->f, "\r\033[K%s", line);
  fflush(p->f);
}

void hk_progress_update(hk_progress_t *p, uint64_t done) {
  if (!p || !p->on) return;
  p->done = done;
  uint64_t now = hk_now_ns();
  if (now - p->last < 1000000000ull / HK_PROGRESS_HZ) return;
  draw(p, done, now);
}

void hk_progress_show(hk_progress_t *p, uint64_t done) {
  if (!p || !p->on) return;
  p->done = done;
  draw(p, done, hk_now_ns());
}

void hk_progress_end(hk_progress_t *p, uint64_t done) {
  if (!p || !p->on) return;
  double s = (double)(hk_now_ns() - p->t0) / 1e9;
  fprintf(p->f, "\r\033[K%s%s%s %llu %s in %.2f s", p->what,
          p->what[0] ? ": " : "", p->phase, (unsigned long long)done, p->unit,
          s);
  if (s > 0 && done) fprintf(p->f, " (%.3g %s/s)", (double)done / s, p->unit);
  fputc('\n', p->f);
  fflush(p->f);
}
