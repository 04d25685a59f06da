/* trace_fixture.h: helpers shared by the traces tests (and the replayer's,
 * as "traces/trace_fixture.h"): a temporary directory, a writer of
 * hand-made event lists, and what of a mapped file is resident.
 * Header-only, test use. */
#ifndef TRACE_FIXTURE_H
#define TRACE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trc.h"

typedef struct fixture {
  char dir[64];
  char path[128];
} fixture_t;

static inline int fixture_setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (!f) return -1;
  strcpy(f->dir, "/tmp/hksim-test-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof f->path, "%s/t.hkt", f->dir);
  *state = f;
  return 0;
}

static inline int fixture_teardown(void **state) {
  fixture_t *f = *state;
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  if (system(cmd) != 0) return -1;
  free(f);
  return 0;
}

/* Writes events (each thread's in time order) with sites 1..nsites, whose
 * immediate callers are 0x1000 * (1 + id % ncallers). Threads 0..nth-1 are
 * declared. Events are handed to the writer in the given order, so a test
 * can put a later thread's chunk first in the file. */
static inline int write_events_hf(const char *path, const trc_event_t *ev,
                                  size_t n, uint32_t nsites, uint32_t ncallers,
                                  uint32_t nth, int flush_each, uint32_t clock,
                                  uint64_t tick_hz, uint32_t hflags) {
  trc_header_t h;
  memset(&h, 0, sizeof h);
  h.flags = hflags;
  h.clock = clock;
  h.tick_hz = tick_hz;
  h.exe = "fixture";
  h.depth = 2;
  trc_writer_t *w;
  int rc = trc_writer_create(&w, path, &h, NULL);
  if (rc) return rc;
  for (uint32_t id = 1; id <= nsites && !rc; id++) {
    uint64_t fr[2] = {0x1000ull * (1 + id % (ncallers ? ncallers : 1)), 0x9000 + id};
    rc = trc_writer_add_site(w, id, fr, 2);
  }
  for (uint32_t t = 0; t < nth && !rc; t++) {
    trc_thread_t th = {.index = t, .tid = 100 + t, .name = "t"};
    rc = trc_writer_add_thread(w, &th);
  }
  for (size_t i = 0; i < n && !rc; i++) {
    rc = trc_writer_events(w, ev[i].thread, &ev[i], 1);
    if (!rc && flush_each) rc = trc_writer_flush(w);
  }
  int frc = trc_writer_finish(w, n ? ev[n - 1].time : 0, 0);
  trc_writer_free(w);
  return rc ? rc : frc;
}

/* Same, with no header flags. */
static inline int write_events_hz(const char *path, const trc_event_t *ev,
                                  size_t n, uint32_t nsites, uint32_t ncallers,
                                  uint32_t nth, int flush_each, uint32_t clock,
                                  uint64_t tick_hz) {
  return write_events_hf(path, ev, n, nsites, ncallers, nth, flush_each, clock,
                         tick_hz, 0);
}

/* write_events on the generator's clock (one tick per ns). */
static inline int write_events(const char *path, const trc_event_t *ev, size_t n,
                               uint32_t nsites, uint32_t ncallers, uint32_t nth,
                               int flush_each) {
  return write_events_hz(path, ev, n, nsites, ncallers, nth, flush_each,
                         TRC_CLOCK_VIRTUAL, 1000000000ull);
}

/* Resident file-backed memory of this process (RssFile of
 * /proc/self/status), in KiB; -1 when it cannot be read. Tests of mapped
 * traces and programs check what stays resident with it. */
static inline long rss_file_kib(void) {
  FILE *fp = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (fp && fgets(line, sizeof line, fp))
    if (sscanf(line, "RssFile: %ld kB", &v) == 1) break;
  if (fp) fclose(fp);
  return v;
}

#endif
