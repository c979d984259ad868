"""crop and center_crop (slicing, views) against cv2.getRectSubPix at integer offsets."""
import numpy as np
import pytest

import ops
from tests.cv_refs import cv_center_crop, cv_crop
from tests.helpers import (CHANNELS, SIZES, assert_refused, exact, host, kernel_matches_numpy,
                           random_batch, random_float, random_image, reference_only, rng_for)


def random_roi(rng, h, w):
    x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
    return x, y, int(rng.integers(1, w - x + 1)), int(rng.integers(1, h - y + 1))


@reference_only
@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_matches_opencv(request, impl, size, c):
    rng = rng_for(request)
    img = random_image(rng, *size, c)
    for _ in range(5):
        roi = random_roi(rng, *size)
        exact(host(impl, ops.crop, img, roi), cv_crop(img, roi), f"roi {roi}")
        ch, cw = roi[3], roi[2]
        exact(host(impl, ops.center_crop, img, (ch, cw)), cv_center_crop(img, (ch, cw)), f"size {(ch, cw)}")
    f = random_float(rng, *size, 2)
    roi = random_roi(rng, *size)
    exact(host(impl, ops.crop, f, roi), cv_crop(f, roi))


@reference_only
def test_input_forms(request, impl):
    rng = rng_for(request)
    img = random_image(rng, 11, 8, 3)
    exact(host(impl, ops.crop, img, (1, 2, 5, 7)), img[2:9, 1:6])
    exact(host(impl, ops.center_crop, img, (4, 5)), img[3:7, 1:6])
    gray = random_image(rng, 11, 8, None)
    out = host(impl, ops.crop, gray, (1, 2, 5, 7))
    assert out.shape == (7, 5)
    exact(out, cv_crop(gray, (1, 2, 5, 7)))
    assert host(impl, ops.center_crop, gray, 3).shape == (3, 3)
    batch = random_batch(rng, 2, 9, 9, 1)
    assert host(impl, ops.center_crop, batch, 3).shape == (2, 3, 3, 1)
    out = host(impl, ops.crop, batch, (2, 1, 4, 6))
    assert out.shape == (2, 6, 4, 1)
    for o, i in zip(out, batch):
        exact(o, cv_crop(i, (2, 1, 4, 6)))
    imgs = [random_image(rng, 5, 6), random_image(rng, 8, 8)]
    outs = host(impl, ops.crop, imgs, [(0, 0, 2, 2), (7, 7, 1, 1)])
    assert isinstance(outs, list) and [o.shape for o in outs] == [(2, 2, 3), (1, 1, 3)]
    assert [o.shape for o in host(impl, ops.crop, imgs, (1, 1, 3, 2))] == [(2, 3, 3)] * 2
    centred = host(impl, ops.center_crop, imgs, (4, 4))
    assert [o.shape for o in centred] == [(4, 4, 3)] * 2
    for o, i in zip(centred, imgs):
        exact(o, cv_center_crop(i, (4, 4)))
    assert centred[1].base is not None and np.shares_memory(centred[1], imgs[1])  # a view


Z = np.zeros((4, 4, 3), np.uint8)


@pytest.mark.parametrize("call, exc, name, words", [
    (lambda: ops.crop(Z, (2, 2, 3, 1)), ValueError, "roi", "a region inside the 4x4 image"),
    (lambda: ops.crop(Z, (0, 0, 0, 1)), ValueError, "roi", "w, h > 0"),
    (lambda: ops.crop(Z, [(0, 0, 1, 1), (0, 0, 1, 1)]), ValueError, "roi", "a single (x, y, w, h)"),
    (lambda: ops.crop([Z, Z[:2]], (0, 0, 3, 3)), ValueError, "roi (image 1)", "inside the 2x4 image"),
    (lambda: ops.crop([Z, Z], [(0, 0, 1, 1)]), ValueError, "roi", "2 rois, one per image"),
    (lambda: ops.center_crop(Z, (5, 1)), ValueError, "size", "at most the image size (4, 4)"),
    (lambda: ops.center_crop(Z, (0, 1)), ValueError, "size", "both > 0"),
])
def test_bad_input(call, exc, name, words):
    assert_refused(exc, name, words, call)


def test_backends_agree(request, backend):
    """No kernel: slices of the backend's arrays, in its memory."""
    rng = rng_for(request)
    for x in [random_image(rng, 11, 8, 4), random_batch(rng, 3, 9, 7, 1),
              [random_image(rng, h, w, 3) for h, w in [(5, 5), (9, 6)]]]:
        kernel_matches_numpy(backend, ops.crop, x, (1, 2, 3, 3), check=exact)
        kernel_matches_numpy(backend, ops.center_crop, x, (3, 2), check=exact)
    imgs = [random_image(rng, h, w, 3) for h, w in [(5, 5), (9, 6)]]
    kernel_matches_numpy(backend, ops.crop, imgs, [(0, 0, 5, 5), (5, 8, 1, 1)], check=exact)
