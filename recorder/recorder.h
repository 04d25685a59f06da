/* recorder.h: the public header of recorder/, the core of the allocation
 * recorder. rec_preload.c (libhkrec.so) is a thin interposer over this API;
 * everything here is usable in-process and unit-tested without LD_PRELOAD.
 * The recorder turns allocator calls into trace events (traces/trc.h).
 *
 * Map of this header (sections name the file that defines them):
 *   configuration ......... rec_config.c
 *   site table ............ rec_sites.c
 *   stack capture ......... rec_unwind.c
 *   module map ............ rec_modules.c
 *   session, threads ...... rec_core.c
 */
#ifndef RECORDER_H
#define RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "hk_common.h"
#include "trc.h"

/* ---- configuration (rec_config.c) ------------------------------------ */

#define REC_DEFAULT_DEPTH 1      /* frames per site: measured, docs/recorder.md */
#define REC_DEFAULT_BLOCK 4096   /* events per thread buffer */
#define REC_MAX_BLOCK 65536
#define REC_DEFAULT_CHUNK 65536  /* events per thread per trace chunk */
#define REC_MAX_CHUNK (1u << 20) /* the writer clamps to its own maximum */
#define REC_DEFAULT_BUFFERS 4    /* buffers per thread: 1 filling, 3 queued */
#define REC_MAX_BUFFERS 16
#define REC_DEFAULT_MAX_SITES (1u << 20)
#define REC_DEFAULT_TS_EVERY 16  /* one clock read per 16 events of a thread
                                    (docs/recorder.md, "Time") */
#define REC_MAX_TS_EVERY 1024

/* Room for HKREC_ENV's pattern list; a longer list is ignored (no
 * environment recorded) rather than cut. */
#define REC_ENV_PATTERNS 512
/* The variables `hksim record --argv` embeds (HKREC_ENV): those that
 * change how a program allocates (glibc's malloc and tunables, preloaded
 * allocators and their settings, the runtime switches of the RUNTIMES
 * table), nothing else: no paths, no credentials. docs/recorder.md. */
#define REC_ENV_DEFAULT                                                        \
  "MALLOC_*,GLIBC_TUNABLES,LD_PRELOAD,PYTHONMALLOC,GLIBCXX_FORCE_NEW,"         \
  "G_SLICE,MIMALLOC_*,JE_MALLOC_CONF,TCMALLOC_*,HAKMEM_*"
/* Bytes of environment a trace header holds at most (rec_core.c). */
#define REC_ENV_MAX 16384

typedef struct rec_config {
  char out[1024];        /* output template (HKREC_OUT), "" = "hkrec" */
  int out_error;         /* HK_E_RANGE: HKREC_OUT does not fit in out[]; the
                            session refuses to start (never a silent
                            fallback to another name) */
  int runtimes;          /* HKREC_RUNTIMES=1: set the switch of each
                            runtime with an allocator of its own found in
                            the process (rec_runtimes_switch) */
  unsigned runtimes_set; /* the switches (rec_runtimes bits) set in this
                            process before the session (rec_preload.c):
                            the recorded environment has them, as the
                            program's runtime saw them */
  char manifest[1024];   /* HKREC_MANIFEST: file each process appends its
                            trace path to; "" = none */
  uint32_t depth;        /* HKREC_DEPTH, 1..TRC_MAX_DEPTH */
  uint32_t block;        /* HKREC_BLOCK, events per thread buffer */
  uint32_t chunk;        /* HKREC_CHUNK, events per trace chunk (the writer
                            codes a thread's buffers into one chunk) */
  uint32_t buffers;      /* HKREC_BUFFERS, buffers per thread, 2..16: the
                            one being filled and those queued for the
                            writer thread (the bound of its backlog) */
  int writer_thread;     /* HKREC_WRITER (default 1): a background thread
                            codes and writes full buffers; 0 = the filling
                            thread does it inline */
  int discard;           /* HKREC_DISCARD=1: a measurement of the hooks'
                            own cost (bench_recorder.sh's floor table): a
                            full buffer is dropped unread at its handoff
                            and filled again (no writer woken); a thread's
                            last buffer and the finish's go to the writer,
                            which drops them too; all counted in the
                            summary's dropped. The trace keeps its tables
                            and summary, no events */
  uint32_t max_sites;    /* HKREC_MAX_SITES; new stacks past it get site 0 */
  int level;             /* HKREC_LEVEL, zstd level (0 = writer default) */
  int fast;              /* HKREC_FAST (default 1): code chunks fast while
                            the writer is behind; 0: always in full; 2:
                            always fast; 3: always fast and stored
                            uncompressed (tests, A/B) */
  int store;             /* HKREC_STORE (default 1): while a program thread
                            waits for the writer (HKREC_FAST=1), the chunks
                            that start are coded fast and stored
                            uncompressed, not at fast_level; 0: never */
  int fast_level;        /* HKREC_FAST_LEVEL: zstd level of the chunks coded
                            fast while the writer is behind, -7..19 or
                            "none" (TRC_LEVEL_NONE: stored uncompressed);
                            0 = writer default */
  uint32_t ts_every;     /* HKREC_TS_EVERY, a power of two 1..1024: a
                            thread reads the clock for one event in this
                            many (and the last of each buffer); the others
                            are TRC_EV_EST, their times interpolated by the
                            reader and their cross-thread order repaired by
                            prepare. 1: every event stamped (fenced), as
                            before version 5 */
  uint64_t tick_hz;      /* HKREC_TSC_HZ: skip calibration when set */
  int clock;             /* 0 auto, or force TRC_CLOCK_MONOTONIC (HKREC_CLOCK=mono) */
  int signals;           /* HKREC_SIGNALS (default 1): flush on fatal signals */
  int quiet;             /* HKREC_QUIET: no stderr line on error */
  int argv;              /* HKREC_ARGV=1: embed the command line in the
                            trace header; else (default) only the
                            executable's path (privacy: arguments may hold
                            secrets). */
  char env[REC_ENV_PATTERNS]; /* HKREC_ENV: the environment variables to
                            embed, a comma-separated allow-list of NAME or
                            PREFIX* ("*": all); "" (default): none. HKREC_*
                            variables are never embedded. */
} rec_config_t;

/* Copies the entries of env (len bytes of "NAME=VALUE" entries each
 * followed by a NUL, as /proc/self/environ gives them) whose NAME matches
 * one of patterns (as rec_config_t.env) into out, in the same form, in
 * their order. HKREC_* never matches; an entry without '=' or not
 * NUL-terminated within len (a truncated read) is skipped, as is one that
 * no longer fits in cap (never cut). Returns the bytes written. Never
 * allocates. */
size_t rec_env_select(const char *patterns, const char *env, size_t len,
                      char *out, size_t cap);

/* Fills c with the defaults, then applies the HKREC_* variables of the
 * environment. Invalid values are ignored (the default stays). Never
 * allocates (safe during the preload bootstrap). */
void rec_config_from_env(rec_config_t *c);
void rec_config_default(rec_config_t *c);

/* Expands the output template for a process: "%p" is replaced by pid;
 * without "%p" a trailing ".hkt" is dropped and ".PID.hkt" appended. seq > 0
 * adds ".SEQ" before ".hkt" (a second file of the same pid, after exec).
 * A template ending in '/' names a directory: "hkrec" is appended, so the
 * files are DIR/hkrec.PID.hkt (never hidden ".PID.hkt" files).
 * Returns 0, or HK_E_RANGE if it does not fit in n bytes. */
int rec_output_path(char *dst, size_t n, const char *tmpl, int64_t pid,
                    unsigned seq);

/* ---- site table (rec_sites.c) ---------------------------------------- */

/* Deduplicates stacks (arrays of return addresses) into dense ids from 1.
 * Not thread-safe: the session serialises calls under its lock; each
 * thread fronts it with a rec_site_cache_t. */
typedef struct rec_sites_s rec_sites_t;

int rec_sites_create(rec_sites_t **out, uint32_t max_sites);
void rec_sites_free(rec_sites_t *s);
/* The id of frames[0..depth), adding it when new (*added = 1). Returns 0
 * when the table is full (the stack is then recorded as site 0, unknown). */
uint32_t rec_sites_intern(rec_sites_t *s, uint64_t hash, const uint64_t *frames,
                          uint32_t depth, int *added);
uint32_t rec_sites_count(const rec_sites_t *s);
/* Frames of site id (1..count), NULL otherwise. */
const uint64_t *rec_sites_get(const rec_sites_t *s, uint32_t id,
                              uint32_t *depth);
/* Bytes the table holds (index and frames). */
size_t rec_sites_memory(const rec_sites_t *s);
/* The hash used as the key of both the table and the per-thread cache;
 * never 0. */
uint64_t rec_stack_hash(const uint64_t *frames, uint32_t depth);

/* The per-thread cache in front of the table: direct-mapped, key = the
 * immediate return address (depth 1) or rec_stack_hash (deeper). A hit
 * costs one load and one compare. */
#define REC_CACHE_SLOTS 4096
typedef struct rec_site_cache {
  uint64_t key[REC_CACHE_SLOTS];
  uint32_t id[REC_CACHE_SLOTS];
} rec_site_cache_t;

HK_FORCE_INLINE uint32_t rec_cache_slot(uint64_t key) {
  return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 52) & (REC_CACHE_SLOTS - 1);
}
/* The cached id for key, 0 on a miss. */
HK_FORCE_INLINE uint32_t rec_cache_get(const rec_site_cache_t *c,
                                       uint64_t key) {
  uint32_t i = rec_cache_slot(key);
  return c->key[i] == key ? c->id[i] : 0;
}
HK_FORCE_INLINE void rec_cache_put(rec_site_cache_t *c, uint64_t key,
                                   uint32_t id) {
  uint32_t i = rec_cache_slot(key);
  c->key[i] = key;
  c->id[i] = id;
}

/* ---- stack capture (rec_unwind.c) ------------------------------------ */

/* Address ranges whose frames are not call sites: the recorder itself and
 * allocator-internal code such as C++ operator new/delete. Leading frames
 * inside any of them are skipped. */
#define REC_MAX_SKIP 32
typedef struct rec_skip {
  uint32_t n;
  uint64_t lo[REC_MAX_SKIP], hi[REC_MAX_SKIP];
} rec_skip_t;

/* Adds [lo, hi). Returns HK_E_RANGE when full. */
int rec_skip_add(rec_skip_t *s, uint64_t lo, uint64_t hi);
/* Adds the executable segments of the module holding addr. */
int rec_skip_add_module_of(rec_skip_t *s, const void *addr);
/* Adds the C++ operator new/delete variants the process has (found with
 * dlsym, sized with dladdr1): the frames libstdc++ puts between user code
 * and malloc. Returns how many were added. */
int rec_skip_add_cxx_operators(rec_skip_t *s);
HK_FORCE_INLINE int rec_skip_has(const rec_skip_t *s, uint64_t a) {
  for (uint32_t i = 0; i < s->n; i++)
    if (a >= s->lo[i] && a < s->hi[i]) return 1;
  return 0;
}

/* Captures up to depth return addresses of the calling thread, innermost
 * first, leading frames in skip dropped. Returns the number stored (0 if
 * the stack could not be read). The CFI walker (rec_capture_cfi) does it
 * where it can, libunwind (rec_capture_unw) otherwise; both give the same
 * frames (test_rec_sites compares them). */
uint32_t rec_capture(uint64_t *frames, uint32_t depth, const rec_skip_t *skip);
/* The CFI walker alone: the frames stored, or -1 when it declines this
 * stack (a signal frame, a CFA expression, code without .eh_frame, a stack
 * that is not the thread's own, not x86-64). Its rules are cached per
 * thread and flushed by rec_unwind_flush. */
int rec_capture_cfi(uint64_t *frames, uint32_t depth, const rec_skip_t *skip);
/* libunwind alone (unw_backtrace). */
uint32_t rec_capture_unw(uint64_t *frames, uint32_t depth,
                         const rec_skip_t *skip);
/* Every thread re-reads its rules before its next capture: call when a
 * module may have been unloaded (its addresses may hold other code). */
void rec_unwind_flush(void);

/* Turns on libunwind's per-thread caching and makes the key that frees
 * each thread's rule table at its exit (call once per process). */
void rec_unwind_init(void);

/* ---- module map (rec_modules.c) -------------------------------------- */

/* The loaded modules as dl_iterate_phdr reports them, with build ids.
 * A snapshot is taken without any lock of the recorder (dl_iterate_phdr
 * takes the loader's lock), then merged into the map. */
typedef struct rec_modules_s rec_modules_t;

int rec_modules_create(rec_modules_t **out);
void rec_modules_free(rec_modules_t *m);

/* The loader's (adds, subs) counters: they change on every dlopen/dlclose
 * that maps or unmaps an object. Cheap: stops at the first module. */
void rec_modules_generation(uint64_t *adds, uint64_t *subs);

/* A snapshot of what is mapped now (opaque, malloc'd). */
typedef struct rec_modsnap_s rec_modsnap_t;
rec_modsnap_t *rec_modsnap_take(void);
void rec_modsnap_free(rec_modsnap_t *s);

/* Called for each module that appears (new id) or disappears
 * (unload_time set) when a snapshot is merged. */
typedef int (*rec_module_fn)(void *ctx, const trc_module_t *m);
/* Merges a snapshot taken at time now: modules no longer mapped get
 * unload_time = now, new ones an id and time = now. A snapshot older than
 * what was merged already is ignored. Returns the first callback error. */
int rec_modules_merge(rec_modules_t *m, const rec_modsnap_t *s, uint64_t now,
                      rec_module_fn fn, void *ctx);
size_t rec_modules_count(const rec_modules_t *m);
/* Module i (0..count) of every module seen, loaded or not. */
const trc_module_t *rec_modules_at(const rec_modules_t *m, size_t i);
/* The loaded module whose executable range holds addr, or NULL. */
const trc_module_t *rec_modules_find(const rec_modules_t *m, uint64_t addr);

/* ---- runtime switches (rec_runtime.c) -------------------------------- */

/* A runtime whose own allocator serves most requests without calling
 * malloc, and the environment switch that sends them to malloc. It is in
 * a process when an object whose file name starts with module is loaded,
 * or symbol (when not NULL) is defined. */
typedef struct rec_runtime {
  const char *name;   /* "CPython" */
  const char *var;    /* "PYTHONMALLOC" */
  const char *value;  /* "malloc" */
  const char *why;    /* what the switch turns off */
  const char *module; /* "libpython" */
  const char *symbol; /* "Py_BytesMain" (CPython linked into its program) */
} rec_runtime_t;

/* The table, NULL-name terminated, at most REC_MAX_RUNTIMES entries; bit
 * i of a mask stands for rec_runtimes[i]. `hksim record --help` prints
 * it. */
#define REC_MAX_RUNTIMES 8
extern const rec_runtime_t rec_runtimes[];

/* The runtimes a library of this file name (a path or a DT_NEEDED name)
 * is: its base name starts with their module. */
unsigned rec_runtimes_of_lib(const char *name);

/* The runtimes loaded in this process (dl_iterate_phdr, dlsym). */
unsigned rec_runtimes_loaded(void);

/* HKREC_RUNTIMES=1 (set by `hksim record` unless --no-runtime-env), in
 * each process before main: sets the switch of each runtime loaded in it
 * whose variable is not set, and appends a line for each to the manifest
 * (REC_MANIFEST_RUNTIME, the runtime's name, VAR=VALUE, the pid, the
 * executable; tab-separated), which `hksim record` reports. Children
 * inherit the variable. Returns the mask set. Allocates (setenv): the
 * caller keeps the hooks from recording it. */
unsigned rec_runtimes_switch(const char *manifest);

/* The first field of a manifest line that is not a trace's path. */
#define REC_MANIFEST_RUNTIME "#runtime"

/* Appends line (with its newline) to the manifest in one write (O_APPEND);
 * nothing when manifest is "" or cannot be opened. */
void rec_manifest_append(const char *manifest, const char *line);

/* ---- session and threads (rec_core.c) -------------------------------- */

/* Where the session's data goes. The default sink is a trc_writer on the
 * output file; tests pass their own. add_site, add_module and add_thread
 * are serialised by the session lock and called from recording threads;
 * events and flush are serialised among themselves and called from the
 * session's writer thread (or inline, see rec_config_t.writer_thread), so
 * the two groups may run concurrently: the sink must be thread-safe
 * (trc_writer is). Every table entry an event refers to was added before
 * that event was recorded, hence before the events call carrying it. */
typedef struct rec_sink {
  int (*add_site)(void *ctx, uint32_t id, const uint64_t *frames,
                  uint32_t depth);
  int (*add_module)(void *ctx, const trc_module_t *m);
  int (*add_thread)(void *ctx, const trc_thread_t *t);
  int (*events)(void *ctx, uint32_t thread, const trc_event_t *ev, size_t n);
  int (*end_thread)(void *ctx, uint32_t thread); /* its last events came */
  /* end carries end_time, dropped and end_signal (trc_summary_t's
   * version-4 fields); the rest is the sink's to count. */
  int (*finish)(void *ctx, const trc_summary_t *end);
  void (*release)(void *ctx); /* after finish, or to abandon (fork child) */
  /* Optional (NULL: none): the writer thread says whether it is behind
   * (trc_writer_set_pressure) before each buffer it takes. */
  void (*pressure)(void *ctx, int behind);
} rec_sink_t;

typedef struct rec_s rec_t;
typedef struct rec_thread_s rec_thread_t;

/* Session states. */
enum { REC_RUNNING = 1, REC_STOPPED = 2, REC_FINISHED = 3 };

/* Creates a session. With sink NULL, opens the output file derived from
 * cfg->out for the calling process (O_EXCL: an existing name gets a .N
 * suffix) and records into a trc_writer; an open error returns -errno
 * (the preload prints it once and stays out of the way). */
int rec_create(rec_t **out, const rec_config_t *cfg, const rec_sink_t *sink,
               void *sink_ctx);
/* After rec_create failed: the output path it tried last ("" if it got no
 * further than the name), for the error message. */
const char *rec_create_failed_path(void);
/* Finishes (if not done) and frees. rec_free(NULL) is a no-op. */
void rec_free(rec_t *r);
/* Frees without writing anything more: a fork child drops the parent's
 * session this way (its threads do not exist in the child). Never waits. */
void rec_abandon(rec_t *r);

/* Fork protocol (pthread_atfork). prepare stops and joins the writer
 * thread (after the buffer it is writing; the queue is kept) and takes
 * every session lock, so that the child inherits no thread and no lock
 * held by a thread that does not exist there. parent releases the locks
 * (the writer restarts at the next handoff); child releases them and
 * abandons the session (the parent writes its events). */
void rec_fork_prepare(rec_t *r);
void rec_fork_parent(rec_t *r);
void rec_fork_child(rec_t *r);

/* Called first thing in the writer thread (the preload sets its nesting
 * guard there, so that the writer's own allocations are never recorded).
 * Set before recording starts. */
void rec_set_writer_init(rec_t *r, void (*fn)(void));

/* Waits until every buffer queued so far is written (tests). */
void rec_drain(rec_t *r);

/* Writes every queued buffer and every thread's buffered events to the
 * sink, stops the writer thread, writes the summary and closes. Other
 * threads may still be recording: their events up to now are written,
 * later ones are counted as dropped. Returns the sink's first error. With
 * try_only (signal handlers): takes every lock with trylock, retried for
 * REC_SIGNAL_WAIT_NS in all (a holder may be the interrupted thread), and
 * gives up with HK_E_STATE past it; the writer thread is not stopped or
 * joined, only waited for (bounded) if it is in the middle of a buffer. */
#define REC_SIGNAL_WAIT_NS 2000000000ull
int rec_finish(rec_t *r, int try_only);
/* The fatal signal that ends the session (the summary's end_signal); set
 * before rec_finish. Async-signal-safe. */
void rec_set_end_signal(rec_t *r, int sig);

/* The first error met (sticky), 0 if none. */
int rec_error(const rec_t *r);
int rec_state(const rec_t *r);
/* The output path ("" with a custom sink). */
const char *rec_path(const rec_t *r);
/* The trace writer of a session writing its own file (NULL with a custom
 * sink): the preload's close/dup hooks pass the program's fd calls
 * through its fd gate (trc_writer_gate_enter). */
trc_writer_t *rec_trace_writer(const rec_t *r);
uint64_t rec_dropped(const rec_t *r);
const rec_config_t *rec_config(const rec_t *r);
rec_skip_t *rec_skip(rec_t *r);
/* Bytes the session holds besides thread buffers (sites, modules). */
size_t rec_memory(const rec_t *r);
/* Bytes one thread state takes (its buffers, site cache). */
size_t rec_thread_memory(const rec_t *r);

/* The clock of the session: raw reading and start. */
uint64_t rec_now(const rec_t *r);

/* Attaches the calling thread: a dense index, cfg.buffers buffers of
 * cfg.block events and a site cache (one mmap; states of exited threads
 * are reused, waiting if need be until the writer has returned their
 * buffers). NULL when out of memory or not running. */
rec_thread_t *rec_thread_attach(rec_t *r, int64_t tid);

/* A thread's allocator calls after its last pthread key destructor round
 * (glibc frees its own per-thread buffers after every destructor has run:
 * dlerror's, the resolver's, strerror's): the session's shared "late"
 * state (tid 0, named REC_LATE_NAME, attached at its first use), with
 * every event stamped, since its events come from many threads. Returns
 * it with the session's late lock held, or NULL (not held) when it cannot
 * be attached or the session is not running; rec_late_leave releases it. */
rec_thread_t *rec_late_enter(rec_t *r);
void rec_late_leave(rec_t *r);
#define REC_LATE_NAME "late: calls of exited threads"
/* Queues the thread's buffered events for the writer (which also flushes
 * the partial chunk they make) and, with final, releases the state for
 * reuse (pthread key destructor). Does not wait for the write. */
void rec_thread_flush(rec_thread_t *t, int final);
uint32_t rec_thread_index(const rec_thread_t *t);
rec_t *rec_thread_session(const rec_thread_t *t);
rec_site_cache_t *rec_thread_cache(rec_thread_t *t);

/* The site id of a captured stack (innermost first), through the thread's
 * cache, adding it to the table and the sink when new. The module map is
 * refreshed first when the loader's generation changed, so a site's
 * module is known before the site is written. */
uint32_t rec_site_of(rec_thread_t *t, const uint64_t *frames, uint32_t depth);

/* ---- sparse stamps against true ones (rec_sparse.c) ------------------- */

/* What rec_sparse_eval measured. Errors are |interpolated - true| over
 * the estimated events, in ns; pairs are neighbours in true time order
 * from two threads (equal true times left out), inverted those whose
 * interpolated times are in the other order, tied those made equal. */
typedef struct rec_sparse_stats {
  uint64_t events, estimated;
  uint32_t threads;
  double median_ns, p99_ns, max_ns;
  uint64_t pairs, inverted, tied;
  /* Frees of a block another thread allocated, and of those the ones
   * whose interpolated time falls before the allocation's (what prepare's
   * causality repair then has to fix). */
  uint64_t xfrees, xfrees_inverted;
} rec_sparse_stats_t;

/* Replays the recorder's stamping rule on ev[0..n) (every event stamped
 * with its true time, thread set, in nondecreasing time order across
 * threads): which events a recording at HKREC_TS_EVERY=ts_every (a power
 * of two, 1..REC_MAX_TS_EVERY) with buffers of `block` events would have
 * stamped (rec_ts_due on simulated threads, the epoch moved at every
 * handoff); writes the rest as TRC_EV_EST to the trace file tmp (TSC
 * clock at tick_hz; sites dropped), reads it back through the reader's
 * interpolation and compares, into *st. tmp is removed. Returns 0,
 * HK_E_USAGE (bad arguments), HK_E_RANGE (events out of time order or a
 * thread index of 4096 or more), HK_E_NOMEM, or the writer's or reader's error. */
int rec_sparse_eval(const trc_event_t *ev, size_t n, uint32_t ts_every,
                    uint32_t block, uint64_t tick_hz, const char *tmp,
                    rec_sparse_stats_t *st);

/* Refreshes the module map now (dlclose, tests). */
void rec_modules_refresh(rec_t *r);

/* Appends one event (time already in the session's clock, raw; 0 for an
 * event that did not read the clock: stored TRC_EV_EST). The fast
 * path is an inline store into the thread buffer (rec_internal.h); this
 * out-of-line form is for tests and cold paths. */
void rec_record(rec_thread_t *t, uint8_t op, uint8_t flags, uint64_t raw_time,
                uint64_t ptr, uint64_t old_ptr, uint64_t size, uint64_t nmemb,
                uint64_t align, uint32_t site);

#endif
