"""Triton model: The pipeline entry: the frame uploaded once where the instance works. See serving.models.UploadModel."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.models import UploadModel as TritonPythonModel  # noqa: E402,F401
