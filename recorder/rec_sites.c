/* rec_sites.c: the site table of the recorder: stacks of return addresses
 * deduplicated into dense ids (trc_site_t ids, from 1). Open addressing on
 * a 64-bit stack hash, frames kept in one growing array. Called only on a
 * per-thread cache miss, under the session lock. */
#include <stdlib.h>
#include <string.h>

#include "recorder.h"

typedef struct site_ent {
  uint64_t off;   /* index of the first frame in frames[] */
  uint32_t depth;
} site_ent_t;

struct rec_sites_s {
  uint32_t max_sites;
  uint32_t n;          /* ids 1..n */
  uint64_t *slot_hash; /* index: hash per slot (0 = empty) */
  uint32_t *slot_id;
  uint32_t slots;      /* power of two */
  site_ent_t *ents;    /* ents[id] */
  uint32_t ents_cap;
  uint64_t *frames;
  uint64_t frames_n, frames_cap;
};

uint64_t rec_stack_hash(const uint64_t *frames, uint32_t depth) {
  uint64_t h = hk_hash64(frames, (size_t)depth * sizeof *frames, depth);
  return h ? h : 1;
}

int rec_sites_create(rec_sites_t **out, uint32_t max_sites) {
  rec_sites_t *s = calloc(1, sizeof *s);
  if (!s) return HK_E_NOMEM;
  s->max_sites = max_sites ? max_sites : REC_DEFAULT_MAX_SITES;
  s->slots = 1024;
  s->slot_hash = calloc(s->slots, sizeof *s->slot_hash);
  s->slot_id = calloc(s->slots, sizeof *s->slot_id);
  s->ents_cap = 512;
  s->ents = malloc(s->ents_cap * sizeof *s->ents);
  s->frames_cap = 4096;
  s->frames = malloc(s->frames_cap * sizeof *s->frames);
  if (!s->slot_hash || !s->slot_id || !s->ents || !s->frames) {
    rec_sites_free(s);
    return HK_E_NOMEM;
  }
  *out = s;
  return 0;
}

void rec_sites_free(rec_sites_t *s) {
  if (!s) return;
  free(s->slot_hash);
  free(s->slot_id);
  free(s->ents);
  free(s->frames);
  free(s);
}

static int same(const rec_sites_t *s, uint32_t id, const uint64_t *frames,
                uint32_t depth) {
  const site_ent_t *e = &s->ents[id];
  return e->depth == depth &&
         memcmp(s->frames + e->off, frames, depth * sizeof *frames) == 0;
}

static int grow_index(rec_sites_t *s) {
  uint32_t ns = s->slots * 2;
  uint64_t *h = calloc(ns, sizeof *h);
  uint32_t *id = calloc(ns, sizeof *id);
  if (!h || !id) {
    free(h);
    free(id);
    return HK_E_NOMEM;
  }
  for (uint32_t i = 0; i < s->slots; i++) {
    if (!s->slot_hash[i]) continue;
    uint32_t j = (uint32_t)s->slot_hash[i] & (ns - 1);
    while (h[j]) j = (j + 1) & (ns - 1);
    h[j] = s->slot_hash[i];
    id[j] = s->slot_id[i];
  }
  free(s->slot_hash);
  free(s->slot_id);
  s->slot_hash = h;
  s->slot_id = id;
  s->slots = ns;
  return 0;
}

uint32_t rec_sites_intern(rec_sites_t *s, uint64_t hash, const uint64_t *frames,
                          uint32_t depth, int *added) {
  *added = 0;
  if (!hash) hash = 1;
  uint32_t mask = s->slots - 1, j = (uint32_t)hash & mask;
  for (; s->slot_hash[j]; j = (j + 1) & mask)
    if (s->slot_hash[j] == hash && same(s, s->slot_id[j], frames, depth))
      return s->slot_id[j];
  if (s->n >= s->max_sites || s->n + 1 >= s->slots) return 0;
  /* New: make room first so that a failure leaves the table unchanged. */
  if (s->n + 2 > s->ents_cap) {
    uint32_t nc = s->ents_cap * 2;
    site_ent_t *e = realloc(s->ents, nc * sizeof *e);
    if (!e) return 0;
    s->ents = e;
    s->ents_cap = nc;
  }
  if (s->frames_n + depth > s->frames_cap) {
    uint64_t nc = s->frames_cap * 2;
    while (nc < s->frames_n + depth) nc *= 2;
    uint64_t *f = realloc(s->frames, nc * sizeof *f);
    if (!f) return 0;
    s->frames = f;
    s->frames_cap = nc;
  }
  uint32_t id = ++s->n;
  s->ents[id].off = s->frames_n;
  s->ents[id].depth = depth;
  memcpy(s->frames + s->frames_n, frames, depth * sizeof *frames);
  s->frames_n += depth;
  s->slot_hash[j] = hash;
  s->slot_id[j] = id;
  *added = 1;
  if ((uint64_t)s->n * 2 > s->slots) (void)grow_index(s); /* best effort */
  return id;
}

uint32_t rec_sites_count(const rec_sites_t *s) { return s->n; }

const uint64_t *rec_sites_get(const rec_sites_t *s, uint32_t id,
                              uint32_t *depth) {
  if (id == 0 || id > s->n) return NULL;
  *depth = s->ents[id].depth;
  return s->frames + s->ents[id].off;
}

size_t rec_sites_memory(const rec_sites_t *s) {
  return sizeof *s + (size_t)s->slots * (sizeof(uint64_t) + sizeof(uint32_t)) +
         (size_t)s->ents_cap * sizeof(site_ent_t) +
         (size_t)s->frames_cap * sizeof(uint64_t);
}
