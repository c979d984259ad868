"""The matte model: a coarse soft mask refined along the frame's edges into an alpha (the
guided or the joint bilateral filter, guided by the full-resolution frame), or thresholded
for users who want a binary mask. Which refinement is the default, with which parameters,
was chosen by bench/matting_bench.py (docs/matte.md)."""
from __future__ import annotations

from typing import Any, Mapping

import ops

from ..base import OpModel
from ..contract import Contract, image, mask
from ..items import batch_or_list
from ..params import Bounds, integer, number, options
from ..requests import RequestError, check_image, check_mask
from .caps import MAX_JBF_DIAMETER, MAX_GUIDED_RADIUS

# Where matte=binary cuts the alpha (255 at and above): half way, as tensor_to_mask's 0.5.
BINARY_CUT = 128


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
        "refine_radius": integer("8", "guided: the window radius in frame pixels", 1,
                                 MAX_GUIDED_RADIUS,
                                 "a window up to 129 pixels wide: the cost does not grow with "
                                 "the radius (box filters as running sums)", True),
        "refine_eps": number("0.0001", "guided: the regularisation, in (value / 255)^2; "
                             "smaller follows the frame's edges more closely",
                             Bounds(0, 1, lo_open=True),
                             "a variance of values in 0..1: above 1 every window is flat", True),
        "refine_diameter": integer("9", "joint bilateral: the window diameter in pixels", 1,
                                   MAX_JBF_DIAMETER,
                                   "the cost grows with the window's area (the cap: ~9x the "
                                   "default's taps)", True),
        "refine_sigma_color": number("25", "joint bilateral: the colour sigma (guide values "
                                     "0..255)", Bounds(0, 1000, lo_open=True),
                                     "past ~4 x 255 every colour weight is ~1", True),
        "refine_sigma_space": number("4", "joint bilateral: the space sigma (pixels)",
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
        return {"ALPHA": refine(batch_or_list(inputs["IMAGE"]), batch_or_list(inputs["MASK"]),
                                params)}


def refine(frames: Any, masks: Any, params: Mapping[str, Any]) -> Any:
    """The model's computation on op arguments (also what bench/matting_bench.py times).

    Args:
        frames: uint8 (N, H, W, 3) or a list of (H, W, 3); NumPy or CuPy.
        masks: uint8 (N, H, W) or a list of (H, W), the same sizes and memory.
        params: RefineMaskModel's parameters (refine, refine_guide, refine_radius, refine_eps,
            refine_diameter, refine_sigma_color, refine_sigma_space, matte).
    Returns:
        uint8 alphas in masks' form.
    Raises:
        TypeError / ValueError: arguments the ops refuse.
    """
    method = params["refine"]
    alpha = masks
    if method != "none":
        guide = frames if params["refine_guide"] == "color" else ops.cvt_color(frames, "rgb2gray")
        src = masks if isinstance(masks, list) else masks[..., None]
        if method == "guided":
            out = ops.guided_filter(guide, src, params["refine_radius"],
                                    params["refine_eps"] * 255.0 * 255.0)
        else:
            out = ops.joint_bilateral_filter(src, guide, params["refine_diameter"],
                                             params["refine_sigma_color"],
                                             params["refine_sigma_space"])
        alpha = out if isinstance(out, list) else out[..., 0]
    if params["matte"] == "binary":
        alpha = ops.threshold(alpha, BINARY_CUT)
    return alpha
