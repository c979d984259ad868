"""The background_blur ensemble's chain called in-process through ops (no Triton, no model
classes): what the ensemble must return byte for byte. An independent statement of the
pipeline for the tests and bench/gpu/smoke.py (the fused model runs the steps' own classes,
not this); only its parameters come from the code: the steps' Param defaults with the
background_blur spec's step parameters applied."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import ops
from ops.geometry import letterbox_geometry
from serving import registry
from serving.paths import PIPELINES
from serving.pipeline.spec import load_spec

SPEC = PIPELINES / "background_blur.yaml"


def step_parameters(spec_path: Path = SPEC) -> dict[str, dict[str, Any]]:
    """Each step's typed config parameters: its class's defaults, the spec's values over them."""
    return {s.model: registry.model_class(s.model).parse_parameters(s.parameters)
            for s in load_spec(spec_path).steps}


STEP = step_parameters()
# The per-request overridable ones by their request names (and the letterbox size).
DEFAULTS = {"size": STEP["pad"]["height"], "threshold": STEP["tensor_to_mask"]["threshold"],
            "contrast": STEP["tensor_to_mask"]["contrast"],
            "morph_op": STEP["tensor_to_mask"]["morph_op"],
            "morph_ksize": STEP["tensor_to_mask"]["morph_ksize"], "sigma": STEP["blur"]["sigma"],
            "downscale": STEP["blur"]["downscale"],
            **{k: v for k, v in STEP["refine_mask"].items() if k.startswith("refine") or k == "matte"}}
# The chain below is written for these (the letterbox of a square box): say so if they change.
assert STEP["resize"]["mode"] == "fit" and STEP["pad"]["value"] == (0.0,), STEP
assert {STEP[m][k] for m in ("resize", "pad") for k in ("height", "width")} == {DEFAULTS["size"]}, STEP


def chain(img: Any, runner: Any, **overrides: Any) -> dict[str, Any]:
    """Every intermediate of one RGB uint8 (H, W, 3) image through the chain, by name."""
    p: Mapping[str, Any] = {**DEFAULTS, **overrides}
    t, m = STEP["image_to_tensor"], STEP["tensor_to_mask"]
    s = p["size"]
    h, w = img.shape[:2]
    x, y, nw, nh = letterbox_geometry(h, w, s, s)
    small = ops.resize(img, (nh, nw), STEP["resize"]["interpolation"])
    padded = ops.pad(small, y, s - nh - y, x, s - nw - x)
    tensor = ops.image_to_tensor(padded, mean=t["mean"], std=t["std"], scale=t["scale"],
                                 swap_rb=t["swap_rb"])
    prob = runner.run(tensor)
    mask = ops.tensor_to_mask(prob, roi=(x, y, nw, nh), size=(h, w), activation=m["activation"],
                              channel=m["channel"], threshold=p["threshold"],
                              contrast=p["contrast"])[0]
    if p["morph_ksize"] > 1:
        mask = ops.morphology(mask, p["morph_op"], p["morph_ksize"])
    coarse = mask
    mask = refine(img, coarse, p)
    blurred = ops.blur_background(img, mask, p["sigma"], downscale=p["downscale"])
    return {"roi": (x, y, nw, nh), "size": (h, w), "resized": small, "padded": padded,
            "tensor": tensor[0], "prob": prob[0], "coarse": coarse, "mask": mask,
            "blurred": blurred}


def refine(img: Any, coarse: Any, p: Mapping[str, Any]) -> Any:
    """The refine_mask step: the coarse (H, W) mask filtered along the frame (its luma, or
    its colours) into an alpha, then thresholded at 128 for matte=binary."""
    guide = img if p["refine_guide"] == "color" else ops.cvt_color(img, "rgb2gray")
    if p["refine"] == "guided":  # the radius is given at 720p, scaled with the long side, half up
        radius = max(1, int(p["refine_radius"] * max(img.shape[:2]) / 1280 + 0.5))
        alpha = ops.guided_filter(guide, coarse, radius, p["refine_eps"] * 255 ** 2,
                                  subsample=p["refine_subsample"])
    elif p["refine"] == "joint_bilateral":
        alpha = ops.joint_bilateral_filter(coarse, guide, p["refine_diameter"],
                                           p["refine_sigma_color"], p["refine_sigma_space"])
    else:
        alpha = coarse
    return ops.threshold(alpha, 128) if p["matte"] == "binary" else alpha


def background_blur(img: Any, runner: Any, **overrides: Any) -> tuple[Any, Any]:
    """(blurred, mask) of one RGB uint8 (H, W, 3) image with the ensemble's defaults."""
    c = chain(img, runner, **overrides)
    return c["blurred"], c["mask"]
