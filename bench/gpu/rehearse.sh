#!/bin/bash
# Rehearses the one-call GPU route on a machine without a GPU (docs/gpu.md, "Rehearsal"):
# the carry is unpacked into a temp venv exactly as on the GPU machine (setup.sh), the
# embedded server starts from it and answers one request over HTTP and gRPC equal to the
# CPU path, the carried perf_analyzer runs, and run.sh goes as far as the GPU check's
# "no GPU" (exit 3), writing into a temp $OUT what would come back.
#
#   PYTHON3_DIR=/path/to/a/venv/bin bash bench/gpu/rehearse.sh
# PYTHON3_DIR: the bin/ of a Python standing in for the GPU machine's python3 (its own
# NumPy 2, CuPy 14, onnxruntime, OpenCV, scikit-image, pytest, grpcio, PyYAML; NOT
# tritonclient, which the carry brings). Default: the python3 on PATH. Arguments go to
# gpu_check.py through run.sh, e.g. --rehearse to run every step without a GPU.
set -u
cd "$(dirname "$0")/../.." || exit 2
[ -n "${PYTHON3_DIR:-}" ] && export PATH="$PYTHON3_DIR:$PATH"
REH=$(mktemp -d /tmp/tvo-rehearse.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$REH"' EXIT     # KEEP=1 keeps it for a look
echo "== rehearsal in $REH"
source bench/gpu/setup.sh
tvo_setup "$REH/env" || { echo "REHEARSAL: setup failed"; exit 1; }
"$TVO_PY" -m bench.gpu.smoke || { echo "REHEARSAL: smoke failed"; exit 1; }
OUT=$REH/out TVO_WORK=$REH/run bash bench/gpu/run.sh "$@"
rc=$?
echo "== run.sh exit $rc (3 = no GPU, as expected here); what would come back:"
ls -la "$REH/out"
tar tzf "$REH/out/gpu-check.tar.gz"
if [ $# -gt 0 ]; then echo "== run.sh ran with $*: exit $rc"; exit 0; fi
[ $rc -eq 3 ] && grep -q "NO GPU" "$REH/out/run.log" && echo "REHEARSAL OK" && exit 0
echo "REHEARSAL: unexpected exit $rc"; exit 1
