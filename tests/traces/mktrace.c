/* mktrace.c: writes small hand-made traces for the robustness tests (the
 * memory cap, control characters in strings, crafted headers, the fuzz seed
 * corpus). Not a test itself: integration tests run it from BUILD/bin.
 *
 *   mktrace OUT WORD...
 * Header words (before any event): exe=STR argv=STR tname=STR module=STR
 * clock=N tick_hz=N depth=N; STR takes C escapes (\n \t \e \xHH \\).
 * Event words: m:SIZE (malloc), c:N:SIZE (calloc), r:K:SIZE (realloc of
 * allocation K), f:K (free allocation K; allocations count from 0),
 * loop:N:SIZE (N x malloc then free), site0 (a site of depth 0 that the
 * events use), x (a failed malloc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trc.h"

static char *unescape(const char *s) {
  char *out = malloc(strlen(s) + 1), *o = out;
  if (!out) exit(1);
  while (*s) {
    if (*s != '\\' || !s[1]) {
      *o++ = *s++;
      continue;
    }
    s++;
    switch (*s) {
    case 'n': *o++ = '\n'; s++; break;
    case 't': *o++ = '\t'; s++; break;
    case 'r': *o++ = '\r'; s++; break;
    case 'e': *o++ = 27; s++; break;
    case 'x': {
      char hex[3] = {s[1], s[1] ? s[2] : 0, 0};
      *o++ = (char)strtoul(hex, NULL, 16);
      s += 1 + strlen(hex);
      break;
    }
    default: *o++ = *s++; break;
    }
  }
  *o = 0;
  return out;
}

#define MAX_OBJ 4096

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: mktrace OUT WORD...\n");
    return 2;
  }
  trc_header_t h;
  memset(&h, 0, sizeof h);
  h.clock = TRC_CLOCK_VIRTUAL;
  h.tick_hz = 1000000000ull;
  h.exe = "mktrace";
  h.depth = 1;
  const char *tname = "main", *module = NULL;
  int a = 2;
  for (; a < argc && strchr(argv[a], '='); a++) {
    char *eq = strchr(argv[a], '='), *v = unescape(eq + 1);
    size_t kl = (size_t)(eq - argv[a]);
#define KEY(k) (kl == strlen(k) && strncmp(argv[a], k, kl) == 0)
    if (KEY("exe")) h.exe = v;
    else if (KEY("argv")) {
      h.flags |= TRC_HF_ARGV;
      h.argv = v;
      h.argv_len = (uint32_t)strlen(v) + 1;
    } else if (KEY("tname")) tname = v;
    else if (KEY("module")) module = v;
    else if (KEY("clock")) h.clock = (uint32_t)strtoul(v, NULL, 0);
    else if (KEY("tick_hz")) h.tick_hz = strtoull(v, NULL, 0);
    else if (KEY("depth")) h.depth = (uint32_t)strtoul(v, NULL, 0);
    else {
      fprintf(stderr, "mktrace: unknown header word '%s'\n", argv[a]);
      return 2;
    }
#undef KEY
  }
  trc_writer_t *w;
  int rc = trc_writer_create(&w, argv[1], &h, NULL);
  if (rc) {
    fprintf(stderr, "mktrace: %s: %s\n", argv[1], hk_strerror(rc));
    return 1;
  }
  uint64_t frame = 0x401000;
  rc = trc_writer_add_site(w, 1, &frame, 1);
  trc_thread_t th = {.index = 0, .tid = 100, .name = tname};
  if (!rc) rc = trc_writer_add_thread(w, &th);
  if (!rc && module) {
    trc_module_t m = {.id = 1, .base = 0x400000, .lo = 0x400000,
                      .hi = 0x500000, .path = module};
    rc = trc_writer_add_module(w, &m);
  }
  static uint64_t ptr[MAX_OBJ];
  size_t nobj = 0;
  uint64_t t = 1, next = 0x10000000;
  uint32_t site = 1;
  for (; a < argc && !rc; a++) {
    trc_event_t e;
    memset(&e, 0, sizeof e);
    e.time = t++;
    e.site = site;
    const char *wd = argv[a];
    unsigned long long x = 0, y = 0;
    if (strcmp(wd, "site0") == 0) {
      rc = trc_writer_add_site(w, 2, NULL, 0);
      site = 2;
      continue;
    } else if (strcmp(wd, "x") == 0) {
      e.op = TRC_OP_MALLOC;
      e.size = 1ull << 50;
      e.flags = TRC_EV_FAILED;
    } else if (sscanf(wd, "m:%llu", &x) == 1) {
      e.op = TRC_OP_MALLOC;
      e.size = x;
    } else if (sscanf(wd, "c:%llu:%llu", &x, &y) == 2) {
      e.op = TRC_OP_CALLOC;
      e.nmemb = x;
      e.size = y;
    } else if (sscanf(wd, "r:%llu:%llu", &x, &y) == 2 && x < nobj) {
      e.op = TRC_OP_REALLOC;
      e.old_ptr = ptr[x];
      e.size = y;
      e.ptr = ptr[x] = next;
      next += (y + 4095) & ~4095ull;
      next += 4096;
    } else if (sscanf(wd, "f:%llu", &x) == 1 && x < nobj) {
      e.op = TRC_OP_FREE;
      e.ptr = ptr[x];
    } else if (sscanf(wd, "loop:%llu:%llu", &x, &y) == 2) {
      for (unsigned long long i = 0; i < x && !rc; i++) {
        trc_event_t ev[2];
        memset(ev, 0, sizeof ev);
        ev[0].time = t++;
        ev[0].op = TRC_OP_MALLOC;
        ev[0].size = y;
        ev[0].ptr = 0x70000000;
        ev[0].site = site;
        ev[1] = ev[0];
        ev[1].time = t++;
        ev[1].op = TRC_OP_FREE;
        ev[1].size = 0;
        rc = trc_writer_events(w, 0, ev, 2);
      }
      continue;
    } else {
      fprintf(stderr, "mktrace: bad word '%s'\n", wd);
      return 2;
    }
    if (e.op != TRC_OP_FREE && e.op != TRC_OP_REALLOC && !e.flags) {
      if (nobj == MAX_OBJ) return 2;
      e.ptr = ptr[nobj++] = next;
      uint64_t sz = e.nmemb ? e.nmemb * e.size : e.size;
      next += ((sz + 4095) & ~4095ull) + 4096;
    }
    rc = trc_writer_events(w, 0, &e, 1);
  }
  int frc = trc_writer_finish(w, t, 0);
  trc_writer_free(w);
  if (rc || frc) {
    fprintf(stderr, "mktrace: %s: %s\n", argv[1], hk_strerror(rc ? rc : frc));
    return 1;
  }
  return 0;
}
