/* ana_sites.c: who allocates. After symbolization (ana_symbolize.c) fills
 * symbols and symbol_inlines, this expands each call site into its whole
 * symbolized stack (site_stack, inlined frames included), attributes it
 * past the allocator, the runtime and the allocation wrappers (site_attr,
 * the wrappers table plus the forwarding rule, trace_wrappers), and walks
 * the trace's ops once for the per-site peak, temporaries, leaks and size
 * and lifetime histograms (site_life, site_hist). Also writes collapsed
 * stacks for flame graphs. docs/attribution.md explains the rules. */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"
#include "analysis.h"

static int sql_fail(sqlite3 *db, char *why, size_t len) {
  snprintf(why, len, "%s", sqlite3_errmsg(db));
  return HK_E_SQLITE;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* ---- names ------------------------------------------------------------- */

/* The bare name of a demangled function: without its parameter list and,
 * for template functions, without the return type the demangler puts in
 * front ("std::_MakeUniq<T>::__single_object std::make_unique<T>(int&)"
 * -> "std::make_unique<T>"), so that "std::*" or "xmalloc" match it. */
static void bare_name(const char *f, char *out, size_t len) {
  size_t n = strlen(f), end = n;
  int depth = 0;
  /* The parameter list: the first '(' outside <>, past "operator()". */
  for (size_t i = 0; i < n; i++) {
    if (f[i] == '<') depth++;
    else if (f[i] == '>' && depth > 0) depth--;
    else if (f[i] == '(' && depth == 0) {
      if (i >= 8 && strncmp(f + i - 8, "operator", 8) == 0 && f[i + 1] == ')')
        continue;
      end = i;
      break;
    }
  }
  /* The return type: the last space outside <> before the name, unless it
   * belongs to "operator new" and its kin. */
  size_t start = 0;
  depth = 0;
  for (size_t i = end; i-- > 0;) {
    if (f[i] == '>') depth++;
    else if (f[i] == '<' && depth > 0) depth--;
    else if (f[i] == ' ' && depth == 0) {
      if (i >= 8 && strncmp(f + i - 8, "operator", 8) == 0) continue;
      start = i + 1;
      break;
    }
  }
  size_t k = end - start < len - 1 ? end - start : len - 1;
  memcpy(out, f + start, k);
  out[k] = 0;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* ---- the wrappers table ------------------------------------------------ */

typedef struct pat {
  char *pattern;
  int module; /* match the module's file name, else the function */
  int role;
} pat_t;

enum { ROLE_USER, ROLE_RUNTIME, ROLE_WRAPPER, ROLE_FORWARDER, ROLE_UNNAMED };
static const char *const role_names[] = {NULL, "runtime", "wrapper",
                                         "forwarder", "unnamed"};

typedef struct pats {
  pat_t *v;
  size_t n;
} pats_t;

static void pats_release(pats_t *p) {
  for (size_t i = 0; i < p->n; i++) free(p->v[i].pattern);
  free(p->v);
  memset(p, 0, sizeof *p);
}

static int pats_load(sqlite3 *db, pats_t *p, char *why, size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT pattern, match, kind FROM wrappers "
                         "ORDER BY kind = 'wrapper', pattern",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  int s, rc = 0;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    pat_t *nv = realloc(p->v, (p->n + 1) * sizeof *nv);
    if (!nv) {
      rc = -ENOMEM;
      break;
    }
    p->v = nv;
    const char *m = (const char *)sqlite3_column_text(st, 1);
    const char *k = (const char *)sqlite3_column_text(st, 2);
    p->v[p->n].pattern = dup_or_null((const char *)sqlite3_column_text(st, 0));
    p->v[p->n].module = m && strcmp(m, "module") == 0;
    p->v[p->n].role =
        k && strcmp(k, "runtime") == 0 ? ROLE_RUNTIME : ROLE_WRAPPER;
    if (p->v[p->n].pattern) p->n++;
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(st);
  return rc;
}

/* The role of a frame: runtime module first (anything libc does is done
 * for its caller), then the function patterns. */
static int classify(const pats_t *p, const char *function,
                    const char *module) {
  const char *mb = module ? base_name(module) : NULL;
  char bare[1024];
  if (function) bare_name(function, bare, sizeof bare);
  int role = ROLE_USER;
  for (size_t i = 0; i < p->n && role != ROLE_RUNTIME; i++) {
    const pat_t *q = &p->v[i];
    if (q->module ? mb && fnmatch(q->pattern, mb, 0) == 0
                  : function && fnmatch(q->pattern, bare, 0) == 0)
      role = q->role == ROLE_RUNTIME || role == ROLE_USER ? q->role : role;
  }
  if (role == ROLE_USER && !function) role = ROLE_UNNAMED;
  return role;
}

/* ---- symbols of a trace, from the database ------------------------------ */

typedef struct lsym { /* one logical frame of an address */
  char *function, *file, *module;
  int line, inlined;
} lsym_t;

typedef struct addr_syms {
  uint64_t addr;
  lsym_t *f;
  size_t n;
} addr_syms_t;

typedef struct symmap {
  addr_syms_t *v;
  size_t n;
} symmap_t;

static void symmap_release(symmap_t *m) {
  for (size_t i = 0; i < m->n; i++) {
    for (size_t k = 0; k < m->v[i].n; k++) {
      free(m->v[i].f[k].function);
      free(m->v[i].f[k].file);
      free(m->v[i].f[k].module);
    }
    free(m->v[i].f);
  }
  free(m->v);
  memset(m, 0, sizeof *m);
}

/* A stored name, demangled if an older database kept it mangled. */
static char *col_name(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  char *d = ana_demangle(s);
  return d ? d : dup_or_null(s);
}

static int push_lsym(addr_syms_t *a, sqlite3_stmt *st, int fi, int fl,
                     int li, const char *module, int inlined) {
  lsym_t *nf = realloc(a->f, (a->n + 1) * sizeof *nf);
  if (!nf) return -ENOMEM;
  a->f = nf;
  lsym_t *l = &a->f[a->n++];
  l->function = col_name(st, fi);
  l->file = dup_or_null((const char *)sqlite3_column_text(st, fl));
  l->line = sqlite3_column_int(st, li);
  l->module = dup_or_null(module);
  l->inlined = inlined;
  return 0;
}

/* symbols joined with symbol_inlines, ordered by address then depth: an
 * address with an inlined chain gives its chain, else its one row. */
static int symmap_load(sqlite3 *db, int64_t trace, symmap_t *m, char *why,
                       size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(
          db,
          "SELECT y.address, y.function, y.file, y.line, y.module,"
          " i.depth, i.function, i.file, i.line,"
          " (SELECT MAX(depth) FROM symbol_inlines j WHERE j.trace_id ="
          "  y.trace_id AND j.address = y.address)"
          " FROM symbols y LEFT JOIN symbol_inlines i ON i.trace_id ="
          " y.trace_id AND i.address = y.address WHERE y.trace_id = ?"
          " ORDER BY y.address, i.depth",
          -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(st, 1, trace);
  int s, rc = 0;
  size_t cap = 0;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    uint64_t a = (uint64_t)sqlite3_column_int64(st, 0);
    if (!m->n || m->v[m->n - 1].addr != a) {
      if (m->n == cap) {
        size_t nc = cap ? cap * 2 : 1024;
        addr_syms_t *nv = realloc(m->v, nc * sizeof *nv);
        if (!nv) {
          rc = -ENOMEM;
          break;
        }
        m->v = nv;
        cap = nc;
      }
      m->v[m->n++] = (addr_syms_t){a, NULL, 0};
    }
    addr_syms_t *e = &m->v[m->n - 1];
    const char *mod = (const char *)sqlite3_column_text(st, 4);
    if (sqlite3_column_type(st, 5) == SQLITE_NULL) {
      rc = push_lsym(e, st, 1, 2, 3, mod, 0);
    } else {
      /* Every frame of the chain but the outermost was inlined. */
      int inl = sqlite3_column_int(st, 5) < sqlite3_column_int(st, 9);
      rc = push_lsym(e, st, 6, 7, 8, mod, inl);
    }
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(st);
  return rc;
}

static const addr_syms_t *symmap_find(const symmap_t *m, uint64_t a) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (m->v[mid].addr < a) lo = mid + 1;
    else hi = mid;
  }
  return lo < m->n && m->v[lo].addr == a ? &m->v[lo] : NULL;
}

/* ---- the stacks of a trace --------------------------------------------- */

typedef struct frame { /* one logical frame of one site */
  const lsym_t *sym;   /* NULL: the address has no symbols row */
  uint64_t addr;
  int phys, role;
} frame_t;

typedef struct hbin { /* one (size, count) of a site's size histogram */
  uint64_t size, count;
} hbin_t;

typedef struct site {
  int64_t id;
  uint64_t allocs, bytes;
  frame_t *f;
  size_t n;
  hbin_t *sizes;
  size_t n_sizes;
} site_t;

typedef struct stacks {
  site_t *v;
  size_t n;
} stacks_t;

static void stacks_release(stacks_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    free(s->v[i].f);
    free(s->v[i].sizes);
  }
  free(s->v);
  memset(s, 0, sizeof *s);
}

static int stacks_load(sqlite3 *db, int64_t trace, const symmap_t *m,
                       stacks_t *out, char *why, size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT site, frames, allocs, bytes FROM sites "
                         "WHERE trace_id = ? ORDER BY site",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(st, 1, trace);
  int s, rc = 0;
  size_t cap = 0;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->n == cap) {
      size_t nc = cap ? cap * 2 : 256;
      site_t *nv = realloc(out->v, nc * sizeof *nv);
      if (!nv) {
        rc = -ENOMEM;
        break;
      }
      out->v = nv;
      cap = nc;
    }
    site_t *x = &out->v[out->n++];
    memset(x, 0, sizeof *x);
    x->id = sqlite3_column_int64(st, 0);
    x->allocs = (uint64_t)sqlite3_column_int64(st, 2);
    x->bytes = (uint64_t)sqlite3_column_int64(st, 3);
    const char *p = (const char *)sqlite3_column_text(st, 1);
    size_t fcap = 0;
    for (int phys = 0; p && *p && !rc; phys++) {
      char *end;
      uint64_t a = strtoull(p, &end, 16);
      if (end == p) break;
      p = end;
      while (*p == ' ' || *p == ',') p++;
      const addr_syms_t *e = symmap_find(m, a);
      size_t k = e && e->n ? e->n : 1;
      if (x->n + k > fcap) {
        size_t nc = (x->n + k) * 2;
        frame_t *nf = realloc(x->f, nc * sizeof *nf);
        if (!nf) {
          rc = -ENOMEM;
          break;
        }
        x->f = nf;
        fcap = nc;
      }
      for (size_t j = 0; j < k; j++)
        x->f[x->n++] = (frame_t){e && e->n ? &e->f[j] : NULL, a, phys, 0};
    }
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(st);
  return rc;
}

static site_t *find_site(stacks_t *s, int64_t id) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (s->v[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < s->n && s->v[lo].id == id ? &s->v[lo] : NULL;
}

/* ---- the forwarding rule ------------------------------------------------ */

/* A function forwards its caller's size when, at its allocation calls,
 * the size is mostly decided by who called it: the size entropy given the
 * call instruction in the function, H(size | call), is at least
 * FWD_MIN_BITS, and given the call and the caller, H(size | call, caller),
 * at most FWD_KEEP of it, with at least two callers of FWD_MIN_ALLOCS
 * allocations or more (fewer would make any split look informative). */
#define FWD_MIN_BITS 1.0
#define FWD_KEEP 0.25
#define FWD_MIN_ALLOCS 4
#define FWD_ROUNDS 8

typedef struct obs { /* one site seen from its first user frame */
  const char *fn;    /* that frame's function */
  uint64_t call, caller; /* keys of that frame and the next one */
  const site_t *site;
} obs_t;

static int cmp_obs(const void *a, const void *b) {
  const obs_t *x = a, *y = b;
  int c = strcmp(x->fn, y->fn);
  if (c) return c;
  if (x->call != y->call) return x->call < y->call ? -1 : 1;
  if (x->caller != y->caller) return x->caller < y->caller ? -1 : 1;
  return 0;
}

static int cmp_size(const void *a, const void *b) {
  const hbin_t *x = a, *y = b;
  return x->size < y->size ? -1 : x->size > y->size;
}

/* Sum over the groups of count * entropy (bits) of the sizes of the sites
 * in o[0..n); a group is a run of equal keys (call, or call and caller).
 * *total gets the allocations. Scratch space in *tmp. */
static double weighted_entropy(const obs_t *o, size_t n, int by_caller,
                               hbin_t **tmp, size_t *tcap, uint64_t *total) {
  double sum = 0;
  *total = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i, k = 0;
    while (j < n && o[j].call == o[i].call &&
           (!by_caller || o[j].caller == o[i].caller)) {
      const site_t *x = o[j].site;
      if (k + x->n_sizes > *tcap) {
        size_t nc = (k + x->n_sizes) * 2;
        hbin_t *nt = realloc(*tmp, nc * sizeof *nt);
        if (!nt) return -1;
        *tmp = nt;
        *tcap = nc;
      }
      memcpy(*tmp + k, x->sizes, x->n_sizes * sizeof *x->sizes);
      k += x->n_sizes;
      j++;
    }
    qsort(*tmp, k, sizeof **tmp, cmp_size);
    uint64_t g = 0;
    for (size_t q = 0; q < k; q++) g += (*tmp)[q].count;
    double h = 0;
    for (size_t q = 0; q < k;) {
      uint64_t c = 0;
      size_t r = q;
      while (r < k && (*tmp)[r].size == (*tmp)[q].size) c += (*tmp)[r++].count;
      h -= (double)c / (double)g * log2((double)c / (double)g);
      q = r;
    }
    sum += (double)g * h;
    *total += g;
    i = j;
  }
  return sum;
}

static uint64_t frame_key(const frame_t *f, size_t depth) {
  /* An address and its place in the inlined chain name one call. */
  return f->addr * 31u + depth;
}

static int first_user(const site_t *x) {
  for (size_t d = 0; d < x->n; d++)
    if (x->f[d].role == ROLE_USER) return (int)d;
  return -1;
}

/* Finds the forwarders of a trace, marks their frames and stores them in
 * trace_wrappers; repeated, since a forwarder's caller may forward too. */
static int forwarders(sqlite3 *db, int64_t trace, stacks_t *s,
                      ana_attr_stats_t *stats, char *why, size_t len) {
  obs_t *o = malloc((s->n ? s->n : 1) * sizeof *o);
  hbin_t *tmp = NULL;
  size_t tcap = 0;
  sqlite3_stmt *ins = NULL;
  int rc = 0;
  if (!o) return -ENOMEM;
  if (sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO trace_wrappers(trace_id, "
                         "function, allocs, bytes, callers, h_call_bits, "
                         "h_caller_bits) VALUES (?,?,?,?,?,?,?)",
                         -1, &ins, NULL) != SQLITE_OK) {
    free(o);
    return sql_fail(db, why, len);
  }
  for (int round = 0; round < FWD_ROUNDS && !rc; round++) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
      const site_t *x = &s->v[i];
      int d = first_user(x);
      if (d < 0 || (size_t)d + 1 >= x->n || !x->n_sizes) continue;
      o[n++] = (obs_t){x->f[d].sym->function, frame_key(&x->f[d], (size_t)d),
                       frame_key(&x->f[d + 1], (size_t)d + 1), x};
    }
    qsort(o, n, sizeof *o, cmp_obs);
    int found = 0;
    for (size_t i = 0; i < n && !rc;) {
      size_t j = i;
      while (j < n && strcmp(o[j].fn, o[i].fn) == 0) j++;
      /* Callers with enough allocations to judge by. */
      unsigned callers = 0;
      uint64_t bytes = 0;
      for (size_t a = i; a < j;) {
        size_t b = a;
        uint64_t c = 0;
        while (b < j && o[b].call == o[a].call && o[b].caller == o[a].caller)
          c += o[b++].site->allocs;
        /* the same caller under another call instruction counts once
         * per (call, caller): close enough for a threshold of two */
        callers += c >= FWD_MIN_ALLOCS;
        a = b;
      }
      for (size_t a = i; a < j; a++) bytes += o[a].site->bytes;
      if (callers >= 2) {
        uint64_t tot0, tot1;
        double h0 = weighted_entropy(o + i, j - i, 0, &tmp, &tcap, &tot0);
        double h1 = weighted_entropy(o + i, j - i, 1, &tmp, &tcap, &tot1);
        if (h0 < 0 || h1 < 0) {
          rc = -ENOMEM;
          break;
        }
        h0 = tot0 ? h0 / (double)tot0 : 0;
        h1 = tot1 ? h1 / (double)tot1 : 0;
        if (h0 >= FWD_MIN_BITS && h1 <= FWD_KEEP * h0) {
          const char *fn = o[i].fn;
          sqlite3_bind_int64(ins, 1, trace);
          sqlite3_bind_text(ins, 2, fn, -1, SQLITE_TRANSIENT);
          sqlite3_bind_int64(ins, 3, (int64_t)tot0);
          sqlite3_bind_int64(ins, 4, (int64_t)bytes);
          sqlite3_bind_int64(ins, 5, callers);
          sqlite3_bind_double(ins, 6, h0);
          sqlite3_bind_double(ins, 7, h1);
          if (sqlite3_step(ins) != SQLITE_DONE) rc = sql_fail(db, why, len);
          sqlite3_reset(ins);
          /* fn points into the symbol map: compare before marking. */
          for (size_t k = 0; k < s->n; k++)
            for (size_t d = 0; d < s->v[k].n; d++) {
              frame_t *f = &s->v[k].f[d];
              if (f->role == ROLE_USER && f->sym && f->sym->function == fn)
                f->role = ROLE_FORWARDER;
            }
          /* Other addresses of the same function hold their own copy of
           * the name: match by text too. */
          for (size_t k = 0; k < s->n; k++)
            for (size_t d = 0; d < s->v[k].n; d++) {
              frame_t *f = &s->v[k].f[d];
              if (f->role == ROLE_USER && f->sym && f->sym->function &&
                  strcmp(f->sym->function, fn) == 0)
                f->role = ROLE_FORWARDER;
            }
          stats->forwarders++;
          found = 1;
        }
      }
      i = j;
    }
    if (!found) break;
  }
  sqlite3_finalize(ins);
  free(tmp);
  free(o);
  return rc;
}

/* The attributed frame: the first of the program's own named frames; else
 * the first unnamed frame outside the runtime (code without symbols is
 * still the program's); else the outermost frame outside the runtime;
 * else frame 0. */
static int attributed(const site_t *x) {
  int d = first_user(x);
  if (d >= 0) return d;
  for (size_t k = 0; k < x->n; k++)
    if (x->f[k].role == ROLE_UNNAMED) return (int)k;
  for (size_t k = x->n; k-- > 0;)
    if (x->f[k].role != ROLE_RUNTIME) return (int)k;
  return 0;
}

/* Prepares the two statements a loop of inserts uses: 0, or the database's
 * error in why and HK_E_SQLITE; both may be finalized either way. */
static int prepare_two(sqlite3 *db, const char *sql_a, sqlite3_stmt **a,
                       const char *sql_b, sqlite3_stmt **b, char *why,
                       size_t len) {
  *a = *b = NULL;
  if (sqlite3_prepare_v2(db, sql_a, -1, a, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, sql_b, -1, b, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  return 0;
}

static int store_stacks(sqlite3 *db, int64_t trace, const stacks_t *s,
                        ana_attr_stats_t *stats, char *why, size_t len) {
  sqlite3_stmt *fs, *as;
  int rc = prepare_two(db,
                       "INSERT INTO site_stack(trace_id, site, depth, frame,"
                       " address, function, file, line, module, inlined,"
                       " role, offset) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,"
                       " ?10,?11, ?5 - (SELECT base FROM modules WHERE"
                       " trace_id = ?1 AND path = ?9 ORDER BY module_id"
                       " LIMIT 1))",
                       &fs,
                       "INSERT INTO site_attr(trace_id, site, depth) "
                       "VALUES (?,?,?)",
                       &as, why, len);
  if (rc) goto out;
  for (size_t i = 0; i < s->n && !rc; i++) {
    const site_t *x = &s->v[i];
    for (size_t d = 0; d < x->n && !rc; d++) {
      const frame_t *f = &x->f[d];
      sqlite3_bind_int64(fs, 1, trace);
      sqlite3_bind_int64(fs, 2, x->id);
      sqlite3_bind_int64(fs, 3, (int64_t)d);
      sqlite3_bind_int64(fs, 4, f->phys);
      sqlite3_bind_int64(fs, 5, (int64_t)f->addr);
      ana_bind_text_or_null(fs, 6, f->sym ? f->sym->function : NULL);
      ana_bind_text_or_null(fs, 7, f->sym ? f->sym->file : NULL);
      if (f->sym && f->sym->line > 0)
        sqlite3_bind_int(fs, 8, f->sym->line);
      else
        sqlite3_bind_null(fs, 8);
      ana_bind_text_or_null(fs, 9, f->sym ? f->sym->module : NULL);
      sqlite3_bind_int(fs, 10, f->sym ? f->sym->inlined : 0);
      ana_bind_text_or_null(fs, 11, role_names[f->role]);
      if (sqlite3_step(fs) != SQLITE_DONE) rc = sql_fail(db, why, len);
      sqlite3_reset(fs);
    }
    if (!x->n || rc) continue;
    int d = attributed(x);
    sqlite3_bind_int64(as, 1, trace);
    sqlite3_bind_int64(as, 2, x->id);
    sqlite3_bind_int64(as, 3, d);
    if (sqlite3_step(as) != SQLITE_DONE) rc = sql_fail(db, why, len);
    sqlite3_reset(as);
    stats->sites++;
    stats->bytes += x->bytes;
    if (x->f[d].role == ROLE_USER) {
      stats->sites_named++;
      stats->bytes_named += x->bytes;
    }
  }
out:
  sqlite3_finalize(fs);
  sqlite3_finalize(as);
  return rc;
}

/* ---- one pass over the ops: peak, temporaries, leaks, histograms ------- */

#define TEMP_WITHIN 8 /* a temporary is freed within this many ops */

typedef struct sacc {
  uint64_t temporary, leaked, leaked_bytes;
  /* Live now, and the change since the last peak of the whole trace:
   * live - since = what was live at the peak (no second pass needed). */
  int64_t live_b, live_n, since_b, since_n;
  uint8_t touched;
  uint64_t size_n[49], size_b[49];   /* by size class */
  uint64_t life_n[21], life_b[21];   /* by decimal digits of the life */
  uint64_t tlife_n[21], tlife_b[21]; /* ... of the life in ns */
} sacc_t;

typedef struct slotv {
  uint64_t size, seq, time_ns;
  uint32_t site;
  uint8_t live;
} slotv_t;

typedef struct szcount { /* one (site, exact size) of the size hash */
  uint64_t size, count;
  uint32_t site, used;
} szcount_t;

/* Power-of-two size class as the size_classes table has it. */
static int size_class(uint64_t n) {
  if (n == 0) return 0;
  if (n <= 16) return 4;
  int k = 64 - __builtin_clzll(n - 1);
  return k > 48 ? 48 : k;
}

static int life_class(uint64_t ops) {
  int k = 1;
  while (ops >= 10 && k < 20) {
    ops /= 10;
    k++;
  }
  return k;
}

typedef struct walk {
  int timed; /* some op has a time (traces stored before time_ns: none) */
  slotv_t *slot;
  size_t n_slots;
  sacc_t *site;
  size_t n_sites;
  uint32_t *touched; /* sites changed since the last peak */
  size_t n_touched, cap_touched;
  szcount_t *h; /* (site, size) -> allocations, open addressing */
  size_t h_cap, h_n;
} walk_t;

static void walk_release(walk_t *w) {
  free(w->slot);
  free(w->site);
  free(w->touched);
  free(w->h);
}

static int grow(void **v, size_t *n, size_t need, size_t elt) {
  if (need <= *n) return 0;
  size_t nc = need * 2;
  void *nv = realloc(*v, nc * elt);
  if (!nv) return -ENOMEM;
  memset((char *)nv + *n * elt, 0, (nc - *n) * elt);
  *v = nv;
  *n = nc;
  return 0;
}

static size_t h_slot(const walk_t *w, uint32_t site, uint64_t size) {
  uint64_t k = (size * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)site * 0xC2B2AE3D27D4EB4Full);
  k ^= k >> 29;
  size_t i = (size_t)k & (w->h_cap - 1);
  while (w->h[i].used && (w->h[i].site != site || w->h[i].size != size))
    i = (i + 1) & (w->h_cap - 1);
  return i;
}

static int h_add(walk_t *w, uint32_t site, uint64_t size) {
  if (2 * (w->h_n + 1) > w->h_cap) {
    size_t oc = w->h_cap, nc = oc ? oc * 2 : 4096;
    szcount_t *old = w->h;
    w->h = calloc(nc, sizeof *w->h);
    if (!w->h) {
      w->h = old;
      return -ENOMEM;
    }
    w->h_cap = nc;
    for (size_t i = 0; i < oc; i++)
      if (old[i].used) w->h[h_slot(w, old[i].site, old[i].size)] = old[i];
    free(old);
  }
  size_t i = h_slot(w, site, size);
  if (!w->h[i].used) {
    w->h[i] = (szcount_t){size, 0, site, 1};
    w->h_n++;
  }
  w->h[i].count++;
  return 0;
}

/* Live bytes of a site change by db (objects by dn). */
static int site_change(walk_t *w, uint32_t site, int64_t db, int64_t dn) {
  sacc_t *a = &w->site[site];
  a->live_b += db;
  a->live_n += dn;
  a->since_b += db;
  a->since_n += dn;
  if (!a->touched) {
    if (w->n_touched == w->cap_touched) {
      size_t nc = w->cap_touched ? w->cap_touched * 2 : 1024;
      uint32_t *nt = realloc(w->touched, nc * sizeof *nt);
      if (!nt) return -ENOMEM;
      w->touched = nt;
      w->cap_touched = nc;
    }
    w->touched[w->n_touched++] = site;
    a->touched = 1;
  }
  return 0;
}

/* A new peak: what is live now is the peak's. */
static void new_peak(walk_t *w) {
  for (size_t i = 0; i < w->n_touched; i++) {
    sacc_t *a = &w->site[w->touched[i]];
    a->since_b = a->since_n = 0;
    a->touched = 0;
  }
  w->n_touched = 0;
}

/* An object's life ends at op seq, at time t: its class in ops and in
 * the trace's time (the same decimal orders of magnitude, of ns: LLAMA's
 * bounds 10 ms, 100 ms, 1 s, ... end classes 7, 8, 9, ...). */
static void end_life(walk_t *w, slotv_t *sl, uint64_t seq, uint64_t t) {
  sacc_t *a = &w->site[sl->site];
  int c = life_class(seq - sl->seq);
  a->life_n[c]++;
  a->life_b[c] += sl->size;
  c = life_class(t > sl->time_ns ? t - sl->time_ns : 0);
  a->tlife_n[c]++;
  a->tlife_b[c] += sl->size;
  sl->live = 0;
}

/* Replays the ops of a trace on sizes alone, once, in order. */
static int walk_ops(sqlite3 *db, int64_t trace, walk_t *w, char *why,
                    size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT seq, kind, size, site, slot, flags, time_ns "
                         "FROM trace_op WHERE trace_id = ? ORDER BY seq",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(st, 1, trace);
  int r, rc = 0;
  uint64_t live = 0, peak = 0, last_alloc = UINT64_MAX;
  while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
    int kind = sqlite3_column_int(st, 1);
    uint64_t size = (uint64_t)sqlite3_column_int64(st, 2);
    uint64_t site = (uint64_t)sqlite3_column_int64(st, 3);
    uint64_t slot = (uint64_t)sqlite3_column_int64(st, 4);
    int flags = sqlite3_column_int(st, 5);
    uint64_t t = (uint64_t)sqlite3_column_int64(st, 6);
    if (t) w->timed = 1;
    if (flags & 1) continue; /* failed: no object */
    if (site > UINT32_MAX ||
        (rc = grow((void **)&w->slot, &w->n_slots, slot + 1,
                   sizeof *w->slot)) ||
        (rc = grow((void **)&w->site, &w->n_sites, site + 1,
                   sizeof *w->site)))
      break;
    slotv_t *sl = &w->slot[slot];
    if (kind == 5) { /* free */
      if (!sl->live) continue;
      live -= sl->size;
      if (last_alloc == sl->seq && seq - sl->seq <= TEMP_WITHIN)
        w->site[sl->site].temporary++;
      rc = site_change(w, sl->site, -(int64_t)sl->size, -1);
      end_life(w, sl, seq, t);
      continue;
    }
    int is_realloc = kind == 3 || kind == 4;
    if (is_realloc && sl->live && !(flags & 4)) {
      live -= sl->size;
      rc = site_change(w, sl->site, -(int64_t)sl->size, -1);
      end_life(w, sl, seq, t);
    }
    sacc_t *a = &w->site[site];
    int c = size_class(size);
    a->size_n[c]++;
    a->size_b[c] += size;
    if (!rc) rc = h_add(w, (uint32_t)site, size);
    last_alloc = seq;
    if (is_realloc && size == 0) { /* realloc(p, 0) freed the block */
      a->life_n[1]++;
      a->tlife_n[1]++;
      continue;
    }
    *sl = (slotv_t){size, seq, t, (uint32_t)site, 1};
    live += size;
    if (!rc) rc = site_change(w, (uint32_t)site, (int64_t)size, 1);
    if (live > peak) {
      peak = live;
      new_peak(w);
    }
  }
  if (!rc && r != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(st);
  if (rc) return rc;
  /* What is live at the end: leaks, lifetime class 0. */
  for (size_t i = 0; i < w->n_slots; i++) {
    slotv_t *sl = &w->slot[i];
    if (!sl->live) continue;
    sacc_t *a = &w->site[sl->site];
    a->leaked++;
    a->leaked_bytes += sl->size;
    a->life_n[0]++;
    a->life_b[0] += sl->size;
    a->tlife_n[0]++;
    a->tlife_b[0] += sl->size;
  }
  return 0;
}

/* The size histograms of the walk, handed to the sites for the forwarding
 * rule. */
static int sizes_from_walk(const walk_t *w, stacks_t *s) {
  for (size_t i = 0; i < w->h_cap; i++) {
    const szcount_t *e = &w->h[i];
    if (!e->used) continue;
    site_t *x = find_site(s, e->site);
    if (!x) continue;
    hbin_t *nb = realloc(x->sizes, (x->n_sizes + 1) * sizeof *nb);
    if (!nb) return -ENOMEM;
    x->sizes = nb;
    x->sizes[x->n_sizes++] = (hbin_t){e->size, e->count};
  }
  return 0;
}

static int store_life(sqlite3 *db, int64_t trace, const walk_t *w, char *why,
                      size_t len) {
  sqlite3_stmt *l, *h;
  int rc = prepare_two(db,
                       "INSERT INTO site_life(trace_id, site, peak_bytes, "
                       "peak_objects, temporary, leaked, leaked_bytes) "
                       "VALUES (?,?,?,?,?,?,?)",
                       &l,
                       "INSERT INTO site_hist(trace_id, site, axis, class, "
                       "allocs, bytes) VALUES (?,?,?,?,?,?)",
                       &h, why, len);
  if (rc) goto out;
  for (size_t i = 0; i < w->n_sites && !rc; i++) {
    const sacc_t *a = &w->site[i];
    uint64_t n = 0;
    for (int c = 0; c < 49; c++) n += a->size_n[c];
    if (!n && !a->leaked) continue;
    int64_t v[7] = {trace,
                    (int64_t)i,
                    a->live_b - a->since_b,
                    a->live_n - a->since_n,
                    (int64_t)a->temporary,
                    (int64_t)a->leaked,
                    (int64_t)a->leaked_bytes};
    for (int k = 0; k < 7; k++) sqlite3_bind_int64(l, k + 1, v[k]);
    if (sqlite3_step(l) != SQLITE_DONE) rc = sql_fail(db, why, len);
    sqlite3_reset(l);
    /* Axis 2, life in time, only where the trace has times. */
    static const char *const axes[] = {"size", "life_ops", "life_ns"};
    for (int axis = 0; axis < (w->timed ? 3 : 2) && !rc; axis++) {
      int nc = axis ? 21 : 49;
      for (int c = 0; c < nc && !rc; c++) {
        uint64_t cn = axis == 2 ? a->tlife_n[c] : axis ? a->life_n[c] : a->size_n[c];
        uint64_t cb = axis == 2 ? a->tlife_b[c] : axis ? a->life_b[c] : a->size_b[c];
        if (!cn) continue;
        sqlite3_bind_int64(h, 1, trace);
        sqlite3_bind_int64(h, 2, (int64_t)i);
        sqlite3_bind_text(h, 3, axes[axis], -1, SQLITE_STATIC);
        sqlite3_bind_int(h, 4, c);
        sqlite3_bind_int64(h, 5, (int64_t)cn);
        sqlite3_bind_int64(h, 6, (int64_t)cb);
        if (sqlite3_step(h) != SQLITE_DONE) rc = sql_fail(db, why, len);
        sqlite3_reset(h);
      }
    }
  }
out:
  sqlite3_finalize(l);
  sqlite3_finalize(h);
  return rc;
}

/* ---- attribution of one trace ------------------------------------------- */

int ana_attribute_trace(ana_db_t *adb, int64_t trace, ana_attr_stats_t *st,
                        char *why, size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  ana_attr_stats_t local;
  if (!st) st = &local;
  pats_t pats = {0};
  symmap_t map = {0};
  stacks_t stacks = {0};
  static const char *const clear[] = {
      "DELETE FROM site_stack WHERE trace_id = ?",
      "DELETE FROM site_attr WHERE trace_id = ?",
      "DELETE FROM trace_wrappers WHERE trace_id = ?",
      "DELETE FROM site_life WHERE trace_id = ?",
      "DELETE FROM site_hist WHERE trace_id = ?"};
  int rc = 0;
  for (size_t i = 0; i < HK_ARRAY_LEN(clear) && !rc; i++)
    if (ana_exec_trace(db, clear[i], trace)) rc = sql_fail(db, why, len);
  if (!rc) rc = pats_load(db, &pats, why, len);
  if (!rc) rc = symmap_load(db, trace, &map, why, len);
  if (!rc) rc = stacks_load(db, trace, &map, &stacks, why, len);
  walk_t w = {0};
  if (!rc) rc = walk_ops(db, trace, &w, why, len);
  if (!rc) rc = sizes_from_walk(&w, &stacks);
  for (size_t i = 0; i < stacks.n && !rc; i++)
    for (size_t d = 0; d < stacks.v[i].n; d++) {
      frame_t *f = &stacks.v[i].f[d];
      f->role = classify(&pats, f->sym ? f->sym->function : NULL,
                         f->sym ? f->sym->module : NULL);
      st->frames++;
    }
  if (!rc) rc = forwarders(db, trace, &stacks, st, why, len);
  if (!rc) rc = store_stacks(db, trace, &stacks, st, why, len);
  if (!rc) rc = store_life(db, trace, &w, why, len);
  walk_release(&w);
  stacks_release(&stacks);
  symmap_release(&map);
  pats_release(&pats);
  return rc;
}

int ana_attribute(ana_db_t *adb, int64_t trace_id, int only_missing,
                  ana_attr_stats_t *st, char *why, size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  ana_attr_stats_t local;
  if (!st) st = &local;
  memset(st, 0, sizeof *st);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(
          db,
          "SELECT trace_id FROM traces t WHERE (?1 < 0 OR trace_id = ?1)"
          " AND (?2 = 0 OR (NOT EXISTS (SELECT 1 FROM site_attr a WHERE"
          " a.trace_id = t.trace_id) AND NOT EXISTS (SELECT 1 FROM"
          " site_life l WHERE l.trace_id = t.trace_id))) ORDER BY trace_id",
          -1, &q, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(q, 1, trace_id);
  sqlite3_bind_int(q, 2, only_missing);
  int64_t *ids;
  size_t n;
  int rc = ana_ids_of(q, &ids, &n);
  if (rc == HK_E_SQLITE) rc = sql_fail(db, why, len);
  sqlite3_finalize(q);
  for (size_t i = 0; i < n && !rc; i++) {
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
      rc = sql_fail(db, why, len);
      break;
    }
    rc = ana_attribute_trace(adb, ids[i], st, why, len);
    if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
      rc = sql_fail(db, why, len);
    if (rc) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    else st->traces++;
  }
  free(ids);
  return rc;
}

/* ---- user wrappers from a file ------------------------------------------ */

int ana_wrappers_load(ana_db_t *adb, const char *path, char *why, size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  FILE *f = fopen(path, "r");
  if (!f) {
    int e = errno;
    snprintf(why, len, "%s", strerror(e));
    return -e;
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO wrappers(pattern, match, "
                         "kind, reason, source) VALUES (?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK) {
    fclose(f);
    return sql_fail(db, why, len);
  }
  char line[1024];
  int rc = 0, lineno = 0;
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    rc = sql_fail(db, why, len);
  while (!rc && fgets(line, sizeof line, f)) {
    lineno++;
    size_t n = strlen(line);
    if (n == sizeof line - 1 && line[n - 1] != '\n') {
      snprintf(why, len, "line %d: longer than %zu characters", lineno,
               sizeof line - 2);
      rc = HK_E_RANGE;
      break;
    }
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
                 line[n - 1] == ' ' || line[n - 1] == '\t'))
      line[--n] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') continue;
    /* "[module:|runtime:]PATTERN [reason...]" */
    const char *match = "function", *kind = "wrapper";
    if (strncmp(p, "module:", 7) == 0) {
      match = "module";
      kind = "runtime";
      p += 7;
    } else if (strncmp(p, "runtime:", 8) == 0) {
      kind = "runtime";
      p += 8;
    }
    char *sp = strpbrk(p, " \t");
    const char *reason = NULL;
    if (sp) {
      *sp = 0;
      reason = sp + 1;
      while (*reason == ' ' || *reason == '\t') reason++;
    }
    if (!*p) {
      snprintf(why, len, "line %d: a prefix without a pattern", lineno);
      rc = HK_E_USAGE;
      break;
    }
    sqlite3_bind_text(st, 1, p, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, match, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    if (reason && *reason)
      sqlite3_bind_text(st, 4, reason, -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, path, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) rc = sql_fail(db, why, len);
    sqlite3_reset(st);
  }
  if (!rc && ferror(f)) {
    snprintf(why, len, "read error");
    rc = -EIO;
  }
  sqlite3_finalize(st);
  fclose(f);
  if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    rc = sql_fail(db, why, len);
  if (rc) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* ---- collapsed stacks ------------------------------------------------------ */

int ana_weight_parse(const char *name, ana_weight_t *w) {
  if (!name) return -1;
  if (strcmp(name, "bytes") == 0) *w = ANA_W_BYTES;
  else if (strcmp(name, "allocs") == 0) *w = ANA_W_ALLOCS;
  else if (strcmp(name, "peak") == 0) *w = ANA_W_PEAK;
  else return -1;
  return 0;
}

/* A frame's name in a collapsed stack: ';' separates frames and the last
 * space the weight, so neither may appear inside. */
static void put_frame(FILE *out, const char *fn, const char *module,
                      uint64_t addr) {
  if (fn) {
    for (const char *p = fn; *p; p++)
      fputc(*p == ';' ? ':' : *p == '\n' ? ' ' : *p, out);
  } else if (module) {
    fprintf(out, "%s+0x%llx", base_name(module), (unsigned long long)addr);
  } else {
    fprintf(out, "0x%llx", (unsigned long long)addr);
  }
}

int ana_folded(ana_db_t *adb, int64_t trace_id, ana_weight_t w, FILE *out,
               ana_folded_stats_t *fst, char *why, size_t len) {
  sqlite3 *db = ana_db_sqlite(adb);
  memset(fst, 0, sizeof *fst);
  int64_t traces = 0;
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db,
                         "SELECT COUNT(*) FROM traces WHERE ?1 < 0 OR "
                         "trace_id = ?1",
                         -1, &q, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(q, 1, trace_id);
  if (sqlite3_step(q) == SQLITE_ROW) traces = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  if (trace_id >= 0 && traces == 0) {
    snprintf(why, len, "no trace %lld in the database", (long long)trace_id);
    return HK_E_NOTFOUND;
  }
  /* One row per (site, frame), sites in order, frames outermost first;
   * the weight rides on every row of its site. Sites without a stored
   * stack (not symbolized, or site 0) give one frame from sites. */
  static const char sql[] =
      "WITH w AS (SELECT s.trace_id, s.site, t.name,"
      "  CASE ?2 WHEN 0 THEN s.bytes WHEN 1 THEN s.allocs"
      "  ELSE COALESCE(l.peak_bytes, 0) END AS weight"
      "  FROM sites s JOIN traces t USING (trace_id)"
      "  LEFT JOIN site_life l ON l.trace_id = s.trace_id AND l.site = s.site"
      "  WHERE ?1 < 0 OR s.trace_id = ?1)"
      " SELECT w.trace_id, w.site, w.name, w.weight, f.depth, f.function,"
      "  f.module, f.address, s.caller, m.path, m.base,"
      "  (SELECT m2.base FROM modules m2 WHERE m2.trace_id = f.trace_id"
      "   AND m2.path = f.module ORDER BY m2.module_id LIMIT 1)"
      " FROM w JOIN sites s ON s.trace_id = w.trace_id AND s.site = w.site"
      " LEFT JOIN site_stack f ON f.trace_id = w.trace_id AND f.site = w.site"
      " LEFT JOIN modules m ON m.trace_id = s.trace_id"
      "  AND m.module_id = s.module_id"
      " WHERE w.weight > 0"
      " ORDER BY w.trace_id, w.site, f.depth DESC";
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(q, 1, trace_id);
  sqlite3_bind_int(q, 2, (int)w);
  int s, rc = 0, open = 0;
  int64_t cur_t = -1, cur_s = -1;
  uint64_t weight = 0;
  while ((s = sqlite3_step(q)) == SQLITE_ROW) {
    int64_t t = sqlite3_column_int64(q, 0), site = sqlite3_column_int64(q, 1);
    if (t != cur_t || site != cur_s) {
      if (open) fprintf(out, " %llu\n", (unsigned long long)weight);
      cur_t = t;
      cur_s = site;
      weight = (uint64_t)sqlite3_column_int64(q, 3);
      fst->stacks++;
      fst->total += weight;
      open = 1;
      if (traces > 1) {
        put_frame(out, (const char *)sqlite3_column_text(q, 2), NULL, 0);
        fputc(';', out);
      }
      if (sqlite3_column_type(q, 4) == SQLITE_NULL) {
        /* No stored stack: the caller alone, or the unknown site. */
        const char *mp = (const char *)sqlite3_column_text(q, 9);
        uint64_t caller = (uint64_t)sqlite3_column_int64(q, 8);
        if (sqlite3_column_type(q, 8) == SQLITE_NULL)
          fputs("[unknown site]", out);
        else
          put_frame(out, NULL, mp,
                    mp ? caller - (uint64_t)sqlite3_column_int64(q, 10)
                       : caller);
        continue;
      }
    } else {
      fputc(';', out);
    }
    const char *mod = (const char *)sqlite3_column_text(q, 6);
    uint64_t addr = (uint64_t)sqlite3_column_int64(q, 7);
    if (mod && sqlite3_column_type(q, 11) != SQLITE_NULL)
      addr -= (uint64_t)sqlite3_column_int64(q, 11);
    else
      mod = NULL;
    put_frame(out, (const char *)sqlite3_column_text(q, 5), mod, addr);
  }
  if (open) fprintf(out, " %llu\n", (unsigned long long)weight);
  if (s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(q);
  if (!rc && ferror(out)) {
    snprintf(why, len, "write error");
    rc = -EIO;
  }
  return rc;
}
