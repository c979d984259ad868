"""resize against cv2.resize."""
import numpy as np
import pytest

import ops
from tests.cv_refs import INTER, cv_resize
from tests.helpers import (CHANNELS, assert_aligned, assert_float_close, assert_refused, exact, host,
                           kernel_matches_numpy, random_batch, random_float, random_image, reference_only, rng_for)

# (src h, w) -> (dst h, w): odd sizes, 1-pixel axes, same size, exact 2x/3x (area fast
# path), large factors both ways, near-identity.
CASES = [((17, 31), (40, 70)), ((1, 7), (5, 9)), ((9, 1), (3, 4)), ((1000, 1), (3, 700)),
         ((640, 480), (7, 5)), ((5, 3), (400, 300)), ((720, 1280), (256, 455)),
         ((101, 99), (100, 98)), ((300, 300), (150, 150)), ((300, 240), (100, 80)),
         ((64, 64), (64, 64)), ((481, 641), (240, 320)), ((33, 65), (66, 13)), ((1, 1), (3, 2)),
         ((480, 640), (7, 5)), ((1, 1), (5, 3)), ((1, 7), (9, 1)), ((17, 31), (40, 50)),
         ((121, 203), (64, 48)), ((64, 48), (121, 203)), ((100, 100), (50, 50)),
         ((90, 90), (30, 30)), ((90, 60), (30, 60)), ((101, 77), (33, 70)),
         ((33, 70), (101, 77)), ((480, 640), (473, 631)), ((9, 1), (9, 1))]


@pytest.mark.parametrize("interp", INTER)
@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("src, dst", CASES, ids=str)
def test_matches_opencv(request, impl, interp, c, src, dst):
    rng = rng_for(request)
    img = random_image(rng, *src, c)
    assert_aligned(host(impl, ops.resize, img, dst, interp), cv_resize(img, dst, interp),
                   f"{interp} {src}->{dst} c={c}")
    f = random_float(rng, *src, c)
    np.testing.assert_allclose(host(impl, ops.resize, f, dst, interp), cv_resize(f, dst, interp),
                               atol=1e-4)


def test_input_forms(request, impl):
    rng = rng_for(request)
    gray = random_image(rng, 31, 17, None)
    out = host(impl, ops.resize, gray, (8, 9))
    assert out.shape == (8, 9)
    assert_aligned(out, cv_resize(gray, (8, 9)))
    batch = random_batch(rng, 3, 40, 30)
    out = host(impl, ops.resize, batch, (17, 23))
    assert out.shape == (3, 17, 23, 3)
    for o, i in zip(out, batch):
        exact(o, cv_resize(i, (17, 23)))
    out = host(impl, ops.resize, batch, (7, 11), "area")
    assert out.shape == (3, 7, 11, 3)
    for o, i in zip(out, batch):
        assert_aligned(o, cv_resize(i, (7, 11), "area"))
    imgs = [random_image(rng, h, w) for h, w in [(5, 7), (60, 3), (1, 1)]]
    sizes = [(10, 14), (20, 1), (4, 4)]
    outs = host(impl, ops.resize, imgs, sizes, "area")
    assert isinstance(outs, list) and [o.shape[:2] for o in outs] == sizes
    for o, i, s in zip(outs, imgs, sizes):
        exact(o, cv_resize(i, s, "area"))
    imgs = [random_image(rng, h, w, 4) for h, w in [(5, 7), (40, 3), (1, 1)]]
    outs = host(impl, ops.resize, imgs, [(10, 14), (20, 3), (2, 5)])
    for o, i in zip(outs, imgs):
        assert_aligned(o, cv_resize(i, o.shape[:2]))
    assert [o.shape for o in host(impl, ops.resize, imgs, (6, 6), "nearest")] == [(6, 6, 4)] * 3
    f = random_float(rng, 4, 4, 7)  # float32 takes any channel count
    assert host(impl, ops.resize, f, (8, 2)).shape == (8, 2, 7)


Z = np.zeros((4, 4, 3), np.uint8)


@pytest.mark.parametrize("img, kwargs, exc, name, words", [
    (np.zeros((4, 4, 3), np.int16), {}, TypeError, "img", "dtype uint8 or float32"),
    (np.zeros((4, 4, 2), np.uint8), {}, ValueError, "img", "1, 3 or 4 channels"),
    (np.zeros((0, 4, 3), np.uint8), {}, ValueError, "img", "height and width > 0"),
    (Z, {"size": (0, 5)}, ValueError, "size", "expected (height, width) both > 0"),
    (Z, {"size": (5,)}, TypeError, "size", "(height, width)"),
    (Z, {"interpolation": "cubic"}, ValueError, "interpolation", "'linear'"),
    (Z, {"size": [(5, 5), (6, 6)]}, ValueError, "size", "expected a single (height, width)"),
    (np.zeros((3, 4, 4, 3), np.uint8), {"size": [(5, 5), (6, 6), (5, 5)]}, ValueError, "size",
     "expected a single (height, width)"),
    ([Z], {"size": [(2, 2), (3, 3)]}, ValueError, "size", "1 sizes, one per image"),
], ids=repr)
def test_bad_input(img, kwargs, exc, name, words):
    args = {"size": (2, 2), **kwargs}
    assert_refused(exc, name, words, lambda: ops.resize(img, **args))


@pytest.mark.parametrize("interp", INTER)
def test_backends_agree(backend, request, interp):
    rng = rng_for(request)
    for src, dst in CASES:
        # every channel count and float32, but 3 channels only for the largest sources (speed)
        large = src[0] * src[1] > 300_000 and (src, dst) != ((480, 640), (473, 631))
        for c in [3] if large else CHANNELS:
            kernel_matches_numpy(backend, ops.resize, random_image(rng, *src, c), dst, interp, check=exact)
        if not large:
            kernel_matches_numpy(backend, ops.resize, random_float(rng, *src, 5), dst, interp, check=exact)
    kernel_matches_numpy(backend, ops.resize, random_batch(rng, 3, 40, 30), (20, 15), interp, check=exact)
    kernel_matches_numpy(backend, ops.resize, random_batch(rng, 4, 33, 65, 4), (66, 13), interp, check=exact)
    kernel_matches_numpy(backend, ops.resize, random_float(rng, 2, 31, 17, 2), (64, 9), interp, check=exact)
    imgs = [random_image(rng, h, w, 3) for h, w in [(1, 1), (50, 3), (7, 90), (64, 64)]]
    kernel_matches_numpy(backend, ops.resize, imgs, [(3, 3), (25, 3), (14, 45), (32, 32)], interp, check=exact)
    imgs = [random_image(rng, h, w, 1) for h, w in [(1, 1), (50, 3), (7, 90), (480, 640)]]
    kernel_matches_numpy(backend, ops.resize, imgs, [(3, 3), (25, 2), (14, 45), (240, 320)], interp, check=exact)


@reference_only
@pytest.mark.parametrize("interp", ["linear", "nearest"])
@pytest.mark.parametrize("src, dst", CASES[:8], ids=str)
def test_float32_near_float64_opencv(request, impl, interp, src, dst):
    """float32 within 1e-5 of cv2.resize computed on float64 (only the rounding order differs)."""
    img = random_float(rng_for(request), *src, 2)
    assert_float_close(host(impl, ops.resize, img, dst, interp),
                       cv_resize(img.astype(np.float64), dst, interp), 1e-5)
