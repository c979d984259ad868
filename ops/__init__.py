"""triton-vision-ops operators: one function per op over NumPy (reference) or CuPy
(CUDA kernel) arrays, single images, (N, H, W, C) batches or variable-shape lists.

See docs/ops.md for the semantics of each op and its OpenCV equivalent.
"""
from ._batch import poisoned
from .color import cvt_color
from .geometry import center_crop, crop, letterbox, pad, resize
from .tensor import image_to_tensor, tensor_to_mask

__all__ = [
    "center_crop",
    "crop",
    "cvt_color",
    "image_to_tensor",
    "letterbox",
    "pad",
    "poisoned",
    "resize",
    "tensor_to_mask",
]
