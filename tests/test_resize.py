import cv2
import numpy as np
import pytest

import ops
from tests.helpers import (assert_aligned, assert_float_close, kernel_matches_numpy, random_image,
                           rng_for)

CV = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA}
# (src h, w) -> (dst h, w): odd sizes, 1-pixel axes, exact 2x/3x, large factors both ways.
CASES = [((17, 31), (40, 70)), ((1, 7), (5, 9)), ((9, 1), (3, 4)), ((1000, 1), (3, 700)),
         ((640, 480), (7, 5)), ((5, 3), (400, 300)), ((720, 1280), (256, 455)),
         ((101, 99), (100, 98)), ((300, 300), (150, 150)), ((300, 240), (100, 80)),
         ((64, 64), (64, 64)), ((481, 641), (240, 320)), ((33, 65), (66, 13)), ((1, 1), (3, 2))]


def cv_resize(img, size, interp):
    out = cv2.resize(img, (size[1], size[0]), interpolation=CV[interp])
    return out.reshape(size[0], size[1], -1)


@pytest.mark.parametrize("interp", CV)
@pytest.mark.parametrize("c", [1, 3, 4])
@pytest.mark.parametrize("src, dst", CASES)
def test_uint8_matches_opencv(request, interp, c, src, dst):
    img = random_image(rng_for(request), *src, c)
    assert_aligned(ops.resize(img, dst, interp), cv_resize(img, dst, interp),
                   f"{interp} {src}->{dst} c={c}")


@pytest.mark.parametrize("interp", ["linear", "nearest"])
@pytest.mark.parametrize("src, dst", CASES[:8])
def test_float_matches_float64_reference(request, interp, src, dst):
    img = rng_for(request).random((*src, 2)).astype(np.float32)
    ref = cv2.resize(img.astype(np.float64), (dst[1], dst[0]), interpolation=CV[interp])
    assert_float_close(ops.resize(img, dst, interp), ref.reshape(*dst, 2), 1e-5)


def test_batch_list_and_per_image_sizes(request):
    rng = rng_for(request)
    batch = rng.integers(0, 256, (3, 40, 30, 3), dtype=np.uint8)
    out = ops.resize(batch, (17, 23))
    assert out.shape == (3, 17, 23, 3)
    for i in range(3):
        np.testing.assert_array_equal(out[i], cv_resize(batch[i], (17, 23), "linear"))
    imgs = [random_image(rng, h, w) for h, w in [(5, 7), (60, 3), (1, 1)]]
    sizes = [(10, 14), (20, 1), (4, 4)]
    outs = ops.resize(imgs, sizes, "area")
    assert [o.shape[:2] for o in outs] == sizes
    for o, i, s in zip(outs, imgs, sizes):
        np.testing.assert_array_equal(o, cv_resize(i, s, "area"))
    with pytest.raises(ValueError, match="size: expected a single"):
        ops.resize(batch, [(5, 5), (6, 6), (5, 5)])
    gray = ops.resize(batch[0, :, :, 0], (8, 9))
    assert gray.shape == (8, 9)


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"size": (0, 5)}, ValueError, "size: expected (height, width) both > 0"),
    ({"size": (5,)}, TypeError, "size"),
    ({"size": (5, 5), "interpolation": "cubic"}, ValueError, "interpolation"),
    ({"size": [(5, 5), (6, 6)]}, ValueError, "size: expected a single (height, width)"),
])
def test_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc) as e:
        ops.resize(np.zeros((4, 4, 3), np.uint8), **kwargs)
    assert words in str(e.value)


def test_bad_images():
    with pytest.raises(TypeError, match="img: expected dtype uint8 or float32"):
        ops.resize(np.zeros((4, 4, 3), np.int16), (2, 2))
    with pytest.raises(ValueError, match="img: expected 1, 3 or 4 channels"):
        ops.resize(np.zeros((4, 4, 2), np.uint8), (2, 2))
    with pytest.raises(ValueError, match="height and width > 0"):
        ops.resize(np.zeros((0, 4, 3), np.uint8), (2, 2))


@pytest.mark.parametrize("interp", CV)
def test_kernel_matches_numpy(backend, request, interp):
    rng = rng_for(request)
    for src, dst in CASES:
        kernel_matches_numpy(backend, ops.resize, random_image(rng, *src, 3), dst, interp)
    kernel_matches_numpy(backend, ops.resize, rng.integers(0, 256, (4, 33, 65, 4), dtype=np.uint8), (66, 13), interp)
    imgs = [random_image(rng, h, w, 1) for h, w in [(1, 1), (50, 3), (7, 90), (480, 640)]]
    kernel_matches_numpy(backend, ops.resize, imgs, [(3, 3), (25, 2), (14, 45), (240, 320)], interp)
    if interp != "area":
        exact = lambda a, b: np.testing.assert_array_equal(a, b)  # noqa: E731
        kernel_matches_numpy(backend, ops.resize, rng.random((2, 31, 17, 2)).astype(np.float32), (64, 9), interp,
                          check=exact)
