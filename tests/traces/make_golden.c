/* make_golden.c: writes a golden trace, tests/data/golden-vN.hkt for the
 * current format version N: every op kind, a failed allocation, two
 * threads, sites, a module with a build id, and (since version 3) blocks
 * reused within their size class. The files are committed;
 * `hksim trace dump` of each must match its golden-vN.dump forever after
 * (readers keep reading every older version).
 * Usage: make_golden OUT.hkt */
#include <stdio.h>
#include <string.h>

#include "trc.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_golden OUT.hkt\n");
    return 2;
  }
  trc_header_t h;
  memset(&h, 0, sizeof h);
  h.clock = TRC_CLOCK_TSC;
  h.tick_hz = 2000000000ull;
  h.start_wall_ns = 1764000000000000000ull;
  h.start_ticks = 123456789;
  h.pid = 4242;
  h.ppid = 1;
  h.exe = "/usr/bin/golden";
  h.depth = 3;
  h.flags = TRC_HF_SPARSE_TIME; /* since version 5 */
  trc_writer_t *w;
  if (trc_writer_create(&w, argv[1], &h, NULL)) return 1;
  static const uint8_t bid[] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02};
  trc_module_t m = {.id = 1, .base = 0x555555554000ull, .lo = 0x555555555000ull,
                    .hi = 0x555555560000ull, .time = 1, .path = "/usr/bin/golden",
                    .build_id = bid, .build_id_len = sizeof bid};
  trc_writer_add_module(w, &m);
  uint64_t f1[3] = {0x555555555100ull, 0x555555555200ull, 0x7ffff7c29d90ull};
  uint64_t f2[3] = {0x555555555180ull, 0x555555555200ull, 0x7ffff7c29d90ull};
  trc_writer_add_site(w, 1, f1, 3);
  trc_writer_add_site(w, 2, f2, 2);
  trc_thread_t t0 = {.index = 0, .tid = 4242, .start_time = 0, .name = "main"};
  trc_thread_t t1 = {.index = 1, .tid = 4243, .start_time = 50, .end_time = 900, .name = "worker"};
  trc_writer_add_thread(w, &t0);
  trc_writer_add_thread(w, &t1);
  uint64_t t = 100;
  const uint64_t A = 0x5555555a0010ull;
  trc_event_t ev[] = {
      {.op = TRC_OP_MALLOC, .size = 24, .ptr = A, .site = 1},
      {.op = TRC_OP_CALLOC, .nmemb = 10, .size = 8, .ptr = A + 0x20, .site = 2},
      {.op = TRC_OP_REALLOC, .old_ptr = A, .size = 100, .ptr = A + 0x80, .site = 1},
      {.op = TRC_OP_REALLOCARRAY, .old_ptr = A + 0x20, .nmemb = 20, .size = 8, .ptr = A + 0x20, .site = 2},
      {.op = TRC_OP_POSIX_MEMALIGN, .align = 64, .size = 200, .ptr = A + 0x140, .site = 1},
      {.op = TRC_OP_ALIGNED_ALLOC, .align = 4096, .size = 8192, .ptr = A + 0x1000, .site = 1},
      {.op = TRC_OP_MEMALIGN, .align = 32, .size = 48, .ptr = A + 0x220, .site = 2},
      {.op = TRC_OP_VALLOC, .align = 4096, .size = 100, .ptr = A + 0x4000, .site = 1},
      {.op = TRC_OP_PVALLOC, .align = 4096, .size = 5000, .ptr = A + 0x6000, .site = 1},
      {.op = TRC_OP_MALLOC, .size = 1ull << 60, .ptr = 0, .flags = TRC_EV_FAILED, .site = 2},
      {.op = TRC_OP_FREE, .ptr = A + 0x80, .site = 1},
      {.op = TRC_OP_FREE, .ptr = A + 0x140, .site = 0},
      /* Since version 3: blocks of a size class handed out again (the one
       * freed above, and the one a moved realloc freed). */
      {.op = TRC_OP_MALLOC, .size = 100, .ptr = A + 0x80, .site = 1},
      {.op = TRC_OP_MALLOC, .size = 20, .ptr = A, .site = 2},
  };
  /* Since version 5 events may carry no clock reading (TRC_EV_EST): the
   * writer stores the last stamp, the reader interpolates between it and
   * the next stamped event (here events 2 and 3, between 1 and 4). */
  ev[2].flags |= TRC_EV_EST;
  ev[3].flags |= TRC_EV_EST;
  for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
    ev[i].time = (t += 7 * (i + 1));
    trc_writer_events(w, 0, &ev[i], 1);
  }
  trc_event_t x[] = {
      {.op = TRC_OP_MALLOC, .size = 33, .ptr = 0x7ffff0000b70ull, .site = 2, .thread = 1, .time = 150},
      {.op = TRC_OP_FREE, .ptr = A + 0x220, .site = 2, .thread = 1, .time = 800},
  };
  trc_writer_events(w, 1, x, 2);
  /* Since version 4 the summary may say the recording ended by a signal
   * (here SIGTERM): the golden file carries the extension. */
  trc_summary_t end = {.end_time = 1000, .end_signal = 15};
  int rc = trc_writer_finish_ext(w, &end);
  trc_writer_free(w);
  return rc ? 1 : 0;
}
