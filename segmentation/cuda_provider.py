"""onnxruntime's CUDA provider as the runner uses it: its options, the pip wheels' CUDA
libraries loaded before it, and why it cannot run, in the loader's and CuPy's own words."""
from __future__ import annotations

import contextlib
import ctypes
import io
import logging
from pathlib import Path
from typing import Any

CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"


_preloaded = False  # preload_cuda_libraries ran in this process


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


def preload_cuda_libraries(ort: Any) -> None:
    """Load the CUDA 13 / cuDNN 9 libraries of the nvidia-* pip wheels (requirements-server.txt)
    once per process, before the first CUDA session: the provider library has no RUNPATH,
    so the dynamic loader never looks in site-packages/nvidia. Where the libraries come from
    the system (a CUDA toolkit on the loader path) this finds them there and changes nothing.

    Args:
        ort: the onnxruntime module; one without ``preload_dlls`` is left alone.
    """
    global _preloaded
    if not _preloaded and hasattr(ort, "preload_dlls"):
        _preloaded = True
        # It prints each library it cannot find to stdout; when that matters, the session's
        # own failure says the same in the one warning or error (the loader's message).
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            ort.preload_dlls()
        if printed.getvalue().strip():
            logging.getLogger(__name__).debug("onnxruntime.preload_dlls: %s", printed.getvalue().strip())


def cuda_library_error() -> str | None:
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


def cuda_build_note() -> str:
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


def cuda_devices_note() -> str:
    """CuPy's view of the CUDA devices, as context for a device='cuda' error."""
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
    except ImportError:
        return ""
    except Exception as e:  # noqa: BLE001 - no driver, no GPU
        return f" CUDA devices seen by CuPy: none ({type(e).__name__}: {one_line(e)})."
    return f" CUDA devices seen by CuPy: {n}."


def one_line(e: BaseException) -> str:
    """An exception's message on one line, for a log line or an error message.

    Args:
        e: the exception.
    Returns:
        ``str(e)`` with each run of whitespace (newlines included) as one space, stripped.
    """
    return " ".join(str(e).split())
