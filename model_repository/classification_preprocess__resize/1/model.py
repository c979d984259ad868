"""Triton model: Resize to the DNN's input box: aspect kept (mode fit) by default. See serving.models.ResizeModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import ResizeModel as TritonPythonModel  # noqa: E402,F401
