import cv2
import numpy as np
import pytest

import ops
from tests.helpers import SIZES, assert_aligned, kernel_matches_numpy, random_image, rng_for

CV_CODES = {"rgb2bgr": cv2.COLOR_RGB2BGR, "bgr2rgb": cv2.COLOR_BGR2RGB,
            "rgb2gray": cv2.COLOR_RGB2GRAY, "bgr2gray": cv2.COLOR_BGR2GRAY}


def cv_ref(img, code):
    out = cv2.cvtColor(img, CV_CODES[code])
    return out[..., None] if out.ndim == 2 else out


@pytest.mark.parametrize("code", CV_CODES)
@pytest.mark.parametrize("c", [3, 4])
@pytest.mark.parametrize("size", SIZES)
def test_matches_opencv(request, code, c, size):
    img = random_image(rng_for(request), *size, c)
    assert_aligned(ops.cvt_color(img, code), cv_ref(img, code), f"{code} {size} c={c}")


def test_gray_is_bit_exact(request):
    img = random_image(rng_for(request), 300, 301, 3)
    np.testing.assert_array_equal(ops.cvt_color(img, "rgb2gray"), cv_ref(img, "rgb2gray"))


def test_batch_and_list(request):
    rng = rng_for(request)
    batch = rng.integers(0, 256, (5, 33, 17, 3), dtype=np.uint8)
    out = ops.cvt_color(batch, "rgb2gray")
    assert out.shape == (5, 33, 17, 1)
    for i in range(5):
        assert_aligned(out[i], cv_ref(batch[i], "rgb2gray"))
    imgs = [random_image(rng, h, w) for h, w in [(5, 7), (40, 3), (1, 1)]]
    outs = ops.cvt_color(imgs, "bgr2rgb")
    assert isinstance(outs, list) and [o.shape for o in outs] == [(5, 7, 3), (40, 3, 3), (1, 1, 3)]
    for o, i in zip(outs, imgs):
        np.testing.assert_array_equal(o, cv_ref(i, "bgr2rgb"))


@pytest.mark.parametrize("bad, exc, words", [
    (np.zeros((4, 4, 3), np.float32), TypeError, "dtype uint8"),
    (np.zeros((4, 4, 1), np.uint8), ValueError, "3 or 4 channels"),
    (np.zeros((0, 4, 3), np.uint8), ValueError, "height and width > 0"),
    (np.zeros((2, 2, 2, 2, 3), np.uint8), ValueError, "(H, W, C)"),
])
def test_bad_input(bad, exc, words):
    with pytest.raises(exc, match="img") as e:
        ops.cvt_color(bad, "rgb2gray")
    assert words in str(e.value)


def test_bad_code():
    with pytest.raises(ValueError, match="code.*'rgb2gray'"):
        ops.cvt_color(np.zeros((2, 2, 3), np.uint8), "hsv")


@pytest.mark.parametrize("code", CV_CODES)
def test_kernel_matches_numpy(backend, request, code):
    rng = rng_for(request)
    kernel_matches_numpy(backend, ops.cvt_color, random_image(rng, 121, 203, 4), code)
    kernel_matches_numpy(backend, ops.cvt_color, rng.integers(0, 256, (4, 9, 1, 3), dtype=np.uint8), code)
    kernel_matches_numpy(backend, ops.cvt_color, [random_image(rng, h, w) for h, w in [(1, 1), (50, 3), (7, 90)]], code)
