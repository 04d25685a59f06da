/* cmd_trace.c: `hksim trace info|verify|dump FILE`, the trace's contents
 * and health, over trc_scan (traces/trc_verify.c), trc_prepare and the
 * chunk reader, and `hksim trace compact IN OUT`, which recodes a trace in
 * full (the recorder codes chunks fast while its writer is behind). A
 * damaged trace is described up to the damage, then the command says
 * where the damage starts and exits 1. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hk_text.h"
#include "trc.h"

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim trace info FILE [--json]\n"
          "       hksim trace verify FILE\n"
          "       hksim trace dump FILE\n"
          "       hksim trace compact IN OUT\n\n"
          "info    process, threads, event counts by kind, call sites, modules,\n"
          "        bytes per event, unmatched frees, objects live at exit, peak\n"
          "        live bytes (--json: one object, keys in docs/trace-format.md)\n"
          "verify  exit 0 if the trace is whole and consistent, 1 otherwise,\n"
          "        saying where the damage starts and how much is readable\n"
          "dump    the header, tables and events, one per line, as text\n"
          "compact recode IN in full into OUT (a new file; IN is kept): the\n"
          "        chunks the recorder coded fast while its writer was behind\n"
          "        get the full pointer model and zstd level 3; the events,\n"
          "        tables and summary are the same. IN must be complete\n");
}

/* Opens the trace for a subcommand, turning open errors into one line. */
static int open_error(const char *path, int rc) {
  char why[160];
  cli_error(path, "cannot read trace: %s", trc_open_error(path, rc, why, sizeof why));
  return CLI_FAIL;
}

static const char *clock_name(uint32_t c) {
  switch (c) {
  case TRC_CLOCK_MONOTONIC: return "monotonic";
  case TRC_CLOCK_TSC: return "tsc";
  case TRC_CLOCK_VIRTUAL: return "virtual";
  default: return "unknown";
  }
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch == 0x7f)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static int damage_line(const char *path, const trc_scan_t *s) {
  cli_error(path, "damaged at offset %" PRIu64 ": %s; %" PRIu64 " of %" PRIu64
            " bytes readable (%" PRIu64 " events)",
            s->damage_offset, s->problem, s->readable_bytes, s->file_bytes, s->events);
  return CLI_FAIL;
}

/* The recorder's cost (summary version-4 fields): why a recording was
 * slow, and how its events chunks were coded. */
static void print_costs(const trc_summary_t *m, uint64_t events) {
  printf("recorder   %.3f s in the hooks of the program's threads (the allocator's\n"
         "           own time left out; sampled on %" PRIu64 " events, %.1f ns/event),\n"
         "           %.3f s blocked on backpressure, writer busy %.3f s\n",
         (double)m->hook_ns / 1e9, m->hook_samples,
         events ? (double)m->hook_ns / (double)events : 0.0,
         (double)m->wait_ns / 1e9, (double)m->writer_ns / 1e9);
  printf("coding     %" PRIu64 " events chunks coded fast (writer behind, or HKREC_FAST=2 or 3), %" PRIu64
         " events (%.1f%%)%s\n", m->chunks_fast, m->events_fast,
         events ? 100.0 * (double)m->events_fast / (double)events : 0.0,
         m->chunks_fast ? "; `hksim trace compact` recodes them in full" : "");
  if (m->chunks_stored)
    printf("           of them %" PRIu64 " chunks stored uncompressed (program "
           "threads kept waiting for the writer, or HKREC_FAST=3), %" PRIu64
           " events\n",
           m->chunks_stored, m->events_stored);
}

/* A copy of n bytes of NUL-separated strings (argv, env), NULL for none;
 * the reader's copy goes with the reader. */
static char *copy_list(const char *s, uint32_t n) {
  if (!s || !n) return NULL;
  char *c = malloc(n + 1);
  if (c) {
    memcpy(c, s, n);
    c[n] = 0;
  }
  return c;
}

/* The recorded command line and environment (hksim record --argv, --env):
 * JSON fields "argv" (array) and "env" (object), null when not recorded;
 * as text, lines "argv" and "env", only when recorded. Escaped like exe:
 * they are the trace's bytes. */
static void print_lists(int json, const char *argv, uint32_t alen,
                        const char *env, uint32_t elen) {
  if (json) {
    printf(",\"argv\":");
    if (!argv) printf("null");
    for (uint32_t i = 0; argv && i < alen; i += (uint32_t)strlen(argv + i) + 1) {
      printf("%s", i ? "," : "[");
      json_str(stdout, argv + i);
    }
    if (argv) printf("]");
    printf(",\"env\":");
    if (!env) printf("null");
    for (uint32_t i = 0; env && i < elen; i += (uint32_t)strlen(env + i) + 1) {
      const char *eq = strchr(env + i, '=');
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)(eq - (env + i)), env + i);
      printf("%s", i ? "," : "{");
      json_str(stdout, name);
      putchar(':');
      json_str(stdout, eq + 1);
    }
    if (env) printf("}");
    return;
  }
  if (argv) {
    printf("argv      ");
    for (uint32_t i = 0; i < alen; i += (uint32_t)strlen(argv + i) + 1) {
      putchar(' ');
      hk_fput_escaped(stdout, argv + i);
    }
    putchar('\n');
  }
  for (uint32_t i = 0; env && i < elen; i += (uint32_t)strlen(env + i) + 1) {
    printf("%s", i ? "           " : "env        ");
    hk_fput_escaped(stdout, env + i);
    putchar('\n');
  }
}

static int cmd_info(const char *path, int json) {
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  if (rc) return open_error(path, rc);
  trc_header_t h = *trc_reader_header(r);
  char exe[512];
  snprintf(exe, sizeof exe, "%s", h.exe ? h.exe : "");
  h.exe = exe;
  /* Checked by the reader: each list ends with a NUL, env entries have
   * a '='. */
  char *argv = (h.flags & TRC_HF_ARGV) ? copy_list(h.argv, h.argv_len) : NULL;
  char *env = (h.flags & TRC_HF_ENV) ? copy_list(h.env, h.env_len) : NULL;
  trc_scan_t s;
  rc = trc_scan(path, &s);
  trc_prep_stats_t p;
  if (!rc) rc = trc_prepare(path, NULL, &p);
  trc_reader_free(r);
  if (rc) {
    free(argv);
    free(env);
    return cli_fail(path, rc, "cannot read trace");
  }
  double bpe = s.events ? (double)s.file_bytes / (double)s.events : 0.0;
  if (json) {
    printf("{\"file\":");
    json_str(stdout, path);
    printf(",\"version\":%u,\"pid\":%" PRId64 ",\"ppid\":%" PRId64 ",\"exe\":",
           h.version, h.pid, h.ppid);
    json_str(stdout, h.exe);
    print_lists(1, argv, h.argv_len, env, h.env_len);
    printf(",\"clock\":\"%s\",\"tick_hz\":%" PRIu64 ",\"synthetic\":%s",
           clock_name(h.clock), h.tick_hz, (h.flags & TRC_HF_SYNTHETIC) ? "true" : "false");
    printf(",\"events\":%" PRIu64 ",\"counts\":{", s.events);
    for (unsigned op = 1; op < TRC_OP_COUNT; op++)
      printf("%s\"%s\":%" PRIu64, op > 1 ? "," : "", trc_op_name(op), s.counts[op]);
    printf("},\"failed\":%" PRIu64 ",\"threads\":%u,\"sites\":%u,\"callers\":%u"
           ",\"modules\":%u,\"max_depth\":%u",
           s.failed, s.threads, s.sites, p.callers, s.modules, s.max_depth);
    printf(",\"unmatched_frees\":%" PRIu64 ",\"double_allocs\":%" PRIu64
           ",\"order_unresolved\":%" PRIu64
           ",\"live_at_exit\":%" PRIu64 ",\"live_bytes_at_exit\":%" PRIu64
           ",\"peak_live_bytes\":%" PRIu64 ",\"peak_live_objects\":%" PRIu64,
           p.unmatched_frees, p.double_allocs, p.order_unresolved, p.live_at_exit,
           p.live_bytes_at_exit, p.peak_live_bytes, p.peak_live_objects);
    printf(",\"dropped\":%" PRIu64, s.have_summary ? s.summary.dropped : 0);
    printf(",\"reopened\":%" PRIu64 ",\"end_signal\":%u",
           s.have_summary ? s.summary.reopened : 0,
           s.have_summary ? s.summary.end_signal : 0);
    trc_summary_t z = {0};
    const trc_summary_t *sm = s.have_summary ? &s.summary : &z;
    printf(",\"hook_ns\":%" PRIu64 ",\"hook_samples\":%" PRIu64
           ",\"wait_ns\":%" PRIu64 ",\"writer_ns\":%" PRIu64
           ",\"chunks_fast\":%" PRIu64 ",\"events_fast\":%" PRIu64
           ",\"chunks_stored\":%" PRIu64 ",\"events_stored\":%" PRIu64,
           sm->hook_ns, sm->hook_samples, sm->wait_ns, sm->writer_ns,
           sm->chunks_fast, sm->events_fast, sm->chunks_stored,
           sm->events_stored);
    printf(",\"file_bytes\":%" PRIu64 ",\"bytes_per_event\":%.3f,\"chunks\":%" PRIu64
           ",\"complete\":%s,\"damage_offset\":",
           s.file_bytes, bpe, s.chunks, s.status ? "false" : "true");
    if (s.status)
      printf("%" PRIu64 ",\"problem\":", s.damage_offset), json_str(stdout, s.problem);
    else
      printf("null");
    printf("}\n");
  } else {
    char when[64] = "";
    time_t t = (time_t)(h.start_wall_ns / 1000000000ull);
    struct tm tm;
    if (h.start_wall_ns && gmtime_r(&t, &tm))
      strftime(when, sizeof when, ", started %Y-%m-%d %H:%M:%S UTC", &tm);
    printf("trace      %s (format version %u%s)\n", path, h.version,
           (h.flags & TRC_HF_SYNTHETIC) ? ", synthetic" : "");
    printf("process    pid %" PRId64 ", ppid %" PRId64 ", ", h.pid, h.ppid);
    hk_fput_escaped(stdout, h.exe); /* the trace's bytes: escaped */
    printf("%s\n", when);
    print_lists(0, argv, h.argv_len, env, h.env_len);
    printf("clock      %s, %.3f MHz\n", clock_name(h.clock), (double)h.tick_hz / 1e6);
    printf("events     %" PRIu64 " (%.2f bytes/event, %" PRIu64 " bytes in %" PRIu64
           " chunks)\n", s.events, bpe, s.file_bytes, s.chunks);
    for (unsigned op = 1; op < TRC_OP_COUNT; op++)
      if (s.counts[op])
        printf("  %-15s %" PRIu64 "\n", trc_op_name(op), s.counts[op]);
    printf("failed     %" PRIu64 " allocations returned NULL\n", s.failed);
    printf("threads    %u\n", s.threads);
    printf("sites      %u call stacks (depth up to %u), %u distinct immediate callers\n",
           s.sites, s.max_depth, p.callers);
    printf("modules    %u\n", s.modules);
    printf("pairing    %" PRIu64 " unmatched frees, %" PRIu64 " double allocations",
           p.unmatched_frees, p.double_allocs);
    /* Sparse stamps: steps the order repair had to guess (docs/recorder.md,
     * "Time"); each gives one of the above and later its counterpart. */
    if (p.order_unresolved)
      printf(" (%" PRIu64 " dead ends of the cross-thread order repair)",
             p.order_unresolved);
    putchar('\n');
    printf("live       %" PRIu64 " objects (%" PRIu64 " bytes) at exit; peak %" PRIu64
           " bytes, %" PRIu64 " objects\n", p.live_at_exit, p.live_bytes_at_exit,
           p.peak_live_bytes, p.peak_live_objects);
    if (s.have_summary && s.summary.end_signal)
      printf("ended      by signal %u (%s): the recorder wrote what it held\n",
             s.summary.end_signal, strsignal((int)s.summary.end_signal));
    if (s.have_summary && s.summary.dropped)
      printf("dropped    %" PRIu64 " events not in the trace (made after "
             "the recording ended: at exit after the library's destructor, "
             "or during a fatal signal's flush; after a recorder error (its "
             "line on stderr); or under HKREC_DISCARD=1)\n",
             s.summary.dropped);
    if (s.have_summary && s.summary.reopened)
      printf("trace fd   closed or replaced by the program %" PRIu64
             " times; the file was reopened, no event lost\n",
             s.summary.reopened);
    if (s.have_summary && (s.summary.hook_samples || s.summary.writer_ns))
      print_costs(&s.summary, s.events);
  }
  free(argv);
  free(env);
  return s.status ? damage_line(path, &s) : CLI_OK;
}

static int cmd_verify(const char *path) {
  trc_scan_t s;
  int rc = trc_scan(path, &s);
  if (rc) return open_error(path, rc);
  if (s.status) return damage_line(path, &s);
  printf("%s: ok, %" PRIu64 " events in %" PRIu64 " chunks, %u threads, %u sites\n",
         path, s.events, s.chunks, s.threads, s.sites);
  return CLI_OK;
}

static void dump_chunk(const trc_chunk_t *c) {
  char line[512];
  switch (c->kind) {
  case TRC_CHUNK_EVENTS:
    for (size_t i = 0; i < c->n; i++) {
      trc_event_format(&c->events[i], line, sizeof line);
      printf("%s\n", line);
    }
    break;
  case TRC_CHUNK_SITES:
    for (size_t i = 0; i < c->n; i++) {
      printf("site %u depth=%u", c->sites[i].id, c->sites[i].depth);
      for (uint32_t d = 0; d < c->sites[i].depth; d++)
        printf(" 0x%" PRIx64, c->sites[i].frames[d]);
      printf("\n");
    }
    break;
  case TRC_CHUNK_MODULES:
    for (size_t i = 0; i < c->n; i++) {
      const trc_module_t *m = &c->modules[i];
      printf("module %u base=0x%" PRIx64 " lo=0x%" PRIx64 " hi=0x%" PRIx64
             " time=%" PRIu64 " unload=%" PRIu64 " build_id=", m->id, m->base,
             m->lo, m->hi, m->time, m->unload_time);
      for (uint32_t b = 0; b < m->build_id_len; b++) printf("%02x", m->build_id[b]);
      printf("%s path=", m->build_id_len ? "" : "-");
      hk_fput_escaped(stdout, m->path);
      putchar('\n');
    }
    break;
  case TRC_CHUNK_THREADS:
    for (size_t i = 0; i < c->n; i++) {
      printf("thread %u tid=%" PRId64 " start=%" PRIu64 " end=%" PRIu64 " name=",
             c->threads[i].index, c->threads[i].tid, c->threads[i].start_time,
             c->threads[i].end_time);
      hk_fput_escaped(stdout, c->threads[i].name);
      putchar('\n');
    }
    break;
  case TRC_CHUNK_SUMMARY: {
    const trc_summary_t *s = c->summary;
    printf("summary events=%" PRIu64 " failed=%" PRIu64 " chunks=%" PRIu64
           " threads=%u sites=%u modules=%u end=%" PRIu64 " dropped=%" PRIu64 "\n",
           s->events, s->failed, s->chunks, s->threads, s->sites, s->modules,
           s->end_time, s->dropped);
    /* Version 4's extension, printed only when set: the text form of a
     * trace that needs none stays what it was. */
    if (s->reopened || s->end_signal) {
      printf("summary-ext reopened=%" PRIu64 " signal=%u\n", s->reopened,
             s->end_signal);
    }
    if (s->hook_samples || s->wait_ns || s->writer_ns || s->chunks_fast)
      printf("summary-cost hook_ns=%" PRIu64 " hook_samples=%" PRIu64
             " wait_ns=%" PRIu64 " writer_ns=%" PRIu64 " chunks_fast=%" PRIu64
             " events_fast=%" PRIu64 "\n",
             s->hook_ns, s->hook_samples, s->wait_ns, s->writer_ns,
             s->chunks_fast, s->events_fast);
    if (s->chunks_stored)
      printf("summary-stored chunks_stored=%" PRIu64 " events_stored=%" PRIu64
             "\n", s->chunks_stored, s->events_stored);
    break;
  }
  default: printf("chunk kind=%u (unknown, skipped)\n", c->kind);
  }
}

static int cmd_dump(const char *path) {
  trc_reader_t *r;
  int rc = trc_reader_open(&r, path);
  if (rc) return open_error(path, rc);
  const trc_header_t *h = trc_reader_header(r);
  printf("# hakmem-sim trace, format version %u\n", h->version);
  printf("header flags=0x%x clock=%s tick_hz=%" PRIu64 " pid=%" PRId64 " ppid=%" PRId64
         " depth=%u exe=", h->flags, clock_name(h->clock), h->tick_hz, h->pid,
         h->ppid, h->depth);
  hk_fput_escaped(stdout, h->exe); /* control characters cannot forge lines */
  putchar('\n');
  trc_chunk_t c;
  while ((rc = trc_reader_next(r, &c)) > 0) dump_chunk(&c);
  uint64_t off = trc_reader_offset(r);
  trc_reader_free(r);
  fflush(stdout);
  if (rc < 0) {
    cli_error(path, "damaged at offset %" PRIu64 ": %s (dump stops here)", off,
              hk_strerror(rc));
    return CLI_FAIL;
  }
  return CLI_OK;
}

/* Recodes in into out (which must not exist), chunk by chunk: tables and
 * events go through a fresh writer with no pressure, so every events chunk
 * is coded in full; the summary's recorder fields are carried over. A
 * trace without its summary is refused (the copy would claim to be
 * complete); any error removes out. */
static int cmd_compact(const char *in, const char *out) {
  struct stat st;
  if (stat(out, &st) == 0) {
    cli_error(out, "exists; not overwritten (compact writes a new file)");
    return CLI_FAIL;
  }
  trc_scan_t s;
  int rc = trc_scan(in, &s);
  if (rc) return open_error(in, rc);
  if (s.status) return damage_line(in, &s);
  trc_reader_t *r;
  rc = trc_reader_open(&r, in);
  if (rc) return open_error(in, rc);
  trc_writer_t *w;
  rc = trc_writer_create(&w, out, trc_reader_header(r), NULL);
  if (rc) {
    trc_reader_free(r);
    return cli_fail(out, rc, "cannot create");
  }
  trc_chunk_t c;
  int n, done = 0;
  while (!rc && (n = trc_reader_next(r, &c)) != 0) {
    if (n < 0) {
      rc = n;
      break;
    }
    switch (c.kind) {
    case TRC_CHUNK_EVENTS: rc = trc_writer_events(w, c.thread, c.events, c.n); break;
    case TRC_CHUNK_SITES:
      for (size_t i = 0; i < c.n && !rc; i++)
        rc = trc_writer_add_site(w, c.sites[i].id, c.sites[i].frames, c.sites[i].depth);
      break;
    case TRC_CHUNK_MODULES:
      for (size_t i = 0; i < c.n && !rc; i++) rc = trc_writer_add_module(w, &c.modules[i]);
      break;
    case TRC_CHUNK_THREADS:
      for (size_t i = 0; i < c.n && !rc; i++) rc = trc_writer_add_thread(w, &c.threads[i]);
      break;
    case TRC_CHUNK_SUMMARY:
      rc = trc_writer_finish_ext(w, c.summary);
      done = 1;
      break;
    default: break;
    }
  }
  uint64_t bytes = trc_writer_bytes(w);
  trc_writer_free(w);
  trc_reader_free(r);
  if (rc || !done) {
    unlink(out);
    return cli_fail(in, rc ? rc : HK_E_NOTAIL, "cannot compact");
  }
  printf("%s: %" PRIu64 " events, %" PRIu64 " -> %" PRIu64
         " bytes (%.2f -> %.2f bytes/event), %" PRIu64 " fast chunks recoded\n",
         out, s.events, s.file_bytes, bytes,
         s.events ? (double)s.file_bytes / (double)s.events : 0.0,
         s.events ? (double)bytes / (double)s.events : 0.0,
         s.have_summary ? s.summary.chunks_fast : 0);
  return CLI_OK;
}

static int run(int argc, char **argv) {
  if (argc < 2) return cli_usage("trace", "expected info, verify, dump or compact");
  if (cli_is_help(argv[1])) {
    help(stdout);
    return CLI_OK;
  }
  const char *sub = argv[1], *path = NULL, *path2 = NULL;
  int json = 0, c;
  static const struct option lo[] = {{"json", no_argument, 0, 'j'},
                                     {"help", no_argument, 0, 'h'},
                                     {0, 0, 0, 0}};
  /* The subcommand is argv[1]: getopt_long sees it as its program name. */
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc - 1, argv + 1, ":h", lo, NULL)) != -1) {
    if (c == 'h') {
      help(stdout);
      return CLI_OK;
    } else if (c == 'j' && strcmp(sub, "info") == 0) {
      json = 1;
    } else {
      return cli_usage("trace", "unknown option '%s'", argv[optind]);
    }
  }
  for (int i = optind + 1; i < argc; i++) {
    if (path && strcmp(sub, "compact") == 0 && !path2) {
      path2 = argv[i];
    } else if (path) {
      return cli_usage("trace", strcmp(sub, "compact") == 0 ? "expected IN OUT"
                                                            : "expected one FILE");
    } else {
      path = argv[i];
    }
  }
  if (strcmp(sub, "info") && strcmp(sub, "verify") && strcmp(sub, "dump") &&
      strcmp(sub, "compact"))
    return cli_usage("trace", "unknown subcommand '%s'", sub);
  if (!path) return cli_usage("trace", "missing FILE");
  if (strcmp(sub, "compact") == 0) {
    if (!path2) return cli_usage("trace", "compact: missing OUT");
    return cmd_compact(path, path2);
  }
  if (strcmp(sub, "info") == 0) return cmd_info(path, json);
  if (strcmp(sub, "verify") == 0) return cmd_verify(path);
  return cmd_dump(path);
}

const cli_cmd_t cli_cmd_trace = {"trace", "describe, verify or dump a trace", run};
