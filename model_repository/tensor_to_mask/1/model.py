"""Triton model: DNN output -> uint8 mask at the source size, letterbox cropped, denoised. See serving.models.TensorToMaskModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import TensorToMaskModel as TritonPythonModel  # noqa: E402,F401
