"""The operator models: each model.py of model_repository/ is one of these classes.

Every class is a thin adapter from Triton tensors (per-request items, see OpModel) to one
``ops`` call over all items; configuration is parameters in the model's config.pbtxt.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

import ops
from ops._batch import is_cupy
from ops.geometry import letterbox_geometry
from segmentation.runner import DEVICES

from .base import OpModel
from .items import batch_or_list
from .requests import MAX_ITEM_VALUES, MAX_SIDE, RequestError, check_image, check_mask
from .params import Bounds, Param, flag, integer, number, numbers, options, path
from .contract import Contract, Tensor, encoded, image, mask
from .placement import Placement

# Caps on what a parameter may cost (docs/serving.md, Request limits: the measurements).
# sigma: a blur's cost grows with its kernel (6 sigma + 1 taps) until the 8-bit kernel has
# all its 256 non-zero taps (sigma ~ 100); at 128 a 4096 x 4096 blur costs ~4x sigma 12.
MAX_SIGMA = 128.0
# downscale: 1/32 of the largest side is 128 pixels; cheaper with every step up.
MAX_DOWNSCALE = 32
# morphology: the cost grows linearly with the element; 21 costs ~3-4x the default 5. The
# mask comes from a 256-pixel network output: on the largest frame one output pixel spans
# 16 pixels, so 21 still removes specks of about one network pixel there.
MAX_KSIZE = 21

_SIDE = f"at most MAX_SIDE ({MAX_SIDE}), the largest image a model takes"


def _size(default: str, doc: str) -> Param:
    return integer(default, doc, 1, MAX_SIDE, _SIDE)


def _host_ints(x: Any) -> list[int]:
    """Small int tensors (sizes, rois; declared HOST_TENSORS) as ints. Validation sees them
    where they arrived, which a client's CUDA shared memory makes the device: 4 ints copied."""
    return [int(v) for v in (x.get() if is_cupy(x) else np.asarray(x)).reshape(-1)]


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
    CONTRACT = Contract(
        (image(ragged=True),), (image("UPLOADED"),),
        "The pipeline's entry: a GPU instance uploads the client's frame once, and every later\n"
        "step reads it on the device; a CPU instance passes it through.")
    ENTRY_INPUTS = frozenset({"IMAGE"})

    def validate(self, item, params):
        check_image(item["IMAGE"])

    def compute(self, inputs, params):
        return {"UPLOADED": list(inputs["IMAGE"])}


class ResizeModel(OpModel):
    """IMAGE (H, W, 3) uint8 -> RESIZED and SRC_SIZE (h, w) of the input."""
    CONTRACT = Contract(
        (image(ragged=True),), (image("RESIZED"), Tensor("SRC_SIZE", "INT32", (2,))),
        "Resize to the DNN's input box: aspect kept (mode fit) by default.")
    HOST_TENSORS = frozenset({"SRC_SIZE"})
    PARAMETERS = {
        "height": _size("256", "target height (or the shorter side)"),
        "width": _size("256", "target width"),
        "mode": options("fit", "fit: keep aspect inside height x width (letterbox); stretch: "
                        "exactly height x width; shorter_side: shorter side = height",
                        "fit", "stretch", "shorter_side"),
        "interpolation": options("linear", "cv2 interpolation", "linear", "area", "nearest"),
    }

    def validate(self, item, params):
        check_image(item["IMAGE"])
        h, w = (int(s) for s in item["IMAGE"].shape[:2])
        th, tw = resize_target(h, w, params)
        if th > MAX_SIDE or tw > MAX_SIDE:
            # shorter_side keeps the aspect: a 1 x 4096 image at height 256 would be 256 x 1M.
            raise RequestError(f"IMAGE: {h}x{w} would resize to {th}x{tw}, over the size limit "
                               f"of {MAX_SIDE}x{MAX_SIDE} (mode {params['mode']})")

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
    CONTRACT = Contract(
        (image(ragged=True),), (image("PADDED"), Tensor("ROI", "INT32", (4,))),
        "Pad to the DNN's input size, content centred; ROI says where the content is.")
    HOST_TENSORS = frozenset({"ROI"})
    PARAMETERS = {
        "height": _size("256", "output height"),
        "width": _size("256", "output width"),
        "value": numbers("0", "pad value (one or per channel)", Bounds(0, 255),
                         "a uint8 pixel value"),
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
            if (h, w) == (H, W) and not is_cupy(imgs[idx[0]]):
                # Nothing to pad: the images themselves, which the response passes on
                # without a copy (host only: a device input handed back as an output has
                # not run on a GPU yet, docs/gpu.md).
                out = [imgs[k] for k in idx]
            else:
                out = ops.pad(batch_or_list([imgs[k] for k in idx]), y, H - h - y, x, W - w - x,
                              "constant", value)
            for k, o in zip(idx, out):
                padded[k] = o
                rois[k] = np.asarray([x, y, w, h], dtype=np.int32)  # host, like SRC_SIZE
        return {"PADDED": padded, "ROI": rois}


class CenterCropModel(OpModel):
    """IMAGE -> CROPPED (height, width, 3), the centre of the image."""
    CONTRACT = Contract((image(ragged=True),), (image("CROPPED"),), "Crop the centre of the image.")
    PARAMETERS = {
        "height": _size("224", "crop height"),
        "width": _size("224", "crop width"),
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
    # Not ragged: the network takes one size, so a batch is one (N, C, H, W) tensor.
    CONTRACT = Contract(
        (Tensor("INPUT", "FP32", (3, -1, -1)),), (Tensor("OUTPUT", "FP32", (-1, -1, -1)),),
        "The person-segmentation DNN (ONNX, onnxruntime; docs/segmentation-model.md).")
    PARAMETERS = {
        "model_file": path("model.onnx", "ONNX file in the version folder",
                           "a file name (no folder) ending in .onnx",
                           lambda t: t.endswith(".onnx") and Path(t).name == t and t != ".onnx",
                           "the model loads a file of its own version folder, nothing else"),
        "device": options("auto", "onnxruntime provider choice", *DEVICES),
    }
    WARM_EVERY_BATCH_SIZE = True

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
        # The network's own input size (fixed dims of the ONNX file; a name is free).
        want = tuple(d if isinstance(d, int) else None for d in self.runner.input_shape[1:])
        got = tuple(int(s) for s in item["INPUT"].shape)
        if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
            shown = ", ".join("?" if w is None else str(w) for w in want)
            raise RequestError(f"INPUT: expected ({shown}), the network's input, got {got}")

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
        "morph_op": options("open", "denoise operation", "open", "close", "erode", "dilate"),
        "morph_ksize": integer("5", "denoise kernel size (odd; 0 or 1 = off)", 0, MAX_KSIZE,
                               f"a denoise element of the mask: on the largest frame one "
                               f"pixel of the 256-pixel network output spans 16 pixels; the "
                               f"cost grows with the size ({MAX_KSIZE}: ~3-4x the default)",
                               True, odd=True, off=True),
    }

    def sample_items(self):
        k = max(2, self.params["channel"] + 1)
        return [{"PROB": np.zeros((k, 8, 8), np.float32), "ROI": np.array([0, 0, 8, 8], np.int32),
                 "SRC_SIZE": np.array([16, 16], np.int32)}]

    def validate(self, item, params):
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

    def validate(self, item, params):
        check_image(item["IMAGE"])
        # No range here that depends on the image: in a pipeline this step runs beside
        # others, where a refusal can crash Triton 2.51 (docs/pipelines.md). A blur wider
        # than the image is nearly flat, and its cost is bounded by MAX_SIGMA whatever the
        # size.
        if tuple(item["MASK"].shape) != tuple(item["IMAGE"].shape[:2]):
            raise RequestError(f"MASK: expected shape {tuple(item['IMAGE'].shape[:2])}, got "
                               f"{tuple(item['MASK'].shape)}")

    def compute(self, inputs, params):
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

    def validate(self, item, params):
        check_mask(item["MASK"])

    def compute(self, inputs, params):
        return {"RESULT": ops.morphology(batch_or_list(inputs["MASK"]), params["op"], params["ksize"])}


# An encoded file is at most as large as the largest raw item a model takes (4 x MAX_SIDE^2
# bytes): a 4096 x 4096 PNG of noise, the worst case, is ~50 MB.
MAX_FILE_BYTES = MAX_ITEM_VALUES


class DecodeModel(OpModel):
    """ENCODED (L,) uint8, one JPEG/PNG/WebP file -> IMAGE (H, W, 3) uint8 RGB, upright.

    The entry of an encoded pipeline: on a GPU instance nvImageCodec decodes the batch
    straight into device memory (the compressed bytes cross PCIe, not the pixels)."""
    CONTRACT = Contract(
        (encoded(ragged=True),), (image(),),
        "Decode one JPEG, PNG or WebP file per batch item to an RGB image (EXIF orientation applied).\n"
        "A file is a UINT8 vector, not BYTES: Triton 2.51's Python stub breaks BYTES tensors under\n"
        "NumPy 2 (docs/serving.md, Encoded images).")
    HOST_TENSORS = frozenset({"ENCODED"})
    MAX_DIMS = {"ENCODED": MAX_FILE_BYTES}

    def sample_items(self):
        # A JPEG and a PNG: the warm-up runs both decoders.
        img = np.zeros((16, 16, 3), np.uint8)
        return [{"ENCODED": f} for f in ops.encode([img], "jpeg") + ops.encode([img], "png")]

    # No validate: ops.decode reads every file's header (ops.probe, with max_side: a few
    # bytes may declare gigapixels, a decompression bomb) before it allocates a pixel, so
    # probing here too would walk each file twice (three times in a fused model).
    def compute(self, inputs, params):
        # A file refused by its header, or one only the decoder finds corrupt, fails its own
        # request (an item error), not the batch it came in.
        images = ops.decode(list(inputs["ENCODED"]), on_device=self.placement.gpu,
                            max_side=MAX_SIDE, return_errors=True)
        return {"IMAGE": [RequestError(f"ENCODED: {x}") if isinstance(x, ops.CodecError) else x
                          for x in images]}


class EncodeModel(OpModel):
    """IMAGE (H, W, 3) uint8 RGB [+ SOURCE, the file it was decoded from] -> ENCODED (L,)
    uint8, a JPEG, PNG or WebP file (format auto: SOURCE's format, JPEG without one)."""
    CONTRACT = Contract(
        (image(ragged=True), encoded("SOURCE", ragged=True, optional=True)), (encoded(),),
        "Encode an RGB image as a JPEG, PNG or WebP file (a UINT8 vector, see decode's config).\n"
        "SOURCE, the file the image came from, picks the format when format is auto.")
    HOST_TENSORS = frozenset({"SOURCE", "ENCODED"})
    MAX_DIMS = {"SOURCE": MAX_FILE_BYTES}
    PARAMETERS = {
        "format": options("auto", "the file format: auto is the format of SOURCE (the input "
                          "file), or jpeg when there is none", "auto", *ops.FORMATS,
                          overridable=True),
        "quality": integer("90", "JPEG and WebP quality (PNG is lossless)", 1, 100,
                           "the encoders' quality scale", True),
    }

    def sample_items(self):
        return [{"IMAGE": np.zeros((16, 16, 3), np.uint8), "SOURCE": None}]

    def _format(self, item, params) -> str:
        if params["format"] != "auto":
            return params["format"]
        if item.get("SOURCE") is None:
            return "jpeg"
        fmt = ops.sniff(item["SOURCE"])
        if fmt is None:
            raise RequestError("SOURCE: not a JPEG, PNG or WebP file, so format auto has "
                               "nothing to follow (set the format parameter)")
        return fmt

    def validate(self, item, params):
        check_image(item["IMAGE"])
        self._format(item, params)

    def compute(self, inputs, params):
        imgs = inputs["IMAGE"]
        fmts = [self._format({"SOURCE": s}, params) for s in inputs["SOURCE"]]
        out: list = [None] * len(imgs)
        for fmt in set(fmts):
            idx = [k for k, f in enumerate(fmts) if f == fmt]
            for k, f in zip(idx, ops.encode([imgs[k] for k in idx], fmt, params["quality"])):
                out[k] = f
        return {"ENCODED": out}


class EncodeMaskModel(OpModel):
    """MASK (H, W) uint8 -> ENCODED (L,) uint8, a grayscale PNG (lossless: JPEG would smear
    a mask's edges)."""
    CONTRACT = Contract((mask(ragged=True),), (encoded(),),
                        "Encode a mask as a grayscale PNG file (a UINT8 vector, see decode's config).")
    HOST_TENSORS = frozenset({"ENCODED"})

    def validate(self, item, params):
        check_mask(item["MASK"])

    def compute(self, inputs, params):
        return {"ENCODED": ops.encode(list(inputs["MASK"]), "png")}
