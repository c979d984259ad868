"""Triton model: The person-segmentation DNN (ONNX, onnxruntime; docs/segmentation-model.md). See serving.models.segmentation.UnetModel."""
from serving.models.segmentation import UnetModel as TritonPythonModel  # noqa: F401
