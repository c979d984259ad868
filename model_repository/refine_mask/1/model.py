"""Triton model: Refine a coarse soft mask into an alpha along the frame's edges. See serving.models.matte.RefineMaskModel."""
from serving.models.matte import RefineMaskModel as TritonPythonModel  # noqa: F401
