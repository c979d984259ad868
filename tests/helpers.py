"""Shared test utilities: random images, OpenCV-alignment assertions, kernel backends."""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

# Image sizes every op is checked on: odd sizes, 1-pixel wide/tall, small and large.
SIZES = [(1, 1), (1, 7), (9, 1), (2, 3), (17, 31), (64, 48), (121, 203), (480, 640)]
CHANNELS = [1, 3, 4]


@functools.lru_cache(maxsize=1)
def cuda_reason() -> str | None:
    """None when a CUDA device is usable, else why not (the models' own check)."""
    from serving.placement import cuda_unusable

    reason = cuda_unusable(0)
    return None if reason is None else f"CUDA unavailable ({reason[:100]})"


def cpu_instances(test: Any) -> Any:
    """Skip a server test of what CPU instances do (OpenCV's exact codec bytes, CPU
    placement) where a CUDA device makes the steps GPU instances (tests/test_gpu_server.py)."""
    import pytest
    return pytest.mark.skipif(cuda_reason() is None,
                              reason="a CUDA device is present: the steps are GPU instances")(test)


@functools.lru_cache(maxsize=1)
def ort_cuda_reason() -> str | None:
    """None when onnxruntime runs the segmentation model on CUDA device 0, else why not
    (the runner's own check: a real session)."""
    from segmentation.build import DEFAULT_OUT, build
    from segmentation.runner import CudaProviderError, SegmentationRunner

    build()
    try:
        SegmentationRunner(DEFAULT_OUT, device="cuda", device_id=0)
        return None
    except CudaProviderError as e:
        return f"onnxruntime cannot run on CUDA here ({str(e)[:160]})"


def blur_steps() -> tuple[str, ...]:
    """The background_blur ensemble's step models, in order, from its spec."""
    from pathlib import Path

    from serving.pipeline.spec import load_spec
    spec = load_spec(Path(__file__).resolve().parents[1] / "pipelines" / "background_blur.yaml")
    return tuple(s.model for s in spec.steps)


def placement_counters(server: Any) -> dict[tuple[str, ...], float]:
    """The placement counters of a running EmbeddedServer (its metrics endpoint)."""
    import urllib.request

    from serving.placement import read_counters
    with urllib.request.urlopen(f"http://{server.metrics_url}/metrics", timeout=10) as r:
        return read_counters(r.read().decode())


def counter_delta(before: dict, after: dict) -> dict:
    """What the counters gained between two readings."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def rng_for(request: Any) -> np.random.Generator:
    """A fresh seed per run, printed on failure through the test id."""
    seed = int(np.random.SeedSequence().entropy % (2**32))
    print(f"seed={seed}")
    return np.random.default_rng(seed)


def random_image(rng: np.random.Generator, h: int, w: int, c: int | None = 3) -> np.ndarray:
    shape = (h, w) if c is None else (h, w, c)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def assert_aligned(ours: np.ndarray, ref: np.ndarray, what: str = "") -> None:
    """uint8 alignment: max |ours - ref| <= 1 and >= 99 % of values identical."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != reference {ref.shape}"
    assert ours.dtype == ref.dtype, f"{what}: dtype {ours.dtype} != reference {ref.dtype}"
    diff = np.abs(ours.astype(np.int32) - ref.astype(np.int32))
    same = float(np.mean(diff == 0)) if diff.size else 1.0
    assert diff.max(initial=0) <= 1, f"{what}: max diff {diff.max()} > 1 at {np.argwhere(diff > 1)[:5].tolist()}"
    assert same >= 0.99, f"{what}: only {same:.4%} identical"


def assert_float_close(ours: np.ndarray, ref: np.ndarray, rtol: float = 1e-5,
                       what: str = "") -> None:
    """Float results: relative error <= rtol against a float64 reference."""
    ours, ref = np.asarray(ours), np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    err = np.abs(ours.astype(np.float64) - ref) / np.maximum(np.abs(ref), 1e-6)
    assert err.max(initial=0) <= rtol, f"{what}: relative error {err.max():.3g} > {rtol}"


def to_device(x: Any, backend: str) -> Any:
    """x (an array, or a list of them, nested) in the memory where ``backend`` runs kernels:
    "cuda" a CuPy copy on the GPU, "harness" a HostArray for the CPU kernel harness."""
    if backend == "cuda":
        import cupy
        put = cupy.asarray
    elif backend == "harness":
        from ops._cpu_kernels import asarray as put
    else:
        raise ValueError(f"unknown backend {backend!r}")
    return [to_device(i, backend) for i in x] if isinstance(x, list) else put(x)


# How errors name each backend's memory (ops._batch.memory_name).
MEMORY = {"cuda": "CuPy", "harness": "HostArray"}


def to_host(x: Any) -> Any:
    """A plain NumPy copy of a CuPy array or a HostArray (or a list of them)."""
    if isinstance(x, list):
        return [to_host(i) for i in x]
    from ops._batch import array_module
    return array_module(x).asnumpy(x)


def kernel_matches_numpy(backend: str, op: Callable[..., Any], x: Any, *args: Any,
                         check: Callable | None = None, **kwargs: Any) -> None:
    """Run ``op`` on NumPy input (its reference) and twice on ``backend``'s memory (its
    CUDA kernel; outputs poisoned with 0 and 255 first): every kernel output must come back
    in that memory and match the NumPy result, so a pixel left unwritten fails."""
    import ops

    ref = op(x, *args, **kwargs)
    kind = type(to_device(np.zeros(1, np.uint8), backend))
    check = check or assert_aligned
    for value in (0, 255):
        with ops.poisoned(value):
            res = op(to_device(x, backend), *args, **kwargs)
        _compare_tree(res, ref, check, kind)


def _compare_tree(res: Any, ref: Any, check: Callable, kind: type) -> None:
    if isinstance(ref, (list, tuple)):
        assert isinstance(res, type(ref)) and len(res) == len(ref)
        for a, b in zip(res, ref):
            _compare_tree(a, b, check, kind)
    elif hasattr(ref, "shape"):
        assert type(res) is kind, f"result is a {type(res).__name__}, not a {kind.__name__}"
        check(to_host(res), ref)
    else:
        assert res == ref


def infer(url: str, protocol: str, model: str, inputs: dict[str, np.ndarray],
          outputs: tuple[str, ...] = ("BLURRED", "MASK"), parameters: dict | None = None,
          timeout: float = 60.0) -> dict[str, np.ndarray]:
    """One request through tritonclient (http or grpc), failing after ``timeout`` s:
    {output name: array}."""
    from tritonclient.utils import np_to_triton_dtype

    from clients.api import connect

    mod, client, per_request = connect(url, protocol, timeout)
    try:
        ins = []
        for name, arr in inputs.items():
            i = mod.InferInput(name, list(arr.shape), np_to_triton_dtype(arr.dtype))
            i.set_data_from_numpy(np.ascontiguousarray(arr))
            ins.append(i)
        r = client.infer(model, ins, outputs=[mod.InferRequestedOutput(o) for o in outputs],
                         parameters=parameters, **per_request)
        return {o: r.as_numpy(o) for o in outputs}
    finally:
        client.close()


def url(server: Any, protocol: str) -> str:
    """The server's address for tritonclient's http or grpc module."""
    return server.http_url if protocol == "http" else server.grpc_url
