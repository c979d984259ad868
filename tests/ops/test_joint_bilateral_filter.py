"""joint_bilateral_filter against cv2.ximgproc.jointBilateralFilter (bit exact, uint8 and
float32), and where float32 departs from OpenCV by design."""
import numpy as np
import pytest

import ops
from ops.bilateral import window_radius
from tests.cv_refs import BLUR_BORDER, cv_joint_bilateral
from tests.helpers import (MEMORY, SIZES, assert_refused, exact, host, kernel_matches_numpy,
                           random_image, rng_for, to_device)

JBF_SIZES = SIZES[:-1] + [(1, 9), (7, 1), (5, 3), (120, 203)]
# (diameter, sigma_color, sigma_space): CV-CUDA's sample (5, 50, 1), derived windows (d <= 0),
# sigmas <= 0 (OpenCV's 1), windows larger than the small images, a narrow colour sigma.
CONFIGS = [(5, 50.0, 1.0), (0, 10.0, 2.2), (9, 25.0, 3.0), (3, 0.0, 0.0), (1, 300.0, 5.0),
           (15, 4.0, 6.5), (0, 50.0, 0.0), (7, 120.0, 1.7)]


def pair(rng, h, w, cs, cg, dtype):
    """(src, guide); the guide has large flat regions and hard edges, as a frame does, so
    the colour weights range from 1 to ~0."""
    if dtype == "uint8":
        src = random_image(rng, h, w, cs)
        guide = random_image(rng, h, w, cg)
        guide[: h // 2] //= 32
        guide[:, : w // 3] = 255
        return src, guide
    src = rng.random((h, w, cs), dtype=np.float32) * 255
    guide = rng.random((h, w, cg), dtype=np.float32) * rng.choice([1.0, 255.0])
    guide[: h // 2] *= 0.1
    return src, guide.astype(np.float32)


# OpenCV's float32 table lookup runs past its end at a constant border (the border's 0 lies
# outside the guide's range): test_float_table_is_clamped covers that case instead.
@pytest.mark.parametrize("dtype, border", [(d, b) for d in ("uint8", "float32") for b in BLUR_BORDER
                                           if (d, b) != ("float32", "constant")])
@pytest.mark.parametrize("channels", [(1, 1), (1, 3), (3, 1), (3, 3)], ids=str)
@pytest.mark.parametrize("size", JBF_SIZES, ids=str)
def test_matches_opencv(request, impl, dtype, border, channels, size):
    rng = rng_for(request)
    src, guide = pair(rng, *size, *channels, dtype)
    configs = CONFIGS if size[0] * size[1] < 10000 else CONFIGS[:3]
    # A flat float32 guide (a 1x1 grey one here): OpenCV's square Gaussian and the op's
    # circular one (test_flat_float_guide_is_the_circular_gaussian) both average one value.
    flat = dtype == "float32" and float(guide.max()) - float(guide.min()) < np.finfo(np.float32).eps
    check = (lambda a, b, what: np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=what)) if flat else exact
    for d, sc, ss in configs:
        check(host(impl, ops.joint_bilateral_filter, src, guide, d, sc, ss, border),
              cv_joint_bilateral(src, guide, d, sc, ss, border),
              f"{size} {channels} {dtype} {border} d={d} sc={sc} ss={ss}")


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_input_forms(request, impl, dtype):
    rng = rng_for(request)
    mask, guide = pair(rng, 23, 17, 1, 3, dtype)
    out = host(impl, ops.joint_bilateral_filter, mask[..., 0], guide, 5, 50, 1)
    assert out.shape == (23, 17) and out.dtype == mask.dtype
    exact(out, cv_joint_bilateral(mask[..., 0], guide, 5, 50, 1))
    pairs = [pair(rng, 19, 26, 3, 1, dtype) for _ in range(3)]
    batch, guides = np.stack([s for s, _ in pairs]), np.stack([g for _, g in pairs])
    out = host(impl, ops.joint_bilateral_filter, batch, guides, 7, 30, 2, "replicate")
    assert out.shape == batch.shape
    for o, s, g in zip(out, batch, guides):
        exact(o, cv_joint_bilateral(s, g, 7, 30, 2, "replicate"))
    pairs = [pair(rng, h, w, 1, 3, dtype) for h, w in [(1, 1), (40, 3), (9, 61), (1, 13)]]
    outs = host(impl, ops.joint_bilateral_filter, [s for s, _ in pairs], [g for _, g in pairs], 9, 20, 3)
    assert isinstance(outs, list) and [o.shape for o in outs] == [s.shape for s, _ in pairs]
    for o, (s, g) in zip(outs, pairs):
        exact(o, cv_joint_bilateral(s, g, 9, 20, 3))


def test_one_array_as_src_and_guide_is_joint(request, impl):
    """OpenCV runs its plain bilateral filter when src and guide are one array (also a
    different quotient rounding); the op stays the joint filter, as on a copy."""
    img = random_image(rng_for(request), 31, 27, 3)
    exact(host(impl, ops.joint_bilateral_filter, img, img, 5, 50, 2),
          cv_joint_bilateral(img, img.copy(), 5, 50, 2))


def circular_gaussian_mean(src, radius, sigma_space, border):
    """The joint filter's result where every colour weight is 1: the space-weighted mean over
    the circular window, in float64 (an independent formula, not the op's tap loop)."""
    h, w = src.shape[:2]
    out = np.zeros(src.shape, np.float64)
    total = 0.0
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx > radius * radius:
                continue
            wt = np.exp(-(dy * dy + dx * dx) / (2 * sigma_space ** 2))
            ys = np.clip(np.arange(h) + dy, 0, h - 1) if border == "replicate" else None
            xs = np.clip(np.arange(w) + dx, 0, w - 1) if border == "replicate" else None
            out += wt * src[ys][:, xs]
            total += wt
    return out / total


def test_flat_float_guide_is_the_circular_gaussian(request, impl):
    """A flat float32 guide (range < FLT_EPSILON): every colour weight is 1, so the result is
    the circular space-weighted mean. OpenCV instead calls GaussianBlur with a square d x d
    window there (its source marks it a TODO); docs/ops.md says so."""
    rng = rng_for(request)
    src = rng.random((21, 30, 3), dtype=np.float32) * 255
    guide = np.full((21, 30, 1), 0.25, np.float32)
    out = host(impl, ops.joint_bilateral_filter, src, guide, 7, 10, 2.0, "replicate")
    np.testing.assert_allclose(out, circular_gaussian_mean(src, 3, 2.0, "replicate"), rtol=2e-6, atol=2e-4)


def test_float_table_is_clamped(request, impl):
    """A float32 guide far outside its range at a constant border (value 0), and NaN in the
    guide: distances past the colour table take its last entry; the result is finite and
    src's NaN-free values stay in src's range (OpenCV would read outside its table)."""
    rng = rng_for(request)
    src = rng.random((12, 14, 1), dtype=np.float32)
    guide = 1000 + rng.random((12, 14, 1), dtype=np.float32)
    guide[3, 4] = np.nan
    out = host(impl, ops.joint_bilateral_filter, src, guide, 5, 0.5, 1.0, "constant")
    ok = np.isfinite(out)
    assert ok.sum() >= out.size - 25  # only windows holding the NaN guide pixel may be NaN
    assert out[ok].min() >= 0 and out[ok].max() <= 1


def test_window_radius_follows_opencv():
    assert [window_radius(d, 1.0) for d in (1, 2, 3, 4, 5, 9)] == [1, 1, 1, 2, 2, 4]
    # d <= 0: cvRound(1.5 sigma), half to even; at least 1; sigma <= 0 counts as 1.
    assert [window_radius(0, s) for s in (0.0, -3.0, 1.0, 5 / 3, 3.0, 0.2)] == [2, 2, 2, 2, 4, 1]


@pytest.mark.parametrize("kwargs, exc, name, words", [
    (dict(src=np.zeros((4, 4, 3), np.int16)), TypeError, "src", "uint8 or float32"),
    (dict(guide=np.zeros((4, 4, 3), np.float32)), TypeError, "guide", "dtype uint8"),
    (dict(src=np.zeros((4, 4, 4), np.uint8)), ValueError, "src", "1 or 3 channels"),
    (dict(guide=np.zeros((4, 4, 2), np.uint8)), ValueError, "guide", "1 or 3 channels"),
    (dict(guide=np.zeros((4, 5, 3), np.uint8)), ValueError, "guide", "height, width (4, 4)"),
    (dict(guide=np.zeros((2, 4, 4, 3), np.uint8)), ValueError, "guide", "1 images"),
    (dict(src=np.zeros((0, 4), np.uint8)), ValueError, "src", "height and width > 0"),
    (dict(diameter=5.0), TypeError, "diameter", "an integer"),
    (dict(sigma_color=float("nan")), ValueError, "sigma_color", "finite"),
    (dict(sigma_space="1"), TypeError, "sigma_space", "a number"),
    (dict(border="wrap"), ValueError, "border", "'reflect101'"),
], ids=repr)
def test_bad_input(kwargs, exc, name, words):
    args = dict(src=np.zeros((4, 4), np.uint8), guide=np.zeros((4, 4, 3), np.uint8),
                diameter=5, sigma_color=50.0, sigma_space=1.0)
    args.update(kwargs)
    assert_refused(exc, name, words, lambda: ops.joint_bilateral_filter(**args))


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("config", [(5, 50.0, 1.0), (0, 12.0, 2.5), (9, 3.0, 4.0)], ids=str)
@pytest.mark.parametrize("border", ["reflect101", "constant"])
def test_backends_agree(backend, request, dtype, config, border):
    rng = rng_for(request)
    check = exact if backend == "harness" else (exact if dtype == "uint8" else
                                               lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-3))
    run = lambda s, g: kernel_matches_numpy(  # noqa: E731
        backend, lambda a: ops.joint_bilateral_filter(a[0], a[1], *config, border), [s, g], check=check)
    run(*pair(rng, 61, 83, 1, 3, dtype))
    run(*pair(rng, 9, 1, 3, 1, dtype))
    pairs = [pair(rng, h, w, 3, 3, dtype) for h, w in [(1, 1), (50, 3), (7, 90), (33, 17)]]
    run([s for s, _ in pairs], [g for _, g in pairs])
    pairs = [pair(rng, 24, 32, 1, 1, dtype) for _ in range(3)]
    run(np.stack([s for s, _ in pairs]), np.stack([g for _, g in pairs]))


def test_mixed_list_rejected(backend):
    g = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(TypeError, match=f"src.*mixing NumPy and {MEMORY[backend]}"):
        ops.joint_bilateral_filter([np.zeros((4, 4), np.uint8), to_device(np.zeros((4, 4), np.uint8), backend)],
                                   [g, g], 5, 50, 1)
    with pytest.raises(TypeError, match=f"guide: expected {MEMORY[backend]}.* arrays like src"):
        ops.joint_bilateral_filter(to_device(np.zeros((4, 4), np.uint8), backend), g, 5, 50, 1)
