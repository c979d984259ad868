"""Triton model: the classic OpenCV-on-CPU pipeline, for benchmarks. See serving.baseline.BaselineCpuPipeline."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from serving.baseline import BaselineCpuPipeline as TritonPythonModel  # noqa: E402,F401
