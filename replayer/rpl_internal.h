/* rpl_internal.h: private pieces of replayer/ shared by its sources.
 * Sections name the file that defines them. */
#ifndef RPL_INTERNAL_H
#define RPL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "replayer.h"

/* ---- rpl_backend.c ---------------------------------------------------- */

/* dlopen()s the first of names that loads, RTLD_NOW|RTLD_LOCAL|RTLD_DEEPBIND
 * (so the library's own calls bind to itself and it never replaces the
 * process's malloc). NULL and why filled on failure. */
void *rpl_dlopen(const char *const *names, char *why, size_t len);
/* dlsym that fills why when the symbol is missing. */
void *rpl_dlsym(void *h, const char *sym, char *why, size_t len);

/* mmap'd zeroed memory for harness bookkeeping (never the allocator under
 * test); NULL on failure. populate pre-faults it. */
void *rpl_map(size_t bytes, int populate);
void rpl_unmap(void *p, size_t bytes);
/* Grows the mapped array *pp (capacity *cap items of sz bytes, n in use)
 * to hold one more item, doubling from 256. 0 or HK_E_NOMEM. */
int rpl_map_grow(void *pp, uint64_t *cap, uint64_t n, size_t sz);

/* ---- rpl_be_so.c: a malloc-API library driven as a program drives it ---- */

/* Loads the first of names that loads (rpl_dlopen) into the one library
 * slot of this process and resolves prefix+malloc, free, calloc, realloc,
 * posix_memalign or aligned_alloc, and malloc_usable_size (else
 * usable_size, else malloc_size), each required to be the library's own;
 * notes its path, build id and version for rpl_so_stats. The so: back end
 * and the built-in jemalloc, mimalloc and tcmalloc back ends share it.
 * 0, or HK_E_BACKEND and why. */
int rpl_so_load(const char *const *names, const char *prefix, char *why,
                size_t len);
/* Whether one of names loads and exports sym: 0, or HK_E_BACKEND and why
 * (a built-in library back end's available()). */
int rpl_so_probe(const char *const *names, const char *sym, char *why,
                 size_t len);
void *rpl_so_malloc(void *ctx, size_t size, unsigned t, uint32_t caller);
void *rpl_so_calloc(void *ctx, size_t size, unsigned t, uint32_t caller);
void *rpl_so_realloc(void *ctx, void *p, size_t old, size_t size, unsigned t,
                     uint32_t caller);
void rpl_so_free(void *ctx, void *p, size_t size, unsigned t, uint32_t caller);
void *rpl_so_aligned(void *ctx, size_t align, size_t size, unsigned t,
                     uint32_t caller);
size_t rpl_so_usable(void *ctx, void *p);
/* "VERSION (PATH, build-id HEX)" of the loaded library. */
void rpl_so_stats(void *ctx, rpl_be_stats_t *st);
void rpl_so_release(void *ctx);
/* The operations of a back end loaded with rpl_so_load, for its table. */
#define RPL_SO_OPS                                                             \
  .malloc = rpl_so_malloc, .calloc = rpl_so_calloc,                            \
  .realloc = rpl_so_realloc, .free = rpl_so_free, .aligned = rpl_so_aligned,   \
  .usable_size = rpl_so_usable, .stats = rpl_so_stats,                         \
  .release = rpl_so_release

/* ---- rpl_counters.c --------------------------------------------------- */

typedef struct rpl_counters {
  int fd[5];  /* mmap, munmap, madvise, mremap, brk tracepoints; -1 none */
  int method; /* rpl_sys_method_t */
  long minflt0, majflt0;
  int statm_fd;
} rpl_counters_t;

/* rpl_exec_setup_t (rpl_exec.c): the counters stay open across runs. */
struct rpl_exec_setup_s {
  uint64_t tsc_hz;
  double overhead_ticks;
  uint64_t resolution_ticks;
  rpl_counters_t counters;
};

/* Opens the counters (tracepoints when the kernel lets us). */
void rpl_counters_open(rpl_counters_t *c);
void rpl_counters_start(rpl_counters_t *c);
/* Stops counting and stores the counts into res. */
void rpl_counters_stop(rpl_counters_t *c, rpl_result_t *res);
void rpl_counters_close(rpl_counters_t *c);
/* Current RSS in bytes (from /proc/self/statm), 0 if unknown. */
uint64_t rpl_rss_now(rpl_counters_t *c);
/* Resets the peak RSS mark (clear_refs 5); returns 0 if it could. */
int rpl_rss_reset_peak(void);
/* VmHWM in bytes, 0 if unknown. */
uint64_t rpl_rss_peak(void);

/* ---- rpl_schema.c (generated from analysis/schema.sql) ---------------- */
/* rpl_schema_sql and rpl_sql_user_version, declared in replayer.h. */

/* ---- rpl_db.c --------------------------------------------------------- */

/* Stores the trace (header, threads, modules, sites, ops) unless a trace
 * with the same content hash is there; *trace_id either way. The ops go
 * in in several transactions (rpl_db_set_store_txn), the trace a row of
 * trace_store until the last: readers never see it in part. Waits while
 * another session stores the same trace; stores again a trace whose
 * store died (kill -9), deleting what it left. */
/* Progress of the next rpl_db_trace calls (ops stored), NULL for none. */
struct hk_progress;
void rpl_db_set_progress(rpl_db_t *db, struct hk_progress *p);
/* The WAL a database keeps between transactions (PRAGMA
 * journal_size_limit): storing a trace grows it to the trace's size, cut
 * back to this by the first write after the checkpoint. */
#define RPL_DB_WAL_LIMIT_S "4194304"
/* Threads that code the op chunks of the next rpl_db_trace calls while
 * this one inserts them: -1 (the default) as many as the CPUs, at most 4;
 * 0 codes them on the calling thread. The stored bytes do not depend on
 * it. */
void rpl_db_set_store_threads(rpl_db_t *db, int n);
/* Chunks of ops (HK_OPCHUNK_OPS each) stored per transaction by the next
 * rpl_db_trace calls; < 1 the default, 32 (about 12 MB of WAL). Tests
 * make it small to see a store between its transactions; die_after > 0
 * (tests only) kills the process by SIGKILL once that many of them are
 * committed, as a kill -9 in the middle of a store would. */
void rpl_db_set_store_txn(rpl_db_t *db, int chunks, int die_after);
int rpl_db_trace(rpl_db_t *db, const char *path, uint64_t hash,
                 const trc_program_t *prog, int64_t *trace_id, char *why,
                 size_t len);

/* The connection under db (rpl_merge.c works on it with ATTACH). */
struct sqlite3 *rpl_db_sqlite(rpl_db_t *db);

/* What a run row starts with. */
typedef struct rpl_run_info {
  int64_t trace_id;
  const char *backend;
  const char *policy; /* NULL for back ends without policies */
  uint64_t seed;
  uint32_t repeat;
  const char *touch;
  const char *per_op;
  const char *options;
  const char *overrides;
  const char *shard; /* "I/N" or NULL */
  double load_avg; /* 1-minute load average; < 0 unknown */
  long cpus;       /* online CPUs; <= 0 unknown */
  const char *warning; /* runs.warning (a damaged trace), NULL none */
} rpl_run_info_t;

/* The repeat number the next run of a configuration gets: one past the
 * highest stored for the same trace, back end, policy, seed, touch and
 * per-op mode (any status), 0 for the first. Repeats continue across
 * invocations into one database (issue 17). < 0 on an SQLite error. */
int64_t rpl_db_next_repeat(rpl_db_t *db, const rpl_run_info_t *ri);

/* Inserts a run in status 'running'; *run_id. */
int rpl_db_run_begin(rpl_db_t *db, const rpl_run_info_t *ri, int64_t *run_id);
/* Stores all of a finished run and marks it done (or failed, when
 * res->status != 0), in one transaction. */
int rpl_db_run_finish(rpl_db_t *db, int64_t run_id, const rpl_result_t *res);
/* Marks a run failed with error (the child died or could not start). */
int rpl_db_run_fail(rpl_db_t *db, int64_t run_id, const char *error);

/* The host name runs are stamped with (rpl_live.c stamps live runs). */
const char *rpl_db_host(const rpl_db_t *db);

/* ---- rpl_replay.c ----------------------------------------------------- */

/* The order in which the n cells (trace, back end, policy) of the run
 * matrix run in repeat r: a permutation of 0..n-1 into idx, a seeded
 * shuffle (the same seed and r give the same order). */
void rpl_repeat_order(uint64_t seed, uint32_t r, uint32_t *idx, size_t n);

/* ---- rpl_child.c: each run's child as a fresh process ---------------- */

/* In the child just forked for a run: re-executes this program
 * (/proc/self/exe) as the run's replay child, handing it prog (mapped
 * from prog_fd, which must be the same open file), cfg (names and numbers;
 * cfg->progress becomes the MAP_SHARED page of progress_fd, -1 none) and
 * res_fd for the result, so that the replay starts from a fresh glibc, not
 * from the session's heap and mmap threshold. A constructor in rpl_child.c
 * takes the re-executed process over before main, in any program linking
 * the replayer. Returns only on failure (-errno, HK_E_*), with the fds as
 * they were: the caller may then replay in this process. */
int rpl_child_exec(const rpl_exec_cfg_t *cfg, const trc_program_t *prog,
                   int prog_fd, int res_fd, int progress_fd);

/* ---- rpl_result.c: passing a result from the child to the parent ------ */

/* Writes res to fd (the child's side). */
int rpl_result_write(int fd, const rpl_result_t *res);
/* Reads a result written by rpl_result_write (the parent's side). */
int rpl_result_read(int fd, rpl_result_t *res);

/* ---- rpl_oracle.c (with hakmem/ only) ------------------------------------ */

#ifdef RPL_HAVE_HAKMEM
#include "hakmem.h"
/* Fills oracle (a pol_oracle instance, not yet used) with the best fixed
 * arm per site in hindsight for the program ops[0..n_ops): one model
 * replay of the whole program per arm of cfg->pol.oracle_arms (every site
 * on that arm), each site then takes the arm under which its allocations
 * cost least (ties: the best arm overall), and one more replay checks the
 * assembled table against the best single arm, keeping the cheaper. The
 * replays run in a forked child, so this process's libc and memory stay as
 * they were. Sites are callers[caller] as the back end keys them.
 * *uniform_ns and *mixed_ns receive the two candidates' model totals.
 * 0, or a negative code with why. */
int rpl_oracle_search(pol_t *oracle, const hak_config_t *cfg,
                      const trc_pop_t *ops, uint64_t n_ops,
                      const uint64_t *callers, uint32_t n_callers,
                      double *uniform_ns, double *mixed_ns, char *why,
                      size_t len);
/* The site hakmem sees for a caller id: the recorded address. */
static inline uint64_t rpl_hak_site(const uint64_t *callers, uint32_t n,
                                    uint32_t caller) {
  return callers && caller && caller <= n ? callers[caller] : caller;
}
#endif

#endif
