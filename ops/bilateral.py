"""Joint bilateral filter: cv2.ximgproc.jointBilateralFilter, bit-exact for uint8 and float32."""
from __future__ import annotations

import functools
from typing import Any

import cv2
import numpy as np

from ._batch import Batch, allocate, as_batch, same_form
from ._border import border_code, border_index
from ._dispatch import call_implementation, restore_channel_axis
from ._gpu import device_constant
from ._launch import i32, image_table, launch
from ._validate import check_choice, check_int, check_real, describe, fail

_BORDERS = ("reflect101", "reflect", "replicate", "constant")
# OpenCV's float32 colour table: 4096 bins per guide channel over the guide's range.
_BINS_PER_CHANNEL = 1 << 12
_FLT_MAX = np.float32(np.finfo(np.float32).max)
_FLT_EPS = float(np.finfo(np.float32).eps)
REDUCE_THREADS = 256  # kernels/reduce.cu


def window_radius(diameter: int, sigma_space: float) -> int:
    """The window radius OpenCV derives: diameter // 2, or round(1.5 sigma_space) (half to
    even, as cvRound) for diameter <= 0; at least 1.

    Args:
        diameter: int; sigma_space: float (<= 0 counts as 1, as in OpenCV).
    Returns:
        The radius, an int >= 1.
    Raises:
        Nothing for finite sigma_space.
    """
    ss = sigma_space if sigma_space > 0 else 1.0
    r = diameter // 2 if diameter > 0 else int(np.rint(ss * 1.5))
    return max(r, 1)


@functools.lru_cache(maxsize=64)
def _space(radius: int, sigma_space: float) -> tuple[np.ndarray, np.ndarray]:
    """The taps of the circular window, row by row as OpenCV orders them: (dy, dx) int32
    pairs, and each tap's weight exp(-r^2 / (2 sigma_space^2)) as float32."""
    coeff = -0.5 / (sigma_space * sigma_space)
    offs, weights = [], []
    for i in range(-radius, radius + 1):
        for j in range(-radius, radius + 1):
            r2 = i * i + j * j
            if r2 > radius * radius:
                continue
            offs.append((i, j))
            weights.append(np.exp(r2 * coeff))
    return np.array(offs, np.int32), np.array(weights, np.float64).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _color_lut_u8(guide_channels: int, sigma_color: float) -> np.ndarray:
    """float32 exp(-d^2 / (2 sigma_color^2)) for every L1 distance d of uint8 guide colours,
    0 .. 255 * channels (OpenCV's table stops one short of the largest; 5.0's results are
    those of the full table)."""
    d = np.arange(255 * guide_channels + 1, dtype=np.float64)
    return np.exp(d * d * (-0.5 / (sigma_color * sigma_color))).astype(np.float32)


def _color_lut_f32(lo: float, hi: float, guide_channels: int, sigma_color: float
                   ) -> tuple[np.ndarray, np.float32]:
    """OpenCV's float32 table over a guide's [lo, hi] range and its scale (the table
    position of an L1 distance), in the kernel's arithmetic."""
    bins = _BINS_PER_CHANNEL * guide_channels
    crange = max(np.float32(0.01), np.float32(np.float32(hi - lo) * np.float32(guide_channels)))
    scale = np.float32(np.float32(bins) / crange)
    v = (np.arange(bins + 2, dtype=np.float32) / scale).astype(np.float64)
    return np.exp(v * v * (-0.5 / (sigma_color * sigma_color))).astype(np.float32), scale


def _guide_range(g: np.ndarray) -> tuple[float, float]:
    """min, max over a float32 guide, NaN ignored (the kernel's fminf / fmaxf)."""
    flat = g.ravel()
    return (float(np.fmin.reduce(flat, initial=_FLT_MAX)),
            float(np.fmax.reduce(flat, initial=-_FLT_MAX)))


def _reference(src: np.ndarray, guide: np.ndarray, radius: int, sc: float, ss: float,
               border: str) -> np.ndarray:
    """One (H, W, C) image: the taps in OpenCV's order, each over the whole image at once."""
    h, w = src.shape[:2]
    offs, sw = _space(radius, ss)
    ys = border_index(np.arange(-radius, h + radius), h, border)
    xs = border_index(np.arange(-radius, w + radius), w, border)
    outside = (ys[:, None] < 0) | (xs[None, :] < 0)

    def padded(a: np.ndarray) -> np.ndarray:  # copyMakeBorder, the constant border 0
        p = a[np.maximum(ys, 0)][:, np.maximum(xs, 0)]
        p[outside] = 0
        return p

    is_u8 = src.dtype == np.uint8
    work = np.int32 if is_u8 else np.float32
    gp, sp = padded(guide).astype(work), padded(src).astype(np.float32)
    g0 = guide.astype(work)
    if is_u8:
        lut, scale, top = _color_lut_u8(guide.shape[2], sc), None, 0
    else:
        lo, hi = _guide_range(guide)
        lut, scale = _color_lut_f32(lo, hi, guide.shape[2], sc)
        top = len(lut) - 2
    acc = np.zeros(src.shape, np.float32)
    wsum = np.zeros((h, w), np.float32)
    for (dy, dx), weight in zip(offs, sw):
        window = (slice(radius + dy, radius + dy + h), slice(radius + dx, radius + dx + w))
        diff = np.abs(g0 - gp[window])
        if is_u8:
            wt = weight * lut[diff.sum(axis=2)]
        else:
            a = diff[..., 0].copy()
            for c in range(1, diff.shape[2]):
                a += diff[..., c]
            a *= scale
            a = np.where(a < np.float32(top + 1), a, np.float32(top + 1))
            idx = np.minimum(a.astype(np.int32), top)
            a -= idx.astype(np.float32)
            wt = weight * (lut[idx] + a * (lut[idx + 1] - lut[idx]))
        acc += wt[..., None] * sp[window]
        wsum += wt
    out = acc * (np.float32(1) / wsum)[..., None]
    if not is_u8:
        return out
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _opencv_identical(guide: np.ndarray, border: str) -> bool:
    """Whether cv2.ximgproc gives the reference's result for this image: always for uint8;
    for float32 not for a flat guide (OpenCV switches to a square Gaussian), a constant
    border (its table lookup runs past the end) or a non-finite guide."""
    if not hasattr(cv2, "ximgproc"):
        return False  # a build without the contrib modules
    if guide.dtype == np.uint8:
        return True
    if border == "constant" or not np.isfinite(guide).all():
        return False
    return float(guide.max()) - float(guide.min()) >= _FLT_EPS


def _opencv(src: np.ndarray, guide: np.ndarray, radius: int, sc: float, ss: float,
            border: str) -> np.ndarray:
    if not _opencv_identical(guide, border):
        return _reference(src, guide, radius, sc, ss, border)
    s = src[..., 0] if src.shape[2] == 1 else src
    g = guide[..., 0] if guide.shape[2] == 1 else guide
    if np.may_share_memory(s, g):
        g = g.copy()  # one array as both: OpenCV would run the plain bilateral filter
    return restore_channel_axis(cv2.ximgproc.jointBilateralFilter(
        g, s, 2 * radius + 1, sc, ss, borderType=border_code(border)))


def _cuda(b: Batch, g: Batch, radius: int, sc: float, ss: float, border: str) -> Batch:
    offs, sw = _space(radius, ss)
    out = b.empty()
    h, w = out.max_hw()
    code = i32(border_code(border))
    table = image_table(b, out, g)
    common = (table, i32(b.n), i32(b.channels), i32(b.channels), i32(g.channels),
              device_constant(b.xp, offs.ravel()), device_constant(b.xp, sw), i32(len(sw)))
    if b.dtype == np.uint8:
        lut = device_constant(b.xp, _color_lut_u8(g.channels, sc))
        launch("bilateral", "jbf_u8", b.n, h, w, (*common, lut, code))
        return out
    bins = _BINS_PER_CHANNEL * g.channels
    ranges = allocate(b.xp, (b.n, 2), np.float32)
    launch("reduce", "minmax_f32", b.n, 1, REDUCE_THREADS,
           (image_table(g), i32(g.n), i32(g.channels), ranges), block=(REDUCE_THREADS, 1, 1))
    luts = allocate(b.xp, (b.n, bins + 2), np.float32)
    scales = allocate(b.xp, (b.n,), np.float32)
    launch("bilateral", "jbf_lut_f32", b.n, 1, bins + 2,
           (ranges, luts, scales, i32(b.n), i32(g.channels), i32(bins),
            np.float64(-0.5 / (sc * sc))), block=(256, 1, 1))
    launch("bilateral", "jbf_f32", b.n, h, w, (*common, luts, scales, i32(bins), code))
    return out


def joint_bilateral_filter(src: Any, guide: Any, diameter: int, sigma_color: float,
                           sigma_space: float, border: str = "reflect101") -> Any:
    """Edge-preserving smoothing of ``src`` along the edges of ``guide``.

    out(p) = sum_q w(p, q) src(q) / sum_q w(p, q) over the circular window |q - p| <= r, with
    w = exp(-|q - p|^2 / (2 sigma_space^2)) * exp(-L1(guide(q) - guide(p))^2 / (2 sigma_color^2)),
    computed as OpenCV computes it: a float32 colour table (for float32 guides 4096 bins per
    channel over the image's guide range, interpolated), float32 sums in its tap order, the
    quotient as sum * (1 / weights), uint8 rounded half to even. Pixels outside the image
    come from ``border`` (constant: 0 in both src and guide).

    OpenCV: ``cv2.ximgproc.jointBilateralFilter(guide, src, diameter, sigma_color,
    sigma_space, borderType=...)`` (bit-exact; docs/ops.md says where float32 differs);
    CV-CUDA: ``cvcuda.joint_bilateral_filter(src, guide, diameter, sigma_color, sigma_space)``.

    Args:
        src: uint8 or float32 (H, W), (H, W, C), (N, H, W, C) or a list of them, C in 1, 3;
            NumPy or CuPy.
        guide: the same form, dtype and sizes as src, 1 or 3 channels (its own count).
        diameter: int; the window is 2 * (diameter // 2) + 1 wide, or for diameter <= 0
            derived from sigma_space (window_radius), at least 3.
        sigma_color: the colour sigma in guide values (uint8: 0..255); <= 0 counts as 1.
        sigma_space: the space sigma in pixels; <= 0 counts as 1.
        border: "reflect101" (default), "reflect", "replicate" or "constant".
    Returns:
        Filtered src, its dtype, form and shapes.
    Raises:
        TypeError / ValueError: a bad src, guide (form, dtype, sizes, memory), number or border.
    """
    border = check_choice(border, "border", _BORDERS)
    diameter = check_int(diameter, "diameter")
    sc = check_real(sigma_color, "sigma_color")
    ss = check_real(sigma_space, "sigma_space")
    sc, ss = (sc if sc > 0 else 1.0), (ss if ss > 0 else 1.0)
    b = as_batch(src, "src", channels=(1, 3), dtype=None)
    if b.dtype not in (np.uint8, np.float32):
        fail("src", "dtype uint8 or float32", describe(b.images[0]), TypeError)
    g = as_batch(guide, "guide", channels=(1, 3), dtype=b.dtype)
    same_form(b, g, "src", "guide", channels=False)
    radius = window_radius(diameter, ss)

    def host(fn: Any) -> Batch:
        return b.with_images([restore_channel_axis(fn(s, gi, radius, sc, ss, border))
                              for s, gi in zip(b.images, g.images)])

    return call_implementation(
        b, cuda=lambda: _cuda(b, g, radius, sc, ss, border),
        reference=lambda: host(_reference), opencv=lambda: host(_opencv)).unwrap()
