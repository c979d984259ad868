"""NumPy twin of kernels/resize_sample.cuh: cv::resize's taps, paths and arithmetic.

Every formula here is evaluated exactly as the kernel (and OpenCV) evaluates it: the same
float32/float64 steps, the same 11-bit weights, the same rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEAREST, LINEAR, AREA = 0, 1, 2
MODES = {"nearest": NEAREST, "linear": LINEAR, "area": AREA}
_DBL_EPSILON = np.finfo(np.float64).eps


def inv_ratio(src: int, dst: int) -> float:
    return 1.0 / (dst / src)


def linear_taps(src: int, dst: int, area_mode: bool = False, clamp_weight: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: (s0, s1, f, w0, w1) — source taps, float weight of s1 and the
    11-bit fixed-point weights. See linear_taps in resize_sample.cuh."""
    scale = inv_ratio(src, dst)
    d = np.arange(dst, dtype=np.float64)
    if not area_mode:
        f = ((d + 0.5) * scale - 0.5).astype(np.float32)
        s = np.floor(f).astype(np.int64)
        f = (f - s.astype(np.float32)).astype(np.float32)
    else:
        inv = dst / src
        s = np.floor(d * scale).astype(np.int64)
        f = ((d + 1) - (s + 1) * inv).astype(np.float32)
        f = np.where(f <= 0, np.float32(0), f - np.floor(f)).astype(np.float32)
    if clamp_weight:
        f = np.where((s < 0) | (s >= src - 1), np.float32(0), f).astype(np.float32)
        s0 = np.clip(s, 0, src - 1)
        s1 = np.minimum(s0 + 1, src - 1)
    else:
        s0, s1 = np.clip(s, 0, src - 1), np.clip(s + 1, 0, src - 1)
    w0 = np.rint((np.float32(1) - f) * np.float32(2048)).astype(np.int32)
    w1 = np.rint(f * np.float32(2048)).astype(np.int32)
    return s0, s1, f, w0, w1


def nearest_index(src: int, dst: int) -> np.ndarray:
    return np.minimum(np.floor(np.arange(dst) * inv_ratio(src, dst)).astype(np.int64), src - 1)


@dataclass(frozen=True)
class Plan:
    path: str          # "nearest", "linear", "area_fast", "area"
    area_taps: bool = False
    kx: int = 1
    ky: int = 1


def plan_resize(mode: int, sh: int, sw: int, dh: int, dw: int) -> Plan:
    """Which of cv::resize's paths a uint8 resize takes (plan_resize in the kernel)."""
    if mode == NEAREST:
        return Plan("nearest")
    sx, sy = inv_ratio(sw, dw), inv_ratio(sh, dh)
    ix, iy = int(np.rint(sx)), int(np.rint(sy))
    fast = abs(sx - ix) < _DBL_EPSILON and abs(sy - iy) < _DBL_EPSILON
    if mode == LINEAR and fast and ix == 2 and iy == 2:
        mode = AREA  # OpenCV: a 2x bilinear downscale is the 2x2 box average
    if mode == AREA and sx >= 1 and sy >= 1:
        return Plan("area_fast", kx=ix, ky=iy) if fast else Plan("area")
    return Plan("linear", area_taps=mode == AREA)


def area_table(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """(dst, K) source indices and float32 weights of each output's fractional box, in
    OpenCV's accumulation order; unused slots have weight 0 (adding 0 changes nothing)."""
    scale = inv_ratio(src, dst)
    rows = []
    for d in range(dst):
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, src - f1)
        s1, s2 = int(np.ceil(f1)), int(np.floor(f2))
        s2 = min(s2, src - 1)
        s1 = min(s1, s2)
        taps = []
        if s1 - f1 > 1e-3:
            taps.append((s1 - 1, np.float32((s1 - f1) / cell)))
        taps += [(s, np.float32(1.0 / cell)) for s in range(s1, s2)]
        if f2 - s2 > 1e-3:
            taps.append((s2, np.float32(min(min(f2 - s2, 1.0), cell) / cell)))
        rows.append(taps)
    k = max(len(r) for r in rows)
    idx = np.zeros((dst, k), np.int64)
    w = np.zeros((dst, k), np.float32)
    for d, taps in enumerate(rows):
        for j, (s, a) in enumerate(taps):
            idx[d, j], w[d, j] = s, a
    return idx, w


def vlinear_u8(h0: np.ndarray, h1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """cv::resize's 8-bit vertical step (its SIMD formula, which it uses on every column)."""
    return ((((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2).astype(np.uint8)


def resize_u8(im: np.ndarray, dh: int, dw: int, mode: int) -> np.ndarray:
    """Resize one (H, W, C) uint8 image as cv::resize does."""
    sh, sw, c = im.shape
    p = plan_resize(mode, sh, sw, dh, dw)
    if p.path == "nearest":
        return im[nearest_index(sh, dh)][:, nearest_index(sw, dw)]
    if p.path == "linear":
        x0, x1, _, a0, a1 = linear_taps(sw, dw, p.area_taps, True)
        y0, y1, _, b0, b1 = linear_taps(sh, dh, p.area_taps, False)
        s = im.astype(np.int32)
        a0, a1 = a0[None, :, None], a1[None, :, None]
        h0 = s[y0][:, x0] * a0 + s[y0][:, x1] * a1
        h1 = s[y1][:, x0] * a0 + s[y1][:, x1] * a1
        return vlinear_u8(h0, h1, b0[:, None, None], b1[:, None, None])
    if p.path == "area_fast":
        sums = im[:dh * p.ky, :dw * p.kx].astype(np.int32).reshape(
            dh, p.ky, dw, p.kx, c).sum(axis=(1, 3))
        if (p.kx, p.ky) == (2, 2):
            return ((sums + 2) >> 2).astype(np.uint8)
        v = sums.astype(np.float32) * (np.float32(1) / np.float32(p.kx * p.ky))
        return np.clip(np.rint(v), 0, 255).astype(np.uint8)
    xi, xw = area_table(sw, dw)
    yi, yw = area_table(sh, dh)
    src = im.astype(np.float32)
    out = np.zeros((dh, dw, c), np.float32)
    for j in range(yi.shape[1]):
        rows = src[yi[:, j]]
        b = np.zeros((dh, dw, c), np.float32)
        for i in range(xi.shape[1]):
            b += rows[:, xi[:, i]] * xw[None, :, i, None]
        out += yw[:, j, None, None] * b
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def resize_f32(im: np.ndarray, dh: int, dw: int, mode: int) -> np.ndarray:
    """Resize one (H, W, C) float32 image (nearest or bilinear with float taps)."""
    sh, sw, _ = im.shape
    if mode == NEAREST:
        return im[nearest_index(sh, dh)][:, nearest_index(sw, dw)]
    x0, x1, fx, _, _ = linear_taps(sw, dw, False, True)
    y0, y1, fy, _, _ = linear_taps(sh, dh, False, False)
    ax0, ax1 = (np.float32(1) - fx)[None, :, None], fx[None, :, None]
    h0 = im[y0][:, x0] * ax0 + im[y0][:, x1] * ax1
    h1 = im[y1][:, x0] * ax0 + im[y1][:, x1] * ax1
    return (h0 * (np.float32(1) - fy)[:, None, None] + h1 * fy[:, None, None]).astype(np.float32)
