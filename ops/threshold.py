"""Binary threshold of uint8 masks (cv2.threshold, THRESH_BINARY)."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ._batch import as_batch
from ._dispatch import run_image_op
from ._launch import i32
from ._validate import check_int, fail


def threshold(mask: Any, cut: int) -> Any:
    """255 where mask >= cut, else 0: a soft mask made binary.

    OpenCV: ``cv2.threshold(mask, cut - 1, 255, cv2.THRESH_BINARY)`` (bit-exact); CV-CUDA:
    ``cvcuda.threshold`` with THRESH_BINARY.

    Args:
        mask: uint8 (H, W), (N, H, W) or a list of (H, W); NumPy or CuPy.
        cut: int, 1 <= cut <= 255.
    Returns:
        uint8 masks of 0 and 255 in the input's form, new arrays.
    Raises:
        TypeError / ValueError: a bad mask or cut.
    """
    cut = check_int(cut, "cut")
    if not 1 <= cut <= 255:
        fail("cut", "an integer in 1..255", cut)
    b = as_batch(mask, "mask", mask=True)
    return run_image_op(
        b, lambda im: np.where(im >= cut, 255, 0).astype(np.uint8), ("filter", "threshold"),
        opencv=lambda im: cv2.threshold(im, cut - 1, 255, cv2.THRESH_BINARY)[1],
        args=(i32(cut),)).unwrap()
