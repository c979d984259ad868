"""NumPy reference of cv2.resize (OpenCV 4.13 arithmetic), shared by resize, letterbox
and tensor_to_mask. kernels/resample.cuh mirrors every function here line by line.

Per image the path is chosen as cv::hal::resize does: same size -> copy; "nearest";
exact integer downscale with INTER_AREA (or exact 2x with INTER_LINEAR) -> area fast;
other INTER_AREA downscale -> area weights; else bilinear taps (INTER_AREA upscale uses
OpenCV's special "area mode" taps). uint8 bilinear uses OpenCV's fixed point:
11-bit coefficients, int horizontal sums, vertical ((b0*(S0>>4))>>16 + (b1*(S1>>4))>>16 + 2)>>2
(the SIMD formula that OpenCV 4.13 applies to every pixel).
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

INTERP = {"nearest": 0, "linear": 1, "area": 3}  # cv2.INTER_* values
MODE_COPY, MODE_NEAREST, MODE_LINEAR, MODE_AREA_LINEAR, MODE_AREA_FAST, MODE_AREA = range(6)
DBL_EPSILON = np.finfo(np.float64).eps
F32 = np.float32


def choose_mode(sh: int, sw: int, dh: int, dw: int, interp: int) -> tuple[int, int, int]:
    """(mode, kx, ky) for one image; kx, ky: integer factors for the area fast path."""
    if (sh, sw) == (dh, dw):
        return MODE_COPY, 1, 1
    if interp == 0:
        return MODE_NEAREST, 1, 1
    scale_x, scale_y = 1.0 / (dw / sw), 1.0 / (dh / sh)
    ix, iy = int(np.rint(scale_x)), int(np.rint(scale_y))
    fast = abs(scale_x - ix) < DBL_EPSILON and abs(scale_y - iy) < DBL_EPSILON
    if interp == 1 and fast and ix == 2 and iy == 2:
        interp = 3
    if interp == 3 and scale_x >= 1 and scale_y >= 1:
        return (MODE_AREA_FAST if fast else MODE_AREA), ix, iy
    return (MODE_AREA_LINEAR if interp == 3 else MODE_LINEAR), 1, 1


def linear_taps(src: int, dst: int, area: bool, clamp: bool):
    """OpenCV's bilinear taps along one axis: (i0, i1, f) with weights (1 - f, f).

    clamp=True is the x axis (coefficients reset at the borders), False the y axis
    (raw coefficients, only the row indices clamped)."""
    inv = dst / src
    scale = 1.0 / inv
    d = np.arange(dst, dtype=np.float64)
    if not area:
        f = ((d + 0.5) * scale - 0.5).astype(F32)
        s = np.floor(f).astype(np.int64)
        f = (f - s.astype(F32)).astype(F32)
    else:
        s = np.floor(d * scale).astype(np.int64)
        f = ((d + 1) - (s + 1) * inv).astype(F32)
        f = np.where(f <= 0, F32(0), f - np.floor(f)).astype(F32)
    if clamp:
        f = np.where((s < 0) | (s >= src - 1), F32(0), f).astype(F32)
        s = np.clip(s, 0, src - 1)
    return np.clip(s, 0, src - 1), np.clip(s + 1, 0, src - 1), f


def fixed(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """saturate_cast<short>(w * 2048) of both weights."""
    return (np.rint((F32(1) - f) * F32(2048)).astype(np.int64),
            np.rint(f * F32(2048)).astype(np.int64))


def area_taps(src: int, dst: int):
    """computeResizeAreaTab as padded (dst, K) index / weight tables (weight 0 = no tap)."""
    scale = 1.0 / (dst / src)   # OpenCV passes scale_x = 1 / inv_scale_x
    rows = []
    for dx in range(dst):
        fsx1 = dx * scale
        fsx2 = fsx1 + scale
        cell = min(scale, src - fsx1)
        sx1, sx2 = int(np.ceil(fsx1)), int(np.floor(fsx2))
        sx2 = min(sx2, src - 1)
        sx1 = min(sx1, sx2)
        taps = []
        if sx1 - fsx1 > 1e-3:
            taps.append((sx1 - 1, F32((sx1 - fsx1) / cell)))
        taps += [(sx, F32(1.0 / cell)) for sx in range(sx1, sx2)]
        if fsx2 - sx2 > 1e-3:
            taps.append((sx2, F32(min(min(fsx2 - sx2, 1.0), cell) / cell)))
        rows.append(taps)
    k = max(len(t) for t in rows)
    idx = np.zeros((dst, k), np.int64)
    w = np.zeros((dst, k), F32)
    for i, t in enumerate(rows):
        for j, (s, a) in enumerate(t):
            idx[i, j], w[i, j] = s, a
    return idx, w


def resize_image(im: np.ndarray, dh: int, dw: int, interp: int) -> np.ndarray:
    """cv2.resize of one (H, W, C) uint8 or float32 image to (dh, dw)."""
    sh, sw, c = im.shape
    mode, kx, ky = choose_mode(sh, sw, dh, dw, interp)
    u8 = im.dtype == np.uint8
    if mode == MODE_COPY:
        return im.copy()
    if mode == MODE_NEAREST:
        xs = np.minimum(np.floor(np.arange(dw) * (1.0 / (dw / sw))).astype(np.int64), sw - 1)
        ys = np.minimum(np.floor(np.arange(dh) * (1.0 / (dh / sh))).astype(np.int64), sh - 1)
        return im[ys][:, xs].copy()
    if mode == MODE_AREA_FAST:
        s = im[:dh * ky, :dw * kx].reshape(dh, ky, dw, kx, c)
        if u8:
            acc = np.zeros((dh, dw, c), np.int64)
            for j in range(ky):
                for i in range(kx):
                    acc += s[:, j, :, i]
            if kx == 2 and ky == 2:
                return ((acc + 2) >> 2).astype(np.uint8)
            v = np.rint(acc.astype(F32) * F32(1.0 / (kx * ky)))
            return np.clip(v, 0, 255).astype(np.uint8)
        acc = np.zeros((dh, dw, c), F32)
        for j in range(ky):
            for i in range(kx):
                acc = acc + s[:, j, :, i]
        return (acc * F32(1.0 / (kx * ky))).astype(F32)
    if mode == MODE_AREA:
        xi, xw = area_taps(sw, dw)
        yi, yw = area_taps(sh, dh)
        src = im.astype(F32)
        buf = np.zeros((sh, dw, c), F32)
        for k in range(xi.shape[1]):
            buf = buf + src[:, xi[:, k]] * xw[None, :, k, None]
        acc = np.zeros((dh, dw, c), F32)
        for k in range(yi.shape[1]):
            acc = acc + buf[yi[:, k]] * yw[:, k, None, None]
        if u8:
            return np.clip(np.rint(acc), 0, 255).astype(np.uint8)
        return acc
    area = mode == MODE_AREA_LINEAR
    x0, x1, fx = linear_taps(sw, dw, area, True)
    y0, y1, fy = linear_taps(sh, dh, area, False)
    if u8:
        a0, a1 = fixed(fx)
        b0, b1 = fixed(fy)
        s = im.astype(np.int64)
        h = s[:, x0] * a0[None, :, None] + s[:, x1] * a1[None, :, None]
        b0, b1 = b0[:, None, None], b1[:, None, None]
        v = (((b0 * (h[y0] >> 4)) >> 16) + ((b1 * (h[y1] >> 4)) >> 16) + 2) >> 2
        return np.clip(v, 0, 255).astype(np.uint8)
    src = im.astype(F32)
    h = src[:, x0] * (F32(1) - fx)[None, :, None] + src[:, x1] * fx[None, :, None]
    return (h[y0] * (F32(1) - fy)[:, None, None] + h[y1] * fy[:, None, None]).astype(F32)



# ---- the float32 bilinear resize plane by plane, for the host paths -------------------
# The same float32 operations per element as resize_image's MODE_LINEAR (a row pass
# h[x] = s[x0] (1 - fx) + s[x1] fx on the source rows, then h[y0] (1 - fy) + h[y1] fy), without
# its channel-last gathers, in chunks of output rows that stay in cache: the host paths of
# ops.guided_filter and ops.tensor_to_mask (tests: bit for bit against resize_image).

CHUNK = 1 << 16  # output elements per chunk of rows


def row_pass(planes: list[np.ndarray], dw: int) -> np.ndarray:
    """resize_image(linear)'s horizontal pass of float32 (h, w) planes to (P, h, dw): the
    vertical pass's chunks (row_chunks, lerp_rows) on each transposed plane, transposed back
    (cv2.transpose: a copy, faster than gathering columns), in buffers shared by the planes."""
    h, w = planes[0].shape
    chunks = row_chunks(w, dw, h, clamp=True)
    out = np.empty((len(planes), h, dw), F32)
    t = np.empty((w, h), F32)
    cols = np.empty((dw, h), F32)
    tmp = np.empty((max(c[1] for c in chunks), h), F32)
    for plane, dst in zip(planes, out):
        cv2.transpose(plane, dst=t)
        for c in chunks:
            lerp_rows(t, c, cols[c[0]], tmp[:c[1]])
        cv2.transpose(cols, dst=dst)
    return out


def _progressions(i0: np.ndarray, i1: np.ndarray, src: int) -> list | None:
    """The output positions 0..n-1 of one axis's taps (i0, i1) as a few (out, in0, in1)
    slices, each out an arithmetic progression whose i0 and i1 are too: for n / src = p / q
    in lowest terms, phase j's positions j, j + p, ... step q in the source except where the
    border clamps them. None when that takes many slices (p large, or taps not periodic)."""
    n = len(i0)
    g = math.gcd(n, src)
    p, q = n // g, src // g
    if p > 32:
        return None
    runs = []
    for j in range(min(p, n)):
        a0, a1 = i0[j::p], i1[j::p]
        brk = np.flatnonzero((np.diff(a0) != q) | (np.diff(a1) != q)) + 1
        edges = [0, *brk.tolist(), len(a0)]
        for a, b in zip(edges[:-1], edges[1:]):
            runs.append((slice(j + p * a, j + p * (b - 1) + 1, p), b - a,
                         slice(int(a0[a]), int(a0[a]) + q * (b - a - 1) + 1, q),
                         slice(int(a1[a]), int(a1[a]) + q * (b - a - 1) + 1, q)))
    return runs if len(runs) <= 3 * p else None


def _part(sl: slice, k0: int, k1: int) -> slice:
    """Elements k0..k1-1 of the progression sl."""
    return slice(sl.start + sl.step * k0, sl.start + sl.step * (k1 - 1) + 1, sl.step)


@functools.lru_cache(maxsize=64)
def row_chunks(sh: int, dh: int, dw: int, clamp: bool = False) -> list[tuple]:
    """resize_image(linear)'s vertical taps from sh to dh rows as chunks (rows, n, in0, in1,
    w0, w1): ``rows`` the chunk's n output rows (a slice, a progression when the factor is a
    small ratio p / q, consecutive rows otherwise), in0 / in1 their source rows (slices, or
    index arrays), w0 = 1 - fy and w1 = fy as (n, 1) columns; about CHUNK elements each."""
    y0, y1, fy = linear_taps(sh, dh, False, clamp)
    w0, w1 = (F32(1) - fy)[:, None], fy[:, None]
    m = max(1, CHUNK // dw)
    runs = _progressions(y0, y1, sh)
    if runs is None:
        runs = [(slice(0, dh, 1), dh, y0, y1)]
    out = []
    for rows, n, in0, in1 in runs:
        for k in range(0, n, m):
            k1 = min(n, k + m)
            part = _part(rows, k, k1)
            a, b = w0[part], w1[part]
            if (a == a[0]).all() and (b == b[0]).all():  # one weight (exact factors): a scalar
                a, b = a[0, 0], b[0, 0]                   # multiplies faster than a column
            out.append((part, k1 - k,
                        _part(in0, k, k1) if isinstance(in0, slice) else in0[k:k1],
                        _part(in1, k, k1) if isinstance(in1, slice) else in1[k:k1], a, b))
    return out


def lerp_rows(rows: np.ndarray, chunk: tuple, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """One row_chunks chunk of the vertical pass from the row-passed source ``rows``:
    out = rows[in0] (1 - fy) + rows[in1] fy (out and tmp: (n, dw) float32 buffers)."""
    _, _, in0, in1, w0, w1 = chunk
    np.multiply(rows[in0], w0, out=out)
    np.multiply(rows[in1], w1, out=tmp)
    out += tmp
    return out
