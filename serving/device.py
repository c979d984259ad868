"""A GPU instance's device around each ``execute``: current while the requests are
computed, and on leaving, however it is left, all the work queued there finished and the
CuPy memory pool trimmed.

Why finished: Triton reuses a request's input buffers (or the stub closes their CUDA IPC
handles) as soon as ``execute`` returns. An output handed over through DLPack is
synchronised by the stub, but a request that failed hands nothing over, and its kernels,
or another request's still queued behind them, may still read those inputs: a kernel
reading freed memory is an illegal-address error, which poisons the stub's CUDA context
for every later request. So the device is synchronised on every way out.

Why trimmed: each stub process has its own CuPy pool, which keeps the blocks of its
largest batch cached. Blocks cached beyond ``cache_bytes`` after an execute are given back
to the driver (docs/serving.md, "GPU memory per instance").
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from .placement import Placement

MIB = 1 << 20


def _cuda_device(device_id: int) -> Any:
    import cupy
    return cupy.cuda.Device(device_id)


def _cupy_pool() -> Any:
    import cupy
    return cupy.get_default_memory_pool()


class DeviceGuard:
    """Wraps each execute of one model instance (``with guard.execute(): ...``).

    Args:
        placement: where the instance works; on the CPU the guard does nothing.
        cache_bytes: the CuPy pool's cached (free) bytes kept after an execute; above it,
            every cached block of the device is freed.
        device, pool: the CUDA parts (``cupy.cuda.Device`` for a device id, CuPy's default
            memory pool); given only where no GPU exists, to test the logic.
    """

    def __init__(self, placement: Placement, cache_bytes: int,
                 device: Callable[[int], Any] = _cuda_device, pool: Callable[[], Any] = _cupy_pool):
        self.placement = placement
        self.cache_bytes = cache_bytes
        self._device, self._pool = device, pool
        self.trims = 0  # how often the cache was freed (for tests and logs)

    @contextlib.contextmanager
    def execute(self) -> Iterator[None]:
        """The instance's device as the current one; on leaving (returned or raised): the
        device synchronised, then the pool trimmed. A synchronisation that fails (a sticky
        CUDA error from a kernel of this execute) raises, so Triton answers every request
        of the execute with an error instead of outputs that may be wrong."""
        if not self.placement.gpu:
            yield
            return
        device = self._device(self.placement.device_id)
        with device:
            try:
                yield
            finally:
                device.synchronize()
                self.trim()

    def trim(self) -> None:
        """Free the pool's cached blocks of the current device when they exceed cache_bytes."""
        pool = self._pool()
        if pool.free_bytes() > self.cache_bytes:
            pool.free_all_blocks()
            self.trims += 1
