"""The one place an op chooses its implementation.

Every op has the same semantics in up to three implementations:

- ``cuda``: its CUDA kernel, for device arrays (CuPy, or the CPU kernel harness's
  HostArray, which runs the same kernel source on the host);
- ``opencv``: OpenCV, for NumPy arrays, where OpenCV gives the identical result;
- ``reference``: the NumPy reference, which defines the semantics (docs/ops.md) and which
  tests hold the other two to. NumPy arrays take it where an op has no OpenCV
  implementation, inside ``use_reference()``, or when the environment variable
  TVO_OPS_REFERENCE is 1.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ._batch import Batch
from ._launch import i32, image_table, launch
from .arrays import array_module

ENV = "TVO_OPS_REFERENCE"
_forced: bool | None = None  # use_reference()'s override of ENV


@contextlib.contextmanager
def use_reference(on: bool = True) -> Iterator[None]:
    """Inside this block NumPy input runs the NumPy reference instead of OpenCV; process-wide,
    like poisoned().

    Args:
        on: True: the reference; False: OpenCV again, whatever TVO_OPS_REFERENCE says.
    Returns:
        A context manager. OpenCV/CV-CUDA: none (a test switch of ops).
    Raises:
        Nothing.
    """
    global _forced
    old, _forced = _forced, bool(on)
    try:
        yield
    finally:
        _forced = old


def reference_forced() -> bool:
    if _forced is not None:
        return _forced
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def implementation(x: Batch | Any, has_opencv: bool = True) -> str:
    """Which implementation an op runs for ``x``.

    Args:
        x: a Batch or an array (NumPy, CuPy or HostArray) of any shape and dtype.
        has_opencv: whether the op has an OpenCV implementation.
    Returns:
        "cuda" for device memory (CuPy, HostArray); else "opencv", or "reference" when the op
        has no OpenCV implementation or the reference is asked for (use_reference(),
        TVO_OPS_REFERENCE=1). OpenCV/CV-CUDA: none (the dispatch rule of ops).
    Raises:
        Nothing.
    """
    xp = x.xp if isinstance(x, Batch) else array_module(x)
    if xp is not np:
        return "cuda"
    return "opencv" if has_opencv and not reference_forced() else "reference"


def call_implementation(x: Batch | Any, *, cuda: Callable[[], Any],
                        reference: Callable[[], Any],
                        opencv: Callable[[], Any] | None = None) -> Any:
    """Call the op's implementation for ``x`` (see implementation()); each is a thunk."""
    impl = implementation(x, opencv is not None)
    return cuda() if impl == "cuda" else opencv() if impl == "opencv" else reference()


def restore_channel_axis(im: np.ndarray) -> np.ndarray:
    """An (H, W, C) image: OpenCV returns a 1-channel result as (H, W); the axis is put back."""
    return im if im.ndim == 3 else im[:, :, None]


def map_images(b: Batch, fn: Callable[[np.ndarray], np.ndarray]) -> Batch:
    """``fn`` over each (H, W, C) host image, the results (through restore_channel_axis) in
    ``b``'s form."""
    return b.with_images([restore_channel_axis(out) for out in map(fn, b.images)])


def run_image_op(b: Batch, reference: Callable[[np.ndarray], np.ndarray], kernel: tuple[str, str], *,
          opencv: Callable[[np.ndarray], np.ndarray] | None = None,
          shapes: Sequence[tuple[int, int]] | None = None, channels: int | None = None,
          dtype: Any = None, args: Sequence[Any] = (), extra: Sequence[Batch] = ()) -> Batch:
    """Run a per-pixel op over a batch.

    Host input: ``opencv`` or ``reference`` per (H, W, C) image (see call_implementation()). Device input:
    one launch of kernels/<module>.cu:<name> over the largest output, with the standard
    kernel signature ``(const long long* table, int n, int cin, int cout, *args)`` where
    the table's slots are (source, destination, *extra).
    """
    def cuda() -> Batch:
        out = b.empty(shapes, channels, dtype)
        h, w = out.max_hw()
        launch(kernel[0], kernel[1], b.n, h, w,
               (image_table(b, out, *extra), i32(b.n), i32(b.channels), i32(out.channels), *args))
        return out

    return call_implementation(b, cuda=cuda, reference=lambda: map_images(b, reference),
                               opencv=None if opencv is None else lambda: map_images(b, opencv))
