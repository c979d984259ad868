"""Triton model: the background_blur pipeline fused into one model. See serving.fused.FusedModel."""
from serving.fused import FusedModel as TritonPythonModel  # noqa: F401
