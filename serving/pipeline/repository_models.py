"""Which config parameters a model of this repository understands: the PARAMETERS of the
class serving.registry names for it."""
from __future__ import annotations

from typing import Any

from .. import registry
from ..base import OUTSIDE_TRITON, OpModel
from ..fused import FusedModel
from ..params import BACKEND_PARAMETERS
from .repository import ModelEntry, config_dict


def model_class(entry: ModelEntry) -> type | None:
    """The class behind a model of the repository.

    Args:
        entry: the model (its name, and its config for a fused model under another name than
            ``<pipeline>_fused``, which names its spec).

    Returns:
        The class (serving.registry), or None when it is not one of ours.
    """
    cls = registry.model_class(entry.name)
    if cls is None and "pipeline_spec" in entry.config.parameters:
        cls = FusedModel
    return cls


def model_instance(entry: ModelEntry, placement: Any = None) -> Any:
    """The model as an OpModel instance outside Triton (its config, its folder).

    Args:
        entry: the model.
        placement: where it works (default: the CPU).

    Returns:
        The instance, or None when it is not an OpModel of ours.

    Raises:
        ValueError: a parameter of its config is unknown or out of range.
    """
    cls = model_class(entry)
    if cls is None or not issubclass(cls, OpModel):
        return None
    return cls.from_config(config_dict(entry.config), entry.path.parent, placement or OUTSIDE_TRITON)


def known_parameters(entry: ModelEntry) -> set[str] | None:
    """Every parameter name a model's config may set.

    Args:
        entry: the model.

    Returns:
        Its class's PARAMETERS plus the Python backend's own, or None when it is not ours.
    """
    cls = model_class(entry)
    if cls is None:
        return None
    return set(cls.PARAMETERS) | BACKEND_PARAMETERS
