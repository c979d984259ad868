"""Triton model: hands background_blur's MASK to the client and to the steps that read it. See serving.tee."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.tee import TeeModel as TritonPythonModel  # noqa: E402,F401
