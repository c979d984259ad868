"""Baseline: the classic pipeline, OpenCV on the CPU around the same DNN, one image at a
time. Only for benchmarks; it is what background_blur is measured against
(model_repository/baseline_cpu_pipeline)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segmentation.runner import SegmentationRunner

from .dlpack import to_triton
from .contract import Contract, image, mask
from .malloc import apply_stub_settings
from .models import BlurModel, ResizeModel, TensorToMaskModel
from .params import parse_all
from .requests import ShapeRules, request_tensors, triton_error


class BaselineCpuPipeline:
    """IMAGE -> BLURRED, MASK with OpenCV on the CPU, one image at a time (not an OpModel:
    it is the design the operator models are measured against)."""
    # One CPU instance whatever the host: the baseline is the CPU design.
    CONTRACT = Contract(
        (image(),), (image("BLURRED"), mask()),
        "The classic design, for comparison: one Python model doing OpenCV pre- and\n"
        "post-processing on the CPU around the same DNN (bench/pipeline_bench.py).",
        max_batch_size=8, queue_delay_us=500, instances=(("KIND_CPU", 1),), fixed_parameters={})
    # The same parameters as the operator models', with their ranges and defaults.
    PARAMETERS = {"sigma": BlurModel.PARAMETERS["sigma"],
                  "threshold": TensorToMaskModel.PARAMETERS["threshold"],
                  "morph_ksize": TensorToMaskModel.PARAMETERS["morph_ksize"],
                  "input_size": ResizeModel.PARAMETERS["height"]}

    def initialize(self, args):
        """Read the config's parameters and open the DNN (the GPU if usable, else the CPU).

        Args:
            args: what Triton hands a Python model (``model_config`` JSON;
                ``model_repository``: this model's folder; the DNN is ../unet/1/model.onnx).
        Raises:
            ValueError: a config parameter unknown or out of range, or threshold "none"
                (the baseline's mask is binary).
            ModelFileError: unet/1/model.onnx is missing or cannot be loaded.
        """
        import cv2

        apply_stub_settings()

        self.cv2 = cv2
        cfg = self.config = json.loads(args["model_config"])
        self.shape_rules = ShapeRules(cfg)
        raw = {k: v["string_value"] for k, v in cfg.get("parameters", {}).items()}
        # The ranges of the same parameters of the op models (docs/serving.md, Request limits).
        p = parse_all(self.PARAMETERS, raw, "baseline_cpu_pipeline config")
        self.sigma, self.threshold = p["sigma"], p["threshold"]
        if self.threshold is None:  # the op model's "none" (a soft mask); the baseline is binary
            raise ValueError("baseline_cpu_pipeline: config parameter threshold: expected a "
                             "number in (0, 1), got 'none'")
        self.ksize, self.size = p["morph_ksize"], p["input_size"]
        onnx = Path(args["model_repository"]).parent / "unet" / "1" / "model.onnx"
        self.runner = SegmentationRunner(onnx, device="auto")

    def blur_one(self, img):
        """One image through the classic pipeline: letterboxed to input_size, the DNN, the
        mask thresholded and opened, the background blurred behind it.

        Args:
            img: (H, W, 3) uint8 RGB, a contiguous NumPy array.
        Returns:
            (blurred, mask): (H, W, 3) uint8 RGB, and (H, W) uint8 of 0 or 255.
        """
        cv2, s = self.cv2, self.size
        h, w = img.shape[:2]
        scale = min(s / h, s / w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        top, left = (s - nh) // 2, (s - nw) // 2
        small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
        boxed = cv2.copyMakeBorder(small, top, s - nh - top, left, s - nw - left,
                                   cv2.BORDER_CONSTANT, value=0)
        blob = cv2.dnn.blobFromImage(boxed, 1 / 255.0)  # RGB kept, NCHW float32
        prob = self.runner.run(blob)[0, 0, top:top + nh, left:left + nw]
        prob = cv2.resize(np.ascontiguousarray(prob), (w, h), interpolation=cv2.INTER_LINEAR)
        mask = np.where(prob >= self.threshold, 255, 0).astype(np.uint8)
        if self.ksize > 1:
            kernel = np.ones((self.ksize, self.ksize), np.uint8)
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        blurred = cv2.GaussianBlur(img, (0, 0), self.sigma)
        a = mask[..., None].astype(np.float32) / 255
        out = (img * a + blurred * (1 - a) + 0.5).astype(np.uint8)
        return out, mask

    def execute(self, requests):
        """Each request's images through blur_one, one at a time.

        Args:
            requests: the execute's ``pb_utils.InferenceRequest`` objects, IMAGE
                (N, H, W, 3) uint8 each.
        Returns:
            One InferenceResponse per request, in order: BLURRED (N, H, W, 3) uint8 and MASK
            (N, H, W) uint8, or the request's own error (triton_error).
        """
        import triton_python_backend_utils as pb_utils

        responses = []
        for request in requests:
            try:
                batch = request_tensors(request, self.shape_rules, ["IMAGE"])["IMAGE"]
                outs = [self.blur_one(np.ascontiguousarray(img)) for img in batch]
                responses.append(pb_utils.InferenceResponse([
                    to_triton(pb_utils, "BLURRED", np.stack([o for o, _ in outs])),
                    to_triton(pb_utils, "MASK", np.stack([m for _, m in outs]))]))
            except Exception as e:  # noqa: BLE001 - report to this request only
                responses.append(pb_utils.InferenceResponse(
                    error=triton_error(pb_utils, "baseline_cpu_pipeline", e)))
        return responses
