"""Triton model: RGB images encoded as JPEG, PNG or WebP files. See serving.models.EncodeModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import EncodeModel as TritonPythonModel  # noqa: E402,F401
