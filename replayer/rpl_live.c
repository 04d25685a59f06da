/* rpl_live.c: live runs for `hksim validate`: runs a program as it is,
 * with a back end's allocator preloaded, times it from fork to wait4
 * (wall, user and system CPU, max RSS, page faults) and stores the run in
 * live_runs, beside the replays of the program's recording (the fidelity
 * views, analysis/views.sql). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpl_internal.h"

/* Where a bare library name would be found: LD_LIBRARY_PATH, then the
 * directories Debian's loader searches. ld.so ignores a preload it cannot
 * find and runs the program on glibc, so a live run must never start with
 * a name that does not resolve. */
static int find_lib(const char *name, char *out, size_t len) {
  if (strchr(name, '/')) {
    if (access(name, R_OK)) return -1;
    snprintf(out, len, "%s", name);
    return 0;
  }
  static const char *const dirs[] = {
      "/usr/local/lib", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
      "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64",
      "/usr/lib64", "/lib", "/usr/lib", NULL};
  const char *lp = getenv("LD_LIBRARY_PATH");
  while (lp && *lp) {
    const char *end = strchr(lp, ':');
    size_t n = end ? (size_t)(end - lp) : strlen(lp);
    if (n && (size_t)snprintf(out, len, "%.*s/%s", (int)n, lp, name) < len &&
        access(out, R_OK) == 0)
      return 0;
    if (!end) break;
    lp = end + 1;
  }
  for (const char *const *d = dirs; *d; d++)
    if ((size_t)snprintf(out, len, "%s/%s", *d, name) < len &&
        access(out, R_OK) == 0)
      return 0;
  return -1;
}

int rpl_live_preload(const char *backend, const char *hakmem_lib, char *out,
                     size_t len, char *why, size_t wlen) {
  out[0] = 0;
  const char *name = NULL;
  char so_path[PATH_MAX], prefix[64];
  if (strcmp(backend, "glibc") == 0) return 0;
  if (strcmp(backend, "mimalloc") == 0)
    name = "libmimalloc.so.2";
  else if (strcmp(backend, "jemalloc") == 0)
    name = "libjemalloc.so.2";
  else if (strcmp(backend, "tcmalloc") == 0)
    name = "libtcmalloc.so.4"; /* what rpl_be_tcmalloc.c loads first */
  else if (strcmp(backend, "hakmem") == 0)
    name = hakmem_lib;
  else if (rpl_so_parse(backend, so_path, sizeof so_path, prefix,
                        sizeof prefix) == 0)
    name = so_path;
  else {
    snprintf(why, wlen, "back end '%s' cannot be run live (glibc, mimalloc, "
                        "jemalloc, tcmalloc, hakmem, so:PATH can)",
             backend);
    return HK_E_USAGE;
  }
  if (!name || !*name) {
    snprintf(why, wlen, "libhakmem.so not found (set HKSIM_HAKMEM_LIB)");
    return HK_E_NOTFOUND;
  }
  if (find_lib(name, out, len)) {
    snprintf(why, wlen, "%s: library not found or unreadable", name);
    return HK_E_NOTFOUND;
  }
  return 0;
}

static uint64_t tv_ns(struct timeval tv) {
  return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

int rpl_live_run(char *const *argv, const char *preload,
                 const char *const *env, const char *stdin_path,
                 const char *stdout_path, rpl_live_result_t *res) {
  memset(res, 0, sizeof *res);
  int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    res->status = -errno;
    snprintf(res->error, sizeof res->error, "%s: %s",
             stdin_path ? stdin_path : "/dev/null", strerror(errno));
    return 0;
  }
  int out = open(stdout_path ? stdout_path : "/dev/null",
                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    res->status = -errno;
    snprintf(res->error, sizeof res->error, "%s: %s", stdout_path,
             strerror(errno));
    close(in);
    return 0;
  }
  /* The child reports a failed exec through this pipe (CLOEXEC: a
   * successful exec closes it with nothing written). */
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC)) {
    close(in);
    close(out);
    return -errno;
  }
  fflush(NULL);
  uint64_t t0 = hk_now_ns();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(in);
    close(out);
    close(pfd[0]);
    close(pfd[1]);
    return -e;
  }
  if (pid == 0) {
    dup2(in, 0);
    dup2(out, 1);
    const char *orig = getenv("HKSIM_TUNABLES_ORIG");
    if (orig && getenv("HKSIM_REEXEC")) { /* what the user started with */
      if (*orig)
        setenv("GLIBC_TUNABLES", orig, 1);
      else
        unsetenv("GLIBC_TUNABLES");
      unsetenv("HKSIM_TUNABLES_ORIG");
      unsetenv("HKSIM_REEXEC");
    }
    if (preload && *preload)
      setenv("LD_PRELOAD", preload, 1);
    else
      unsetenv("LD_PRELOAD");
    for (size_t k = 0; env && env[k]; k++) putenv((char *)env[k]);
    execvp(argv[0], argv);
    int e = errno;
    if (write(pfd[1], &e, sizeof e) < 0) _exit(127);
    _exit(127);
  }
  close(pfd[1]);
  close(in);
  close(out);
  int st = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
  }
  uint64_t t1 = hk_now_ns();
  int e = 0;
  ssize_t k = read(pfd[0], &e, sizeof e);
  close(pfd[0]);
  res->wall_ns = t1 - t0;
  res->user_ns = tv_ns(ru.ru_utime);
  res->sys_ns = tv_ns(ru.ru_stime);
  res->max_rss_bytes = (uint64_t)ru.ru_maxrss * 1024ull;
  res->minor_faults = (uint64_t)ru.ru_minflt;
  res->major_faults = (uint64_t)ru.ru_majflt;
  res->exit_code = WIFEXITED(st)     ? WEXITSTATUS(st)
                   : WIFSIGNALED(st) ? 128 + WTERMSIG(st)
                                     : -1;
  if (k == (ssize_t)sizeof e) {
    res->status = HK_E_CHILD;
    snprintf(res->error, sizeof res->error, "%s: cannot run: %s", argv[0],
             strerror(e));
  } else if (WIFSIGNALED(st)) {
    res->status = HK_E_CHILD;
    snprintf(res->error, sizeof res->error, "killed by signal %d (%s)",
             WTERMSIG(st), strsignal(WTERMSIG(st)));
  } else if (res->exit_code != 0) {
    res->status = HK_E_CHILD;
    snprintf(res->error, sizeof res->error, "exited with status %d",
             res->exit_code);
  }
  return 0;
}

int rpl_db_trace_id(rpl_db_t *db, uint64_t hash, int64_t *trace_id) {
  sqlite3 *s = rpl_db_sqlite(db);
  sqlite3_stmt *st;
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
  if (sqlite3_prepare_v2(s, "SELECT trace_id FROM traces WHERE content_hash=?",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *trace_id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? HK_E_NOTFOUND : HK_E_SQLITE;
}

int rpl_db_live_store(rpl_db_t *db, const rpl_live_info_t *li,
                      const rpl_live_result_t *r) {
  sqlite3 *s = rpl_db_sqlite(db);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(
          s,
          "INSERT INTO live_runs(trace_id, backend, policy, repeat, command, "
          "preload, status, exit_code, error, wall_ns, user_ns, sys_ns, "
          "max_rss_bytes, minor_faults, major_faults, started_at, host) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
          "strftime('%Y-%m-%dT%H:%M:%fZ','now'),?)",
          -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  int ok = r->status == 0, ran = ok || r->exit_code != 0 || r->wall_ns;
  if (li->trace_id > 0)
    sqlite3_bind_int64(st, 1, li->trace_id);
  else
    sqlite3_bind_null(st, 1);
  sqlite3_bind_text(st, 2, li->backend, -1, SQLITE_TRANSIENT);
  if (li->policy)
    sqlite3_bind_text(st, 3, li->policy, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, 3);
  sqlite3_bind_int64(st, 4, li->repeat);
  sqlite3_bind_text(st, 5, li->command, -1, SQLITE_TRANSIENT);
  if (li->preload && *li->preload)
    sqlite3_bind_text(st, 6, li->preload, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, 6);
  sqlite3_bind_text(st, 7, ok ? "done" : "failed", -1, SQLITE_STATIC);
  if (ran)
    sqlite3_bind_int(st, 8, r->exit_code);
  else
    sqlite3_bind_null(st, 8);
  if (ok)
    sqlite3_bind_null(st, 9);
  else
    sqlite3_bind_text(st, 9, r->error, -1, SQLITE_TRANSIENT);
  const uint64_t v[6] = {r->wall_ns, r->user_ns, r->sys_ns,
                         r->max_rss_bytes, r->minor_faults, r->major_faults};
  for (int k = 0; k < 6; k++)
    if (ran)
      sqlite3_bind_int64(st, 10 + k, (int64_t)v[k]);
    else
      sqlite3_bind_null(st, 10 + k);
  sqlite3_bind_text(st, 16, rpl_db_host(db), -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : HK_E_SQLITE;
}

int rpl_db_fidelity_print(rpl_db_t *db, int64_t trace_id, FILE *f) {
  sqlite3 *s = rpl_db_sqlite(db);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(
          s,
          "SELECT backend || COALESCE('/' || policy, ''), live_runs, "
          "live_wall_s, live_ci_lo, live_ci_hi, replay_runs, replay_ns / 1e6, "
          "replay_ci_lo / 1e6, replay_ci_hi / 1e6, live_rank, replay_rank "
          "FROM fidelity WHERE trace_id = ? ORDER BY live_rank, backend",
          -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  sqlite3_bind_int64(st, 1, trace_id);
  fprintf(f, "%-28s %4s %22s %4s %24s %5s %6s\n", "back end", "live",
          "wall s [95% CI]", "rpl", "loop ms [95% CI]", "live#", "replay#");
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    char lv[64], rp[64];
    snprintf(lv, sizeof lv, "%.3f [%.3f, %.3f]", sqlite3_column_double(st, 2),
             sqlite3_column_double(st, 3), sqlite3_column_double(st, 4));
    snprintf(rp, sizeof rp, "%.2f [%.2f, %.2f]", sqlite3_column_double(st, 6),
             sqlite3_column_double(st, 7), sqlite3_column_double(st, 8));
    fprintf(f, "%-28.28s %4d %22s %4d %24s %5d %6d\n",
            (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
            lv, sqlite3_column_int(st, 5), rp, sqlite3_column_int(st, 9),
            sqlite3_column_int(st, 10));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return HK_E_SQLITE;
  /* One line per measure: wall times (the issue's), then CPU times. */
  if (sqlite3_prepare_v2(s,
                         "SELECT backends, kendall_tau, delta_error, "
                         "kendall_tau_b, live_separated_pairs, somers_d, "
                         "metric FROM fidelity_summary_by_metric "
                         "WHERE trace_id = ? ORDER BY metric = 'cpu'",
                         -1, &st, NULL) != SQLITE_OK)
    return HK_E_SQLITE;
  sqlite3_bind_int64(st, 1, trace_id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    char tau[32] = "n/a", de[64] = "n/a (no significant live difference)";
    char taub[32] = "n/a", sd[32] = "n/a";
    if (sqlite3_column_type(st, 1) != SQLITE_NULL)
      snprintf(tau, sizeof tau, "%.2f", sqlite3_column_double(st, 1));
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
      snprintf(de, sizeof de, "%.0f%%", 100 * sqlite3_column_double(st, 2));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL)
      snprintf(taub, sizeof taub, "%.2f", sqlite3_column_double(st, 3));
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
      snprintf(sd, sizeof sd, "%.2f", sqlite3_column_double(st, 5));
    const char *m = (const char *)sqlite3_column_text(st, 6);
    fprintf(f,
            "%s times, %d back ends: Kendall's tau %s; live runs separate %d "
            "pairs: tau-b %s, Somers' d %s; delta_error %s\n",
            m && strcmp(m, "cpu") == 0 ? "CPU" : "wall",
            sqlite3_column_int(st, 0), tau, sqlite3_column_int(st, 4), taub,
            sd, de);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : HK_E_SQLITE;
}
