"""Triton model: uint8 HWC -> float32 CHW, (pixel * scale - mean) / std. See serving.models.ImageToTensorModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import ImageToTensorModel as TritonPythonModel  # noqa: E402,F401
