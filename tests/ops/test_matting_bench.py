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
