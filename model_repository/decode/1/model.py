"""Triton model: JPEG/PNG/WebP files decoded to RGB images (on the GPU with nvImageCodec). See serving.models.DecodeModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import DecodeModel as TritonPythonModel  # noqa: E402,F401
