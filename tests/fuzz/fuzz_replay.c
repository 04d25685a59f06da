/* fuzz_replay.c: libFuzzer target for the trace -> prepare -> replay path:
 * the input is a whole trace file; it is prepared into a program
 * (trc_program_build, the .hkp with its checksum), mapped, and replayed in
 * this process (rpl_exec) against the null back end with --touch check,
 * per-op timing and a 64 MiB memory cap. A program needing more than the
 * cap (peak live bytes, or all the bytes it allocates: a bound on what the
 * null back end holds, whatever its reuse) is refused before the run, as
 * hksim replay refuses it. Whatever prepares must replay: a run may fail (the cap, a check),
 * but never crash, and the program must be well formed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "replayer.h"
#include "trc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MEM_LIMIT (64ull << 20)

static int trace_fd = -1, prog_fd = -1;
static char trace_path[64], prog_path[64];
/* The timer's calibration and the counters' fds, once per process
 * (rpl_exec_setup_t): set up per input, they made an input cost 2.8x the
 * CPU time (tests/fuzz/README.md). */
static rpl_exec_setup_t *setup;

static void init(void) {
  trace_fd = memfd_create("fuzz_replay.hkt", MFD_CLOEXEC);
  prog_fd = memfd_create("fuzz_replay.hkp", MFD_CLOEXEC);
  if (trace_fd < 0 || prog_fd < 0) abort();
  /* FUZZ_REPLAY_SETUP=run: each input sets up its own run, as hksim
   * replay does (the old cost, for comparison: tests/fuzz/README.md). */
  const char *how = getenv("FUZZ_REPLAY_SETUP");
  if (!(how && strcmp(how, "run") == 0) &&
      rpl_exec_setup_create(&setup, 1000000000ull))
    abort();
  snprintf(trace_path, sizeof trace_path, "/proc/self/fd/%d", trace_fd);
  snprintf(prog_path, sizeof prog_path, "/proc/self/fd/%d", prog_fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (trace_fd < 0) init();
  if (ftruncate(trace_fd, 0)) abort();
  if (size && pwrite(trace_fd, data, size, 0) != (ssize_t)size) abort();
  trc_prep_stats_t st;
  if (trc_program_build(trace_path, prog_path, &st)) return 0;
  trc_program_t prog;
  if (trc_program_map(&prog, prog_path)) abort(); /* just built: must map */
  if (prog.n_ops != st.ops) abort();
  /* The cap, as hksim replay applies it; plus every byte the null back
   * end could hand out if it reused nothing (its bound, kept so a run
   * never meets the cap here). */
  uint64_t total = 0;
  for (uint64_t i = 0; i < prog.n_ops; i++) {
    const trc_pop_t *o = &prog.ops[i];
    if (o->op != TRC_OP_FREE && !(o->flags & TRC_PF_FAILED)) {
      uint64_t a = o->size + ((uint64_t)1 << o->align_log2);
      total = total + a < total ? UINT64_MAX : total + a;
    }
  }
  if (rpl_mem_need(&prog, 1) > FUZZ_MEM_LIMIT || total > FUZZ_MEM_LIMIT) {
    trc_program_release(&prog);
    return 0;
  }
  rpl_exec_cfg_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.backend = rpl_backend_find("null");
  if (!cfg.backend) abort();
  cfg.be.threads = prog.n_threads ? prog.n_threads : 1;
  cfg.be.seed = 1;
  cfg.be.callers = prog.callers.addr;
  cfg.be.n_callers = prog.callers.n;
  cfg.touch = RPL_TOUCH_CHECK;
  cfg.sample_every = 1;
  cfg.rss_every = 1024;
  cfg.setup = setup;
  cfg.tsc_hz = 1000000000ull; /* without setup: no TSC calibration */
  cfg.mem_limit = FUZZ_MEM_LIMIT;
  rpl_result_t res;
  int rc = rpl_exec(&cfg, prog.ops, prog.n_ops, prog.n_slots, &res);
  /* Prepare's output is well formed by construction: the replayer must
   * never call it malformed, nor find a block changed (the null back end
   * keeps every block). */
  if (rc == 0 && res.status == HK_E_CORRUPT) {
    fprintf(stderr, "fuzz_replay: %s\n", res.error);
    abort();
  }
  if (rc == 0 && res.status == 0 && res.ops > prog.n_ops) abort();
  rpl_result_release(&res);
  trc_program_release(&prog);
  return 0;
}
