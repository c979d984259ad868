"""Guided filter (He, Sun and Tang): cv2.ximgproc.guidedFilter's arithmetic.

The NumPy reference defines the semantics, step for step in float32 as OpenCV's
implementation (opencv_contrib modules/ximgproc/src/guided_filter.cpp) computes them; the
box means are OpenCV's boxFilter (BORDER_REFLECT, running sums in float64, bit-exact with
cv2.boxFilter), and var + eps is rounded as OpenCV's SSE loop and its scalar tail round it
(_variance). With a colour guide it equals cv2.ximgproc.guidedFilter bit for bit. With a
grey guide OpenCV takes SSE's approximate ``_mm_rcp_ps`` of var + eps (relative error up to
1.5 * 2^-12, CPU-dependent) in all but the last width % 4 columns, the reference the exact
1 / (var + eps): uint8 off by at most 1 in about 1e-4 of the values, float32 by < 1e-4
(measured: docs/ops.md, asserted: tests/ops/test_guided_filter.py). NumPy input runs
OpenCV where it gives the reference's values (_opencv); the CUDA kernel (kernels/guided.cu)
is the reference's arithmetic, bit for bit.

subsample > 1 is He and Sun's fast guided filter: the same coefficients computed on
INTER_AREA-shrunk images, resized back with ops.resize's float32 bilinear arithmetic (the
reference's resize on every host path, the resize kernel on the device), applied to the
full-resolution guide. OpenCV has no fast guided filter.
"""
from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from . import _resample as rs
from ._batch import Batch, as_batch, same_form
from ._border import border_index
from ._dispatch import call_implementation, restore_channel_axis
from .geometry import resize_batch
from ._launch import f32, i32, image_table, launch
from ._validate import check_int, check_real, fail

MAX_RADIUS = 1024
MAX_SUBSAMPLE = 16
# OpenCV's colour path: below this eps a singular 3x3 covariance (|det| < 1e-6) takes det 1.
_DET_EPS = 1e-2
# The upper triangle of the guide's covariance, in OpenCV's order (its getWalkPattern).
_PAIRS3 = ((0, 0), (0, 1), (0, 2), (2, 2), (1, 2), (1, 1))
_F32 = np.float32


# ---- the NumPy reference ---------------------------------------------------------------

def _box_means(planes: np.ndarray | list[np.ndarray], radius: int) -> np.ndarray:
    """The (2 radius + 1)^2 mean of each (H, W) plane of planes (P, H, W) float32 (an array
    or a list of planes), as
    cv2.boxFilter(CV_32F, normalize, BORDER_REFLECT) computes it: along each row a running
    sum in float64 (the first window summed left to right, then s += (in - out)), then down
    each column a running sum of those (S = rows 0..k-2; s0 = S + new row; mean =
    float32(s0 * (1 / k^2)); S = s0 - old row)."""
    planes = np.stack(planes)
    _, h, w = planes.shape
    k = 2 * radius + 1
    ext = planes[:, :, border_index(np.arange(-radius, w + radius), w, "reflect")].astype(np.float64)
    rows = np.empty(planes.shape, np.float64)
    s = ext[:, :, 0].copy()
    for j in range(1, k):
        s += ext[:, :, j]
    rows[:, :, 0] = s
    for x in range(1, w):
        s += ext[:, :, x + k - 1] - ext[:, :, x - 1]
        rows[:, :, x] = s
    ext = rows[:, border_index(np.arange(-radius, h + radius), h, "reflect")]
    out = np.empty(planes.shape, _F32)
    scale = 1.0 / (k * k)
    acc = np.zeros((planes.shape[0], w), np.float64)
    for j in range(k - 1):
        acc += ext[:, j]
    for y in range(h):
        s0 = acc + ext[:, y + k - 1]
        out[:, y] = s0 * scale
        acc = s0 - ext[:, y]
    return out


def _inverse3(c: dict, eps: float) -> dict:
    """OpenCV's inverse of the symmetric 3x3 covariance c[(i, j)] (i <= j): cofactors
    a00 * a11 - a01 * a10, det = c00 * i00 + c10 * i10 + c20 * i20 (left to right), each
    cofactor / det; below eps 1e-2 a |det| < 1e-6 becomes 1."""
    def cv(i: int, j: int) -> np.ndarray:
        return c[min(i, j), max(i, j)]

    inv = {}
    for k in range(3):
        for l in range(k + 1):
            inv[l, k] = (cv((k + 1) % 3, (l + 1) % 3) * cv((k + 2) % 3, (l + 2) % 3)
                         - cv((k + 1) % 3, (l + 2) % 3) * cv((k + 2) % 3, (l + 1) % 3))
    det = cv(0, 0) * inv[0, 0]
    det = det + cv(1, 0) * inv[0, 1]
    det = det + cv(2, 0) * inv[0, 2]
    if eps < _DET_EPS:
        det = np.where(np.abs(det) < _F32(1e-6), _F32(1), det)
    return {key: v / det for key, v in inv.items()}


def _variance(corr: np.ndarray, m: np.ndarray, e: np.float32) -> np.ndarray:
    """A diagonal entry of the guide's covariance plus eps, as OpenCV rounds it: its SSE
    loop takes (corr + eps) - m * m in each whole group of 4 columns, its scalar tail
    corr - (m * m - eps) in the last width % 4 columns."""
    w = corr.shape[-1]
    sq = m * m
    out = (corr + e) - sq
    tail = slice(w & ~3, w)
    out[:, tail] = corr[:, tail] - (sq[:, tail] - e)
    return out


def _coefficients(means: list[np.ndarray], gc: int, sc: int, eps: float) -> list[np.ndarray]:
    """The per-pixel linear model (a: sc x gc planes, then b: sc planes) from the box means
    of _products' planes, in OpenCV's order of float32 operations."""
    e = _F32(eps)
    mi, mp = means[:gc], means[gc:gc + sc]
    if gc == 1:
        inv = {(0, 0): _F32(1) / _variance(means[gc + sc], mi[0], e)}
        ncov = 1
    else:
        c = {}
        for n, (i, j) in enumerate(_PAIRS3):
            corr = means[gc + sc + n]
            c[i, j] = _variance(corr, mi[i], e) if i == j else corr - mi[i] * mi[j]
        inv = _inverse3(c, eps)
        ncov = 6
    cross = means[gc + sc + ncov:]
    out = []
    for s in range(sc):
        cov = [cross[s * gc + g] - mp[s] * mi[g] for g in range(gc)]
        for g in range(gc):
            a = inv[min(g, 0), max(g, 0)] * cov[0]
            for k in range(1, gc):
                a = a + inv[min(g, k), max(g, k)] * cov[k]
            out.append(a)
    for s in range(sc):
        b = mp[s]
        for g in range(gc):
            b = b - out[s * gc + g] * mi[g]
        out.append(b)
    return out


def _products(guide: np.ndarray, src: np.ndarray) -> list[np.ndarray]:
    """The planes whose box means the filter needs, float32 (H, W) each: the guide's
    channels, src's, the guide's covariance products (OpenCV's order), src x guide products."""
    g = [guide[:, :, c].astype(_F32) for c in range(guide.shape[2])]
    p = [src[:, :, c].astype(_F32) for c in range(src.shape[2])]
    pairs = ((0, 0),) if len(g) == 1 else _PAIRS3
    return [*g, *p, *(g[i] * g[j] for i, j in pairs),
            *(p[s] * g[c] for s in range(len(p)) for c in range(len(g)))]


def _round_u8(q: np.ndarray) -> np.ndarray:
    """float32 -> uint8: nearest, ties to even, saturated; NaN -> 0 (CUDA's __float2int_rn
    with a clamp)."""
    return np.clip(np.rint(np.nan_to_num(q, nan=0.0)), 0, 255).astype(np.uint8)


def _mean_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float,
                       box: Callable[[list[np.ndarray], int], list[np.ndarray]]) -> list[np.ndarray]:
    """The box means of the linear model, SC * GC + SC float32 (H, W) planes: mean(a) (src major),
    then mean(b), from one (H, W, GC) guide and (H, W, SC) src, with ``box`` for the box
    means (_box_means, or _cv_box_means: the same values)."""
    gc, sc = guide.shape[2], src.shape[2]
    return box(_coefficients(box(_products(guide, src), radius), gc, sc, eps), radius)


def _output(coef: list[np.ndarray], guide: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """q = mean(b) + sum_c mean(a_c) * I_c per src channel, left to right in float32, from
    coefficient planes (SC * GC + SC, H', W') and the (H, W, GC) guide, the planes first
    resized to (H, W) by _reference_linear where H', W' are smaller (subsample > 1);
    (H, W, SC) in ``dtype`` (uint8: _round_u8)."""
    h, w, gc = guide.shape
    coef = np.stack(coef)
    if coef.shape[1:] != (h, w):
        coef = _reference_linear(coef, h, w)
    sc = coef.shape[0] // (gc + 1)
    g = np.moveaxis(guide.astype(_F32), 2, 0)
    out = []
    for s in range(sc):
        q = coef[sc * gc + s]
        for c in range(gc):
            q = q + coef[s * gc + c] * g[c]
        out.append(q)
    q = np.stack(out, axis=2)
    return _round_u8(q) if dtype == np.uint8 else q


def _fast_output(coef: list[np.ndarray], guide: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """_output's values by the same float32 operations per element, a chunk of rows at a
    time in cache-sized buffers: the planes' bilinear resize by rs.row_pass and
    rs.lerp_rows (no gathers of full-size rows), each product mean(a_c) * I_c with the guide's
    channel as it is (float32 * uint8 converts the uint8 exactly) added in place, and
    _round_u8's values by fmax(q, 0) (NaN -> 0), fmin(q, 255) (+inf -> 255) and rint."""
    h, w, gc = guide.shape
    sc = len(coef) // (gc + 1)
    sh, sw = coef[0].shape
    if (sh, sw) == (h, w):
        chunks = [(slice(r, min(h, r + m), 1), min(h, r + m) - r)
                  for m in [max(1, rs.CHUNK // w)] for r in range(0, h, m)]
        rows = coef
    else:  # subsample > 1 only enlarges (shrink(v) <= v): resize_image's MODE_LINEAR
        chunks = rs.row_chunks(sh, h, w)
        rows = rs.row_pass(coef, w)
    out = np.empty((h, w, sc), dtype)
    n = max(c[1] for c in chunks)
    qbuf, abuf, tmp = (np.empty((n, w), _F32) for _ in range(3))

    def plane(k: int, c: tuple, buf: np.ndarray) -> np.ndarray:
        if len(c) == 2:
            return rows[k][c[0]]
        return rs.lerp_rows(rows[k], c, buf[:c[1]], tmp[:c[1]])

    for c in chunks:
        r, m = c[0], c[1]
        q = qbuf[:m]
        for s in range(sc):
            b = plane(sc * gc + s, c, qbuf)
            for i in range(gc):
                a = plane(s * gc + i, c, abuf)
                np.multiply(a, guide[r, :, i], out=abuf[:m])
                np.add(b if i == 0 else q, abuf[:m], out=q)
            if dtype == np.uint8:
                np.fmax(q, _F32(0), out=q)
                np.fmin(q, _F32(255), out=q)
                np.rint(q, out=q)
            out[r, :, s] = q
    return out


def shrink(v: int, subsample: int) -> int:
    """A height, width or radius at 1 / subsample for the fast guided filter: v / subsample
    rounded half up, floor(v / s + 1/2), at least 1."""
    return max(1, (2 * v + subsample) // (2 * subsample))


def _reference_linear(planes: np.ndarray, h: int, w: int) -> np.ndarray:
    """ops.resize(linear)'s reference (rs.resize_image) of float32 planes (P, h', w') to
    (P, h, w)."""
    return np.moveaxis(rs.resize_image(np.moveaxis(planes, 0, 2), h, w, rs.INTERP["linear"]), 2, 0)


def _host(guide: np.ndarray, src: np.ndarray, radius: int, eps: float, subsample: int,
          box: Callable[[list[np.ndarray], int], list[np.ndarray]],
          area: Callable[[np.ndarray, int, int], np.ndarray],
          output: Callable[[list[np.ndarray], np.ndarray, np.dtype], np.ndarray]) -> np.ndarray:
    """One (H, W, GC) guide and (H, W, SC) src -> (H, W, SC) in src's dtype. subsample > 1:
    the coefficients of the images shrunk by ``area`` (an INTER_AREA resize: rs.resize_image
    or cv2.resize, the same values), which ``output`` (_output or _fast_output, the same
    values) resizes back by ops.resize's float32 bilinear."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # eps too small: NaN
        if subsample == 1:
            coef = _mean_coefficients(guide, src, radius, eps, box)
        else:
            h, w = guide.shape[:2]
            hl, wl = shrink(h, subsample), shrink(w, subsample)
            coef = _mean_coefficients(area(guide, hl, wl), area(src, hl, wl),
                                      shrink(radius, subsample), eps, box)
        return output(coef, guide, src.dtype)


def _reference_area(im: np.ndarray, h: int, w: int) -> np.ndarray:
    return rs.resize_image(im, h, w, rs.INTERP["area"])


def _reference(guide: np.ndarray, src: np.ndarray, radius: int, eps: float,
               subsample: int) -> np.ndarray:
    return _host(guide, src, radius, eps, subsample, _box_means, _reference_area, _output)


# ---- OpenCV ----------------------------------------------------------------------------

def _cv_box_means(planes: list[np.ndarray], radius: int) -> list[np.ndarray]:
    """_box_means by cv2.boxFilter, whose float32 path is those running float64 sums."""
    k = 2 * radius + 1
    return [cv2.boxFilter(p, cv2.CV_32F, (k, k), normalize=True, borderType=cv2.BORDER_REFLECT)
            for p in planes]


def _cv_area(im: np.ndarray, h: int, w: int) -> np.ndarray:
    """INTER_AREA: cv2.resize for uint8 (bit-exact with the reference's), the reference's
    own for float32 (cv2's float32 arithmetic differs in the last bits: ops.resize)."""
    if im.dtype != np.uint8:
        return _reference_area(im, h, w)
    return restore_channel_axis(cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA))


def _opencv(guide: np.ndarray, src: np.ndarray, radius: int, eps: float,
            subsample: int) -> np.ndarray:
    """OpenCV where it gives the reference's values: cv2.ximgproc.guidedFilter for a colour
    guide at subsample 1; for a grey guide (where its approximate reciprocal differs:
    docs/ops.md), for OpenCV without the contrib modules and for subsample > 1 (OpenCV has
    no fast guided filter), the reference's steps with cv2.boxFilter's box means,
    cv2.resize's INTER_AREA for uint8 and _fast_output."""
    if subsample == 1 and guide.shape[2] == 3 and hasattr(cv2, "ximgproc"):
        return restore_channel_axis(cv2.ximgproc.guidedFilter(guide, src, radius, eps))
    return _host(guide, src, radius, eps, subsample, _cv_box_means, _cv_area, _fast_output)


# ---- CUDA ------------------------------------------------------------------------------

def _cuda_coefficients(g: Batch, s: Batch, radius: int, eps: float) -> Batch:
    """Four launches for the whole batch or list: the product planes, their box means (rows,
    then columns), the linear model, its box means: mean(a), mean(b) as _mean_coefficients."""
    gc, sc, n = g.channels, s.channels, s.n
    nplanes = gc + sc + (1 if gc == 1 else 6) + sc * gc
    ncoef = sc * gc + sc
    u8 = i32(int(s.dtype == np.uint8))
    h, w = s.max_hw()
    planes = s.empty(channels=nplanes, dtype=_F32)
    sums = s.empty(channels=nplanes, dtype=np.float64)
    coef = s.empty(channels=ncoef, dtype=_F32)
    k = 2 * radius + 1
    scale = np.float64(1.0 / (k * k))

    def box(x: Batch, planes_in_x: int, count: int) -> None:
        # rows: one thread per (plane, row); columns: one per (plane, column)
        launch("guided", "box_rows", n, h, count, (image_table(x, sums), i32(n), i32(planes_in_x),
               i32(nplanes), i32(count), i32(radius)))
        launch("guided", "box_cols", n, 1, w * count, (image_table(sums, x), i32(n), i32(nplanes),
               i32(planes_in_x), i32(count), i32(radius), scale), block=(256, 1, 1))

    launch("guided", "gf_products", n, h, w, (image_table(g, planes, s), i32(n), i32(gc),
           i32(nplanes), i32(sc), u8))
    box(planes, nplanes, nplanes)
    launch("guided", "gf_coefficients", n, h, w, (image_table(planes, coef), i32(n), i32(nplanes),
           i32(ncoef), i32(gc), i32(sc), f32(eps), i32(int(eps < _DET_EPS))))
    box(coef, ncoef, ncoef)
    return coef


def _cuda(g: Batch, s: Batch, radius: int, eps: float, subsample: int) -> Batch:
    """subsample 1: five launches for the whole batch or list (_cuda_coefficients, the
    output). subsample > 1: two area resizes to the low resolution, the coefficients there,
    their bilinear resize to full size, the output: eight launches, all on the device."""
    if subsample == 1:
        coef = _cuda_coefficients(g, s, radius, eps)
    else:
        shapes = [(shrink(h, subsample), shrink(w, subsample)) for h, w in s.shapes]
        coef = _cuda_coefficients(resize_batch(g, shapes, "area"), resize_batch(s, shapes, "area"),
                                  shrink(radius, subsample), eps)
        coef = resize_batch(coef, s.shapes, "linear")
    out = s.empty()
    h, w = s.max_hw()
    launch("guided", "gf_apply", s.n, h, w, (image_table(coef, out, g), i32(s.n), i32(coef.channels),
           i32(s.channels), i32(g.channels), i32(int(s.dtype == np.uint8))))
    return out


# ---- the op ----------------------------------------------------------------------------

def _as_pair(guide: Any, src: Any) -> tuple[Batch, Batch]:
    g = as_batch(guide, "guide", channels=(1, 3), dtype=None)
    if g.dtype not in (np.uint8, np.float32):
        fail("guide", "dtype uint8 or float32", g.dtype, TypeError)
    # (N, H, W) beside an (N, H, W, C) guide is a batch of masks, not one (H, W, C) image.
    masks = g.kind == "batch" and getattr(src, "ndim", 0) == 3
    s = as_batch(src, "src", channels=(1, 3), dtype=None, mask=masks)
    if s.dtype != g.dtype:
        fail("src", f"dtype {g.dtype} like guide", s.dtype, TypeError)
    if g.kind != s.kind:
        fail("src", f"the form of guide ({'a list' if g.kind == 'list' else g.kind})",
             "a list" if s.kind == "list" else s.kind)
    same_form(g, s, "guide", "src", channels=False)
    return g, s


def guided_filter(guide: Any, src: Any, radius: int, eps: float, subsample: int = 1) -> Any:
    """Edge-preserving smoothing of ``src`` steered by ``guide`` (He, Sun and Tang's guided
    filter): per (2 radius + 1)^2 window, src ~ a . guide + b by least squares with ridge
    ``eps``; out = mean(a) . guide + mean(b).

    The arithmetic of OpenCV's ``cv2.ximgproc.guidedFilter(guide, src, radius, eps)``
    (opencv-contrib) step for step in float32: uint8 is taken as 0..255 (not scaled), box
    means with BORDER_REFLECT, a colour guide's 3x3 covariance inverted by cofactors, uint8
    output rounded to nearest (ties to even) and saturated. Equal to OpenCV's bit for bit
    with a colour guide; a grey guide differs where OpenCV's SSE code takes an approximate
    reciprocal (docs/ops.md: measured agreement). CV-CUDA has no guided filter.

    subsample s > 1: He and Sun's fast guided filter (2015). Each image's guide and src are
    shrunk to (h', w') = (shrink(h), shrink(w)) by ``ops.resize(..., "area")`` (cv2.resize
    INTER_AREA; uint8 stays uint8, rounded, float32 stays float32), where shrink(v) =
    max(1, floor(v / s + 1/2)) (v / s rounded half up); mean(a) and mean(b) are computed
    there with the arithmetic above and radius shrink(radius); those float32 planes are
    resized to (h, w) by ``ops.resize(..., "linear")``'s float32 bilinear arithmetic (its
    NumPy reference: cv2.resize's float32 differs in the last bits); out = mean(b) + sum_c
    mean(a_c) * guide_c at full resolution with the full-resolution guide, rounded as above.
    OpenCV has no fast guided filter (cv2.ximgproc.guidedFilter is the s = 1 case): NumPy
    input runs these steps with cv2.boxFilter and, for uint8, cv2.resize's INTER_AREA.

    Args:
        guide: uint8 or float32 (H, W[, C]) with C in 1, 3, (N, H, W, C) or a list of
            images; NumPy or CuPy.
        src: the image to filter, guide's dtype, 1 or 3 channels, the same form and (H, W)
            image for image: (H, W[, C]), (N, H, W[, C]) beside a batch guide (N, H, W) is a
            batch of masks), or a list.
        radius: int, 1..1024: the window is (2 radius + 1)^2, clipped by reflection.
        eps: > 0, the regularisation in squared pixel units (uint8: 0..255^2, e.g.
            (0.01 * 255)^2; float32 images in 0..1: e.g. 1e-4).
        subsample: int, 1..16: 1 the guided filter; s > 1 the fast guided filter above
            (about s^2 times less work for the coefficients, an approximation of s = 1).
    Returns:
        The filtered src in its own form, shapes, channels and dtype (float32 unclipped).
    Raises:
        TypeError / ValueError: a bad guide, src, radius, eps or subsample, or guide and src
            of different forms, sizes, dtypes or memories.
    """
    radius = check_int(radius, "radius", 1)
    if radius > MAX_RADIUS:
        fail("radius", f"an integer <= {MAX_RADIUS}", radius)
    eps = check_real(eps, "eps", 0, exclusive=True)
    subsample = check_int(subsample, "subsample", 1)
    if subsample > MAX_SUBSAMPLE:
        fail("subsample", f"an integer <= {MAX_SUBSAMPLE}", subsample)
    g, s = _as_pair(guide, src)

    def host(fn: Callable[[np.ndarray, np.ndarray, int, float, int], np.ndarray]) -> Batch:
        return s.with_images([restore_channel_axis(fn(a, b, radius, eps, subsample))
                              for a, b in zip(g.images, s.images)])

    return call_implementation(s, cuda=lambda: _cuda(g, s, radius, eps, subsample),
                               reference=lambda: host(_reference),
                               opencv=lambda: host(_opencv)).unwrap()
