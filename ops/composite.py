"""Alpha compositing by a uint8 mask."""
from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from ._batch import Batch, as_batch, same_form
from ._dispatch import call_implementation, restore_channel_axis, run_image_op
from ._validate import describe, fail


def _reference(fg: np.ndarray, bg: np.ndarray, m: np.ndarray) -> np.ndarray:
    a = m.astype(np.uint16)
    v = fg * a                      # fg * m + bg * (255 - m) <= 65025: uint16 holds it
    v += bg * (255 - a)
    w = v.astype(np.uint32)
    # (w + 127) // 255 without a division: (w + 128) * 257 >> 16 equals it for every
    # w <= 65025 (checked exhaustively in the tests).
    w += 128
    w *= 257
    w >>= 16
    return w.astype(np.uint8)


# Up to this fraction of soft mask pixels (neither 0 nor 255) only those are blended, on
# their own; above it the whole image is (docs/performance.md).
SOFT_FRACTION = 0.25


def _opencv(fg: np.ndarray, bg: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The reference's values, by the cheapest exact route. Where the mask is 0 or 255 the
    result is bg or fg as they are: a masked copy. A matte is soft only in a band along its
    edges, so when few pixels are soft, just those are gathered and blended by the
    reference's formula; else the whole image in OpenCV's multithreaded arithmetic: uint16
    products, then v / 255 rounded (convertScaleAbs rounds to nearest; v / 255 is never a
    tie), equal to the reference for all 256^3 (fg, bg, m) (tests/ops/test_composite.py)."""
    soft = cv2.inRange(m, 1, 254)
    count = cv2.countNonZero(soft)
    if count <= SOFT_FRACTION * m.size:
        out = bg.copy()
        cv2.copyTo(fg, m, out)
        if count:
            c = fg.shape[2]
            at = np.flatnonzero(soft)
            flat = out.reshape(-1, c)
            flat[at] = _reference(fg.reshape(-1, c)[at], bg.reshape(-1, c)[at],
                                  m.reshape(-1, 1)[at])
        return out
    a = cv2.merge([m] * fg.shape[2]) if fg.shape[2] > 1 else m
    v = cv2.multiply(fg, a, dtype=cv2.CV_16U)
    v = cv2.add(v, cv2.multiply(bg, cv2.bitwise_not(a), dtype=cv2.CV_16U))
    return cv2.convertScaleAbs(v, alpha=1 / 255)


def _drop_channel_axis(mask: Any, fg: Any) -> Any:
    """A mask with a trailing 1-channel axis (like its image's channel axis) -> without;
    a mask whose rank fits neither form of its image is refused here, by name."""
    if isinstance(mask, (list, tuple)):
        return [m[..., 0] if getattr(m, "ndim", 0) == 3 and m.shape[-1] == 1 else m for m in mask]
    if not hasattr(mask, "ndim"):
        return mask  # as_batch names what it is
    fg_ndim, ndim = getattr(fg, "ndim", 0), mask.ndim
    if ndim == fg_ndim and mask.shape[-1] == 1:
        return mask[..., 0]
    if fg_ndim == 3 and ndim != 2:
        fail("mask", "(H, W) or (H, W, 1) for one image", describe(mask))
    if fg_ndim == 4 and ndim != 3:
        fail("mask", "(N, H, W) or (N, H, W, 1) for a batch", describe(mask))
    return mask


def composite(fg: Any, bg: Any, mask: Any) -> Any:
    """Blend two images by a mask: 255 takes fg, 0 takes bg.

    out = (fg * m + bg * (255 - m) + 127) // 255, the exactly rounded value of
    (fg * m + bg * (255 - m)) / 255 (a /255 quotient is never exactly k + 0.5). OpenCV has no
    single call: ``cv2.blendLinear`` with weights m/255 and 1 - m/255, rounded to nearest.

    Args:
        fg, bg: uint8 images of the same form and shapes: (H, W, C), (N, H, W, C) or a list.
        mask: uint8 (H, W) per image: (H, W), (N, H, W) or a list, with or without a trailing
            1-channel axis.
    Returns:
        uint8 images in fg's form.
    Raises:
        TypeError / ValueError: arguments of other forms, shapes, dtypes or memories.
    """
    f = as_batch(fg, "fg")
    b = as_batch(bg, "bg")
    same_form(f, b, "fg", "bg")
    m = as_batch(_drop_channel_axis(mask, fg), "mask", mask=True)
    same_form(f, m, "fg", "mask", channels=False)

    def host(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> Batch:
        return f.with_images([restore_channel_axis(fn(x, y, z))
                              for x, y, z in zip(f.images, b.images, m.images)])

    return call_implementation(
        f, cuda=lambda: run_image_op(f, None, ("filter", "composite"), extra=(b, m)),
        reference=lambda: host(_reference), opencv=lambda: host(_opencv)).unwrap()
