"""Triton model: mask denoise. See serving.models.MorphologyModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import MorphologyModel as TritonPythonModel  # noqa: E402,F401
