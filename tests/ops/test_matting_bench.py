"""bench/matting_bench.py's scene and metric: the composite is I = rint(alpha F + (1 - alpha) B)
of its known alpha, and the band error is 0 for the true alpha and grows when it is shifted."""
import numpy as np

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
