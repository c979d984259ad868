import cv2
import numpy as np
import pytest

import ops
from ops.blur import auto_ksize as derived_ksize, gaussian_kernel_q8 as gaussian_taps
from tests.helpers import (CHANNELS, MEMORY, SIZES, assert_aligned, kernel_matches_numpy,
                           random_image, rng_for, to_device)

CV_BORDER = {"reflect101": cv2.BORDER_REFLECT_101, "reflect": cv2.BORDER_REFLECT,
             "replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}
# (ksize, sigma): sigma-derived sizes, sigma <= 0 rule (incl. OpenCV's fixed small tables),
# rectangular kernels, kernels larger than most test images.
CONFIGS = [(0, 0.8), (0, 2.3), (3, 0), (7, 0), (11, 0), ((5, 9), 1.7), (31, 6.0)]


def cv_ref(img, ksize, sigma, border="reflect101"):
    kh, kw = (ksize, ksize) if isinstance(ksize, int) else ksize
    out = cv2.GaussianBlur(img, (kw, kh), sigma, borderType=CV_BORDER[border])
    return out.reshape(img.shape)


@pytest.mark.parametrize("border", CV_BORDER)
@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("size", SIZES)
def test_matches_opencv(request, border, c, size):
    rng = rng_for(request)
    img = random_image(rng, *size, c)
    configs = CONFIGS if size[0] * size[1] < 10000 else CONFIGS[::3]
    for ksize, sigma in configs:
        ours = ops.gaussian_blur(img, ksize, sigma, border)
        ref = cv_ref(img, ksize, sigma, border)
        assert_aligned(ours, ref, f"{size} c={c} {border} ksize={ksize} sigma={sigma}")
        # Stronger than required: the fixed-point path is reproduced bit for bit.
        np.testing.assert_array_equal(ours, ref)


def test_random_configs_bit_exact(request):
    """Random sizes (1-pixel axes, kernels much larger than the image) and parameters."""
    rng = rng_for(request)
    for _ in range(150):
        h, w = int(rng.choice([1, 2, 3, 5, 16, 41])), int(rng.choice([1, 2, 4, 9, 33]))
        c = int(rng.choice(CHANNELS))
        border = str(rng.choice(list(CV_BORDER)))
        kh, kw = (int(k) * 2 + 1 for k in rng.integers(0, 20, 2))
        sigma = float(rng.choice([0.0, -1.0, rng.uniform(0.05, 9)]))
        if rng.random() < 0.3 and sigma > 0:
            kh = kw = 0
        img = random_image(rng, h, w, c)
        what = f"{(h, w, c)} {border} ksize={(kh, kw)} sigma={sigma}"
        np.testing.assert_array_equal(ops.gaussian_blur(img, (kh, kw), sigma, border),
                                      cv_ref(img, (kh, kw), sigma, border), what)


@pytest.mark.parametrize("ksize, sigma", [(5, 1e-200), (0, 1e-3), (3, 1e-3), (1, 5.0), (0, 40.0)])
def test_extreme_sigma(request, ksize, sigma):
    img = random_image(rng_for(request), 37, 129, 3)
    np.testing.assert_array_equal(ops.gaussian_blur(img, ksize, sigma), cv_ref(img, ksize, sigma))


def test_720p_large_sigma(request):
    img = random_image(rng_for(request), 720, 1280, 3)
    np.testing.assert_array_equal(ops.gaussian_blur(img, 0, 10.0), cv_ref(img, 0, 10.0))


@pytest.mark.parametrize("sigma", [0.3, 0.8, 1.0, 1.4999, 1.5, 2.5, 3.2, 10.0])
def test_derived_ksize_and_taps(sigma):
    n = derived_ksize(sigma)
    assert n % 2 == 1 and n == (int(round(sigma * 6 + 1)) | 1)
    taps = np.array(gaussian_taps(n, sigma))
    assert taps.sum() == 256 and (taps == taps[::-1]).all()
    ref = cv2.getGaussianKernel(n, sigma)[:, 0] * 256
    assert np.abs(taps - ref).max() <= 1


def test_two_dim_and_batch_and_list(request):
    rng = rng_for(request)
    gray = random_image(rng, 23, 17, None)
    out = ops.gaussian_blur(gray, 5, 1.2)
    assert out.shape == gray.shape
    np.testing.assert_array_equal(out, cv2.GaussianBlur(gray, (5, 5), 1.2))
    batch = rng.integers(0, 256, (4, 19, 26, 4), dtype=np.uint8)
    out = ops.gaussian_blur(batch, 0, 1.7, "replicate")
    assert out.shape == batch.shape
    for i in range(4):
        np.testing.assert_array_equal(out[i], cv_ref(batch[i], 0, 1.7, "replicate"))
    imgs = [random_image(rng, h, w, 3) for h, w in [(1, 1), (40, 3), (9, 61), (1, 13)]]
    outs = ops.gaussian_blur(imgs, (9, 3), 2.0, "constant")
    assert isinstance(outs, list) and [o.shape for o in outs] == [i.shape for i in imgs]
    for o, i in zip(outs, imgs):
        np.testing.assert_array_equal(o, cv_ref(i, (9, 3), 2.0, "constant"))


@pytest.mark.parametrize("kwargs, exc, name, words", [
    (dict(img=np.zeros((4, 4, 3), np.float32)), TypeError, "img", "dtype uint8"),
    (dict(img=np.zeros((4, 4, 2), np.uint8)), ValueError, "img", "1 or 3 or 4 channels"),
    (dict(img=np.zeros((0, 4, 3), np.uint8)), ValueError, "img", "height and width > 0"),
    (dict(img=np.zeros((2, 2, 2, 2, 3), np.uint8)), ValueError, "img", "(H, W, C)"),
    (dict(img=[np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4), np.uint8)]), ValueError,
     "img", "3 channels like"),
    (dict(ksize=4), ValueError, "ksize", "odd positive"),
    (dict(ksize=-3), ValueError, "ksize", "odd positive"),
    (dict(ksize=(3, 4)), ValueError, "ksize", "odd positive"),
    (dict(ksize=(3, 3, 3)), TypeError, "ksize", "(kh, kw)"),
    (dict(ksize=2.5), TypeError, "ksize", "(kh, kw)"),
    (dict(ksize=0, sigma=0), ValueError, "sigma", "> 0"),
    (dict(sigma="1"), TypeError, "sigma", "a number"),
    (dict(sigma=float("nan")), ValueError, "sigma", "finite"),
    (dict(border="wrap"), ValueError, "border", "'reflect101'"),
])
def test_bad_input(kwargs, exc, name, words):
    args = dict(img=np.zeros((4, 4, 3), np.uint8), ksize=3, sigma=1.0, border="reflect101")
    args.update(kwargs)
    with pytest.raises(exc, match=name) as e:
        ops.gaussian_blur(**args)
    assert words in str(e.value)


def test_mixed_list_rejected(backend):
    with pytest.raises(TypeError, match=f"img.*mixing NumPy and {MEMORY[backend]}"):
        ops.gaussian_blur([np.zeros((4, 4, 3), np.uint8), to_device(np.zeros((4, 4, 3), np.uint8), backend)], 3, 1)


@pytest.mark.parametrize("border", CV_BORDER)
@pytest.mark.parametrize("ksize, sigma", [(0, 1.3), (5, 0), ((3, 11), 2.0), (41, 9.0)])
def test_kernel_matches_numpy(backend, request, border, ksize, sigma):
    rng = rng_for(request)
    check = np.testing.assert_array_equal
    for c in CHANNELS:
        kernel_matches_numpy(backend, ops.gaussian_blur, random_image(rng, 121, 203, c), ksize, sigma,
                          border, check=check)
    kernel_matches_numpy(backend, ops.gaussian_blur, rng.integers(0, 256, (3, 9, 1, 3), dtype=np.uint8),
                      ksize, sigma, border, check=check)
    kernel_matches_numpy(backend, ops.gaussian_blur, [random_image(rng, h, w, 4) for h, w in
                                          [(1, 1), (50, 3), (7, 90), (2, 2)]],
                      ksize, sigma, border, check=check)
    kernel_matches_numpy(backend, ops.gaussian_blur, random_image(rng, 30, 1, None), ksize, sigma, border,
                      check=check)
