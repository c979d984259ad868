"""Shared test utilities: random images, OpenCV-alignment assertions, kernel backends."""
from __future__ import annotations

import functools
import os
import zlib
from typing import Any, Callable

import numpy as np
import pytest

# Where rng_for leaves a test's replay command for the failure report (tests/conftest.py).
REPLAY = pytest.StashKey[str]()

# Image sizes every op is checked on: odd sizes, 1-pixel wide/tall, small and large.
SIZES = [(1, 1), (1, 7), (9, 1), (2, 3), (17, 31), (64, 48), (121, 203), (480, 640)]
CHANNELS = [1, 3, 4]


@functools.lru_cache(maxsize=1)
def cuda_reason() -> str | None:
    """None when a CUDA device is usable, else why not (the models' own check)."""
    from serving.placement import cuda_unusable_reason

    reason = cuda_unusable_reason(0)
    return None if reason is None else f"CUDA unavailable ({reason[:100]})"


def cpu_instances(test: Any) -> Any:
    """Skip a server test of what CPU instances do (OpenCV's exact codec bytes, CPU
    placement) where a CUDA device makes the steps GPU instances (tests/integration/test_gpu_server.py)."""
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
    """The background_blur ensemble's step models, in order, from its spec, by the names
    Triton serves them under (a step with parameters runs its copy, background_blur__<model>)."""
    from serving.paths import PIPELINES
    from serving.pipeline.spec import load_spec
    spec = load_spec(PIPELINES / "background_blur.yaml")
    return tuple(spec.step_model_name(s) for s in spec.steps)


def metrics_page(server: Any) -> str:
    """A running EmbeddedServer's metrics page, once every instance has exported what it
    counted so far (each does on a timer: serving.placement.EXPORT_INTERVAL_S)."""
    import time
    import urllib.request

    from serving.placement import EXPORT_INTERVAL_S
    time.sleep(2 * EXPORT_INTERVAL_S)
    with urllib.request.urlopen(f"http://{server.metrics_url}/metrics", timeout=10) as r:
        return r.read().decode()


def placement_counters(server: Any) -> dict[tuple[str, ...], float]:
    """The placement counters of a running EmbeddedServer (its metrics endpoint)."""
    from serving.placement import read_counters
    return read_counters(metrics_page(server))


def pool_gauges(server: Any) -> dict[str, dict[str, float]]:
    """Each GPU instance's CuPy pool bytes {instance: {"used", "cached"}} from a running
    EmbeddedServer's metrics endpoint (serving.device). Empty on a CPU server."""
    from serving.device import read_pool_bytes
    return read_pool_bytes(metrics_page(server))


def counter_delta(before: dict, after: dict) -> dict:
    """What the counters gained between two readings."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


# TVO_TEST_SEED=<int> mixes another seed into every test's data (fuzzing runs); unset, a
# test sees the same data on every run.
SEED_ENV = "TVO_TEST_SEED"


def env_seed() -> int | None:
    """TVO_TEST_SEED as an int, None when unset (ValueError naming it when not an int)."""
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV}: expected an integer, got {raw!r}") from None


def seed_for(nodeid: str, extra: int | None = None) -> list[int]:
    """The seed of a test: a stable hash of its id (zlib.crc32, unlike the salted hash()),
    with ``extra`` (TVO_TEST_SEED) mixed in when given."""
    base = zlib.crc32(nodeid.encode())
    return [base] if extra is None else [base, extra % 2**63]


def replay_command(nodeid: str, extra: int | None) -> str:
    """The command that reruns one test on the same data."""
    env = "" if extra is None else f"{SEED_ENV}={extra} "
    quoted = "'" + nodeid.replace("'", "'\"'\"'") + "'"
    return f"{env}.venv/bin/python -m pytest {quoted}"


def rng_for(request: Any) -> np.random.Generator:
    """The test's random generator, seeded from its id (and TVO_TEST_SEED): a rerun sees
    the same data, and a failure prints the command that replays it (tests/conftest.py)."""
    extra = env_seed()
    request.node.stash[REPLAY] = replay_command(request.node.nodeid, extra)
    return np.random.default_rng(seed_for(request.node.nodeid, extra))


def random_image(rng: np.random.Generator, h: int, w: int, c: int | None = 3) -> np.ndarray:
    """Random uint8 pixels, (h, w, c), or (h, w) for c None."""
    shape = (h, w) if c is None else (h, w, c)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def random_batch(rng: np.random.Generator, n: int, h: int, w: int, c: int | None = 3) -> np.ndarray:
    """Random uint8 (n, h, w, c) batch ((n, h, w) for c None)."""
    return rng.integers(0, 256, size=(n, h, w) if c is None else (n, h, w, c), dtype=np.uint8)


def random_mask(rng: np.random.Generator, h: int, w: int, binary: bool = True) -> np.ndarray:
    """A uint8 (h, w) mask: 0/255 at a random density, or any values (binary False)."""
    if binary:
        return ((rng.random((h, w)) < rng.uniform(0.2, 0.8)) * 255).astype(np.uint8)
    return rng.integers(0, 256, (h, w), dtype=np.uint8)


def random_float(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random float32 values in [0, 1) of ``shape``."""
    return rng.random(shape, dtype=np.float32)


def exact(ours: Any, ref: Any, what: str = "") -> None:
    """Bit for bit (the check for kernel_matches_numpy where the op is exact)."""
    np.testing.assert_array_equal(ours, ref, what)


# For ops (or dtypes) without an OpenCV implementation, whose NumPy input always runs the
# reference: the impl fixture's "opencv" variant would only compare the reference with itself.
reference_only = pytest.mark.parametrize("impl", ["reference"], indirect=True)


def host(impl: str, op: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``op(*args, **kwargs)`` on NumPy input under the ``impl`` fixture's implementation
    ("reference" or "opencv"). Under "opencv" the result must also equal the NumPy
    reference's bit for bit: the two host implementations may never diverge."""
    import ops

    out = op(*args, **kwargs)
    if impl == "opencv":
        with ops.use_reference():
            ref = op(*args, **kwargs)
        _equal_tree(out, ref)
    return out


def _equal_tree(out: Any, ref: Any) -> None:
    if isinstance(ref, (list, tuple)):
        assert isinstance(out, type(ref)) and len(out) == len(ref), \
            f"opencv gave {type(out).__name__} of {len(out)}, reference {type(ref).__name__} of {len(ref)}"
        for a, b in zip(out, ref):
            _equal_tree(a, b)
    elif isinstance(ref, np.ndarray):
        np.testing.assert_array_equal(out, ref, "the OpenCV implementation differs from the NumPy "
                                      "reference", strict=True)
    else:
        assert out == ref, f"opencv gave {out!r}, the reference {ref!r}"


def assert_refused(exc: type, name: str, words: str, call: Callable[[], Any]) -> None:
    """``call()`` raises ``exc`` whose message starts with the argument's name and says
    ``words`` (what was wrong)."""
    with pytest.raises(exc) as e:
        call()
    msg = str(e.value)
    assert msg.startswith(f"{name}"), f"the message does not start with {name!r}: {msg}"
    assert words in msg, f"{words!r} not in the message: {msg}"


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
        from ops.arrays import hostarrays
        put = hostarrays.asarray
    else:
        raise ValueError(f"unknown backend {backend!r}")
    return [to_device(i, backend) for i in x] if isinstance(x, list) else put(x)


# How errors name each backend's memory (ops.arrays.memory_name).
MEMORY = {"cuda": "CuPy", "harness": "HostArray"}


def to_host(x: Any) -> Any:
    """A plain NumPy copy of a CuPy array or a HostArray (or a list of them)."""
    if isinstance(x, list):
        return [to_host(i) for i in x]
    from ops.arrays import array_module
    return array_module(x).asnumpy(x)


def kernel_matches_numpy(backend: str, op: Callable[..., Any], x: Any, *args: Any,
                         check: Callable | None = None, **kwargs: Any) -> None:
    """Run ``op`` on NumPy input under ``ops.use_reference()`` (its NumPy reference, not
    OpenCV) and twice on ``backend``'s memory (its CUDA kernel; outputs poisoned with 0 and
    255 first): every kernel output must come back in that memory and match the reference,
    so a pixel left unwritten fails."""
    import ops

    with ops.use_reference():
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
