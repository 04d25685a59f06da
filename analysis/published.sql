-- analysis/published.sql: hakmem's own published figures (its documents of
-- October 2025, as gathered in shared/HAKMEM.md), so that reproducing them
-- is a SQL join: published_comparison puts them beside what a database
-- measured. Apply after schema.sql and views.sql; idempotent.
CREATE TABLE IF NOT EXISTS published (
  source          TEXT NOT NULL,     -- which document / phase
  scenario        TEXT NOT NULL,     -- hksim gen scenario: vm, json, mir
  allocator       TEXT NOT NULL,     -- run_config.label it compares with
  ord             INTEGER NOT NULL,  -- row order of the published table
  median_ns       REAL,
  vs_mimalloc_pct REAL,              -- as printed; NULL: not printed
  page_faults     INTEGER,
  page_faults_text TEXT,             -- as printed ("~513")
  syscalls        TEXT,              -- as printed
  note            TEXT,
  PRIMARY KEY (source, scenario, allocator)
) WITHOUT ROWID;

INSERT OR IGNORE INTO published VALUES
  ('phase6.7', 'vm', 'mimalloc', 1, 19964, NULL, 513, '~513',
   '292 mmap + 206 madvise', NULL),
  ('phase6.7', 'vm', 'jemalloc', 2, 26241, 31.4, 513, '~513',
   '292 mmap + 206 madvise', 'printed as "same"'),
  ('phase6.7', 'vm', 'hakmem-evolving', 3, 37602, 88.3, 513, '513',
   '292 mmap + 206 madvise + 22 munmap', NULL),
  ('phase6.7', 'vm', 'hakmem-baseline', 4, 40282, 101.7, 513, '513',
   '292 mmap + 206 madvise + 22 munmap', 'printed as "same"'),
  ('phase6.7', 'vm', 'glibc', 5, 59995, 200.4, 1026, '1026', 'more', NULL),
  ('phase6.x', 'json', 'glibc', 1, 253, NULL, NULL, NULL, NULL,
   'published as "system"'),
  ('phase6.x', 'json', 'hakmem-baseline', 2, 261, NULL, NULL, NULL, NULL, NULL),
  ('phase6.x', 'json', 'hakmem-evolving', 3, 272, NULL, NULL, NULL, NULL, NULL),
  ('phase6.x', 'json', 'mimalloc', 4, 279, NULL, NULL, NULL, NULL, NULL),
  ('phase6.x', 'json', 'jemalloc', 5, 489, NULL, NULL, NULL, NULL, NULL),
  ('phase6.x', 'mir', 'mimalloc', 1, 1234, NULL, NULL, NULL, NULL, NULL),
  ('phase6.x', 'mir', 'jemalloc', 2, 1493, NULL, NULL, NULL, NULL, NULL),
  ('phase6.x', 'mir', 'hakmem-evolving', 3, 1578, NULL, NULL, NULL, NULL, NULL),
  ('phase6.x', 'mir', 'hakmem-baseline', 4, 1690, NULL, NULL, NULL, NULL, NULL),
  ('phase6.x', 'mir', 'glibc', 5, 1724, NULL, NULL, NULL, NULL,
   'published as "system"');

-- Published rows beside the measured configuration of the same label on
-- every trace generated from the same scenario (vs_mimalloc, so repeats
-- are medians of medians). vs mimalloc is computed from the medians where
-- the source did not print it. Measured columns are NULL where nothing
-- was replayed. The published figures are ns per iteration of hakmem's
-- harness loop (allocate, touch, free): the measured median is the same
-- metric only for runs made with --per-op iteration (measured_per_op
-- says; scripts/phase67.sh makes such runs), and there the measured vs
-- mimalloc is taken from those medians too, as published; otherwise it is
-- per-op medians beside per-iteration figures, and vs mimalloc on the
-- total loop time per op.
CREATE VIEW IF NOT EXISTS published_comparison AS
WITH pm AS (SELECT source, scenario, median_ns FROM published
            WHERE allocator = 'mimalloc')
SELECT p.scenario, p.source, p.ord, p.allocator, v.trace,
       v.median_ns,
       CASE WHEN v.per_op = 'iteration' THEN
         (v.median_ns / v.mimalloc_median_ns - 1.0) * 100.0
       ELSE v.vs_mimalloc_pct END AS vs_mimalloc_pct,
       v.page_faults,
       v.mmap_calls, v.munmap_calls, v.madvise_calls,
       CAST(v.mmap_calls AS INTEGER) || ' mmap + '
         || CAST(v.madvise_calls AS INTEGER) || ' madvise + '
         || CAST(v.munmap_calls AS INTEGER) || ' munmap' AS syscalls,
       v.runs,
       p.median_ns AS pub_median_ns,
       COALESCE(p.vs_mimalloc_pct,
                CASE WHEN p.allocator <> 'mimalloc' THEN
                  ROUND((p.median_ns / pm.median_ns - 1.0) * 100.0, 1) END)
         AS pub_vs_mimalloc_pct,
       COALESCE(p.page_faults_text, CAST(p.page_faults AS TEXT))
         AS pub_page_faults,
       p.syscalls AS pub_syscalls,
       v.median_ns / p.median_ns AS measured_over_published,
       v.per_op AS measured_per_op
FROM published p
LEFT JOIN pm ON pm.source = p.source AND pm.scenario = p.scenario
LEFT JOIN vs_mimalloc v ON v.scenario = p.scenario AND v.label = p.allocator
ORDER BY p.scenario, v.trace, p.ord;

-- Do the measured and the published orders of the allocators agree? Per
-- scenario and trace, over the allocators with both figures: Kendall's
-- tau-a, (concordant - discordant) / pairs (1: the same order, -1: the
-- reverse; a pair tied on either side counts as neither), and the timing
-- mode of the measured runs (only 'iteration' is the published metric).
CREATE VIEW IF NOT EXISTS published_rank_agreement AS
WITH c AS (
  SELECT * FROM published_comparison
  WHERE median_ns IS NOT NULL AND pub_median_ns IS NOT NULL),
pairs AS (
  SELECT a.scenario, a.trace,
         SUM((a.median_ns - b.median_ns) * (a.pub_median_ns - b.pub_median_ns)
             > 0) AS concordant,
         SUM((a.median_ns - b.median_ns) * (a.pub_median_ns - b.pub_median_ns)
             < 0) AS discordant,
         COUNT(*) AS pairs
  FROM c a JOIN c b ON a.scenario = b.scenario AND a.trace = b.trace
   AND a.allocator < b.allocator
  GROUP BY a.scenario, a.trace),
n AS (
  SELECT scenario, trace, COUNT(*) AS allocators,
         group_concat(DISTINCT measured_per_op) AS measured_per_op
  FROM c GROUP BY scenario, trace)
SELECT n.scenario, n.trace, n.allocators, p.concordant, p.discordant,
       CAST(p.concordant - p.discordant AS REAL) / p.pairs AS kendall_tau,
       n.measured_per_op
FROM n JOIN pairs p ON p.scenario = n.scenario AND p.trace = n.trace
ORDER BY n.scenario = 'json', n.scenario = 'mir', n.scenario, n.trace;
