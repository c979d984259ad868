"""OpenCV's image codecs as ops.codec defines them: the CPU path of decode and encode, and
the fallback of the GPU path (ops/_nvimgcodec.py) for what nvImageCodec fails."""
from __future__ import annotations

import cv2
import numpy as np

from ._codec_headers import EXTENSIONS

# PNG's zlib level: 1 is the fastest, and masks (flat areas) compress well at it already.
PNG_LEVEL = 1


def cv_decode(buf: np.ndarray) -> np.ndarray | None:
    """OpenCV's RGB decode of one file, the codecs' CPU path.

    Args:
        buf: the file, a 1-D uint8 NumPy array.
    Returns:
        (H, W, 3) uint8 RGB, upright (EXIF orientation applied):
        ``cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)``;
        None for a file OpenCV refuses.
    Raises:
        Nothing: OpenCV's own errors (its size and format checks) become None, since either
        is the file's fault, not the batch's.
    """
    rgb = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV 5; the same pixels as BGR + swap
    try:
        if rgb is not None:
            return cv2.imdecode(buf, rgb)
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)



def cv_encode(img: np.ndarray, format: str, quality: int) -> np.ndarray:
    """One image as a file by OpenCV, the codecs' CPU path.

    Args:
        img: (H, W, 3) RGB or (H, W) uint8 NumPy image.
        format: "jpeg", "png" or "webp".
        quality: 1..100 (JPEG, WebP); PNG is lossless at zlib level PNG_LEVEL.
    Returns:
        The file, a 1-D uint8 NumPy array: ``cv2.imencode`` of the BGR image with
        IMWRITE_JPEG_QUALITY / IMWRITE_PNG_COMPRESSION (+ IMWRITE_PNG_FILTER_NONE for
        masks) / IMWRITE_WEBP_QUALITY.
    Raises:
        RuntimeError: OpenCV could not encode it.
    """
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    flags = {"jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality],
             "png": [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL],
             "webp": [cv2.IMWRITE_WEBP_QUALITY, quality]}[format]
    if format == "png" and img.ndim == 2:
        # A mask's rows repeat: PNG's row filters gain little size there and cost most of the
        # time (measured: docs/performance.md); photos keep them (much smaller with them).
        flags += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    ok, buf = cv2.imencode(EXTENSIONS[format], img, flags)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {img.shape} image as {format}")
    return buf.reshape(-1)
