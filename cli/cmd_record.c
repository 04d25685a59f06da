/* cmd_record.c: `hksim record [-o OUT] [--depth N] -- CMD [ARGS...]`: runs
 * CMD with the recorder preloaded (libhkrec.so, recorder/), follows its
 * children (each process writes its own file, derived from OUT), then
 * scans every file written and prints files, events, threads, call sites
 * and bytes per event. Refuses static and setuid programs, which the
 * dynamic loader would run unrecorded. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "trc.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hksim record [-o OUT] [--depth N] [--block N] -- CMD "
          "[ARGS...]\n\n"
          "Runs CMD under the allocation recorder. Each process (children "
          "too)\nwrites OUT.PID.hkt (OUT may contain %%p for the pid; "
          "default ./hkrec).\n"
          "  -o OUT       output template\n"
          "  --depth N    stack frames per call site, 1..64 (default 1)\n"
          "  --block N    events per thread buffer (default 4096)\n"
          "Exit code: the program's (128+N if signal N killed it); 1 if "
          "the program\nsucceeded but nothing complete was recorded, or "
          "the program cannot be\nrecorded (static, setuid, not found); 2 "
          "on usage errors.\n"
          "The recorder library is HKSIM_RECORDER, else "
          "BINDIR/../lib/libhkrec.so.\n");
}

/* CMD as execvp would find it. */
static int resolve_cmd(const char *cmd, char *out, size_t n) {
  if (strchr(cmd, '/')) {
    if ((size_t)snprintf(out, n, "%s", cmd) >= n) return -1;
    return access(out, X_OK);
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t len = end ? (size_t)(end - path) : strlen(path);
    if ((size_t)snprintf(out, n, "%.*s/%s", (int)len, len ? path : ".", cmd) <
            n &&
        access(out, X_OK) == 0)
      return 0;
    if (!end) break;
    path = end + 1;
  }
  return -1;
}

/* 0 dynamic (recordable), 1 static, 2 setuid/setgid, -1 unreadable; for a
 * script, the interpreter is checked (one level). */
static int check_binary(const char *path, char *why, size_t n, int level) {
  struct stat st;
  if (stat(path, &st)) return -1;
  if (st.st_mode & (S_ISUID | S_ISGID)) {
    snprintf(why, n, "%s is setuid/setgid: the loader ignores LD_PRELOAD "
                     "for it",
             path);
    return 2;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  unsigned char buf[4096];
  ssize_t k = read(fd, buf, sizeof buf);
  close(fd);
  if (k >= 2 && buf[0] == '#' && buf[1] == '!' && level == 0) {
    char interp[PATH_MAX];
    size_t i = 2, j = 0;
    while (i < (size_t)k && (buf[i] == ' ' || buf[i] == '\t')) i++;
    while (i < (size_t)k && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
           j + 1 < sizeof interp)
      interp[j++] = (char)buf[i++];
    interp[j] = 0;
    return j ? check_binary(interp, why, n, 1) : 0;
  }
  if (k < (ssize_t)sizeof(Elf64_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0)
    return 0; /* not ELF: let the kernel decide */
  if (buf[EI_CLASS] != ELFCLASS64) return 0;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
  if (eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)k)
    return 0; /* headers beyond what we read: assume dynamic */
  int interp = 0;
  for (int i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff) + i;
    if (ph->p_type == PT_INTERP) interp = 1;
  }
  if (!interp) {
    snprintf(why, n, "%s is statically linked: LD_PRELOAD cannot reach its "
                     "allocator",
             path);
    return 1;
  }
  return 0;
}

/* libhkrec.so: HKSIM_RECORDER, else next to this program's bin/. */
static int find_library(char *out, size_t n) {
  const char *env = getenv("HKSIM_RECORDER");
  if (env && *env) {
    if (realpath(env, out) && access(out, R_OK) == 0) return 0;
    return -1;
  }
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k <= 0) return -1;
  exe[k] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = 0;
  char cand[PATH_MAX + 32];
  snprintf(cand, sizeof cand, "%s/../lib/libhkrec.so", exe);
  if (!realpath(cand, out) || access(out, R_OK) != 0) return -1;
  (void)n;
  return 0;
}

static int run(int argc, char **argv) {
  const char *out = "hkrec", *depth = NULL, *block = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    }
    if (cli_is_help(argv[i])) {
      usage(stdout);
      return CLI_OK;
    }
    if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) {
      if (++i >= argc) return cli_usage("record", "-o needs a value");
      out = argv[i];
    } else if (strcmp(argv[i], "--depth") == 0) {
      uint64_t d;
      if (++i >= argc || cli_parse_u64(argv[i], &d) || d < 1 ||
          d > TRC_MAX_DEPTH)
        return cli_usage("record", "--depth needs a number in 1..%d",
                         TRC_MAX_DEPTH);
      depth = argv[i];
    } else if (strcmp(argv[i], "--block") == 0) {
      uint64_t b;
      if (++i >= argc || cli_parse_u64(argv[i], &b) || b < 16 || b > 65536)
        return cli_usage("record", "--block needs a number in 16..65536");
      block = argv[i];
    } else if (argv[i][0] == '-') {
      return cli_usage("record", "unknown option '%s'", argv[i]);
    } else {
      break; /* CMD without "--" */
    }
  }
  if (i >= argc) return cli_usage("record", "no command to run");
  char **cmd = argv + i;

  char lib[PATH_MAX];
  if (find_library(lib, sizeof lib)) {
    cli_error("record", "cannot find libhkrec.so (set HKSIM_RECORDER to its "
                        "path)");
    return CLI_FAIL;
  }
  char prog[PATH_MAX], why[PATH_MAX + 128];
  if (resolve_cmd(cmd[0], prog, sizeof prog)) {
    cli_error(cmd[0], "command not found or not executable");
    return CLI_FAIL;
  }
  if (check_binary(prog, why, sizeof why, 0) > 0) {
    cli_error("record", "cannot record %s", why);
    return CLI_FAIL;
  }

  char manifest[] = "/tmp/hksim-record-XXXXXX";
  int mfd = mkstemp(manifest);
  if (mfd < 0) return cli_fail("record", -errno, "creating a temporary file");
  close(mfd);

  /* Ours first: a user's preloaded allocator then sits below the
   * recorder (RTLD_NEXT), so the program's calls reach the recorder. */
  const char *old = getenv("LD_PRELOAD");
  size_t plen = strlen(lib) + (old ? strlen(old) : 0) + 2;
  char *preload = malloc(plen);
  if (!preload) return cli_fail("record", HK_E_NOMEM, NULL);
  snprintf(preload, plen, "%s%s%s", lib, old && *old ? ":" : "",
           old ? old : "");
  char hz[32];
  snprintf(hz, sizeof hz, "%" PRIu64, hk_tsc_hz(50));

  pid_t pid = fork();
  if (pid < 0) {
    free(preload);
    unlink(manifest);
    return cli_fail("record", -errno, "fork");
  }
  if (pid == 0) {
    setenv("LD_PRELOAD", preload, 1);
    setenv("HKREC_OUT", out, 1);
    setenv("HKREC_MANIFEST", manifest, 1);
    if (HK_HAVE_TSC && hk_tsc_invariant()) setenv("HKREC_TSC_HZ", hz, 1);
    if (depth) setenv("HKREC_DEPTH", depth, 1);
    if (block) setenv("HKREC_BLOCK", block, 1);
    execv(prog, cmd);
    fprintf(stderr, "hksim: %s: %s\n", prog, strerror(errno));
    _exit(127);
  }
  free(preload);
  /* Like system(): the terminal's ^C goes to the program; we wait. */
  struct sigaction ign = {0}, oint, oquit;
  ign.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ign, &oint);
  sigaction(SIGQUIT, &ign, &oquit);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGINT, &oint, NULL);
  sigaction(SIGQUIT, &oquit, NULL);
  int code = WIFEXITED(st) ? WEXITSTATUS(st)
             : WIFSIGNALED(st) ? 128 + WTERMSIG(st)
                               : 1;

  /* What was written: one line per file, then the totals. */
  FILE *mf = fopen(manifest, "r");
  char line[PATH_MAX + 64];
  uint64_t files = 0, events = 0, bytes = 0, damaged = 0;
  uint32_t threads = 0, sites = 0;
  char seen[64][256];
  int nseen = 0;
  while (mf && fgets(line, sizeof line, mf)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    int dup = 0;
    for (int k = 0; k < nseen && !dup; k++) dup = strcmp(seen[k], line) == 0;
    if (dup) continue;
    if (nseen < 64 && strlen(line) < sizeof seen[0])
      memcpy(seen[nseen++], line, strlen(line) + 1);
    trc_scan_t s;
    int rc = trc_scan(line, &s);
    files++;
    if (rc) {
      fprintf(stderr, "hksim record: %s: %s\n", line, hk_strerror(rc));
      damaged++;
      continue;
    }
    fprintf(stderr,
            "hksim record: %s: %" PRIu64 " events, %u threads, %u call "
            "sites, %" PRIu64 " bytes (%.2f bytes/event)%s%s\n",
            line, s.events, s.threads, s.sites, s.file_bytes,
            s.events ? (double)s.file_bytes / (double)s.events : 0.0,
            s.status ? "; INCOMPLETE: " : "", s.status ? s.problem : "");
    if (s.status) damaged++;
    events += s.events;
    bytes += s.file_bytes;
    threads += s.threads;
    sites += s.sites;
  }
  if (mf) fclose(mf);
  unlink(manifest);
  fprintf(stderr,
          "hksim record: %" PRIu64 " file%s, %" PRIu64 " events, %u threads, "
          "%u call sites, %.2f bytes/event; program exit %d\n",
          files, files == 1 ? "" : "s", events, threads, sites,
          events ? (double)bytes / (double)events : 0.0, code);
  if (code == 0 && (files == 0 || damaged)) {
    if (files)
      cli_error("record", "%" PRIu64 " trace file(s) incomplete", damaged);
    else
      cli_error("record", "nothing was recorded");
    return CLI_FAIL;
  }
  return code;
}

const cli_cmd_t cli_cmd_record = {"record", "run a program under the recorder",
                                  run};
