"""Triton model: The person-segmentation DNN (ONNX, onnxruntime; docs/segmentation-model.md). See serving.models.UnetModel."""
from serving.models import UnetModel as TritonPythonModel  # noqa: F401
