/* hak_internal.h: private to hakmem/: the block header, the instance
 * struct, BigCache and the madvise batch. Sections are labelled with the
 * file that defines them. Tests include it to inspect headers. */
#ifndef HAK_INTERNAL_H
#define HAK_INTERNAL_H

#include "hakmem.h"

#define HAK_PAGE 4096u
#define HAK_MAGIC 0x484b4d48u /* "HMKH" */
#define HAK_NO_CLASS 0xffu

enum hak_method { HAK_METHOD_MALLOC = 1, HAK_METHOD_MMAP = 2 };
enum { HAK_FLAG_WARM = 1 }; /* pages handed back with MADV_FREE */

/* The block header, just below the user pointer. With header_size 16 only
 * the first 16 bytes exist: no site and no birth (lifetimes not tracked;
 * the site slot byte still keys BigCache and the per-site stats). */
typedef struct hak_header {
  uint32_t magic;
  uint8_t method; /* enum hak_method */
  uint8_t cls;    /* BigCache class, HAK_NO_CLASS if none */
  uint8_t slot;   /* site slot (hash of the site) */
  uint8_t flags;
  uint64_t size_off; /* low 48 bits: usable size; high 16: offset / 16 of
                        the header from the block's base (alignment) */
  uint64_t site;     /* header_size 32 only */
  uint64_t birth;    /* op number of the allocation; header_size 32 only */
} hak_header_t;

#define HAK_SIZE_MASK ((1ull << 48) - 1)

HK_FORCE_INLINE size_t hdr_size(const hak_header_t *hd) {
  return (size_t)(hd->size_off & HAK_SIZE_MASK);
}
HK_FORCE_INLINE size_t hdr_off(const hak_header_t *hd) {
  return (size_t)(hd->size_off >> 48) * 16;
}
HK_FORCE_INLINE size_t page_round(size_t n) {
  return (n + HAK_PAGE - 1) & ~(size_t)(HAK_PAGE - 1);
}

/* hak_bigcache.c */
typedef struct bc_slot {
  void *base;
  size_t len;
  uint64_t freq; /* hits on this (site, class): the LFU key */
  uint8_t warm;
} bc_slot_t;

typedef struct bc_row {
  bc_slot_t slot[HAK_CLASSES];
  uint32_t used;
} bc_row_t;

extern const size_t hak_class_size[HAK_CLASSES];
/* The class holding size: the smallest class >= size, by a comparison
 * chain; -1 below min_size or above 16 MiB. */
int hak_class_of(size_t size, size_t min_size);

/* hak_batch.c */
typedef struct batch_ent {
  void *base;
  size_t len;
} batch_ent_t;

struct hak_s {
  hak_config_t cfg;
  hak_os_t os;
  pol_t *pol;
  const pol_ops_t *pops;
  int own_pol;
  size_t hs;
  /* costs of the op in progress */
  double op_sys_ns;
  uint64_t op_pages;
  hak_stats_t st;
  bc_row_t bc[HAK_SITES];
  batch_ent_t *batch; /* cfg.batch_blocks entries */
  uint32_t batch_n;
  size_t batch_bytes;
};

/* hak_core.c: counted syscalls (add to the op's cost and the stats). */
void *hak_sys_mmap(hak_t *h, size_t len);
void hak_sys_munmap(hak_t *h, void *p, size_t len);
void hak_sys_madvise(hak_t *h, void *p, size_t len, int advice);

/* hak_bigcache.c */
/* A cached block for (slot, cls), or NULL (counted as hit or miss). */
void *hak_bc_get(hak_t *h, unsigned slot, int cls, int *warm);
/* Offers a block; 1 if kept. A full row evicts its least-frequently-used
 * block into the batch (never free/munmap directly). */
int hak_bc_put(hak_t *h, unsigned slot, int cls, void *base, size_t len,
               int warm);
/* Unmaps everything cached (instance teardown). */
void hak_bc_drain(hak_t *h);

/* hak_batch.c */
/* Adds a block; flushes when full or past the byte threshold. Never
 * unmaps the block it was just given on its own. */
void hak_batch_add(hak_t *h, void *base, size_t len);
void hak_batch_flush(hak_t *h);

/* hak_global.c: creates the global instance with a given OS table (the
 * preload front end passes the libc calls it resolved); idempotent. */
int hak_global_init_os(const hak_os_t *os);
/* Summary and batch flush without destroying (preload, at exit). */
void hak_global_exit_report(void);

#endif
