"""Which config parameters a model of this repository understands: the PARAMETERS of the
class serving.registry names for it."""
from __future__ import annotations

from typing import Any

from .. import registry
from ..params import BACKEND_PARAMETERS
from .repository import ModelEntry



def model_class(entry: ModelEntry) -> type | None:
    """The class behind a model (serving.registry; a fused model under another name than
    ``<pipeline>_fused`` by the spec its config names), or None when it is not one of ours."""
    cls = registry.model_class(entry.name)
    if cls is None and "pipeline_spec" in entry.config.parameters:
        from ..fused import FusedModel
        cls = FusedModel
    return cls


def model_instance(entry: ModelEntry, placement: Any = None) -> Any:
    """The model as an OpModel instance outside Triton (its config, its folder), or None when
    it is not an OpModel of ours. placement: where it works (default: the CPU)."""
    from google.protobuf import json_format

    from ..base import OUTSIDE_TRITON, OpModel

    cls = model_class(entry)
    if cls is None or not issubclass(cls, OpModel):
        return None
    config = json_format.MessageToDict(entry.config, preserving_proto_field_name=True)
    return cls.from_config(config, entry.path.parent, placement or OUTSIDE_TRITON)


def known_parameters(entry: ModelEntry) -> set[str] | None:
    """Every parameter name a model's config may set, or None when it is not ours."""
    cls = model_class(entry)
    if cls is None:
        return None
    return set(cls.PARAMETERS) | BACKEND_PARAMETERS
