/* replayer.h: the public header of replayer/, which replays prepared trace
 * programs (traces/trc.h) against allocator back ends, one fresh child
 * process per run, and stores the results in SQLite (analysis/schema.sql).
 *
 * Map of this header (sections name the file that defines them):
 *   back ends ............. rpl_backend.c, rpl_be_*.c
 *   the replay loop ....... rpl_exec.c
 *   results database ...... rpl_db.c
 *   a whole replay ........ rpl_replay.c
 */
#ifndef RPL_H
#define RPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hk_common.h"
#include "trc.h"

/* ---- back ends (rpl_backend.c, rpl_be_*.c) ---------------------------- */

/* What a back end is told at init. Strings are borrowed for the run. */
typedef struct rpl_be_config {
  uint32_t threads;   /* threads of the trace (>= 1): per-thread heaps */
  uint64_t seed;
  const char *policy; /* hakmem only; NULL otherwise */
  const char *const *overrides; /* hakmem key=value settings */
  size_t n_overrides;
  const uint64_t *callers; /* callers[id]: recorded address; may be NULL */
  uint32_t n_callers;      /* ids 1..n_callers */
  const char *arg;         /* the whole --backend word ("so:PATH...") */
  /* The program the run replays (set by rpl_exec): hakmem's oracle policy
   * searches it with model replays before the run (rpl_oracle.c). */
  const trc_pop_t *ops;
  uint64_t n_ops;
} rpl_be_config_t;

/* What a back end can say about itself after a run. Unknown values stay
 * at -1 (have_* flags say which are real). */
typedef struct rpl_be_stats {
  int have_cache;
  uint64_t cache_hits, cache_misses;
  int have_os;          /* OS calls counted by the back end itself */
  uint64_t os_mmap, os_munmap, os_madvise;
  char digest[33];      /* the back end's own decision digest ("" none) */
  char version[384];    /* e.g. "mimalloc 2.0.9"; so: adds path, build id */
  char config[4096];     /* effective configuration text (hakmem) */
  char cost_model[1024]; /* how a learning policy is rewarded (hakmem) */
  int have_model;        /* hakmem's cost model: totals of the run */
  double model_ns;
  uint64_t model_page_faults, model_syscalls;
  char calibration[32];  /* the event costs it used ("builtin" or a name) */
  /* 1: some allocation's path depended on which arm the policy chose; 0:
   * every arm would have made the same decisions on this trace; -1: not
   * known (one arm, or a policy of unknown arms) */
  int arms_distinguishable;
} rpl_be_stats_t;

/* One policy-timeline row (hakmem): the state of a learning policy. */
typedef struct rpl_pol_row {
  uint64_t op_seq;
  char arm[32];
  char metric[32];
  double value;
} rpl_pol_row_t;

/* Receives policy timeline rows; returns 0 to go on. */
typedef int (*rpl_pol_sink_fn)(void *ctx, const rpl_pol_row_t *row);

/* An allocator behind one const table (SQLite's sqlite3_mem_methods).
 * thread is the recorded thread index; back ends with per-thread heaps use
 * it, the others ignore it. caller is the dense id of the immediate caller
 * (rpl_be_config_t.callers maps it to the recorded address; hakmem keys
 * its decisions on it). realloc and free get the block's size as the
 * harness knows it (sized deallocation; the null back end needs it).
 * Contract: init is called once per process, in the child that replays. */
typedef struct rpl_backend {
  const char *name;
  const char *summary;
  int takes_policy; /* 1: hakmem; runs of other back ends have policy NULL */
  /* 1: its calls may come from several threads at once with the shared
   * ctx (threaded replay, --threads recorded); 0: always replayed serially
   * (back ends with per-op decisions or unsynchronised state). */
  int thread_safe;
  /* Checks the settings before anything runs (a bad hakmem key=value is
   * a usage error); may be NULL. 0 or a negative code and why. */
  int (*check)(const rpl_be_config_t *cfg, char *why, size_t len);
  /* 0 if usable here, else a negative code and why (one line). */
  int (*available)(char *why, size_t len);
  /* Creates the allocator state for a run; 0 or a negative code + why. */
  int (*init)(void **ctx, const rpl_be_config_t *cfg, char *why, size_t len);
  void *(*malloc)(void *ctx, size_t size, unsigned thread, uint32_t caller);
  void *(*calloc)(void *ctx, size_t size, unsigned thread, uint32_t caller);
  void *(*realloc)(void *ctx, void *p, size_t old_size, size_t size,
                   unsigned thread, uint32_t caller);
  void (*free)(void *ctx, void *p, size_t size, unsigned thread,
               uint32_t caller);
  /* align is a power of two >= sizeof(void *). */
  void *(*aligned)(void *ctx, size_t align, size_t size, unsigned thread,
                   uint32_t caller);
  size_t (*usable_size)(void *ctx, void *p); /* may be NULL */
  /* Decision of the last call, for the run digest (hakmem: the path it
   * chose); NULL when the back end has no deterministic decisions. */
  uint8_t (*last_decision)(void *ctx);
  /* Fills *st after the loop; may be NULL. */
  void (*stats)(void *ctx, rpl_be_stats_t *st);
  /* Streams the policy timeline after the loop; may be NULL. */
  int (*timeline)(void *ctx, rpl_pol_sink_fn sink, void *sink_ctx);
  /* Tells the back end which op comes next (policy timeline stamps);
   * may be NULL. Called between blocks of ops, never per op. */
  void (*at_op)(void *ctx, uint64_t op_seq);
  /* The op about to run: its index and the program's own time at it
   * (trc_pop_t.time_ns). Called before every op of a serial replay,
   * outside the timed region; may be NULL. hakmem runs its lifecycle
   * clock on it and samples the policy timeline every N decisions. */
  void (*before_op)(void *ctx, uint64_t op_seq, uint64_t time_ns);
  void (*release)(void *ctx);
} rpl_backend_t;

/* The registry: NULL-terminated. */
extern const rpl_backend_t *const rpl_backends[];
/* The back end named name, or NULL. Any name starting "so:" is the
 * library back end (rpl_be_so.c): it is not in rpl_backends, since it
 * needs a path. */
const rpl_backend_t *rpl_backend_find(const char *name);
/* Splits a library back end's name "so:PATH" or "so:PATH:prefix=P" into
 * PATH and P ("" when none). 0, or HK_E_USAGE when spec is not of that
 * form (empty path, a prefix that is not an identifier, too long). */
int rpl_so_parse(const char *spec, char *path, size_t path_len, char *prefix,
                 size_t prefix_len);
/* Whether name is a policy hakmem knows (static, ucb1, elo, evo, ...). */
int rpl_policy_known(const char *name);
/* Comma-separated names of the known policies, for messages. */
const char *rpl_policy_names(void);

/* ---- the replay loop (rpl_exec.c) ------------------------------------- */

typedef enum rpl_touch {
  RPL_TOUCH_NONE = 0, /* never write to a block */
  RPL_TOUCH_FIRST,    /* write its first byte */
  RPL_TOUCH_PAGES,    /* one write per page of each new block (default) */
  RPL_TOUCH_FULL,     /* memset the whole block */
  RPL_TOUCH_CHECK     /* test mode: fill with a per-slot pattern, check
                         that realloc kept it and that free finds it */
} rpl_touch_t;

const char *rpl_touch_name(rpl_touch_t t);
int rpl_touch_parse(const char *s, rpl_touch_t *out);

/* What was done to count OS calls. */
typedef enum rpl_sys_method {
  RPL_SYS_NONE = 0,       /* unavailable: the counts are NULL */
  RPL_SYS_TRACEPOINT = 1, /* perf_event_open on syscalls:sys_enter_* */
  RPL_SYS_BACKEND = 2     /* counted by the back end (hakmem OS table) */
} rpl_sys_method_t;

const char *rpl_sys_method_name(int m);

/* Per-op timing modes that time several ops as one measurement, a span
 * (--per-op batch:K, --per-op iteration; docs/analysis.md):
 *  BATCH      up to K consecutive ops of one kind between two TSC reads
 *             (the touches of their blocks after the second), for timers
 *             too coarse for one op;
 *  ITERATION  an allocation, the touch of its block and its free when the
 *             free is the next op (hakmem's harness loop: the metric of
 *             its published tables); other ops are not timed. */
typedef enum rpl_span {
  RPL_SPAN_NONE = 0,
  RPL_SPAN_BATCH = 1,
  RPL_SPAN_ITERATION = 2
} rpl_span_t;

/* One run's settings. */
typedef struct rpl_exec_cfg {
  const rpl_backend_t *backend;
  rpl_be_config_t be;
  rpl_touch_t touch;
  uint32_t sample_every; /* 0: no per-op timing; 1: every op; N: every Nth */
  rpl_span_t span;       /* not NONE: spans instead (sample_every ignored) */
  uint32_t batch_k;      /* ops in a batch (RPL_SPAN_BATCH), 2..65536 */
  uint64_t rss_every;    /* ops between RSS samples; 0: none */
  uint64_t tsc_hz;       /* 0: calibrate here */
  uint64_t crash_after;  /* test hook: raise SIGSEGV after this many ops
                            (0: never) */
  volatile uint64_t *progress; /* ops done, updated between blocks; may be NULL */
  int threaded;          /* replay each recorded thread on its own thread
                            (--threads recorded); only for thread_safe back
                            ends without decisions and traces of >1 thread */
  /* --gaps: before each op, spend the recorded time since the previous op
   * (serial: the previous op of the program; threaded: of the same
   * thread), times gap_scale, capped at RPL_GAP_CAP_NS, in a busy loop that
   * walks a gap_ws-byte buffer a cache line at a time (0: spins without
   * touching memory). gap_scale 0: no gaps. */
  double gap_scale;
  uint64_t gap_ws;
  uint64_t mem_limit;    /* --mem-limit in bytes: an allocation the back end
                            refuses fails the run, naming the cap (0: such
                            refusals are only counted) */
  /* Set-up shared by many runs (rpl_exec_setup_create), or NULL: each run
   * calibrates the timer and opens the kernel counters itself. */
  const struct rpl_exec_setup_s *setup;
} rpl_exec_cfg_t;

typedef struct rpl_rss_row {
  uint64_t op_seq, rss_bytes, live_bytes;
} rpl_rss_row_t;

/* The longest gap --gaps spends before one op: a longer recorded gap is a
 * thread that slept or waited (I/O, a lock, a condition), not work. */
#define RPL_GAP_CAP_NS 1000000ull

/* Parses --gaps "WS[:SCALE]" (WS a size with K/M/G suffix, 0 for spin
 * only; SCALE a positive factor, default 1) or "none" (scale 0). 0 or
 * HK_E_USAGE. */
int rpl_gaps_parse(const char *s, uint64_t *ws, double *scale);

/* --threads: how the recorded threads of a trace are replayed. */
typedef enum rpl_threads {
  RPL_THREADS_SERIAL = 0,   /* one replay thread, the prepared (causal) order */
  RPL_THREADS_RECORDED = 1, /* each recorded thread on a replay thread of its
                               own, where rpl_threads_resolve allows it */
  RPL_THREADS_AUTO = 2      /* the same (the command line's default): named
                               apart so that --threads recorded can be
                               refused with a span mode while auto falls
                               back to serial without a word */
} rpl_threads_t;

const char *rpl_threads_name(rpl_threads_t m);
/* "serial", "recorded" or "auto"; 0 or HK_E_USAGE. */
int rpl_threads_parse(const char *s, rpl_threads_t *out);

/* Latency of an op that was not timed (failed when recorded, or skipped). */
#define RPL_LAT_NONE UINT32_MAX
/* Span modes: an op timed within the span that began at an earlier op. */
#define RPL_LAT_SPAN (UINT32_MAX - 1)

/* What one run produced. Arrays are mmap'd (never the allocator under
 * test) and released by rpl_result_release. */
/* Per call site (stack id) outcomes of a run, from the back end's per-op
 * decisions (RPL_DEC_* bits): allocations made there, BigCache hits and
 * misses. Only back ends that report decisions produce them. */
typedef struct rpl_site_row {
  uint32_t site;
  uint32_t pad_;
  uint64_t allocs, hits, misses;
} rpl_site_row_t;

/* Bits of a back end's per-op decision (last_decision). */
#define RPL_DEC_MMAP 0x01
#define RPL_DEC_CACHE_HIT 0x02
#define RPL_DEC_MALLOC 0x04
#define RPL_DEC_CACHE_MISS 0x08

/* One recorded thread of a run of a multi-thread trace (table run_thread).
 * digest covers the thread's own ops in its order (what was asked, the
 * back end's per-op decisions where it has them) and its refused
 * allocations: the same in serial and threaded replay of a program.
 * edges: its ops that wait for another thread (derived from the program);
 * blocked: those that found the other thread behind and waited, and ns its
 * time from the start to its last op (threaded replay only; timing, not
 * deterministic). */
typedef struct rpl_thread_row {
  uint32_t thread;
  uint32_t pad_;
  uint64_t ops, alloc_failures, edges, blocked, ns;
  char digest[33];
  char pad2_[7];
} rpl_thread_row_t;

typedef struct rpl_result {
  int status;       /* 0 done; else the run failed with error */
  uint32_t replay_threads; /* threads that replayed (1: serial) */
  char error[256];
  uint64_t ops;       /* ops executed (recorded failures skipped) */
  uint64_t alloc_failures; /* allocations the back end refused */
  uint64_t total_ns;  /* wall time of the loop, RSS sampling excluded */
  uint64_t cpu_ns;    /* CPU time of the process over the loop (all replay
                       * threads; RSS sampling excluded): unlike total_ns,
                       * not lengthened by other processes taking the CPU */
  uint64_t tsc_hz;
  double timer_overhead_ticks; /* median of empty begin/end pairs */
  char timer_method[96]; /* method, then the resolution */
  double timer_resolution_ns; /* least positive step between TSC reads */
  int sys_method;               /* rpl_sys_method_t */
  uint64_t mmap_calls, munmap_calls, madvise_calls, mremap_calls, brk_calls;
  uint64_t minor_faults, major_faults;
  /* base: RSS just before the first op, with every harness page (the
   * mapped program, latency, slot and RSS buffers) already resident;
   * peak_rss_bytes = VmHWM - base, the allocator's own peak (issue 12);
   * gross: VmHWM itself. */
  uint64_t base_rss_bytes, peak_rss_bytes, peak_rss_gross_bytes;
  uint64_t peak_live_bytes, peak_live_objects;
  double median_ns, p95_ns, p99_ns, mean_ns, max_ns;
  uint64_t timed; /* ops with a latency */
  char digest[33];
  rpl_be_stats_t be;
  /* lat[k] is the latency in ns of op k*sample_every, RPL_LAT_NONE if it
   * was not timed. Span modes (span != NONE, one entry per op): at a
   * span's first op its time in ns (the timer's overhead subtracted
   * once), RPL_LAT_SPAN at its other ops; the percentiles are then over
   * spans: ns per op within a batch, ns per iteration. */
  uint32_t *lat;
  uint64_t n_lat;
  uint32_t sample_every;
  uint32_t span;    /* rpl_span_t */
  uint32_t batch_k;
  uint64_t spans;   /* spans timed */
  rpl_rss_row_t *rss;
  uint64_t n_rss;
  rpl_pol_row_t *pol;
  uint64_t n_pol;
  rpl_site_row_t *sites;
  uint64_t n_sites;
  /* Per recorded thread, for traces of more than one thread; NULL else. */
  rpl_thread_row_t *threads;
  uint64_t n_threads;
  uint64_t rss_cap_, pol_cap_, sites_len_; /* private: mapped sizes */
} rpl_result_t;

/* 1 when be can replay each recorded thread on a thread of its own: its
 * calls may come from several threads at once (thread_safe) and it keeps
 * no per-op decisions or clock (last_decision, before_op: hakmem, whose
 * digest covers decisions in the program's order), so a threaded run's
 * digest is the serial run's. */
int rpl_backend_threadable(const rpl_backend_t *be);

/* Whether a run of a prepared program whose events come from n_threads
 * recorded threads replays threaded (1) or serially (0) on be: SERIAL
 * never; RECORDED and AUTO when be is threadable, n_threads > 1 and span
 * is RPL_SPAN_NONE (a span times consecutive ops of the program as one).
 * The same inputs give the same answer, so every shard of a sweep and a
 * serial re-run of it replay each run alike. */
int rpl_threads_resolve(rpl_threads_t mode, const rpl_backend_t *be,
                        uint32_t n_threads, rpl_span_t span);

/* Replays ops[0..n_ops) in this process. Returns 0 when the run could be
 * made (its outcome, done or failed, is in res->status) or a negative code
 * for a harness failure. Always call rpl_result_release after. */
int rpl_exec(const rpl_exec_cfg_t *cfg, const trc_pop_t *ops, uint64_t n_ops,
             uint32_t n_slots, rpl_result_t *res);
void rpl_result_release(rpl_result_t *res);

/* The memory cap (--mem-limit). The default is half of physical memory
 * (MemTotal), or half of the cgroup's limit when that is lower; how says
 * which, for messages. 0 when neither is known (no cap). */
uint64_t rpl_mem_default(char *how, size_t len);
/* What a run of prog needs: its peak live bytes plus the harness's own
 * tables (slots, per-op decisions and latencies); saturates. */
uint64_t rpl_mem_need(const trc_program_t *prog, uint32_t sample_every);
/* In a run's child: caps the process's data (RLIMIT_DATA: heap and private
 * writable mappings) at what it holds now plus limit, so a run that
 * crosses the cap sees its allocations refused instead of waking the OOM
 * killer. 0 (limit 0: nothing done) or -errno and why. */
int rpl_mem_enforce(uint64_t limit, char *why, size_t len);
/* bytes as text with a binary unit ("64.0 GiB"). */
void rpl_size_text(uint64_t bytes, char *buf, size_t len);

/* ---- cost of preparing a trace (rpl_cost.c) ---------------------------
 * Said before preparing: the events are counted by an index pass
 * (trc_estimate), then turned into bytes and seconds with the figures
 * below, measured on the reference machine (2 shared cores, load ~15) on
 * a 33.5 M-event trace prepare ran at 1.74 M ops/s. Trace ops are stored
 * as compressed column chunks (trace_op_chunk): bench_store measured
 * 3.9 B per op of database and 2.1-3.7 M ops/s in wall time (load 10-14)
 * on 5 M ops; the estimate takes 4 B and the slow end. The program is
 * sizeof(trc_pop_t) bytes per op, exactly. */
#define RPL_COST_DB_BYTES_PER_OP 4
#define RPL_COST_PREPARE_OPS_S 1.7e6
#define RPL_COST_STORE_OPS_S 2.0e6
/* --max-expansion default: events per byte of trace file above which a
 * trace is refused. Recordings and generated traces hold 0.05 to 0.75
 * events per byte (1.4 to 20 bytes per event); a loop of identical events
 * zstd-compressed holds over 500. Traces under RPL_COST_MIN_EVENTS are
 * never refused for it (they are cheap whatever their ratio). */
#define RPL_COST_MAX_EXPANSION 64
#define RPL_COST_MIN_EVENTS 1000000
/* Above this many events the cost is said before preparing (unless
 * --quiet). */
#define RPL_COST_NOTE_EVENTS 10000000

typedef struct rpl_cost {
  trc_estimate_t est;
  uint64_t program_bytes; /* the .hkp */
  uint64_t db_bytes;      /* what storing the trace adds to the database */
  double prepare_s, store_s;
} rpl_cost_t;

/* Counts the trace's events and estimates the cost. 0, or the open error
 * (damage is not an error: c->est.damaged). */
int rpl_cost_estimate(const char *path, rpl_cost_t *c);
/* "N events: about X of prepared program, Y of database and T to prepare
 * and store". */
void rpl_cost_text(const rpl_cost_t *c, char *buf, size_t len);
/* 0: go ahead. HK_E_RANGE with a one-line why: more than max_expansion
 * events per file byte (0: no limit) with at least RPL_COST_MIN_EVENTS
 * events, or a prepared program larger than the free space of prog_dir
 * (NULL: not checked, e.g. the program is cached already). */
int rpl_cost_judge(const rpl_cost_t *c, uint64_t max_expansion,
                   const char *prog_dir, char *why, size_t len);

/* Calibrated cost of an empty hk_tsc_begin/hk_tsc_end pair, in ticks
 * (median of n pairs). */
double rpl_timer_overhead(unsigned n);
/* The timer's effective resolution in ticks: the least positive step
 * between back-to-back reads (stored per run as timer_resolution_ns). */
uint64_t rpl_timer_resolution(void);

/* What rpl_exec otherwise does at the start of every run and a process
 * making many short runs (the fuzzer: about 1 ms of set-up an input in its
 * instrumented build) does once: the TSC's frequency (tsc_hz 0: measured
 * here), the timer's overhead and resolution, and the kernel counters'
 * fds and /proc/self/statm (reset before each run, so each run still
 * counts only itself). Not thread-safe: one run at a time uses it. */
typedef struct rpl_exec_setup_s rpl_exec_setup_t;
int rpl_exec_setup_create(rpl_exec_setup_t **out, uint64_t tsc_hz);
void rpl_exec_setup_free(rpl_exec_setup_t *s);

/* ---- results database (rpl_db.c) -------------------------------------- */

typedef struct rpl_db_s rpl_db_t;

/* The schema version this program writes (PRAGMA user_version of
 * analysis/schema.sql, embedded at build time), and the schema text. */
extern const int rpl_sql_user_version;
extern const char rpl_schema_sql[];
/* analysis/views.sql and published.sql, applied after the schema. */
extern const char rpl_views_sql[];
extern const char rpl_published_sql[];

/* Opens or creates the database at path, in WAL mode, applying the schema.
 * A database whose user_version is newer than rpl_sql_user_version is
 * refused with HK_E_SCHEMA and a message naming both versions in why. */
int rpl_db_open(rpl_db_t **out, const char *path, char *why, size_t len);
void rpl_db_free(rpl_db_t *db); /* NULL is a no-op */
/* Releases the connection's page cache (before forking a run's child, so
 * the child does not inherit it in its RSS). */
void rpl_db_shrink(rpl_db_t *db);
/* The last SQLite error text. */
const char *rpl_db_errmsg(const rpl_db_t *db);

/* ---- merging databases (rpl_merge.c) ---------------------------------- */

/* What merging one input added to the output. */
typedef struct rpl_merge_stats {
  uint64_t traces_added;   /* traces new to the output (by content hash) */
  uint64_t runs_added;     /* runs new to the output (by run_uuid) */
  uint64_t runs_skipped;   /* runs the output already had */
  uint64_t rows_copied;    /* rows of the other tables */
  uint64_t tables_skipped; /* tables this program's schema does not have */
  int merged;              /* 1 once this input is merged (committed) */
} rpl_merge_stats_t;

/* Merges the databases in[0..n_in) into out (created if missing), each in
 * one transaction: traces by content hash, runs by identity (run_uuid),
 * renumbered, and every table's rows that belong to what was added.
 * Idempotent: merging an input again adds nothing. Every input is checked
 * first: one of another schema version (HK_E_SCHEMA) or not a results
 * database (HK_E_SQLITE) is refused before anything is written. stats has
 * n_in entries. On failure *bad is the index of the input at fault (n_in:
 * the output) and why says what is wrong; inputs merged before it stay.
 * progress: 1 a progress line on stderr (hk_progress), 0 none, -1 when
 * stderr is a terminal. */
int rpl_merge(const char *out, const char *const *in, size_t n_in,
              rpl_merge_stats_t *stats, size_t *bad, char *why, size_t len,
              int progress);

/* ---- live runs (rpl_live.c) ------------------------------------------- */

/* One live run of a program (`hksim validate`), from fork to wait4. */
typedef struct rpl_live_result {
  int status;      /* 0: exited 0; else why in error */
  char error[256];
  int exit_code;   /* 128+N when signal N ended it */
  uint64_t wall_ns, user_ns, sys_ns; /* rusage: waited-for children too */
  uint64_t max_rss_bytes, minor_faults, major_faults;
} rpl_live_result_t;

/* The library to preload for back end name live: "" for glibc, the
 * resolved path of mimalloc's, jemalloc's, tcmalloc's (the sonames the
 * back ends load), of hakmem_lib for hakmem, of PATH for so:PATH. 0, or
 * HK_E_USAGE (a back end that cannot run live: null) or HK_E_NOTFOUND
 * (the library is not there: ld.so would silently ignore it), with why. */
int rpl_live_preload(const char *backend, const char *hakmem_lib, char *out,
                     size_t len, char *why, size_t wlen);
/* Runs argv (searched in PATH) with LD_PRELOAD=preload ("" or NULL: none),
 * the NAME=VALUE strings of env (NULL-terminated, may be NULL) added,
 * stdin from stdin_path and stdout to stdout_path (NULL: /dev/null), and
 * waits. Returns 0 when it could be started (its outcome is in res), or a
 * negative code (fork, pipe). */
int rpl_live_run(char *const *argv, const char *preload,
                 const char *const *env, const char *stdin_path,
                 const char *stdout_path, rpl_live_result_t *res);

typedef struct rpl_live_info {
  int64_t trace_id; /* the recording of the same command; <= 0: none */
  const char *backend, *policy, *command, *preload;
  uint32_t repeat;
} rpl_live_info_t;

/* Inserts one live_runs row. 0 or HK_E_SQLITE (rpl_db_errmsg says why). */
int rpl_db_live_store(rpl_db_t *db, const rpl_live_info_t *li,
                      const rpl_live_result_t *r);
/* The trace_id of the stored trace whose content hash is hash: 0, or
 * HK_E_NOTFOUND, or HK_E_SQLITE. */
int rpl_db_trace_id(rpl_db_t *db, uint64_t hash, int64_t *trace_id);
/* Prints the fidelity rows and the fidelity_summary line of trace_id. */
int rpl_db_fidelity_print(rpl_db_t *db, int64_t trace_id, FILE *f);

/* ---- calibrations (rpl_calib.c) -------------------------------------- */

/* Stores (or replaces) the calibration `name` in the database at path
 * (created with the schema if need be): settings are the cost.k=v lines
 * of hak_calibrate, spread their min..max. 0, or a negative code and one
 * line in why. */
int rpl_calib_store(const char *path, const char *name, unsigned repeats,
                    const char *settings, const char *spread, char *why,
                    size_t len);
/* Reads the settings of calibration `name` into buf (n bytes, "k=v\n"
 * lines). HK_E_NOTFOUND with why when the database has no such name;
 * -ENOENT when the database does not exist. */
int rpl_calib_load(const char *path, const char *name, char *buf, size_t n,
                   char *why, size_t len);

/* ---- a whole replay (rpl_replay.c) ------------------------------------ */

typedef struct rpl_opts {
  const char *const *traces;
  size_t n_traces;
  const char *db_path;
  const char *const *backends; /* names; validated by rpl_replay */
  size_t n_backends;
  const char *const *policies; /* for hakmem runs */
  size_t n_policies;
  uint64_t seed;
  rpl_touch_t touch;
  uint32_t sample_every; /* as rpl_exec_cfg_t */
  rpl_span_t span;       /* as rpl_exec_cfg_t */
  uint32_t batch_k;
  uint32_t repeat;
  uint64_t rss_every;
  const char *const *overrides; /* hakmem key=value */
  size_t n_overrides;
  const char *tmp_dir;   /* scratch files; NULL: $TMPDIR or /tmp */
  /* Prepared programs are cached by the trace's content hash in this
   * directory; NULL: $HKSIM_CACHE_DIR, else $XDG_CACHE_HOME/hksim, else
   * ~/.cache/hksim; "" disables the cache (programs go to tmp_dir). */
  const char *cache_dir;
  int progress;          /* -1: when stderr is a terminal; 0 never; 1 always */
  /* Bytes a run may hold (--mem-limit): a trace needing more is refused
   * before its runs, a run crossing it fails. 0: rpl_mem_default();
   * UINT64_MAX: no cap. */
  uint64_t mem_limit;
  /* --max-expansion: a trace with more events per byte of file than this
   * is refused before prepare (rpl_cost_judge). 0: RPL_COST_MAX_EXPANSION;
   * UINT64_MAX: no limit. */
  uint64_t max_expansion;
  const char *options_text; /* the command line, stored with each run */
  /* --shard I/N: only the runs of the I-th of N parts of the run matrix
   * (rpl_shard_plan); shard_count 0 or 1: every run. */
  uint32_t shard_index, shard_count;
  /* --threads: how each run replays its trace's threads, resolved per run
   * by rpl_threads_resolve (SERIAL, 0, when left zeroed; the command
   * line's default is AUTO). runs.replay_threads stores the outcome. */
  rpl_threads_t threads;
  double gap_scale; /* --gaps (rpl_exec_cfg_t); 0: off */
  uint64_t gap_ws;
  /* One-line errors ("what: message"); NULL prints to stderr. */
  void (*on_error)(void *ctx, const char *what, const char *msg);
  void *err_ctx;
} rpl_opts_t;

typedef struct rpl_report {
  uint64_t runs_done, runs_failed;
  uint64_t traces_bad;
  /* SIGINT or SIGTERM ended the session (the signal; 0 none): the run in
   * progress (interrupted_run, 0 none) was killed and stored failed
   * ("interrupted by SIGINT"), no further run started, the temporary
   * directory removed. */
  int interrupted;
  int64_t interrupted_run;
} rpl_report_t;

/* The shard split of a run matrix: run k (in the canonical order trace,
 * back end, policy, repeat) of weight weight[k] goes to owner[k] in
 * [0, n_shards). Longest first onto the least loaded shard (ties: lower
 * run index, lower shard), so the split depends only on the matrix and the
 * weights, never on the order runs are made in; together the shards hold
 * every run exactly once. */
void rpl_shard_plan(const uint64_t *weight, size_t n_runs, uint32_t n_shards,
                    uint32_t *owner);
/* The weight of a trace's runs in the shard split: its events, counted by
 * an index pass (no column decoded); what is readable of a damaged trace;
 * 0 for one that cannot be opened. */
uint64_t rpl_trace_events(const char *path);
/* Parses "I/N" (0 <= I < N <= 65536). 0 or -1. */
int rpl_shard_parse(const char *s, uint32_t *index, uint32_t *count);

/* jemalloc (and a library back end, which may be jemalloc) needs more
 * static TLS than glibc reserves for dlopen: when one of backends wants
 * it, re-executes this program once with the tunable set (nothing must
 * have been written yet). Returns when it need not or could not; the
 * original GLIBC_TUNABLES is kept in HKSIM_TUNABLES_ORIG, which
 * rpl_live_run restores for the programs it runs. */
void rpl_reexec_for_static_tls(const char *const *backends, size_t n);

/* Runs every (trace, back end, policy, repeat). Returns 0 when everything
 * could be attempted (failed runs are stored as such and counted in rep),
 * HK_E_USAGE for bad names (nothing written), or another negative code for
 * a runtime failure (an unreadable trace, the database). */
int rpl_replay(const rpl_opts_t *o, rpl_report_t *rep);

#endif
