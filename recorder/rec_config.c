/* rec_config.c: the recorder's settings from HKREC_* environment variables
 * and the naming of output files. Runs during the preload bootstrap, so it
 * never allocates: getenv and fixed buffers only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recorder.h"

void rec_config_default(rec_config_t *c) {
  memset(c, 0, sizeof *c);
  c->depth = REC_DEFAULT_DEPTH;
  c->block = REC_DEFAULT_BLOCK;
  c->chunk = REC_DEFAULT_CHUNK;
  c->buffers = REC_DEFAULT_BUFFERS;
  c->writer_thread = 1;
  c->fast = 1;
  c->store = 1;
  c->max_sites = REC_DEFAULT_MAX_SITES;
  c->signals = 1;
  c->ts_every = REC_DEFAULT_TS_EVERY;
}

/* Decimal only, whole string, <= max; returns 0 on success. */
static int env_u64(const char *name, uint64_t max, uint64_t *out) {
  const char *s = getenv(name);
  if (!s || !*s) return -1;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    uint64_t d = (uint64_t)(*s - '0');
    /* d > max first: max - d would wrap (HKREC_WRITER=5 was taken as 5) */
    if (d > max || v > (max - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* Copies the variable when it fits; HK_E_RANGE when it does not (dst is
 * left empty: the caller refuses rather than fall back to another name). */
static int env_str(const char *name, char *dst, size_t n) {
  const char *s = getenv(name);
  if (!s) return 0;
  size_t len = strlen(s);
  if (len >= n) return HK_E_RANGE;
  memcpy(dst, s, len + 1);
  return 0;
}

void rec_config_from_env(rec_config_t *c) {
  rec_config_default(c);
  uint64_t v;
  c->out_error = env_str("HKREC_OUT", c->out, sizeof c->out);
  if (env_str("HKREC_MANIFEST", c->manifest, sizeof c->manifest))
    c->manifest[0] = 0; /* too long: the front end cannot list the file */
  if (env_u64("HKREC_DEPTH", TRC_MAX_DEPTH, &v) == 0 && v >= 1)
    c->depth = (uint32_t)v;
  if (env_u64("HKREC_BLOCK", REC_MAX_BLOCK, &v) == 0 && v >= 16)
    c->block = (uint32_t)v;
  if (env_u64("HKREC_CHUNK", REC_MAX_CHUNK, &v) == 0 && v >= 16)
    c->chunk = (uint32_t)v;
  if (env_u64("HKREC_BUFFERS", REC_MAX_BUFFERS, &v) == 0 && v >= 2)
    c->buffers = (uint32_t)v;
  if (env_u64("HKREC_WRITER", 1, &v) == 0) c->writer_thread = (int)v;
  if (env_u64("HKREC_DISCARD", 1, &v) == 0) c->discard = (int)v;
  if (env_u64("HKREC_RUNTIMES", 1, &v) == 0) c->runtimes = (int)v;
  if (env_u64("HKREC_MAX_SITES", UINT32_MAX - 1, &v) == 0 && v >= 1)
    c->max_sites = (uint32_t)v;
  if (env_u64("HKREC_LEVEL", 19, &v) == 0) c->level = (int)v;
  /* Within what a reader accepts (trc_header_check), else calibrated. */
  if (env_u64("HKREC_TSC_HZ", TRC_TSC_HZ_MAX, &v) == 0 && v >= TRC_TSC_HZ_MIN)
    c->tick_hz = v;
  /* A power of two (the hook tests a mask); anything else is ignored. */
  if (env_u64("HKREC_TS_EVERY", REC_MAX_TS_EVERY, &v) == 0 && v >= 1 &&
      (v & (v - 1)) == 0)
    c->ts_every = (uint32_t)v;
  if (env_u64("HKREC_SIGNALS", 1, &v) == 0) c->signals = (int)v;
  if (env_u64("HKREC_QUIET", 1, &v) == 0) c->quiet = (int)v;
  if (env_u64("HKREC_ARGV", 1, &v) == 0) c->argv = (int)v;
  if (env_u64("HKREC_FAST", 3, &v) == 0) c->fast = (int)v;
  if (env_u64("HKREC_STORE", 1, &v) == 0) c->store = (int)v;
  /* HKREC_FAST_LEVEL: "none", or a zstd level -7..19 (a leading '-'). */
  const char *fl = getenv("HKREC_FAST_LEVEL");
  if (fl && strcmp(fl, "none") == 0) {
    c->fast_level = TRC_LEVEL_NONE;
  } else if (fl) {
    int neg = fl[0] == '-', lv = 0, digits = 0;
    const char *q = fl + neg;
    while (*q >= '0' && *q <= '9' && digits < 3) lv = lv * 10 + (*q++ - '0'), digits++;
    if (digits && !*q && lv != 0 && (neg ? lv <= 7 : lv <= 19))
      c->fast_level = neg ? -lv : lv;
  }
  if (env_str("HKREC_ENV", c->env, sizeof c->env)) c->env[0] = 0;
  const char *ck = getenv("HKREC_CLOCK");
  if (ck && strcmp(ck, "mono") == 0) c->clock = TRC_CLOCK_MONOTONIC;
}

int rec_output_path(char *dst, size_t n, const char *tmpl, int64_t pid,
                    unsigned seq) {
  if (!tmpl || !*tmpl) tmpl = "hkrec";
  char pids[24], seqs[16] = "";
  snprintf(pids, sizeof pids, "%lld", (long long)pid);
  if (seq) snprintf(seqs, sizeof seqs, ".%u", seq);
  size_t o = 0;
  int had_p = 0;
#define PUT(str, len)                                                          \
  do {                                                                         \
    if (o + (len) >= n) return HK_E_RANGE;                                     \
    memcpy(dst + o, (str), (len));                                             \
    o += (len);                                                                \
  } while (0)
  size_t tl = strlen(tmpl);
  /* "DIR/": the files go into DIR under the default name. */
  char dirtmpl[1100];
  if (tl && tmpl[tl - 1] == '/') {
    if (tl + 6 > sizeof dirtmpl) return HK_E_RANGE;
    memcpy(dirtmpl, tmpl, tl);
    memcpy(dirtmpl + tl, "hkrec", 6);
    tmpl = dirtmpl;
    tl += 5;
  }
  for (size_t i = 0; i < tl; i++) {
    if (tmpl[i] == '%' && tmpl[i + 1] == 'p') {
      PUT(pids, strlen(pids));
      had_p = 1;
      i++;
    } else {
      PUT(tmpl + i, 1);
    }
  }
  if (!had_p) {
    if (o >= 4 && memcmp(dst + o - 4, ".hkt", 4) == 0) o -= 4;
    PUT(".", 1);
    PUT(pids, strlen(pids));
    PUT(seqs, strlen(seqs));
    PUT(".hkt", 4);
  } else if (seq) {
    int ext = o >= 4 && memcmp(dst + o - 4, ".hkt", 4) == 0;
    if (ext) o -= 4;
    PUT(seqs, strlen(seqs));
    if (ext) PUT(".hkt", 4);
  }
#undef PUT
  dst[o] = 0;
  return 0;
}

/* Does the name [n, n + nlen) match one pattern of the comma list? */
static int env_name_allowed(const char *patterns, const char *n, size_t nlen) {
  if (nlen >= 6 && memcmp(n, "HKREC_", 6) == 0) return 0;
  for (const char *p = patterns; *p;) {
    const char *e = strchr(p, ',');
    size_t plen = e ? (size_t)(e - p) : strlen(p);
    if (plen && p[plen - 1] == '*') {
      if (nlen >= plen - 1 && memcmp(n, p, plen - 1) == 0) return 1;
    } else if (plen && plen == nlen && memcmp(n, p, nlen) == 0) {
      return 1;
    }
    p += plen + (e != NULL);
  }
  return 0;
}

size_t rec_env_select(const char *patterns, const char *env, size_t len,
                      char *out, size_t cap) {
  size_t o = 0;
  if (!patterns || !*patterns) return 0;
  for (size_t i = 0; i < len;) {
    const char *s = env + i;
    const char *nul = memchr(s, '\0', len - i);
    if (!nul) break; /* cut by the read: left out */
    size_t n = (size_t)(nul - s) + 1;
    const char *eq = memchr(s, '=', n - 1);
    if (eq && eq != s && env_name_allowed(patterns, s, (size_t)(eq - s)) &&
        n <= cap - o) {
      memcpy(out + o, s, n);
      o += n;
    }
    i += n;
  }
  return o;
}
