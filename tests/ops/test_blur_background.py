"""blur_background against cv2.GaussianBlur (and cv2.resize when downscaled) under the
composite's blend."""
import numpy as np
import pytest

import ops
from tests.cv_refs import cv_blur_background
from tests.helpers import (CHANNELS, assert_aligned, assert_refused, exact, host, kernel_matches_numpy,
                           random_batch, random_image, random_mask, rng_for)


def box_mask(h, w):
    m = np.zeros((h, w), np.uint8)
    m[h // 5:h * 3 // 5, w // 4:w * 3 // 4] = 255
    return m


@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("sigma, downscale", [(4.0, 1), (8.0, 4), (6.0, 2)])
@pytest.mark.parametrize("size", [(97, 131), (64, 48), (9, 1), (1, 1)], ids=str)
def test_matches_opencv(request, impl, size, sigma, downscale, c):
    rng = rng_for(request)
    img = random_image(rng, *size, c)
    for m in (box_mask(*size), random_mask(rng, *size, binary=False)):
        out = host(impl, ops.blur_background, img, m, sigma, downscale=downscale)
        assert_aligned(out, cv_blur_background(img, m, sigma, downscale), f"sigma {sigma} downscale {downscale}")
        assert np.array_equal(out[m == 255], img[m == 255])  # the foreground is untouched


def test_input_forms(request, impl):
    rng = rng_for(request)
    batch = random_batch(rng, 3, 20, 30)
    masks = random_batch(rng, 3, 20, 30, None)
    for mk in (masks, masks[..., None], list(masks)):
        out = host(impl, ops.blur_background, batch, mk, 3.0)
        assert out.shape == batch.shape
        for o, i, m in zip(out, batch, masks):
            exact(o, cv_blur_background(i, m, 3.0))
    imgs = [random_image(rng, h, w, 3) for h, w in [(1, 1), (40, 3), (9, 61)]]
    ms = [random_mask(rng, h, w) for h, w in [(1, 1), (40, 3), (9, 61)]]
    for ds in (1, 2):
        outs = host(impl, ops.blur_background, imgs, ms, 5.0, downscale=ds)
        assert isinstance(outs, list) and [o.shape for o in outs] == [i.shape for i in imgs]
        for o, i, m in zip(outs, imgs, ms):
            assert_aligned(o, cv_blur_background(i, m, 5.0, ds))
    gray = random_image(rng, 23, 17, None)
    out = host(impl, ops.blur_background, gray, box_mask(23, 17), 2.0)
    assert out.shape == (23, 17)
    exact(out, cv_blur_background(gray, box_mask(23, 17), 2.0))


Z3, Z2 = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)


@pytest.mark.parametrize("img, mask, sigma, kwargs, exc, name, words", [
    (Z3, Z2, 0, {}, ValueError, "sigma", "> 0"),
    (Z3, Z2, "2", {}, TypeError, "sigma", "a number"),
    (Z3, Z2, 2, {"downscale": 0}, ValueError, "downscale", ">= 1"),
    (Z3, np.zeros((4, 5), np.uint8), 2, {}, ValueError, "mask", "height, width (4, 4) like fg"),
    (Z3.astype(np.float32), Z2, 2, {}, TypeError, "img", "dtype uint8"),
], ids=repr)
def test_bad_input(img, mask, sigma, kwargs, exc, name, words):
    assert_refused(exc, name, words, lambda: ops.blur_background(img, mask, sigma, **kwargs))


def test_backends_agree(request, backend):
    rng = rng_for(request)
    imgs = [random_image(rng, h, w, 3) for h, w in [(5, 7), (64, 48), (121, 203)]]
    ms = [random_mask(rng, *i.shape[:2], binary=False) for i in imgs]
    for ds in (1, 2, 4):
        kernel_matches_numpy(backend, lambda args: ops.blur_background(*args, 6.0, downscale=ds),
                             [imgs, ms], check=exact)
