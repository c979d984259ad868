"""The refine_mask model outside Triton: its parameters, its per-item checks, and its result
against OpenCV's contrib filters called here (the Triton side: tests/integration)."""
import cv2
import numpy as np
import pytest
from skimage import data

import ops

from serving.models import RefineMaskModel
from serving.models.matte import BINARY_CUT
from serving.requests import RequestError
from tests.helpers import rng_for


def config(**params):
    return {"name": "refine_mask", "parameters": {k: {"string_value": v} for k, v in params.items()}}


def scene(rng, h, w):
    """A frame and a coarse soft mask of a disc whose edge the mask blurs across."""
    frame = data.astronaut()
    frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2) - min(h, w) / 3
    coarse = np.clip(np.rint(255 / (1 + np.exp(d / 6))), 0, 255).astype(np.uint8)
    coarse = np.clip(coarse.astype(int) + rng.integers(-3, 4, coarse.shape), 0, 255).astype(np.uint8)
    return frame, coarse


def opencv_alpha(frame, coarse, p):
    """The model's alpha for one item, from cv2 directly (the ops are held to it)."""
    guide = frame if p["refine_guide"] == "color" else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    radius = max(1, int(p["refine_radius"] * max(frame.shape[:2]) / 1280 + 0.5))  # given at 720p
    if p["refine"] == "guided" and p["refine_subsample"] == 1:
        alpha = cv2.ximgproc.guidedFilter(guide, coarse, radius, p["refine_eps"] * 255 ** 2)
    elif p["refine"] == "guided":
        # OpenCV has no fast guided filter: the op (held to an independent formula in
        # tests/ops/test_guided_filter.py) with the parameters as the model should pass them.
        alpha = ops.guided_filter(guide, coarse, radius, p["refine_eps"] * 255 ** 2,
                                  subsample=p["refine_subsample"])
    elif p["refine"] == "joint_bilateral":
        alpha = cv2.ximgproc.jointBilateralFilter(guide, coarse, p["refine_diameter"],
                                                  p["refine_sigma_color"], p["refine_sigma_space"])
    else:
        alpha = coarse
    return np.where(alpha >= BINARY_CUT, 255, 0).astype(np.uint8) if p["matte"] == "binary" else alpha


# (request parameters, how close to OpenCV: the joint bilateral filter and a colour-guided
# filter are bit-exact; a grey-guided one within 1 level, docs/ops.md)
CASES = [({}, "default"), ({"refine": "joint_bilateral"}, 0),
         ({"refine": "joint_bilateral", "refine_guide": "color", "refine_diameter": 5,
           "refine_sigma_color": 50, "refine_sigma_space": 1}, 0),
         ({"refine": "guided", "refine_guide": "color", "refine_radius": 3, "refine_eps": 0.01,
           "refine_subsample": 1}, 0),
         ({"refine": "guided", "refine_guide": "gray", "refine_radius": 5, "refine_eps": 0.001,
           "refine_subsample": 1}, 1),
         ({"refine": "guided", "refine_guide": "gray", "refine_subsample": 2}, 0),
         ({"refine": "none"}, 0), ({"matte": "binary", "refine": "joint_bilateral"}, 0),
         ({"matte": "binary", "refine": "none"}, 0)]


@pytest.mark.parametrize("overrides, tolerance", CASES, ids=[str(c[0]) for c in CASES])
def test_alpha_is_opencv_s_filter_of_the_coarse_mask(request, overrides, tolerance):
    rng = rng_for(request)
    m = RefineMaskModel.from_config(config())
    p = m.request_params(overrides)
    if tolerance == "default":  # the op's agreement with OpenCV: docs/ops.md, guided_filter
        tolerance = 1 if p["refine_guide"] == "gray" and p["refine_subsample"] == 1 else 0
    # A batch of two of one size, one of another; radii 4, 4, 2 and 1 (8 at 720p, scaled).
    sizes = [(360, 640), (360, 640), (150, 200), (41, 67)]
    items = [dict(zip(("IMAGE", "MASK"), scene(rng, h, w))) for h, w in sizes]
    outs = m.run_items(items, p)
    for item, out in zip(items, outs):
        want = opencv_alpha(item["IMAGE"], item["MASK"], p)
        got = out["ALPHA"]
        assert got.shape == want.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want).max() <= tolerance
    if p["matte"] == "binary":
        assert set(np.unique(outs[0]["ALPHA"])) <= {0, 255}


@pytest.mark.parametrize("overrides", [{}, {"refine_guide": "gray"},
                                       {"refine": "joint_bilateral", "refine_diameter": 15, "refine_sigma_space": 7.5}],
                         ids=str)
def test_refinement_follows_the_frame_s_edge(overrides):
    """A frame of two colours split at x = 637 and a hard mask whose edge the network put 4
    pixels off, at x = 641: the refined alpha's largest step moves to the frame's edge, where
    the mask was wrong it falls (x 637..640), and it keeps the rest (a window that reaches past
    the error: the default guided filter's, a joint bilateral one of diameter 15)."""
    h, w, edge = 16, 1280, 637  # a 720p frame's width: the radius as given
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, :edge] = (200, 160, 140)
    frame[:, edge:] = (40, 90, 60)
    coarse = np.zeros((h, w), np.uint8)
    coarse[:, :edge + 4] = 255
    m = RefineMaskModel.from_config(config())
    alpha = m.run_items([{"IMAGE": frame, "MASK": coarse}], m.request_params(overrides))[0]["ALPHA"]
    assert (alpha == alpha[:1]).all()  # every row alike, as the scene
    row = alpha[0].astype(int)
    # Zero past the mask's edge by two windows at 1/subsample resolution and their taps.
    assert row[:edge].min() == 255 and row[edge + 4 + 40:].max() == 0, row.tolist()
    assert np.argmax(-np.diff(row)) == edge - 1 and row[edge - 1] - row[edge] >= 70, row.tolist()
    assert row[edge:edge + 4].max() < 200, row.tolist()


def test_items_are_checked():
    m = RefineMaskModel.from_config(config())
    frame, mask = np.zeros((8, 9, 3), np.uint8), np.zeros((8, 9), np.uint8)
    m.validate({"IMAGE": frame, "MASK": mask}, m.params)
    for item, words in [({"IMAGE": frame, "MASK": np.zeros((8, 10), np.uint8)}, r"MASK: expected shape \(8, 9\)"),
                        ({"IMAGE": frame[..., :1], "MASK": mask}, "IMAGE"),
                        ({"IMAGE": frame, "MASK": mask[None]}, "MASK")]:
        with pytest.raises(RequestError, match=words):
            m.validate(item, m.params)
