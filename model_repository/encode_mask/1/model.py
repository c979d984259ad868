"""Triton model: masks encoded as grayscale PNG files. See serving.models.EncodeMaskModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import EncodeMaskModel as TritonPythonModel  # noqa: E402,F401
