"""morphology against cv2.erode / cv2.dilate / cv2.morphologyEx (bit exact)."""
import numpy as np
import pytest

import ops
from tests.cv_refs import MORPH, cv_morphology
from tests.helpers import (MEMORY, SIZES, assert_refused, exact, host, kernel_matches_numpy, random_mask,
                           rng_for, to_device)

KSIZES = [1, 3, 5, (3, 7), (9, 1), 21, (7, 3), 31]
MORPH_SIZES = SIZES + [(1, 9), (7, 1), (5, 3), (120, 203)]


def masks(rng, h, w):
    """Binary, any values, and binary with one other level in 30 % of the pixels."""
    levels = random_mask(rng, h, w)
    levels[rng.random((h, w)) > 0.7] = rng.integers(0, 256)
    return {"binary": random_mask(rng, h, w), "any": random_mask(rng, h, w, binary=False), "levels": levels}


@pytest.mark.parametrize("op", MORPH)
@pytest.mark.parametrize("size", MORPH_SIZES, ids=str)
def test_matches_opencv(request, impl, op, size):
    rng = rng_for(request)
    for kind, mask in masks(rng, *size).items():
        for ksize in KSIZES:
            exact(host(impl, ops.morphology, mask, op, ksize), cv_morphology(mask, op, ksize),
                  f"{op} {size} {kind} {ksize}")


@pytest.mark.parametrize("op", MORPH)
def test_input_forms(request, impl, op):
    rng = rng_for(request)
    for ksize in (5, (7, 3), 31):
        batch = np.stack([random_mask(rng, 17, 29) for _ in range(3)])
        out = host(impl, ops.morphology, batch, op, ksize)
        assert out.shape == batch.shape
        for o, m in zip(out, batch):
            exact(o, cv_morphology(m, op, ksize))
        lst = [random_mask(rng, h, w) for h, w in [(1, 1), (40, 3), (9, 61), (2, 5)]] + [batch[1, :7, :9]]
        outs = host(impl, ops.morphology, lst, op, ksize)
        assert isinstance(outs, list) and [o.shape for o in outs] == [m.shape for m in lst]
        for o, m in zip(outs, lst):
            exact(o, cv_morphology(m, op, ksize))


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
], ids=repr)
def test_bad_input(kwargs, exc, name, words):
    args = dict(mask=np.zeros((4, 4), np.uint8), op="erode", ksize=3)
    args.update(kwargs)
    assert_refused(exc, name, words, lambda: ops.morphology(**args))


@pytest.mark.parametrize("op", MORPH)
@pytest.mark.parametrize("ksize", [1, 3, (5, 11), 31, 5, (7, 3)], ids=str)
def test_backends_agree(backend, request, op, ksize):
    rng = rng_for(request)
    run = lambda x: kernel_matches_numpy(backend, ops.morphology, x, op, ksize, check=exact)  # noqa: E731
    run(random_mask(rng, 121, 203))
    run(np.stack([random_mask(rng, 9, 1, False) for _ in range(3)]))
    run([random_mask(rng, h, w) for h, w in [(1, 1), (50, 3), (7, 90), (64, 48)]])
    run([random_mask(rng, h, w) for h, w in [(1, 1), (40, 3), (64, 80)]])
    run(np.stack([random_mask(rng, 64, 80) for _ in range(3)]))


def test_mixed_list_rejected(backend):
    with pytest.raises(TypeError, match=f"mask.*mixing NumPy and {MEMORY[backend]}"):
        ops.morphology([np.zeros((4, 4), np.uint8), to_device(np.zeros((4, 4), np.uint8), backend)], "erode", 3)


@pytest.mark.parametrize("form", ["single", "batch of one"])
def test_a_1x1_element_returns_a_new_array(request, impl, form):
    """ksize 1 is the identity, but the result is the op's own array, as OpenCV's is: writing
    to it leaves the caller's mask alone."""
    m = random_mask(rng_for(request), 9, 13)
    x = m if form == "single" else m[None]
    out = ops.morphology(x, "erode", 1)
    exact(out, x)
    assert not np.shares_memory(out, x)
