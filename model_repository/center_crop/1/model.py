"""Triton model: Crop the centre of the image. See serving.models.CenterCropModel."""
from serving.models import CenterCropModel as TritonPythonModel  # noqa: F401
