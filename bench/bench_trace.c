/* bench_trace.c: the trace format's cost, measured in one run: encode rate
 * (writer: coding, zstd, write), decode rate (reader: read, zstd, decoding)
 * and bytes per event, at zstd levels 1, 3 and 9 side by side, on a
 * realistic synthetic stream. Prints numbers; never gates CI.
 * Usage: bench_trace [MILLION_EVENTS] [SEED]   (default 4 and 1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "trc.h"

enum { NTHREADS = 4, NSITES = 50, NCLASS = 24, BATCH = 256 };

/* A toy size-class allocator so that addresses look like a real heap's:
 * per class a LIFO free list, else a bump pointer per class region. */
typedef struct heap {
  uint64_t bump[NCLASS];
  uint64_t *freel[NCLASS];
  size_t nfree[NCLASS], capfree[NCLASS];
} heap_t;

static unsigned cls_of(uint64_t size) {
  unsigned c = 0;
  while (c + 1 < NCLASS && (16ull << (c / 2)) + ((c & 1) ? (8ull << (c / 2)) : 0) < size) c++;
  return c;
}

static uint64_t heap_alloc(heap_t *h, uint64_t size) {
  unsigned c = cls_of(size);
  if (h->nfree[c]) return h->freel[c][--h->nfree[c]];
  uint64_t p = h->bump[c];
  h->bump[c] += (size + 15) & ~15ull;
  return p;
}

static void heap_free(heap_t *h, uint64_t p, uint64_t size) {
  unsigned c = cls_of(size);
  if (h->nfree[c] == h->capfree[c]) {
    h->capfree[c] = h->capfree[c] ? 2 * h->capfree[c] : 1024;
    h->freel[c] = realloc(h->freel[c], h->capfree[c] * sizeof(uint64_t));
  }
  h->freel[c][h->nfree[c]++] = p;
}

typedef struct obj {
  uint64_t ptr, size;
} obj_t;

/* One thread's stream: alloc/free mix with recent objects freed first
 * (geometric age), sizes by site from a skewed table, TSC-like deltas. */
static trc_event_t *gen_thread(hk_rng_t *r, uint32_t t, size_t n) {
  static const uint64_t sizes[] = {16, 24, 32, 48, 64, 8, 96, 128, 40, 256,
                                   80, 512, 1024, 4096, 33, 200, 72, 4000};
  trc_event_t *ev = calloc(n, sizeof *ev);
  heap_t h;
  memset(&h, 0, sizeof h);
  for (unsigned c = 0; c < NCLASS; c++)
    h.bump[c] = 0x555555550000ull + ((uint64_t)t << 36) + ((uint64_t)c << 28);
  obj_t *live = malloc(n * sizeof *live);
  size_t nlive = 0;
  uint64_t time = 0;
  for (size_t i = 0; i < n; i++) {
    trc_event_t *e = &ev[i];
    time += 20 + (hk_rng_below(r, 8) ? hk_rng_below(r, 300) : hk_rng_below(r, 20000));
    e->time = time;
    /* Zipf-ish site: low ids far more common. */
    uint32_t site = 1 + (uint32_t)(hk_rng_below(r, NSITES) * hk_rng_below(r, NSITES) / NSITES);
    e->site = site;
    int do_free = nlive > 0 && hk_rng_below(r, 100) < (nlive > 5000 ? 60 : 48);
    if (do_free) {
      size_t age = 0;
      while (age + 1 < nlive && hk_rng_below(r, 4)) age += 1 + hk_rng_below(r, 3);
      if (age >= nlive) age = nlive - 1;
      size_t k = nlive - 1 - age;
      obj_t o = live[k];
      live[k] = live[--nlive];
      if (hk_rng_below(r, 50) == 0) { /* realloc */
        e->op = TRC_OP_REALLOC;
        e->old_ptr = o.ptr;
        e->size = o.size * 2;
        heap_free(&h, o.ptr, o.size);
        e->ptr = heap_alloc(&h, e->size);
        live[nlive++] = (obj_t){e->ptr, e->size};
      } else {
        e->op = TRC_OP_FREE;
        e->ptr = o.ptr;
        heap_free(&h, o.ptr, o.size);
      }
      continue;
    }
    uint64_t size = sizes[(site * 7 + (hk_rng_below(r, 6) == 0 ? hk_rng_below(r, 4) : 0)) % HK_ARRAY_LEN(sizes)];
    if (hk_rng_below(r, 10) == 0) size = 1 + hk_rng_below(r, 2000);
    unsigned kind = (unsigned)hk_rng_below(r, 100);
    if (kind < 6) {
      e->op = TRC_OP_CALLOC;
      e->nmemb = 1 + hk_rng_below(r, 8);
      e->size = size;
      size *= e->nmemb;
    } else if (kind < 7) {
      e->op = TRC_OP_POSIX_MEMALIGN;
      e->align = 64;
      e->size = size;
    } else {
      e->op = TRC_OP_MALLOC;
      e->size = size;
    }
    e->ptr = heap_alloc(&h, size);
    live[nlive++] = (obj_t){e->ptr, size};
  }
  free(live);
  for (unsigned c = 0; c < NCLASS; c++) free(h.freel[c]);
  return ev;
}

int main(int argc, char **argv) {
  double millions = argc > 1 ? atof(argv[1]) : 4;
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
  size_t per = (size_t)(millions * 1e6 / NTHREADS);
  hk_rng_t r;
  hk_rng_init(&r, seed);
  trc_event_t *ev[NTHREADS];
  for (uint32_t t = 0; t < NTHREADS; t++) ev[t] = gen_thread(&r, t, per);
  uint64_t total = (uint64_t)per * NTHREADS;
  char path[] = "/tmp/bench_trace-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  printf("bench_trace: %.2f M events, %d threads, %d sites, seed %llu\n",
         (double)total / 1e6, NTHREADS, NSITES, (unsigned long long)seed);
  printf("%-6s %12s %14s %14s %12s\n", "level", "bytes/event", "encode ev/s",
         "decode ev/s", "file bytes");
  const int levels[] = {1, 3, 9};
  double base_enc = 0, base_dec = 0, base_bpe = 0;
  for (size_t li = 0; li < HK_ARRAY_LEN(levels); li++) {
    trc_header_t h = {0};
    h.clock = TRC_CLOCK_TSC;
    h.tick_hz = 3000000000ull;
    h.exe = "bench";
    trc_writer_opts_t o = {levels[li], 0, NULL, 0};
    trc_writer_t *w;
    double t0 = now_s();
    if (trc_writer_create(&w, path, &h, &o)) return 1;
    uint64_t fr[4] = {0x401000, 0x401200, 0x402000, 0x7f0000001000};
    for (uint32_t s = 1; s <= NSITES; s++) {
      fr[0] = 0x401000 + 0x40 * s;
      trc_writer_add_site(w, s, fr, 4);
    }
    for (size_t i = 0; i < per; i += BATCH)
      for (uint32_t t = 0; t < NTHREADS; t++)
        trc_writer_events(w, t, ev[t] + i, per - i < BATCH ? per - i : BATCH);
    for (uint32_t t = 0; t < NTHREADS; t++) {
      trc_thread_t th = {t, 100 + t, 0, 0, "worker"};
      trc_writer_add_thread(w, &th);
    }
    int rc = trc_writer_finish(w, 0, 0);
    double enc = now_s() - t0;
    uint64_t bytes = trc_writer_bytes(w);
    trc_writer_free(w);
    if (rc) {
      fprintf(stderr, "bench_trace: write failed: %s\n", hk_strerror(rc));
      return 1;
    }
    t0 = now_s();
    trc_reader_t *rd;
    if (trc_reader_open(&rd, path)) return 1;
    trc_chunk_t c;
    uint64_t got = 0, sum = 0;
    while ((rc = trc_reader_next(rd, &c)) == 1)
      if (c.kind == TRC_CHUNK_EVENTS) {
        got += c.n;
        sum += c.events[c.n - 1].ptr;
      }
    trc_reader_free(rd);
    double dec = now_s() - t0;
    if (rc || got != total) {
      fprintf(stderr, "bench_trace: read back %llu of %llu events (%s)\n",
              (unsigned long long)got, (unsigned long long)total,
              hk_strerror(rc));
      return 1;
    }
    double bpe = (double)bytes / (double)total;
    double er = (double)total / enc, dr = (double)total / dec;
    printf("%-6d %12.3f %14.3g %14.3g %12llu%s\n", levels[li], bpe, er, dr,
           (unsigned long long)bytes, sum == 42 ? " " : "");
    if (li == 0) base_enc = er, base_dec = dr, base_bpe = bpe;
    else
      printf("       vs level 1: size x%.3f, encode x%.2f, decode x%.2f\n",
             bpe / base_bpe, er / base_enc, dr / base_dec);
  }
  unlink(path);
  for (uint32_t t = 0; t < NTHREADS; t++) free(ev[t]);
  printf("reproduce: %s %g %llu  (build: cmake --build BUILD --target bench_trace)\n",
         argv[0], millions, (unsigned long long)seed);
  return 0;
}
