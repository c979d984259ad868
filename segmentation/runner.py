"""Run a segmentation ONNX model with onnxruntime on NumPy or CuPy batches.

The model's contract (input size, normalisation, colour order, output activation) is the
pipeline steps' parameters around it, so another segmentation ONNX can be swapped in without
code changes (docs/segmentation-model.md).
"""
from __future__ import annotations

import logging
import operator
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ops.arrays import address, is_cupy, to_device

from .build import BUILD_COMMAND
from .cuda_provider import (CPU_EP, CUDA_EP, cuda_build_note, cuda_devices_note, cuda_library_error,
                            cuda_provider_options, one_line, preload_cuda_libraries)
from .output_shape import OutputShapeError, apply_shape_rule, output_shape_rule


class ModelFileError(FileNotFoundError):
    """The ONNX file is missing or unreadable; says which command builds it."""


class CudaProviderError(RuntimeError):
    """device="cuda" but onnxruntime's CUDA provider is not the active one; the message
    carries the provider's own reason."""


DEVICES = ("auto", "cuda", "cpu")
log = logging.getLogger(__name__)


# Process-wide state of device="auto": the CPU fallback is announced once per process,
# and once onnxruntime's CUDA provider library has failed to load it is not tried again
# (each try makes onnxruntime log its own two error lines; the result cannot change
# within a process).
_state_lock = threading.Lock()
_fallback_warned = False
_cuda_library_failure: str | None = None


class SegmentationRunner:
    """An onnxruntime session over one segmentation model.

    device:
      "cuda": onnxruntime's CUDA provider on GPU ``device_id``, or a ``CudaProviderError``
              at construction (with the provider's own reason) when it is not the active
              provider of the session: CUDA libraries missing, no driver, no GPU, bad id.
      "auto": the same, but falls back to the CPU provider instead of raising; the first
              fallback of the process logs one warning (logger ``segmentation.runner``)
              with the reason, later ones are silent. ``fallback_reason`` keeps it.
      "cpu":  the CPU provider, nothing else is tried.
    device_id: the CUDA device (the provider's ``device_id`` option; IO binding binds
      there). Triton passes ``args["model_instance_device_id"]`` (a string; numeric
      strings are accepted).

    ``run`` takes (N, C, H, W) float32 NumPy or CuPy and returns the model output
    (N, K, H, W) as the same kind; CuPy batches are bound to device memory with IO binding
    (no host copy).
    """

    def __init__(self, model_path: str | Path, device: str = "auto", threads: int = 0,
                 device_id: int | str = 0):
        import onnxruntime as ort

        if device not in DEVICES:
            raise ValueError(f"device: expected one of {', '.join(DEVICES)}, got {device!r} "
                             f"(the GPU is chosen with device_id)")
        self.device = device
        self.device_id = _parse_device_id(device_id)
        self.path = path = Path(model_path)
        if not path.is_file():
            raise ModelFileError(f"segmentation model {path} is missing; build it with {BUILD_COMMAND}")
        self._opts = ort.SessionOptions()
        self._opts.log_severity_level = 3
        if threads:
            self._opts.intra_op_num_threads = threads
        #: why device="auto" runs on the CPU (None when on the GPU or device="cpu")
        self.fallback_reason: str | None = None
        #: the providers, with their options, the session is asked for (``providers`` says
        #: which it got)
        self.requested_providers: list = [CPU_EP] if device == "cpu" else [
            (CUDA_EP, cuda_provider_options(self.device_id)), CPU_EP]

        if device == "cpu":
            self.session = self._session(ort, self.requested_providers)
        else:
            self.session, reason = self._cuda_session(ort, device)
            if reason is not None:
                if device == "cuda":
                    raise CudaProviderError(
                        f"device='cuda' (device_id={self.device_id}) for segmentation model "
                        f"{path}: onnxruntime's {CUDA_EP} is not active. Reason: {reason}"
                        f"{cuda_devices_note()} Use device='auto' to fall back to the CPU, "
                        f"or device='cpu'.")
                self.fallback_reason = reason
                _warn_fallback_once(f"segmentation model {path}: device='auto' runs on the "
                                    f"CPU: onnxruntime's {CUDA_EP} (device_id={self.device_id}) "
                                    f"is not available. Reason: {reason} (said once per process; "
                                    f"device='cuda' makes this an error, device='cpu' silences it)")
        self.providers = self.session.get_providers()
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self.input_shape = self.session.get_inputs()[0].shape
        # IO binding (the GPU path) sizes the output before the run: a model whose output
        # cannot be sized that way fails to load there, not at its first request.
        try:
            self._shape_rule = output_shape_rule(list(self.input_shape),
                                                 list(self.session.get_outputs()[0].shape),
                                                 self.output_name)
            self._shape_error: OutputShapeError | None = None
        except OutputShapeError as e:
            if self.on_gpu:
                raise OutputShapeError(f"segmentation model {path}: {e}") from None
            self._shape_rule, self._shape_error = [], e

    def _session(self, ort: Any, providers: list) -> Any:
        """A session; ``enable_fallback=0`` stops onnxruntime's Python wrapper from quietly
        retrying on the CPU when a provider fails at creation (it would only print to stdout)
        or at run time (it would switch providers behind ``self.providers``)."""
        try:
            return ort.InferenceSession(str(self.path), self._opts, providers=providers,
                                        enable_fallback=0)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises several types
            if providers != [CPU_EP]:
                raise
            raise ModelFileError(f"segmentation model {self.path} cannot be loaded ({e}); rebuild "
                                 f"it with {BUILD_COMMAND}") from None

    def _cuda_session(self, ort: Any, device: str) -> tuple[Any, str | None]:
        """(session, None) on the CUDA provider, or (a CPU session, why not CUDA)."""
        global _cuda_library_failure
        available = ort.get_available_providers()
        if CUDA_EP not in available:
            return None if device == "cuda" else self._session(ort, [CPU_EP]), (
                f"this onnxruntime {ort.__version__} build has no {CUDA_EP} (it offers "
                f"{available}); the GPU build is the onnxruntime-gpu package.")
        if device == "auto" and _cuda_library_failure is not None:
            return self._session(ort, [CPU_EP]), _cuda_library_failure
        preload_cuda_libraries(ort)
        try:
            session = self._session(ort, self.requested_providers)
        except Exception as e:  # noqa: BLE001
            # The provider was created but failed (no driver or GPU, bad device_id, ...), or
            # the model itself is broken: a CPU session tells which (ModelFileError if broken).
            cpu = self._session(ort, [CPU_EP])
            reason = f"creating the session with it failed: {one_line(e)}"
            lib = cuda_library_error()
            if lib is not None:
                reason += f"; {lib}{cuda_build_note()}"
            return cpu, reason
        if session.get_providers()[0] == CUDA_EP:
            return session, None
        # onnxruntime logged "Failed to create CUDAExecutionProvider" and built a CPU session:
        # it does that exactly when its provider library cannot be loaded.
        lib = cuda_library_error()
        if lib is None:
            return session, (f"onnxruntime gave the session {session.get_providers()} without "
                             f"raising (its CUDA provider library loads here; see onnxruntime's "
                             f"own log lines just before this message).")
        reason = lib + cuda_build_note()
        with _state_lock:
            _cuda_library_failure = reason
        return session, reason

    @property
    def on_gpu(self) -> bool:
        return self.providers[0] == CUDA_EP

    def run(self, x: Any) -> Any:
        """(N, C, H, W) float32 -> (N, K, H, W) float32, one session run for the batch.

        Args:
            x: the (N, C, H, W) float32 batch, NumPy or CuPy (a CuPy one runs through IO
                binding on ``device_id``, no host copy, when the session is on the GPU).
        Returns:
            The model output, (N, K, H, W) float32: NumPy for a NumPy ``x``, CuPy for a CuPy
            one (on ``device_id`` when the session is on the GPU).
        Raises:
            ValueError: ``x`` is not 4-D float32.
        """
        if x.ndim != 4 or x.dtype != np.float32:
            raise ValueError(f"x: expected (N, C, H, W) float32, got shape {tuple(x.shape)} "
                             f"dtype {x.dtype}")
        if is_cupy(x):
            return self._run_cupy(x)
        return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(x)})[0]

    def _run_cupy(self, x: Any) -> Any:
        """A CuPy batch through IO binding on ``device_id``; the result lives there too."""
        import cupy

        if not self.on_gpu:
            # CPU provider: the host copy is unavoidable; give a CuPy array back all the same.
            return cupy.asarray(self.run(cupy.asnumpy(x)))
        x = to_device(x, self.device_id)
        # The Device context also restores the caller's current device afterwards
        # (onnxruntime's CUDA provider sets the thread's device when it runs).
        with cupy.cuda.Device(self.device_id):
            x = cupy.ascontiguousarray(x)
            y = cupy.empty(self.output_shape(x.shape), dtype=cupy.float32)
            # onnxruntime's CUDA provider runs on its own stream: everything queued on CuPy's
            # current stream of this device (the producer of x, the copy above, the last
            # users of y's pooled memory) must be finished before it reads x and writes y.
            cupy.cuda.get_current_stream().synchronize()
            # The run synchronises onnxruntime's stream before it returns (its default: the
            # run option disable_synchronize_execution_providers is not set), so y is
            # complete for any CuPy stream.
            self.run_bound(x, y)
        return y

    def run_bound(self, x: Any, y: Any) -> None:
        """One run through onnxruntime's IO binding into buffers the caller owns: CuPy arrays
        on GPU ``device_id``, or host arrays, which a CPU session binds the same way.

        Args:
            x: the C-contiguous float32 input, (N, C, H, W).
            y: the C-contiguous float32 output the run writes, ``output_shape(x.shape)``.
        """
        device, device_id = ("cuda", self.device_id) if is_cupy(x) else ("cpu", 0)
        binding = self.session.io_binding()
        binding.bind_input(self.input_name, device, device_id, np.float32, list(x.shape), address(x))
        binding.bind_output(self.output_name, device, device_id, np.float32, list(y.shape), address(y))
        self.session.run_with_iobinding(binding)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The model output's shape for an input of ``in_shape``: fixed dims as they are,
        a symbolic one from the input dim of the same name (output_shape_rule).

        Args:
            in_shape: the input's shape, (N, C, H, W).
        Returns:
            The output's shape, (N, K, H, W) for a segmentation model.
        Raises:
            OutputShapeError: the model's output cannot be sized before the run.
        """
        if self._shape_error is not None:
            raise self._shape_error
        return apply_shape_rule(self._shape_rule, in_shape)


def _parse_device_id(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    try:
        if isinstance(value, bool):
            raise TypeError
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"device_id: expected a CUDA device number >= 0, got {value!r}") from None
    if n < 0:
        raise ValueError(f"device_id: expected a CUDA device number >= 0, got {value!r}")
    return n


def _warn_fallback_once(message: str) -> None:
    global _fallback_warned
    with _state_lock:
        if _fallback_warned:
            return
        _fallback_warned = True
    # logging, not print: without a configured handler Python's last-resort handler writes
    # WARNING records to stderr, which a Triton Python model's stub sends to the server log.
    log.warning(message)


