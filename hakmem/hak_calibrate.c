/* hak_calibrate.c: measures this machine's event costs for hakmem's cost
 * model (`hksim calibrate`): system calls, first-touch faults, pages
 * released, libc calls, the copy of realloc and hakmem's own path costs.
 * Each event is timed over a batch, the batch repeated, and the median
 * kept with the spread (min..max) beside it. The policies never see a
 * clock: only the costs measured here, as numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hak_internal.h"

#define PAGES 256 /* 1 MiB per fault / release batch */

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  double v[64];
  unsigned n;
} samples_t;

static double median(samples_t *s) {
  qsort(s->v, s->n, sizeof s->v[0], cmp_dbl);
  return s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
}

static char *map_anon(size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void touch(char *p, size_t len) {
  for (size_t o = 0; o < len; o += HAK_PAGE) ((volatile char *)p)[o] = 1;
}

static long minflt(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

/* One micro-run of every event; fills x[] (ns per event). */
enum { E_MMAP, E_MUNMAP, E_FAULT, E_MUNMAP_PAGE, E_MADVISE, E_MADVISE_PAGE,
       E_BRK, E_MALLOC, E_FREE, E_COPY, E_MALLOC_PATH, E_HIT_PATH, E_FREE_PATH,
       E_COUNT };
static const char *const keys[E_COUNT] = {
    "cost.mmap_ns",        "cost.munmap_ns",     "cost.fault_ns",
    "cost.munmap_page_ns", "cost.madvise_ns",    "cost.madvise_page_ns",
    "cost.brk_ns",         "cost.malloc_ns",     "cost.libc_free_ns",
    "cost.copy_byte_ns",   "cost.malloc_path_ns", "cost.hit_path_ns",
    "cost.free_ns"};

static int micro_run(double x[E_COUNT]) {
  const size_t len = PAGES * HAK_PAGE;
  enum { N = 64 };
  char *m[N];
  /* mmap and munmap of untouched mappings */
  uint64_t t0 = hk_now_ns();
  for (int i = 0; i < N; i++)
    if (!(m[i] = map_anon(len))) return -1;
  uint64_t t1 = hk_now_ns();
  for (int i = 0; i < N; i++) munmap(m[i], len);
  uint64_t t2 = hk_now_ns();
  x[E_MMAP] = (double)(t1 - t0) / N;
  x[E_MUNMAP] = (double)(t2 - t1) / N;
  /* first touch, per 4 KiB page (no huge pages) */
  char *a = map_anon(len), *b = map_anon(len);
  if (!a || !b) return -1;
#ifdef MADV_NOHUGEPAGE
  madvise(a, len, MADV_NOHUGEPAGE);
  madvise(b, len, MADV_NOHUGEPAGE);
#endif
  t0 = hk_now_ns();
  touch(a, len);
  t1 = hk_now_ns();
  x[E_FAULT] = (double)(t1 - t0) / PAGES;
  /* madvise(DONTNEED) of resident pages, then of none */
  touch(b, len);
  t0 = hk_now_ns();
  madvise(b, len, MADV_DONTNEED);
  t1 = hk_now_ns();
  madvise(b, len, MADV_DONTNEED);
  t2 = hk_now_ns();
  x[E_MADVISE] = (double)(t2 - t1);
  x[E_MADVISE_PAGE] = ((double)(t1 - t0) - x[E_MADVISE]) / PAGES;
  if (x[E_MADVISE_PAGE] < 0) x[E_MADVISE_PAGE] = 0;
  /* munmap of resident pages */
  t0 = hk_now_ns();
  munmap(a, len);
  t1 = hk_now_ns();
  munmap(b, len);
  x[E_MUNMAP_PAGE] = ((double)(t1 - t0) - x[E_MUNMAP]) / PAGES;
  if (x[E_MUNMAP_PAGE] < 0) x[E_MUNMAP_PAGE] = 0;
  /* brk: the system call itself, asked where the heap ends (libc's heap
   * is not moved) */
  t0 = hk_now_ns();
  for (int i = 0; i < N; i++) (void)syscall(SYS_brk, 0);
  t1 = hk_now_ns();
  x[E_BRK] = (double)(t1 - t0) / N;
  /* libc malloc and free of small blocks */
  enum { K = 4096 };
  static void *blk[K];
  t0 = hk_now_ns();
  for (int i = 0; i < K; i++) blk[i] = malloc(64 + (size_t)(i & 7) * 16);
  t1 = hk_now_ns();
  for (int i = 0; i < K; i++) free(blk[i]);
  t2 = hk_now_ns();
  x[E_MALLOC] = (double)(t1 - t0) / K;
  x[E_FREE] = (double)(t2 - t1) / K;
  /* realloc's copy, per byte, between resident buffers */
  char *s = malloc(len), *d = malloc(len);
  if (!s || !d) return -1;
  memset(s, 1, len);
  memset(d, 2, len);
  t0 = hk_now_ns();
  for (int i = 0; i < 8; i++) memcpy(d, s, len), s[i] = d[len - 1 - (size_t)i];
  t1 = hk_now_ns();
  x[E_COPY] = (double)(t1 - t0) / (8.0 * (double)len);
  free(s);
  free(d);
  /* hakmem's own paths: a malloc-path round trip less libc's, and a
   * BigCache hit round trip (the free keeps the block, so no syscall) */
  hak_config_t c;
  hak_config_init(&c, HAK_MODE_FAST);
  strcpy(c.policy, "static");
  hak_t *h;
  if (hak_create(&h, &c, NULL, NULL)) return -1;
  t0 = hk_now_ns();
  for (int i = 0; i < K; i++) blk[i] = hak_alloc(h, 64 + (size_t)(i & 7) * 16, 0x42);
  t1 = hk_now_ns();
  for (int i = 0; i < K; i++) hak_dealloc(h, blk[i], 0x42);
  t2 = hk_now_ns();
  x[E_MALLOC_PATH] = (double)(t1 - t0) / K - x[E_MALLOC];
  x[E_FREE_PATH] = (double)(t2 - t1) / K - x[E_FREE];
  void *q = hak_alloc(h, 1u << 20, 0x43); /* the miss that fills the cache */
  hak_dealloc(h, q, 0x43);
  t0 = hk_now_ns();
  for (int i = 0; i < K; i++) hak_dealloc(h, hak_alloc(h, 1u << 20, 0x43), 0x43);
  t1 = hk_now_ns();
  x[E_HIT_PATH] = (double)(t1 - t0) / K - (x[E_FREE_PATH] > 0 ? x[E_FREE_PATH] : 0);
  hak_free(h);
  for (int e = E_MALLOC_PATH; e <= E_FREE_PATH; e++)
    if (x[e] < 1) x[e] = 1; /* below the clock's reach: a floor, not zero */
  return 0;
}

/* Whether MADV_HUGEPAGE'd 2 MiB extents fault once (THP honoured). */
static int thp_works(void) {
  const size_t X = 2u << 20, len = 2 * X;
  char *p = map_anon(len + X);
  if (!p) return 0;
  char *a = (char *)(((uintptr_t)p + X - 1) & ~(uintptr_t)(X - 1));
#ifdef MADV_HUGEPAGE
  madvise(a, len, MADV_HUGEPAGE);
#endif
  long f0 = minflt();
  touch(a, len);
  long f = minflt() - f0;
  munmap(p, len + X);
  return f < (long)(len / HAK_PAGE / 4);
}

int hak_calibrate(hak_config_t *cfg, unsigned repeats, char *text, size_t n,
                  char *spread, size_t sn) {
  if (repeats == 0 || repeats > 64) return HK_E_RANGE;
  samples_t s[E_COUNT];
  memset(s, 0, sizeof s);
  double warm[E_COUNT]; /* first-time costs (maps growing, libc's heap) */
  if (micro_run(warm)) return HK_E_NOMEM;
  for (unsigned r = 0; r < repeats; r++) {
    double x[E_COUNT];
    if (micro_run(x)) return HK_E_NOMEM;
    for (int e = 0; e < E_COUNT; e++) s[e].v[s[e].n++] = x[e];
  }
  size_t len = 0, slen = 0;
  if (n) text[0] = 0;
  if (sn) spread[0] = 0;
  for (int e = 0; e < E_COUNT; e++) {
    double med = median(&s[e]);
    char v[48];
    snprintf(v, sizeof v, "%.6g", med);
    int rc = hak_config_set(cfg, keys[e], v);
    if (rc) return rc;
    len += (size_t)snprintf(len < n ? text + len : NULL, len < n ? n - len : 0,
                            "%s=%s\n", keys[e], v);
    slen += (size_t)snprintf(slen < sn ? spread + slen : NULL,
                             slen < sn ? sn - slen : 0, "%s=%.4g..%.4g\n",
                             keys[e], s[e].v[0], s[e].v[s[e].n - 1]);
  }
  int thp = thp_works();
  cfg->cost.thp_huge = (uint32_t)thp;
  len += (size_t)snprintf(len < n ? text + len : NULL, len < n ? n - len : 0,
                          "cost.thp_huge=%d\n", thp);
  return len < n && slen < sn ? 0 : HK_E_RANGE;
}
