"""Triton model: the background_blur_encoded pipeline fused into one model. See serving.fused."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.fused import FusedModel as TritonPythonModel  # noqa: E402,F401
