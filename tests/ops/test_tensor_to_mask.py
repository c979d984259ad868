"""tensor_to_mask against its OpenCV composition: the activation, the roi, cv2.resize
(linear, float32), rint(p * 255)."""
import numpy as np
import pytest

import ops
from ops.tensor import activate
from tests.cv_refs import cv_tensor_to_mask
from tests.helpers import assert_aligned, assert_refused, host, kernel_matches_numpy, reference_only, rng_for

ACTIVATIONS = ["sigmoid", "softmax", "argmax", "none"]


def aligned_97(ours, ref, what=""):
    """argmax and none masks are 0/1 plateaus: bilinear values land exactly on k + 0.5 after
    * 255, and the last-ulp differences between the float32 resize and OpenCV's SIMD one
    flip ~1-2 % of those ties (never by more than 1)."""
    d = np.abs(ours.astype(int) - ref)
    assert d.max() <= 1 and (d == 0).mean() >= 0.97, f"{what}: {d.max()} {(d == 0).mean():.4f}"


def logits(rng, *shape):
    return (rng.standard_normal(shape) * 3).astype(np.float32)


@reference_only
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_matches_opencv(request, impl, act):
    rng = rng_for(request)
    t = logits(rng, 2, 3, 40, 48)
    roi, size = (4, 7, 40, 26), (117, 181)
    out = host(impl, ops.tensor_to_mask, t, roi, size, act, channel=1)
    assert out.shape == (2, 117, 181) and out.dtype == np.uint8
    check = aligned_97 if act in ("argmax", "none") else assert_aligned
    for o, x in zip(out, t):
        check(o, cv_tensor_to_mask(x, act, 1, roi, size), act)
    out16 = host(impl, ops.tensor_to_mask, t.astype(np.float16), roi, size, act, channel=1)
    check(out16[0], cv_tensor_to_mask(t[0].astype(np.float16), act, 1, roi, size), act)
    thr = host(impl, ops.tensor_to_mask, t, roi, size, act, channel=1, threshold=0.5)
    assert set(np.unique(thr)) <= {0, 255}
    for contrast in (2, 3.5):  # a contrast stretch doubles a last-ulp difference at most
        out = host(impl, ops.tensor_to_mask, t, roi, size, act, channel=1, contrast=contrast)
        for o, x in zip(out, t):
            check(o, cv_tensor_to_mask(x, act, 1, roi, size, contrast), f"{act} contrast {contrast}")


@reference_only
def test_input_forms(request, impl):
    rng = rng_for(request)
    t = rng.standard_normal((2, 1, 16, 16)).astype(np.float32)
    assert host(impl, ops.tensor_to_mask, t).shape == (2, 16, 16)
    single = host(impl, ops.tensor_to_mask, t[0])  # (K, h, w): one mask
    assert single.shape == (1, 16, 16)
    assert_aligned(single[0], cv_tensor_to_mask(t[0], "sigmoid", 0, (0, 0, 16, 16), (16, 16)))
    rois, sizes = [(0, 2, 16, 12), (2, 0, 12, 16)], [(30, 40), (40, 30)]
    outs = host(impl, ops.tensor_to_mask, t, rois, sizes)
    assert isinstance(outs, list) and [o.shape for o in outs] == sizes
    for o, x, r, s in zip(outs, t, rois, sizes):
        assert_aligned(o, cv_tensor_to_mask(x, "sigmoid", 0, r, s))
    same = host(impl, ops.tensor_to_mask, t, rois, [(20, 20), (20, 20)])  # one size: an array
    assert isinstance(same, np.ndarray) and same.shape == (2, 20, 20)
    np.testing.assert_array_equal(activate(t[0], "none", 0), np.clip(t[0, 0], 0, 1))


T = np.zeros((1, 2, 4, 4), np.float32)


@pytest.mark.parametrize("t, kwargs, exc, name, words", [
    (T.astype(np.uint8), {}, TypeError, "t", "dtype float32 or float16"),
    (np.zeros((4, 4), np.float32), {}, ValueError, "t", "(N, K, h, w)"),
    ([T], {}, TypeError, "t", "a NumPy or CuPy array"),
    (T, {"channel": 2}, ValueError, "channel", "< K = 2"),
    (T, {"roi": (1, 1, 4, 1)}, ValueError, "roi", "inside the 4x4 tensor"),
    (T, {"threshold": 1.0}, ValueError, "threshold", "in (0, 1)"),
    (T, {"contrast": 0.5}, ValueError, "contrast", ">= 1"),
    (T, {"contrast": float("nan")}, ValueError, "contrast", "finite"),
    (T, {"contrast": "2"}, TypeError, "contrast", "a number"),
    (T, {"activation": "relu"}, ValueError, "activation", "'sigmoid'"),
    (T, {"size": (0, 3)}, ValueError, "size", "both > 0"),
    (np.zeros((2, 2, 4, 4), np.float32), {"size": [(3, 3)] * 3}, ValueError, "size", "2 entries"),
], ids=repr)
def test_bad_input(t, kwargs, exc, name, words):
    assert_refused(exc, name, words, lambda: ops.tensor_to_mask(t, **kwargs))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_backends_agree(request, act, backend):
    """Within one level, >= 99 % identical (expf differs from NumPy's exp in the last ulp)."""
    rng = rng_for(request)
    t = logits(rng, 3, 4, 40, 48)
    for dt in (np.float32, np.float16):
        kernel_matches_numpy(backend, ops.tensor_to_mask, t.astype(dt), (4, 7, 40, 26), (117, 181), act, 2)
        kernel_matches_numpy(backend, ops.tensor_to_mask, t.astype(dt), None, (20, 24), act, 2)  # 2x: area path
        kernel_matches_numpy(backend, ops.tensor_to_mask, t.astype(dt), [(0, 0, 48, 40), (1, 1, 3, 2), (4, 4, 1, 1)],
                             [(40, 48), (300, 7), (5, 5)], act, 2, threshold=0.5)
        kernel_matches_numpy(backend, ops.tensor_to_mask, t.astype(dt), (4, 7, 40, 26), (117, 181), act, 2,
                             contrast=2.0)


def test_contrast_stretches_around_one_half(request, impl):
    """p 0.25 .. 0.75 spreads over 0 .. 1 at contrast 2, 0.5 stays, the rest saturates; a
    NaN probability gives 0 (the kernel's fminf / fmaxf)."""
    p = np.array([[[0.1, 0.25, 0.375, 0.5, 0.625, 0.75, 0.9, np.nan]]], np.float32)
    out = ops.tensor_to_mask(p, activation="none", contrast=2)[0, 0]
    assert out.tolist() == [0, 0, 64, 128, 191, 255, 255, 0], out.tolist()
    assert ops.tensor_to_mask(p[..., :7], activation="none")[0, 0, 3] == 128


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fast_host_path_is_the_reference(request, impl, act):
    """NumPy input's path (the resize a chunk of rows at a time, the rounding in place) gives
    the reference's masks bit for bit: exact factors (5x, 4x), 7.5x, factors with no short
    period, 1-pixel rois and sizes, the same size, an exact 2x shrink, NaN / +-inf logits,
    soft masks with and without contrast, thresholds, a list of sizes."""
    rng = rng_for(request)
    t = logits(rng, 2, 3, 64, 64)
    t[0, :, 0, 0], t[0, 1, 3, 3], t[1, 1, 5, 2] = np.nan, np.inf, -np.inf
    cases = [((0, 14, 64, 36), (180, 320)), ((0, 14, 64, 36), (270, 480)), ((4, 7, 40, 26), (117, 181)),
             ((0, 0, 64, 64), (32, 32)), ((0, 0, 64, 64), (64, 64)), ((1, 1, 3, 2), (300, 7)),
             ((4, 4, 1, 1), (5, 5)), ((0, 0, 64, 1), (9, 40)), ((0, 0, 1, 64), (40, 1)),
             ((3, 5, 20, 30), (1, 50)), ([(0, 0, 64, 64), (2, 3, 9, 8)], [(96, 96), (40, 45)])]
    for roi, size in cases:
        for kwargs in [{}, {"threshold": 0.5}, {"contrast": 2.0}, {"contrast": 1.5}]:
            with np.errstate(invalid="ignore", over="ignore"):
                host(impl, ops.tensor_to_mask, t, roi, size, act, channel=1, **kwargs)
