/* rec_modules.c: the module map of the recorder: every object the loader
 * mapped (dl_iterate_phdr), with its executable range and GNU build id, so
 * that raw return addresses are symbolized offline. Snapshots are taken
 * with no recorder lock held (dl_iterate_phdr takes the loader's lock, and
 * the loader calls malloc while holding its own), then merged. */
#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hk_elf.h"
#include "recorder.h"

typedef struct mod {
  trc_module_t m;
  char *path;
  uint8_t bid[64];
  int loaded;
} mod_t;

struct rec_modules_s {
  mod_t *v;
  size_t n, cap;
  uint64_t adds, subs; /* loader generation of the last merge */
  int merged;
};

typedef struct snap_ent {
  uint64_t base, lo, hi;
  char *path;
  uint8_t bid[64];
  uint32_t bid_len;
} snap_ent_t;

struct rec_modsnap_s {
  uint64_t adds, subs;
  snap_ent_t *v;
  size_t n, cap;
  int oom;
};

int rec_modules_create(rec_modules_t **out) {
  rec_modules_t *m = calloc(1, sizeof *m);
  if (!m) return HK_E_NOMEM;
  *out = m;
  return 0;
}

void rec_modules_free(rec_modules_t *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) free(m->v[i].path);
  free(m->v);
  free(m);
}

static int gen_cb(struct dl_phdr_info *info, size_t size, void *p) {
  uint64_t *g = p;
  if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
    g[0] = info->dlpi_adds;
    g[1] = info->dlpi_subs;
  }
  return 1; /* the counters are global: the first module suffices */
}

void rec_modules_generation(uint64_t *adds, uint64_t *subs) {
  uint64_t g[2] = {0, 0};
  dl_iterate_phdr(gen_cb, g);
  *adds = g[0];
  *subs = g[1];
}

static int snap_cb(struct dl_phdr_info *info, size_t size, void *p) {
  rec_modsnap_t *s = p;
  if (s->n == 0 &&
      size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
    s->adds = info->dlpi_adds;
    s->subs = info->dlpi_subs;
  }
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 64;
    snap_ent_t *v = realloc(s->v, nc * sizeof *v);
    if (!v) {
      s->oom = 1;
      return 1;
    }
    s->v = v;
    s->cap = nc;
  }
  snap_ent_t *e = &s->v[s->n];
  memset(e, 0, sizeof *e);
  e->base = info->dlpi_addr;
  e->lo = UINT64_MAX;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (lo < e->lo) e->lo = lo;
    if (hi > e->hi) e->hi = hi;
  }
  if (e->lo == UINT64_MAX) e->lo = e->hi = info->dlpi_addr;
  const char *name = info->dlpi_name ? info->dlpi_name : "";
  char exe[4096];
  if (!*name && s->n == 0) { /* the main program */
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
      exe[k] = 0;
      name = exe;
    }
  }
  e->path = strdup(name);
  if (!e->path) {
    s->oom = 1;
    return 1;
  }
  e->bid_len = hk_build_id(info, e->bid, sizeof e->bid);
  s->n++;
  return 0;
}

rec_modsnap_t *rec_modsnap_take(void) {
  rec_modsnap_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  dl_iterate_phdr(snap_cb, s);
  if (s->oom) {
    rec_modsnap_free(s);
    return NULL;
  }
  return s;
}

void rec_modsnap_free(rec_modsnap_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) free(s->v[i].path);
  free(s->v);
  free(s);
}

int rec_modules_merge(rec_modules_t *m, const rec_modsnap_t *s, uint64_t now,
                      rec_module_fn fn, void *ctx) {
  if (m->merged && s->adds <= m->adds && s->subs <= m->subs &&
      !(s->adds == 0 && s->subs == 0))
    return 0; /* not newer than what we have */
  int err = 0;
  /* Unloaded: loaded modules missing from the snapshot. */
  for (size_t i = 0; i < m->n; i++) {
    mod_t *md = &m->v[i];
    if (!md->loaded) continue;
    int found = 0;
    for (size_t j = 0; j < s->n && !found; j++)
      found = s->v[j].base == md->m.base && strcmp(s->v[j].path, md->path) == 0;
    if (found) continue;
    md->loaded = 0;
    md->m.unload_time = now;
    if (fn && !err) err = fn(ctx, &md->m);
  }
  /* New: snapshot entries not loaded in the map. */
  for (size_t j = 0; j < s->n; j++) {
    const snap_ent_t *e = &s->v[j];
    int found = 0;
    for (size_t i = 0; i < m->n && !found; i++)
      found = m->v[i].loaded && m->v[i].m.base == e->base &&
              strcmp(m->v[i].path, e->path) == 0;
    if (found) continue;
    if (m->n == m->cap) {
      size_t nc = m->cap ? m->cap * 2 : 64;
      mod_t *v = realloc(m->v, nc * sizeof *v);
      if (!v) return HK_E_NOMEM;
      m->v = v;
      m->cap = nc;
      /* trc_module_t points into the entries: re-point after the move. */
      for (size_t i = 0; i < m->n; i++) {
        m->v[i].m.path = m->v[i].path;
        m->v[i].m.build_id = m->v[i].m.build_id_len ? m->v[i].bid : NULL;
      }
    }
    mod_t *md = &m->v[m->n];
    memset(md, 0, sizeof *md);
    md->path = strdup(e->path);
    if (!md->path) return HK_E_NOMEM;
    memcpy(md->bid, e->bid, sizeof md->bid);
    md->loaded = 1;
    md->m.id = (uint32_t)m->n + 1;
    md->m.base = e->base;
    md->m.lo = e->lo;
    md->m.hi = e->hi;
    md->m.time = now;
    md->m.path = md->path;
    md->m.build_id = e->bid_len ? md->bid : NULL;
    md->m.build_id_len = e->bid_len;
    m->n++;
    if (fn && !err) err = fn(ctx, &md->m);
  }
  m->adds = s->adds;
  m->subs = s->subs;
  m->merged = 1;
  return err;
}

size_t rec_modules_count(const rec_modules_t *m) { return m->n; }

const trc_module_t *rec_modules_at(const rec_modules_t *m, size_t i) {
  return i < m->n ? &m->v[i].m : NULL;
}

const trc_module_t *rec_modules_find(const rec_modules_t *m, uint64_t addr) {
  for (size_t i = 0; i < m->n; i++)
    if (m->v[i].loaded && addr >= m->v[i].m.lo && addr < m->v[i].m.hi)
      return &m->v[i].m;
  return NULL;
}
