"""Triton model: hands background_blur's MASK to the client and to the steps that read it. See serving.tee.TeeModel."""
from serving.tee import TeeModel as TritonPythonModel  # noqa: F401
