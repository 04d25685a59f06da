-- analysis/schema.sql: THE schema of hakmem-sim results databases.
-- Written by `hksim replay` (replayer/rpl_db.c embeds this file at build
-- time), read by `hksim report`, analysis/*.sql, sqlite3, pandas, R.
-- Explained in docs/schema.md. Versioned by PRAGMA user_version: a program
-- refuses a database whose version is newer than the one below.
-- Every statement is idempotent (IF NOT EXISTS), so applying it to a
-- database of the same version changes nothing.
PRAGMA user_version = 4;

CREATE TABLE IF NOT EXISTS schema_version (
  version    INTEGER PRIMARY KEY,
  applied_at TEXT NOT NULL,         -- UTC, ISO 8601
  program    TEXT NOT NULL          -- e.g. 'hksim 0.1.0'
);

-- One row per distinct trace, keyed by the content hash of its file.
CREATE TABLE IF NOT EXISTS traces (
  trace_id          INTEGER PRIMARY KEY,
  content_hash      TEXT NOT NULL UNIQUE, -- trc_file_hash, 16 hex digits
  name              TEXT NOT NULL,        -- file name without directories
  path              TEXT NOT NULL,        -- as first given
  file_bytes        INTEGER,
  format_version    INTEGER,
  flags             INTEGER,              -- TRC_HF_*: 2 = synthetic
  clock             INTEGER,              -- 1 monotonic, 2 tsc, 3 virtual
  tick_hz           INTEGER,
  start_wall_ns     INTEGER,
  pid               INTEGER,
  ppid              INTEGER,
  exe               TEXT,                 -- executable, or scenario name
  argv              TEXT,                 -- space-joined
  depth             INTEGER,              -- stack frames recorded per site
  events            INTEGER,              -- prepare statistics from here on
  ops               INTEGER,
  threads           INTEGER,
  sites             INTEGER,
  callers           INTEGER,
  unmatched_frees   INTEGER,
  double_allocs     INTEGER,
  failed_allocs     INTEGER,
  live_at_exit      INTEGER,
  live_bytes_at_exit INTEGER,
  peak_live_bytes   INTEGER,
  peak_live_objects INTEGER,
  order_fixups      INTEGER,
  damaged           INTEGER NOT NULL DEFAULT 0,
  damage_offset     INTEGER,
  added_at          TEXT NOT NULL,
  env               TEXT,                 -- recorded environment variables,
                                          -- NAME=VALUE one a line; NULL
                                          -- unless recorded with --argv or
                                          -- --env (an allow-list)
  order_unresolved  INTEGER               -- of order_fixups, the dead ends
                                          -- of the sparse-stamp repair
                                          -- (docs/recorder.md "Time"); last:
                                          -- rpl_db_open adds it to a
                                          -- database made before it
);

CREATE TABLE IF NOT EXISTS op_kinds (
  kind INTEGER PRIMARY KEY,              -- trc_op_t
  name TEXT NOT NULL UNIQUE              -- 'malloc', 'free', ...
);
INSERT OR IGNORE INTO op_kinds(kind, name) VALUES
  (1, 'malloc'), (2, 'calloc'), (3, 'realloc'), (4, 'reallocarray'),
  (5, 'free'), (6, 'posix_memalign'), (7, 'aligned_alloc'), (8, 'memalign'),
  (9, 'valloc'), (10, 'pvalloc');

CREATE TABLE IF NOT EXISTS threads (
  trace_id     INTEGER NOT NULL REFERENCES traces(trace_id),
  thread       INTEGER NOT NULL,         -- the index ops refer to
  tid          INTEGER,
  name         TEXT,
  start_time   INTEGER,
  end_time     INTEGER,
  PRIMARY KEY (trace_id, thread)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS modules (
  trace_id    INTEGER NOT NULL REFERENCES traces(trace_id),
  module_id   INTEGER NOT NULL,
  path        TEXT,
  base        INTEGER,                   -- load address
  lo          INTEGER,                   -- executable range
  hi          INTEGER,
  build_id    TEXT,                      -- hex, NULL if none
  PRIMARY KEY (trace_id, module_id)
) WITHOUT ROWID;

-- Call sites: a stack of raw return addresses, innermost first, stored once
-- per trace with what the trace's ops did there.
CREATE TABLE IF NOT EXISTS sites (
  trace_id    INTEGER NOT NULL REFERENCES traces(trace_id),
  site        INTEGER NOT NULL,          -- stack id (0: unknown)
  caller      INTEGER,                   -- frames[0], what hak_alloc_at sees
  module_id   INTEGER,                   -- module holding caller, NULL unknown
  depth       INTEGER,
  frames      TEXT,                      -- space-separated hex addresses
  allocs      INTEGER NOT NULL DEFAULT 0, -- allocations (and reallocs) here
  bytes       INTEGER NOT NULL DEFAULT 0, -- bytes they asked for
  PRIMARY KEY (trace_id, site)
) WITHOUT ROWID;

-- Filled by offline symbolization (analysis/, later): one row per address.
CREATE TABLE IF NOT EXISTS symbols (
  trace_id    INTEGER NOT NULL REFERENCES traces(trace_id),
  address     INTEGER NOT NULL,
  function    TEXT,
  file        TEXT,
  line        INTEGER,
  module      TEXT,
  PRIMARY KEY (trace_id, address)
) WITHOUT ROWID;

-- The prepared program of a trace, once per trace, compressed: chunks of
-- up to 65536 ops in causal order (k0 = seq of the first, a multiple of
-- 65536), each a blob of columns coded by common/hk_opchunk.c (zstd with
-- its checksum; docs/schema.md "Trace ops"). Read them one row per op
-- through the view trace_op. What runs share is here, not repeated per run.
CREATE TABLE IF NOT EXISTS trace_op_chunk (
  trace_id    INTEGER NOT NULL,
  k0          INTEGER NOT NULL,          -- seq of its first op
  n           INTEGER NOT NULL,          -- ops in it
  ops         BLOB NOT NULL,
  PRIMARY KEY (trace_id, k0)
);

-- A trace whose ops are being stored. Its chunks go into trace_op_chunk
-- in transactions of a bounded size (so the WAL stays bounded, not the
-- size of the stored trace), under the trace_id reserved here; its row in
-- traces (with threads, modules, sites) is written with the last chunks
-- and this row deleted in the same transaction, so no reader sees a trace
-- before it is whole, and views, reports and merge, which start from
-- traces, skip the chunks. While a session stores, it holds a lock on
-- the database's "-hkstore" file (docs/schema.md); a row here whose lock
-- nobody holds was left by a session that died, and the next session
-- storing that trace deletes its chunks and stores it again.
CREATE TABLE IF NOT EXISTS trace_store (
  trace_id     INTEGER PRIMARY KEY,     -- the id the trace will have
  content_hash TEXT NOT NULL UNIQUE,
  ops          INTEGER NOT NULL,        -- ops in its program
  stored       INTEGER NOT NULL,        -- ops committed so far
  host         TEXT,
  pid          INTEGER,
  started_at   TEXT NOT NULL
);

-- One row per op: trace_id, seq (index in the prepared program), kind
-- (op_kinds.kind), size, site, thread, slot (dense object id), align
-- (requested alignment, 0 default), flags (TRC_PF_*: 1 failed, 2 implicit,
-- 4 realloc(NULL)), time_ns (since the trace's start). The module
-- hksim_trace_op decodes the chunks: hksim registers it on its
-- connections; the sqlite3 shell loads it with
-- `.load build/analysis/hksim_sqlite`. `hksim expand` replaces this view
-- by a plain table of the same columns, for readers that cannot load it.
CREATE VIEW IF NOT EXISTS trace_op AS
SELECT trace_id, seq, kind, size, site, thread, slot, align, flags, time_ns
FROM hksim_trace_op;

-- One row per replay run: (trace, back end, policy, repeat).
CREATE TABLE IF NOT EXISTS runs (
  run_id        INTEGER PRIMARY KEY,
  trace_id      INTEGER NOT NULL REFERENCES traces(trace_id),
  backend       TEXT NOT NULL,
  policy        TEXT,                    -- NULL for back ends without one
  seed          INTEGER NOT NULL,
  repeat        INTEGER NOT NULL,        -- 0 .. --repeat-1
  touch         TEXT NOT NULL,           -- none|first|pages|full|check
  per_op        TEXT NOT NULL,           -- all|sample:N|batch:K|iteration|none
  options       TEXT,                    -- the command line
  hakmem_config TEXT,                    -- effective hakmem configuration
  cost_model    TEXT,                    -- how a policy was rewarded
  backend_version TEXT,
  status        TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  error         TEXT,                    -- why it failed
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  host          TEXT,
  timer_method  TEXT,
  timer_overhead_ticks REAL,             -- subtracted from every latency
  tsc_hz        INTEGER,
  ops           INTEGER,                 -- ops executed
  ops_timed     INTEGER,                 -- ops with a latency row
  alloc_failures INTEGER,                -- allocations the back end refused
  total_ns      INTEGER,                 -- wall time of the loop alone
  median_ns     REAL,
  p95_ns        REAL,
  p99_ns        REAL,
  mean_ns       REAL,
  max_ns        REAL,
  syscall_method TEXT,                   -- tracepoint|backend|unavailable
  mmap_calls    INTEGER,                 -- NULL when unavailable
  munmap_calls  INTEGER,
  madvise_calls INTEGER,
  mremap_calls  INTEGER,
  brk_calls     INTEGER,
  minor_faults  INTEGER,
  major_faults  INTEGER,
  base_rss_bytes INTEGER,                -- RSS just before the loop, harness
                                         -- pages (program, buffers) resident
  peak_rss_bytes INTEGER,                -- VmHWM - base: the allocator's peak
  peak_live_bytes INTEGER,
  peak_live_objects INTEGER,
  fragmentation REAL,   -- peak_rss_bytes (net) / peak_live_bytes
  cache_hits    INTEGER,                 -- hakmem BigCache, else NULL
  cache_misses  INTEGER,
  digest        TEXT,                    -- decision digest, 32 hex digits
  shard         TEXT,                    -- 'I/N' (--shard), NULL: whole matrix
  replay_threads INTEGER,                -- threads that replayed (1: serial)
  run_uuid      TEXT,                    -- 32 hex digits, random: identity
                                         -- of the run across merged databases
  -- hakmem's cost model (docs/hakmem.md), NULL for other back ends:
  model_ns      REAL,                    -- the model's total for the run
  model_page_faults INTEGER,             -- first-touch faults it predicts
  model_syscalls INTEGER,                -- mmap, munmap, madvise, brk
  calibration   TEXT,                    -- calibrations.name, or 'builtin'
  arms_distinguishable INTEGER,          -- 1: some path depended on the arm;
                                         -- 0: every arm decides alike here;
                                         -- NULL: one arm / not hakmem
  -- Honest measurement (issue 12):
  timer_resolution_ns REAL,   -- least positive step between TSC reads
  load_avg      REAL,         -- 1-minute load average when the run began
  cpus          INTEGER,      -- online CPUs when the run began
  peak_rss_gross_bytes INTEGER, -- VmHWM of the child, harness included
  spans         INTEGER,      -- --per-op batch:K|iteration: run_span rows
  warning       TEXT,         -- a run to read with care, NULL if none: its
                              -- trace was damaged (only the ops before the
                              -- damage replayed) or had no end-of-trace
                              -- summary (the recording was cut short)
  loop_cpu_ns   INTEGER       -- CPU time (user + system) of the replaying
                              -- process over the loop, all its replay
                              -- threads: what `hksim validate` compares
                              -- with a live run's user + system time
);
CREATE INDEX IF NOT EXISTS runs_trace ON runs(trace_id, backend, policy);
CREATE UNIQUE INDEX IF NOT EXISTS runs_uuid ON runs(run_uuid);

-- Per-op latency of a run, stored in chunks: one row holds the latencies of
-- up to 4096 consecutive timed ops as a JSON array of integers (ns; null for
-- an op not timed, a recorded failure). Op k of the array is the program's
-- op (k0 + k) * every (every > 1 with --per-op sample:N). Chunks make
-- storing a run a few hundred inserts instead of one per op (version 1
-- stored a row per op: 2.6 M rows/s, and 3x the bytes). Read them through
-- run_op or op_latency, which unpack them.
CREATE TABLE IF NOT EXISTS run_op_chunk (
  run_id      INTEGER NOT NULL,
  k0          INTEGER NOT NULL,          -- index of the first latency
  every       INTEGER NOT NULL DEFAULT 1,
  latencies   TEXT NOT NULL,             -- JSON array, e.g. [41,39,null,40]
  PRIMARY KEY (run_id, k0)
) WITHOUT ROWID;

-- Spans of ops timed as one measurement, for runs made with --per-op
-- batch:K (up to K consecutive ops of one kind between two TSC reads: for
-- timers too coarse for one op) or --per-op iteration (an allocation, the
-- touch of its block and its free, when the free is the next op: the
-- metric of hakmem's harness). runs.per_op says which. One row per span:
-- its first op (trace_op.seq), how many ops it holds, and its wall time in
-- ns with the timer's overhead subtracted once. Such runs have no
-- run_op_chunk rows (a span is not an op's latency); their median_ns,
-- p95_ns, p99_ns and mean_ns are over spans: ns per op within a batch
-- (ns / ops), ns per iteration. Read through span_latency.
CREATE TABLE IF NOT EXISTS run_span (
  run_id      INTEGER NOT NULL,
  seq         INTEGER NOT NULL,          -- first op of the span
  ops         INTEGER NOT NULL,          -- ops in it (>= 1)
  ns          INTEGER NOT NULL,          -- its wall time
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- One row per timed op: (run_id, seq, latency_ns).
CREATE VIEW IF NOT EXISTS run_op AS
SELECT c.run_id, (c.k0 + j.key) * c.every AS seq, j.value AS latency_ns
FROM run_op_chunk c, json_each(c.latencies) j
WHERE j.type = 'integer';

-- Row-at-a-time inserts (hand-built databases, tests) still work: each
-- becomes a chunk of one.
CREATE TRIGGER IF NOT EXISTS run_op_insert INSTEAD OF INSERT ON run_op
BEGIN
  INSERT INTO run_op_chunk(run_id, k0, every, latencies)
  VALUES (NEW.run_id, NEW.seq, 1, json_array(NEW.latency_ns));
END;

CREATE TABLE IF NOT EXISTS rss_timeline (
  run_id      INTEGER NOT NULL,
  op_seq      INTEGER NOT NULL,          -- sampled before this op
  rss_bytes   INTEGER NOT NULL,
  live_bytes  INTEGER NOT NULL,
  PRIMARY KEY (run_id, op_seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS policy_events (
  run_id      INTEGER NOT NULL,
  op_seq      INTEGER NOT NULL,
  arm         INTEGER,                   -- NULL: a policy-wide value
  metric      TEXT NOT NULL,             -- rating, pulls, chosen, mode, ...
  value       REAL
);
CREATE INDEX IF NOT EXISTS policy_events_run ON policy_events(run_id, op_seq);

-- Per-run, per-site outcomes where a back end reports them (hakmem).
CREATE TABLE IF NOT EXISTS run_site (
  run_id      INTEGER NOT NULL,
  site        INTEGER NOT NULL,
  allocs      INTEGER,
  cache_hits  INTEGER,
  cache_misses INTEGER,
  PRIMARY KEY (run_id, site)
) WITHOUT ROWID;

-- Per recorded thread of a run of a multi-thread trace (rpl_exec.c,
-- docs/backends.md "Determinism"). digest: the thread's own ops in its
-- order, the back end's per-op decisions and its refused allocations; the
-- same for serial and threaded replay of one program, whatever the
-- interleaving. edges: its ops that wait for another thread (from the
-- program); blocked: those that found that thread behind, and wall_ns its
-- time from the start to its last op (threaded replay only, NULL serial).
CREATE TABLE IF NOT EXISTS run_thread (
  run_id      INTEGER NOT NULL,
  thread      INTEGER NOT NULL,          -- index into threads(thread)
  ops         INTEGER,
  alloc_failures INTEGER,
  edges       INTEGER,
  blocked     INTEGER,
  wall_ns     INTEGER,
  digest      TEXT,
  PRIMARY KEY (run_id, thread)
) WITHOUT ROWID;

-- Back-end specific extra counters of a run, by name.
CREATE TABLE IF NOT EXISTS run_counters (
  run_id      INTEGER NOT NULL,
  name        TEXT NOT NULL,
  value       REAL,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

-- ---- whole stacks and who allocates (analysis/ana_sites.c) -------------
-- Filled when a trace is stored (hksim replay symbolizes it) or by
-- hksim symbolize; docs/attribution.md explains the rules.

-- One row per logical frame of each site's stack, innermost first: a
-- physical frame (a return address of sites.frames) gives one row per
-- function of its inlined chain, the inlined ones first (inlined = 1).
-- role: NULL for the program's own code, else why attribution skips the
-- frame ('runtime': allocator, libc, C++ runtime, recorder; 'wrapper': the
-- wrappers table; 'forwarder': found from the trace (trace_wrappers);
-- 'unnamed': no symbol). Names are demangled.
CREATE TABLE IF NOT EXISTS site_stack (
  trace_id    INTEGER NOT NULL,
  site        INTEGER NOT NULL,
  depth       INTEGER NOT NULL,          -- logical frame, 0 = innermost
  frame       INTEGER NOT NULL,          -- index into sites.frames
  address     INTEGER,
  function    TEXT,
  file        TEXT,
  line        INTEGER,
  module      TEXT,
  offset      INTEGER,                   -- address - the module's base
  inlined     INTEGER NOT NULL DEFAULT 0,
  role        TEXT,
  PRIMARY KEY (trace_id, site, depth)
) WITHOUT ROWID;

-- The attributed frame of each site: the first frame that is neither
-- runtime nor a wrapper (site_stack.depth); see docs/attribution.md.
CREATE TABLE IF NOT EXISTS site_attr (
  trace_id    INTEGER NOT NULL,
  site        INTEGER NOT NULL,
  depth       INTEGER NOT NULL,
  PRIMARY KEY (trace_id, site)
) WITHOUT ROWID;

-- What attribution skips: glob patterns (fnmatch) on a frame's function
-- name (demangled, without return type and parameters) or on its module's
-- file name. Users add rows (or hksim symbolize --wrappers FILE); the
-- defaults below carry their reasons.
CREATE TABLE IF NOT EXISTS wrappers (
  pattern     TEXT NOT NULL,
  match       TEXT NOT NULL CHECK (match IN ('function', 'module')),
  kind        TEXT NOT NULL CHECK (kind IN ('runtime', 'wrapper')),
  reason      TEXT,
  source      TEXT NOT NULL DEFAULT 'default', -- 'default' or a file name
  PRIMARY KEY (pattern, match)
) WITHOUT ROWID;
INSERT OR IGNORE INTO wrappers(pattern, match, kind, reason) VALUES
  ('libc.so*', 'module', 'runtime', 'the C library: malloc itself, and strdup, fopen, qsort... allocate for their caller'),
  ('libc-*', 'module', 'runtime', 'the C library (older file name)'),
  ('ld-linux*', 'module', 'runtime', 'the dynamic loader allocates for dlopen, TLS: its caller asked'),
  ('libpthread*', 'module', 'runtime', 'thread library: allocates for pthread_create'),
  ('libstdc++.so*', 'module', 'runtime', 'C++ runtime: operator new, containers, iostreams allocate for their caller'),
  ('libc++.so*', 'module', 'runtime', 'C++ runtime (LLVM)'),
  ('libc++abi.so*', 'module', 'runtime', 'C++ ABI runtime (LLVM)'),
  ('libgcc_s.so*', 'module', 'runtime', 'unwinder and compiler runtime'),
  ('libhkrec*', 'module', 'runtime', 'the recorder itself'),
  ('libjemalloc*', 'module', 'runtime', 'an allocator'),
  ('libtcmalloc*', 'module', 'runtime', 'an allocator'),
  ('libmimalloc*', 'module', 'runtime', 'an allocator'),
  ('malloc', 'function', 'runtime', 'the allocator entry points (statically linked copies too)'),
  ('calloc', 'function', 'runtime', 'allocator entry point'),
  ('realloc', 'function', 'runtime', 'allocator entry point'),
  ('reallocarray', 'function', 'runtime', 'allocator entry point'),
  ('posix_memalign', 'function', 'runtime', 'allocator entry point'),
  ('aligned_alloc', 'function', 'runtime', 'allocator entry point'),
  ('memalign', 'function', 'runtime', 'allocator entry point'),
  ('__libc_*', 'function', 'runtime', 'glibc internal allocator entry points'),
  ('operator new*', 'function', 'wrapper', 'C++ allocation: the size is the type of the new-expression in the caller'),
  ('operator delete*', 'function', 'wrapper', 'C++ deallocation'),
  ('std::*', 'function', 'wrapper', 'C++ library templates (std::allocator, std::vector::_M_realloc_insert, std::make_unique, std::string...) allocate what the calling code asked for'),
  ('__gnu_cxx::*', 'function', 'wrapper', 'libstdc++ internals (__gnu_cxx::new_allocator<T>::allocate)'),
  ('__cxa_*', 'function', 'wrapper', 'C++ ABI helpers (exceptions, guards)'),
  ('xmalloc', 'function', 'wrapper', 'libiberty/GNU: malloc or die, size from the caller'),
  ('xcalloc', 'function', 'wrapper', 'libiberty/GNU: calloc or die'),
  ('xrealloc', 'function', 'wrapper', 'libiberty/GNU: realloc or die'),
  ('xstrdup', 'function', 'wrapper', 'libiberty/GNU: strdup or die, size from the caller''s string'),
  ('xstrndup', 'function', 'wrapper', 'libiberty/GNU: strndup or die'),
  ('xmemdup', 'function', 'wrapper', 'libiberty: memdup or die'),
  ('xasprintf', 'function', 'wrapper', 'GNU: asprintf or die'),
  ('xvasprintf', 'function', 'wrapper', 'GNU: vasprintf or die'),
  ('concat', 'function', 'wrapper', 'libiberty: joins the caller''s strings'),
  ('reconcat', 'function', 'wrapper', 'libiberty: joins the caller''s strings'),
  ('_obstack_newchunk', 'function', 'wrapper', 'libiberty/glibc obstack: a new chunk for the caller''s obstack'),
  ('_obstack_begin*', 'function', 'wrapper', 'obstack: first chunk of the caller''s obstack'),
  ('g_malloc*', 'function', 'wrapper', 'GLib: g_malloc, g_malloc0, g_malloc_n, g_malloc0_n (g_new, g_new0 expand to them)'),
  ('g_try_malloc*', 'function', 'wrapper', 'GLib: may-fail variants'),
  ('g_realloc*', 'function', 'wrapper', 'GLib realloc'),
  ('g_try_realloc*', 'function', 'wrapper', 'GLib realloc, may fail'),
  ('g_slice_alloc*', 'function', 'wrapper', 'GLib slice allocator (g_slice_new expands to it)'),
  ('g_memdup*', 'function', 'wrapper', 'GLib: copies the caller''s block'),
  ('g_strdup', 'function', 'wrapper', 'GLib: copies the caller''s string'),
  ('g_strndup', 'function', 'wrapper', 'GLib: copies the caller''s string'),
  ('sqlite3Malloc', 'function', 'wrapper', 'SQLite: every allocation goes through it'),
  ('sqlite3MallocZero', 'function', 'wrapper', 'SQLite: zeroed sqlite3Malloc'),
  ('sqlite3MemMalloc', 'function', 'wrapper', 'SQLite: the default sqlite3_mem_methods (mem1.c) over malloc'),
  ('sqlite3MemRealloc', 'function', 'wrapper', 'SQLite: mem1.c realloc'),
  ('sqlite3Realloc', 'function', 'wrapper', 'SQLite realloc'),
  ('sqlite3_malloc*', 'function', 'wrapper', 'SQLite public allocation API'),
  ('sqlite3_realloc*', 'function', 'wrapper', 'SQLite public realloc API'),
  ('sqlite3DbMalloc*', 'function', 'wrapper', 'SQLite: sqlite3DbMallocRaw, sqlite3DbMallocRawNN, sqlite3DbMallocZero, sqlite3DbMallocSize'),
  ('sqlite3DbRealloc*', 'function', 'wrapper', 'SQLite: per-connection realloc'),
  ('sqlite3DbReallocOrFree', 'function', 'wrapper', 'SQLite: per-connection realloc'),
  ('dbMallocRawFinish', 'function', 'wrapper', 'SQLite: slow path of sqlite3DbMallocRaw'),
  ('dbReallocFinish', 'function', 'wrapper', 'SQLite: slow path of sqlite3DbRealloc'),
  ('mallocWithAlarm', 'function', 'wrapper', 'SQLite: sqlite3Malloc with the memory alarm'),
  ('sqlite3DbStrDup', 'function', 'wrapper', 'SQLite: copies the caller''s string'),
  ('sqlite3DbStrNDup', 'function', 'wrapper', 'SQLite: copies the caller''s string'),
  ('PyMem_*', 'function', 'wrapper', 'CPython raw/mem domain allocation API'),
  ('_PyMem_*', 'function', 'wrapper', 'CPython internal allocators (_PyMem_RawMalloc, _PyMem_DebugMalloc...)'),
  ('PyObject_Malloc', 'function', 'wrapper', 'CPython object domain'),
  ('PyObject_Calloc', 'function', 'wrapper', 'CPython object domain'),
  ('PyObject_Realloc', 'function', 'wrapper', 'CPython object domain'),
  ('_PyObject_Malloc', 'function', 'wrapper', 'CPython pymalloc'),
  ('_PyObject_Calloc', 'function', 'wrapper', 'CPython pymalloc'),
  ('_PyObject_Realloc', 'function', 'wrapper', 'CPython pymalloc'),
  ('pymalloc_*', 'function', 'wrapper', 'CPython pymalloc internals'),
  ('_PyObject_GC_Alloc', 'function', 'wrapper', 'CPython: GC header + object, size from the type'),
  ('_PyObject_GC_Malloc', 'function', 'wrapper', 'CPython: GC allocation'),
  ('gc_alloc', 'function', 'wrapper', 'CPython: GC allocation'),
  ('_PyObject_GC_New', 'function', 'wrapper', 'CPython: new GC object of the caller''s type'),
  ('_PyObject_GC_NewVar', 'function', 'wrapper', 'CPython: new variable-size GC object'),
  ('_PyObject_New', 'function', 'wrapper', 'CPython: new object of the caller''s type'),
  ('_PyObject_NewVar', 'function', 'wrapper', 'CPython: new variable-size object'),
  ('PyType_GenericAlloc', 'function', 'wrapper', 'CPython: tp_alloc of most types'),
  ('_PyType_AllocNoTrack', 'function', 'wrapper', 'CPython: tp_alloc without GC tracking');

-- Functions found to be allocation wrappers from the trace itself (the
-- forwarding rule of docs/attribution.md): the size entropy at their
-- allocation calls (h_call_bits) mostly vanishes once their caller is
-- known (h_caller_bits).
CREATE TABLE IF NOT EXISTS trace_wrappers (
  trace_id      INTEGER NOT NULL,
  function      TEXT NOT NULL,
  allocs        INTEGER NOT NULL,
  bytes         INTEGER NOT NULL,
  callers       INTEGER NOT NULL,   -- distinct callers with >= 4 allocations
  h_call_bits   REAL NOT NULL,      -- size entropy given the call in function
  h_caller_bits REAL NOT NULL,      -- ... given the call and its caller
  PRIMARY KEY (trace_id, function)
) WITHOUT ROWID;

-- Per site, what its objects did over the trace (one pass over trace_op in
-- order): bytes and objects live at the moment of the trace's peak of live
-- bytes, temporary allocations (freed within 8 ops with no other
-- allocation in between, as heaptrack counts them) and leaks (live at
-- exit).
CREATE TABLE IF NOT EXISTS site_life (
  trace_id      INTEGER NOT NULL,
  site          INTEGER NOT NULL,
  peak_bytes    INTEGER NOT NULL,
  peak_objects  INTEGER NOT NULL,
  temporary     INTEGER NOT NULL,
  leaked        INTEGER NOT NULL,
  leaked_bytes  INTEGER NOT NULL,
  PRIMARY KEY (trace_id, site)
) WITHOUT ROWID;

-- Per site, histograms of its allocations (allocs and bytes per class):
-- axis 'size' by power-of-two size class (size_classes), axis 'life_ns'
-- the same in ns of the trace's time (lifetime_time_classes; only for a
-- trace whose ops have times), axis 'life_ops'
-- by decimal order of magnitude of the object's life in ops (class k:
-- 10^(k-1) <= ops < 10^k; class 0: never freed). The input of
-- site_predictability.
CREATE TABLE IF NOT EXISTS site_hist (
  trace_id      INTEGER NOT NULL,
  site          INTEGER NOT NULL,
  axis          TEXT NOT NULL,
  class         INTEGER NOT NULL,
  allocs        INTEGER NOT NULL,
  bytes         INTEGER NOT NULL,
  PRIMARY KEY (trace_id, site, axis, class)
) WITHOUT ROWID;

-- One row per live run of a program (`hksim validate`): the command run
-- as it is, its allocator preloaded, timed from fork to wait4. trace_id is
-- the recording of the same command, whose replays the fidelity views put
-- beside these rows.
CREATE TABLE IF NOT EXISTS live_runs (
  live_id       INTEGER PRIMARY KEY,
  trace_id      INTEGER REFERENCES traces(trace_id),
  backend       TEXT NOT NULL,           -- as for runs (so:PATH included)
  policy        TEXT,                    -- hakmem only
  repeat        INTEGER NOT NULL,        -- round: 0 .. --repeat-1
  command       TEXT NOT NULL,           -- argv, space-joined
  preload       TEXT,                    -- LD_PRELOAD given (NULL: glibc)
  status        TEXT NOT NULL CHECK (status IN ('done', 'failed')),
  exit_code     INTEGER,                 -- 128+N when signal N ended it
  error         TEXT,                    -- why it failed
  wall_ns       INTEGER,                 -- fork to wait4
  user_ns       INTEGER,                 -- wait4 rusage, children included
  sys_ns        INTEGER,
  max_rss_bytes INTEGER,                 -- ru_maxrss
  minor_faults  INTEGER,
  major_faults  INTEGER,
  started_at    TEXT NOT NULL,
  host          TEXT
);
CREATE INDEX IF NOT EXISTS live_runs_trace ON live_runs(trace_id, backend, policy);

-- Event costs of the cost model measured on a machine (hksim calibrate):
-- one row per name; `settings` holds the cost.* key=value lines that
-- replay --calibration NAME applies.
CREATE TABLE IF NOT EXISTS calibrations (
  name        TEXT PRIMARY KEY,
  created_at  TEXT NOT NULL,             -- UTC, ISO 8601
  host        TEXT,
  repeats     INTEGER NOT NULL,          -- micro-runs per event (median)
  settings    TEXT NOT NULL,             -- 'cost.fault_ns=812.5' lines
  spread      TEXT                       -- per event: min..max of the runs
);

-- ---- the views of the results contract (DESIGN.md) --------------------

CREATE VIEW IF NOT EXISTS run_summary AS
SELECT r.run_id, t.name AS trace, r.backend, r.policy, r.seed, r.status,
       r.ops, r.median_ns, r.p95_ns, r.p99_ns, r.total_ns,
       r.mmap_calls, r.munmap_calls, r.madvise_calls,
       r.minor_faults + r.major_faults AS page_faults,
       r.peak_rss_bytes, r.cache_hits, r.cache_misses,
       CASE WHEN r.cache_hits + r.cache_misses > 0
            THEN CAST(r.cache_hits AS REAL) / (r.cache_hits + r.cache_misses)
       END AS hit_rate,
       r.digest,
       r.repeat, r.error, r.trace_id, r.touch, r.per_op, r.mremap_calls,
       r.brk_calls, r.syscall_method, r.peak_live_bytes, r.fragmentation,
       r.mean_ns, r.timer_method, r.timer_overhead_ticks, r.tsc_hz,
       r.backend_version, r.hakmem_config, r.cost_model,
       r.shard, r.host, r.replay_threads,
       r.model_ns, r.model_page_faults, r.model_syscalls, r.calibration,
       r.arms_distinguishable,
       r.timer_resolution_ns, r.load_avg, r.cpus,
       CAST(r.total_ns AS REAL) / NULLIF(r.ops, 0) AS total_ns_per_op,
       r.warning
FROM runs r JOIN traces t USING (trace_id);

-- CROSS JOIN fixes the order SQLite joins in: chunks, their latencies, then
-- the trace's op by primary key (the other order expands every chunk once
-- per op).
CREATE VIEW IF NOT EXISTS op_latency AS
SELECT c.run_id, (c.k0 + j.key) * c.every AS seq, k.name AS kind, p.size,
       p.site, j.value AS latency_ns, p.thread, p.slot
FROM run_op_chunk c
CROSS JOIN json_each(c.latencies) j
CROSS JOIN runs r
CROSS JOIN trace_op p
CROSS JOIN op_kinds k
WHERE j.type = 'integer' AND r.run_id = c.run_id
  AND p.trace_id = r.trace_id AND p.seq = (c.k0 + j.key) * c.every
  AND k.kind = p.kind;

-- One row per span (run_span) with the kind and size of its first op and
-- its time per op.
CREATE VIEW IF NOT EXISTS span_latency AS
SELECT s.run_id, s.seq, k.name AS kind, p.size, s.ops, s.ns,
       CAST(s.ns AS REAL) / s.ops AS ns_per_op
FROM run_span s
CROSS JOIN runs r
CROSS JOIN trace_op p
CROSS JOIN op_kinds k
WHERE r.run_id = s.run_id AND p.trace_id = r.trace_id AND p.seq = s.seq
  AND k.kind = p.kind;

-- function/file/line/module name the attributed frame (site_attr: the
-- first frame past the allocator, the runtime and the wrappers), or frame
-- 0 where the trace was not attributed; caller_* name frame 0.
CREATE VIEW IF NOT EXISTS site_summary AS
SELECT t.name AS trace, s.site,
       CASE WHEN a.site IS NOT NULL THEN f.function ELSE y.function END
         AS function,
       CASE WHEN a.site IS NOT NULL THEN f.file ELSE y.file END AS file,
       CASE WHEN a.site IS NOT NULL THEN f.line ELSE y.line END AS line,
       COALESCE(CASE WHEN a.site IS NOT NULL THEN f.module END, y.module,
                m.path) AS module,
       s.allocs, s.bytes,
       (SELECT COUNT(*) FROM run_site rs JOIN runs r USING (run_id)
         WHERE r.trace_id = s.trace_id AND rs.site = s.site) AS runs,
       (SELECT CAST(SUM(rs.cache_hits) AS REAL)
               / NULLIF(SUM(rs.cache_hits + rs.cache_misses), 0)
          FROM run_site rs JOIN runs r USING (run_id)
         WHERE r.trace_id = s.trace_id AND rs.site = s.site) AS hit_rate,
       (SELECT group_concat(rs.run_id || ':' ||
                 printf('%.4f', CAST(rs.cache_hits AS REAL)
                        / NULLIF(rs.cache_hits + rs.cache_misses, 0)), ' ')
          FROM run_site rs JOIN runs r USING (run_id)
         WHERE r.trace_id = s.trace_id AND rs.site = s.site) AS run_hit_rates,
       s.trace_id, s.caller, s.depth, s.frames,
       y.function AS caller_function, y.file AS caller_file,
       y.line AS caller_line, COALESCE(y.module, m.path) AS caller_module,
       a.depth AS attributed_depth, f.role AS attributed_role
FROM sites s
JOIN traces t USING (trace_id)
LEFT JOIN modules m ON m.trace_id = s.trace_id AND m.module_id = s.module_id
LEFT JOIN symbols y ON y.trace_id = s.trace_id AND y.address = s.caller
LEFT JOIN site_attr a ON a.trace_id = s.trace_id AND a.site = s.site
LEFT JOIN site_stack f ON f.trace_id = a.trace_id AND f.site = a.site
                      AND f.depth = a.depth;

CREATE VIEW IF NOT EXISTS policy_timeline AS
SELECT run_id, op_seq, arm, metric, value FROM policy_events;
