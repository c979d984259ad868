"""Baseline: the classic pipeline, OpenCV on the CPU around the same DNN, one image at a
time. Only for benchmarks; it is what background_blur is measured against."""
import json
import sys
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from segmentation.runner import SegmentationRunner  # noqa: E402
from serving.base import _error, request_tensors, to_triton  # noqa: E402
from serving.models import BlurModel, ResizeModel, TensorToMaskModel  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        import cv2

        from serving.malloc import apply_stub_settings
        apply_stub_settings()

        self.cv2 = cv2
        cfg = self.config = json.loads(args["model_config"])
        p = {k: v["string_value"] for k, v in cfg.get("parameters", {}).items()}
        # The ranges of the same parameters of the op models (docs/serving.md, Request limits).
        self.sigma = BlurModel.PARAMETERS["sigma"].value(p["sigma"])
        self.threshold = TensorToMaskModel.PARAMETERS["threshold"].value(p["threshold"])
        if self.threshold is None:  # the op model's "none" (a soft mask); the baseline is binary
            raise ValueError("baseline_cpu_pipeline: config parameter threshold: expected a "
                             "number in (0, 1), got 'none'")
        self.ksize = TensorToMaskModel.PARAMETERS["morph_ksize"].value(p["morph_ksize"])
        self.size = ResizeModel.PARAMETERS["height"].value(p["input_size"])
        onnx = Path(args["model_repository"]).parent / "unet" / "1" / "model.onnx"
        self.runner = SegmentationRunner(onnx, device="auto")

    def blur_one(self, img):
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
        responses = []
        for request in requests:
            try:
                batch = request_tensors(pb_utils, request, self.config, ["IMAGE"])["IMAGE"]
                outs = [self.blur_one(np.ascontiguousarray(img)) for img in batch]
                responses.append(pb_utils.InferenceResponse([
                    to_triton(pb_utils, "BLURRED", np.stack([o for o, _ in outs])),
                    to_triton(pb_utils, "MASK", np.stack([m for _, m in outs]))]))
            except Exception as e:  # noqa: BLE001 - report to this request only
                responses.append(pb_utils.InferenceResponse(
                    error=_error(pb_utils, "baseline_cpu_pipeline", e)))
        return responses
