"""guided_filter against cv2.ximgproc.guidedFilter (opencv-contrib).

The agreement, measured over thousands of random cases (docs/ops.md) and asserted here:
a colour guide gives OpenCV's result bit for bit; a grey guide differs only through
OpenCV's approximate SSE reciprocal (_mm_rcp_ps) of var + eps: uint8 by at most 1, in at
most 0.1 % of the values (measured 0.006-0.013 % on noise, about 0.001 % on smooth 720p and
1080p images), float32 images in 0..1 by at most 1e-4 (measured up to 5.7e-5)."""
import cv2
import numpy as np
import pytest

import ops
from ops import guided
from tests.cv_refs import cv_guided_filter
from tests.helpers import (MEMORY, SIZES, assert_refused, exact, host, kernel_matches_numpy, random_image,
                           rng_for, to_device)

GF_SIZES = [s for s in SIZES if s != (480, 640)] + [(1, 9), (7, 1), (5, 3), (120, 203)]
# (radius, eps as a fraction of the value range, squared): radii past the image's size too.
# (An eps below float32's resolution of the guide's squares, ~6e-8 * value^2, leaves a flat
# window var + eps = 0, and NaN, in OpenCV as in the op: not a case to compare.)
CONFIGS = [(1, 0.1), (2, 0.01), (4, 0.001), (8, 0.01), (16, 0.1), (40, 0.001)]
U8_FRACTION = 1e-3   # of the values a grey guide may change by 1 (uint8)
F32_ABS = 1e-4       # float32 grey guide, images in 0..1
DTYPES = ["uint8", "float32"]


def image(rng, h, w, c, dtype):
    """Random pixels, or in half the draws a smooth image with edges (a realistic guide)."""
    if rng.random() < 0.5:
        x = rng.integers(0, 256, (h, w, c)).astype(np.float32)
    else:
        blur = cv2.GaussianBlur(rng.integers(0, 256, (h, w, c)).astype(np.float32), (0, 0), 3)
        x = np.clip(blur.reshape(h, w, c) * 3 - 255 + rng.normal(0, 10, (h, w, c)), 0, 255)
    return x.astype(np.uint8) if dtype == "uint8" else (x / 255).astype(np.float32)


def eps_for(frac, dtype):
    return (frac * (255 if dtype == "uint8" else 1)) ** 2


class Agreement:
    """Checks results against OpenCV's (or the reference's) within the module's tolerance;
    counts the uint8 values a grey guide changed, for the fraction."""

    def __init__(self):
        self.changed = self.total = 0

    def check(self, ours, ref, gc, what=""):
        assert ours.shape == ref.shape and ours.dtype == ref.dtype, f"{what}: {ours.shape} {ref.shape}"
        if gc == 3:
            exact(ours, ref, what)
            return
        d = np.abs(ours.astype(np.float64) - ref)
        d[np.isnan(ours) & np.isnan(ref)] = 0
        if ours.dtype == np.uint8:
            assert d.max(initial=0) <= 1, f"{what}: max diff {d.max()}"
            self.changed += int(np.count_nonzero(d))
            self.total += d.size
        else:
            assert d.max(initial=0) <= F32_ABS, f"{what}: max diff {d.max():.3g}"

    def fraction_ok(self, minimum=10000):
        if self.total >= minimum:
            assert self.changed <= U8_FRACTION * self.total, f"{self.changed} of {self.total} changed"


def run_host(impl, agreement, guide, src, radius, eps):
    """ops.guided_filter on NumPy input under ``impl`` (under "opencv" also equal to the
    reference's, bit for bit: OpenCV runs only where it gives the reference's values)."""
    return host(impl, ops.guided_filter, guide, src, radius, eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gc", [1, 3])
@pytest.mark.parametrize("size", GF_SIZES, ids=str)
def test_matches_opencv(request, impl, dtype, gc, size):
    rng = rng_for(request)
    agreement = Agreement()
    for sc in (1, 3):
        for radius, frac in CONFIGS:
            g, s = image(rng, *size, gc, dtype), image(rng, *size, sc, dtype)
            eps = eps_for(frac, dtype)
            agreement.check(run_host(impl, agreement, g, s, radius, eps), cv_guided_filter(g, s, radius, eps),
                            gc, f"{size} gc={gc} sc={sc} r={radius} eps={eps}")
    agreement.fraction_ok()


@pytest.mark.parametrize("gc", [1, 3])
def test_matches_opencv_large(request, impl, gc):
    """720p-like work at two radii: a uint8 mask steered by the image."""
    rng = rng_for(request)
    agreement = Agreement()
    g = image(rng, 240, 320, gc, "uint8")
    m = cv2.GaussianBlur(((rng.random((240, 320)) < 0.5) * 255).astype(np.uint8), (0, 0), 4)
    for radius in (8, 3):
        out = run_host(impl, agreement, g, m, radius, eps_for(0.01, "uint8"))
        assert out.shape == m.shape
        agreement.check(out, cv_guided_filter(g, m, radius, eps_for(0.01, "uint8")), gc)
    agreement.fraction_ok()


def test_agreement_over_random_cases(request):
    """The stated tolerance over many random sizes, channel counts, radii and eps (the
    OpenCV implementation against the reference and OpenCV's own call)."""
    rng = rng_for(request)
    agreement = Agreement()
    for i in range(160):
        h, w = int(rng.choice([1, 2, 5, 17, 37, 64])), int(rng.choice([1, 3, 7, 16, 53, 90]))
        dtype, gc, sc = DTYPES[i % 2], (1, 3)[(i // 2) % 2], int(rng.choice([1, 3]))
        radius, frac = int(rng.choice([1, 2, 4, 8, 16, 40])), float(rng.choice([1e-4, 1e-3, 1e-2, 0.1]))
        g, s = image(rng, h, w, gc, dtype), image(rng, h, w, sc, dtype)
        with ops.use_reference():
            ref = ops.guided_filter(g, s, radius, eps_for(frac, dtype))
        agreement.check(ref, cv_guided_filter(g, s, radius, eps_for(frac, dtype)), gc,
                        f"{(h, w)} {dtype} gc={gc} sc={sc} r={radius} eps={frac}^2")
    assert agreement.total > 50000
    agreement.fraction_ok()


def test_input_forms(request, impl):
    rng = rng_for(request)
    agreement = Agreement()
    eps = eps_for(0.01, "uint8")
    # one image: a grey (H, W) guide, a (H, W) mask
    g, m = random_image(rng, 23, 17, None), random_image(rng, 23, 17, None)
    out = run_host(impl, agreement, g, m, 3, eps)
    assert out.shape == m.shape and out.dtype == np.uint8
    agreement.check(out, cv_guided_filter(g, m, 3, eps), 1)
    # a batch: (N, H, W, 3) guides with (N, H, W) masks, then with (N, H, W, 3) images
    gb = np.stack([random_image(rng, 19, 26, 3) for _ in range(3)])
    for sb in (np.stack([random_image(rng, 19, 26, None) for _ in range(3)]),
               np.stack([random_image(rng, 19, 26, 3) for _ in range(3)])):
        out = run_host(impl, agreement, gb, sb, 2, eps)
        assert out.shape == sb.shape
        for o, a, b in zip(out, gb, sb):
            agreement.check(o, cv_guided_filter(a, b, 2, eps), 3)
    # a list of sizes, float32, grey guides with a channel axis and (H, W) masks
    shapes = [(1, 1), (40, 3), (9, 61), (1, 13)]
    gl = [random_image(rng, h, w, 1).astype(np.float32) / 255 for h, w in shapes]
    sl = [random_image(rng, h, w, None).astype(np.float32) / 255 for h, w in shapes]
    outs = run_host(impl, agreement, gl, sl, 4, 1e-3)
    assert isinstance(outs, list) and [o.shape for o in outs] == [s.shape for s in sl]
    for o, a, b in zip(outs, gl, sl):
        agreement.check(o, cv_guided_filter(a, b, 4, 1e-3), 1)


def test_without_opencv_contrib(request, monkeypatch):
    """A plain OpenCV build (no cv2.ximgproc): the reference's values, by OpenCV's box filter."""
    rng = rng_for(request)
    monkeypatch.delattr(cv2, "ximgproc")
    for gc, dtype in [(1, "uint8"), (3, "float32"), (1, "float32")]:
        g, s = image(rng, 33, 47, gc, dtype), image(rng, 33, 47, 3, dtype)
        out = ops.guided_filter(g, s, 5, eps_for(0.01, dtype))
        with ops.use_reference():
            exact(out, ops.guided_filter(g, s, 5, eps_for(0.01, dtype)))


Z8 = np.zeros((4, 4), np.uint8)


@pytest.mark.parametrize("kwargs, exc, name, words", [
    (dict(guide=np.zeros((4, 4), np.uint16)), TypeError, "guide", "dtype uint8 or float32"),
    (dict(guide=np.zeros((4, 4, 4), np.uint8)), ValueError, "guide", "1 or 3 channels"),
    (dict(guide=np.zeros((0, 4), np.uint8)), ValueError, "guide", "height and width > 0"),
    (dict(guide="img"), TypeError, "guide", "a NumPy or CuPy array"),
    (dict(src=np.zeros((4, 4, 2), np.uint8)), ValueError, "src", "1 or 3 channels"),
    (dict(src=np.zeros((4, 4), np.float32)), TypeError, "src", "dtype uint8 like guide"),
    (dict(src=np.zeros((4, 5), np.uint8)), ValueError, "src", "height, width (4, 4) like guide"),
    (dict(src=[Z8]), ValueError, "src", "the form of guide"),
    (dict(guide=[Z8, Z8], src=[Z8]), ValueError, "src", "2 images like guide"),
    (dict(guide=np.zeros((2, 4, 4, 3), np.uint8), src=np.zeros((3, 4, 4), np.uint8)), ValueError,
     "src", "2 images like guide"),
    (dict(radius=0), ValueError, "radius", "an integer >= 1"),
    (dict(radius=1025), ValueError, "radius", "an integer <= 1024"),
    (dict(radius=2.0), TypeError, "radius", "an integer"),
    (dict(eps=0), ValueError, "eps", "a number > 0"),
    (dict(eps=-1.0), ValueError, "eps", "a number > 0"),
    (dict(eps=float("inf")), ValueError, "eps", "finite"),
    (dict(eps="1"), TypeError, "eps", "a number"),
], ids=repr)
def test_bad_input(kwargs, exc, name, words):
    args = dict(guide=Z8, src=Z8, radius=2, eps=1.0)
    args.update(kwargs)
    assert_refused(exc, name, words, lambda: ops.guided_filter(**args))


def _pair(radius, eps):
    return lambda a: ops.guided_filter(a[0], a[1], radius, eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gc", [1, 3])
@pytest.mark.parametrize("radius, frac", [(1, 0.1), (4, 0.01), (40, 0.001)], ids=str)
def test_backends_agree(backend, request, dtype, gc, radius, frac):
    rng = rng_for(request)
    eps = eps_for(frac, dtype)
    run = lambda x: kernel_matches_numpy(backend, _pair(radius, eps), x, check=exact)  # noqa: E731
    for sc in (1, 3):
        run([image(rng, 61, 83, gc, dtype), image(rng, 61, 83, sc, dtype)])
    run([image(rng, 1, 1, gc, dtype)[..., 0], image(rng, 1, 1, 1, dtype)[..., 0]])
    run([np.stack([image(rng, 9, 1, gc, dtype) for _ in range(3)]),
         np.stack([image(rng, 9, 1, 1, dtype)[..., 0] for _ in range(3)])])
    shapes = [(1, 1), (30, 3), (7, 45), (33, 17)]
    run([[image(rng, h, w, gc, dtype) for h, w in shapes], [image(rng, h, w, 3, dtype) for h, w in shapes]])


def test_backends_agree_near_singular(backend, request):
    """Flat and two-level guides (zero variance, a singular 3x3 covariance) with small eps:
    the det guard, the reciprocal of eps alone."""
    rng = rng_for(request)
    flat = np.full((20, 30, 3), 77, np.uint8)
    two = np.where(rng.random((20, 30, 1)) < 0.5, 10, 200).astype(np.uint8).repeat(3, axis=2)
    m = random_image(rng, 20, 30, None)
    for g in (flat, two, flat[..., :1]):
        for eps in (1e-3, 0.5, 100.0):
            kernel_matches_numpy(backend, _pair(3, eps), [g, m], check=exact)


def test_mixed_list_rejected(backend):
    with pytest.raises(TypeError, match=f"guide.*mixing NumPy and {MEMORY[backend]}"):
        ops.guided_filter([Z8, to_device(Z8, backend)], [Z8, Z8], 2, 1.0)
    with pytest.raises(TypeError, match=f"src: expected NumPy arrays like guide, got {MEMORY[backend]}"):
        ops.guided_filter(Z8, to_device(Z8, backend), 2, 1.0)


def test_box_means_are_opencvs(request):
    """The reference's box means equal cv2.boxFilter(CV_32F, BORDER_REFLECT) bit for bit,
    radii past the image's size included."""
    rng = rng_for(request)
    for h, w, r in [(1, 1, 2), (5, 3, 9), (37, 53, 3), (64, 48, 20)]:
        planes = rng.random((2, h, w), dtype=np.float32) * np.float32(1e3)
        exact(guided._box_means(planes, r), guided._cv_box_means(planes, r))
