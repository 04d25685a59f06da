-- analysis/views.sql: the views a paper needs, over analysis/schema.sql.
-- Apply after the schema: `sqlite3 DB < analysis/views.sql` (hksim report
-- and hksim symbolize apply it themselves). Every statement is idempotent
-- (IF NOT EXISTS / OR IGNORE), so it can be applied again, or merged into
-- schema.sql, without changing a database that already has it.
-- Explained in analysis/README.md; the queries of analysis/queries/ use it.

-- ---- lookup tables ------------------------------------------------------

-- Inlined frames of a symbolized address (hksim symbolize), innermost
-- first. depth 0 repeats the symbols row (innermost function, its line);
-- depth k > 0 is the function that inlined depth k-1, with file and line
-- of the call site. Written only for addresses that have inlined frames.
CREATE TABLE IF NOT EXISTS symbol_inlines (
  trace_id    INTEGER NOT NULL,
  address     INTEGER NOT NULL,
  depth       INTEGER NOT NULL,
  function    TEXT,
  file        TEXT,
  line        INTEGER,
  PRIMARY KEY (trace_id, address, depth)
) WITHOUT ROWID;

-- Power-of-two size classes: class k holds sizes in (2^(k-1), 2^k];
-- class 4 also holds 1 to 16 bytes; class 0 is size 0 (a zero-byte
-- request, realloc(p, 0)). A free is classed by the size of the block it
-- frees (trace_op.size), so alloc and free latency split by size class
-- alike. label names the upper bound.
CREATE TABLE IF NOT EXISTS size_classes (
  class  INTEGER PRIMARY KEY,
  lo     INTEGER NOT NULL UNIQUE,
  hi     INTEGER NOT NULL,
  label  TEXT NOT NULL
);
INSERT OR IGNORE INTO size_classes(class, lo, hi, label)
WITH RECURSIVE k(n) AS (SELECT 4 UNION ALL SELECT n + 1 FROM k WHERE n < 48)
SELECT n, CASE WHEN n = 4 THEN 1 ELSE (1 << (n - 1)) + 1 END, 1 << n,
       CASE WHEN n < 10 THEN (1 << n) || ' B'
            WHEN n < 20 THEN (1 << (n - 10)) || ' KiB'
            WHEN n < 30 THEN (1 << (n - 20)) || ' MiB'
            ELSE (1 << (n - 30)) || ' GiB' END
FROM k;
INSERT OR IGNORE INTO size_classes(class, lo, hi, label)
  VALUES (0, 0, 0, 'size 0');

-- The ELO strategies of policies/pol_base.c (pol_elo_thresholds): arm ->
-- mmap threshold. HAKMEM.md's inferred geometric list, 512 KiB to 32 MiB.
CREATE TABLE IF NOT EXISTS elo_arms (
  arm             INTEGER PRIMARY KEY,
  threshold_bytes INTEGER NOT NULL,
  label           TEXT NOT NULL
);
INSERT OR IGNORE INTO elo_arms(arm, threshold_bytes, label) VALUES
  (0, 524288, '512K'), (1, 786432, '768K'), (2, 1048576, '1M'),
  (3, 1572864, '1.5M'), (4, 2097152, '2M'), (5, 3145728, '3M'),
  (6, 4194304, '4M'), (7, 6291456, '6M'), (8, 8388608, '8M'),
  (9, 12582912, '12M'), (10, 16777216, '16M'), (11, 33554432, '32M');

-- The lifecycle of policies/pol_evo.c: metric 'mode' and 'reason' values.
CREATE TABLE IF NOT EXISTS lifecycle_modes (
  mode INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT OR IGNORE INTO lifecycle_modes(mode, name) VALUES
  (0, 'LEARN'), (1, 'FROZEN'), (2, 'CANARY');
CREATE TABLE IF NOT EXISTS lifecycle_reasons (
  reason INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT OR IGNORE INTO lifecycle_reasons(reason, name) VALUES
  (0, 'none'), (1, 'stable'), (2, 'degraded'), (3, 'shift'),
  (4, 'promote'), (5, 'rollback'), (6, 'canary');

-- ---- configurations ------------------------------------------------------

-- One row per run with the name hakmem's papers give its configuration:
-- hakmem+static is hakmem-baseline, hakmem+elo hakmem-evolving (the brief's
-- choice; Phase 5 called the UCB1 variant "evolving": hakmem+ucb1 is
-- hakmem-ucb1), and the scenario a synthetic trace was generated from.
CREATE VIEW IF NOT EXISTS run_config AS
SELECT r.run_id, r.trace_id, t.name AS trace,
       CASE WHEN t.exe LIKE 'gen:%' THEN substr(t.exe, 5) END AS scenario,
       r.backend, r.policy,
       CASE WHEN r.backend = 'hakmem' THEN
              CASE r.policy WHEN 'static' THEN 'hakmem-baseline'
                            WHEN 'elo' THEN 'hakmem-evolving'
                            ELSE 'hakmem-' || COALESCE(r.policy, 'default') END
            ELSE r.backend END AS label,
       r.repeat, r.status
FROM runs r JOIN traces t USING (trace_id);

-- The 0.975 quantile of Student's t by degrees of freedom, for the 95%
-- confidence intervals over repeats (config_summary). Rows at 30, 40, 60,
-- 120 and 1000 stand for the ranges above them (a conservative choice).
CREATE TABLE IF NOT EXISTS t975 (df INTEGER PRIMARY KEY, t REAL NOT NULL);
INSERT OR IGNORE INTO t975(df, t) VALUES
  (1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (6, 2.447),
  (7, 2.365), (8, 2.306), (9, 2.262), (10, 2.228), (11, 2.201), (12, 2.179),
  (13, 2.160), (14, 2.145), (15, 2.131), (16, 2.120), (17, 2.110),
  (18, 2.101), (19, 2.093), (20, 2.086), (21, 2.080), (22, 2.074),
  (23, 2.069), (24, 2.064), (25, 2.060), (26, 2.056), (27, 2.052),
  (28, 2.048), (29, 2.045), (30, 2.042), (40, 2.021), (60, 2.000),
  (120, 1.980), (1000, 1.962);

-- One row per (trace, back end, policy, per-op timing mode) over its done
-- runs: runs timed differently (--per-op all, sample:N, batch:K,
-- iteration, none) measure different things (batch and iteration
-- percentiles are over spans; the timing itself adds to total_ns), so
-- each mode is a configuration of its own (per_op). Every measure
-- is the median over the repeats (median of medians for latency), hit_rate
-- pools the hits and misses of all repeats. Ordered for reading.
-- The comparison metric is the loop's total time (total_ns: the replay
-- loop alone, every op of the run; per op: ns_per_op), whose repeats are
-- independent samples: total_ns_mean / _min / _max / _stddev over the
-- repeats and total_ns_ci_lo / _hi, the t-based 95% CI of the mean (see
-- t975; NULL below 2 repeats), and the same per op. Per-op medians stay
-- for description only: below 3 x timer_resolution_ns they are bounds.
CREATE VIEW IF NOT EXISTS config_summary AS
WITH done AS (
  SELECT r.*, r.minor_faults + r.major_faults AS page_faults
  FROM runs r WHERE r.status = 'done'),
long(trace_id, backend, policy, per_op, metric, value) AS (
  SELECT trace_id, backend, policy, per_op, 'median_ns', median_ns FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'p95_ns', p95_ns FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'p99_ns', p99_ns FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'mean_ns', mean_ns FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'total_ns', total_ns FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'page_faults', page_faults FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'mmap_calls', mmap_calls FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'munmap_calls', munmap_calls FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'madvise_calls', madvise_calls FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'mremap_calls', mremap_calls FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'brk_calls', brk_calls FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'peak_rss_bytes', peak_rss_bytes FROM done
  UNION ALL SELECT trace_id, backend, policy, per_op, 'fragmentation', fragmentation FROM done),
ranked AS (
  SELECT trace_id, backend, policy, per_op, metric, value,
         ROW_NUMBER() OVER (PARTITION BY trace_id, backend, policy, per_op,
                            metric ORDER BY value) AS rn,
         COUNT(*) OVER (PARTITION BY trace_id, backend, policy, per_op,
                        metric) AS n
  FROM long WHERE value IS NOT NULL),
med AS (
  SELECT trace_id, backend, policy, per_op, metric, AVG(value) AS value
  FROM ranked WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
  GROUP BY trace_id, backend, policy, per_op, metric),
grp AS (
  SELECT trace_id, backend, policy, per_op, COUNT(*) AS runs,
         SUM(cache_hits) AS cache_hits, SUM(cache_misses) AS cache_misses,
         MIN(ops) AS ops, AVG(total_ns) AS total_mean,
         MIN(total_ns) AS total_min, MAX(total_ns) AS total_max,
         COUNT(total_ns) AS total_n,
         MAX(timer_resolution_ns) AS timer_resolution_ns,
         -- what a per-op figure resolves: the timer's step; for a batch:K
         -- run, over the mean ops per batch (a batch's time is shared by
         -- its ops; batches end early where the op kind changes)
         MAX(CASE WHEN per_op LIKE 'batch:%' AND spans > 0
               THEN timer_resolution_ns * spans / ops_timed
               ELSE timer_resolution_ns END) AS latency_resolution_ns,
         MAX(load_avg) AS load_avg_max
  FROM done GROUP BY trace_id, backend, policy, per_op),
-- Spread of total_ns over the repeats, in two passes (a one-pass sum of
-- squares loses the digits that matter at 1e17).
spread AS (
  SELECT g.trace_id, g.backend, g.policy, g.per_op,
         CASE WHEN g.total_n >= 2 THEN
           sqrt(SUM((d.total_ns - g.total_mean) * (d.total_ns - g.total_mean))
                / (g.total_n - 1)) END AS sd
  FROM grp g JOIN done d ON d.trace_id = g.trace_id
    AND d.backend = g.backend AND d.policy IS g.policy
    AND d.per_op IS g.per_op
  WHERE d.total_ns IS NOT NULL
  GROUP BY g.trace_id, g.backend, g.policy, g.per_op),
-- 95% confidence interval of the mean total over repeats: mean +- t * sd /
-- sqrt(n), t the 0.975 quantile of Student's t with n - 1 degrees of
-- freedom (t975; from the table row at or below n - 1, so conservative).
-- NULL below 2 repeats.
ci AS (
  SELECT g.trace_id, g.backend, g.policy, g.per_op, s.sd,
         (SELECT q.t FROM t975 q WHERE q.df <= g.total_n - 1
           ORDER BY q.df DESC LIMIT 1) * s.sd / sqrt(g.total_n) AS half
  FROM grp g JOIN spread s ON s.trace_id = g.trace_id
    AND s.backend = g.backend AND s.policy IS g.policy
    AND s.per_op IS g.per_op)
SELECT t.name AS trace, g.trace_id,
       CASE WHEN t.exe LIKE 'gen:%' THEN substr(t.exe, 5) END AS scenario,
       g.backend, g.policy,
       CASE WHEN g.backend = 'hakmem' THEN
              CASE g.policy WHEN 'static' THEN 'hakmem-baseline'
                            WHEN 'elo' THEN 'hakmem-evolving'
                            ELSE 'hakmem-' || COALESCE(g.policy, 'default') END
            ELSE g.backend END AS label,
       g.runs, g.ops,
       MAX(CASE WHEN m.metric = 'median_ns' THEN m.value END) AS median_ns,
       MAX(CASE WHEN m.metric = 'p95_ns' THEN m.value END) AS p95_ns,
       MAX(CASE WHEN m.metric = 'p99_ns' THEN m.value END) AS p99_ns,
       MAX(CASE WHEN m.metric = 'mean_ns' THEN m.value END) AS mean_ns,
       MAX(CASE WHEN m.metric = 'total_ns' THEN m.value END) AS total_ns,
       MAX(CASE WHEN m.metric = 'page_faults' THEN m.value END) AS page_faults,
       MAX(CASE WHEN m.metric = 'mmap_calls' THEN m.value END) AS mmap_calls,
       MAX(CASE WHEN m.metric = 'munmap_calls' THEN m.value END) AS munmap_calls,
       MAX(CASE WHEN m.metric = 'madvise_calls' THEN m.value END) AS madvise_calls,
       MAX(CASE WHEN m.metric = 'mremap_calls' THEN m.value END) AS mremap_calls,
       MAX(CASE WHEN m.metric = 'brk_calls' THEN m.value END) AS brk_calls,
       MAX(CASE WHEN m.metric = 'peak_rss_bytes' THEN m.value END) AS peak_rss_bytes,
       MAX(CASE WHEN m.metric = 'fragmentation' THEN m.value END) AS fragmentation,
       g.cache_hits, g.cache_misses,
       CAST(g.cache_hits AS REAL) / NULLIF(g.cache_hits + g.cache_misses, 0)
         AS hit_rate,
       g.total_mean AS total_ns_mean, g.total_min AS total_ns_min,
       g.total_max AS total_ns_max, ci.sd AS total_ns_stddev,
       g.total_mean - ci.half AS total_ns_ci_lo,
       g.total_mean + ci.half AS total_ns_ci_hi,
       MAX(CASE WHEN m.metric = 'total_ns' THEN m.value END) / NULLIF(g.ops, 0)
         AS ns_per_op,
       (g.total_mean - ci.half) / NULLIF(g.ops, 0) AS ns_per_op_ci_lo,
       (g.total_mean + ci.half) / NULLIF(g.ops, 0) AS ns_per_op_ci_hi,
       g.timer_resolution_ns, g.load_avg_max, g.latency_resolution_ns,
       g.per_op
FROM grp g
JOIN traces t ON t.trace_id = g.trace_id
LEFT JOIN med m ON m.trace_id = g.trace_id AND m.backend = g.backend
               AND m.policy IS g.policy AND m.per_op IS g.per_op
LEFT JOIN ci ON ci.trace_id = g.trace_id AND ci.backend = g.backend
            AND ci.policy IS g.policy AND ci.per_op IS g.per_op
GROUP BY g.trace_id, g.backend, g.policy, g.per_op
ORDER BY t.name, g.backend, g.policy, g.per_op;

-- config_summary beside mimalloc on the same trace, as ratios (1.0 = as
-- mimalloc; > 1 slower or more) and as the papers' "vs mimalloc" percent.
-- vs_mimalloc_pct and total_ratio compare total loop time per op (medians
-- over repeats), the metric the timer resolves; median_ratio is kept for
-- description (per-op medians sit at the timer's resolution).
-- Against mimalloc timed the same way (the same per_op mode).
-- NULL where the trace has no done mimalloc run in that mode.
CREATE VIEW IF NOT EXISTS vs_mimalloc AS
WITH c AS (SELECT * FROM config_summary),
mi AS (
  SELECT trace_id, per_op, median_ns, p95_ns, p99_ns, total_ns, ns_per_op,
         page_faults, peak_rss_bytes,
         ROW_NUMBER() OVER (PARTITION BY trace_id, per_op
                            ORDER BY policy IS NOT NULL, policy) AS pick
  FROM c WHERE backend = 'mimalloc')
SELECT c.*,
       mi.median_ns AS mimalloc_median_ns,
       mi.ns_per_op AS mimalloc_ns_per_op,
       c.median_ns / mi.median_ns AS median_ratio,
       (c.ns_per_op / mi.ns_per_op - 1.0) * 100.0 AS vs_mimalloc_pct,
       c.p95_ns / mi.p95_ns AS p95_ratio,
       c.p99_ns / mi.p99_ns AS p99_ratio,
       c.ns_per_op / mi.ns_per_op AS total_ratio,
       c.page_faults / NULLIF(mi.page_faults, 0) AS faults_ratio,
       c.peak_rss_bytes / NULLIF(mi.peak_rss_bytes, 0) AS rss_ratio
FROM c LEFT JOIN mi ON mi.trace_id = c.trace_id AND mi.per_op IS c.per_op
                  AND mi.pick = 1
ORDER BY c.trace, c.per_op, c.ns_per_op / mi.ns_per_op, c.backend, c.policy;

-- Configurations ranked within their trace and per-op timing mode by total
-- ns per op (median over repeats), the null back end left out (it
-- measures the harness).
-- tied: this configuration's 95% CI overlaps the best one's, so the data
-- do not separate them (a configuration with a single repeat has no CI and
-- is never called tied, nor ranked apart with confidence).
CREATE VIEW IF NOT EXISTS config_rank AS
WITH c AS (SELECT * FROM vs_mimalloc WHERE backend <> 'null'
           AND ns_per_op IS NOT NULL),
b AS (
  SELECT trace_id, per_op, ns_per_op AS best_ns_per_op,
         ns_per_op_ci_lo AS best_ci_lo, ns_per_op_ci_hi AS best_ci_hi,
         label AS best_label,
         ROW_NUMBER() OVER (PARTITION BY trace_id, per_op ORDER BY ns_per_op,
                            backend, policy) AS pick
  FROM c)
SELECT c.*,
       RANK() OVER (PARTITION BY c.trace_id, c.per_op ORDER BY c.ns_per_op)
         AS place,
       b.best_label, b.best_ns_per_op, b.best_ci_hi,
       CASE WHEN c.ns_per_op = b.best_ns_per_op THEN 1
            WHEN c.ns_per_op_ci_lo IS NULL OR b.best_ci_hi IS NULL THEN 0
            WHEN c.ns_per_op_ci_lo <= b.best_ci_hi THEN 1 ELSE 0 END AS tied
FROM c JOIN b ON b.trace_id = c.trace_id AND b.per_op IS c.per_op
              AND b.pick = 1;

-- ---- latency by size class -----------------------------------------------

-- Percentiles (nearest rank: the smallest latency whose rank r, 1-based
-- in latency order, has r >= q * ops) of per-op latency by run, op kind
-- and size class; mean_ns is AVG(latency_ns). The aggregate
-- hksim_size_class_stats of hksim's SQLite module (analysis/ana_latstats.c:
-- the module op_latency needs already) reads each run's ops once and
-- sorts them per kind: seconds for runs of millions of ops, where window
-- functions over every op (ROW_NUMBER by run, kind, class) took 58 s for
-- five runs of 430k ops. Filter on run_id to read one run only.
CREATE VIEW IF NOT EXISTS size_class_latency AS
WITH s AS (
  SELECT run_id, hksim_size_class_stats(kind, size, latency_ns) AS js
  FROM op_latency GROUP BY run_id),
g AS (
  SELECT s.run_id, json_extract(e.value, '$[0]') AS kind,
         json_extract(e.value, '$[1]') AS class,
         json_extract(e.value, '$[2]') AS ops,
         json_extract(e.value, '$[3]') AS p50_ns,
         json_extract(e.value, '$[4]') AS p90_ns,
         json_extract(e.value, '$[5]') AS p95_ns,
         json_extract(e.value, '$[6]') AS p99_ns,
         json_extract(e.value, '$[7]') AS sum_ns,
         json_extract(e.value, '$[8]') AS max_ns
  FROM s CROSS JOIN json_each(s.js) e)
SELECT g.run_id, c.trace, c.backend, c.policy, c.label, g.kind,
       g.class, sc.label AS size_class, g.ops, g.p50_ns, g.p90_ns,
       g.p95_ns, g.p99_ns, CAST(g.sum_ns AS REAL) / g.ops AS mean_ns,
       g.max_ns
FROM g
JOIN size_classes sc ON sc.class = g.class
JOIN run_config c ON c.run_id = g.run_id
ORDER BY g.run_id, g.kind, g.class;

-- ---- call sites -------------------------------------------------------------

-- A readable name per call site: the function where symbolization found
-- one, else module+offset ("libfoo.so+0x1a2b"), else the raw address.
CREATE VIEW IF NOT EXISTS site_symbols AS
SELECT s.trace_id, s.site, s.caller, y.function, y.file, y.line,
       COALESCE(y.module, m.path) AS module,
       CASE WHEN m.base IS NOT NULL THEN s.caller - m.base END AS offset,
       COALESCE(y.function || COALESCE(' (' ||
                  replace(y.file, rtrim(y.file, replace(y.file, '/', '')), '')
                  || ':' || y.line || ')', ''),
                replace(m.path, rtrim(m.path, replace(m.path, '/', '')), '')
                  || printf('+0x%x', s.caller - m.base),
                printf('0x%x', s.caller)) AS label,
       (SELECT COUNT(*) FROM symbol_inlines i
         WHERE i.trace_id = s.trace_id AND i.address = s.caller) AS inlined
FROM sites s
LEFT JOIN modules m ON m.trace_id = s.trace_id
  AND m.module_id = COALESCE(s.module_id,
        (SELECT m2.module_id FROM modules m2 WHERE m2.trace_id = s.trace_id
            AND s.caller >= m2.lo AND s.caller < m2.hi
          ORDER BY m2.module_id LIMIT 1))
LEFT JOIN symbols y ON y.trace_id = s.trace_id AND y.address = s.caller;

-- ---- who allocates: whole stacks, attribution, predictability -----------
-- (tables site_stack, site_attr, site_life, site_hist, wrappers,
-- trace_wrappers of schema.sql, filled by analysis/ana_sites.c when a
-- trace is stored or symbolized; docs/attribution.md)

-- Lifetime classes of site_hist axis 'life_ops': decimal orders of
-- magnitude of an object's life in ops of the trace (the allocation to the
-- op that frees or moves it); class 0: still live at exit.
CREATE TABLE IF NOT EXISTS lifetime_classes (
  class  INTEGER PRIMARY KEY,
  lo_ops INTEGER,                         -- life >= lo_ops
  hi_ops INTEGER,                         -- life < hi_ops; NULL: infinite
  label  TEXT NOT NULL
);
INSERT OR IGNORE INTO lifetime_classes(class, lo_ops, hi_ops, label)
WITH RECURSIVE k(n, lo) AS (SELECT 1, 1 UNION ALL
  SELECT n + 1, lo * 10 FROM k WHERE n < 18)
SELECT n, lo, lo * 10, '<' || (lo * 10) || ' ops' FROM k;
INSERT OR IGNORE INTO lifetime_classes(class, lo_ops, hi_ops, label)
  VALUES (0, NULL, NULL, 'never freed');

-- Lifetime classes of site_hist axis 'life_ns': the same decimal orders of
-- magnitude, of the object's life in the trace's time (trace_op.time_ns,
-- the allocation to the op that frees or moves it): class k holds lives in
-- [10^(k-1), 10^k) ns, so LLAMA's classes 10 ms, 100 ms, 1 s, ... end
-- with classes 7, 8, 9, ...; class 0: still live at exit.
CREATE TABLE IF NOT EXISTS lifetime_time_classes (
  class  INTEGER PRIMARY KEY,
  lo_ns  INTEGER,                         -- life >= lo_ns
  hi_ns  INTEGER,                         -- life < hi_ns; NULL: infinite
  label  TEXT NOT NULL
);
INSERT OR IGNORE INTO lifetime_time_classes(class, lo_ns, hi_ns, label)
WITH RECURSIVE k(n, lo) AS (SELECT 1, 1 UNION ALL
  SELECT n + 1, lo * 10 FROM k WHERE n < 18)
SELECT n, CASE n WHEN 1 THEN 0 ELSE lo END, lo * 10,
       '<' || CASE WHEN lo * 10 < 1000 THEN (lo * 10) || ' ns'
                   WHEN lo * 10 < 1000000 THEN (lo * 10 / 1000) || ' us'
                   WHEN lo * 10 < 1000000000 THEN (lo * 10 / 1000000) || ' ms'
                   ELSE (lo * 10 / 1000000000) || ' s' END
FROM k;
INSERT OR IGNORE INTO lifetime_time_classes(class, lo_ns, hi_ns, label)
  VALUES (0, NULL, NULL, 'never freed');

-- One row per frame of each site's stack, symbolized, innermost first
-- (depth 0), with inlined frames where DWARF has them (inlined = 1: this
-- function was inlined into the next row's). attributed marks the frame
-- site_summary names; role says why attribution skipped a frame.
CREATE VIEW IF NOT EXISTS site_frames AS
SELECT t.name AS trace, f.site, f.depth, f.address, f.function, f.file,
       f.line, f.module, f.inlined, f.frame, f.role,
       (a.depth = f.depth) AS attributed, f.trace_id
FROM site_stack f
JOIN traces t ON t.trace_id = f.trace_id
LEFT JOIN site_attr a ON a.trace_id = f.trace_id AND a.site = f.site;

-- Is the call site a purpose label? Per site: how many size classes
-- (power of two) and lifetime classes (lifetime_classes) its allocations
-- fall in, the entropy of each in bits (0: the site names the class), the
-- dominant lifetime class and its share of the site's allocations. The
-- lifetime columns are in ops; the time_* columns the same in the trace's
-- time (lifetime_time_classes; NULL for a trace stored without op times).
CREATE VIEW IF NOT EXISTS site_predictability AS
WITH a AS (
  SELECT trace_id, site, axis, COUNT(*) AS classes, SUM(allocs) AS n,
         SUM(bytes) AS b,
         MAX(0.0, log2(SUM(allocs))
                  - SUM(allocs * log2(allocs)) / SUM(allocs)) AS h,
         MAX(allocs) AS top
  FROM site_hist WHERE allocs > 0 GROUP BY trace_id, site, axis),
dom AS (
  SELECT trace_id, site, axis, class,
         ROW_NUMBER() OVER (PARTITION BY trace_id, site, axis
                            ORDER BY allocs DESC, class) AS rn
  FROM site_hist WHERE allocs > 0)
SELECT t.name AS trace, sz.site, sz.n AS allocs, sz.b AS bytes,
       sz.classes AS size_classes, sz.h AS size_class_entropy_bits,
       lf.classes AS lifetime_classes, lf.h AS lifetime_class_entropy_bits,
       lc.label AS dominant_lifetime_class,
       CAST(lf.top AS REAL) / lf.n AS dominant_share,
       sc.label AS dominant_size_class,
       CAST(sz.top AS REAL) / sz.n AS dominant_size_share,
       sz.trace_id,
       lt.classes AS time_lifetime_classes,
       lt.h AS time_lifetime_class_entropy_bits,
       tc.label AS dominant_time_lifetime_class,
       CAST(lt.top AS REAL) / lt.n AS dominant_time_share
FROM a sz
JOIN a lf ON lf.trace_id = sz.trace_id AND lf.site = sz.site
         AND lf.axis = 'life_ops'
LEFT JOIN a lt ON lt.trace_id = sz.trace_id AND lt.site = sz.site
              AND lt.axis = 'life_ns'
JOIN traces t ON t.trace_id = sz.trace_id
LEFT JOIN dom ds ON ds.trace_id = sz.trace_id AND ds.site = sz.site
                AND ds.axis = 'size' AND ds.rn = 1
LEFT JOIN dom dl ON dl.trace_id = sz.trace_id AND dl.site = sz.site
                AND dl.axis = 'life_ops' AND dl.rn = 1
LEFT JOIN dom dt ON dt.trace_id = sz.trace_id AND dt.site = sz.site
                AND dt.axis = 'life_ns' AND dt.rn = 1
LEFT JOIN size_classes sc ON sc.class = ds.class
LEFT JOIN lifetime_classes lc ON lc.class = dl.class
LEFT JOIN lifetime_time_classes tc ON tc.class = dt.class
WHERE sz.axis = 'size';

-- The trace-level answer: the byte-weighted share of allocations made
-- where the allocation's label predicts its size class, its lifetime
-- class, and both, with 90% accuracy or more (the label's dominant class
-- holds >= 90% of its allocations). The label is, by grouping: 'stack'
-- the whole recorded stack (site), 'frame0' the immediate caller (what
-- hak_alloc_at sees), 'attributed' the attributed frame (site_attr).
CREATE VIEW IF NOT EXISTS trace_predictability AS
WITH k AS (
  SELECT s.trace_id, s.site, 'stack' AS grouping,
         CAST(s.site AS TEXT) AS key FROM sites s
  UNION ALL
  SELECT s.trace_id, s.site, 'frame0',
         COALESCE(CAST(s.caller AS TEXT), 'site ' || s.site) FROM sites s
  UNION ALL
  SELECT a.trace_id, a.site, 'attributed',
         printf('%x:%s', f.address, COALESCE(f.function, ''))
  FROM site_attr a JOIN site_stack f ON f.trace_id = a.trace_id
   AND f.site = a.site AND f.depth = a.depth),
g AS (
  SELECT k.trace_id, k.grouping, k.key, h.axis, h.class,
         SUM(h.allocs) AS n, SUM(h.bytes) AS b
  FROM k JOIN site_hist h ON h.trace_id = k.trace_id AND h.site = k.site
  GROUP BY k.trace_id, k.grouping, k.key, h.axis, h.class),
p AS (
  SELECT trace_id, grouping, key, axis, SUM(n) AS n, MAX(n) AS top,
         SUM(b) AS b
  FROM g GROUP BY trace_id, grouping, key, axis),
q AS (
  SELECT trace_id, grouping, key,
         MAX(CASE WHEN axis = 'size' THEN n END) AS allocs,
         MAX(CASE WHEN axis = 'size' THEN b END) AS bytes,
         MAX(CASE WHEN axis = 'size' THEN CAST(top AS REAL) / n END)
           >= 0.9 AS size_ok,
         MAX(CASE WHEN axis = 'life_ops' THEN CAST(top AS REAL) / n END)
           >= 0.9 AS life_ok,
         MAX(CASE WHEN axis = 'life_ns' THEN CAST(top AS REAL) / n END)
           >= 0.9 AS time_ok
  FROM p GROUP BY trace_id, grouping, key)
SELECT t.name AS trace, q.trace_id, q.grouping, COUNT(*) AS labels,
       SUM(q.allocs) AS allocs, SUM(q.bytes) AS bytes,
       CAST(SUM(CASE WHEN q.size_ok THEN q.bytes ELSE 0 END) AS REAL)
         / NULLIF(SUM(q.bytes), 0) AS size_predicted,
       CAST(SUM(CASE WHEN q.life_ok THEN q.bytes ELSE 0 END) AS REAL)
         / NULLIF(SUM(q.bytes), 0) AS lifetime_predicted,
       CAST(SUM(CASE WHEN q.size_ok AND q.life_ok THEN q.bytes ELSE 0 END)
            AS REAL) / NULLIF(SUM(q.bytes), 0) AS both_predicted,
       -- the same for lifetime classes in the trace's time (NULL: no times)
       CASE WHEN MAX(q.time_ok) IS NOT NULL THEN
         CAST(SUM(CASE WHEN q.time_ok THEN q.bytes ELSE 0 END) AS REAL)
           / NULLIF(SUM(q.bytes), 0) END AS time_lifetime_predicted,
       CASE WHEN MAX(q.time_ok) IS NOT NULL THEN
         CAST(SUM(CASE WHEN q.size_ok AND q.time_ok THEN q.bytes ELSE 0 END)
              AS REAL) / NULLIF(SUM(q.bytes), 0) END AS both_time_predicted
FROM q JOIN traces t ON t.trace_id = q.trace_id
GROUP BY q.trace_id, q.grouping;

-- Per trace, how many bytes were attributed to a named function of the
-- program (not runtime, not a wrapper) and how many the frame-0 name
-- alone would have given.
CREATE VIEW IF NOT EXISTS attribution_summary AS
SELECT t.name AS trace, s.trace_id, COUNT(*) AS sites, SUM(s.bytes) AS bytes,
       SUM(CASE WHEN f.role IS NULL AND f.function IS NOT NULL
                THEN s.bytes ELSE 0 END) AS bytes_named,
       CAST(SUM(CASE WHEN f.role IS NULL AND f.function IS NOT NULL
                     THEN s.bytes ELSE 0 END) AS REAL)
         / NULLIF(SUM(s.bytes), 0) AS named_share,
       CAST(SUM(CASE WHEN y.function IS NOT NULL THEN s.bytes ELSE 0 END)
            AS REAL) / NULLIF(SUM(s.bytes), 0) AS frame0_named_share,
       (SELECT COUNT(*) FROM trace_wrappers w
         WHERE w.trace_id = s.trace_id) AS forwarders
FROM sites s
JOIN traces t ON t.trace_id = s.trace_id
JOIN site_attr a ON a.trace_id = s.trace_id AND a.site = s.site
JOIN site_stack f ON f.trace_id = a.trace_id AND f.site = a.site
                 AND f.depth = a.depth
LEFT JOIN symbols y ON y.trace_id = s.trace_id AND y.address = s.caller
GROUP BY s.trace_id;

-- BigCache outcome per run and call site (hakmem runs; run_site rows).
CREATE VIEW IF NOT EXISTS site_hit_rates AS
SELECT rs.run_id, c.trace_id, c.trace, c.backend, c.policy, c.label,
       c.repeat, rs.site, y.label AS site_label, y.function, y.file, y.line,
       s.allocs AS site_allocs, s.bytes AS site_bytes,
       rs.allocs, rs.cache_hits, rs.cache_misses,
       CAST(rs.cache_hits AS REAL)
         / NULLIF(rs.cache_hits + rs.cache_misses, 0) AS hit_rate
FROM run_site rs
JOIN run_config c ON c.run_id = rs.run_id
LEFT JOIN sites s ON s.trace_id = c.trace_id AND s.site = rs.site
LEFT JOIN site_symbols y ON y.trace_id = c.trace_id AND y.site = rs.site;

-- The same pooled over the repeats of a (trace, back end, policy).
CREATE VIEW IF NOT EXISTS site_bigcache AS
SELECT trace_id, trace, backend, policy, label, site, site_label,
       function, file, line, site_allocs, site_bytes,
       COUNT(*) AS runs, SUM(cache_hits) AS cache_hits,
       SUM(cache_misses) AS cache_misses,
       CAST(SUM(cache_hits) AS REAL)
         / NULLIF(SUM(cache_hits) + SUM(cache_misses), 0) AS hit_rate
FROM site_hit_rates
GROUP BY trace_id, backend, policy, site;

-- ---- learning policies --------------------------------------------------------

-- Every ELO rating snapshot (policy_events metric 'rating'), one row per
-- (run, snapshot, arm): the series the "ratings over the run" plot draws.
CREATE VIEW IF NOT EXISTS elo_ratings AS
SELECT e.run_id, e.op_seq, e.arm, a.label AS strategy, e.value AS rating
FROM policy_events e LEFT JOIN elo_arms a ON a.arm = e.arm
WHERE e.metric = 'rating' AND e.arm IS NOT NULL;

-- The ELO leaderboard at the end of each run (its last snapshot), as
-- hak_shutdown() prints it: rank, strategy, rating, pulls, alive; chosen
-- marks the strategy in use at the end.
CREATE VIEW IF NOT EXISTS elo_leaderboard AS
WITH last AS (
  SELECT run_id, MAX(op_seq) AS op_seq FROM policy_events
  WHERE metric = 'rating' GROUP BY run_id),
arms AS (
  SELECT e.run_id, e.op_seq, e.arm,
         MAX(CASE WHEN e.metric = 'rating' THEN e.value END) AS rating,
         MAX(CASE WHEN e.metric = 'pulls' THEN e.value END) AS pulls,
         MAX(CASE WHEN e.metric = 'alive' THEN e.value END) AS alive,
         MAX(CASE WHEN e.metric = 'chosen' THEN 1 ELSE 0 END) AS chosen
  FROM policy_events e JOIN last l ON l.run_id = e.run_id
                                  AND l.op_seq = e.op_seq
  WHERE e.arm IS NOT NULL
  GROUP BY e.run_id, e.arm)
SELECT a.run_id, c.trace, c.backend, c.policy, c.label, c.repeat,
       a.op_seq,
       RANK() OVER (PARTITION BY a.run_id ORDER BY a.rating DESC) AS rank,
       a.arm, ea.label AS strategy, ea.threshold_bytes, a.rating,
       CAST(a.pulls AS INTEGER) AS pulls, CAST(a.alive AS INTEGER) AS alive,
       a.chosen
FROM arms a
JOIN run_config c ON c.run_id = a.run_id
LEFT JOIN elo_arms ea ON ea.arm = a.arm
WHERE a.rating IS NOT NULL;

-- Arm shares over the run, for the learning policies that report
-- cumulative per-arm 'pulls' at each snapshot (ucb1, elo): per snapshot
-- and arm, the share of the decisions taken since the previous snapshot
-- (window_share; NULL when none were), of all decisions so far
-- (cum_share), and, for ucb1, of the call sites whose adopted arm it is
-- (site_share, from 'sites_adopted'). threshold_bytes: the arm's mmap
-- threshold (ucb1's 'threshold' metric, else elo_arms). The "arm shares"
-- plot of hksim report draws window_share and site_share.
CREATE VIEW IF NOT EXISTS policy_arm_shares AS
WITH p AS (
  SELECT run_id, op_seq, arm, value AS pulls,
         value - COALESCE(LAG(value) OVER (PARTITION BY run_id, arm
                                           ORDER BY op_seq), 0) AS dp
  FROM policy_events WHERE metric = 'pulls' AND arm IS NOT NULL),
s AS (
  SELECT p.*, SUM(dp) OVER (PARTITION BY run_id, op_seq) AS window_total,
         SUM(pulls) OVER (PARTITION BY run_id, op_seq) AS total
  FROM p)
SELECT s.run_id, c.trace, c.backend, c.policy, c.label, c.repeat,
       s.op_seq, s.arm,
       COALESCE(th.value, ea.threshold_bytes) AS threshold_bytes,
       CAST(s.pulls AS INTEGER) AS pulls,
       CAST(s.dp AS INTEGER) AS window_pulls,
       s.dp / NULLIF(s.window_total, 0) AS window_share,
       s.pulls / NULLIF(s.total, 0) AS cum_share,
       CAST(sa.value AS INTEGER) AS sites_adopted,
       sa.value / NULLIF(SUM(sa.value) OVER (PARTITION BY s.run_id, s.op_seq),
                         0) AS site_share
FROM s
JOIN run_config c ON c.run_id = s.run_id
LEFT JOIN policy_events th ON th.run_id = s.run_id AND th.op_seq = s.op_seq
                          AND th.arm = s.arm AND th.metric = 'threshold'
LEFT JOIN policy_events sa ON sa.run_id = s.run_id AND sa.op_seq = s.op_seq
                          AND sa.arm = s.arm AND sa.metric = 'sites_adopted'
LEFT JOIN elo_arms ea ON ea.arm = s.arm AND c.policy = 'elo';

-- How quickly ELO settles: the final leader (metric 'best') and the first
-- snapshot from which the leader never changed again, as an op index and
-- as a fraction of the run; leader_changes counts changes of leader
-- between consecutive snapshots.
CREATE VIEW IF NOT EXISTS elo_convergence AS
WITH b AS (
  SELECT run_id, op_seq, arm,
         LAG(arm) OVER (PARTITION BY run_id ORDER BY op_seq) AS prev,
         ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY op_seq DESC) AS back
  FROM policy_events WHERE metric = 'best'),
fin AS (SELECT run_id, arm AS final_arm, op_seq AS last_seq FROM b
        WHERE back = 1),
other AS (
  SELECT f.run_id, MAX(b.op_seq) AS last_other
  FROM fin f JOIN b ON b.run_id = f.run_id AND b.arm IS NOT f.final_arm
  GROUP BY f.run_id),
stab AS (
  SELECT f.run_id,
         MIN(CASE WHEN b.op_seq > COALESCE(o.last_other, -1)
                  THEN b.op_seq END) AS converged_seq,
         COUNT(*) AS snapshots,
         SUM(b.prev IS NOT NULL AND b.prev IS NOT b.arm) AS leader_changes
  FROM fin f JOIN b ON b.run_id = f.run_id
  LEFT JOIN other o ON o.run_id = f.run_id
  GROUP BY f.run_id)
SELECT f.run_id, c.trace, c.backend, c.policy, c.label, c.repeat,
       f.final_arm, ea.label AS final_strategy, s.converged_seq,
       r.ops, CAST(s.converged_seq AS REAL) / NULLIF(r.ops, 0)
         AS converged_fraction,
       s.snapshots, s.leader_changes
FROM fin f
JOIN stab s ON s.run_id = f.run_id
JOIN runs r ON r.run_id = f.run_id
JOIN run_config c ON c.run_id = f.run_id
LEFT JOIN elo_arms ea ON ea.arm = f.final_arm;

-- Lifecycle (evo) mode changes seen between consecutive snapshots of
-- metric 'mode', with the reason the policy gave (metric 'reason').
-- Snapshots are periodic, so a change undone before the next snapshot is
-- not seen here; lifecycle_summary's counters are exact.
CREATE VIEW IF NOT EXISTS lifecycle_transitions AS
WITH m AS (
  SELECT run_id, op_seq, CAST(value AS INTEGER) AS mode,
         CAST(LAG(value) OVER (PARTITION BY run_id ORDER BY op_seq)
              AS INTEGER) AS prev
  FROM policy_events WHERE metric = 'mode')
SELECT m.run_id, c.trace, c.backend, c.policy, c.label, c.repeat, m.op_seq,
       m.prev AS from_mode, fm.name AS from_name,
       m.mode AS to_mode, tm.name AS to_name,
       CAST(rv.value AS INTEGER) AS reason, rn.name AS reason_name
FROM m
JOIN run_config c ON c.run_id = m.run_id
LEFT JOIN lifecycle_modes fm ON fm.mode = m.prev
LEFT JOIN lifecycle_modes tm ON tm.mode = m.mode
LEFT JOIN policy_events rv ON rv.run_id = m.run_id AND rv.op_seq = m.op_seq
                          AND rv.metric = 'reason'
LEFT JOIN lifecycle_reasons rn ON rn.reason = CAST(rv.value AS INTEGER)
WHERE m.prev IS NOT NULL AND m.prev <> m.mode;

-- Per run, the lifecycle's own counters at its last snapshot (exact) and
-- the transitions seen between snapshots.
CREATE VIEW IF NOT EXISTS lifecycle_summary AS
WITH last AS (
  SELECT run_id, MAX(op_seq) AS op_seq FROM policy_events
  WHERE metric = 'mode' GROUP BY run_id),
v AS (
  SELECT e.run_id, l.op_seq,
         MAX(CASE WHEN e.metric = 'mode' THEN e.value END) AS mode,
         MAX(CASE WHEN e.metric = 'windows' THEN e.value END) AS windows,
         MAX(CASE WHEN e.metric = 'freezes' THEN e.value END) AS freezes,
         MAX(CASE WHEN e.metric = 'relearns' THEN e.value END) AS relearns,
         MAX(CASE WHEN e.metric = 'canaries' THEN e.value END) AS canaries,
         MAX(CASE WHEN e.metric = 'rollbacks' THEN e.value END) AS rollbacks,
         MAX(CASE WHEN e.metric = 'promotions' THEN e.value END) AS promotions
  FROM policy_events e JOIN last l ON l.run_id = e.run_id
                                  AND l.op_seq = e.op_seq
  GROUP BY e.run_id)
SELECT v.run_id, c.trace, c.backend, c.policy, c.label, c.repeat, r.ops,
       lm.name AS final_mode, CAST(v.windows AS INTEGER) AS windows,
       CAST(v.freezes AS INTEGER) AS freezes,
       CAST(v.relearns AS INTEGER) AS relearns,
       CAST(v.canaries AS INTEGER) AS canaries,
       CAST(v.rollbacks AS INTEGER) AS rollbacks,
       CAST(v.promotions AS INTEGER) AS promotions,
       (SELECT COUNT(*) FROM lifecycle_transitions t
         WHERE t.run_id = v.run_id) AS transitions_seen,
       CAST(v.relearns AS REAL) * 1e6 / NULLIF(r.ops, 0)
         AS relearns_per_mop
FROM v
JOIN runs r ON r.run_id = v.run_id
JOIN run_config c ON c.run_id = v.run_id
LEFT JOIN lifecycle_modes lm ON lm.mode = CAST(v.mode AS INTEGER);

-- ---- regret: each run against the best fixed arm per site -----------------

-- A hakmem run's configuration without its policy: the hakmem_config lines
-- (docs/hakmem.md) less the policy's own keys (policy, seed, static.*,
-- ucb1.*, elo.*, evo.*, oracle.*) and timeline.every, joined with ';'.
-- Two runs with the same policy_free_config differ only in the policy.
CREATE VIEW IF NOT EXISTS run_policy_free_config AS
WITH RECURSIVE lines(run_id, rest, line, n) AS (
  SELECT run_id, hakmem_config, NULL, 0 FROM runs
  WHERE backend = 'hakmem' AND hakmem_config IS NOT NULL
  UNION ALL
  SELECT run_id, substr(rest, instr(rest, char(10)) + 1),
         substr(rest, 1, instr(rest, char(10)) - 1), n + 1
  FROM lines WHERE instr(rest, char(10)) > 0),
kept AS (
  SELECT run_id, line, n FROM lines
  WHERE line IS NOT NULL AND line <> ''
    AND line NOT LIKE 'policy=%' AND line NOT LIKE 'seed=%'
    AND line NOT LIKE 'static.%' AND line NOT LIKE 'ucb1.%'
    AND line NOT LIKE 'elo.%' AND line NOT LIKE 'evo.%'
    AND line NOT LIKE 'oracle.%' AND line NOT LIKE 'timeline.%'
  ORDER BY run_id, n)
SELECT run_id, group_concat(line, ';') AS policy_free_config
FROM kept GROUP BY run_id;

-- Regret of each done hakmem run against the oracle (`--policy oracle`,
-- the best fixed arm per site in hindsight) on the same trace with the same
-- configuration less the policy: regret = model_ns / oracle_ns - 1, both
-- the cost model's totals (deterministic; the oracle's repeats agree, the
-- least is taken). Negative when a learner beat the per-site table (sites
-- interact through BigCache, libc's heap and the batch).
CREATE VIEW IF NOT EXISTS policy_regret AS
WITH f AS (
  SELECT r.run_id, r.trace_id, r.policy, r.seed, r.model_ns,
         p.policy_free_config AS conf
  FROM runs r JOIN run_policy_free_config p ON p.run_id = r.run_id
  WHERE r.backend = 'hakmem' AND r.status = 'done' AND r.model_ns > 0),
o AS (
  SELECT trace_id, conf, MIN(model_ns) AS oracle_ns FROM f
  WHERE policy = 'oracle' GROUP BY trace_id, conf)
SELECT f.run_id, t.name AS trace, f.policy, f.seed, f.model_ns, o.oracle_ns,
       f.model_ns / o.oracle_ns - 1 AS regret
FROM f JOIN o ON o.trace_id = f.trace_id AND o.conf = f.conf
JOIN traces t ON t.trace_id = f.trace_id;

-- Per-site arms over the run: ucb1 and oracle emit one 'site_arm' row per
-- site at every timeline sample (arm: the site's adopted arm; value: the
-- site's address, the recorded caller), with the arm's threshold.
CREATE VIEW IF NOT EXISTS site_arms AS
SELECT e.run_id, c.trace, c.policy, e.op_seq, CAST(e.value AS INTEGER) AS site,
       e.arm, th.value AS threshold
FROM policy_events e
JOIN run_config c ON c.run_id = e.run_id
LEFT JOIN policy_events th ON th.run_id = e.run_id AND th.op_seq = e.op_seq
                          AND th.arm = e.arm AND th.metric = 'threshold'
WHERE e.metric = 'site_arm';

-- ---- over the run ---------------------------------------------------------

-- BigCache hit rate over the run, from cumulative policy-wide counters
-- 'cache_hits' and 'cache_misses' in policy_events where the back end
-- emits them: cumulative rate and the rate since the previous snapshot.
CREATE VIEW IF NOT EXISTS hit_rate_timeline AS
WITH s AS (
  SELECT run_id, op_seq,
         MAX(CASE WHEN metric = 'cache_hits' THEN value END) AS hits,
         MAX(CASE WHEN metric = 'cache_misses' THEN value END) AS misses
  FROM policy_events
  WHERE metric IN ('cache_hits', 'cache_misses') AND arm IS NULL
  GROUP BY run_id, op_seq),
d AS (
  SELECT run_id, op_seq, hits, misses,
         hits - COALESCE(LAG(hits) OVER w, 0) AS dh,
         misses - COALESCE(LAG(misses) OVER w, 0) AS dm
  FROM s WINDOW w AS (PARTITION BY run_id ORDER BY op_seq))
SELECT run_id, op_seq, hits, misses,
       hits / NULLIF(hits + misses, 0) AS hit_rate,
       dh / NULLIF(dh + dm, 0) AS window_hit_rate
FROM d;

-- RSS over the run with the run's labels (rss_timeline).
CREATE VIEW IF NOT EXISTS rss_over_run AS
SELECT x.run_id, c.trace_id, c.trace, c.backend, c.policy, c.label,
       c.repeat, x.op_seq, x.rss_bytes, x.live_bytes
FROM rss_timeline x JOIN run_config c ON c.run_id = x.run_id;

-- ---- fidelity: live runs beside the replays of their recording ------------
-- (`hksim validate`; docs/schema.md). Two measures, each view by metric:
--   'wall': a live run's wall time against the replay loop's wall time
--           (runs.total_ns), the issue's comparison;
--   'cpu':  a live run's user + system time against the replay loop's CPU
--           time (runs.loop_cpu_ns; NULL in runs made before it was
--           stored). Both sides sum all their threads. Wall time grows
--           with every other process on the machine; CPU time much less,
--           so on a shared machine 'cpu' is the one that separates back
--           ends (docs/backends.md measures both).
-- Per (metric, trace, back end, policy) the median over done runs, with a
-- 95% distribution-free confidence interval of the median: the order
-- statistics x(l+1) and x(n-l), l the largest integer with
-- (n - 2l)^2 >= 1.96^2 n (no sqrt needed); below 4 runs, the interval is
-- [min, max]. Ranks: 1 = fastest, over the back ends that have both sides.
CREATE VIEW IF NOT EXISTS fidelity_by_metric AS
WITH side(metric, side, trace_id, backend, policy, v) AS (
  SELECT 'wall', 'live', trace_id, backend, policy, wall_ns FROM live_runs
  WHERE status = 'done' AND trace_id IS NOT NULL AND wall_ns IS NOT NULL
  UNION ALL
  SELECT 'cpu', 'live', trace_id, backend, policy, user_ns + sys_ns
  FROM live_runs
  WHERE status = 'done' AND trace_id IS NOT NULL AND user_ns IS NOT NULL
    AND sys_ns IS NOT NULL
  UNION ALL
  SELECT 'wall', 'replay', trace_id, backend, policy, total_ns FROM runs
  WHERE status = 'done' AND total_ns IS NOT NULL
  UNION ALL
  SELECT 'cpu', 'replay', trace_id, backend, policy, loop_cpu_ns FROM runs
  WHERE status = 'done' AND loop_cpu_ns IS NOT NULL),
ranked AS (
  SELECT metric, side, trace_id, backend, policy, v,
         ROW_NUMBER() OVER w AS rn, COUNT(*) OVER p AS n
  FROM side
  WINDOW p AS (PARTITION BY metric, side, trace_id, backend, policy),
         w AS (PARTITION BY metric, side, trace_id, backend, policy
               ORDER BY v)),
stat AS (
  SELECT metric, side, trace_id, backend, policy, MAX(n) AS n,
         AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN v END) AS med,
         COALESCE(MAX(CASE WHEN 2 * (rn - 1) < n AND
                       (n - 2 * (rn - 1)) * (n - 2 * (rn - 1)) >= 3.8416 * n
                       THEN v END), MIN(v)) AS lo,
         COALESCE(MIN(CASE WHEN 2 * (n - rn) < n AND
                       (n - 2 * (n - rn)) * (n - 2 * (n - rn)) >= 3.8416 * n
                       THEN v END), MAX(v)) AS hi
  FROM ranked GROUP BY metric, side, trace_id, backend, policy),
j AS (
  SELECT l.metric, l.trace_id, l.backend, l.policy, l.n AS live_runs,
         l.med / 1e9 AS live_s, l.lo / 1e9 AS live_ci_lo,
         l.hi / 1e9 AS live_ci_hi, r.n AS replay_runs, r.med AS replay_ns,
         r.lo AS replay_ci_lo, r.hi AS replay_ci_hi
  FROM stat l JOIN stat r
    ON l.side = 'live' AND r.side = 'replay' AND r.metric = l.metric
   AND r.trace_id = l.trace_id AND r.backend = l.backend
   AND r.policy IS l.policy)
SELECT j.metric, t.name AS trace, j.backend, j.policy, j.live_runs,
       j.live_s, j.live_ci_lo, j.live_ci_hi, j.replay_runs, j.replay_ns,
       j.replay_ci_lo, j.replay_ci_hi,
       RANK() OVER (PARTITION BY j.metric, j.trace_id ORDER BY j.live_s)
         AS live_rank,
       RANK() OVER (PARTITION BY j.metric, j.trace_id ORDER BY j.replay_ns)
         AS replay_rank,
       j.trace_id
FROM j JOIN traces t ON t.trace_id = j.trace_id
ORDER BY j.metric, t.name, j.trace_id, live_rank, j.backend, j.policy;

-- The issue's view: wall times (live_wall_s: the live run's median wall
-- time; replay_ns: the replay loop's).
CREATE VIEW IF NOT EXISTS fidelity AS
SELECT trace, backend, policy, live_runs, live_s AS live_wall_s, live_ci_lo,
       live_ci_hi, replay_runs, replay_ns, replay_ci_lo, replay_ci_hi,
       live_rank, replay_rank, trace_id
FROM fidelity_by_metric WHERE metric = 'wall'
ORDER BY trace, trace_id, live_rank, backend, policy;

-- Each back end's difference to mimalloc, live and replayed, and the error
-- of the replayed difference relative to the live one. The differences are
-- absolute times (seconds), not ratios: a live run's time includes the
-- program's own work, which replay leaves out, so the same allocator
-- difference is a far larger ratio of the replay loop than of the live run
-- (a 0.2 s difference is +20% of a 1 s program and +200% of a 0.1 s
-- replay); if the allocator is all that differs, the seconds agree. The
-- ratios (median over mimalloc's, minus one) stay beside them for reading.
-- significant: the live CIs of the back end and mimalloc do not overlap
-- (only those count in delta_error of the summary).
CREATE VIEW IF NOT EXISTS fidelity_delta_by_metric AS
WITH f AS (SELECT * FROM fidelity_by_metric),
mi AS (SELECT * FROM f WHERE backend = 'mimalloc' AND policy IS NULL)
SELECT f.metric, f.trace, f.backend, f.policy,
       f.live_s - mi.live_s AS live_delta_s,
       (f.replay_ns - mi.replay_ns) / 1e9 AS replay_delta_s,
       ABS((f.replay_ns - mi.replay_ns) / 1e9 - (f.live_s - mi.live_s)) /
         NULLIF(ABS(f.live_s - mi.live_s), 0) AS delta_error,
       f.live_s / mi.live_s - 1.0 AS live_ratio,
       f.replay_ns / mi.replay_ns - 1.0 AS replay_ratio,
       (f.live_ci_lo > mi.live_ci_hi OR f.live_ci_hi < mi.live_ci_lo)
         AS significant,
       f.trace_id
FROM f JOIN mi ON mi.trace_id = f.trace_id AND mi.metric = f.metric
WHERE NOT (f.backend = 'mimalloc' AND f.policy IS NULL);

CREATE VIEW IF NOT EXISTS fidelity_delta AS
SELECT trace, backend, policy, live_delta_s, replay_delta_s, delta_error,
       live_ratio, replay_ratio, significant, trace_id
FROM fidelity_delta_by_metric WHERE metric = 'wall';

-- Per (metric, trace): how many back ends have both sides; Kendall's tau-a
-- between the live and the replay orders ((concordant - discordant pairs)
-- / all pairs; ties count as neither; NULL below 2 back ends); beside it
-- the same orders with the live side's noise admitted: a pair whose live
-- 95% CIs overlap is a live tie (the live runs do not separate it), a pair
-- with equal replay medians a replay tie, and
--   kendall_tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2)),
-- C and D the pairs ordered alike and oppositely among those tied on
-- neither side, n0 all pairs, n1 live ties, n2 replay ties (NULL when
-- every pair is a tie on one side); live_separated_pairs = n0 - n1, and
-- somers_d = (C - D) / (n0 - n1): of the pairs the live runs separate,
-- the share replay orders as live minus the share it orders the other way
-- (1: replay gets every separated pair right). delta_error: the mean of
-- the delta view's delta_error over the significant back ends (NULL when
-- none is, or the trace has no mimalloc on both sides).
CREATE VIEW IF NOT EXISTS fidelity_summary_by_metric AS
WITH f AS (SELECT * FROM fidelity_by_metric),
pp AS (
  SELECT a.metric, a.trace_id,
         (a.live_s - b.live_s) * (a.replay_ns - b.replay_ns) AS prod,
         (a.live_ci_lo <= b.live_ci_hi AND b.live_ci_lo <= a.live_ci_hi)
           AS live_tie,
         (a.replay_ns = b.replay_ns) AS replay_tie
  FROM f a JOIN f b ON a.metric = b.metric AND a.trace_id = b.trace_id
   AND (a.backend || '/' || COALESCE(a.policy, '')) <
       (b.backend || '/' || COALESCE(b.policy, ''))),
pairs AS (
  SELECT metric, trace_id,
         SUM(CASE WHEN prod > 0 THEN 1 WHEN prod < 0 THEN -1 ELSE 0 END) AS s,
         SUM(CASE WHEN live_tie OR replay_tie THEN 0
                  WHEN prod > 0 THEN 1 WHEN prod < 0 THEN -1 ELSE 0 END) AS sb,
         COUNT(*) AS np, SUM(live_tie) AS n1, SUM(replay_tie) AS n2
  FROM pp GROUP BY metric, trace_id),
n AS (SELECT metric, trace_id, MIN(trace) AS trace, COUNT(*) AS backends
      FROM f GROUP BY metric, trace_id),
d AS (SELECT metric, trace_id, AVG(delta_error) AS delta_error
      FROM fidelity_delta_by_metric WHERE significant
      GROUP BY metric, trace_id)
SELECT n.metric, n.trace, n.backends,
       CAST(p.s AS REAL) / p.np AS kendall_tau,
       CASE WHEN p.np > p.n1 AND p.np > p.n2 THEN
         p.sb / sqrt(CAST(p.np - p.n1 AS REAL) * (p.np - p.n2)) END
         AS kendall_tau_b,
       COALESCE(p.np - p.n1, 0) AS live_separated_pairs,
       CAST(p.sb AS REAL) / NULLIF(p.np - p.n1, 0) AS somers_d,
       d.delta_error, n.trace_id
FROM n LEFT JOIN pairs p ON p.metric = n.metric AND p.trace_id = n.trace_id
LEFT JOIN d ON d.metric = n.metric AND d.trace_id = n.trace_id
ORDER BY n.metric, n.trace, n.trace_id;

CREATE VIEW IF NOT EXISTS fidelity_summary AS
SELECT trace, backends, kendall_tau, kendall_tau_b, live_separated_pairs,
       somers_d, delta_error, trace_id
FROM fidelity_summary_by_metric WHERE metric = 'wall'
ORDER BY trace, trace_id;
