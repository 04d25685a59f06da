/* test_damage.c: traces/trc_reader.c on damaged input. A trace cut anywhere
 * reads up to the last whole chunk and reports HK_E_TRUNCATED where the cut
 * chunk starts; flipped bytes, random files and hostile payloads that pass
 * their checksum give an error, never a crash and never changed data. */
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
#include <xxhash.h>
#include <zstd.h>

#include "trc.h"
#include "trc_internal.h"

static char dir[64], path[128], bad[128];

/* The reference trace, in memory, and what a clean read of it gives. */
static uint8_t *ref;
static size_t ref_len, hdr_len;
typedef struct refchunk {
  uint64_t offset, stored, digest;
  uint32_t kind;
} refchunk_t;
static refchunk_t chunks[256];
static size_t nchunks;

static void write_file(const char *p, const void *b, size_t n) {
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* A digest of everything a chunk decodes to. */
static uint64_t digest(const trc_chunk_t *c) {
  XXH3_state_t *st = XXH3_createState();
  XXH3_64bits_reset(st);
#define H(x) XXH3_64bits_update(st, &(x), sizeof(x))
  H(c->kind);
  H(c->thread);
  H(c->n);
  for (size_t i = 0; i < c->n; i++) {
    switch (c->kind) {
    case TRC_CHUNK_EVENTS: {
      const trc_event_t *e = &c->events[i];
      H(e->time), H(e->ptr), H(e->old_ptr), H(e->size), H(e->nmemb);
      H(e->align), H(e->site), H(e->thread), H(e->op), H(e->flags);
      break;
    }
    case TRC_CHUNK_SITES:
      H(c->sites[i].id), H(c->sites[i].depth);
      XXH3_64bits_update(st, c->sites[i].frames, c->sites[i].depth * 8u);
      break;
    case TRC_CHUNK_MODULES: {
      const trc_module_t *m = &c->modules[i];
      H(m->id), H(m->base), H(m->lo), H(m->hi), H(m->time), H(m->unload_time);
      XXH3_64bits_update(st, m->path, strlen(m->path));
      XXH3_64bits_update(st, m->build_id, m->build_id_len);
      break;
    }
    case TRC_CHUNK_THREADS: {
      const trc_thread_t *t = &c->threads[i];
      H(t->index), H(t->tid), H(t->start_time), H(t->end_time);
      XXH3_64bits_update(st, t->name, strlen(t->name));
      break;
    }
    case TRC_CHUNK_SUMMARY: H(*c->summary); break;
    }
  }
#undef H
  uint64_t d = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return d;
}

static void make_reference(void) {
  trc_header_t h = {0};
  h.clock = TRC_CLOCK_MONOTONIC;
  h.tick_hz = TRC_NS_HZ;
  h.exe = "/bin/damaged";
  trc_writer_opts_t o = {3, 40, NULL, 0};
  trc_writer_t *w;
  assert_int_equal(trc_writer_create(&w, path, &h, &o), 0);
  hk_rng_t r;
  hk_rng_init(&r, 77);
  uint64_t fr[4] = {0x401000, 0x401100, 0x7f0000001000, 0x7f0000002000};
  for (uint32_t s = 1; s <= 5; s++) assert_int_equal(trc_writer_add_site(w, s, fr, s % 5), 0);
  trc_module_t m = {1, 0x400000, 0x401000, 0x409000, 0, 0, "/bin/damaged",
                    (const uint8_t *)"0123456789abcdefghij", 20};
  assert_int_equal(trc_writer_add_module(w, &m), 0);
  uint64_t time[3] = {0}, live[3][8] = {{0}};
  for (int i = 0; i < 300; i++) {
    uint32_t t = (uint32_t)hk_rng_below(&r, 3);
    trc_event_t e = {0};
    time[t] += hk_rng_below(&r, 3000);
    e.time = time[t];
    e.site = (uint32_t)hk_rng_below(&r, 6);
    unsigned slot = (unsigned)hk_rng_below(&r, 8);
    if (live[t][slot]) {
      e.op = TRC_OP_FREE;
      e.ptr = live[t][slot];
      live[t][slot] = 0;
    } else {
      e.op = (uint8_t)(hk_rng_below(&r, 3) ? TRC_OP_MALLOC : TRC_OP_CALLOC);
      e.size = 1 + hk_rng_below(&r, 500);
      e.nmemb = e.op == TRC_OP_CALLOC ? 3 : 0;
      e.ptr = live[t][slot] = 0x5555000000 + 16 * hk_rng_below(&r, 1 << 16);
    }
    assert_int_equal(trc_writer_events(w, t, &e, 1), 0);
  }
  for (uint32_t t = 0; t < 3; t++) {
    trc_thread_t th = {t, 100 + t, 0, 0, "th"};
    assert_int_equal(trc_writer_add_thread(w, &th), 0);
  }
  assert_int_equal(trc_writer_finish(w, 1, 0), 0);
  trc_writer_free(w);

  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  ref_len = (size_t)ftell(f);
  rewind(f);
  ref = malloc(ref_len);
  assert_int_equal(fread(ref, 1, ref_len, f), ref_len);
  fclose(f);

  trc_reader_t *rd;
  assert_int_equal(trc_reader_open(&rd, path), 0);
  hdr_len = trc_reader_offset(rd);
  trc_chunk_t c;
  while (trc_reader_next(rd, &c) == 1) {
    assert_true(nchunks < HK_ARRAY_LEN(chunks));
    refchunk_t *k = &chunks[nchunks++];
    k->offset = c.offset;
    k->stored = c.stored;
    k->kind = c.kind;
    k->digest = digest(&c);
  }
  trc_reader_free(rd);
  assert_true(nchunks > 10);
}

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/hksim-dmg-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(path, sizeof path, "%s/ref.hkt", dir);
  snprintf(bad, sizeof bad, "%s/bad.hkt", dir);
  make_reference();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(ref);
  unlink(path);
  unlink(bad);
  return rmdir(dir);
}

/* Reads bad.hkt: every chunk returned must be the reference chunk at that
 * offset, unchanged. Returns the final code of next (0 or an error) and
 * the number of chunks read. */
static int read_all(size_t *nread, int *open_rc) {
  trc_reader_t *r;
  *nread = 0;
  *open_rc = trc_reader_open(&r, bad);
  if (*open_rc) return *open_rc;
  trc_chunk_t c;
  int rc;
  while ((rc = trc_reader_next(r, &c)) == 1) {
    assert_true(*nread < nchunks);
    const refchunk_t *k = &chunks[*nread];
    assert_true(c.offset == k->offset && c.stored == k->stored);
    assert_true(digest(&c) == k->digest);
    (*nread)++;
  }
  if (rc < 0) {
    assert_true(*nread < nchunks);
    assert_true(trc_reader_offset(r) == chunks[*nread].offset);
  }
  trc_reader_free(r);
  return rc;
}

static void test_truncate(void **state) {
  (void)state;
  size_t n;
  int orc;
  /* Inside the header (the empty file included). */
  for (size_t cut = 0; cut < hdr_len; cut++) {
    write_file(bad, ref, cut);
    assert_int_equal(read_all(&n, &orc), HK_E_TRUNCATED);
    assert_int_equal(orc, HK_E_TRUNCATED);
  }
  for (size_t k = 0; k < nchunks; k++) {
    /* At the boundary: a clean end after k chunks. */
    write_file(bad, ref, chunks[k].offset);
    assert_int_equal(read_all(&n, &orc), 0);
    assert_int_equal(n, k);
    uint64_t st = chunks[k].stored;
    const uint64_t inside[] = {1, 4, 12, 23, 24, 25, st / 2, st - 1};
    for (size_t i = 0; i < HK_ARRAY_LEN(inside); i++) {
      if (inside[i] == 0 || inside[i] >= st) continue;
      write_file(bad, ref, chunks[k].offset + inside[i]);
      assert_int_equal(read_all(&n, &orc), HK_E_TRUNCATED);
      assert_int_equal(n, k);
    }
  }
  write_file(bad, ref, ref_len);
  assert_int_equal(read_all(&n, &orc), 0);
  assert_int_equal(n, nchunks);
}

/* One byte changed anywhere: the header is refused, or the reader returns
 * the chunks before the damaged one unchanged and an error at its offset. */
static void test_flip(void **state) {
  (void)state;
  uint8_t *b = malloc(ref_len);
  const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
  size_t n;
  int orc;
  for (size_t pos = 0; pos < ref_len; pos++) {
    for (size_t m = 0; m < HK_ARRAY_LEN(masks); m++) {
      if (pos > 200 && m > 1 && pos % 7) continue; /* keep it quick */
      memcpy(b, ref, ref_len);
      b[pos] ^= masks[m];
      write_file(bad, b, ref_len);
      int rc = read_all(&n, &orc);
      if (pos < hdr_len) {
        assert_true(orc == HK_E_CORRUPT || orc == HK_E_BADMAGIC ||
                    orc == HK_E_TRUNCATED || orc == HK_E_VERSION);
        continue;
      }
      assert_int_equal(orc, 0);
      assert_true(rc == HK_E_CORRUPT || rc == HK_E_TRUNCATED);
      assert_true(chunks[n].offset <= pos &&
                  pos < chunks[n].offset + chunks[n].stored);
    }
  }
  free(b);
}

static void test_random_files(void **state) {
  (void)state;
  hk_rng_t r;
  hk_rng_init(&r, 5);
  uint8_t *b = malloc(8192 + hdr_len);
  size_t n;
  int orc;
  for (int i = 0; i < 300; i++) {
    size_t len = 1 + hk_rng_below(&r, 8192);
    for (size_t k = 0; k < len; k++) b[k] = (uint8_t)hk_rng_next(&r);
    write_file(bad, b, len);
    assert_int_equal(read_all(&n, &orc), HK_E_BADMAGIC);
    /* Random bytes after a valid header. */
    memmove(b + hdr_len, b, len);
    memcpy(b, ref, hdr_len);
    write_file(bad, b, hdr_len + len);
    trc_reader_t *rd;
    assert_int_equal(trc_reader_open(&rd, bad), 0);
    trc_chunk_t c;
    int rc = trc_reader_next(rd, &c);
    assert_true(rc == HK_E_CORRUPT || rc == HK_E_TRUNCATED);
    assert_true(trc_reader_offset(rd) == hdr_len);
    trc_reader_free(rd);
  }
  free(b);
}

static void test_header_errors(void **state) {
  (void)state;
  trc_reader_t *r;
  write_file(bad, "", 0);
  assert_int_equal(trc_reader_open(&r, bad), HK_E_TRUNCATED);
  assert_int_equal(trc_reader_file_version(bad), 0);
  write_file(bad, "HKTRACX\n", 8);
  assert_int_equal(trc_reader_open(&r, bad), HK_E_BADMAGIC);
  assert_int_equal(trc_reader_open(&r, "/nonexistent.hkt"), -ENOENT);
  assert_int_equal(trc_reader_file_version("/nonexistent.hkt"), 0);

  uint8_t *b = malloc(ref_len);
  memcpy(b, ref, ref_len);
  trc_put32(b + 8, 7); /* a newer version: named, whatever follows */
  write_file(bad, b, ref_len);
  assert_int_equal(trc_reader_open(&r, bad), HK_E_VERSION);
  assert_int_equal(trc_reader_file_version(bad), 7);
  write_file(bad, b, 12);
  assert_int_equal(trc_reader_open(&r, bad), HK_E_VERSION);
  trc_put32(b + 8, 0);
  write_file(bad, b, ref_len);
  assert_int_equal(trc_reader_open(&r, bad), HK_E_CORRUPT);
  assert_int_equal(trc_reader_file_version(path), TRC_VERSION);
  /* A header length past any sane size is refused before it is read. */
  memcpy(b, ref, ref_len);
  trc_put32(b + 12, UINT32_MAX);
  write_file(bad, b, ref_len);
  assert_int_equal(trc_reader_open(&r, bad), HK_E_CORRUPT);
  free(b);
}

/* Writes the reference header followed by one hand-made chunk whose
 * checksum is right, and reads it. */
static int read_crafted(uint8_t kind, uint8_t codec, const uint8_t *pay,
                        size_t stored, uint32_t raw_len, trc_chunk_t *c,
                        trc_reader_t **rp) {
  uint8_t *b = malloc(hdr_len + TRC_CHUNK_HDR_SIZE + stored + 1);
  memcpy(b, ref, hdr_len);
  uint8_t *h = b + hdr_len;
  trc_put32(h, TRC_CHUNK_MAGIC);
  h[4] = kind;
  h[5] = codec;
  trc_put16(h + 6, 0);
  trc_put32(h + 8, (uint32_t)stored);
  trc_put32(h + 12, raw_len);
  if (stored) memcpy(h + TRC_CHUNK_HDR_SIZE, pay, stored);
  trc_put64(h + 16, trc_chunk_checksum(h, h + TRC_CHUNK_HDR_SIZE, stored));
  write_file(bad, b, hdr_len + TRC_CHUNK_HDR_SIZE + stored);
  free(b);
  assert_int_equal(trc_reader_open(rp, bad), 0);
  return trc_reader_next(*rp, c);
}

/* Decoded data that passes the checksum is still fully bounds-checked: a
 * writer bug or a forged file gives HK_E_CORRUPT, never a crash. Whatever
 * is accepted is well formed. */
static void check_accepted(const trc_chunk_t *c) {
  if (c->kind != TRC_CHUNK_EVENTS) return;
  assert_true(c->n >= 1 && c->n <= (1u << 20));
  for (size_t i = 0; i < c->n; i++) {
    assert_true(c->events[i].op >= 1 && c->events[i].op < TRC_OP_COUNT);
    if (i) assert_true(c->events[i].time >= c->events[i - 1].time);
  }
}

static void test_hostile_payloads(void **state) {
  (void)state;
  hk_rng_t r;
  hk_rng_init(&r, 11);
  trc_chunk_t c;
  trc_reader_t *rd;
  uint8_t pay[512];
  /* Random raw payloads of every kind. */
  for (int i = 0; i < 3000; i++) {
    size_t len = hk_rng_below(&r, sizeof pay);
    for (size_t k = 0; k < len; k++)
      pay[k] = (uint8_t)(hk_rng_below(&r, 2) ? hk_rng_below(&r, 4)
                                             : hk_rng_next(&r));
    uint8_t kind = (uint8_t)(1 + hk_rng_below(&r, 5));
    int rc = read_crafted(kind, TRC_CODEC_RAW, pay, len, (uint32_t)len, &c, &rd);
    assert_true(rc == 1 || rc == HK_E_CORRUPT);
    if (rc == 1) check_accepted(&c);
    trc_reader_free(rd);
  }
  /* Each real chunk, decompressed, mutated and stored raw. */
  uint8_t *raw = malloc(TRC_MAX_CHUNK_RAW / 64);
  for (size_t k = 0; k < nchunks; k++) {
    const uint8_t *h = ref + chunks[k].offset;
    uint32_t stored = trc_get32(h + 8), raw_len = trc_get32(h + 12);
    size_t got = raw_len;
    if (h[5] == TRC_CODEC_ZSTD)
      got = ZSTD_decompress(raw, TRC_MAX_CHUNK_RAW / 64, h + 24, stored);
    else
      memcpy(raw, h + 24, raw_len);
    assert_int_equal(got, raw_len);
    int rc = read_crafted(h[4], TRC_CODEC_RAW, raw, raw_len, raw_len, &c, &rd);
    assert_int_equal(rc, 1);
    assert_true(digest(&c) == chunks[k].digest);
    trc_reader_free(rd);
    for (int i = 0; i < 200; i++) {
      uint8_t *m = malloc(raw_len + 8);
      memcpy(m, raw, raw_len);
      size_t len = raw_len;
      switch (hk_rng_below(&r, 3)) {
      case 0: m[hk_rng_below(&r, len)] ^= (uint8_t)(1 + hk_rng_below(&r, 255)); break;
      case 1: len = hk_rng_below(&r, len); break;
      default: m[len++] = (uint8_t)hk_rng_next(&r); break;
      }
      rc = read_crafted(h[4], TRC_CODEC_RAW, m, len, (uint32_t)len, &c, &rd);
      assert_true(rc == 1 || rc == HK_E_CORRUPT);
      if (rc == 1) check_accepted(&c);
      trc_reader_free(rd);
      free(m);
    }
  }
  free(raw);
  /* zstd codec: garbage, and a frame of another size than announced. */
  for (size_t k = 0; k < sizeof pay; k++) pay[k] = (uint8_t)hk_rng_next(&r);
  assert_int_equal(read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_ZSTD, pay, 100, 1000, &c, &rd),
                   HK_E_DECOMPRESS);
  trc_reader_free(rd);
  uint8_t z[256];
  /* thread 1, one malloc(5) that returned NULL without failing (its
   * extras say 0), time 0, site 0 */
  size_t zn = ZSTD_compress(z, sizeof z, "\x01\x01\x01\x00\x00\x05\x00", 7, 1);
  assert_false(ZSTD_isError(zn));
  assert_int_equal(read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_ZSTD, z, zn, 7, &c, &rd), 1);
  assert_true(c.n == 1 && c.events[0].size == 5 && c.thread == 1 &&
              c.events[0].flags == 0);
  trc_reader_free(rd);
  int rc = read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_ZSTD, z, zn, 8, &c, &rd);
  assert_true(rc == HK_E_CORRUPT || rc == HK_E_DECOMPRESS);
  trc_reader_free(rd);
  rc = read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_ZSTD, z, zn, 5, &c, &rd);
  assert_true(rc == HK_E_CORRUPT || rc == HK_E_DECOMPRESS);
  trc_reader_free(rd);
  /* Version 3's size-class stacks: a malloc, its free (ring index 0, so
   * its class is known), a malloc of that class taking the block back
   * (class stack entry 0); then the same stack entry while it is empty,
   * and ring index 0 (stored as TRC_CLS_D) of an empty ring. */
  static const uint8_t reuse[] = {0x00, 0x03, 0x61, 0x25, 0x21, 1, 1, 1, 0, 0, 0,
                                  0x80, 0x40, 0x00, 0x00, 24, 24};
  assert_int_equal(read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_RAW, reuse,
                                sizeof reuse, sizeof reuse, &c, &rd), 1);
  assert_true(c.n == 3 && c.events[0].ptr == 0x1000 &&
              c.events[1].ptr == 0x1000 && c.events[2].ptr == 0x1000);
  trc_reader_free(rd);
  static const uint8_t empty_stack[] = {0x00, 0x01, 0x21, 5, 0, 0x00, 24};
  assert_int_equal(read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_RAW, empty_stack,
                                sizeof empty_stack, sizeof empty_stack, &c, &rd),
                   HK_E_CORRUPT);
  trc_reader_free(rd);
  static const uint8_t empty_ring[] = {0x00, 0x01, 0x21, 5, 0, TRC_CLS_D, 24};
  assert_int_equal(read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_RAW, empty_ring,
                                sizeof empty_ring, sizeof empty_ring, &c, &rd),
                   HK_E_CORRUPT);
  trc_reader_free(rd);
  /* Version 3's op byte bit 4: the site of the previous event of the same
   * op; a malloc with no pointer stores whether it failed (0 or 1). */
  static const uint8_t same_site[] = {0x00, 0x02, 0x61, 0x71, 1, 1, 7,
                                      0x80, 0x40, 0x80, 0x40, 24, 24};
  assert_int_equal(read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_RAW, same_site,
                                sizeof same_site, sizeof same_site, &c, &rd), 1);
  assert_true(c.n == 2 && c.events[0].site == 7 && c.events[1].site == 7 &&
              c.events[1].ptr == 0x2000);
  trc_reader_free(rd);
  uint8_t failed[] = {0x00, 0x01, 0x01, 5, 0, 24, 1};
  assert_int_equal(read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_RAW, failed,
                                sizeof failed, sizeof failed, &c, &rd), 1);
  assert_true(c.n == 1 && c.events[0].flags == TRC_EV_FAILED && !c.events[0].ptr);
  trc_reader_free(rd);
  failed[6] = 2;
  assert_int_equal(read_crafted(TRC_CHUNK_EVENTS, TRC_CODEC_RAW, failed,
                                sizeof failed, sizeof failed, &c, &rd),
                   HK_E_CORRUPT);
  trc_reader_free(rd);
  /* Unknown kind and codec, stored != raw for the raw codec, a raw length
   * over the limit: refused although the checksum is right. */
  assert_int_equal(read_crafted(9, TRC_CODEC_RAW, pay, 10, 10, &c, &rd), HK_E_CORRUPT);
  trc_reader_free(rd);
  assert_int_equal(read_crafted(1, 7, pay, 10, 10, &c, &rd), HK_E_CORRUPT);
  trc_reader_free(rd);
  assert_int_equal(read_crafted(1, TRC_CODEC_RAW, pay, 10, 11, &c, &rd), HK_E_CORRUPT);
  trc_reader_free(rd);
  assert_int_equal(read_crafted(1, TRC_CODEC_ZSTD, pay, 10, TRC_MAX_CHUNK_RAW + 1, &c, &rd),
                   HK_E_CORRUPT);
  trc_reader_free(rd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_truncate),
      cmocka_unit_test(test_flip),
      cmocka_unit_test(test_random_files),
      cmocka_unit_test(test_header_errors),
      cmocka_unit_test(test_hostile_payloads),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
