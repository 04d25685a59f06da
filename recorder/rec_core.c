/* rec_core.c: the recorder session: output file and writer, thread states
 * with their event buffers, the handoff of full buffers, site interning,
 * module map refresh and the end of recording. The per-event path is the
 * inline rec_push (rec_internal.h); everything here is a cold path, run
 * under the session lock. Allocations here are the recorder's own: the
 * preload calls this code with its nesting guard set. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rec_internal.h"

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
static int w_flush(void *c) { return trc_writer_flush(c); }
static int w_finish(void *c, uint64_t end, uint64_t dropped) {
  return trc_writer_finish(c, end, dropped);
}
static void w_release(void *c) { trc_writer_free(c); }

static const rec_sink_t writer_sink = {w_site,  w_module, w_thread, w_events,
                                       w_flush, w_finish, w_release};

/* ---- session --------------------------------------------------------- */

uint64_t rec_now(const rec_t *r) {
  uint64_t raw = r->clock == TRC_CLOCK_TSC ? hk_tsc_raw() : hk_now_ns();
  return raw > r->start_ticks ? raw - r->start_ticks : 0;
}

/* The first error stops recording; the preload reports it once. */
static void set_error(rec_t *r, int err) {
  if (!err) return;
  if (!r->err) r->err = err;
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

static void append_manifest(const char *manifest, const char *path) {
  if (!manifest[0]) return;
  int fd = open(manifest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[1200];
  int n = snprintf(line, sizeof line, "%s\n", path);
  if (n > 0 && (size_t)n < sizeof line) {
    ssize_t k = write(fd, line, (size_t)n); /* one write: O_APPEND is atomic */
    (void)k;
  }
  close(fd);
}

/* Opens the process's output with O_EXCL: a name already taken (the image
 * before an exec had the same pid) gets the next .N suffix. */
static int open_output(rec_t *r) {
  for (unsigned seq = 0; seq < 1000; seq++) {
    int rc = rec_output_path(r->path, sizeof r->path, r->cfg.out, r->pid, seq);
    if (rc) return rc;
    int fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) return fd;
    if (errno != EEXIST) return -errno;
  }
  return -EEXIST;
}

int rec_create(rec_t **out, const rec_config_t *cfg, const rec_sink_t *sink,
               void *sink_ctx) {
  *out = NULL;
  rec_t *r = calloc(1, sizeof *r);
  if (!r) return HK_E_NOMEM;
  r->cfg = *cfg;
  if (r->cfg.depth < 1) r->cfg.depth = 1;
  if (r->cfg.depth > TRC_MAX_DEPTH) r->cfg.depth = TRC_MAX_DEPTH;
  if (r->cfg.block < 16) r->cfg.block = 16;
  if (r->cfg.block > REC_MAX_BLOCK) r->cfg.block = REC_MAX_BLOCK;
  pthread_mutex_init(&r->lock, NULL);
  r->pid = getpid();
  /* The clock: the TSC when it is invariant (cheap, fenced stamps),
   * CLOCK_MONOTONIC otherwise. */
  if (cfg->clock != TRC_CLOCK_MONOTONIC && HK_HAVE_TSC && hk_tsc_invariant()) {
    r->clock = TRC_CLOCK_TSC;
    r->tick_hz = cfg->tick_hz ? cfg->tick_hz : hk_tsc_hz(5);
    r->start_ticks = hk_tsc_begin();
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
    size_t alen = read_small("/proc/self/cmdline", args, sizeof args);
    trc_header_t h = {0};
    h.flags = alen ? TRC_HF_ARGV : 0;
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
    trc_writer_opts_t o = {r->cfg.level, r->cfg.block};
    trc_writer_t *w;
    rc = trc_writer_create_fd(&w, fd, &h, &o);
    if (rc) {
      unlink(r->path);
      goto fail;
    }
    r->sink = writer_sink;
    r->sink_ctx = w;
    append_manifest(r->cfg.manifest, r->path);
  }
  atomic_store(&r->state, REC_RUNNING);
  rec_modules_refresh(r);
  *out = r;
  return 0;
fail:
  rec_sites_free(r->sites);
  rec_modules_free(r->mods);
  pthread_mutex_destroy(&r->lock);
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

void rec_abandon(rec_t *r) {
  if (!r) return;
  if (r->sink.release) r->sink.release(r->sink_ctx);
  unmap_threads(r);
  rec_sites_free(r->sites);
  rec_modules_free(r->mods);
  free(r);
}

void rec_free(rec_t *r) {
  if (!r) return;
  rec_finish(r, 0);
  rec_abandon(r);
}

static int lock(rec_t *r, int try_only) {
  if (try_only) return pthread_mutex_trylock(&r->lock) ? HK_E_STATE : 0;
  pthread_mutex_lock(&r->lock);
  return 0;
}

int rec_finish(rec_t *r, int try_only) {
  if (lock(r, try_only)) return HK_E_STATE;
  if (atomic_load(&r->state) == REC_FINISHED) {
    pthread_mutex_unlock(&r->lock);
    return r->err;
  }
  int running = atomic_load(&r->state) == REC_RUNNING;
  atomic_store(&r->state, REC_FINISHED);
  if (running) {
    /* Every attached thread's events so far: events below the published
     * count are complete; the owner cannot reset the count (that needs
     * the lock we hold). */
    for (rec_thread_t *t = r->threads; t && !r->err; t = t->next) {
      if (!t->live) continue;
      uint32_t n = atomic_load_explicit(&t->n, memory_order_acquire);
      if (n) set_error(r, r->sink.events(r->sink_ctx, t->index, t->buf, n));
      if (!r->err) t->events += n;
    }
    /* Owners keep appending after this; rec_thread_full drops them. */
    int rc = r->sink.finish(r->sink_ctx, rec_now(r), atomic_load(&r->dropped));
    if (rc && !r->err) r->err = rc;
  }
  pthread_mutex_unlock(&r->lock);
  return r->err;
}

int rec_error(const rec_t *r) { return r->err; }
int rec_state(const rec_t *r) { return atomic_load(&r->state); }
const char *rec_path(const rec_t *r) { return r->path; }
uint64_t rec_dropped(const rec_t *r) { return atomic_load(&r->dropped); }
const rec_config_t *rec_config(const rec_t *r) { return &r->cfg; }
rec_skip_t *rec_skip(rec_t *r) { return &r->skip; }

size_t rec_memory(const rec_t *r) {
  return sizeof *r + rec_sites_memory(r->sites) +
         rec_modules_count(r->mods) * (sizeof(trc_module_t) + 160);
}

size_t rec_thread_memory(const rec_t *r) {
  size_t len = sizeof(rec_thread_t) + (size_t)r->cfg.block * sizeof(trc_event_t);
  size_t pg = 4096;
  return (len + pg - 1) / pg * pg;
}

/* ---- threads --------------------------------------------------------- */

rec_thread_t *rec_thread_attach(rec_t *r, int64_t tid) {
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
    t->buf = (trc_event_t *)(t + 1);
    t->next = r->threads;
    r->threads = t;
  }
  t->index = atomic_fetch_add(&r->next_index, 1);
  atomic_store(&t->n, 0);
  t->live = 1;
  t->tid = tid;
  t->events = 0;
  t->last = 0;
  t->start_time = rec_now(r);
  t->next_free = NULL;
  trc_thread_t th = {t->index, tid, t->start_time, 0, ""};
  if (atomic_load(&r->state) == REC_RUNNING)
    set_error(r, r->sink.add_thread(r->sink_ctx, &th));
  pthread_mutex_unlock(&r->lock);
  return t;
}

/* Hands n events over (session lock held). */
static void handoff(rec_thread_t *t) {
  rec_t *r = t->rec;
  uint32_t n = atomic_load_explicit(&t->n, memory_order_relaxed);
  if (!n) return;
  if (atomic_load(&r->state) == REC_RUNNING) {
    set_error(r, r->sink.events(r->sink_ctx, t->index, t->buf, n));
    t->events += n;
  } else {
    atomic_fetch_add(&r->dropped, n);
  }
  atomic_store_explicit(&t->n, 0, memory_order_release);
}

void rec_thread_full(rec_thread_t *t) {
  rec_t *r = t->rec;
  pthread_mutex_lock(&r->lock);
  handoff(t);
  pthread_mutex_unlock(&r->lock);
}

void rec_thread_flush(rec_thread_t *t, int final) {
  rec_t *r = t->rec;
  pthread_mutex_lock(&r->lock);
  handoff(t);
  /* A thread's last events form a partial chunk: write it now, so that a
   * later SIGKILL cannot lose the events of a thread that has ended. */
  if (final && atomic_load(&r->state) == REC_RUNNING)
    set_error(r, r->sink.flush(r->sink_ctx));
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
  if (adds != r->mod_adds || subs != r->mod_subs) rec_modules_refresh(r);
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
