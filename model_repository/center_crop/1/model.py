"""Triton model: Crop the centre of the image. See serving.models.geometry.CenterCropModel."""
from serving.models.geometry import CenterCropModel as TritonPythonModel  # noqa: F401
