"""pad against cv2.copyMakeBorder."""
import numpy as np
import pytest

import ops
from tests.cv_refs import BORDER, cv_pad
from tests.helpers import (CHANNELS, SIZES, assert_refused, exact, host, kernel_matches_numpy,
                           random_batch, random_float, random_image, rng_for)


@pytest.mark.parametrize("border", BORDER)
@pytest.mark.parametrize("size", SIZES[:6], ids=str)
def test_matches_opencv(request, impl, border, size):
    rng = rng_for(request)
    for c in CHANNELS:
        img = random_image(rng, *size, c)
        args = (3, 0, 5, 2) if border != "wrap" or size[0] * size[1] > 1 else (1, 1, 1, 1)
        exact(host(impl, ops.pad, img, *args, border=border, value=(7, 8, 9, 10)[:c]),
              cv_pad(img, *args, border, (7, 8, 9, 10)), f"c={c}")
    f = random_float(rng, *size, 2)
    exact(host(impl, ops.pad, f, 2, 1, 0, 4, border, 0.5), cv_pad(f, 2, 1, 0, 4, border, 0.5))


def test_input_forms(request, impl):
    rng = rng_for(request)
    gray = random_image(rng, 5, 6, None)
    out = host(impl, ops.pad, gray, 2, 0, 1, 3, "reflect")
    assert out.shape == (7, 10)
    exact(out, cv_pad(gray, 2, 0, 1, 3, "reflect"))
    imgs = [random_image(rng, h, w, None) for h, w in [(3, 4), (10, 1)]]
    outs = host(impl, ops.pad, imgs, 1, 2, 3, 4, "reflect101")
    assert isinstance(outs, list)
    for o, i in zip(outs, imgs):
        exact(o, cv_pad(i, 1, 2, 3, 4, "reflect101"))
    assert host(impl, ops.pad, np.zeros((2, 3, 3, 1), np.uint8), 1, 1, 1, 1).shape == (2, 5, 5, 1)
    batch = random_batch(rng, 3, 4, 5, 2)  # 2 channels: pad takes 1 to 4
    out = host(impl, ops.pad, batch, 0, 3, 2, 1, "wrap")
    assert out.shape == (3, 7, 8, 2)
    for o, i in zip(out, batch):
        exact(o, cv_pad(i, 0, 3, 2, 1, "wrap"))


Z = np.zeros((4, 4, 3), np.uint8)


@pytest.mark.parametrize("img, args, kwargs, exc, name, words", [
    (Z, (-1, 0, 0, 0), {}, ValueError, "top", "an integer >= 0"),
    (Z, (0, 0, 0, -2), {}, ValueError, "right", "an integer >= 0"),
    (Z, (0, 1.5, 0, 0), {}, TypeError, "bottom", "an integer"),
    (Z, (1, 0, 0, 0), {"border": "mirror"}, ValueError, "border", "'constant'"),
    (Z, (1, 0, 0, 0), {"value": (1, 2)}, ValueError, "value", "a scalar or 3 values"),
    (np.zeros((4, 4, 3), np.int16), (1, 0, 0, 0), {}, TypeError, "img", "dtype uint8 or float32"),
    (np.zeros((4, 4, 5), np.uint8), (1, 0, 0, 0), {}, ValueError, "img", "channels"),
], ids=repr)
def test_bad_input(img, args, kwargs, exc, name, words):
    assert_refused(exc, name, words, lambda: ops.pad(img, *args, **kwargs))


def test_backends_agree(request, backend):
    rng = rng_for(request)
    for x in [random_image(rng, 121, 203, 4), random_batch(rng, 3, 40, 30, 1),
              [random_image(rng, h, w, 3) for h, w in [(1, 1), (50, 3), (7, 90)]]]:
        for border in BORDER:
            kernel_matches_numpy(backend, ops.pad, x, 3, 1, 0, 5, border, 9, check=exact)
    # float32 and 2 channels, every border, and pads wider than the image (the border loop)
    floats = [random_float(rng, 5, 4, 2), random_float(rng, 2, 3, 1, 2),
              [random_float(rng, h, w, 2) for h, w in [(1, 1), (6, 2)]]]
    for x in floats + [[random_image(rng, 1, 1, 2), random_image(rng, 3, 8, 2)]]:
        for border in BORDER:
            kernel_matches_numpy(backend, ops.pad, x, 2, 9, 7, 0, border, (0.5, 2), check=exact)
