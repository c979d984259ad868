"""Fail fast when the models would not run on the GPU.

docker-compose.yml runs this after installing requirements-server.txt and before tritonserver
starts, so a container whose CUDA stack is incomplete stops instead of serving from the CPU.
onnxruntime-gpu falls back to its CPU provider with only a log line when one CUDA library is
missing (``get_available_providers()`` still lists CUDA), so an installed wheel proves nothing:
this opens the segmentation model the way the unet model does, on the CUDA provider, and runs a
CUDA batch through it; and it compiles every kernel of ops/ for the device with CuPy.

    python3 -m serving.server.preflight [--model model_repository/unet/1/model.onnx]

Exit status 0 when every check passes, 1 otherwise (one ``FAIL`` line per failed check).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..paths import MODEL_REPOSITORY

DEFAULT_MODEL = MODEL_REPOSITORY / "unet" / "1" / "model.onnx"


def check_cupy() -> str:
    """A device is visible and every ops/kernels module compiles for it (NVRTC found).

    Returns:
        What was checked, in one line (CuPy version, devices, driver, kernels).

    Raises:
        RuntimeError: CuPy sees no device (CuPy's own errors when the driver, the runtime or
            NVRTC fails).
    """
    import cupy

    from ops import compile_kernels

    n = cupy.cuda.runtime.getDeviceCount()
    if n < 1:
        raise RuntimeError("CuPy sees no CUDA device")
    names = compile_kernels()
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    return (f"CuPy {cupy.__version__}: {n} device(s), {name}, "
            f"driver {cupy.cuda.runtime.driverGetVersion()}; kernels {', '.join(names)} compile")


def check_onnxruntime(model: Path) -> str:
    """The CUDA provider is really created for the model and runs a CUDA batch.

    Args:
        model: the segmentation ONNX model.

    Returns:
        What was checked, in one line (version, provider, input and output shapes, dtype).

    Raises:
        CudaProviderError: the CUDA provider could not be created (segmentation.runner).
        RuntimeError: the session gave no finite CUDA output.
    """
    import cupy
    import numpy as np
    import onnxruntime as ort

    from segmentation.runner import SegmentationRunner

    # The unet model's own path: the runner preloads the pip CUDA libraries, then insists on CUDA.
    runner = SegmentationRunner(model, device="cuda")  # raises CudaProviderError with the reason
    shape = [d if isinstance(d, int) else 1 for d in runner.input_shape]
    y = runner.run(cupy.zeros(shape, dtype=cupy.float32))
    if not isinstance(y, cupy.ndarray) or not bool(cupy.isfinite(y).all()):
        raise RuntimeError("the CUDA session returned no finite CUDA output")
    return (f"onnxruntime {ort.__version__}: {runner.providers[0]} runs {model.name} "
            f"{tuple(shape)} -> {tuple(y.shape)} {np.dtype(y.dtype)}")


def main(argv: list[str] | None = None) -> int:
    """Run every check, print one ``ok`` or ``FAIL`` line each.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status: 0 when every check passes, 1 otherwise.
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the segmentation ONNX model")
    args = p.parse_args(argv)
    failed = 0
    for name, check in (("cupy", check_cupy), ("onnxruntime", lambda: check_onnxruntime(args.model))):
        try:
            print(f"preflight: ok: {check()}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure, then exit non-zero
            failed += 1
            print(f"preflight: FAIL: {name}: {type(e).__name__}: {e}", flush=True)
    if failed:
        print("preflight: the models would not run on the GPU; not starting (docs/serving.md)",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
