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
/* The flags' high nibble: the arm that chose the block's path, plus one
 * (0: none known), so its later costs reach that decision (hak_credit). */
#define HAK_ARM_SHIFT 4
#define HAK_ARM_MAX 14

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
  uint64_t pages; /* resident pages (the residency model) */
  uint64_t freq; /* hits on this (site, class): the LFU key */
  uint8_t warm;
  int8_t arm;    /* the decision of the block's last life (-1: none) */
  uint64_t site;
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
  uint64_t pages; /* resident pages */
  uint64_t site;  /* the decision whose block this was (arm -1: none) */
  int arm;
  uint64_t added; /* op number when it entered the batch */
  double cost;    /* modelled flush cost, summed while flushing */
} batch_ent_t;

/* A block's later cost, for the decision that chose its path. */
typedef struct hak_owner {
  uint64_t site;
  int arm; /* -1: not known (16-byte header, a block of no decision) */
} hak_owner_t;

/* hak_model.c: a u64 -> u64 map in its own mappings (never the heap
 * under study); keys are any value but the map reserves nothing. */
typedef struct hak_map_ent {
  uint64_t key; /* key + 1; 0: empty */
  uint64_t val;
} hak_map_ent_t;
typedef struct hak_map {
  hak_map_ent_t *e;
  size_t cap, n;
} hak_map_t;
int hak_map_put(hak_map_t *m, uint64_t key, uint64_t val); /* -1: no memory */
int hak_map_get(const hak_map_t *m, uint64_t key, uint64_t *val); /* 1 found */
int hak_map_del(hak_map_t *m, uint64_t key, uint64_t *val);       /* 1 found */
void hak_map_release(hak_map_t *m);

/* The libc model: chunks on model offsets of one heap. */
#define HAK_LM_BINS 256
typedef struct hak_lm_chunk {
  uint64_t off, size;
  uint32_t next, prev; /* bin list, when free */
  uint32_t free;
} hak_lm_chunk_t;
typedef struct hak_lm {
  uint64_t top, brk_end; /* the top chunk starts at top; the heap ends at brk_end */
  uint64_t hwm;          /* pages below it are resident */
  uint64_t mmap_threshold, trim_threshold, top_pad;
  hak_lm_chunk_t *chunks;
  uint32_t *recycle;
  uint32_t n_chunks, cap_chunks, free_idx;
  uint32_t bins[HAK_LM_BINS];
  uint64_t nonempty[HAK_LM_BINS / 64];
  hak_map_t by_off, by_end; /* free chunks by start and end */
} hak_lm_t;
/* What one libc call did, as the model sees it. */
typedef struct hak_lm_effect {
  uint64_t faults;   /* pages first written */
  uint64_t resident; /* pages of an mmapped chunk now resident */
  uint64_t released; /* resident pages given back (munmap, trim) */
  uint32_t mmaps, munmaps, brks;
} hak_lm_effect_t;
void hak_lm_init(hak_lm_t *m, const hak_cost_t *c);
void hak_lm_release(hak_lm_t *m);
/* A handle for the chunk (0: the model is out of memory). real: what the
 * real libc did with this request when known (HAK_LM_HEAP or HAK_LM_MMAP:
 * the model then takes that path and moves its mmap threshold to agree),
 * HAK_LM_UNKNOWN to let the model decide alone. */
enum { HAK_LM_UNKNOWN = -1, HAK_LM_HEAP = 0, HAK_LM_MMAP = 1 };
uint64_t hak_lm_malloc(hak_lm_t *m, size_t n, int real, hak_lm_effect_t *fx);
/* Whether glibc served the chunk at p (asked for n bytes) with its own
 * mmap: its usable size is then a page multiple less 16 bytes, which a
 * heap chunk's (a multiple of 16 less 8) never is. HAK_LM_UNKNOWN when
 * the libc is not glibc on 64 bits. */
int hak_lm_real_method(const void *p);
void hak_lm_free(hak_lm_t *m, uint64_t handle, hak_lm_effect_t *fx);
/* Faults of writing `touched` bytes of a fresh mapping of len bytes
 * (huge: MADV_HUGEPAGE was given). */
uint64_t hak_model_fresh_faults(const hak_t *h, size_t len, size_t touched,
                                int huge);

struct hak_s {
  hak_config_t cfg;
  hak_os_t os;
  pol_t *pol;
  const pol_ops_t *pops;
  int own_pol;
  size_t hs;
  uint64_t arm_lo, arm_hi; /* pol_arm_range */
  /* costs of the op in progress */
  double op_sys_ns;
  double op_credit_ns; /* part of op_sys_ns already credited elsewhere */
  uint64_t op_pages;
  uint64_t now_ns; /* the program's time (hak_set_time), if have_clock */
  int have_clock;
  /* ops at the last hak_credit_live: a block born before has had its
   * bytes x ops credited up to here */
  uint64_t live_credited_op;
  hak_stats_t st;
  bc_row_t bc[HAK_SITES];
  hak_map_t blocks;   /* user pointer -> libc model handle or resident
                         pages of an MMAP block (hak_model.c) */
  hak_lm_t lm;
  batch_ent_t *batch; /* cfg.batch_blocks entries */
  uint32_t batch_n;
  size_t batch_bytes;
};

/* hak_core.c: delayed credit (policy.h's pol_outcome_kind): hands a cost
 * the block caused after its allocation to the decision that chose its
 * path; nothing when the owner is unknown. Adds cpu_ns to op_credit_ns
 * (so the op in progress does not claim it again). */
void hak_credit(hak_t *h, int kind, hak_owner_t owner, uint64_t size,
                double cpu_ns, double mem_ns);
/* hak_core.c: counted syscalls (add to the op's cost and the stats). */
void *hak_sys_mmap(hak_t *h, size_t len);
/* pages: resident pages the call gives back (the model charges them). */
void hak_sys_munmap(hak_t *h, void *p, size_t len, uint64_t pages);
void hak_sys_madvise(hak_t *h, void *p, size_t len, int advice,
                     uint64_t pages);

/* hak_bigcache.c */
/* A cached block for (slot, cls), or NULL (counted as hit or miss). */
void *hak_bc_get(hak_t *h, unsigned slot, int cls, int *warm,
                 uint64_t *pages);
/* Offers a block; 1 if kept. A full row evicts its least-frequently-used
 * block into the batch (never free/munmap directly). */
int hak_bc_put(hak_t *h, unsigned slot, int cls, void *base, size_t len,
               int warm, uint64_t pages, hak_owner_t owner);
/* Unmaps everything cached (instance teardown). */
void hak_bc_drain(hak_t *h);

/* hak_batch.c */
/* Adds a block; flushes when full or past the byte threshold. Never
 * unmaps the block it was just given on its own. */
void hak_batch_add(hak_t *h, void *base, size_t len, uint64_t pages,
                   hak_owner_t owner);
void hak_batch_flush(hak_t *h);

/* hak_global.c: creates the global instance with a given OS table (the
 * preload front end passes the libc calls it resolved); idempotent. */
int hak_global_init_os(const hak_os_t *os);
/* Summary and batch flush without destroying (preload, at exit). */
void hak_global_exit_report(void);

#endif
