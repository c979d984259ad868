"""triton-vision-ops operators: one function per op over NumPy (reference) or CuPy
(CUDA kernel) arrays, single images, (N, H, W, C) batches or variable-shape lists.

See docs/ops.md for the semantics of each op and its OpenCV equivalent.
"""
from ._batch import poisoned
from .color import cvt_color
from .resize import resize

__all__ = ["cvt_color", "poisoned", "resize"]
