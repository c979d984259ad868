import cv2
import numpy as np
import pytest

import ops
from ops.tensor import activate
from tests.helpers import assert_aligned, assert_float_close, kernel_matches_numpy, random_image, rng_for


def ref64(img, mean, std, scale, swap):
    x = img.astype(np.float64)
    if swap:
        x = x[..., [2, 1, 0, *range(3, x.shape[-1])]]
    return ((x * scale - np.asarray(mean, float)) / np.asarray(std, float)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("c", [1, 3, 4])
@pytest.mark.parametrize("swap", [False, True])
def test_image_to_tensor_float64_reference(request, c, swap):
    if swap and c == 1:
        pytest.skip("swap needs 3 channels")
    rng = rng_for(request)
    batch = rng.integers(0, 256, (2, 17, 31, c), dtype=np.uint8)
    mean, std = list(rng.random(c)), list(rng.random(c) + 0.1)
    out = ops.image_to_tensor(batch, mean, std, swap_rb=swap)
    assert out.shape == (2, c, 17, 31) and out.dtype == np.float32
    ref = ref64(batch, mean, std, 1 / 255, swap)
    assert_float_close(out, ref, 1e-5)
    half = ops.image_to_tensor(batch, mean, std, swap_rb=swap, dtype="float16")
    np.testing.assert_array_equal(half, ref.astype(np.float16))


def test_image_to_tensor_matches_blob(request):
    rng = rng_for(request)
    img = random_image(rng, 33, 45, 3)
    mean, std = (0.485, 0.456, 0.406), 0.226
    out = ops.image_to_tensor(img, mean, std, swap_rb=True)
    blob = cv2.dnn.blobFromImage(img, scalefactor=1 / 255 / std,
                                 mean=tuple(m * 255 for m in mean), swapRB=True)
    np.testing.assert_allclose(out, blob, rtol=1e-5, atol=1e-5)
    assert ops.image_to_tensor(random_image(rng, 4, 5, None)).shape == (1, 1, 4, 5)
    lst = ops.image_to_tensor([img, img])
    assert lst.shape == (2, 3, 33, 45)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: ops.image_to_tensor([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)]), ValueError, "img"),
    (lambda: ops.image_to_tensor(np.zeros((4, 4, 3), np.uint8), std=0), ValueError, "std"),
    (lambda: ops.image_to_tensor(np.zeros((4, 4, 3), np.uint8), mean=(1, 2)), ValueError, "mean"),
    (lambda: ops.image_to_tensor(np.zeros((4, 4, 3), np.uint8), dtype="int8"), ValueError, "dtype"),
    (lambda: ops.image_to_tensor(np.zeros((4, 4, 3), np.float32)), TypeError, "img"),
    (lambda: ops.tensor_to_mask(np.zeros((1, 2, 4, 4), np.uint8)), TypeError, "t"),
    (lambda: ops.tensor_to_mask(np.zeros((4, 4), np.float32)), ValueError, "t"),
    (lambda: ops.tensor_to_mask(np.zeros((1, 2, 4, 4), np.float32), channel=2), ValueError, "channel"),
    (lambda: ops.tensor_to_mask(np.zeros((1, 2, 4, 4), np.float32), roi=(1, 1, 4, 1)), ValueError, "roi"),
    (lambda: ops.tensor_to_mask(np.zeros((1, 2, 4, 4), np.float32), threshold=1.0), ValueError, "threshold"),
    (lambda: ops.tensor_to_mask(np.zeros((1, 2, 4, 4), np.float32), activation="relu"), ValueError, "activation"),
    (lambda: ops.tensor_to_mask(np.zeros((1, 2, 4, 4), np.float32), size=(0, 3)), ValueError, "size"),
])
def test_bad_input(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def mask_ref64(t, act, ch, roi, size):
    t = t.astype(np.float64)
    if act == "sigmoid":
        p = 1 / (1 + np.exp(-t[ch]))
    elif act == "softmax":
        e = np.exp(t - t.max(0))
        p = e[ch] / e.sum(0)
    elif act == "argmax":
        p = (t.argmax(0) == ch).astype(float)
    else:
        p = np.clip(t[ch], 0, 1)
    x, y, w, h = roi
    p = p[y:y + h, x:x + w].astype(np.float32)
    p = cv2.resize(p, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(p * np.float32(255)), 0, 255).astype(np.uint8)  # float32 as ours


def aligned_97(ours, ref, what=""):
    d = np.abs(ours.astype(int) - ref)
    assert d.max() <= 1 and (d == 0).mean() >= 0.97, f"{what}: {d.max()} {(d == 0).mean():.4f}"


@pytest.mark.parametrize("act", ["sigmoid", "softmax", "argmax", "none"])
def test_tensor_to_mask_matches_opencv(request, act):
    rng = rng_for(request)
    t = (rng.standard_normal((2, 3, 40, 48)) * 3).astype(np.float32)
    roi, size = (4, 7, 40, 26), (117, 181)
    out = ops.tensor_to_mask(t, roi, size, act, channel=1)
    assert out.shape == (2, 117, 181) and out.dtype == np.uint8
    # argmax masks are 0/1 steps: bilinear values land exactly on k + 0.5 after * 255, and
    # the last-ulp differences between our float32 resize and OpenCV's SIMD one flip ~1-2 %
    # of those ties (never by more than 1).
    check = aligned_97 if act in ("argmax", "none") else assert_aligned  # clip: 0/1 plateaus too
    for i in range(2):
        check(out[i], mask_ref64(t[i], act, 1, roi, size), act)
    out16 = ops.tensor_to_mask(t.astype(np.float16), roi, size, act, channel=1)
    check(out16[0], mask_ref64(t[0].astype(np.float16), act, 1, roi, size), act)
    thr = ops.tensor_to_mask(t, roi, size, act, channel=1, threshold=0.5)
    assert set(np.unique(thr)) <= {0, 255}


def test_tensor_to_mask_forms(request):
    rng = rng_for(request)
    t = rng.standard_normal((2, 1, 16, 16)).astype(np.float32)
    assert ops.tensor_to_mask(t).shape == (2, 16, 16)
    assert ops.tensor_to_mask(t[0]).shape == (1, 16, 16)
    outs = ops.tensor_to_mask(t, [(0, 2, 16, 12), (2, 0, 12, 16)], [(30, 40), (40, 30)])
    assert isinstance(outs, list) and [o.shape for o in outs] == [(30, 40), (40, 30)]
    np.testing.assert_array_equal(activate(t[0], "none", 0), np.clip(t[0, 0], 0, 1))


def test_kernel_image_to_tensor(request, backend):
    rng = rng_for(request)
    for dtype in ("float32", "float16"):
        for x in [random_image(rng, 121, 203, 4), rng.integers(0, 256, (3, 9, 1, 3), dtype=np.uint8),
                  [random_image(rng, 7, 5, 3)] * 3]:
            kernel_matches_numpy(backend, ops.image_to_tensor, x, (0.4, 0.5, 0.6, 0.1)[:x[0].shape[-1] if isinstance(x, list) else x.shape[-1]],
                              0.25, swap_rb=True, dtype=dtype, check=np.testing.assert_array_equal)
        for x in [random_image(rng, 1, 1, 1), random_image(rng, 13, 1, None),
                  rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)]:
            kernel_matches_numpy(backend, ops.image_to_tensor, x, 0.5, 0.2, dtype=dtype,
                                 check=np.testing.assert_array_equal)


@pytest.mark.parametrize("act", ["sigmoid", "softmax", "argmax", "none"])
def test_kernel_tensor_to_mask(request, act, backend):
    rng = rng_for(request)
    t = (rng.standard_normal((3, 4, 40, 48)) * 3).astype(np.float32)
    for dt in (np.float32, np.float16):
        kernel_matches_numpy(backend, ops.tensor_to_mask, t.astype(dt), (4, 7, 40, 26), (117, 181), act, 2)
        kernel_matches_numpy(backend, ops.tensor_to_mask, t.astype(dt), None, (20, 24), act, 2)  # 2x: area path
        kernel_matches_numpy(backend, ops.tensor_to_mask, t.astype(dt), [(0, 0, 48, 40), (1, 1, 3, 2), (4, 4, 1, 1)],
                          [(40, 48), (300, 7), (5, 5)], act, 2, threshold=0.5)
