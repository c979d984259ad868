"""Run a segmentation ONNX model with onnxruntime on NumPy or CuPy batches.

The model's contract (input size, normalisation, colour order, output activation) is the
pipeline steps' parameters around it, so another segmentation ONNX can be swapped in without
code changes (docs/segmentation-model.md).
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import operator
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ops.arrays import is_cupy, to_device

from .build import BUILD_COMMAND


class ModelFileError(FileNotFoundError):
    """The ONNX file is missing or unreadable; says which command builds it."""


class CudaProviderError(RuntimeError):
    """device="cuda" but onnxruntime's CUDA provider is not the active one; the message
    carries the provider's own reason."""


class OutputShapeError(ValueError):
    """A model output's size cannot be known before the run (a symbolic dimension that no
    input dimension shares), which IO binding needs: the GPU path cannot run the model."""


DEVICES = ("auto", "cuda", "cpu")
CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"

log = logging.getLogger(__name__)


def cuda_provider_options(device_id: int) -> dict[str, str]:
    """The options the runner gives onnxruntime's CUDA provider (docs/segmentation-model.md,
    "CUDA provider options", says why each).

    Args:
        device_id: the CUDA device the session runs on.
    Returns:
        {option: value} as onnxruntime takes them (strings):
        ``use_tf32=0``: full float32 convolutions and matrix products; onnxruntime turns TF32
        on by default, which drifts by about 1e-3 from the CPU provider on Ampere and later,
        so MASK and BLURRED would differ from the CPU path near the threshold.
        ``cudnn_conv_algo_search=DEFAULT``: one cuDNN algorithm for every convolution,
        whatever the batch size (IMPLICIT_PRECOMP_GEMM), instead of the default EXHAUSTIVE
        benchmark per input shape, which may pick another algorithm for another batch size
        (a frame's mask would depend on what Triton batched it with) and pays a search the
        first time each batch size is served. HEURISTIC also chooses by shape, so it has the
        same problem without the search cost.
        ``arena_extend_strategy=kSameAsRequested``: the arena grows by what a run asks, not to
        the next power of two, so its high-water mark after the warm-up over every batch size
        is close to what the largest batch needs.
    """
    return {"device_id": str(device_id), "use_tf32": "0", "cudnn_conv_algo_search": "DEFAULT",
            "arena_extend_strategy": "kSameAsRequested"}


def output_shape_rule(input_dims: list, output_dims: list,
                      output_name: str = "output") -> list[tuple[str, int]]:
    """How to size a model output from its input's shape before the run (IO binding
    allocates the output first).

    Args:
        input_dims, output_dims: the model's dims as onnxruntime reports them
            (``session.get_inputs()[0].shape``): an int for a fixed size, a str for a
            symbolic one, None for an unknown one.
        output_name: for the error message.
    Returns:
        one (kind, value) per output dim: ("fixed", size) or ("input", index of the input
        dim with the same symbolic name).
    Raises:
        OutputShapeError: an output dim is unknown, or symbolic with a name no input dim has.
    """
    rule = []
    for i, d in enumerate(output_dims):
        if isinstance(d, int) and d >= 0:
            rule.append(("fixed", d))
        elif isinstance(d, str) and d in input_dims:
            rule.append(("input", input_dims.index(d)))
        else:
            shown = "unknown" if d is None or isinstance(d, int) else f"symbolic {d!r}"
            raise OutputShapeError(
                f"output {output_name!r} dim {i} is {shown} and no input dim has its name "
                f"(input dims {input_dims}, output dims {output_dims}): the GPU path binds the "
                f"output before the run and cannot size it. Give the output's dims fixed sizes "
                f"or the names of the input's dims (docs/segmentation-model.md)")
    return rule


def apply_shape_rule(rule: list[tuple[str, int]], in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape for an input of ``in_shape`` (a rule of output_shape_rule)."""
    return tuple(v if kind == "fixed" else int(in_shape[v]) for kind, v in rule)

# Process-wide state of device="auto": the CPU fallback is announced once per process,
# and once onnxruntime's CUDA provider library has failed to load it is not tried again
# (each try makes onnxruntime log its own two error lines; the result cannot change
# within a process).
_state_lock = threading.Lock()
_fallback_warned = False
_cuda_library_failure: str | None = None
_cuda_libraries_preloaded = False


def _preload_cuda_libraries(ort: Any) -> None:
    """Load the CUDA 13 / cuDNN 9 libraries of the nvidia-* pip wheels (requirements-server.txt)
    once per process, before the first CUDA session: the provider library has no RUNPATH,
    so the dynamic loader never looks in site-packages/nvidia. Where the libraries come from
    the system (a CUDA toolkit on the loader path) this finds them there and changes nothing."""
    global _cuda_libraries_preloaded
    if not _cuda_libraries_preloaded and hasattr(ort, "preload_dlls"):
        _cuda_libraries_preloaded = True
        # It prints each library it cannot find to stdout; when that matters, the session's
        # own failure says the same in the one warning or error (the loader's message).
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            ort.preload_dlls()
        if printed.getvalue().strip():
            logging.getLogger(__name__).debug("onnxruntime.preload_dlls: %s", printed.getvalue().strip())


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
                        f"{_cuda_devices_note()} Use device='auto' to fall back to the CPU, "
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
        _preload_cuda_libraries(ort)
        try:
            session = self._session(ort, self.requested_providers)
        except Exception as e:  # noqa: BLE001
            # The provider was created but failed (no driver or GPU, bad device_id, ...), or
            # the model itself is broken: a CPU session tells which (ModelFileError if broken).
            cpu = self._session(ort, [CPU_EP])
            reason = f"creating the session with it failed: {_one_line(e)}"
            lib = _cuda_library_error()
            if lib is not None:
                reason += f"; {lib}{_cuda_build_note()}"
            return cpu, reason
        if session.get_providers()[0] == CUDA_EP:
            return session, None
        # onnxruntime logged "Failed to create CUDAExecutionProvider" and built a CPU session:
        # it does that exactly when its provider library cannot be loaded.
        lib = _cuda_library_error()
        if lib is None:
            return session, (f"onnxruntime gave the session {session.get_providers()} without "
                             f"raising (its CUDA provider library loads here; see onnxruntime's "
                             f"own log lines just before this message).")
        reason = lib + _cuda_build_note()
        with _state_lock:
            _cuda_library_failure = reason
        return session, reason

    @property
    def on_gpu(self) -> bool:
        return self.providers[0] == CUDA_EP

    def run(self, x: Any) -> Any:
        """(N, C, H, W) float32 -> (N, K, H, W) float32, one session run for the batch."""
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
            self.run_bound(x.data.ptr, x.shape, y.data.ptr, y.shape, "cuda")
        return y

    def run_bound(self, x_ptr: int, x_shape: tuple[int, ...], y_ptr: int,
                  y_shape: tuple[int, ...], device: str) -> None:
        """One run through onnxruntime's IO binding: float32 input and output buffers the
        caller owns, both on ``device`` ("cuda": GPU ``device_id``; "cpu": host memory, which
        a CPU session binds the same way). ``y_shape`` must be ``output_shape(x_shape)``."""
        binding = self.session.io_binding()
        device_id = self.device_id if device == "cuda" else 0
        binding.bind_input(self.input_name, device, device_id, np.float32, list(x_shape), x_ptr)
        binding.bind_output(self.output_name, device, device_id, np.float32, list(y_shape), y_ptr)
        self.session.run_with_iobinding(binding)

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The model output's shape for an input of ``in_shape``: fixed dims as they are,
        a symbolic one from the input dim of the same name (output_shape_rule).

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


def _cuda_library_error() -> str | None:
    """Why onnxruntime's CUDA provider library cannot be loaded, in the dynamic loader's
    own words; None when it loads.

    When that library fails to load, onnxruntime does not raise: it logs the loader's
    error and "Failed to create CUDAExecutionProvider" to stderr and builds a CPU session.
    Loading the same file again with the same flags (RTLD_NOW, after the shared provider
    bridge with RTLD_GLOBAL, as onnxruntime's ProviderLibrary does) gives the identical
    dlopen error. This was chosen over capturing onnxruntime's log at the file-descriptor
    level because redirecting fd 2 is process-wide (in a Triton stub it would swallow or
    reorder other threads' output for the duration), the log depends on onnxruntime's
    default logger severity (which any code in the process can raise) and on its text
    format, while dlopen's answer depends on none of these. Failures after the library
    has loaded (no driver or GPU, bad device_id) are raised by onnxruntime with their own
    message, which the caller reports instead.
    """
    import onnxruntime

    capi = Path(onnxruntime.__file__).resolve().parent / "capi"
    lib = capi / "libonnxruntime_providers_cuda.so"
    if not lib.is_file():
        return f"{lib} does not exist (not an onnxruntime-gpu installation)."
    try:
        shared = capi / "libonnxruntime_providers_shared.so"
        if shared.is_file():
            ctypes.CDLL(str(shared), mode=ctypes.RTLD_GLOBAL)
        ctypes.CDLL(str(lib))
    except OSError as e:
        return f"loading {lib} fails: {e}."
    return None


def _cuda_build_note() -> str:
    """What this onnxruntime build needs, from its own build info."""
    try:
        import onnxruntime
        from onnxruntime.capi import build_and_package_info as info
        cuda = getattr(info, "cuda_version", "")
    except Exception:  # noqa: BLE001
        return ""
    if not cuda:
        return ""
    major = cuda.split(".")[0]
    return (f" This onnxruntime-gpu {onnxruntime.__version__} is a CUDA {cuda} build: it needs "
            f"the CUDA {major} libraries (cudart, cuBLAS, cuBLASLt, cuRAND, cuFFT) and cuDNN 9 "
            f"on the loader path, a driver that supports CUDA {major}, and a GPU.")


def _cuda_devices_note() -> str:
    """CuPy's view of the CUDA devices, as context for a device='cuda' error."""
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
    except ImportError:
        return ""
    except Exception as e:  # noqa: BLE001 - no driver, no GPU
        return f" CUDA devices seen by CuPy: none ({type(e).__name__}: {_one_line(e)})."
    return f" CUDA devices seen by CuPy: {n}."


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())
