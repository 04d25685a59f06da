/* record_runtime.c: what `hksim record` (cmd_record.c) learns about the
 * program before running it: where it is, whether LD_PRELOAD can reach
 * its allocator (static and setuid programs are refused), and which
 * runtime it is once launchers (env, shell shims, #! lines) are followed,
 * so that runtimes with an allocator of their own get the environment
 * switch that makes them call malloc (the table below). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record_internal.h"

/* Bits of rec_runtimes (recorder/rec_runtime.c): CPython is told by its
 * program's name too. */
enum { RT_PYTHON = 1u << 0 };

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

int cli_record_resolve(const char *cmd, char *out, size_t n, char *why,
                       size_t wn) {
  struct stat st;
  if (!*cmd) {
    snprintf(why, wn, "empty command name");
    return 127;
  }
  if (strchr(cmd, '/')) {
    if ((size_t)snprintf(out, n, "%s", cmd) >= n || stat(out, &st)) {
      snprintf(why, wn, "no such file");
      return 127;
    }
  } else {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    int found = 0;
    /* As execvp: the first executable regular file on PATH wins. */
    while (*path && !found) {
      const char *end = strchr(path, ':');
      size_t len = end ? (size_t)(end - path) : strlen(path);
      if ((size_t)snprintf(out, n, "%.*s/%s", (int)len, len ? path : ".",
                           cmd) < n &&
          stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
          access(out, X_OK) == 0)
        found = 1;
      if (!end) break;
      path = end + 1;
    }
    if (!found) {
      snprintf(why, wn, "command not found");
      return 127;
    }
  }
  if (S_ISDIR(st.st_mode)) {
    snprintf(why, wn, "is a directory, not a program");
    return 126;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, wn, "is not a regular file");
    return 126;
  }
  if (access(out, X_OK)) {
    snprintf(why, wn, "is not executable (%s)", strerror(errno));
    return 126;
  }
  return 0;
}

/* The first line of a script: interpreter and its one optional argument. */
static int shebang(const unsigned char *buf, size_t k, char *interp,
                   size_t in, char *arg, size_t an) {
  if (k < 2 || buf[0] != '#' || buf[1] != '!') return 0;
  size_t i = 2, j = 0;
  while (i < k && (buf[i] == ' ' || buf[i] == '\t')) i++;
  while (i < k && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
         j + 1 < in)
    interp[j++] = (char)buf[i++];
  interp[j] = 0;
  while (i < k && (buf[i] == ' ' || buf[i] == '\t')) i++;
  j = 0;
  while (i < k && buf[i] != '\n' && buf[i] != ' ' && buf[i] != '\t' &&
         j + 1 < an)
    arg[j++] = (char)buf[i++];
  arg[j] = 0;
  return interp[0] != 0;
}

int cli_record_check_binary(const char *path, char *why, size_t n) {
  char hold[PATH_MAX];
  for (int level = 0; level < 2; level++) {
    struct stat st;
    if (stat(path, &st)) return 0; /* let exec say what is wrong */
    if (st.st_mode & (S_ISUID | S_ISGID)) {
      snprintf(why, n,
               "%s is setuid/setgid: the loader ignores LD_PRELOAD for it",
               path);
      return 2;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    unsigned char buf[4096];
    ssize_t k = read(fd, buf, sizeof buf);
    close(fd);
    if (k <= 0) return 0;
    char interp[PATH_MAX], arg[256];
    if (shebang(buf, (size_t)k, interp, sizeof interp, arg, sizeof arg)) {
      if (level) return 0;
      snprintf(hold, sizeof hold, "%s", interp);
      path = hold;
      continue;
    }
    if (k < (ssize_t)sizeof(Elf64_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0 ||
        buf[EI_CLASS] != ELFCLASS64)
      return 0; /* not a 64-bit ELF: let the kernel decide */
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
    if (eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) >
        (uint64_t)k)
      return 0; /* headers beyond what we read: assume dynamic */
    for (int i = 0; i < eh->e_phnum; i++) {
      const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff) + i;
      if (ph->p_type == PT_INTERP) return 0;
    }
    snprintf(why, n,
             "%s is statically linked: LD_PRELOAD cannot reach its "
             "allocator",
             path);
    return 1;
  }
  return 0;
}

/* "python", "python3", "python3.11": CPython's names (not pypy, whose
 * collector does not use malloc per object anyway). */
static int python_name(const char *name) {
  if (strncmp(name, "python", 6) != 0) return 0;
  for (const char *s = name + 6; *s; s++)
    if (!((*s >= '0' && *s <= '9') || *s == '.')) return 0;
  return 1;
}

/* The runtimes an ELF executable links or embeds, from its dynamic
 * section: DT_NEEDED libpython / libstdc++ / libglib-2.0, or CPython's
 * entry point Py_BytesMain among its dynamic symbols' names (a python
 * built with libpython linked in statically). */
static unsigned elf_runtimes(const unsigned char *m, size_t size) {
  if (size < sizeof(Elf64_Ehdr) || memcmp(m, ELFMAG, SELFMAG) != 0 ||
      m[EI_CLASS] != ELFCLASS64)
    return 0;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m;
  if (eh->e_phoff > size ||
      (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff)
    return 0;
  const Elf64_Phdr *ph = (const Elf64_Phdr *)(m + eh->e_phoff);
  const Elf64_Phdr *dyn = NULL;
  for (int i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_DYNAMIC) dyn = &ph[i];
  if (!dyn || dyn->p_offset > size || dyn->p_filesz > size - dyn->p_offset)
    return 0;
  const Elf64_Dyn *d = (const Elf64_Dyn *)(m + dyn->p_offset);
  size_t nd = dyn->p_filesz / sizeof *d;
  uint64_t strtab = 0, strsz = 0;
  for (size_t i = 0; i < nd && d[i].d_tag != DT_NULL; i++) {
    if (d[i].d_tag == DT_STRTAB) strtab = d[i].d_un.d_ptr;
    if (d[i].d_tag == DT_STRSZ) strsz = d[i].d_un.d_val;
  }
  /* The string table's address to its file offset, through PT_LOAD. */
  uint64_t off = UINT64_MAX;
  for (int i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && strtab >= ph[i].p_vaddr &&
        strtab - ph[i].p_vaddr < ph[i].p_filesz)
      off = strtab - ph[i].p_vaddr + ph[i].p_offset;
  if (off == UINT64_MAX || off > size || strsz > size - off) return 0;
  const char *str = (const char *)m + off;
  unsigned mask = 0;
  for (size_t i = 0; i < nd && d[i].d_tag != DT_NULL; i++) {
    if (d[i].d_tag != DT_NEEDED || d[i].d_un.d_val >= strsz) continue;
    const char *lib = str + d[i].d_un.d_val;
    size_t room = strsz - d[i].d_un.d_val;
    if (!memchr(lib, 0, room)) continue;
    mask |= rec_runtimes_of_lib(lib);
  }
  /* A runtime linked into the program: its symbol among the names. */
  for (unsigned i = 0; rec_runtimes[i].name; i++) {
    const char *sym = rec_runtimes[i].symbol;
    if (!sym) continue;
    char entry[64];
    size_t el = (size_t)snprintf(entry, sizeof entry, "%c%s", 0, sym) + 1;
    if (el <= sizeof entry && memmem(str, strsz, entry, el)) mask |= 1u << i;
  }
  return mask;
}

static int is_shell(const char *interp) {
  static const char *const shells[] = {"sh",  "bash", "dash", "ksh",
                                       "zsh", "mksh", NULL};
  for (const char *const *s = shells; *s; s++)
    if (strcmp(base_name(interp), *s) == 0) return 1;
  return 0;
}

static unsigned follow(const char *prog, char *const *args, int level,
                       char *target, size_t n);

/* The program a launcher's arguments name: skips the launcher's options
 * (and, for env, NAME=VALUE words). NULL when it cannot be told. */
static char *const *launched(const char *launcher, char *const *args) {
  const char *l = base_name(launcher);
  int env = strcmp(l, "env") == 0, nice = strcmp(l, "nice") == 0,
      timeout = strcmp(l, "timeout") == 0;
  if (!env && !nice && !timeout && strcmp(l, "nohup") != 0 &&
      strcmp(l, "setsid") != 0)
    return NULL;
  if (!args[0]) return NULL;
  char *const *a = args + 1;
  for (; *a; a++) {
    const char *w = *a;
    if (strcmp(w, "--") == 0) {
      a++;
      break;
    }
    if (env && (strcmp(w, "-S") == 0 || strncmp(w, "--split", 7) == 0))
      return NULL; /* a split string: not followed */
    if (env && (strcmp(w, "-u") == 0 || strcmp(w, "-C") == 0)) {
      if (!*++a) return NULL;
      continue;
    }
    if ((nice || timeout) && (strcmp(w, "-n") == 0 || strcmp(w, "-s") == 0 ||
                              strcmp(w, "-k") == 0)) {
      if (!*++a) return NULL;
      continue;
    }
    if (w[0] == '-' && w[1]) continue;
    if (env && strchr(w, '=')) continue;
    break;
  }
  if (timeout && *a) a++; /* the duration */
  return *a ? a : NULL;
}

/* A shell script's `exec PROG ...` line: PROG, or "" when there is none
 * whose program is written plainly. */
static void exec_line(const unsigned char *buf, size_t k, char *out,
                      size_t n) {
  out[0] = 0;
  size_t i = 0;
  while (i < k) {
    size_t e = i;
    while (e < k && buf[e] != '\n') e++;
    char line[512];
    size_t len = e - i < sizeof line - 1 ? e - i : sizeof line - 1;
    memcpy(line, buf + i, len);
    line[len] = 0;
    i = e + 1;
    char *save = NULL, *w = strtok_r(line, " \t", &save);
    if (!w || strcmp(w, "exec") != 0) continue;
    while ((w = strtok_r(NULL, " \t", &save))) {
      if (w[0] == '-' || (strchr(w, '=') && !strchr(w, '/'))) continue;
      size_t wl = strlen(w);
      if (wl >= 2 && (w[0] == '"' || w[0] == '\'') && w[wl - 1] == w[0]) {
        w[wl - 1] = 0;
        w++;
      }
      if (!strchr(w, '$') && *w) snprintf(out, n, "%s", w);
      break;
    }
    if (out[0]) return;
  }
}

static unsigned follow(const char *prog, char *const *args, int level,
                       char *target, size_t n) {
  snprintf(target, n, "%s", prog);
  if (level > 6) return 0;
  char real[PATH_MAX];
  const char *rbase = realpath(prog, real) ? base_name(real) : "";
  if (python_name(base_name(prog)) || python_name(rbase)) return RT_PYTHON;
  char *const *next = launched(prog, args);
  if (next) {
    char path[PATH_MAX], why[128];
    if (cli_record_resolve(next[0], path, sizeof path, why, sizeof why))
      return 0;
    return follow(path, next, level + 1, target, n);
  }
  int fd = open(prog, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) || st.st_size < 4) {
    close(fd);
    return 0;
  }
  size_t size = (size_t)st.st_size;
  unsigned char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return 0;
  unsigned mask = 0;
  char interp[PATH_MAX], arg[256];
  if (shebang(m, size < 4096 ? size : 4096, interp, sizeof interp, arg,
              sizeof arg)) {
    char path[PATH_MAX], why[128];
    if (strcmp(base_name(interp), "env") == 0 && arg[0] && arg[0] != '-') {
      if (!cli_record_resolve(arg, path, sizeof path, why, sizeof why))
        mask = follow(path, (char *const[]){arg, NULL}, level + 1, target, n);
    } else if (is_shell(interp)) {
      char prog2[PATH_MAX];
      exec_line(m, size < 65536 ? size : 65536, prog2, sizeof prog2);
      if (prog2[0] &&
          !cli_record_resolve(prog2, path, sizeof path, why, sizeof why))
        mask = follow(path, (char *const[]){prog2, NULL}, level + 1, target,
                      n);
    } else if (!cli_record_resolve(interp, path, sizeof path, why,
                                   sizeof why)) {
      mask = follow(path, (char *const[]){interp, NULL}, level + 1, target, n);
    }
  } else {
    mask = elf_runtimes(m, size);
  }
  munmap(m, size);
  return mask;
}

unsigned cli_record_runtimes(const char *prog, char *const *args,
                             char *target, size_t n) {
  return follow(prog, args, 0, target, n);
}
