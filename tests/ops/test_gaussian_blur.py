"""gaussian_blur against cv2.GaussianBlur (bit exact for uint8)."""
import cv2
import numpy as np
import pytest

import ops
from ops.blur import auto_ksize, gaussian_kernel_q8
from tests.cv_refs import BLUR_BORDER, cv_gaussian_blur
from tests.helpers import (CHANNELS, MEMORY, SIZES, assert_refused, exact, host, kernel_matches_numpy,
                           random_batch, random_image, rng_for, to_device)

# The shared sizes and more 1-pixel and odd ones.
BLUR_SIZES = SIZES + [(1, 9), (7, 1), (5, 3), (120, 203)]
# (ksize, sigma): sigma-derived sizes, sigma <= 0 rule (incl. OpenCV's fixed small tables),
# rectangular kernels, kernels larger than most test images.
CONFIGS = [(0, 0.8), (0, 2.3), (3, 0), (7, 0), (11, 0), ((5, 9), 1.7), (31, 6.0), (0, 1.0),
           (0, 2.5), (5, 0), (9, 0), (0, 8.0), ((15, 5), 3.0), (31, 0)]


@pytest.mark.parametrize("border", BLUR_BORDER)
@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("size", BLUR_SIZES, ids=str)
def test_matches_opencv(request, impl, border, c, size):
    rng = rng_for(request)
    img = random_image(rng, *size, c)
    configs = CONFIGS if size[0] * size[1] < 30000 else CONFIGS[::3]  # 480x640: 5 of them
    for ksize, sigma in configs:
        exact(host(impl, ops.gaussian_blur, img, ksize, sigma, border), cv_gaussian_blur(img, ksize, sigma, border),
              f"{size} c={c} {border} ksize={ksize} sigma={sigma}")


def test_input_forms(request, impl):
    rng = rng_for(request)
    gray = random_image(rng, 23, 17, None)
    out = host(impl, ops.gaussian_blur, gray, 5, 1.2)
    assert out.shape == gray.shape
    exact(out, cv_gaussian_blur(gray, 5, 1.2))
    batch = random_batch(rng, 4, 19, 26, 4)
    out = host(impl, ops.gaussian_blur, batch, 0, 1.7, "replicate")
    assert out.shape == batch.shape
    for o, i in zip(out, batch):
        exact(o, cv_gaussian_blur(i, 0, 1.7, "replicate"))
    imgs = [random_image(rng, h, w, 3) for h, w in [(1, 1), (40, 3), (9, 61), (1, 13)]]
    outs = host(impl, ops.gaussian_blur, imgs, (9, 3), 2.0, "constant")
    assert isinstance(outs, list) and [o.shape for o in outs] == [i.shape for i in imgs]
    for o, i in zip(outs, imgs):
        exact(o, cv_gaussian_blur(i, (9, 3), 2.0, "constant"))


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
], ids=repr)
def test_bad_input(kwargs, exc, name, words):
    args = dict(img=np.zeros((4, 4, 3), np.uint8), ksize=3, sigma=1.0, border="reflect101")
    args.update(kwargs)
    assert_refused(exc, name, words, lambda: ops.gaussian_blur(**args))


# (ksize, sigma) on the kernels: the first four on every channel count, the rest on a list
# up to 480x640 and a batch too.
KERNEL_CONFIGS = [(0, 1.3), (5, 0), ((3, 11), 2.0), (41, 9.0), (0, 1.0), (0, 2.5), (3, 0), (7, 0),
                  (9, 0), (0, 8.0), ((15, 5), 3.0), (31, 0)]


@pytest.mark.parametrize("border", BLUR_BORDER)
@pytest.mark.parametrize("ksize, sigma", KERNEL_CONFIGS, ids=str)
def test_backends_agree(backend, request, border, ksize, sigma):
    rng = rng_for(request)
    run = lambda x: kernel_matches_numpy(backend, ops.gaussian_blur, x, ksize, sigma, border,  # noqa: E731
                                         check=exact)
    if KERNEL_CONFIGS.index((ksize, sigma)) < 4:
        for c in CHANNELS:
            run(random_image(rng, 121, 203, c))
        run(random_batch(rng, 3, 9, 1, 3))
        run([random_image(rng, h, w, 4) for h, w in [(1, 1), (50, 3), (7, 90), (2, 2)]])
        run(random_image(rng, 30, 1, None))
    else:
        run([random_image(rng, h, w, 3) for h, w in [(1, 1), (50, 3), (7, 90), (480, 640)]])
        run(random_batch(rng, 3, 33, 17, 4))


def test_mixed_list_rejected(backend):
    with pytest.raises(TypeError, match=f"img.*mixing NumPy and {MEMORY[backend]}"):
        ops.gaussian_blur([np.zeros((4, 4, 3), np.uint8), to_device(np.zeros((4, 4, 3), np.uint8), backend)], 3, 1)


def test_random_configs_bit_exact(request, impl):
    """Random sizes (1-pixel axes, kernels much larger than the image) and parameters."""
    rng = rng_for(request)
    for _ in range(150):
        h, w = int(rng.choice([1, 2, 3, 5, 16, 41])), int(rng.choice([1, 2, 4, 9, 33]))
        c = int(rng.choice(CHANNELS))
        border = str(rng.choice(list(BLUR_BORDER)))
        kh, kw = (int(k) * 2 + 1 for k in rng.integers(0, 20, 2))
        sigma = float(rng.choice([0.0, -1.0, rng.uniform(0.05, 9)]))
        if rng.random() < 0.3 and sigma > 0:
            kh = kw = 0
        img = random_image(rng, h, w, c)
        exact(host(impl, ops.gaussian_blur, img, (kh, kw), sigma, border),
              cv_gaussian_blur(img, (kh, kw), sigma, border), f"{(h, w, c)} {border} ksize={(kh, kw)} sigma={sigma}")


@pytest.mark.parametrize("ksize, sigma", [(5, 1e-200), (0, 1e-3), (3, 1e-3), (1, 5.0), (0, 40.0)])
def test_extreme_sigma(request, impl, ksize, sigma):
    img = random_image(rng_for(request), 37, 129, 3)
    exact(host(impl, ops.gaussian_blur, img, ksize, sigma), cv_gaussian_blur(img, ksize, sigma))


def test_720p_large_sigma(request, impl):
    img = random_image(rng_for(request), 720, 1280, 3)
    exact(host(impl, ops.gaussian_blur, img, 0, 10.0), cv_gaussian_blur(img, 0, 10.0))


@pytest.mark.parametrize("sigma", [0.3, 0.8, 1.0, 1.4999, 1.5, 2.5, 3.2, 10.0])
def test_derived_ksize_and_taps(sigma):
    n = auto_ksize(sigma)
    assert n % 2 == 1 and n == (int(round(sigma * 6 + 1)) | 1)
    taps = np.array(gaussian_kernel_q8(n, sigma))
    assert taps.sum() == 256 and (taps == taps[::-1]).all()
    ref = cv2.getGaussianKernel(n, sigma)[:, 0] * 256
    assert np.abs(taps - ref).max() <= 1


def test_taps_are_opencvs(impl):
    """A unit impulse blurred horizontally shows OpenCV's taps (times 255, / 256)."""
    for ksize, sigma in [(5, 0), (7, 1.5), (73, 12.0), (9, 0)]:
        k = np.array(gaussian_kernel_q8(ksize, sigma))
        assert k.sum() == 256 and np.array_equal(k, k[::-1])
        img = np.zeros((1, ksize * 3), np.uint8)
        img[0, ksize * 3 // 2] = 255
        exact(host(impl, ops.gaussian_blur, img, (1, ksize), sigma)[0],
              cv_gaussian_blur(img, (1, ksize), sigma)[0])
    assert auto_ksize(12.0) == 73 and auto_ksize(1.0) == 7


@pytest.mark.gpu
def test_device_taps_stay_bounded():
    """Each request's sigma chooses the taps uploaded to the device; what is kept is bounded."""
    import cupy

    from ops import _gpu
    img = cupy.zeros((4, 4, 3), cupy.uint8)
    for i in range(_gpu.CONSTANTS_KEPT + 20):
        ops.gaussian_blur(img, 5, 0.5 + i / 100)
    assert _gpu._cuda_constant.cache_info().currsize <= _gpu.CONSTANTS_KEPT
