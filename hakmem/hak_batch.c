/* hak_batch.c: batch madvise. Freed MMAP blocks >= batch_min wait here,
 * still mapped; a flush (256 blocks or batch_flush_bytes reached, or an
 * explicit hak_flush/teardown) issues MADV_DONTNEED (when batch_madvise)
 * and the munmap for each. The two bugs HAKMEM.md names are avoided by
 * construction: nothing here unmaps a block at add time, and BigCache
 * evictions arrive here rather than at free(). */
#include "hak_internal.h"

void hak_batch_add(hak_t *h, void *base, size_t len, uint64_t pages,
                   hak_owner_t owner) {
  h->batch[h->batch_n++] = (batch_ent_t){base, len, pages, owner.site,
                                         owner.arm, h->st.ops, 0};
  h->batch_bytes += len;
  h->st.batch_adds++;
  h->st.batch_bytes += len;
  h->st.batched_bytes += len;
  if (h->batch_n >= h->cfg.batch_blocks ||
      h->batch_bytes >= h->cfg.batch_flush_bytes)
    hak_batch_flush(h);
}

void hak_batch_flush(hak_t *h) {
  if (h->batch_n == 0) return;
  /* MADV_DONTNEED drops the resident pages, so the munmap after it has
   * none left to give back (the model charges each page once). */
  if (h->cfg.batch_madvise)
    for (uint32_t i = 0; i < h->batch_n; i++) {
      batch_ent_t *b = &h->batch[i];
      double t0 = h->op_sys_ns;
      hak_sys_madvise(h, b->base, b->len, HAK_MADV_DONTNEED, b->pages);
      b->cost += h->op_sys_ns - t0;
      b->pages = 0;
    }
  for (uint32_t i = 0; i < h->batch_n; i++) {
    batch_ent_t *b = &h->batch[i];
    double t0 = h->op_sys_ns;
    hak_sys_munmap(h, b->base, b->len, b->pages);
    b->cost += h->op_sys_ns - t0;
    /* whole-life credit: the flush and the bytes it held while waiting */
    hak_credit(h, POL_OUT_FLUSH, (hak_owner_t){b->site, b->arm}, b->len,
               b->cost,
               (double)b->len * (double)(h->st.ops - b->added) *
                   h->cfg.cost.byte_op_ns);
  }
  h->st.batch_flushes++;
  h->st.batch_flushed_blocks += h->batch_n;
  h->st.batched_bytes -= h->batch_bytes;
  h->batch_n = 0;
  h->batch_bytes = 0;
}
