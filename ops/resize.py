"""Resizing (cv2.resize)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._batch import Batch, as_batch
from ._dispatch import apply
from ._gpu import i32
from ._resample import MODES, resize_f32, resize_u8
from ._validate import check_choice, check_size, fail


def target_sizes(size: Any, b: Batch, name: str = "size") -> list[tuple[int, int]]:
    """One (h, w) per image from a single size or a list of sizes (one per image)."""
    if isinstance(size, list) and size and not isinstance(size[0], (int, np.integer)):
        if len(size) != b.n:
            fail(name, f"one (h, w) per image ({b.n})", f"{len(size)} sizes")
        return [check_size(s, f"{name}[{i}]") for i, s in enumerate(size)]
    return [check_size(size, name)] * b.n


def resize_batch(b: Batch, sizes: Sequence[tuple[int, int]], interpolation: str) -> Batch:
    """Resize a validated batch; the result is a list when sizes differ."""
    mode = MODES[interpolation]
    if len(set(sizes)) > 1 and b.kind != "list":
        b = b.as_list()
    if b.dtype == np.uint8:
        ref, kernel = (lambda im, s: resize_u8(im, s[0], s[1], mode)), "resize_u8"
    else:
        ref, kernel = (lambda im, s: resize_f32(im, s[0], s[1], mode)), "resize_f32"
    if not b.gpu:
        return b.like([ref(im, s) for im, s in zip(b.images, sizes)])
    return apply(b, None, ("resize", kernel), shapes=sizes, args=(i32(mode),))


def resize(img: Any, size: Any, interpolation: str = "linear") -> Any:
    """Resize images to ``size`` = (h, w), or to one size per image (a list of (h, w)).

    img: uint8 (H, W, C) with C in {1, 3, 4}, (N, H, W, C), or a list of (H, W, C);
    float32 images (any channel count) with "linear" or "nearest". NumPy or CuPy.
    Returns the same form; a list when the output sizes differ.
    OpenCV: cv2.resize(img, (w, h), interpolation=INTER_LINEAR / INTER_NEAREST /
    INTER_AREA); the uint8 arithmetic is OpenCV's own (11-bit fixed-point bilinear, its
    2x and integer box paths, float fractional boxes), so results are bit-exact.
    """
    interpolation = check_choice(interpolation, "interpolation", MODES)
    b = as_batch(img, "img", channels=None, dtype=None)
    if b.dtype == np.uint8:
        if b.channels not in (1, 3, 4):
            fail("img", "1, 3 or 4 channels for uint8 images", f"{b.channels} channels")
    elif b.dtype == np.float32:
        if interpolation == "area":
            fail("interpolation", "'linear' or 'nearest' for float32 images", "'area'")
    else:
        fail("img", "dtype uint8 or float32", f"dtype {b.dtype}", TypeError)
    return resize_batch(b, target_sizes(size, b), interpolation).result()
