/* rpl_shard.c: splitting a replay's run matrix into N shards (--shard I/N),
 * so that N processes, on one machine or on a cluster's job array, make
 * exactly the runs one session would, each with its own seed and repeat
 * number. The split is a pure function of the matrix and the runs'
 * weights (their trace's op count), independent of the order runs are
 * made in. */
#include <stdlib.h>
#include <string.h>

#include "rpl_internal.h"

typedef struct item {
  uint64_t weight;
  size_t index;
} item_t;

static int heavier_first(const void *a, const void *b) {
  const item_t *x = a, *y = b;
  if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

void rpl_shard_plan(const uint64_t *weight, size_t n_runs, uint32_t n_shards,
                    uint32_t *owner) {
  if (n_shards <= 1) {
    memset(owner, 0, n_runs * sizeof *owner);
    return;
  }
  item_t *it = malloc(n_runs * sizeof *it);
  uint64_t *load = calloc(n_shards, sizeof *load);
  if (!it || !load) {
    /* No memory for the balanced split: round robin is still a partition
     * that every shard computes alike. */
    for (size_t k = 0; k < n_runs; k++) owner[k] = (uint32_t)(k % n_shards);
    free(it);
    free(load);
    return;
  }
  for (size_t k = 0; k < n_runs; k++) it[k] = (item_t){weight[k], k};
  qsort(it, n_runs, sizeof *it, heavier_first);
  /* Longest processing time first: within 4/3 of the best makespan, and
   * equal weights (one trace's runs) spread round robin. Weights of 0 still
   * count 1, so a matrix of empty traces is spread too. */
  for (size_t k = 0; k < n_runs; k++) {
    uint32_t best = 0;
    for (uint32_t s = 1; s < n_shards; s++)
      if (load[s] < load[best]) best = s;
    owner[it[k].index] = best;
    load[best] += it[k].weight ? it[k].weight : 1;
  }
  free(it);
  free(load);
}

int rpl_shard_parse(const char *s, uint32_t *index, uint32_t *count) {
  if (!s || *s < '0' || *s > '9') return -1;
  char *end;
  unsigned long i = strtoul(s, &end, 10);
  if (*end != '/' || end[1] < '0' || end[1] > '9') return -1;
  unsigned long n = strtoul(end + 1, &end, 10);
  if (*end || n < 1 || n > 65536 || i >= n) return -1;
  *index = (uint32_t)i;
  *count = (uint32_t)n;
  return 0;
}

uint64_t rpl_trace_events(const char *path) {
  trc_reader_t *r;
  if (trc_reader_open(&r, path)) return 0;
  uint64_t events = 0;
  trc_chunk_t c;
  /* The index pass checks each chunk but decodes no event column. */
  while (trc_reader_next_index(r, &c) == 1)
    if (c.kind == TRC_CHUNK_EVENTS) events += c.n;
  trc_reader_free(r);
  return events;
}
