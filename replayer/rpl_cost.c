/* rpl_cost.c: what preparing and storing a trace will cost, said before
 * doing it. A trace's size on disk says little: zstd turns a loop of
 * identical events into almost nothing (60 KB held 33.5 M events here,
 * which took 1 GiB of prepared program, 0.68 GB of database and over two
 * minutes), so the events are counted first (trc_estimate, an index pass)
 * and a trace that expands beyond anything a recording produces is refused
 * unless the user asks for it (--max-expansion). */
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "replayer.h"

int rpl_cost_estimate(const char *path, rpl_cost_t *c) {
  memset(c, 0, sizeof *c);
  int rc = trc_estimate(path, &c->est);
  if (rc) return rc;
  uint64_t ev = c->est.events;
  c->program_bytes = ev * sizeof(trc_pop_t);
  c->db_bytes = ev * RPL_COST_DB_BYTES_PER_OP;
  c->prepare_s = (double)ev / RPL_COST_PREPARE_OPS_S;
  c->store_s = (double)ev / RPL_COST_STORE_OPS_S;
  return 0;
}

/* Seconds as "12 s", "3.5 min", "1.2 h". */
static void secs_text(double s, char *buf, size_t len) {
  if (s < 1)
    snprintf(buf, len, "under 1 s");
  else if (s < 90)
    snprintf(buf, len, "%.0f s", s);
  else if (s < 5400)
    snprintf(buf, len, "%.1f min", s / 60);
  else
    snprintf(buf, len, "%.1f h", s / 3600);
}

/* "about X of prepared program, Y of database and T to prepare and
 * store". */
static void cost_clause(const rpl_cost_t *c, char *buf, size_t len) {
  char pb[32], db[32], t[32];
  rpl_size_text(c->program_bytes, pb, sizeof pb);
  rpl_size_text(c->db_bytes, db, sizeof db);
  secs_text(c->prepare_s + c->store_s, t, sizeof t);
  snprintf(buf, len,
           "about %s of prepared program, %s of database and %s to prepare "
           "and store",
           pb, db, t);
}

void rpl_cost_text(const rpl_cost_t *c, char *buf, size_t len) {
  char what[200];
  cost_clause(c, what, sizeof what);
  snprintf(buf, len, "%llu events: %s", (unsigned long long)c->est.events,
           what);
}

/* Free bytes for an unprivileged writer in the file system of dir; 0 and
 * *known = 0 when it cannot be told. */
static uint64_t free_bytes(const char *dir, int *known) {
  struct statvfs v;
  *known = dir && *dir && statvfs(dir, &v) == 0;
  return *known ? (uint64_t)v.f_bavail * v.f_frsize : 0;
}

int rpl_cost_judge(const rpl_cost_t *c, uint64_t max_expansion,
                   const char *prog_dir, char *why, size_t len) {
  char what[200];
  cost_clause(c, what, sizeof what);
  uint64_t ev = c->est.events, bytes = c->est.file_bytes ? c->est.file_bytes : 1;
  if (max_expansion && ev >= RPL_COST_MIN_EVENTS && ev / bytes >= max_expansion) {
    snprintf(why, len,
             "%llu bytes decode to %llu events (%llu per byte, over "
             "--max-expansion %llu; recordings hold about 1), %s; not "
             "replayed (--max-expansion none replays it)",
             (unsigned long long)c->est.file_bytes, (unsigned long long)ev,
             (unsigned long long)(ev / bytes), (unsigned long long)max_expansion,
             what);
    return HK_E_RANGE;
  }
  int known;
  uint64_t avail = free_bytes(prog_dir, &known);
  if (known && avail < c->program_bytes) {
    char need[32], have[32];
    rpl_size_text(c->program_bytes, need, sizeof need);
    rpl_size_text(avail, have, sizeof have);
    snprintf(why, len,
             "its %llu events need %s for the prepared program in %s, which "
             "has %s free: not replayed",
             (unsigned long long)ev, need, prog_dir, have);
    return HK_E_RANGE;
  }
  return 0;
}
