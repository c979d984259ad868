"""The repository's own models by the name Triton knows them by, and the class serving each:
the one table a fused model resolves its steps through at load. How generated models are
named after these (step copies, tees, fused pipelines) is serving.registry's."""
from __future__ import annotations

from .baseline import BaselineCpuPipeline
from .models import (BlurModel, CenterCropModel, DecodeModel, EncodeMaskModel, EncodeModel,
                     ImageToTensorModel, MorphologyModel, PadModel, RefineMaskModel,
                     ResizeModel, TensorToMaskModel, UnetModel, UploadModel)

# The repository's own models, each with its config generated from its class's CONTRACT.
MODELS: dict[str, type] = {
    "upload": UploadModel, "resize": ResizeModel, "pad": PadModel, "center_crop": CenterCropModel,
    "image_to_tensor": ImageToTensorModel, "unet": UnetModel, "tensor_to_mask": TensorToMaskModel,
    "blur": BlurModel, "morphology": MorphologyModel, "refine_mask": RefineMaskModel, "decode": DecodeModel,
    "encode": EncodeModel, "encode_mask": EncodeMaskModel,
    "baseline_cpu_pipeline": BaselineCpuPipeline,
}
