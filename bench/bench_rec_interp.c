/* bench_rec_interp.c: how far the times of sparse stamps are from the
 * true ones on a real recording (issue 15). TRACE must be recorded with
 * every event stamped (HKREC_TS_EVERY=1); for each N given, the events
 * the recorder would not have stamped at HKREC_TS_EVERY=N are estimated
 * and interpolated by the reader (rec_sparse_eval), and the table prints
 * the median, 99th percentile and largest absolute error in ns and how
 * often two neighbours in true time order from different threads come
 * out in the other order (or tied). Not a test.
 *   bench_rec_interp TRACE [N...]   (default N: 4 16 64; block 4096) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recorder.h"

typedef struct {
  trc_event_t e;
  uint64_t seq;
} item_t;

static int cmp_item(const void *a, const void *b) {
  const item_t *x = a, *y = b;
  if (x->e.time != y->e.time) return x->e.time < y->e.time ? -1 : 1;
  if (x->e.thread != y->e.thread) return x->e.thread < y->e.thread ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_rec_interp TRACE [N...]\n");
    return 2;
  }
  const char *path = argv[1];
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  if (rc) {
    char why[200];
    fprintf(stderr, "bench_rec_interp: %s: %s\n", path,
            trc_open_error(path, rc, why, sizeof why));
    return 1;
  }
  uint64_t hz = trc_reader_header(r)->tick_hz;
  size_t n = 0, cap = 1 << 20;
  item_t *v = malloc(cap * sizeof *v);
  trc_chunk_t c;
  while (v && (rc = trc_reader_next(r, &c)) > 0) {
    if (c.kind != TRC_CHUNK_EVENTS) continue;
    for (size_t i = 0; i < c.n; i++) {
      if (c.events[i].flags & TRC_EV_EST) {
        fprintf(stderr, "bench_rec_interp: %s: not every event stamped "
                        "(record it with HKREC_TS_EVERY=1)\n", path);
        return 1;
      }
      if (n == cap && !(v = realloc(v, (cap *= 2) * sizeof *v))) break;
      v[n].e = c.events[i];
      v[n].e.thread = c.thread;
      v[n].seq = n;
      n++;
    }
  }
  trc_reader_free(r);
  if (!v || rc < 0 || !n) {
    fprintf(stderr, "bench_rec_interp: %s: %s\n", path,
            !v ? "out of memory" : rc < 0 ? "damaged trace" : "no events");
    return 1;
  }
  qsort(v, n, sizeof *v, cmp_item); /* true time order, each thread's kept */
  trc_event_t *ev = malloc(n * sizeof *ev);
  if (!ev) return 1;
  for (size_t i = 0; i < n; i++) ev[i] = v[i].e;
  free(v);
  static const char *defs[] = {"4", "16", "64"};
  const char **ns = argc > 2 ? (const char **)argv + 2 : defs;
  int nn = argc > 2 ? argc - 2 : 3;
  char tmp[] = "/tmp/bench_rec_interp.XXXXXX";
  int fd = mkstemp(tmp);
  if (fd < 0) return 1;
  close(fd);
  printf("%s: %zu events\n", path, n);
  printf("%6s %8s %10s %10s %10s %12s %9s %9s %10s %11s\n", "N", "threads",
         "estimated", "median_ns", "p99_ns", "max_ns", "inverted", "tied",
         "xfrees", "xf_before");
  for (int i = 0; i < nn; i++) {
    rec_sparse_stats_t st;
    int every = atoi(ns[i]);
    rc = rec_sparse_eval(ev, n, (uint32_t)every, REC_DEFAULT_BLOCK, hz, tmp, &st);
    if (rc) {
      fprintf(stderr, "bench_rec_interp: N=%s: %s\n", ns[i], hk_strerror(rc));
      unlink(tmp);
      return 1;
    }
    printf("%6d %8u %9.1f%% %10.0f %10.0f %12.0f %8.3f%% %8.3f%% %10llu "
           "%10.4f%%\n", every,
           st.threads, 100.0 * (double)st.estimated / (double)st.events,
           st.median_ns, st.p99_ns, st.max_ns,
           st.pairs ? 100.0 * (double)st.inverted / (double)st.pairs : 0.0,
           st.pairs ? 100.0 * (double)st.tied / (double)st.pairs : 0.0,
           (unsigned long long)st.xfrees,
           st.xfrees ? 100.0 * (double)st.xfrees_inverted / (double)st.xfrees
                     : 0.0);
  }
  printf("inverted, tied: share of the neighbours in true time order from\n"
         "two threads that come out in the other order, or at one time;\n"
         "xfrees: frees of a block another thread allocated; xf_before: share\n"
         "of them interpolated before their allocation (prepare repairs it)\n");
  free(ev);
  return 0;
}
