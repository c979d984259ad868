"""Image files <-> pixels: JPEG, PNG and WebP decoded to RGB, RGB images and masks encoded.

Unlike the other ops, a file is host bytes wherever it is decoded, so the memory of the
*pixels* picks the implementation: ``decode(..., on_device=True)`` and ``encode`` of CuPy
images run nvImageCodec on the GPU (ops/_nvimgcodec.py), NumPy the CPU path with OpenCV
(libjpeg-turbo, libpng, libwebp), which defines the semantics (docs/ops.md, Codecs):

- the result is RGB uint8 (H, W, 3): alpha is dropped (not blended), grayscale and palette
  images are expanded, 16-bit PNGs keep their high byte, CMYK/YCCK JPEGs are converted;
- the EXIF orientation is applied, so a phone photo comes out upright;
- ``probe`` reads a file's format and size from its header alone, so a caller can refuse a
  decompression bomb (a small file declaring a huge image) before a pixel is allocated.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _nvimgcodec, codec_cv
from ._codec_headers import (EXTENSIONS, FORMATS, MAX_JPEG_SCANS, CodecError, FileInfo,
                             file_bytes, probe, sniff)
from ._dispatch import call_implementation

__all__ = ["EXTENSIONS", "FORMATS", "MAX_JPEG_SCANS", "CodecError", "FileInfo", "decode",
           "encode", "probe", "sniff"]


def decode(files: Sequence[Any], on_device: bool = False, max_side: int | None = None,
           return_errors: bool = False) -> list:
    """JPEG/PNG/WebP files -> RGB images, upright (EXIF orientation applied); each header is
    probed first (probe), so a bad file or a decompression bomb is refused before decoding.

    OpenCV: ``cv2.cvtColor(cv2.imdecode(f, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)`` (the CPU
    path, codec_cv.cv_decode); on the device nvImageCodec with the same semantics.

    Args:
        files: bytes or 1-D uint8 arrays (NumPy, or CuPy: read back), one per file.
        on_device: decode to CuPy arrays on the current device (nvImageCodec); else NumPy.
        max_side: refuse a file whose header declares a larger side.
        return_errors: put each bad file's CodecError in its place instead of raising.
    Returns:
        A list, one per file: (H, W, 3) uint8 RGB (CuPy if on_device, else NumPy), or with
        return_errors a CodecError for a bad file (the others are decoded all the same).
    Raises:
        CodecError: a bad file, naming its item (without return_errors).
    """
    data = [file_bytes(f) for f in files]
    out: list = [None] * len(files)
    infos: dict[int, FileInfo] = {}
    for k, b in enumerate(data):
        try:
            infos[k] = probe(b, max_side)
        except CodecError as e:
            out[k] = e
    todo = sorted(infos)
    if on_device:
        images = _nvimgcodec.decode([data[k] for k in todo], [infos[k] for k in todo])
    else:
        images = [codec_cv.cv_decode(np.frombuffer(data[k], np.uint8)) for k in todo]
    for k, img in zip(todo, images):
        info = infos[k]
        if img is None:
            img = CodecError(f"corrupt {info.format.upper()} data (the decoder refused it)")
        elif sorted(img.shape[:2]) != sorted((info.height, info.width)):
            img = CodecError(f"decoded {img.shape[1]}x{img.shape[0]}, but the header declares "
                             f"{info.width}x{info.height}")
        out[k] = img
    if not return_errors:
        for k, x in enumerate(out):
            if isinstance(x, CodecError):
                raise CodecError(f"item {k}: {x}")
    return out


def encode(images: Any, format: str = "jpeg", quality: int = 90) -> list[np.ndarray]:
    """RGB images or masks -> image files.

    OpenCV: ``cv2.imencode`` of the BGR image with IMWRITE_JPEG_QUALITY /
    IMWRITE_PNG_COMPRESSION / IMWRITE_WEBP_QUALITY (codec_cv.cv_encode); CuPy images are
    encoded by nvImageCodec on their device with the same settings.

    Args:
        images: uint8 (H, W, 3) RGB or (H, W) masks, as an (N, ...) batch or a list; NumPy or
            CuPy.
        format: "jpeg" (4:2:0 chroma), "png" (lossless, zlib level codec_cv.PNG_LEVEL; masks
            without row filters) or "webp" (lossy).
        quality: 1..100 (JPEG and WebP).
    Returns:
        A list of files, each a 1-D uint8 NumPy array on the host.
    Raises:
        ValueError: a bad format, quality or image.
    """
    if format not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality: expected an integer in [1, 100], got {quality!r}")
    items = list(images)
    for k, im in enumerate(items):
        if im.dtype != np.uint8 or not (im.ndim == 2 or (im.ndim == 3 and im.shape[2] == 3)):
            raise ValueError(f"images[{k}]: expected (H, W, 3) RGB or (H, W) uint8, got dtype "
                             f"{im.dtype} shape {tuple(im.shape)}")
    if not items:
        return []

    # OpenCV is the codecs' reference: there is no NumPy one.
    return call_implementation(
        items[0], cuda=lambda: _nvimgcodec.encode(items, format, int(quality)),
        reference=lambda: [codec_cv.cv_encode(np.asarray(im), format, int(quality)) for im in items])
