"""Which class serves each model of model_repository/, by the name Triton knows it by: the
repository's own models (serving.catalog.MODELS) and the models generated after them.

Each ``1/model.py`` imports its class as TritonPythonModel (``python -m serving.pipeline
generate`` writes them); this is what the tools read instead (config generation, parameter
checks, the limits table), and a test keeps the two in agreement. Generated models resolve
through their names:

- ``<pipeline>__<model>``, a pipeline step's copy with the step's parameters
  (serving/pipeline/ensemble.py names them so), is served by ``<model>``'s class: its
  model.py is a copy of ``<model>``'s;
- ``<pipeline>__tee_<tensor>``, the step that hands on a pipeline output a later step
  also reads (serving/tee.py, serving/pipeline/ensemble.py), is a TeeModel;
- ``<pipeline>_fused`` (what ``python -m serving.pipeline fuse`` names it unless told
  otherwise) is a FusedModel.
"""
from __future__ import annotations

from .catalog import MODELS
from .fused import FusedModel
from .tee import TeeModel

COPY_SEPARATOR = "__"  # <pipeline>__<model>
FUSED_SUFFIX = "_fused"  # <pipeline>_fused
TEE = COPY_SEPARATOR + "tee_"  # <pipeline>__tee_<tensor>


def tee_name(pipeline: str, tensor: str) -> str:
    """The name of the tee step of the pipeline output ``tensor``.

    Args:
        pipeline: the pipeline (ensemble) name.
        tensor: the pipeline output the tee hands on.

    Returns:
        ``<pipeline>__tee_<tensor>``.
    """
    return f"{pipeline}{TEE}{tensor}"


def base_model(name: str) -> str:
    """The model a name stands for: a step copy's own model, else the name itself.

    Args:
        name: a model name of the repository, e.g. ``background_blur__blur``.

    Returns:
        The part after the last ``__`` for a step copy (``blur``), else ``name`` unchanged.
    """
    if name not in MODELS and COPY_SEPARATOR in name:
        return name.rsplit(COPY_SEPARATOR, 1)[1]
    return name


def model_class(name: str) -> type | None:
    """The class serving a model of the repository by its name.

    Args:
        name: the model's name as Triton knows it (own model, step copy, tee or fused).

    Returns:
        FusedModel for ``*_fused``, TeeModel for a tee step, else the class of the model the
        name stands for (``base_model``); None for a model that is not ours (nor a copy of one,
        nor a fused pipeline).
    """
    if name.endswith(FUSED_SUFFIX) and name not in MODELS:
        return FusedModel
    if TEE in name and name not in MODELS:
        return TeeModel
    return MODELS.get(base_model(name))
