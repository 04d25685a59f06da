/* trc.h: the public header of traces/, the trace format (.hkt) and what is
 * built on it: the streaming writer (used by the recorder and by `hksim
 * gen`), the chunk reader, verification, "prepare" (causal global order with
 * dense object ids, the program a replayer runs) and the scenario generator.
 * The byte layout is specified in docs/trace-format.md.
 *
 * Map of this header (sections name the file that defines them):
 *   ops and events ........ trc_common.c
 *   writer ................ trc_writer.c
 *   reader ................ trc_reader.c
 *   verify and summary .... trc_verify.c
 *   prepare ............... trc_prepare.c
 *   generator ............. trc_gen.c
 *   text form ............. trc_common.c
 */
#ifndef TRC_H
#define TRC_H

#include <stddef.h>
#include <stdint.h>

#include "hk_common.h"

/* ---- format constants ------------------------------------------------ */

#define TRC_MAGIC "HKTRACE\n"        /* 8 bytes at offset 0 */
#define TRC_VERSION 5                /* format version this code writes;
                                        the reader also reads 1 to 4 */
#define TRC_CHUNK_MAGIC 0x4b43484bu  /* "KHCK" little-endian, before each chunk */
#define TRC_CHUNK_HDR_SIZE 24
#define TRC_MAX_DEPTH 64             /* frames in one site's stack */
#define TRC_MAX_CHUNK_RAW (64u << 20) /* reader refuses larger chunks */
#define TRC_NS_HZ 1000000000ull      /* tick_hz of the monotonic and virtual
                                        clocks, which count nanoseconds */
#define TRC_TSC_HZ_MIN 1000000ull    /* tick_hz range the reader accepts for */
#define TRC_TSC_HZ_MAX 100000000000ull /* the TSC clock: 1 MHz to 100 GHz */

/* ---- ops and events (trc_common.c) ----------------------------------- */

/* Every op of DESIGN.md's "complete op stream". X(name, lowercase name). The
 * numeric values are part of the format: append only. */
#define TRC_OP_MAP(X)                                                          \
  X(MALLOC, "malloc")                                                          \
  X(CALLOC, "calloc")                                                          \
  X(REALLOC, "realloc")                                                        \
  X(REALLOCARRAY, "reallocarray")                                              \
  X(FREE, "free")                                                              \
  X(POSIX_MEMALIGN, "posix_memalign")                                          \
  X(ALIGNED_ALLOC, "aligned_alloc")                                            \
  X(MEMALIGN, "memalign")                                                      \
  X(VALLOC, "valloc")                                                          \
  X(PVALLOC, "pvalloc")

typedef enum trc_op {
  TRC_OP_NONE_ = 0,
#define TRC_OP_ENUM_(n, s) TRC_OP_##n,
  TRC_OP_MAP(TRC_OP_ENUM_)
#undef TRC_OP_ENUM_
  TRC_OP_COUNT /* one past the last op; arrays indexed by op have this size */
} trc_op_t;

/* "malloc", ... ; NULL for a value that is not an op. */
const char *trc_op_name(unsigned op);
/* The op named s, or 0. */
unsigned trc_op_parse(const char *s);
/* Ops that return a new block (everything but free and realloc). */
int trc_op_is_alloc(unsigned op);
/* realloc and reallocarray. */
int trc_op_is_realloc(unsigned op);

/* Event flags. */
#define TRC_EV_FAILED 0x01 /* the call returned NULL / an error */
/* Since version 5: the event's time was not read from the clock (the
 * recorder stamps one event in HKREC_TS_EVERY, docs/recorder.md). It is
 * stored as the time of the thread's last stamped event and the reader
 * interpolates it, monotonically, between that stamp and the next stamped
 * event of the same thread in the chunk (a run of such events at the end
 * of a chunk keeps the last stamp). The true time lies between those two
 * stamps; prepare repairs cross-thread order within them. */
#define TRC_EV_EST 0x02
/* Largest event time the writer accepts (version 5 stores deltas shifted
 * up one bit). */
#define TRC_TIME_MAX (UINT64_MAX >> 1)

/* One call as recorded. Field use by op:
 *   malloc, valloc, pvalloc: size; ptr = result
 *   calloc, reallocarray:    nmemb x size; ptr = result (reallocarray: old_ptr too)
 *   realloc:                 old_ptr, size; ptr = result (moved iff ptr != old_ptr)
 *   free:                    ptr = the pointer freed (free(NULL) is not recorded)
 *   posix_memalign, aligned_alloc, memalign: align, size; ptr = result
 *   valloc, pvalloc:         align = the page size
 * A failed call has TRC_EV_FAILED and ptr 0. time is in ticks of the header's
 * clock since the trace's start; thread is an index into the thread table;
 * site is a stack id of the site table (0: unknown). */
typedef struct trc_event {
  uint64_t time;
  uint64_t ptr;
  uint64_t old_ptr;
  uint64_t size;
  uint64_t nmemb;
  uint64_t align;
  uint32_t site;
  uint32_t thread;
  uint8_t op;
  uint8_t flags;
} trc_event_t;

/* ---- header and side tables ------------------------------------------ */

typedef enum trc_clock {
  TRC_CLOCK_MONOTONIC = 1, /* CLOCK_MONOTONIC nanoseconds */
  TRC_CLOCK_TSC = 2,       /* invariant TSC ticks, tick_hz calibrated */
  TRC_CLOCK_VIRTUAL = 3    /* synthetic (generated traces): one tick per ns */
} trc_clock_t;

/* Header flags. */
#define TRC_HF_ARGV 0x01      /* argv is present */
#define TRC_HF_SYNTHETIC 0x02 /* made by the generator, not recorded */
#define TRC_HF_ENV 0x04       /* environment variables are present */
#define TRC_HF_SPARSE_TIME 0x08 /* events may carry TRC_EV_EST (version 5):
                                   prepare repairs cross-thread order */

/* The file header. Strings are owned by whoever filled the struct; the
 * reader's copy lives as long as the reader. */
typedef struct trc_header {
  uint32_t version; /* filled by the writer, reported by the reader */
  uint32_t flags;
  uint32_t clock;   /* trc_clock_t */
  uint64_t tick_hz; /* ticks per second of that clock */
  uint64_t start_wall_ns; /* CLOCK_REALTIME at the start */
  uint64_t start_ticks;   /* the clock's raw value that time 0 stands for */
  int64_t pid;
  int64_t ppid;
  const char *exe;   /* executable path, or scenario name */
  const char *argv;  /* NUL-separated, argv_len bytes; only with TRC_HF_ARGV */
  uint32_t argv_len;
  uint32_t depth;    /* stack depth the recorder captured */
  /* Only with TRC_HF_ENV: the recorded environment variables, each
   * "NAME=VALUE" followed by a NUL, env_len bytes (hksim record --argv or
   * --env: an allow-list, docs/recorder.md). */
  const char *env;
  uint32_t env_len;
} trc_header_t;

/* A loaded module: where an executable or library was mapped. */
typedef struct trc_module {
  uint32_t id;          /* dense, from 1; a module reloaded gets a new id */
  uint64_t base;        /* load address (dlpi_addr) */
  uint64_t lo, hi;      /* address range of its executable segments */
  uint64_t time;        /* when it was seen mapped */
  uint64_t unload_time; /* 0 while mapped */
  const char *path;
  const uint8_t *build_id;
  uint32_t build_id_len; /* 0 when the module has no build id */
} trc_module_t;

/* A thread of the recorded process. */
typedef struct trc_thread {
  uint32_t index;   /* index used by events, dense from 0 */
  int64_t tid;      /* kernel thread id */
  uint64_t start_time;
  uint64_t end_time; /* 0 if the trace ended with the thread alive */
  const char *name;  /* may be "" */
} trc_thread_t;

/* A call site: a stack of raw return addresses, innermost first. frames[0]
 * is the immediate caller, what hakmem's hak_alloc_at sees. */
typedef struct trc_site {
  uint32_t id; /* stack id, from 1 */
  uint32_t depth;
  const uint64_t *frames;
} trc_site_t;

/* End-of-trace summary: totals the writer kept, so that a reader can tell a
 * complete trace from one whose tail is missing. */
typedef struct trc_summary {
  uint64_t events;
  uint64_t counts[TRC_OP_COUNT]; /* by op */
  uint64_t failed;
  uint64_t chunks;  /* chunks before the summary */
  uint32_t threads, sites, modules;
  uint64_t end_time;
  uint64_t dropped; /* events the recorder could not record (reported) */
  /* Version 4 additions (0 in older files; docs/trace-format.md): */
  uint64_t reopened;   /* times the writer found its file descriptor closed
                          or replaced by the program and reopened the file */
  uint32_t end_signal; /* the fatal signal that ended the recording, 0 if it
                          ended normally (exit, exec) */
  /* The recorder's cost, so that a user sees why a recording was slow
   * (0 where unknown: older files, generated traces): */
  uint64_t hook_ns;      /* program threads' time in the recorder's hooks,
                            the allocator's own time left out: estimated from
                            sampled events, plus every buffer handoff */
  uint64_t hook_samples; /* events hook_ns was sampled on */
  uint64_t wait_ns;      /* program threads' time blocked on backpressure
                            (every buffer queued, waiting for the writer) */
  uint64_t writer_ns;    /* the writer's busy time: coding, zstd, write */
  uint64_t chunks_fast;  /* EVENTS chunks coded fast (writer behind) */
  uint64_t events_fast;  /* events in those chunks */
  uint64_t chunks_stored; /* of those, chunks stored uncompressed (writer
                             far behind: a program thread was waiting) */
  uint64_t events_stored; /* events in those chunks */
} trc_summary_t;

/* Fields of the version-4 summary extension, in order (a reader skips the
 * ones it does not know). */
enum {
  TRC_SUMX_REOPENED,
  TRC_SUMX_SIGNAL,
  TRC_SUMX_HOOK_NS,
  TRC_SUMX_HOOK_SAMPLES,
  TRC_SUMX_WAIT_NS,
  TRC_SUMX_WRITER_NS,
  TRC_SUMX_CHUNKS_FAST,
  TRC_SUMX_EVENTS_FAST,
  TRC_SUMX_CHUNKS_STORED, /* added in version 5's writer; older files end
                             before it (read as 0) */
  TRC_SUMX_EVENTS_STORED,
  TRC_SUMX_COUNT
};

/* trc_writer_opts_t.fast_level: store fast chunks uncompressed. */
#define TRC_LEVEL_NONE (-1000)

/* ---- writer (trc_writer.c) ------------------------------------------- */

typedef struct trc_writer_s trc_writer_t;

typedef struct trc_writer_opts {
  int level;              /* zstd level; 0 means the default (3) */
  uint32_t chunk_events;  /* events per chunk; 0 means 65536 */
  /* The path of the file the fd was opened on (opened O_APPEND), when the
   * fd lives inside a program that may close or reuse it (the recorder).
   * The writer then moves the fd to a high number (F_DUPFD_CLOEXEC) and,
   * before each write, checks with fstat that it still is that file
   * (device and inode); if not, it reopens the path for appending (never
   * touching the number, which is the program's now) and counts it in the
   * summary's `reopened`. NULL: the fd is trusted. */
  const char *reopen_path;
  /* Fast coding, for a caller that falls behind (trc_writer_set_pressure):
   * zstd level of fast-coded chunks (negative levels allowed;
   * TRC_LEVEL_NONE: stored uncompressed). 0 means the default (-1). */
  int fast_level;
} trc_writer_opts_t;

/* Creates path (truncating it) and writes the header. opts may be NULL.
 * Returns 0 and *out, or a negative code (-errno for the open).
 * The writer serialises its calls with an internal mutex: any thread may
 * call it. It allocates with malloc; a preloaded caller must guard against
 * recording its own allocations. */
int trc_writer_create(trc_writer_t **out, const char *path,
                      const trc_header_t *hdr, const trc_writer_opts_t *opts);
/* Same, on an open file descriptor the writer will own and close. */
int trc_writer_create_fd(trc_writer_t **out, int fd, const trc_header_t *hdr,
                         const trc_writer_opts_t *opts);

/* Side tables. A site must be added before the first events chunk that
 * refers to it is written; the writer keeps pending definitions and always
 * writes them ahead of events. Strings and arrays are copied. */
int trc_writer_add_site(trc_writer_t *w, uint32_t id, const uint64_t *frames,
                        uint32_t depth);
int trc_writer_add_module(trc_writer_t *w, const trc_module_t *m);
int trc_writer_add_thread(trc_writer_t *w, const trc_thread_t *t);

/* Appends n events of one thread (ordered by time within that thread).
 * Buffers per thread and writes whole chunks; each chunk is on disk when
 * the call that filled it returns. */
int trc_writer_events(trc_writer_t *w, uint32_t thread, const trc_event_t *ev,
                      size_t n);
/* The caller's hint that it falls behind (a recorder whose queue grows):
 * while behind is 1, a thread's chunk that starts is coded fast: every
 * pointer as a delta from the previous one (no ring or size-class lookups;
 * a valid coding of the same format) and compressed at opts.fast_level;
 * at 2 (far behind: the program waits for the writer) it is coded fast
 * and stored uncompressed (no zstd: a quarter of the writer's time on a
 * dense program). A chunk keeps the coding it started with. The summary
 * counts fast chunks and their events, and of those the stored ones;
 * `hksim trace compact` recodes a trace in full. 0 clears it; other values
 * are taken as 2. */
void trc_writer_set_pressure(trc_writer_t *w, int behind);
/* Writes out every partly filled buffer and pending table now. */
int trc_writer_flush(trc_writer_t *w);
/* A thread has ended: writes its partly filled chunk and pending tables
 * now and frees its coding state (about 0.5 MiB plus the coded events).
 * Its index may be used again; events of it then start a new chunk. */
int trc_writer_end_thread(trc_writer_t *w, uint32_t thread);

/* Flushes, writes the end-of-trace summary (end_time and dropped taken from
 * the arguments) and closes the file. Returns the first error the writer
 * met, if any. Frees nothing: call trc_writer_free after. */
int trc_writer_finish(trc_writer_t *w, uint64_t end_time, uint64_t dropped);
/* Same, taking end_time, dropped, end_signal, hook_ns, hook_samples,
 * wait_ns and writer_ns from end, and adding end->reopened to the
 * writer's own count (a recoded trace keeps its original's); the other
 * fields are the writer's own counts and are ignored. */
int trc_writer_finish_ext(trc_writer_t *w, const trc_summary_t *end);
/* The lowest fd number the writer moves a guarded fd to (opts.reopen_path):
 * near the top of RLIMIT_NOFILE's soft limit, clear of the low numbers
 * programs use. */
int trc_writer_high_fd(void);
/* The fd gate of a guarded writer (opts.reopen_path), for a recorder that
 * interposes the program's close, close_range, closefrom, dup2 and dup3 so
 * that the trace's fd is never released to the program. Each interposed
 * call runs between trc_writer_gate_enter and trc_writer_gate_leave; in
 * between, g->fd is the trace's fd (-1: none, or an unguarded writer) and
 * stays that number, so the call can leave it out. The common path takes
 * no lock (an atomic counter); it takes the writer's fd lock only while
 * the writer changes its fd (a reopen, the finish). Gate calls must not
 * nest on one thread, nor come from the writer's own calls. */
typedef struct trc_fd_gate {
  int fd;   /* the trace's fd while inside the gate, or -1 */
  int excl; /* private: 0 shared, 1 fd lock held, 2 and changing */
} trc_fd_gate_t;
void trc_writer_gate_enter(trc_writer_t *w, trc_fd_gate_t *g);
/* Inside the gate, before a call that will replace number fd (dup2, dup3
 * onto it): takes the writer's fd lock until trc_writer_gate_leave (so
 * no check-then-write of the writer straddles the call) and, if fd is the
 * trace's, moves the trace to another high number (F_DUPFD_CLOEXEC). Returns
 * 1 if it moved: number fd then still holds a duplicate of the trace that
 * the caller must replace or close before leaving; 0 if fd was not the
 * trace's. g->fd is updated. */
int trc_writer_gate_vacate(trc_writer_t *w, trc_fd_gate_t *g, int fd);
/* Inside the gate: does g->fd still hold the trace (fstat: device and
 * inode)? Not after a raw system call replaced or closed the number
 * (which the writer finds at its next check): the number is then the
 * program's, and its calls on it must go through. */
int trc_writer_gate_holds(trc_writer_t *w, const trc_fd_gate_t *g);
void trc_writer_gate_leave(trc_writer_t *w, trc_fd_gate_t *g);
/* Releases the writer; if it was not finished, closes the file without
 * writing what is buffered (a forked child drops its parent's writer this
 * way). trc_writer_free(NULL) is a no-op. */
void trc_writer_free(trc_writer_t *w);

/* The first error the writer met (sticky), 0 if none. */
int trc_writer_error(const trc_writer_t *w);
/* Totals so far: events accepted, bytes written to the file. */
uint64_t trc_writer_events_total(const trc_writer_t *w);
uint64_t trc_writer_bytes(const trc_writer_t *w);

/* ---- reader (trc_reader.c) ------------------------------------------- */

typedef enum trc_chunk_kind {
  TRC_CHUNK_EVENTS = 1,
  TRC_CHUNK_SITES = 2,
  TRC_CHUNK_MODULES = 3,
  TRC_CHUNK_THREADS = 4,
  TRC_CHUNK_SUMMARY = 5
} trc_chunk_kind_t;

/* One decoded chunk. Arrays are owned by the reader and valid until the
 * next call on it. */
typedef struct trc_chunk {
  uint32_t kind;     /* trc_chunk_kind_t */
  uint64_t offset;   /* file offset of the chunk header */
  uint64_t stored;   /* bytes on disk including the header */
  uint32_t thread;   /* EVENTS: the thread */
  size_t n;          /* entries in the array of this kind */
  const trc_event_t *events;
  const trc_site_t *sites;
  const trc_module_t *modules;
  const trc_thread_t *threads;
  const trc_summary_t *summary;
} trc_chunk_t;

typedef struct trc_reader_s trc_reader_t;

/* Opens path and reads the header. Fails with HK_E_BADMAGIC, HK_E_VERSION
 * (see trc_reader_version_error), HK_E_TRUNCATED, HK_E_CORRUPT or -errno. */
int trc_reader_open(trc_reader_t **out, const char *path);
/* Checks the header fields a crafted trace could abuse (each is a unit, a
 * divisor or a bound for readers): the clock is one of trc_clock_t;
 * tick_hz is TRC_NS_HZ for the monotonic and virtual clocks and within
 * [TRC_TSC_HZ_MIN, TRC_TSC_HZ_MAX] for the TSC; depth is at most
 * TRC_MAX_DEPTH; argv, when present, ends with a NUL. Returns 0, or
 * HK_E_CORRUPT with a one-line reason in why (may be NULL).
 * trc_reader_open refuses a header that fails it (HK_E_CORRUPT). */
int trc_header_check(const trc_header_t *h, char *why, size_t len);
/* After HK_E_CORRUPT from trc_reader_open: 1 with the reason in buf when
 * the header is whole but a field is refused (trc_header_check, or a NUL
 * inside the executable path), else 0 (buf untouched). */
int trc_header_problem(const char *path, char *buf, size_t len);
/* After HK_E_VERSION from trc_reader_open: the version the file has (the
 * reader understands up to TRC_VERSION). */
uint32_t trc_reader_file_version(const char *path);
void trc_reader_free(trc_reader_t *r);
/* A one-line description of why trc_reader_open(path) failed with rc, for
 * messages: an empty file and a header cut short are named as such (not
 * "file ends inside a chunk"), a newer version names both versions.
 * Returns buf. */
const char *trc_open_error(const char *path, int rc, char *buf, size_t len);

const trc_header_t *trc_reader_header(const trc_reader_t *r);

/* Reads and decodes the next chunk. Returns 1 with *c filled, 0 at a clean
 * end of file, or a negative code: HK_E_TRUNCATED (the file ends inside a
 * chunk), HK_E_CORRUPT (checksum or structure), HK_E_DECOMPRESS. After an
 * error trc_reader_offset() is where the damaged chunk starts. */
int trc_reader_next(trc_reader_t *r, trc_chunk_t *c);
/* Like trc_reader_next, checksums and all, but an EVENTS chunk comes back
 * with only thread and n (events NULL): its columns are not decoded. For
 * indexing passes; a column error then shows only when the chunk is read. */
int trc_reader_next_index(trc_reader_t *r, trc_chunk_t *c);
/* Offset of the next chunk to read (of the damaged one after an error). */
uint64_t trc_reader_offset(const trc_reader_t *r);
/* Reads the chunk at a known offset (from a previous pass), for readers
 * that merge threads by seeking. Same returns as trc_reader_next. */
int trc_reader_read_at(trc_reader_t *r, uint64_t offset, trc_chunk_t *c);
/* Size of the file in bytes. */
uint64_t trc_reader_file_size(const trc_reader_t *r);
/* Gives the TRC_EV_EST events of one thread's chunk their times: each run
 * of them, stored at the last stamp before it, is spread evenly and
 * monotonically up to the next stamped event (a run with none after it
 * keeps its stored times). The reader does this when it decodes a version-5
 * chunk; exported for tests and for producers that fill times late. */
void trc_interpolate_times(trc_event_t *ev, size_t n);

/* ---- verify and summary (trc_verify.c) ------------------------------- */

/* What a full scan of a trace found. */
typedef struct trc_scan {
  int status;             /* 0 whole and consistent, else the first problem */
  uint64_t damage_offset; /* where the damage starts (status != 0) */
  uint64_t readable_bytes;/* bytes up to the last whole chunk */
  uint64_t file_bytes;
  uint64_t chunks, event_chunks;
  uint64_t events;
  uint64_t counts[TRC_OP_COUNT];
  uint64_t failed;
  uint32_t threads, sites, modules;
  uint32_t max_depth;
  int have_summary;
  trc_summary_t summary; /* valid when have_summary */
  char problem[160];     /* one line saying what is wrong, if anything */
} trc_scan_t;

/* Reads the whole trace and checks it: every chunk whole, events ordered
 * in time per thread, sites defined before use, threads known, summary
 * present and agreeing with what was read. Returns 0 when the file could be
 * opened (result in *s, including s->status), else the open error. */
int trc_scan(const char *path, trc_scan_t *s);

/* What preparing a trace will read, found before preparing it: an index
 * pass over the chunks (each checksummed and decompressed, the event
 * columns not decoded), so the count is what prepare will meet, whatever
 * the summary claims. A few KB of zstd can hold tens of millions of
 * events: callers weigh this before committing to prepare and store. */
typedef struct trc_estimate {
  uint64_t file_bytes;
  uint64_t chunks, event_chunks; /* readable chunks */
  uint64_t events;               /* in the readable events chunks */
  uint32_t threads;              /* distinct thread indexes with events */
  int have_summary;              /* the end-of-trace summary was read */
  int damaged;                   /* the pass stopped at damage */
  uint64_t damage_offset;
} trc_estimate_t;

/* Fills *e for the trace at path. Returns 0 (damage is not an error here:
 * e->damaged), or the open error. */
int trc_estimate(const char *path, trc_estimate_t *e);

/* ---- prepare (trc_prepare.c) ----------------------------------------- */

/* Prepared-op flags. */
#define TRC_PF_FAILED 0x01   /* allocation failed when recorded: no object */
#define TRC_PF_IMPLICIT 0x02 /* a free made up by prepare: an address was
                                returned again while still live (a double
                                allocation), so its previous owner is retired */
#define TRC_PF_FROM_NULL 0x04 /* realloc(NULL, n): allocates a new object */

/* One op of the prepared program, in causal global order. slot is a dense
 * object id in [0, peak live objects): an allocation takes the most recently
 * released slot (LIFO, deterministic) or a new one, a free releases it, a
 * realloc keeps it. The replayer keeps one live pointer per slot. A failed
 * allocation has TRC_PF_FAILED and slot UINT32_MAX (a failed realloc keeps
 * its live slot); realloc to size 0 that freed its block has size 0 and
 * releases the slot. */
typedef struct trc_pop {
  uint64_t size;       /* bytes requested (calloc, reallocarray: nmemb*size,
                          saturated); free: the size of the block it frees
                          (what its allocation asked for), so frees split
                          by size class too */
  uint32_t slot;
  uint32_t site;       /* stack id */
  uint32_t caller;     /* dense id of the immediate caller address, from 1 */
  uint16_t thread;     /* thread index (saturates at 65535) */
  uint8_t op;          /* trc_op_t */
  uint8_t align_log2;  /* requested alignment as log2; 0: default */
  uint64_t flags : 8;  /* TRC_PF_* */
  /* When the call happened: nanoseconds since the trace's start (recorded
   * ticks converted with the header's tick_hz; generated traces: the
   * generator's virtual clock). Non-decreasing along the program: an op
   * that causality moved ahead of a later-stamped one takes that later
   * time. 56 bits hold 2.28 years; longer saturates at TRC_POP_TIME_MAX. */
  uint64_t time_ns : 56;
} trc_pop_t;

#define TRC_POP_TIME_MAX ((1ull << 56) - 1)

typedef struct trc_prep_stats {
  uint64_t events;        /* events read */
  uint64_t ops;           /* ops emitted */
  uint64_t counts[TRC_OP_COUNT];
  uint64_t unmatched_frees;  /* free/realloc of an address not live: skipped */
  uint64_t double_allocs;    /* address returned while live: old one retired */
  uint64_t failed_allocs;
  uint64_t live_at_exit;     /* objects never freed */
  uint64_t live_bytes_at_exit;
  uint64_t peak_live_bytes;
  uint64_t peak_live_objects; /* = number of slots the replayer needs */
  uint64_t order_fixups;     /* cross-thread ties broken by causality */
  uint64_t order_unresolved; /* held events stepped as they were because
                                the events they waited for were held
                                behind each other (trc_prepare.c pick) */
  uint32_t threads, sites, callers;
  int damaged;               /* the trace was read up to damage */
  uint64_t damage_offset;
} trc_prep_stats_t;

/* Receives the prepared program one op at a time; returns 0 to go on, or a
 * negative code to stop prepare with that code. */
typedef int (*trc_pop_sink_fn)(void *ctx, const trc_pop_t *op);

typedef struct trc_prepare_opts {
  trc_pop_sink_fn sink; /* may be NULL: only statistics */
  void *sink_ctx;
  int stop_at_damage;   /* 0: prepare what is readable and report damage */
} trc_prepare_opts_t;

/* Prepares the trace at path: merges all threads' events in causal order
 * (time, then thread, then per-thread order), gives each object a slot, and
 * feeds the sink. Works in memory bounded by threads x chunk size plus the
 * live-object table. Returns 0 (or the sink's / the reader's error). A
 * damaged trace is prepared up to the damage with stats->damaged set. */
int trc_prepare(const char *path, const trc_prepare_opts_t *opts,
                trc_prep_stats_t *stats);
/* Whether prepare (trc_prepare, trc_program_build) decodes the trace's
 * chunks ahead on a second thread: 1 yes, 0 no, -1 (the default) when
 * the machine has 2 CPUs or more. The output does not depend on it. For
 * tests and benchmarks (bench_prepare's A/B); process-wide. */
void trc_prepare_set_decode_ahead(int on);

/* The immediate-caller table built by prepare: caller id -> address. */
typedef struct trc_callers {
  uint32_t n;           /* ids 1..n */
  const uint64_t *addr; /* addr[id]; addr[0] is 0 (unknown caller) */
} trc_callers_t;

/* A prepared program on disk (.hkp): a small header, the ops as an array of
 * trc_pop_t, then the caller table. Mapped read-only by replayers. */
typedef struct trc_program {
  const trc_pop_t *ops;
  uint64_t n_ops;
  uint32_t n_slots;
  uint32_t n_threads;
  trc_callers_t callers;
  trc_prep_stats_t stats;
  uint64_t trace_hash;  /* content hash of the source trace */
  void *map_;           /* private */
  size_t map_len_;
} trc_program_t;

/* Prepares trace_path into prog_path. */
int trc_program_build(const char *trace_path, const char *prog_path,
                      trc_prep_stats_t *stats);
/* Same, updating progress (common/hk_progress.h; may be NULL) with the ops
 * written so far. */
struct hk_progress;
int trc_program_build_progress(const char *trace_path, const char *prog_path,
                               trc_prep_stats_t *stats,
                               struct hk_progress *progress);
/* Maps a prepared program; trc_program_release unmaps it. The file's
 * checksum (XXH3 of its contents, in its header) is verified first, in
 * windows whose pages are given back, so the check leaves the program
 * unresident whatever its length: a damaged, truncated or older-version
 * file gives HK_E_CORRUPT, HK_E_TRUNCATED, HK_E_BADMAGIC or HK_E_VERSION
 * and is never mapped. */
int trc_program_map(trc_program_t *p, const char *prog_path);
void trc_program_release(trc_program_t *p);

/* Content hash of a whole file (XXH3 64 of its bytes), the trace's key in
 * results databases. */
int trc_file_hash(const char *path, uint64_t *out);

/* ---- text form (trc_common.c) ---------------------------------------- */

/* The one-line text form of an event, as `hksim trace dump` prints it
 * (docs/trace-format.md, "Text form"), e.g.
 *   t=123 th=0 malloc size=64 ptr=0x5555deadbee0 site=3
 * Writes at most len bytes including the NUL; returns the length the full
 * line has (as snprintf), so a return >= len means it was cut. */
int trc_event_format(const trc_event_t *e, char *buf, size_t len);

/* ---- generator (trc_gen.c) ------------------------------------------- */

typedef struct trc_gen_opts {
  uint64_t seed;
  double scale; /* multiplies the length; 1.0 default */
} trc_gen_opts_t;

/* Names of the scenarios, NULL-terminated. */
extern const char *const trc_gen_scenarios[];
/* One-line description of a scenario, or NULL if unknown. */
const char *trc_gen_describe(const char *scenario);
/* Writes the scenario as a trace at path. HK_E_NOTFOUND for an unknown
 * scenario. */
int trc_gen(const char *scenario, const char *path, const trc_gen_opts_t *o);

#endif
