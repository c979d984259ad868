"""The background_blur chain called in-process through ops (no Triton): what the ensemble
must return byte for byte, and what the fused model runs."""
from __future__ import annotations

from typing import Any, Mapping

import ops
from ops.geometry import letterbox_geometry

DEFAULTS = {"size": 256, "threshold": 0.5, "morph_op": "open", "morph_ksize": 5, "sigma": 12.0,
            "downscale": 1}


def background_blur(img: Any, runner: Any, **overrides: Any) -> tuple[Any, Any]:
    """(blurred, mask) of one RGB uint8 (H, W, 3) image with the ensemble's defaults."""
    p: Mapping[str, Any] = {**DEFAULTS, **overrides}
    s = p["size"]
    h, w = img.shape[:2]
    x, y, nw, nh = letterbox_geometry(h, w, s, s)
    small = ops.resize(img, (nh, nw))
    padded = ops.pad(small, y, s - nh - y, x, s - nw - x)
    tensor = ops.image_to_tensor(padded, mean=0.0, std=1.0, scale=1 / 255)
    prob = runner.run(tensor)
    mask = ops.tensor_to_mask(prob, roi=(x, y, nw, nh), size=(h, w), activation="none",
                              threshold=p["threshold"])[0]
    if p["morph_ksize"] > 1:
        mask = ops.morphology(mask, p["morph_op"], p["morph_ksize"])
    return ops.blur_background(img, mask, p["sigma"], downscale=p["downscale"]), mask
