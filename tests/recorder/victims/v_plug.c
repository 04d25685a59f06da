/* v_plug.c: libv_plug.so, loaded by v_dlopen with dlopen: allocates from
 * inside the plugin. */
#include <stdlib.h>

__attribute__((noinline)) void plug_alloc(int n) {
  for (int i = 0; i < n; i++) free(malloc(48));
}
