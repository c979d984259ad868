"""What each op should give, computed by OpenCV called directly (or, where OpenCV has no
single call, by its closest equivalent): one function per op, shared by the op tests.

Each takes and returns the op's own layouts: (H, W, C) images keep a 1-channel axis that
OpenCV drops, (ksize, sigma) and sizes are given in the op's (h, w) order.
"""
from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

INTER = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA}
BORDER = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
          "reflect": cv2.BORDER_REFLECT, "reflect101": cv2.BORDER_REFLECT_101,
          "wrap": cv2.BORDER_WRAP}
# gaussian_blur takes every border but wrap.
BLUR_BORDER = {k: v for k, v in BORDER.items() if k != "wrap"}
MORPH = {"erode": cv2.MORPH_ERODE, "dilate": cv2.MORPH_DILATE, "open": cv2.MORPH_OPEN,
         "close": cv2.MORPH_CLOSE}
COLOR = {"rgb2bgr": cv2.COLOR_RGB2BGR, "bgr2rgb": cv2.COLOR_BGR2RGB,
         "rgb2gray": cv2.COLOR_RGB2GRAY, "bgr2gray": cv2.COLOR_BGR2GRAY}


def _like(out: np.ndarray, img: np.ndarray) -> np.ndarray:
    """OpenCV's result with the 1-channel axis of ``img`` put back."""
    return out.reshape(*out.shape[:2], *img.shape[2:]) if out.ndim == 2 else out


def _pair(k: Any) -> tuple[int, int]:
    return (k, k) if isinstance(k, (int, np.integer)) else tuple(k)


def cv_resize(img: np.ndarray, size: tuple[int, int], interp: str = "linear") -> np.ndarray:
    """cv2.resize to size (h, w)."""
    h, w = size
    return _like(cv2.resize(img, (w, h), interpolation=INTER[interp]), img)


def cv_letterbox(img: np.ndarray, size: tuple[int, int], value: Any = 0
                 ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """cv2.resize (linear) to the documented content size, centred by
    cv2.copyMakeBorder(BORDER_CONSTANT): (padded, roi (x, y, w, h))."""
    H, W = size
    h, w = img.shape[:2]
    r = min(H / h, W / w)
    nw = min(W, max(1, math.floor(w * r + 0.5)))
    nh = min(H, max(1, math.floor(h * r + 0.5)))
    x, y = (W - nw) // 2, (H - nh) // 2
    return cv_pad(cv_resize(img, (nh, nw)), y, H - nh - y, x, W - nw - x, "constant", value), (x, y, nw, nh)


def cv_pad(img: np.ndarray, top: int, bottom: int, left: int, right: int, border: str = "constant",
           value: Any = 0) -> np.ndarray:
    """cv2.copyMakeBorder; value a scalar or one per channel."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,) * 4
    return _like(cv2.copyMakeBorder(img, top, bottom, left, right, BORDER[border],
                                    value=(vals + vals[-1:] * 4)[:4]), img)


def cv_crop(img: np.ndarray, roi: tuple[int, int, int, int]) -> np.ndarray:
    """cv2.getRectSubPix at the roi's centre (integer offsets: the pixels themselves), one
    channel at a time (it takes 1 or 3)."""
    x, y, w, h = roi
    centre = (x + (w - 1) / 2, y + (h - 1) / 2)
    planes = [cv2.getRectSubPix(np.ascontiguousarray(p), (w, h), centre) for p in cv2.split(img)]
    return _like(cv2.merge(planes), img) if img.ndim == 3 else planes[0]


def cv_center_crop(img: np.ndarray, size: Any) -> np.ndarray:
    h, w = _pair(size)
    H, W = img.shape[:2]
    return cv_crop(img, ((W - w) // 2, (H - h) // 2, w, h))


def cv_gaussian_blur(img: np.ndarray, ksize: Any, sigma: float, border: str = "reflect101") -> np.ndarray:
    """cv2.GaussianBlur with ksize (kh, kw) or an int."""
    kh, kw = _pair(ksize)
    return _like(cv2.GaussianBlur(img, (kw, kh), sigma, borderType=BORDER[border]), img)


def cv_composite(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The real-valued alpha blend in float64, rounded to nearest (OpenCV has no single
    call; cv2.blendLinear blends in float32)."""
    a = mask.astype(np.float64) / 255.0
    if a.ndim == fg.ndim and a.shape[-1] == 1 and fg.shape[-1] != 1:
        a = a[..., 0]
    if fg.ndim == a.ndim + 1:
        a = a[..., None]
    return np.rint(fg * a + bg * (1.0 - a)).astype(np.uint8)


def cv_blur_background(img: np.ndarray, mask: np.ndarray, sigma: float, downscale: int = 1) -> np.ndarray:
    """cv2.GaussianBlur(img, (0, 0), sigma) under the mask's blend; with downscale > 1 the
    blur at 1/downscale (cv2.resize area down, sigma / downscale, linear back)."""
    if downscale == 1:
        bg = cv_gaussian_blur(img, 0, sigma)
    else:
        h, w = img.shape[:2]
        small = cv_resize(img, (max(1, h // downscale), max(1, w // downscale)), "area")
        s = sigma / downscale
        bg = cv_resize(cv_gaussian_blur(small, 0 if s * 6 + 1 >= 3 else 3, s), (h, w), "linear")
    return cv_composite(img, bg, mask)


def cv_morphology(mask: np.ndarray, op: str, ksize: Any) -> np.ndarray:
    """cv2.erode / cv2.dilate / cv2.morphologyEx with a (kh, kw) rectangle of ones."""
    k = np.ones(_pair(ksize), np.uint8)
    if op == "erode":
        return cv2.erode(mask, k)
    if op == "dilate":
        return cv2.dilate(mask, k)
    return cv2.morphologyEx(mask, MORPH[op], k)


def cv_cvt_color(img: np.ndarray, code: str) -> np.ndarray:
    """cv2.cvtColor, the gray result with its channel axis."""
    out = cv2.cvtColor(img, COLOR[code])
    return out[..., None] if out.ndim == 2 else out


def cv_image_to_tensor(img: np.ndarray, mean: Any, std: float, scale: float = 1 / 255,
                       swap_rb: bool = False) -> np.ndarray:
    """cv2.dnn.blobFromImage(img, scale / std, mean / scale, swapRB) (scalar std), (1, C, H, W)
    float32."""
    c = 1 if img.ndim == 2 else img.shape[2]
    m = tuple(np.broadcast_to(np.asarray(mean, float), (c,)) / scale) + (0.0,) * (4 - c)
    return cv2.dnn.blobFromImage(img, scalefactor=scale / std, mean=m[:4], swapRB=swap_rb)


def cv_tensor_to_mask(t: np.ndarray, activation: str, channel: int, roi: tuple[int, int, int, int],
                      size: tuple[int, int], contrast: float = 1.0) -> np.ndarray:
    """One (K, h, w) tensor: the activation in float64, the roi, cv2.resize (linear) of the
    float32 probability to size (h, w), a contrast stretch around 0.5 (float64, clipped to
    0..1), rint(p * 255) in float32 as the op."""
    t = t.astype(np.float64)
    if activation == "sigmoid":
        p = 1 / (1 + np.exp(-t[channel]))
    elif activation == "softmax":
        e = np.exp(t - t.max(0))
        p = e[channel] / e.sum(0)
    elif activation == "argmax":
        p = (t.argmax(0) == channel).astype(float)
    else:
        p = np.clip(t[channel], 0, 1)
    x, y, w, h = roi
    p = cv_resize(np.ascontiguousarray(p[y:y + h, x:x + w].astype(np.float32)), size)
    if contrast != 1:
        p = np.clip((p.astype(np.float64) - 0.5) * contrast + 0.5, 0, 1).astype(np.float32)
    return np.clip(np.rint(p * np.float32(255)), 0, 255).astype(np.uint8)


def cv_joint_bilateral(src: np.ndarray, guide: np.ndarray, diameter: int, sigma_color: float,
                       sigma_space: float, border: str = "reflect101") -> np.ndarray:
    """cv2.ximgproc.jointBilateralFilter (opencv-contrib), in src's shape."""
    g = guide[..., 0] if guide.ndim == 3 and guide.shape[2] == 1 else guide
    s = src[..., 0] if src.ndim == 3 and src.shape[2] == 1 else src
    return _like(cv2.ximgproc.jointBilateralFilter(g.copy(), s, diameter, sigma_color,
                                                   sigma_space, borderType=BORDER[border]), src)


def cv_guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """cv2.ximgproc.guidedFilter (opencv-contrib), src's 1-channel axis kept."""
    return _like(cv2.ximgproc.guidedFilter(guide, src, radius, eps), src)
