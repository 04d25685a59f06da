/* rec_preload.c: libhkrec.so, the LD_PRELOAD interposer of the recorder.
 * A thin layer over the core (recorder.h): it exports the allocator entry
 * points, the exec family, fork handling, _exit/abort and dlclose, turns
 * each call into one event and hands it to the calling thread's buffer.
 * Everything else in the library has hidden visibility (rec_preload.map).
 *
 * Bootstrap and recursion rules, the one place they are written down:
 *  1. The real functions come from dlsym(RTLD_NEXT). dlsym itself may call
 *     calloc/malloc before they are known: those calls are served from a
 *     static arena (boot_*), whose blocks are never freed and are
 *     recognised by address in free/realloc/malloc_usable_size.
 *  2. A thread-local nesting guard, t_busy, is set while the recorder runs
 *     on a thread: in the hooks around the real call and the bookkeeping,
 *     in session start and end, in fork and signal handlers, and for good
 *     in the recorder's writer thread (writer_thread_init). Any allocator
 *     call made with it set (the writer, zstd, libunwind, dl_iterate_phdr,
 *     the real allocator calling itself) goes straight to the real
 *     function: never recorded, never recursing.
 *  3. Thread-locals use the initial-exec TLS model: reading them never
 *     calls __tls_get_addr, which may allocate.
 *  4. The session starts lazily at the first allocation (or in the
 *     constructor, whichever comes first) and ends in the destructor, in
 *     _exit, abort, before exec and on fatal signals (best effort).
 *  5. dlopen is not interposed: glibc resolves a bare name against the
 *     caller's RUNPATH, and an interposer would become the caller. Loads
 *     are seen through the loader's generation counters instead, checked
 *     before every new site is written (rec_site_of), so a site's module
 *     is always in the file before the site. dlclose is interposed to stamp
 *     unloads promptly. */

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec_internal.h"

#define TLS_IE __attribute__((tls_model("initial-exec")))

/* ---- real functions and the bootstrap arena -------------------------- */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_reallocarray)(void *, size_t, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static size_t (*real_malloc_usable_size)(void *);
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execv)(const char *, char *const[]);
static int (*real_execvp)(const char *, char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);
static void (*real__exit)(int) __attribute__((noreturn));
static void (*real__Exit)(int) __attribute__((noreturn));
static void (*real_abort)(void) __attribute__((noreturn));
static int (*real_dlclose)(void *);

#define BOOT_SIZE (256u << 10)
static _Alignas(64) unsigned char boot_arena[BOOT_SIZE];
static size_t boot_used;
static int resolving;

HK_FORCE_INLINE int in_boot(const void *p) {
  return (const unsigned char *)p >= boot_arena &&
         (const unsigned char *)p < boot_arena + BOOT_SIZE;
}

/* 16-byte header holding the size; never freed. Single-threaded: it runs
 * only while the first thread resolves the real functions. */
static void *boot_alloc(size_t size, size_t align) {
  if (align < 16) align = 16;
  size_t start = (boot_used + 16 + align - 1) & ~(align - 1);
  if (size > BOOT_SIZE || start + size > BOOT_SIZE) return NULL;
  boot_used = start + size;
  ((size_t *)(boot_arena + start))[-1] = size;
  return boot_arena + start;
}
static size_t boot_size(const void *p) { return ((const size_t *)p)[-1]; }

static void resolve(void) {
  if (resolving) return;
  resolving = 1;
#define R(name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name)
  R(calloc);
  R(malloc);
  R(realloc);
  R(reallocarray);
  R(free);
  R(posix_memalign);
  R(aligned_alloc);
  R(memalign);
  R(valloc);
  R(pvalloc);
  R(malloc_usable_size);
  R(execve);
  R(execv);
  R(execvp);
  R(execvpe);
  R(fexecve);
  R(_exit);
  R(_Exit);
  R(abort);
  R(dlclose);
#undef R
  resolving = 0;
}

HK_FORCE_INLINE int ready(void) { return HK_LIKELY(real_free != NULL); }

/* ---- per-process and per-thread state -------------------------------- */

enum { MODE_IDLE = 0, MODE_STARTING, MODE_ON, MODE_DONE };

static _Atomic int g_mode;
static rec_t *g_rec;
static int64_t g_pid;
static uint32_t g_depth = 1;
static pthread_key_t g_key;
static int g_key_ok, g_atfork_ok, g_sig_ok, g_reported;

static __thread rec_thread_t *t_state TLS_IE;
static __thread int t_busy TLS_IE;
static __thread int t_exited TLS_IE;
static __thread int t_dtor_rounds TLS_IE;

/* One line on stderr, once per process, without stdio. */
static void say(const char *a, const char *b, const char *c, const char *d) {
  if (g_reported) return;
  g_reported = 1;
  const char *parts[] = {"hkrec: ", a, b, c, d, "\n"};
  for (size_t i = 0; i < HK_ARRAY_LEN(parts); i++) {
    if (!parts[i]) continue;
    ssize_t k = write(2, parts[i], strlen(parts[i]));
    (void)k;
  }
}

static void thread_dtor(void *v);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);
static void install_signals(void);

/* First thing in the recorder's writer thread: the guard is set for good,
 * so nothing the writer (trc_writer, zstd) allocates is recorded, and the
 * thread never attaches (it is not a traced thread). */
static void writer_thread_init(void) { t_busy = 1; }

static void start_session(void) {
  int idle = MODE_IDLE;
  if (!atomic_compare_exchange_strong(&g_mode, &idle, MODE_STARTING)) return;
  t_busy++;
  if (!g_key_ok) g_key_ok = pthread_key_create(&g_key, thread_dtor) == 0;
  if (!g_atfork_ok)
    g_atfork_ok = pthread_atfork(fork_prepare, fork_parent, fork_child) == 0;
  rec_config_t cfg;
  rec_config_from_env(&cfg);
  rec_t *r = NULL;
  int rc = rec_create(&r, &cfg, NULL, NULL);
  if (rc) {
    char path[1100];
    if (rec_output_path(path, sizeof path, cfg.out, getpid(), 0)) path[0] = 0;
    if (!cfg.quiet && cfg.out_error)
      say("HKREC_OUT is longer than ", "1023 bytes", "; the program runs ",
          "unrecorded");
    else if (!cfg.quiet)
      say("cannot record to ", path, ": ",
          rc == -EEXIST ? "file exists; the program runs unrecorded"
                        : hk_strerror(rc));
    atomic_store(&g_mode, MODE_DONE);
    t_busy--;
    return;
  }
  rec_skip_add_module_of(rec_skip(r), (const void *)start_session);
  rec_skip_add_cxx_operators(rec_skip(r));
  rec_unwind_init();
  rec_set_writer_init(r, writer_thread_init);
  g_depth = rec_config(r)->depth;
  g_pid = getpid();
  g_rec = r;
  if (cfg.signals && !g_sig_ok) install_signals();
  atomic_store(&g_mode, MODE_ON);
  t_busy--;
}

/* Ends the session of this process (not of a vfork child sharing our
 * memory). try_only: signal context, do not wait for the lock. */
static void end_session(int try_only) {
  if (atomic_load(&g_mode) != MODE_ON || !g_rec || getpid() != g_pid) return;
  t_busy++;
  int rc = rec_finish(g_rec, try_only);
  if (rc == HK_E_STATE && try_only) {
    t_busy--;
    return;
  }
  atomic_store(&g_mode, MODE_DONE);
  if (rc && !rec_config(g_rec)->quiet)
    say("recording stopped early, trace incomplete: ", rec_path(g_rec), ": ",
        hk_strerror(rc));
  t_busy--;
}

static HK_NOINLINE rec_thread_t *enter_slow(void) {
  if (t_busy) return NULL;
  if (atomic_load(&g_mode) == MODE_IDLE) start_session();
  if (atomic_load(&g_mode) != MODE_ON) return NULL;
  rec_t *r = g_rec;
  if (t_state && t_state->rec == r) return NULL; /* session stopped */
  if (t_exited) {
    atomic_fetch_add(&r->dropped, 1);
    return NULL;
  }
  t_busy++;
  rec_thread_t *t = rec_thread_attach(r, gettid());
  if (t) {
    if (g_key_ok) pthread_setspecific(g_key, t);
    t_state = t;
  }
  t_busy--;
  return t && rec_state(r) == REC_RUNNING ? t : NULL;
}

/* The gate of every hook: the thread's state with the guard taken, or
 * NULL (pass straight through). Fast path: three loads, one branch. */
HK_FORCE_INLINE rec_thread_t *enter(void) {
  rec_thread_t *t = t_state;
  if (HK_LIKELY(t && !t_busy &&
                atomic_load_explicit(&t->rec->state, memory_order_relaxed) ==
                    REC_RUNNING)) {
    t_busy = 1;
    return t;
  }
  t = enter_slow();
  if (t) t_busy = 1;
  return t;
}
HK_FORCE_INLINE void leave(void) { t_busy = 0; }

/* The site of the current call. ret is the hook's return address. Depth 1
 * with a cached caller costs one cache probe; otherwise the stack is
 * walked (C++ operator new frames are skipped to reach user code). */
static HK_NOINLINE uint32_t site_slow(rec_thread_t *t, uint64_t a) {
  if (g_depth == 1 && !rec_skip_has(&t->rec->skip, a))
    return rec_site_of(t, &a, 1);
  uint64_t frames[TRC_MAX_DEPTH];
  uint32_t n = rec_capture(frames, g_depth, &t->rec->skip);
  return rec_site_of(t, frames, n);
}
/* The stack walk is out of line, so that the hooks' fast path keeps a
 * small frame. */
HK_FORCE_INLINE uint32_t site_here(rec_thread_t *t, void *ret) {
  uint64_t a = (uint64_t)(uintptr_t)ret;
  if (g_depth == 1) {
    uint32_t id = rec_cache_get(&t->cache, a);
    if (HK_LIKELY(id)) return id;
  }
  return site_slow(t, a);
}

#define RETADDR __builtin_return_address(0)

/* ---- allocator entry points ------------------------------------------ */

HK_EXPORT void *malloc(size_t size) {
  if (HK_UNLIKELY(!ready())) {
    resolve();
    if (!real_malloc) return boot_alloc(size, 16);
  }
  rec_thread_t *t = enter();
  if (!t) return real_malloc(size);
  void *p = real_malloc(size);
  uint64_t ts = rec_stamp_after(t->rec);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_MALLOC, p ? 0 : TRC_EV_FAILED, ts, (uintptr_t)p, 0, size,
           0, 0, site);
  leave();
  return p;
}

HK_EXPORT void *calloc(size_t nmemb, size_t size) {
  if (HK_UNLIKELY(!ready())) {
    resolve();
    if (!real_calloc) {
      size_t n;
      if (__builtin_mul_overflow(nmemb, size, &n)) return NULL;
      return boot_alloc(n, 16); /* static memory is zero */
    }
  }
  rec_thread_t *t = enter();
  if (!t) return real_calloc(nmemb, size);
  void *p = real_calloc(nmemb, size);
  uint64_t ts = rec_stamp_after(t->rec);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_CALLOC, p ? 0 : TRC_EV_FAILED, ts, (uintptr_t)p, 0, size,
           nmemb, 0, site);
  leave();
  return p;
}

HK_EXPORT void free(void *p) {
  if (HK_UNLIKELY(!p || in_boot(p))) return;
  if (HK_UNLIKELY(!ready())) resolve();
  rec_thread_t *t = enter();
  if (!t) {
    real_free(p);
    return;
  }
  /* Stamped before the call: once the block is back, another thread may
   * get it and stamp its allocation. Frees carry no site. */
  uint64_t ts = rec_stamp_before(t->rec);
  real_free(p);
  rec_push(t, TRC_OP_FREE, 0, ts, (uintptr_t)p, 0, 0, 0, 0, 0);
  leave();
}

static void *boot_realloc(void *old, size_t size) {
  void *p = malloc(size);
  if (p) {
    size_t n = boot_size(old);
    memcpy(p, old, n < size ? n : size);
  }
  return p;
}

HK_EXPORT void *realloc(void *old, size_t size) {
  if (HK_UNLIKELY(!ready())) {
    resolve();
    if (!real_realloc) return old ? NULL : boot_alloc(size, 16);
  }
  if (HK_UNLIKELY(old && in_boot(old))) return boot_realloc(old, size);
  rec_thread_t *t = enter();
  if (!t) return real_realloc(old, size);
  void *p = real_realloc(old, size);
  /* One stamp, after: the new block exists only from here, and the old
   * one is released at the very end of the call. */
  uint64_t ts = rec_stamp_after(t->rec);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_REALLOC, !p && size ? TRC_EV_FAILED : 0, ts,
           (uintptr_t)p, (uintptr_t)old, size, 0, 0, site);
  leave();
  return p;
}

HK_EXPORT void *reallocarray(void *old, size_t nmemb, size_t size) {
  if (HK_UNLIKELY(!ready())) resolve();
  if (HK_UNLIKELY(old && in_boot(old))) {
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n)) {
      errno = ENOMEM;
      return NULL;
    }
    return boot_realloc(old, n);
  }
  rec_thread_t *t = enter();
  if (!t) return real_reallocarray(old, nmemb, size);
  void *p = real_reallocarray(old, nmemb, size);
  uint64_t ts = rec_stamp_after(t->rec);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_REALLOCARRAY, !p && nmemb && size ? TRC_EV_FAILED : 0, ts,
           (uintptr_t)p, (uintptr_t)old, size, nmemb, 0, site);
  leave();
  return p;
}

HK_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  if (HK_UNLIKELY(!ready())) resolve();
  rec_thread_t *t = enter();
  if (!t) return real_posix_memalign(out, align, size);
  int rc = real_posix_memalign(out, align, size);
  uint64_t ts = rec_stamp_after(t->rec);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_POSIX_MEMALIGN, rc ? TRC_EV_FAILED : 0, ts,
           rc ? 0 : (uintptr_t)*out, 0, size, 0, align, site);
  leave();
  return rc;
}

#define ALIGNED_HOOK(name, OP, params, args, align_expr, size_expr)            \
  HK_EXPORT void *name params {                                                \
    if (HK_UNLIKELY(!ready())) resolve();                                      \
    rec_thread_t *t = enter();                                                 \
    if (!t) return real_##name args;                                           \
    void *p = real_##name args;                                                \
    uint64_t ts = rec_stamp_after(t->rec);                                     \
    uint32_t site = site_here(t, RETADDR);                                     \
    rec_push(t, OP, p ? 0 : TRC_EV_FAILED, ts, (uintptr_t)p, 0, size_expr, 0,  \
             align_expr, site);                                                \
    leave();                                                                   \
    return p;                                                                  \
  }

ALIGNED_HOOK(aligned_alloc, TRC_OP_ALIGNED_ALLOC, (size_t align, size_t size),
             (align, size), align, size)
ALIGNED_HOOK(memalign, TRC_OP_MEMALIGN, (size_t align, size_t size),
             (align, size), align, size)
ALIGNED_HOOK(valloc, TRC_OP_VALLOC, (size_t size), (size),
             (uint64_t)sysconf(_SC_PAGESIZE), size)
ALIGNED_HOOK(pvalloc, TRC_OP_PVALLOC, (size_t size), (size),
             (uint64_t)sysconf(_SC_PAGESIZE), size)

HK_EXPORT size_t malloc_usable_size(void *p) {
  if (p && in_boot(p)) return boot_size(p);
  if (HK_UNLIKELY(!ready())) resolve();
  return real_malloc_usable_size ? real_malloc_usable_size(p) : 0;
}

/* ---- threads, fork, exec, exit --------------------------------------- */

/* pthread key destructor: runs at thread exit, in rounds. The state is
 * kept through PTHREAD_DESTRUCTOR_ITERATIONS rounds so that the frees of
 * destructors of later keys are still recorded; the last round writes
 * the thread's final partial chunk and releases the state for reuse. */
static void thread_dtor(void *v) {
  rec_thread_t *t = v;
  if (!t || t != t_state) return;
  t_busy++;
  if (++t_dtor_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
    pthread_setspecific(g_key, t);
  } else {
    rec_thread_flush(t, 1);
    t_state = NULL;
    t_exited = 1;
  }
  t_busy--;
}

/* The writer thread is stopped across fork (rec_fork_prepare): the child
 * inherits no recorder thread and no lock held by one. */
static void fork_prepare(void) {
  t_busy++;
  if (g_rec) rec_fork_prepare(g_rec);
}

static void fork_parent(void) {
  if (g_rec) rec_fork_parent(g_rec);
  t_busy--;
}

/* The child drops the parent's session (its other threads do not exist
 * here; the parent writes its own events, queued ones included) and
 * starts its own file, with its own writer thread, at its next
 * allocation. */
static void fork_child(void) {
  rec_t *old = g_rec;
  g_rec = NULL;
  t_state = NULL;
  t_exited = 0;
  t_dtor_rounds = 0;
  if (g_key_ok) pthread_setspecific(g_key, NULL);
  if (old) rec_fork_child(old);
  g_reported = 0;
  atomic_store(&g_mode, MODE_IDLE);
  t_busy--;
}

static int exec_pending;

/* The image is about to be replaced: finish this process's file (the new
 * image records to its own). A vfork child (another pid sharing our
 * memory) must not touch the parent's session. */
static void before_exec(void) {
  if (atomic_load(&g_mode) != MODE_ON || getpid() != g_pid) return;
  end_session(0);
  exec_pending = 1;
}

/* exec failed: the process goes on, recording into a new file (.1). */
static void after_failed_exec(void) {
  if (!exec_pending) return;
  exec_pending = 0;
  if (atomic_load(&g_mode) == MODE_DONE) atomic_store(&g_mode, MODE_IDLE);
}

#define EXEC_WRAP(call)                                                        \
  do {                                                                         \
    before_exec();                                                             \
    int rc_ = call;                                                            \
    int e_ = errno;                                                            \
    after_failed_exec();                                                       \
    errno = e_;                                                                \
    return rc_;                                                                \
  } while (0)

HK_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  if (!ready()) resolve();
  EXEC_WRAP(real_execve(path, argv, envp));
}
HK_EXPORT int execv(const char *path, char *const argv[]) {
  if (!ready()) resolve();
  EXEC_WRAP(real_execv(path, argv));
}
HK_EXPORT int execvp(const char *file, char *const argv[]) {
  if (!ready()) resolve();
  EXEC_WRAP(real_execvp(file, argv));
}
HK_EXPORT int execvpe(const char *file, char *const argv[],
                      char *const envp[]) {
  if (!ready()) resolve();
  EXEC_WRAP(real_execvpe(file, argv, envp));
}
HK_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  if (!ready()) resolve();
  EXEC_WRAP(real_fexecve(fd, argv, envp));
}

/* execl, execlp, execle: glibc builds the array and calls execve
 * internally (not through the PLT), so they are wrapped here. */
#define COLLECT_ARGS(arg0, last, want_env)                                     \
  va_list ap;                                                                  \
  size_t argc_ = 1;                                                            \
  va_start(ap, last);                                                          \
  while (va_arg(ap, char *)) argc_++;                                          \
  va_end(ap);                                                                  \
  char **argv_ = __builtin_alloca((argc_ + 1) * sizeof(char *));               \
  char *const *envp_ = NULL;                                                   \
  va_start(ap, last);                                                          \
  argv_[0] = (char *)(arg0);                                                   \
  for (size_t i_ = 1; i_ <= argc_; i_++) argv_[i_] = va_arg(ap, char *);       \
  if (want_env) envp_ = va_arg(ap, char *const *);                             \
  va_end(ap);                                                                  \
  (void)envp_

HK_EXPORT int execl(const char *path, const char *arg, ...) {
  COLLECT_ARGS(arg, arg, 0);
  return execv(path, argv_);
}
HK_EXPORT int execlp(const char *file, const char *arg, ...) {
  COLLECT_ARGS(arg, arg, 0);
  return execvp(file, argv_);
}
HK_EXPORT int execle(const char *path, const char *arg, ...) {
  COLLECT_ARGS(arg, arg, 1);
  return execve(path, argv_, envp_);
}

HK_EXPORT void _exit(int status) {
  if (!ready()) resolve();
  end_session(0);
  real__exit(status);
}
HK_EXPORT void _Exit(int status) {
  if (!ready()) resolve();
  end_session(0);
  real__Exit(status);
}
HK_EXPORT void abort(void) {
  if (!ready()) resolve();
  if (!t_busy) end_session(1);
  real_abort();
}

HK_EXPORT int dlclose(void *h) {
  if (!ready()) resolve();
  int rc = real_dlclose(h);
  if (atomic_load(&g_mode) == MODE_ON && !t_busy && getpid() == g_pid) {
    t_busy++;
    rec_modules_refresh(g_rec);
    t_busy--;
  }
  return rc;
}

/* Fatal signals whose disposition is the default: finish the file (if no
 * lock is in the way: never wait in a signal handler), then die the way
 * the signal would have killed the program. SIGINT is left alone: programs
 * such as python look at its initial disposition. */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
                                    SIGTERM};

static void on_fatal(int sig) {
  int saved = errno;
  if (!t_busy) end_session(1);
  signal(sig, SIG_DFL);
  raise(sig);
  errno = saved;
}

static void install_signals(void) {
  g_sig_ok = 1;
  for (size_t i = 0; i < HK_ARRAY_LEN(fatal_signals); i++) {
    struct sigaction old, sa;
    if (sigaction(fatal_signals[i], NULL, &old) || old.sa_handler != SIG_DFL ||
        (old.sa_flags & SA_SIGINFO))
      continue;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(fatal_signals[i], &sa, NULL);
  }
}

__attribute__((constructor)) static void rec_preload_init(void) {
  if (!ready()) resolve();
  if (atomic_load(&g_mode) == MODE_IDLE && !t_busy) start_session();
}

__attribute__((destructor)) static void rec_preload_fini(void) {
  end_session(0);
}
