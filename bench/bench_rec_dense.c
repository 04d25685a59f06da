/* bench_rec_dense.c: allocation-dense victims for bench_recorder.sh, the
 * programs that outrun a trace writer (issue 15). Deterministic per seed.
 * Not a test: bench_recorder.sh runs them with and without the recorder.
 *
 *   bench_rec_dense small N
 *     One thread, N allocations of 16..128 bytes (2N events), each freed
 *     a few allocations later (a window of 64 live blocks): glibc serves
 *     them from its tcache, so the program itself makes tens of millions
 *     of events per second and does almost nothing else. Prints its
 *     checksum, `thread_cpu_s X`, the CPU time of its one thread (a
 *     recorder's writer thread is not in it), and `thread_switches V I`,
 *     its voluntary (it blocked) and involuntary context switches.
 *   bench_rec_dense server SECONDS THREADS
 *     A fixed-duration, server-like throughput benchmark: each thread
 *     handles "requests" (3..9 allocations of mixed sizes, touched, then
 *     freed; every 8th request's buffer is passed to the next thread,
 *     which frees it) until SECONDS have passed, then prints
 *     `ops_per_s X` (allocations + frees per second over all threads).
 *     Under a recorder, wall time stays SECONDS; what a recorder costs
 *     shows as lower throughput. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- small ------------------------------------------------------------ */

#define WIN 64
static int run_small(long n) {
  void *win[WIN] = {0};
  uint64_t seed = 42, sum = 0;
  for (long i = 0; i < n; i++) {
    uint64_t r = next(&seed);
    unsigned slot = (unsigned)(r >> 58); /* 0..63 */
    free(win[slot]);
    unsigned char *p = malloc(16 + (r & 7) * 16);
    p[0] = (unsigned char)i;
    sum += p[0];
    win[slot] = p;
  }
  for (int i = 0; i < WIN; i++) free(win[i]);
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  struct rusage ru = {0};
  getrusage(RUSAGE_THREAD, &ru);
  printf("checksum %llu\nthread_cpu_s %.6f\nthread_switches %ld %ld\n",
         (unsigned long long)sum,
         (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9, ru.ru_nvcsw,
         ru.ru_nivcsw);
  return 0;
}

/* ---- server ----------------------------------------------------------- */

#define MAXT 64
#define MBOX 4096
typedef struct mbox {
  pthread_mutex_t mu;
  void *v[MBOX];
  int n;
} mbox_t;

static mbox_t boxes[MAXT];
static int nthreads;
static double deadline;
static _Atomic int stop;
static _Atomic uint64_t total_ops;

static void drain(int self, uint64_t *ops) {
  mbox_t *b = &boxes[self];
  void *local[MBOX];
  pthread_mutex_lock(&b->mu);
  int n = b->n;
  memcpy(local, b->v, (size_t)n * sizeof local[0]);
  b->n = 0;
  pthread_mutex_unlock(&b->mu);
  for (int i = 0; i < n; i++) free(local[i]);
  *ops += (uint64_t)n;
}

static void *server_worker(void *arg) {
  int self = (int)(intptr_t)arg;
  uint64_t seed = 777 + (uint64_t)self, ops = 0;
  for (long req = 0; !atomic_load_explicit(&stop, memory_order_relaxed); req++) {
    void *blk[10];
    uint64_t r = next(&seed);
    int k = 3 + (int)(r % 7);
    for (int i = 0; i < k; i++) {
      uint64_t q = next(&seed);
      size_t sz = (q & 3) ? 16 + (q >> 8) % 200 : 256 + (q >> 8) % 4000;
      unsigned char *p = malloc(sz);
      p[0] = (unsigned char)q;
      p[sz - 1] = (unsigned char)i;
      blk[i] = p;
    }
    ops += (uint64_t)k;
    int pass = (req & 7) == 0 && nthreads > 1;
    for (int i = pass ? 1 : 0; i < k; i++) free(blk[i]);
    ops += (uint64_t)(k - pass);
    if (pass) {
      mbox_t *b = &boxes[(self + 1) % nthreads];
      pthread_mutex_lock(&b->mu);
      if (b->n < MBOX) {
        b->v[b->n++] = blk[0];
        blk[0] = NULL;
      }
      pthread_mutex_unlock(&b->mu);
      if (blk[0]) {
        free(blk[0]);
        ops++;
      }
    }
    if ((req & 255) == 0) {
      drain(self, &ops);
      if (self == 0 && now_s() >= deadline) atomic_store(&stop, 1);
    }
  }
  atomic_fetch_add(&total_ops, ops);
  return NULL;
}

static int run_server(double secs, int threads) {
  nthreads = threads;
  for (int i = 0; i < threads; i++) pthread_mutex_init(&boxes[i].mu, NULL);
  double t0 = now_s();
  deadline = t0 + secs;
  pthread_t th[MAXT];
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, server_worker, (void *)(intptr_t)i);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  double el = now_s() - t0;
  uint64_t ops = atomic_load(&total_ops);
  for (int i = 0; i < threads; i++) {
    uint64_t o = 0;
    drain(i, &o); /* not counted: after the measured interval */
  }
  printf("ops_per_s %.0f\n", (double)ops / el);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "small") == 0) {
    long n = atol(argv[2]);
    if (n > 0) return run_small(n);
  }
  if (argc == 4 && strcmp(argv[1], "server") == 0) {
    double s = atof(argv[2]);
    int t = atoi(argv[3]);
    if (s > 0 && t >= 1 && t <= MAXT) return run_server(s, t);
  }
  fprintf(stderr, "usage: bench_rec_dense small N | server SECONDS THREADS(1..%d)\n",
          MAXT);
  return 2;
}
