/* trc_writer.c: the streaming trace writer, used by the recorder (from
 * inside a preloaded malloc interposer) and by `hksim gen`. Events are coded
 * into per-thread column buffers as they arrive; a full buffer becomes one
 * EVENTS chunk, zstd-compressed and written with write(2). No stdio: the
 * recorder calls this while the program's stdio may be in any state. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "trc.h"
#include "trc_internal.h"

/* Column buffers of an EVENTS chunk, in payload order. */
enum { COL_OPS, COL_TIMES, COL_SITES, COL_PTRS, COL_SIZES, COL_EXTRAS, NCOL };
/* Pending side tables, in the order they are written. */
enum { TAB_SITES, TAB_MODULES, TAB_THREADS, NTAB };
static const uint8_t tab_kind[NTAB] = {TRC_CHUNK_SITES, TRC_CHUNK_MODULES,
                                       TRC_CHUNK_THREADS};

/* One thread's chunk being filled. The coding state restarts with every
 * chunk so that each chunk decodes alone. */
#define EXACT_BITS 16 /* buckets of the exact-pointer index */
#define NEAR_BITS 12  /* buckets of the region index */
typedef struct tstate {
  trc_buf_t col[NCOL];
  uint32_t n;
  int fast;             /* this chunk is coded fast (pm.prev only): 1, or
                           2 stored uncompressed (trc_writer_set_pressure) */
  int indexed;          /* the ring, class stacks and indexes hold entries
                           (a full-coded chunk since the last reset) */
  uint64_t chunk_time;  /* time of the last event in this chunk (or 0) */
  uint64_t thread_time; /* time of the last event accepted for the thread */
  uint64_t stamp_time;  /* time of the thread's last event without
                           TRC_EV_EST (kept across chunks) */
  trc_size_cache_t sizes;
  uint32_t last_site[TRC_OP_COUNT]; /* site of the last event of each op */
  trc_pmodel_t pm;
  /* Encoder-only indexes into the ring (the format does not know them):
   * seq after the last insertion of a pointer hashing to a bucket, and of
   * the last insertion in the same 64 KiB region. They replace a scan of
   * the whole ring with two probes. */
  uint32_t exact_pos[1u << EXACT_BITS];
  uint32_t region_pos[1u << NEAR_BITS];
} tstate_t;

typedef struct table {
  trc_buf_t b; /* entries; the count is prefixed when written */
  uint64_t n;
  uint64_t prev0; /* SITES: frame 0 of the previous site of this chunk */
} table_t;

struct trc_writer_s {
  pthread_mutex_t mu;
  int fd;
  /* Guarded fd (opts.reopen_path): the file it must be, and how often it
   * was found to be something else. */
  char *path;
  dev_t dev;
  ino_t ino;
  uint64_t reopened;
  /* The fd gate (trc_writer_gate_*): fdmu is held around each check and
   * write of the fd and by whoever changes w->fd; a change also raises
   * fd_changing and waits until no gate user is on its lock-free path
   * (fd_users), so those users see fd_pub (= w->fd) stand still. */
  pthread_mutex_t fdmu;
  _Atomic int fd_pub;
  _Atomic int fd_changing;
  _Atomic int fd_users;
  int err; /* sticky: the first error met */
  int finished;
  int level;
  int fast_level;       /* zstd level of fast chunks, or TRC_LEVEL_NONE */
  int pressure;         /* trc_writer_set_pressure: new chunks start fast */
  uint64_t chunks_fast, events_fast;
  uint64_t chunks_stored, events_stored; /* fast chunks stored (pressure 2) */
  uint32_t chunk_events;
  trc_size_cache_t sizes_saved; /* events_fast_checked's copy */
  XXH3_state_t *xxh;    /* write_stored's checksum, made at first use */
  ZSTD_CCtx *cctx;
  tstate_t **th;
  uint32_t nth;
  table_t tab[NTAB];
  trc_buf_t raw, out; /* scratch: payload being assembled, chunk written */
  uint64_t events, bytes, chunks, failed;
  uint64_t counts[TRC_OP_COUNT];
  uint32_t n_threads, n_sites, n_modules;
  uint8_t *thread_seen; /* by index: defined already (n_threads counts */
  uint32_t seen_cap;    /* each thread once, whatever its entries) */
};

int trc_writer_high_fd(void) {
  struct rlimit rl;
  long lim = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    lim = (long)rl.rlim_cur;
  /* A huge limit would make the kernel grow the fd table to the number. */
  if (lim > 65536) lim = 65536;
  return lim > 128 ? (int)(lim - 64) : (int)(lim / 2);
}

/* Moves fd to a high number, close-on-exec; returns the new fd, or fd
 * itself when no high number is free. */
static int move_high(int fd) {
  int lo = trc_writer_high_fd();
  if (fd >= lo) return fd;
  int h = fcntl(fd, F_DUPFD_CLOEXEC, lo);
  if (h < 0) return fd;
  close(fd);
  return h;
}

/* A change of w->fd (fdmu held): gate users on their lock-free path are
 * waited out (they are inside one close or dup call), later ones take
 * fdmu. seq_cst on both sides: either a user sees fd_changing or the
 * changer sees the user. */
static void change_begin(trc_writer_t *w) {
  atomic_store(&w->fd_changing, 1);
  while (atomic_load(&w->fd_users)) {
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL); /* async-signal-safe: a last-gasp flush gets here */
  }
}
static void change_end(trc_writer_t *w) {
  atomic_store(&w->fd_pub, w->fd);
  atomic_store(&w->fd_changing, 0);
}

/* Is w->fd still the file it was opened on? */
static int fd_is_ours(const trc_writer_t *w) {
  struct stat st;
  return w->fd >= 0 && fstat(w->fd, &st) == 0 && st.st_dev == w->dev &&
         st.st_ino == w->ino;
}

/* Before every write of a guarded writer: when the program closed the fd,
 * or the number now names one of its own files (dup2, or a close and an
 * open that got the number back), reopen the trace by path for appending.
 * The number is left alone: it is the program's now. Nothing written is
 * lost, as the check comes before each write; only a close between this
 * check and the write (another thread of the program) can still hit it. */
static int guard_fd(trc_writer_t *w) {
  if (!w->path || fd_is_ours(w)) return 0;
  change_begin(w); /* the open's low number must not meet a hooked close */
  int rc = 0, fd = open(w->path, O_WRONLY | O_APPEND | O_CLOEXEC);
  struct stat st;
  if (fd < 0) {
    rc = -errno;
  } else if (fstat(fd, &st) || st.st_dev != w->dev || st.st_ino != w->ino) {
    close(fd); /* the path names another file now: do not write there */
    rc = -ESTALE;
  } else {
    w->fd = move_high(fd);
    w->reopened++;
  }
  change_end(w);
  return rc;
}

/* Writes all of p through the writer's fd, checked first by guard_fd. A
 * close by another thread of the program between the check and the write
 * (EBADF; it cut a trace of rec_hostile_closefds_chunk once in CI) sends
 * it back to the check, which reopens the trace, and the write goes on
 * with what is left. What no check can catch: the number closed and taken
 * again by one of the program's own opens within that window; as open
 * returns the lowest free number and ours sits 64 below the fd limit, that
 * needs the program to hold nearly every fd it may have. */
static int write_checked(trc_writer_t *w, struct iovec *iov, int cnt) {
  while (cnt && !iov->iov_len) iov++, cnt--;
  for (int tries = 0;; tries++) {
    int rc = guard_fd(w);
    if (rc) return rc;
    while (cnt) {
      ssize_t k = writev(w->fd, iov, cnt);
      if (k < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (k == 0) return -EIO;
      size_t done = (size_t)k;
      while (cnt && done >= iov->iov_len) { /* pieces written whole */
        done -= iov->iov_len;
        iov++, cnt--;
      }
      if (cnt) { /* and part of the next */
        iov->iov_base = (uint8_t *)iov->iov_base + done;
        iov->iov_len -= done;
      }
    }
    if (!cnt) return 0;
    if (errno != EBADF || !w->path || tries == 8) return -errno;
  }
}
/* The check and the write under fdmu: a recorder's dup2 hook that moves
 * the trace off a number (trc_writer_gate_vacate) waits for the write, so
 * the number checked is the number written to. The pieces of iov (which
 * it consumes) are written one after the other. */
static int guarded_writev(trc_writer_t *w, struct iovec *iov, int cnt) {
  pthread_mutex_lock(&w->fdmu);
  int rc = write_checked(w, iov, cnt);
  pthread_mutex_unlock(&w->fdmu);
  return rc;
}
static int guarded_write(trc_writer_t *w, const uint8_t *p, size_t n) {
  struct iovec iov = {(void *)p, n};
  return guarded_writev(w, &iov, 1);
}

/* Closes the fd if it is still the writer's (a guarded fd's number may
 * belong to the program by now). */
static int close_fd(trc_writer_t *w) {
  int rc = 0;
  if (w->fd >= 0 && (!w->path || fd_is_ours(w)))
    rc = close(w->fd) && errno != EINTR ? -errno : 0;
  w->fd = -1;
  return rc;
}
/* Same, through the gate (the number is free for the program after). */
static int close_fd_gated(trc_writer_t *w) {
  pthread_mutex_lock(&w->fdmu);
  change_begin(w);
  int rc = close_fd(w);
  change_end(w);
  pthread_mutex_unlock(&w->fdmu);
  return rc;
}

static int fail(trc_writer_t *w, int err) {
  if (!w->err) __atomic_store_n(&w->err, err, __ATOMIC_RELAXED);
  return w->err;
}

/* The pieces of raw that write_chunk compresses apart: [0, cuts[0]),
 * [cuts[0], cuts[1]), ..., [cuts[ncuts - 1], raw_len). */
static size_t piece_end(const size_t *cuts, int ncuts, int i, size_t raw_len) {
  return i < ncuts ? cuts[i] : raw_len;
}

/* A chunk header's fields but the checksum, which covers them. */
static void put_chunk_header(uint8_t *h, uint8_t kind, uint8_t codec,
                             size_t stored, size_t raw_len) {
  trc_put32(h + TRC_CH_MAGIC, TRC_CHUNK_MAGIC);
  h[TRC_CH_KIND] = kind;
  h[TRC_CH_CODEC] = codec;
  trc_put16(h + TRC_CH_RESERVED, 0);
  trc_put32(h + TRC_CH_STORED, (uint32_t)stored);
  trc_put32(h + TRC_CH_RAW, (uint32_t)raw_len);
}

/* Compresses raw and writes one chunk of the given kind. Each piece (see
 * piece_end) becomes a zstd frame of its own, laid end to end: a reader's
 * one decompression call reads them all as one payload. Cut at column
 * boundaries, every column is coded with entropy tables of its own (the
 * threaded stress 3.94 -> 3.84 bytes/event, sqlite3 1.09 -> 1.05, python3
 * 0.60 -> 0.59), and zstd sizes its tables to the column. */
static int write_chunk(trc_writer_t *w, uint8_t kind, const uint8_t *raw,
                       size_t raw_len, const size_t *cuts, int ncuts,
                       int level) {
  if (w->err) return w->err;
  if (level == TRC_LEVEL_NONE) ncuts = 0; /* stored as is: no frames */
  size_t bound = 0;
  for (int i = 0; i <= ncuts; i++)
    bound += ZSTD_compressBound(piece_end(cuts, ncuts, i, raw_len) -
                                (i ? cuts[i - 1] : 0));
  w->out.len = 0;
  if (trc_buf_reserve(&w->out, TRC_CHUNK_HDR_SIZE + bound))
    return fail(w, HK_E_NOMEM);
  uint8_t *h = w->out.p, *pay = h + TRC_CHUNK_HDR_SIZE;
  uint8_t codec = TRC_CODEC_ZSTD;
  size_t stored = 0, from = 0;
  for (int i = 0; i <= ncuts && level != TRC_LEVEL_NONE; i++) {
    size_t to = piece_end(cuts, ncuts, i, raw_len);
    size_t k = ZSTD_compressCCtx(w->cctx, pay + stored, bound - stored,
                                 raw + from, to - from, level);
    if (ZSTD_isError(k)) return fail(w, HK_E_COMPRESS);
    stored += k;
    from = to;
  }
  if (level == TRC_LEVEL_NONE || stored >= raw_len) {
    /* incompressible, or asked not to compress: store it as it is */
    codec = TRC_CODEC_RAW;
    memcpy(pay, raw, raw_len);
    stored = raw_len;
  }
  put_chunk_header(h, kind, codec, stored, raw_len);
  trc_put64(h + TRC_CH_CHECKSUM, trc_chunk_checksum(h, pay, stored));
  int rc = guarded_write(w, h, TRC_CHUNK_HDR_SIZE + stored);
  if (rc) return fail(w, rc);
  __atomic_add_fetch(&w->bytes, TRC_CHUNK_HDR_SIZE + stored, __ATOMIC_RELAXED);
  w->chunks++;
  return 0;
}

/* Writes a pending table as one chunk: varint count, then its entries. */
static int flush_table(trc_writer_t *w, int t) {
  table_t *tb = &w->tab[t];
  if (!tb->n) return w->err;
  w->raw.len = 0;
  if (trc_buf_reserve(&w->raw, HK_VARINT_MAX + tb->b.len))
    return fail(w, HK_E_NOMEM);
  trc_buf_varint(&w->raw, tb->n);
  memcpy(w->raw.p + w->raw.len, tb->b.p, tb->b.len);
  w->raw.len += tb->b.len;
  int rc = write_chunk(w, tab_kind[t], w->raw.p, w->raw.len, NULL, 0, w->level);
  tb->b.len = 0;
  tb->n = 0;
  tb->prev0 = 0;
  return rc;
}

static int flush_tables(trc_writer_t *w) {
  for (int t = 0; t < NTAB; t++) {
    int rc = flush_table(w, t);
    if (rc) return rc;
  }
  return 0;
}

static void tstate_reset(tstate_t *t) {
  for (int c = 0; c < NCOL; c++) t->col[c].len = 0;
  t->n = 0;
  t->fast = 0;
  t->chunk_time = 0;
  memset(&t->sizes, 0, sizeof t->sizes);
  memset(t->last_site, 0, sizeof t->last_site);
  /* A fast chunk touches none of the 460 KiB of ring, stacks and indexes:
   * after one they are still clear (callgrind, the small-block program's
   * stream coded fast: memset 7.7 -> 1.1 instructions an event). */
  if (t->indexed) {
    trc_pm_reset(&t->pm, TRC_VERSION);
    memset(t->exact_pos, 0, sizeof t->exact_pos);
    memset(t->region_pos, 0, sizeof t->region_pos);
  }
  t->pm.prev = 0;
  t->indexed = 0;
}

/* Writes t's chunk stored uncompressed, as write_chunk does at
 * TRC_LEVEL_NONE, with no copy: the header and the payload's prefix
 * (thread, count) then each column straight from its buffer, in one
 * writev, the checksum hashed over the pieces. Two copies of the payload
 * (columns into raw, raw into out) were 11% of the writer's samples on the
 * small-block program with every chunk stored. */
static int write_stored(trc_writer_t *w, tstate_t *t, uint32_t idx) {
  if (w->err) return w->err;
  if (!w->xxh && !(w->xxh = XXH3_createState())) return fail(w, HK_E_NOMEM);
  uint8_t h[TRC_CHUNK_HDR_SIZE + 2 * HK_VARINT_MAX];
  uint8_t *pre = h + TRC_CHUNK_HDR_SIZE;
  size_t np = hk_varint_put(pre, idx);
  np += hk_varint_put(pre + np, t->n);
  size_t raw_len = np;
  for (int c = 0; c < NCOL; c++) raw_len += t->col[c].len;
  put_chunk_header(h, TRC_CHUNK_EVENTS, TRC_CODEC_RAW, raw_len, raw_len);
  struct iovec iov[1 + NCOL];
  XXH3_64bits_reset_withSeed(w->xxh, trc_chunk_checksum_seed(h));
  XXH3_64bits_update(w->xxh, pre, np);
  iov[0].iov_base = h;
  iov[0].iov_len = TRC_CHUNK_HDR_SIZE + np;
  for (int c = 0; c < NCOL; c++) {
    XXH3_64bits_update(w->xxh, t->col[c].p, t->col[c].len);
    iov[1 + c].iov_base = t->col[c].p;
    iov[1 + c].iov_len = t->col[c].len;
  }
  trc_put64(h + TRC_CH_CHECKSUM, XXH3_64bits_digest(w->xxh));
  int rc = guarded_writev(w, iov, 1 + NCOL);
  if (rc) return fail(w, rc);
  __atomic_add_fetch(&w->bytes, TRC_CHUNK_HDR_SIZE + raw_len, __ATOMIC_RELAXED);
  w->chunks++;
  return 0;
}

/* Writes the thread's partial chunk, pending tables first, so a reader
 * always has the definitions before the events that use them. */
static int flush_thread(trc_writer_t *w, uint32_t idx) {
  tstate_t *t = w->th[idx];
  if (!t || !t->n) return w->err;
  int rc = flush_tables(w);
  if (rc) return rc;
  if (t->fast == 2) {
    rc = write_stored(w, t, idx);
    w->chunks_fast++;
    w->events_fast += t->n;
    w->chunks_stored++;
    w->events_stored += t->n;
    tstate_reset(t);
    return rc;
  }
  size_t total = 2 * HK_VARINT_MAX;
  for (int c = 0; c < NCOL; c++) total += t->col[c].len;
  w->raw.len = 0;
  if (trc_buf_reserve(&w->raw, total)) return fail(w, HK_E_NOMEM);
  trc_buf_varint(&w->raw, idx);
  trc_buf_varint(&w->raw, t->n);
  size_t cuts[NCOL];
  int ncuts = 0;
  for (int c = 0; c < NCOL; c++) {
    if (c && t->col[c].len) cuts[ncuts++] = w->raw.len; /* a column starts */
    memcpy(w->raw.p + w->raw.len, t->col[c].p, t->col[c].len);
    w->raw.len += t->col[c].len;
  }
  rc = write_chunk(w, TRC_CHUNK_EVENTS, w->raw.p, w->raw.len, cuts, ncuts,
                   t->fast ? w->fast_level : w->level);
  if (t->fast) {
    w->chunks_fast++;
    w->events_fast += t->n;
  }
  tstate_reset(t);
  return rc;
}

/* Pointer coding (docs/trace-format.md, "Pointers"): an allocation that
 * returns a block just freed in its size class is an index into that
 * class's stack; else an exact hit in the ring of recent pointers; else,
 * for a 16-aligned pointer, a delta in 16-byte units from a near ring
 * entry (a new block is usually near a recent one); else a byte delta
 * from prev. Which entry is "near" is the encoder's choice: it probes the
 * entry last inserted in the same 64 KiB region and the two newest. A scan
 * of the whole ring for the nearest entry saved 0.4% on bench_trace and
 * nothing on recorded programs, for 30% of the encoding time (60% of the
 * recorder's writer thread on a threaded stress). A probe of the same
 * 4 KiB page too saved 0.7% on the stress, cost 3.5% on python3, and 5% of
 * the encoding time. */
static unsigned bucket(uint64_t v, unsigned bits) {
  return (unsigned)((v * 0x9e3779b97f4a7c15ull) >> (64 - bits));
}

/* Ring index (0 = newest) of the insertion recorded as seq pos, or -1 if
 * none or it has left the ring. */
static int ring_index(const tstate_t *t, uint32_t pos) {
  if (!pos || t->pm.seq - pos >= t->pm.n) return -1;
  return (int)(t->pm.seq - pos);
}

/* The mode of p against the ring (not the class stacks); *k and *val are
 * what to store. */
static unsigned ptr_mode(const tstate_t *t, uint64_t p, uint64_t *k,
                         uint64_t *val) {
  const trc_pmodel_t *m = &t->pm;
  if (!p) return TRC_PM_NULL;
  int i = ring_index(t, t->exact_pos[bucket(p >> 4, EXACT_BITS)]);
  if (i >= 0 && m->ring[trc_pm_pos(m, (unsigned)i)] == p) {
    *val = (uint64_t)i;
    return TRC_PM_RING;
  }
  if (!(p & 15)) {
    int cand[3] = {ring_index(t, t->region_pos[bucket(p >> 16, NEAR_BITS)]),
                   m->seq ? 0 : -1, m->seq > 1 ? 1 : -1};
    uint64_t best = UINT64_MAX;
    unsigned bk = 0;
    for (int c = 0; c < 3; c++) {
      if (cand[c] < 0) continue;
      uint64_t e = m->ring[trc_pm_pos(m, (unsigned)cand[c])];
      uint64_t z = hk_zigzag((int64_t)((p >> 4) - (e >> 4)));
      if (z < best) best = z, bk = (unsigned)cand[c];
    }
    if (best != UINT64_MAX) {
      *k = bk;
      *val = best;
      return TRC_PM_NEAR16;
    }
  }
  *val = hk_zigzag((int64_t)(p - m->prev));
  return TRC_PM_DELTA;
}

/* Class of the ring entry a pointer coded as mode m, value v refers to. */
static unsigned ring_class(const tstate_t *t, unsigned m, uint64_t v) {
  return m == TRC_PM_RING ? trc_pm_class_at(&t->pm, (unsigned)v) : 0;
}

/* Events are coded a segment at a time through write cursors into the
 * thread's columns, which first get room for a segment of the longest
 * codings: bytes per event per column at most (op byte; time; site; ptr
 * with a near16 index; size; old_ptr with its mode, nmemb, align, failed). */
#define SEG 1024
static const uint8_t col_max[NCOL] = {1, 10, 5, 20, 10, 1 + 20 + 10 + 1 + 10 + 1};
typedef struct cursor {
  uint8_t *c[NCOL];
} cursor_t;

static inline void put(uint8_t **pp, uint64_t v) {
  *pp += hk_varint_put(*pp, v);
}

/* Appends what ptr_mode chose (the mode itself goes elsewhere). */
static void put_ptr(uint8_t **pp, unsigned mode, uint64_t k, uint64_t v) {
  if (mode == TRC_PM_NEAR16) put(pp, k);
  if (mode != TRC_PM_NULL) put(pp, v);
}

/* Codes one event into the thread's columns. Budget: a few dozen
 * instructions, a handful of ring probes and one class stack search; no
 * I/O. */
HK_FORCE_INLINE void encode_event(tstate_t *t, cursor_t *cu,
                                  const trc_event_t *e, int fast) {
  trc_pmodel_t *pm = &t->pm;
  unsigned op = e->op;
  uint8_t **x = &cu->c[COL_EXTRAS];
  uint64_t k = 0, v = 0;
  unsigned old_cls = 0;
  if (fast && trc_op_has_old(op)) { /* a delta from prev, or null */
    put(x, e->old_ptr ? TRC_PM_DELTA : TRC_PM_NULL);
    if (e->old_ptr) put(x, hk_zigzag((int64_t)(e->old_ptr - pm->prev)));
  } else if (trc_op_has_old(op)) {
    unsigned m = ptr_mode(t, e->old_ptr, &k, &v);
    old_cls = ring_class(t, m, v);
    put(x, m);
    put_ptr(x, m, k, v);
  }
  if (trc_op_has_nmemb(op)) put(x, e->nmemb);
  if (trc_op_has_align(op)) {
    uint64_t a = e->align;
    if (a == 0)
      put(x, TRC_ALIGN_ZERO);
    else if (!(a & (a - 1)))
      put(x, (uint64_t)__builtin_ctzll(a));
    else {
      put(x, TRC_ALIGN_RAW);
      put(x, a);
    }
  }
  /* An allocation first looks in its class stack: ring mode, value j <
   * TRC_CLS_D; ring indexes are then stored + TRC_CLS_D. */
  unsigned cls = 0, freed_cls = 0, m;
  int j = -1;
  if (fast) {
    /* Fast: no ring, no class stacks; the reader keeps them, but a chunk
     * that never names them needs only prev here. */
    m = e->ptr ? TRC_PM_DELTA : TRC_PM_NULL;
    if (e->ptr) {
      put(&cu->c[COL_PTRS], hk_zigzag((int64_t)(e->ptr - pm->prev)));
      pm->prev = e->ptr;
    }
    goto coded;
  }
  if (trc_op_has_size(op) && e->ptr) {
    cls = trc_size_class(trc_request(op, e->size, e->nmemb));
    j = trc_pm_find(pm, cls, e->ptr);
  }
  if (j >= 0) {
    trc_pm_take(pm, cls, (unsigned)j);
    m = TRC_PM_RING;
    v = (uint64_t)j;
  } else {
    m = ptr_mode(t, e->ptr, &k, &v);
    freed_cls = ring_class(t, m, v);
    if (m == TRC_PM_RING && cls) v += TRC_CLS_D;
  }
  if (m != TRC_PM_NULL) put_ptr(&cu->c[COL_PTRS], m, k, v);
  trc_pm_event(pm, op, e->ptr, e->old_ptr, cls, freed_cls, old_cls);
  if (e->ptr) { /* it entered the ring as insertion pm->seq */
    t->exact_pos[bucket(e->ptr >> 4, EXACT_BITS)] = pm->seq;
    t->region_pos[bucket(e->ptr >> 16, NEAR_BITS)] = pm->seq;
  }
coded:;
  unsigned ob = op | (m << TRC_OB_PM_SHIFT);
  /* An allocation that returned no pointer says in its extras whether it
   * failed (the op byte has no room: its bit 4 serves the sites). */
  if (op != TRC_OP_FREE && m == TRC_PM_NULL)
    put(x, (e->flags & TRC_EV_FAILED) ? 1 : 0);
  if (trc_op_has_size(op)) {
    unsigned c = e->site % TRC_SIZE_CACHE;
    if (t->sizes.site[c] == e->site && t->sizes.size[c] == e->size)
      ob |= TRC_OB_SIZE_CACHED;
    else
      put(&cu->c[COL_SIZES], e->size);
    t->sizes.site[c] = e->site;
    t->sizes.size[c] = e->size;
  }
  /* Version 5: the delta shifted up one bit, TRC_EV_EST in bit 0. An
   * estimated time is stored as the last stamp (a delta of 0 within a
   * chunk: it compresses to almost nothing); the reader interpolates it.
   * Storing the last stamp, not the time given, makes a trace read and
   * written again (trace compact) code the same times. */
  uint64_t tm = e->time;
  unsigned est = 0;
  if (e->flags & TRC_EV_EST) {
    est = 1;
    tm = t->stamp_time > t->chunk_time ? t->stamp_time : t->chunk_time;
  } else {
    t->stamp_time = tm;
  }
  put(&cu->c[COL_TIMES], (tm - t->chunk_time) << 1 | est);
  t->chunk_time = tm;
  if (t->last_site[op] == e->site)
    ob |= TRC_OB_SITE_SAME;
  else
    put(&cu->c[COL_SITES], e->site);
  t->last_site[op] = e->site;
  *cu->c[COL_OPS]++ = (uint8_t)ob;
  t->n++;
}

/* ---- header ----------------------------------------------------------- */

static int write_header(trc_writer_t *w, const trc_header_t *hdr) {
  const char *exe = hdr->exe ? hdr->exe : "";
  size_t exe_len = strlen(exe);
  int argv = (hdr->flags & TRC_HF_ARGV) != 0;
  int env = (hdr->flags & TRC_HF_ENV) != 0;
  if (exe_len > TRC_MAX_STRING) return HK_E_RANGE;
  if (argv && ((hdr->argv_len && !hdr->argv) ||
               hdr->argv_len > TRC_MAX_HEADER_BODY / 2))
    return HK_E_RANGE;
  if (env && ((hdr->env_len && !hdr->env) ||
              hdr->env_len > TRC_MAX_HEADER_BODY / 4))
    return HK_E_RANGE;
  size_t body = TRC_FILE_BODY_FIXED + exe_len + (argv ? 4 + hdr->argv_len : 0) +
                (env ? 4 + hdr->env_len : 0);
  size_t total = TRC_FILE_PREFIX + body + 8;
  uint8_t *b = malloc(total);
  if (!b) return HK_E_NOMEM;
  memcpy(b, TRC_MAGIC, 8);
  trc_put32(b + 8, TRC_VERSION);
  trc_put32(b + 12, (uint32_t)body);
  uint8_t *p = b + TRC_FILE_PREFIX;
  trc_put32(p, hdr->flags);
  trc_put32(p + 4, hdr->clock);
  trc_put64(p + 8, hdr->tick_hz);
  trc_put64(p + 16, hdr->start_wall_ns);
  trc_put64(p + 24, hdr->start_ticks);
  trc_put64(p + 32, (uint64_t)hdr->pid);
  trc_put64(p + 40, (uint64_t)hdr->ppid);
  trc_put32(p + 48, hdr->depth);
  trc_put32(p + 52, (uint32_t)exe_len);
  p += TRC_FILE_BODY_FIXED;
  memcpy(p, exe, exe_len);
  p += exe_len;
  if (argv) {
    trc_put32(p, hdr->argv_len);
    if (hdr->argv_len) memcpy(p + 4, hdr->argv, hdr->argv_len);
    p += 4 + hdr->argv_len;
  }
  if (env) {
    trc_put32(p, hdr->env_len);
    if (hdr->env_len) memcpy(p + 4, hdr->env, hdr->env_len);
    p += 4 + hdr->env_len;
  }
  trc_put64(p, XXH64(b, TRC_FILE_PREFIX + body, 0));
  int rc = guarded_write(w, b, total);
  free(b);
  if (!rc) w->bytes = total;
  return rc;
}

/* ---- public ------------------------------------------------------------ */

int trc_writer_create_fd(trc_writer_t **out, int fd, const trc_header_t *hdr,
                         const trc_writer_opts_t *opts) {
  *out = NULL;
  if (fd < 0 || !hdr) {
    if (fd >= 0) close(fd);
    return HK_E_USAGE;
  }
  trc_writer_t *w = calloc(1, sizeof *w);
  if (!w) {
    close(fd);
    return HK_E_NOMEM;
  }
  w->fd = fd;
  pthread_mutex_init(&w->fdmu, NULL);
  atomic_store(&w->fd_pub, -1); /* no gate on an unguarded fd */
  if (opts && opts->reopen_path) {
    struct stat st;
    w->path = strdup(opts->reopen_path);
    if (!w->path || fstat(fd, &st)) {
      int rc = w->path ? -errno : HK_E_NOMEM;
      close(fd);
      free(w->path);
      free(w);
      return rc;
    }
    w->dev = st.st_dev;
    w->ino = st.st_ino;
    w->fd = move_high(fd);
    atomic_store(&w->fd_pub, w->fd);
  }
  w->level = opts && opts->level ? opts->level : TRC_DEFAULT_LEVEL;
  w->fast_level = opts && opts->fast_level ? opts->fast_level
                                           : TRC_DEFAULT_FAST_LEVEL;
  w->chunk_events = opts && opts->chunk_events ? opts->chunk_events
                                               : TRC_DEFAULT_CHUNK_EVENTS;
  if (w->chunk_events > TRC_MAX_CHUNK_EVENTS)
    w->chunk_events = TRC_MAX_CHUNK_EVENTS;
  pthread_mutex_init(&w->mu, NULL);
  w->cctx = ZSTD_createCCtx();
  int rc = w->cctx ? write_header(w, hdr) : HK_E_NOMEM;
  if (rc) {
    trc_writer_free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int trc_writer_create(trc_writer_t **out, const char *path,
                      const trc_header_t *hdr, const trc_writer_opts_t *opts) {
  *out = NULL;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  return trc_writer_create_fd(out, fd, hdr, opts);
}

/* Takes the lock and checks the writer may still be used. */
static int enter(trc_writer_t *w) {
  pthread_mutex_lock(&w->mu);
  if (w->err) return w->err;
  if (w->finished) return HK_E_STATE;
  return 0;
}

static int table_added(trc_writer_t *w, int t) {
  w->tab[t].n++;
  if (w->tab[t].b.len >= TRC_TABLE_FLUSH_BYTES) return flush_table(w, t);
  return 0;
}

int trc_writer_add_site(trc_writer_t *w, uint32_t id, const uint64_t *frames,
                        uint32_t depth) {
  if (id == 0 || depth > TRC_MAX_DEPTH || (depth && !frames))
    return HK_E_RANGE;
  int rc = enter(w);
  if (rc) goto out;
  table_t *tb = &w->tab[TAB_SITES];
  if (trc_buf_reserve(&tb->b, (2 + (size_t)depth) * HK_VARINT_MAX)) {
    rc = fail(w, HK_E_NOMEM);
    goto out;
  }
  trc_buf_varint(&tb->b, id);
  trc_buf_varint(&tb->b, depth);
  uint64_t prev = tb->prev0;
  for (uint32_t i = 0; i < depth; i++) {
    trc_buf_varint(&tb->b, hk_zigzag((int64_t)(frames[i] - prev)));
    prev = frames[i];
  }
  if (depth) tb->prev0 = frames[0];
  w->n_sites++;
  rc = table_added(w, TAB_SITES);
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

static void put_bytes(trc_buf_t *b, const void *p, size_t n) {
  trc_buf_varint(b, n);
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
}

int trc_writer_add_module(trc_writer_t *w, const trc_module_t *m) {
  const char *path = m->path ? m->path : "";
  size_t plen = strlen(path);
  if (plen > TRC_MAX_STRING || m->build_id_len > TRC_MAX_STRING ||
      (m->build_id_len && !m->build_id))
    return HK_E_RANGE;
  int rc = enter(w);
  if (rc) goto out;
  table_t *tb = &w->tab[TAB_MODULES];
  if (trc_buf_reserve(&tb->b, 8 * HK_VARINT_MAX + plen + m->build_id_len)) {
    rc = fail(w, HK_E_NOMEM);
    goto out;
  }
  trc_buf_varint(&tb->b, m->id);
  trc_buf_varint(&tb->b, m->base);
  trc_buf_varint(&tb->b, m->lo);
  trc_buf_varint(&tb->b, m->hi);
  trc_buf_varint(&tb->b, m->time);
  trc_buf_varint(&tb->b, m->unload_time);
  put_bytes(&tb->b, path, plen);
  put_bytes(&tb->b, m->build_id, m->build_id_len);
  w->n_modules++;
  rc = table_added(w, TAB_MODULES);
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int trc_writer_add_thread(trc_writer_t *w, const trc_thread_t *t) {
  const char *name = t->name ? t->name : "";
  size_t nlen = strlen(name);
  if (nlen > TRC_MAX_STRING || t->index >= TRC_MAX_THREADS) return HK_E_RANGE;
  int rc = enter(w);
  if (rc) goto out;
  table_t *tb = &w->tab[TAB_THREADS];
  if (trc_buf_reserve(&tb->b, 5 * HK_VARINT_MAX + nlen)) {
    rc = fail(w, HK_E_NOMEM);
    goto out;
  }
  trc_buf_varint(&tb->b, t->index);
  trc_buf_varint(&tb->b, hk_zigzag(t->tid));
  trc_buf_varint(&tb->b, t->start_time);
  trc_buf_varint(&tb->b, t->end_time);
  put_bytes(&tb->b, name, nlen);
  if (t->index >= w->seen_cap) {
    uint32_t n = w->seen_cap ? w->seen_cap : 64;
    while (n <= t->index) n *= 2;
    uint8_t *ns = realloc(w->thread_seen, n);
    if (!ns) {
      rc = fail(w, HK_E_NOMEM);
      goto out;
    }
    memset(ns + w->seen_cap, 0, n - w->seen_cap);
    w->thread_seen = ns;
    w->seen_cap = n;
  }
  if (!w->thread_seen[t->index]) w->n_threads++;
  w->thread_seen[t->index] = 1;
  rc = table_added(w, TAB_THREADS);
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

static tstate_t *get_thread(trc_writer_t *w, uint32_t idx) {
  if (idx >= w->nth) {
    uint32_t n = w->nth ? w->nth : 8;
    while (n <= idx) n *= 2;
    tstate_t **nt = realloc(w->th, n * sizeof *nt);
    if (!nt) return NULL;
    memset(nt + w->nth, 0, (n - w->nth) * sizeof *nt);
    w->th = nt;
    w->nth = n;
  }
  if (!w->th[idx] && (w->th[idx] = calloc(1, sizeof(tstate_t)))) {
    w->th[idx]->indexed = 1; /* the ring's size and rules are set once */
    tstate_reset(w->th[idx]);
  }
  return w->th[idx];
}

/* Is e a valid next event of a thread whose last one was at time last?
 * (trc_writer_events' contract.) */
HK_FORCE_INLINE int event_ok(const trc_event_t *e, uint64_t last) {
  return !(e->op == 0 || e->op >= TRC_OP_COUNT || e->time < last ||
           e->time > TRC_TIME_MAX ||
           ((e->flags & TRC_EV_FAILED) && (e->ptr || e->op == TRC_OP_FREE)));
}

/* Codes ev[0..n) fast into t's current chunk, which has room for all of
 * them (t->n + n <= chunk_events; its coding is fast, or it starts here
 * under pressure), checking each event as it is coded: the separate
 * checking pass read each 64-byte event once more (22% of this function's
 * samples on the small-block program, every chunk stored). On an invalid
 * event the coding state is put back as it was and nothing of the call is
 * kept (the columns' lengths are committed only at the end): HK_E_RANGE.
 * A fast chunk's state is small (prev, the size cache, the last sites,
 * the times), so the copy taken first costs about 3 KiB a call. */
static int events_fast_checked(trc_writer_t *w, tstate_t *t,
                               const trc_event_t *ev, size_t n, int fast) {
  cursor_t cu;
  for (int c = 0; c < NCOL; c++) {
    if (trc_buf_reserve(&t->col[c], n * col_max[c])) return fail(w, HK_E_NOMEM);
    cu.c[c] = t->col[c].p + t->col[c].len;
  }
  uint32_t n0 = t->n;
  int fast0 = t->fast;
  uint64_t prev0 = t->pm.prev, chunk0 = t->chunk_time, stamp0 = t->stamp_time;
  uint32_t sites0[TRC_OP_COUNT];
  memcpy(sites0, t->last_site, sizeof sites0);
  trc_size_cache_t *sizes0 = &w->sizes_saved;
  memcpy(sizes0, &t->sizes, sizeof *sizes0);
  t->fast = fast; /* unchanged, or this chunk's coding as it starts */
  uint64_t counts[TRC_OP_COUNT] = {0}, failed = 0, last = t->thread_time;
  for (size_t j = 0; j < n; j++) {
    const trc_event_t *e = &ev[j];
    if (HK_UNLIKELY(!event_ok(e, last))) {
      t->n = n0;
      t->fast = fast0;
      t->pm.prev = prev0;
      t->chunk_time = chunk0;
      t->stamp_time = stamp0;
      memcpy(t->last_site, sites0, sizeof sites0);
      memcpy(&t->sizes, sizes0, sizeof *sizes0);
      return HK_E_RANGE;
    }
    last = e->time;
    encode_event(t, &cu, e, 1);
    counts[e->op]++;
    failed += (e->flags & TRC_EV_FAILED) != 0;
  }
  for (int c = 0; c < NCOL; c++)
    t->col[c].len = (size_t)(cu.c[c] - t->col[c].p);
  for (unsigned op = 0; op < TRC_OP_COUNT; op++) w->counts[op] += counts[op];
  w->failed += failed;
  t->thread_time = last;
  __atomic_add_fetch(&w->events, n, __ATOMIC_RELAXED);
  return 0;
}

int trc_writer_events(trc_writer_t *w, uint32_t thread, const trc_event_t *ev,
                      size_t n) {
  if (thread >= TRC_MAX_THREADS) return HK_E_RANGE;
  int rc = enter(w);
  if (rc) goto out;
  tstate_t *t = get_thread(w, thread);
  if (!t) {
    rc = fail(w, HK_E_NOMEM);
    goto out;
  }
  /* A call that fits in a fast chunk (the recorder's buffers while the
   * writer is behind) is checked as it is coded: one read of each event. */
  int fast = t->n ? t->fast : __atomic_load_n(&w->pressure, __ATOMIC_RELAXED);
  if (fast && n && t->n + n <= w->chunk_events) {
    rc = events_fast_checked(w, t, ev, n, fast);
    if (!rc && t->n >= w->chunk_events) rc = flush_thread(w, thread);
    goto out;
  }
  /* Refuse the whole call, without recording any of it, if it is not a
   * valid op stream ordered in time; this is the caller's error, not
   * sticky. */
  uint64_t last = t->thread_time;
  for (size_t i = 0; i < n; i++) {
    if (!event_ok(&ev[i], last)) {
      rc = HK_E_RANGE;
      goto out;
    }
    last = ev[i].time;
  }
  for (size_t i = 0; i < n;) {
    size_t seg = n - i < SEG ? n - i : SEG;
    if (seg > w->chunk_events - t->n) seg = w->chunk_events - t->n;
    cursor_t cu;
    for (int c = 0; c < NCOL; c++) {
      if (trc_buf_reserve(&t->col[c], seg * col_max[c])) {
        rc = fail(w, HK_E_NOMEM);
        goto out;
      }
      cu.c[c] = t->col[c].p + t->col[c].len;
    }
    if (t->n == 0) { /* a chunk starts: its coding */
      t->fast = __atomic_load_n(&w->pressure, __ATOMIC_RELAXED);
      if (!t->fast) t->indexed = 1;
    }
    if (t->fast) {
      for (size_t j = i; j < i + seg; j++) {
        encode_event(t, &cu, &ev[j], 1);
        w->counts[ev[j].op]++;
        if (ev[j].flags & TRC_EV_FAILED) w->failed++;
      }
    } else {
    for (size_t j = i; j < i + seg; j++) {
      /* The exact index and the ring are too large for the cache: fetch
       * ahead (the index for 8 events on, the ring entry it names for 4).
       * The threaded stress's events, coded again: 56 ns an event, 68
       * without. */
      if (j + 8 < n)
        __builtin_prefetch(&t->exact_pos[bucket(ev[j + 8].ptr >> 4, EXACT_BITS)]);
      if (j + 4 < n) {
        uint32_t pos = t->exact_pos[bucket(ev[j + 4].ptr >> 4, EXACT_BITS)];
        __builtin_prefetch(&t->pm.ring[(pos - 1) & (t->pm.n - 1)]);
      }
      encode_event(t, &cu, &ev[j], 0);
      w->counts[ev[j].op]++;
      if (ev[j].flags & TRC_EV_FAILED) w->failed++;
    }
    }
    for (int c = 0; c < NCOL; c++)
      t->col[c].len = (size_t)(cu.c[c] - t->col[c].p);
    i += seg;
    t->thread_time = ev[i - 1].time;
    __atomic_add_fetch(&w->events, seg, __ATOMIC_RELAXED);
    if (t->n >= w->chunk_events && (rc = flush_thread(w, thread))) goto out;
  }
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

void trc_writer_set_pressure(trc_writer_t *w, int behind) {
  __atomic_store_n(&w->pressure, behind <= 0 ? 0 : behind == 1 ? 1 : 2,
                   __ATOMIC_RELAXED);
}

static int flush_all(trc_writer_t *w) {
  for (uint32_t i = 0; i < w->nth; i++) {
    int rc = flush_thread(w, i);
    if (rc) return rc;
  }
  return flush_tables(w);
}

int trc_writer_flush(trc_writer_t *w) {
  int rc = enter(w);
  if (!rc) rc = flush_all(w);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int trc_writer_end_thread(trc_writer_t *w, uint32_t thread) {
  int rc = enter(w);
  if (!rc && thread < w->nth && w->th[thread]) {
    rc = flush_thread(w, thread);
    if (!rc) rc = flush_tables(w);
    tstate_t *t = w->th[thread];
    for (int c = 0; c < NCOL; c++) trc_buf_release(&t->col[c]);
    free(t);
    w->th[thread] = NULL;
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int trc_writer_finish(trc_writer_t *w, uint64_t end_time, uint64_t dropped) {
  trc_summary_t end = {0};
  end.end_time = end_time;
  end.dropped = dropped;
  return trc_writer_finish_ext(w, &end);
}

int trc_writer_finish_ext(trc_writer_t *w, const trc_summary_t *end) {
  int rc = enter(w);
  if (rc == HK_E_STATE) goto out;
  if (!rc) rc = flush_all(w);
  if (!rc) {
    uint8_t s[(TRC_OP_COUNT + 11 + TRC_SUMX_COUNT) * HK_VARINT_MAX];
    trc_buf_t b = {s, 0, sizeof s};
    trc_buf_varint(&b, w->events);
    trc_buf_varint(&b, TRC_OP_COUNT - 1);
    for (unsigned op = 1; op < TRC_OP_COUNT; op++)
      trc_buf_varint(&b, w->counts[op]);
    trc_buf_varint(&b, w->failed);
    trc_buf_varint(&b, w->chunks);
    trc_buf_varint(&b, w->n_threads);
    trc_buf_varint(&b, w->n_sites);
    trc_buf_varint(&b, w->n_modules);
    trc_buf_varint(&b, end->end_time);
    trc_buf_varint(&b, end->dropped);
    /* Version 4: the extension, a count then the fields (TRC_SUMX_*). The
     * file is checked (and reopened if need be) before `reopened` is
     * coded, so that it counts a reopen the summary's own write needs. */
    pthread_mutex_lock(&w->fdmu);
    rc = guard_fd(w);
    pthread_mutex_unlock(&w->fdmu);
    if (rc) {
      fail(w, rc);
    } else {
      trc_buf_varint(&b, TRC_SUMX_COUNT);
      trc_buf_varint(&b, w->reopened + end->reopened);
      trc_buf_varint(&b, end->end_signal);
      trc_buf_varint(&b, end->hook_ns);
      trc_buf_varint(&b, end->hook_samples);
      trc_buf_varint(&b, end->wait_ns);
      trc_buf_varint(&b, end->writer_ns);
      trc_buf_varint(&b, w->chunks_fast);
      trc_buf_varint(&b, w->events_fast);
      trc_buf_varint(&b, w->chunks_stored);
      trc_buf_varint(&b, w->events_stored);
      rc = write_chunk(w, TRC_CHUNK_SUMMARY, b.p, b.len, NULL, 0, w->level);
    }
  }
  w->finished = 1;
  int crc = close_fd_gated(w);
  if (crc && !rc) rc = fail(w, crc);
  rc = w->err ? w->err : rc;
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

void trc_writer_free(trc_writer_t *w) {
  if (!w) return;
  /* No lock: after fork the child may hold a copy of a locked mutex. */
  close_fd(w);
  free(w->path);
  for (uint32_t i = 0; i < w->nth; i++) {
    if (!w->th[i]) continue;
    for (int c = 0; c < NCOL; c++) trc_buf_release(&w->th[i]->col[c]);
    free(w->th[i]);
  }
  free(w->th);
  free(w->thread_seen);
  for (int t = 0; t < NTAB; t++) trc_buf_release(&w->tab[t].b);
  trc_buf_release(&w->raw);
  trc_buf_release(&w->out);
  ZSTD_freeCCtx(w->cctx);
  XXH3_freeState(w->xxh);
  pthread_mutex_destroy(&w->mu);
  pthread_mutex_destroy(&w->fdmu);
  free(w);
}

/* ---- the fd gate --------------------------------------------------------- */

void trc_writer_gate_enter(trc_writer_t *w, trc_fd_gate_t *g) {
  atomic_fetch_add(&w->fd_users, 1);
  if (HK_LIKELY(!atomic_load(&w->fd_changing))) {
    g->excl = 0;
    g->fd = atomic_load(&w->fd_pub);
    return;
  }
  atomic_fetch_sub(&w->fd_users, 1);
  pthread_mutex_lock(&w->fdmu); /* a change is under way: wait it out */
  g->excl = 1;
  g->fd = w->fd;
}

int trc_writer_gate_vacate(trc_writer_t *w, trc_fd_gate_t *g, int fd) {
  if (!g->excl) {
    atomic_fetch_sub(&w->fd_users, 1);
    pthread_mutex_lock(&w->fdmu);
    g->excl = 1;
  }
  change_begin(w); /* ended by trc_writer_gate_leave */
  g->excl = 2;
  int moved = 0;
  if (fd >= 0 && w->fd == fd) {
    int h = fcntl(fd, F_DUPFD_CLOEXEC, trc_writer_high_fd());
    /* No high number free: let the number go; the next write reopens the
     * trace by its path (the fstat check). */
    w->fd = h;
    moved = 1;
  }
  atomic_store(&w->fd_pub, w->fd);
  g->fd = w->fd;
  return moved;
}

int trc_writer_gate_holds(trc_writer_t *w, const trc_fd_gate_t *g) {
  struct stat st;
  return g->fd >= 0 && fstat(g->fd, &st) == 0 && st.st_dev == w->dev &&
         st.st_ino == w->ino;
}

void trc_writer_gate_leave(trc_writer_t *w, trc_fd_gate_t *g) {
  if (g->excl == 2) change_end(w);
  if (g->excl)
    pthread_mutex_unlock(&w->fdmu);
  else
    atomic_fetch_sub(&w->fd_users, 1);
}

int trc_writer_error(const trc_writer_t *w) {
  return __atomic_load_n(&w->err, __ATOMIC_RELAXED);
}

uint64_t trc_writer_events_total(const trc_writer_t *w) {
  return __atomic_load_n(&w->events, __ATOMIC_RELAXED);
}

uint64_t trc_writer_bytes(const trc_writer_t *w) {
  return __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
}
