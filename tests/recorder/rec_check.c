/* rec_check.c: test helper of the recorder's integration tests. Reads one
 * trace with the trace reader, prints key=value lines (status, events,
 * counts by op, threads, sites, modules, bytes per event, counts by op at
 * named address ranges) and checks expectations. Exit 0 when every
 * expectation holds, 1 otherwise (each failure printed), 2 on usage.
 *   rec_check TRACE [--ranges FILE] [--prepare] [--expect KEY=N]...
 *                   [--expect-ge KEY=N]... [--module SUBSTR]...
 * KEY: status, events, threads, sites, modules, allocs (every allocating
 * call incl. realloc), OP (malloc, ...), NAME:OP (events whose site's
 * frames[0] lies in the range NAME of the ranges file), unmatched_frees,
 * failed, max_depth. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trc.h"

#define MAXR 64
typedef struct range {
  char name[64];
  uint64_t lo, hi;
  uint64_t counts[TRC_OP_COUNT];
} range_t;

static range_t ranges[MAXR];
static int nranges;

typedef struct kv {
  char key[96];
  uint64_t v;
} kv_t;
static kv_t vals[512];
static int nvals;

static void put(const char *k, uint64_t v) {
  if (nvals == 512 || strlen(k) >= sizeof vals[0].key) return;
  memcpy(vals[nvals].key, k, strlen(k) + 1);
  vals[nvals++].v = v;
  printf("%s=%" PRIu64 "\n", k, v);
}
static int get(const char *k, uint64_t *v) {
  for (int i = 0; i < nvals; i++)
    if (strcmp(vals[i].key, k) == 0) {
      *v = vals[i].v;
      return 0;
    }
  return -1;
}

static int load_ranges(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "rec_check: %s: cannot open\n", path);
    return -1;
  }
  char name[64];
  unsigned long long lo, hi;
  while (nranges < MAXR && fscanf(f, "%63s %llx %llx", name, &lo, &hi) == 3) {
    snprintf(ranges[nranges].name, sizeof ranges[nranges].name, "%s", name);
    ranges[nranges].lo = lo;
    ranges[nranges].hi = hi;
    nranges++;
  }
  fclose(f);
  return 0;
}

/* site id -> frame 0 */
static uint64_t *site0;
static size_t nsite0;

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rec_check TRACE [--ranges F] [--prepare] "
                    "[--expect K=N] [--expect-ge K=N] [--module S]\n");
    return 2;
  }
  const char *path = argv[1];
  int do_prepare = 0, dump = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--ranges") == 0 && i + 1 < argc) {
      if (load_ranges(argv[++i])) return 1;
    } else if (strcmp(argv[i], "--prepare") == 0) {
      do_prepare = 1;
    } else if (strcmp(argv[i], "--dump") == 0) {
      dump = 1;
    }
  }
  trc_scan_t s;
  int rc = trc_scan(path, &s);
  if (rc) {
    fprintf(stderr, "rec_check: %s: %s\n", path, hk_strerror(rc));
    return 1;
  }
  if (s.status) printf("problem=%s\n", s.problem);
  put("status", s.status ? 1 : 0);
  put("events", s.events);
  uint64_t allocs = 0;
  for (unsigned op = 1; op < TRC_OP_COUNT; op++) {
    put(trc_op_name(op), s.counts[op]);
    if (op != TRC_OP_FREE) allocs += s.counts[op];
  }
  put("allocs", allocs);
  put("failed", s.failed);
  put("threads", s.threads);
  put("sites", s.sites);
  put("modules", s.modules);
  put("max_depth", s.max_depth);
  put("file_bytes", s.file_bytes);
  put("summary", (uint64_t)s.have_summary);
  put("reopened", s.have_summary ? s.summary.reopened : 0);
  put("dropped", s.have_summary ? s.summary.dropped : 0);
  put("end_signal", s.have_summary ? s.summary.end_signal : 0);
  put("hook_ns", s.have_summary ? s.summary.hook_ns : 0);
  put("hook_samples", s.have_summary ? s.summary.hook_samples : 0);
  put("wait_ns", s.have_summary ? s.summary.wait_ns : 0);
  put("writer_ns", s.have_summary ? s.summary.writer_ns : 0);
  put("chunks_fast", s.have_summary ? s.summary.chunks_fast : 0);
  put("events_fast", s.have_summary ? s.summary.events_fast : 0);
  put("chunks_stored", s.have_summary ? s.summary.chunks_stored : 0);
  put("events_stored", s.have_summary ? s.summary.events_stored : 0);
  printf("bytes_per_event=%.3f\n",
         s.events ? (double)s.file_bytes / (double)s.events : 0.0);

  /* Second pass: sites, modules and per-range counts. */
  trc_reader_t *r;
  char modules_seen[8192] = "";
  if ((rc = trc_reader_open(&r, path)) == 0) {
    trc_chunk_t c;
    while (trc_reader_next(r, &c) == 1) {
      if (c.kind == TRC_CHUNK_SITES) {
        for (size_t i = 0; i < c.n; i++) {
          uint32_t id = c.sites[i].id;
          if (id >= nsite0) {
            size_t nn = nsite0 ? nsite0 : 1024;
            while (nn <= id) nn *= 2;
            site0 = realloc(site0, nn * sizeof *site0);
            memset(site0 + nsite0, 0, (nn - nsite0) * sizeof *site0);
            nsite0 = nn;
          }
          site0[id] = c.sites[i].depth ? c.sites[i].frames[0] : 0;
          if (dump)
            printf("site %u depth %u f0=%" PRIx64 "\n", id, c.sites[i].depth,
                   site0[id]);
        }
      } else if (c.kind == TRC_CHUNK_MODULES) {
        for (size_t i = 0; i < c.n; i++) {
          size_t l = strlen(modules_seen);
          snprintf(modules_seen + l, sizeof modules_seen - l, "%s\n",
                   c.modules[i].path ? c.modules[i].path : "");
          if (dump)
            printf("module %u %s %" PRIx64 "-%" PRIx64 " unload=%" PRIu64 "\n",
                   c.modules[i].id, c.modules[i].path, c.modules[i].lo,
                   c.modules[i].hi, c.modules[i].unload_time);
        }
      } else if (c.kind == TRC_CHUNK_EVENTS) {
        for (size_t i = 0; i < c.n; i++) {
          const trc_event_t *e = &c.events[i];
          if (dump)
            printf("ev t=%" PRIu64 " th=%u %s ptr=%" PRIx64 " old=%" PRIx64
                   " size=%" PRIu64 " site=%u\n",
                   e->time, e->thread, trc_op_name(e->op), e->ptr, e->old_ptr,
                   e->size, e->site);
          uint64_t f0 = e->site < nsite0 ? site0[e->site] : 0;
          for (int k = 0; k < nranges; k++)
            if (f0 >= ranges[k].lo && f0 < ranges[k].hi)
              ranges[k].counts[e->op]++;
        }
      }
    }
    trc_reader_free(r);
  }
  for (int k = 0; k < nranges; k++)
    for (unsigned op = 1; op < TRC_OP_COUNT; op++) {
      char key[160];
      snprintf(key, sizeof key, "%.63s:%.20s", ranges[k].name,
               trc_op_name(op));
      if (ranges[k].counts[op]) put(key, ranges[k].counts[op]);
    }
  if (do_prepare) {
    trc_prep_stats_t st;
    trc_prepare_opts_t o = {0};
    rc = trc_prepare(path, &o, &st);
    if (rc) {
      fprintf(stderr, "rec_check: prepare: %s\n", hk_strerror(rc));
      return 1;
    }
    put("unmatched_frees", st.unmatched_frees);
    put("double_allocs", st.double_allocs);
    put("order_fixups", st.order_fixups);
    put("order_unresolved", st.order_unresolved);
    put("live_at_exit", st.live_at_exit);
  }

  int bad = 0;
  for (int i = 2; i < argc; i++) {
    int ge = strcmp(argv[i], "--expect-ge") == 0;
    if ((strcmp(argv[i], "--expect") == 0 || ge) && i + 1 < argc) {
      char key[96];
      const char *eq = strchr(argv[++i], '=');
      if (!eq || (size_t)(eq - argv[i]) >= sizeof key) return 2;
      memcpy(key, argv[i], (size_t)(eq - argv[i]));
      key[eq - argv[i]] = 0;
      uint64_t want = strtoull(eq + 1, NULL, 0), got = 0;
      get(key, &got); /* absent: 0 */
      if (ge ? got < want : got != want) {
        printf("FAIL %s: want %s%" PRIu64 ", got %" PRIu64 "\n", key,
               ge ? ">=" : "", want, got);
        bad = 1;
      }
    } else if (strcmp(argv[i], "--module") == 0 && i + 1 < argc) {
      if (!strstr(modules_seen, argv[++i])) {
        printf("FAIL module %s not in the module table\n", argv[i]);
        bad = 1;
      }
    }
  }
  free(site0);
  return bad;
}
