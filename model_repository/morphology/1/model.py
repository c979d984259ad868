"""Triton model: Mask denoise: morphological open / close / erode / dilate. See serving.models.MorphologyModel."""
from serving.models import MorphologyModel as TritonPythonModel  # noqa: F401
