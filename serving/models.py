"""The operator models: each model.py of model_repository/ is one of these classes.

Every class is a thin adapter from Triton tensors (per-request items, see OpModel) to one
``ops`` call over all items; configuration is parameters in the model's config.pbtxt.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

import ops
from ops.geometry import letterbox_geometry

from .base import (OpModel, Param, RequestError, batch_or_list, check_image, choice, parse_bool,
                   parse_float, parse_floats, parse_optional_float)
from .placement import Placement


def _int(text: str) -> int:
    v = int(text)
    if v < 0:
        raise ValueError(f"expected an integer >= 0, got {text!r}")
    return v


def _positive(text: str) -> int:
    v = int(text)
    if v <= 0:
        raise ValueError(f"expected an integer > 0, got {text!r}")
    return v


def _host_ints(x: Any) -> list[int]:
    """Small int tensors (sizes, rois; declared HOST_TENSORS, so always NumPy here) as ints."""
    return [int(v) for v in np.asarray(x).reshape(-1)]


def _by_shape(items: list) -> dict[tuple, list[int]]:
    groups: dict[tuple, list[int]] = {}
    for k, it in enumerate(items):
        groups.setdefault(tuple(it.shape), []).append(k)
    return groups


def resize_target(h: int, w: int, params: Mapping[str, Any]) -> tuple[int, int]:
    """Output size of the resize step for an h x w input."""
    H, W, mode = params["height"], params["width"], params["mode"]
    if mode == "stretch":
        return H, W
    if mode == "fit":
        _, _, nw, nh = letterbox_geometry(h, w, H, W)
        return nh, nw
    # shorter_side: the shorter side becomes `height`, the longer keeps the aspect
    # (floor, as torchvision's Resize(int) does).
    short, long_ = min(h, w), max(h, w)
    other = int(H * long_ / short)
    return (H, other) if h <= w else (other, H)


class UploadModel(OpModel):
    """IMAGE (H, W, 3) uint8 -> UPLOADED, the same image where the instance works.

    The pipeline's entry: on a GPU instance the one host->device copy of a client's frame,
    which every later step reads on the device (resize and blur both read the frame: without
    this step each would upload it); on a CPU instance a pass-through."""
    INPUTS = ("IMAGE",)
    OUTPUTS = ("UPLOADED",)
    ENTRY_INPUTS = frozenset({"IMAGE"})

    def validate(self, item, params):
        check_image(item["IMAGE"])

    def compute(self, inputs, params):
        return {"UPLOADED": list(inputs["IMAGE"])}


class ResizeModel(OpModel):
    """IMAGE (H, W, 3) uint8 -> RESIZED and SRC_SIZE (h, w) of the input."""
    INPUTS = ("IMAGE",)
    OUTPUTS = ("RESIZED", "SRC_SIZE")
    HOST_TENSORS = frozenset({"SRC_SIZE"})
    PARAMETERS = {
        "height": Param(_positive, "256", "target height (or the shorter side)"),
        "width": Param(_positive, "256", "target width"),
        "mode": Param(choice("fit", "stretch", "shorter_side"), "fit",
                      "fit: keep aspect inside height x width (letterbox); stretch: exactly "
                      "height x width; shorter_side: shorter side = height"),
        "interpolation": Param(choice("linear", "area", "nearest"), "linear", "cv2 interpolation"),
    }

    def validate(self, item, params):
        check_image(item["IMAGE"])

    def compute(self, inputs, params):
        imgs = inputs["IMAGE"]
        sizes = [resize_target(int(i.shape[0]), int(i.shape[1]), params) for i in imgs]
        out = ops.resize(list(imgs), sizes, params["interpolation"])
        # Sizes stay host (NumPy) tensors even on the GPU: tensor_to_mask needs them on the
        # host to size its output, so a device copy would only make a round trip.
        src = [np.asarray([i.shape[0], i.shape[1]], dtype=np.int32) for i in imgs]
        return {"RESIZED": out, "SRC_SIZE": src}


class PadModel(OpModel):
    """IMAGE (h, w, 3) -> PADDED (height, width, 3), content centred; ROI (x, y, w, h)."""
    INPUTS = ("IMAGE",)
    OUTPUTS = ("PADDED", "ROI")
    HOST_TENSORS = frozenset({"ROI"})
    PARAMETERS = {
        "height": Param(_positive, "256", "output height"),
        "width": Param(_positive, "256", "output width"),
        "value": Param(parse_floats, "0", "pad value (one or per channel)"),
    }

    def validate(self, item, params):
        check_image(item["IMAGE"])
        h, w = item["IMAGE"].shape[:2]
        if h > params["height"] or w > params["width"]:
            raise RequestError(f"IMAGE: {h}x{w} does not fit in {params['height']}x{params['width']}")

    def compute(self, inputs, params):
        imgs = inputs["IMAGE"]
        H, W = params["height"], params["width"]
        value = params["value"][0] if len(params["value"]) == 1 else params["value"]
        padded: list = [None] * len(imgs)
        rois: list = [None] * len(imgs)
        # One launch per distinct input size (the padding amounts differ between sizes).
        for (h, w, _), idx in _by_shape(imgs).items():
            x, y = (W - w) // 2, (H - h) // 2
            out = ops.pad(batch_or_list([imgs[k] for k in idx]), y, H - h - y, x, W - w - x,
                          "constant", value)
            for k, o in zip(idx, out):
                padded[k] = o
                rois[k] = np.asarray([x, y, w, h], dtype=np.int32)  # host, like SRC_SIZE
        return {"PADDED": padded, "ROI": rois}


class CenterCropModel(OpModel):
    """IMAGE -> CROPPED (height, width, 3), the centre of the image."""
    INPUTS = ("IMAGE",)
    OUTPUTS = ("CROPPED",)
    PARAMETERS = {
        "height": Param(_positive, "224", "crop height"),
        "width": Param(_positive, "224", "crop width"),
    }

    def sample_items(self):
        return [{"IMAGE": np.zeros((self.params["height"], self.params["width"], 3), np.uint8)}]

    def validate(self, item, params):
        check_image(item["IMAGE"])
        h, w = item["IMAGE"].shape[:2]
        if h < params["height"] or w < params["width"]:
            raise RequestError(f"IMAGE: {h}x{w} is smaller than the crop "
                               f"{params['height']}x{params['width']}")

    def compute(self, inputs, params):
        return {"CROPPED": ops.center_crop(list(inputs["IMAGE"]), (params["height"], params["width"]))}


class ImageToTensorModel(OpModel):
    """IMAGE (H, W, 3) uint8 -> TENSOR (3, H, W) float32 = (img * scale - mean) / std."""
    INPUTS = ("IMAGE",)
    OUTPUTS = ("TENSOR",)
    PARAMETERS = {
        "mean": Param(parse_floats, "0", "subtracted after scaling (one or per channel)"),
        "std": Param(parse_floats, "1", "divides after the mean (one or per channel)"),
        "scale": Param(parse_float, "1/255", "multiplies the pixel first"),
        "swap_rb": Param(parse_bool, "false", "swap channels 0 and 2 first (RGB <-> BGR)"),
    }

    def validate(self, item, params):
        check_image(item["IMAGE"])

    def compute(self, inputs, params):
        imgs = inputs["IMAGE"]
        out: list = [None] * len(imgs)
        for _, idx in _by_shape(imgs).items():
            t = ops.image_to_tensor(batch_or_list([imgs[k] for k in idx]),
                                    mean=params["mean"], std=params["std"],
                                    scale=params["scale"], swap_rb=params["swap_rb"])
            for k, o in zip(idx, t):
                out[k] = o
        return {"TENSOR": out}


class UnetModel(OpModel):
    """INPUT (C, H, W) float32 -> OUTPUT (K, H, W): the segmentation DNN (onnxruntime)."""
    INPUTS = ("INPUT",)
    OUTPUTS = ("OUTPUT",)
    PARAMETERS = {
        "model_file": Param(str, "model.onnx", "ONNX file in the version folder"),
        "device": Param(choice("auto", "cpu", "cuda"), "auto", "onnxruntime provider choice"),
    }

    def setup(self):
        from segmentation.runner import SegmentationRunner

        base = self.model_dir if self.model_dir is not None else Path(__file__).resolve().parents[1] / "model_repository" / "unet"
        # onnxruntime follows the instance: CUDA on its device for a GPU instance (unless
        # device=cpu), the CPU provider otherwise; device=cuda insists on the GPU.
        device = self.params["device"]
        if device == "cuda" and not self.placement.gpu:
            raise RuntimeError(f"device=cuda, but this instance works on the CPU "
                               f"({self.placement.why})")
        self.runner = SegmentationRunner(base / "1" / self.params["model_file"],
                                         device if self.placement.gpu else "cpu",
                                         device_id=self.placement.device_id)
        if self.placement.gpu and not self.runner.on_gpu:
            # Running the DNN on the CPU from a GPU instance would hide a download and an
            # upload inside compute; a CPU instance makes them visible (counted) instead.
            reason = ("device=cpu" if device == "cpu"
                      else f"onnxruntime's CUDA provider is unavailable: {self.runner.fallback_reason}")
            self.placement = Placement(False, self.placement.device_id,
                                       f"the DNN runs on the CPU ({reason})")

    def sample_items(self):
        shape = [d if isinstance(d, int) else 256 for d in self.runner.input_shape[1:]]
        return [{"INPUT": np.zeros(shape, np.float32)}]

    def validate(self, item, params):
        if item["INPUT"].ndim != 3:
            raise RequestError(f"INPUT: expected (C, H, W), got {tuple(item['INPUT'].shape)}")

    def compute(self, inputs, params):
        x = inputs["INPUT"]
        out: list = [None] * len(x)
        for _, idx in _by_shape(x).items():
            y = self.runner.run(batch_or_list([x[k] for k in idx]) if len(idx) > 1 else x[idx[0]][None])
            for k, o in zip(idx, y):
                out[k] = o
        return {"OUTPUT": out}


class TensorToMaskModel(OpModel):
    """PROB (K, h, w) + ROI (x, y, w, h) + SRC_SIZE (H, W) -> MASK (H, W) uint8, denoised."""
    INPUTS = ("PROB", "ROI", "SRC_SIZE")
    OUTPUTS = ("MASK",)
    HOST_TENSORS = frozenset({"ROI", "SRC_SIZE"})
    PARAMETERS = {
        "activation": Param(choice("none", "sigmoid", "softmax", "argmax"), "none",
                            "applied to the DNN output first"),
        "channel": Param(_int, "0", "the person channel"),
        "threshold": Param(parse_optional_float, "0.5",
                           "hard mask at this probability; 'none' keeps a soft mask", True),
        "morph_op": Param(choice("open", "close", "erode", "dilate"), "open", "denoise operation"),
        "morph_ksize": Param(_int, "5", "denoise kernel size (odd; 0 or 1 = off)", True),
    }

    def sample_items(self):
        k = max(2, self.params["channel"] + 1)
        return [{"PROB": np.zeros((k, 8, 8), np.float32), "ROI": np.array([0, 0, 8, 8], np.int32),
                 "SRC_SIZE": np.array([16, 16], np.int32)}]

    def validate(self, item, params):
        if item["PROB"].ndim != 3:
            raise RequestError(f"PROB: expected (K, h, w), got {tuple(item['PROB'].shape)}")
        k = params["morph_ksize"]
        if k > 1 and k % 2 == 0:
            raise RequestError(f"morph_ksize: expected an odd size, got {k}")
        t = params["threshold"]
        if t is not None and not 0 < t < 1:
            raise RequestError(f"threshold: expected a probability in (0, 1), got {t}")

    def compute(self, inputs, params):
        probs = inputs["PROB"]
        rois = [tuple(_host_ints(r)) for r in inputs["ROI"]]
        sizes = [tuple(_host_ints(s)) for s in inputs["SRC_SIZE"]]
        masks = ops.tensor_to_mask(batch_or_list(probs), roi=rois, size=sizes,
                                   activation=params["activation"], channel=params["channel"],
                                   threshold=params["threshold"])
        if params["morph_ksize"] > 1:
            masks = ops.morphology(masks, params["morph_op"], params["morph_ksize"])
        return {"MASK": masks}


class BlurModel(OpModel):
    """IMAGE (H, W, 3) + MASK (H, W) -> BLURRED: Gaussian-blurred background under the mask."""
    INPUTS = ("IMAGE", "MASK")
    OUTPUTS = ("BLURRED",)
    PARAMETERS = {
        "sigma": Param(parse_float, "12", "Gaussian sigma of the background blur (pixels)", True),
        "downscale": Param(_positive, "1", "blur at 1/downscale resolution (faster)", True),
    }

    def validate(self, item, params):
        check_image(item["IMAGE"])
        if tuple(item["MASK"].shape) != tuple(item["IMAGE"].shape[:2]):
            raise RequestError(f"MASK: expected shape {tuple(item['IMAGE'].shape[:2])}, got "
                               f"{tuple(item['MASK'].shape)}")
        if params["sigma"] <= 0:
            raise RequestError(f"sigma: expected a number > 0, got {params['sigma']}")

    def compute(self, inputs, params):
        imgs, masks = inputs["IMAGE"], inputs["MASK"]
        out = ops.blur_background(batch_or_list(imgs), batch_or_list(masks), params["sigma"],
                                  downscale=params["downscale"])
        return {"BLURRED": out}


class MorphologyModel(OpModel):
    """MASK (H, W) uint8 -> RESULT: erode / dilate / open / close with a square element."""
    INPUTS = ("MASK",)
    OUTPUTS = ("RESULT",)
    PARAMETERS = {
        "op": Param(choice("open", "close", "erode", "dilate"), "close", "the operation"),
        "ksize": Param(_positive, "5", "odd element size", True),
    }

    def validate(self, item, params):
        if item["MASK"].ndim != 2 or 0 in item["MASK"].shape:
            raise RequestError(f"MASK: expected a non-empty (H, W) mask, got {tuple(item['MASK'].shape)}")
        if params["ksize"] % 2 == 0:
            raise RequestError(f"ksize: expected an odd size, got {params['ksize']}")

    def compute(self, inputs, params):
        return {"RESULT": ops.morphology(batch_or_list(inputs["MASK"]), params["op"], params["ksize"])}
