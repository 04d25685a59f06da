/* trc_common.c: what every part of traces/ shares: op names, the chunk
 * checksum, the one-line text form of an event (`hksim trace dump`) and the
 * content hash of a trace file (the trace's key in results databases). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "trc.h"
#include "trc_internal.h"

static const char *const op_names[TRC_OP_COUNT] = {
    NULL,
#define X(n, s) s,
    TRC_OP_MAP(X)
#undef X
};

const char *trc_op_name(unsigned op) {
  return op > 0 && op < TRC_OP_COUNT ? op_names[op] : NULL;
}

unsigned trc_op_parse(const char *s) {
  if (!s) return 0;
  for (unsigned op = 1; op < TRC_OP_COUNT; op++)
    if (strcmp(s, op_names[op]) == 0) return op;
  return 0;
}

int trc_op_is_alloc(unsigned op) {
  return op > 0 && op < TRC_OP_COUNT && op != TRC_OP_FREE &&
         !trc_op_is_realloc(op);
}

int trc_op_is_realloc(unsigned op) {
  return op == TRC_OP_REALLOC || op == TRC_OP_REALLOCARRAY;
}

uint64_t trc_chunk_checksum_seed(const uint8_t hdr16[TRC_CH_HASHED]) {
  return XXH3_64bits(hdr16, TRC_CH_HASHED);
}

uint64_t trc_chunk_checksum(const uint8_t hdr16[TRC_CH_HASHED],
                            const void *payload, size_t len) {
  return XXH3_64bits_withSeed(payload, len, trc_chunk_checksum_seed(hdr16));
}

/* Fields appear in a fixed order: t, th, op, old, nmemb, align, size, ptr,
 * site, FAILED, EST (an interpolated time, version 5); each only for the ops
 * that have it. Stable: golden files and
 * scripts parse it. */
int trc_event_format(const trc_event_t *e, char *buf, size_t len) {
  char tmp[320];
  size_t n = 0;
#define ADD(...)                                                               \
  n += (size_t)snprintf(tmp + n, sizeof tmp - n, __VA_ARGS__)
  ADD("t=%" PRIu64 " th=%" PRIu32 " ", e->time, e->thread);
  const char *name = trc_op_name(e->op);
  if (name)
    ADD("%s", name);
  else
    ADD("op=%u", (unsigned)e->op);
  if (trc_op_has_old(e->op)) ADD(" old=0x%" PRIx64, e->old_ptr);
  if (trc_op_has_nmemb(e->op)) ADD(" nmemb=%" PRIu64, e->nmemb);
  if (trc_op_has_align(e->op)) ADD(" align=%" PRIu64, e->align);
  if (trc_op_has_size(e->op)) ADD(" size=%" PRIu64, e->size);
  ADD(" ptr=0x%" PRIx64 " site=%" PRIu32, e->ptr, e->site);
  if (e->flags & TRC_EV_FAILED) ADD(" FAILED");
  if (e->flags & TRC_EV_EST) ADD(" EST");
#undef ADD
  if (buf && len) {
    size_t c = n < len ? n : len - 1;
    memcpy(buf, tmp, c);
    buf[c] = '\0';
  }
  return (int)n;
}

int trc_file_hash(const char *path, uint64_t *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = 0;
  XXH3_state_t *st = XXH3_createState();
  enum { BUF = 1 << 16 };
  uint8_t *buf = malloc(BUF);
  if (!st || !buf) {
    rc = HK_E_NOMEM;
    goto out;
  }
  XXH3_64bits_reset(st);
  for (;;) {
    ssize_t k = read(fd, buf, BUF);
    if (k < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      goto out;
    }
    if (k == 0) break;
    XXH3_64bits_update(st, buf, (size_t)k);
  }
  *out = XXH3_64bits_digest(st);
out:
  free(buf);
  XXH3_freeState(st);
  close(fd);
  return rc;
}
