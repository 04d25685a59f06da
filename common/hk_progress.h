/* hk_progress.h: the one progress line of long steps (prepare, store,
 * symbolize, report, merge): its phase, a count, and an ETA from the rate
 * so far, on stderr, rewritten in place at most HK_PROGRESS_HZ times a
 * second. Shown when stderr is a terminal, or when asked (--progress);
 * never otherwise, so logs and pipes stay clean. */
#ifndef HK_PROGRESS_H
#define HK_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#define HK_PROGRESS_HZ 4 /* redraws a second, at most */

typedef struct hk_progress {
  int on;            /* 0: every call is a no-op */
  FILE *f;           /* stderr */
  char what[48];     /* the item: a trace's name, a database */
  const char *phase; /* "preparing", "storing", ... (static string) */
  const char *unit;  /* "ops", "traces", "sections" (static string) */
  uint64_t total;    /* expected count; 0: unknown (no percent, no ETA) */
  uint64_t t0, last; /* hk_now_ns at begin and at the last redraw */
  uint64_t done;
} hk_progress_t;

/* Whether to show progress: want 1 always, 0 never, -1 when stderr is a
 * terminal. */
int hk_progress_wanted(int want);

/* Starts a phase; nothing is drawn before the first update (a phase that
 * ends within 1/HK_PROGRESS_HZ s shows only its end line). what may be
 * NULL; phase and unit must outlive p. */
void hk_progress_begin(hk_progress_t *p, int on, const char *what,
                       const char *phase, const char *unit, uint64_t total);
/* done so far: redraws "what: phase done/total unit (P%), R unit/s, ETA
 * m:ss" when 1/HK_PROGRESS_HZ s passed since the last redraw. Cheap enough
 * to call every few thousand items. */
void hk_progress_update(hk_progress_t *p, uint64_t done);
/* Draws the line now, whatever the time since the last redraw: for a
 * phase whose work cannot report its count as it goes, so that its line
 * says what is being done until the end line replaces it. */
void hk_progress_show(hk_progress_t *p, uint64_t done);
/* Ends the phase with a final line kept on screen: "what: phase N unit in
 * T s (R unit/s)". */
void hk_progress_end(hk_progress_t *p, uint64_t done);

/* The text of the line update draws, for tests (no escape codes). */
void hk_progress_text(const hk_progress_t *p, uint64_t done, uint64_t now_ns,
                      char *buf, size_t len);

#endif
