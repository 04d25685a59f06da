/* victim.h: helpers shared by the recorder's victim programs: print the
 * address range of a function (for rec_check --ranges), found with dladdr1
 * (victims are linked with -rdynamic so their symbols are visible). */
#ifndef VICTIM_H
#define VICTIM_H

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>

static inline void victim_range(FILE *f, const char *name, const void *fn) {
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (!f || !dladdr1(fn, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym)
    return;
  fprintf(f, "%s %llx %llx\n", name, (unsigned long long)(uintptr_t)fn,
          (unsigned long long)(uintptr_t)fn + sym->st_size);
}

/* Keeps the compiler from removing allocations whose result is unused. */
static inline void victim_use(void *p) { __asm__ volatile("" ::"r"(p) : "memory"); }

#endif
