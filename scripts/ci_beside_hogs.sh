#!/usr/bin/env bash
# The busy-machine check of issue 11: a fresh clone of this repository runs `bash .ci/run` with
# two CPU-bound processes beside it, as a shared 2-core machine would have.
#
#   scripts/ci_beside_hogs.sh [LABEL]     # log: /tmp/ci_beside_hogs_LABEL.log (exit status = .ci/run's)
set -u
label=${1:-run}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir=/tmp/ci_beside_hogs_$label
log=$dir.log
rm -rf "$dir" && git clone -q "$repo" "$dir" && cd "$dir" || exit 1
python3 -c 'while True: pass' & hog1=$!
python3 -c 'while True: pass' & hog2=$!
trap 'kill $hog1 $hog2 2>/dev/null' EXIT
start=$(date +%s)
bash .ci/run > "$log" 2>&1; rc=$?
echo "rc=$rc seconds=$(( $(date +%s) - start )) commit=$(git rev-parse --short HEAD) hogs=2" | tee -a "$log"
exit $rc
