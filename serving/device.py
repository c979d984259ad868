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

What the pool holds is a Triton gauge, ``tvo_device_pool_bytes{model, instance, state}``
(state ``used``: in arrays; ``cached``: freed, kept for reuse), so that the memory a stub
holds can be told apart from its bounded cache (the GPU check's memory test does).
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from .metrics import samples
from .placement import Placement

MIB = 1 << 20
POOL_METRIC = "tvo_device_pool_bytes"
POOL_METRIC_HELP = ("Bytes of a triton-vision-ops GPU model instance's CuPy memory pool on its "
                    "device, by state: used (in arrays) or cached (freed, kept for reuse; at "
                    "most device_cache_mib after an execute)")


def _cuda_device(device_id: int) -> Any:
    import cupy
    return cupy.cuda.Device(device_id)


def _cupy_pool() -> Any:
    import cupy
    return cupy.get_default_memory_pool()

def device_scope(placement: Placement) -> Any:
    """The instance's CUDA device as the current one (nothing on the CPU).

    Args:
        placement: where the instance works.
    Returns:
        A context manager: ``cupy.cuda.Device`` of a GPU placement, else a null context.
    """
    if not placement.gpu:
        return contextlib.nullcontext()
    import cupy
    return cupy.cuda.Device(placement.device_id)


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

    def pool_bytes(self) -> dict[str, int]:
        """{"used": bytes in arrays, "cached": freed bytes kept} of the CuPy pool on the
        instance's device now; {} on the CPU. Safe from another thread (CuPy's pool locks;
        the device is made current in the calling thread only)."""
        if not self.placement.gpu:
            return {}
        with self._device(self.placement.device_id):
            pool = self._pool()
            return {"used": int(pool.used_bytes()), "cached": int(pool.free_bytes())}


class PoolGauges:
    """Sets one GPU instance's tvo_device_pool_bytes gauges from its pool (``flush``, on the
    placement counters' export timer)."""

    def __init__(self, guard: DeviceGuard, family: Any, model: str, instance: str):
        self.guard = guard
        self.metrics = {state: family.Metric(labels={"model": model, "instance": instance,
                                                     "state": state})
                        for state in ("used", "cached")}

    def flush(self) -> None:
        for state, value in self.guard.pool_bytes().items():
            self.metrics[state].set(float(value))


def read_pool_bytes(metrics_text: str) -> dict[str, dict[str, float]]:
    """The tvo_device_pool_bytes gauges of a Triton metrics page: {instance: {state: bytes}}.

    Args:
        metrics_text: the page (Prometheus text format).
    Returns:
        {instance: {"used" or "cached": bytes}}; {} when the page has no such gauge.
    """
    out: dict[str, dict[str, float]] = {}
    for _, labels, value in samples(metrics_text, POOL_METRIC + "{"):
        out.setdefault(labels.get("instance", ""), {})[labels.get("state", "")] = value
    return out
