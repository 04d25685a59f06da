/* ana_fixture.h: a small results database built by hand for the tests of
 * analysis/: one vm trace of 10 ops, runs of mimalloc (2 repeats), hakmem
 * elo (3), static (1), evo (1) and a failed glibc run, with per-op
 * latencies, policy events, per-site BigCache outcomes and RSS samples.
 * The expected values of the tests are computed by hand from these rows. */
#ifndef ANA_FIXTURE_H
#define ANA_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis.h"

static const char ana_fixture_sql[] =
    "INSERT INTO traces(trace_id, content_hash, name, path, exe, ops, added_at)"
    " VALUES (1, '00000000000000aa', 'vm.hkt', '/tmp/vm.hkt', 'gen:vm', 10,"
    " '2025-01-01T00:00:00Z');"
    "INSERT INTO modules VALUES (1, 1, '/nonexistent/libfoo.so', 4096, 4096,"
    " 8192, NULL);"
    "INSERT INTO sites(trace_id, site, caller, module_id, depth, frames,"
    " allocs, bytes) VALUES (1, 1, 4660, 1, 1, '1234', 5, 10485760),"
    " (1, 2, 5000, NULL, 2, '1388 1400', 5, 5242880);"
    "INSERT INTO symbols VALUES (1, 4660, 'make_vm', '/src/vm.c', 42,"
    " '/nonexistent/libfoo.so');"
    /* even seq: malloc 2 MiB at site 1; odd: its free (which carries
     * the freed block's size, as prepare writes it) */
    "INSERT INTO trace_op_chunk WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL"
    " SELECT n + 1 FROM s WHERE n < 9) SELECT 1, 0, COUNT(*),"
    " hksim_pack_ops(n, CASE n % 2 WHEN 0 THEN 1 ELSE 5 END, 2097152,"
    " 1 + n % 2, 0, n / 2, 0, 0, 1000 * n) FROM s;"
    "INSERT INTO runs(run_id, trace_id, backend, policy, seed, repeat, touch,"
    " per_op, status, error, started_at, ops, total_ns, median_ns, p95_ns,"
    " p99_ns, mmap_calls, munmap_calls, madvise_calls, mremap_calls,"
    " brk_calls, minor_faults, major_faults, peak_rss_bytes, cache_hits,"
    " cache_misses) VALUES"
    " (1, 1, 'mimalloc', NULL, 1, 0, 'pages', 'all', 'done', NULL, 'x', 10,"
    "  1000, 100, 200, 300, 10, 5, 2, 0, 0, 500, 13, 10485760, NULL, NULL),"
    " (2, 1, 'mimalloc', NULL, 1, 1, 'pages', 'all', 'done', NULL, 'x', 10,"
    "  1200, 120, 220, 320, 10, 5, 2, 0, 0, 513, 0, 10485760, NULL, NULL),"
    " (3, 1, 'hakmem', 'elo', 1, 0, 'pages', 'all', 'done', NULL, 'x', 10,"
    "  1500, 150, 250, 400, 3, 1, 1, 0, 0, 513, 0, 8388608, 9, 1),"
    " (4, 1, 'hakmem', 'elo', 1, 1, 'pages', 'all', 'done', NULL, 'x', 10,"
    "  2000, 200, 260, 500, 3, 1, 1, 0, 0, 513, 0, 8388608, 9, 1),"
    " (5, 1, 'hakmem', 'elo', 1, 2, 'pages', 'all', 'done', NULL, 'x', 10,"
    "  1600, 160, 270, 450, 3, 1, 1, 0, 0, 513, 0, 8388608, 9, 1),"
    " (6, 1, 'hakmem', 'static', 1, 0, 'pages', 'all', 'done', NULL, 'x', 10,"
    "  3000, 300, 400, 500, 8, 6, 0, 0, 0, 1026, 0, 12582912, 5, 5),"
    " (7, 1, 'glibc', NULL, 1, 0, 'pages', 'all', 'failed',"
    "  'child killed by signal 11', 'x', NULL, NULL, NULL, NULL, NULL, NULL,"
    "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
    " (8, 1, 'hakmem', 'evo', 1, 0, 'pages', 'all', 'done', NULL, 'x', 10,"
    "  1700, 170, 270, 470, 3, 1, 1, 0, 0, 513, 0, 8388608, 8, 2);"
    /* run 8's timer resolves 60 ns: its median (170) is below 3 times
     * that, so reports print it as a bound */
    "UPDATE runs SET timer_resolution_ns = 60 WHERE run_id = 8;"
    /* run 1: op k took 10 * (k + 1) ns */
    "INSERT INTO run_op SELECT 1, seq, 10 * (seq + 1) FROM trace_op;"
    "INSERT INTO run_op SELECT 3, seq, 100 + seq FROM trace_op;"
    "INSERT INTO policy_events(run_id, op_seq, arm, metric, value) VALUES"
    " (3, 0, 0, 'rating', 1500), (3, 0, 1, 'rating', 1500),"
    " (3, 0, 0, 'best', 1500),"
    " (3, 5, 0, 'rating', 1490), (3, 5, 1, 'rating', 1510),"
    " (3, 5, 1, 'best', 1510),"
    " (3, 5, NULL, 'cache_hits', 2), (3, 5, NULL, 'cache_misses', 1),"
    " (3, 9, 0, 'rating', 1480), (3, 9, 1, 'rating', 1520),"
    " (3, 9, 0, 'pulls', 3), (3, 9, 1, 'pulls', 7),"
    " (3, 9, 0, 'alive', 1), (3, 9, 1, 'alive', 1),"
    " (3, 9, 1, 'chosen', 786432), (3, 9, 1, 'best', 1520),"
    " (3, 9, NULL, 'cache_hits', 9), (3, 9, NULL, 'cache_misses', 1),"
    " (8, 0, NULL, 'mode', 0), (8, 3, NULL, 'mode', 1),"
    " (8, 3, NULL, 'reason', 1), (8, 6, NULL, 'mode', 2),"
    " (8, 6, NULL, 'reason', 6), (8, 9, NULL, 'mode', 0),"
    " (8, 9, NULL, 'reason', 2), (8, 9, NULL, 'relearns', 1),"
    " (8, 9, NULL, 'freezes', 1), (8, 9, NULL, 'canaries', 1),"
    " (8, 9, NULL, 'windows', 4);"
    "INSERT INTO run_site VALUES (3, 1, 5, 4, 1), (3, 2, 5, 5, 0),"
    " (4, 1, 5, 3, 2);"
    "INSERT INTO rss_timeline VALUES (1, 0, 1048576, 0),"
    " (1, 5, 4194304, 2097152), (3, 0, 1048576, 0), (3, 5, 3145728, 2097152);";

/* A fresh database file with the schema, views and the fixture; the path
 * (to unlink) in path. */
static inline ana_db_t *ana_fixture_open(char *path, size_t len, int rows) {
  snprintf(path, len, "/tmp/hksim-ana-test-%d-XXXXXX", (int)getpid());
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  close(fd);
  unlink(path);
  ana_db_t *db = NULL;
  char why[256];
  if (ana_db_open(path, ANA_DB_CREATE, &db, why, sizeof why)) {
    fprintf(stderr, "fixture: %s\n", why);
    return NULL;
  }
  if (rows && ana_db_exec(db, ana_fixture_sql, why, sizeof why)) {
    fprintf(stderr, "fixture: %s\n", why);
    ana_db_free(db);
    return NULL;
  }
  return db;
}

/* cmocka group set-up and tear-down for tests that share one fixture
 * database with rows (the state is the ana_db_t). */
static char ana_fixture_path[256];
static inline int ana_fixture_setup(void **state) {
  ana_db_t *db = ana_fixture_open(ana_fixture_path, sizeof ana_fixture_path, 1);
  *state = db;
  return db ? 0 : -1;
}
static inline int ana_fixture_teardown(void **state) {
  ana_db_free(*state);
  unlink(ana_fixture_path);
  return 0;
}

#endif
