#!/bin/bash
# The GPU check on the lent GPU machine, in one call (docs/gpu.md):
#   run(command="bash bench/gpu/run.sh", carry=[".gpu", "model_repository/unet/1/model.onnx"], timeout_s=570)
# Unpacks the carry into a venv over the machine's python3 (bench/gpu/setup.sh), runs
# bench/gpu_check.py with its output in a temp folder, then puts into $OUT (at most 8
# files come back): run.log, summary.md, env.md, hops.md and gpu-check.tar.gz (everything).
# Arguments go to gpu_check.py (e.g. --steps server pipeline-bench for a shorter rerun).
cd "$(dirname "$0")/../.." || exit 2
OUT=${OUT:-$PWD/out/gpu-run}
mkdir -p "$OUT"
WORK=${TVO_WORK:-$(mktemp -d /tmp/tvo-gpu.XXXXXX)}
mkdir -p "$WORK"
export PYTHONUNBUFFERED=1

main() {
  local t0=$SECONDS
  source bench/gpu/setup.sh
  tvo_setup "$WORK/env" || echo "== setup reported errors (above); the check runs all the same"
  echo "== setup took $((SECONDS - t0)) s"
  local py=${TVO_PY:-python3}
  timeout --kill-after=15 "${CHECK_TIMEOUT:-520}" "$py" bench/gpu_check.py --out "$WORK/gpu-check" \
    --budget "${CHECK_BUDGET:-470}" "$@"
  local rc=$?
  [ $rc -eq 124 ] && echo "== gpu_check.py itself timed out (CHECK_TIMEOUT ${CHECK_TIMEOUT:-520} s)"
  echo "== gpu_check exit $rc after $((SECONDS - t0)) s in all"
  return $rc
}

main "$@" 2>&1 | tee "$OUT/run.log"
rc=${PIPESTATUS[0]}
for f in summary.md env.md hops.md; do
  [ -f "$WORK/gpu-check/$f" ] && cp "$WORK/gpu-check/$f" "$OUT/"
done
tar czf "$OUT/gpu-check.tar.gz" -C "$WORK" gpu-check 2>/dev/null
ls -la "$OUT"
exit "$rc"
