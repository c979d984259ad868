"""The models that place an image's pixels: the pipeline's entry (upload), resize, pad,
center crop, and the resize geometry (``resize_target``) the fused pipelines and the
tests share.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

import ops
from ops.arrays import is_cupy
from ops.geometry import letterbox_geometry

from ..base import OpModel
from ..contract import Contract, Tensor, image
from ..items import compute_in_groups, stack
from ..params import Bounds, Param, integer, numbers, options
from ..requests import MAX_SIDE, RequestError, check_image

_SIDE_WHY = f"at most MAX_SIDE ({MAX_SIDE}), the largest image a model takes"


def _side_param(default: str, doc: str) -> Param:
    """An output height or width: an integer in 1..MAX_SIDE."""
    return integer(default, doc, 1, MAX_SIDE, _SIDE_WHY)


def resize_target(h: int, w: int, params: Mapping[str, Any]) -> tuple[int, int]:
    """The output size of the resize step.

    Args:
        h, w: the input image's height and width (pixels, > 0).
        params: the resize parameters ``height``, ``width`` (ints) and ``mode`` ("fit",
            "stretch" or "shorter_side").
    Returns:
        (height, width) of the output: height x width (stretch), the largest aspect-kept
        size inside it (fit), or the shorter side at ``height`` and the longer scaled with
        the aspect, floored as torchvision's Resize(int) does (shorter_side).
    """
    H, W, mode = params["height"], params["width"], params["mode"]
    if mode == "stretch":
        return H, W
    if mode == "fit":
        _, _, nw, nh = letterbox_geometry(h, w, H, W)
        return nh, nw
    short, long_ = min(h, w), max(h, w)
    other = int(H * long_ / short)
    return (H, other) if h <= w else (other, H)


class UploadModel(OpModel):
    """IMAGE (H, W, 3) uint8 -> UPLOADED, the same image where the instance works.

    The pipeline's entry: on a GPU instance the one host->device copy of a client's frame,
    which every later step reads on the device (resize and blur both read the frame: without
    this step each would upload it); on a CPU instance a pass-through."""
    CONTRACT = Contract(
        (image(ragged=True),), (image("UPLOADED"),),
        "The pipeline's entry: a GPU instance uploads the client's frame once, and every later\n"
        "step reads it on the device; a CPU instance passes it through.")
    ENTRY_INPUTS = frozenset({"IMAGE"})

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_image(item["IMAGE"])

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        return {"UPLOADED": list(inputs["IMAGE"])}


class ResizeModel(OpModel):
    """IMAGE (H, W, 3) uint8 -> RESIZED and SRC_SIZE (h, w) of the input."""
    CONTRACT = Contract(
        (image(ragged=True),), (image("RESIZED"), Tensor("SRC_SIZE", "INT32", (2,))),
        "Resize to the DNN's input box: aspect kept (mode fit) by default.")
    HOST_TENSORS = frozenset({"SRC_SIZE"})
    PARAMETERS = {
        "height": _side_param("256", "target height (or the shorter side)"),
        "width": _side_param("256", "target width"),
        "mode": options("fit", "fit: keep aspect inside height x width (letterbox); stretch: "
                        "exactly height x width; shorter_side: shorter side = height",
                        "fit", "stretch", "shorter_side"),
        "interpolation": options("linear", "cv2 interpolation", "linear", "area", "nearest"),
    }

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_image(item["IMAGE"])
        h, w = (int(s) for s in item["IMAGE"].shape[:2])
        th, tw = resize_target(h, w, params)
        if th > MAX_SIDE or tw > MAX_SIDE:
            # shorter_side keeps the aspect: a 1 x 4096 image at height 256 would be 256 x 1M.
            raise RequestError(f"IMAGE: {h}x{w} would resize to {th}x{tw}, over the size limit "
                               f"of {MAX_SIDE}x{MAX_SIDE} (mode {params['mode']})")

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        imgs = inputs["IMAGE"]
        sizes = [resize_target(int(i.shape[0]), int(i.shape[1]), params) for i in imgs]
        out = ops.resize(list(imgs), sizes, params["interpolation"])
        # Sizes stay host (NumPy) tensors even on the GPU: tensor_to_mask needs them on the
        # host to size its output, so a device copy would only make a round trip.
        src = [np.asarray([i.shape[0], i.shape[1]], dtype=np.int32) for i in imgs]
        return {"RESIZED": out, "SRC_SIZE": src}


class PadModel(OpModel):
    """IMAGE (h, w, 3) -> PADDED (height, width, 3), content centred; ROI (x, y, w, h)."""
    CONTRACT = Contract(
        (image(ragged=True),), (image("PADDED"), Tensor("ROI", "INT32", (4,))),
        "Pad to the DNN's input size, content centred; ROI says where the content is.")
    HOST_TENSORS = frozenset({"ROI"})
    PARAMETERS = {
        "height": _side_param("256", "output height"),
        "width": _side_param("256", "output width"),
        "value": numbers("0", "pad value (one or per channel)", Bounds(0, 255),
                         "a uint8 pixel value"),
    }

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_image(item["IMAGE"])
        h, w = item["IMAGE"].shape[:2]
        if h > params["height"] or w > params["width"]:
            raise RequestError(f"IMAGE: {h}x{w} does not fit in {params['height']}x{params['width']}")

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        imgs = inputs["IMAGE"]
        H, W = params["height"], params["width"]
        value = params["value"][0] if len(params["value"]) == 1 else params["value"]

        def pad_group(shape: tuple, group: list) -> list:
            h, w, _ = shape
            x, y = (W - w) // 2, (H - h) // 2
            if (h, w) == (H, W) and not is_cupy(group[0]):
                # Nothing to pad: the images themselves, which the response passes on
                # without a copy (host only: a device input handed back as an output has
                # not run on a GPU yet, docs/gpu.md).
                out = group
            else:
                out = ops.pad(stack(group), y, H - h - y, x, W - w - x, "constant", value)
            # A ROI per item, on the host like SRC_SIZE.
            return [(o, np.asarray([x, y, w, h], dtype=np.int32)) for o in out]

        # One launch per distinct input size (the padding amounts differ between sizes).
        done = compute_in_groups(imgs, pad_group)
        return {"PADDED": [o for o, _ in done], "ROI": [roi for _, roi in done]}


class CenterCropModel(OpModel):
    """IMAGE -> CROPPED (height, width, 3), the centre of the image."""
    CONTRACT = Contract((image(ragged=True),), (image("CROPPED"),), "Crop the centre of the image.")
    PARAMETERS = {
        "height": _side_param("224", "crop height"),
        "width": _side_param("224", "crop width"),
    }

    def sample_items(self) -> list[dict[str, Any]]:
        return [{"IMAGE": np.zeros((self.params["height"], self.params["width"], 3), np.uint8)}]

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_image(item["IMAGE"])
        h, w = item["IMAGE"].shape[:2]
        if h < params["height"] or w < params["width"]:
            raise RequestError(f"IMAGE: {h}x{w} is smaller than the crop "
                               f"{params['height']}x{params['width']}")

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        return {"CROPPED": ops.center_crop(list(inputs["IMAGE"]), (params["height"], params["width"]))}

