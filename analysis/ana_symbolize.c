/* ana_symbolize.c: offline symbolization of recorded call sites with
 * elfutils libdwfl. Each recorded module is reported to an offline Dwfl at
 * its recorded load bias; an address resolves to its innermost function
 * (inlined frames through dwarf_getscopes), file and line, and module.
 * Anything missing (file, debug information, matching build id) degrades
 * to module + offset, never to an error. Fills symbols / symbol_inlines. */
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ana_internal.h"
#include "analysis.h"
#include "hk_progress.h"

/* A compile unit's address range, for the units .debug_aranges misses. */
typedef struct cu_range {
  Dwarf_Addr lo, hi; /* file addresses, hi exclusive */
  Dwarf_Die *cu;     /* owned by the module's Dwfl */
} cu_range_t;

typedef struct entry {
  char *path;
  uint64_t base, lo, hi;
  Dwfl_Module *mod; /* NULL: degraded to module + offset */
  /* Built on the first address libdwfl's own CU lookup misses. */
  cu_range_t *cus;
  size_t n_cus;
  int cus_built;
} entry_t;

struct ana_symtab_s {
  Dwfl *dwfl;
  entry_t *v;
  size_t n;
};

static char *debuginfo_path;
static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* Whether the build id of mod matches the recorded hex string (an absent
 * recorded or on-disk id counts as a match: nothing to compare). */
static int build_id_matches(Dwfl_Module *mod, const char *want) {
  if (!want || !*want) return 1;
  const unsigned char *bits;
  GElf_Addr vaddr;
  int n = dwfl_module_build_id(mod, &bits, &vaddr);
  if (n <= 0) return 1;
  if (strncasecmp(want, "0x", 2) == 0) want += 2;
  if (strlen(want) != (size_t)n * 2) return 0;
  char hex[3];
  for (int i = 0; i < n; i++) {
    snprintf(hex, sizeof hex, "%02x", bits[i]);
    if (strncasecmp(hex, want + 2 * i, 2) != 0) return 0;
  }
  return 1;
}

int ana_symtab_create(const ana_module_t *mods, size_t n, unsigned flags,
                      ana_symtab_t **out, ana_sym_stats_t *st) {
  *out = NULL;
  ana_symtab_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->v = calloc(n ? n : 1, sizeof *t->v);
  if (!t->v) {
    free(t);
    return -ENOMEM;
  }
  t->dwfl = dwfl_begin(&offline_callbacks);
  if (!t->dwfl) {
    ana_symtab_free(t);
    return HK_E_UNSUPPORTED;
  }
  dwfl_report_begin(t->dwfl);
  for (size_t i = 0; i < n; i++) {
    entry_t *e = &t->v[t->n];
    if (!mods[i].path) continue;
    e->path = strdup(mods[i].path);
    if (!e->path) {
      ana_symtab_free(t);
      return -ENOMEM;
    }
    t->n++;
    e->base = mods[i].base;
    e->lo = mods[i].lo;
    e->hi = mods[i].hi;
    if (st) st->modules++;
    /* add_p_vaddr: base is the load bias, as dl_iterate_phdr reports it.
     * NULL for a missing file or one overlapping an earlier module. */
    e->mod = dwfl_report_elf(t->dwfl, base_name(e->path), e->path, -1,
                             e->base, true);
    if (!e->mod) {
      if (st) st->modules_missing++;
    } else if (!(flags & ANA_SYM_NO_BUILDID) &&
               !build_id_matches(e->mod, mods[i].build_id)) {
      e->mod = NULL; /* a different file now: its symbols would lie */
      if (st) st->build_id_mismatch++;
    }
  }
  dwfl_report_end(t->dwfl, NULL, NULL);
  *out = t;
  return 0;
}

void ana_symtab_free(ana_symtab_t *t) {
  if (!t) return;
  if (t->dwfl) dwfl_end(t->dwfl);
  for (size_t i = 0; i < t->n; i++) {
    free(t->v[i].path);
    free(t->v[i].cus);
  }
  free(t->v);
  free(t);
}

void ana_sym_release(ana_sym_t *s) {
  if (!s) return;
  free(s->function);
  free(s->file);
  for (size_t i = 0; i < s->n_inlines; i++) {
    free(s->inlines[i].function);
    free(s->inlines[i].file);
  }
  free(s->inlines);
  memset(s, 0, sizeof *s);
}

static entry_t *find_entry(ana_symtab_t *t, uint64_t a) {
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i].lo < t->v[i].hi && a >= t->v[i].lo && a < t->v[i].hi)
      return &t->v[i];
  /* No recorded range: the range libdwfl knows from the file itself. */
  Dwfl_Module *m = dwfl_addrmodule(t->dwfl, a);
  if (m)
    for (size_t i = 0; i < t->n; i++)
      if (t->v[i].mod == m) return &t->v[i];
  return NULL;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The C++ runtime's demangler (extern "C" __cxa_demangle of <cxxabi.h>),
 * found with dlopen on first use rather than linked: linking libstdc++
 * into hksim makes every replay child start with it loaded, and its
 * start-up allocations then meet the allocator under test (tcmalloc
 * aborts on freeing them). NULL when no C++ runtime is installed: names
 * then stay mangled. */
typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

static demangle_fn find_demangler(void) {
  static int tried;
  static demangle_fn fn;
  if (tried) return fn;
  tried = 1;
  static const char *const libs[] = {"libstdc++.so.6", "libc++abi.so.1",
                                     "libc++.so.1"};
  for (size_t i = 0; i < sizeof libs / sizeof *libs && !fn; i++) {
    void *h = dlopen(libs[i], RTLD_LAZY | RTLD_LOCAL);
    if (h) *(void **)&fn = dlsym(h, "__cxa_demangle");
  }
  return fn;
}

char *ana_demangle(const char *name) {
  /* Only Itanium-ABI names: __cxa_demangle would also "demangle" a plain
   * C name such as "f" into a type name ("float"). */
  if (!name || strncmp(name, "_Z", 2) != 0) return NULL;
  demangle_fn demangle = find_demangler();
  if (!demangle) return NULL;
  int status = -1;
  char *d = demangle(name, NULL, NULL, &status);
  if (status != 0) {
    free(d);
    return NULL;
  }
  return d;
}

/* name demangled when it is a C++ name, else copied; NULL stays NULL. */
static char *dup_demangled(const char *name) {
  char *d = ana_demangle(name);
  return d ? d : dup_or_null(name);
}

/* The name of a function DIE as the symbol table would give it: the
 * demangled linkage name (DW_AT_name alone lacks the namespace and class,
 * "make_node" for workload::make_node(int)), else DW_AT_name. */
static char *die_name(Dwarf_Die *d) {
  Dwarf_Attribute a;
  const char *ln = NULL;
  if (dwarf_attr_integrate(d, DW_AT_linkage_name, &a) ||
      dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &a))
    ln = dwarf_formstring(&a);
  char *n = ana_demangle(ln);
  return n ? n : dup_or_null(dwarf_diename(d));
}

static int is_function(Dwarf_Die *d) {
  int tag = dwarf_tag(d);
  return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
         tag == DW_TAG_entry_point;
}

static int cmp_cu_range(const void *a, const void *b) {
  const cu_range_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Every compile unit's ranges (DW_AT_low_pc/high_pc or DW_AT_ranges),
 * sorted by start. A range at address 0 is a function the linker dropped
 * (its address resolved to 0): it would claim the module's first bytes. */
static int build_cu_ranges(entry_t *e) {
  e->cus_built = 1;
  size_t cap = 0;
  Dwarf_Addr bias;
  for (Dwarf_Die *cu = dwfl_module_nextcu(e->mod, NULL, &bias); cu;
       cu = dwfl_module_nextcu(e->mod, cu, &bias)) {
    Dwarf_Addr base, lo, hi;
    ptrdiff_t off = 0;
    while ((off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0) {
      if (lo == 0 || lo >= hi) continue;
      if (e->n_cus == cap) {
        size_t nc = cap ? cap * 2 : 64;
        cu_range_t *nv = realloc(e->cus, nc * sizeof *nv);
        if (!nv) return -ENOMEM;
        e->cus = nv;
        cap = nc;
      }
      e->cus[e->n_cus++] = (cu_range_t){lo, hi, cu};
    }
  }
  if (e->n_cus) qsort(e->cus, e->n_cus, sizeof *e->cus, cmp_cu_range);
  return 0;
}

/* The compile unit holding pc (a module address) and the module's bias.
 * libdwfl (elfutils 0.188) finds units through .debug_aranges only, and
 * clang emits none (unless -gdwarf-aranges): every address of a clang
 * unit came back without line or inlined frames. Those fall back to the
 * units' own ranges. NULL with *rc 0 when no unit holds pc. */
static Dwarf_Die *addr_cu(entry_t *e, Dwarf_Addr pc, Dwarf_Addr *bias,
                          int *rc) {
  *rc = 0;
  Dwarf_Die *cu = dwfl_module_addrdie(e->mod, pc, bias);
  if (cu) return cu;
  if (!e->cus_built && (*rc = build_cu_ranges(e)) != 0) return NULL;
  if (!e->n_cus) return NULL;
  /* every unit of a module has the module's bias */
  if (!dwfl_module_nextcu(e->mod, NULL, bias)) return NULL;
  Dwarf_Addr a = pc - *bias;
  size_t lo = 0, hi = e->n_cus; /* the last range starting at or before a */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (e->cus[mid].lo <= a) lo = mid + 1;
    else hi = mid;
  }
  /* ranges of different units do not overlap, but look back a few in case
   * a unit's range is nested in another's */
  for (size_t i = lo; i-- > 0 && lo - i <= 8;)
    if (a < e->cus[i].hi) return e->cus[i].cu;
  return NULL;
}

/* The inlined chain at pc: function scopes innermost first, each with the
 * call site of the one inside it. Fills s->inlines when more than one.
 * dwarf_getscopes gives an inlined instance followed by its abstract
 * definition, not by the function it was inlined into; the physical
 * nesting comes from dwarf_getscopes_die on the instance (as eu-addr2line
 * -i does). */
static int inline_chain(Dwarf_Die *cu, Dwarf_Addr bias, Dwarf_Addr pc,
                        ana_sym_t *s) {
  Dwarf_Die *scopes = NULL;
  int n = dwarf_getscopes(cu, pc - bias, &scopes);
  if (n <= 0) return 0;
  int first = -1;
  for (int i = 0; i < n && first < 0; i++)
    if (is_function(&scopes[i])) first = i;
  if (first < 0) {
    free(scopes);
    return 0;
  }
  Dwarf_Die inner_die = scopes[first];
  free(scopes);
  if (dwarf_tag(&inner_die) != DW_TAG_inlined_subroutine) {
    /* Not inlined; the DWARF name serves when the symbol table has none. */
    if (!s->function) s->function = die_name(&inner_die);
    return 0;
  }
  n = dwarf_getscopes_die(&inner_die, &scopes);
  if (n <= 0) {
    free(s->function);
    s->function = die_name(&inner_die);
    return 0;
  }
  int nf = 0;
  for (int i = 0; i < n; i++) nf += is_function(&scopes[i]);
  s->inlines = calloc((size_t)nf, sizeof *s->inlines);
  if (!s->inlines) {
    free(scopes);
    return -ENOMEM;
  }
  Dwarf_Files *files = NULL;
  size_t nfiles = 0;
  if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0) files = NULL;
  Dwarf_Die *inner = NULL; /* the inlined_subroutine just inside */
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    if (!is_function(&scopes[i])) continue;
    ana_frame_t *f = &s->inlines[k++];
    f->function = die_name(&scopes[i]);
    if (!inner) {
      f->file = dup_or_null(s->file);
      f->line = s->line;
    } else {
      Dwarf_Attribute a;
      Dwarf_Word w;
      if (files && dwarf_attr(inner, DW_AT_call_file, &a) &&
          dwarf_formudata(&a, &w) == 0 && w < nfiles)
        f->file = dup_or_null(dwarf_filesrc(files, w, NULL, NULL));
      if (dwarf_attr(inner, DW_AT_call_line, &a) &&
          dwarf_formudata(&a, &w) == 0)
        f->line = (int)w;
    }
    inner = dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine ? &scopes[i]
                                                                : NULL;
  }
  s->n_inlines = k;
  free(s->function);
  s->function = dup_or_null(s->inlines[0].function);
  free(scopes);
  return 0;
}

int ana_symtab_lookup(ana_symtab_t *t, uint64_t addr, int return_addr,
                      ana_sym_t *s) {
  memset(s, 0, sizeof *s);
  entry_t *e = find_entry(t, addr);
  if (!e) return 0;
  s->module = e->path;
  s->offset = addr - e->base;
  if (!e->mod) return 0;
  /* A return address points after the call; the call is at addr - 1. */
  Dwarf_Addr pc = return_addr && addr ? addr - 1 : addr;
  GElf_Off off;
  GElf_Sym sym;
  const char *name =
      dwfl_module_addrinfo(e->mod, pc, &off, &sym, NULL, NULL, NULL);
  /* A symbol of unknown size only guesses by proximity: not a match. */
  if (name && (sym.st_size == 0 || GELF_ST_TYPE(sym.st_info) != STT_FUNC))
    name = NULL;
  s->function = dup_demangled(name);
  int rc;
  Dwarf_Addr bias = 0;
  Dwarf_Die *cu = addr_cu(e, pc, &bias, &rc);
  Dwfl_Line *ln = dwfl_module_getsrc(e->mod, pc);
  Dwarf_Line *dl; /* the unit found by its ranges: its own line table */
  int line = 0;
  if (ln) {
    const char *file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
    s->file = dup_or_null(file);
    s->line = line;
  } else if (cu && (dl = dwarf_getsrc_die(cu, pc - bias)) != NULL) {
    s->file = dup_or_null(dwarf_linesrc(dl, NULL, NULL));
    if (dwarf_lineno(dl, &line) == 0) s->line = line;
  }
  if (!rc && cu) rc = inline_chain(cu, bias, pc, s);
  if (rc) ana_sym_release(s);
  return rc;
}

/* ---- the database side ------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct addrs {
  uint64_t *v;
  size_t n, cap;
} addrs_t;

static int push(addrs_t *a, uint64_t x) {
  if (!x) return 0;
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 256;
    uint64_t *nv = realloc(a->v, nc * sizeof *nv);
    if (!nv) return -ENOMEM;
    a->v = nv;
    a->cap = nc;
  }
  a->v[a->n++] = x;
  return 0;
}

static int sql_fail(sqlite3 *db, char *why, size_t len) {
  snprintf(why, len, "%s", sqlite3_errmsg(db));
  return HK_E_SQLITE;
}

/* The distinct addresses of a trace's sites: callers and all frames. */
static int collect(sqlite3 *db, int64_t trace, addrs_t *a, char *why,
                   size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT caller, frames FROM sites WHERE trace_id=?",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(st, 1, trace);
  int rc = 0, s;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    rc = push(a, (uint64_t)sqlite3_column_int64(st, 0));
    const char *f = (const char *)sqlite3_column_text(st, 1);
    while (!rc && f && *f) {
      char *end;
      uint64_t x = strtoull(f, &end, 16);
      if (end == f) break;
      rc = push(a, x);
      f = end;
      while (*f == ' ' || *f == ',') f++;
    }
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(st);
  if (rc) return rc;
  if (a->n) qsort(a->v, a->n, sizeof *a->v, cmp_u64);
  size_t k = 0;
  for (size_t i = 0; i < a->n; i++)
    if (!k || a->v[i] != a->v[k - 1]) a->v[k++] = a->v[i];
  a->n = k;
  return 0;
}

static int load_symtab(sqlite3 *db, int64_t trace, unsigned flags,
                       ana_symtab_t **out, ana_sym_stats_t *stats, char *why,
                       size_t len) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT path, base, lo, hi, build_id FROM modules "
                         "WHERE trace_id=? ORDER BY module_id",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(st, 1, trace);
  ana_module_t *m = NULL;
  size_t n = 0, cap = 0;
  int rc = 0, s;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      ana_module_t *nm = realloc(m, nc * sizeof *nm);
      if (!nm) {
        rc = -ENOMEM;
        break;
      }
      m = nm;
      cap = nc;
    }
    const char *p = (const char *)sqlite3_column_text(st, 0);
    const char *b = (const char *)sqlite3_column_text(st, 4);
    m[n] = (ana_module_t){p ? strdup(p) : NULL,
                          (uint64_t)sqlite3_column_int64(st, 1),
                          (uint64_t)sqlite3_column_int64(st, 2),
                          (uint64_t)sqlite3_column_int64(st, 3),
                          b ? strdup(b) : NULL};
    n++;
  }
  if (!rc && s != SQLITE_DONE) rc = sql_fail(db, why, len);
  sqlite3_finalize(st);
  if (!rc) rc = ana_symtab_create(m, n, flags, out, stats);
  for (size_t i = 0; i < n; i++) {
    free((char *)m[i].path);
    free((char *)m[i].build_id);
  }
  free(m);
  return rc;
}

static int symbolize_trace(sqlite3 *db, int64_t trace, unsigned flags,
                           ana_sym_stats_t *stats, hk_progress_t *pg,
                           const char *name, char *why, size_t len) {
  addrs_t a = {0};
  ana_symtab_t *t = NULL;
  sqlite3_stmt *ins = NULL, *inl = NULL;
  int rc = collect(db, trace, &a, why, len);
  if (!rc) rc = load_symtab(db, trace, flags, &t, stats, why, len);
  if (rc) goto out;
  hk_progress_begin(pg, pg->on, name, "symbolizing", "addresses", a.n);
  if (sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO symbols(trace_id, address, "
                         "function, file, line, module) VALUES (?,?,?,?,?,?)",
                         -1, &ins, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO symbol_inlines(trace_id, "
                         "address, depth, function, file, line) "
                         "VALUES (?,?,?,?,?,?)",
                         -1, &inl, NULL) != SQLITE_OK) {
    rc = sql_fail(db, why, len);
    goto out;
  }
  for (size_t i = 0; i < a.n && !rc; i++) {
    ana_sym_t s;
    if ((rc = ana_symtab_lookup(t, a.v[i], 1, &s))) break;
    stats->addresses++;
    stats->with_function += s.function != NULL;
    stats->with_line += s.line > 0;
    stats->inlined += s.n_inlines > 0;
    stats->no_module += s.module == NULL;
    sqlite3_bind_int64(ins, 1, trace);
    sqlite3_bind_int64(ins, 2, (int64_t)a.v[i]);
    ana_bind_text_or_null(ins, 3, s.function);
    ana_bind_text_or_null(ins, 4, s.file);
    if (s.line > 0)
      sqlite3_bind_int(ins, 5, s.line);
    else
      sqlite3_bind_null(ins, 5);
    ana_bind_text_or_null(ins, 6, s.module);
    if (sqlite3_step(ins) != SQLITE_DONE) rc = sql_fail(db, why, len);
    sqlite3_reset(ins);
    for (size_t k = 0; k < s.n_inlines && !rc; k++) {
      sqlite3_bind_int64(inl, 1, trace);
      sqlite3_bind_int64(inl, 2, (int64_t)a.v[i]);
      sqlite3_bind_int64(inl, 3, (int64_t)k);
      ana_bind_text_or_null(inl, 4, s.inlines[k].function);
      ana_bind_text_or_null(inl, 5, s.inlines[k].file);
      if (s.inlines[k].line > 0)
        sqlite3_bind_int(inl, 6, s.inlines[k].line);
      else
        sqlite3_bind_null(inl, 6);
      if (sqlite3_step(inl) != SQLITE_DONE) rc = sql_fail(db, why, len);
      sqlite3_reset(inl);
    }
    ana_sym_release(&s);
    hk_progress_update(pg, i + 1);
  }
  if (!rc) hk_progress_end(pg, a.n);
out:
  sqlite3_finalize(ins);
  sqlite3_finalize(inl);
  ana_symtab_free(t);
  free(a.v);
  return rc;
}

/* A trace's op count and name, for its progress lines. */
static void trace_ops(sqlite3 *db, int64_t trace, int64_t *ops, char *name,
                      size_t len) {
  sqlite3_stmt *st;
  *ops = 0;
  snprintf(name, len, "trace %lld", (long long)trace);
  if (sqlite3_prepare_v2(db, "SELECT ops, name FROM traces WHERE trace_id = ?",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_int64(st, 1, trace);
  if (sqlite3_step(st) == SQLITE_ROW) {
    *ops = sqlite3_column_int64(st, 0);
    if (sqlite3_column_text(st, 1))
      snprintf(name, len, "%s", (const char *)sqlite3_column_text(st, 1));
  }
  sqlite3_finalize(st);
}

int ana_symbolize(ana_db_t *adb, int64_t trace_id, unsigned flags,
                  ana_sym_stats_t *st, char *why, size_t len) {
  ana_sym_stats_t local;
  if (!st) st = &local;
  memset(st, 0, sizeof *st);
  sqlite3 *db = ana_db_sqlite(adb);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db,
                         "SELECT trace_id FROM traces WHERE ?1 < 0 OR "
                         "trace_id = ?1 ORDER BY trace_id",
                         -1, &q, NULL) != SQLITE_OK)
    return sql_fail(db, why, len);
  sqlite3_bind_int64(q, 1, trace_id);
  int64_t *ids;
  size_t n;
  int rc = ana_ids_of(q, &ids, &n);
  if (rc == HK_E_SQLITE) rc = sql_fail(db, why, len);
  sqlite3_finalize(q);
  if (!rc && trace_id >= 0 && n == 0) {
    snprintf(why, len, "no trace %lld in the database", (long long)trace_id);
    rc = HK_E_NOTFOUND;
  }
  for (size_t i = 0; i < n && !rc; i++) {
    int done = ana_exec_trace(
        db, "SELECT 1 FROM symbols WHERE trace_id=? LIMIT 1", ids[i]);
    if (done < 0) {
      rc = sql_fail(db, why, len);
      break;
    }
    if (done && !(flags & ANA_SYM_FORCE)) {
      st->traces_skipped++;
      continue;
    }
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
      rc = sql_fail(db, why, len);
      break;
    }
    if (ana_exec_trace(db, "DELETE FROM symbols WHERE trace_id=?", ids[i]) ||
        ana_exec_trace(db, "DELETE FROM symbol_inlines WHERE trace_id=?",
                       ids[i]))
      rc = sql_fail(db, why, len);
    uint64_t addr0 = st->addresses;
    /* Long traces say what they are doing (hk_progress): hksim replay and
     * hksim report symbolize and attribute each new trace, seconds for a
     * large program. Two phases: symbolizing (addresses, counted as they
     * resolve) and attributing (a walk over the ops, drawn at its start
     * and ended with its time). */
    int64_t ops = 0;
    char name[128];
    trace_ops(db, ids[i], &ops, name, sizeof name);
    hk_progress_t pg;
    hk_progress_begin(&pg, (flags & ANA_SYM_PROGRESS) != 0, name, "", "", 0);
    if (!rc) rc = symbolize_trace(db, ids[i], flags, st, &pg, name, why, len);
    /* A trace with no address to symbolize (synthetic) comes back every
     * time: its attribution, a walk over its ops, is done once. */
    if (!rc && ((flags & ANA_SYM_FORCE) || st->addresses > addr0 ||
                ana_exec_trace(db,
                               "SELECT 1 FROM site_life WHERE trace_id=?1 "
                               "UNION ALL SELECT 1 FROM site_attr WHERE "
                               "trace_id=?1 LIMIT 1",
                               ids[i]) == 0)) {
      hk_progress_begin(&pg, pg.on, name, "attributing", "ops",
                        (uint64_t)(ops > 0 ? ops : 0));
      hk_progress_show(&pg, 0);
      rc = ana_attribute_trace(adb, ids[i], NULL, why, len);
      if (!rc) hk_progress_end(&pg, (uint64_t)(ops > 0 ? ops : 0));
    }
    if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
      rc = sql_fail(db, why, len);
    if (rc) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    else st->traces++;
  }
  free(ids);
  /* Traces symbolized by an older hksim: stacks and attribution only. */
  if (!rc) rc = ana_attribute(adb, trace_id, 1, NULL, why, len);
  return rc;
}
