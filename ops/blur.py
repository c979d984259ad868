"""Gaussian blur (cv2.GaussianBlur, bit-exact for uint8) and background blur."""
from __future__ import annotations

import functools
import math
from typing import Any

import cv2
import numpy as np

from ._batch import Batch, as_batch
from ._border import border_code, border_index
from ._dispatch import call_implementation, map_images
from ._gpu import device_constant
from ._launch import i32, image_table, launch
from ._validate import check_choice, check_int, check_ksize, check_real, fail
from .composite import composite
from .geometry import resize

_BORDERS = ("reflect101", "reflect", "replicate", "constant")
# cv::getGaussianKernelBitExact's exact small kernels for sigma <= 0.
_SMALL = {1: [1.0], 3: [0.25, 0.5, 0.25], 5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
          7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125]}


def auto_ksize(sigma: float) -> int:
    """cv2.GaussianBlur's kernel size for ksize 0 and 8-bit images: round(6 sigma + 1) | 1.

    Args:
        sigma: float > 0.
    Returns:
        The odd kernel size, an int.
    Raises:
        OverflowError / ValueError: sigma infinite or NaN.
    """
    return int(np.rint(sigma * 3 * 2 + 1)) | 1


@functools.lru_cache(maxsize=64)
def gaussian_kernel_q8(ksize: int, sigma: float) -> tuple[int, ...]:
    """OpenCV's 8-bit Gaussian kernel: the exact kernel (cv::getGaussianKernelBitExact)
    quantised to 8 fraction bits with error diffusion, the centre taking the remainder so the
    taps sum to 256 (cv::getGaussianKernelFixedPoint_ED).

    Args:
        ksize: odd int > 0; sigma: float (<= 0: OpenCV's default for ksize).
    Returns:
        ksize int taps summing to 256, a tuple.
    Raises:
        Nothing for valid sizes.
    """
    if sigma <= 0 and ksize in _SMALL:
        exact = _SMALL[ksize]
    else:
        s = sigma if sigma > 0 else ksize * 0.15 + 0.35
        # A sigma so small that sigma^2 underflows gives OpenCV's delta kernel (exp(-inf)).
        scale2 = -0.5 * 0.25 / (s * s) if s * s > 0 else -math.inf
        half = (ksize - 1) // 2
        values = [math.exp((x * x) * scale2) if scale2 != -math.inf else 0.0
                  for x in range(1 - ksize, 1 - ksize + 2 * half, 2)]
        total = 2 * sum(values) + 1.0
        inv = 1.0 / total
        exact = [v * inv for v in values] + [inv] + [v * inv for v in reversed(values)]
    half = ksize // 2
    out = [0] * ksize
    err = 0.0
    for i in range(half):
        adj = exact[i] * 256 + err
        v = int(np.rint(adj))
        err = adj - v
        out[i] = out[ksize - 1 - i] = v
    out[half] = 256 - 2 * sum(out[:half])
    return tuple(out)


def _taps_1d(src: np.ndarray, k: tuple[int, ...], axis: int, border: str, dtype: Any) -> np.ndarray:
    """sum_j k[j] * src[border(i + j - r)] along axis, exactly in ``dtype`` (uint16 holds a
    row pass: <= 255 * 256; int32 a column pass: < 2^24). The kernel is symmetric, so
    mirrored taps share one multiply; the quantised tails are often 0 and skipped."""
    n, r = src.shape[axis], len(k) // 2
    idx = border_index(np.arange(-r, n + r), n, border)
    ext = np.take(src, np.maximum(idx, 0), axis=axis)
    if border == "constant":
        shape = [1] * src.ndim
        shape[axis] = len(idx)
        ext = ext * (idx >= 0).reshape(shape).astype(ext.dtype)

    def win(j: int) -> np.ndarray:
        sl = [slice(None)] * src.ndim
        sl[axis] = slice(j, j + n)
        return ext[tuple(sl)]

    acc = win(r).astype(dtype)
    acc *= k[r]
    tmp = np.empty_like(acc)
    for j in range(r):
        if k[j] == 0:
            continue
        np.add(win(j), win(len(k) - 1 - j), out=tmp, dtype=dtype)
        tmp *= k[j]
        acc += tmp
    return acc


def _gauss_ref(im: np.ndarray, kx: tuple[int, ...], ky: tuple[int, ...], border: str) -> np.ndarray:
    rows = _taps_1d(im, kx, 1, border, np.uint16)                  # Q8, <= 65280
    acc = _taps_1d(rows, ky, 0, border, np.int32)                  # Q16, < 2^24
    acc += 1 << 15
    acc >>= 16
    return acc.astype(np.uint8)


def _gauss_opencv(im: np.ndarray, kx: tuple[int, ...], ky: tuple[int, ...], border: str,
                  sigma: float) -> np.ndarray:
    # OpenCV derives the same taps from (ksize, sigma): its 8-bit path is the bit-exact one
    # gaussian_kernel_q8 reproduces.
    return cv2.GaussianBlur(im, (len(kx), len(ky)), sigmaX=sigma, sigmaY=sigma,
                            borderType=border_code(border))


def _gaussian_batch(b: Batch, ksize: tuple[int, int], sigma: float, border: str) -> Batch:
    kh, kw = ksize
    kx, ky = gaussian_kernel_q8(kw, sigma), gaussian_kernel_q8(kh, sigma)

    def cuda() -> Batch:
        tmp = b.empty(dtype=np.uint16)
        out = b.empty()
        h, w = b.max_hw()
        code = i32(border_code(border))
        launch("filter", "gauss_rows", b.n, h, w, (image_table(b, tmp), i32(b.n), i32(b.channels),
               i32(b.channels), device_constant(b.xp, np.array(kx, np.int32)), i32(len(kx)), code))
        launch("filter", "gauss_cols", b.n, h, w, (image_table(tmp, out), i32(b.n), i32(b.channels),
               i32(b.channels), device_constant(b.xp, np.array(ky, np.int32)), i32(len(ky)), code))
        return out

    return call_implementation(
        b, cuda=cuda, reference=lambda: map_images(b, lambda im: _gauss_ref(im, kx, ky, border)),
        opencv=lambda: map_images(b, lambda im: _gauss_opencv(im, kx, ky, border, sigma)))


def gaussian_blur(img: Any, ksize: Any, sigma: float, border: str = "reflect101") -> Any:
    """Gaussian blur of uint8 images, bit-exact with OpenCV.

    OpenCV: ``cv2.GaussianBlur(img, (kw, kh), sigma, borderType=...)``; CV-CUDA:
    ``cvcuda.gaussian``.

    Args:
        img: uint8 (H, W[, C]) with C in 1, 3, 4, (N, H, W, C) or a list; NumPy or CuPy.
        ksize: odd int > 0 or (kh, kw); 0 (or a 0 entry) derives it from sigma as OpenCV does
            for 8-bit images (auto_ksize).
        sigma: > 0, or <= 0 with ksize given (OpenCV's default sigma for that size).
        border: "reflect101" (default), "reflect", "replicate" or "constant".
    Returns:
        The blurred images, uint8, in the input's form and shapes.
    Raises:
        TypeError / ValueError: a bad image, ksize, sigma or border.
    """
    border = check_choice(border, "border", _BORDERS)
    sigma = check_real(sigma, "sigma")
    if isinstance(ksize, (int, np.integer)) and not isinstance(ksize, bool):
        ksize = (ksize, ksize)
    if isinstance(ksize, (tuple, list)) and any(isinstance(k, (int, np.integer)) and k == 0 for k in ksize):
        if sigma <= 0:
            fail("sigma", "a number > 0 when ksize is 0", sigma)
        ksize = tuple(auto_ksize(sigma) if k == 0 else k for k in ksize)
    kh, kw = check_ksize(ksize)
    return _gaussian_batch(as_batch(img, "img"), (kh, kw), sigma, border).unwrap()


def blur_background(img: Any, mask: Any, sigma: float, downscale: int = 1) -> Any:
    """Keep the foreground, blur the background: composite(img, gaussian_blur(img), mask).

    OpenCV: ``cv2.GaussianBlur(img, (0, 0), sigma)``, then composite's alpha blend.

    Args:
        img: uint8 (H, W, C) with C in 1, 3, 4, (N, H, W, C) or a list.
        mask: uint8 (H, W) per image, 255 = foreground (the forms composite takes).
        sigma: > 0, the blur strength in pixels of the input.
        downscale: int >= 1; > 1 blurs at 1/downscale resolution (area resize down, blur with
            sigma / downscale, linear resize back), as fast pipelines do.
    Returns:
        uint8 images in img's form and shapes.
    Raises:
        TypeError / ValueError: a bad image, mask, sigma or downscale.
    """
    sigma = check_real(sigma, "sigma", 0, exclusive=True)
    downscale = check_int(downscale, "downscale", 1)
    b = as_batch(img, "img")
    if downscale == 1:
        k = auto_ksize(sigma)
        blurred = _gaussian_batch(b, (k, k), sigma, "reflect101").unwrap()
    else:
        small = [(max(1, h // downscale), max(1, w // downscale)) for h, w in b.shapes]
        src = b.unwrap()
        lows = resize(src, small if b.kind == "list" else small[0], "area")
        s = sigma / downscale
        low_blur = gaussian_blur(lows, 0 if s * 6 + 1 >= 3 else 3, s)
        blurred = resize(low_blur, b.shapes if b.kind == "list" else b.shapes[0], "linear")
    return composite(src if downscale != 1 else b.unwrap(), blurred, mask)
