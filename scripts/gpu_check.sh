#!/usr/bin/env bash
# One prepared command for a machine with an NVIDIA GPU (issue 11, section 4):
#
#   scripts/gpu_check.sh            # on the GPU machine: about 4-7 minutes
#   scripts/gpu_check.sh --dry      # the same steps at quick sizes on the CPU (CI: about 30 s idle, minutes when busy)
#
# Needs a Python with torch (a CUDA build, 2.11 or newer), numpy, pytest, matplotlib, opencv,
# scikit-learn and scikit-image; TensorFlow and Jupyter are not needed. Runs, each under its own
# time limit, writing everything into one folder ($OUT if set, else ./gpu_check_out):
#   env.txt                 nvidia-smi, Python and package versions
#   test_gpu.txt/.xml       python -m pytest tests/test_gpu.py (the CUDA paths themselves)
#   doctor.json             python -m rtxcourse doctor --json
#   bench_precision.json    python -m rtxcourse bench precision --framework torch --json
#   lessons.json            scripts/gpu_check_lessons.py: the GPU-size core steps of lessons 03 and 09
#   summary.txt             one line per step: ok / FAILED (exit status) / TIMEOUT, and the seconds
# Exit status 0 only when every step passed. Record the figures in docs/benchmarks.md.
set -uo pipefail

DRY=0
for arg in "$@"; do
  case "$arg" in
    --dry) DRY=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$arg' (use --dry or nothing)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${OUT:-$PWD/gpu_check_out}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT_DIR"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
if [ "$DRY" = 1 ]; then
  export RTXCOURSE_QUICK=1
  LIMITS=(90 90 90 180)          # seconds per step (test_gpu, doctor, bench, lessons): about 30 s in all on an idle CPU
  BENCH_ARGS=(--quick --what matmul --sizes 64 128)
  LESSON_ARGS=(--dry)
else
  unset RTXCOURSE_QUICK
  LIMITS=(120 60 120 150)        # 7.5 minutes at most in all
  BENCH_ARGS=()
  LESSON_ARGS=()
fi
SUMMARY="$OUT_DIR/summary.txt"
: > "$SUMMARY"
STATUS=0

step() {  # step NAME LIMIT OUTFILE COMMAND...: run with a time limit, keep stdout in OUTFILE, stderr beside it
  local name=$1 limit=$2 outfile=$3; shift 3
  local start=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@" > "$OUT_DIR/$outfile" 2> "$OUT_DIR/$name.stderr.txt"
  rc=$?
  local took=$((SECONDS - start)) verdict="ok"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then verdict="TIMEOUT after ${limit}s"; STATUS=1
  elif [ $rc -ne 0 ]; then verdict="FAILED (exit status $rc)"; STATUS=1; fi
  printf '%-16s %-28s %4ss  %s\n' "$name" "$verdict" "$took" "$outfile" | tee -a "$SUMMARY"
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  dry: $DRY  repo: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
  "$PY" -c 'import sys, torch, numpy; print("python", sys.version.split()[0], "| torch", torch.__version__, "CUDA", torch.version.cuda, "| available:", torch.cuda.is_available(), "| numpy", numpy.__version__)' 2>&1
} > "$OUT_DIR/env.txt"

step test_gpu  "${LIMITS[0]}" test_gpu.txt "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/test_gpu.py" --junitxml="$OUT_DIR/test_gpu.xml"
step doctor    "${LIMITS[1]}" doctor.json "$PY" -m rtxcourse doctor --json
step bench     "${LIMITS[2]}" bench_precision.json "$PY" -m rtxcourse bench precision --framework torch --json "${BENCH_ARGS[@]}"
step lessons   "${LIMITS[3]}" lessons.txt "$PY" "$ROOT/scripts/gpu_check_lessons.py" "$OUT_DIR" "${LESSON_ARGS[@]}"

echo "everything is in $OUT_DIR" | tee -a "$SUMMARY"
exit $STATUS
