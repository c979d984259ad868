import cv2
import numpy as np
import pytest

import ops
from tests.helpers import MEMORY, SIZES, kernel_matches_numpy, rng_for, to_device

OPS = ["erode", "dilate", "open", "close"]
KSIZES = [1, 3, 5, (3, 7), (9, 1), 21]


def cv_ref(mask, op, ksize):
    kh, kw = (ksize, ksize) if isinstance(ksize, int) else ksize
    k = np.ones((kh, kw), np.uint8)
    if op == "erode":
        return cv2.erode(mask, k)
    if op == "dilate":
        return cv2.dilate(mask, k)
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN if op == "open" else cv2.MORPH_CLOSE, k)


def random_mask(rng, h, w, binary=True):
    if binary:
        return ((rng.random((h, w)) < rng.uniform(0.2, 0.8)) * 255).astype(np.uint8)
    return rng.integers(0, 256, (h, w), dtype=np.uint8)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("size", SIZES)
def test_matches_opencv_bit_exact(request, op, size):
    rng = rng_for(request)
    for binary in (True, False):
        mask = random_mask(rng, *size, binary)
        for ksize in KSIZES:
            np.testing.assert_array_equal(ops.morphology(mask, op, ksize),
                                          cv_ref(mask, op, ksize), f"{op} {size} {ksize}")


def test_batch_and_list(request):
    rng = rng_for(request)
    batch = np.stack([random_mask(rng, 17, 29) for _ in range(3)])
    out = ops.morphology(batch, "close", (5, 3))
    assert out.shape == batch.shape
    for i in range(3):
        np.testing.assert_array_equal(out[i], cv_ref(batch[i], "close", (5, 3)))
    masks = [random_mask(rng, h, w) for h, w in [(1, 1), (40, 3), (9, 61), (2, 5)]]
    outs = ops.morphology(masks, "open", 7)
    assert isinstance(outs, list) and [o.shape for o in outs] == [m.shape for m in masks]
    for o, m in zip(outs, masks):
        np.testing.assert_array_equal(o, cv_ref(m, "open", 7))


@pytest.mark.parametrize("kwargs, exc, name, words", [
    (dict(mask=np.zeros((4, 4), np.float32)), TypeError, "mask", "dtype uint8"),
    (dict(mask=np.zeros((2, 4, 4, 1), np.uint8)), ValueError, "mask", "(N, H, W)"),
    (dict(mask=np.zeros((4, 0), np.uint8)), ValueError, "mask", "height and width > 0"),
    (dict(mask=[np.zeros((4, 4, 3), np.uint8)]), ValueError, "mask[0]", "(H, W)"),
    (dict(op="gradient"), ValueError, "op", "'erode'"),
    (dict(ksize=2), ValueError, "ksize", "odd positive"),
    (dict(ksize=0), ValueError, "ksize", "odd positive"),
    (dict(ksize=(3, -1)), ValueError, "ksize", "odd positive"),
    (dict(ksize="3"), TypeError, "ksize", "odd positive integer"),
])
def test_bad_input(kwargs, exc, name, words):
    args = dict(mask=np.zeros((4, 4), np.uint8), op="erode", ksize=3)
    args.update(kwargs)
    with pytest.raises(exc, match=name.replace("[", r"\[")) as e:
        ops.morphology(**args)
    assert words in str(e.value)


def test_mixed_list_rejected(backend):
    with pytest.raises(TypeError, match=f"mask.*mixing NumPy and {MEMORY[backend]}"):
        ops.morphology([np.zeros((4, 4), np.uint8), to_device(np.zeros((4, 4), np.uint8), backend)], "erode", 3)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("ksize", [1, 3, (5, 11), 31])
def test_kernel_matches_numpy(backend, request, op, ksize):
    rng = rng_for(request)
    check = np.testing.assert_array_equal
    kernel_matches_numpy(backend, ops.morphology, random_mask(rng, 121, 203), op, ksize, check=check)
    kernel_matches_numpy(backend, ops.morphology, np.stack([random_mask(rng, 9, 1, False) for _ in range(3)]),
                      op, ksize, check=check)
    kernel_matches_numpy(backend, ops.morphology, [random_mask(rng, h, w) for h, w in
                                       [(1, 1), (50, 3), (7, 90), (64, 48)]], op, ksize, check=check)
