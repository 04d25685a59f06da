/* fuzz_reader.c: libFuzzer target for traces/trc_reader.c and trc_scan.
 * Input byte 0 picks the mode:
 *   even: the rest is a whole file, as is (header and chunk checks);
 *   odd:  the rest is a list of chunks [kind u8][len u16][payload], wrapped
 *         behind a valid header with right checksums and the raw codec, so
 *         that the payload decoders themselves are fuzzed.
 * Whatever is accepted must be well formed; nothing may crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trc.h"
#include "trc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

/* The header of a real (empty) trace, written once. */
static uint8_t hdr[256];
static size_t hdr_len;

static void init(void) {
  memfd = memfd_create("fuzz_reader", MFD_CLOEXEC);
  if (memfd < 0) abort();
  snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
  trc_header_t h = {0}; /* a valid header (trc_header_check) */
  h.clock = TRC_CLOCK_VIRTUAL;
  h.tick_hz = TRC_NS_HZ;
  h.exe = "fuzz";
  trc_writer_t *w;
  int fd = dup(memfd);
  if (trc_writer_create_fd(&w, fd, &h, NULL)) abort();
  hdr_len = (size_t)trc_writer_bytes(w);
  trc_writer_free(w);
  if (hdr_len > sizeof hdr || pread(memfd, hdr, hdr_len, 0) != (ssize_t)hdr_len)
    abort();
}

static void put_file(const uint8_t *b, size_t n) {
  if (ftruncate(memfd, 0)) abort();
  if (n && pwrite(memfd, b, n, 0) != (ssize_t)n) abort();
}

static void check(const trc_chunk_t *c) {
  if (c->kind == TRC_CHUNK_EVENTS) {
    if (c->n < 1) abort();
    for (size_t i = 0; i < c->n; i++) {
      if (c->events[i].op < 1 || c->events[i].op >= TRC_OP_COUNT) abort();
      if (i && c->events[i].time < c->events[i - 1].time) abort();
      char line[256];
      trc_event_format(&c->events[i], line, sizeof line);
    }
  } else if (c->kind == TRC_CHUNK_SITES) {
    for (size_t i = 0; i < c->n; i++)
      if (c->sites[i].depth > TRC_MAX_DEPTH || !c->sites[i].id) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (memfd < 0) init();
  if (size < 1) return 0;
  if (!(data[0] & 1)) {
    put_file(data + 1, size - 1);
  } else {
    size_t cap = hdr_len + 9 * size + 64; /* 3 input bytes: 24 out */
    uint8_t *b = malloc(cap);
    memcpy(b, hdr, hdr_len);
    size_t n = hdr_len;
    const uint8_t *p = data + 1, *end = data + size;
    while (end - p >= 3) {
      uint8_t kind = p[0];
      size_t len = (size_t)(p[1] | (p[2] << 8));
      p += 3;
      if (len > (size_t)(end - p)) len = (size_t)(end - p);
      uint8_t *h = b + n;
      trc_put32(h, TRC_CHUNK_MAGIC);
      h[4] = (uint8_t)(1 + kind % 5);
      h[5] = TRC_CODEC_RAW;
      trc_put16(h + 6, 0);
      trc_put32(h + 8, (uint32_t)len);
      trc_put32(h + 12, (uint32_t)len);
      memcpy(h + TRC_CHUNK_HDR_SIZE, p, len);
      trc_put64(h + 16, trc_chunk_checksum(h, h + TRC_CHUNK_HDR_SIZE, len));
      n += TRC_CHUNK_HDR_SIZE + len;
      p += len;
    }
    put_file(b, n);
    free(b);
  }
  trc_reader_t *r;
  if (trc_reader_open(&r, path) == 0) {
    trc_chunk_t c;
    uint64_t offs[16];
    int k = 0, rc;
    for (int i = 0; i < 1000 && (rc = trc_reader_next(r, &c)) == 1; i++) {
      check(&c);
      if (k < 16) offs[k++] = c.offset;
    }
    for (int i = k; i-- > 0;)
      if (trc_reader_read_at(r, offs[i], &c) == 1) check(&c);
    trc_reader_read_at(r, trc_reader_file_size(r) / 2, &c);
    trc_reader_free(r);
  }
  trc_scan_t s;
  trc_scan(path, &s);
  return 0;
}
