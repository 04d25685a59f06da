// v_cxx.cpp: C++ victim: new/new[]/delete at known functions; the recorded
// site must be here, not in libstdc++'s operator new. argv: RANGES_FILE.
#include <cstdio>
#include <new>

#include "victim.h"

static int *keep[100];

extern "C" __attribute__((noinline)) void cxx_new(void) {
  for (int i = 0; i < 40; i++) keep[i] = new int(i);
  for (int i = 40; i < 60; i++) keep[i] = new int[i];
}
extern "C" __attribute__((noinline)) void cxx_delete(void) {
  for (int i = 0; i < 40; i++) delete keep[i];
  for (int i = 40; i < 60; i++) delete[] keep[i];
}

int main(int argc, char **argv) {
  FILE *f = argc > 1 ? fopen(argv[1], "w") : nullptr;
  victim_range(f, "cxx_new", (void *)cxx_new);
  victim_range(f, "cxx_delete", (void *)cxx_delete);
  if (f) fclose(f);
  cxx_new();
  cxx_delete();
  return 0;
}
