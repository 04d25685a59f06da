/* rec_preload.c: libhkrec.so, the LD_PRELOAD interposer of the recorder.
 * A thin layer over the core (recorder.h): it exports the allocator entry
 * points, the exec family, fork handling, _exit/abort and dlclose, turns
 * each call into one event and hands it to the calling thread's buffer;
 * and the descriptor calls (close, close_range, closefrom, dup2, dup3)
 * that could release the trace's fd to the program.
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
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
static sighandler_t (*real_signal)(int, sighandler_t);
static int (*real_close)(int);
static int (*real_close_range)(unsigned, unsigned, int);
static void (*real_closefrom)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);

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
  R(sigaction);
  R(signal);
  R(close);
  R(close_range);
  R(closefrom);
  R(dup2);
  R(dup3);
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

/* The runtime switches this process's constructor set (rec_runtime.c),
 * for the recorded environment. */
static unsigned g_runtimes_set;
static __thread rec_thread_t *t_state TLS_IE;
static __thread int t_busy TLS_IE;
static __thread int t_exited TLS_IE;
/* This hook's calls go to the session's late state (rec_late_enter), whose
 * lock it holds until leave(). */
static __thread int t_late TLS_IE;
static __thread int t_dtor_rounds TLS_IE;
/* An asynchronous fatal signal (SIGTERM, SIGINT) that came while the
 * thread was inside the recorder: handled when it leaves (see on_signal). */
static __thread int t_pending TLS_IE;

static void deliver_pending(void);
/* Leaves a recorder section entered with t_busy++. */
HK_FORCE_INLINE void unbusy(void) {
  if (--t_busy == 0 && HK_UNLIKELY(t_pending)) deliver_pending();
}

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
  cfg.runtimes_set = g_runtimes_set;
  rec_t *r = NULL;
  int rc = rec_create(&r, &cfg, NULL, NULL);
  if (rc) {
    /* The file that failed (the .1 one after an exec), else the name. */
    char path[1100];
    const char *fp = rec_create_failed_path();
    if (fp[0])
      memcpy(path, fp, strlen(fp) + 1);
    else if (rec_output_path(path, sizeof path, cfg.out, getpid(), 0))
      path[0] = 0;
    if (!cfg.quiet && cfg.out_error)
      say("HKREC_OUT is longer than ", "1023 bytes", "; the program runs ",
          "unrecorded");
    else if (!cfg.quiet)
      say("cannot record to ", path, ": ",
          rc == -EEXIST ? "file exists; the program runs unrecorded"
                        : hk_strerror(rc));
    atomic_store(&g_mode, MODE_DONE);
    unbusy();
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
  if (cfg.discard && !cfg.quiet)
    say("HKREC_DISCARD=1: the events are dropped unread (a measurement of ",
        "the hooks' own cost); the trace has none", NULL, NULL);
  atomic_store(&g_mode, MODE_ON);
  unbusy();
}

/* Ends the session of this process (not of a vfork child sharing our
 * memory). try_only: signal context, do not wait for the lock. */
static void end_session(int try_only) {
  if (atomic_load(&g_mode) != MODE_ON || !g_rec || getpid() != g_pid) return;
  t_busy++;
  int rc = rec_finish(g_rec, try_only);
  if (rc == HK_E_STATE && try_only) {
    unbusy();
    return;
  }
  atomic_store(&g_mode, MODE_DONE);
  if (rc && !rec_config(g_rec)->quiet)
    say("recording stopped early, trace incomplete: ", rec_path(g_rec), ": ",
        hk_strerror(rc));
  unbusy();
}

static HK_NOINLINE rec_thread_t *enter_slow(void) {
  if (t_busy) return NULL;
  if (atomic_load(&g_mode) == MODE_IDLE) start_session();
  if (atomic_load(&g_mode) != MODE_ON) return NULL;
  rec_t *r = g_rec;
  if (t_state && t_state->rec == r) return NULL; /* session stopped */
  if (t_exited) { /* past its last key destructor: glibc's own frees */
    t_busy = 1; /* before the lock: a signal handler's call passes through */
    rec_thread_t *l = rec_late_enter(r);
    if (!l) {
      atomic_fetch_add(&r->dropped, 1);
      unbusy();
      return NULL;
    }
    t_late = 1;
    return l; /* enter() keeps t_busy; leave() unlocks, then clears it */
  }
  t_busy++;
  rec_thread_t *t = rec_thread_attach(r, gettid());
  if (t) {
    if (g_key_ok) pthread_setspecific(g_key, t);
    t_state = t;
  }
  unbusy();
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
static HK_NOINLINE void late_leave(void) {
  t_late = 0;
  rec_late_leave(g_rec);
}
/* The late lock goes before the guard: a signal handler's call between
 * the two would wait for it on this same thread. */
HK_FORCE_INLINE void leave(void) {
  if (HK_UNLIKELY(t_late)) late_leave();
  t_busy = 0;
  if (HK_UNLIKELY(t_pending)) deliver_pending();
}

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

/* Hook-time sampling around the real call (rec_sample_due): SAMPLE_PRE
 * before it, SAMPLE_POST after it, SAMPLE_END once the event is stored.
 * A sampled event's recorder time is the hook less the real call. */
#define SAMPLE_PRE uint64_t s_pre = rec_sample_due(t) ? hk_tsc_raw() : 0
#define SAMPLE_POST uint64_t s_post = s_pre ? hk_tsc_raw() : 0
#define SAMPLE_END                                                             \
  do {                                                                         \
    if (HK_UNLIKELY(s_pre)) rec_sample_add(t, s_pre, s_pre, s_post);           \
  } while (0)

/* ---- allocator entry points ------------------------------------------ */

HK_EXPORT void *malloc(size_t size) {
  if (HK_UNLIKELY(!ready())) {
    resolve();
    if (!real_malloc) return boot_alloc(size, 16);
  }
  rec_thread_t *t = enter();
  if (!t) return real_malloc(size);
  SAMPLE_PRE;
  void *p = real_malloc(size);
  SAMPLE_POST;
  uint64_t ts = rec_stamp_after(t);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_MALLOC, p ? 0 : TRC_EV_FAILED, ts, (uintptr_t)p, 0, size,
           0, 0, site);
  SAMPLE_END;
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
  SAMPLE_PRE;
  void *p = real_calloc(nmemb, size);
  SAMPLE_POST;
  uint64_t ts = rec_stamp_after(t);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_CALLOC, p ? 0 : TRC_EV_FAILED, ts, (uintptr_t)p, 0, size,
           nmemb, 0, site);
  SAMPLE_END;
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
  uint64_t s_pre = rec_sample_due(t) ? hk_tsc_raw() : 0;
  uint64_t ts = rec_stamp_before(t);
  uint64_t s_call = s_pre ? hk_tsc_raw() : 0;
  real_free(p);
  uint64_t s_post = s_pre ? hk_tsc_raw() : 0;
  rec_push(t, TRC_OP_FREE, 0, ts, (uintptr_t)p, 0, 0, 0, 0, 0);
  if (HK_UNLIKELY(s_pre)) rec_sample_add(t, s_pre, s_call, s_post);
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
  SAMPLE_PRE;
  void *p = real_realloc(old, size);
  SAMPLE_POST;
  /* One stamp, after: the new block exists only from here, and the old
   * one is released at the very end of the call. */
  uint64_t ts = rec_stamp_after(t);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_REALLOC, !p && size ? TRC_EV_FAILED : 0, ts,
           (uintptr_t)p, (uintptr_t)old, size, 0, 0, site);
  SAMPLE_END;
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
  SAMPLE_PRE;
  void *p = real_reallocarray(old, nmemb, size);
  SAMPLE_POST;
  uint64_t ts = rec_stamp_after(t);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_REALLOCARRAY, !p && nmemb && size ? TRC_EV_FAILED : 0, ts,
           (uintptr_t)p, (uintptr_t)old, size, nmemb, 0, site);
  SAMPLE_END;
  leave();
  return p;
}

HK_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  if (HK_UNLIKELY(!ready())) resolve();
  rec_thread_t *t = enter();
  if (!t) return real_posix_memalign(out, align, size);
  SAMPLE_PRE;
  int rc = real_posix_memalign(out, align, size);
  SAMPLE_POST;
  uint64_t ts = rec_stamp_after(t);
  uint32_t site = site_here(t, RETADDR);
  rec_push(t, TRC_OP_POSIX_MEMALIGN, rc ? TRC_EV_FAILED : 0, ts,
           rc ? 0 : (uintptr_t)*out, 0, size, 0, align, site);
  SAMPLE_END;
  leave();
  return rc;
}

#define ALIGNED_HOOK(name, OP, params, args, align_expr, size_expr)            \
  HK_EXPORT void *name params {                                                \
    if (HK_UNLIKELY(!ready())) resolve();                                      \
    rec_thread_t *t = enter();                                                 \
    if (!t) return real_##name args;                                           \
    SAMPLE_PRE;                                                                \
    void *p = real_##name args;                                                \
    SAMPLE_POST;                                                               \
    uint64_t ts = rec_stamp_after(t);                                     \
    uint32_t site = site_here(t, RETADDR);                                     \
    rec_push(t, OP, p ? 0 : TRC_EV_FAILED, ts, (uintptr_t)p, 0, size_expr, 0,  \
             align_expr, site);                                                \
    SAMPLE_END;                                                                \
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
  unbusy();
}

/* The writer thread is stopped across fork (rec_fork_prepare): the child
 * inherits no recorder thread and no lock held by one. */
static void fork_prepare(void) {
  t_busy++;
  if (g_rec) rec_fork_prepare(g_rec);
}

static void fork_parent(void) {
  if (g_rec) rec_fork_parent(g_rec);
  unbusy();
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
  t_late = 0;
  t_dtor_rounds = 0;
  if (g_key_ok) pthread_setspecific(g_key, NULL);
  if (old) rec_fork_child(old);
  g_reported = 0;
  atomic_store(&g_mode, MODE_IDLE);
  unbusy();
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
    unbusy();
  }
  return rc;
}

/* ---- the trace's fd: close, close_range, closefrom, dup2, dup3 ------- */

/* The trace's fd lives among the program's (the writer keeps it high).
 * The fstat check before each write catches a number the program closed
 * or replaced, but not one closed and taken again by another thread of
 * the program between that check and the write. So the program's calls
 * that close or replace descriptors never release it:
 *  - close(T), dup2(T, x), dup3(T, x, f) fail with EBADF, as the kernel
 *    answers for a number the program never opened;
 *  - close_range and closefrom over a range holding T close the rest and
 *    succeed (what a daemon's close loop expects);
 *  - dup2(x, T), dup3(x, T, f) first move the trace to another high
 *    number under the writer's fd lock (no check-then-write straddles
 *    it), then let the call replace T.
 * Each call runs inside the writer's fd gate (trc_writer_gate_enter): T
 * cannot change meanwhile, and the common path takes no lock. The
 * recorder's own calls (t_busy), calls outside a session and other
 * processes sharing our memory (vfork) go straight through; raw system
 * calls are left to the fstat check. Cancellation is held off inside the
 * gate, so a cancelled close cannot leave it entered. */

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int sys_close(int fd) {
  return real_close ? real_close(fd) : (int)syscall(SYS_close, fd);
}
static int sys_close_range(unsigned first, unsigned last, int flags) {
  if (real_close_range) return real_close_range(first, last, flags);
#ifdef SYS_close_range
  return (int)syscall(SYS_close_range, first, last, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}
/* Closes lo..hi, one by one where close_range is missing. */
static void close_span(int lo, int hi) {
  if (lo > hi || sys_close_range((unsigned)lo, (unsigned)hi, 0) == 0) return;
  for (int fd = lo; fd <= hi; fd++) sys_close(fd);
}

/* The session's writer when this call must pass its gate, else NULL. */
static trc_writer_t *fd_writer(void) {
  if (t_busy || atomic_load(&g_mode) != MODE_ON) return NULL;
  rec_t *r = g_rec;
  return r ? rec_trace_writer(r) : NULL;
}

typedef struct fd_call {
  trc_writer_t *w;
  trc_fd_gate_t g;
  int cancel; /* the thread's cancel state before */
} fd_call_t;

/* The trace's fd if the call touches it (in [lo, hi]) and the number
 * still holds the trace, else -1: a number a raw system call gave the
 * program is the program's. */
static int fd_touched(fd_call_t *c, long lo, long hi) {
  int t = c->g.fd;
  if (t < 0 || t < lo || t > hi) return -1;
  return trc_writer_gate_holds(c->w, &c->g) ? t : -1;
}

static void fd_call_begin(fd_call_t *c) {
  t_busy++;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &c->cancel);
  trc_writer_gate_enter(c->w, &c->g);
}
/* Leaves the gate; returns rc with errno set to e. */
static int fd_call_end(fd_call_t *c, int rc, int e) {
  trc_writer_gate_leave(c->w, &c->g);
  pthread_setcancelstate(c->cancel, NULL);
  unbusy();
  errno = e;
  return rc;
}

HK_EXPORT int close(int fd) {
  if (!ready()) resolve();
  fd_call_t c = {fd_writer(), {-1, 0}, 0};
  if (!c.w) return sys_close(fd);
  fd_call_begin(&c);
  if (fd_touched(&c, fd, fd) >= 0) return fd_call_end(&c, -1, EBADF);
  int rc = sys_close(fd);
  return fd_call_end(&c, rc, errno);
}

HK_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  if (!ready()) resolve();
  fd_call_t c = {fd_writer(), {-1, 0}, 0};
  if (!c.w) return sys_close_range(first, last, flags);
  fd_call_begin(&c);
  int t = fd_touched(&c, (long)first, (long)last), rc = 0, e = errno;
  /* CLOSE_RANGE_CLOEXEC closes nothing (the trace is close-on-exec). */
  if (t < 0 || (flags & (int)CLOSE_RANGE_CLOEXEC) || first > last) {
    rc = sys_close_range(first, last, flags);
    return fd_call_end(&c, rc, errno);
  }
  if ((unsigned)t > first && sys_close_range(first, (unsigned)t - 1, flags))
    rc = -1, e = errno;
  if ((unsigned)t < last && sys_close_range((unsigned)t + 1, last, flags) &&
      !rc)
    rc = -1, e = errno;
  return fd_call_end(&c, rc, e);
}

HK_EXPORT void closefrom(int lowfd) {
  if (!ready()) resolve();
  if (lowfd < 0) lowfd = 0;
  fd_call_t c = {fd_writer(), {-1, 0}, 0};
  if (c.w) {
    fd_call_begin(&c);
    int t = fd_touched(&c, lowfd, INT_MAX);
    if (t >= 0) {
      close_span(lowfd, t - 1);
      lowfd = t + 1;
    }
  }
  if (real_closefrom)
    real_closefrom(lowfd);
  else
    close_span(lowfd, INT_MAX);
  if (c.w) fd_call_end(&c, 0, errno);
}

/* The real dup2 (is3 0) or dup3; by system call while dlsym runs. */
static int sys_dup(int is3, int oldfd, int newfd, int flags) {
  if (is3 ? real_dup3 != NULL : real_dup2 != NULL)
    return is3 ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
  if (!is3 && oldfd == newfd) return fcntl(oldfd, F_GETFD) < 0 ? -1 : newfd;
  return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

static int dup_hook(int is3, int oldfd, int newfd, int flags) {
  if (!ready()) resolve();
  fd_call_t c = {fd_writer(), {-1, 0}, 0};
  if (!c.w) return sys_dup(is3, oldfd, newfd, flags);
  fd_call_begin(&c);
  /* dup3 with equal numbers is EINVAL whatever they are. */
  if (fd_touched(&c, oldfd, oldfd) >= 0 && !(is3 && oldfd == newfd))
    return fd_call_end(&c, -1, EBADF);
  int moved = 0;
  if (oldfd != newfd && fd_touched(&c, newfd, newfd) >= 0 &&
      getpid() == g_pid)
    moved = trc_writer_gate_vacate(c.w, &c.g, newfd);
  int rc = sys_dup(is3, oldfd, newfd, flags), e = errno;
  /* A failed call leaves the number as it was for the program: closed
   * (it held our duplicate until now). */
  if (rc < 0 && moved) sys_close(newfd);
  return fd_call_end(&c, rc, e);
}

HK_EXPORT int dup2(int oldfd, int newfd) { return dup_hook(0, oldfd, newfd, 0); }
HK_EXPORT int dup3(int oldfd, int newfd, int flags) {
  return dup_hook(1, oldfd, newfd, flags);
}

/* ---- fatal signals: the last-gasp flush ------------------------------ */

/* The recorder's handler stays first for these signals: it is installed at
 * session start (where the disposition is not SIG_IGN) and sigaction and
 * signal are interposed, so a handler the program installs later is kept
 * as the program's (g_prog) and called from ours; the program reads back
 * its own handler, never ours. When the program's disposition is a
 * handler, ours only calls it (the handler may recover: a GC's SIGSEGV).
 * When it is the default action, the process is about to die: ours writes
 * what is buffered (rec_finish with try_only: trylocks, every wait
 * bounded), then restores the default action and re-raises, so the
 * program dies by the same signal with the same status. A watchdog alarm
 * bounds the flush itself: the coding calls the real malloc, which may
 * hang if the crash left an allocator lock held; then the process dies by
 * its signal all the same, without the summary. */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
                                    SIGTERM, SIGINT};
#define REC_NSIG 65
static struct sigaction g_prog[REC_NSIG]; /* the program's disposition */
static _Atomic unsigned char g_ours[REC_NSIG]; /* our handler is installed */
static _Atomic int g_dying;     /* the first fatal signal being handled */
static _Atomic int g_flush_done;
static __thread int t_in_fatal TLS_IE;
#define REC_WATCHDOG_S 4

static void on_signal(int sig, siginfo_t *si, void *uc);

/* Raised with the default action: the process dies as it would have. */
static void die_by(int sig) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  real_sigaction(sig, &dfl, NULL);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, sig);
  pthread_sigmask(SIG_UNBLOCK, &m, NULL);
  raise(sig);
  /* A signal the kernel holds back (stopped, or ignored by then): the
   * program goes on as if the handler returned. */
}

/* The flush took too long (an allocator lock left held by the crash). */
static void on_watchdog(int alrm) {
  (void)alrm;
  int sig = atomic_load(&g_dying);
  die_by(sig ? sig : SIGKILL);
}

static void last_gasp(int sig) {
  if (atomic_load(&g_mode) != MODE_ON || !g_rec || getpid() != g_pid) return;
  struct sigaction wd;
  memset(&wd, 0, sizeof wd);
  wd.sa_handler = on_watchdog;
  sigemptyset(&wd.sa_mask);
  real_sigaction(SIGALRM, &wd, NULL);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGALRM);
  pthread_sigmask(SIG_UNBLOCK, &m, NULL);
  alarm(REC_WATCHDOG_S);
  t_busy++;
  rec_set_end_signal(g_rec, sig);
  int rc = rec_finish(g_rec, 1);
  if (rc != HK_E_STATE) atomic_store(&g_mode, MODE_DONE);
  t_busy--; /* not unbusy: nothing is pending here */
  alarm(0);
}

/* Calls the program's handler h as the kernel would have (its mask, its
 * SA_RESETHAND). */
static void call_program(int sig, const struct sigaction *h, siginfo_t *si,
                         void *uc) {
  sigset_t m = h->sa_mask, old;
  if (!(h->sa_flags & SA_NODEFER)) sigaddset(&m, sig);
  pthread_sigmask(SIG_BLOCK, &m, &old);
  if (h->sa_flags & SA_RESETHAND) {
    memset(&g_prog[sig], 0, sizeof g_prog[sig]);
    g_prog[sig].sa_handler = SIG_DFL;
  }
  if (h->sa_flags & SA_SIGINFO)
    h->sa_sigaction(sig, si, uc);
  else
    h->sa_handler(sig);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void on_signal(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  struct sigaction h = g_prog[sig];
  int async = sig == SIGTERM || sig == SIGINT;
  if (t_in_fatal) { /* a fault inside our own flush: die by the first one */
    int first = atomic_load(&g_dying);
    die_by(first ? first : sig);
  } else if (async && t_busy) {
    /* Inside the recorder (maybe holding its locks) or the allocator:
     * handled when the thread leaves it (unbusy, leave). */
    t_pending = sig;
  } else if (h.sa_handler == SIG_IGN && !(h.sa_flags & SA_SIGINFO)) {
    /* ignored: nothing to do */
  } else if (h.sa_handler != SIG_DFL || (h.sa_flags & SA_SIGINFO)) {
    call_program(sig, &h, si, uc);
  } else {
    t_in_fatal = 1;
    int zero = 0;
    if (atomic_compare_exchange_strong(&g_dying, &zero, sig)) {
      last_gasp(sig);
      atomic_store(&g_flush_done, 1);
    } else {
      /* Another thread is flushing: let it finish (its watchdog bounds
       * this), then die. */
      while (!atomic_load(&g_flush_done)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
      }
    }
    die_by(sig);
    t_in_fatal = 0;
  }
  errno = saved;
}

static void deliver_pending(void) {
  int sig = t_pending;
  t_pending = 0;
  raise(sig); /* on_signal again, now outside the recorder */
}

/* Installs our handler for sig with the program's SA_RESTART/SA_ONSTACK. */
static int install_ours(int sig, int prog_flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | (prog_flags & (SA_RESTART | SA_ONSTACK));
  sigemptyset(&sa.sa_mask);
  return real_sigaction(sig, &sa, NULL);
}

static void install_signals(void) {
  g_sig_ok = 1;
  for (size_t i = 0; i < HK_ARRAY_LEN(fatal_signals); i++) {
    int sig = fatal_signals[i];
    struct sigaction old;
    if (real_sigaction(sig, NULL, &old)) continue;
    /* An ignored signal (nohup, a shell's background job) stays ignored. */
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN) continue;
    g_prog[sig] = old;
    if (install_ours(sig, old.sa_flags) == 0) atomic_store(&g_ours[sig], 1);
  }
}

/* The program changes or reads the disposition of a signal we hold: it
 * sees and sets its own (g_prog); ours stays installed, except for
 * SIG_IGN, which is installed for real (the signal then kills nobody). */
HK_EXPORT int sigaction(int sig, const struct sigaction *act,
                        struct sigaction *old) {
  if (!ready()) resolve();
  if (sig <= 0 || sig >= REC_NSIG || !atomic_load(&g_ours[sig]))
    return real_sigaction(sig, act, old);
  struct sigaction prev = g_prog[sig];
  if (act) {
    if (!(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_IGN) {
      int rc = real_sigaction(sig, act, NULL);
      if (rc) return rc;
      atomic_store(&g_ours[sig], 0);
    } else {
      g_prog[sig] = *act;
      install_ours(sig, act->sa_flags);
    }
  }
  if (old) *old = prev;
  return 0;
}

/* glibc's signal() has BSD semantics: SA_RESTART, handler kept. */
HK_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  if (!ready()) resolve();
  if (sig <= 0 || sig >= REC_NSIG || !atomic_load(&g_ours[sig]))
    return real_signal(sig, handler);
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, &old)) return SIG_ERR;
  return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction
                                     : old.sa_handler;
}

/* Before main: the runtime switches first (HKREC_RUNTIMES, set by `hksim
 * record`): a runtime reads its variable when it starts, in main or
 * later. setenv's allocations are the recorder's, not recorded. */
__attribute__((constructor)) static void rec_preload_init(void) {
  if (!ready()) resolve();
  rec_config_t cfg;
  rec_config_from_env(&cfg);
  if (cfg.runtimes) {
    t_busy++;
    g_runtimes_set = rec_runtimes_switch(cfg.manifest);
    unbusy();
  }
  if (atomic_load(&g_mode) == MODE_IDLE && !t_busy) start_session();
}

__attribute__((destructor)) static void rec_preload_fini(void) {
  end_session(0);
}
