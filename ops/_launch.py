"""Launching a kernel: on the current CuPy stream, or on the CPU harness (ops/_cpu_kernels.py)
when its arrays are HostArrays; the same grid, block and arguments either way.

Every kernel addresses its images through one int64 *image table*: for each slot
(source, destination, ...) four rows of N entries: device pointer, height, width, row
stride in bytes (see kernels/common.cuh). A uniform batch and a variable-shape list
therefore run the same kernel in one launch, one thread per output pixel, grid z = image.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from . import _cpu_kernels
from ._batch import Batch
from ._gpu import get_kernel
from .arrays import HostArray, address

BLOCK = (32, 8, 1)


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
    grid = (math.ceil(width / block[0]), math.ceil(height / block[1]), n)
    if any(isinstance(a, HostArray) for a in args):
        _cpu_kernels.launch(module, kernel, grid, block, args)
    else:
        get_kernel(module, kernel)(grid, block, tuple(args))


def i32(v: int) -> np.int32:
    """A kernel's int argument (launch takes NumPy scalars of the parameter types)."""
    return np.int32(v)


def f32(v: float) -> np.float32:
    """A kernel's float argument."""
    return np.float32(v)
