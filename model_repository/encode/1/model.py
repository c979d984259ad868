"""Triton model: Encode an RGB image as a JPEG, PNG or WebP file (a UINT8 vector, see decode's config). See serving.models.codec.EncodeModel."""
from serving.models.codec import EncodeModel as TritonPythonModel  # noqa: F401
