"""What a pipeline spec generates: its ensemble's config.pbtxt, and the models beside it.

A step with parameters runs a generated copy of its model, named
``<pipeline>__<model>``, whose config is the model's with those parameters replaced
(Triton gives ensemble steps no parameters of their own).

A pipeline output that a later step also reads (background_blur's MASK, which blur reads)
goes through a generated tee step, ``<pipeline>__tee_<OUTPUT>`` (serving/tee.py): the
producing step writes ``<OUTPUT>__produced``, the tee gives it back as the output and as
``<OUTPUT>__internal``, which the later steps read. Triton prunes the step that makes an
output a request does not ask for, even when another step reads it, and the request then
deadlocks (serving/pipeline/validate.py says why).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from ..contract import Contract, Tensor
from ..paths import REPO_ROOT
from ..registry import tee_name
from ..tee import INPUT as TEE_INPUT, INTERNAL as TEE_INTERNAL, OUTPUT as TEE_OUTPUT, TeeModel
from .operators import contract_config, declared_config
from .repository import config_text, differing_files, load_config, model_py, write_files
from .spec import PipelineSpec, SpecError, StepSpec

GENERATED_HEADER = "# Generated from {spec} by `python -m serving.pipeline generate`; edit the spec, not this file.\n"


def ensemble_config(spec: PipelineSpec) -> mc.ModelConfig:
    """The ensemble's ModelConfig (Triton's schema).

    Args:
        spec: the pipeline spec.

    Returns:
        The spec's tensors and steps, an output that a step also reads renamed to its internal
        tensor, and a tee step per such output right after its producer.
    """
    cfg = mc.ModelConfig(name=spec.name, platform="ensemble", max_batch_size=spec.max_batch_size)
    for t, coll in [(t, cfg.input) for t in spec.inputs] + [(t, cfg.output) for t in spec.outputs]:
        coll.add(name=t.name, data_type=mc.DataType.Value("TYPE_" + t.dtype), dims=t.dims)
    tees = spec.tees()
    for s in spec.steps:
        step = cfg.ensemble_scheduling.step.add(model_name=spec.step_model_name(s), model_version=-1)
        step.input_map.update({k: tees[v][1] if v in tees else v for k, v in s.inputs.items()})
        step.output_map.update({k: tees[v][0] if v in tees else v for k, v in s.outputs.items()})
        for output in s.outputs.values():
            if output in tees:  # the tee right after its producer, in the chain
                tee = cfg.ensemble_scheduling.step.add(model_name=tee_name(spec.name, output),
                                                       model_version=-1)
                tee.input_map[TEE_INPUT] = tees[output][0]
                tee.output_map[TEE_OUTPUT] = output
                tee.output_map[TEE_INTERNAL] = tees[output][1]
    return cfg




def tee_config(spec: PipelineSpec, output: str) -> mc.ModelConfig:
    """Config of the tee step of a pipeline output.

    Args:
        spec: the pipeline spec.
        output: one of its outputs that a step also reads (a key of ``spec.tees()``).

    Returns:
        The config: the output's dtype and dims in and out, batched as the pipeline, placed as
        every step (the operator models' contract).
    """
    t = next(t for t in spec.outputs if t.name == output)
    contract = Contract((Tensor(TEE_INPUT, t.dtype, tuple(t.dims), ragged=True),),
                        tuple(Tensor(n, t.dtype, tuple(t.dims)) for n in (TEE_OUTPUT, TEE_INTERNAL)),
                        max_batch_size=spec.max_batch_size)
    return contract_config(contract, tee_name(spec.name, output), {})


def step_model_config(spec: PipelineSpec, step: StepSpec, repo: Path) -> mc.ModelConfig:
    """Config of the generated copy of a step's model, with the step's parameters.

    Args:
        spec: the pipeline spec.
        step: one of its steps.
        repo: the model repository.

    Returns:
        The declaration of one of the repository's own models (serving.registry), else the
        model's config.pbtxt as it is (a model the repository holds without a class of ours),
        renamed to the copy and with the step's parameters set.

    Raises:
        SpecError: the model is not ours and the repository has no config.pbtxt for it.
    """
    cfg = declared_config(step.model)
    if cfg is None:
        base = repo / step.model / "config.pbtxt"
        if not base.exists():
            raise SpecError(f"{spec.path}: step model {step.model!r} has no {base}")
        cfg = load_config(base)
    cfg.name = spec.step_model_name(step)
    for k, v in step.parameters.items():
        cfg.parameters[k].string_value = v
    return cfg


def generated_files(spec: PipelineSpec, repo: Path) -> dict[Path, str]:
    """Every file a spec generates.

    Args:
        spec: the pipeline spec.
        repo: the model repository (the step copies start from its models).

    Returns:
        Relative path -> text: the ensemble's config, each tee's config and model.py, each
        step copy's config and model.py.

    Raises:
        SpecError: a step model with neither a class of ours nor a config.pbtxt.
    """
    header = GENERATED_HEADER.format(spec=_rel(spec.path))
    files = {Path(spec.name) / "config.pbtxt": header + config_text(ensemble_config(spec))}
    for output in spec.tees():
        name = tee_name(spec.name, output)
        files[Path(name) / "config.pbtxt"] = header + config_text(tee_config(spec, output))
        files[Path(name) / "1" / "model.py"] = model_py(
            TeeModel, f"hands {spec.name}'s {output} to the client and to the steps that read it.")
    for s in spec.steps:
        if s.parameters:
            name = spec.step_model_name(s)
            files[Path(name) / "config.pbtxt"] = header + config_text(step_model_config(spec, s, repo))
            files[Path(name) / "1" / "model.py"] = (repo / s.model / "1" / "model.py").read_text()
    return files


def _rel(path: Path | None) -> str:
    if path is None:
        return "<spec>"
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def write_generated(spec: PipelineSpec, repo: Path) -> list[Path]:
    """Write a spec's files into the repository (plus the ensemble's empty version folder).

    Args:
        spec: the pipeline spec.
        repo: the model repository.

    Returns:
        The paths written.

    Raises:
        SpecError: a step model with neither a class of ours nor a config.pbtxt.
    """
    written = write_files(repo, generated_files(spec, repo))
    version = repo / spec.name / "1"
    version.mkdir(exist_ok=True)
    keep = version / ".gitkeep"
    if not any(version.iterdir()):
        keep.write_text("")
    return written


def stale_files(spec: PipelineSpec, repo: Path) -> list[Path]:
    """Generated files that are missing or differ from what the spec generates now.

    Args:
        spec: the pipeline spec.
        repo: the model repository.

    Returns:
        Their paths (empty when all are current).

    Raises:
        SpecError: a step model with neither a class of ours nor a config.pbtxt.
    """
    return differing_files(repo, generated_files(spec, repo))


def remove_generated_copies(spec: PipelineSpec, repo: Path, keep: set[str]) -> None:
    """Delete generated step copies and tees of this pipeline no longer used (after an edit).

    Args:
        spec: the pipeline spec.
        repo: the model repository.
        keep: the generated models still used (``spec.generated_models()``).
    """
    for d in repo.glob(f"{spec.name}__*"):
        if d.is_dir() and d.name not in keep:
            shutil.rmtree(d)
