/* rec_unwind.c: stack capture for call sites. A walker of its own reads
 * the DWARF call-frame information (.eh_frame, found with glibc's
 * _dl_find_object) once per return address and keeps the rule it gives in
 * a per-thread table, so that a stack costs one table probe and one or two
 * loads per frame, frame pointers or not. libunwind's unw_backtrace (with
 * its per-thread cache) walks whatever that walker declines: signal
 * frames, CFA expressions, code without unwind tables, a stack outside the
 * thread's own. Frames of the recorder itself and of allocator-internal
 * code (C++ operator new/delete) are dropped from the top so that
 * frames[0] is user code. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "recorder.h"

#if defined(__x86_64__) && defined(DLFO_EH_SEGMENT_TYPE)
#define REC_CFI_WALK 1
#else
#define REC_CFI_WALK 0
#endif

/* Bumped when a module may have been unloaded: every thread empties its
 * rule table before its next walk (a new module at the old addresses
 * would otherwise be walked with the old one's rules). */
static _Atomic uint32_t g_epoch;

void rec_unwind_flush(void) {
  atomic_fetch_add_explicit(&g_epoch, 1, memory_order_relaxed);
}

#if REC_CFI_WALK
static pthread_key_t g_walk_key;
static _Atomic int g_walk_key_ok;
static void walker_release(void *w);
#endif

void rec_unwind_init(void) {
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
#if REC_CFI_WALK
  /* The key frees a thread's rule table when it exits; created once. */
  int expect = 0;
  if (atomic_compare_exchange_strong(&g_walk_key_ok, &expect, 2)) {
    if (pthread_key_create(&g_walk_key, walker_release) == 0)
      atomic_store(&g_walk_key_ok, 1);
    else
      atomic_store(&g_walk_key_ok, 0);
  }
#endif
}

int rec_skip_add(rec_skip_t *s, uint64_t lo, uint64_t hi) {
  if (s->n >= REC_MAX_SKIP) return HK_E_RANGE;
  s->lo[s->n] = lo;
  s->hi[s->n] = hi;
  s->n++;
  return 0;
}

struct find_ctx {
  uint64_t addr;
  rec_skip_t *skip;
  int found;
};

static int find_cb(struct dl_phdr_info *info, size_t size, void *p) {
  struct find_ctx *c = p;
  int hit = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type == PT_LOAD && c->addr >= lo && c->addr < hi) hit = 1;
  }
  if (!hit) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
      uint64_t lo = info->dlpi_addr + ph->p_vaddr;
      if (rec_skip_add(c->skip, lo, lo + ph->p_memsz) == 0) c->found = 1;
    }
  }
  return 1;
}

int rec_skip_add_module_of(rec_skip_t *s, const void *addr) {
  struct find_ctx c = {(uint64_t)(uintptr_t)addr, s, 0};
  dl_iterate_phdr(find_cb, &c);
  return c.found ? 0 : HK_E_NOTFOUND;
}

int rec_skip_add_cxx_operators(rec_skip_t *s) {
  /* Every replaceable allocation and deallocation function of C++17. */
  static const char *const names[] = {
      "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
      "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
      "_ZnwmSt11align_val_tRKSt9nothrow_t",
      "_ZnamSt11align_val_tRKSt9nothrow_t", "_ZdlPv", "_ZdaPv", "_ZdlPvm",
      "_ZdaPvm", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
      "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
      "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t"};
  int added = 0;
  for (size_t i = 0; i < HK_ARRAY_LEN(names); i++) {
    void *f = dlsym(RTLD_DEFAULT, names[i]);
    if (!f) continue;
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!dladdr1(f, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym) continue;
    uint64_t lo = (uint64_t)(uintptr_t)f;
    uint64_t size = sym->st_size ? sym->st_size : 1;
    if (rec_skip_has(s, lo)) continue;
    if (rec_skip_add(s, lo, lo + size) == 0) added++;
  }
  /* A failed dlsym leaves an error message that glibc frees at the next
   * dl* call: release it now, while the caller's guard keeps the free out
   * of the trace (else it shows up as a free of an unrecorded block). */
  (void)dlerror();
  (void)dlerror();
  return added;
}

#if REC_CFI_WALK
/* ---- the CFI walker ---------------------------------------------------- */

/* One frame's rule, for the pc it was computed at (a return address less
 * one, or the walker's own pc): CFA = (rbp or rsp) + cfa_off, the return
 * address at CFA - 8 (x86-64's CIEs all say so; any other rule is
 * declined), rbp restored from CFA + rbp_off when saved. */
enum {
  RULE_CFA_RBP = 1,   /* CFA from rbp, else from rsp */
  RULE_RBP_SAVED = 2, /* rbp saved at CFA + rbp_off */
  RULE_END = 4,       /* return address undefined: the outermost frame */
  RULE_NONE = 8,      /* the walker cannot do this pc (libunwind will) */
};
typedef struct rule {
  uint64_t pc; /* 0: empty slot */
  int32_t cfa_off;
  int16_t rbp_off;
  uint8_t flags;
  uint8_t pad_;
} rule_t;

/* Direct-mapped: 2048 rules (32 KiB) hold the return addresses of a large
 * program's allocating paths (sqlite3's 200,000-row workload has a few
 * hundred); a collision only costs a new read of the CFI. */
#define RULE_BITS 11
typedef struct walker {
  rule_t rule[1u << RULE_BITS];
  uint64_t stack_lo, stack_hi; /* the thread's stack: every load is in it */
  uint32_t epoch;
} walker_t;

static __thread walker_t *t_walk __attribute__((tls_model("initial-exec")));
static __thread int t_walk_off __attribute__((tls_model("initial-exec")));

static void walker_release(void *w) {
  if (w == t_walk) {
    t_walk = NULL;
    t_walk_off = 1; /* later captures of this exiting thread: libunwind */
  }
  munmap(w, sizeof(walker_t));
}

/* The calling thread's walker, made at its first capture; NULL when it
 * cannot be (no memory, stack bounds unknown): libunwind then. */
static HK_NOINLINE walker_t *walker_make(void) {
  if (t_walk_off) return NULL;
  t_walk_off = 1;
  pthread_attr_t a;
  void *lo;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &a) != 0) return NULL;
  int rc = pthread_attr_getstack(&a, &lo, &size);
  pthread_attr_destroy(&a);
  if (rc != 0) return NULL;
  walker_t *w = mmap(NULL, sizeof *w, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (w == MAP_FAILED) return NULL;
  w->stack_lo = (uint64_t)(uintptr_t)lo;
  w->stack_hi = w->stack_lo + size;
  w->epoch = atomic_load_explicit(&g_epoch, memory_order_relaxed);
  if (atomic_load(&g_walk_key_ok) == 1) pthread_setspecific(g_walk_key, w);
  t_walk = w;
  t_walk_off = 0;
  return w;
}

/* ---- reading .eh_frame ---- */

enum {
  PE_ABSPTR = 0x00, PE_UDATA4 = 0x03, PE_UDATA8 = 0x04, PE_SDATA4 = 0x0b,
  PE_SDATA8 = 0x0c, PE_PCREL = 0x10, PE_DATAREL = 0x30, PE_OMIT = 0xff,
};

typedef struct cursor {
  const uint8_t *p, *end;
  int bad;
} cursor_t;

static uint64_t rd_u(cursor_t *c, size_t n) {
  if (c->bad || (size_t)(c->end - c->p) < n) {
    c->bad = 1;
    return 0;
  }
  uint64_t v = 0;
  memcpy(&v, c->p, n); /* little-endian: x86-64 only */
  c->p += n;
  return v;
}
static uint64_t rd_uleb(cursor_t *c) {
  uint64_t v = 0;
  for (unsigned sh = 0; sh < 64; sh += 7) {
    uint8_t b = (uint8_t)rd_u(c, 1);
    v |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80)) return v;
  }
  c->bad = 1;
  return 0;
}
static int64_t rd_sleb(cursor_t *c) {
  uint64_t v = 0;
  for (unsigned sh = 0; sh < 64; sh += 7) {
    uint8_t b = (uint8_t)rd_u(c, 1);
    v |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80)) {
      if (sh + 7 < 64 && (b & 0x40)) v |= ~(uint64_t)0 << (sh + 7);
      return (int64_t)v;
    }
  }
  c->bad = 1;
  return 0;
}
/* A pointer in encoding enc (absolute or pc-relative, 4 or 8 bytes; the
 * encodings GCC, Clang and the linkers write). value_only: pc_range. */
static uint64_t rd_enc(cursor_t *c, uint8_t enc, int value_only) {
  uint64_t at = (uint64_t)(uintptr_t)c->p, v;
  switch (enc & 0x0f) {
  case PE_ABSPTR: case PE_UDATA8: case PE_SDATA8: v = rd_u(c, 8); break;
  case PE_UDATA4: v = rd_u(c, 4); break;
  case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)rd_u(c, 4); break;
  default: c->bad = 1; return 0;
  }
  if (value_only) return v;
  switch (enc & 0xf0) {
  case 0: return v;
  case PE_PCREL: return at + v;
  default: c->bad = 1; return 0;
  }
}

/* The rules the CFA program gives for the three registers we track. */
enum { HOW_SAME = 0, HOW_OFF, HOW_UNDEF, HOW_BAD };
typedef struct cfa_state {
  uint64_t cfa_reg;
  int64_t cfa_off;
  int cfa_bad;
  int rbp_how, ra_how;
  int64_t rbp_off, ra_off;
} cfa_state_t;

#define DW_RBP 6
#define DW_RSP 7
#define DW_RA 16

static void set_reg(cfa_state_t *s, uint64_t reg, int how, int64_t off) {
  if (reg == DW_RBP) {
    s->rbp_how = how;
    s->rbp_off = off;
  } else if (reg == DW_RA) {
    s->ra_how = how;
    s->ra_off = off;
  }
}
static void restore_reg(cfa_state_t *s, const cfa_state_t *init,
                        uint64_t reg) {
  if (reg == DW_RBP) {
    s->rbp_how = init->rbp_how;
    s->rbp_off = init->rbp_off;
  } else if (reg == DW_RA) {
    s->ra_how = init->ra_how;
    s->ra_off = init->ra_off;
  }
}

/* Runs a CFA program from loc, stopping before the first row past pc.
 * init: the CIE's state (NULL while running the CIE). Returns 0, or -1
 * for an instruction it does not know. */
static int run_cfa(cursor_t *c, cfa_state_t *s, const cfa_state_t *init,
                   uint64_t loc, uint64_t pc, uint64_t caf, int64_t daf) {
  cfa_state_t stack[8];
  int sp = 0;
  while (c->p < c->end && !c->bad) {
    uint8_t op = (uint8_t)rd_u(c, 1);
    uint64_t delta = 0, reg;
    switch (op & 0xc0) {
    case 0x40: delta = (op & 0x3f) * caf; goto advance;
    case 0x80:
      set_reg(s, op & 0x3f, HOW_OFF, (int64_t)rd_uleb(c) * daf);
      continue;
    case 0xc0:
      if (!init) return -1;
      restore_reg(s, init, op & 0x3f);
      continue;
    default: break;
    }
    switch (op) {
    case 0x00: continue; /* nop */
    case 0x02: delta = rd_u(c, 1) * caf; goto advance;
    case 0x03: delta = rd_u(c, 2) * caf; goto advance;
    case 0x04: delta = rd_u(c, 4) * caf; goto advance;
    case 0x05: /* offset_extended */
      reg = rd_uleb(c);
      set_reg(s, reg, HOW_OFF, (int64_t)rd_uleb(c) * daf);
      continue;
    case 0x06: /* restore_extended */
      reg = rd_uleb(c);
      if (!init) return -1;
      restore_reg(s, init, reg);
      continue;
    case 0x07: set_reg(s, rd_uleb(c), HOW_UNDEF, 0); continue;
    case 0x08: set_reg(s, rd_uleb(c), HOW_SAME, 0); continue;
    case 0x09: /* register: reg saved in another register */
      reg = rd_uleb(c);
      (void)rd_uleb(c);
      set_reg(s, reg, HOW_BAD, 0);
      continue;
    case 0x0a: /* remember_state */
      if (sp == (int)HK_ARRAY_LEN(stack)) return -1;
      stack[sp++] = *s;
      continue;
    case 0x0b: /* restore_state: the whole row, CFA included (GCC's
                * epilogues remember before popping and restore after) */
      if (sp == 0) return -1;
      *s = stack[--sp];
      continue;
    case 0x0c: /* def_cfa */
      s->cfa_reg = rd_uleb(c);
      s->cfa_off = (int64_t)rd_uleb(c);
      s->cfa_bad = 0;
      continue;
    case 0x0d: s->cfa_reg = rd_uleb(c); continue; /* def_cfa_register */
    case 0x0e: s->cfa_off = (int64_t)rd_uleb(c); continue;
    case 0x0f: /* def_cfa_expression: declined unless redefined later */
      {
        uint64_t n = rd_uleb(c);
        if (n > (uint64_t)(c->end - c->p)) return -1;
        c->p += n;
      }
      s->cfa_bad = 1;
      continue;
    case 0x10: /* expression */
    case 0x16: /* val_expression */
      reg = rd_uleb(c);
      {
        uint64_t n = rd_uleb(c);
        if (n > (uint64_t)(c->end - c->p)) return -1;
        c->p += n;
      }
      set_reg(s, reg, HOW_BAD, 0);
      continue;
    case 0x11: /* offset_extended_sf */
      reg = rd_uleb(c);
      set_reg(s, reg, HOW_OFF, rd_sleb(c) * daf);
      continue;
    case 0x12: /* def_cfa_sf */
      s->cfa_reg = rd_uleb(c);
      s->cfa_off = rd_sleb(c) * daf;
      s->cfa_bad = 0;
      continue;
    case 0x13: s->cfa_off = rd_sleb(c) * daf; continue; /* def_cfa_offset_sf */
    case 0x14: /* val_offset */
      reg = rd_uleb(c);
      (void)rd_uleb(c);
      set_reg(s, reg, HOW_BAD, 0);
      continue;
    case 0x15: /* val_offset_sf */
      reg = rd_uleb(c);
      (void)rd_sleb(c);
      set_reg(s, reg, HOW_BAD, 0);
      continue;
    case 0x2e: (void)rd_uleb(c); continue; /* GNU_args_size */
    case 0x2f: /* GNU_negative_offset_extended */
      reg = rd_uleb(c);
      set_reg(s, reg, HOW_OFF, -(int64_t)rd_uleb(c) * daf);
      continue;
    default: return -1; /* set_loc and anything newer */
    }
  advance:
    if (!init) return -1; /* a CIE does not advance */
    loc += delta;
    if (loc > pc) return 0;
  }
  return c->bad ? -1 : 0;
}

/* The rule at pc from the module's .eh_frame_hdr search table. Returns 0,
 * or -1 when the walker cannot walk this frame. */
static int rule_read(uint64_t pc, rule_t *out) {
  struct dl_find_object fo;
  if (_dl_find_object((void *)(uintptr_t)pc, &fo) != 0 || !fo.dlfo_eh_frame)
    return -1;
  const uint8_t *hdr = fo.dlfo_eh_frame;
  /* version 1; the table as binary-search pairs of sdata4 relative to hdr */
  if (hdr[0] != 1 || hdr[2] != PE_UDATA4 ||
      hdr[3] != (PE_DATAREL | PE_SDATA4))
    return -1;
  cursor_t c = {hdr + 4, hdr + 4 + 16, 0};
  (void)rd_enc(&c, hdr[1], 0); /* eh_frame_ptr: not needed */
  uint32_t n = (uint32_t)rd_u(&c, 4);
  if (c.bad || n == 0) return -1;
  const int32_t *tab = (const int32_t *)(const void *)c.p;
  int64_t rel = (int64_t)(pc - (uint64_t)(uintptr_t)hdr);
  if (rel < tab[0]) return -1;
  uint32_t lo = 0, hi = n; /* the last entry whose start <= pc */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (tab[2 * mid] <= rel) lo = mid; else hi = mid;
  }
  const uint8_t *fde = hdr + tab[2 * lo + 1];
  /* The FDE: length, CIE pointer, pc_begin, pc_range, augmentation. */
  cursor_t f = {fde, fde + 8, 0};
  uint32_t flen = (uint32_t)rd_u(&f, 4);
  if (flen == 0 || flen == 0xffffffffu) return -1;
  f.end = fde + 4 + flen;
  const uint8_t *cie = f.p - (uint32_t)rd_u(&f, 4);
  /* The CIE: id 0, version, augmentation, alignment factors, RA column. */
  cursor_t k = {cie, cie + 4, 0};
  uint32_t clen = (uint32_t)rd_u(&k, 4);
  if (clen == 0 || clen == 0xffffffffu) return -1;
  k.end = cie + 4 + clen;
  if (rd_u(&k, 4) != 0) return -1;
  uint8_t ver = (uint8_t)rd_u(&k, 1);
  if (ver != 1 && ver != 3) return -1;
  const char *aug = (const char *)k.p;
  size_t alen = strnlen(aug, (size_t)(k.end - k.p));
  if (alen == (size_t)(k.end - k.p)) return -1;
  k.p += alen + 1;
  uint64_t caf = rd_uleb(&k);
  int64_t daf = rd_sleb(&k);
  uint64_t ra = ver == 1 ? rd_u(&k, 1) : rd_uleb(&k);
  uint8_t fde_enc = PE_ABSPTR;
  int has_z = aug[0] == 'z';
  if (has_z) {
    uint64_t zlen = rd_uleb(&k);
    if (k.bad || zlen > (uint64_t)(k.end - k.p)) return -1;
    cursor_t z = {k.p, k.p + zlen, 0};
    for (const char *a = aug + 1; *a; a++) {
      if (*a == 'R') fde_enc = (uint8_t)rd_u(&z, 1);
      else if (*a == 'L') (void)rd_u(&z, 1);
      else if (*a == 'P') {
        uint8_t penc = (uint8_t)rd_u(&z, 1);
        (void)rd_enc(&z, penc & 0x7f, 1);
      } else if (*a == 'S') return -1; /* a signal frame: libunwind's */
      else break;                      /* unknown: the length skips it */
    }
    if (z.bad) return -1;
    k.p += zlen;
  } else if (aug[0]) {
    return -1;
  }
  if (k.bad || ra != DW_RA) return -1;
  uint64_t pc_begin = rd_enc(&f, fde_enc, 0);
  uint64_t pc_range = rd_enc(&f, fde_enc & 0x0f, 1);
  if (f.bad || pc < pc_begin || pc - pc_begin >= pc_range) return -1;
  if (has_z) {
    uint64_t zlen = rd_uleb(&f);
    if (f.bad || zlen > (uint64_t)(f.end - f.p)) return -1;
    f.p += zlen;
  }
  cfa_state_t init = {0, 0, 1, HOW_SAME, HOW_SAME, 0, 0};
  if (run_cfa(&k, &init, NULL, 0, 0, caf, daf) != 0) return -1;
  cfa_state_t s = init;
  if (run_cfa(&f, &s, &init, pc_begin, pc, caf, daf) != 0) return -1;
  memset(out, 0, sizeof *out);
  out->pc = pc;
  if (s.ra_how == HOW_UNDEF) {
    out->flags = RULE_END;
    return 0;
  }
  if (s.cfa_bad || (s.cfa_reg != DW_RSP && s.cfa_reg != DW_RBP) ||
      s.cfa_off < 8 || s.cfa_off > INT32_MAX || s.ra_how != HOW_OFF ||
      s.ra_off != -8 || s.rbp_how == HOW_BAD ||
      (s.rbp_how == HOW_OFF && (s.rbp_off < INT16_MIN || s.rbp_off > -8)))
    return -1;
  out->cfa_off = (int32_t)s.cfa_off;
  out->flags = (uint8_t)(s.cfa_reg == DW_RBP ? RULE_CFA_RBP : 0);
  if (s.rbp_how == HOW_OFF) {
    out->flags |= RULE_RBP_SAVED;
    out->rbp_off = (int16_t)s.rbp_off;
  }
  return 0;
}

HK_FORCE_INLINE const rule_t *rule_get(walker_t *w, uint64_t pc) {
  rule_t *r = &w->rule[(pc * 0x9E3779B97F4A7C15ull) >> (64 - RULE_BITS)];
  if (HK_LIKELY(r->pc == pc)) return r;
  if (rule_read(pc, r) != 0) {
    memset(r, 0, sizeof *r);
    r->pc = pc;
    r->flags = RULE_NONE;
  }
  return r;
}

/* Walks from (pc, sp, bp), the state of a frame at pc itself (not a
 * return address). Returns the frames stored, or -1 when a frame is one
 * the walker declines (the caller then asks libunwind). Every load is
 * inside the thread's stack and every CFA above the last one, so a wrong
 * rule can give wrong frames but never a fault or a loop. */
__attribute__((no_sanitize_address)) static int
cfi_walk(walker_t *w, uint64_t *frames, uint32_t depth,
         const rec_skip_t *skip, uint64_t pc, uint64_t sp, uint64_t bp) {
  uint32_t k = 0;
  int leading = skip != NULL;
  if (sp < w->stack_lo || sp >= w->stack_hi) return -1;
  for (int steps = 0; steps < 1024; steps++) {
    const rule_t *r = rule_get(w, pc);
    if (HK_UNLIKELY(r->flags & (RULE_END | RULE_NONE)))
      return r->flags & RULE_END ? (int)k : -1;
    uint64_t cfa = (r->flags & RULE_CFA_RBP ? bp : sp) + (int64_t)r->cfa_off;
    if (HK_UNLIKELY(cfa <= sp || cfa > w->stack_hi || (cfa & 7))) return -1;
    uint64_t ret = *(const uint64_t *)(uintptr_t)(cfa - 8);
    if (r->flags & RULE_RBP_SAVED)
      bp = *(const uint64_t *)(uintptr_t)(cfa + (int64_t)r->rbp_off);
    sp = cfa;
    if (ret == 0) return (int)k; /* the end of a hand-made stack */
    if (!leading || !rec_skip_has(skip, ret)) {
      leading = 0;
      frames[k++] = ret;
      if (k == depth) return (int)k;
    }
    pc = ret - 1; /* inside the call: ret may start the next function */
  }
  return -1;
}

HK_NOINLINE int rec_capture_cfi(uint64_t *frames, uint32_t depth,
                                const rec_skip_t *skip) {
  walker_t *w = t_walk;
  if (HK_UNLIKELY(!w) && !(w = walker_make())) return -1;
  uint32_t e = atomic_load_explicit(&g_epoch, memory_order_relaxed);
  if (HK_UNLIKELY(w->epoch != e)) {
    memset(w->rule, 0, sizeof w->rule);
    w->epoch = e;
  }
  uint64_t pc, sp, bp;
  /* This frame's own state: the pc of the next instruction, rsp and rbp
   * as they are there (its CFI row describes exactly this state). */
  __asm__ volatile("lea 0(%%rip), %0\n\t"
                   "mov %%rsp, %1\n\t"
                   "mov %%rbp, %2"
                   : "=r"(pc), "=r"(sp), "=r"(bp));
  return cfi_walk(w, frames, depth, skip, pc, sp, bp);
}
#else
int rec_capture_cfi(uint64_t *frames, uint32_t depth, const rec_skip_t *skip) {
  (void)frames, (void)depth, (void)skip;
  return -1;
}
#endif

uint32_t rec_capture_unw(uint64_t *frames, uint32_t depth,
                         const rec_skip_t *skip) {
  void *ips[TRC_MAX_DEPTH + 32];
  int max = (int)depth + 32;
  if (max > (int)HK_ARRAY_LEN(ips)) max = (int)HK_ARRAY_LEN(ips);
  int n = unw_backtrace(ips, max);
  int i = 0;
  while (i < n && skip && rec_skip_has(skip, (uint64_t)(uintptr_t)ips[i])) i++;
  uint32_t k = 0;
  for (; i < n && k < depth; i++) frames[k++] = (uint64_t)(uintptr_t)ips[i];
  return k;
}

uint32_t rec_capture(uint64_t *frames, uint32_t depth, const rec_skip_t *skip) {
  int n = rec_capture_cfi(frames, depth, skip);
  return n >= 0 ? (uint32_t)n : rec_capture_unw(frames, depth, skip);
}
