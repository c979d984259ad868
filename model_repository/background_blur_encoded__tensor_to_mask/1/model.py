"""Triton model: DNN output -> uint8 mask at the source size, letterbox cropped, denoised. See serving.models.tensor.TensorToMaskModel."""
from serving.models.tensor import TensorToMaskModel as TritonPythonModel  # noqa: F401
