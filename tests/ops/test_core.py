"""The shared machinery: border mapping, input-form handling, the implementation fork."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ops._batch import as_batch
from ops._border import BORDERS, border_index
from tests.cv_refs import BORDER as CV_BORDERS
from tests.helpers import MEMORY, to_device

from serving.paths import REPO_ROOT as ROOT



@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("length", [1, 2, 3, 7])
def test_border_index_matches_opencv(border, length):
    ps = np.arange(-3 * length - 2, 4 * length + 2)
    ours = border_index(ps, length, border)
    if border == "reflect101" and length == 1:
        ref = [0] * len(ps)  # OpenCV asserts on this; a 1-pixel axis can only repeat
    else:
        ref = [cv2.borderInterpolate(int(p), length, CV_BORDERS[border]) for p in ps]
    np.testing.assert_array_equal(ours, ref)
    assert BORDERS[border] == CV_BORDERS[border]


def test_forms_round_trip():
    img = np.zeros((5, 6, 3), np.uint8)
    b = as_batch(img, "img")
    assert (b.kind, b.n, b.channels, b.shapes) == ("single", 1, 3, [(5, 6)])
    assert b.unwrap().shape == (5, 6, 3)
    assert as_batch(np.zeros((5, 6), np.uint8), "img").unwrap().shape == (5, 6)
    m = as_batch(np.zeros((4, 5, 6), np.uint8), "mask", mask=True)
    assert (m.kind, m.n, m.channels) == ("batch", 4, 1) and m.unwrap().shape == (4, 5, 6)
    lst = as_batch([np.zeros((2, 3, 1), np.uint8), np.zeros((4, 1, 1), np.uint8)], "img")
    out = lst.empty([(7, 7), (1, 2)])
    assert [o.shape for o in out.unwrap()] == [(7, 7, 1), (1, 2, 1)]


def test_strided_input_made_pixel_contiguous():
    img = np.zeros((6, 8, 3), np.uint8)[:, ::2]
    b = as_batch(img, "img")
    assert b.images[0].strides[1] == 3


def test_mixed_list_rejected(backend):
    g = to_device(np.zeros((2, 2, 3), np.uint8), backend)
    with pytest.raises(TypeError, match=f"mixing NumPy and {MEMORY[backend]}"):
        as_batch([np.zeros((2, 2, 3), np.uint8), g], "img")


@pytest.mark.parametrize("bad, words", [
    ([], "non-empty list"),
    ([np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 4), np.uint8)], "3 channels like"),
    ([np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3), np.int16)], "dtype uint8"),
    (np.zeros((0, 2, 2, 3), np.uint8), "at least one image"),
    ("x", "NumPy or CuPy array"),
])
def test_bad_forms(bad, words):
    with pytest.raises((TypeError, ValueError), match="img") as e:
        as_batch(bad, "img")
    assert words in str(e.value)


def test_implementation_fork(monkeypatch):
    """ops.implementation: OpenCV for NumPy by default, the reference inside use_reference()
    or with TVO_OPS_REFERENCE=1, the CUDA kernel for device memory (the harness's HostArray)."""
    import ops
    from ops.arrays import hostarrays

    monkeypatch.delenv("TVO_OPS_REFERENCE", raising=False)
    img = np.zeros((2, 2, 3), np.uint8)
    assert ops.implementation(img) == "opencv"
    assert ops.implementation(img, has_opencv=False) == "reference"
    with ops.use_reference():
        assert ops.implementation(img) == "reference"
        with ops.use_reference(False):
            assert ops.implementation(img) == "opencv"
        assert ops.implementation(hostarrays.asarray(img)) == "cuda"
    assert ops.implementation(img) == "opencv"
    assert ops.implementation(hostarrays.asarray(img)) == "cuda"
    code = ("import numpy, ops; x = numpy.zeros((2, 2, 3), numpy.uint8); print(ops.implementation(x))\n"
            "with ops.use_reference(False): print(ops.implementation(x))")
    env = {**os.environ, "TVO_OPS_REFERENCE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.split() == ["reference", "opencv"]
