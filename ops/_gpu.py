"""CUDA compilation and per-device caches: kernel modules compiled by NVRTC once per
device, small constant tables uploaded once per device. Launching is ops/_launch.py."""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from ._kernel_sources import kernel_names, kernel_source

# CuPy is imported inside the functions: it is optional (NumPy-only installs), and heavy.

# Architectures the NVRTC test compiles for; the runtime compiles for the current device.
# compute_75 is the oldest that CUDA 13 supports; compute_70 (Volta, CUDA 12 only) is kept
# and skips under a CUDA 13 NVRTC (tests/ops/test_kernels_compile.py reads what NVRTC supports).
CHECKED_ARCHS = ("compute_70", "compute_75", "compute_80", "compute_90", "compute_100",
                 "compute_120")
# No FMA contraction: kernels must round exactly like the NumPy reference.
NVRTC_OPTIONS = ("--std=c++14", "--fmad=false")


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


def compile_kernels() -> list[str]:
    """Compile every kernel module for the current CUDA device (a server's preflight).

    Args:
        None; the current CuPy device is the one compiled for.
    Returns:
        The module names (ops/kernels/*.cu stems), each now compiled and cached.
    Raises:
        cupy.cuda.compiler.CompileException: a module does not compile (NVRTC's log);
        ImportError: CuPy is not installed.
    """
    names = kernel_names()
    for name in names:
        compiled_module(name)
    return names
