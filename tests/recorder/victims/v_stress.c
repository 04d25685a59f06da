/* v_stress.c: victim for the recorder's writer thread. argv: RANGES_FILE
 * MODE. hammer: 8 threads make ITEMS small malloc/free pairs each in
 * hammer_alloc/hammer_free, a quarter of the frees crossing threads (run
 * with a tiny HKREC_BLOCK and HKREC_BUFFERS=2, so that threads wait for
 * the writer). fork: 4 threads hammer while a fifth forks FORKS times;
 * each child makes 100 pairs in child_site and exits (a child that hangs
 * dies by its alarm). fork_cache: after the writer started and went idle,
 * one fork (which joins it), then 12 threads created and joined, each
 * making one pair in worker_site: glibc's stack cache reuses or trims the
 * stack the writer had. Exit 0 when every child exited 0. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "victim.h"

#define THREADS 8
#define ITEMS 20000
#define FORKS 20

static void *_Atomic handoff[THREADS];
static _Atomic int failures;

__attribute__((noinline)) void *hammer_alloc(size_t n) { return malloc(n); }
__attribute__((noinline)) void hammer_free(void *p) { free(p); }
__attribute__((noinline)) void child_site(int n) {
  for (int i = 0; i < n; i++) free(malloc(128));
}

__attribute__((noinline)) void worker_site(void) { free(malloc(64)); }

static void *worker(void *arg) {
  worker_site();
  return arg;
}

/* The writer's stack, once in glibc's cache, must not bring the trace a
 * free it never allocated (rec_core.c ensure_writer). */
static int fork_cache(void) {
  for (int i = 0; i < 1000; i++) child_site(1); /* buffers handed over */
  usleep(100000); /* the writer drains: not restarted by the fork */
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) return 1;
  pthread_t th[THREADS + 4];
  for (int i = 0; i < THREADS + 4; i++)
    if (pthread_create(&th[i], NULL, worker, NULL)) return 1;
  for (int i = 0; i < THREADS + 4; i++) pthread_join(th[i], NULL);
  return 0;
}

static void *hammer(void *arg) {
  int self = (int)(intptr_t)arg, nthreads = self >> 8;
  self &= 0xff;
  for (int i = 0; i < ITEMS; i++) {
    void *p = hammer_alloc(16 + (size_t)(i % 64) * 8);
    victim_use(p);
    if (i % 4 == 0) { /* leave it to the next thread, free what was left */
      p = atomic_exchange(&handoff[(self + 1) % nthreads], p);
      if (!p) continue;
    }
    hammer_free(p);
  }
  return NULL;
}

static void *forker(void *arg) {
  (void)arg;
  for (int i = 0; i < FORKS; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      alarm(20);
      child_site(100);
      exit(0);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0)
      atomic_fetch_add(&failures, 1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  FILE *f = fopen(argv[1], "w");
  victim_range(f, "hammer", (void *)hammer_alloc);
  victim_range(f, "child", (void *)child_site);
  victim_range(f, "worker", (void *)worker_site);
  if (f) fclose(f);
  if (strcmp(argv[2], "fork_cache") == 0) return fork_cache();
  int fork_mode = strcmp(argv[2], "fork") == 0;
  int n = fork_mode ? 4 : THREADS;
  pthread_t th[THREADS + 1];
  for (int i = 0; i < n; i++)
    pthread_create(&th[i], NULL, hammer, (void *)(intptr_t)(i | n << 8));
  if (fork_mode) pthread_create(&th[n], NULL, forker, NULL);
  for (int i = 0; i < n + fork_mode; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < n; i++) free(atomic_exchange(&handoff[i], NULL));
  return atomic_load(&failures) ? 1 : 0;
}
