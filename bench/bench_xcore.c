/* bench_xcore.c: what a producer pays to write records that a thread on
 * another core reads, as the recorder's hooks do for its writer thread
 * (docs/recorder.md, "The ninth round"). One thread fills 4 buffers of
 * 4096 records in turn (4 words, or 8 at 64 bytes), the other takes each
 * full buffer, reads every word of it (or, "unread", only hands it back)
 * and returns it; the threads are pinned to CPUs 0 and 1 when there are
 * two. The figure is the filler's CPU time per record while it fills
 * (its waits for a free buffer left out), for records of 64 and 32
 * bytes, read and unread, in interleaved rounds: median and range, and
 * the read/unread ratio of each size. Not a test.
 *   bench_xcore [ROUNDS=7] [MILLION_RECORDS=40] */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

#define BLOCK 4096
#define NBUF 4

typedef struct run {
  int size;   /* bytes a record */
  int read;   /* the other thread reads each buffer */
  long n;     /* records */
  int pin;    /* pin the threads to CPUs 0 and 1 */
  char *buf[NBUF];
  _Atomic int full[NBUF];
  uint64_t sum; /* what the reader read, kept */
} run_t;

static void pin_to(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *reader(void *arg) {
  run_t *r = arg;
  if (r->pin) pin_to(1);
  long nb = r->n / BLOCK;
  uint64_t s = 0;
  for (long b = 0; b < nb; b++) {
    int i = (int)(b % NBUF);
    while (!atomic_load_explicit(&r->full[i], memory_order_acquire)) {
    }
    if (r->read) {
      const uint64_t *p = (const uint64_t *)r->buf[i];
      size_t words = (size_t)BLOCK * (size_t)r->size / 8;
      for (size_t k = 0; k < words; k++) s += p[k];
    }
    atomic_store_explicit(&r->full[i], 0, memory_order_release);
  }
  r->sum = s;
  return NULL;
}

/* ns of the filler's CPU per record, or a negative value on failure. */
static double one(int size, int read, long n, int pin) {
  run_t r = {.size = size, .read = read, .n = n, .pin = pin};
  for (int i = 0; i < NBUF; i++) {
    r.buf[i] = aligned_alloc(64, (size_t)BLOCK * (size_t)size);
    if (!r.buf[i]) return -1;
    memset(r.buf[i], 0, (size_t)BLOCK * (size_t)size);
  }
  if (pin) pin_to(0);
  pthread_t th;
  if (pthread_create(&th, NULL, reader, &r)) return -1;
  double fill = 0;
  long nb = n / BLOCK;
  for (long b = 0; b < nb; b++) {
    int i = (int)(b % NBUF);
    while (atomic_load_explicit(&r.full[i], memory_order_acquire)) {
    }
    double t0 = thread_cpu_s();
    char *p = r.buf[i];
    for (int e = 0; e < BLOCK; e++) {
      uint64_t *q = (uint64_t *)(p + (size_t)e * (size_t)size);
      q[0] = (uint64_t)b;
      q[1] = (uint64_t)e;
      q[2] = (uint64_t)e * 3;
      q[3] = 7;
      if (size == 64) {
        q[4] = 0;
        q[5] = 0;
        q[6] = 0;
        q[7] = 1;
      }
    }
    fill += thread_cpu_s() - t0;
    atomic_store_explicit(&r.full[i], 1, memory_order_release);
  }
  pthread_join(th, NULL);
  for (int i = 0; i < NBUF; i++) free(r.buf[i]);
  if (r.sum == 1) fputc(' ', stderr); /* keep the reads */
  return fill / (double)(nb * BLOCK) * 1e9;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  double mrec = argc > 2 ? atof(argv[2]) : 40;
  if (rounds < 1 || rounds > 31 || mrec <= 0 || mrec > 1000 || argc > 3) {
    fprintf(stderr, "usage: bench_xcore [ROUNDS 1..31] [MILLION_RECORDS]\n");
    return 2;
  }
  long n = (long)(mrec * 1e6);
  int pin = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
  static const int sizes[2] = {64, 32};
  double v[2][2][31];
  double load = -1;
  getloadavg(&load, 1);
  printf("load %.2f, %d rounds of %ld records each, threads %s\n", load,
         rounds, n, pin ? "pinned to CPUs 0 and 1" : "not pinned");
  for (int k = 0; k < rounds; k++)
    for (int s = 0; s < 2; s++)
      for (int rd = 0; rd < 2; rd++) {
        v[s][rd][k] = one(sizes[s], rd, n, pin);
        if (v[s][rd][k] < 0) {
          fprintf(stderr, "bench_xcore: out of memory or threads\n");
          return 1;
        }
      }
  printf("record  unread ns (range)       read ns (range)         read/unread\n");
  for (int s = 0; s < 2; s++) {
    double ulo, uhi, rlo, rhi;
    double u = bench_median(v[s][0], rounds, &ulo, &uhi);
    double r = bench_median(v[s][1], rounds, &rlo, &rhi);
    printf("%3d B   %6.2f (%5.2f-%5.2f)   %6.2f (%5.2f-%5.2f)   %5.2fx\n",
           sizes[s], u, ulo, uhi, r, rlo, rhi, r / u);
  }
  printf("the filler's CPU per record while it fills; read: the other thread "
         "reads each\nbuffer before it is filled again\n"
         "reproduce: build/bench/bench_xcore %d %g\n", rounds, mrec);
  return 0;
}
