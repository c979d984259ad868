"""Matting benchmark (issue 23): edge-aware refinements of the coarse person mask, scored
against a known alpha.

    python -m bench.matting_bench --tag cpu-2core      (writes bench/results/matting_<tag>.md,
                                                        .json and .csv; ~3 min on 2 cores)
    python -m bench.matting_bench --quick              (512x512 only, a short sweep: a smoke run)

Scenes. A person-like silhouette (head ellipse, neck, shoulders) with a soft, hairy top: its
hard parts (body edge, fine strands: thin antialiased quadratic curves of random width and
opacity) are drawn at SUPERSAMPLE x the frame's resolution and area-downsampled, so the edge
pixels carry their true fractional coverage; the hair volume's rim is a Gaussian ramp whose
falloff a low-frequency noise field varies (alpha = ramp ** (1 + 2 noise)). The geometry is in
units of the frame height and seeded, so every scale shows the same scene. The foreground F
is procedural-over-photo: hair brown modulated by the fur of skimage's chelsea, skin, and
skimage's astronaut photo as the clothes. Backgrounds B: flat (a mid blue), textured
(skimage's coffee photo) and similar (F itself, shifted by a third of the width, blurred and
shaded: the same colours behind the edge). The frame is I = rint(alpha F + (1 - alpha) B),
computed in float32. Scales: 512x512, 1280x720, 1920x1080.

The model of the DNN output. What the pipeline's network sees is the frame letterboxed to
256 on its long side, and what it gives is a probability at that resolution, which
tensor_to_mask crops and resizes bilinearly to the frame. We model it as the true alpha
area-resized into the letterbox's content box (the ideal network's answer at 256),
Gaussian-blurred by NET_SIGMA network pixels (a network's softness: with 0.8 the
probability's 5-95 % ramp over the silhouette is 4.1 network pixels per pixel of contour, the
real unet's on the astronaut photo 3.6), then resized to the
frame with cv2.resize INTER_LINEAR on float32 (what tensor_to_mask does): the coarse soft
probability p. The soft mask is rint(p * 255) (tensor_to_mask with threshold none); the
hard mask of today's default is 255 where p >= 0.5, then a 5x5 open. Limits: this network
is ideal up to resolution and blur. A real one also errs at the object level (misses parts,
takes in background objects, an uncalibrated probability, hair classed as background or
the gaps between strands as person); none of that is here, so the numbers rank the
refinements at what they are for (recovering the frame-resolution edge from a
low-resolution one), not the whole matte quality of a real model.

The metric. MAE, the mean absolute error of the estimated alpha (uint8 / 255) against the
true alpha, in alpha levels (x 255, so 0..255), over the edge band: the pixels within
BAND_NET_PX network pixels (2 * long_side / 256 frame pixels, Euclidean: 4 px at 512, 10 px
at 720p, 15 px at 1080p) of a pixel whose true alpha is fractional (0.5/255 < alpha <
1 - 0.5/255, i.e. neither 0 nor 255 in 8 bits). Also split at HAIR_LINE x the height: the
band's hair (strands, the soft rim) and body (face, neck, shoulders: a sharp edge) parts; and
over the whole frame ("whole").

The refinements map (coarse soft mask uint8, frame uint8 RGB) -> alpha uint8; "of hard"
ones filter today's hard mask (threshold 0.5, open 5) instead of the soft one, "of
stretched k=K" ones the soft mask contrast-stretched around 0.5 (stretch()). Through the
one table REFINEMENTS: ``ops.joint_bilateral_filter`` / ``ops.guided_filter`` when ops has
them, else cv2.ximgproc's (the same semantics). "grey" guides are the frame's luma
(cv2.COLOR_RGB2GRAY, counted in the time), "colour" guides the RGB frame. Radii "@720p"
scale with the long side (radius = r * long_side / 1280: the same span of network pixels
at every scale). fast_guided is He & Sun's "Fast Guided Filter" (fast_guided_filter(): the
coefficients on a 1/s area-resized guide and mask, upsampled bilinearly and applied to the
full-resolution guide), written here in NumPy/cv2: ops.guided_filter has no subsample
option yet, so its times are this implementation's.

The pipeline's rows ("pipeline default", "pipeline, binary"): the alpha exactly as
pipelines/background_blur.yaml computes it from the modelled probability p, with the
parameters read from the code (the spec's step parameters over the step classes' defaults:
pipeline_parameters()): ops.tensor_to_mask of the full-size p (activation, channel,
threshold and contrast of the spec's tensor_to_mask step: the stretch in float32 before the
rounding, where the "of stretched" rows stretch the rounded mask by a lookup), its morphology
when morph_ksize > 1, then serving.models.matte.refine, the refine_mask model's computation
(ops.guided_filter with its subsample option: a uint8 area-resized guide, where
fast_guided_filter() keeps it in float32), with the model's default parameters and with
matte=binary. Their times count both steps (the stretch and rounding included).

Timing: each refinement's cost at 1280x720 and 1920x1080 (textured scene), the median of
several runs, wall (time.perf_counter, OpenCV's default thread count) and CPU
(time.process_time: every thread of the process). The cost does not depend on the
sigmas / eps, so one timing serves every parameter set with the same footprint.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

import ops
from bench.machine import describe
from bench.report import write_report
from clients.perf.sweep import write_csv
from ops.geometry import letterbox_geometry
from serving.paths import REPO_ROOT

NET = 256              # the network's input side (resize fit + pad to 256x256)
NET_SIGMA = 0.8        # the modelled network's blur, in network pixels
BAND_NET_PX = 2.0      # the edge band's half-width, in network pixels
HAIR_LINE = 0.45       # the band above this height (x frame height) is the hair's, below the body's
SUPERSAMPLE = 4        # the hard parts are drawn at this x the frame's resolution
BUDGET_CPU_MS = 20.0   # the refinement's CPU budget per 720p frame on the 2-core CPU (the
                       # pipeline's measured headroom)
SCALES = {"512": (512, 512), "720p": (720, 1280), "1080p": (1080, 1920)}
BACKGROUNDS = ("flat", "textured", "similar")
TOP, TOP_OVER = 12, 5  # the report's lists of the best within the budget and over it
EPS_UNIT = 255.0 ** 2  # eps is given in units of (pixel value)^2 for uint8 guides


# ---------------------------------------------------------------------------------------
# The scene


def _cover(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """``img`` scaled to cover h x w, centre-cropped."""
    r = max(h / img.shape[0], w / img.shape[1])
    nh, nw = max(h, round(img.shape[0] * r)), max(w, round(img.shape[1] * r))
    big = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
    y, x = (nh - h) // 2, (nw - w) // 2
    return np.ascontiguousarray(big[y:y + h, x:x + w])


def _noise(h: int, w: int, rng: np.random.Generator, cells: int = 8) -> np.ndarray:
    """A low-frequency random field in [0, 1], float32 (h, w)."""
    n = cv2.resize(rng.standard_normal((cells, cells)).astype(np.float32), (w, h),
                   interpolation=cv2.INTER_CUBIC)
    return (n - n.min()) / max(float(n.max() - n.min()), 1e-6)


def _hair_ellipse(cx: float) -> tuple[float, float, float, float]:
    """Centre and axes of the hair volume, in frame-height units."""
    return cx, 0.33, 0.175, 0.20


def _fixed(v: float, unit: float) -> int:
    """A coordinate in frame-height units as a cv2 fixed-point int (shift 4)."""
    return int(round(v * unit * 16))


def _strands(canvas: np.ndarray, cx: float, unit: float, rng: np.random.Generator,
             count: int, frame_h: int) -> None:
    """Draw ``count`` hair strands (antialiased quadratic curves) outward from the hair
    volume's top half onto the supersampled ``canvas``."""
    hx, hy, ax, ay = _hair_ellipse(cx)
    t = np.linspace(0.0, 1.0, 13)[:, None]
    for _ in range(count):
        th = rng.uniform(math.radians(190), math.radians(350))  # the upper half (y down)
        p0 = np.array([hx + 0.96 * ax * math.cos(th), hy + 0.96 * ay * math.sin(th)])
        n = np.array([math.cos(th) / ax, math.sin(th) / ay])
        n /= np.linalg.norm(n)
        rot = rng.uniform(-0.45, 0.45)
        d = np.array([n[0] * math.cos(rot) - n[1] * math.sin(rot),
                      n[0] * math.sin(rot) + n[1] * math.cos(rot)])
        length = rng.uniform(0.015, 0.075)
        p2 = p0 + d * length
        p1 = (p0 + p2) / 2 + np.array([-d[1], d[0]]) * rng.normal(0, 0.3) * length
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
        width_px = rng.uniform(0.3, 1.5) * frame_h / 720          # in frame pixels
        thick = max(1, int(round(width_px * SUPERSAMPLE)))
        value = int(round(255 * rng.uniform(0.5, 1.0)))
        poly = np.array([[_fixed(x, unit), _fixed(y, unit)] for x, y in pts], np.int32)
        cv2.polylines(canvas, [poly], False, value, thick, cv2.LINE_AA, shift=4)


@lru_cache(maxsize=None)
def true_alpha(h: int, w: int, seed: int = 23, strands: int = 600) -> np.ndarray:
    """The known alpha of the silhouette in an h x w frame: float32 (h, w) in [0, 1]."""
    rng = np.random.default_rng(seed)
    cx = w / h / 2
    S = SUPERSAMPLE
    hi = np.zeros((h * S, w * S), np.uint8)
    u = h * S
    # Hard parts: head, neck, shoulders (clothes: a sharp edge, antialiased by the area
    # downsampling below).
    cv2.ellipse(hi, (_fixed(cx, u), _fixed(0.37, u)), (_fixed(0.15, u), _fixed(0.19, u)),
                0, 0, 360, 255, -1, cv2.LINE_8, shift=4)
    neck = np.array([[_fixed(cx - 0.065, u), _fixed(0.5, u)], [_fixed(cx + 0.065, u), _fixed(0.5, u)],
                     [_fixed(cx + 0.065, u), _fixed(0.8, u)], [_fixed(cx - 0.065, u), _fixed(0.8, u)]],
                    np.int32)
    cv2.fillPoly(hi, [neck], 255, cv2.LINE_8, shift=4)
    cv2.ellipse(hi, (_fixed(cx, u), _fixed(1.08, u)), (_fixed(0.46, u), _fixed(0.36, u)),
                0, 0, 360, 255, -1, cv2.LINE_8, shift=4)
    _strands(hi, cx, u, rng, strands, h)
    hard = cv2.resize(hi, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    # Hair volume: its upper part (to y = 0.40 h), with a soft rim whose falloff the noise
    # field varies.
    hx, hy, ax, ay = _hair_ellipse(cx)
    vol = np.zeros((h * S, w * S), np.uint8)
    cv2.ellipse(vol, (_fixed(hx, u), _fixed(hy, u)), (_fixed(ax, u), _fixed(ay, u)),
                0, 0, 360, 255, -1, cv2.LINE_8, shift=4)
    vol[int(0.40 * u):] = 0
    vol_f = cv2.resize(vol, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    ramp = cv2.GaussianBlur(vol_f, (0, 0), 0.012 * h)
    rim = np.power(np.clip(ramp, 0, 1), 1 + 2 * _noise(h, w, rng))
    return np.maximum(hard, rim).astype(np.float32)


@lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    from skimage import data
    return getattr(data, name)()


def foreground(h: int, w: int, seed: int = 23) -> np.ndarray:
    """The person's colours, float32 (h, w, 3) in 0..255, over the whole frame: hair
    (brown x chelsea's fur) above the hairline, skin in the face, astronaut's photo below."""
    rng = np.random.default_rng(seed + 1)
    fur = cv2.cvtColor(_cover(_photo("chelsea"), h, w), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    hair = np.array([85, 55, 35], np.float32) * (0.5 + 1.0 * fur[..., None])
    skin = np.array([225, 175, 145], np.float32) * (0.92 + 0.16 * _noise(h, w, rng)[..., None])
    clothes = _cover(_photo("astronaut"), h, w).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / h
    cx = w / h / 2
    face = (((xx - cx) / 0.15) ** 2 + ((yy - 0.37) / 0.19) ** 2 <= 1.0) & (yy > 0.30)
    F = np.where((yy < 0.5)[..., None], hair, clothes)
    return np.where(face[..., None], skin, F)


def background(kind: str, h: int, w: int, seed: int = 23) -> np.ndarray:
    """float32 (h, w, 3) in 0..255: "flat" (mid blue), "textured" (coffee's photo) or
    "similar" (the foreground's colours: F shifted by w/3, blurred and shaded)."""
    if kind == "flat":
        return np.broadcast_to(np.array([90, 140, 200], np.float32), (h, w, 3)).copy()
    if kind == "textured":
        return _cover(_photo("coffee"), h, w).astype(np.float32)
    if kind == "similar":
        rng = np.random.default_rng(seed + 2)
        B = cv2.GaussianBlur(np.roll(foreground(h, w, seed), w // 3, axis=1), (0, 0), h / 200)
        return np.clip(B * (0.85 + 0.3 * _noise(h, w, rng))[..., None], 0, 255)
    raise ValueError(f"background: expected one of {BACKGROUNDS}, got {kind!r}")


def composite(alpha: np.ndarray, F: np.ndarray, B: np.ndarray) -> np.ndarray:
    """I = rint(alpha F + (1 - alpha) B), uint8; the arithmetic in float32."""
    a = alpha[..., None].astype(np.float32)
    return np.clip(np.rint(a * F + (1 - a) * B), 0, 255).astype(np.uint8)


@dataclass
class Scene:
    scale: str
    bg: str
    alpha: np.ndarray            # float32 (h, w) in [0, 1], the truth
    frame: np.ndarray            # uint8 (h, w, 3), RGB
    prob: np.ndarray             # float32 (h, w): the modelled DNN probability at the frame size
    band: np.ndarray = field(repr=False, default=None)  # bool (h, w)

    @property
    def hair(self) -> np.ndarray:
        """The band's part above HAIR_LINE (hair volume, strands, rim), bool (h, w)."""
        out = np.zeros_like(self.band)
        out[:int(HAIR_LINE * self.band.shape[0])] = True
        return out & self.band

    @property
    def coarse(self) -> np.ndarray:
        """The soft mask tensor_to_mask gives with threshold none: rint(p * 255)."""
        return np.rint(np.clip(self.prob, 0, 1) * 255).astype(np.uint8)


def dnn_probability(alpha: np.ndarray) -> np.ndarray:
    """The modelled network output at the frame's size (see the module's docstring)."""
    h, w = alpha.shape
    _, _, nw, nh = letterbox_geometry(h, w, NET, NET)
    low = cv2.resize(alpha, (nw, nh), interpolation=cv2.INTER_AREA)
    low = cv2.GaussianBlur(low, (0, 0), NET_SIGMA, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)


def band_px(h: int, w: int) -> float:
    """The edge band's half-width in frame pixels: BAND_NET_PX network pixels."""
    return BAND_NET_PX * max(h, w) / NET


def edge_band(alpha: np.ndarray) -> np.ndarray:
    """The pixels within band_px (Euclidean) of a pixel whose alpha is fractional in 8 bits."""
    frac = (alpha > 0.5 / 255) & (alpha < 1 - 0.5 / 255)
    dist = cv2.distanceTransform((~frac).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= band_px(*alpha.shape)


def alpha_mae(est: np.ndarray, alpha: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean |est - alpha| in alpha levels (0..255) over ``where`` (all pixels by default);
    ``est`` uint8 (0..255) or float (0..1)."""
    e = est.astype(np.float32) / 255 if est.dtype == np.uint8 else est.astype(np.float32)
    d = np.abs(e - alpha)
    return 255.0 * float(d[where].mean() if where is not None else d.mean())


def make_scene(scale: str, bg: str, size: tuple[int, int] | None = None) -> Scene:
    h, w = size or SCALES[scale]
    alpha = true_alpha(h, w)
    frame = composite(alpha, foreground(h, w), background(bg, h, w))
    return Scene(scale, bg, alpha, frame, dnn_probability(alpha), edge_band(alpha))


# ---------------------------------------------------------------------------------------
# The refinements


def _cv_joint_bilateral(src: np.ndarray, guide: np.ndarray, diameter: int, sigma_color: float,
                        sigma_space: float, border: str = "reflect101") -> np.ndarray:
    assert border == "reflect101"
    return cv2.ximgproc.jointBilateralFilter(guide, src, diameter, sigma_color, sigma_space,
                                             borderType=cv2.BORDER_REFLECT_101)


def _cv_guided(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    return cv2.ximgproc.guidedFilter(guide, src, radius, eps)


#: The edge-aware filters, ops' when it has them (issue 23), else cv2.ximgproc's.
REFINEMENTS: dict[str, Callable[..., np.ndarray]] = {
    "joint_bilateral": getattr(ops, "joint_bilateral_filter", _cv_joint_bilateral),
    "guided": getattr(ops, "guided_filter", _cv_guided),
}
SOURCE = {k: "ops" if getattr(f, "__module__", "").startswith("ops") else "cv2.ximgproc"
          for k, f in REFINEMENTS.items()}


def fast_guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float,
                       s: int) -> np.ndarray:
    """He & Sun's fast guided filter ("Fast Guided Filter", 2015) of the mask ``src`` (uint8
    (h, w)) steered by ``guide`` (uint8 (h, w) grey or (h, w, 3) colour), in NumPy/cv2:

    1. I = guide, p = src as float32 in 0..255 (not scaled, as cv2.ximgproc.guidedFilter
       takes uint8; ``eps`` in the same squared units, e.g. 1e-4 * 255^2).
    2. Low resolution: (hl, wl) = (max(1, round(h / s)), max(1, round(w / s))); Il, pl =
       cv2.resize(I / p, (wl, hl), INTER_AREA) (float32, no rounding); radius
       rl = max(1, round(radius / s)).
    3. The coefficients as cv2.ximgproc.guidedFilter computes them, at low resolution: box
       means over (2 rl + 1)^2 windows (cv2.boxFilter, normalised, BORDER_REFLECT) in
       float32; grey: a = cov(Il, pl) / (var(Il) + eps); colour: a = (Sigma + eps U)^-1
       cov(Il, pl) with Sigma the 3x3 covariance of Il's channels, inverted by cofactors in
       float64 (in float32 the cofactors of a near-singular covariance cancel: at eps
       1e-5 * 255^2 some determinants came out 0 or negative on the flat 1080p scene);
       b = mean(pl) - a . mean(Il); then mean_a = box(a) (per channel), mean_b = box(b).
    4. mean_a, mean_b resized to (h, w) with cv2.resize INTER_LINEAR in float32.
    5. q = mean_b + sum_c mean_a_c * I_c at full resolution (float32, I_c the uint8 guide's
       channels), clipped to 0..255 and rounded (ties to even) to uint8.
    """
    h, w = src.shape[:2]
    lo = (max(1, round(w / s)), max(1, round(h / s)))
    k = (2 * max(1, round(radius / s)) + 1,) * 2
    box = lambda x: cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    up = lambda x: cv2.resize(x.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)  # noqa: E731
    Il = cv2.resize(guide.astype(np.float32), lo, interpolation=cv2.INTER_AREA)
    pl = cv2.resize(src.astype(np.float32), lo, interpolation=cv2.INTER_AREA)
    mp = box(pl)
    if guide.ndim == 2:
        mI = box(Il)
        a = (box(Il * pl) - mI * mp) / (box(Il * Il) - mI * mI + eps)
        b = mp - a * mI
        q = cv2.add(up(box(b)), cv2.multiply(up(box(a)), guide, dtype=cv2.CV_32F))
    else:
        Ic = cv2.split(Il)                                      # contiguous planes
        mI = [box(x) for x in Ic]
        f64 = lambda x: x.astype(np.float64)  # noqa: E731
        cov = [f64(box(x * pl) - m * mp) for x, m in zip(Ic, mI)]   # cov(I_c, p)
        var = {(i, j): f64(box(Ic[i] * Ic[j]) - mI[i] * mI[j]) for i in range(3) for j in range(i, 3)}
        rr, rg, rb = var[0, 0] + eps, var[0, 1], var[0, 2]
        gg, gb, bb = var[1, 1] + eps, var[1, 2], var[2, 2] + eps
        # Cofactors of the symmetric Sigma + eps U: its inverse is C / det.
        c00, c01, c02 = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
        c11, c12, c22 = rr * bb - rb * rb, rg * rb - rr * gb, rr * gg - rg * rg
        inv_det = 1 / (rr * c00 + rg * c01 + rb * c02)
        c0, c1, c2 = cov
        a = [(c00 * c0 + c01 * c1 + c02 * c2) * inv_det, (c01 * c0 + c11 * c1 + c12 * c2) * inv_det,
             (c02 * c0 + c12 * c1 + c22 * c2) * inv_det]
        b = mp - a[0] * mI[0] - a[1] * mI[1] - a[2] * mI[2]
        q = up(box(b))
        for ac, Ic in zip(a, cv2.split(guide)):
            q = cv2.add(q, cv2.multiply(up(box(ac)), Ic, dtype=cv2.CV_32F))
    return cv2.convertScaleAbs(cv2.max(q, 0.0))       # rint (ties to even), saturated to 0..255


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


@dataclass(frozen=True)
class Refinement:
    """One refinement with its parameters. ``radius`` / ``diameter`` of the scaled kind are
    given at 720p and scale with the long side."""
    family: str                     # hard, none, joint_bilateral, guided, fast_guided, pipeline
    guide: str = ""                 # grey, colour ("" for the baselines)
    params: tuple = ()              # sorted (name, value) pairs
    scaled: bool = False            # the radius scales with the long side (given at 720p)
    input: str = "soft"             # what is filtered: soft (rint(p * 255)), hard (today's mask)
                                    # or stretchK (the soft mask contrast-stretched, stretch())

    @property
    def name(self) -> str:
        p = dict(self.params)
        if self.family in ("hard", "none"):
            return {"hard": "hard (0.5, open 5)", "none": "none (coarse soft)"}[self.family]
        if self.family == "pipeline":
            return "pipeline default" if p["matte"] == "soft" else f"pipeline, {p['matte']}"
        of = _of(self.input)
        if self.family == "joint_bilateral":
            return (f"joint bilateral{of} {self.guide} d={p['diameter']} sc={p['sigma_color']:g} "
                    f"ss={p['sigma_space']:g}")
        r = f"r={p['radius']}{'@720p' if self.scaled else ''}"
        eps = f"eps={p['eps'] / EPS_UNIT:.0e}*255^2"
        if self.family == "guided":
            return f"guided{of} {self.guide} {r} {eps}"
        return f"fast guided{of} {self.guide} s={p['s']} {r} {eps}"

    def radius_at(self, h: int, w: int) -> int:
        r = dict(self.params)["radius"]
        return max(1, round(r * max(h, w) / 1280)) if self.scaled else r

    def cost_key(self, h: int, w: int) -> tuple:
        """What the cost depends on (the footprint and guide, not the sigmas or eps)."""
        p = dict(self.params)
        if self.family == "joint_bilateral":
            return (self.family, self.input, self.guide, p["diameter"])
        if self.family in ("guided", "fast_guided"):
            return (self.family, self.input, self.guide, p.get("s"), self.radius_at(h, w))
        if self.family == "pipeline":
            return (self.family, p["matte"])
        return (self.family,)

    def __call__(self, coarse: np.ndarray, frame: np.ndarray, prob: np.ndarray | None = None
                 ) -> np.ndarray:
        """The refined alpha, uint8 (h, w), from the soft mask and the RGB frame (the hard
        mask thresholds ``prob`` when given, as tensor_to_mask does, else the soft mask)."""
        p = dict(self.params)
        if self.family == "none":
            return coarse
        if self.family == "pipeline":
            if prob is None:
                raise ValueError(f"{self.name}: needs the float probability")
            return pipeline_alpha(prob, frame, p["matte"])
        if self.family == "hard" or self.input == "hard":
            hard = ((prob >= 0.5) if prob is not None else (coarse >= 128)).astype(np.uint8) * 255
            coarse = ops.morphology(hard, "open", 5)
            if self.family == "hard":
                return coarse
        elif self.input.startswith("stretch"):
            coarse = stretch(coarse, int(self.input[len("stretch"):]))
        guide = _grey(frame) if self.guide == "grey" else frame
        h, w = coarse.shape
        if self.family == "joint_bilateral":
            return REFINEMENTS["joint_bilateral"](coarse, guide, p["diameter"], p["sigma_color"],
                                                  p["sigma_space"])
        if self.family == "guided":
            return REFINEMENTS["guided"](guide, coarse, self.radius_at(h, w), p["eps"])
        return fast_guided_filter(guide, coarse, self.radius_at(h, w), p["eps"], p["s"])


def _of(input: str) -> str:
    """The name's input part: "" (soft), " of hard", " of stretched k=K"."""
    if input.startswith("stretch"):
        return f" of stretched k={input[len('stretch'):]}"
    return " of hard" if input == "hard" else ""


@lru_cache(maxsize=None)
def _stretch_lut(k: int) -> np.ndarray:
    m = np.arange(256, dtype=np.float64)
    return np.clip(np.rint((m - 127.5) * k + 127.5), 0, 255).astype(np.uint8)


def stretch(mask: np.ndarray, k: int) -> np.ndarray:
    """The soft mask contrast-stretched around 0.5: clip(rint((m - 127.5) k + 127.5), 0, 255)
    (rint: ties to even), uint8, by a 256-entry lookup table."""
    return cv2.LUT(mask, _stretch_lut(k))


@lru_cache(maxsize=None)
def pipeline_parameters() -> dict[str, dict[str, Any]]:
    """Each step's typed parameters in pipelines/background_blur.yaml: its class's defaults
    with the spec's step parameters over them (as tests/reference.py reads them)."""
    from serving import registry
    from serving.paths import PIPELINES
    from serving.pipeline.spec import load_spec

    return {s.model: registry.model_class(s.model).parse_parameters(s.parameters)
            for s in load_spec(PIPELINES / "background_blur.yaml").steps}


def pipeline_alpha(prob: np.ndarray, frame: np.ndarray, matte: str = "soft") -> np.ndarray:
    """The pipeline's alpha, uint8 (h, w), from the full-size float32 probability ``prob``
    and the RGB ``frame``: the background_blur spec's tensor_to_mask step (ops.tensor_to_mask
    without roi or size: the probability is already at the frame's size; then its
    morphology when morph_ksize > 1), then refine_mask's computation
    (serving.models.matte.refine) with its parameters, ``matte`` overriding theirs."""
    from serving.models.matte import refine

    steps = pipeline_parameters()
    m = steps["tensor_to_mask"]
    mask = ops.tensor_to_mask(np.ascontiguousarray(prob, np.float32)[None, None],
                              activation=m["activation"], channel=m["channel"],
                              threshold=m["threshold"], contrast=m["contrast"])[0]
    if m["morph_ksize"] > 1:
        mask = ops.morphology(mask, m["morph_op"], m["morph_ksize"])
    return refine([frame], [mask], {**steps["refine_mask"], "matte": matte})[0]


def _ref(family: str, guide: str = "", scaled: bool = False, input: str = "soft",
         **params: Any) -> Refinement:
    return Refinement(family, guide, tuple(sorted(params.items())), scaled, input)


#: The recommended default (bench/results/matting_cpu-2core.md: the best band error within
#: BUDGET_CPU_MS at 720p), in the benchmark's own code; the pipeline's defaults took its
#: parameters (PIPELINE computes it the pipeline's way).
RECOMMENDED = _ref("fast_guided", "colour", True, "stretch2", radius=8, eps=1e-5 * EPS_UNIT, s=8)

#: The pipeline's alpha (pipeline_alpha()): its default, and with matte=binary.
PIPELINE = _ref("pipeline", matte="soft")
PIPELINE_BINARY = _ref("pipeline", matte="binary")

#: The parameters of CV-CUDA's segmentation sample (its joint bilateral filter of the mask).
CVCUDA_SAMPLE = _ref("joint_bilateral", "grey", diameter=5, sigma_color=50.0, sigma_space=1.0)


def sweep(quick: bool = False) -> list[Refinement]:
    """The refinements the benchmark scores: the two baselines and each family's grid, each
    filtering the soft mask and (``of hard``) today's hard one; the fast guided filter with
    the colour guide; the stretched soft mask. The joint bilateral filter's d=15 grid of the
    first run (160-700 ms CPU at 720p, dominated) is down to its two best rows. Also the
    pipeline's own alpha (PIPELINE, PIPELINE_BINARY)."""
    out = [_ref("hard"), _ref("none"), PIPELINE, PIPELINE_BINARY]
    diameters = (5, 9)
    eps = (1e-5, 1e-4, 1e-3, 1e-2)
    for src in ("soft", "hard"):
        for guide in ("grey", "colour"):
            for d in diameters:
                for sc in (10, 25, 50):
                    for ss in sorted({1.0, d / 2}):
                        out.append(_ref("joint_bilateral", guide, input=src, diameter=d,
                                        sigma_color=float(sc), sigma_space=ss))
        if not quick:  # the first run's best joint bilateral rows, for reference
            out.append(_ref("joint_bilateral", "colour", input=src, diameter=15,
                            sigma_color=10.0 if src == "soft" else 25.0, sigma_space=7.5))
        for guide in ("grey", "colour"):
            for scaled in (False, True):
                for r in (4, 8, 16):
                    for e in eps:
                        out.append(_ref("guided", guide, scaled, src, radius=r, eps=e * EPS_UNIT))
        for s in (2, 4):
            for r in (4, 8, 16):
                for e in eps:
                    out.append(_ref("fast_guided", "grey", True, src, radius=r, eps=e * EPS_UNIT, s=s))
        for s in ((2, 4) if src == "hard" else (4,)):
            for r in (4, 8, 16):
                for e in (1e-5, 1e-4, 1e-3):
                    out.append(_ref("fast_guided", "colour", True, src, radius=r, eps=e * EPS_UNIT, s=s))
    for k in (2, 4):
        src = f"stretch{k}"
        out.append(_ref("fast_guided", "colour", True, src, radius=8, eps=1e-4 * EPS_UNIT, s=4))
        out.append(_ref("guided", "colour", False, src, radius=8, eps=1e-4 * EPS_UNIT))
        out.append(_ref("guided", "colour", True, src, radius=8, eps=1e-4 * EPS_UNIT))
    # Around the second run's pick (stretched k=2, s=4, r=8, eps 1e-4), after the pipeline's
    # first throughput run asked for a cheaper refinement: k 2 and 3, s 4 and 8 (the output
    # stage at full resolution stays), r 8 and 16, eps 1e-5 and 1e-4.
    for k in (2, 3):
        for s in (4, 8):
            for r in (8, 16):
                for e in (1e-5, 1e-4):
                    if (k, s, r, e) != (2, 4, 8, 1e-4):  # already above
                        out.append(_ref("fast_guided", "colour", True, f"stretch{k}", radius=r,
                                        eps=e * EPS_UNIT, s=s))
    return out


def time_refinement(ref: Refinement, scene: Scene, budget_s: float = 1.0,
                    min_runs: int = 3, max_runs: int = 15) -> tuple[float, float]:
    """Median wall and CPU milliseconds of one call on the scene's frame."""
    coarse, frame, prob = scene.coarse, scene.frame, scene.prob
    ref(coarse, frame, prob)  # warm-up
    wall, cpu = [], []
    start = time.perf_counter()
    while len(wall) < min_runs or (time.perf_counter() - start < budget_s and len(wall) < max_runs):
        t, c = time.perf_counter(), time.process_time()
        ref(coarse, frame, prob)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return 1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)


def time_interleaved(refs: Sequence[Refinement], scene: Scene, runs: int = 21
                     ) -> dict[str, tuple[float, float]]:
    """Median wall and CPU milliseconds of one call of each of ``refs`` on the scene's frame,
    their calls interleaved (a, b, a, b, ...): a comparison that load changing during the
    run (other agents share the cores) does not skew."""
    coarse, frame, prob = scene.coarse, scene.frame, scene.prob
    times: dict[str, list[tuple[float, float]]] = {r.name: [] for r in refs}
    for ref in refs:
        ref(coarse, frame, prob)  # warm-up
    for _ in range(runs):
        for ref in refs:
            t, c = time.perf_counter(), time.process_time()
            ref(coarse, frame, prob)
            times[ref.name].append((time.process_time() - c, time.perf_counter() - t))
    return {k: (1e3 * statistics.median(w for _, w in v), 1e3 * statistics.median(c for c, _ in v))
            for k, v in times.items()}


# ---------------------------------------------------------------------------------------
# The run


def scene_key(scale: str, bg: str) -> str:
    return f"{scale} {bg}"


def agreement(a: np.ndarray, b: np.ndarray, band: np.ndarray) -> dict[str, float]:
    """How two uint8 alphas differ: mean and max |a - b| in levels over the whole frame and
    the edge band, and the fraction of the frame's pixels where they differ at all."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return {"mean_abs": float(d.mean()), "band_mean_abs": float(d[band].mean()),
            "max_abs": int(d.max()), "differ_fraction": float((d > 0).mean())}


def run(scales: Sequence[str], refs: list[Refinement], timing_scales: Sequence[str]
        ) -> tuple[list[dict], dict[str, dict[tuple, tuple[float, float]]], dict[str, Any]]:
    """Score every refinement on every scene; time every cost key at the timing scales. When
    PIPELINE and RECOMMENDED (the benchmark's own implementation of the same refinement)
    are both in ``refs``, also the pipeline check: per scene how their alphas differ
    ("agreement"), and per timing scale their times interleaved ("interleaved_ms": name ->
    (wall, cpu))."""
    rows: list[dict] = []
    agree: list[dict] = []
    pair = [r for r in refs if r.name in (PIPELINE.name, RECOMMENDED.name)]
    paired: dict[str, dict[str, tuple[float, float]]] = {}
    for scale in scales:
        for bg in BACKGROUNDS:
            t0 = time.perf_counter()
            sc = make_scene(scale, bg)
            coarse, hair = sc.coarse, sc.hair
            kept: dict[str, np.ndarray] = {}
            for ref in refs:
                est = ref(coarse, sc.frame, sc.prob)
                if ref.name in (PIPELINE.name, RECOMMENDED.name):
                    kept[ref.name] = est
                rows.append({"refinement": ref.name, "family": ref.family, "input": ref.input,
                             "guide": ref.guide,
                             "scaled_radius": ref.scaled, **dict(ref.params),
                             "radius_px": ref.radius_at(*coarse.shape) if "radius" in dict(ref.params) else "",
                             "scale": scale, "background": bg,
                             "band_mae": round(alpha_mae(est, sc.alpha, sc.band), 3),
                             "hair_band_mae": round(alpha_mae(est, sc.alpha, hair), 3),
                             "body_band_mae": round(alpha_mae(est, sc.alpha, sc.band & ~hair), 3),
                             "whole_mae": round(alpha_mae(est, sc.alpha), 3),
                             "band_px": round(band_px(*coarse.shape), 2),
                             "band_fraction": round(float(sc.band.mean()), 4)})
            if len(kept) == 2:
                agree.append({"scale": scale, "background": bg,
                              **agreement(kept[PIPELINE.name], kept[RECOMMENDED.name], sc.band)})
            print(f"[matting] {scale} {bg}: {len(refs)} refinements in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
    timings: dict[str, dict[tuple, tuple[float, float]]] = {}
    for scale in timing_scales:
        sc = make_scene(scale, "textured")
        h, w = sc.alpha.shape
        done: dict[tuple, tuple[float, float]] = {}
        for ref in refs:
            key = ref.cost_key(h, w)
            if key not in done:
                done[key] = time_refinement(ref, sc)
        timings[scale] = done
        if len(pair) == 2:
            paired[scale] = time_interleaved(pair, sc)
        print(f"[matting] timed {len(done)} footprints at {scale}", flush=True)
    return rows, timings, {"agreement": agree, "interleaved_ms": paired}


def summarise(rows: list[dict], refs: list[Refinement],
              timings: dict[str, dict[tuple, tuple[float, float]]]) -> list[dict]:
    """One summary per refinement: band MAE per scene, their mean, the whole-frame mean and
    the timings."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["refinement"], []).append(r)
    out = []
    for ref in refs:
        rs = by[ref.name]
        s: dict[str, Any] = {"refinement": ref.name, "family": ref.family, "guide": ref.guide,
                             "ref": ref}
        for r in rs:
            s[scene_key(r["scale"], r["background"])] = r["band_mae"]
        s["band_mean"] = statistics.mean(r["band_mae"] for r in rs)
        s["hair_mean"] = statistics.mean(r["hair_band_mae"] for r in rs)
        s["body_mean"] = statistics.mean(r["body_band_mae"] for r in rs)
        s["whole_mean"] = statistics.mean(r["whole_mae"] for r in rs)
        for scale, done in timings.items():
            h, w = SCALES[scale]
            s[f"wall_ms_{scale}"], s[f"cpu_ms_{scale}"] = done[ref.cost_key(h, w)]
        out.append(s)
    return out


def family_label(s: dict) -> str:
    ref: Refinement = s["ref"]
    if ref.family in ("hard", "none", "pipeline"):
        return ref.name
    of = _of(ref.input)
    if ref.family == "guided":
        return f"guided{of} {ref.guide} {'scaled' if ref.scaled else 'fixed'} radius"
    return f"{ref.family}{of} {ref.guide}" + (f" s={dict(ref.params)['s']}" if ref.family == "fast_guided" else "")


def recommend(summary: list[dict], scale: str = "720p") -> tuple[dict | None, dict | None]:
    """(the default: the best band MAE among the sweep's refinements within the CPU budget
    at ``scale``, fast guided included, the pipeline's own rows not (they implement a
    default); the best among the ops' own filters within it); None where none fits."""
    key = f"cpu_ms_{scale}"
    fits = [s for s in summary if s["family"] not in ("hard", "none", "pipeline") and s.get(key, math.inf) <= BUDGET_CPU_MS]
    op_fits = [s for s in fits if s["family"] in REFINEMENTS]
    best = lambda xs: min(xs, key=lambda s: s["band_mean"]) if xs else None  # noqa: E731
    return best(fits), best(op_fits)


def pipeline_lines(summary: list[dict], check: dict[str, Any],
                   desc: Callable[[dict], str]) -> list[str]:
    """The recommendation's lines on the pipeline's rows: what they compute, their scores
    against today's mask and RECOMMENDED's (the benchmark's own implementation of the same
    refinement), their times interleaved, and per scene how the two default alphas differ
    (``check``: run()'s pipeline check)."""
    agree, paired = check.get("agreement", []), check.get("interleaved_ms", {})
    by = {s["refinement"]: s for s in summary}
    pipe, own, hard = by.get(PIPELINE.name), by.get(RECOMMENDED.name), by.get("hard (0.5, open 5)")
    if pipe is None:
        return []
    steps = pipeline_parameters()
    m, r = steps["tensor_to_mask"], steps["refine_mask"]
    d = lambda a, b, k: f"{a[k] - b[k]:+.2f}"  # noqa: E731
    out = [f"Pipeline default: {desc(pipe)}: the alpha pipelines/background_blur.yaml computes "
           f"(tensor_to_mask threshold {m['threshold']}, contrast {m['contrast']:g}, morph_ksize "
           f"{m['morph_ksize']}; refine_mask {r['refine']} {r['refine_guide']} radius "
           f"{r['refine_radius']}@720p eps {r['refine_eps']:g}*255^2 subsample "
           f"{r['refine_subsample']}, matte {r['matte']})"
           + (f"; {'within' if pipe['cpu_ms_720p'] <= BUDGET_CPU_MS else 'over'} the budget of "
              f"{BUDGET_CPU_MS:g} ms CPU at 720p." if "cpu_ms_720p" in pipe else ".")]
    if hard is not None:
        out[-1] += (f" Against today's mask: band {d(pipe, hard, 'band_mean')}, hair "
                    f"{d(pipe, hard, 'hair_mean')}, body {d(pipe, hard, 'body_mean')}.")
    if own is not None:
        cost = "".join(f", {pipe[k] - own[k]:+.1f} ms CPU at {k.split('_')[-1]}"
                       for k in ("cpu_ms_720p", "cpu_ms_1080p") if k in pipe and k in own)
        out.append(f"The same refinement in the benchmark's own code, {desc(own)}; the pipeline's "
                   f"against it: band {d(pipe, own, 'band_mean')}, hair {d(pipe, own, 'hair_mean')}, "
                   f"body {d(pipe, own, 'body_mean')}{cost}. They differ in where the stretch "
                   "happens (the pipeline: on the float probability before the rounding; the "
                   "benchmark: on the rounded mask, by a lookup) and in the low-resolution guide "
                   "(the pipeline's ops.guided_filter area-resizes it to uint8, rounding; the "
                   "benchmark keeps it in float32).")
    if paired:
        out.append("Their times interleaved (the two called in turn, medians; less skewed by "
                   "other load than the tables' separate timings): " + "; ".join(
                       f"{scale}: pipeline {t[PIPELINE.name][1]:.1f} ms CPU ({t[PIPELINE.name][0]:.1f} "
                       f"wall), the benchmark's {t[RECOMMENDED.name][1]:.1f} "
                       f"({t[RECOMMENDED.name][0]:.1f} wall), x{t[PIPELINE.name][1] / t[RECOMMENDED.name][1]:.2f}"
                       for scale, t in paired.items()) + ".")
    binary = by.get(PIPELINE_BINARY.name)
    if binary is not None:
        out.append(f"The pipeline with matte=binary: {desc(binary)}.")
    if agree:
        mean = lambda k: statistics.mean(a[k] for a in agree)  # noqa: E731
        out += ["", f"The pipeline's default alpha against {RECOMMENDED.name}'s, per scene "
                f"(|difference| in alpha levels; over all scenes: mean {mean('mean_abs'):.3f} over "
                f"the frame, {mean('band_mean_abs'):.3f} over the band, max "
                f"{max(a['max_abs'] for a in agree)}, {100 * mean('differ_fraction'):.2f} % of "
                "the pixels differ):", "",
                "| scene | mean abs (frame) | mean abs (band) | max abs | pixels differing |",
                "|---|---|---|---|---|"]
        out += [f"| {scene_key(a['scale'], a['background'])} | {a['mean_abs']:.3f} | "
                f"{a['band_mean_abs']:.3f} | {a['max_abs']} | {100 * a['differ_fraction']:.2f} % |"
                for a in agree]
    return out


def markdown(summary: list[dict], scales: Sequence[str], timing_scales: Sequence[str],
             args: argparse.Namespace, elapsed: float, check: dict[str, Any] | None = None
             ) -> tuple[str, dict]:
    scenes = [scene_key(sc, bg) for sc in scales for bg in BACKGROUNDS]
    best_of: dict[str, dict] = {}
    for s in summary:
        lab = family_label(s)
        if lab not in best_of or s["band_mean"] < best_of[lab]["band_mean"]:
            best_of[lab] = s
    pick, op_pick = recommend(summary) if "720p" in timing_scales else (None, None)
    in_budget: dict[str, dict] = {}
    for s in summary:
        lab = family_label(s)
        if s.get("cpu_ms_720p", math.inf) <= BUDGET_CPU_MS and s["family"] not in ("hard", "none"):
            if lab not in in_budget or s["band_mean"] < in_budget[lab]["band_mean"]:
                in_budget[lab] = s
    tcols = [f"{k}_ms_{sc}" for sc in timing_scales for k in ("wall", "cpu")]
    head = ["refinement", *scenes, "band mean", "hair band", "body band", "whole mean", *[c.replace("_ms_", " ms ") for c in tcols]]
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731

    def table(rows: list[dict]) -> list[str]:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in rows:
            out.append("| " + " | ".join([s["refinement"], *[fmt(s.get(c, "")) for c in scenes],
                                          fmt(s["band_mean"]), fmt(s["hair_mean"]),
                                          fmt(s["body_mean"]), fmt(s["whole_mean"]),
                                          *[fmt(s.get(c, "")) for c in tcols]]) + " |")
        return out

    order = sorted(best_of.values(), key=lambda s: s["band_mean"])
    cvcuda = next((s for s in summary if s["refinement"] == CVCUDA_SAMPLE.name), None)
    lines = [f"# Matting benchmark ({args.tag})", "", f"Machine: {describe()}; OpenCV {cv2.__version__} "
             f"({cv2.getNumThreads()} threads). Filters: joint bilateral from {SOURCE['joint_bilateral']}, "
             f"guided from {SOURCE['guided']}. Run time {elapsed:.0f} s.", "",
             "bench/matting_bench.py: a silhouette with a known, fractional alpha (hair strands, a soft "
             "rim) composited over three backgrounds at three scales; the DNN's output modelled as the "
             f"alpha area-resized to {NET} on the long side, blurred (sigma {NET_SIGMA} network px) and "
             "resized back bilinearly (the module's docstring says what this model leaves out). "
             "Errors: mean |alpha - true alpha| in alpha levels (0..255) over the edge band (within "
             f"{BAND_NET_PX:g} network pixels = 2 x long side / 256 frame pixels of a fractional "
             "true alpha) per scale and background, their mean, the mean over the band's part above "
             f"{HAIR_LINE:g} x height (hair: strands, soft rim) and below it (body: face, neck, "
             "shoulders, a sharp edge); 'whole' over the whole frame. Times: median ms of "
             "one call on the textured scene, wall (OpenCV's threads) and CPU (all threads), "
             "the grey conversion included for grey guides.", "",
             "## Best of each family (lowest mean band error over the sweep)", "", *table(order), ""]
    if cvcuda is not None:
        lines += ["CV-CUDA's sample parameters (grey guide, diameter 5, sigma_color 50, sigma_space 1):",
                  "", *table([cvcuda]), ""]
    lines += [f"## Best of each family within the budget ({BUDGET_CPU_MS:g} ms CPU at 720p)", ""]
    lines += table(sorted(in_budget.values(), key=lambda s: s["band_mean"])) if in_budget else [
        "None fits."]
    refined = sorted((s for s in summary if s["family"] not in ("hard", "none")),
                     key=lambda s: s["band_mean"])
    fit = [s for s in refined if s.get("cpu_ms_720p", math.inf) <= BUDGET_CPU_MS]
    over = [s for s in refined if s.get("cpu_ms_720p", math.inf) > BUDGET_CPU_MS]
    short = ["refinement", "band mean", "hair band", "body band", "cpu ms 720p", "cpu ms 1080p",
             "wall ms 720p", "wall ms 1080p"]

    def top(rows: list[dict]) -> list[str]:
        out = ["| " + " | ".join(short) + " |", "|" + "---|" * len(short)]
        for s in rows:
            out.append("| " + " | ".join([s["refinement"], *[fmt(s.get(c, "")) for c in (
                "band_mean", "hair_mean", "body_mean", "cpu_ms_720p", "cpu_ms_1080p",
                "wall_ms_720p", "wall_ms_1080p")]]) + " |")
        return out

    lines += ["", f"## The top {min(TOP, len(fit))} within the budget and the best {min(TOP_OVER, len(over))} "
              "over it (every refinement, by band error)", "", *top(fit[:TOP]), "", *top(over[:TOP_OVER])]
    lines += ["", "## Recommendation", ""]
    hard = next(s for s in summary if s["family"] == "hard")
    ops_any = [s for s in summary if s["family"] in REFINEMENTS]
    op_best = min(ops_any, key=lambda s: s["band_mean"])
    both = [s for s in ops_any if s["hair_mean"] < hard["hair_mean"] and s["body_mean"] < hard["body_mean"]]
    op_both = min(both, key=lambda s: s["band_mean"]) if both else None
    desc = lambda s: (f"**{s['refinement']}** (band {s['band_mean']:.2f}: hair {s['hair_mean']:.2f}, "  # noqa: E731
                      f"body {s['body_mean']:.2f}; {s.get('cpu_ms_720p', math.nan):.1f} ms CPU at 720p"
                      + (f", {s['cpu_ms_1080p']:.1f} at 1080p)" if "cpu_ms_1080p" in s else ")"))
    lines.append(f"Today's mask: {desc(hard)}.")
    if pick is not None:
        lines.append(f"Default: {desc(pick)}: the best band error among all refinements within "
                     f"{BUDGET_CPU_MS:g} ms CPU at 720p.")
    else:
        lines.append(f"No refinement of the sweep fits {BUDGET_CPU_MS:g} ms CPU at 720p.")
    if op_pick is not None and op_pick is not pick:
        lines.append(f"Best of the ops' own filters (joint bilateral, full guided) within the budget: {desc(op_pick)}.")
    lines.append(f"Best of the ops' filters at any cost: {desc(op_best)}.")
    if op_both is not None:
        lines.append(f"Best of the ops' filters that beat today's mask in both the hair and the body "
                     f"band: {desc(op_both)}.")
    if pick is not None and pick["refinement"] != RECOMMENDED.name:
        lines.append(f"(bench.matting_bench.RECOMMENDED, the default's parameters the pipeline "
                     f"took, is {RECOMMENDED.name}: not this run's default.)")
    lines += ["", *pipeline_lines(summary, check or {}, desc)]
    lines += ["", f"The whole sweep ({len(summary)} refinements x {len(scenes)} scenes): "
              f"matting_{args.tag}.csv.", ""]
    data = {"machine": describe(), "opencv": cv2.__version__, "source": SOURCE,
            "net": NET, "net_sigma": NET_SIGMA, "band_net_px": BAND_NET_PX,
            "budget_cpu_ms_720p": BUDGET_CPU_MS,
            "recommended": pick["refinement"] if pick else None,
            "best_op_filter_within_budget": op_pick["refinement"] if op_pick else None,
            "best_op_filter": op_best["refinement"],
            "best_op_filter_beating_hard_in_hair_and_body": op_both["refinement"] if op_both else None,
            "pipeline_parameters": {k: pipeline_parameters()[k] for k in ("tensor_to_mask", "refine_mask")},
            "pipeline_check": check or {},
            "summary": [{k: v for k, v in s.items() if k != "ref"} for s in summary]}
    return "\n".join(lines), data


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tag", default="local")
    p.add_argument("--quick", action="store_true", help="512x512 only, a smaller sweep, no 1080p timing")
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    scales = ["512"] if args.quick else list(SCALES)
    timing_scales = ["720p"] if args.quick else ["720p", "1080p"]
    refs = sweep(args.quick)
    rows, timings, check = run(scales, refs, timing_scales)
    summary = summarise(rows, refs, timings)
    for r in rows:  # the timings of each row's refinement at the timing scales, into the CSV
        s = next(s for s in summary if s["refinement"] == r["refinement"])
        r.update({k: round(v, 3) for k, v in s.items() if k.startswith(("wall_ms", "cpu_ms"))})
    md, data = markdown(summary, scales, timing_scales, args, time.perf_counter() - t0, check)
    stem = write_report(args.out_dir, "matting", args.tag, md + "\n", data)
    write_csv(rows, stem.with_suffix(".csv"))
    print(f"wrote {stem}.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
