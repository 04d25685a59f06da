/* test_verify.c: traces/trc_verify.c (trc_scan): counts of a whole trace,
 * and each kind of problem named with where it starts: a cut, a missing
 * summary, a summary that disagrees, undefined sites, unknown threads,
 * time going back, data after the summary. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "trc.h"
#include "trc_internal.h"

static char dir[64], path[128], bad[128];

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/hksim-vfy-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(path, sizeof path, "%s/t.hkt", dir);
  snprintf(bad, sizeof bad, "%s/bad.hkt", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(path);
  unlink(bad);
  return rmdir(dir);
}

static uint8_t *slurp(const char *p, size_t *len) {
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  uint8_t *b = malloc(*len + 1);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

static void spit(const char *p, const void *b, size_t n) {
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* 3 threads x 100 events in chunks of 25; sites 1-3 (depth 1-3), one
 * module. finish = 0 leaves the summary out. */
static void make(int finish, int site_limit, int declare_threads) {
  trc_header_t h = {0};
  h.clock = TRC_CLOCK_VIRTUAL;
  h.tick_hz = TRC_NS_HZ;
  trc_writer_opts_t o = {1, 25, NULL, 0};
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, &o), 0);
  uint64_t fr[3] = {1, 2, 3};
  for (uint32_t s = 1; s <= 3; s++)
    assert_int_equal(trc_writer_add_site(w, s, fr, s), 0);
  trc_module_t m = {1, 0x400000, 0, 0, 0, 0, "/bin/x", NULL, 0};
  assert_int_equal(trc_writer_add_module(w, &m), 0);
  for (uint32_t t = 0; t < 3; t++) {
    for (uint64_t i = 0; i < 100; i++) {
      trc_event_t e = {0};
      e.time = i * 10;
      e.op = i % 2 ? TRC_OP_FREE : (i % 4 ? TRC_OP_MALLOC : TRC_OP_CALLOC);
      e.ptr = i % 10 == 4 ? 0 : 0x1000 + 16 * (i / 2);
      e.flags = e.ptr ? 0 : TRC_EV_FAILED;
      e.size = 8;
      e.nmemb = 2;
      e.site = (uint32_t)(i % (uint64_t)(site_limit + 1));
      assert_int_equal(trc_writer_events(w, t, &e, 1), 0);
    }
  }
  for (uint32_t t = 0; t < (uint32_t)declare_threads; t++) {
    trc_thread_t th = {t, 10 + t, 0, 0, "t"};
    assert_int_equal(trc_writer_add_thread(w, &th), 0);
  }
  if (finish) {
    assert_int_equal(trc_writer_finish(w, 1000, 0), 0);
  } else {
    assert_int_equal(trc_writer_flush(w), 0);
  }
  trc_writer_free(w);
}

/* Offsets and sizes of the chunks of path. */
static size_t list_chunks(uint64_t *off, uint64_t *len, uint32_t *kind) {
  trc_reader_t *r;
  assert_int_equal(trc_reader_open(&r, path), 0);
  trc_chunk_t c;
  size_t n = 0;
  while (trc_reader_next(r, &c) == 1) {
    off[n] = c.offset;
    len[n] = c.stored;
    kind[n++] = c.kind;
  }
  trc_reader_free(r);
  return n;
}

static void test_whole(void **state) {
  (void)state;
  make(1, 3, 3);
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, 0);
  assert_string_equal(s.problem, "");
  assert_true(s.events == 300 && s.event_chunks == 12);
  assert_true(s.counts[TRC_OP_FREE] == 150 && s.counts[TRC_OP_CALLOC] == 75 &&
              s.counts[TRC_OP_MALLOC] == 75);
  assert_true(s.failed == 30);
  assert_int_equal(s.threads, 3);
  assert_int_equal(s.sites, 3);
  assert_int_equal(s.modules, 1);
  assert_int_equal(s.max_depth, 3);
  assert_true(s.have_summary && s.summary.events == 300 &&
              s.summary.end_time == 1000);
  assert_true(s.readable_bytes == s.file_bytes && s.damage_offset == 0);
  assert_true(s.chunks == s.summary.chunks + 1);
}

static void test_missing_summary(void **state) {
  (void)state;
  make(0, 3, 3);
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, HK_E_NOTAIL);
  assert_false(s.have_summary);
  assert_true(s.events == 300);
  assert_string_equal(s.problem,
                      "no end-of-trace summary: recording was cut short "
                      "after 300 events");
  assert_true(s.readable_bytes == s.file_bytes);
}

static void test_truncated(void **state) {
  (void)state;
  make(1, 3, 3);
  uint64_t off[64], len[64];
  uint32_t kind[64];
  size_t n = list_chunks(off, len, kind);
  size_t flen;
  uint8_t *b = slurp(path, &flen);
  size_t k = n / 2;
  spit(bad, b, off[k] + len[k] / 2);
  trc_scan_t s;
  assert_int_equal(trc_scan(bad, &s), 0);
  assert_int_equal(s.status, HK_E_TRUNCATED);
  assert_true(s.damage_offset == off[k] && s.readable_bytes == off[k]);
  assert_true(s.chunks == k);
  /* What is wrong, once; where and how much is readable are fields
   * (verify printed "N of M bytes readable" twice). */
  assert_string_equal(s.problem, hk_strerror(HK_E_TRUNCATED));
  assert_null(strstr(s.problem, "bytes readable"));
  /* Corrupt in the middle: same, with HK_E_CORRUPT. */
  b[off[k] + len[k] - 1] ^= 0x40;
  spit(bad, b, flen);
  assert_int_equal(trc_scan(bad, &s), 0);
  assert_int_equal(s.status, HK_E_CORRUPT);
  assert_true(s.damage_offset == off[k]);
  /* Not a trace at all: the open error. */
  spit(bad, "hello", 5);
  assert_int_equal(trc_scan(bad, &s), HK_E_BADMAGIC);
  assert_int_equal(s.status, HK_E_BADMAGIC);
  assert_int_equal(trc_scan("/nonexistent.hkt", &s), -ENOENT);
  free(b);
}

/* Removing one events chunk leaves a file whose every chunk is whole but
 * whose summary disagrees with it. */
static void test_summary_disagrees(void **state) {
  (void)state;
  make(1, 3, 3);
  uint64_t off[64], len[64];
  uint32_t kind[64];
  size_t n = list_chunks(off, len, kind);
  size_t flen, k = 0;
  uint8_t *b = slurp(path, &flen);
  while (kind[k] != TRC_CHUNK_EVENTS) k++;
  memmove(b + off[k], b + off[k] + len[k], flen - off[k] - len[k]);
  spit(bad, b, flen - len[k]);
  trc_scan_t s;
  assert_int_equal(trc_scan(bad, &s), 0);
  assert_int_equal(s.status, HK_E_CORRUPT);
  assert_non_null(strstr(s.problem, "summary disagrees"));
  assert_true(s.events == 275);
  /* Data after the summary. */
  free(b);
  b = slurp(path, &flen);
  b = realloc(b, flen + len[k]);
  memcpy(b + flen, b + off[k], len[k]);
  spit(bad, b, flen + len[k]);
  assert_int_equal(trc_scan(bad, &s), 0);
  assert_int_equal(s.status, HK_E_CORRUPT);
  assert_non_null(strstr(s.problem, "follows the end-of-trace summary"));
  /* Two chunks of one thread swapped: time goes back. */
  size_t k2 = k + 1;
  while (kind[k2] != TRC_CHUNK_EVENTS) k2++;
  assert_true(k2 < n);
  free(b);
  b = slurp(path, &flen);
  uint8_t *c = malloc(flen);
  size_t p = 0;
  memcpy(c, b, off[k]), p = off[k];
  memcpy(c + p, b + off[k2], len[k2]), p += len[k2];
  memcpy(c + p, b + off[k], len[k]), p += len[k];
  memcpy(c + p, b + off[k2] + len[k2], flen - off[k2] - len[k2]);
  spit(bad, c, flen);
  assert_int_equal(trc_scan(bad, &s), 0);
  assert_int_equal(s.status, HK_E_CORRUPT);
  assert_non_null(strstr(s.problem, "goes back in time"));
  free(c);
  free(b);
}

static void test_undefined_site(void **state) {
  (void)state;
  make(1, 5, 3); /* events use sites 4 and 5, never defined */
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, HK_E_CORRUPT);
  assert_non_null(strstr(s.problem, "uses site 4"));
  assert_true(s.events == 300 && s.have_summary);
}

static void test_unknown_thread(void **state) {
  (void)state;
  make(1, 3, 2); /* thread 2 is never declared */
  trc_scan_t s;
  assert_int_equal(trc_scan(path, &s), 0);
  assert_int_equal(s.status, HK_E_CORRUPT);
  assert_string_equal(s.problem,
                      "thread 2 has events but no entry in a threads table");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whole),
      cmocka_unit_test(test_missing_summary),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_summary_disagrees),
      cmocka_unit_test(test_undefined_site),
      cmocka_unit_test(test_unknown_thread),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
