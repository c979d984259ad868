"""image_to_tensor against cv2.dnn.blobFromImage (scalar std) and its own float64 formula."""
import numpy as np
import pytest

import ops
from tests.cv_refs import cv_image_to_tensor
from tests.helpers import (assert_float_close, assert_refused, exact, host, kernel_matches_numpy,
                           random_batch, random_image, rng_for)

# (channels, swap_rb): swapping needs channels 0 and 2.
LAYOUTS = [(1, False), (3, False), (3, True), (4, False), (4, True)]


def blob_close(ours, ref):
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("c, swap", LAYOUTS)
@pytest.mark.parametrize("size", [(33, 45), (1, 1), (9, 1), (121, 203)], ids=str)
def test_matches_opencv(request, impl, size, c, swap):
    rng = rng_for(request)
    img = random_image(rng, *size, c)
    mean, std = tuple(float(m) for m in rng.random(c)), float(rng.uniform(0.1, 1.1))
    out = host(impl, ops.image_to_tensor, img, mean, std, swap_rb=swap)
    assert out.shape == (1, c, *size) and out.dtype == np.float32
    blob_close(out, cv_image_to_tensor(img, mean, std, swap_rb=swap))
    mean = (0.485, 0.456, 0.406, 0.5)[:c]
    blob_close(host(impl, ops.image_to_tensor, img, mean, 0.226, scale=1.0, swap_rb=swap),
               cv_image_to_tensor(img, mean, 0.226, scale=1.0, swap_rb=swap))


def test_input_forms(request, impl):
    rng = rng_for(request)
    mean, std = (0.485, 0.456, 0.406), 0.226
    img = random_image(rng, 33, 45, 3)
    blob = cv_image_to_tensor(img, mean, std, swap_rb=True)
    blob_close(host(impl, ops.image_to_tensor, img, mean, std, swap_rb=True), blob)
    gray = random_image(rng, 4, 5, None)
    out = host(impl, ops.image_to_tensor, gray, 0.5, 0.2)
    assert out.shape == (1, 1, 4, 5)
    blob_close(out, cv_image_to_tensor(gray, 0.5, 0.2))
    lst = host(impl, ops.image_to_tensor, [img, img[::-1].copy()], mean, std, swap_rb=True)
    assert lst.shape == (2, 3, 33, 45)
    blob_close(lst, np.concatenate([blob, cv_image_to_tensor(img[::-1].copy(), mean, std, swap_rb=True)]))
    batch = random_batch(rng, 3, 7, 5, 4)
    out = host(impl, ops.image_to_tensor, batch, 0.1, 0.3, dtype="float16")
    assert out.shape == (3, 4, 7, 5) and out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32),  # float16: within its half-ulp rounding
                               np.concatenate([cv_image_to_tensor(i, 0.1, 0.3) for i in batch]), rtol=2**-11)


Z = np.zeros((4, 4, 3), np.uint8)


@pytest.mark.parametrize("img, kwargs, exc, name, words", [
    ([Z, np.zeros((5, 4, 3), np.uint8)], {}, ValueError, "img", "images of one size"),
    (Z, {"std": 0}, ValueError, "std", ""),
    (Z, {"mean": (1, 2)}, ValueError, "mean", ""),
    (Z, {"dtype": "int8"}, ValueError, "dtype", "'float32'"),
    (np.zeros((4, 4, 3), np.float32), {}, TypeError, "img", "dtype uint8"),
    (Z, {"swap_rb": 1}, TypeError, "swap_rb", "a bool"),
    (np.zeros((4, 4, 1), np.uint8), {"swap_rb": True}, ValueError, "swap_rb", "3 or 4 channels"),
], ids=repr)
def test_bad_input(img, kwargs, exc, name, words):
    assert_refused(exc, name, words, lambda: ops.image_to_tensor(img, **kwargs))


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_backends_agree(request, backend, dtype):
    rng = rng_for(request)
    for x in [random_image(rng, 121, 203, 4), random_batch(rng, 3, 9, 1, 3), [random_image(rng, 7, 5, 3)] * 3]:
        c = x[0].shape[-1] if isinstance(x, list) else x.shape[-1]
        kernel_matches_numpy(backend, ops.image_to_tensor, x, (0.4, 0.5, 0.6, 0.1)[:c], 0.25, swap_rb=True,
                             dtype=dtype, check=exact)
    for x in [random_image(rng, 1, 1, 1), random_image(rng, 13, 1, None), random_batch(rng, 2, 5, 7, 3)]:
        kernel_matches_numpy(backend, ops.image_to_tensor, x, 0.5, 0.2, dtype=dtype, check=exact)


def ref64(img, mean, std, scale, swap):
    """The documented formula in float64: (img * scale - mean) / std, (N, C, H, W)."""
    x = img.astype(np.float64)
    if swap:
        x = x[..., [2, 1, 0, *range(3, x.shape[-1])]]
    return ((x * scale - np.asarray(mean, float)) / np.asarray(std, float)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("c, swap", LAYOUTS)
def test_float64_formula(request, impl, c, swap):
    """Per-channel std too (blobFromImage takes one): float32 within 1e-5, float16 exactly
    the float64 value rounded once."""
    rng = rng_for(request)
    batch = random_batch(rng, 2, 17, 31, c)
    mean, std = list(rng.random(c)), list(rng.random(c) + 0.1)
    out = host(impl, ops.image_to_tensor, batch, mean, std, swap_rb=swap)
    assert out.shape == (2, c, 17, 31) and out.dtype == np.float32
    ref = ref64(batch, mean, std, 1 / 255, swap)
    assert_float_close(out, ref, 1e-5)
    exact(host(impl, ops.image_to_tensor, batch, mean, std, swap_rb=swap, dtype="float16"),
          ref.astype(np.float16))
