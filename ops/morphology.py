"""Binary/grey morphology with a rectangular element (mask denoise)."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ._batch import Batch, as_batch
from ._dispatch import call_implementation, map_images
from ._launch import i32, image_table, launch
from ._validate import check_choice, check_ksize

_OPS = {"erode": ("erode",), "dilate": ("dilate",), "open": ("erode", "dilate"),
        "close": ("dilate", "erode")}
_CV_OPS = {"erode": cv2.MORPH_ERODE, "dilate": cv2.MORPH_DILATE, "open": cv2.MORPH_OPEN,
           "close": cv2.MORPH_CLOSE}


def _pass_ref(im: np.ndarray, radius: int, horizontal: bool, dilate: bool) -> np.ndarray:
    """min/max over the in-image part of a (2 radius + 1) window along x (horizontal) or y."""
    if radius == 0:
        return im
    axis = 1 if horizontal else 0  # of an (H, W, C) image
    fill = 0 if dilate else 255  # OpenCV's default border never wins
    pad = [(0, 0)] * im.ndim
    pad[axis] = (radius, radius)
    ext = np.pad(im, pad, constant_values=fill)
    n = im.shape[axis]
    f = np.maximum if dilate else np.minimum
    out = np.take(ext, np.arange(0, n), axis=axis)
    for k in range(1, 2 * radius + 1):
        out = f(out, np.take(ext, np.arange(k, k + n), axis=axis))
    return out


def _morph_cuda(b: Batch, kh: int, kw: int, dilate: bool) -> Batch:
    """One erosion or dilation: two separable launches (along x, then y)."""
    h, w = b.max_hw()
    tmp, out = b.empty(), b.empty()
    for src, dst, radius, horizontal in ((b, tmp, kw // 2, True), (tmp, out, kh // 2, False)):
        launch("filter", "morph_pass", b.n, h, w, (image_table(src, dst), i32(b.n),
               i32(b.channels), i32(b.channels), i32(radius), i32(int(horizontal)),
               i32(int(dilate))))
    return out


def morphology(mask: Any, op: str, ksize: Any) -> Any:
    """Erode, dilate, open or close masks with a rectangle; bit-exact with OpenCV.

    OpenCV: ``cv2.erode`` / ``cv2.dilate`` / ``cv2.morphologyEx(MORPH_OPEN / MORPH_CLOSE)``
    with ``np.ones((kh, kw))`` and the default border (pixels outside never win); CV-CUDA:
    ``cvcuda.morphology``.

    Args:
        mask: uint8 (H, W), (N, H, W) or a list of (H, W); NumPy or CuPy.
        op: "erode", "dilate", "open" or "close".
        ksize: odd int > 0 (a square) or (kh, kw).
    Returns:
        uint8 masks in the input's form and shapes.
    Raises:
        TypeError / ValueError: a bad mask, op or ksize.
    """
    op = check_choice(op, "op", _OPS)
    kh, kw = check_ksize(ksize)
    b = as_batch(mask, "mask", mask=True)
    dilates = [step == "dilate" for step in _OPS[op]]

    def cuda() -> Batch:
        out = b
        for dilate in dilates:
            out = _morph_cuda(out, kh, kw, dilate)
        return out

    def reference(im: np.ndarray) -> np.ndarray:
        out = im
        for dilate in dilates:
            out = _pass_ref(_pass_ref(out, kw // 2, True, dilate), kh // 2, False, dilate)
        # A 1x1 element passes the image through: the result is still a new array, as
        # OpenCV's and the kernel's are (Batch.with_images hands one image back as it is).
        return out.copy() if out is im else out

    element = np.ones((kh, kw), np.uint8)  # cv2's default border never wins, as above
    return call_implementation(
        b, cuda=cuda, reference=lambda: map_images(b, reference),
        opencv=lambda: map_images(b, lambda im: cv2.morphologyEx(im, _CV_OPS[op], element))
    ).unwrap()
