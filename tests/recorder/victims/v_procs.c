/* v_procs.c: victim for process events. argv: RANGES_FILE MODE, MODE one
 * of fork (child allocates, exits), forkexec (child allocates, execs this
 * program as "child"), spawn (posix_spawn of "child"), vfork (vfork +
 * execv of "child"), child (the exec'd image: allocates and returns). */
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "victim.h"

extern char **environ;

__attribute__((noinline)) void parent_site(int n) {
  for (int i = 0; i < n; i++) free(malloc(64));
}
__attribute__((noinline)) void child_site(int n) {
  for (int i = 0; i < n; i++) free(malloc(128));
}
__attribute__((noinline)) void exec_site(int n) {
  for (int i = 0; i < n; i++) free(malloc(256));
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *mode = argv[2];
  if (strcmp(mode, "child") == 0) { /* a new image: its own ranges */
    char path[4096];
    snprintf(path, sizeof path, "%s.exec", argv[1]);
    FILE *f = fopen(path, "w");
    victim_range(f, "exec", (void *)exec_site);
    if (f) fclose(f);
    exec_site(30);
    return 0;
  }
  FILE *f = fopen(argv[1], "w");
  victim_range(f, "parent", (void *)parent_site);
  victim_range(f, "child", (void *)child_site);
  victim_range(f, "exec", (void *)exec_site);
  if (f) fclose(f);
  parent_site(10);
  char *cargv[] = {argv[0], argv[1], "child", NULL};
  pid_t pid;
  if (strcmp(mode, "spawn") == 0) {
    if (posix_spawn(&pid, argv[0], NULL, NULL, cargv, environ)) return 3;
  } else if (strcmp(mode, "vfork") == 0) {
    pid = vfork();
    if (pid == 0) {
      execv(argv[0], cargv);
      _exit(127);
    }
  } else {
    pid = fork();
    if (pid == 0) {
      child_site(20);
      if (strcmp(mode, "forkexec") == 0) {
        execv(argv[0], cargv);
        _exit(127);
      }
      exit(0);
    }
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) return 4;
  parent_site(5);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 5;
}
