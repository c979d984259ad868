"""Triton model: DNN output -> uint8 mask at the source size, letterbox cropped, denoised. See serving.models.TensorToMaskModel."""
from serving.models import TensorToMaskModel as TritonPythonModel  # noqa: F401
