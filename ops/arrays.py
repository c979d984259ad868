"""Where an op's arrays live, which picks its implementation (ops/_dispatch.py).

Three kinds: NumPy (host: OpenCV or the NumPy reference), CuPy (a CUDA device: the op's
kernel) and :class:`HostArray`, host memory that ops treat as device memory, so the CPU
kernel harness (ops/_cpu_kernels.py) runs the same kernel source on it. ``hostarrays`` is
the array module of HostArrays, as ``cupy`` is CuPy's (Batch.xp).
"""
from __future__ import annotations

import ctypes
import mmap
import weakref
from typing import Any

import numpy as np

# CuPy is imported inside the functions: it is optional (NumPy-only installs), and heavy.


def is_cupy(x: object) -> bool:
    """Whether ``x`` is a CuPy object (checked by module name, so CuPy is never imported).

    Args:
        x: any object.
    Returns:
        True for a cupy.ndarray (or another object of the cupy package), else False.
    Raises:
        Nothing.
    """
    module = type(x).__module__
    return module == "cupy" or module.startswith("cupy.")


def to_device(x: Any, device_id: int) -> Any:
    """CuPy array ``x`` on CUDA device ``device_id`` (``cupy.asarray`` under that device).

    Args:
        x: a CuPy array of any shape and dtype.
        device_id: the CUDA device it must be on.
    Returns:
        ``x`` itself when it is there, else a copy on ``device_id`` made once whatever its
        own device still queues on its current stream has finished (same shape, dtype).
    Raises:
        cupy.cuda.runtime.CUDARuntimeError: no such device.
    """
    import cupy

    if x.device.id == device_id:
        return x
    with cupy.cuda.Device(x.device.id):
        cupy.cuda.get_current_stream().synchronize()
    with cupy.cuda.Device(device_id):
        return x.copy()  # CuPy copies across devices into the current one


class HostArray(np.ndarray):
    """A NumPy array that ops treat as device memory: they run their CUDA kernel on it,
    through the CPU harness. Views of it stay HostArrays. Arrays ``hostarrays`` allocates
    are placed against an inaccessible page on either side, so a kernel reading or writing
    past their ends faults and is reported (KernelFault) instead of reading a neighbour."""


_PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
# (start, end, description) of live guarded allocations, to name what a fault touched.
_allocations: "weakref.WeakKeyDictionary[mmap.mmap, tuple[int, int, str]]" = weakref.WeakKeyDictionary()


def _guarded(nbytes: int) -> tuple[mmap.mmap, int, int]:
    """(mapping, offset, address) of nbytes ending right before a PROT_NONE page."""
    body = -(-max(nbytes, 1) // _PAGE) * _PAGE
    mm = mmap.mmap(-1, body + 2 * _PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    for at in (base, base + _PAGE + body):
        if _libc.mprotect(at, _PAGE, 0) != 0:
            raise OSError(ctypes.get_errno(), "mprotect of a guard page failed")
    offset = _PAGE + body - nbytes
    return mm, offset, base + offset


class _HostArrays:
    """The array module of HostArrays, as ops use CuPy's: each function takes and returns
    what cupy's function of the same name does, with HostArrays for cupy.ndarrays (shapes
    and dtypes unchanged); allocation raises OSError when a guard page cannot be set."""
    __name__ = "ops.arrays.hostarrays"
    ndarray = HostArray

    @staticmethod
    def empty(shape: Any, dtype: Any = np.float64) -> HostArray:
        """An uninitialised HostArray of ``shape`` and ``dtype`` in guarded memory."""
        shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        mm, offset, start = _guarded(count * dt.itemsize)
        arr = np.frombuffer(mm, dtype=dt, count=count, offset=offset).reshape(shape)
        _allocations[mm] = (start, start + count * dt.itemsize, f"{dt} {shape}")
        return arr.view(HostArray)

    @staticmethod
    def asarray(x: Any, dtype: Any = None) -> HostArray:
        """x as a HostArray: itself when it already is one of that dtype, else a
        C-contiguous copy in guarded memory."""
        if isinstance(x, HostArray) and (dtype is None or x.dtype == np.dtype(dtype)):
            return x
        src = np.asarray(x, dtype=dtype)
        out = hostarrays.empty(src.shape, src.dtype)
        out[...] = src
        return out

    @staticmethod
    def ascontiguousarray(x: Any) -> HostArray:
        """x as a C-contiguous HostArray (itself when it already is one)."""
        if isinstance(x, HostArray) and x.flags.c_contiguous:
            return x
        return hostarrays.asarray(np.ascontiguousarray(x))

    @staticmethod
    def asnumpy(x: Any) -> np.ndarray:
        """A plain NumPy copy."""
        return np.array(x, copy=True).view(np.ndarray)


hostarrays = _HostArrays()


def describe_address(at: int) -> str:
    """Where a faulting address lies relative to the guarded HostArray allocations (the CPU
    harness appends it to a KernelFault).

    Args:
        at: the address, an int.
    Returns:
        "N bytes before/past the end of a <dtype> <shape> array", or "outside every array the
        harness allocated". OpenCV/CV-CUDA: none (compute-sanitizer's report of a bad access).
    Raises:
        Nothing.
    """
    for start, end, what in list(_allocations.values()):
        if start - _PAGE <= at < start:
            return f"{start - at} bytes before a {what} array"
        if end <= at < end + _PAGE:
            return f"{at - end} bytes past the end of a {what} array"
    return "outside every array the harness allocated"


def array_module(x: object) -> Any:
    """The array module of ``x``'s memory.

    Args:
        x: any object (an array of any shape and dtype, usually).
    Returns:
        ``cupy`` for CuPy arrays, ``hostarrays`` for HostArrays (ops run their kernels on
        them), ``numpy`` otherwise; like ``cupy.get_array_module``.
    Raises:
        Nothing.
    """
    if is_cupy(x):
        import cupy
        return cupy
    return hostarrays if isinstance(x, HostArray) else np


def memory_name(xp: Any) -> str:
    """How error messages name where arrays live.

    Args:
        xp: an array module from array_module.
    Returns:
        "NumPy", "CuPy" or "HostArray (CPU kernel harness)". OpenCV/CV-CUDA: none.
    Raises:
        Nothing.
    """
    return {"numpy": "NumPy", "cupy": "CuPy"}.get(xp.__name__, "HostArray (CPU kernel harness)")


def address(x: Any) -> int:
    """Address of an array's first element, as a kernel's pointer argument takes it.

    Args:
        x: a CuPy array (device memory) or a HostArray / NumPy array (host memory).
    Returns:
        The address, an int (``x.data.ptr`` or ``x.ctypes.data``). OpenCV/CV-CUDA: none
        (``__cuda_array_interface__["data"][0]``).
    Raises:
        AttributeError: x is not an array.
    """
    return x.data.ptr if is_cupy(x) else x.ctypes.data
