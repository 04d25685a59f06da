/* rpl_oracle.c: the search behind `--policy oracle` (docs/hakmem.md,
 * "Oracle and regret"). Before an oracle run, the hakmem back end replays
 * the whole program through the cost model once per arm (every site on
 * that arm), sums each site's allocation costs per arm, gives each site
 * its cheapest arm, and checks that table against the best single arm
 * with one more replay. Deterministic: model time only, never a clock.
 * The replays run in a forked child so the run's own process (its libc
 * heap, its RSS) is left as it was. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpl_internal.h"

#ifdef RPL_HAVE_HAKMEM
#include "policy.h"

typedef struct {
  uint64_t site;
  double cost[POL_MAX_ARMS];
} site_cost_t;

typedef struct {
  site_cost_t *v;
  size_t n, cap;
  int arm, sorted, err;
} coll_t;

static int by_site(const void *a, const void *b) {
  uint64_t x = ((const site_cost_t *)a)->site, y = ((const site_cost_t *)b)->site;
  return x < y ? -1 : x > y;
}

static void collect(void *ctx, uint64_t site, double cost, uint64_t allocs) {
  coll_t *c = ctx;
  (void)allocs;
  site_cost_t key = {.site = site}, *e = NULL;
  if (c->sorted) e = bsearch(&key, c->v, c->n, sizeof *c->v, by_site);
  if (!e) {
    if (c->n == c->cap) {
      size_t cap = c->cap ? 2 * c->cap : 256;
      site_cost_t *v = realloc(c->v, cap * sizeof *v);
      if (!v) {
        c->err = HK_E_NOMEM;
        return;
      }
      c->v = v;
      c->cap = cap;
    }
    e = &c->v[c->n++];
    memset(e, 0, sizeof *e);
    e->site = site;
    c->sorted = 0;
  }
  e->cost[c->arm] = cost;
}

/* One model replay of the program with pol (borrowed); *total the model
 * time at the end, taken as the back end takes it (after the batch
 * flush, before what is still live is freed). */
static int model_replay(const hak_config_t *cfg, pol_t *pol,
                        const trc_pop_t *ops, uint64_t n_ops,
                        const uint64_t *callers, uint32_t n_callers,
                        uint32_t n_slots, double *total) {
  hak_t *h;
  int rc = hak_create(&h, cfg, NULL, pol);
  if (rc) return rc;
  void **slot = calloc(n_slots ? n_slots : 1, sizeof *slot);
  if (!slot) {
    hak_free(h);
    return HK_E_NOMEM;
  }
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  for (uint64_t i = 0; i < n_ops; i++) {
    const trc_pop_t *o = &ops[i];
    if (o->flags & TRC_PF_FAILED) continue;
    uint64_t site = rpl_hak_site(callers, n_callers, o->caller), size = o->size;
    void **s = &slot[o->slot], *p;
    hak_set_time(h, o->time_ns);
    switch (o->op) {
    case TRC_OP_FREE:
      hak_dealloc(h, *s, site);
      *s = NULL;
      continue;
    case TRC_OP_REALLOC:
    case TRC_OP_REALLOCARRAY:
      p = hak_realloc(h, *s, size ? size : 1, site);
      if (p) *s = p;
      continue;
    case TRC_OP_MALLOC: p = hak_alloc(h, size, site); break;
    case TRC_OP_CALLOC: p = hak_calloc(h, 1, size, site); break;
    default: { /* the aligned kinds, as rpl_exec.c replays them */
      uint64_t align = o->align_log2 ? 1ull << o->align_log2 : 0;
      if (o->op == TRC_OP_VALLOC || o->op == TRC_OP_PVALLOC) {
        if (!align) align = page;
        if (o->op == TRC_OP_PVALLOC) size = (size + page - 1) & ~(page - 1);
      }
      if (align < sizeof(void *)) align = sizeof(void *);
      p = hak_memalign(h, align, size, site);
      break;
    }
    }
    if (p && *s) hak_dealloc(h, *s, site); /* prepare never does this */
    if (p) *s = p;
  }
  hak_credit_live(h); /* the end, as the run's back end credits it */
  hak_flush(h);
  *total = hak_stats(h)->vtime_ns;
  for (uint32_t k = 0; k < n_slots; k++)
    if (slot[k]) hak_dealloc(h, slot[k], 0);
  hak_free(h);
  free(slot);
  return 0;
}

typedef struct {
  int32_t rc, dflt;
  uint64_t n;
  double uniform_ns, mixed_ns;
  char why[160];
} answer_t;

typedef struct {
  uint64_t site;
  int64_t arm;
} pick_t;

/* The search proper (in the child). picks: *n entries, malloc'd. */
static int search(const hak_config_t *cfg0, const trc_pop_t *ops,
                  uint64_t n_ops, const uint64_t *callers, uint32_t n_callers,
                  answer_t *a, pick_t **picks) {
  hak_config_t cfg = *cfg0;
  cfg.reward = HAK_REWARD_COST; /* a search on measured time would not repeat */
  uint32_t n_slots = 0;
  for (uint64_t i = 0; i < n_ops; i++)
    if (!(ops[i].flags & TRC_PF_FAILED) && ops[i].slot + 1 > n_slots)
      n_slots = ops[i].slot + 1;
  uint32_t arms = cfg.pol.oracle_n_arms;
  double total[POL_MAX_ARMS];
  coll_t c = {0};
  int rc = 0;
  pol_t *probe = pol_create(&pol_oracle_ops, &cfg.pol, cfg.seed);
  if (!probe) return HK_E_NOMEM;
  for (uint32_t k = 0; k < arms && !rc; k++) {
    pol_oracle_probe(probe, (int)k);
    rc = model_replay(&cfg, probe, ops, n_ops, callers, n_callers, n_slots,
                      &total[k]);
    c.arm = (int)k;
    if (!rc) pol_oracle_each(probe, collect, &c);
    if (!rc && c.err) rc = c.err;
    qsort(c.v, c.n, sizeof *c.v, by_site);
    c.sorted = 1;
  }
  pol_free(probe);
  if (rc) {
    free(c.v);
    return rc;
  }
  int best = 0;
  for (uint32_t k = 1; k < arms; k++)
    if (total[k] < total[best]) best = (int)k;
  a->dflt = best;
  a->uniform_ns = total[best];
  /* each site's cheapest arm; ties go to the best arm overall */
  pol_t *mix = pol_create(&pol_oracle_ops, &cfg.pol, cfg.seed);
  *picks = malloc((c.n ? c.n : 1) * sizeof **picks);
  if (!mix || !*picks) {
    pol_free(mix);
    free(c.v);
    return HK_E_NOMEM;
  }
  pol_oracle_set(mix, 0, best);
  uint64_t n = 0;
  for (size_t i = 0; i < c.n; i++) {
    int arm = best;
    for (uint32_t k = 0; k < arms; k++)
      if (c.v[i].cost[k] < c.v[i].cost[arm]) arm = (int)k;
    if (arm == best) continue;
    if ((rc = pol_oracle_set(mix, c.v[i].site, arm)) < 0) break;
    (*picks)[n++] = (pick_t){c.v[i].site, arm};
  }
  free(c.v);
  if (!rc && n)
    rc = model_replay(&cfg, mix, ops, n_ops, callers, n_callers, n_slots,
                      &a->mixed_ns);
  else
    a->mixed_ns = a->uniform_ns;
  pol_free(mix);
  /* sites interact (BigCache rows, the libc heap, the batch): the table
   * stands only if it beats the best single arm as a whole */
  if (a->mixed_ns > a->uniform_ns) n = 0;
  a->n = n;
  return rc;
}

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

int rpl_oracle_search(pol_t *oracle, const hak_config_t *cfg,
                      const trc_pop_t *ops, uint64_t n_ops,
                      const uint64_t *callers, uint32_t n_callers,
                      double *uniform_ns, double *mixed_ns, char *why,
                      size_t len) {
  int fds[2];
  if (pipe(fds)) {
    int e = errno;
    snprintf(why, len, "oracle search: pipe: %s", strerror(e));
    return -e;
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    snprintf(why, len, "oracle search: fork: %s", strerror(e));
    return -e;
  }
  if (pid == 0) {
    close(fds[0]);
    answer_t a;
    memset(&a, 0, sizeof a);
    pick_t *picks = NULL;
    a.rc = search(cfg, ops, n_ops, callers, n_callers, &a, &picks);
    if (a.rc) {
      snprintf(a.why, sizeof a.why, "oracle search: model replay: %s",
               hk_strerror(a.rc));
      a.n = 0;
    }
    int bad = write_all(fds[1], &a, sizeof a) ||
              (a.n && write_all(fds[1], picks, a.n * sizeof *picks));
    _exit(bad ? 3 : 0);
  }
  close(fds[1]);
  answer_t a;
  int rc = read_all(fds[0], &a, sizeof a) ? HK_E_CHILD : 0;
  if (!rc && a.rc) {
    rc = a.rc;
    snprintf(why, len, "%s", a.why);
  }
  for (uint64_t i = 0; !rc && i < a.n; i++) {
    pick_t p;
    if (read_all(fds[0], &p, sizeof p)) {
      rc = HK_E_CHILD;
      break;
    }
    rc = pol_oracle_set(oracle, p.site, (int)p.arm);
  }
  if (!rc) rc = pol_oracle_set(oracle, 0, a.dflt);
  close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!rc && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) rc = HK_E_CHILD;
  if (rc && !*why)
    snprintf(why, len, "oracle search: the search process failed (%s)",
             hk_strerror(rc));
  if (!rc) {
    *uniform_ns = a.uniform_ns;
    *mixed_ns = a.mixed_ns;
  }
  return rc;
}
#endif
