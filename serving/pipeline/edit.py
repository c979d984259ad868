"""The spec-editing commands of ``python -m serving.pipeline`` (new, add-step, remove-step,
set-param): each saves the spec, regenerates its files and validates the repository."""
from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Sequence

from .repository_models import known_parameters
from .ensemble import remove_generated_copies, write_generated
from .spec import PipelineSpec, SpecError, StepSpec, TensorSpec, load_spec, save_spec
from .validate import report_problems, validate_repository


def resolve_spec(value: str, specs: Path) -> Path:
    """The spec file a SPEC argument names.

    Args:
        value: a path (ending in .yaml/.yml, or existing) or a pipeline name.
        specs: the folder of pipeline specs.

    Returns:
        ``value`` as a path, else ``specs/<value>.yaml`` (which may not exist).
    """
    p = Path(value)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return specs / f"{value}.yaml"


def _pairs(items: Sequence[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SpecError(f"{what}: expected KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def _tensor_arg(item: str, what: str) -> TensorSpec:
    try:
        name, dtype, dims = item.split(":")
        return TensorSpec(name, dtype.upper(), [int(d) for d in dims.split(",")])
    except ValueError:
        raise SpecError(f"{what}: expected NAME:DTYPE:DIM,DIM,..., got {item!r}") from None


def _step_index(spec: PipelineSpec, index: int | None, model: str | None) -> int:
    if index is not None:
        if not 0 <= index < len(spec.steps):
            raise SpecError(f"{spec.path}: no step {index} (it has {len(spec.steps)})")
        return index
    hits = [i for i, s in enumerate(spec.steps) if s.model == model]
    if len(hits) != 1:
        names = ", ".join(s.model for s in spec.steps)
        raise SpecError(f"{spec.path}: {'no' if not hits else 'more than one'} step runs model "
                        f"{model!r} (steps: {names}); use --index")
    return hits[0]


def _commit(spec: PipelineSpec, path: Path, repo: Path) -> int:
    """Save an edited spec, regenerate its files, validate the repository."""
    save_spec(spec, path)
    remove_generated_copies(spec, repo, spec.generated_models())
    for p in write_generated(spec, repo):
        print(f"wrote {p}")
    return report_problems(validate_repository(repo, known_parameters), repo)


def cmd_new(args: argparse.Namespace) -> int:
    """``new``: create a pipeline spec, empty or a copy of another (``--from``).

    Args:
        args: the parsed command line (``name``, ``from_spec``, ``input``, ``output``,
            ``max_batch_size``, ``description``, ``specs``, ``repository``).

    Returns:
        The exit status: 0 when written (and, with steps, the repository validates), else 1.

    Raises:
        SpecError: the spec exists already, or a --from spec or a --input/--output is malformed.
    """
    path = args.specs / f"{args.name}.yaml"
    if path.exists():
        raise SpecError(f"{path} already exists")
    if args.from_spec:
        spec = copy.deepcopy(load_spec(resolve_spec(args.from_spec, args.specs)))
        spec.name, spec.description = args.name, args.description or spec.description
    else:
        spec = PipelineSpec(args.name, args.max_batch_size, [], [], [], args.description or "")
    if args.input:
        spec.inputs = [_tensor_arg(t, "--input") for t in args.input]
    if args.output:
        spec.outputs = [_tensor_arg(t, "--output") for t in args.output]
    spec.path = path
    path.parent.mkdir(parents=True, exist_ok=True)
    if not spec.steps:
        save_spec(spec, path)
        print(f"wrote {path}; add steps with: python -m serving.pipeline add-step {args.name} ...")
        return 0
    return _commit(spec, path, args.repository)


def cmd_add_step(args: argparse.Namespace) -> int:
    """``add-step``: insert a step, optionally rerouting later readers of a tensor to its output.

    Args:
        args: the parsed command line (``spec``, ``model``, ``input``, ``output``, ``param``,
            ``at``, ``reroute``, ``specs``, ``repository``).

    Returns:
        The exit status of validating the repository after the edit (0 valid, 1 problems).

    Raises:
        SpecError: a malformed KEY=VALUE, or a --reroute the new step cannot serve (it must read
            the tensor and have exactly one output).
    """
    path = resolve_spec(args.spec, args.specs)
    spec = load_spec(path)
    step = StepSpec(args.model, _pairs(args.input, "--input"), _pairs(args.output, "--output"),
                    _pairs(args.param, "--param"))
    at = len(spec.steps) if args.at is None else args.at
    spec.steps.insert(at, step)
    for tensor in args.reroute or []:
        # Later steps that read `tensor` now read what the new step makes of it.
        model_in = next((k for k, v in step.inputs.items() if v == tensor), None)
        if model_in is None or len(step.outputs) != 1:
            raise SpecError(f"--reroute {tensor}: the new step must read {tensor!r} and have "
                            f"exactly one output")
        new = next(iter(step.outputs.values()))
        for other in spec.steps:
            if other is not step:
                other.inputs = {k: new if v == tensor else v for k, v in other.inputs.items()}
    return _commit(spec, path, args.repository)


def cmd_remove_step(args: argparse.Namespace) -> int:
    """``remove-step``: delete the step chosen by ``--index`` or ``--model``.

    Args:
        args: the parsed command line (``spec``, ``index``, ``model``, ``specs``, ``repository``).

    Returns:
        The exit status of validating the repository after the edit (0 valid, 1 problems).

    Raises:
        SpecError: no such step, or more than one step runs ``--model``.
    """
    path = resolve_spec(args.spec, args.specs)
    spec = load_spec(path)
    del spec.steps[_step_index(spec, args.index, args.model)]
    return _commit(spec, path, args.repository)


def cmd_set_param(args: argparse.Namespace) -> int:
    """``set-param``: set parameters of the step chosen by ``--index`` or ``--model``.

    Args:
        args: the parsed command line (``spec``, ``index``, ``model``, ``param``, ``specs``,
            ``repository``).

    Returns:
        The exit status of validating the repository after the edit (0 valid, 1 problems).

    Raises:
        SpecError: no such step, or a malformed KEY=VALUE.
    """
    path = resolve_spec(args.spec, args.specs)
    spec = load_spec(path)
    spec.steps[_step_index(spec, args.index, args.model)].parameters.update(
        _pairs(args.param, "--param"))
    return _commit(spec, path, args.repository)
