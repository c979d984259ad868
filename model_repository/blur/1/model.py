"""Triton model: Blur the background: Gaussian blur composited under the mask. See serving.models.BlurModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import BlurModel as TritonPythonModel  # noqa: E402,F401
