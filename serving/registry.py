"""Which class serves each model of model_repository/: the one table of the repository's own
models, by the name Triton knows them by.

Each of those models' ``1/model.py`` imports its class as TritonPythonModel; this table is
what the tools read instead (config generation, parameter checks, the limits table), and a
test keeps the two in agreement. Generated models resolve through their names:

- ``<pipeline>__<model>``, a pipeline step's copy with the step's parameters
  (serving/pipeline/spec.py names them so), is served by ``<model>``'s class: its
  model.py is a copy of ``<model>``'s;
- ``<pipeline>__tee_<tensor>``, the step that hands on a pipeline output a later step
  also reads (serving/tee.py, serving/pipeline/spec.py), is a TeeModel;
- ``<pipeline>_fused`` (what ``python -m serving.pipeline fuse`` names it unless told
  otherwise) is a FusedModel.
"""
from __future__ import annotations

from .baseline import BaselineCpuPipeline
from .models import (BlurModel, CenterCropModel, DecodeModel, EncodeMaskModel, EncodeModel,
                     ImageToTensorModel, MorphologyModel, PadModel, ResizeModel,
                     TensorToMaskModel, UnetModel, UploadModel)

# The repository's own models, each with its config generated from its class's CONTRACT.
MODELS: dict[str, type] = {
    "upload": UploadModel, "resize": ResizeModel, "pad": PadModel, "center_crop": CenterCropModel,
    "image_to_tensor": ImageToTensorModel, "unet": UnetModel, "tensor_to_mask": TensorToMaskModel,
    "blur": BlurModel, "morphology": MorphologyModel, "decode": DecodeModel,
    "encode": EncodeModel, "encode_mask": EncodeMaskModel,
    "baseline_cpu_pipeline": BaselineCpuPipeline,
}
COPY_SEPARATOR = "__"  # <pipeline>__<model>
FUSED_SUFFIX = "_fused"  # <pipeline>_fused
TEE = COPY_SEPARATOR + "tee_"  # <pipeline>__tee_<tensor>


def tee_name(pipeline: str, tensor: str) -> str:
    """The name of the tee step of the pipeline output ``tensor``."""
    return f"{pipeline}{TEE}{tensor}"


def base_model(name: str) -> str:
    """The model a name stands for: a step copy's own model, else the name itself."""
    if name not in MODELS and COPY_SEPARATOR in name:
        return name.rsplit(COPY_SEPARATOR, 1)[1]
    return name


def model_class(name: str) -> type | None:
    """The class serving a model of the repository by its name, or None for a model that is
    not ours (nor a copy of one, nor a fused pipeline)."""
    if name.endswith(FUSED_SUFFIX) and name not in MODELS:
        from .fused import FusedModel  # here: serving.fused imports the pipeline tools, which import this
        return FusedModel
    if TEE in name and name not in MODELS:
        from .tee import TeeModel
        return TeeModel
    return MODELS.get(base_model(name))
