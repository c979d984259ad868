"""Colour conversion (cv2.cvtColor)."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ._batch import as_batch
from ._dispatch import run_image_op
from ._launch import i32
from ._validate import check_choice

_CODES = {"rgb2bgr": 0, "bgr2rgb": 0, "rgb2gray": 1, "bgr2gray": 2}
# cv::cvtColor's 8-bit luma: 0.299, 0.587, 0.114 in 15-bit fixed point (bit-exact with
# OpenCV 4.13; the older 14-bit table differs in some pixels: docs/ops.md, cvt_color).
_GRAY_RGB = np.array([9798, 19235, 3735], dtype=np.int32)

# (code, input channels) -> cv2's code; alpha is dropped as in the reference.
_CV_CODES = {("rgb2bgr", 3): cv2.COLOR_RGB2BGR, ("rgb2bgr", 4): cv2.COLOR_RGBA2BGR,
             ("bgr2rgb", 3): cv2.COLOR_BGR2RGB, ("bgr2rgb", 4): cv2.COLOR_BGRA2RGB,
             ("rgb2gray", 3): cv2.COLOR_RGB2GRAY, ("rgb2gray", 4): cv2.COLOR_RGBA2GRAY,
             ("bgr2gray", 3): cv2.COLOR_BGR2GRAY, ("bgr2gray", 4): cv2.COLOR_BGRA2GRAY}


def _reference(im: np.ndarray, code: str) -> np.ndarray:
    if _CODES[code] == 0:
        return np.ascontiguousarray(im[:, :, 2::-1])
    w = _GRAY_RGB if code == "rgb2gray" else _GRAY_RGB[::-1]
    y = (im[:, :, :3].astype(np.int32) @ w + (1 << 14)) >> 15
    return y.astype(np.uint8)[:, :, None]


def cvt_color(img: Any, code: str) -> Any:
    """Convert the colour space of uint8 images with 3 or 4 channels (alpha is dropped).

    OpenCV: ``cv2.cvtColor`` with COLOR_RGB2BGR, COLOR_BGR2RGB, COLOR_RGB2GRAY,
    COLOR_BGR2GRAY (the RGBA/BGRA variants for 4 channels); CV-CUDA: ``cvcuda.cvtcolor``.

    Args:
        img: uint8 (H, W, C), (N, H, W, C) or a list of (H, W, C), C in 3, 4; NumPy or CuPy.
        code: "rgb2bgr", "bgr2rgb" (-> 3 channels), "rgb2gray", "bgr2gray" (-> 1 channel, kept
            as an axis: (..., H, W, 1)).
    Returns:
        uint8 images in the input's form.
    Raises:
        TypeError / ValueError: a bad image or code.
    """
    code = check_choice(code, "code", _CODES)
    b = as_batch(img, "img", channels=(3, 4))
    out_c = 3 if _CODES[code] == 0 else 1
    return run_image_op(b, lambda im: _reference(im, code), ("color", "cvt_color"),
                        opencv=lambda im: cv2.cvtColor(im, _CV_CODES[code, im.shape[2]]),
                        channels=out_c, args=(i32(_CODES[code]),)).unwrap()
