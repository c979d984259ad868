"""Triton model: Blur the background: Gaussian blur composited under the mask. See serving.models.BlurModel."""
from serving.models import BlurModel as TritonPythonModel  # noqa: F401
