"""cvt_color against cv2.cvtColor (bit exact: OpenCV's 15-bit luma)."""
import numpy as np
import pytest

import ops
from tests.cv_refs import COLOR, cv_cvt_color
from tests.helpers import (SIZES, assert_refused, exact, host, kernel_matches_numpy, random_batch,
                           random_image, rng_for)


@pytest.mark.parametrize("code", COLOR)
@pytest.mark.parametrize("c", [3, 4])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_matches_opencv(request, impl, code, c, size):
    img = random_image(rng_for(request), *size, c)
    exact(host(impl, ops.cvt_color, img, code), cv_cvt_color(img, code), f"{code} {size} c={c}")


def test_input_forms(request, impl):
    rng = rng_for(request)
    batch = random_batch(rng, 5, 33, 17)
    out = host(impl, ops.cvt_color, batch, "rgb2gray")
    assert out.shape == (5, 33, 17, 1)
    for o, i in zip(out, batch):
        exact(o, cv_cvt_color(i, "rgb2gray"))
    imgs = [random_image(rng, h, w) for h, w in [(5, 7), (40, 3), (1, 1)]]
    outs = host(impl, ops.cvt_color, imgs, "bgr2rgb")
    assert isinstance(outs, list) and [o.shape for o in outs] == [(5, 7, 3), (40, 3, 3), (1, 1, 3)]
    for o, i in zip(outs, imgs):
        exact(o, cv_cvt_color(i, "bgr2rgb"))
    imgs = [random_image(rng, h, w, 4) for h, w in [(5, 7), (1, 9)]]
    outs = host(impl, ops.cvt_color, imgs, "bgr2gray")
    assert [o.shape for o in outs] == [(5, 7, 1), (1, 9, 1)]
    for o, i in zip(outs, imgs):
        exact(o, cv_cvt_color(i, "bgr2gray"))


@pytest.mark.parametrize("img, code, exc, name, words", [
    (np.zeros((4, 4, 3), np.float32), "rgb2gray", TypeError, "img", "dtype uint8"),
    (np.zeros((4, 4, 1), np.uint8), "rgb2gray", ValueError, "img", "3 or 4 channels"),
    (np.zeros((4, 4), np.uint8), "rgb2gray", ValueError, "img", "3 or 4 channels"),
    (np.zeros((0, 4, 3), np.uint8), "rgb2gray", ValueError, "img", "height and width > 0"),
    (np.zeros((2, 2, 2, 2, 3), np.uint8), "rgb2gray", ValueError, "img", "(H, W, C)"),
    (np.zeros((2, 2, 3), np.uint8), "hsv", ValueError, "code", "'rgb2gray'"),
], ids=repr)
def test_bad_input(img, code, exc, name, words):
    assert_refused(exc, name, words, lambda: ops.cvt_color(img, code))


@pytest.mark.parametrize("code", COLOR)
def test_backends_agree(backend, request, code):
    rng = rng_for(request)
    kernel_matches_numpy(backend, ops.cvt_color, random_image(rng, 121, 203, 4), code, check=exact)
    kernel_matches_numpy(backend, ops.cvt_color, random_batch(rng, 4, 9, 1, 3), code, check=exact)
    kernel_matches_numpy(backend, ops.cvt_color, [random_image(rng, h, w) for h, w in [(1, 1), (50, 3), (7, 90)]],
                         code, check=exact)


def test_gray_is_bit_exact(request, impl):
    """A large image: the 15-bit luma table (the older 14-bit one is off in ~0.3 % of pixels)."""
    img = random_image(rng_for(request), 300, 301, 3)
    exact(host(impl, ops.cvt_color, img, "rgb2gray"), cv_cvt_color(img, "rgb2gray"))
