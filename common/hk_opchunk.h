/* hk_opchunk.h: the compact coding of a trace's prepared ops in the results
 * database (table trace_op_chunk, docs/schema.md "Trace ops"): up to
 * HK_OPCHUNK_OPS ops a blob, one column after another, each column in the
 * fewest whole bytes its values need (slots and times as deltas), the whole
 * compressed by zstd with its checksum. The replayer encodes; analysis/'s
 * SQLite module, hksim expand and analysis/hksim_pandas.py decode. */
#ifndef HK_OPCHUNK_H
#define HK_OPCHUNK_H

#include <stddef.h>
#include <stdint.h>

/* Ops a chunk holds (the last chunk of a trace may hold fewer). */
#define HK_OPCHUNK_OPS 65536u

/* One op, as the schema's trace_op row has it (align as log2). */
typedef struct hk_oprow {
  uint64_t size;
  uint64_t time_ns;   /* since the trace's start */
  uint32_t slot;      /* UINT32_MAX: no object (failed allocation) */
  uint32_t site;
  uint16_t thread;
  uint8_t kind;       /* op_kinds.kind */
  uint8_t align_log2; /* 0: default alignment */
  uint8_t flags;
} hk_oprow_t;

/* Encoder/decoder state (zstd contexts and scratch), reused chunk after
 * chunk; one per thread. */
typedef struct hk_opcodec_s hk_opcodec_t;

/* Returns NULL when out of memory. hk_opcodec_free(NULL) is a no-op. */
hk_opcodec_t *hk_opcodec_create(void);
void hk_opcodec_free(hk_opcodec_t *c);

/* Encodes rows[0..n) (1 <= n <= HK_OPCHUNK_OPS). On success *blob points
 * into the codec (valid until its next call) and *len is its size.
 * HK_E_RANGE for a bad n, HK_E_COMPRESS, HK_E_NOMEM. */
int hk_opchunk_encode(hk_opcodec_t *c, const hk_oprow_t *rows, uint32_t n,
                      const void **blob, size_t *len);

/* Ops a blob says it holds, from its header alone; 0 when the header is not
 * one of ours. */
uint32_t hk_opchunk_count(const void *blob, size_t len);

/* Decodes a blob into rows (room for HK_OPCHUNK_OPS), *n set to the ops
 * decoded. A blob that is cut, altered or not ours gives HK_E_CORRUPT (bad
 * header or lengths) or HK_E_DECOMPRESS (zstd's checksum or frame), with a
 * one-line reason in why; nothing is partly decoded into rows then. */
int hk_opchunk_decode(hk_opcodec_t *c, const void *blob, size_t len,
                      hk_oprow_t *rows, uint32_t *n, char *why, size_t wlen);

#endif
