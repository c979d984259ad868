"""Triton model: Pad to the DNN's input size, content centred; ROI says where the content is. See serving.models.geometry.PadModel."""
from serving.models.geometry import PadModel as TritonPythonModel  # noqa: F401
