"""Triton model: Resize to the DNN's input box: aspect kept (mode fit) by default. See serving.models.geometry.ResizeModel."""
from serving.models.geometry import ResizeModel as TritonPythonModel  # noqa: F401
