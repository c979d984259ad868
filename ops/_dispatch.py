"""The one place an op chooses between its NumPy reference and its CUDA kernel."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ._batch import Batch
from ._gpu import i32, image_table, launch


def apply(b: Batch, reference: Callable[[np.ndarray], np.ndarray],
          kernel: tuple[str, str], *, shapes: Sequence[tuple[int, int]] | None = None,
          channels: int | None = None, dtype: Any = None, args: Sequence[Any] = (),
          extra: Sequence[Batch] = ()) -> Batch:
    """Run an op over a batch.

    NumPy input: ``reference`` per (H, W, C) image. CuPy input: one launch of
    kernels/<module>.cu:<name> over the largest output, with the standard kernel
    signature ``(const long long* table, int n, int cin, int cout, *args)`` where the
    table's slots are (source, destination, *extra).
    """
    if not b.on_device:
        return b.like([reference(im) for im in b.images])
    out = b.empty(shapes, channels, dtype)
    h, w = out.max_hw()
    launch(kernel[0], kernel[1], b.n, h, w,
           (image_table(b, out, *extra), i32(b.n), i32(b.channels), i32(out.channels), *args))
    return out
