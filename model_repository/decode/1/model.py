"""Triton model: Decode one JPEG, PNG or WebP file per batch item to an RGB image (EXIF orientation applied). See serving.models.codec.DecodeModel."""
from serving.models.codec import DecodeModel as TritonPythonModel  # noqa: F401
