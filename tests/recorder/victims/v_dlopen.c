/* v_dlopen.c: victim that dlopens libv_plug.so (argv[2]), allocates 25
 * times inside it, dlcloses it. argv: RANGES_FILE PLUGIN_PATH. */
#include <dlfcn.h>
#include <stdlib.h>

#include "victim.h"

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  void *h = dlopen(argv[2], RTLD_NOW);
  if (!h) return 3;
  void (*fn)(int) = (void (*)(int))dlsym(h, "plug_alloc");
  if (!fn) return 4;
  FILE *f = fopen(argv[1], "w");
  victim_range(f, "plug", (void *)fn);
  if (f) fclose(f);
  fn(25);
  dlclose(h);
  free(malloc(10));
  return 0;
}
