"""bench/matting_bench.py's scene and metric: the composite is I = rint(alpha F + (1 - alpha) B)
of its known alpha, and the band error is 0 for the true alpha and grows when it is shifted."""
import numpy as np

import ops
from bench import matting_bench as mb


def test_composite_reproduces_its_known_alpha():
    h, w = 96, 160
    alpha = mb.true_alpha(h, w)
    assert alpha.dtype == np.float32 and alpha.min() >= 0 and alpha.max() <= 1
    assert ((alpha > 0.05) & (alpha < 0.95)).mean() > 0.01           # real fractional values
    assert alpha[-1, w // 2] == 1 and alpha[0, 0] == 0                # person; background
    F, B = mb.foreground(h, w), mb.background("textured", h, w)
    frame = mb.composite(alpha, F, B)
    a = alpha[..., None]
    np.testing.assert_array_equal(frame, np.clip(np.rint(a * F + (1 - a) * B), 0, 255).astype(np.uint8))


def test_band_error_of_the_true_alpha_is_zero_and_of_a_shifted_one_not():
    sc = mb.make_scene("small", "flat", size=(96, 160))
    assert sc.band.any() and not sc.band.all()
    assert mb.alpha_mae(sc.alpha, sc.alpha, sc.band) == 0
    assert mb.alpha_mae(np.roll(sc.alpha, 3, axis=1), sc.alpha, sc.band) > 1
    assert 0 < mb.alpha_mae(sc.coarse, sc.alpha, sc.band) < 255       # uint8 estimates: 0..255


def test_fast_guided_filter_at_subsample_1_is_the_guided_filter():
    """s = 1: the area and bilinear resizes are identities, so the coefficients are
    cv2.ximgproc.guidedFilter's (up to float rounding: within 1 level). Not at eps 1e-5 x
    255^2 with the colour guide: there cv2's float32 cofactors drift (4 levels here), where
    fast_guided_filter's float64 inverse agrees with a float64 guided filter."""
    import cv2
    sc = mb.make_scene("small", "textured", size=(96, 160))
    grey = cv2.cvtColor(sc.frame, cv2.COLOR_RGB2GRAY)
    for guide in (sc.frame, grey):
        for radius, eps in ((2, 1e-4), (4, 1e-3)):
            ours = mb.fast_guided_filter(guide, sc.coarse, radius, eps * mb.EPS_UNIT, 1)
            ref = cv2.ximgproc.guidedFilter(guide, sc.coarse, radius, eps * mb.EPS_UNIT)
            assert ours.dtype == np.uint8 and ours.shape == sc.coarse.shape
            assert np.abs(ours.astype(int) - ref).max() <= 1


def test_stretch_is_the_clipped_contrast_stretch_around_one_half():
    m = np.arange(256, dtype=np.uint8)
    for k in (2, 4):
        want = np.clip(np.rint((m - 127.5) * k + 127.5), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(mb.stretch(m[None], k)[0], want)
    assert mb.stretch(m[None], 2)[0, 127] == 126 and mb.stretch(m[None], 2)[0, 128] == 128  # ties to even


def test_pipeline_rows_are_tensor_to_mask_then_the_refine_mask_model():
    """The pipeline's rows: ops.tensor_to_mask of the full-size probability (no roi, no
    size) is the float stretch rint(clip((p - 0.5) k + 0.5, 0, 1) * 255), then
    serving.models.matte.refine with refine_mask's parameters; near the benchmark's own
    implementation of the same refinement (RECOMMENDED: the stretch of the rounded mask)."""
    from serving.models.matte import refine

    sc = mb.make_scene("small", "textured", size=(96, 160))
    steps = mb.pipeline_parameters()
    k = steps["tensor_to_mask"]["contrast"]
    assert steps["tensor_to_mask"]["threshold"] is None and k > 1
    mask = ops.tensor_to_mask(sc.prob[None, None], activation="none", contrast=k)[0]
    p = np.clip(sc.prob, 0, 1)
    want = np.rint(np.clip((p - np.float32(0.5)) * np.float32(k) + np.float32(0.5), 0, 1)
                   * np.float32(255)).astype(np.uint8)
    np.testing.assert_array_equal(mask, want)
    alpha = mb.PIPELINE(sc.coarse, sc.frame, sc.prob)
    np.testing.assert_array_equal(alpha, refine([sc.frame], [mask], steps["refine_mask"])[0])
    binary = mb.PIPELINE_BINARY(sc.coarse, sc.frame, sc.prob)
    np.testing.assert_array_equal(binary, np.where(alpha >= 128, 255, 0).astype(np.uint8))
    own = mb.RECOMMENDED(sc.coarse, sc.frame, sc.prob)
    assert mb.agreement(alpha, own, sc.band)["band_mean_abs"] < 2
