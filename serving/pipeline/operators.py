"""The config.pbtxt of each of the repository's own models, generated from its class's
declaration (serving.contract.Contract in ``CONTRACT``, plus ``PARAMETERS``' defaults).

Generated rather than completed by the Python backend's ``auto_complete_config`` at load:
the files stay readable in the repository, the static validator and the ensembles read them
without a running stub, and Triton 2.51's auto-complete cannot add parameters
(docs/serving.md, The models).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from tritonclient.grpc import model_config_pb2 as mc

from .. import registry
from ..base import COMMON_PARAMETERS
from ..contract import Contract
from .repository import config_text, differing_files, model_py, write_files

HEADER = ("# Generated from {cls} (CONTRACT, PARAMETERS) by `python -m serving.pipeline "
          "generate`; edit the class, not this file.\n")


def contract_config(contract: Contract, name: str, parameters: Mapping[str, str]) -> mc.ModelConfig:
    """A Python-backend ModelConfig made from a contract.

    Args:
        contract: the tensors, batching, instance groups and fixed parameters.
        name: the model's name.
        parameters: more config parameters (name -> config string); they win over the
            contract's fixed ones.

    Returns:
        The config (Triton's protobuf schema).
    """
    cfg = mc.ModelConfig(name=name, backend="python", max_batch_size=contract.max_batch_size)
    for t in contract.inputs:
        cfg.input.add(name=t.name, data_type=mc.DataType.Value("TYPE_" + t.dtype), dims=t.dims,
                      allow_ragged_batch=t.ragged, optional=t.optional)
    for t in contract.outputs:
        cfg.output.add(name=t.name, data_type=mc.DataType.Value("TYPE_" + t.dtype), dims=t.dims)
    if contract.queue_delay_us is not None:
        cfg.dynamic_batching.SetInParent()  # present even with a delay of 0
        cfg.dynamic_batching.max_queue_delay_microseconds = contract.queue_delay_us
    for kind, count in contract.instances:
        cfg.instance_group.add(kind=mc.ModelInstanceGroup.Kind.Value(kind), count=count)
    for k, v in {**contract.fixed_parameters, **parameters}.items():
        cfg.parameters[k].string_value = v
    return cfg


def model_config(cls: type, name: str) -> mc.ModelConfig:
    """The config of a model served by ``cls``.

    Args:
        cls: a class with ``CONTRACT`` and ``PARAMETERS``.
        name: the model's name.

    Returns:
        Its contract, every parameter at its default (require_device and the other common
        ones stay out: their default is the model's own).
    """
    defaults = {k: p.default for k, p in cls.PARAMETERS.items() if k not in COMMON_PARAMETERS}
    return contract_config(cls.CONTRACT, name, defaults)


def model_text(cls: type, name: str) -> str:
    """The config.pbtxt text of a model served by ``cls``.

    Args:
        cls: a class with ``CONTRACT`` and ``PARAMETERS``.
        name: the model's name.

    Returns:
        The header, the contract's comment, Triton's canonical text of the config.
    """
    comment = "".join(f"# {line}\n" for line in cls.CONTRACT.comment.splitlines())
    return (HEADER.format(cls=f"{cls.__module__}.{cls.__qualname__}") + comment
            + config_text(model_config(cls, name)))


def declared_config(model: str) -> mc.ModelConfig | None:
    """The config the repository's own model ``model`` is generated with.

    Args:
        model: a model name.

    Returns:
        The config, or None for a model that is not in serving.catalog.
    """
    cls = registry.MODELS.get(model)
    return None if cls is None else model_config(cls, model)


def summary(cls: type) -> str:
    """The first sentence of a class's contract comment: what its model does, in one line.

    Args:
        cls: a class with ``CONTRACT``.

    Returns:
        The sentence, white space folded (the whole comment when it has no '. ').
    """
    text = " ".join(cls.CONTRACT.comment.split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def operator_files(repo: Path) -> dict[Path, str]:
    """The config and model.py of every registry model the repository holds.

    Args:
        repo: the model repository; only models with a folder holding 1/model.py count, so a
            repository of other models gets none of ours.

    Returns:
        Relative path -> text.
    """
    files = {}
    for name, cls in registry.MODELS.items():
        if (repo / name / "1" / "model.py").exists():
            files[Path(name) / "config.pbtxt"] = model_text(cls, name)
            files[Path(name) / "1" / "model.py"] = model_py(cls, summary(cls))
    return files


def write_operators(repo: Path) -> list[Path]:
    """Write the registry models' configs and model.py files into the repository.

    Args:
        repo: the model repository.

    Returns:
        The paths written.
    """
    return write_files(repo, operator_files(repo))


def stale_operators(repo: Path) -> list[Path]:
    """Registry models' files that are missing or differ from what their class generates.

    Args:
        repo: the model repository.

    Returns:
        Their paths (empty when all are current).
    """
    return differing_files(repo, operator_files(repo))
