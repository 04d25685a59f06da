/* v_hostile.c: victims that treat the recorder roughly, as daemons and
 * crashing programs do (issue 10). argv: RANGES_FILE MODE [ARG].
 *   closefds OUT  10000 mallocs in hostile_alloc, closes fds 3..1023,
 *                 opens OUT, writes its 50 bytes, 10000 more mallocs,
 *                 frees all in hostile_free. OUT must hold its 50 bytes.
 *   dup2 OUT      like closefds, but dup2()s its own file over the number
 *                 of the trace fd (found in /proc/self/fd) instead.
 *   closefds_raw OUT, dup2_raw OUT: the same through raw system calls
 *                 (syscall(2)), which no interposer sees.
 *   race_close_range DIR, race_closefrom DIR, race_dup2 DIR: one thread
 *                 allocates and frees in hostile_alloc/hostile_free while
 *                 another, 300 times, closes every fd from 3 up
 *                 (close_range(3, ~0U, 0), or closefrom(3)) and opens
 *                 40 files DIR/f0..f39 of its own, or dup2()s one file
 *                 of its own over the trace's number; it writes 64 bytes
 *                 to each file and reads them back. Fails (exit 7) when a
 *                 file holds anything else.
 *   doublefree    20000 malloc/free pairs, 1000 blocks kept, then frees one
 *                 block twice: glibc aborts (SIGABRT) inside free.
 *   segvfree      the same, then frees a pointer into a PROT_NONE page:
 *                 SIGSEGV inside free.
 *   busy4         4 threads allocate and free (a quarter of the frees
 *                 crossing threads) until the process is killed.
 *   handler       20000 pairs, installs a SIGTERM handler with signal()
 *                 after recording started, checks sigaction reads it back,
 *                 raises SIGTERM: the handler runs, the program exits 0.
 *   sigint        20000 pairs, raises SIGINT (no handler): dies by it.
 *   cross64       64 threads make 4000 allocations each in hostile_alloc,
 *                 half of them freed by the next thread (handed over with
 *                 an atomic exchange), the rest by their own.
 *   joined        a thread makes 1000 pairs and is joined; main sleeps
 *                 50 ms, makes 1000 pairs and returns 0.
 *   late          50 threads in turn each fail a dlopen and read dlerror
 *                 (glibc keeps the message in a per-thread buffer it
 *                 frees after the thread's key destructors) and make 100
 *                 pairs; then main makes 2000 allocations of small sizes
 *                 (reusing those addresses) and frees them.
 * Exit 0 when every call of its own succeeded. */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "victim.h"

#define N 10000

__attribute__((noinline)) void *hostile_alloc(size_t n) { return malloc(n); }
__attribute__((noinline)) void hostile_free(void *p) { free(p); }

static void *blocks[2 * N];

static const char payload[51] = "the program's own fifty bytes, nothing else here.\n";

/* The fd whose link ends in ".hkt": the recorder's trace. */
static int trace_fd(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    char p[64], l[4096];
    snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
    ssize_t k = readlink(p, l, sizeof l - 1);
    if (k > 4 && memcmp(l + k - 4, ".hkt", 4) == 0) found = atoi(e->d_name);
  }
  closedir(d);
  return found;
}

static int own_file(const char *mode, const char *out) {
  int fd, raw = strstr(mode, "_raw") != NULL;
  if (strncmp(mode, "closefds", 8) == 0) {
    for (int i = 3; i < 1024; i++) {
      if (raw)
        syscall(SYS_close, i);
      else
        close(i);
    }
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  } else {
    int t = trace_fd();
    if (t < 0) {
      fprintf(stderr, "v_hostile: no trace fd found\n");
      return -1;
    }
    printf("trace fd %d\n", t);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || (raw ? (int)syscall(SYS_dup3, fd, t, 0) : dup2(fd, t)) != t)
      return -1;
    close(fd);
    fd = t; /* the program now writes through the trace's old number */
  }
  if (fd < 0) return -1;
  return write(fd, payload, 50) == 50 ? fd : -1;
}

static void pairs(int n, int keep) {
  for (int i = 0; i < n; i++) {
    void *p = hostile_alloc(16 + (size_t)(i % 50) * 8);
    victim_use(p);
    if (i < keep)
      blocks[i] = p;
    else
      hostile_free(p);
  }
}

static void *_Atomic handoff[4];

static void *busy(void *arg) {
  int self = (int)(intptr_t)arg;
  for (unsigned i = 0;; i++) {
    void *p = hostile_alloc(16 + (size_t)(i % 64) * 8);
    victim_use(p);
    if (i % 4 == 0) {
      p = atomic_exchange(&handoff[(self + 1) % 4], p);
      if (!p) continue;
    }
    hostile_free(p);
  }
  return NULL;
}

static void *thousand(void *arg) {
  (void)arg;
  pairs(1000, 0);
  return NULL;
}

static void *_Atomic slots[64];

static void *cross(void *arg) {
  int self = (int)(intptr_t)arg;
  for (int i = 0; i < 4000; i++) {
    void *p = hostile_alloc(16 + (size_t)(i % 32) * 16);
    victim_use(p);
    if (i % 2 == 0) {
      p = atomic_exchange(&slots[(self + 1) % 64], p);
      if (!p) continue;
    }
    hostile_free(p);
  }
  return NULL;
}

/* ---- race_*: descriptor calls racing the recorder's writes ---------- */

#define RACE_ROUNDS 300
#define RACE_FILES 40
#define RACE_BYTES 64
static atomic_int race_done;

static void *race_alloc(void *arg) {
  (void)arg;
  void *keep[64] = {0};
  for (unsigned i = 0; !atomic_load(&race_done) && i < 2000000; i++) {
    void *p = hostile_alloc(16 + (size_t)(i % 40) * 8);
    victim_use(p);
    p = (void *)atomic_exchange((_Atomic(void *) *)&keep[i % 64], p);
    if (p) hostile_free(p);
  }
  for (int i = 0; i < 64; i++) hostile_free(keep[i]);
  return NULL;
}

/* Writes the 64 bytes of (round, file) through fd and reads them back. */
static int race_write(int fd, int round, int file) {
  char want[RACE_BYTES + 1], got[RACE_BYTES + 8];
  snprintf(want, sizeof want, "round %04d file %02d: the program's own bytes%*s\n",
           round, file, RACE_BYTES, "");
  want[RACE_BYTES - 1] = '\n';
  if (write(fd, want, RACE_BYTES) != RACE_BYTES) return 1;
  ssize_t k = pread(fd, got, sizeof got, 0);
  if (k != RACE_BYTES || memcmp(got, want, RACE_BYTES) != 0) {
    fprintf(stderr, "v_hostile: round %d file %d (fd %d) holds %zd bytes, not its %d\n",
            round, file, fd, k, RACE_BYTES);
    return 1;
  }
  return 0;
}

static int race(const char *how, const char *dir) {
  pthread_t t;
  if (pthread_create(&t, NULL, race_alloc, NULL)) return 1;
  int bad = 0, dup = strcmp(how, "race_dup2") == 0;
  char path[4096];
  for (int r = 0; r < RACE_ROUNDS && !bad; r++) {
    if (strcmp(how, "race_close_range") == 0)
      bad |= close_range(3, ~0U, 0) != 0;
    else if (strcmp(how, "race_closefrom") == 0)
      closefrom(3);
    int files = dup ? 1 : RACE_FILES;
    for (int j = 0; j < files && !bad; j++) {
      snprintf(path, sizeof path, "%s/f%d", dir, j);
      /* No O_TRUNC: ext4 writes a truncated file back at its close. */
      int fd = open(path, O_RDWR | O_CREAT, 0644);
      if (fd < 0) {
        perror(path);
        bad = 1;
        break;
      }
      int tf = dup ? trace_fd() : -1; /* none while a writer reopens */
      if (tf >= 0) { /* onto the trace's number: the program's now */
        if (dup2(fd, tf) != tf) {
          fprintf(stderr, "v_hostile: dup2 onto the trace fd %d failed\n", tf);
          bad = 1;
          break;
        }
        close(fd);
        fd = tf;
      }
      bad |= race_write(fd, r, j) ? 7 : 0;
      if (dup) bad |= close(fd) != 0;
    }
  }
  atomic_store(&race_done, 1);
  pthread_join(t, NULL);
  return bad;
}

static volatile sig_atomic_t got_term;
static void on_term(int sig) { got_term = sig; }

/* A failed dlopen leaves its message in a buffer glibc frees at thread
 * exit, after every pthread key destructor has run. */
static void *late_thread(void *arg) {
  (void)arg;
  if (!dlopen("/nonexistent/v_hostile_late.so", RTLD_NOW)) (void)dlerror();
  for (int i = 0; i < 100; i++) hostile_free(hostile_alloc(40));
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  FILE *f = fopen(argv[1], "w");
  victim_range(f, "hostile_alloc", (void *)hostile_alloc);
  victim_range(f, "hostile_free", (void *)hostile_free);
  if (f) fclose(f);
  const char *mode = argv[2];
  if (strncmp(mode, "race_", 5) == 0 && argc > 3) return race(mode, argv[3]);
  if ((strncmp(mode, "closefds", 8) == 0 || strncmp(mode, "dup2", 4) == 0) &&
      argc > 3) {
    for (int i = 0; i < N; i++) blocks[i] = hostile_alloc(16 + (size_t)(i % 50) * 8);
    int fd = own_file(mode, argv[3]);
    if (fd < 0) return 1;
    for (int i = N; i < 2 * N; i++) blocks[i] = hostile_alloc(16 + (size_t)(i % 50) * 8);
    for (int i = 0; i < 2 * N; i++) hostile_free(blocks[i]);
    return close(fd) == 0 ? 0 : 1;
  }
  if (strcmp(mode, "doublefree") == 0) {
    pairs(20000, 1000);
    void *p = hostile_alloc(100);
    hostile_free(p);
    hostile_free(p);
    return 3; /* not reached: glibc aborts */
  }
  if (strcmp(mode, "segvfree") == 0) {
    pairs(20000, 1000);
    char *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 1;
    hostile_free(page + 64);
    return 3; /* not reached */
  }
  if (strcmp(mode, "busy4") == 0) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, busy, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    return 0;
  }
  if (strcmp(mode, "handler") == 0) {
    pairs(20000, 0);
    if (signal(SIGTERM, on_term) != SIG_DFL) return 4; /* the old one: default */
    struct sigaction now;
    if (sigaction(SIGTERM, NULL, &now) || now.sa_handler != on_term) return 5;
    raise(SIGTERM);
    if (got_term != SIGTERM) return 6;
    pairs(100, 0);
    return 0;
  }
  if (strcmp(mode, "cross64") == 0) {
    pthread_t t[64];
    for (int i = 0; i < 64; i++)
      if (pthread_create(&t[i], NULL, cross, (void *)(intptr_t)i)) return 1;
    for (int i = 0; i < 64; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 64; i++) free(atomic_exchange(&slots[i], NULL));
    return 0;
  }
  if (strcmp(mode, "joined") == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, thousand, NULL) || pthread_join(t, NULL)) return 1;
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    pairs(1000, 0);
    return 0;
  }
  if (strcmp(mode, "late") == 0) {
    for (int i = 0; i < 50; i++) {
      pthread_t t;
      if (pthread_create(&t, NULL, late_thread, NULL) || pthread_join(t, NULL))
        return 1;
    }
    for (int i = 0; i < 2000; i++) blocks[i] = hostile_alloc(16 + (size_t)(i % 40) * 8);
    for (int i = 0; i < 2000; i++) hostile_free(blocks[i]);
    return 0;
  }
  if (strcmp(mode, "sigint") == 0) {
    pairs(20000, 0);
    raise(SIGINT);
    return 3; /* not reached */
  }
  return 2;
}
