"""Triton model: Encode a mask as a grayscale PNG file (a UINT8 vector, see decode's config). See serving.models.codec.EncodeMaskModel."""
from serving.models.codec import EncodeMaskModel as TritonPythonModel  # noqa: F401
