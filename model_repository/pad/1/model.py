"""Triton model: Pad to the DNN's input size, content centred; ROI says where the content is. See serving.models.PadModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import PadModel as TritonPythonModel  # noqa: E402,F401
