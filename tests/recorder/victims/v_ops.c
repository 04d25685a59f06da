/* v_ops.c: victim with an exact number of calls of each allocation op at
 * known functions. argv: RANGES_FILE EXIT_MODE [CODE]; EXIT_MODE is return,
 * exit, _exit or abort. Writes the functions' address ranges to
 * RANGES_FILE for rec_check. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "victim.h"

extern void *v_early_blocks[3];
extern void v_early_calloc(void);

static void *keep[512];
static int nkeep;

__attribute__((noinline)) void do_malloc(void) {
  for (int i = 0; i < 100; i++) keep[nkeep++] = malloc(16 + (size_t)i);
}
__attribute__((noinline)) void do_calloc(void) {
  for (int i = 0; i < 50; i++) keep[nkeep++] = calloc((size_t)i + 1, 8);
}
__attribute__((noinline)) void do_realloc(void) {
  void *p = NULL; /* a chain: the first is realloc(NULL, n) */
  for (int i = 0; i < 30; i++) p = realloc(p, 32u << (i % 12));
  keep[nkeep++] = p;
}
__attribute__((noinline)) void do_reallocarray(void) {
  void *p = malloc(8);
  keep[nkeep++] = NULL;
  for (int i = 0; i < 10; i++) p = reallocarray(p, (size_t)i + 2, 24);
  keep[nkeep - 1] = p;
}
__attribute__((noinline)) void do_posix_memalign(void) {
  for (int i = 0; i < 7; i++) {
    void *p = NULL;
    if (posix_memalign(&p, 64u << (i % 4), 100) == 0) keep[nkeep++] = p;
  }
}
__attribute__((noinline)) void do_aligned_alloc(void) {
  for (int i = 0; i < 6; i++) keep[nkeep++] = aligned_alloc(256, 512);
}
__attribute__((noinline)) void do_memalign(void) {
  for (int i = 0; i < 5; i++) keep[nkeep++] = memalign(128, 40);
}
__attribute__((noinline)) void do_valloc(void) {
  for (int i = 0; i < 4; i++) keep[nkeep++] = valloc(100);
}
__attribute__((noinline)) void do_pvalloc(void) {
  for (int i = 0; i < 3; i++) keep[nkeep++] = pvalloc(100);
}
__attribute__((noinline)) void do_free(void) {
  for (int i = 0; i < nkeep; i++) free(keep[i]);
  for (int i = 0; i < 3; i++) free(v_early_blocks[i]);
}
__attribute__((noinline)) void do_fail(void) {
  /* A failing malloc: recorded with the failed flag. */
  victim_use(malloc(SIZE_MAX / 2));
}

int main(int argc, char **argv) {
  FILE *f = argc > 1 ? fopen(argv[1], "w") : NULL;
  victim_range(f, "malloc", (void *)do_malloc);
  victim_range(f, "calloc", (void *)do_calloc);
  victim_range(f, "realloc", (void *)do_realloc);
  victim_range(f, "reallocarray", (void *)do_reallocarray);
  victim_range(f, "posix_memalign", (void *)do_posix_memalign);
  victim_range(f, "aligned_alloc", (void *)do_aligned_alloc);
  victim_range(f, "memalign", (void *)do_memalign);
  victim_range(f, "valloc", (void *)do_valloc);
  victim_range(f, "pvalloc", (void *)do_pvalloc);
  victim_range(f, "free", (void *)do_free);
  victim_range(f, "fail", (void *)do_fail);
  victim_range(f, "early", (void *)v_early_calloc);
  if (f) fclose(f);
  do_malloc();
  do_calloc();
  do_realloc();
  do_reallocarray();
  do_posix_memalign();
  do_aligned_alloc();
  do_memalign();
  do_valloc();
  do_pvalloc();
  do_fail();
  do_free();
  const char *mode = argc > 2 ? argv[2] : "return";
  int code = argc > 3 ? atoi(argv[3]) : 0;
  if (strcmp(mode, "exit") == 0) exit(code);
  if (strcmp(mode, "_exit") == 0) _exit(code);
  if (strcmp(mode, "abort") == 0) abort();
  return code;
}
