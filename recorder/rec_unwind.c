/* rec_unwind.c: stack capture for call sites. libunwind's unw_backtrace
 * (local-only, with its per-thread trace cache) walks the stack; frames of
 * the recorder itself and of allocator-internal code (C++ operator
 * new/delete) are dropped from the top so that frames[0] is user code. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <libunwind.h>
#include <string.h>

#include "recorder.h"

void rec_unwind_init(void) {
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
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

uint32_t rec_capture(uint64_t *frames, uint32_t depth, const rec_skip_t *skip) {
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
