"""Triton model: Blur the background: Gaussian blur composited under the mask. See serving.models.filters.BlurModel."""
from serving.models.filters import BlurModel as TritonPythonModel  # noqa: F401
