/* hakmem.h: the public header of hakmem/, the allocator under study. A
 * hakmem core is an opaque instance (hak_t) with its own config, OS-call
 * table, policy, BigCache, madvise batch, statistics and virtual clock, so
 * the replayer can drive several in one process; hak_init()/hak_alloc_at()
 * and friends are thin wrappers over one global instance (libhakmem.so). */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#include "hk_common.h"
#include "policy.h"

/* ---- configuration (hak_config.c) ---------------------------------- */

enum hak_mode {
  HAK_MODE_MINIMAL,
  HAK_MODE_FAST,
  HAK_MODE_BALANCED, /* the default */
  HAK_MODE_LEARNING,
  HAK_MODE_RESEARCH,
  HAK_MODE_COUNT_
};
enum hak_elo { HAK_ELO_OFF, HAK_ELO_FROZEN, HAK_ELO_LEARN };
enum hak_free_policy { HAK_FREE_BATCH, HAK_FREE_ADAPTIVE };
enum hak_thp { HAK_THP_OFF, HAK_THP_AUTO, HAK_THP_ON };
/* COST: rewards from the cost model (deterministic, the default).
 * MEASURED: the cpu part measured with CLOCK_MONOTONIC: NOT deterministic. */
enum hak_reward { HAK_REWARD_COST, HAK_REWARD_MEASURED };

/* The cost model: virtual nanoseconds charged per counted event. Every op
 * advances the instance's virtual clock by its cost; an allocation's cost
 * is the reward handed to the policy (docs/hakmem.md). */
typedef struct hak_cost {
  double malloc_path_ns; /* base cost of an allocation served by libc */
  double mmap_path_ns;   /* base cost of an allocation served by mmap */
  double hit_path_ns;    /* base cost of a BigCache hit */
  double free_ns;        /* base cost of a free */
  double mmap_ns, munmap_ns, madvise_ns; /* per syscall */
  double malloc_ns, libc_free_ns;        /* per libc call */
  double fault_ns;       /* per first-touch 4 KiB page */
  double byte_op_ns;     /* per byte held by the allocator, per op */
  double munmap_page_ns;  /* per resident page an munmap gives back */
  double madvise_page_ns; /* per resident page MADV_DONTNEED drops */
  double brk_ns;          /* per brk of the libc model (growth, trim) */
  double copy_byte_ns;    /* realloc's copy, per byte */
  uint32_t thp_huge;      /* 1: MADV_HUGEPAGE'd 2 MiB extents fault once */
  /* The libc model (hak_model.c): glibc's initial mmap threshold (it
   * rises to the size of each mmapped chunk freed, up to 32 MiB), trim
   * threshold (then twice the mmap threshold) and top pad. */
  uint64_t libc_mmap_threshold, libc_trim_threshold, libc_top_pad;
  /* 0 (default): the libc model alone decides, from a fresh glibc: the
   * same trace gives the same costs, hence the same decisions. 1: when the
   * MALLOC method calls the real glibc, the model follows glibc's own
   * choice between mmap and heap for each chunk (read back with
   * malloc_usable_size) and moves its threshold to agree, so the state
   * the process's glibc was in before hakmem started (a raised threshold,
   * free chunks) is seen; rewards then depend on that state: NOT
   * deterministic across processes (docs/hakmem.md). */
  uint32_t libc_sync;
  char calibration[32];   /* "builtin", or the hksim calibrate name */
} hak_cost_t;

typedef struct hak_config {
  uint32_t mode;        /* enum hak_mode, as last applied */
  char policy[16];      /* "auto" (from elo/lifecycle), or a pol_find() name */
  uint64_t seed;
  uint32_t elo;         /* enum hak_elo: kill switch HAKMEM_DISABLE_ELO */
  uint32_t bigcache;    /* 0/1: kill switch HAKMEM_DISABLE_BIGCACHE */
  uint32_t batch;       /* 0/1: kill switch HAKMEM_DISABLE_BATCH */
  uint32_t free_policy; /* enum hak_free_policy */
  uint32_t thp;         /* enum hak_thp */
  uint64_t thp_gate;    /* 2 MiB */
  uint32_t header_size; /* 32 (magic, method, class, size, site, birth) or 16 */
  uint32_t bigcache_sites;   /* 256 */
  uint32_t bigcache_ways;    /* blocks a site row may hold before LFU: 4 */
  uint64_t bigcache_min;     /* 512 KiB */
  uint32_t batch_blocks;     /* 256 */
  uint64_t batch_min;        /* 64 KiB */
  uint64_t batch_flush_bytes; /* 8 MiB */
  uint32_t batch_madvise;    /* MADV_DONTNEED each block before munmap */
  uint64_t hot_ops;   /* site re-allocates within this many ops: hot */
  uint64_t warm_ops;  /* ... within this many: warm; beyond: cold */
  uint32_t reward;    /* enum hak_reward */
  uint32_t verbose;   /* hak_shutdown prints leaderboard and batch stats */
  /* A replay snapshots the policy's state every this many decisions (and
   * at each RSS sample); 0: only at RSS samples. Not used by the core. */
  uint64_t timeline_every;
  hak_cost_t cost;
  pol_config_t pol;
} hak_config_t;

/* Defaults of one mode (the table of HAKMEM.md, docs/hakmem.md). */
void hak_config_init(hak_config_t *cfg, enum hak_mode mode);
/* One key=value override, e.g. ("bigcache", "off"), ("header_size", "16"),
 * ("elo.period", "1"), ("cost.fault_ns", "300"). "mode" resets every field
 * to that mode's defaults, so give it first. Returns 0, HK_E_NOTFOUND for
 * an unknown key, HK_E_RANGE for a value that does not parse or fit. */
int hak_config_set(hak_config_t *cfg, const char *key, const char *value);
/* "key=value" in one string. */
int hak_config_set_kv(hak_config_t *cfg, const char *kv);
/* Front end for the HAKMEM_* variables: HAKMEM_MODE first, then
 * HAKMEM_DISABLE_ELO/_BIGCACHE/_BATCH, HAKMEM_FREE_POLICY, HAKMEM_THP,
 * HAKMEM_EVO, HAKMEM_POLICY, HAKMEM_SEED, HAKMEM_VERBOSE, and
 * HAKMEM_CONFIG="k=v,k=v". The first bad value is returned (and the rest
 * still applied); 0 when all parse. */
int hak_config_from_env(hak_config_t *cfg);
/* Writes every field as "key=value\n" lines (snprintf contract: returns
 * the length the full text needs; writes at most n bytes, NUL-terminated). */
size_t hak_config_describe(const hak_config_t *cfg, char *buf, size_t n);
/* Only the cost.* lines. */
size_t hak_cost_describe(const hak_config_t *cfg, char *buf, size_t n);
const char *hak_mode_name(enum hak_mode mode);
/* The policy name "auto" resolves to: static (elo off), elo, or evo. */
const char *hak_config_policy(const hak_config_t *cfg);
/* The pol_config_t the core would create its policy with (evo_mode from
 * the mode's lifecycle). */
void hak_config_pol(const hak_config_t *cfg, pol_config_t *out);

/* ---- calibration (hak_calibrate.c) --------------------------------- */

/* Measures this machine's event costs (repeats micro-runs of each, 1..64,
 * median) and sets them in cfg->cost. text receives the "cost.k=v\n"
 * lines set, spread the "cost.k=min..max\n" of the runs. Takes a second
 * or so; uses real system calls and the clock. 0, HK_E_RANGE (repeats out
 * of range, or a buffer too small), HK_E_NOMEM. */
int hak_calibrate(hak_config_t *cfg, unsigned repeats, char *text, size_t n,
                  char *spread, size_t sn);

/* ---- operating-system calls (hak_os.c) ----------------------------- */

enum hak_advice { HAK_MADV_DONTNEED, HAK_MADV_FREE, HAK_MADV_HUGEPAGE };

/* Tests and the replayer substitute counting or faulting tables. mmap maps
 * len bytes anonymous read-write (NULL on failure). malloc/free are the
 * libc calls behind the MALLOC method. ctx is passed back unchanged. */
typedef struct hak_os {
  void *(*mmap)(void *ctx, size_t len);
  int (*munmap)(void *ctx, void *p, size_t len);
  int (*madvise)(void *ctx, void *p, size_t len, int advice);
  void *(*malloc)(void *ctx, size_t n);
  void (*free)(void *ctx, void *p);
  void *ctx;
} hak_os_t;

const hak_os_t *hak_os_default(void);

/* ---- statistics (hak_core.c) --------------------------------------- */

#define HAK_CLASSES 8
#define HAK_SITES 256
#define HAK_SIZE_BUCKETS 48 /* log2 of the size */

typedef struct hak_site_stats {
  uint64_t site; /* first call site seen in this slot (sites hash to slots) */
  uint64_t allocs, frees, bytes;
  uint64_t size_hist[HAK_SIZE_BUCKETS];
  uint64_t lifetime_sum, lifetime_max, lifetime_n; /* in ops; header 32 only */
  uint64_t last_alloc_op;
  double interval_ops; /* EWMA of ops between this slot's allocations */
  uint64_t hits[HAK_CLASSES], misses[HAK_CLASSES], puts[HAK_CLASSES],
      evictions[HAK_CLASSES];
} hak_site_stats_t;

typedef struct hak_stats {
  uint64_t ops, allocs, frees, reallocs, bad_frees;
  uint64_t malloc_path, mmap_path;
  uint64_t cache_hits, cache_misses, cache_puts, cache_refused,
      cache_evictions;
  uint64_t batch_adds, batch_flushes, batch_bytes, batch_flushed_blocks;
  uint64_t sys_mmap, sys_munmap, sys_madvise, sys_madv_dontneed,
      sys_madv_free, sys_madv_hugepage, sys_malloc, sys_free, sys_failed;
  uint64_t hot_frees, warm_frees, cold_frees;
  uint64_t first_touch_pages; /* modelled page faults */
  uint64_t credits;           /* delayed credits handed to the policy */
  /* Allocations whose path depended on which of the policy's arms chose
   * it: not served by BigCache, alignment <= 4 KiB, and a size some arm
   * maps and another gives to libc (pol_arm_range). 0 after a run: every
   * arm would have made the same decisions. */
  uint64_t arm_split_allocs;
  int policy_arms;            /* pol_arm_range's count (0: not known) */
  uint64_t model_syscalls;    /* modelled: hakmem's own + libc's mmap,
                                 munmap, brk */
  uint64_t libc_mmaps, libc_munmaps, libc_brks;
  uint64_t live_bytes, cached_bytes, batched_bytes, peak_held_bytes;
  double vtime_ns; /* virtual clock: sum of every op's modelled cost */
  hak_site_stats_t sites[HAK_SITES];
} hak_stats_t;

/* ---- the instance (hak_core.c) ------------------------------------- */

typedef struct hak_s hak_t;

/* Creates an instance. cfg NULL: balanced defaults; os NULL: the real
 * calls. pol NULL: the core creates (and owns) the policy named by
 * hak_config_policy(cfg), seeded with cfg->seed; otherwise pol is borrowed
 * and must outlive the instance. Returns 0 or a negative HK_E_* code. */
int hak_create(hak_t **out, const hak_config_t *cfg, const hak_os_t *os,
               pol_t *pol);
/* Flushes the batch, unmaps BigCache, frees the instance. Blocks still
 * live are not released. NULL is a no-op. */
void hak_free(hak_t *h);

/* The allocation entry points; site is the caller's return address (or
 * any stable id). NULL on failure or size 0 overflow. */
void *hak_alloc(hak_t *h, size_t size, uint64_t site);
void *hak_calloc(hak_t *h, size_t n, size_t size, uint64_t site);
void *hak_realloc(hak_t *h, void *p, size_t size, uint64_t site);
/* align: a power of two; NULL if not. */
void *hak_memalign(hak_t *h, size_t align, size_t size, uint64_t site);
/* Frees a block of this instance; NULL is a no-op; a bad magic is counted
 * (stats.bad_frees) and ignored. */
void hak_dealloc(hak_t *h, void *p, uint64_t site);
/* Bytes usable at p (>= the size asked for). */
size_t hak_usable_size(const hak_t *h, const void *p);
/* Whether p carries a valid header (reads the bytes just before p). */
int hak_owns(const hak_t *h, const void *p);
/* Flushes the madvise batch now. */
void hak_flush(hak_t *h);
/* The program has ended (a replay's last op): credits every block still
 * live to the decision that chose its path (POL_OUT_LIVE: its usable bytes
 * x the ops it was live x cost.byte_op_ns, what its free would have
 * credited), so a decision whose block is never freed is not rewarded for
 * free. The blocks stay live; a later free credits only the ops since,
 * and a second call only the ops since the first. Blocks with no recorded
 * decision (16-byte header) are skipped. Returns the blocks credited. */
uint64_t hak_credit_live(hak_t *h);
/* The program's time of the ops that follow, in ns (a replay passes each
 * op's recorded time, trc_pop_t.time_ns). The policy's lifecycle windows,
 * freeze delay and cooldown run on it (pol_outcome_t.time_ns); an instance
 * never given a time uses its model clock (stats.vtime_ns) instead. */
void hak_set_time(hak_t *h, uint64_t now_ns);

const hak_stats_t *hak_stats(const hak_t *h);
const hak_config_t *hak_config(const hak_t *h);
/* The policy: pol_digest_hex(), pol_snapshot() for the replayer. */
pol_t *hak_policy(const hak_t *h);
/* Writes the ELO leaderboard / policy state and batch statistics. */
void hak_print_summary(const hak_t *h, int fd);

/* ---- one global instance (hak_global.c) ----------------------------- */

/* The caller's return address, the site hakmem keys on. */
#define HAK_SITE() ((uint64_t)(uintptr_t)__builtin_return_address(0))

/* Creates the global instance from the environment; idempotent. */
int hak_init(void);
/* Prints the summary (if verbose) and destroys the global instance. */
void hak_shutdown(void);
void *hak_alloc_at(size_t size, uint64_t site);
void hak_free_at(void *p, uint64_t site);
void *hak_calloc_at(size_t n, size_t size, uint64_t site);
void *hak_realloc_at(void *p, size_t size, uint64_t site);
void *hak_memalign_at(size_t align, size_t size, uint64_t site);
size_t hak_usable_size_at(const void *p);
/* The global instance (NULL before hak_init). */
hak_t *hak_global(void);

#endif
