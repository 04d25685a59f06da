/* bench_recorder.c: the threaded stress of bench_recorder.sh: 4 threads
 * allocate mixed sizes (16 B .. 64 KiB, mostly small) and free them; 20%
 * of the frees are made by another thread (handed over through per-thread
 * mailboxes). Deterministic per seed. Not a test: bench_recorder.sh times
 * it with and without the recorder.   bench_recorder [OPS_PER_THREAD] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define LIVE 4096   /* blocks each thread keeps live */
#define MBOX 8192   /* mailbox slots per thread */

typedef struct mbox {
  pthread_mutex_t mu;
  void *v[MBOX];
  int n;
} mbox_t;

static mbox_t boxes[THREADS];
static long ops_per_thread = 2000000;
static _Atomic uint64_t checksum;

static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static size_t pick_size(uint64_t r) {
  unsigned k = r % 100;
  if (k < 70) return 16 + (r >> 8) % 240;      /* small */
  if (k < 95) return 256 + (r >> 8) % 3840;    /* medium */
  return 4096 + (r >> 8) % 61440;              /* large */
}

static void drain(int self) {
  mbox_t *b = &boxes[self];
  void *local[MBOX];
  pthread_mutex_lock(&b->mu);
  int n = b->n;
  for (int i = 0; i < n; i++) local[i] = b->v[i];
  b->n = 0;
  pthread_mutex_unlock(&b->mu);
  for (int i = 0; i < n; i++) free(local[i]);
}

static void *worker(void *arg) {
  int self = (int)(intptr_t)arg;
  uint64_t seed = 12345 + (uint64_t)self, sum = 0;
  void **live = calloc(LIVE, sizeof *live);
  for (long i = 0; i < ops_per_thread; i++) {
    uint64_t r = next(&seed);
    unsigned slot = (unsigned)(r >> 40) % LIVE;
    if (live[slot]) {
      if (r % 5 == 0) { /* 20%: freed by another thread */
        int to = (self + 1 + (int)((r >> 20) % (THREADS - 1))) % THREADS;
        mbox_t *b = &boxes[to];
        pthread_mutex_lock(&b->mu);
        if (b->n < MBOX) {
          b->v[b->n++] = live[slot];
          live[slot] = NULL;
        }
        pthread_mutex_unlock(&b->mu);
      }
      if (live[slot]) free(live[slot]);
    }
    size_t sz = pick_size(r);
    unsigned char *p = malloc(sz);
    p[0] = (unsigned char)i;
    sum += p[0];
    live[slot] = p;
    if ((i & 1023) == 0) drain(self);
  }
  for (unsigned i = 0; i < LIVE; i++) free(live[i]);
  free(live);
  atomic_fetch_add(&checksum, sum);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) ops_per_thread = atol(argv[1]);
  for (int i = 0; i < THREADS; i++) pthread_mutex_init(&boxes[i].mu, NULL);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < THREADS; i++) drain(i);
  printf("checksum %llu\n", (unsigned long long)atomic_load(&checksum));
  return 0;
}
