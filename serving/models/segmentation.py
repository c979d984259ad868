"""The segmentation DNN as a model: unet, the person-segmentation network run by
onnxruntime on the instance's device (docs/segmentation-model.md).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from segmentation.runner import DEVICES

from ..base import OpModel
from ..contract import Contract, Tensor
from ..items import compute_in_groups, stack
from ..params import options, path
from ..paths import MODEL_REPOSITORY
from ..placement import Placement
from ..requests import RequestError

# serving/models/segmentation.py -> the checkout's root, then its unet model folder.


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

    def setup(self) -> None:
        from segmentation.runner import SegmentationRunner

        # Outside a repository (tests, a fused model's step): this checkout's own unet.
        base = self.model_dir if self.model_dir is not None else MODEL_REPOSITORY / "unet"
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

    def sample_items(self) -> list[dict[str, Any]]:
        shape = [d if isinstance(d, int) else 256 for d in self.runner.input_shape[1:]]
        return [{"INPUT": np.zeros(shape, np.float32)}]

    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        # The network's own input size (fixed dims of the ONNX file; a name is free).
        want = tuple(d if isinstance(d, int) else None for d in self.runner.input_shape[1:])
        got = tuple(int(s) for s in item["INPUT"].shape)
        if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
            shown = ", ".join("?" if w is None else str(w) for w in want)
            raise RequestError(f"INPUT: expected ({shown}), the network's input, got {got}")

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        # One run per distinct input size: each size is one (n, C, H, W) batch.
        return {"OUTPUT": compute_in_groups(inputs["INPUT"],
                                            lambda _shape, group: self.runner.run(stack(group)))}

