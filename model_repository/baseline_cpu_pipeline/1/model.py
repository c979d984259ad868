"""Triton model: The classic design, for comparison: one Python model doing OpenCV pre- and post-processing on the CPU around the same DNN (bench/pipeline_bench.py). See serving.baseline.BaselineCpuPipeline."""
from serving.baseline import BaselineCpuPipeline as TritonPythonModel  # noqa: F401
