"""Triton model: The person-segmentation DNN (ONNX, onnxruntime; docs/segmentation-model.md). See serving.models.UnetModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import UnetModel as TritonPythonModel  # noqa: E402,F401
