"""letterbox against cv2.resize + cv2.copyMakeBorder."""
import numpy as np
import pytest

import ops
from tests.cv_refs import cv_letterbox
from tests.helpers import (assert_aligned, assert_refused, exact, host, kernel_matches_numpy,
                           random_batch, random_image, rng_for)

# (h, w), channels of the source images; each letterboxed to every size below.
IMAGES = [((480, 640), 3), ((121, 203), 1), ((1, 9), 4), ((333, 77), 3)]


@pytest.mark.parametrize("size", [(640, 640), (320, 256), (7, 301)], ids=str)
def test_matches_opencv(request, impl, size):
    rng = rng_for(request)
    for (h, w), c in IMAGES:
        img = random_image(rng, h, w, c)
        out, roi = host(impl, ops.letterbox, img, size, value=114)
        ref, ref_roi = cv_letterbox(img, size, 114)
        assert roi == ref_roi, f"{(h, w)} -> {size}"
        assert_aligned(out, ref, f"{(h, w)} -> {size}")
        x, y, nw, nh = roi
        assert nw == size[1] or nh == size[0]


def test_input_forms(request, impl):
    rng = rng_for(request)
    batch = random_batch(rng, 2, 30, 50)
    out, roi = host(impl, ops.letterbox, batch, (64, 64), value=(1, 2, 3))
    assert out.shape == (2, 64, 64, 3) and roi == (0, 13, 64, 38)
    assert (out[0, 0] == [1, 2, 3]).all()
    for o, i in zip(out, batch):
        assert_aligned(o, cv_letterbox(i, (64, 64), (1, 2, 3))[0])
    imgs = [random_image(rng, 30, 50), random_image(rng, 50, 30)]
    outs, rois = host(impl, ops.letterbox, imgs, (64, 64))
    assert isinstance(outs, list) and [o.shape for o in outs] == [(64, 64, 3)] * 2
    assert rois == [(0, 13, 64, 38), (13, 0, 38, 64)]
    for o, i in zip(outs, imgs):
        assert_aligned(o, cv_letterbox(i, (64, 64))[0])
    gray = random_image(rng, 30, 50, None)
    out, roi = host(impl, ops.letterbox, gray, (64, 64), value=9)
    assert out.shape == (64, 64) and roi == (0, 13, 64, 38)
    assert_aligned(out, cv_letterbox(gray, (64, 64), 9)[0])


Z = np.zeros((4, 4, 3), np.uint8)


@pytest.mark.parametrize("img, size, value, exc, name, words", [
    (Z, (8, 8), (1, 2), ValueError, "value", "a scalar or 3 values"),
    (Z, (8, 8), "x", TypeError, "value", "a finite number"),
    (Z, (0, 8), 0, ValueError, "size", "both > 0"),
    (np.zeros((4, 4, 3), np.float32), (8, 8), 0, TypeError, "img", "dtype uint8"),
    (np.zeros((4, 4, 2), np.uint8), (8, 8), 0, ValueError, "img", "channels"),
], ids=repr)
def test_bad_input(img, size, value, exc, name, words):
    assert_refused(exc, name, words, lambda: ops.letterbox(img, size, value))


def test_backends_agree(request, backend):
    rng = rng_for(request)
    for x in [random_image(rng, 121, 203, 4), random_batch(rng, 3, 40, 30, 1),
              [random_image(rng, h, w, 3) for h, w in [(1, 1), (50, 3), (7, 90)]]]:
        kernel_matches_numpy(backend, ops.letterbox, x, (64, 48), value=114, check=exact)
    kernel_matches_numpy(backend, ops.letterbox, random_image(rng, 31, 17, 3), (20, 40),
                         value=(1, 2, 3), check=exact)
