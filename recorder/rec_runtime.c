/* rec_runtime.c: runtimes with an allocator of their own (CPython's
 * pymalloc, libstdc++'s pools, GLib's slices) and the environment switch
 * that sends their requests to malloc. One table for both sides:
 * `hksim record` looks for them in the program's ELF file before it runs
 * (cli/record_runtime.c); the recorder looks in each process it records,
 * before main, for the ones the command line did not show (a python3
 * started by a shell script, a Makefile, a test runner). */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec_internal.h"

const rec_runtime_t rec_runtimes[] = {
    {"CPython", "PYTHONMALLOC", "malloc",
     "pymalloc serves objects up to 512 bytes from its own arenas",
     "libpython", "Py_BytesMain"},
    {"libstdc++", "GLIBCXX_FORCE_NEW", "1",
     "the pool allocators of libstdc++ keep freed blocks", "libstdc++", NULL},
    {"GLib", "G_SLICE", "always-malloc",
     "older GLib (< 2.76) serves g_slice blocks from its own magazines",
     "libglib-2.0", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

unsigned rec_runtimes_of_lib(const char *name) {
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  unsigned mask = 0;
  for (unsigned i = 0; rec_runtimes[i].name; i++)
    if (strncmp(base, rec_runtimes[i].module,
                strlen(rec_runtimes[i].module)) == 0)
      mask |= 1u << i;
  return mask;
}

static int loaded_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  if (info->dlpi_name && info->dlpi_name[0])
    *(unsigned *)data |= rec_runtimes_of_lib(info->dlpi_name);
  return 0;
}

unsigned rec_runtimes_loaded(void) {
  unsigned mask = 0;
  dl_iterate_phdr(loaded_cb, &mask);
  for (unsigned i = 0; rec_runtimes[i].name; i++)
    if (rec_runtimes[i].symbol && dlsym(RTLD_DEFAULT, rec_runtimes[i].symbol))
      mask |= 1u << i;
  return mask;
}

unsigned rec_runtimes_switch(const char *manifest) {
  unsigned loaded = rec_runtimes_loaded(), set = 0;
  char exe[1024];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  for (unsigned i = 0; rec_runtimes[i].name; i++) {
    const rec_runtime_t *rt = &rec_runtimes[i];
    if (!(loaded & (1u << i)) || getenv(rt->var)) continue;
    if (setenv(rt->var, rt->value, 0)) continue;
    set |= 1u << i;
    char line[1200];
    int k = snprintf(line, sizeof line, "%s\t%s\t%s=%s\t%d\t%s\n",
                     REC_MANIFEST_RUNTIME, rt->name, rt->var, rt->value,
                     (int)getpid(), exe);
    if (k > 0 && (size_t)k < sizeof line) rec_manifest_append(manifest, line);
  }
  return set;
}
