/* rpl_exec.c: the replay loop. Runs a prepared program (trc_pop_t ops in
 * causal order, dense slots) against one back end in this process: live
 * pointers in an mmap'd slot table, per-op TSC latencies into an mmap'd
 * buffer, memory touched outside the timed region, counters around the
 * loop; then latencies to ns, percentiles and the run digest. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rpl_internal.h"

typedef struct slot {
  uint8_t *p;
  uint64_t size;
} slot_t;

static const char *const touch_names[] = {"none", "first", "pages", "full",
                                          "check"};

const char *rpl_touch_name(rpl_touch_t t) {
  return (unsigned)t < HK_ARRAY_LEN(touch_names) ? touch_names[t] : "?";
}

int rpl_touch_parse(const char *s, rpl_touch_t *out) {
  for (unsigned i = 0; i < HK_ARRAY_LEN(touch_names); i++)
    if (strcmp(s, touch_names[i]) == 0) {
      *out = (rpl_touch_t)i;
      return 0;
    }
  return HK_E_USAGE;
}

static const char *const threads_names[] = {"serial", "recorded", "auto"};

const char *rpl_threads_name(rpl_threads_t m) {
  return (unsigned)m < HK_ARRAY_LEN(threads_names) ? threads_names[m] : "?";
}

int rpl_threads_parse(const char *s, rpl_threads_t *out) {
  for (unsigned i = 0; i < HK_ARRAY_LEN(threads_names); i++)
    if (strcmp(s, threads_names[i]) == 0) {
      *out = (rpl_threads_t)i;
      return 0;
    }
  return HK_E_USAGE;
}

int rpl_backend_threadable(const rpl_backend_t *be) {
  return be->thread_safe && !be->last_decision && !be->before_op;
}

int rpl_threads_resolve(rpl_threads_t mode, const rpl_backend_t *be,
                        uint32_t n_threads, rpl_span_t span) {
  return mode != RPL_THREADS_SERIAL && rpl_backend_threadable(be) &&
         n_threads > 1 && span == RPL_SPAN_NONE;
}

const char *rpl_sys_method_name(int m) {
  switch (m) {
  case RPL_SYS_TRACEPOINT: return "tracepoint";
  case RPL_SYS_BACKEND: return "backend";
  default: return "unavailable";
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

double rpl_timer_overhead(unsigned n) {
  uint64_t d[4097];
  if (n == 0 || n > HK_ARRAY_LEN(d)) n = HK_ARRAY_LEN(d);
  for (unsigned i = 0; i < 256; i++) { /* warm up */
    uint64_t t0 = hk_tsc_begin();
    (void)(hk_tsc_end() - t0);
  }
  for (unsigned i = 0; i < n; i++) {
    uint64_t t0 = hk_tsc_begin();
    uint64_t t1 = hk_tsc_end();
    d[i] = t1 - t0;
  }
  qsort(d, n, sizeof d[0], cmp_u64);
  return (double)d[n / 2];
}

/* The timer's effective resolution: the smallest positive step between
 * back-to-back unfenced reads. Not the GCD of steps: a virtual machine
 * that advances the TSC by 24 or 25 ticks (10 ns on the machine this was
 * written on) has GCD 1, yet no latency finer than 24 ticks can be seen.
 * Where the counter is fine-grained the least step is the cost of one read,
 * which bounds what can be resolved just as well. */
uint64_t rpl_timer_resolution(void) {
  uint64_t best = UINT64_MAX, prev = hk_tsc_raw();
  for (unsigned i = 0; i < 20000; i++) {
    uint64_t t = hk_tsc_raw();
    if (t > prev && t - prev < best) best = t - prev;
    prev = t;
  }
  return best == UINT64_MAX ? 1 : best;
}

/* Fills s (its tsc_hz 0: measured) with the timer's calibration. */
static void setup_measure(rpl_exec_setup_t *s) {
  if (!s->tsc_hz) s->tsc_hz = hk_tsc_hz(50);
  s->overhead_ticks = rpl_timer_overhead(4001);
  s->resolution_ticks = rpl_timer_resolution();
}

int rpl_exec_setup_create(rpl_exec_setup_t **out, uint64_t tsc_hz) {
  rpl_exec_setup_t *s = calloc(1, sizeof *s);
  *out = s;
  if (!s) return HK_E_NOMEM;
  s->tsc_hz = tsc_hz;
  setup_measure(s);
  rpl_counters_open(&s->counters);
  return 0;
}

void rpl_exec_setup_free(rpl_exec_setup_t *s) {
  if (!s) return;
  rpl_counters_close(&s->counters);
  free(s);
}

/* ---- memory cap (--mem-limit) ----------------------------------------- */

void rpl_size_text(uint64_t bytes, char *buf, size_t len) {
  static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB",
                                     "PiB", "EiB"};
  double v = (double)bytes;
  unsigned u = 0;
  while (v >= 1024 && u + 1 < HK_ARRAY_LEN(unit)) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
  else
    snprintf(buf, len, "%.1f %s", v, unit[u]);
}

/* First number of the line starting with key in a /proc-style file, times
 * mult; 0 when absent. */
static uint64_t proc_field(const char *path, const char *key, uint64_t mult) {
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  char line[256];
  uint64_t v = 0;
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, kl) == 0) {
      v = strtoull(line + kl, NULL, 10) * mult;
      break;
    }
  fclose(f);
  return v;
}

/* The memory limit of this process's cgroup (v2 memory.max, else v1
 * memory.limit_in_bytes), 0 when there is none. */
static uint64_t cgroup_limit(void) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f) return 0;
  char line[512], path[700];
  uint64_t best = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = 0;
    const char *ctl = c1 + 1, *rel = c2 + 1;
    if (!*ctl)
      snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", rel);
    else if (strstr(ctl, "memory"))
      snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes",
               rel);
    else
      continue;
    FILE *g = fopen(path, "re");
    if (!g) continue;
    char v[64] = "";
    if (fgets(v, sizeof v, g)) {
      uint64_t x = strtoull(v, NULL, 10);
      /* "max" parses as 0; v1 says "none" with a value near 2^63. */
      if (x && x < (1ull << 60) && (!best || x < best)) best = x;
    }
    fclose(g);
  }
  fclose(f);
  return best;
}

uint64_t rpl_mem_default(char *how, size_t len) {
  uint64_t total = proc_field("/proc/meminfo", "MemTotal:", 1024);
  uint64_t cg = cgroup_limit();
  const char *what = "MemTotal";
  if (cg && (!total || cg < total)) {
    total = cg;
    what = "the cgroup's memory limit";
  }
  if (!total) {
    if (how) snprintf(how, len, "physical memory unknown: no limit");
    return 0;
  }
  char t[32];
  rpl_size_text(total, t, sizeof t);
  if (how) snprintf(how, len, "half of %s (%s)", what, t);
  return total / 2;
}

uint64_t rpl_mem_need(const trc_program_t *prog, uint32_t sample_every) {
  uint64_t n = prog->n_ops, per = sample_every ? n / sample_every + 1 : 0;
  /* The slot table, decisions (1 byte an op), latencies and the two arrays
   * that sort them, the RSS timeline, and 1 MiB for the rest. */
  uint64_t harness = (uint64_t)prog->n_slots * sizeof(slot_t) + n + per * 12 +
                     (n / 1024 + 2) * sizeof(rpl_rss_row_t) + (1u << 20);
  uint64_t live = prog->stats.peak_live_bytes;
  return live > UINT64_MAX - harness ? UINT64_MAX : live + harness;
}

int rpl_mem_enforce(uint64_t limit, char *why, size_t len) {
  if (!limit) return 0;
  /* RLIMIT_DATA counts private writable mappings (heap, anonymous mmap)
   * but not address space merely reserved PROT_NONE nor file mappings:
   * what the back ends allocate, not the prepared program mapped from
   * disk. What the process holds now is added, so limit is the run's. */
  uint64_t base = proc_field("/proc/self/status", "VmData:", 1024);
  struct rlimit rl;
  if (getrlimit(RLIMIT_DATA, &rl)) rl.rlim_max = RLIM_INFINITY;
  uint64_t want = base > UINT64_MAX - limit ? UINT64_MAX : base + limit;
  if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) want = rl.rlim_max;
  rl.rlim_cur = (rlim_t)want;
  if (setrlimit(RLIMIT_DATA, &rl)) {
    int e = errno;
    snprintf(why, len, "setrlimit(RLIMIT_DATA): %s", strerror(e));
    return -e;
  }
  return 0;
}

/* ---- memory touch (outside the timed region) -------------------------- */

static inline uint8_t pattern(uint32_t slot) {
  return (uint8_t)(slot * 167u + 13u);
}

/* Whether p[from, to) all hold byte b: memcmp against a block of b, a
 * page at a time (a byte loop took minutes on a 1 TiB calloc). */
static int holds(const uint8_t *p, uint64_t from, uint64_t to, uint8_t b) {
  uint8_t ref[4096];
  memset(ref, b, sizeof ref);
  for (uint64_t i = from; i < to;) {
    uint64_t n = to - i < sizeof ref ? to - i : sizeof ref;
    if (memcmp(p + i, ref, (size_t)n)) return 0;
    i += n;
  }
  return 1;
}

/* Touches the new part [from, to) of a block. */
static inline void touch(rpl_touch_t mode, uint8_t *p, uint64_t from,
                         uint64_t to, uint32_t slot, uint64_t page) {
  if (!p || from >= to) return;
  switch (mode) {
  case RPL_TOUCH_NONE: break;
  case RPL_TOUCH_FIRST:
    if (from == 0) p[0] = 1;
    break;
  case RPL_TOUCH_PAGES:
    for (uint64_t off = from; off < to; off += page) p[off] = 1;
    p[to - 1] = 1;
    break;
  case RPL_TOUCH_FULL: memset(p + from, 0x5a, to - from); break;
  case RPL_TOUCH_CHECK: memset(p + from, pattern(slot), to - from); break;
  }
}

/* ---- the loop --------------------------------------------------------- */

typedef struct loop {
  const rpl_backend_t *be;
  void *ctx;
  void (*before_op)(void *ctx, uint64_t op_seq, uint64_t time_ns);
  const trc_pop_t *ops;
  slot_t *slots;
  uint32_t *lat;    /* raw ticks, RPL_LAT_NONE where not timed */
  uint8_t *dec;     /* decisions, NULL when the back end has none */
  rpl_touch_t touch;
  uint32_t every;   /* time op i when i % every == 0 (every >= 1) */
  rpl_span_t span;  /* span modes (block_spans) */
  uint32_t batch_k;
  struct pend {     /* a batch's touches, done after its second TSC read */
    uint64_t i, from, to;
  } *pend;
  uint32_t n_pend;
  uint64_t page;
  uint64_t live, peak_live, objs, peak_objs;
  uint64_t alloc_failures;
  uint64_t mem_limit; /* a refused allocation fails the run (0: counted) */
  const uint32_t *rs; /* threaded: op i's block is slots[rs[i]] (the slots
                         renamed per thread), else slots[ops[i].slot] */
  uint64_t *tfail;    /* refused allocations per recorded thread; NULL: none */
  /* --gaps: debt in ticks still to spend, ticks per recorded ns (scale
   * applied), the buffer walked and where the walk is, the recorded time
   * of the previous op (serial: of the program; threaded: of the thread). */
  int64_t gap_debt, gap_min; /* gap_min: ~100 ns of ticks */
  double gap_tpn;
  uint8_t *gap_buf;
  uint64_t gap_ws, gap_pos, gap_prev;
  char error[256];
  int failed, status;
} loop_t;

static HK_COLD void check_fail(loop_t *L, uint64_t i, const char *what) {
  if (!L->failed) {
    snprintf(L->error, sizeof L->error,
             "touch check: %s at op %llu (slot %u)", what,
             (unsigned long long)i, L->ops[i].slot);
    L->status = HK_E_CORRUPT;
  }
  L->failed = 1;
}

/* An allocation the back end refused. Without a memory cap it is counted
 * (and the run goes on); under --mem-limit the run has diverged from the
 * trace because of the cap, and fails saying so. */
static HK_COLD HK_NOINLINE void alloc_fail(loop_t *L, uint64_t i,
                                           uint64_t size) {
  L->alloc_failures++;
  if (L->tfail) L->tfail[L->ops[i].thread]++;
  if (!L->mem_limit || L->failed) return;
  char lim[32], sz[32], live[32];
  rpl_size_text(L->mem_limit, lim, sizeof lim);
  rpl_size_text(size, sz, sizeof sz);
  rpl_size_text(L->live, live, sizeof live);
  snprintf(L->error, sizeof L->error,
           "out of memory under --mem-limit %s: %s of %s at op %llu refused "
           "with %s live",
           lim, trc_op_name(L->ops[i].op), sz, (unsigned long long)i, live);
  L->failed = 1;
  L->status = HK_E_NOMEM;
}

/* Touches the new part of op i's block now, or (defer: a batch being
 * timed) after the batch's second TSC read. */
HK_FORCE_INLINE void touch_op(loop_t *L, int defer, uint8_t *p, uint64_t from,
                              uint64_t to, uint64_t i) {
  if (!defer) {
    touch(L->touch, p, from, to, L->ops[i].slot, L->page);
    return;
  }
  if (from < to && L->touch != RPL_TOUCH_NONE)
    L->pend[L->n_pend++] = (struct pend){i, from, to};
}

/* One op. timed, renamed and defer are compile-time constants in each
 * instantiation, so the untimed loop carries no TSC code and the serial
 * loop no renaming. Cost budget of the harness around the
 * call: a switch, a slot load/store, two adds and a compare (~3 ns). */
HK_FORCE_INLINE void step_ex(loop_t *L, uint64_t i, int timed, int renamed,
                             int defer) {
  const trc_pop_t *o = &L->ops[i];
  if (HK_UNLIKELY(o->flags & TRC_PF_FAILED)) return;
  slot_t *s = &L->slots[renamed ? L->rs[i] : o->slot];
  void *ctx = L->ctx;
  if (L->before_op) L->before_op(ctx, i, o->time_ns); /* before t0 */
  const rpl_backend_t *be = L->be;
  uint64_t size = o->size, t0 = 0, t1 = 0;
  unsigned th = o->thread;
  uint8_t *p;
  switch (o->op) {
  case TRC_OP_FREE: {
    uint8_t *q = s->p;
    uint64_t qs = s->size;
    if (HK_UNLIKELY(L->touch == RPL_TOUCH_CHECK) && q &&
        !holds(q, 0, qs, pattern(o->slot)))
      check_fail(L, i, "block changed before free");
    if (timed) t0 = hk_tsc_begin();
    be->free(ctx, q, qs, th, o->caller);
    if (timed) t1 = hk_tsc_end();
    s->p = NULL;
    s->size = 0;
    if (q) {
      L->live -= qs;
      L->objs--;
    }
    break;
  }
  case TRC_OP_REALLOC:
  case TRC_OP_REALLOCARRAY: {
    uint8_t *q = s->p;
    uint64_t qs = s->size;
    if (size == 0) size = 1; /* realloc(p, 0) frees in some libcs */
    if (timed) t0 = hk_tsc_begin();
    p = be->realloc(ctx, q, qs, size, th, o->caller);
    if (timed) t1 = hk_tsc_end();
    if (HK_UNLIKELY(!p)) {
      alloc_fail(L, i, size); /* the old block stays live */
      break;
    }
    if (HK_UNLIKELY(L->touch == RPL_TOUCH_CHECK) && q &&
        !holds(p, 0, qs < size ? qs : size, pattern(o->slot)))
      check_fail(L, i, "realloc lost the contents");
    if (!q) L->objs++;
    s->p = p;
    s->size = size;
    L->live += size - qs;
    touch_op(L, defer, p, q ? qs : 0, size, i);
    break;
  }
  default: {
    if (o->op == TRC_OP_MALLOC) {
      if (timed) t0 = hk_tsc_begin();
      p = be->malloc(ctx, size, th, o->caller);
      if (timed) t1 = hk_tsc_end();
    } else if (o->op == TRC_OP_CALLOC) {
      if (timed) t0 = hk_tsc_begin();
      p = be->calloc(ctx, size, th, o->caller);
      if (timed) t1 = hk_tsc_end();
      if (HK_UNLIKELY(L->touch == RPL_TOUCH_CHECK) && p &&
          !holds(p, 0, size, 0))
        check_fail(L, i, "calloc block not zeroed");
    } else {
      uint64_t align = o->align_log2 ? 1ull << o->align_log2 : 0;
      if (o->op == TRC_OP_VALLOC || o->op == TRC_OP_PVALLOC) {
        if (!align) align = L->page;
        if (o->op == TRC_OP_PVALLOC) size = (size + L->page - 1) & ~(L->page - 1);
      }
      if (align < sizeof(void *)) align = sizeof(void *);
      if (timed) t0 = hk_tsc_begin();
      p = be->aligned(ctx, align, size, th, o->caller);
      if (timed) t1 = hk_tsc_end();
    }
    if (HK_UNLIKELY(!p)) {
      alloc_fail(L, i, size);
      break;
    }
    if (HK_UNLIKELY(s->p != NULL)) { /* prepare never does this */
      be->free(ctx, s->p, s->size, th, o->caller);
      L->live -= s->size;
      L->objs--;
    }
    s->p = p;
    s->size = size;
    L->live += size;
    L->objs++;
    touch_op(L, defer, p, 0, size, i);
    break;
  }
  }
  if (L->live > L->peak_live) L->peak_live = L->live;
  if (L->objs > L->peak_objs) L->peak_objs = L->objs;
  if (timed) {
    uint64_t d = t1 - t0;
    L->lat[i / L->every] = d >= RPL_LAT_NONE ? RPL_LAT_NONE - 1 : (uint32_t)d;
  }
  if (L->dec) L->dec[i] = be->last_decision(ctx);
}

HK_FORCE_INLINE void step(loop_t *L, uint64_t i, int timed, int renamed) {
  step_ex(L, i, timed, renamed, 0);
}

/* ---- --gaps: the program's work between ops --------------------------- */

int rpl_gaps_parse(const char *s, uint64_t *ws, double *scale) {
  if (strcmp(s, "none") == 0) {
    *ws = 0;
    *scale = 0;
    return 0;
  }
  char buf[64], *colon, *end;
  if (strlen(s) >= sizeof buf) return HK_E_USAGE;
  strcpy(buf, s);
  double f = 1;
  if ((colon = strchr(buf, ':'))) {
    *colon = 0;
    errno = 0;
    f = strtod(colon + 1, &end);
    if (errno || end == colon + 1 || *end || !(f > 0) || f > 1000)
      return HK_E_USAGE;
  }
  /* WS: digits with an optional K, M or G (binary). */
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno || end == buf || buf[0] == '-') return HK_E_USAGE;
  uint64_t mult = 1;
  if (*end == 'K' || *end == 'k') mult = 1ull << 10;
  else if (*end == 'M' || *end == 'm') mult = 1ull << 20;
  else if (*end == 'G' || *end == 'g') mult = 1ull << 30;
  else if (*end) return HK_E_USAGE;
  if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
    return HK_E_USAGE;
  if (v > (64ull << 30) / mult) return HK_E_USAGE; /* 64 GiB at most */
  *ws = v * mult;
  *scale = f;
  return 0;
}

/* Spends the gap before op i: the recorded time since L->gap_prev, as a
 * debt in ticks paid once it exceeds about 100 ns (a loop cannot resolve
 * less, and short gaps add up), by walking the buffer a cache line at a
 * time and reading the TSC every 8 lines. What the loop overshoots is
 * carried as a credit. */
static HK_NOINLINE void gap_spend(loop_t *L, uint64_t i) {
  uint64_t t = L->ops[i].time_ns, g = t > L->gap_prev ? t - L->gap_prev : 0;
  L->gap_prev = t;
  if (g > RPL_GAP_CAP_NS) g = RPL_GAP_CAP_NS;
  L->gap_debt += (int64_t)((double)g * L->gap_tpn);
  if (L->gap_debt < L->gap_min) return;
  uint64_t t0 = hk_tsc_raw(), end = t0 + (uint64_t)L->gap_debt, now;
  uint8_t *b = L->gap_buf;
  uint64_t pos = L->gap_pos, ws = L->gap_ws;
  do {
    if (b) {
      for (int k = 0; k < 8; k++) {
        b[pos]++;
        pos += 64;
        if (pos >= ws) pos = 0;
      }
    } else {
      for (int k = 0; k < 8; k++) __asm__ volatile("" ::: "memory");
    }
    now = hk_tsc_raw();
  } while (now < end);
  L->gap_pos = pos;
  L->gap_debt -= (int64_t)(now - t0);
}

static HK_NOINLINE void block_gaps(loop_t *L, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; i++) {
    gap_spend(L, i);
    if (L->lat && i % L->every == 0)
      step(L, i, 1, 0);
    else
      step(L, i, 0, 0);
  }
}

static HK_NOINLINE void block_untimed(loop_t *L, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; i++) step(L, i, 0, 0);
}

static HK_NOINLINE void block_timed(loop_t *L, uint64_t from, uint64_t to) {
  if (L->every == 1) {
    for (uint64_t i = from; i < to; i++) step(L, i, 1, 0);
    return;
  }
  uint64_t i = from;
  while (i < to) {
    uint64_t next = (i + L->every - 1) / L->every * L->every; /* next timed */
    for (; i < to && i < next; i++) step(L, i, 0, 0);
    if (i < to) step(L, i++, 1, 0);
  }
}

/* ---- span modes (--per-op batch:K, --per-op iteration) ----------------- */

static inline void put_span(loop_t *L, uint64_t i, uint64_t ticks) {
  L->lat[i] = ticks >= RPL_LAT_SPAN ? RPL_LAT_SPAN - 1 : (uint32_t)ticks;
}

/* Ops [from, to) in spans. A batch is up to batch_k consecutive ops of one
 * kind (a recorded failure or another kind ends it) between two TSC
 * reads, the harness's per-op bookkeeping inside (what the null back end
 * measures), the touches of the blocks after the second read (in order,
 * each cut to its block's size now: a later realloc of the batch may have
 * shrunk it), except under --touch check, whose checks need them at once.
 * An iteration is an allocation (not a realloc) whose free is the next op:
 * allocation, touch and free between two reads, as hakmem's harness timed
 * its loop; other ops run untimed. Spans never cross a block (an RSS
 * sample between two ops of a span would be timed). */
static HK_NOINLINE void block_spans(loop_t *L, uint64_t from, uint64_t to) {
  const trc_pop_t *ops = L->ops;
  uint64_t i = from;
  while (i < to) {
    const trc_pop_t *o = &ops[i];
    if (o->flags & TRC_PF_FAILED) {
      i++;
      continue;
    }
    if (L->span == RPL_SPAN_ITERATION) {
      const trc_pop_t *f = i + 1 < to ? &ops[i + 1] : NULL;
      if (f && o->op != TRC_OP_FREE && !trc_op_is_realloc(o->op) &&
          f->op == TRC_OP_FREE && f->slot == o->slot &&
          !(f->flags & TRC_PF_FAILED)) {
        uint64_t t0 = hk_tsc_begin();
        step(L, i, 0, 0);
        step(L, i + 1, 0, 0);
        uint64_t t1 = hk_tsc_end();
        put_span(L, i, t1 - t0);
        L->lat[i + 1] = RPL_LAT_SPAN;
        i += 2;
      } else {
        step(L, i++, 0, 0);
      }
      continue;
    }
    uint64_t lim = to - i > L->batch_k ? i + L->batch_k : to, j = i;
    uint8_t kind = o->op;
    L->n_pend = 0;
    if (L->touch == RPL_TOUCH_CHECK) {
      uint64_t t0 = hk_tsc_begin();
      for (; j < lim && ops[j].op == kind && !(ops[j].flags & TRC_PF_FAILED);
           j++)
        step(L, j, 0, 0);
      put_span(L, i, hk_tsc_end() - t0);
    } else {
      uint64_t t0 = hk_tsc_begin();
      for (; j < lim && ops[j].op == kind && !(ops[j].flags & TRC_PF_FAILED);
           j++)
        step_ex(L, j, 0, 0, 1);
      put_span(L, i, hk_tsc_end() - t0);
      for (uint32_t k = 0; k < L->n_pend; k++) {
        const struct pend *pd = &L->pend[k];
        const slot_t *s = &L->slots[ops[pd->i].slot];
        uint64_t end = pd->to < s->size ? pd->to : s->size;
        touch(L->touch, s->p, pd->from, end, ops[pd->i].slot, L->page);
      }
    }
    for (uint64_t k = i + 1; k < j; k++) L->lat[k] = RPL_LAT_SPAN;
    i = j;
  }
}

/* ---- threaded replay (--threads recorded) ------------------------------ */

/* Each recorded thread replays its own ops, in order, on a thread of its
 * own. The only waits are the ones an object needs: an op on an object
 * (free, realloc) whose previous op was made by another thread waits until
 * that thread has done it: a free of a block another thread allocated or
 * reallocated. The prepared program's slots are not objects: prepare hands
 * the most recently released slot to the next object whatever its thread,
 * so in a multi-thread trace most allocations land on a slot another
 * thread just freed, and ordering by slot made nearly every allocation
 * wait for another thread (6 to 66 times the serial loop time on 2 cores).
 * So the slots are renamed per thread here: an object gets a replay slot
 * from its allocating thread's own free list (a slot it freed itself), or
 * a new one, and threads that never share an object never wait. The
 * address-reuse order of the recording (a malloc that got the address
 * another thread had freed) is not kept: prepared ops carry no addresses,
 * and the replayed allocator hands out addresses of its own
 * (docs/backends.md).
 *
 * The edges, the renaming and which ops another thread waits for are
 * derived in one pass over the program before the clock starts (28 bytes
 * per op, mapped): dep[i] = (thread << 32) | (position in that thread's
 * list + 1), 0 for none; idx[] entries with PUBLISH set are ops some other
 * thread waits for. Only those publish the thread's progress (a seq_cst
 * store and a load of the sleepers count), so threads that do not interact
 * cost nothing. A waiter spins a little, then sleeps on a futex that the
 * publisher wakes only when someone sleeps (there are often more recorded
 * threads than cores: a spinning waiter would take the core from the
 * thread it waits for). Every edge points to an earlier op and each thread
 * goes in order, so there is no cycle and no deadlock. */
#define PUBLISH (1ull << 63)
#define WAIT_SPIN 128
#define WAIT_SLACK 4096

typedef struct tprog {
  /* As the thread others wait for: */
  _Atomic uint64_t done;     /* this thread's ops done, as last published */
  _Atomic uint32_t sleepers; /* threads asleep waiting on it */
  _Atomic uint32_t stalled;  /* 1 while it waits itself, and once it ended */
  uint64_t total;            /* its ops */
  char pad_[40];
  /* As a waiter, asleep: on whom (thread + 1, 0: not asleep), the ops of
   * it that it needs, the ops it would rather wait for (need + slack), and
   * the futex word its wakers bump. One cache line each half, so a
   * publisher's stores do not move a waiter's line. */
  _Atomic uint64_t need, want;
  _Atomic uint32_t on;
  _Atomic uint32_t wake;
  char pad2_[40];
} tprog_t;

typedef struct tworker {
  _Alignas(64) loop_t L; /* a copy: counters of its own, slots shared */
  const uint64_t *idx;   /* this thread's op indexes, in order (| PUBLISH) */
  uint64_t n;
  const uint64_t *dep;
  tprog_t *prog;
  unsigned t, n_threads;
  _Atomic int *go; /* 1: start; 2: give up (not every thread could start) */
  uint64_t blocked; /* edges not yet satisfied when reached */
  uint64_t end_ns;  /* hk_now_ns() after its last op */
} tworker_t;

/* CPU time of the whole process (all threads), in ns. */
static uint64_t process_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) return 0;
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  __asm__ volatile("" ::: "memory");
#endif
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wakes the sleepers waiting on thread me that done ops satisfy: with
 * any = 0 those whose want is met (me is running), with any = 1 those whose
 * need is (me is about to wait, or has ended, and will not publish). */
static void wake_satisfied(tprog_t *prog, unsigned me, unsigned n,
                           uint64_t done, int any) {
  for (unsigned w = 0; w < n; w++)
    if (atomic_load(&prog[w].on) == me + 1 &&
        atomic_load(any ? &prog[w].need : &prog[w].want) <= done) {
      atomic_fetch_add(&prog[w].wake, 1);
      futex_wake(&prog[w].wake);
    }
}

/* Whether a waiter on p for need ops (want preferred) may go on. */
static inline int satisfied(tprog_t *p, uint64_t need, uint64_t want) {
  uint64_t d = atomic_load(&p->done);
  return d >= want || (d >= need && atomic_load(&p->stalled));
}

/* Waits until thread t has published need ops; 1 if it had to wait. me is
 * the waiting thread, n the number of threads, spin the pauses before it
 * sleeps, slack how far past need it would rather let t run before it goes
 * on.
 *
 * Slack: a consumer that goes on as soon as its producer has made the one
 * record it frees finds the next record not made either, and the two run
 * in lockstep, a sleep and a wake per record (py-queue: 10,000 sleeps and
 * some 13,000 context switches per run). Waiting for need + slack lets t
 * run ahead as the recording's threads did (CPython's switch interval
 * hands the GIL over every 5 ms). It cannot deadlock: a thread that stops
 * publishing (it waits itself, or it ended) first sets stalled and wakes
 * every waiter whose need it has met, and a waiter that finds t stalled
 * goes on at need; so a sleeper always waits for an op not yet done, and
 * those edges point backwards in the causal order.
 *
 * No wake-up is lost: the waiter stores need, want and on, counts itself in
 * sleepers, reads its wake word, then re-reads done and stalled; a waker
 * stores done or stalled, then reads sleepers, on, need and want (all
 * seq_cst). Either the re-read sees the change, or the waker sees the
 * registration and bumps the wake word after the waiter read it, so
 * futex_wait returns at once. Waking only the satisfied sleepers (not every
 * sleeper at every publish) keeps the others asleep. */
static int wait_done(tprog_t *prog, unsigned me, unsigned t, uint64_t need,
                     unsigned spin, uint64_t slack, unsigned n) {
  tprog_t *p = &prog[t], *self = &prog[me];
  if (atomic_load_explicit(&p->done, memory_order_acquire) >= need) return 0;
  uint64_t want = need + slack < p->total ? need + slack : p->total;
  if (want < need) want = need;
  /* This thread stops publishing: release whoever it has satisfied. */
  atomic_store(&self->stalled, 1);
  if (atomic_load(&self->sleepers))
    wake_satisfied(prog, me, n, atomic_load(&self->done), 1);
  for (;;) {
    for (unsigned k = 0; k < spin; k++) {
      if (satisfied(p, need, want)) goto out;
      cpu_relax();
    }
    atomic_store(&self->need, need);
    atomic_store(&self->want, want);
    atomic_store(&self->on, t + 1);
    atomic_fetch_add(&p->sleepers, 1);
    uint32_t v = atomic_load(&self->wake);
    if (!satisfied(p, need, want)) futex_wait(&self->wake, v);
    atomic_fetch_sub(&p->sleepers, 1);
    atomic_store(&self->on, 0);
    if (satisfied(p, need, want)) break;
  }
out:
  atomic_store(&self->stalled, 0);
  return 1;
}

/* Publishes that thread me has done done ops; wakes the sleepers whose want
 * that meets (a sleeper woken twice, or a thread woken as it stops waiting,
 * only loops once more). */
static void publish(tprog_t *prog, unsigned me, unsigned n, uint64_t done) {
  atomic_store(&prog[me].done, done);
  if (atomic_load(&prog[me].sleepers)) wake_satisfied(prog, me, n, done, 0);
}

/* Thread me has done all its ops: it will not publish again. */
static void finish(tprog_t *prog, unsigned me, unsigned n) {
  atomic_store(&prog[me].done, prog[me].total);
  atomic_store(&prog[me].stalled, 1);
  if (atomic_load(&prog[me].sleepers))
    wake_satisfied(prog, me, n, prog[me].total, 1);
}

static void *tworker_run(void *arg) {
  tworker_t *w = arg;
  loop_t *L = &w->L;
  int g;
  while ((g = atomic_load_explicit(w->go, memory_order_acquire)) == 0)
    sched_yield();
  if (g != 1) return NULL;
  for (uint64_t k = 0; k < w->n; k++) {
    uint64_t e = w->idx[k], i = e & ~PUBLISH, d = w->dep[i];
    if (d)
      w->blocked += wait_done(w->prog, w->t, (unsigned)(d >> 32),
                              d & 0xffffffffu, WAIT_SPIN, WAIT_SLACK,
                              w->n_threads);
    if (L->gap_tpn > 0) gap_spend(L, i);
    if (L->lat && i % L->every == 0)
      step(L, i, 1, 1);
    else
      step(L, i, 0, 1);
    if (e & PUBLISH) publish(w->prog, w->t, w->n_threads, k + 1);
  }
  finish(w->prog, w->t, w->n_threads);
  w->end_ns = hk_now_ns();
  return NULL;
}

/* Whether op o makes a new object when its prepared slot holds none. */
static inline int ends_object(const trc_pop_t *o) {
  return o->op == TRC_OP_FREE ||
         ((o->op == TRC_OP_REALLOC || o->op == TRC_OP_REALLOCARRAY) &&
          o->size == 0);
}

/* The threaded replay's plan: the edges, the renamed slots and each
 * thread's op list, derived from the program before the kernel counters and
 * the RSS base are read, so that the harness's 28 bytes an op are neither
 * counted as the allocator's page faults nor as its peak RSS (they were:
 * py-queue's threaded runs showed 28,000 faults and 108 MiB for every back
 * end against 2,500 and 9 MiB serial). */
typedef struct tplan {
  uint64_t end;
  unsigned n_threads;
  size_t n8, n4, s8, s4;
  uint64_t *idx, *dep, *cur, *off;
  uint32_t *pos, *rs, *next, *rmap, *head;
  tprog_t *prog;
  tworker_t *w;
  pthread_t *tid;
  slot_t *rslots;
  uint32_t nrs;
} tplan_t;

static void tplan_free(tplan_t *P) {
  rpl_unmap(P->idx, P->n8);
  rpl_unmap(P->dep, P->n8);
  rpl_unmap(P->pos, P->n4);
  rpl_unmap(P->rs, P->n4);
  rpl_unmap(P->next, P->n4);
  rpl_unmap(P->cur, P->s8);
  rpl_unmap(P->rmap, P->s4);
  rpl_unmap(P->head, P->n_threads * sizeof(uint32_t));
  rpl_unmap(P->off, (P->n_threads + 1) * sizeof(uint64_t));
  rpl_unmap(P->prog, P->n_threads * sizeof(tprog_t));
  rpl_unmap(P->w, P->n_threads * sizeof(tworker_t));
  rpl_unmap(P->tid, P->n_threads * sizeof(pthread_t));
  rpl_unmap(P->rslots, (size_t)(P->nrs ? P->nrs : 1) * sizeof(slot_t));
  memset(P, 0, sizeof *P);
}

/* Derives the plan for ops[0, end) of L's program with n_threads threads;
 * per thread, the edges it has go into rows[] (n_threads rows). 0, or
 * HK_E_NOMEM / HK_E_CORRUPT (the plan is then freed). */
static int tplan_make(tplan_t *P, const loop_t *L, uint64_t end,
                      uint32_t n_slots, unsigned n_threads,
                      rpl_thread_row_t *rows) {
  const trc_pop_t *ops = L->ops;
  memset(P, 0, sizeof *P);
  P->end = end;
  P->n_threads = n_threads;
  P->n8 = (size_t)(end ? end : 1) * sizeof(uint64_t);
  P->n4 = (size_t)(end ? end : 1) * sizeof(uint32_t);
  P->s8 = (size_t)(n_slots ? n_slots : 1) * sizeof(uint64_t);
  P->s4 = (size_t)(n_slots ? n_slots : 1) * sizeof(uint32_t);
  uint64_t *idx = P->idx = rpl_map(P->n8, 1), *dep = P->dep = rpl_map(P->n8, 1);
  uint32_t *pos = P->pos = rpl_map(P->n4, 1), *rs = P->rs = rpl_map(P->n4, 1),
           *next = P->next = rpl_map(P->n4, 1);
  uint64_t *cur = P->cur = rpl_map(P->s8, 1); /* live object's last op + 1 */
  uint32_t *rmap = P->rmap = rpl_map(P->s4, 1); /* its replay slot */
  uint32_t *head = P->head = rpl_map(n_threads * sizeof(uint32_t), 1);
  uint64_t *off = P->off = rpl_map((n_threads + 1) * sizeof(uint64_t), 1);
  tprog_t *prog = P->prog = rpl_map(n_threads * sizeof(tprog_t), 1);
  P->w = rpl_map(n_threads * sizeof(tworker_t), 1);
  P->tid = rpl_map(n_threads * sizeof(pthread_t), 1);
  int rc = 0;
  if (!idx || !dep || !pos || !rs || !next || !cur || !rmap || !head || !off ||
      !prog || !P->w || !P->tid) {
    rc = HK_E_NOMEM;
    goto fail;
  }
  /* Thread t's ops are idx[off[t], off[t + 1]); pos[i] is op i's place
   * in its thread's list (prog[] is borrowed as the fill cursors). */
  for (uint64_t i = 0; i < end; i++) {
    if (ops[i].thread >= n_threads) {
      rc = HK_E_CORRUPT; /* the program names more threads than it has */
      goto fail;
    }
    off[ops[i].thread + 1]++;
  }
  for (unsigned t = 0; t < n_threads; t++) off[t + 1] += off[t];
  uint64_t *fill = (uint64_t *)prog; /* zeroed, n_threads * 128 bytes */
  for (uint64_t i = 0; i < end; i++) {
    unsigned t = ops[i].thread;
    uint64_t k = fill[16 * t]++;
    idx[off[t] + k] = i;
    pos[i] = (uint32_t)k;
  }
  memset(prog, 0, n_threads * sizeof(tprog_t));
  memset(head, 0xff, n_threads * sizeof(uint32_t));
  uint32_t nrs = 0;
  for (uint64_t i = 0; i < end; i++) {
    const trc_pop_t *o = &ops[i];
    if (o->flags & TRC_PF_FAILED) continue;
    unsigned t = o->thread;
    uint64_t j = cur[o->slot];
    uint32_t r;
    if (j) {
      r = rmap[o->slot];
      const trc_pop_t *q = &ops[j - 1];
      if (q->thread != t) {
        dep[i] = (uint64_t)q->thread << 32 | (pos[j - 1] + 1ull);
        idx[off[q->thread] + pos[j - 1]] |= PUBLISH;
        rows[t].edges++;
      }
    } else if (o->op != TRC_OP_FREE && head[t] != UINT32_MAX) {
      r = head[t]; /* a slot this thread freed */
      head[t] = next[r];
    } else {
      r = nrs++; /* (a free of nothing gets an empty slot of its own) */
    }
    rs[i] = r;
    if (ends_object(o)) {
      cur[o->slot] = 0;
      next[r] = head[t];
      head[t] = r;
    } else {
      cur[o->slot] = i + 1;
      rmap[o->slot] = r;
    }
  }
  P->nrs = nrs;
  P->rslots = rpl_map((size_t)(nrs ? nrs : 1) * sizeof(slot_t), 1);
  if (!P->rslots) {
    rc = HK_E_NOMEM;
    goto fail;
  }
  return 0;
fail:
  tplan_free(P);
  return rc;
}

/* Replays the planned ops with one thread per recorded thread; the wall
 * time from the start barrier to the last join in *ns, the process's CPU
 * time over the same span in *cpu; per thread, how many edges it waited on
 * and its own time into rows[]. The blocks still live at the end are freed
 * (untimed). 0, or HK_E_NOMEM when the threads could not be started
 * (nothing was replayed). */
static int tplan_run(tplan_t *P, loop_t *L, uint64_t *ns, uint64_t *cpu,
                     rpl_thread_row_t *rows) {
  const trc_pop_t *ops = L->ops;
  unsigned n_threads = P->n_threads;
  tworker_t *w = P->w;
  int rc = 0;
  _Atomic int go = 0;
  unsigned made = 0;
  for (unsigned t = 0; t < n_threads; t++) {
    w[t].L = *L;
    if (L->gap_buf) { /* each thread walks a buffer of its own */
      w[t].L.gap_buf = rpl_map(L->gap_ws, 1);
      if (!w[t].L.gap_buf) break;
    }
    if (P->off[t + 1] > P->off[t])
      w[t].L.gap_prev = ops[P->idx[P->off[t]] & ~PUBLISH].time_ns;
    w[t].L.slots = P->rslots;
    w[t].L.rs = P->rs;
    w[t].idx = P->idx + P->off[t];
    w[t].n = P->off[t + 1] - P->off[t];
    w[t].dep = P->dep;
    w[t].prog = P->prog;
    w[t].t = t;
    w[t].n_threads = n_threads;
    P->prog[t].total = w[t].n;
    w[t].go = &go;
    if (pthread_create(&P->tid[t], NULL, tworker_run, &w[t])) break;
    made++;
  }
  if (made < n_threads) rc = HK_E_NOMEM; /* ops would wait for ever */
  uint64_t c0 = process_cpu_ns(), w0 = hk_now_ns();
  atomic_store_explicit(&go, rc ? 2 : 1, memory_order_release);
  for (unsigned t = 0; t < made; t++) pthread_join(P->tid[t], NULL);
  *ns = hk_now_ns() - w0;
  *cpu = process_cpu_ns() - c0; /* the workers' CPU, and the joining wait */
  /* Fold the workers' counters back into L. */
  for (unsigned t = 0; t < made && !rc; t++) {
    L->alloc_failures += w[t].L.alloc_failures;
    rows[t].blocked = w[t].blocked;
    rows[t].ns = w[t].end_ns > w0 ? w[t].end_ns - w0 : 0;
    if (w[t].L.failed && !L->failed) {
      L->failed = 1;
      L->status = w[t].L.status;
      memcpy(L->error, w[t].L.error, sizeof L->error);
    }
  }
  for (unsigned t = 0; t < n_threads && L->gap_buf; t++)
    rpl_unmap(w[t].L.gap_buf, L->gap_ws);
  for (uint32_t r = 0; r < P->nrs; r++) /* what the program left live */
    if (P->rslots[r].p)
      L->be->free(L->ctx, P->rslots[r].p, P->rslots[r].size, 0, 0);
  return rc;
}

/* Live bytes and objects over the program in its causal order (the
 * threaded loop's counters are per thread and cannot say it). */
static void serial_peaks(const trc_pop_t *ops, uint64_t end, uint32_t n_slots,
                         loop_t *L) {
  size_t len = (size_t)(n_slots ? n_slots : 1) * sizeof(uint64_t);
  uint64_t *sz = rpl_map(len, 0);
  if (!sz) return;
  uint64_t live = 0, objs = 0;
  for (uint64_t i = 0; i < end; i++) {
    const trc_pop_t *o = &ops[i];
    if (o->flags & TRC_PF_FAILED) continue;
    uint64_t old = sz[o->slot];
    if (o->op == TRC_OP_FREE) {
      if (old) objs--;
      live -= old;
      sz[o->slot] = 0;
    } else {
      uint64_t n = o->size ? o->size : 1;
      if (!old) objs++;
      live += n - old;
      sz[o->slot] = n;
    }
    if (live > L->peak_live) L->peak_live = live;
    if (objs > L->peak_objs) L->peak_objs = objs;
  }
  rpl_unmap(sz, len);
}

/* ---- after the loop --------------------------------------------------- */

/* LSD radix sort of 32-bit keys, two 16-bit passes. */
static void radix_sort(uint32_t *a, uint32_t *tmp, uint64_t n) {
  static uint64_t cnt[65536];
  for (int pass = 0; pass < 2; pass++) {
    int sh = pass * 16;
    memset(cnt, 0, sizeof cnt);
    for (uint64_t i = 0; i < n; i++) cnt[(a[i] >> sh) & 0xffff]++;
    uint64_t sum = 0;
    for (int k = 0; k < 65536; k++) {
      uint64_t c = cnt[k];
      cnt[k] = sum;
      sum += c;
    }
    for (uint64_t i = 0; i < n; i++) tmp[cnt[(a[i] >> sh) & 0xffff]++] = a[i];
    memcpy(a, tmp, n * sizeof *a);
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Below this many latencies a comparison sort is cheaper than the radix
 * sort's two passes over 65536 counters (which made each run of a small
 * program cost about 100 ms in the instrumented fuzzing build). */
#define RADIX_MIN 65536

static double rank(const uint32_t *v, uint64_t n, double p) {
  uint64_t k = (uint64_t)(p * (double)n + 0.999999);
  if (k == 0) k = 1;
  if (k > n) k = n;
  return v[k - 1];
}

/* Converts raw ticks to ns (timer overhead subtracted) and computes the
 * percentiles. */
static int finish_latencies(rpl_result_t *res) {
  double scale = 1e9 / (double)res->tsc_hz, ovh = res->timer_overhead_ticks;
  uint64_t n = 0;
  double sum = 0, mx = 0;
  for (uint64_t k = 0; k < res->n_lat; k++) {
    uint32_t t = res->lat[k];
    if (t == RPL_LAT_NONE) continue;
    double ns = ((double)t - ovh) * scale;
    if (ns < 0) ns = 0;
    uint32_t v = ns > 4e9 ? 4000000000u : (uint32_t)(ns + 0.5);
    res->lat[k] = v;
    sum += v;
    if (v > mx) mx = v;
    n++;
  }
  res->timed = n;
  if (n == 0) return 0;
  uint32_t *v = rpl_map(n * sizeof *v, 0), *tmp = rpl_map(n * sizeof *v, 0);
  if (!v || !tmp) {
    rpl_unmap(v, n * sizeof *v);
    rpl_unmap(tmp, n * sizeof *v);
    return HK_E_NOMEM;
  }
  uint64_t j = 0;
  for (uint64_t k = 0; k < res->n_lat; k++)
    if (res->lat[k] != RPL_LAT_NONE) v[j++] = res->lat[k];
  if (n < RADIX_MIN)
    qsort(v, n, sizeof *v, cmp_u32);
  else
    radix_sort(v, tmp, n);
  res->median_ns = rank(v, n, 0.50);
  res->p95_ns = rank(v, n, 0.95);
  res->p99_ns = rank(v, n, 0.99);
  res->mean_ns = sum / (double)n;
  res->max_ns = mx;
  rpl_unmap(v, n * sizeof *v);
  rpl_unmap(tmp, n * sizeof *v);
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank of sorted v, as rank() for the per-op latencies. */
static double rank_d(const double *v, uint64_t n, double p) {
  uint64_t k = (uint64_t)(p * (double)n + 0.999999);
  if (k == 0) k = 1;
  if (k > n) k = n;
  return v[k - 1];
}

/* Span modes: each span's ticks to ns (the timer's overhead subtracted
 * once a span), and the percentiles over spans of ns per op within a
 * batch, or ns per iteration. timed counts the ops the spans cover. */
static int finish_spans(rpl_result_t *res) {
  double scale = 1e9 / (double)res->tsc_hz, ovh = res->timer_overhead_ticks;
  uint64_t n = 0;
  for (uint64_t k = 0; k < res->n_lat; k++)
    n += res->lat[k] != RPL_LAT_NONE && res->lat[k] != RPL_LAT_SPAN;
  res->spans = n;
  res->timed = 0;
  if (n == 0) return 0;
  double *v = rpl_map(n * sizeof *v, 0);
  if (!v) return HK_E_NOMEM;
  uint64_t j = 0, covered = 0;
  double sum = 0, mx = 0;
  for (uint64_t k = 0; k < res->n_lat; k++) {
    uint32_t t = res->lat[k];
    if (t == RPL_LAT_NONE || t == RPL_LAT_SPAN) continue;
    uint64_t m = 1;
    while (k + m < res->n_lat && res->lat[k + m] == RPL_LAT_SPAN) m++;
    double ns = ((double)t - ovh) * scale;
    if (ns < 0) ns = 0;
    res->lat[k] = ns > 4e9 ? 4000000000u : (uint32_t)(ns + 0.5);
    double x = res->span == RPL_SPAN_BATCH ? ns / (double)m : ns;
    v[j++] = x;
    sum += x;
    if (x > mx) mx = x;
    covered += m;
  }
  qsort(v, n, sizeof *v, cmp_double);
  res->timed = covered;
  res->median_ns = rank_d(v, n, 0.50);
  res->p95_ns = rank_d(v, n, 0.95);
  res->p99_ns = rank_d(v, n, 0.99);
  res->mean_ns = sum / (double)n;
  res->max_ns = mx;
  rpl_unmap(v, n * sizeof *v);
  return 0;
}

/* The run digest: the decision sequence. Every op's kind, slot, size,
 * alignment, flags and thread in order (what was asked), the back end's
 * per-op decision where it has one (hakmem: the path taken), refused
 * allocations, and the back end's own digest (hakmem: the policy's).
 * Never pointer values: they differ between identical runs. Neither the
 * seed, the policy's name nor the settings are mixed in (runs stores them
 * beside the digest): the same decisions give the same digest. */
static void digest(const rpl_exec_cfg_t *cfg, const trc_pop_t *ops,
                   uint64_t n_ops, const uint8_t *dec, uint64_t done,
                   const loop_t *L, rpl_result_t *res) {
  hk_digest_t *d = hk_digest_create();
  if (!d) return;
  hk_digest_update(d, "rpl-digest-2", 12);
  hk_digest_update(d, cfg->backend->name, strlen(cfg->backend->name) + 1);
  hk_digest_u64(d, done);
  uint64_t buf[3 * 512];
  size_t m = 0;
  for (uint64_t i = 0; i < done; i++) {
    const trc_pop_t *o = &ops[i];
    buf[m++] = o->size;
    buf[m++] = (uint64_t)o->slot | (uint64_t)o->thread << 32 |
               (uint64_t)o->op << 48 | (uint64_t)o->flags << 56;
    buf[m++] = (uint64_t)o->align_log2 | (dec ? (uint64_t)dec[i] << 8 : 0);
    if (m == HK_ARRAY_LEN(buf)) {
      hk_digest_update(d, buf, m * sizeof buf[0]);
      m = 0;
    }
  }
  if (m) hk_digest_update(d, buf, m * sizeof buf[0]);
  hk_digest_u64(d, L->alloc_failures);
  hk_digest_update(d, res->be.digest, strlen(res->be.digest));
  hk_digest_hex(d, res->digest);
  hk_digest_free(d);
}

/* Per-thread digests (rpl_thread_row_t): each recorded thread's ops in its
 * own order, with the words and decisions the run digest takes, then its
 * refused allocations. The interleaving of the threads is not in them, so
 * a threaded run, whose interleaving varies from run to run, has the same
 * per-thread digests as the serial run of the program. The ops are grouped
 * by thread with a counting sort (8 bytes an op, mapped, after the loop). */
static int thread_digests(const char *backend, const trc_pop_t *ops,
                          uint64_t done,
                          const uint8_t *dec, const uint64_t *tfail,
                          rpl_thread_row_t *rows, unsigned n_threads) {
  size_t n8 = (size_t)(done ? done : 1) * sizeof(uint64_t);
  size_t o8 = (size_t)(n_threads + 1) * sizeof(uint64_t);
  uint64_t *by = rpl_map(n8, 0), *off = rpl_map(o8, 1);
  hk_digest_t *d = hk_digest_create();
  int rc = 0;
  if (!by || !off || !d) {
    rc = HK_E_NOMEM;
    goto out;
  }
  for (uint64_t i = 0; i < done; i++) off[ops[i].thread + 1]++;
  for (unsigned t = 0; t < n_threads; t++) off[t + 1] += off[t];
  for (uint64_t i = 0; i < done; i++) by[off[ops[i].thread]++] = i;
  for (unsigned t = n_threads; t > 0; t--) off[t] = off[t - 1];
  off[0] = 0;
  uint64_t buf[3 * 512];
  for (unsigned t = 0; t < n_threads; t++) {
    rpl_thread_row_t *r = &rows[t];
    r->thread = t;
    hk_digest_reset(d);
    hk_digest_update(d, "rpl-thread-1", 12);
    hk_digest_update(d, backend, strlen(backend) + 1);
    hk_digest_u64(d, t);
    size_t m = 0;
    for (uint64_t k = off[t]; k < off[t + 1]; k++) {
      uint64_t i = by[k];
      const trc_pop_t *o = &ops[i];
      r->ops += !(o->flags & TRC_PF_FAILED);
      buf[m++] = o->size;
      buf[m++] = (uint64_t)o->slot | (uint64_t)o->op << 48 |
                 (uint64_t)o->flags << 56;
      buf[m++] = (uint64_t)o->align_log2 | (dec ? (uint64_t)dec[i] << 8 : 0);
      if (m == HK_ARRAY_LEN(buf)) {
        hk_digest_update(d, buf, m * sizeof buf[0]);
        m = 0;
      }
    }
    if (m) hk_digest_update(d, buf, m * sizeof buf[0]);
    r->alloc_failures = tfail[t];
    hk_digest_u64(d, r->alloc_failures);
    hk_digest_hex(d, r->digest);
  }
out:
  hk_digest_free(d);
  rpl_unmap(by, n8);
  rpl_unmap(off, o8);
  return rc;
}

/* Per-site outcomes from the per-op decisions: one pass over the ops run,
 * counts in a table indexed by stack id (mapped, not the heap under test). */
static int site_rows(const trc_pop_t *ops, uint64_t done, const uint8_t *dec,
                     rpl_result_t *res) {
  uint32_t max = 0;
  for (uint64_t i = 0; i < done; i++)
    if (ops[i].site > max) max = ops[i].site;
  size_t len = ((size_t)max + 1) * sizeof(rpl_site_row_t);
  rpl_site_row_t *t = rpl_map(len, 1);
  if (!t) return HK_E_NOMEM;
  for (uint64_t i = 0; i < done; i++) {
    const trc_pop_t *o = &ops[i];
    if (o->op == TRC_OP_FREE || (o->flags & TRC_PF_FAILED)) continue;
    rpl_site_row_t *r = &t[o->site];
    r->allocs++;
    r->hits += (dec[i] & RPL_DEC_CACHE_HIT) != 0;
    r->misses += (dec[i] & RPL_DEC_CACHE_MISS) != 0;
  }
  uint64_t n = 0;
  for (uint32_t k = 0; k <= max; k++) {
    if (!t[k].allocs) continue;
    t[k].site = k;
    t[n++] = t[k]; /* compact in place: n <= k */
  }
  res->sites = t;
  res->n_sites = n;
  res->sites_len_ = len;
  return 0;
}

static int pol_sink(void *ctx, const rpl_pol_row_t *row) {
  rpl_result_t *res = ctx;
  /* After the loop: the growth costs nothing timed. */
  if (rpl_map_grow(&res->pol, &res->pol_cap_, res->n_pol, sizeof *res->pol))
    return HK_E_NOMEM;
  res->pol[res->n_pol++] = *row;
  return 0;
}

void rpl_result_release(rpl_result_t *res) {
  rpl_unmap(res->lat, res->n_lat * sizeof *res->lat);
  rpl_unmap(res->rss, res->rss_cap_ * sizeof *res->rss);
  rpl_unmap(res->pol, res->pol_cap_ * sizeof *res->pol);
  rpl_unmap(res->sites, res->sites_len_);
  rpl_unmap(res->threads, res->n_threads * sizeof *res->threads);
  res->threads = NULL;
  res->n_threads = 0;
  res->lat = NULL;
  res->rss = NULL;
  res->pol = NULL;
  res->sites = NULL;
  res->n_sites = res->sites_len_ = 0;
  res->n_lat = res->n_rss = res->n_pol = res->rss_cap_ = res->pol_cap_ = 0;
}

static void fail(rpl_result_t *res, int code, const char *fmt, const char *a,
                 const char *b) {
  res->status = code ? code : HK_E_STATE;
  snprintf(res->error, sizeof res->error, fmt, a, b);
}

int rpl_exec(const rpl_exec_cfg_t *cfg, const trc_pop_t *ops, uint64_t n_ops,
             uint32_t n_slots, rpl_result_t *res) {
  memset(res, 0, sizeof *res);
  const rpl_backend_t *be = cfg->backend;
  char why[200] = "";
  loop_t L;
  memset(&L, 0, sizeof L);
  L.be = be;
  L.before_op = be->before_op;
  L.ops = ops;
  L.touch = cfg->touch;
  L.mem_limit = cfg->mem_limit;
  L.page = (uint64_t)sysconf(_SC_PAGESIZE);
  res->sample_every = cfg->sample_every;
  res->span = cfg->span;
  res->batch_k = cfg->span == RPL_SPAN_BATCH ? cfg->batch_k : 0;
  L.span = cfg->span;
  L.batch_k = cfg->batch_k > 1 ? cfg->batch_k : 2;
  snprintf(res->timer_method, sizeof res->timer_method, "%s",
           HK_HAVE_TSC ? "rdtsc+lfence/rdtscp+lfence" : "clock_gettime");

  /* The program must be well formed before anything trusts its slots (a
   * recorded failure has no object, slot UINT32_MAX, and is skipped). */
  unsigned n_rows = cfg->be.threads; /* per-thread rows: every thread named */
  for (uint64_t i = 0; i < n_ops; i++) {
    if (ops[i].thread >= n_rows) n_rows = ops[i].thread + 1u;
    if ((ops[i].slot >= n_slots && !(ops[i].flags & TRC_PF_FAILED)) ||
        ops[i].op == 0 || ops[i].op >= TRC_OP_COUNT) {
      char at[32];
      snprintf(at, sizeof at, "%llu", (unsigned long long)i);
      fail(res, HK_E_CORRUPT, "prepared program is malformed at op %s%s", at,
           "");
      return 0;
    }
  }

  int rc = be->available(why, sizeof why);
  if (rc < 0) {
    fail(res, HK_E_BACKEND, "backend %s not available: %s",
         cfg->be.arg ? cfg->be.arg : be->name, why);
    return 0;
  }
  rpl_be_config_t bcfg = cfg->be;
  bcfg.ops = ops;
  bcfg.n_ops = n_ops;
  rc = be->init(&L.ctx, &bcfg, why, sizeof why);
  if (rc < 0) {
    fail(res, HK_E_BACKEND, "backend %s failed to start: %s",
         cfg->be.arg ? cfg->be.arg : be->name, why);
    if (cfg->mem_limit) { /* a back end reserving memory up front */
      char lim[32];
      size_t n = strlen(res->error);
      rpl_size_text(cfg->mem_limit, lim, sizeof lim);
      snprintf(res->error + n, sizeof res->error - n,
               " (under --mem-limit %s)", lim);
    }
    return 0;
  }

  size_t slots_len = (size_t)(n_slots ? n_slots : 1) * sizeof(slot_t);
  L.slots = rpl_map(slots_len, 1);
  uint32_t every = cfg->span ? 1 : cfg->sample_every;
  size_t pend_len = cfg->span == RPL_SPAN_BATCH
                        ? (size_t)L.batch_k * sizeof *L.pend : 0;
  if (pend_len) L.pend = rpl_map(pend_len, 0);
  if (every) {
    L.every = every;
    res->n_lat = (n_ops + every - 1) / every;
    res->lat = rpl_map(res->n_lat * sizeof *res->lat, 0);
    if (res->lat) memset(res->lat, 0xff, res->n_lat * sizeof *res->lat);
  } else {
    L.every = 1;
  }
  if (be->last_decision) L.dec = rpl_map(n_ops, 1);
  uint64_t rss_cap = cfg->rss_every ? n_ops / cfg->rss_every + 2 : 1;
  res->rss = rpl_map((rss_cap + 1) * sizeof *res->rss, 1);
  res->rss_cap_ = res->rss ? rss_cap + 1 : 0;
  res->n_rss = 0;
  size_t tfail_len = (size_t)n_rows * sizeof(uint64_t);
  if (n_rows > 1) {
    res->threads = rpl_map(n_rows * sizeof *res->threads, 1);
    L.tfail = rpl_map(tfail_len, 1);
    /* Numbered now, not only by thread_digests: a run that fails before
     * (or in) it still stores one row per thread, never n rows of thread
     * 0, which the database refuses (run_thread's key), hiding the run's
     * own error. */
    for (unsigned t = 0; res->threads && t < n_rows; t++)
      res->threads[t].thread = t;
  }
  if (!L.slots || (every && !res->lat) || (be->last_decision && !L.dec) ||
      !res->rss || (n_rows > 1 && (!res->threads || !L.tfail)) ||
      (pend_len && !L.pend)) {
    be->release(L.ctx);
    rpl_unmap(L.pend, pend_len);
    rpl_unmap(L.slots, slots_len);
    rpl_unmap(L.dec, n_ops);
    rpl_unmap(L.tfail, tfail_len);
    return HK_E_NOMEM;
  }
  res->n_threads = n_rows > 1 ? n_rows : 0;
  L.lat = res->lat;

  rpl_exec_setup_t own;
  const rpl_exec_setup_t *su = cfg->setup;
  if (!su) { /* this run's own set-up, released at its end */
    memset(&own, 0, sizeof own);
    own.tsc_hz = cfg->tsc_hz;
    setup_measure(&own);
    su = &own;
  }
  res->tsc_hz = su->tsc_hz;
  if (cfg->gap_scale > 0) {
    L.gap_tpn = cfg->gap_scale * (double)res->tsc_hz / 1e9;
    L.gap_min = (int64_t)(res->tsc_hz / 10000000u) + 1;
    L.gap_ws = cfg->gap_ws;
    if (L.gap_ws) {
      L.gap_ws = (L.gap_ws + 63) & ~63ull; /* whole lines */
      L.gap_buf = rpl_map(L.gap_ws, 1);
      if (!L.gap_buf) {
        be->release(L.ctx);
        rpl_unmap(L.slots, slots_len);
        rpl_unmap(L.dec, n_ops);
        rpl_unmap(L.tfail, tfail_len);
        return HK_E_NOMEM;
      }
    }
    if (n_ops) L.gap_prev = ops[0].time_ns;
  }
  res->timer_overhead_ticks = su->overhead_ticks;
  uint64_t gran = su->resolution_ticks;
  res->timer_resolution_ns = (double)gran * 1e9 / (double)res->tsc_hz;
  size_t ml = strlen(res->timer_method);
  snprintf(res->timer_method + ml, sizeof res->timer_method - ml,
           ", resolution %llu ticks (%.1f ns)", (unsigned long long)gran,
           res->timer_resolution_ns);

  /* Harness memory out of the allocator's peak by construction: fault in
   * the mapped program now (32 bytes an op, mapped from the .hkp file, else
   * faulted during the loop and counted), so that base covers it. */
  {
    volatile const uint8_t *b = (const uint8_t *)ops;
    size_t bytes = n_ops * sizeof *ops;
    uint8_t sink = 0;
    for (size_t off = 0; off < bytes; off += (size_t)L.page) sink ^= b[off];
    if (bytes) sink ^= b[bytes - 1];
    (void)sink;
  }
  uint64_t block = 1 << 16, end = n_ops;
  if (cfg->rss_every && cfg->rss_every < block) block = cfg->rss_every;
  if (cfg->crash_after && cfg->crash_after < end) end = cfg->crash_after;
  unsigned nthr = cfg->be.threads;
  int threaded = cfg->threaded && rpl_backend_threadable(be) && nthr > 1 &&
                 !cfg->crash_after && !cfg->span;
  tplan_t plan;
  int plan_rc = threaded ? tplan_make(&plan, &L, end, n_slots, nthr, res->threads)
                         : 0;

  if (su == &own) rpl_counters_open(&own.counters);
  rpl_counters_t C = su->counters; /* shared fds: start resets them */
  rpl_rss_reset_peak();
  res->base_rss_bytes = rpl_rss_now(&C);

  uint64_t excluded = 0, excluded_cpu = 0;
  uint64_t next_rss = cfg->rss_every ? 0 : UINT64_MAX;

  res->replay_threads = threaded ? nthr : 1;
  rpl_counters_start(&C);
  uint64_t c0 = process_cpu_ns(), w0 = hk_now_ns(), tns = 0, tcpu = 0;
  if (threaded) {
    rc = plan_rc ? plan_rc : tplan_run(&plan, &L, &tns, &tcpu, res->threads);
    if (rc) {
      L.failed = 1;
      L.status = rc;
      snprintf(L.error, sizeof L.error,
               "threaded replay: cannot start %u threads: %s", nthr,
               hk_strerror(rc));
    }
    serial_peaks(ops, end, n_slots, &L);
  }
  for (uint64_t i = threaded ? end : 0; i < end;) {
    if (i >= next_rss && res->n_rss < rss_cap) {
      uint64_t s0 = hk_now_ns(), sc0 = process_cpu_ns();
      rpl_rss_row_t *r = &res->rss[res->n_rss++];
      r->op_seq = i;
      r->rss_bytes = rpl_rss_now(&C);
      r->live_bytes = L.live;
      next_rss = i + cfg->rss_every;
      if (be->at_op) be->at_op(L.ctx, i);
      if (cfg->progress) *cfg->progress = i;
      excluded += hk_now_ns() - s0;
      excluded_cpu += process_cpu_ns() - sc0;
    } else if (cfg->progress) {
      *cfg->progress = i;
    }
    if (HK_UNLIKELY(L.failed && L.status == HK_E_NOMEM)) {
      end = i; /* the cap was hit: what follows would not be the trace */
      break;
    }
    uint64_t to = i + block < end ? i + block : end;
    if (cfg->span)
      block_spans(&L, i, to);
    else if (L.gap_tpn > 0)
      block_gaps(&L, i, to);
    else if (every)
      block_timed(&L, i, to);
    else
      block_untimed(&L, i, to);
    i = to;
  }
  uint64_t w1 = hk_now_ns(), c1 = process_cpu_ns();
  rpl_counters_stop(&C, res);
  if (threaded && !plan_rc) tplan_free(&plan); /* uncounted, as it was made */
  if (cfg->crash_after && cfg->crash_after <= n_ops) {
    signal(SIGSEGV, SIG_DFL); /* a sanitizer's handler would exit(1) */
    raise(SIGSEGV);
  }
  if (cfg->rss_every && res->n_rss < res->rss_cap_) {
    rpl_rss_row_t *r = &res->rss[res->n_rss++];
    r->op_seq = end;
    r->rss_bytes = rpl_rss_now(&C);
    r->live_bytes = L.live;
  }
  if (cfg->progress) *cfg->progress = end;
  res->total_ns = threaded ? tns : w1 - w0 - excluded;
  res->cpu_ns = threaded ? tcpu
                         : (c1 - c0 > excluded_cpu ? c1 - c0 - excluded_cpu
                                                   : 0);
  res->peak_rss_gross_bytes = rpl_rss_peak();
  res->peak_rss_bytes = res->peak_rss_gross_bytes > res->base_rss_bytes
                            ? res->peak_rss_gross_bytes - res->base_rss_bytes
                            : 0;
  if (su == &own) rpl_counters_close(&C);

  uint64_t done = 0;
  for (uint64_t i = 0; i < end; i++) done += !(ops[i].flags & TRC_PF_FAILED);
  res->ops = done;
  res->alloc_failures = L.alloc_failures;
  res->peak_live_bytes = L.peak_live;
  res->peak_live_objects = L.peak_objs;

  if (be->stats) be->stats(L.ctx, &res->be);
  if (res->sys_method == RPL_SYS_NONE && res->be.have_os) {
    res->sys_method = RPL_SYS_BACKEND;
    res->mmap_calls = res->be.os_mmap;
    res->munmap_calls = res->be.os_munmap;
    res->madvise_calls = res->be.os_madvise;
  }
  /* The final state, at the program's own op count. */
  if (be->at_op) be->at_op(L.ctx, end);
  if (be->timeline) be->timeline(L.ctx, pol_sink, res);
  digest(cfg, ops, n_ops, L.dec, end, &L, res);
  if (res->threads &&
      thread_digests(be->name, ops, end, L.dec, L.tfail, res->threads, n_rows)) {
    res->status = HK_E_NOMEM;
    snprintf(res->error, sizeof res->error, "out of memory for per-thread rows");
  }
  if (L.dec && site_rows(ops, end, L.dec, res)) {
    res->status = HK_E_NOMEM;
    snprintf(res->error, sizeof res->error, "out of memory for per-site rows");
  }
  if (L.failed) {
    res->status = L.status;
    snprintf(res->error, sizeof res->error, "%s", L.error);
  }
  rc = cfg->span ? finish_spans(res) : finish_latencies(res);

  /* Free what is live so the back end's release sees a clean heap. */
  for (uint32_t s = 0; s < n_slots; s++)
    if (L.slots[s].p) be->free(L.ctx, L.slots[s].p, L.slots[s].size, 0, 0);
  be->release(L.ctx);
  rpl_unmap(L.pend, pend_len);
  rpl_unmap(L.slots, slots_len);
  rpl_unmap(L.dec, n_ops);
  rpl_unmap(L.tfail, tfail_len);
  rpl_unmap(L.gap_buf, L.gap_ws);
  return rc;
}
