"""glibc malloc settings for tritonserver and for the Python-backend stubs it starts.

tritonserver copies every frame through buffers of every size; glibc keeps freed ones in its
heap (its mmap threshold rises to 32 MiB after the first large free, and each thread gets an
arena), so the server's RSS crept up under load, with glibc's defaults and with only two
arenas alike (docs/performance.md, Soak: the runs, and
bench/results/soak_cpu-2core_glibc-default-arenas.md). A fixed 1 MiB threshold gives every
frame-sized buffer its own mapping, returned on free. The stubs inherit the server's
environment, and there the same threshold makes every large NumPy temporary a fresh mapping,
which costs throughput (docs/performance.md, Soak), so each stub sets its own thresholds
back (``apply_stub_settings``) to what glibc's dynamic rule reaches anyway.
"""
from __future__ import annotations

import ctypes
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_STUB_MMAP = "TVO_STUB_MMAP_THRESHOLD"

SERVER_ENV = {
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_MMAP_THRESHOLD_": str(1 << 20),
    # A fixed mmap threshold also fixes glibc's trim threshold at its 128 KiB default: the
    # heap's top went back to the system and was faulted in again for every sub-MiB tensor
    # an ensemble passes between steps (the cost of a hop before and after:
    # docs/performance.md, Step overhead). What the heap may keep is bounded by it.
    "MALLOC_TRIM_THRESHOLD_": str(16 << 20),
    _STUB_MMAP: str(32 << 20),  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
}


def apply_stub_settings() -> None:
    """In a stub started by serving.server: its own mmap threshold (and the trim threshold
    glibc pairs with it), instead of the server's. Does nothing outside such a stub
    (TVO_STUB_MMAP_THRESHOLD unset) or where libc is not glibc.
    Returns:
        None; the process's malloc settings are changed in place.
    """
    value = os.environ.get(_STUB_MMAP)
    if not value:
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, int(value))
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * int(value))
    except (OSError, AttributeError, ValueError):
        pass  # not glibc: nothing was set for the server either
