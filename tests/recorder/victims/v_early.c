/* v_early.c: libv_early.so, a library v_ops links: its constructor calls
 * calloc while the process is starting, before the recorder's own
 * constructor may have run (bootstrap test). */
#include <stdlib.h>

#include "victim.h"

void *v_early_blocks[3];

__attribute__((noinline)) void v_early_calloc(void) {
  for (int i = 0; i < 3; i++) v_early_blocks[i] = calloc(4, 8);
}

__attribute__((constructor)) static void v_early_init(void) { v_early_calloc(); }
