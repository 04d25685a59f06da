/* rpl_counters.c: what the kernel says a run cost. OS calls (mmap, munmap,
 * madvise, mremap, brk) from the syscalls:sys_enter_* tracepoints through
 * perf_event_open, counting this process between start and stop; page
 * faults from getrusage; RSS from /proc/self/statm and VmHWM. */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rpl_internal.h"

static const char *const sys_names[5] = {"mmap", "munmap", "madvise",
                                         "mremap", "brk"};

static long tracepoint_id(const char *sys) {
  static const char *const roots[] = {"/sys/kernel/tracing",
                                      "/sys/kernel/debug/tracing"};
  for (size_t r = 0; r < HK_ARRAY_LEN(roots); r++) {
    char path[160], buf[32];
    snprintf(path, sizeof path, "%s/events/syscalls/sys_enter_%s/id",
             roots[r], sys);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    long id = strtol(buf, NULL, 10);
    if (id > 0) return id;
  }
  return -1;
}

void rpl_counters_open(rpl_counters_t *c) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < 5; i++) c->fd[i] = -1;
  c->method = RPL_SYS_TRACEPOINT;
  for (int i = 0; i < 5; i++) {
    long id = tracepoint_id(sys_names[i]);
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_TRACEPOINT;
    a.config = (uint64_t)id;
    a.disabled = 1;
    int fd = id < 0 ? -1
                    : (int)syscall(SYS_perf_event_open, &a, 0, -1, -1,
                                   PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
      c->method = RPL_SYS_NONE;
      break;
    }
    c->fd[i] = fd;
  }
  if (c->method == RPL_SYS_NONE)
    for (int i = 0; i < 5; i++)
      if (c->fd[i] >= 0) {
        close(c->fd[i]);
        c->fd[i] = -1;
      }
  c->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
}

void rpl_counters_start(rpl_counters_t *c) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  c->minflt0 = ru.ru_minflt;
  c->majflt0 = ru.ru_majflt;
  for (int i = 0; i < 5; i++)
    if (c->fd[i] >= 0) {
      ioctl(c->fd[i], PERF_EVENT_IOC_RESET, 0);
      ioctl(c->fd[i], PERF_EVENT_IOC_ENABLE, 0);
    }
}

void rpl_counters_stop(rpl_counters_t *c, rpl_result_t *res) {
  uint64_t v[5] = {0};
  for (int i = 0; i < 5; i++)
    if (c->fd[i] >= 0) ioctl(c->fd[i], PERF_EVENT_IOC_DISABLE, 0);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  for (int i = 0; i < 5; i++)
    if (c->fd[i] >= 0 && read(c->fd[i], &v[i], sizeof v[i]) != sizeof v[i])
      c->method = RPL_SYS_NONE;
  res->sys_method = c->method;
  res->mmap_calls = v[0];
  res->munmap_calls = v[1];
  res->madvise_calls = v[2];
  res->mremap_calls = v[3];
  res->brk_calls = v[4];
  res->minor_faults = (uint64_t)(ru.ru_minflt - c->minflt0);
  res->major_faults = (uint64_t)(ru.ru_majflt - c->majflt0);
}

void rpl_counters_close(rpl_counters_t *c) {
  for (int i = 0; i < 5; i++)
    if (c->fd[i] >= 0) close(c->fd[i]);
  if (c->statm_fd > 0) close(c->statm_fd);
  c->statm_fd = -1;
}

uint64_t rpl_rss_now(rpl_counters_t *c) {
  char buf[128];
  if (c->statm_fd <= 0) return 0;
  ssize_t n = pread(c->statm_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long size = 0, rss = 0;
  if (sscanf(buf, "%lu %lu", &size, &rss) != 2) return 0;
  return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

int rpl_rss_reset_peak(void) {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = write(fd, "5", 1) == 1 ? 0 : -errno;
  close(fd);
  return rc;
}

uint64_t rpl_rss_peak(void) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *p = strstr(buf, "VmHWM:");
  if (!p) return 0;
  return strtoull(p + 6, NULL, 10) * 1024;
}
