"""Triton model: The pipeline's entry: a GPU instance uploads the client's frame once, and every later step reads it on the device; a CPU instance passes it through. See serving.models.UploadModel."""
from serving.models import UploadModel as TritonPythonModel  # noqa: F401
