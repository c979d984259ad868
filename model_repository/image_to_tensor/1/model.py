"""Triton model: uint8 HWC -> float32 CHW, (pixel * scale - mean) / std. See serving.models.ImageToTensorModel."""
from serving.models import ImageToTensorModel as TritonPythonModel  # noqa: F401
