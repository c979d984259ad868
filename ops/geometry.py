"""Geometric ops: resize, letterbox, pad, crop, center_crop (cv2.resize, cv2.copyMakeBorder,
slicing). NumPy reference in ops/_resample.py, CUDA in kernels/resize.cu and pad.cu; NumPy
input runs OpenCV itself where it equals the reference (uint8 resize, letterbox, pad)."""
from __future__ import annotations

import math
from numbers import Real
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from . import _resample as rs
from ._batch import Batch, as_batch
from ._border import border_code, border_index
from ._dispatch import apply, fork, hwc
from ._gpu import i32, image_table, launch
from ._validate import check_choice, check_int, check_roi, check_size, describe, fail


def _sizes(size: Any, b: Batch, name: str = "size") -> list[tuple[int, int]]:
    """One (h, w) per image: a single size, or (list input only) a list of sizes."""
    if isinstance(size, list) and size and not isinstance(size[0], (int, np.integer)):
        if b.kind != "list":
            fail(name, "a single (height, width) for an array input", f"a list of {len(size)} sizes")
        if len(size) != b.n:
            fail(name, f"{b.n} sizes, one per image", f"{len(size)} sizes")
        return [check_size(s, f"{name}[{i}]") for i, s in enumerate(size)]
    return [check_size(size, name)] * b.n


def _value(value: Any, channels: int, name: str = "value") -> list[float]:
    """Scalar or per-channel constant -> one value per channel."""
    vals = list(value) if isinstance(value, (tuple, list)) else [value]
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(float(v)):
            fail(name, "a finite number or a tuple of numbers", describe(value), TypeError)
    if len(vals) == 1:
        vals = vals * channels
    if len(vals) != channels:
        fail(name, f"a scalar or {channels} values (one per channel)", f"{len(vals)} values")
    return [float(v) for v in vals]


def _interp(interpolation: str) -> int:
    return rs.INTERP[check_choice(interpolation, "interpolation", rs.INTERP)]


def resize(img: Any, size: Any, interpolation: str = "linear") -> Any:
    """Resize images like cv2.resize(img, (w, h), interpolation=INTER_LINEAR / INTER_NEAREST /
    INTER_AREA), reproducing OpenCV's arithmetic (checked with 4.10, 4.13, 4.14 and 5.0) (8-bit fixed point for uint8).

    img: uint8 (H, W[, C]) with C in 1, 3, 4, or float32 with any C; single, (N, H, W, C)
    batch or list. size: (h, w), or for a list input a list of (h, w), one per image
    (the output is then a list of differently sized images). Same dtype as the input.
    """
    b = as_batch(img, "img", channels=None, dtype=None)
    if b.dtype == np.uint8:
        if b.channels not in (1, 3, 4):
            fail("img", "1, 3 or 4 channels for uint8", f"{b.channels} channels")
    elif b.dtype != np.float32:
        fail("img", "dtype uint8 or float32", describe(b.images[0]), TypeError)
    interp = _interp(interpolation)
    sizes = _sizes(size, b)
    if b.kind != "list" and len(set(sizes)) > 1:
        fail("size", "one size for an array input", sizes)
    todo = iter(sizes)  # per image, in order: only one host implementation runs
    kernel = "resize_u8" if b.dtype == np.uint8 else "resize_f32"
    return apply(b, lambda im: rs.resize_image(im, *next(todo), interp), ("resize", kernel),
                 # cv2's float32 arithmetic differs from the reference in the last bits.
                 opencv=(lambda im: _resize_opencv(im, *next(todo), interp)) if b.dtype == np.uint8 else None,
                 shapes=sizes, args=(i32(interp),)).result()


def _resize_opencv(im: np.ndarray, h: int, w: int, interp: int) -> np.ndarray:
    # INTER_* codes are ops._resample.INTERP's values.
    return cv2.resize(im, (w, h), interpolation=interp)


def letterbox_geometry(h: int, w: int, H: int, W: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the content: scale r = min(H / h, W / w); new size
    floor(w * r + 0.5), floor(h * r + 0.5) clamped to [1, W] / [1, H]; offsets
    floor((W - nw) / 2), floor((H - nh) / 2) (extra pixel of odd padding right/bottom)."""
    r = min(H / h, W / w)
    nw = min(W, max(1, int(math.floor(w * r + 0.5))))
    nh = min(H, max(1, int(math.floor(h * r + 0.5))))
    return (W - nw) // 2, (H - nh) // 2, nw, nh


def letterbox(img: Any, size: Any, value: Any = 0) -> tuple[Any, Any]:
    """Aspect-preserving bilinear resize + constant padding to size (H, W), content centred.

    img: uint8 (H, W[, C]), C in 1, 3, 4; single, batch or list. value: scalar or one per
    channel. Returns (padded, roi): padded (H, W[, C]) / (N, H, W, C) / list of (H, W[, C])
    all of the same size; roi (x, y, w, h) of the content, one tuple for an array input
    (all images share a shape), a list of tuples for a list input.
    OpenCV: cv2.resize(INTER_LINEAR) to (w, h) of roi, then cv2.copyMakeBorder(BORDER_CONSTANT).
    On the GPU one fused kernel samples inside the roi and writes value outside.
    """
    b = as_batch(img, "img")
    H, W = check_size(size, "size")
    vals = _value(value, b.channels)
    rois = [letterbox_geometry(h, w, H, W) for h, w in b.shapes]
    out_roi = rois if b.kind == "list" else rois[0]

    def host(resize_image: Callable, pad_image: Callable) -> Batch:
        outs = []
        for im, (x, y, nw, nh) in zip(b.images, rois):
            r = hwc(resize_image(im, nh, nw, 1))
            outs.append(hwc(pad_image(r, y, H - nh - y, x, W - nw - x, "constant", vals)))
        return b.like(outs)

    def cuda() -> Batch:
        out = b.empty([(H, W)] * b.n)
        roi_dev = b.xp.asarray(np.array(rois, dtype=np.int32).T.copy())
        v = [np.int32(int(round(min(max(x, 0), 255)))) for x in vals + [0] * (4 - len(vals))]
        launch("resize", "letterbox_u8", b.n, H, W,
               (image_table(b, out), i32(b.n), i32(b.channels), i32(b.channels), roi_dev, *v))
        return out

    out = fork(b, cuda=cuda, reference=lambda: host(rs.resize_image, _pad_ref),
               opencv=lambda: host(_resize_opencv, _pad_opencv))
    return out.result(), out_roi


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
    """Pad images like cv2.copyMakeBorder(img, top, bottom, left, right, BORDER_CONSTANT /
    REPLICATE / REFLECT / REFLECT_101 / WRAP, value=value).

    img: uint8 or float32 (H, W[, C]), C in 1..4; single, batch or list. border: "constant",
    "replicate", "reflect", "reflect101", "wrap"; value: scalar or one per channel
    (constant only; rounded and saturated for uint8). Output (H+top+bottom, W+left+right).
    """
    b = as_batch(img, "img", channels=(1, 2, 3, 4), dtype=None)
    if b.dtype not in (np.uint8, np.float32):
        fail("img", "dtype uint8 or float32", describe(b.images[0]), TypeError)
    t, bo, le, ri = (check_int(v, n, 0) for v, n in
                     ((top, "top"), (bottom, "bottom"), (left, "left"), (right, "right")))
    code = border_code(border)
    vals = _value(value, b.channels)
    sizes = [(h + t + bo, w + le + ri) for h, w in b.shapes]
    kernel = "pad_u8" if b.dtype == np.uint8 else "pad_f32"
    v = [np.float32(x) for x in vals + [0.0] * (4 - len(vals))]
    return apply(b, lambda im: _pad_ref(im, t, bo, le, ri, border, vals), ("pad", kernel),
                 opencv=lambda im: _pad_opencv(im, t, bo, le, ri, border, vals),
                 shapes=sizes, args=(i32(t), i32(le), i32(code), *v)).result()


def crop(img: Any, roi: Any) -> Any:
    """Crop roi = (x, y, w, h) (must lie inside the image) by slicing: returns views.

    img: (H, W[, C]) or (N, H, W, C) -> (h, w[, C]) / (N, h, w, C); a list -> list, with one
    roi for all images or a list of rois (one per image). Any dtype; NumPy or CuPy.
    OpenCV/NumPy: img[y:y+h, x:x+w].
    """
    b = as_batch(img, "img", channels=None, dtype=None)
    if isinstance(roi, list) and roi and isinstance(roi[0], (tuple, list)):
        if b.kind != "list":
            fail("roi", "a single (x, y, w, h) for an array input", f"a list of {len(roi)} rois")
        if len(roi) != b.n:
            fail("roi", f"{b.n} rois, one per image", f"{len(roi)} rois")
        rois = [check_roi(r, f"roi[{i}]") for i, r in enumerate(roi)]
    else:
        rois = [check_roi(roi, "roi")] * b.n
    for i, ((x, y, w, h), (H, W)) in enumerate(zip(rois, b.shapes)):
        if x + w > W or y + h > H:
            fail("roi" if b.kind != "list" else f"roi (image {i})",
                 f"a region inside the {H}x{W} image (x + w <= {W}, y + h <= {H})", (x, y, w, h))
    if b.kind != "list":
        x, y, w, h = rois[0]
        return img[:, y:y + h, x:x + w] if img.ndim == 4 else img[y:y + h, x:x + w]
    return [im[y:y + h, x:x + w] for im, (x, y, w, h) in zip(img, rois)]


def center_crop(img: Any, size: Any) -> Any:
    """Central (h, w) region (torchvision CenterCrop without padding): offsets
    floor((H - h) / 2), floor((W - w) / 2); size must fit every image. Returns views."""
    b = as_batch(img, "img", channels=None, dtype=None)
    h, w = check_size(size, "size")
    rois = []
    for i, (H, W) in enumerate(b.shapes):
        if h > H or w > W:
            fail("size", f"at most the image size {(H, W)}", (h, w))
        rois.append(((W - w) // 2, (H - h) // 2, w, h))
    return crop(img, rois if b.kind == "list" else rois[0])
