"""Triton model: Mask denoise: morphological open / close / erode / dilate. See serving.models.filters.MorphologyModel."""
from serving.models.filters import MorphologyModel as TritonPythonModel  # noqa: F401
