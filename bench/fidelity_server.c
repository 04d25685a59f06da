/* fidelity_server.c: a small multi-threaded key-value server on 127.0.0.1
 * and its load generator, the threaded server workload of bench/
 * fidelity.sh (issue 13: "a multi-threaded server under its own benchmark
 * client bound to 127.0.0.1").
 *
 *   fidelity_server serve PORT WORKERS REQUESTS
 *     accepts connections on 127.0.0.1:PORT; an acceptor thread hands each
 *     connection to one of WORKERS threads through a locked queue; exits
 *     after REQUESTS requests. Per request the worker parses the line into
 *     a malloc'd request and token list, looks the key up in a shared cache
 *     (one lock per bucket) and on a miss builds a value of 16 B to 16 KiB;
 *     a PUT replaces the entry, whose old value another worker allocated
 *     (a cross-thread free, where allocators differ most); the cache is
 *     bounded, so entries are evicted by whichever worker inserts.
 *   fidelity_client PORT CONNS [SECONDS]
 *     (argv[1] "client") CONNS threads each connect (retrying every ms
 *     until a server listens), send pipelined GET/PUT lines and read the
 *     replies, reconnecting whenever the server goes away, for SECONDS
 *     (default 600) or until killed: one client serves every live and
 *     recorded run of the server in turn.
 *
 * Only the server is recorded and replayed; the client runs without the
 * allocator under test. Not a test; nothing gates on it. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define BUCKETS 4096
#define CACHE_MAX 20000 /* entries */

typedef struct entry {
  struct entry *next;
  char *key;
  char *val;
  size_t len;
} entry_t;

static entry_t *table[BUCKETS];
static pthread_mutex_t locks[BUCKETS];
static atomic_long cached, served;
static long limit;

/* A connection queue between the acceptor and the workers. */
static int queue[1024];
static unsigned qhead, qtail;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static atomic_int stopping;

static unsigned hash(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static char *make_value(const char *key, size_t *len) {
  unsigned h = hash(key);
  size_t n = 16u << (h % 11); /* 16 B .. 16 KiB */
  n += h % 97;
  char *v = malloc(n + 1);
  for (size_t i = 0; i < n; i++) v[i] = (char)('a' + (h + i) % 26);
  v[n] = 0;
  *len = n;
  return v;
}

/* Evicts one entry of bucket b, another than the caller's own (whose
 * lock it holds): frees what another worker may have allocated. Only if
 * b's lock is free: waiting for it while holding one could deadlock, and
 * touching b without it freed entries another worker was using (glibc
 * aborted one live run in 20 with "unaligned tcache chunk detected"). The
 * cache may then overshoot CACHE_MAX by a few entries. */
static void evict_one(unsigned b) {
  if (pthread_mutex_trylock(&locks[b])) return;
  entry_t *e = table[b];
  if (e) {
    table[b] = e->next;
    free(e->key);
    free(e->val);
    free(e);
    atomic_fetch_sub(&cached, 1);
  }
  pthread_mutex_unlock(&locks[b]);
}

/* Handles one request line; returns the reply length written into *out
 * (a malloc'd buffer the caller frees). */
static size_t handle(char *line, char **out) {
  /* Parse into a token list (the allocations a real parser makes). */
  char **tok = malloc(8 * sizeof *tok);
  int nt = 0;
  for (char *save, *t = strtok_r(line, " \r\n", &save); t && nt < 8;
       t = strtok_r(NULL, " \r\n", &save))
    tok[nt++] = strdup(t);
  size_t rlen = 0;
  if (nt >= 2) {
    unsigned b = hash(tok[1]) % BUCKETS;
    pthread_mutex_lock(&locks[b]);
    entry_t *e = table[b];
    while (e && strcmp(e->key, tok[1])) e = e->next;
    int put = strcmp(tok[0], "PUT") == 0;
    if (!e || put) {
      if (!e) {
        if (atomic_load(&cached) >= CACHE_MAX) evict_one((b + 1) % BUCKETS);
        e = calloc(1, sizeof *e);
        e->key = strdup(tok[1]);
        e->next = table[b];
        table[b] = e;
        atomic_fetch_add(&cached, 1);
      } else {
        free(e->val); /* allocated by whichever worker built it */
      }
      e->val = make_value(put && nt > 2 ? tok[2] : tok[1], &e->len);
    }
    *out = malloc(e->len + 32);
    rlen = (size_t)snprintf(*out, e->len + 32, "%zu %s\n", e->len, e->val);
    pthread_mutex_unlock(&locks[b]);
  } else {
    *out = strdup("ERR\n");
    rlen = 4;
  }
  for (int i = 0; i < nt; i++) free(tok[i]);
  free(tok);
  return rlen;
}

static void serve_conn(int fd) {
  size_t cap = 4096, have = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (have == cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + have, cap - have);
    if (r <= 0) break;
    have += (size_t)r;
    char *nl, *start = buf;
    while ((nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
      *nl = 0;
      char *out = NULL;
      size_t n = handle(start, &out);
      for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, out + off, n - off);
        if (w <= 0) break;
        off += (size_t)w;
      }
      free(out);
      start = nl + 1;
      if (atomic_fetch_add(&served, 1) + 1 >= limit) {
        atomic_store(&stopping, 1);
        break;
      }
    }
    have -= (size_t)(start - buf);
    memmove(buf, start, have);
    if (atomic_load(&stopping)) break;
  }
  free(buf);
  close(fd);
}

static void *worker(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&qlock);
    while (qhead == qtail && !atomic_load(&stopping))
      pthread_cond_wait(&qcond, &qlock);
    if (qhead == qtail) {
      pthread_mutex_unlock(&qlock);
      return NULL;
    }
    int fd = queue[qhead++ % 1024];
    pthread_mutex_unlock(&qlock);
    serve_conn(fd);
  }
}

static int serve(int port, int workers, long requests) {
  limit = requests;
  for (int i = 0; i < BUCKETS; i++) pthread_mutex_init(&locks[i], NULL);
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 128)) {
    fprintf(stderr, "fidelity_server: 127.0.0.1:%d: %s\n", port, strerror(errno));
    return 1;
  }
  pthread_t *t = malloc((size_t)workers * sizeof *t);
  for (int i = 0; i < workers; i++) pthread_create(&t[i], NULL, worker, NULL);
  while (!atomic_load(&stopping)) {
    struct timeval tv = {0, 20000};
    setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_mutex_lock(&qlock);
    if (qtail - qhead < 1024) queue[qtail++ % 1024] = fd;
    else close(fd);
    pthread_cond_signal(&qcond);
    pthread_mutex_unlock(&qlock);
  }
  pthread_mutex_lock(&qlock);
  pthread_cond_broadcast(&qcond);
  pthread_mutex_unlock(&qlock);
  for (int i = 0; i < workers; i++) pthread_join(t[i], NULL);
  while (qhead != qtail) close(queue[qhead++ % 1024]);
  close(ls);
  for (unsigned b = 0; b < BUCKETS; b++)
    while (table[b]) evict_one(b);
  free(t);
  printf("served %ld requests\n", (long)atomic_load(&served));
  return 0;
}

/* ---- the load generator ------------------------------------------------ */

static int cport;
static double cuntil;

static void *client(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
  char *rbuf = malloc(1 << 16);
  while (now_s() < cuntil) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cport)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
      close(fd);
      usleep(1000);
      continue;
    }
    /* A connect to a port nobody listens on can connect the socket to
     * itself when its ephemeral port is that port (TCP simultaneous open),
     * which then keeps the next server from binding it. */
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0 &&
        me.sin_port == a.sin_port) {
      close(fd);
      usleep(1000);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) { /* batches of 16 pipelined requests */
      char req[16 * 48];
      size_t n = 0;
      for (int k = 0; k < 16; k++) {
        seed = seed * 1103515245u + 12345u;
        unsigned key = (seed >> 8) % 30000;
        int put = (seed >> 4) % 5 == 0;
        n += (size_t)snprintf(req + n, sizeof req - n, put ? "PUT k%u v%u\n" : "GET k%u\n",
                              key, seed % 1000);
      }
      if (write(fd, req, n) != (ssize_t)n) break;
      int lines = 0;
      while (lines < 16) {
        ssize_t r = read(fd, rbuf, 1 << 16);
        if (r <= 0) break;
        for (ssize_t k = 0; k < r; k++) lines += rbuf[k] == '\n';
      }
      if (lines < 16) break;
    }
    close(fd);
  }
  free(rbuf);
  return NULL;
}

static int run_client(int port, int conns, double seconds) {
  cport = port;
  cuntil = now_s() + seconds;
  pthread_t *t = malloc((size_t)conns * sizeof *t);
  for (int i = 0; i < conns; i++)
    pthread_create(&t[i], NULL, client, (void *)(uintptr_t)i);
  for (int i = 0; i < conns; i++) pthread_join(t[i], NULL);
  free(t);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "serve") == 0)
    return serve(atoi(argv[2]), atoi(argv[3]), atol(argv[4]));
  if (argc >= 4 && strcmp(argv[1], "client") == 0)
    return run_client(atoi(argv[2]), atoi(argv[3]),
                      argc > 4 ? atof(argv[4]) : 600);
  fprintf(stderr,
          "usage: fidelity_server serve PORT WORKERS REQUESTS\n"
          "       fidelity_server client PORT CONNS [SECONDS]\n");
  return 2;
}
