"""Triton model: uint8 HWC -> float32 CHW, (pixel * scale - mean) / std. See serving.models.tensor.ImageToTensorModel."""
from serving.models.tensor import ImageToTensorModel as TritonPythonModel  # noqa: F401
