import cv2
import numpy as np
import pytest

import ops
from tests.helpers import (CHANNELS, SIZES, assert_aligned, kernel_matches_numpy, random_image,
                           rng_for)

CV = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}
PAIRS = [((1000, 1), (3, 700)), ((480, 640), (7, 5)), ((5, 3), (400, 300)), ((1, 1), (5, 3)),
         ((1, 7), (9, 1)), ((17, 31), (40, 50)), ((121, 203), (64, 48)), ((64, 48), (121, 203)),
         ((100, 100), (50, 50)), ((90, 90), (30, 30)), ((90, 60), (30, 60)),
         ((101, 77), (33, 70)), ((33, 70), (101, 77)), ((480, 640), (473, 631)), ((9, 1), (9, 1))]
BORDERS = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
           "reflect": cv2.BORDER_REFLECT, "reflect101": cv2.BORDER_REFLECT_101,
           "wrap": cv2.BORDER_WRAP}


def cv_resize(img, h, w, mode):
    return cv2.resize(img, (w, h), interpolation=CV[mode]).reshape(h, w, *img.shape[2:])


@pytest.mark.parametrize("mode", CV)
@pytest.mark.parametrize("pair", PAIRS, ids=str)
def test_resize_matches_opencv(request, mode, pair):
    rng = rng_for(request)
    (h, w), (dh, dw) = pair
    for c in CHANNELS:
        img = random_image(rng, h, w, c)
        assert_aligned(ops.resize(img, (dh, dw), mode), cv_resize(img, dh, dw, mode), f"{pair} c={c}")
        f = rng.random((h, w, c), dtype=np.float32)
        np.testing.assert_allclose(ops.resize(f, (dh, dw), mode), cv_resize(f, dh, dw, mode),
                                   atol=1e-4)


def test_resize_forms(request):
    rng = rng_for(request)
    gray = random_image(rng, 31, 17, None)
    assert_aligned(ops.resize(gray, (8, 9)), cv2.resize(gray, (9, 8)))
    batch = rng.integers(0, 256, (3, 20, 30, 3), dtype=np.uint8)
    out = ops.resize(batch, (7, 11), "area")
    assert out.shape == (3, 7, 11, 3)
    for o, i in zip(out, batch):
        assert_aligned(o, cv_resize(i, 7, 11, "area"))
    imgs = [random_image(rng, h, w, 4) for h, w in [(5, 7), (40, 3), (1, 1)]]
    outs = ops.resize(imgs, [(10, 14), (20, 3), (2, 5)])
    for o, i in zip(outs, imgs):
        assert_aligned(o, cv_resize(i, *o.shape[:2], "linear"))
    assert [o.shape for o in ops.resize(imgs, (6, 6), "nearest")] == [(6, 6, 4)] * 3
    f = rng.random((4, 4, 7), dtype=np.float32)
    assert ops.resize(f, (8, 2)).shape == (8, 2, 7)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: ops.resize(np.zeros((4, 4, 2), np.uint8), (2, 2)), ValueError, "img"),
    (lambda: ops.resize(np.zeros((4, 4, 3), np.int16), (2, 2)), TypeError, "img"),
    (lambda: ops.resize(np.zeros((0, 4, 3), np.uint8), (2, 2)), ValueError, "img"),
    (lambda: ops.resize(np.zeros((4, 4, 3), np.uint8), (0, 2)), ValueError, "size"),
    (lambda: ops.resize(np.zeros((4, 4, 3), np.uint8), (2, 2), "cubic"), ValueError, "interpolation"),
    (lambda: ops.resize([np.zeros((4, 4, 3), np.uint8)], [(2, 2), (3, 3)]), ValueError, "size"),
    (lambda: ops.letterbox(np.zeros((4, 4, 3), np.uint8), (8, 8), (1, 2)), ValueError, "value"),
    (lambda: ops.pad(np.zeros((4, 4, 3), np.uint8), -1, 0, 0, 0), ValueError, "top"),
    (lambda: ops.pad(np.zeros((4, 4, 3), np.uint8), 1, 0, 0, 0, "mirror"), ValueError, "border"),
    (lambda: ops.crop(np.zeros((4, 4, 3), np.uint8), (2, 2, 3, 1)), ValueError, "roi"),
    (lambda: ops.crop(np.zeros((4, 4, 3), np.uint8), (0, 0, 0, 1)), ValueError, "roi"),
    (lambda: ops.center_crop(np.zeros((4, 4, 3), np.uint8), (5, 1)), ValueError, "size"),
])
def test_bad_input(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


@pytest.mark.parametrize("size", [(640, 640), (320, 256), (7, 301)])
def test_letterbox_matches_opencv(request, size):
    rng = rng_for(request)
    H, W = size
    for (h, w), c in [((480, 640), 3), ((121, 203), 1), ((1, 9), 4), ((333, 77), 3)]:
        img = random_image(rng, h, w, c)
        out, (x, y, nw, nh) = ops.letterbox(img, size, value=114)
        ref = cv2.copyMakeBorder(cv2.resize(img, (nw, nh)), y, H - nh - y, x, W - nw - x,
                                 cv2.BORDER_CONSTANT, value=(114,) * 4)
        assert_aligned(out, ref.reshape(out.shape), f"{(h, w)} -> {size}")
        assert (nw == W or nh == H) and x == (W - nw) // 2 and y == (H - nh) // 2


def test_letterbox_forms(request):
    rng = rng_for(request)
    batch = rng.integers(0, 256, (2, 30, 50, 3), dtype=np.uint8)
    out, roi = ops.letterbox(batch, (64, 64), value=(1, 2, 3))
    assert out.shape == (2, 64, 64, 3) and roi == (0, 13, 64, 38)
    assert (out[0, 0] == [1, 2, 3]).all()
    imgs = [random_image(rng, 30, 50), random_image(rng, 50, 30)]
    outs, rois = ops.letterbox(imgs, (64, 64))
    assert [o.shape for o in outs] == [(64, 64, 3)] * 2 and rois == [(0, 13, 64, 38), (13, 0, 38, 64)]


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("size", SIZES[:6], ids=str)
def test_pad_matches_opencv(request, border, size):
    rng = rng_for(request)
    for c in CHANNELS:
        img = random_image(rng, *size, c)
        args = (3, 0, 5, 2) if border != "wrap" or size[0] * size[1] > 1 else (1, 1, 1, 1)
        out = ops.pad(img, *args, border=border, value=(7, 8, 9, 10)[:c])
        ref = cv2.copyMakeBorder(img, *args, BORDERS[border], value=(7, 8, 9, 10))
        np.testing.assert_array_equal(out, ref.reshape(out.shape))
    f = rng.random((*size, 2), dtype=np.float32)
    np.testing.assert_array_equal(ops.pad(f, 2, 1, 0, 4, border, 0.5),
                                  cv2.copyMakeBorder(f, 2, 1, 0, 4, BORDERS[border], value=(0.5, 0.5)))


def test_pad_list_and_batch(request):
    rng = rng_for(request)
    imgs = [random_image(rng, h, w, None) for h, w in [(3, 4), (10, 1)]]
    outs = ops.pad(imgs, 1, 2, 3, 4, "reflect101")
    for o, i in zip(outs, imgs):
        np.testing.assert_array_equal(o, cv2.copyMakeBorder(i, 1, 2, 3, 4, cv2.BORDER_REFLECT_101))
    assert ops.pad(np.zeros((2, 3, 3, 1), np.uint8), 1, 1, 1, 1).shape == (2, 5, 5, 1)


def test_crop_and_center_crop(request):
    rng = rng_for(request)
    img = random_image(rng, 11, 8, 3)
    np.testing.assert_array_equal(ops.crop(img, (1, 2, 5, 7)), img[2:9, 1:6])
    np.testing.assert_array_equal(ops.center_crop(img, (4, 5)), img[3:7, 1:6])
    batch = rng.integers(0, 256, (2, 9, 9, 1), dtype=np.uint8)
    assert ops.center_crop(batch, 3).shape == (2, 3, 3, 1)
    imgs = [random_image(rng, 5, 6), random_image(rng, 8, 8)]
    outs = ops.crop(imgs, [(0, 0, 2, 2), (7, 7, 1, 1)])
    assert [o.shape for o in outs] == [(2, 2, 3), (1, 1, 3)]
    assert [o.shape for o in ops.center_crop(imgs, (4, 4))] == [(4, 4, 3)] * 2
    assert ops.center_crop(imgs, (4, 4))[1].base is not None  # a view


def exact(a, b):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", CV)
def test_kernel_resize(request, mode, backend):
    rng = rng_for(request)
    for (h, w), (dh, dw) in PAIRS:
        for c in CHANNELS:
            kernel_matches_numpy(backend, ops.resize, random_image(rng, h, w, c), (dh, dw), mode, check=exact)
        kernel_matches_numpy(backend, ops.resize, rng.random((h, w, 5), dtype=np.float32), (dh, dw), mode,
                          check=exact)
    kernel_matches_numpy(backend, ops.resize, rng.integers(0, 256, (3, 40, 30, 3), dtype=np.uint8), (20, 15),
                      mode, check=exact)
    imgs = [random_image(rng, h, w, 3) for h, w in [(1, 1), (50, 3), (7, 90), (64, 64)]]
    kernel_matches_numpy(backend, ops.resize, imgs, [(3, 3), (25, 3), (14, 45), (32, 32)], mode, check=exact)


def test_kernel_letterbox_pad(request, backend):
    rng = rng_for(request)
    for x in [random_image(rng, 121, 203, 4), rng.integers(0, 256, (3, 40, 30, 1), dtype=np.uint8),
              [random_image(rng, h, w, 3) for h, w in [(1, 1), (50, 3), (7, 90)]]]:
        kernel_matches_numpy(backend, ops.letterbox, x, (64, 48), value=114, check=exact)
        for border in BORDERS:
            kernel_matches_numpy(backend, ops.pad, x, 3, 1, 0, 5, border, 9, check=exact)
    # float32 and 2 channels, every border, and pads wider than the image (the border loop)
    floats = [rng.random((5, 4, 2), dtype=np.float32), rng.random((2, 3, 1, 2), dtype=np.float32),
              [rng.random((h, w, 2), dtype=np.float32) for h, w in [(1, 1), (6, 2)]]]
    for x in floats + [[random_image(rng, 1, 1, 2), random_image(rng, 3, 8, 2)]]:
        for border in BORDERS:
            kernel_matches_numpy(backend, ops.pad, x, 2, 9, 7, 0, border, (0.5, 2), check=exact)
    kernel_matches_numpy(backend, ops.letterbox, random_image(rng, 31, 17, 3), (20, 40),
                         value=(1, 2, 3), check=exact)
