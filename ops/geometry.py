"""Geometric ops: resize, letterbox, pad, crop, center_crop (cv2.resize, cv2.copyMakeBorder,
slicing). NumPy reference in ops/_resample.py, CUDA in kernels/resize.cu and pad.cu; NumPy
input runs OpenCV itself where it equals the reference (uint8 resize, letterbox, pad)."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from . import _resample as rs
from ._batch import Batch, as_batch
from ._border import border_code, border_index
from ._dispatch import call_implementation, restore_channel_axis, run_image_op
from ._launch import i32, image_table, launch
from ._validate import (check_choice, check_int, check_roi, check_size, describe, fail,
                        per_channel, per_image)


def _sizes(size: Any, b: Batch) -> list[tuple[int, int]]:
    """One (h, w) per image: a single size, or (list input only) a list of sizes."""
    return per_image(size, b.n, "size", check_size, "sizes",
                     None if b.kind == "list" else "a single (height, width)")


def _interp(interpolation: str) -> int:
    return rs.INTERP[check_choice(interpolation, "interpolation", rs.INTERP)]


def resize(img: Any, size: Any, interpolation: str = "linear") -> Any:
    """Resize images, reproducing cv2.resize's arithmetic (checked with OpenCV 4.10, 4.13, 4.14
    and 5.0; 8-bit fixed point for uint8).

    OpenCV: ``cv2.resize(img, (w, h), interpolation=INTER_LINEAR / INTER_NEAREST / INTER_AREA)``;
    CV-CUDA: ``cvcuda.resize``.

    Args:
        img: uint8 (H, W[, C]) with C in 1, 3, 4, or float32 with any C; a single image, an
            (N, H, W, C) batch or a list of images; NumPy, CuPy or HostArray.
        size: (h, w), or for a list input a list of (h, w), one per image.
        interpolation: "linear", "nearest" or "area".
    Returns:
        The resized images in the input's form and dtype: (h, w[, C]), (N, h, w, C) or a
        list (of differently sized images when sizes differ).
    Raises:
        TypeError: an argument of the wrong type or dtype.
        ValueError: a bad shape, channel count, size or interpolation.
    """
    b = as_batch(img, "img", channels=None, dtype=None)
    if b.dtype == np.uint8:
        if b.channels not in (1, 3, 4):
            fail("img", "1, 3 or 4 channels for uint8", f"{b.channels} channels")
    elif b.dtype != np.float32:
        fail("img", "dtype uint8 or float32", describe(b.images[0]), TypeError)
    return resize_batch(b, _sizes(size, b), interpolation).unwrap()


def resize_batch(b: Batch, sizes: list[tuple[int, int]], interpolation: str) -> Batch:
    """resize() of a validated Batch (uint8 with 1, 3 or 4 channels, or float32) to one
    (h, w) per image, as a Batch: for ops that resize their own intermediates."""
    interp = _interp(interpolation)
    todo = iter(sizes)  # per image, in order: only one host implementation runs
    kernel = "resize_u8" if b.dtype == np.uint8 else "resize_f32"
    # cv2's float32 arithmetic differs from the reference in the last bits: uint8 only.
    opencv = (lambda im: _resize_opencv(im, *next(todo), interp)) if b.dtype == np.uint8 else None
    return run_image_op(b, lambda im: rs.resize_image(im, *next(todo), interp), ("resize", kernel),
                        opencv=opencv, shapes=sizes, args=(i32(interp),))


def _resize_opencv(im: np.ndarray, h: int, w: int, interp: int) -> np.ndarray:
    # INTER_* codes are ops._resample.INTERP's values.
    return cv2.resize(im, (w, h), interpolation=interp)


def letterbox_geometry(h: int, w: int, H: int, W: int) -> tuple[int, int, int, int]:
    """The content rectangle of an (h, w) image letterboxed into (H, W).

    Scale r = min(H / h, W / w); new size floor(w * r + 0.5), floor(h * r + 0.5) clamped to
    [1, W] / [1, H]; offsets floor((W - nw) / 2), floor((H - nh) / 2) (the extra pixel of odd
    padding goes right/bottom). OpenCV: no single call (the arithmetic of common letterbox code).

    Args:
        h, w: the image's size; H, W: the output's size (all > 0).
    Returns:
        (x, y, w, h) of the content in the output, ints.
    Raises:
        ZeroDivisionError: h or w is 0.
    """
    r = min(H / h, W / w)
    nw = min(W, max(1, int(math.floor(w * r + 0.5))))
    nh = min(H, max(1, int(math.floor(h * r + 0.5))))
    return (W - nw) // 2, (H - nh) // 2, nw, nh


def letterbox(img: Any, size: Any, value: Any = 0) -> tuple[Any, Any]:
    """Aspect-preserving bilinear resize + constant padding to (H, W), content centred.

    OpenCV: ``cv2.resize(INTER_LINEAR)`` to the roi's (w, h), then
    ``cv2.copyMakeBorder(BORDER_CONSTANT, value)``; the GPU runs one fused kernel (samples
    inside the roi, value outside).

    Args:
        img: uint8 (H, W[, C]), C in 1, 3, 4; single, (N, H, W, C) batch or list.
        size: (H, W) of the output.
        value: padding, a scalar or one per channel.
    Returns:
        (padded, roi): padded (H, W[, C]) / (N, H, W, C) / list of (H, W[, C]), uint8; roi the
        content's (x, y, w, h) (letterbox_geometry): one tuple for an array input, a list of
        tuples for a list input.
    Raises:
        TypeError / ValueError: a bad image, size or value.
    """
    b = as_batch(img, "img")
    H, W = check_size(size, "size")
    vals = per_channel(value, b.channels, "value")
    rois = [letterbox_geometry(h, w, H, W) for h, w in b.shapes]
    out_roi = rois if b.kind == "list" else rois[0]

    def host(resize_image: Callable, pad_image: Callable) -> Batch:
        outs = []
        for im, (x, y, nw, nh) in zip(b.images, rois):
            r = restore_channel_axis(resize_image(im, nh, nw, 1))
            outs.append(restore_channel_axis(
                pad_image(r, y, H - nh - y, x, W - nw - x, "constant", vals)))
        return b.with_images(outs)

    def cuda() -> Batch:
        out = b.empty([(H, W)] * b.n)
        roi_dev = b.xp.asarray(np.array(rois, dtype=np.int32).T.copy())
        v = [np.int32(int(round(min(max(x, 0), 255)))) for x in vals + [0] * (4 - len(vals))]
        launch("resize", "letterbox_u8", b.n, H, W,
               (image_table(b, out), i32(b.n), i32(b.channels), i32(b.channels), roi_dev, *v))
        return out

    out = call_implementation(b, cuda=cuda, reference=lambda: host(rs.resize_image, _pad_ref),
                              opencv=lambda: host(_resize_opencv, _pad_opencv))
    return out.unwrap(), out_roi


def _pad_ref(im: np.ndarray, top: int, bottom: int, left: int, right: int, border: str,
             vals: Sequence[float]) -> np.ndarray:
    h, w, c = im.shape
    ys = border_index(np.arange(-top, h + bottom), h, border)
    xs = border_index(np.arange(-left, w + right), w, border)
    out = im[np.maximum(ys, 0)][:, np.maximum(xs, 0)]
    if border == "constant":
        const = np.array(vals, dtype=np.float64)
        if im.dtype == np.uint8:
            const = np.clip(np.rint(const), 0, 255)
        out = np.where(((ys < 0)[:, None] | (xs < 0)[None, :])[..., None],
                       const.astype(im.dtype), out)
    return np.ascontiguousarray(out)


def _pad_opencv(im: np.ndarray, top: int, bottom: int, left: int, right: int, border: str,
                vals: Sequence[float]) -> np.ndarray:
    # cv2 rounds and saturates the value for uint8 as _pad_ref does (half to even).
    return cv2.copyMakeBorder(im, top, bottom, left, right, border_code(border), value=list(vals))


def pad(img: Any, top: int, bottom: int, left: int, right: int, border: str = "constant",
        value: Any = 0) -> Any:
    """Pad images with a border.

    OpenCV: ``cv2.copyMakeBorder(img, top, bottom, left, right, BORDER_CONSTANT / REPLICATE /
    REFLECT / REFLECT_101 / WRAP, value=value)``; CV-CUDA: ``cvcuda.copymakeborder``.

    Args:
        img: uint8 or float32 (H, W[, C]), C in 1..4; single, (N, H, W, C) batch or list.
        top, bottom, left, right: ints >= 0.
        border: "constant", "replicate", "reflect", "reflect101" or "wrap".
        value: a scalar or one per channel (constant only; rounded and saturated for uint8).
    Returns:
        (H + top + bottom, W + left + right[, C]) images in the input's form and dtype.
    Raises:
        TypeError / ValueError: a bad image, width, border or value.
    """
    b = as_batch(img, "img", channels=(1, 2, 3, 4), dtype=None)
    if b.dtype not in (np.uint8, np.float32):
        fail("img", "dtype uint8 or float32", describe(b.images[0]), TypeError)
    t, bo, le, ri = (check_int(v, n, 0) for v, n in
                     ((top, "top"), (bottom, "bottom"), (left, "left"), (right, "right")))
    code = border_code(border)
    vals = per_channel(value, b.channels, "value")
    sizes = [(h + t + bo, w + le + ri) for h, w in b.shapes]
    kernel = "pad_u8" if b.dtype == np.uint8 else "pad_f32"
    v = [np.float32(x) for x in vals + [0.0] * (4 - len(vals))]
    return run_image_op(b, lambda im: _pad_ref(im, t, bo, le, ri, border, vals), ("pad", kernel),
                 opencv=lambda im: _pad_opencv(im, t, bo, le, ri, border, vals),
                        shapes=sizes, args=(i32(t), i32(le), i32(code), *v)).unwrap()


def crop(img: Any, roi: Any) -> Any:
    """Crop a region by slicing: returns views, no copy.

    OpenCV/NumPy: ``img[y:y + h, x:x + w]``; CV-CUDA: ``cvcuda.customcrop``.

    Args:
        img: any dtype; (H, W[, C]), (N, H, W, C) or a list of images; NumPy or CuPy.
        roi: (x, y, w, h) inside every image, or for a list input a list of rois, one per image.
    Returns:
        (h, w[, C]) / (N, h, w, C) views, or a list of views.
    Raises:
        TypeError / ValueError: a bad image or a roi outside the image.
    """
    b = as_batch(img, "img", channels=None, dtype=None)
    rois = per_image(roi, b.n, "roi", check_roi, "rois",
                     None if b.kind == "list" else "a single (x, y, w, h)")
    for i, ((x, y, w, h), (H, W)) in enumerate(zip(rois, b.shapes)):
        if x + w > W or y + h > H:
            fail("roi" if b.kind != "list" else f"roi (image {i})",
                 f"a region inside the {H}x{W} image (x + w <= {W}, y + h <= {H})", (x, y, w, h))
    if b.kind != "list":
        x, y, w, h = rois[0]
        return img[:, y:y + h, x:x + w] if img.ndim == 4 else img[y:y + h, x:x + w]
    return [im[y:y + h, x:x + w] for im, (x, y, w, h) in zip(img, rois)]


def center_crop(img: Any, size: Any) -> Any:
    """The central (h, w) region, as views (torchvision CenterCrop without padding).

    Offsets floor((H - h) / 2), floor((W - w) / 2). OpenCV/NumPy: the matching slice.

    Args:
        img: as crop's.
        size: (h, w), at most every image's size.
    Returns:
        (h, w[, C]) / (N, h, w, C) views, or a list of views.
    Raises:
        TypeError / ValueError: a bad image or a size larger than an image.
    """
    b = as_batch(img, "img", channels=None, dtype=None)
    h, w = check_size(size, "size")
    rois = []
    for i, (H, W) in enumerate(b.shapes):
        if h > H or w > W:
            fail("size", f"at most the image size {(H, W)}", (h, w))
        rois.append(((W - w) // 2, (H - h) // 2, w, h))
    return crop(img, rois if b.kind == "list" else rois[0])
