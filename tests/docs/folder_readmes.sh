#!/bin/sh
# folder_readmes.sh SRCDIR: every folder of the source tree that git tracks
# files in has a README.md (STYLE: "every folder has a short README"), and
# every README.md is more than a title. The fuzzers' corpus folders are
# exempt: libFuzzer reads every file in them as an input (their README is
# tests/fuzz/corpus/README.md).
. "$(dirname "$0")/../lib.sh"
SRC=${1:?usage: folder_readmes.sh SRCDIR}
cd "$SRC" || exit 2
command -v git > /dev/null 2>&1 && git rev-parse --git-dir > /dev/null 2>&1 || {
  echo "folder_readmes: not a git checkout, nothing to check"; exit 0; }
missing=$(git ls-files | sed -n 's|/[^/]*$||p' | sort -u |
  grep -v '^tests/fuzz/corpus/' | while read -r d; do
    [ -f "$d/README.md" ] || echo "$d"; done)
check "folders without a README.md" "${missing:-none}" none
thin=$(git ls-files '*README.md' | while read -r f; do
    [ "$(grep -c '[a-z]' "$f")" -ge 2 ] || echo "$f"; done)
check "READMEs that are only a title" "${thin:-none}" none
hk_done
