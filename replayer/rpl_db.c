/* rpl_db.c: the SQLite sink of the replayer. Applies analysis/schema.sql
 * (embedded at build time, versioned by user_version), stores each trace
 * once by content hash (header, threads, modules, sites, its prepared ops)
 * and each run: 'running' first, then every row and the final status in
 * one transaction. Prepared multi-row INSERTs in WAL mode. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sqlite3.h>
#include <time.h>

#include "hk_progress.h"
#include "hk_sqlviews.h"
#include "hk_opchunk.h"
#include "rpl_internal.h"

/* Threads that code op chunks while a trace is stored (store_ops). */
#define ENC_MAX_WORKERS 4

/* Chunks of a trace's ops stored per transaction: 32 x 65536 ops, about
 * 12 MB of blobs at 5.5 B/op, so the WAL a store grows stays near that
 * (it was the stored trace's size, 551 MB at 10^8 ops, in one
 * transaction). */
#define STORE_TXN_CHUNKS 32

struct rpl_db_s {
  sqlite3 *db;
  char host[64];
  /* The error of the last failed write, read before its ROLLBACK (whose
   * own message, "cannot rollback - no transaction is active" after a
   * full disk, would hide it); "" when the last call succeeded. */
  char err[256];
  hk_progress_t *progress; /* storing a trace's ops (rpl_db_set_progress) */
  int store_threads;       /* chunk coders; -1: as many as the CPUs */
  int txn_chunks;          /* chunks per transaction of a store */
  int die_after;           /* test hook: SIGKILL after this many commits */
  int lockfd;              /* the "-hkstore" file; -1 none, -2 not open */
};

void rpl_db_set_progress(rpl_db_t *db, hk_progress_t *p) { db->progress = p; }

void rpl_db_set_store_threads(rpl_db_t *db, int n) {
  db->store_threads = n < 0 ? -1 : n > ENC_MAX_WORKERS ? ENC_MAX_WORKERS : n;
}

void rpl_db_set_store_txn(rpl_db_t *db, int chunks, int die_after) {
  db->txn_chunks = chunks < 1 ? STORE_TXN_CHUNKS : chunks;
  db->die_after = die_after < 0 ? 0 : die_after;
}

/* Rolls back after a failure, keeping the failure's message. */
static void rollback_keep(rpl_db_t *db) {
  snprintf(db->err, sizeof db->err, "%s", sqlite3_errmsg(db->db));
  sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}

#define RPL_DB_BUSY_MS (10 * 60 * 1000)
#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

const char *rpl_db_errmsg(const rpl_db_t *db) {
  if (db && db->err[0]) return db->err;
  return db && db->db ? sqlite3_errmsg(db->db) : "no database";
}

/* SQLITE_BUSY that comes back at once, without the busy handler's wait:
 * SQLite skips the handler where waiting could deadlock, and while sessions
 * open a new database together (journal mode, schema) three concurrent
 * replays failed with "database is locked" twice in this stop's test runs.
 * Such a refusal is retried after a short sleep, for up to about 5 s; a
 * BUSY that already waited out the handler is final. */
static int busy_at_once(int rc, uint64_t t0, int tries) {
  if (rc != SQLITE_BUSY || tries >= 250 || hk_now_ns() - t0 > 1000000000ull)
    return 0;
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  return 1;
}

static int exec(rpl_db_t *db, const char *sql) {
  int rc;
  for (int tries = 0;; tries++) {
    uint64_t t0 = hk_now_ns();
    rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
    if (!busy_at_once(rc, t0, tries)) break;
  }
  return rc == SQLITE_OK ? 0 : HK_E_SQLITE;
}

static int user_version(sqlite3 *s, int *v) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  int rc;
  for (int tries = 0;; tries++) {
    uint64_t t0 = hk_now_ns();
    rc = sqlite3_step(st);
    if (!busy_at_once(rc, t0, tries)) break;
    sqlite3_reset(st);
  }
  if (rc == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : HK_E_SQLITE;
}

/* Columns added to a table of this schema version after databases were
 * made with it (CREATE TABLE IF NOT EXISTS leaves an existing table as it
 * is): each is added, at the table's end, to a database that lacks it.
 * Its rows made before say NULL there. */
static const struct {
  const char *table, *column, *decl;
} added_columns[] = {
    {"traces", "order_unresolved", "INTEGER"},
};

static int add_missing_columns(rpl_db_t *db) {
  for (size_t i = 0; i < HK_ARRAY_LEN(added_columns); i++) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT COUNT(*) FROM pragma_table_info(?) "
                           "WHERE name = ?",
                           -1, &st, NULL) != SQLITE_OK)
      return HK_E_SQLITE;
    sqlite3_bind_text(st, 1, added_columns[i].table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, added_columns[i].column, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), have = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return HK_E_SQLITE;
    if (have) continue;
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s",
             added_columns[i].table, added_columns[i].column,
             added_columns[i].decl);
    if (exec(db, sql)) return HK_E_SQLITE;
  }
  return 0;
}

int rpl_db_open(rpl_db_t **out, const char *path, char *why, size_t len) {
  *out = NULL;
  rpl_db_t *db = calloc(1, sizeof *db);
  if (!db) return HK_E_NOMEM;
  gethostname(db->host, sizeof db->host - 1);
  db->store_threads = -1;
  db->txn_chunks = STORE_TXN_CHUNKS;
  db->lockfd = -2;
  int v = 0, rc;
  /* One connection, one thread (the parent): no SQLite mutexes. */
  if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    goto sql_fail;
  /* Other sessions may be writing (a trace's ops, a run's rows): wait for
   * them rather than fail; a trace of 10^8 ops takes minutes to store. */
  sqlite3_busy_timeout(db->db, RPL_DB_BUSY_MS);
  /* Read the version before writing anything: a newer database is left
   * exactly as it was. */
  if (user_version(db->db, &v)) goto sql_fail;
  if (v > rpl_sql_user_version) {
    snprintf(why, len,
             "database schema version %d is newer than this program's %d", v,
             rpl_sql_user_version);
    rpl_db_free(db);
    return HK_E_SCHEMA;
  }
  if (v != 0 && v < rpl_sql_user_version) {
    snprintf(why, len,
             "database schema version %d is older than this program's %d "
             "(its tables differ): replay into a new "
             "database", v, rpl_sql_user_version);
    rpl_db_free(db);
    return HK_E_SCHEMA;
  }
  /* Larger pages make the per-op tables cheaper; only a new file takes it. */
  if (v == 0 && exec(db, "PRAGMA page_size=16384")) goto sql_fail;
  if (exec(db, "PRAGMA journal_mode=WAL") ||
      exec(db, "PRAGMA synchronous=NORMAL") ||
      exec(db, "PRAGMA cache_size=-65536") ||
      /* A WAL grown by a large transaction (a run's rows, a store's
       * 12 MB of chunks) is cut back by the first write after the
       * checkpoint instead of staying that size on disk. */
      exec(db, "PRAGMA journal_size_limit=" RPL_DB_WAL_LIMIT_S) ||
      /* Multi-row INSERTs inside a transaction keep a statement journal;
       * on disk it was 24,000 page writes per million per-op rows. */
      exec(db, "PRAGMA temp_store=MEMORY") ||
      exec(db, "PRAGMA foreign_keys=OFF"))
    goto sql_fail;
  if (exec(db, "BEGIN IMMEDIATE")) goto sql_fail;
  const char *const views[] = {rpl_schema_sql, rpl_views_sql, rpl_published_sql};
  if (exec(db, rpl_schema_sql) || add_missing_columns(db) ||
      /* A database written by an older build keeps its views otherwise. */
      hk_sql_drop_stale_views(db->db, views, 3, why, len) ||
      exec(db, rpl_views_sql) || exec(db, rpl_published_sql)) {
    snprintf(why, len, "applying the schema: %s", sqlite3_errmsg(db->db));
    exec(db, "ROLLBACK");
    rpl_db_free(db);
    return HK_E_SQLITE;
  }
  rc = exec(db, "INSERT OR IGNORE INTO schema_version(version, applied_at, "
                "program) SELECT (SELECT user_version FROM pragma_user_version),"
                " " NOW_SQL ", 'hksim 0.1.0'");
  if (rc || exec(db, "COMMIT")) {
    snprintf(why, len, "%s", sqlite3_errmsg(db->db));
    exec(db, "ROLLBACK");
    rpl_db_free(db);
    return HK_E_SQLITE;
  }
  *out = db;
  return 0;
sql_fail:
  snprintf(why, len, "%s", db->db ? sqlite3_errmsg(db->db) : "cannot open");
  rpl_db_free(db);
  return HK_E_SQLITE;
}

sqlite3 *rpl_db_sqlite(rpl_db_t *db) { return db->db; }

void rpl_db_shrink(rpl_db_t *db) {
  if (db && db->db) sqlite3_db_release_memory(db->db);
}

void rpl_db_free(rpl_db_t *db) {
  if (!db) return;
  if (db->db) sqlite3_close_v2(db->db);
  if (db->lockfd >= 0) close(db->lockfd);
  free(db);
}

/* ---- multi-row INSERT ------------------------------------------------- */

/* Buffers rows of ncol integers and inserts them rows_per_stmt at a time
 * with one prepared statement (and one for the tail). */
typedef struct batch {
  sqlite3 *db;
  const char *head; /* "INSERT INTO t(a,b,c) VALUES " */
  int ncol, per;
  sqlite3_stmt *full;
  int64_t vals[4096];
  int n; /* rows buffered */
} batch_t;

static sqlite3_stmt *prep_rows(sqlite3 *db, const char *head, int ncol,
                               int rows) {
  size_t cap = strlen(head) + (size_t)rows * (size_t)(ncol * 2 + 3) + 8;
  char *sql = malloc(cap), *p = sql;
  if (!sql) return NULL;
  p += sprintf(p, "%s", head);
  for (int r = 0; r < rows; r++) {
    *p++ = r ? ',' : ' ';
    *p++ = '(';
    for (int c = 0; c < ncol; c++) {
      if (c) *p++ = ',';
      *p++ = '?';
    }
    *p++ = ')';
  }
  *p = 0;
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  free(sql);
  return st;
}

static int batch_init(batch_t *b, sqlite3 *db, const char *head, int ncol) {
  b->db = db;
  b->head = head;
  b->ncol = ncol;
  b->per = (int)(HK_ARRAY_LEN(b->vals) / (size_t)ncol);
  if (b->per > 256) b->per = 256;
  b->n = 0;
  b->full = prep_rows(db, head, ncol, b->per);
  return b->full ? 0 : HK_E_SQLITE;
}

static int run_stmt(sqlite3_stmt *st, const int64_t *v, int n) {
  for (int i = 0; i < n; i++) sqlite3_bind_int64(st, i + 1, v[i]);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : HK_E_SQLITE;
}

static int batch_flush(batch_t *b) {
  if (b->n == 0) return 0;
  int rc;
  if (b->n == b->per) {
    rc = run_stmt(b->full, b->vals, b->n * b->ncol);
  } else {
    sqlite3_stmt *st = prep_rows(b->db, b->head, b->ncol, b->n);
    if (!st) return HK_E_SQLITE;
    rc = run_stmt(st, b->vals, b->n * b->ncol);
    sqlite3_finalize(st);
  }
  b->n = 0;
  return rc;
}

/* Adds one row (ncol values). */
static inline int batch_row(batch_t *b, const int64_t *row) {
  memcpy(&b->vals[b->n * b->ncol], row, (size_t)b->ncol * sizeof *row);
  if (++b->n == b->per) return batch_flush(b);
  return 0;
}

static void batch_release(batch_t *b) {
  if (b->full) sqlite3_finalize(b->full);
  b->full = NULL;
}

/* ---- traces ----------------------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static int find_trace(rpl_db_t *db, const char *hex, int64_t *id) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db->db,
                         "SELECT trace_id FROM traces WHERE content_hash = ?",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  bind_text(st, 1, hex);
  int rc = sqlite3_step(st), found = 0;
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    found = 1;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? found : HK_E_SQLITE;
}

/* Storing a trace reads its mapped program once, front to back: pages
 * already read are given back chunk by chunk (they come again from the
 * file if a run needs them), so storing holds a window of the program,
 * not all of it (32 B/op: 5.7 GiB for 183 M ops). */

static void ops_done(const trc_program_t *prog, uint64_t from, uint64_t to) {
  long pg = sysconf(_SC_PAGESIZE);
  uintptr_t a = (uintptr_t)(prog->ops + from), b = (uintptr_t)(prog->ops + to);
  /* Whole pages: the one `from` starts in holds only ops already stored
   * (or the header, read again from the file when needed), so it goes
   * too; the one `to` ends in waits for the next chunk. Rounding both
   * inward kept one page per chunk, 11 MiB at 183 M ops. */
  a &= ~((uintptr_t)pg - 1);
  b &= ~((uintptr_t)pg - 1);
  if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

typedef struct site_acc {
  uint64_t allocs, bytes;
} site_acc_t;

/* What ops did at each site, gathered while the ops are stored. */
typedef struct sites_acc {
  site_acc_t *acc;
  uint32_t cap;      /* entries in acc */
  uint32_t max_site; /* largest site an op named */
  int any;
} sites_acc_t;

static int sites_add(sites_acc_t *sa, const trc_pop_t *o) {
  if (o->site >= sa->cap) {
    uint64_t nc = sa->cap ? (uint64_t)sa->cap * 2 : 1024;
    while (nc <= o->site) nc *= 2;
    if (nc > (uint64_t)UINT32_MAX + 1) return HK_E_NOMEM;
    site_acc_t *n = realloc(sa->acc, nc * sizeof *n);
    if (!n) return HK_E_NOMEM;
    memset(n + sa->cap, 0, (nc - sa->cap) * sizeof *n);
    sa->acc = n;
    sa->cap = (uint32_t)(nc > UINT32_MAX ? UINT32_MAX : nc);
  }
  if (o->site > sa->max_site) sa->max_site = o->site;
  sa->any = 1;
  if (o->op == TRC_OP_FREE || (o->flags & TRC_PF_FAILED)) return 0;
  sa->acc[o->site].allocs++;
  sa->acc[o->site].bytes += o->size;
  return 0;
}

/* The side tables of the trace file: threads, modules, sites. Read up to
 * any damage (prepare already said how far the trace is readable). */
static int store_side_tables(rpl_db_t *db, const char *path, int64_t tid,
                             const sites_acc_t *sa) {
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  if (rc) return rc;
  uint32_t max_site = sa->any ? sa->max_site : 0;
  static const site_acc_t none = {0, 0};
  const site_acc_t *acc = sa->acc ? sa->acc : &none;
  uint8_t *defined = calloc((size_t)max_site + 1, 1);
  trc_module_t *mods = NULL;
  size_t n_mods = 0;
  sqlite3_stmt *th = NULL, *mo = NULL, *si = NULL;
  if (!defined) {
    rc = HK_E_NOMEM;
    goto out;
  }
  if (sqlite3_prepare_v2(db->db,
                         "INSERT OR REPLACE INTO threads(trace_id, thread, tid,"
                         " name, start_time, end_time) VALUES (?,?,?,?,?,?)",
                         -1, &th, NULL) ||
      sqlite3_prepare_v2(db->db,
                         "INSERT OR REPLACE INTO modules(trace_id, module_id, "
                         "path, base, lo, hi, build_id) VALUES (?,?,?,?,?,?,?)",
                         -1, &mo, NULL) ||
      sqlite3_prepare_v2(db->db,
                         "INSERT OR REPLACE INTO sites(trace_id, site, caller,"
                         " module_id, depth, frames, allocs, bytes) VALUES "
                         "(?,?,?,?,?,?,?,?)",
                         -1, &si, NULL)) {
    rc = HK_E_SQLITE;
    goto out;
  }
  trc_chunk_t c;
  char *frames = NULL;
  size_t frames_cap = 0;
  rc = 0;
  /* Events are not needed here: their columns are left undecoded. */
  while (rc == 0 && trc_reader_next_index(r, &c) == 1) {
    if (c.kind == TRC_CHUNK_THREADS) {
      for (size_t i = 0; i < c.n && !rc; i++) {
        const trc_thread_t *t = &c.threads[i];
        sqlite3_bind_int64(th, 1, tid);
        sqlite3_bind_int64(th, 2, t->index);
        sqlite3_bind_int64(th, 3, t->tid);
        bind_text(th, 4, t->name);
        sqlite3_bind_int64(th, 5, (int64_t)t->start_time);
        sqlite3_bind_int64(th, 6, (int64_t)t->end_time);
        rc = sqlite3_step(th) == SQLITE_DONE ? 0 : HK_E_SQLITE;
        sqlite3_reset(th);
      }
    } else if (c.kind == TRC_CHUNK_MODULES) {
      for (size_t i = 0; i < c.n && !rc; i++) {
        const trc_module_t *m = &c.modules[i];
        char bid[2 * 64 + 1] = "";
        for (uint32_t k = 0; k < m->build_id_len && k < 64; k++)
          sprintf(bid + 2 * k, "%02x", m->build_id[k]);
        sqlite3_bind_int64(mo, 1, tid);
        sqlite3_bind_int64(mo, 2, m->id);
        bind_text(mo, 3, m->path);
        sqlite3_bind_int64(mo, 4, (int64_t)m->base);
        sqlite3_bind_int64(mo, 5, (int64_t)m->lo);
        sqlite3_bind_int64(mo, 6, (int64_t)m->hi);
        bind_text(mo, 7, m->build_id_len ? bid : NULL);
        rc = sqlite3_step(mo) == SQLITE_DONE ? 0 : HK_E_SQLITE;
        sqlite3_reset(mo);
        trc_module_t *n = realloc(mods, (n_mods + 1) * sizeof *n);
        if (n) {
          mods = n;
          mods[n_mods] = *m;
          mods[n_mods].path = NULL;
          mods[n_mods].build_id = NULL;
          n_mods++;
        }
      }
    } else if (c.kind == TRC_CHUNK_SITES) {
      for (size_t i = 0; i < c.n && !rc; i++) {
        const trc_site_t *s = &c.sites[i];
        size_t need = (size_t)s->depth * 19 + 1;
        if (need > frames_cap) {
          char *n = realloc(frames, need);
          if (!n) {
            rc = HK_E_NOMEM;
            break;
          }
          frames = n;
          frames_cap = need;
        }
        char *p = frames;
        *p = 0;
        for (uint32_t k = 0; k < s->depth; k++)
          p += sprintf(p, k ? " %llx" : "%llx",
                       (unsigned long long)s->frames[k]);
        uint64_t caller = s->depth ? s->frames[0] : 0;
        int64_t mod = -1;
        for (size_t k = 0; k < n_mods; k++)
          if (caller >= mods[k].lo && caller < mods[k].hi) mod = mods[k].id;
        site_acc_t a = {0, 0};
        if (s->id <= max_site && sa->any) {
          a = acc[s->id];
          defined[s->id] = 1;
        }
        sqlite3_bind_int64(si, 1, tid);
        sqlite3_bind_int64(si, 2, s->id);
        sqlite3_bind_int64(si, 3, (int64_t)caller);
        if (mod >= 0)
          sqlite3_bind_int64(si, 4, mod);
        else
          sqlite3_bind_null(si, 4);
        sqlite3_bind_int64(si, 5, s->depth);
        bind_text(si, 6, frames);
        sqlite3_bind_int64(si, 7, (int64_t)a.allocs);
        sqlite3_bind_int64(si, 8, (int64_t)a.bytes);
        rc = sqlite3_step(si) == SQLITE_DONE ? 0 : HK_E_SQLITE;
        sqlite3_reset(si);
      }
    }
  }
  free(frames);
  /* Sites ops name that the file never defined (0: unknown). */
  for (uint32_t s = 0; s <= max_site && sa->any && !rc; s++) {
    if (defined[s] || acc[s].allocs == 0) continue;
    sqlite3_bind_int64(si, 1, tid);
    sqlite3_bind_int64(si, 2, s);
    sqlite3_bind_null(si, 3);
    sqlite3_bind_null(si, 4);
    sqlite3_bind_int64(si, 5, 0);
    sqlite3_bind_null(si, 6);
    sqlite3_bind_int64(si, 7, (int64_t)acc[s].allocs);
    sqlite3_bind_int64(si, 8, (int64_t)acc[s].bytes);
    rc = sqlite3_step(si) == SQLITE_DONE ? 0 : HK_E_SQLITE;
    sqlite3_reset(si);
  }
out:
  sqlite3_finalize(th);
  sqlite3_finalize(mo);
  sqlite3_finalize(si);
  free(defined);
  free(mods);
  trc_reader_free(r);
  return rc;
}

/* The op's time since the trace's start. */
#define POP_TIME(o) ((uint64_t)(o)->time_ns)

/* Whether trace_op is a plain table (`hksim expand` made it, or the
 * database predates trace_op_chunk), whose new traces get their rows there
 * too: 0 no (the view), 2 yes, 1 yes but without the time_ns column. */
static int expanded(rpl_db_t *db) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db->db,
                         "SELECT 1 + EXISTS (SELECT 1 FROM "
                         "pragma_table_info('trace_op') WHERE name = "
                         "'time_ns') FROM sqlite_master WHERE type = 'table' "
                         "AND name = 'trace_op'",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  int rc = sqlite3_step(st), v = 0;
  if (rc == SQLITE_ROW) v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? v : rc == SQLITE_DONE ? 0 : HK_E_SQLITE;
}

/* ---- coding op chunks on other threads ---------------------------------
 *
 * Coding a chunk (columns, zstd) is most of storing's CPU: 0.3-0.38 s of
 * 0.5-0.6 s for 5 M ops, against 0.03 s of SQLite inserts (bench_store).
 * So workers code chunks ahead, each into a slot of a ring, while this
 * thread inserts them in order; a chunk's blob depends only on its ops,
 * so the stored bytes are the same whatever the number of workers. The
 * workers only read the mapped program; SQLite stays on this thread. */

#define ENC_DEPTH 8 /* chunks coded ahead: 8 x ~0.4 MB of blobs */

typedef struct enc_slot {
  uint64_t ready;     /* chunk index + 1 once its blob is here; 0 not yet */
  int rc;
  uint8_t *blob;
  size_t len, cap;
} enc_slot_t;

typedef struct encoder {
  pthread_mutex_t mu;
  pthread_cond_t cv_ready, cv_free;
  const trc_program_t *prog;
  uint64_t nchunks;
  uint64_t next;     /* next chunk a worker takes */
  uint64_t consumed; /* chunks this thread has inserted */
  int stop;
  enc_slot_t slot[ENC_DEPTH];
  pthread_t th[ENC_MAX_WORKERS];
  int nw;
} encoder_t;

/* Codes chunk c of prog into slot s (rows: room for HK_OPCHUNK_OPS). */
static int encode_chunk(hk_opcodec_t *codec, hk_oprow_t *rows,
                        const trc_program_t *prog, uint64_t c, enc_slot_t *s) {
  uint64_t k0 = c * HK_OPCHUNK_OPS;
  uint32_t n = prog->n_ops - k0 < HK_OPCHUNK_OPS ? (uint32_t)(prog->n_ops - k0)
                                                 : HK_OPCHUNK_OPS;
  const trc_pop_t *ops = prog->ops + k0;
  for (uint32_t i = 0; i < n; i++) {
    const trc_pop_t *o = &ops[i];
    rows[i] = (hk_oprow_t){o->size, POP_TIME(o), o->slot, o->site,
                           o->thread, o->op, o->align_log2, o->flags};
  }
  const void *blob;
  size_t len;
  int rc = hk_opchunk_encode(codec, rows, n, &blob, &len);
  if (rc) return rc;
  if (len > s->cap) {
    uint8_t *b = realloc(s->blob, len);
    if (!b) return HK_E_NOMEM;
    s->blob = b;
    s->cap = len;
  }
  memcpy(s->blob, blob, len);
  s->len = len;
  return 0;
}

static void *enc_worker(void *arg) {
  encoder_t *e = arg;
  hk_opcodec_t *codec = hk_opcodec_create();
  hk_oprow_t *rows = malloc((size_t)HK_OPCHUNK_OPS * sizeof *rows);
  pthread_mutex_lock(&e->mu);
  while (!e->stop && e->next < e->nchunks) {
    if (e->next >= e->consumed + ENC_DEPTH) { /* the ring is full */
      pthread_cond_wait(&e->cv_free, &e->mu);
      continue;
    }
    uint64_t c = e->next++;
    enc_slot_t *s = &e->slot[c % ENC_DEPTH];
    pthread_mutex_unlock(&e->mu);
    int rc = codec && rows ? encode_chunk(codec, rows, e->prog, c, s)
                           : HK_E_NOMEM;
    pthread_mutex_lock(&e->mu);
    s->rc = rc;
    s->ready = c + 1;
    pthread_cond_broadcast(&e->cv_ready);
  }
  pthread_mutex_unlock(&e->mu);
  free(rows);
  hk_opcodec_free(codec);
  return NULL;
}

/* Starts nw workers (0: none, this thread codes each chunk itself). */
static int enc_start(encoder_t *e, const trc_program_t *prog, int nw) {
  memset(e, 0, sizeof *e);
  e->prog = prog;
  e->nchunks = (prog->n_ops + HK_OPCHUNK_OPS - 1) / HK_OPCHUNK_OPS;
  if (pthread_mutex_init(&e->mu, NULL)) return HK_E_NOMEM;
  pthread_cond_init(&e->cv_ready, NULL);
  pthread_cond_init(&e->cv_free, NULL);
  for (int i = 0; i < nw && i < ENC_MAX_WORKERS; i++) {
    if (pthread_create(&e->th[i], NULL, enc_worker, e)) break;
    e->nw++;
  }
  return 0; /* fewer workers than asked (or none) still code every chunk */
}

/* Chunk c's slot once coded (by this thread when there are no workers);
 * NULL with *rc set on failure. */
static enc_slot_t *enc_wait(encoder_t *e, uint64_t c, hk_opcodec_t **codec,
                            hk_oprow_t **rows, int *rc) {
  enc_slot_t *s = &e->slot[c % ENC_DEPTH];
  if (e->nw == 0) {
    if (!*codec) *codec = hk_opcodec_create();
    if (!*rows) *rows = malloc((size_t)HK_OPCHUNK_OPS * sizeof **rows);
    *rc = *codec && *rows ? encode_chunk(*codec, *rows, e->prog, c, s)
                          : HK_E_NOMEM;
    return *rc ? NULL : s;
  }
  pthread_mutex_lock(&e->mu);
  while (s->ready != c + 1) pthread_cond_wait(&e->cv_ready, &e->mu);
  pthread_mutex_unlock(&e->mu);
  *rc = s->rc;
  return *rc ? NULL : s;
}

/* Chunk c is stored: its slot may take chunk c + ENC_DEPTH. */
static void enc_done(encoder_t *e, uint64_t c) {
  pthread_mutex_lock(&e->mu);
  e->slot[c % ENC_DEPTH].ready = 0;
  e->consumed = c + 1;
  pthread_cond_broadcast(&e->cv_free);
  pthread_mutex_unlock(&e->mu);
}

static void enc_stop(encoder_t *e) {
  pthread_mutex_lock(&e->mu);
  e->stop = 1;
  pthread_cond_broadcast(&e->cv_free);
  pthread_mutex_unlock(&e->mu);
  for (int i = 0; i < e->nw; i++) pthread_join(e->th[i], NULL);
  for (int i = 0; i < ENC_DEPTH; i++) free(e->slot[i].blob);
  pthread_cond_destroy(&e->cv_ready);
  pthread_cond_destroy(&e->cv_free);
  pthread_mutex_destroy(&e->mu);
}

/* Workers for a store: as many as the CPUs, at most ENC_MAX_WORKERS
 * (rpl_db_set_store_threads overrides; 0 codes on this thread). */
static int store_workers(const rpl_db_t *db) {
  if (db->store_threads >= 0) return db->store_threads;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > ENC_MAX_WORKERS ? ENC_MAX_WORKERS : (int)n;
}

/* Commits the chunks of trace tid stored so far (stored: ops in them),
 * checkpoints, and begins the next transaction. */
static int store_commit(rpl_db_t *db, int64_t tid, uint64_t stored) {
  char sql[160];
  snprintf(sql, sizeof sql,
           "UPDATE trace_store SET stored = %llu WHERE trace_id = %lld",
           (unsigned long long)stored, (long long)tid);
  if (exec(db, sql) || exec(db, "COMMIT")) return HK_E_SQLITE;
  if (db->die_after && --db->die_after == 0) raise(SIGKILL); /* tests */
  /* Passive: copies what no reader still needs and never waits; the WAL
   * is then written again from its start (and cut back to
   * journal_size_limit) by the next transaction. */
  sqlite3_wal_checkpoint_v2(db->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                            NULL);
  return exec(db, "BEGIN IMMEDIATE");
}

/* The program's ops, HK_OPCHUNK_OPS a row of trace_op_chunk (and a row per
 * op into an expanded trace_op), in one pass that also gathers what each
 * site did, with the chunks coded by workers meanwhile. Holds a ring of
 * coded chunks: the pages of the mapped program are given back as it goes
 * (ops_done). Called in a write transaction; commits every txn_chunks
 * chunks (store_commit) and returns in the transaction of the last ones,
 * which the caller ends. */
static int store_ops(rpl_db_t *db, int64_t tid, const trc_program_t *prog,
                     sites_acc_t *sa) {
  int rows = expanded(db);
  if (rows < 0) return rows;
  sqlite3_stmt *st = NULL;
  batch_t b;
  memset(&b, 0, sizeof b);
  int rc = 0;
  if (sqlite3_prepare_v2(db->db,
                         "INSERT INTO trace_op_chunk(trace_id, k0, n, "
                         "ops) VALUES (?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    rc = HK_E_SQLITE;
  if (!rc && rows &&
      batch_init(&b, db->db,
                 rows == 2 ? "INSERT INTO trace_op(trace_id, seq, kind, size, "
                             "site, thread, slot, align, flags, time_ns) VALUES"
                           : "INSERT INTO trace_op(trace_id, seq, kind, size, "
                             "site, thread, slot, align, flags) VALUES",
                 rows == 2 ? 10 : 9))
    rc = HK_E_SQLITE;
  encoder_t enc;
  if (!rc) rc = enc_start(&enc, prog, store_workers(db));
  if (rc) {
    batch_release(&b);
    sqlite3_finalize(st);
    return rc;
  }
  hk_opcodec_t *codec = NULL; /* this thread's, when there are no workers */
  hk_oprow_t *chunk = NULL;
  for (uint64_t c = 0; c < enc.nchunks && !rc; c++) {
    uint64_t k0 = c * HK_OPCHUNK_OPS;
    uint32_t n = prog->n_ops - k0 < HK_OPCHUNK_OPS
                     ? (uint32_t)(prog->n_ops - k0)
                     : HK_OPCHUNK_OPS;
    const trc_pop_t *ops = prog->ops + k0;
    for (uint32_t i = 0; i < n && !rc; i++) {
      const trc_pop_t *o = &ops[i];
      rc = sites_add(sa, o);
      if (rows && !rc) {
        int64_t row[10] = {tid, (int64_t)(k0 + i), o->op, (int64_t)o->size,
                           o->site, o->thread, o->slot,
                           o->align_log2 ? (int64_t)1 << o->align_log2 : 0,
                           o->flags, (int64_t)POP_TIME(o)};
        rc = batch_row(&b, row);
      }
    }
    hk_progress_update(db->progress, k0);
    enc_slot_t *s = rc ? NULL : enc_wait(&enc, c, &codec, &chunk, &rc);
    if (s) {
      sqlite3_bind_int64(st, 1, tid);
      sqlite3_bind_int64(st, 2, (int64_t)k0);
      sqlite3_bind_int64(st, 3, n);
      sqlite3_bind_blob(st, 4, s->blob, (int)s->len, SQLITE_STATIC);
      rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HK_E_SQLITE;
      sqlite3_reset(st);
      enc_done(&enc, c);
    }
    ops_done(prog, k0, k0 + n);
    /* Every txn_chunks chunks (but the last), commit what is stored and
     * checkpoint, so that the WAL holds one transaction's chunks. */
    if (!rc && (c + 1) % (uint64_t)db->txn_chunks == 0 &&
        c + 1 < enc.nchunks) {
      if (rows) rc = batch_flush(&b);
      if (!rc) rc = store_commit(db, tid, k0 + n);
    }
  }
  enc_stop(&enc);
  if (!rc && rows) rc = batch_flush(&b);
  batch_release(&b);
  sqlite3_finalize(st);
  free(chunk);
  hk_opcodec_free(codec);
  return rc;
}

/* ---- storing a trace in bounded transactions ---------------------------
 *
 * A trace is stored in several transactions (store_ops), so that the WAL
 * holds one transaction's chunks and not the whole trace. Until its last
 * chunks are in, the trace is a row of trace_store, not of traces: no
 * view, report, merge or lookup sees it. A session storing a trace holds
 * a lock for it: an open-file-description lock on one byte (from the
 * content hash) of the file DB-hkstore beside the database, which the
 * kernel drops when the session ends however it ends. Another session
 * wanting the same trace waits on that lock, outside any transaction,
 * and then finds the trace whole; a trace_store row whose lock it can take
 * was left by a session that died: its chunks are deleted and the trace
 * stored again. A lock file of its own, not a byte of the database:
 * closing any descriptor of the database file would drop SQLite's own
 * (process-wide POSIX) locks on it. */

/* Opens the lock file once; an in-memory or temporary database (no file
 * name) has no other session, and no lock. */
static int store_lock_open(rpl_db_t *db, char *why, size_t len) {
  if (db->lockfd != -2) return 0;
  const char *name = sqlite3_db_filename(db->db, "main");
  if (!name || !*name) {
    db->lockfd = -1;
    return 0;
  }
  char p[4096];
  if ((size_t)snprintf(p, sizeof p, "%s-hkstore", name) >= sizeof p) {
    snprintf(why, len, "storing trace: database path too long");
    return -ENAMETOOLONG;
  }
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    snprintf(why, len, "storing trace: cannot open %s: %s", p, strerror(e));
    return -e;
  }
  db->lockfd = fd;
  return 0;
}

/* Takes (wait: waits for) the lock of the trace with this hash: 0 taken,
 * 1 another session holds it (wait = 0), -errno on failure (db->err
 * says why). */
static int store_lock(rpl_db_t *db, uint64_t hash, int wait) {
  if (db->lockfd < 0) return 0;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)(hash >> 2); /* below OFF_MAX */
  fl.l_len = 1;
  if (fcntl(db->lockfd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0) return 0;
  int e = errno;
  if (!wait && (e == EAGAIN || e == EACCES)) return 1;
  snprintf(db->err, sizeof db->err, "locking %s-hkstore: %s",
           sqlite3_db_filename(db->db, "main"),
           e == EINTR ? "interrupted while another session stored the trace"
                      : strerror(e));
  return -e;
}

static void store_unlock(rpl_db_t *db, uint64_t hash) {
  if (db->lockfd < 0) return;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)(hash >> 2);
  fl.l_len = 1;
  fcntl(db->lockfd, F_OFD_SETLK, &fl);
}

/* The trace_store row of hex (its trace_id), 0 none, < 0 on failure. */
static int64_t store_pending(rpl_db_t *db, const char *hex) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db->db,
                         "SELECT trace_id FROM trace_store WHERE "
                         "content_hash = ?", -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  bind_text(st, 1, hex);
  int rc = sqlite3_step(st);
  int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0)
               : rc == SQLITE_DONE ? 0 : HK_E_SQLITE;
  sqlite3_finalize(st);
  return id;
}

/* Deletes what an unfinished store of trace tid left (its chunks, and its
 * rows in an expanded trace_op), txn_chunks chunks a transaction so the
 * WAL stays bounded here too; called in a write transaction, returns in
 * one. The trace_store row stays: the caller stores the trace again
 * under it. */
static int store_drop(rpl_db_t *db, int64_t tid) {
  int rows = expanded(db);
  if (rows < 0) return rows;
  char sql[256];
  for (;;) {
    snprintf(sql, sizeof sql,
             "DELETE FROM trace_op_chunk WHERE trace_id = %lld AND k0 IN "
             "(SELECT k0 FROM trace_op_chunk WHERE trace_id = %lld ORDER BY "
             "k0 LIMIT %d)",
             (long long)tid, (long long)tid, db->txn_chunks);
    if (exec(db, sql)) return HK_E_SQLITE;
    int n = sqlite3_changes(db->db);
    if (rows) {
      snprintf(sql, sizeof sql, "DELETE FROM trace_op WHERE trace_id = %lld",
               (long long)tid);
      if (exec(db, sql)) return HK_E_SQLITE;
    }
    if (n == 0) return 0;
    if (store_commit(db, tid, 0)) return HK_E_SQLITE;
  }
}

/* The trace's row in traces, under the trace_id reserved for it. */
static int insert_trace_row(rpl_db_t *db, int64_t id, const char *hex,
                            const char *path, const trc_program_t *prog) {
  trc_reader_t *r = NULL;
  trc_header_t h;
  memset(&h, 0, sizeof h);
  uint64_t file_bytes = 0;
  if (trc_reader_open(&r, path) == 0) {
    h = *trc_reader_header(r);
    file_bytes = trc_reader_file_size(r);
  }
  char *argv = NULL;
  if (r && (h.flags & TRC_HF_ARGV) && h.argv && h.argv_len) {
    argv = malloc(h.argv_len + 1);
    if (argv) {
      memcpy(argv, h.argv, h.argv_len);
      for (uint32_t i = 0; i < h.argv_len; i++)
        if (!argv[i]) argv[i] = ' ';
      argv[h.argv_len] = 0;
      if (h.argv_len && argv[h.argv_len - 1] == ' ') argv[h.argv_len - 1] = 0;
    }
  }
  /* The environment, one NAME=VALUE a line (values with a newline keep
   * it: the NULs are the separators, not the newlines). */
  char *env = NULL;
  if (r && (h.flags & TRC_HF_ENV) && h.env && h.env_len &&
      (env = malloc(h.env_len + 1))) {
    memcpy(env, h.env, h.env_len);
    for (uint32_t i = 0; i < h.env_len; i++)
      if (!env[i]) env[i] = '\n';
    env[h.env_len - 1] = 0;
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(
      db->db,
      "INSERT INTO traces(trace_id, content_hash, name, path, file_bytes, "
      "format_version, flags, clock, tick_hz, start_wall_ns, pid, ppid, exe, "
      "argv, depth, events, ops, threads, sites, callers, unmatched_frees, "
      "double_allocs, failed_allocs, live_at_exit, live_bytes_at_exit, "
      "peak_live_bytes, peak_live_objects, order_fixups, damaged, "
      "damage_offset, added_at, env, order_unresolved) VALUES (?,?,?,?,?,?,?,"
      "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?," NOW_SQL ", ?, ?)",
      -1, &st, NULL);
  if (rc != SQLITE_OK) {
    trc_reader_free(r);
    free(argv);
    free(env);
    return HK_E_SQLITE;
  }
  const trc_prep_stats_t *s = &prog->stats;
  int k = 1;
  sqlite3_bind_int64(st, k++, id);
  bind_text(st, k++, hex);
  bind_text(st, k++, base);
  bind_text(st, k++, path);
  sqlite3_bind_int64(st, k++, (int64_t)file_bytes);
  sqlite3_bind_int64(st, k++, h.version);
  sqlite3_bind_int64(st, k++, h.flags);
  sqlite3_bind_int64(st, k++, h.clock);
  sqlite3_bind_int64(st, k++, (int64_t)h.tick_hz);
  sqlite3_bind_int64(st, k++, (int64_t)h.start_wall_ns);
  sqlite3_bind_int64(st, k++, h.pid);
  sqlite3_bind_int64(st, k++, h.ppid);
  bind_text(st, k++, r ? h.exe : NULL);
  bind_text(st, k++, argv);
  sqlite3_bind_int64(st, k++, h.depth);
  sqlite3_bind_int64(st, k++, (int64_t)s->events);
  sqlite3_bind_int64(st, k++, (int64_t)prog->n_ops);
  sqlite3_bind_int64(st, k++, s->threads);
  sqlite3_bind_int64(st, k++, s->sites);
  sqlite3_bind_int64(st, k++, s->callers);
  sqlite3_bind_int64(st, k++, (int64_t)s->unmatched_frees);
  sqlite3_bind_int64(st, k++, (int64_t)s->double_allocs);
  sqlite3_bind_int64(st, k++, (int64_t)s->failed_allocs);
  sqlite3_bind_int64(st, k++, (int64_t)s->live_at_exit);
  sqlite3_bind_int64(st, k++, (int64_t)s->live_bytes_at_exit);
  sqlite3_bind_int64(st, k++, (int64_t)s->peak_live_bytes);
  sqlite3_bind_int64(st, k++, (int64_t)s->peak_live_objects);
  sqlite3_bind_int64(st, k++, (int64_t)s->order_fixups);
  sqlite3_bind_int64(st, k++, s->damaged);
  sqlite3_bind_int64(st, k++, (int64_t)s->damage_offset);
  bind_text(st, k++, env);
  sqlite3_bind_int64(st, k++, (int64_t)s->order_unresolved);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  trc_reader_free(r);
  free(argv);
  free(env);
  return rc == SQLITE_DONE ? 0 : HK_E_SQLITE;
}

/* Claims the store of the trace hex (hash): 0 with *tid reserved in
 * trace_store and the lock held; 1 with *tid when the trace is in
 * traces (stored before, or by another session meanwhile). */
static int store_claim(rpl_db_t *db, const char *hex, uint64_t hash,
                       int64_t *tid) {
  for (;;) {
    if (exec(db, "BEGIN IMMEDIATE")) return HK_E_SQLITE;
    int rc = find_trace(db, hex, tid);
    if (rc) {
      if (rc == 1 && exec(db, "COMMIT")) rc = HK_E_SQLITE;
      if (rc < 0) rollback_keep(db);
      return rc;
    }
    rc = store_lock(db, hash, 0);
    if (rc == 1) {
      /* Another session is storing it: wait for its end outside any
       * transaction, then look again. */
      if (exec(db, "COMMIT")) {
        rollback_keep(db);
        return HK_E_SQLITE;
      }
      if ((rc = store_lock(db, hash, 1)) != 0) return rc;
      store_unlock(db, hash);
      continue;
    }
    if (rc) {
      exec(db, "ROLLBACK");
      return rc;
    }
    /* The lock is ours: a pending row is a store that died. */
    int64_t id = store_pending(db, hex);
    if (id > 0) {
      rc = store_drop(db, id);
    } else if (id == 0) {
      sqlite3_stmt *st;
      rc = sqlite3_prepare_v2(
          db->db,
          "INSERT INTO trace_store(trace_id, content_hash, ops, stored, host,"
          " pid, started_at) VALUES (1 + MAX(COALESCE((SELECT MAX(trace_id) "
          "FROM traces), 0), COALESCE((SELECT MAX(trace_id) FROM "
          "trace_store), 0)), ?, 0, 0, ?, ?, " NOW_SQL ")",
          -1, &st, NULL);
      if (rc == SQLITE_OK) {
        bind_text(st, 1, hex);
        bind_text(st, 2, db->host);
        sqlite3_bind_int64(st, 3, (int64_t)getpid());
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HK_E_SQLITE;
        sqlite3_finalize(st);
      }
      if (!rc) id = sqlite3_last_insert_rowid(db->db);
    } else {
      rc = HK_E_SQLITE;
    }
    if (!rc) { /* a store taken over: now this session's */
      sqlite3_stmt *st;
      rc = sqlite3_prepare_v2(db->db,
                              "UPDATE trace_store SET stored = 0, host = ?, "
                              "pid = ?, started_at = " NOW_SQL
                              " WHERE trace_id = ?",
                              -1, &st, NULL);
      if (rc == SQLITE_OK) {
        bind_text(st, 1, db->host);
        sqlite3_bind_int64(st, 2, (int64_t)getpid());
        sqlite3_bind_int64(st, 3, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HK_E_SQLITE;
        sqlite3_finalize(st);
      }
    }
    if (!rc) rc = exec(db, "COMMIT");
    if (rc) {
      rollback_keep(db);
      store_unlock(db, hash);
      return HK_E_SQLITE;
    }
    /* The session's first writes (the claim, the schema's views) are not
     * left in the WAL under the first chunks. */
    sqlite3_wal_checkpoint_v2(db->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                              NULL);
    *tid = id;
    return 0;
  }
}

int rpl_db_trace(rpl_db_t *db, const char *path, uint64_t hash,
                 const trc_program_t *prog, int64_t *trace_id, char *why,
                 size_t len) {
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
  db->err[0] = 0;
  int rc = store_lock_open(db, why, len);
  if (rc) return rc;
  int64_t id = 0;
  rc = store_claim(db, hex, hash, &id);
  if (rc == 1) {
    *trace_id = id;
    return 0;
  }
  if (rc) {
    snprintf(why, len, "storing trace: %s", rpl_db_errmsg(db));
    return rc;
  }
  /* The ops, in transactions of txn_chunks chunks; then, in the last one,
   * the trace's row and side tables, and the claim is deleted. */
  sites_acc_t sa = {NULL, 0, 0, 0};
  char sql[160];
  snprintf(sql, sizeof sql,
           "UPDATE trace_store SET ops = %llu WHERE trace_id = %lld",
           (unsigned long long)prog->n_ops, (long long)id);
  rc = exec(db, "BEGIN IMMEDIATE");
  if (!rc) rc = exec(db, sql);
  if (!rc) rc = store_ops(db, id, prog, &sa);
  if (!rc) rc = insert_trace_row(db, id, hex, path, prog);
  /* A side table that could not be read (damage) is not fatal: prepare
   * already recorded how far the trace is readable. */
  if (!rc && store_side_tables(db, path, id, &sa) == HK_E_SQLITE)
    rc = HK_E_SQLITE;
  free(sa.acc);
  snprintf(sql, sizeof sql, "DELETE FROM trace_store WHERE trace_id = %lld",
           (long long)id);
  if (!rc) rc = exec(db, sql);
  if (!rc) rc = exec(db, "COMMIT");
  if (rc) {
    rollback_keep(db);
    snprintf(why, len, "storing trace: %s", rpl_db_errmsg(db));
    /* What was committed is deleted now, or by the next session that
     * stores the trace, which finds the claim and its lock free. */
    if (exec(db, "BEGIN IMMEDIATE") == 0) {
      if (store_drop(db, id) == 0 && exec(db, sql) == 0 &&
          exec(db, "COMMIT") == 0) {
      } else {
        exec(db, "ROLLBACK");
      }
    }
    store_unlock(db, hash);
    return rc == HK_E_NOMEM ? rc : HK_E_SQLITE;
  }
  store_unlock(db, hash);
  *trace_id = id;
  /* The last transaction's chunks: checkpointed now rather than at the
   * session's next write. */
  sqlite3_wal_checkpoint_v2(db->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                            NULL);
  return 0;
}

/* ---- runs ------------------------------------------------------------- */

/* Runs of one configuration, whose repeat numbers must differ. */
#define RUN_CONFIG                                                             \
  "trace_id = ?1 AND backend = ?2 AND policy IS ?3 AND seed = ?4 AND "         \
  "touch = ?6 AND per_op = ?7"

int rpl_db_run_begin(rpl_db_t *db, const rpl_run_info_t *ri, int64_t *run_id) {
  db->err[0] = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(
          db->db,
          /* The repeat number asked for, unless a run of the same
           * configuration has it (another session replaying the same
           * trace into this database): then the next free one. One
           * statement, so one write transaction: no two sessions get the
           * same number. */
          "INSERT INTO runs(trace_id, backend, policy, seed, repeat, touch, "
          "per_op, options, hakmem_config, status, started_at, host, shard, "
          "run_uuid, load_avg, cpus, warning) "
          "SELECT ?1, ?2, ?3, ?4, CASE WHEN EXISTS (SELECT 1 FROM runs "
          "WHERE " RUN_CONFIG " AND repeat = ?5) THEN (SELECT MAX(repeat) + 1 "
          "FROM runs WHERE " RUN_CONFIG ") ELSE ?5 END, ?6, ?7, ?8, ?9, "
          "'running', " NOW_SQL ", ?10, ?11, lower(hex(randomblob(16))), "
          "?12, ?13, ?14",
          -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  sqlite3_bind_int64(st, 1, ri->trace_id);
  bind_text(st, 2, ri->backend);
  bind_text(st, 3, ri->policy);
  sqlite3_bind_int64(st, 4, (int64_t)ri->seed);
  sqlite3_bind_int64(st, 5, ri->repeat);
  bind_text(st, 6, ri->touch);
  bind_text(st, 7, ri->per_op);
  bind_text(st, 8, ri->options);
  bind_text(st, 9, ri->overrides);
  bind_text(st, 10, db->host);
  bind_text(st, 11, ri->shard);
  if (ri->load_avg >= 0)
    sqlite3_bind_double(st, 12, ri->load_avg);
  else
    sqlite3_bind_null(st, 12);
  if (ri->cpus > 0)
    sqlite3_bind_int64(st, 13, ri->cpus);
  else
    sqlite3_bind_null(st, 13);
  bind_text(st, 14, ri->warning);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return HK_E_SQLITE;
  *run_id = sqlite3_last_insert_rowid(db->db);
  return 0;
}

int64_t rpl_db_next_repeat(rpl_db_t *db, const rpl_run_info_t *ri) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db->db,
                         "SELECT COALESCE(MAX(repeat) + 1, 0) FROM runs WHERE "
                         "trace_id=? AND backend=? AND policy IS ? AND seed=? "
                         "AND touch=? AND per_op=?",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  sqlite3_bind_int64(st, 1, ri->trace_id);
  bind_text(st, 2, ri->backend);
  bind_text(st, 3, ri->policy);
  sqlite3_bind_int64(st, 4, (int64_t)ri->seed);
  bind_text(st, 5, ri->touch);
  bind_text(st, 6, ri->per_op);
  int64_t next = HK_E_SQLITE;
  if (sqlite3_step(st) == SQLITE_ROW) next = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return next;
}

int rpl_db_run_fail(rpl_db_t *db, int64_t run_id, const char *error) {
  db->err[0] = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db->db,
                         "UPDATE runs SET status='failed', error=?, "
                         "finished_at=" NOW_SQL " WHERE run_id=?",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  bind_text(st, 1, error);
  sqlite3_bind_int64(st, 2, run_id);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : HK_E_SQLITE;
}

static void bind_u64_or_null(sqlite3_stmt *st, int i, int have, uint64_t v) {
  if (have)
    sqlite3_bind_int64(st, i, (int64_t)v);
  else
    sqlite3_bind_null(st, i);
}

/* Per-op latencies as run_op_chunk rows (schema.sql): RPL_OP_CHUNK values
 * a row, as a JSON array, null where an op was not timed. */
#define RPL_OP_CHUNK 4096

static int store_latencies(rpl_db_t *db, int64_t run_id, const rpl_result_t *res) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->db,
                         "INSERT INTO run_op_chunk(run_id, k0, every, latencies) "
                         "VALUES (?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  /* Room for "[" + 4096 x (10 digits + ",") + "]". */
  char *buf = malloc(RPL_OP_CHUNK * 11 + 3);
  int rc = buf ? 0 : HK_E_NOMEM;
  uint64_t every = res->sample_every ? res->sample_every : 1;
  for (uint64_t k0 = 0; k0 < res->n_lat && !rc; k0 += RPL_OP_CHUNK) {
    uint64_t k1 = k0 + RPL_OP_CHUNK < res->n_lat ? k0 + RPL_OP_CHUNK : res->n_lat;
    char *p = buf;
    *p++ = '[';
    for (uint64_t k = k0; k < k1; k++) {
      if (k > k0) *p++ = ',';
      uint32_t v = res->lat[k];
      if (v == RPL_LAT_NONE) {
        memcpy(p, "null", 4);
        p += 4;
        continue;
      }
      char tmp[10];
      int n = 0;
      do tmp[n++] = (char)('0' + v % 10); while ((v /= 10));
      while (n) *p++ = tmp[--n];
    }
    *p++ = ']';
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, (int64_t)k0);
    sqlite3_bind_int64(st, 3, (int64_t)every);
    sqlite3_bind_text(st, 4, buf, (int)(p - buf), SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HK_E_SQLITE;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  free(buf);
  return rc;
}

/* Span modes (--per-op batch:K, iteration): one run_span row a span, its
 * first op, how many ops, its ns (rpl_result_t.lat's span encoding). */
static int store_spans(rpl_db_t *db, int64_t run_id, const rpl_result_t *res) {
  batch_t b;
  memset(&b, 0, sizeof b);
  int rc = batch_init(&b, db->db,
                      "INSERT INTO run_span(run_id, seq, ops, ns) VALUES", 4);
  for (uint64_t k = 0; k < res->n_lat && !rc; k++) {
    uint32_t v = res->lat[k];
    if (v == RPL_LAT_NONE || v == RPL_LAT_SPAN) continue;
    uint64_t m = 1;
    while (k + m < res->n_lat && res->lat[k + m] == RPL_LAT_SPAN) m++;
    int64_t row[4] = {run_id, (int64_t)k, (int64_t)m, (int64_t)v};
    rc = batch_row(&b, row);
  }
  if (!rc) rc = batch_flush(&b);
  batch_release(&b);
  return rc;
}

int rpl_db_run_finish(rpl_db_t *db, int64_t run_id, const rpl_result_t *res) {
  db->err[0] = 0;
  if (exec(db, "BEGIN IMMEDIATE")) return HK_E_SQLITE;
  int rc = 0;
  batch_t b;
  memset(&b, 0, sizeof b);
  if (res->status == 0 && res->n_lat)
    rc = res->span ? store_spans(db, run_id, res)
                   : store_latencies(db, run_id, res);
  if (!rc && res->status == 0 && res->n_rss) {
    rc = batch_init(&b, db->db,
                    "INSERT OR REPLACE INTO rss_timeline(run_id, op_seq, "
                    "rss_bytes, live_bytes) VALUES",
                    4);
    for (uint64_t k = 0; k < res->n_rss && !rc; k++) {
      int64_t row[4] = {run_id, (int64_t)res->rss[k].op_seq,
                        (int64_t)res->rss[k].rss_bytes,
                        (int64_t)res->rss[k].live_bytes};
      rc = batch_row(&b, row);
    }
    if (!rc) rc = batch_flush(&b);
    batch_release(&b);
  }
  sqlite3_stmt *st = NULL;
  if (!rc && res->n_pol) {
    if (sqlite3_prepare_v2(db->db,
                           "INSERT INTO policy_events(run_id, op_seq, arm, "
                           "metric, value) VALUES (?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
      rc = HK_E_SQLITE;
    for (uint64_t k = 0; k < res->n_pol && !rc; k++) {
      const rpl_pol_row_t *p = &res->pol[k];
      sqlite3_bind_int64(st, 1, run_id);
      sqlite3_bind_int64(st, 2, (int64_t)p->op_seq);
      char *end;
      long arm = strtol(p->arm, &end, 10);
      if (p->arm[0] && !*end && arm >= 0)
        sqlite3_bind_int64(st, 3, arm);
      else
        sqlite3_bind_null(st, 3);
      bind_text(st, 4, p->metric);
      sqlite3_bind_double(st, 5, p->value);
      rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HK_E_SQLITE;
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  if (!rc && res->n_sites) {
    if (sqlite3_prepare_v2(db->db,
                           "INSERT INTO run_site(run_id, site, allocs, "
                           "cache_hits, cache_misses) VALUES (?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
      rc = HK_E_SQLITE;
    for (uint64_t k = 0; k < res->n_sites && !rc; k++) {
      const rpl_site_row_t *r = &res->sites[k];
      sqlite3_bind_int64(st, 1, run_id);
      sqlite3_bind_int64(st, 2, r->site);
      sqlite3_bind_int64(st, 3, (int64_t)r->allocs);
      sqlite3_bind_int64(st, 4, (int64_t)r->hits);
      sqlite3_bind_int64(st, 5, (int64_t)r->misses);
      rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HK_E_SQLITE;
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  if (!rc && res->n_threads) {
    if (sqlite3_prepare_v2(db->db,
                           "INSERT INTO run_thread(run_id, thread, ops, "
                           "alloc_failures, edges, blocked, wall_ns, digest) "
                           "VALUES (?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
      rc = HK_E_SQLITE;
    int threaded = res->replay_threads > 1;
    for (uint64_t k = 0; k < res->n_threads && !rc; k++) {
      const rpl_thread_row_t *r = &res->threads[k];
      sqlite3_bind_int64(st, 1, run_id);
      sqlite3_bind_int64(st, 2, r->thread);
      sqlite3_bind_int64(st, 3, (int64_t)r->ops);
      sqlite3_bind_int64(st, 4, (int64_t)r->alloc_failures);
      bind_u64_or_null(st, 5, threaded, r->edges);
      bind_u64_or_null(st, 6, threaded, r->blocked);
      bind_u64_or_null(st, 7, threaded, r->ns);
      bind_text(st, 8, r->digest);
      rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HK_E_SQLITE;
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  if (!rc &&
      sqlite3_prepare_v2(
          db->db,
          "UPDATE runs SET status=?, error=?, finished_at=" NOW_SQL ", "
          "hakmem_config=COALESCE(?, hakmem_config), cost_model=?, "
          "backend_version=?, timer_method=?, timer_overhead_ticks=?, "
          "tsc_hz=?, ops=?, ops_timed=?, alloc_failures=?, total_ns=?, "
          "median_ns=?, p95_ns=?, p99_ns=?, mean_ns=?, max_ns=?, "
          "syscall_method=?, mmap_calls=?, munmap_calls=?, madvise_calls=?, "
          "mremap_calls=?, brk_calls=?, minor_faults=?, major_faults=?, "
          "base_rss_bytes=?, peak_rss_bytes=?, peak_live_bytes=?, "
          "peak_live_objects=?, fragmentation=?, cache_hits=?, "
          "cache_misses=?, digest=?, replay_threads=?, model_ns=?, "
          "model_page_faults=?, model_syscalls=?, calibration=?, "
          "timer_resolution_ns=?, peak_rss_gross_bytes=?, spans=?, "
          "arms_distinguishable=?, loop_cpu_ns=? WHERE run_id=?",
          -1, &st, NULL) != SQLITE_OK)
    rc = HK_E_SQLITE;
  if (!rc) {
    int k = 1, ok = res->status == 0, timed = ok && res->timed > 0;
    int sys = ok && res->sys_method != RPL_SYS_NONE;
    int tp = ok && res->sys_method == RPL_SYS_TRACEPOINT;
    bind_text(st, k++, ok ? "done" : "failed");
    bind_text(st, k++, ok ? NULL : res->error);
    bind_text(st, k++, res->be.config[0] ? res->be.config : NULL);
    bind_text(st, k++, res->be.cost_model[0] ? res->be.cost_model : NULL);
    bind_text(st, k++, res->be.version[0] ? res->be.version : NULL);
    bind_text(st, k++, res->timer_method);
    sqlite3_bind_double(st, k++, res->timer_overhead_ticks);
    sqlite3_bind_int64(st, k++, (int64_t)res->tsc_hz);
    bind_u64_or_null(st, k++, ok, res->ops);
    bind_u64_or_null(st, k++, ok, res->timed);
    bind_u64_or_null(st, k++, ok, res->alloc_failures);
    bind_u64_or_null(st, k++, ok, res->total_ns);
    double q[5] = {res->median_ns, res->p95_ns, res->p99_ns, res->mean_ns,
                   res->max_ns};
    for (int i = 0; i < 5; i++)
      if (timed)
        sqlite3_bind_double(st, k++, q[i]);
      else
        sqlite3_bind_null(st, k++);
    bind_text(st, k++, ok ? rpl_sys_method_name(res->sys_method) : NULL);
    bind_u64_or_null(st, k++, sys, res->mmap_calls);
    bind_u64_or_null(st, k++, sys, res->munmap_calls);
    bind_u64_or_null(st, k++, sys, res->madvise_calls);
    bind_u64_or_null(st, k++, tp, res->mremap_calls);
    bind_u64_or_null(st, k++, tp, res->brk_calls);
    bind_u64_or_null(st, k++, ok, res->minor_faults);
    bind_u64_or_null(st, k++, ok, res->major_faults);
    bind_u64_or_null(st, k++, ok && res->base_rss_bytes, res->base_rss_bytes);
    bind_u64_or_null(st, k++, ok && res->peak_rss_gross_bytes,
                     res->peak_rss_bytes);
    bind_u64_or_null(st, k++, ok, res->peak_live_bytes);
    bind_u64_or_null(st, k++, ok, res->peak_live_objects);
    if (ok && res->peak_live_bytes && res->peak_rss_gross_bytes)
      sqlite3_bind_double(st, k++,
                          (double)res->peak_rss_bytes /
                              (double)res->peak_live_bytes);
    else
      sqlite3_bind_null(st, k++);
    bind_u64_or_null(st, k++, ok && res->be.have_cache, res->be.cache_hits);
    bind_u64_or_null(st, k++, ok && res->be.have_cache, res->be.cache_misses);
    bind_text(st, k++, ok ? res->digest : NULL);
    bind_u64_or_null(st, k++, ok, res->replay_threads ? res->replay_threads : 1);
    if (ok && res->be.have_model)
      sqlite3_bind_double(st, k++, res->be.model_ns);
    else
      sqlite3_bind_null(st, k++);
    bind_u64_or_null(st, k++, ok && res->be.have_model, res->be.model_page_faults);
    bind_u64_or_null(st, k++, ok && res->be.have_model, res->be.model_syscalls);
    bind_text(st, k++, res->be.have_model ? res->be.calibration : NULL);
    if (res->timer_resolution_ns > 0)
      sqlite3_bind_double(st, k++, res->timer_resolution_ns);
    else
      sqlite3_bind_null(st, k++);
    bind_u64_or_null(st, k++, ok && res->peak_rss_gross_bytes,
                     res->peak_rss_gross_bytes);
    bind_u64_or_null(st, k++, ok && res->span, res->spans);
    bind_u64_or_null(st, k++,
                     ok && res->be.have_model && res->be.arms_distinguishable >= 0,
                     (uint64_t)res->be.arms_distinguishable);
    bind_u64_or_null(st, k++, ok && res->cpu_ns, res->cpu_ns);
    sqlite3_bind_int64(st, k++, run_id);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : HK_E_SQLITE;
    sqlite3_finalize(st);
  }
  if (rc || exec(db, "COMMIT")) {
    rollback_keep(db);
    return HK_E_SQLITE;
  }
  return 0;
}

/* The host name runs are stamped with (rpl_live.c stamps live runs). */
const char *rpl_db_host(const rpl_db_t *db) { return db->host; }
