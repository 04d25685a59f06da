/* v_threads.c: producer/consumer victim: PRODUCERS threads allocate ITEMS
 * blocks each in produce_one(), CONSUMERS threads free them in
 * consume_one(): every free crosses threads. argv: RANGES_FILE. */
#include <pthread.h>
#include <stdlib.h>

#include "victim.h"

#define PRODUCERS 3
#define CONSUMERS 2
#define ITEMS 20000
#define QCAP 256

static void *q[QCAP];
static int qh, qt, qn, done_producers;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;

__attribute__((noinline)) void *produce_one(int i) {
  return malloc(16 + (size_t)(i % 200) * 8);
}
__attribute__((noinline)) void consume_one(void *p) { free(p); }

static void *producer(void *arg) {
  (void)arg;
  for (int i = 0; i < ITEMS; i++) {
    void *p = produce_one(i);
    pthread_mutex_lock(&mu);
    while (qn == QCAP) pthread_cond_wait(&not_full, &mu);
    q[qt] = p;
    qt = (qt + 1) % QCAP;
    qn++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&mu);
  }
  pthread_mutex_lock(&mu);
  done_producers++;
  pthread_cond_broadcast(&not_empty);
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void *consumer(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (qn == 0 && done_producers < PRODUCERS)
      pthread_cond_wait(&not_empty, &mu);
    if (qn == 0) {
      pthread_mutex_unlock(&mu);
      return NULL;
    }
    void *p = q[qh];
    qh = (qh + 1) % QCAP;
    qn--;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&mu);
    consume_one(p);
  }
}

int main(int argc, char **argv) {
  FILE *f = argc > 1 ? fopen(argv[1], "w") : NULL;
  victim_range(f, "produce", (void *)produce_one);
  victim_range(f, "consume", (void *)consume_one);
  if (f) fclose(f);
  pthread_t p[PRODUCERS], c[CONSUMERS];
  for (int i = 0; i < CONSUMERS; i++) pthread_create(&c[i], NULL, consumer, NULL);
  for (int i = 0; i < PRODUCERS; i++) pthread_create(&p[i], NULL, producer, NULL);
  for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
  for (int i = 0; i < CONSUMERS; i++) pthread_join(c[i], NULL);
  return 0;
}
