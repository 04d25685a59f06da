/* rec_core.c: the recorder session: output file and writer, thread states
 * with their event buffers, the handoff of full buffers to a background
 * writer thread, site interning, module map refresh and the end of
 * recording. The per-event path is the inline rec_push (rec_internal.h);
 * everything here is a cold path. Allocations here are the recorder's own:
 * the preload calls this code with its nesting guard set, and sets it for
 * good in the writer thread (rec_set_writer_init). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec_internal.h"

/* Size of the writer thread's own stack (ensure_writer). */
#define WRITER_STACK (4u << 20)

/* ---- the default sink: a trc_writer ---------------------------------- */

static int w_site(void *c, uint32_t id, const uint64_t *f, uint32_t d) {
  return trc_writer_add_site(c, id, f, d);
}
static int w_module(void *c, const trc_module_t *m) {
  return trc_writer_add_module(c, m);
}
static int w_thread(void *c, const trc_thread_t *t) {
  return trc_writer_add_thread(c, t);
}
static int w_events(void *c, uint32_t th, const trc_event_t *ev, size_t n) {
  return trc_writer_events(c, th, ev, n);
}
static int w_end_thread(void *c, uint32_t th) {
  return trc_writer_end_thread(c, th);
}
static int w_finish(void *c, const trc_summary_t *end) {
  return trc_writer_finish_ext(c, end);
}
static void w_release(void *c) { trc_writer_free(c); }
static void w_pressure(void *c, int behind) {
  trc_writer_set_pressure(c, behind);
}

static const rec_sink_t writer_sink = {w_site,       w_module, w_thread,
                                       w_events,     w_end_thread, w_finish,
                                       w_release,    w_pressure};

/* ---- session --------------------------------------------------------- */

uint64_t rec_now(const rec_t *r) {
  uint64_t raw = r->clock == TRC_CLOCK_TSC ? hk_tsc_raw() : hk_now_ns();
  return raw > r->start_ticks ? raw - r->start_ticks : 0;
}

/* The first error is kept (any thread may meet one). */
static void keep_error(rec_t *r, int err) {
  int zero = 0;
  if (err) atomic_compare_exchange_strong(&r->err, &zero, err);
}

/* The first error stops recording; the preload reports it once. */
static void set_error(rec_t *r, int err) {
  if (!err) return;
  keep_error(r, err);
  int running = REC_RUNNING;
  atomic_compare_exchange_strong(&r->state, &running, REC_STOPPED);
}

static int module_cb(void *ctx, const trc_module_t *m) {
  rec_t *r = ctx;
  return r->sink.add_module(r->sink_ctx, m);
}

/* Reads a small /proc file whole; returns its length (0 on failure). */
static size_t read_small(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t o = 0;
  while (o < n) {
    ssize_t k = read(fd, buf + o, n - o);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    o += (size_t)k;
  }
  close(fd);
  return o;
}

void rec_manifest_append(const char *manifest, const char *line) {
  if (!manifest[0]) return;
  int fd = open(manifest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  ssize_t k = write(fd, line, strlen(line)); /* one write: O_APPEND is atomic */
  (void)k;
  close(fd);
}

/* Opens the process's output with O_EXCL: a name already taken (the image
 * before an exec had the same pid) gets the next .N suffix. Mode 0600
 * whatever the umask: a trace holds the program's name, addresses and
 * (with HKREC_ARGV) its arguments. O_APPEND: the writer may have to reopen
 * it by name (trc_writer_opts_t.reopen_path) and goes on at the end. */
static int open_output(rec_t *r) {
  if (r->cfg.out_error) return r->cfg.out_error; /* HKREC_OUT too long */
  for (unsigned seq = 0; seq < 1000; seq++) {
    int rc = rec_output_path(r->path, sizeof r->path, r->cfg.out, r->pid, seq);
    if (rc) {
      r->path[0] = 0; /* no name to blame */
      return rc;
    }
    int fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
                  0600);
    if (fd >= 0) {
      fchmod(fd, 0600); /* the umask could only remove bits; be explicit */
      return fd;
    }
    if (errno != EEXIST) return -errno;
  }
  return -EEXIST;
}

/* The output rec_create tried last, kept for its error message: after an
 * exec the file that failed is the .1 one, not the name of seq 0. One
 * session is created at a time in a process (the preload's start). */
static char failed_path[1100];

const char *rec_create_failed_path(void) { return failed_path; }

int rec_create(rec_t **out, const rec_config_t *cfg, const rec_sink_t *sink,
               void *sink_ctx) {
  *out = NULL;
  failed_path[0] = 0;
  rec_t *r = calloc(1, sizeof *r);
  if (!r) return HK_E_NOMEM;
  r->cfg = *cfg;
  if (r->cfg.depth < 1) r->cfg.depth = 1;
  if (r->cfg.depth > TRC_MAX_DEPTH) r->cfg.depth = TRC_MAX_DEPTH;
  if (r->cfg.block < 16) r->cfg.block = 16;
  if (r->cfg.block > REC_MAX_BLOCK) r->cfg.block = REC_MAX_BLOCK;
  if (r->cfg.buffers < 2) r->cfg.buffers = 2;
  if (r->cfg.buffers > REC_MAX_BUFFERS) r->cfg.buffers = REC_MAX_BUFFERS;
  if (r->cfg.ts_every < 1 || r->cfg.ts_every > REC_MAX_TS_EVERY ||
      (r->cfg.ts_every & (r->cfg.ts_every - 1)))
    r->cfg.ts_every = 1;
  /* With sparse stamps a chunk must end where a buffer does (on a stamp),
   * so the reader can interpolate its last events: whole buffers a chunk. */
  if (r->cfg.ts_every > 1 && r->cfg.chunk % r->cfg.block) {
    uint32_t k = r->cfg.chunk / r->cfg.block + 1;
    r->cfg.chunk = k * r->cfg.block > REC_MAX_CHUNK
                       ? REC_MAX_CHUNK / r->cfg.block * r->cfg.block
                       : k * r->cfg.block;
  }
  pthread_mutex_init(&r->late_lock, NULL);
  pthread_mutex_init(&r->lock, NULL);
  pthread_mutex_init(&r->qlock, NULL);
  pthread_mutex_init(&r->wlock, NULL);
  pthread_cond_init(&r->work, NULL);
  pthread_cond_init(&r->space, NULL);
  r->pid = getpid();
  /* The clock: the TSC when it is invariant (cheap, fenced stamps),
   * CLOCK_MONOTONIC otherwise. */
  if (cfg->clock != TRC_CLOCK_MONOTONIC && HK_HAVE_TSC && hk_tsc_invariant()) {
    r->clock = TRC_CLOCK_TSC;
    r->tick_hz = cfg->tick_hz ? cfg->tick_hz : hk_tsc_hz(5);
    r->start_ticks = hk_tsc_begin();
    /* What one bare read costs (the least of back-to-back pairs): taken
     * off each interval the hook sampling measures. */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 64; i++) {
      uint64_t a = hk_tsc_raw(), b = hk_tsc_raw();
      if (b > a && b - a < best) best = b - a;
    }
    r->read_ticks = best == UINT64_MAX ? 0 : best;
  } else {
    r->clock = TRC_CLOCK_MONOTONIC;
    r->tick_hz = 1000000000ull;
    r->start_ticks = hk_now_ns();
  }
  int rc = rec_sites_create(&r->sites, r->cfg.max_sites);
  if (!rc) rc = rec_modules_create(&r->mods);
  if (rc) goto fail;

  if (sink) {
    r->sink = *sink;
    r->sink_ctx = sink_ctx;
  } else {
    int fd = open_output(r);
    if (fd < 0) {
      rc = fd;
      goto fail;
    }
    char exe[1024] = "", args[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = 0;
    /* The command line only when asked (HKREC_ARGV=1): arguments may hold
     * secrets, and a trace travels. */
    size_t alen = r->cfg.argv
                      ? read_small("/proc/self/cmdline", args, sizeof args)
                      : 0;
    /* The environment likewise, and only the allow-listed variables
     * (HKREC_ENV): the environment at exec, as the kernel kept it. Static:
     * too large for the stack of a thread that may be small, and this
     * runs once per process, under the session's start. */
    static char env_all[65536], env_sel[REC_ENV_MAX];
    size_t elen = 0;
    if (r->cfg.env[0]) {
      size_t n = read_small("/proc/self/environ", env_all, sizeof env_all);
      /* And the switches the recorder set since (not in that block). */
      for (unsigned i = 0; rec_runtimes[i].name; i++) {
        if (!(r->cfg.runtimes_set & (1u << i))) continue;
        int w = snprintf(env_all + n, sizeof env_all - n, "%s=%s",
                         rec_runtimes[i].var, rec_runtimes[i].value);
        if (w > 0 && (size_t)w < sizeof env_all - n) n += (size_t)w + 1;
      }
      elen = rec_env_select(r->cfg.env, env_all, n, env_sel, sizeof env_sel);
    }
    trc_header_t h = {0};
    h.flags = (alen ? TRC_HF_ARGV : 0) | (elen ? TRC_HF_ENV : 0) |
              (r->cfg.ts_every > 1 ? TRC_HF_SPARSE_TIME : 0);
    h.env = elen ? env_sel : NULL;
    h.env_len = (uint32_t)elen;
    h.clock = (uint32_t)r->clock;
    h.tick_hz = r->tick_hz;
    h.start_wall_ns = hk_wall_ns();
    h.start_ticks = r->start_ticks;
    h.pid = r->pid;
    h.ppid = getppid();
    h.exe = exe;
    h.argv = alen ? args : NULL;
    h.argv_len = (uint32_t)alen;
    h.depth = r->cfg.depth;
    /* The fd lives inside the program, which may close it or reuse its
     * number: the writer guards it (moves it high, checks it before each
     * write, reopens the file by path). */
    trc_writer_opts_t o = {r->cfg.level, r->cfg.chunk, r->path,
                           r->cfg.fast_level};
    trc_writer_t *w;
    rc = trc_writer_create_fd(&w, fd, &h, &o);
    if (rc) {
      unlink(r->path);
      goto fail;
    }
    r->sink = writer_sink;
    r->sink_ctx = w;
    if (r->cfg.fast >= 2) /* inline writes too */
      trc_writer_set_pressure(w, r->cfg.fast - 1);
    char line[sizeof r->path + 2];
    snprintf(line, sizeof line, "%s\n", r->path);
    rec_manifest_append(r->cfg.manifest, line);
  }
  atomic_store(&r->state, REC_RUNNING);
  rec_modules_refresh(r);
  *out = r;
  return 0;
fail:
  memcpy(failed_path, r->path, sizeof failed_path);
  rec_sites_free(r->sites);
  rec_modules_free(r->mods);
  free(r);
  return rc;
}

static void unmap_threads(rec_t *r) {
  rec_thread_t *t = r->threads;
  while (t) {
    rec_thread_t *next = t->next;
    munmap(t, t->map_len);
    t = next;
  }
  r->threads = r->free_threads = NULL;
}

/* No mutex or condition variable is destroyed: in a fork child they may
 * count waiters of the parent's threads, and destroying would wait. */
void rec_abandon(rec_t *r) {
  if (!r) return;
  if (r->sink.release) r->sink.release(r->sink_ctx);
  unmap_threads(r);
  if (r->wstack && !r->writer_on) /* a writer that did not join keeps it */
    munmap(r->wstack, WRITER_STACK);
  rec_sites_free(r->sites);
  rec_modules_free(r->mods);
  free(r);
}

static void stop_writer(rec_t *r);

void rec_free(rec_t *r) {
  if (!r) return;
  rec_finish(r, 0);
  pthread_mutex_lock(&r->qlock);
  stop_writer(r); /* a finish in a signal handler leaves it running */
  pthread_mutex_unlock(&r->qlock);
  rec_abandon(r);
}

/* ---- the writer thread and the handoff queue ------------------------- */

/* Writes one buffer to the sink, or counts it as dropped after an error
 * (wlock held). Its time counts as the writer's (summary writer_ns). */
/* CPU time of the calling thread, ns: the writer's busy time is its CPU
 * time (on a shared machine its wall time counts the time it waits for a
 * core). */
static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return 0;
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_buf_locked(rec_t *r, rec_buf_t *b) {
  uint64_t t0 = thread_cpu_ns();
  if (r->cfg.discard) { /* a thread's last buffer, or the finish's */
    atomic_fetch_add(&r->dropped, b->n);
    if (b->final && !atomic_load(&r->err))
      set_error(r, r->sink.end_thread(r->sink_ctx, b->index));
  } else if (!atomic_load(&r->err)) {
    if (b->n) set_error(r, r->sink.events(r->sink_ctx, b->index, b->ev, b->n));
    /* A thread's last events form a partial chunk: write it now, so that a
     * later SIGKILL cannot lose the events of a thread that has ended, and
     * free its coding state. */
    if (b->final && !atomic_load(&r->err))
      set_error(r, r->sink.end_thread(r->sink_ctx, b->index));
  } else {
    atomic_fetch_add(&r->dropped, b->n);
  }
  atomic_fetch_add_explicit(&r->writer_ns, thread_cpu_ns() - t0,
                            memory_order_relaxed);
}

/* Same, taking wlock. Called by the writer thread with no lock held, or
 * inline under qlock. */
static void write_buf(rec_t *r, rec_buf_t *b) {
  pthread_mutex_lock(&r->wlock);
  write_buf_locked(r, b);
  pthread_mutex_unlock(&r->wlock);
}

/* qlock held for all of these. */
static void give_back(rec_buf_t *b) {
  b->next = b->owner->spares;
  b->owner->spares = b;
}

static rec_buf_t *pop(rec_t *r) {
  rec_buf_t *b = r->q_head;
  r->q_head = b->next;
  if (!r->q_head) r->q_tail = NULL;
  r->q_len--;
  return b;
}

static void enqueue(rec_t *r, rec_buf_t *b) {
  b->next = NULL;
  if (r->q_tail)
    r->q_tail->next = b;
  else
    r->q_head = b;
  r->q_tail = b;
  r->q_len++;
}

/* Writes the queue in the calling thread (no writer thread running). */
static void drain_inline(rec_t *r) {
  while (r->q_head) {
    rec_buf_t *b = pop(r);
    write_buf(r, b);
    give_back(b);
  }
  pthread_cond_broadcast(&r->space);
}

/* How far behind the writer is as it takes a buffer (qlock held), the
 * sink's pressure hint: 0 not; 1 a program thread is blocked waiting for a
 * spare, or as many buffers still queued as one thread can queue (chunks
 * that start are coded fast, zstd at HKREC_FAST_LEVEL); 2 the program's
 * threads keep waiting for the writer (coded fast and stored uncompressed
 * with HKREC_STORE=1: zstd was a quarter of the writer's time on the
 * small-block program, which then runs at the writer's speed throughout).
 * "Keep waiting" is either a thread waiting at each of the last
 * REC_STORE_STREAK buffers taken, or two windows in a row in which waits
 * filled 1/REC_STORE_SHARE of the time or the writer was behind at 3/4 of
 * its takes (rec_store_window). Not one wait: python3
 * waits now and then for a moment even with a spare core (0.02 s in a
 * 2.3 s run, 18% of its events coded fast), and stored chunks there would
 * take it past 1 byte an event. The streak alone missed the small-block
 * program on a quiet machine: with chunks at zstd -1 the writer is nearly
 * as fast as the program, which then waits at most handoffs but not at 8
 * in a row (2% of its events stored, 4.4x; 3.6x with all stored). A
 * single buffer still queued is not enough for 1 either: on a loaded
 * machine the writer is often descheduled for a moment, and sqlite3 then
 * got 22% of its events coded fast. */
#define REC_STORE_STREAK 8
static int behind(rec_t *r) {
  if (r->cfg.fast >= 2) return r->cfg.fast - 1;
  r->wait_streak = r->waiters ? r->wait_streak + 1 : 0;
  int late = r->waiters || r->q_len + 1 >= r->cfg.buffers;
  int store = rec_store_window(&r->store_win, hk_tsc_raw(), r->wait_sum,
                               r->writer_idle, late);
  if ((store || r->wait_streak >= REC_STORE_STREAK) && r->cfg.store)
    return 2;
  return late;
}

int rec_store_window(rec_store_win_t *w, uint64_t now, uint64_t wait_sum,
                     uint64_t idle, int late) {
  w->late += late != 0;
  if (++w->takes < REC_STORE_WINDOW && w->start) return w->on;
  /* The first take only opens the first window. A clock that went back
   * (another core's TSC) counts as no time: the share is not judged.
   * Stored only after two windows in a row: python3 on a loaded machine
   * (load 7) had 14% of its events stored and 1.10 bytes an event with a
   * verdict from one window. Once on, it stays on until the writer keeps
   * up by far (finds the queue empty at REC_STORE_IDLE of a window's 16
   * takes): stored chunks speed the writer up and the program's waits all
   * but vanish (0.03 s in a 0.55 s run with every chunk stored), so a
   * verdict on the waits alone flipped back and forth (45-64% of the
   * small-block program's events stored at load 2-5, with waits under
   * 1/16 of a window turning it off), and so did one on 4 sleeps of 16
   * (48%): the stored writer, about as fast as the program, sleeps now
   * and then, and the next chunk coded in full puts it far behind. */
  if (w->start && now > w->start) {
    uint64_t waited = wait_sum - w->wait0, span = now - w->start;
    /* Behind at 3/4 of the takes: on a quiet machine the small-block
     * program's waits filled under a quarter of most windows (45-64% of
     * its events stored) while the writer was behind at 88-90% of its
     * chunks' starts; python3's 21-27%. */
    int full = waited * REC_STORE_SHARE >= span ||
               w->late * 4 >= 3 * REC_STORE_WINDOW;
    if (w->on) /* stays on until the writer keeps up: it sleeps */
      w->on = idle - w->idle0 < REC_STORE_IDLE;
    else /* two windows in a row: not a burst */
      w->on = full && w->last;
    w->last = full;
  }
  w->start = now;
  w->wait0 = wait_sum;
  w->idle0 = idle;
  w->late = 0;
  w->takes = 0;
  return w->on;
}

/* The writer: takes buffers off the queue in order (so each thread's
 * events reach the sink in order) and writes them without holding the
 * queue lock. Exits when asked, after the buffer in hand; what is still
 * queued stays for whoever stopped it. */
static void *writer_main(void *arg) {
  rec_t *r = arg;
  if (r->writer_init) r->writer_init();
  pthread_mutex_lock(&r->qlock);
  for (;;) {
    if (!r->q_head && !r->writer_stop) r->writer_idle++; /* it keeps up */
    while (!r->q_head && !r->writer_stop)
      pthread_cond_wait(&r->work, &r->qlock);
    if (r->writer_stop) break;
    rec_buf_t *b = pop(r);
    r->writer_busy = 1;
    /* Behind: chunks that start now are coded fast (docs/recorder.md,
     * "Keeping up"). */
    if (r->sink.pressure && r->cfg.fast)
      r->sink.pressure(r->sink_ctx, behind(r));
    pthread_mutex_unlock(&r->qlock);
    write_buf(r, b);
    pthread_mutex_lock(&r->qlock);
    r->writer_busy = 0;
    give_back(b);
    pthread_cond_broadcast(&r->space);
  }
  pthread_cond_broadcast(&r->space);
  pthread_mutex_unlock(&r->qlock);
  return NULL;
}

/* The writer's stack: its own mapping, not one from glibc's cache. A
 * stack glibc allocates comes with a dtv calloc'd in pthread_create,
 * under the recorder's guard (not recorded); once the writer is joined
 * (each fork joins it) that stack sits in glibc's cache, and the program's
 * next pthread_create or pthread_join may reuse or trim it, freeing that
 * dtv in a recorded call: a free of a block the trace never allocated
 * (unmatched_frees, rec_itest.sh fork_cache). With a stack of our own
 * glibc frees the dtv in the join itself, under the guard, and never
 * caches the stack. The lowest page is a guard page. */
static pthread_attr_t *writer_attr(rec_t *r, pthread_attr_t *at) {
  if (!r->wstack) {
    void *p = mmap(NULL, WRITER_STACK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) return NULL; /* glibc's stack, as before */
    (void)mprotect(p, (size_t)sysconf(_SC_PAGESIZE), PROT_NONE);
    r->wstack = p;
  }
  if (pthread_attr_init(at)) return NULL;
  if (pthread_attr_setstack(at, r->wstack, WRITER_STACK)) {
    pthread_attr_destroy(at);
    return NULL;
  }
  return at;
}

/* Starts the writer thread if it should run and does not. Lazily, at the
 * first handoff: never in a constructor before main. Every signal is
 * blocked in it (set around pthread_create, so there is no window): the
 * program's handlers never run on the recorder's thread. */
static void ensure_writer(rec_t *r) {
  if (r->writer_on || r->writer_failed || !r->cfg.writer_thread) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  r->writer_stop = 0;
  pthread_attr_t at;
  pthread_attr_t *a = writer_attr(r, &at);
  int rc = pthread_create(&r->writer, a, writer_main, r);
  if (a) pthread_attr_destroy(a);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc)
    r->writer_failed = 1; /* write inline from now on */
  else
    r->writer_on = 1;
}

/* Stops and joins the writer (qlock held; released meanwhile). */
static void stop_writer(rec_t *r) {
  if (!r->writer_on) return;
  r->writer_stop = 1;
  pthread_cond_signal(&r->work);
  pthread_mutex_unlock(&r->qlock);
  int rc = pthread_join(r->writer, NULL);
  pthread_mutex_lock(&r->qlock);
  if (!rc) {
    r->writer_on = 0;
    r->writer_stop = 0;
  }
}

void rec_set_writer_init(rec_t *r, void (*fn)(void)) { r->writer_init = fn; }

void rec_drain(rec_t *r) {
  pthread_mutex_lock(&r->qlock);
  while (r->q_head || r->writer_busy) {
    if (!r->writer_on)
      drain_inline(r);
    else
      pthread_cond_wait(&r->space, &r->qlock);
  }
  pthread_mutex_unlock(&r->qlock);
}

void rec_fork_prepare(rec_t *r) {
  pthread_mutex_lock(&r->lock);
  pthread_mutex_lock(&r->qlock);
  stop_writer(r);
  pthread_mutex_lock(&r->wlock);
}

void rec_fork_parent(rec_t *r) {
  pthread_mutex_unlock(&r->wlock);
  if (r->q_head && atomic_load(&r->state) == REC_RUNNING) {
    ensure_writer(r);
    if (r->writer_on) pthread_cond_signal(&r->work);
  }
  /* Threads waiting for a spare re-check who writes. */
  pthread_cond_broadcast(&r->space);
  pthread_mutex_unlock(&r->qlock);
  pthread_mutex_unlock(&r->lock);
}

void rec_fork_child(rec_t *r) {
  pthread_mutex_unlock(&r->wlock);
  pthread_mutex_unlock(&r->qlock);
  pthread_mutex_unlock(&r->lock);
  rec_abandon(r);
}

/* The thread's entry again, with its end time (lock held): the trace
 * format keeps the last entry of an index. */
static void end_entry(rec_t *r, rec_thread_t *t, uint64_t now) {
  trc_thread_t th = {t->index, t->tid, t->start_time, now ? now : 1,
                     t == r->late ? REC_LATE_NAME : ""};
  set_error(r, r->sink.add_thread(r->sink_ctx, &th));
}

/* Every attached thread's events so far, then the summary (qlock and
 * wlock held, the queue written). Events below a thread's published count
 * are complete; the owner cannot reset the count or switch buffers (both
 * need the queue lock). Owners keep appending after this; rec_thread_full
 * drops them. */
static void write_tail(rec_t *r) {
  uint64_t now = rec_now(r);
  for (rec_thread_t *t = r->threads; t && !atomic_load(&r->err);
       t = t->next) {
    if (!t->live) continue;
    end_entry(r, t, now); /* still running: it ends with the recording */
    if (!t->cur) continue;
    uint32_t n = atomic_load_explicit(&t->n, memory_order_acquire);
    rec_buf_t b = {NULL, t, t->buf, n, t->index, 0};
    write_buf_locked(r, &b);
    if (!atomic_load(&r->err)) t->events += n;
  }
  if (!atomic_load(&r->err)) {
    trc_summary_t end = {0};
    end.end_time = rec_now(r);
    end.dropped = atomic_load(&r->dropped);
    end.end_signal = (uint32_t)atomic_load(&r->end_signal);
    rec_costs(r, &end);
    keep_error(r, r->sink.finish(r->sink_ctx, &end));
  }
}

/* Ticks to ns at the session's clock rate. */
static uint64_t ticks_ns(const rec_t *r, uint64_t ticks) {
  if (r->clock != TRC_CLOCK_TSC || !r->tick_hz) return ticks;
  return (uint64_t)((long double)ticks * 1e9L / (long double)r->tick_hz);
}

void rec_costs(const rec_t *r, trc_summary_t *end) {
  /* A buffer of `block` events has one sample at each position that is
   * REC_SAMPLE_AT modulo REC_SAMPLE_EVERY: each stands for this many
   * events (a block of fewer than REC_SAMPLE_AT events is never sampled:
   * hook_samples 0 says the estimate is missing). */
  uint32_t blk = r->cfg.block;
  uint32_t spb = blk / REC_SAMPLE_EVERY +
                 (blk % REC_SAMPLE_EVERY > REC_SAMPLE_AT ? 1 : 0);
  long double per = spb ? (long double)blk / (long double)spb : 0;
  long double hook = 0;
  uint64_t samples = 0, exact = 0, wait = 0;
  for (rec_thread_t *t = r->threads; t; t = t->next) {
    uint64_t s = atomic_load_explicit(&t->hook_samples, memory_order_relaxed);
    hook += (long double)atomic_load_explicit(&t->hook_ticks,
                                              memory_order_relaxed) * per;
    samples += s;
    exact += atomic_load_explicit(&t->handoff_ticks, memory_order_relaxed);
    wait += atomic_load_explicit(&t->wait_ticks, memory_order_relaxed);
  }
  end->hook_ns = ticks_ns(r, (uint64_t)hook + exact);
  end->hook_samples = samples;
  end->wait_ns = ticks_ns(r, wait);
  end->writer_ns = atomic_load_explicit(&r->writer_ns, memory_order_relaxed);
}

void rec_sample_add(rec_thread_t *t, uint64_t entry, uint64_t call_start,
                    uint64_t call_end) {
  uint64_t now = hk_tsc_raw();
  uint64_t d = (call_start - entry) + (now - call_end);
  uint64_t cost = entry == call_start ? t->rec->read_ticks
                                      : 2 * t->rec->read_ticks;
  d = d > cost ? d - cost : 0;
  /* A sample the thread was preempted or stalled in (a shared machine, a
   * VM) says nothing about the hook: beyond 5 us it is left out. The mean
   * is what is kept, and one such sample in a hundred would double it
   * (sqlite3 at load 18 on 2 cores: 1.3 us "per event" with a 50 us cut). */
  if (t->rec->clock == TRC_CLOCK_TSC && d > t->rec->tick_hz / 200000) return;
  atomic_store_explicit(
      &t->hook_ticks,
      atomic_load_explicit(&t->hook_ticks, memory_order_relaxed) + d,
      memory_order_relaxed);
  atomic_store_explicit(
      &t->hook_samples,
      atomic_load_explicit(&t->hook_samples, memory_order_relaxed) + 1,
      memory_order_relaxed);
}

/* A lock taken in a signal handler: trylock, retried every 0.5 ms until
 * the deadline (CLOCK_MONOTONIC ns). Never blocks: the holder may be the
 * interrupted thread itself. */
static int lock_until(pthread_mutex_t *m, uint64_t deadline) {
  for (;;) {
    if (pthread_mutex_trylock(m) == 0) return 0;
    if (hk_now_ns() >= deadline) return HK_E_STATE;
    struct timespec ts = {0, 500000};
    nanosleep(&ts, NULL); /* async-signal-safe */
  }
}

/* rec_finish from a signal handler: every wait bounded (REC_SIGNAL_WAIT_NS
 * in all), no thread joined. The writer thread is not stopped: the queue
 * is taken over once it is not in the middle of a buffer (so that each
 * thread's events stay in order), and what it would write later fails on
 * the finished sink. */
static int finish_in_signal(rec_t *r) {
  uint64_t deadline = hk_now_ns() + REC_SIGNAL_WAIT_NS;
  if (lock_until(&r->lock, deadline)) return HK_E_STATE;
  if (atomic_load(&r->state) == REC_FINISHED) {
    pthread_mutex_unlock(&r->lock);
    return atomic_load(&r->err);
  }
  if (lock_until(&r->qlock, deadline)) goto give_up_lock;
  while (r->writer_busy) { /* let it finish the buffer in hand */
    pthread_mutex_unlock(&r->qlock);
    struct timespec ts = {0, 500000};
    nanosleep(&ts, NULL);
    if (lock_until(&r->qlock, deadline)) goto give_up_lock;
  }
  if (lock_until(&r->wlock, deadline)) {
    pthread_mutex_unlock(&r->qlock);
    goto give_up_lock;
  }
  int running = atomic_load(&r->state) == REC_RUNNING;
  atomic_store(&r->state, REC_FINISHED);
  while (r->q_head) {
    rec_buf_t *b = pop(r);
    write_buf_locked(r, b);
    give_back(b);
  }
  if (running) write_tail(r);
  pthread_mutex_unlock(&r->wlock);
  pthread_mutex_unlock(&r->qlock);
  pthread_mutex_unlock(&r->lock);
  return atomic_load(&r->err);
give_up_lock:
  pthread_mutex_unlock(&r->lock);
  return HK_E_STATE;
}

int rec_finish(rec_t *r, int try_only) {
  if (try_only) return finish_in_signal(r);
  pthread_mutex_lock(&r->lock);
  if (atomic_load(&r->state) == REC_FINISHED) {
    pthread_mutex_unlock(&r->lock);
    return atomic_load(&r->err);
  }
  int running = atomic_load(&r->state) == REC_RUNNING;
  atomic_store(&r->state, REC_FINISHED);
  pthread_mutex_lock(&r->qlock);
  /* From here handoffs drop their events; waiters for a spare wake up to
   * drop theirs. The queue is written in order, then the partial buffers. */
  pthread_cond_broadcast(&r->space);
  stop_writer(r);
  drain_inline(r);
  if (running) {
    pthread_mutex_lock(&r->wlock);
    write_tail(r);
    pthread_mutex_unlock(&r->wlock);
  }
  pthread_mutex_unlock(&r->qlock);
  pthread_mutex_unlock(&r->lock);
  return atomic_load(&r->err);
}

void rec_set_end_signal(rec_t *r, int sig) { atomic_store(&r->end_signal, sig); }

int rec_error(const rec_t *r) { return atomic_load(&r->err); }
int rec_state(const rec_t *r) { return atomic_load(&r->state); }
const char *rec_path(const rec_t *r) { return r->path; }
trc_writer_t *rec_trace_writer(const rec_t *r) {
  return r->sink.events == w_events ? r->sink_ctx : NULL;
}
uint64_t rec_dropped(const rec_t *r) { return atomic_load(&r->dropped); }
const rec_config_t *rec_config(const rec_t *r) { return &r->cfg; }
rec_skip_t *rec_skip(rec_t *r) { return &r->skip; }

size_t rec_memory(const rec_t *r) {
  return sizeof *r + rec_sites_memory(r->sites) +
         rec_modules_count(r->mods) * (sizeof(trc_module_t) + 160);
}

size_t rec_thread_memory(const rec_t *r) {
  size_t len = sizeof(rec_thread_t) + (size_t)r->cfg.buffers * r->cfg.block *
                                          sizeof(trc_event_t);
  size_t pg = 4096;
  return (len + pg - 1) / pg * pg;
}

/* ---- threads --------------------------------------------------------- */

/* Waits for the writer to return a buffer (qlock held): backpressure,
 * timed for the summary's wait_ns; the writer sees the waiter and codes
 * fast. */
static void wait_space(rec_thread_t *t) {
  rec_t *r = t->rec;
  uint64_t t0 = hk_tsc_raw();
  r->waiters++;
  pthread_cond_wait(&r->space, &r->qlock);
  r->waiters--;
  uint64_t d = hk_tsc_raw() - t0;
  r->wait_sum += d;
  atomic_store_explicit(
      &t->wait_ticks,
      atomic_load_explicit(&t->wait_ticks, memory_order_relaxed) + d,
      memory_order_relaxed);
}

/* Takes a spare buffer as t's current one (qlock held), waiting for the
 * writer to return one if need be. */
static void take_spare(rec_thread_t *t) {
  rec_t *r = t->rec;
  while (!t->spares) {
    ensure_writer(r);
    if (!r->writer_on)
      drain_inline(r); /* no writer: what t queued comes back now */
    else
      wait_space(t);
  }
  t->cur = t->spares;
  t->spares = t->cur->next;
  t->buf = t->cur->ev;
  atomic_store_explicit(&t->n, 0, memory_order_release);
}

static rec_thread_t *attach(rec_t *r, int64_t tid, const char *name);

rec_thread_t *rec_thread_attach(rec_t *r, int64_t tid) {
  return attach(r, tid, "");
}

rec_thread_t *rec_late_enter(rec_t *r) {
  pthread_mutex_lock(&r->late_lock);
  if (!r->late) {
    r->late = attach(r, 0, REC_LATE_NAME);
    if (r->late) r->late->ts_mask = 0; /* every event stamped */
  }
  if (!r->late || atomic_load(&r->state) != REC_RUNNING) {
    pthread_mutex_unlock(&r->late_lock);
    return NULL;
  }
  return r->late;
}

void rec_late_leave(rec_t *r) { pthread_mutex_unlock(&r->late_lock); }

static rec_thread_t *attach(rec_t *r, int64_t tid, const char *name) {
  if (atomic_load(&r->state) != REC_RUNNING) return NULL;
  pthread_mutex_lock(&r->lock);
  rec_thread_t *t = r->free_threads;
  if (t) {
    /* A reused state keeps its site cache: ids are the session's. */
    r->free_threads = t->next_free;
  } else {
    size_t len = rec_thread_memory(r);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      pthread_mutex_unlock(&r->lock);
      return NULL;
    }
    t = p;
    t->map_len = len;
    t->rec = r;
    t->cap = r->cfg.block;
    trc_event_t *ev = (trc_event_t *)(t + 1);
    for (uint32_t i = 0; i < r->cfg.buffers; i++) {
      t->bufs[i].owner = t;
      t->bufs[i].ev = ev + (size_t)i * t->cap;
      t->bufs[i].next = t->spares;
      t->spares = &t->bufs[i];
    }
    t->next = r->threads;
    r->threads = t;
  }
  t->ts_mask = r->cfg.ts_every - 1;
  t->index = atomic_fetch_add(&r->next_index, 1);
  pthread_mutex_lock(&r->qlock);
  take_spare(t);
  pthread_mutex_unlock(&r->qlock);
  t->live = 1;
  t->tid = tid;
  t->events = 0;
  t->last = 0;
  t->start_time = rec_now(r);
  t->next_free = NULL;
  trc_thread_t th = {t->index, tid, t->start_time, 0, name};
  if (atomic_load(&r->state) == REC_RUNNING)
    set_error(r, r->sink.add_thread(r->sink_ctx, &th));
  pthread_mutex_unlock(&r->lock);
  return t;
}

/* Hands t's current buffer over (qlock held): queued for the writer, and
 * a spare taken in its place unless final. Not running: the events are
 * dropped. The spare is secured before the full buffer is queued, so a
 * thread always owns a current buffer until its final handoff. */
static void handoff(rec_thread_t *t, int final) {
  rec_t *r = t->rec;
  if (!t->cur) return;
  for (;;) {
    uint32_t n = atomic_load_explicit(&t->n, memory_order_relaxed);
    if (atomic_load(&r->state) != REC_RUNNING) {
      atomic_fetch_add(&r->dropped, n);
      atomic_store_explicit(&t->n, 0, memory_order_release);
      break;
    }
    if (n == 0) break;
    if (r->cfg.discard && !final) {
      /* A measurement of the hooks alone: the buffer is dropped here,
       * unread, and filled again; no writer is woken. The epoch moves as
       * at any handoff, so the hooks stamp as they would. */
      atomic_fetch_add(&r->dropped, n);
      atomic_fetch_add_explicit(&r->epoch, 1, memory_order_relaxed);
      t->events += n;
      atomic_store_explicit(&t->n, 0, memory_order_release);
      break;
    }
    if (!final && !t->spares) {
      ensure_writer(r);
      if (!r->writer_on)
        drain_inline(r);
      else
        wait_space(t);
      continue; /* the state may have changed meanwhile */
    }
    rec_buf_t *b = t->cur;
    b->n = n;
    b->index = t->index;
    b->final = final;
    enqueue(r, b);
    atomic_fetch_add_explicit(&r->epoch, 1, memory_order_relaxed);
    t->events += n;
    t->cur = NULL;
    t->buf = NULL;
    if (!final) take_spare(t); /* cannot wait: a spare exists */
    ensure_writer(r);
    if (r->writer_on)
      pthread_cond_signal(&r->work);
    else
      drain_inline(r);
    break;
  }
  if (final && t->cur) { /* nothing was queued: the buffer is free */
    give_back(t->cur);
    t->cur = NULL;
    t->buf = NULL;
    pthread_cond_broadcast(&r->space);
  }
}

void rec_thread_full(rec_thread_t *t) {
  rec_t *r = t->rec;
  uint64_t t0 = hk_tsc_raw();
  uint64_t w0 = atomic_load_explicit(&t->wait_ticks, memory_order_relaxed);
  pthread_mutex_lock(&r->qlock);
  handoff(t, 0);
  pthread_mutex_unlock(&r->qlock);
  /* The handoff's own time, its wait left out (that is wait_ns). */
  uint64_t d = hk_tsc_raw() - t0,
           w = atomic_load_explicit(&t->wait_ticks, memory_order_relaxed) - w0;
  atomic_store_explicit(
      &t->handoff_ticks,
      atomic_load_explicit(&t->handoff_ticks, memory_order_relaxed) +
          (d > w ? d - w : 0),
      memory_order_relaxed);
}

void rec_thread_flush(rec_thread_t *t, int final) {
  rec_t *r = t->rec;
  pthread_mutex_lock(&r->lock);
  /* Its end, defined before its last events are queued (the writer
   * writes pending tables ahead of them). */
  if (final && t->live && atomic_load(&r->state) == REC_RUNNING)
    end_entry(r, t, rec_now(r));
  pthread_mutex_lock(&r->qlock);
  handoff(t, final);
  pthread_mutex_unlock(&r->qlock);
  if (final && t->live) {
    t->live = 0;
    t->next_free = r->free_threads;
    r->free_threads = t;
  }
  pthread_mutex_unlock(&r->lock);
}

uint32_t rec_thread_index(const rec_thread_t *t) { return t->index; }
rec_t *rec_thread_session(const rec_thread_t *t) { return t->rec; }
rec_site_cache_t *rec_thread_cache(rec_thread_t *t) { return &t->cache; }

void rec_record(rec_thread_t *t, uint8_t op, uint8_t flags, uint64_t raw_time,
                uint64_t ptr, uint64_t old_ptr, uint64_t size, uint64_t nmemb,
                uint64_t align, uint32_t site) {
  rec_push(t, op, flags, raw_time, ptr, old_ptr, size, nmemb, align, site);
}

/* ---- sites and modules ----------------------------------------------- */

void rec_modules_refresh(rec_t *r) {
  /* No session lock while the loader's lock is taken (see rec_modules.c). */
  rec_modsnap_t *s = rec_modsnap_take();
  if (!s) return;
  pthread_mutex_lock(&r->lock);
  if (atomic_load(&r->state) == REC_RUNNING) {
    set_error(r, rec_modules_merge(r->mods, s, rec_now(r), module_cb, r));
    rec_modules_generation(&r->mod_adds, &r->mod_subs);
  }
  pthread_mutex_unlock(&r->lock);
  rec_modsnap_free(s);
}

uint32_t rec_site_of(rec_thread_t *t, const uint64_t *frames, uint32_t depth) {
  if (depth == 0) return 0;
  uint64_t key = depth == 1 ? frames[0] : rec_stack_hash(frames, depth);
  if (key == 0) key = 1;
  uint32_t id = rec_cache_get(&t->cache, key);
  if (HK_LIKELY(id)) return id;
  rec_t *r = t->rec;
  /* A new stack may be in a module mapped since the last merge: merge
   * first, so that the module is in the file before the site. */
  uint64_t adds, subs;
  rec_modules_generation(&adds, &subs);
  if (adds != r->mod_adds || subs != r->mod_subs) {
    if (subs != r->mod_subs) rec_unwind_flush(); /* code may have moved */
    rec_modules_refresh(r);
  }
  pthread_mutex_lock(&r->lock);
  int added = 0;
  uint64_t h = depth == 1 ? rec_stack_hash(frames, 1) : key;
  id = rec_sites_intern(r->sites, h, frames, depth, &added);
  if (added && atomic_load(&r->state) == REC_RUNNING)
    set_error(r, r->sink.add_site(r->sink_ctx, id, frames, depth));
  pthread_mutex_unlock(&r->lock);
  if (id) rec_cache_put(&t->cache, key, id);
  return id;
}
