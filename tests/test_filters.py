"""gaussian_blur, morphology, composite, blur_background against OpenCV / float64."""
import cv2
import numpy as np
import pytest

import ops
from ops.blur import auto_ksize, gaussian_kernel_q8
from tests.helpers import assert_aligned, kernel_matches_numpy, random_image, rng_for

SIZES = [(1, 1), (1, 9), (7, 1), (5, 3), (17, 31), (120, 203)]
CV_BORDER = {"reflect101": cv2.BORDER_REFLECT_101, "reflect": cv2.BORDER_REFLECT,
             "replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}
KERNELS = [(0, 1.0), (0, 2.5), (3, 0), (5, 0), (7, 0), (9, 0), (0, 8.0), ((15, 5), 3.0), (31, 0)]


@pytest.mark.parametrize("border", CV_BORDER)
@pytest.mark.parametrize("c", [1, 3, 4])
@pytest.mark.parametrize("size", SIZES)
def test_gaussian_blur_matches_opencv(request, border, c, size):
    rng = rng_for(request)
    for ksize, sigma in KERNELS:
        img = random_image(rng, *size, c)
        k = (ksize, ksize) if isinstance(ksize, int) else ksize[::-1]
        ref = cv2.GaussianBlur(img, k, sigma, borderType=CV_BORDER[border]).reshape(img.shape)
        assert_aligned(ops.gaussian_blur(img, ksize, sigma, border), ref, f"{ksize} {sigma} {border}")


def test_gaussian_kernel_is_opencvs():
    for ksize, sigma in [(5, 0), (7, 1.5), (73, 12.0), (9, 0)]:
        k = np.array(gaussian_kernel_q8(ksize, sigma))
        assert k.sum() == 256 and np.array_equal(k, k[::-1])
        img = np.zeros((1, ksize * 3), np.uint8)
        img[0, ksize * 3 // 2] = 255
        # A unit impulse blurred horizontally shows OpenCV's taps (times 255, / 256).
        ref = cv2.GaussianBlur(img, (ksize, 1), sigma)[0]
        ours = ops.gaussian_blur(img, (1, ksize), sigma)[0]
        np.testing.assert_array_equal(ours, ref)
    assert auto_ksize(12.0) == 73 and auto_ksize(1.0) == 7


@pytest.mark.parametrize("op, cv_op", [("erode", cv2.MORPH_ERODE), ("dilate", cv2.MORPH_DILATE),
                                       ("open", cv2.MORPH_OPEN), ("close", cv2.MORPH_CLOSE)])
@pytest.mark.parametrize("ksize", [1, 3, 5, (7, 3), 31])
def test_morphology_matches_opencv(request, op, cv_op, ksize):
    rng = rng_for(request)
    kh, kw = (ksize, ksize) if isinstance(ksize, int) else ksize
    for size in SIZES:
        m = (rng.random(size) > 0.5).astype(np.uint8) * 255
        m[rng.random(size) > 0.7] = rng.integers(0, 256)
        ref = cv2.morphologyEx(m, cv_op, np.ones((kh, kw), np.uint8))
        np.testing.assert_array_equal(ops.morphology(m, op, ksize), ref)
    batch = (rng.random((3, 20, 30)) > 0.5).astype(np.uint8) * 255
    out = ops.morphology(batch, op, ksize)
    for i in range(3):
        np.testing.assert_array_equal(out[i], cv2.morphologyEx(batch[i], cv_op, np.ones((kh, kw), np.uint8)))
    lst = [batch[0], batch[1, :7, :9]]
    for o, m in zip(ops.morphology(lst, op, ksize), lst):
        np.testing.assert_array_equal(o, cv2.morphologyEx(m, cv_op, np.ones((kh, kw), np.uint8)))


def composite_f64(fg, bg, m):
    a = m.astype(np.float64)[..., None] / 255
    return np.rint(fg * a + bg * (1 - a)).astype(np.uint8)


@pytest.mark.parametrize("c", [1, 3, 4])
def test_composite_matches_float64(request, c):
    rng = rng_for(request)
    for size in SIZES:
        fg, bg = random_image(rng, *size, c), random_image(rng, *size, c)
        m = rng.integers(0, 256, size, dtype=np.uint8)
        np.testing.assert_array_equal(ops.composite(fg, bg, m), composite_f64(fg, bg, m))
        np.testing.assert_array_equal(ops.composite(fg, bg, m[..., None]), composite_f64(fg, bg, m))
    fgs = [random_image(rng, 4, 5, c), random_image(rng, 9, 2, c)]
    bgs = [random_image(rng, 4, 5, c), random_image(rng, 9, 2, c)]
    ms = [rng.integers(0, 256, (4, 5), dtype=np.uint8), rng.integers(0, 256, (9, 2), dtype=np.uint8)]
    for o, f, b, m in zip(ops.composite(fgs, bgs, ms), fgs, bgs, ms):
        np.testing.assert_array_equal(o, composite_f64(f, b, m))


def test_division_free_rounding_is_exact():
    w = np.arange(0, 255 * 255 + 1, dtype=np.uint32)
    np.testing.assert_array_equal(((w + 128) * 257) >> 16, (w + 127) // 255)


def test_blur_background_is_blur_then_composite(request):
    rng = rng_for(request)
    img = random_image(rng, 97, 131, 3)
    m = np.zeros((97, 131), np.uint8)
    m[20:60, 30:90] = 255
    out = ops.blur_background(img, m, 4.0)
    ref = composite_f64(img, cv2.GaussianBlur(img, (0, 0), 4.0), m)
    assert_aligned(out, ref)
    assert np.array_equal(out[m == 255], img[m == 255])
    low = ops.blur_background(img, m, 8.0, downscale=4)
    assert np.array_equal(low[m == 255], img[m == 255])
    small = cv2.resize(img, (131 // 4, 97 // 4), interpolation=cv2.INTER_AREA)
    bg = cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.0), (131, 97), interpolation=cv2.INTER_LINEAR)
    assert_aligned(low, composite_f64(img, bg, m))


@pytest.mark.parametrize("call, exc, words", [
    (lambda: ops.gaussian_blur(np.zeros((4, 4, 3), np.uint8), 4, 1.0), ValueError, "ksize: expected odd"),
    (lambda: ops.gaussian_blur(np.zeros((4, 4, 3), np.uint8), -3, 1.0), ValueError, "ksize"),
    (lambda: ops.gaussian_blur(np.zeros((4, 4, 3), np.uint8), 0, 0), ValueError, "sigma"),
    (lambda: ops.gaussian_blur(np.zeros((4, 4, 3), np.uint8), 3, 1, "wrap"), ValueError, "border"),
    (lambda: ops.gaussian_blur(np.zeros((4, 4, 3), np.float32), 3, 1), TypeError, "img: expected dtype uint8"),
    (lambda: ops.morphology(np.zeros((4, 4), np.uint8), "open", 2), ValueError, "ksize: expected odd"),
    (lambda: ops.morphology(np.zeros((4, 4), np.uint8), "tophat", 3), ValueError, "op"),
    (lambda: ops.morphology(np.zeros((2, 4, 4, 1), np.uint8), "open", 3), ValueError, "mask"),
    (lambda: ops.composite(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8),
                           np.zeros((4, 4), np.uint8)), ValueError, "bg: expected height, width (4, 4)"),
    (lambda: ops.composite(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8),
                           np.zeros((5, 4), np.uint8)), ValueError, "mask: expected height, width"),
    (lambda: ops.blur_background(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), 0),
     ValueError, "sigma"),
    (lambda: ops.blur_background(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), 2,
                                 downscale=0), ValueError, "downscale"),
])
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as e:
        call()
    assert words in str(e.value)


def test_kernel_matches_numpy(backend, request):
    rng = rng_for(request)
    exact = lambda a, b: np.testing.assert_array_equal(a, b)  # noqa: E731
    imgs = [random_image(rng, h, w, 3) for h, w in [(1, 1), (50, 3), (7, 90), (480, 640)]]
    for ksize, sigma in KERNELS:
        for border in CV_BORDER:
            kernel_matches_numpy(backend, ops.gaussian_blur, imgs, ksize, sigma, border, check=exact)
            kernel_matches_numpy(backend, ops.gaussian_blur, rng.integers(0, 256, (3, 33, 17, 4), dtype=np.uint8),
                              ksize, sigma, border, check=exact)
    masks = [(rng.random(s) > 0.5).astype(np.uint8) * 255 for s in [(1, 1), (40, 3), (64, 80)]]
    for op in ("erode", "dilate", "open", "close"):
        kernel_matches_numpy(backend, ops.morphology, masks, op, 5, check=exact)
        kernel_matches_numpy(backend, ops.morphology, np.stack([masks[2]] * 3), op, (7, 3), check=exact)


def test_kernel_composite_and_blur_background(request, backend):
    rng = rng_for(request)
    imgs = [random_image(rng, h, w, 3) for h, w in [(5, 7), (64, 48), (121, 203)]]
    ms = [rng.integers(0, 256, i.shape[:2], dtype=np.uint8) for i in imgs]
    for ds in (1, 2, 4):
        kernel_matches_numpy(backend, lambda args: ops.blur_background(*args, 6.0, downscale=ds),
                             [imgs, ms], check=np.testing.assert_array_equal)
