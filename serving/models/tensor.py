"""The models between images and the DNN's tensors: image_to_tensor (uint8 HWC in,
normalised float32 CHW out) and tensor_to_mask (the DNN's output back to a uint8 mask at
the source size).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

import ops
from ops.arrays import is_cupy

from ..base import OpModel
from ..contract import Contract, Tensor, image, mask
from ..items import batch_or_list, compute_in_groups, stack
from ..params import Bounds, flag, integer, number, numbers, options
from ..requests import MAX_SIDE, RequestError, check_image
from .caps import MAX_KSIZE


def _host_ints(x: Any) -> list[int]:
    """Small int tensors (sizes, rois; declared HOST_TENSORS) as ints. Validation sees them
    where they arrived, which a client's CUDA shared memory makes the device: 4 ints copied."""
    return [int(v) for v in (x.get() if is_cupy(x) else np.asarray(x)).reshape(-1)]


class ImageToTensorModel(OpModel):
    """IMAGE (H, W, 3) uint8 -> TENSOR (3, H, W) float32 = (img * scale - mean) / std."""
    CONTRACT = Contract((image(ragged=True),), (Tensor("TENSOR", "FP32", (3, -1, -1)),),
                        "uint8 HWC -> float32 CHW, (pixel * scale - mean) / std.")
    PARAMETERS = {
        "mean": numbers("0", "subtracted after scaling (one or per channel)", Bounds(-255, 255),
                        "a scaled pixel value: pixel * scale lies in [0, 255]"),
        "std": numbers("1", "divides after the mean (one or per channel)", Bounds(0.001, 255),
                       "a spread of scaled pixel values: positive (non-zero), and small enough "
                       "values would only blow up the float output"),
        "scale": number("1/255", "multiplies the pixel first", Bounds(0, 1, lo_open=True),
                        "maps 0..255 into at most 0..255 (1/255, 2/255, 1/127.5, 1)"),
        "swap_rb": flag("false", "swap channels 0 and 2 first (RGB <-> BGR)"),
    }

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_image(item["IMAGE"])

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        def convert(_shape: tuple, group: list) -> Any:
            return ops.image_to_tensor(stack(group), mean=params["mean"], std=params["std"],
                                       scale=params["scale"], swap_rb=params["swap_rb"])

        # One launch per distinct input size: each size is one batch.
        return {"TENSOR": compute_in_groups(inputs["IMAGE"], convert)}

class TensorToMaskModel(OpModel):
    """PROB (K, h, w) + ROI (x, y, w, h) + SRC_SIZE (H, W) -> MASK (H, W) uint8, denoised."""
    CONTRACT = Contract(
        (Tensor("PROB", "FP32", (-1, -1, -1), ragged=True), Tensor("ROI", "INT32", (4,)),
         Tensor("SRC_SIZE", "INT32", (2,))), (mask(),),
        "DNN output -> uint8 mask at the source size, letterbox cropped, denoised.")
    HOST_TENSORS = frozenset({"ROI", "SRC_SIZE"})
    PARAMETERS = {
        "activation": options("none", "applied to the DNN output first",
                              "none", "sigmoid", "softmax", "argmax"),
        "channel": integer("0", "the person channel", 0, MAX_SIDE - 1,
                           f"an index into PROB's K channels: below K (checked per request), "
                           f"and K is at most MAX_SIDE ({MAX_SIDE})"),
        "threshold": number("0.5", "hard mask at this probability; 'none' keeps a soft mask",
                            Bounds(0, 1, lo_open=True, hi_open=True),
                            "a probability strictly between 0 and 1 (0 or 1 would give an "
                            "all-foreground or all-background mask)", True, "a soft mask"),
        "contrast": number("1", "a soft mask's probability stretched around 0.5 first: "
                           "clip((p - 0.5) contrast + 0.5, 0, 1)", Bounds(1, 16),
                           "1 leaves the probability as it is; 16 spreads 0.47..0.53 over the "
                           "whole range, nearly a threshold", True),
        "morph_op": options("open", "denoise operation", "open", "close", "erode", "dilate"),
        "morph_ksize": integer("5", "denoise kernel size (odd; 0 or 1 = off)", 0, MAX_KSIZE,
                               f"a denoise element of the mask: on the largest frame one "
                               f"pixel of the 256-pixel network output spans 16 pixels; the "
                               f"cost grows with the size ({MAX_KSIZE}: ~3-4x the default)",
                               True, odd=True, off=True),
    }

    def sample_items(self) -> list[dict[str, Any]]:
        k = max(2, self.params["channel"] + 1)
        return [{"PROB": np.zeros((k, 8, 8), np.float32), "ROI": np.array([0, 0, 8, 8], np.int32),
                 "SRC_SIZE": np.array([16, 16], np.int32)}]

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        prob = item["PROB"]
        if prob.ndim != 3 or 0 in prob.shape:
            raise RequestError(f"PROB: expected a non-empty (K, h, w), got {tuple(prob.shape)}")
        k, ph, pw = (int(s) for s in prob.shape)
        if params["channel"] >= k:
            raise RequestError(f"channel: expected a channel index below PROB's K = {k}, got "
                               f"{params['channel']}")
        x, y, w, h = _host_ints(item["ROI"])
        if min(x, y) < 0 or min(w, h) <= 0 or x + w > pw or y + h > ph:
            raise RequestError(f"ROI: expected (x, y, w, h) inside the {ph}x{pw} PROB, got "
                               f"{(x, y, w, h)}")
        sh, sw = _host_ints(item["SRC_SIZE"])
        if not (0 < sh <= MAX_SIDE and 0 < sw <= MAX_SIDE):
            raise RequestError(f"SRC_SIZE: expected (H, W) in 1..{MAX_SIDE}, got {(sh, sw)}")

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        probs = inputs["PROB"]
        rois = [tuple(_host_ints(r)) for r in inputs["ROI"]]
        sizes = [tuple(_host_ints(s)) for s in inputs["SRC_SIZE"]]
        masks = ops.tensor_to_mask(batch_or_list(probs), roi=rois, size=sizes,
                                   activation=params["activation"], channel=params["channel"],
                                   threshold=params["threshold"], contrast=params["contrast"])
        if params["morph_ksize"] > 1:
            masks = ops.morphology(masks, params["morph_op"], params["morph_ksize"])
        return {"MASK": masks}

