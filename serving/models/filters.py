"""The filter models: blur (the background blurred under a mask) and morphology (a mask
denoised with a square element). Their costs are capped by serving/models/caps.py.
"""
from __future__ import annotations

from typing import Any, Mapping

import ops

from ..base import OpModel
from ..contract import Contract, image, mask
from ..items import batch_or_list
from ..params import Bounds, integer, number, options
from ..requests import MAX_SIDE, RequestError, check_image, check_mask
from .caps import MAX_DOWNSCALE, MAX_KSIZE, MAX_SIGMA


class BlurModel(OpModel):
    """IMAGE (H, W, 3) + MASK (H, W) -> BLURRED: Gaussian-blurred background under the mask."""
    CONTRACT = Contract((image(ragged=True), mask(ragged=True)), (image("BLURRED"),),
                        "Blur the background: Gaussian blur composited under the mask.")
    PARAMETERS = {
        "sigma": number("12", "Gaussian sigma of the background blur (pixels)",
                        Bounds(0, MAX_SIGMA, lo_open=True),
                        "a blur in pixels: at most the cap, where the cost stops growing (the "
                        "8-bit kernel is full from ~100), whatever the image's size",
                        True),
        "downscale": integer("1", "blur at 1/downscale resolution (faster)", 1, MAX_DOWNSCALE,
                             f"a resolution factor: 1/{MAX_DOWNSCALE} of the largest side is "
                             f"{MAX_SIDE // MAX_DOWNSCALE} pixels", True),
    }

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_image(item["IMAGE"])
        # No range here that depends on the image: in a pipeline this step runs beside
        # others, where a refusal can crash Triton 2.51 (docs/pipelines.md). A blur wider
        # than the image is nearly flat, and its cost is bounded by MAX_SIGMA whatever the
        # size.
        if tuple(item["MASK"].shape) != tuple(item["IMAGE"].shape[:2]):
            raise RequestError(f"MASK: expected shape {tuple(item['IMAGE'].shape[:2])}, got "
                               f"{tuple(item['MASK'].shape)}")

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        imgs, masks = inputs["IMAGE"], inputs["MASK"]
        out = ops.blur_background(batch_or_list(imgs), batch_or_list(masks), params["sigma"],
                                  downscale=params["downscale"])
        return {"BLURRED": out}


class MorphologyModel(OpModel):
    """MASK (H, W) uint8 -> RESULT: erode / dilate / open / close with a square element."""
    CONTRACT = Contract((mask(ragged=True),), (mask("RESULT"),),
                        "Mask denoise: morphological open / close / erode / dilate.")
    PARAMETERS = {
        "op": options("close", "the operation", "open", "close", "erode", "dilate"),
        "ksize": integer("5", "odd element size", 1, MAX_KSIZE,
                         f"as tensor_to_mask's morph_ksize: the cost grows with the size "
                         f"({MAX_KSIZE}: ~3-4x the default)", True, odd=True),
    }

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_mask(item["MASK"])

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        return {"RESULT": ops.morphology(batch_or_list(inputs["MASK"]), params["op"], params["ksize"])}

