"""CUDA side of every op: kernel sources, per-device module cache, image tables, launch.

Every kernel addresses its images through one int64 *image table*: for each slot
(source, destination, ...) four rows of N entries: device pointer, height, width, row
stride in bytes (see kernels/common.cuh). A uniform batch and a variable-shape list
therefore run the same kernel in one launch, one thread per output pixel, grid z = image.
"""
from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ._batch import Batch, is_cupy

KERNEL_DIR = Path(__file__).parent / "kernels"
# Architectures the NVRTC test compiles for; the runtime compiles for the current device.
# compute_75 is the oldest that CUDA 13 supports; compute_70 (Volta, CUDA 12 only) is kept
# and skips under a CUDA 13 NVRTC (tests/test_kernels_compile.py reads what NVRTC supports).
CHECKED_ARCHS = ("compute_70", "compute_75", "compute_80", "compute_90", "compute_100",
                 "compute_120")
# No FMA contraction: kernels must round exactly like the NumPy reference.
NVRTC_OPTIONS = ("--std=c++14", "--fmad=false")
BLOCK = (32, 8, 1)

def kernel_names() -> list[str]:
    """Names of all kernel modules (ops/kernels/*.cu)."""
    return sorted(p.stem for p in KERNEL_DIR.glob("*.cu"))


def kernel_source(name: str) -> str:
    """Source of kernels/<name>.cu with local #include "x.cuh" lines inlined.

    Inlining (instead of -I) keeps the source self-contained, so the NVRTC test, the
    on-disk cache key of CuPy and the runtime all see exactly the same text.
    """
    seen: set[str] = set()

    def expand(text: str) -> str:
        def sub(m: re.Match) -> str:
            inc = m.group(1)
            if inc in seen:
                return ""
            seen.add(inc)
            return expand((KERNEL_DIR / inc).read_text())
        return re.sub(r'^#include "([^"]+)"\s*$', sub, text, flags=re.M)

    return expand((KERNEL_DIR / f"{name}.cu").read_text())


def memoize_per_device(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` cached per (arguments, current CUDA device) by
    ``cupy.memoize(for_each_device=True)``, created on the first call so that importing ops
    does not import CuPy."""
    cached: Callable[..., Any] | None = None

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        nonlocal cached
        if cached is None:
            import cupy
            cached = cupy.memoize(for_each_device=True)(fn)
        return cached(*args)

    return call


def device_constant(xp: Any, table: np.ndarray) -> Any:
    """A small constant table (filter taps, a lookup table) in the kernels' memory. On a CUDA
    device it is uploaded once per (content, device) and kept, up to CONSTANTS_KEPT of them:
    a bounded cache, since request parameters (a sigma) choose the content. The CPU
    harness's is a host array, made per call."""
    if xp.__name__ != "cupy":
        return xp.asarray(table)
    return _cuda_constant(table.tobytes(), table.dtype.str, table.shape, xp.cuda.Device().id)


CONSTANTS_KEPT = 256


@functools.lru_cache(maxsize=CONSTANTS_KEPT)
def _cuda_constant(data: bytes, dtype: str, shape: tuple[int, ...], device: int) -> Any:
    import cupy

    with cupy.cuda.Device(device):
        return cupy.asarray(np.frombuffer(data, dtype).reshape(shape))


def get_kernel(module: str, kernel: str) -> Any:
    """The compiled kernel ``kernel`` of kernels/<module>.cu for the current device.

    Compiled once per (module, device) and cached; CuPy also caches the binary on disk.
    """
    return compiled_module(module).get_function(kernel)


@memoize_per_device
def compiled_module(module: str) -> Any:
    """The RawModule of kernels/<module>.cu for the current device, compiled once."""
    import cupy

    mod = cupy.RawModule(code=kernel_source(module), options=NVRTC_OPTIONS)
    mod.compile()
    return mod


def address(x: Any) -> int:
    """Address of an array's first element in device memory (CuPy) or host memory (the CPU
    harness's HostArray)."""
    return x.data.ptr if is_cupy(x) else x.ctypes.data


def image_table(*slots: Batch) -> Any:
    """Device int64 table (4 * len(slots), N) of pointer, height, width, row stride, in
    the memory of the first slot's images.

    Built on the host from array metadata only and uploaded with one copy; nothing is
    read back from the device.
    """
    rows = []
    for slot in slots:
        arr = slot.array
        if arr is not None:
            n = arr.shape[0]
            rows += [address(arr) + np.arange(n, dtype=np.int64) * arr.strides[0],
                     np.full(n, arr.shape[1]), np.full(n, arr.shape[2]),
                     np.full(n, arr.strides[1])]
        else:
            images = slot.images
            rows += [np.array([address(im) for im in images], dtype=np.uint64).view(np.int64),
                     np.array([im.shape[0] for im in images]),
                     np.array([im.shape[1] for im in images]),
                     np.array([im.strides[0] for im in images])]
    return slots[0].xp.asarray(np.stack(rows).astype(np.int64, copy=False))


def launch(module: str, kernel: str, n: int, height: int, width: int,
           args: Sequence[Any], block: tuple[int, int, int] = BLOCK) -> None:
    """Launch one thread per (x, y) of a height x width grid, z = image index: on the
    current CuPy stream, or on the CPU harness (ops/_cpu_kernels.py) when the arguments
    are its HostArrays. Scalars in ``args`` must be NumPy scalars (np.int32, np.float32)."""
    from . import _cpu_kernels  # it imports this module, so not at the top

    grid = (math.ceil(width / block[0]), math.ceil(height / block[1]), n)
    if any(isinstance(a, _cpu_kernels.HostArray) for a in args):
        _cpu_kernels.launch(module, kernel, grid, block, args)
    else:
        get_kernel(module, kernel)(grid, block, tuple(args))


def i32(v: int) -> np.int32:
    return np.int32(v)


def f32(v: float) -> np.float32:
    return np.float32(v)
