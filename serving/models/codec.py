"""The codec models: decode (a JPEG, PNG or WebP file to an RGB image, the entry of an
encoded pipeline), encode (an image to a file) and encode_mask (a mask to a PNG). A file
is a uint8 vector (docs/serving.md, Encoded images).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

import ops

from ..base import OpModel
from ..contract import Contract, encoded, image, mask
from ..items import compute_in_groups
from ..params import integer, options
from ..requests import MAX_SIDE, RequestError, check_image, check_mask
from .caps import MAX_FILE_BYTES


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

    def sample_items(self) -> list[dict[str, Any]]:
        # A JPEG and a PNG: the warm-up runs both decoders.
        img = np.zeros((16, 16, 3), np.uint8)
        return [{"ENCODED": f} for f in ops.encode([img], "jpeg") + ops.encode([img], "png")]

    # No validate: ops.decode reads every file's header (ops.probe, with max_side: a few
    # bytes may declare gigapixels, a decompression bomb) before it allocates a pixel, so
    # probing here too would walk each file twice (three times in a fused model).
    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
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

    def sample_items(self) -> list[dict[str, Any]]:
        return [{"IMAGE": np.zeros((16, 16, 3), np.uint8), "SOURCE": None}]

    def _format_of(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """The format to encode ``item`` in: the parameter's, else its SOURCE's, else jpeg."""
        if params["format"] != "auto":
            return params["format"]
        if item.get("SOURCE") is None:
            return "jpeg"
        fmt = ops.sniff(item["SOURCE"])
        if fmt is None:
            raise RequestError("SOURCE: not a JPEG, PNG or WebP file, so format auto has "
                               "nothing to follow (set the format parameter)")
        return fmt

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_image(item["IMAGE"])
        self._format_of(item, params)

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        fmts = [self._format_of({"SOURCE": s}, params) for s in inputs["SOURCE"]]
        # One encoder call per format.
        return {"ENCODED": compute_in_groups(
            inputs["IMAGE"], lambda fmt, group: ops.encode(group, fmt, params["quality"]), fmts)}


class EncodeMaskModel(OpModel):
    """MASK (H, W) uint8 -> ENCODED (L,) uint8, a grayscale PNG (lossless: JPEG would smear
    a mask's edges)."""
    CONTRACT = Contract((mask(ragged=True),), (encoded(),),
                        "Encode a mask as a grayscale PNG file (a UINT8 vector, see decode's config).")
    HOST_TENSORS = frozenset({"ENCODED"})

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        check_mask(item["MASK"])

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        return {"ENCODED": ops.encode(list(inputs["MASK"]), "png")}
