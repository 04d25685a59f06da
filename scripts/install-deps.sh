#!/usr/bin/env bash
# The one list of what hakmem-sim needs on a Debian 12 machine.
# Used by README (quick start), by .ci/run and by anyone setting up by hand.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libzstd-dev zstd libsqlite3-dev sqlite3 libunwind-dev libcmocka-dev
  libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev libdw-dev libelf-dev
  libxxhash-dev gnuplot-nox python3 heaptrack linux-perf strace
)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "install-deps: ${#pkgs[@]} packages present"
