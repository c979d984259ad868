"""Where a model instance works, decided once in ``initialize``, and the one move that
puts each request tensor there.

Triton hands a Python model each input where the producer left it: a plain HTTP/gRPC
client's image in host memory, a GPU step's output on the device (python_backend never
uploads, whatever the instance kind). So the model decides:

- a GPU instance (``model_instance_kind == "GPU"`` and CUDA usable on its device) works on
  ``model_instance_device_id``: host tensors are uploaded, tensors on another GPU copied;
- a CPU instance downloads device tensors;
- tensors a model declares *host* (small, host-decided values such as ROI and SRC_SIZE,
  which size outputs) always live on the host.

Every arriving tensor is counted by where it came from and what moved it
(``PlacementCounters``), and an instance may *require* the device: then a host tensor that
is not declared host fails its request, naming the model and the tensor, instead of
silently crossing PCIe (docs/serving.md, "Placement").
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ops.arrays import is_cupy, to_device

from .metrics import samples

# Where a tensor was found.
HOST, DEVICE, DECLARED_HOST = "host", "device", "host_declared"


class PlacementError(RuntimeError):
    """A tensor is where this instance is not allowed to take it (require_device)."""


def cuda_unusable_reason(device_id: int) -> str | None:
    """Why CUDA cannot be used on a device, tried with a real allocation there.

    Args:
        device_id: the CUDA device (Triton's ``model_instance_device_id``).
    Returns:
        None when CUDA works on ``device_id``, else the reason in words (no CuPy, no
        driver, no such device, the allocation's error).
    """
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        if device_id >= n:
            return f"device {device_id} does not exist ({n} CUDA device(s))"
        with cupy.cuda.Device(device_id):
            cupy.empty(1, dtype=cupy.uint8).fill(0)
            cupy.cuda.Device(device_id).synchronize()
        return None
    except Exception as e:  # noqa: BLE001 - no CuPy, no driver, no device: all mean CPU
        return f"{type(e).__name__}: {str(e).strip()[:200]}"


@dataclass(frozen=True)
class Placement:
    """Where one model instance works: ``gpu`` on ``device_id``, or the CPU; ``why`` is the
    reason, for logs and errors."""
    gpu: bool
    device_id: int
    why: str

    @property
    def label(self) -> str:
        """"gpu:<device_id>" or "cpu", for logs and metrics."""
        return f"gpu:{self.device_id}" if self.gpu else "cpu"


def decide(kind: str, device_id: int,
           unusable_reason: Callable[[int], str | None] = cuda_unusable_reason) -> Placement:
    """The placement of an instance from Triton's ``model_instance_kind`` / ``_device_id``.

    GPU only for a GPU instance whose device really works; anything else is the CPU, with
    the reason (a GPU instance on a host where CUDA fails says why).

    Args:
        kind: Triton's ``model_instance_kind`` ("GPU", "CPU", or "" outside Triton).
        device_id: Triton's ``model_instance_device_id``.
        unusable_reason: device id -> why CUDA cannot be used there, or None (tests pass
            their own where no GPU exists).
    Returns:
        The instance's Placement, with its reason.
    """
    if kind != "GPU":
        return Placement(False, device_id, f"instance kind {kind or 'unknown'}")
    reason = unusable_reason(device_id)
    if reason is not None:
        return Placement(False, device_id, f"instance kind GPU, but CUDA is unusable on device "
                                           f"{device_id}: {reason}")
    return Placement(True, device_id, f"instance kind GPU, device {device_id}")


def memory_of(x: Any) -> str:
    """DEVICE for a CuPy array, else HOST.

    Args:
        x: a NumPy or CuPy array.
    Returns:
        "device" or "host", the ``found`` label of the placement counters.
    """
    return DEVICE if is_cupy(x) else HOST


def move(x: Any, placement: Placement, host: bool = False) -> tuple[Any, str]:
    """An array where an instance works.

    Args:
        x: a NumPy or CuPy array.
        placement: where the instance works.
        host: put ``x`` on the host whatever the placement (a declared host tensor).
    Returns:
        (``x`` where ``placement`` works, or on the host when ``host``; the move it took:
        "none", "upload", "download" or "peer"). ``x`` itself when no move is needed.
    """
    if host or not placement.gpu:
        if is_cupy(x):
            import cupy
            return cupy.asnumpy(x), "download"
        return x, "none"
    import cupy
    if not is_cupy(x):
        with cupy.cuda.Device(placement.device_id):
            return cupy.asarray(np.ascontiguousarray(x)), "upload"
    if x.device.id != placement.device_id:
        return to_device(x, placement.device_id), "peer"
    return x, "none"


# How often an instance adds its counts to the Triton metrics (docs/serving.md, Placement).
EXPORT_INTERVAL_S = 1.0


class PlacementCounters:
    """Per (direction, tensor, found, move) counts of one model instance's tensors
    (direction "in" for inputs, "out" for outputs), and the same numbers as the Triton
    metric ``tvo_tensors_total{model, instance, direction, tensor, found, move}`` on the
    server's metrics endpoint when running inside Triton.

    Counting is in the process; ``start`` exports on a timer (every ``interval`` s, one
    increment per label set), so the metrics lag the counts by at most that. Each increment
    is a round trip to the server: made in every execute, it was most of a small step's
    Python time (bench/results/step_profile_upload_cpu-2core_before.md)."""

    def __init__(self, model: str, instance: str, metric_family: Any = None,
                 interval: float = EXPORT_INTERVAL_S):
        self.model, self.instance = model, instance
        self.counts: dict[tuple[str, str, str, str], int] = {}
        self.interval = interval
        self._family = metric_family
        self._metrics: dict[tuple[str, str, str, str], Any] = {}
        self._exported: dict[tuple[str, str, str, str], int] = {}
        self._lock = threading.Lock()  # one export at a time (the timer, close)
        self._stop = threading.Event()
        self._exporter: threading.Thread | None = None
        #: more exports on the same timer (the device pool's gauges: serving.device)
        self.extra_exports: list[Callable[[], None]] = []

    def count(self, direction: str, tensor: str, found: str, moved: str) -> None:
        """Count one tensor (a label set of tvo_tensors_total).

        Args:
            direction: "in" for an input, "out" for an output.
            tensor: the tensor's name.
            found: where it was found: HOST, DEVICE or DECLARED_HOST.
            moved: the move ``move`` made ("none", "upload", "download", "peer"), or
                "refused".
        """
        # One writer (the thread that runs execute), no lock: an export copies the dict in
        # one step under the GIL and adds what grew since the last one.
        counts, key = self.counts, (direction, tensor, found, moved)
        counts[key] = counts.get(key, 0) + 1

    def start(self) -> None:
        """Export on a timer, from a thread of its own, until ``close``."""
        if self._family is None or self._exporter is not None:
            return
        self._exporter = threading.Thread(target=self._export_loop, daemon=True,
                                          name=f"tvo-counters-{self.instance}")
        self._exporter.start()

    def _export_loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._export_all()

    def _export_all(self) -> None:
        for export in (self.flush, *self.extra_exports):
            try:
                export()
            except Exception as e:  # noqa: BLE001 - a metrics failure must not stop serving
                print(f"{self.instance}: metrics not exported: {e}", flush=True)

    def close(self) -> None:
        """Stop the timer and export what is left."""
        self._stop.set()
        if self._exporter is not None:
            self._exporter.join(timeout=2 * self.interval + 5)
            self._exporter = None
        self._export_all()

    def flush(self) -> None:
        """Add what was counted since the last flush to the Triton metrics: one increment per
        label set."""
        with self._lock:
            for key, n in dict(self.counts).items():
                grown = n - self._exported.get(key, 0)
                if grown:
                    if self._family is not None:
                        self._metric(key).increment(grown)
                    self._exported[key] = n  # after the increment: a failed one is retried

    def _metric(self, key: tuple[str, str, str, str]) -> Any:
        metric = self._metrics.get(key)
        if metric is None:
            direction, tensor, found, moved = key
            metric = self._metrics[key] = self._family.Metric(labels={
                "model": self.model, "instance": self.instance, "direction": direction,
                "tensor": tensor, "found": found, "move": moved})
        return metric


METRIC_NAME = "tvo_tensors_total"
METRIC_HELP = ("Tensors a triton-vision-ops model instance received (direction in) or returned "
               "(out), by where they were found (host, device, host_declared) and the move that "
               "put them where the instance works (none, upload, download, peer, refused)")


class Placer:
    """One instance's placement, counters and guard: ``place_input`` puts an arriving tensor
    where the instance works, ``place_output`` checks an output before it leaves."""

    def __init__(self, placement: Placement, counters: PlacementCounters,
                 host_tensors: frozenset[str] = frozenset(), entry_tensors: frozenset[str] = frozenset()):
        self.placement = placement
        self.counters = counters
        self.host_tensors = host_tensors      # declared host: always on the host, never guarded
        self.entry_tensors = entry_tensors    # may arrive on the host by design (the upload step)

    def place_input(self, name: str, x: Any, require_device: bool) -> Any:
        """An input where the instance works, counted.

        Args:
            name: the input's name.
            x: the request's (N, ...) NumPy or CuPy array of that input.
            require_device: the request's require_device=gpu (an entry input is exempt).
        Returns:
            ``x`` where the instance works (on the host for a declared host tensor).
        Raises:
            PlacementError: ``x`` is in host memory on a GPU instance under the guard.
        """
        return self._place("in", name, x, require_device and name not in self.entry_tensors)

    def place_output(self, name: str, x: Any, require_device: bool) -> Any:
        """An output where the instance works, counted.

        Args:
            name: the output's name.
            x: one request's (n, ...) NumPy or CuPy array of that output.
            require_device: the request's require_device=gpu.
        Returns:
            ``x`` where the instance works (on the host for a declared host tensor).
        Raises:
            PlacementError: ``x`` is in host memory on a GPU instance under the guard.
        """
        return self._place("out", name, x, require_device)

    def _place(self, direction: str, name: str, x: Any, guard: bool) -> Any:
        host = name in self.host_tensors
        found = DECLARED_HOST if host and not is_cupy(x) else memory_of(x)
        if guard and self.placement.gpu and found == HOST:
            self.counters.count(direction, name, found, "refused")
            what = "arrived in" if direction == "in" else "was produced in"
            raise PlacementError(
                f"{'input' if direction == 'in' else 'output'} {name} "
                f"{tuple(x.shape)} {what} host memory on a GPU instance, and require_device=gpu "
                f"forbids a host hop here (the pipeline's entry uploads each frame once; a full "
                f"CUDA memory pool also hands out host memory: docs/serving.md, Placement)")
        y, moved = move(x, self.placement, host)
        self.counters.count(direction, name, found, moved)
        return y


def read_counters(metrics_text: str) -> dict[tuple[str, str, str, str, str], float]:
    """The placement counters of a Triton metrics page, summed over instances.

    Args:
        metrics_text: the page (Prometheus text format).
    Returns:
        {(model, direction, tensor, found, move): count}.
    """
    out: dict[tuple[str, str, str, str, str], float] = {}
    for _, labels, value in samples(metrics_text, METRIC_NAME + "{"):
        key = tuple(labels.get(k, "") for k in ("model", "direction", "tensor", "found", "move"))
        out[key] = out.get(key, 0.0) + value
    return out