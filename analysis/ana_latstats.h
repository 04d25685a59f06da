/* ana_latstats.h: per-op latency statistics shared by the plots
 * (ana_plot.c) and the SQL aggregate hksim_size_class_stats (ana_latstats.c)
 * under the view size_class_latency, so that both class sizes and take
 * percentiles exactly as views.sql defines them. Header-only helpers: the
 * loadable extension hksim_sqlite builds ana_latstats.c without the rest
 * of analysis/. */
#ifndef ANA_LATSTATS_H
#define ANA_LATSTATS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* A latency kept beside its size class in one word, so that one sort
 * orders ops by class, then latency: class << ANA_LAT_BITS | ns, ns capped
 * at ANA_LAT_MASK (2^40 - 1 ns, 18 minutes). */
#define ANA_LAT_BITS 40
#define ANA_LAT_MASK ((UINT64_C(1) << ANA_LAT_BITS) - 1)

/* Size classes 0 and 4 to 48, as views.sql's size_classes table. */
#define ANA_N_CLASSES 49

/* The size class of a request or of a freed block, as size_classes: the
 * class whose lo is the largest at or below size. 0 for size 0, 4 for 1
 * to 16 bytes, k for (2^(k-1), 2^k], 48 for anything above 2^47. */
static inline unsigned ana_size_class(uint64_t size) {
  if (!size) return 0;
  unsigned k = 4;
  while (k < ANA_N_CLASSES - 1 && (UINT64_C(1) << k) < size) k++;
  return k;
}

/* Nearest rank: the 0-based index in n sorted values (n >= 1) of the q
 * quantile, the smallest rank r (1-based) with r >= q * n, computed in
 * double as SQLite computes views.sql's "rn >= q * n". */
static inline size_t ana_nearest_rank(size_t n, double q) {
  double r = ceil(q * (double)n);
  if (r < 1) r = 1;
  if (r > (double)n) r = (double)n;
  return (size_t)r - 1;
}

/* Registers hksim_size_class_stats(kind, size, latency_ns) on db (see
 * ana_latstats.c); a SQLite result code. */
struct sqlite3;
int ana_latstats_register(struct sqlite3 *db);

#endif
