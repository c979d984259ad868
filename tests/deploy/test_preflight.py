"""serving.server.preflight, the GPU container's start gate: it refuses (exit 1, one FAIL line per check)
where onnxruntime or CuPy would not run on the GPU, and passes where they do."""
import subprocess
import sys

import pytest

from segmentation.build import build
from tests.helpers import cuda_reason

from serving.paths import REPO_ROOT as ROOT


def run_check(model):
    return subprocess.run([sys.executable, "-m", "serving.server.preflight", "--model", str(model)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(cuda_reason() is None, reason="a CUDA device is present")
def test_refuses_without_a_gpu():
    r = run_check(build())
    lines = [l for l in r.stdout.splitlines() if l.startswith("preflight:")]
    assert r.returncode == 1, r.stdout + r.stderr
    assert [l.split(":")[2].strip() for l in lines if "FAIL" in l] == ["cupy", "onnxruntime"], lines
    assert "not starting" in lines[-1]
    assert "Traceback" not in r.stderr, r.stderr


@pytest.mark.gpu
@pytest.mark.ort_cuda
def test_passes_on_a_gpu():
    r = run_check(build())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CUDAExecutionProvider runs model.onnx" in r.stdout
