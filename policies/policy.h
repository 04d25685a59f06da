/* policy.h: the public header of policies/, pure decision logic for hakmem.
 * A policy maps (call site, size) to a strategy (an mmap threshold) and
 * learns only from outcomes handed to it through observe(): no I/O, no
 * clocks, no globals; randomness from a seeded hk_rng_t. Every decision is
 * fed into a digest, and snapshot() emits timeline rows for the replayer. */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "hk_common.h"

#define POL_UCB1_ARMS 6
#define POL_ELO_ARMS 12
#define POL_MAX_ARMS 12

/* What a policy decides for one allocation: use mmap when size >= threshold.
 * arm indexes the policy's own strategy list (0 for static). */
typedef struct pol_strategy {
  uint64_t threshold;
  int arm;
} pol_strategy_t;

/* Everything a policy learns, for one allocation it decided. Costs are in
 * virtual nanoseconds from hakmem's cost model (or measured nanoseconds when
 * the caller opted into measured rewards); lower is better. cost_ns is
 * cpu_ns + fault_ns + mem_ns. */
typedef struct pol_outcome {
  uint64_t site;
  uint64_t size;
  pol_strategy_t strategy; /* as returned by choose() for this allocation */
  /* enum pol_outcome_kind. POL_OUT_ALLOC: the allocation's own outcome, a
   * new sample of the arm. The others are delayed credit: costs the block
   * caused later, handed to the decision (site, strategy.arm) that chose
   * its path; no new sample, the costs add to that decision's total. */
  uint32_t kind;
  double cost_ns;
  double cpu_ns;   /* base path cost + syscalls */
  double fault_ns; /* first-touch page faults */
  double mem_ns;   /* bytes the decision's block held x ops, x byte_op_ns
                      (credited at free and flush; 0 at the allocation) */
  uint64_t op_seq; /* the caller's op counter (allocations and frees) */
  uint64_t vtime_ns; /* the caller's virtual clock after this op */
  /* The program's own time at this op, in ns: the trace's recorded clock
   * in a replay (the generator's virtual clock for scenarios). Lifecycle
   * windows, the freeze delay and UCB1's cooldown run on it, so that
   * "180 s" means 180 s of the program's life. Callers without a program
   * clock pass vtime_ns. */
  uint64_t time_ns;
} pol_outcome_t;

/* What an outcome reports (pol_outcome_t.kind). */
enum pol_outcome_kind {
  POL_OUT_ALLOC = 0, /* the allocation: path, syscalls, first-touch faults */
  POL_OUT_FREE = 1,  /* its free: free path, syscalls at free, and the
                        block's bytes x ops it was live (mem_ns) */
  POL_OUT_FLUSH = 2, /* its batch flush: MADV_DONTNEED + munmap, and its
                        bytes x ops it waited in the batch (mem_ns) */
  POL_OUT_LIVE = 3   /* the program ended with the block live: its bytes x
                        the ops it was live (mem_ns); no free follows */
};

/* Lifecycle modes of evo (HAKMEM_EVO). */
enum pol_evo_mode {
  POL_EVO_AUTO = 0,   /* learn, freeze when stable, canary, re-learn */
  POL_EVO_LEARN = 1,  /* learn forever */
  POL_EVO_FROZEN = 2, /* start frozen on elo_initial_arm, canary, re-learn */
  POL_EVO_OFF = 3     /* no lifecycle: plain elo */
};

/* The parameters of every policy (one struct, so hakmem's config can carry
 * it and describe it). pol_config_defaults() gives HAKMEM.md's values. */
typedef struct pol_config {
  uint64_t static_threshold;   /* 256 KiB: hakmem-baseline */
  /* ucb1 */
  double ucb1_c;               /* 2.0: bonus sqrt(c ln N / n) */
  double ucb1_improve;         /* 0.08: an improvement is >= 8% lower cost */
  uint32_t ucb1_streak;        /* 3 consecutive improvements to adopt */
  uint64_t ucb1_cooldown_ns;   /* 180 s of program time between adoptions */
  uint64_t ucb1_cooldown_ops;  /* and at least this many ops (0: none) */
  uint32_t ucb1_probe_every;   /* 1 in N site decisions is a UCB1 probe */
  uint32_t ucb1_initial_arm;   /* 2: 256 KiB, the baseline threshold */
  /* elo */
  double elo_k;                /* 32 */
  double elo_initial;          /* 1500 */
  double elo_epsilon;          /* 0.1 */
  double elo_temperature;      /* 100 rating points: softmax exp(r / T) */
  uint32_t elo_min_samples;    /* 50 outcomes before a rating update */
  uint32_t elo_survivors;      /* 6 */
  uint32_t elo_cull_after;     /* 3 rated batches of every arm, then cull */
  uint32_t elo_period;         /* re-select every 100th allocation */
  double elo_w_cpu, elo_w_faults, elo_w_mem; /* 0.4, 0.3, 0.3 */
  uint32_t elo_initial_arm;    /* 0 (512 KiB): used before any rating */
  /* evo */
  uint32_t evo_mode;           /* enum pol_evo_mode */
  uint64_t evo_freeze_after_ns; /* 180 s of program time learning first */
  double evo_stable;           /* 0.01: change under 1% ... */
  uint32_t evo_stable_windows; /* ... for 3 windows */
  double evo_degrade;          /* 0.20 worse than at freeze ... */
  uint32_t evo_degrade_windows; /* ... for 3 windows: re-learn */
  double evo_shift;            /* 0.25 size-distribution shift: re-learn */
  uint64_t evo_window_ops;     /* 10,000 ops ... */
  uint64_t evo_window_ns;      /* ... or 2 s of program time, whichever
                                  first */
  uint32_t evo_history;        /* 10 windows kept */
  double evo_canary_frac;      /* 0.05 of traffic */
  uint32_t evo_canary_every;   /* a canary after every 5 frozen windows */
  /* oracle: the arms searched (thresholds in bytes, ascending not
   * required); default UCB1's six. */
  uint64_t oracle_arms[POL_MAX_ARMS];
  uint32_t oracle_n_arms;
} pol_config_t;

void pol_config_defaults(pol_config_t *cfg);

typedef struct pol_s pol_t;

/* One timeline row: arm (-1 for policy-wide values), metric, value. */
typedef void (*pol_emit_fn)(void *ctx, int arm, const char *metric,
                            double value);

/* The interface every policy implements (one const table per file). */
typedef struct pol_ops {
  const char *name;
  /* NULL when out of memory. The config is copied. */
  pol_t *(*create)(const pol_config_t *cfg, uint64_t seed);
  /* The strategy for one allocation; fed into the digest. */
  pol_strategy_t (*choose)(pol_t *p, uint64_t site, uint64_t size);
  void (*observe)(pol_t *p, const pol_outcome_t *o);
  /* Emits the current state as timeline rows. */
  void (*snapshot)(const pol_t *p, pol_emit_fn emit, void *ctx);
  void (*destroy)(pol_t *p);
} pol_ops_t;

extern const pol_ops_t pol_static_ops, pol_ucb1_ops, pol_elo_ops, pol_evo_ops,
    pol_oracle_ops;

/* pol_registry.c: the table of policies by name ("static", "ucb1", "elo",
 * "evo"); NULL when unknown. pol_list() gives all of them, *n set. */
const pol_ops_t *pol_find(const char *name);
const pol_ops_t *const *pol_list(size_t *n);

/* pol_base.c: lifecycle and accessors common to every instance. */
pol_t *pol_create(const pol_ops_t *ops, const pol_config_t *cfg,
                  uint64_t seed);
void pol_free(pol_t *p); /* NULL is a no-op */
const pol_ops_t *pol_ops(const pol_t *p);
const char *pol_name(const pol_t *p);
/* Digest over every decision (and lifecycle change) so far, 32 hex + NUL. */
void pol_digest_hex(const pol_t *p, char out[33]);
uint64_t pol_decisions(const pol_t *p);
/* Convenience dispatchers through the ops table. */
pol_strategy_t pol_choose(pol_t *p, uint64_t site, uint64_t size);
void pol_observe(pol_t *p, const pol_outcome_t *o);
void pol_snapshot(const pol_t *p, pol_emit_fn emit, void *ctx);

/* pol_oracle.c: the best fixed arm per site in hindsight. An oracle
 * instance serves a table site -> arm, filled by whoever searched it (the
 * replayer's model replays over cfg.oracle_arms, rpl_oracle.c); a site not
 * in the table gets the default arm (0 until set). While probing arm k
 * (pol_oracle_probe) it serves k everywhere and sums each site's outcome
 * costs (every outcome: delayed credit included); each probe, and -1
 * (serve the table again), clears the sums. pol_oracle_each() visits
 * every site seen with its cost under the arm probed. All three return HK_E_* codes (HK_E_RANGE: arm out of the
 * set; HK_E_NOMEM; HK_E_STATE: not an oracle). */
int pol_oracle_probe(pol_t *p, int arm);
int pol_oracle_set(pol_t *p, uint64_t site, int arm); /* site 0: default */
typedef void (*pol_site_cost_fn)(void *ctx, uint64_t site, double cost_ns,
                                 uint64_t allocs);
int pol_oracle_each(const pol_t *p, pol_site_cost_fn fn, void *ctx);

/* pol_base.c: the range of thresholds a policy's arms span: its number of
 * arms (0 when not known), *lo the smallest and *hi the largest. An
 * allocation of size s is decided alike by every arm unless lo <= s < hi
 * (then some arm maps it, another gives it to libc). */
int pol_arm_range(const pol_t *p, uint64_t *lo, uint64_t *hi);

/* The strategy lists (thresholds in bytes). */
extern const uint64_t pol_ucb1_thresholds[POL_UCB1_ARMS];
extern const uint64_t pol_elo_thresholds[POL_ELO_ARMS];

#endif
