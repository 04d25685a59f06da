/* test_rec_runtime.c: unit tests of recorder/rec_runtime.c: which
 * runtimes a library name or a process holds, and the switches the
 * recorder sets for them before main (HKREC_RUNTIMES). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "recorder.h"

enum { PY = 1u << 0, CXX = 1u << 1, GLIB = 1u << 2 };

static void test_of_lib(void **state) {
  (void)state;
  assert_string_equal(rec_runtimes[0].var, "PYTHONMALLOC");
  assert_string_equal(rec_runtimes[1].var, "GLIBCXX_FORCE_NEW");
  assert_string_equal(rec_runtimes[2].var, "G_SLICE");
  assert_int_equal(rec_runtimes_of_lib("libpython3.11.so.1.0"), PY);
  assert_int_equal(rec_runtimes_of_lib("/usr/lib/x86_64-linux-gnu/libstdc++.so.6"), CXX);
  assert_int_equal(rec_runtimes_of_lib("libglib-2.0.so.0"), GLIB);
  /* The base name counts, not a directory that looks like one. */
  assert_int_equal(rec_runtimes_of_lib("/opt/libpython/libc.so.6"), 0);
  assert_int_equal(rec_runtimes_of_lib("libgobject-2.0.so.0"), 0);
  assert_int_equal(rec_runtimes_of_lib(""), 0);
  size_t n = 0;
  while (rec_runtimes[n].name) n++;
  assert_true(n <= REC_MAX_RUNTIMES);
}

/* Reads the manifest into buf; returns its length. */
static size_t slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return n;
}

/* libstdc++ loaded into this (C) process: found, its switch set once and
 * listed in the manifest; a variable already set is left as it is. */
static void test_switch(void **state) {
  (void)state;
  unsetenv("GLIBCXX_FORCE_NEW");
  unsetenv("PYTHONMALLOC");
  char man[] = "/tmp/test_rec_runtime-XXXXXX";
  int fd = mkstemp(man);
  assert_true(fd >= 0);
  close(fd);
  char buf[4096];
  unsigned before = rec_runtimes_loaded();
  assert_false(before & PY); /* no CPython in a C test */
  void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    unlink(man);
    skip();
  }
  assert_true(rec_runtimes_loaded() & CXX);
  unsigned set = rec_runtimes_switch(man);
  assert_true(set & CXX);
  assert_false(set & PY);
  assert_string_equal(getenv("GLIBCXX_FORCE_NEW"), "1");
  assert_null(getenv("PYTHONMALLOC"));
  slurp(man, buf, sizeof buf);
  char want[128];
  snprintf(want, sizeof want, "%s\tlibstdc++\tGLIBCXX_FORCE_NEW=1\t%d\t",
           REC_MANIFEST_RUNTIME, (int)getpid());
  assert_non_null(strstr(buf, want));
  assert_non_null(strstr(buf, "test_rec_runtime\n"));
  /* Set now (by us, as by a user): not set again, nothing listed. */
  size_t len = strlen(buf);
  assert_false(rec_runtimes_switch(man) & CXX);
  setenv("GLIBCXX_FORCE_NEW", "0", 1);
  assert_false(rec_runtimes_switch(man) & CXX);
  assert_string_equal(getenv("GLIBCXX_FORCE_NEW"), "0");
  assert_int_equal(slurp(man, buf, sizeof buf), len);
  /* No manifest: the switch is still set, nothing written. */
  unsetenv("GLIBCXX_FORCE_NEW");
  assert_true(rec_runtimes_switch("") & CXX);
  assert_string_equal(getenv("GLIBCXX_FORCE_NEW"), "1");
  unsetenv("GLIBCXX_FORCE_NEW");
  dlclose(h);
  unlink(man);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_of_lib),
      cmocka_unit_test(test_switch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
