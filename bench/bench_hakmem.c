/* bench_hakmem.c: hakmem (each mode, in-process instances) against
 * mimalloc (mi_malloc/mi_free) and glibc malloc on HAKMEM.md's scenarios:
 * json 64 KiB x 1000, mir 256 KiB x 100, vm 2 MiB x 10 (repeated), and
 * mixed; each op allocates, touches every page of the block once (as the
 * replayer's --touch pages does), and frees. Prints ns per op side by
 * side, ratios to mimalloc, a feature-isolation table and the command to
 * reproduce. A benchmark, not a test: nothing here gates CI. */
#include <mimalloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "hakmem.h"

typedef struct alloc_if {
  const char *name;
  void *(*alloc)(void *ctx, size_t n, uint64_t site);
  void (*free)(void *ctx, void *p, uint64_t site);
  void *ctx;
} alloc_if_t;

static void *g_alloc(void *c, size_t n, uint64_t s) {
  (void)c, (void)s;
  return malloc(n);
}
static void g_free(void *c, void *p, uint64_t s) {
  (void)c, (void)s;
  free(p);
}
static void *m_alloc(void *c, size_t n, uint64_t s) {
  (void)c, (void)s;
  return mi_malloc(n);
}
static void m_free(void *c, void *p, uint64_t s) {
  (void)c, (void)s;
  mi_free(p);
}
static void *h_alloc(void *c, size_t n, uint64_t s) { return hak_alloc(c, n, s); }
static void h_free(void *c, void *p, uint64_t s) { hak_dealloc(c, p, s); }

static volatile uint64_t sink;

/* one alloc-touch-free op */
static inline void op(const alloc_if_t *a, size_t size, uint64_t site) {
  char *p = a->alloc(a->ctx, size, site);
  if (!p) {
    fprintf(stderr, "bench_hakmem: %s: allocation of %zu failed\n", a->name, size);
    exit(1);
  }
  for (size_t i = 0; i < size; i += 4096) p[i] = (char)i;
  sink += (uint64_t)p[size - 1];
  a->free(a->ctx, p, site);
}

enum { P_JSON, P_MIR, P_VM, P_MIXED, P_COUNT };
static const char *const pnames[P_COUNT] = {"json", "mir", "vm", "mixed"};

/* Runs a pattern once; returns the number of ops. */
static uint64_t pattern(const alloc_if_t *a, int pat) {
  uint64_t n = 0;
  switch (pat) {
  case P_JSON:
    for (int i = 0; i < 1000; i++, n++) op(a, 64u << 10, 0x1001);
    break;
  case P_MIR:
    for (int i = 0; i < 100; i++, n++) op(a, 256u << 10, 0x1002);
    break;
  case P_VM:
    for (int r = 0; r < 10; r++) /* 2 MiB x 10, repeated 10 times */
      for (int i = 0; i < 10; i++, n++) op(a, 2u << 20, 0x1003);
    break;
  default: /* interleaved like a compiler: many small, some medium, few big */
    for (int i = 0; i < 1000; i++) {
      op(a, 64u << 10, 0x1001), n++;
      if (i % 10 == 0) op(a, 256u << 10, 0x1002), n++;
      if (i % 100 == 0) op(a, 2u << 20, 0x1003), n++;
    }
  }
  return n;
}

/* median over reps of ns per op */
static double measure(const alloc_if_t *a, int pat, int reps) {
  double v[64];
  pattern(a, pat); /* warm-up */
  for (int r = 0; r < reps; r++) {
    uint64_t t0 = hk_now_ns();
    uint64_t n = pattern(a, pat);
    v[r] = (double)(hk_now_ns() - t0) / (double)n;
  }
  return bench_median(v, reps, NULL, NULL);
}

typedef struct {
  const char *label;
  const char *kv[4];
} variant_t;

static hak_t *make_hak(const char *mode, const char *const *kv) {
  hak_config_t c;
  hak_config_init(&c, HAK_MODE_BALANCED);
  hak_config_set(&c, "mode", mode);
  for (int i = 0; kv && kv[i]; i++)
    if (hak_config_set_kv(&c, kv[i]) < 0) {
      fprintf(stderr, "bench_hakmem: bad setting %s\n", kv[i]);
      exit(2);
    }
  hak_t *h;
  if (hak_create(&h, &c, NULL, NULL) < 0) {
    fprintf(stderr, "bench_hakmem: hak_create failed\n");
    exit(1);
  }
  return h;
}

static void row(const alloc_if_t *a, int reps, const double *mi, double *out) {
  printf("| %-26s |", a->name);
  for (int p = 0; p < P_COUNT; p++) {
    out[p] = measure(a, p, reps);
    if (mi)
      printf(" %9.0f %+6.0f%% |", out[p], 100.0 * (out[p] / mi[p] - 1.0));
    else
      printf(" %9.0f      - |", out[p]);
  }
  printf("\n");
  fflush(stdout);
}

static void header(const char *title) {
  printf("\n%s (ns per alloc+touch+free op, median; %% vs mimalloc)\n\n", title);
  printf("| %-26s |", "allocator");
  for (int p = 0; p < P_COUNT; p++) printf(" %16s |", pnames[p]);
  printf("\n|%s|", "----------------------------");
  for (int p = 0; p < P_COUNT; p++) printf("------------------|");
  printf("\n");
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1 || reps > 64) {
    fprintf(stderr, "usage: bench_hakmem [REPS 1..64]\n");
    return 2;
  }
  double mi[P_COUNT], tmp[P_COUNT];
  header("Scenarios");
  alloc_if_t m = {"mimalloc", m_alloc, m_free, NULL};
  row(&m, reps, NULL, mi);
  alloc_if_t g = {"glibc", g_alloc, g_free, NULL};
  row(&g, reps, mi, tmp);
  static const char *const modes[] = {"minimal", "fast", "balanced", "learning",
                                      "research"};
  char label[64];
  for (size_t i = 0; i < HK_ARRAY_LEN(modes); i++) {
    hak_t *h = make_hak(modes[i], NULL);
    snprintf(label, sizeof label, "hakmem %s", modes[i]);
    alloc_if_t a = {label, h_alloc, h_free, h};
    row(&a, reps, mi, tmp);
    hak_free(h);
  }
  /* static 256 KiB = hakmem-baseline; ucb1 = hakmem-evolving */
  static const char *const base_kv[] = {"policy=static", NULL};
  static const char *const ucb_kv[] = {"policy=ucb1", NULL};
  hak_t *hb = make_hak("balanced", base_kv);
  alloc_if_t ab = {"hakmem-baseline (static)", h_alloc, h_free, hb};
  row(&ab, reps, mi, tmp);
  hak_free(hb);
  hak_t *hu = make_hak("learning", ucb_kv);
  alloc_if_t au = {"hakmem-evolving (ucb1)", h_alloc, h_free, hu};
  row(&au, reps, mi, tmp);
  hak_free(hu);

  header("Feature isolation, hakmem balanced (ELO frozen, BigCache, batch)");
  static const variant_t vars[] = {
      {"balanced (all on)", {NULL}},
      {"BigCache off", {"bigcache=off", NULL}},
      {"batch off", {"batch=off", NULL}},
      {"ELO off (static 256K)", {"elo=off", NULL}},
      {"ELO every alloc (learn)", {"elo=learn", "elo.period=1", NULL}},
      {"header 16", {"header_size=16", NULL}},
      {"THP off", {"thp=off", NULL}},
  };
  for (size_t i = 0; i < HK_ARRAY_LEN(vars); i++) {
    hak_t *h = make_hak("balanced", vars[i].kv);
    alloc_if_t a = {vars[i].label, h_alloc, h_free, h};
    row(&a, reps, mi, tmp);
    hak_free(h);
  }
  printf("\nreproduce: cmake -S . -B build && cmake --build build --target "
         "bench_hakmem && build/bench/bench_hakmem %d\n", reps);
  return 0;
}
