#!/usr/bin/env bash
# The one list of what hakmem-sim needs on a Debian 12 machine.
# Used by README (quick start), by scripts/demo.sh and scripts/test.sh
# (which call it when something is missing) and by anyone setting up by
# hand. python3-pandas and python3-matplotlib run analysis/README.md's
# python blocks in the docs test (tests/docs/).
# Usage: scripts/install-deps.sh           install (as root, else via sudo)
#        scripts/install-deps.sh --check   list what is missing; exit 1 if any
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libzstd-dev zstd libsqlite3-dev sqlite3 libunwind-dev libcmocka-dev
  libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev libdw-dev libelf-dev
  libxxhash-dev libjson-c-dev slurm-wlm munge gnuplot-nox python3 heaptrack linux-perf strace
  python3-pandas python3-matplotlib
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
    || missing+=("$p")
done
if [ "${1:-}" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ] && exit 0
  echo "install-deps: missing: ${missing[*]}"
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo > /dev/null; then
    SUDO="sudo"
  elif [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: missing ${missing[*]}; not root and no sudo: run this script as root" >&2
    exit 1
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: ${#pkgs[@]} packages present (${#missing[@]} installed now)"

# The replayer counts mmap/munmap/madvise/mremap/brk through the kernel's
# syscall tracepoints (perf_event_open), whose ids it reads from tracefs.
# Where tracefs is not mounted and cannot be, runs record the counts as
# unavailable (hakmem runs fall back to hakmem's own OS-call counts).
if [ ! -e /sys/kernel/tracing/events/syscalls ]; then
  $SUDO mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null \
    && echo "install-deps: mounted tracefs on /sys/kernel/tracing" \
    || echo "install-deps: tracefs not available: syscall counts will be marked unavailable"
fi
