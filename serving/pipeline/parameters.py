"""Which config parameters a model of this repository understands: the PARAMETERS of the
serving class its model.py imports as TritonPythonModel."""
from __future__ import annotations

import importlib
import re
from typing import Any

from .repository import ModelEntry

_IMPORT = re.compile(r"^from\s+(serving\.[\w.]+)\s+import\s+(\w+)\s+as\s+TritonPythonModel", re.M)
# Parameters Triton's Python backend itself reads.
BACKEND_PARAMETERS = {"FORCE_CPU_ONLY_INPUT_TENSORS", "EXECUTION_ENV_PATH"}


def model_class(entry: ModelEntry):
    """The OpModel subclass behind a model, or None when its model.py is not one of ours."""
    model_py = entry.path.parent / "1" / "model.py"
    if not model_py.exists():
        return None
    m = _IMPORT.search(model_py.read_text())
    if not m:
        return None
    return getattr(importlib.import_module(m.group(1)), m.group(2), None)


def model_instance(entry: ModelEntry, placement: Any = None) -> Any:
    """The model as an OpModel instance outside Triton (its config, its folder), or None when
    its model.py is not one of ours. placement: where it works (default: the CPU)."""
    from google.protobuf import json_format

    from ..base import OUTSIDE_TRITON

    cls = model_class(entry)
    if cls is None:
        return None
    config = json_format.MessageToDict(entry.config, preserving_proto_field_name=True)
    return cls.from_config(config, entry.path.parent, placement or OUTSIDE_TRITON)


def known_parameters(entry: ModelEntry) -> set[str] | None:
    cls = model_class(entry)
    if cls is None or not hasattr(cls, "PARAMETERS"):
        return None
    return set(cls.PARAMETERS) | BACKEND_PARAMETERS
