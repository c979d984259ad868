"""The matte model: a coarse soft mask refined along the frame's edges into an alpha (the
guided or the joint bilateral filter, guided by the full-resolution frame), or thresholded
for users who want a binary mask. Which refinement is the default, with which parameters,
was chosen by bench/matting_bench.py (docs/matte.md)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import ops

from ..base import OpModel
from ..contract import Contract, image, mask
from ..items import as_items, batch_or_list, compute_in_groups
from ..params import Bounds, integer, number, options
from ..requests import RequestError, check_image, check_mask
from .caps import MAX_JBF_DIAMETER, MAX_GUIDED_RADIUS

# Where matte=binary cuts the alpha (255 at and above): half way, as tensor_to_mask's 0.5.
BINARY_CUT = 128
# refine_radius is the radius for a frame of this long side (720p), scaled for others.
REFERENCE_SIDE = 1280


class RefineMaskModel(OpModel):
    """IMAGE (H, W, 3) + MASK (H, W) soft -> ALPHA (H, W) uint8 0..255, along IMAGE's edges."""
    CONTRACT = Contract((image(ragged=True), mask(ragged=True)), (mask("ALPHA"),),
                        "Refine a coarse soft mask into an alpha along the frame's edges.")
    PARAMETERS = {
        "refine": options("guided", "the refinement: guided filter, joint bilateral filter, "
                          "or none (the mask as it comes)", "guided", "joint_bilateral", "none",
                          overridable=True),
        "refine_guide": options("color", "the guide: the frame's three colours or its luma",
                                "color", "gray", overridable=True),
        "refine_radius": integer("8", "guided: the window radius in pixels of a frame whose "
                                 "long side is 1280, scaled with each frame's long side",
                                 1, MAX_GUIDED_RADIUS,
                                 "a window up to 129 pixels wide at 720p: the cost does not "
                                 "grow with the radius (box filters as running sums)", True),
        "refine_eps": number("0.00001", "guided: the regularisation, in (value / 255)^2; "
                             "smaller follows the frame's edges more closely",
                             Bounds(0, 1, lo_open=True),
                             "a variance of values in 0..1: above 1 every window is flat", True),
        "refine_subsample": integer("8", "guided: the filter's coefficients at 1/subsample "
                                    "resolution, then resized up (He and Sun's fast guided "
                                    "filter); 1: cv2.ximgproc.guidedFilter's full resolution",
                                    1, 16, "each step up computes on fewer pixels; past 16 "
                                    "the coefficients lose the frame's edges", True),
        "refine_diameter": integer("5", "joint bilateral: the window diameter in pixels (the "
                                   "defaults are CV-CUDA's segmentation sample's)", 1,
                                   MAX_JBF_DIAMETER,
                                   "the cost grows with the window's area: 15 has 149 taps, "
                                   "11x the default's 13",
                                   True),
        "refine_sigma_color": number("50", "joint bilateral: the colour sigma (guide values "
                                     "0..255)", Bounds(0, 1000, lo_open=True),
                                     "past ~4 x 255 every colour weight is ~1", True),
        "refine_sigma_space": number("1", "joint bilateral: the space sigma (pixels)",
                                     Bounds(0, 1000, lo_open=True),
                                     "the window is fixed by the diameter; a sigma far past it "
                                     "weighs every tap alike", True),
        "matte": options("soft", "the mask out: the soft alpha, or binary (255 where the "
                         f"alpha is >= {BINARY_CUT}, else 0)", "soft", "binary",
                         overridable=True),
    }

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_image(item["IMAGE"])
        check_mask(item["MASK"])
        if tuple(item["MASK"].shape) != tuple(item["IMAGE"].shape[:2]):
            raise RequestError(f"MASK: expected shape {tuple(item['IMAGE'].shape[:2])}, got "
                               f"{tuple(item['MASK'].shape)}")

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        return {"ALPHA": refine(inputs["IMAGE"], inputs["MASK"], params)}


def scaled_radius(radius: int, shape: Sequence[int]) -> int:
    """The guided filter's radius for one frame: ``radius`` for a frame whose long side is
    REFERENCE_SIDE, in proportion for others (the network's pixel, which the mask's error
    spans, grows with the frame), rounded half up, at least 1.

    Args:
        radius: int >= 1; shape: the frame's (H, W, ...).
    Returns:
        An int >= 1.
    """
    return max(1, int(radius * max(shape[0], shape[1]) / REFERENCE_SIDE + 0.5))


def refine(frames: Sequence[Any], masks: Sequence[Any], params: Mapping[str, Any]) -> list:
    """The model's computation (also what bench/matting_bench.py scores and times).

    Args:
        frames: uint8 (H, W, 3) items; NumPy or CuPy, one kind.
        masks: uint8 (H, W) items of the same sizes and memory.
        params: RefineMaskModel's parameters (refine, refine_guide, refine_radius, refine_eps,
            refine_subsample, refine_diameter, refine_sigma_color, refine_sigma_space, matte).
    Returns:
        One uint8 (H, W) alpha per item. OpenCV: cv2.ximgproc.guidedFilter (refine_subsample
        1) or cv2.ximgproc.jointBilateralFilter, then cv2.threshold for matte=binary.
    Raises:
        TypeError / ValueError: arguments the ops refuse.
    """
    method = params["refine"]
    # The guided filter runs once per radius (frames of one long side share one).
    radii = [scaled_radius(params["refine_radius"], f.shape) if method == "guided" else 0
             for f in frames]

    def group(radius: int, pairs: list) -> list:
        alpha = batch_or_list([m for _, m in pairs])
        if method != "none":
            imgs = batch_or_list([f for f, _ in pairs])
            guide = imgs if params["refine_guide"] == "color" else ops.cvt_color(imgs, "rgb2gray")
            src = alpha if isinstance(alpha, list) else alpha[..., None]
            if method == "guided":
                out = ops.guided_filter(guide, src, radius, params["refine_eps"] * 255.0 * 255.0,
                                        subsample=params["refine_subsample"])
            else:
                out = ops.joint_bilateral_filter(src, guide, params["refine_diameter"],
                                                 params["refine_sigma_color"],
                                                 params["refine_sigma_space"])
            alpha = out if isinstance(out, list) else out[..., 0]
        if params["matte"] == "binary":
            alpha = ops.threshold(alpha, BINARY_CUT)
        return as_items(alpha)

    return compute_in_groups(list(zip(frames, masks)), group, keys=radii)
