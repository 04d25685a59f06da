/* hak_config.c: the one config struct: mode defaults (HAKMEM.md's table),
 * key=value overrides, the HAKMEM_* environment front end, and the
 * describe text stored with every run. One field table drives set and
 * describe, so a field cannot be settable without being described. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hak_internal.h"

static const char *const mode_names[] = {"minimal", "fast", "balanced",
                                         "learning", "research", NULL};
static const char *const elo_names[] = {"off", "frozen", "learn", NULL};
static const char *const free_names[] = {"batch", "adaptive", NULL};
static const char *const thp_names[] = {"off", "auto", "on", NULL};
static const char *const reward_names[] = {"cost", "measured", NULL};
static const char *const evo_names[] = {"auto", "learn", "frozen", "off", NULL};

const char *hak_mode_name(enum hak_mode m) {
  return (unsigned)m < HAK_MODE_COUNT_ ? mode_names[m] : "?";
}

void hak_config_init(hak_config_t *c, enum hak_mode mode) {
  memset(c, 0, sizeof *c);
  if ((unsigned)mode >= HAK_MODE_COUNT_) mode = HAK_MODE_BALANCED;
  c->mode = mode;
  strcpy(c->policy, "auto");
  c->seed = 1;
  c->thp_gate = 2u << 20;
  c->header_size = 32;
  c->bigcache_sites = HAK_SITES;
  c->bigcache_ways = 4;
  c->bigcache_min = 512u << 10;
  c->batch_blocks = 256;
  c->batch_min = 64u << 10;
  c->batch_flush_bytes = 8u << 20;
  c->batch_madvise = 1;
  c->hot_ops = 1000;
  c->warm_ops = 100000;
  c->reward = HAK_REWARD_COST;
  c->timeline_every = 1000;
  c->cost = (hak_cost_t){
      .malloc_path_ns = 20,
      .mmap_path_ns = 100,
      .hit_path_ns = 60,
      .free_ns = 20,
      .mmap_ns = 1500,
      .munmap_ns = 2000,
      .madvise_ns = 1000,
      .malloc_ns = 30,
      .libc_free_ns = 20,
      .fault_ns = 250,
      .byte_op_ns = 1e-6,
      .munmap_page_ns = 60,
      .madvise_page_ns = 60,
      .brk_ns = 1000,
      .copy_byte_ns = 0.05,
      .thp_huge = 1,
      .libc_mmap_threshold = 128u << 10,
      .libc_trim_threshold = 128u << 10,
      .libc_top_pad = 128u << 10, /* glibc's DEFAULT_TOP_PAD */
      .libc_sync = 0,
  };
  strcpy(c->cost.calibration, "builtin");
  pol_config_defaults(&c->pol);
  /* the mode table (HAKMEM.md, Phase 6.8) */
  switch (mode) {
  case HAK_MODE_MINIMAL:
    c->elo = HAK_ELO_OFF;
    c->bigcache = 0;
    c->batch = 0;
    c->free_policy = HAK_FREE_BATCH;
    c->thp = HAK_THP_OFF;
    c->pol.evo_mode = POL_EVO_OFF;
    break;
  case HAK_MODE_FAST:
  case HAK_MODE_BALANCED:
    c->elo = HAK_ELO_FROZEN;
    c->bigcache = c->batch = 1;
    c->free_policy = HAK_FREE_ADAPTIVE;
    c->thp = HAK_THP_AUTO;
    c->pol.evo_mode = POL_EVO_FROZEN;
    break;
  case HAK_MODE_LEARNING:
    c->elo = HAK_ELO_LEARN;
    c->bigcache = c->batch = 1;
    c->free_policy = HAK_FREE_ADAPTIVE;
    c->thp = HAK_THP_AUTO;
    c->pol.evo_mode = POL_EVO_AUTO; /* learn, then frozen */
    break;
  default: /* research */
    c->elo = HAK_ELO_LEARN;
    c->bigcache = c->batch = 1;
    c->free_policy = HAK_FREE_ADAPTIVE;
    c->thp = HAK_THP_ON;
    c->pol.evo_mode = POL_EVO_LEARN;
    break;
  }
}

const char *hak_config_policy(const hak_config_t *c) {
  if (strcmp(c->policy, "auto") != 0) return c->policy;
  return c->elo == HAK_ELO_OFF ? "static" : "evo";
}

void hak_config_pol(const hak_config_t *c, pol_config_t *out) { *out = c->pol; }

/* ---- the field table ----------------------------------------------- */

/* T_DUR: a duration of the program's own time (stored in ns; written
 * "180s", "2s", "500ms", "0"); T_ARMS: the oracle's threshold list. */
enum ftype { T_U32, T_U64, T_SIZE, T_DBL, T_BOOL, T_ENUM, T_STR, T_NAME, T_DUR,
             T_ARMS };

typedef struct field {
  const char *key;
  enum ftype t;
  size_t off;
  const char *const *names; /* T_ENUM */
  double min, max;
} field_t;

#define C(m) offsetof(hak_config_t, m)
#define P(m) (offsetof(hak_config_t, pol) + offsetof(pol_config_t, m))
#define K(m) (offsetof(hak_config_t, cost) + offsetof(hak_cost_t, m))
#define BIG 1.8e19

static const field_t fields[] = {
    {"mode", T_ENUM, C(mode), mode_names, 0, 0},
    {"policy", T_STR, C(policy), NULL, 0, 0},
    {"seed", T_U64, C(seed), NULL, 0, BIG},
    {"elo", T_ENUM, C(elo), elo_names, 0, 0},
    {"bigcache", T_BOOL, C(bigcache), NULL, 0, 1},
    {"batch", T_BOOL, C(batch), NULL, 0, 1},
    {"free_policy", T_ENUM, C(free_policy), free_names, 0, 0},
    {"thp", T_ENUM, C(thp), thp_names, 0, 0},
    {"thp_gate", T_SIZE, C(thp_gate), NULL, 0, BIG},
    {"header_size", T_U32, C(header_size), NULL, 16, 32},
    {"bigcache.sites", T_U32, C(bigcache_sites), NULL, 1, HAK_SITES},
    {"bigcache.ways", T_U32, C(bigcache_ways), NULL, 0, HAK_CLASSES},
    {"bigcache.min", T_SIZE, C(bigcache_min), NULL, 0, 16u << 20},
    {"batch.blocks", T_U32, C(batch_blocks), NULL, 1, 65536},
    {"batch.min", T_SIZE, C(batch_min), NULL, 0, BIG},
    {"batch.flush_bytes", T_SIZE, C(batch_flush_bytes), NULL, 0, BIG},
    {"batch.madvise", T_BOOL, C(batch_madvise), NULL, 0, 1},
    {"thermal.hot_ops", T_U64, C(hot_ops), NULL, 0, BIG},
    {"thermal.warm_ops", T_U64, C(warm_ops), NULL, 0, BIG},
    {"reward", T_ENUM, C(reward), reward_names, 0, 0},
    {"verbose", T_BOOL, C(verbose), NULL, 0, 1},
    {"cost.malloc_path_ns", T_DBL, K(malloc_path_ns), NULL, 0, 1e12},
    {"cost.mmap_path_ns", T_DBL, K(mmap_path_ns), NULL, 0, 1e12},
    {"cost.hit_path_ns", T_DBL, K(hit_path_ns), NULL, 0, 1e12},
    {"cost.free_ns", T_DBL, K(free_ns), NULL, 0, 1e12},
    {"cost.mmap_ns", T_DBL, K(mmap_ns), NULL, 0, 1e12},
    {"cost.munmap_ns", T_DBL, K(munmap_ns), NULL, 0, 1e12},
    {"cost.madvise_ns", T_DBL, K(madvise_ns), NULL, 0, 1e12},
    {"cost.malloc_ns", T_DBL, K(malloc_ns), NULL, 0, 1e12},
    {"cost.libc_free_ns", T_DBL, K(libc_free_ns), NULL, 0, 1e12},
    {"cost.fault_ns", T_DBL, K(fault_ns), NULL, 0, 1e12},
    {"cost.byte_op_ns", T_DBL, K(byte_op_ns), NULL, 0, 1e6},
    {"cost.munmap_page_ns", T_DBL, K(munmap_page_ns), NULL, 0, 1e12},
    {"cost.madvise_page_ns", T_DBL, K(madvise_page_ns), NULL, 0, 1e12},
    {"cost.brk_ns", T_DBL, K(brk_ns), NULL, 0, 1e12},
    {"cost.copy_byte_ns", T_DBL, K(copy_byte_ns), NULL, 0, 1e6},
    {"cost.thp_huge", T_BOOL, K(thp_huge), NULL, 0, 1},
    {"cost.libc_mmap_threshold", T_SIZE, K(libc_mmap_threshold), NULL, 0, BIG},
    {"cost.libc_trim_threshold", T_SIZE, K(libc_trim_threshold), NULL, 0, BIG},
    {"cost.libc_top_pad", T_SIZE, K(libc_top_pad), NULL, 0, BIG},
    {"cost.libc_sync", T_BOOL, K(libc_sync), NULL, 0, 1},
    {"cost.calibration", T_NAME, K(calibration), NULL, 0, 0},
    {"static.threshold", T_SIZE, P(static_threshold), NULL, 0, BIG},
    {"ucb1.c", T_DBL, P(ucb1_c), NULL, 0, 1e6},
    {"ucb1.improve", T_DBL, P(ucb1_improve), NULL, 0, 1},
    {"ucb1.streak", T_U32, P(ucb1_streak), NULL, 1, 1e6},
    {"ucb1.cooldown", T_DUR, P(ucb1_cooldown_ns), NULL, 0, BIG},
    {"ucb1.cooldown_ops", T_U64, P(ucb1_cooldown_ops), NULL, 0, BIG},
    {"ucb1.probe_every", T_U32, P(ucb1_probe_every), NULL, 1, 1e9},
    {"ucb1.initial_arm", T_U32, P(ucb1_initial_arm), NULL, 0, POL_UCB1_ARMS - 1},
    {"elo.k", T_DBL, P(elo_k), NULL, 0, 1e6},
    {"elo.initial", T_DBL, P(elo_initial), NULL, 0, 1e9},
    {"elo.epsilon", T_DBL, P(elo_epsilon), NULL, 0, 1},
    {"elo.temperature", T_DBL, P(elo_temperature), NULL, 1e-6, 1e9},
    {"elo.min_samples", T_U32, P(elo_min_samples), NULL, 1, 1e9},
    {"elo.survivors", T_U32, P(elo_survivors), NULL, 1, POL_ELO_ARMS},
    {"elo.cull_after", T_U32, P(elo_cull_after), NULL, 1, 1000000},
    {"elo.period", T_U32, P(elo_period), NULL, 1, 1e9},
    {"elo.w_cpu", T_DBL, P(elo_w_cpu), NULL, 0, 1},
    {"elo.w_faults", T_DBL, P(elo_w_faults), NULL, 0, 1},
    {"elo.w_mem", T_DBL, P(elo_w_mem), NULL, 0, 1},
    {"elo.initial_arm", T_U32, P(elo_initial_arm), NULL, 0, POL_ELO_ARMS - 1},
    {"evo.mode", T_ENUM, P(evo_mode), evo_names, 0, 0},
    {"evo.freeze_after", T_DUR, P(evo_freeze_after_ns), NULL, 0, BIG},
    {"evo.stable", T_DBL, P(evo_stable), NULL, 0, 1},
    {"evo.stable_windows", T_U32, P(evo_stable_windows), NULL, 1, 1e6},
    {"evo.degrade", T_DBL, P(evo_degrade), NULL, 0, 1e3},
    {"evo.degrade_windows", T_U32, P(evo_degrade_windows), NULL, 1, 1e6},
    {"evo.shift", T_DBL, P(evo_shift), NULL, 0, 1},
    {"evo.window_ops", T_U64, P(evo_window_ops), NULL, 1, BIG},
    {"evo.window", T_DUR, P(evo_window_ns), NULL, 1, BIG},
    {"evo.history", T_U32, P(evo_history), NULL, 1, 64},
    {"evo.canary_frac", T_DBL, P(evo_canary_frac), NULL, 0, 1},
    {"evo.canary_every", T_U32, P(evo_canary_every), NULL, 1, 1e6},
    {"oracle.arms", T_ARMS, P(oracle_arms), NULL, 1, BIG},
    {"timeline.every", T_U64, C(timeline_every), NULL, 0, BIG},
};

static int parse_u64(const char *v, uint64_t *out, int suffixes) {
  if (!v || !*v || *v == '-') return HK_E_RANGE;
  errno = 0;
  char *end;
  unsigned long long x = strtoull(v, &end, 0);
  if (errno || end == v) return HK_E_RANGE;
  uint64_t mul = 1;
  if (suffixes && *end) {
    switch (*end) {
    case 'k': case 'K': mul = 1ull << 10; break;
    case 'm': case 'M': mul = 1ull << 20; break;
    case 'g': case 'G': mul = 1ull << 30; break;
    default: return HK_E_RANGE;
    }
    end++;
    if (*end == 'i') end++;
    if (*end == 'B' || *end == 'b') end++;
  }
  if (*end) return HK_E_RANGE;
  if (x > UINT64_MAX / mul) return HK_E_RANGE;
  *out = (uint64_t)x * mul;
  return 0;
}

/* "0", or a number with a unit: ns, us, ms, s, m (minutes), h. A bare
 * number other than 0 is refused: seconds or nanoseconds would be a guess. */
static int parse_dur(const char *v, uint64_t *out) {
  static const struct {
    const char *unit;
    double ns;
  } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9},
               {"m", 60e9}, {"min", 60e9}, {"h", 3600e9}};
  if (!v || !*v || *v == '-' || *v == '+') return HK_E_RANGE;
  errno = 0;
  char *end;
  double x = strtod(v, &end);
  if (errno || end == v || !(x >= 0)) return HK_E_RANGE;
  double mul = 0;
  if (!*end) {
    if (x != 0) return HK_E_RANGE;
    mul = 1;
  }
  for (size_t i = 0; *end && i < HK_ARRAY_LEN(units); i++)
    if (strcmp(end, units[i].unit) == 0) mul = units[i].ns;
  if (mul == 0 || x * mul >= 1.8e19) return HK_E_RANGE;
  *out = (uint64_t)(x * mul + 0.5);
  return 0;
}

/* The largest exact unit up to seconds: "180s", "2500ms", "0". */
static void fmt_dur(uint64_t ns, char *buf, size_t n) {
  static const struct {
    const char *unit;
    uint64_t ns;
  } units[] = {{"s", 1000000000ull}, {"ms", 1000000ull}, {"us", 1000ull},
               {"ns", 1}}; /* seconds at most: "180s", as HAKMEM.md says */
  if (ns == 0) {
    snprintf(buf, n, "0");
    return;
  }
  for (size_t i = 0; i < HK_ARRAY_LEN(units); i++)
    if (ns % units[i].ns == 0) {
      snprintf(buf, n, "%" PRIu64 "%s", ns / units[i].ns, units[i].unit);
      return;
    }
}

/* Sizes separated by ':' or ',' ("64K:256K:1M"), 1..POL_MAX_ARMS, each
 * > 0; the whole list is replaced. */
static int parse_arms(const char *v, pol_config_t *pc) {
  uint64_t arms[POL_MAX_ARMS];
  uint32_t n = 0;
  char item[32];
  if (!v || !*v) return HK_E_RANGE;
  for (;;) {
    size_t k = strcspn(v, ":,");
    if (k == 0 || k >= sizeof item || n == POL_MAX_ARMS) return HK_E_RANGE;
    memcpy(item, v, k);
    item[k] = 0;
    int rc = parse_u64(item, &arms[n], 1);
    if (rc < 0) return rc;
    if (arms[n] == 0) return HK_E_RANGE;
    n++;
    v += k;
    if (!*v) break;
    v++;
  }
  memcpy(pc->oracle_arms, arms, n * sizeof arms[0]);
  pc->oracle_n_arms = n;
  return 0;
}

static int parse_bool(const char *v, uint32_t *out) {
  static const char *const yes[] = {"1", "on", "true", "yes"};
  static const char *const no[] = {"0", "off", "false", "no"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0) return *out = 1, 0;
    if (strcasecmp(v, no[i]) == 0) return *out = 0, 0;
  }
  return HK_E_RANGE;
}

static int parse_enum(const char *v, const char *const *names, uint32_t *out) {
  for (uint32_t i = 0; names[i]; i++)
    if (strcasecmp(v, names[i]) == 0) return *out = i, 0;
  return HK_E_RANGE;
}

int hak_config_set(hak_config_t *c, const char *key, const char *value) {
  if (!key || !value) return HK_E_USAGE;
  const field_t *f = NULL;
  for (size_t i = 0; i < HK_ARRAY_LEN(fields); i++)
    if (strcmp(fields[i].key, key) == 0) f = &fields[i];
  if (!f) return HK_E_NOTFOUND;
  char *dst = (char *)c + f->off;
  uint64_t u;
  uint32_t e;
  int rc;
  switch (f->t) {
  case T_ENUM:
    if ((rc = parse_enum(value, f->names, &e)) < 0) return rc;
    if (f->off == C(mode)) {
      hak_config_init(c, (enum hak_mode)e);
    } else if (f->off == C(elo)) {
      c->elo = e; /* the ELO switch also picks the lifecycle */
      if (e == HAK_ELO_FROZEN) c->pol.evo_mode = POL_EVO_FROZEN;
      if (e == HAK_ELO_LEARN && c->pol.evo_mode == POL_EVO_FROZEN)
        c->pol.evo_mode = POL_EVO_AUTO;
    } else {
      memcpy(dst, &e, sizeof e);
    }
    return 0;
  case T_BOOL:
    if ((rc = parse_bool(value, &e)) < 0) return rc;
    memcpy(dst, &e, sizeof e);
    return 0;
  case T_STR:
    if (strcmp(value, "auto") != 0 && !pol_find(value)) return HK_E_RANGE;
    snprintf(c->policy, sizeof c->policy, "%s", value);
    return 0;
  case T_NAME: /* a calibration's name: printable, no separators */
    if (!*value || strlen(value) >= sizeof c->cost.calibration ||
        strpbrk(value, " \t\n,=;"))
      return HK_E_RANGE;
    strcpy(c->cost.calibration, value);
    return 0;
  case T_DUR:
    if ((rc = parse_dur(value, &u)) < 0) return rc;
    if ((double)u < f->min) return HK_E_RANGE;
    memcpy(dst, &u, sizeof u);
    return 0;
  case T_ARMS:
    return parse_arms(value, &c->pol);
  case T_DBL: {
    errno = 0;
    char *end;
    double d = strtod(value, &end);
    if (errno || end == value || *end || !(d >= f->min && d <= f->max))
      return HK_E_RANGE;
    memcpy(dst, &d, sizeof d);
    return 0;
  }
  default:
    if ((rc = parse_u64(value, &u, f->t == T_SIZE)) < 0) return rc;
    if ((double)u < f->min || (double)u > f->max) return HK_E_RANGE;
    if (f->off == C(header_size) && u != 16 && u != 32) return HK_E_RANGE;
    if (f->t == T_U32) {
      e = (uint32_t)u;
      memcpy(dst, &e, sizeof e);
    } else {
      memcpy(dst, &u, sizeof u);
    }
    return 0;
  }
}

int hak_config_set_kv(hak_config_t *c, const char *kv) {
  const char *eq = kv ? strchr(kv, '=') : NULL;
  if (!eq || eq == kv || eq - kv >= 64) return HK_E_USAGE;
  char key[64];
  memcpy(key, kv, (size_t)(eq - kv));
  key[eq - kv] = 0;
  return hak_config_set(c, key, eq + 1);
}

static size_t describe(const hak_config_t *c, char *buf, size_t n,
                       const char *prefix) {
  size_t len = 0;
  for (size_t i = 0; i < HK_ARRAY_LEN(fields); i++) {
    const field_t *f = &fields[i];
    if (prefix && strncmp(f->key, prefix, strlen(prefix)) != 0) continue;
    const char *src = (const char *)c + f->off;
    char val[256];
    uint32_t e;
    uint64_t u;
    double d;
    switch (f->t) {
    case T_ENUM:
      memcpy(&e, src, sizeof e);
      snprintf(val, sizeof val, "%s", f->names[e]);
      break;
    case T_STR:
      snprintf(val, sizeof val, "%s", c->policy);
      break;
    case T_NAME:
      snprintf(val, sizeof val, "%s", src);
      break;
    case T_DUR:
      memcpy(&u, src, sizeof u);
      fmt_dur(u, val, sizeof val);
      break;
    case T_ARMS: {
      size_t vl = 0;
      val[0] = 0;
      for (uint32_t a = 0; a < c->pol.oracle_n_arms && vl < sizeof val; a++)
        vl += (size_t)snprintf(val + vl, sizeof val - vl, "%s%" PRIu64,
                               a ? ":" : "", c->pol.oracle_arms[a]);
      break;
    }
    case T_DBL:
      memcpy(&d, src, sizeof d);
      snprintf(val, sizeof val, "%.15g", d);
      break;
    case T_BOOL:
    case T_U32:
      memcpy(&e, src, sizeof e);
      snprintf(val, sizeof val, "%" PRIu32, e);
      break;
    default:
      memcpy(&u, src, sizeof u);
      snprintf(val, sizeof val, "%" PRIu64, u);
      break;
    }
    int w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0,
                     "%s=%s\n", f->key, val);
    len += (size_t)w;
  }
  if (n && len >= n) buf[n - 1] = 0;
  if (n && len == 0) buf[0] = 0;
  return len;
}

size_t hak_config_describe(const hak_config_t *c, char *buf, size_t n) {
  return describe(c, buf, n, NULL);
}

size_t hak_cost_describe(const hak_config_t *c, char *buf, size_t n) {
  return describe(c, buf, n, "cost.");
}

static int set_first(int rc, int *first) {
  if (rc < 0 && *first == 0) *first = rc;
  return rc;
}

static int truthy(const char *v) { return v && *v && strcmp(v, "0") != 0; }

int hak_config_from_env(hak_config_t *c) {
  int first = 0;
  const char *v;
  if ((v = getenv("HAKMEM_MODE"))) set_first(hak_config_set(c, "mode", v), &first);
  if (truthy(getenv("HAKMEM_DISABLE_ELO"))) c->elo = HAK_ELO_OFF;
  if (truthy(getenv("HAKMEM_DISABLE_BIGCACHE"))) c->bigcache = 0;
  if (truthy(getenv("HAKMEM_DISABLE_BATCH"))) c->batch = 0;
  static const struct {
    const char *env, *key;
  } map[] = {{"HAKMEM_FREE_POLICY", "free_policy"}, {"HAKMEM_THP", "thp"},
             {"HAKMEM_EVO", "evo.mode"},           {"HAKMEM_POLICY", "policy"},
             {"HAKMEM_SEED", "seed"},              {"HAKMEM_VERBOSE", "verbose"},
             {"HAKMEM_HEADER", "header_size"}};
  for (size_t i = 0; i < HK_ARRAY_LEN(map); i++)
    if ((v = getenv(map[i].env))) set_first(hak_config_set(c, map[i].key, v), &first);
  if (truthy(getenv("HAKMEM_DISABLE_ELO"))) c->elo = HAK_ELO_OFF;
  if ((v = getenv("HAKMEM_CONFIG"))) {
    char item[256];
    while (*v) {
      size_t k = strcspn(v, ",");
      if (k > 0 && k < sizeof item) {
        memcpy(item, v, k);
        item[k] = 0;
        set_first(hak_config_set_kv(c, item), &first);
      } else if (k) {
        set_first(HK_E_RANGE, &first);
      }
      v += k;
      if (*v == ',') v++;
    }
  }
  return first;
}
