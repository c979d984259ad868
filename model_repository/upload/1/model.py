"""Triton model: The pipeline's entry: a GPU instance uploads the client's frame once, and every later step reads it on the device; a CPU instance passes it through. See serving.models.geometry.UploadModel."""
from serving.models.geometry import UploadModel as TritonPythonModel  # noqa: F401
