"""Triton model: Resize to the DNN's input box: aspect kept (mode fit) by default. See serving.models.ResizeModel."""
from serving.models import ResizeModel as TritonPythonModel  # noqa: F401
