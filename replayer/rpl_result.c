/* rpl_result.c: a run's result crosses from the replaying child to the
 * parent through a file: the rpl_result_t with its pointers cleared, then
 * the latency, RSS and policy arrays. Only the parent writes SQLite, so a
 * child that dies leaves nothing half-stored. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "rpl_internal.h"

#define RESULT_MAGIC 0x31534552504c5248ull /* "HRLPRES1" */

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *p, size_t n) {
  uint8_t *b = p;
  while (n) {
    ssize_t r = read(fd, b, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) return HK_E_TRUNCATED;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

int rpl_result_write(int fd, const rpl_result_t *res) {
  rpl_result_t h = *res;
  h.lat = NULL;
  h.rss = NULL;
  h.pol = NULL;
  h.sites = NULL;
  h.threads = NULL;
  uint64_t magic = RESULT_MAGIC;
  int rc = write_all(fd, &magic, sizeof magic);
  if (!rc) rc = write_all(fd, &h, sizeof h);
  if (!rc && res->n_lat) rc = write_all(fd, res->lat, res->n_lat * 4);
  if (!rc && res->n_rss)
    rc = write_all(fd, res->rss, res->n_rss * sizeof *res->rss);
  if (!rc && res->n_pol)
    rc = write_all(fd, res->pol, res->n_pol * sizeof *res->pol);
  if (!rc && res->n_sites)
    rc = write_all(fd, res->sites, res->n_sites * sizeof *res->sites);
  if (!rc && res->n_threads)
    rc = write_all(fd, res->threads, res->n_threads * sizeof *res->threads);
  if (!rc) rc = write_all(fd, &magic, sizeof magic);
  return rc;
}

int rpl_result_read(int fd, rpl_result_t *res) {
  uint64_t magic = 0;
  memset(res, 0, sizeof *res);
  int rc = read_all(fd, &magic, sizeof magic);
  if (rc) return rc;
  if (magic != RESULT_MAGIC) return HK_E_CORRUPT;
  rc = read_all(fd, res, sizeof *res);
  if (rc) return rc;
  uint64_t nl = res->n_lat, nr = res->n_rss, np = res->n_pol, ns = res->n_sites;
  uint64_t nt = res->n_threads;
  res->n_lat = res->n_rss = res->n_pol = res->n_sites = res->n_threads = 0;
  res->rss_cap_ = res->pol_cap_ = res->sites_len_ = 0;
  res->lat = nl ? rpl_map(nl * 4, 0) : NULL;
  res->rss = nr ? rpl_map(nr * sizeof *res->rss, 0) : NULL;
  res->pol = np ? rpl_map(np * sizeof *res->pol, 0) : NULL;
  res->sites = ns ? rpl_map(ns * sizeof *res->sites, 0) : NULL;
  res->threads = nt ? rpl_map(nt * sizeof *res->threads, 0) : NULL;
  if ((nl && !res->lat) || (nr && !res->rss) || (np && !res->pol) ||
      (ns && !res->sites) || (nt && !res->threads)) {
    rpl_unmap(res->lat, nl * 4);
    rpl_unmap(res->rss, nr * sizeof *res->rss);
    rpl_unmap(res->pol, np * sizeof *res->pol);
    rpl_unmap(res->sites, ns * sizeof *res->sites);
    rpl_unmap(res->threads, nt * sizeof *res->threads);
    res->threads = NULL;
    res->lat = NULL;
    res->rss = NULL;
    res->pol = NULL;
    res->sites = NULL;
    return HK_E_NOMEM;
  }
  res->n_lat = nl;
  res->n_rss = res->rss_cap_ = nr;
  res->n_pol = res->pol_cap_ = np;
  res->n_sites = ns;
  res->sites_len_ = ns * sizeof *res->sites;
  res->n_threads = nt;
  if (nl) rc = read_all(fd, res->lat, nl * 4);
  if (!rc && nr) rc = read_all(fd, res->rss, nr * sizeof *res->rss);
  if (!rc && np) rc = read_all(fd, res->pol, np * sizeof *res->pol);
  if (!rc && ns) rc = read_all(fd, res->sites, ns * sizeof *res->sites);
  if (!rc && nt)
    rc = read_all(fd, res->threads, nt * sizeof *res->threads);
  for (uint64_t k = 0; k < nt; k++)
    res->threads[k].digest[sizeof res->threads[k].digest - 1] = 0;
  if (!rc) rc = read_all(fd, &magic, sizeof magic);
  if (!rc && magic != RESULT_MAGIC) rc = HK_E_CORRUPT;
  res->error[sizeof res->error - 1] = 0;
  res->digest[sizeof res->digest - 1] = 0;
  return rc;
}
