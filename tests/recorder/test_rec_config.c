/* test_rec_config.c: unit tests of recorder/rec_config.c: HKREC_* parsing
 * and output file naming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "recorder.h"

static void test_output_path(void **state) {
  (void)state;
  char p[64];
  assert_int_equal(rec_output_path(p, sizeof p, "out", 42, 0), 0);
  assert_string_equal(p, "out.42.hkt");
  assert_int_equal(rec_output_path(p, sizeof p, "dir/t.hkt", 42, 0), 0);
  assert_string_equal(p, "dir/t.42.hkt");
  assert_int_equal(rec_output_path(p, sizeof p, "t.hkt", 42, 2), 0);
  assert_string_equal(p, "t.42.2.hkt");
  assert_int_equal(rec_output_path(p, sizeof p, "t-%p.hkt", 7, 0), 0);
  assert_string_equal(p, "t-7.hkt");
  assert_int_equal(rec_output_path(p, sizeof p, "t-%p.hkt", 7, 1), 0);
  assert_string_equal(p, "t-7.1.hkt");
  assert_int_equal(rec_output_path(p, sizeof p, "", 5, 0), 0);
  assert_string_equal(p, "hkrec.5.hkt");
  assert_int_equal(rec_output_path(p, 8, "longname", 123456, 0), HK_E_RANGE);
  /* A template ending in '/' is a directory: DIR/hkrec.PID.hkt, never a
   * hidden DIR/.PID.hkt. */
  assert_int_equal(rec_output_path(p, sizeof p, "dir/", 42, 0), 0);
  assert_string_equal(p, "dir/hkrec.42.hkt");
  assert_int_equal(rec_output_path(p, sizeof p, "/", 42, 1), 0);
  assert_string_equal(p, "/hkrec.42.1.hkt");
}

/* An HKREC_OUT that does not fit is an error the session reports, not a
 * silent fallback to ./hkrec.PID.hkt. */
/* The environment allow-list (HKREC_ENV, rec_env_select): exact names and
 * prefixes, never HKREC_*, malformed or cut entries skipped, nothing cut. */
static void test_env_select(void **state) {
  (void)state;
  static const char env[] = "HOME=/root\0MALLOC_ARENA_MAX=2\0SECRET=x\0"
                            "HKREC_OUT=/t\0PYTHONMALLOC=malloc\0noequals\0"
                            "=novar\0MALLOC_TOP_PAD_=1\0MALLOC_CUT=abc";
  char out[256];
  size_t n = rec_env_select("MALLOC_*,PYTHONMALLOC,HKREC_*", env,
                            sizeof env - 1, out, sizeof out);
  static const char want[] =
      "MALLOC_ARENA_MAX=2\0PYTHONMALLOC=malloc\0MALLOC_TOP_PAD_=1";
  assert_int_equal(n, sizeof want); /* the last NUL included */
  assert_memory_equal(out, want, sizeof want);
  /* No list: nothing; "*": all well-formed entries but HKREC_*. */
  assert_int_equal(rec_env_select("", env, sizeof env - 1, out, sizeof out), 0);
  n = rec_env_select("*", env, sizeof env - 1, out, sizeof out);
  static const char all[] = "HOME=/root\0MALLOC_ARENA_MAX=2\0SECRET=x\0"
                            "PYTHONMALLOC=malloc\0MALLOC_TOP_PAD_=1";
  assert_int_equal(n, sizeof all);
  assert_memory_equal(out, all, sizeof all);
  /* A name is matched whole: PYTHON does not match PYTHONMALLOC. */
  assert_int_equal(rec_env_select("PYTHON,HOM", env, sizeof env - 1, out,
                                  sizeof out), 0);
  /* An entry that does not fit is left out whole, later ones still go. */
  n = rec_env_select("HOME,SECRET", env, sizeof env - 1, out, 10);
  assert_int_equal(n, 9);
  assert_memory_equal(out, "SECRET=x", 9);
  /* HKREC_ENV is read; too long a list records nothing. */
  rec_config_t c;
  setenv("HKREC_ENV", "MALLOC_*,FOO", 1);
  rec_config_from_env(&c);
  assert_string_equal(c.env, "MALLOC_*,FOO");
  char big[REC_ENV_PATTERNS + 8];
  memset(big, 'A', sizeof big - 1);
  big[sizeof big - 1] = 0;
  setenv("HKREC_ENV", big, 1);
  rec_config_from_env(&c);
  assert_string_equal(c.env, "");
  unsetenv("HKREC_ENV");
  rec_config_from_env(&c);
  assert_string_equal(c.env, ""); /* privacy by default */
}

static void test_out_too_long(void **state) {
  (void)state;
  rec_config_t c;
  char big[1100];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  setenv("HKREC_OUT", big, 1);
  rec_config_from_env(&c);
  assert_int_equal(c.out_error, HK_E_RANGE);
  assert_string_equal(c.out, "");
  big[sizeof c.out - 1] = 0; /* 1023 bytes: fits */
  setenv("HKREC_OUT", big, 1);
  rec_config_from_env(&c);
  assert_int_equal(c.out_error, 0);
  assert_int_equal(strlen(c.out), sizeof c.out - 1);
  unsetenv("HKREC_OUT");
  rec_config_from_env(&c);
  assert_int_equal(c.out_error, 0);
}

static void test_env(void **state) {
  (void)state;
  rec_config_t c;
  setenv("HKREC_DEPTH", "16", 1);
  setenv("HKREC_OUT", "/tmp/x", 1);
  setenv("HKREC_BLOCK", "bad", 1);
  setenv("HKREC_CLOCK", "mono", 1);
  rec_config_from_env(&c);
  assert_int_equal(c.depth, 16);
  assert_string_equal(c.out, "/tmp/x");
  assert_int_equal(c.block, REC_DEFAULT_BLOCK);
  assert_int_equal(c.clock, TRC_CLOCK_MONOTONIC);
  assert_int_equal(c.argv, 0); /* privacy by default */
  setenv("HKREC_ARGV", "1", 1);
  rec_config_from_env(&c);
  assert_int_equal(c.argv, 1);
  setenv("HKREC_ARGV", "yes", 1); /* invalid: the default (off) stays */
  rec_config_from_env(&c);
  assert_int_equal(c.argv, 0);
  unsetenv("HKREC_ARGV");
  setenv("HKREC_DEPTH", "65", 1); /* out of range: default stays */
  rec_config_from_env(&c);
  assert_int_equal(c.depth, REC_DEFAULT_DEPTH);
  setenv("HKREC_DEPTH", "0", 1);
  rec_config_from_env(&c);
  assert_int_equal(c.depth, REC_DEFAULT_DEPTH);
  assert_int_equal(c.buffers, REC_DEFAULT_BUFFERS);
  assert_int_equal(c.writer_thread, 1);
  setenv("HKREC_BUFFERS", "1", 1); /* below 2: default stays */
  setenv("HKREC_WRITER", "0", 1);
  rec_config_from_env(&c);
  assert_int_equal(c.buffers, REC_DEFAULT_BUFFERS);
  assert_int_equal(c.writer_thread, 0);
  setenv("HKREC_BUFFERS", "2", 1);
  rec_config_from_env(&c);
  assert_int_equal(c.buffers, 2);
  setenv("HKREC_BUFFERS", "17", 1);
  rec_config_from_env(&c);
  assert_int_equal(c.buffers, REC_DEFAULT_BUFFERS);
  assert_int_equal(c.chunk, REC_DEFAULT_CHUNK);
  setenv("HKREC_CHUNK", "15", 1); /* below 16: default stays */
  rec_config_from_env(&c);
  assert_int_equal(c.chunk, REC_DEFAULT_CHUNK);
  setenv("HKREC_CHUNK", "4096", 1);
  rec_config_from_env(&c);
  assert_int_equal(c.chunk, 4096);
  setenv("HKREC_CHUNK", "1048577", 1);
  rec_config_from_env(&c);
  assert_int_equal(c.chunk, REC_DEFAULT_CHUNK);
  unsetenv("HKREC_CHUNK");
  /* HKREC_TS_EVERY: a power of two 1..1024, else the default (16). */
  assert_int_equal(c.ts_every, 16);
  const struct { const char *v; uint32_t want; } ts[] = {
      {"1", 1}, {"64", 64}, {"1024", 1024}, {"48", 16}, {"0", 16},
      {"2048", 16}, {"x", 16}, {"", 16}};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
    setenv("HKREC_TS_EVERY", ts[i].v, 1);
    rec_config_from_env(&c);
    if (c.ts_every != ts[i].want)
      fail_msg("HKREC_TS_EVERY=%s: %u, wanted %u", ts[i].v, c.ts_every,
               ts[i].want);
  }
  unsetenv("HKREC_TS_EVERY");
}

/* HKREC_FAST (0, 1 default, 2, 3), HKREC_STORE (1 default, 0), HKREC_DISCARD
 * (0 default, 1) and HKREC_FAST_LEVEL ("none" or a zstd
 * level -7..19 other than 0); invalid values leave the default. */
static void test_env_fast(void **state) {
  (void)state;
  rec_config_t c;
  rec_config_from_env(&c);
  assert_int_equal(c.fast, 1);
  assert_int_equal(c.fast_level, 0);
  const struct { const char *v; int want; } lv[] = {
      {"none", TRC_LEVEL_NONE}, {"-1", -1}, {"-7", -7}, {"19", 19},
      {"5", 5}, {"-8", 0}, {"20", 0}, {"0", 0}, {"-", 0}, {"3x", 0},
      {"", 0}, {"1000", 0}};
  for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++) {
    setenv("HKREC_FAST_LEVEL", lv[i].v, 1);
    rec_config_from_env(&c);
    if (c.fast_level != lv[i].want)
      fail_msg("HKREC_FAST_LEVEL=%s: %d, wanted %d", lv[i].v, c.fast_level,
               lv[i].want);
  }
  unsetenv("HKREC_FAST_LEVEL");
  /* HKREC_FAST: 0, 2, 3 taken, anything else the default (1).
   * HKREC_STORE: 1 default, 0, anything else the default.
   * HKREC_DISCARD (a measurement): 0 default, 1, anything else 0. */
  assert_int_equal(c.store, 1);
  assert_int_equal(c.discard, 0);
  const struct { const char *name, *v; size_t off; int want; } iv[] = {
      {"HKREC_FAST", "0", offsetof(rec_config_t, fast), 0},
      {"HKREC_FAST", "2", offsetof(rec_config_t, fast), 2},
      {"HKREC_FAST", "3", offsetof(rec_config_t, fast), 3},
      {"HKREC_FAST", "4", offsetof(rec_config_t, fast), 1},
      {"HKREC_STORE", "0", offsetof(rec_config_t, store), 0},
      {"HKREC_STORE", "2", offsetof(rec_config_t, store), 1},
      {"HKREC_DISCARD", "1", offsetof(rec_config_t, discard), 1},
      {"HKREC_DISCARD", "2", offsetof(rec_config_t, discard), 0}};
  for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) {
    setenv(iv[i].name, iv[i].v, 1);
    rec_config_from_env(&c);
    unsetenv(iv[i].name);
    int got;
    memcpy(&got, (const char *)&c + iv[i].off, sizeof got);
    if (got != iv[i].want)
      fail_msg("%s=%s: %d, wanted %d", iv[i].name, iv[i].v, got, iv[i].want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_output_path),
      cmocka_unit_test(test_env),
      cmocka_unit_test(test_env_fast),
      cmocka_unit_test(test_env_select),
      cmocka_unit_test(test_out_too_long),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
