"""composite against the float64 alpha blend rounded to nearest (OpenCV has no single call;
cv2.blendLinear blends in float32)."""
import numpy as np
import pytest

import ops
from tests.cv_refs import cv_composite
from tests.helpers import (CHANNELS, MEMORY, SIZES, assert_refused, exact, host, kernel_matches_numpy,
                           random_batch, random_image, rng_for, to_device)

COMPOSITE_SIZES = SIZES + [(1, 9), (7, 1), (5, 3), (120, 203)]


@pytest.mark.parametrize("mask", ["soft", "binary", "matte"])
@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("size", COMPOSITE_SIZES, ids=str)
def test_matches_opencv(request, impl, c, size, mask):
    """Soft masks, binary ones (0 and 255 only: OpenCV's masked-copy path) and mattes (binary
    but for a few soft pixels, all values among them: the copy, then those blended alone)."""
    rng = rng_for(request)
    fg, bg = random_image(rng, *size, c), random_image(rng, *size, c)
    m = random_image(rng, *size, None)
    if mask != "soft":
        soft = rng.random(size) < (0.1 if mask == "matte" else 0)
        m = np.where(soft, m, np.where(m >= 128, 255, 0)).astype(np.uint8)
    exact(host(impl, ops.composite, fg, bg, m), cv_composite(fg, bg, m))
    exact(host(impl, ops.composite, fg, bg, m[..., None]), cv_composite(fg, bg, m))


@pytest.mark.parametrize("c", CHANNELS)
def test_input_forms(request, impl, c):
    rng = rng_for(request)
    if c == 1:
        gray_fg, gray_bg, m = (random_image(rng, 5, 7, None) for _ in range(3))
        out = host(impl, ops.composite, gray_fg, gray_bg, m)
        assert out.shape == (5, 7)
        exact(out, cv_composite(gray_fg, gray_bg, m))
    fg, bg = random_batch(rng, 3, 9, 11, c), random_batch(rng, 3, 9, 11, c)
    masks = random_batch(rng, 3, 9, 11, None)
    for mk in (masks, masks[..., None], list(masks)):
        out = host(impl, ops.composite, fg, bg, mk)
        assert out.shape == fg.shape
        exact(out, cv_composite(fg, bg, masks))
    sizes = [(1, 1), (40, 3), (9, 61), (4, 5)]
    fgs, bgs = ([random_image(rng, h, w, c) for h, w in sizes] for _ in range(2))
    ms = [random_image(rng, h, w, None) for h, w in sizes]
    for mk in (ms, [x[..., None] for x in ms]):
        outs = host(impl, ops.composite, fgs, bgs, mk)
        assert isinstance(outs, list) and [o.shape for o in outs] == [f.shape for f in fgs]
        for o, f, b, x in zip(outs, fgs, bgs, ms):
            exact(o, cv_composite(f, b, x))


Z3 = np.zeros((4, 5, 3), np.uint8)
Z2 = np.zeros((4, 5), np.uint8)


@pytest.mark.parametrize("fg, bg, mask, exc, name, words", [
    (Z3.astype(np.float32), Z3, Z2, TypeError, "fg", "dtype uint8"),
    (Z3, Z3.astype(np.int16), Z2, TypeError, "bg", "dtype uint8"),
    (Z3, Z3, Z2.astype(bool), TypeError, "mask", "dtype uint8"),
    (np.zeros((4, 5, 2), np.uint8), Z3, Z2, ValueError, "fg", "1 or 3 or 4 channels"),
    (Z3, np.zeros((4, 5, 4), np.uint8), Z2, ValueError, "bg", "3 channels like fg"),
    (Z3, np.zeros((4, 6, 3), np.uint8), Z2, ValueError, "bg", "height, width (4, 5) like fg"),
    (Z3, Z3, np.zeros((5, 4), np.uint8), ValueError, "mask", "height, width (4, 5) like fg"),
    (Z3, Z3, np.zeros((4, 5, 3), np.uint8), ValueError, "mask", "(H, W) or (H, W, 1)"),
    (Z3, Z3, np.zeros((2, 4, 5), np.uint8), ValueError, "mask", "(H, W) or (H, W, 1)"),
    (Z3[None], Z3[None], Z2, ValueError, "mask", "(N, H, W) or (N, H, W, 1)"),
    (np.stack([Z3, Z3]), np.stack([Z3, Z3]), Z2[None], ValueError, "mask", "2 images like fg"),
    (np.zeros((0, 5, 3), np.uint8), Z3, Z2, ValueError, "fg", "height and width > 0"),
    (np.zeros((2, 4, 5, 3), np.uint8), np.zeros((3, 4, 5, 3), np.uint8), np.zeros((2, 4, 5), np.uint8),
     ValueError, "bg", "2 images like fg"),
    ([Z3, Z3[:2]], [Z3, Z3], [Z2, Z2], ValueError, "bg[1]", "like fg"),
    ([Z3, Z3], [Z3, Z3], [Z2, Z2[:, :3]], ValueError, "mask[1]", "like fg"),
    (Z3, Z3, "mask", TypeError, "mask", "NumPy or CuPy array"),
], ids=repr)
def test_bad_input(fg, bg, mask, exc, name, words):
    assert_refused(exc, name, words, lambda: ops.composite(fg, bg, mask))


@pytest.mark.parametrize("c", CHANNELS)
def test_backends_agree(backend, request, c):
    rng = rng_for(request)

    def run(fg, bg, mask):
        """kernel_matches_numpy for all three arguments moved to the backend's memory."""
        kernel_matches_numpy(backend, lambda args: ops.composite(*args), [fg, bg, mask], check=exact)

    run(random_image(rng, 121, 203, c), random_image(rng, 121, 203, c), random_image(rng, 121, 203, None))
    run(random_batch(rng, 3, 9, 1, c), random_batch(rng, 3, 9, 1, c), random_batch(rng, 3, 9, 1, None))
    sizes = [(1, 1), (50, 3), (7, 90)]
    run([random_image(rng, h, w, c) for h, w in sizes], [random_image(rng, h, w, c) for h, w in sizes],
        [random_image(rng, h, w, None)[..., None] for h, w in sizes])
    # kernel_matches_numpy itself, with fg as the op's argument
    bg, m = random_image(rng, 33, 17, c), random_image(rng, 33, 17, None)
    on = (lambda a, fg: a if type(fg) is np.ndarray else to_device(a, backend))  # noqa: E731
    kernel_matches_numpy(backend, lambda fg: ops.composite(fg, on(bg, fg), on(m, fg)),
                         random_image(rng, 33, 17, c), check=exact)


def test_mixed_arrays_rejected(backend):
    g = to_device(np.zeros((4, 5, 3), np.uint8), backend)
    with pytest.raises(TypeError, match=f"bg: expected NumPy arrays like fg, got {MEMORY[backend]}"):
        ops.composite(Z3, g, Z2)
    with pytest.raises(TypeError, match=f"mask: expected {MEMORY[backend]}.* arrays like fg, got NumPy"):
        ops.composite(g, g, Z2)
    with pytest.raises(TypeError, match=f"fg.*mixing NumPy and {MEMORY[backend]}"):
        ops.composite([Z3, g], [Z3, Z3], [Z2, Z2])


def test_exhaustive_equals_float64_round(impl):
    """Every (fg, bg, m) triple: the integer formula is the exactly rounded real blend."""
    v = np.arange(256, dtype=np.uint8)
    fg = np.repeat(v, 256 * 256).reshape(256 * 256, 256, 1)
    bg = np.tile(np.repeat(v, 256), 256).reshape(256 * 256, 256, 1)
    m = np.tile(v, 256 * 256).reshape(256 * 256, 256)
    exact(host(impl, ops.composite, fg, bg, m), cv_composite(fg, bg, m))
    assert (ops.composite(fg, bg, np.full_like(m, 255)) == fg).all()
    assert (ops.composite(fg, bg, np.zeros_like(m)) == bg).all()


def test_division_free_rounding_is_exact():
    """The kernel's (w + 128) * 257 >> 16 is (w + 127) // 255 for every weighted sum."""
    w = np.arange(0, 255 * 255 + 1, dtype=np.uint32)
    np.testing.assert_array_equal(((w + 128) * 257) >> 16, (w + 127) // 255)
