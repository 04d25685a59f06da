#!/usr/bin/env bash
# The one list of what hakmem-sim needs on a Debian 12 machine.
# Used by README (quick start), by .ci/run and by anyone setting up by hand.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libzstd-dev zstd libsqlite3-dev sqlite3 libunwind-dev libcmocka-dev
  libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev libdw-dev libelf-dev
  libxxhash-dev libjson-c-dev gnuplot-nox python3 heaptrack linux-perf strace
)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "install-deps: ${#pkgs[@]} packages present"

# The replayer counts mmap/munmap/madvise/mremap/brk through the kernel's
# syscall tracepoints (perf_event_open), whose ids it reads from tracefs.
# Where tracefs is not mounted and cannot be, runs record the counts as
# unavailable (hakmem runs fall back to hakmem's own OS-call counts).
if [ ! -e /sys/kernel/tracing/events/syscalls ]; then
  $SUDO mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null \
    && echo "install-deps: mounted tracefs on /sys/kernel/tracing" \
    || echo "install-deps: tracefs not available: syscall counts will be marked unavailable"
fi
