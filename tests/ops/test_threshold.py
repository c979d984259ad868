"""threshold against cv2.threshold(THRESH_BINARY) (bit exact)."""
import cv2
import numpy as np
import pytest

import ops
from tests.helpers import (MEMORY, SIZES, assert_refused, exact, host, kernel_matches_numpy, random_mask,
                           rng_for, to_device)

CUTS = [1, 2, 127, 128, 200, 255]


def cv_threshold(mask, cut):
    return cv2.threshold(mask, cut - 1, 255, cv2.THRESH_BINARY)[1]


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_matches_opencv(request, impl, size):
    m = random_mask(rng_for(request), *size, binary=False)
    for cut in CUTS:
        out = host(impl, ops.threshold, m, cut)
        exact(out, cv_threshold(m, cut), f"{size} cut={cut}")
        assert not np.shares_memory(out, m)


def test_input_forms(request, impl):
    rng = rng_for(request)
    batch = np.stack([random_mask(rng, 17, 29, False) for _ in range(3)])
    out = host(impl, ops.threshold, batch, 100)
    assert out.shape == batch.shape
    for o, m in zip(out, batch):
        exact(o, cv_threshold(m, 100))
    lst = [random_mask(rng, h, w, False) for h, w in [(1, 1), (40, 3), (9, 61)]]
    outs = host(impl, ops.threshold, lst, 128)
    assert isinstance(outs, list) and [o.shape for o in outs] == [m.shape for m in lst]
    for o, m in zip(outs, lst):
        exact(o, cv_threshold(m, 128))


@pytest.mark.parametrize("kwargs, exc, name, words", [
    (dict(mask=np.zeros((4, 4), np.float32)), TypeError, "mask", "dtype uint8"),
    (dict(mask=np.zeros((2, 4, 4, 1), np.uint8)), ValueError, "mask", "(N, H, W)"),
    (dict(cut=0), ValueError, "cut", "1..255"),
    (dict(cut=256), ValueError, "cut", "1..255"),
    (dict(cut=1.5), TypeError, "cut", "an integer"),
], ids=repr)
def test_bad_input(kwargs, exc, name, words):
    args = dict(mask=np.zeros((4, 4), np.uint8), cut=128)
    args.update(kwargs)
    assert_refused(exc, name, words, lambda: ops.threshold(**args))


@pytest.mark.parametrize("cut", [1, 128, 255])
def test_backends_agree(backend, request, cut):
    rng = rng_for(request)
    run = lambda x: kernel_matches_numpy(backend, ops.threshold, x, cut, check=exact)  # noqa: E731
    run(random_mask(rng, 121, 203, False))
    run(np.stack([random_mask(rng, 9, 1, False) for _ in range(3)]))
    run([random_mask(rng, h, w, False) for h, w in [(1, 1), (50, 3), (7, 90)]])


def test_mixed_list_rejected(backend):
    with pytest.raises(TypeError, match=f"mask.*mixing NumPy and {MEMORY[backend]}"):
        ops.threshold([np.zeros((4, 4), np.uint8), to_device(np.zeros((4, 4), np.uint8), backend)], 128)
