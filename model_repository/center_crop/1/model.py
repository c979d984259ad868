"""Triton model: Crop the centre of the image. See serving.models.CenterCropModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import CenterCropModel as TritonPythonModel  # noqa: E402,F401
