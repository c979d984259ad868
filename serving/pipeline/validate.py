"""Static checks of ensembles, reported with file, step and tensor, and a suggestion.

Triton reports most of these only when it loads the ensemble, tersely; this catches them
before, with the closest valid name.
"""
from __future__ import annotations

import sys

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tritonclient.grpc import model_config_pb2 as mc

from .repository import ModelEntry, load_repository


@dataclass(frozen=True)
class Problem:
    """One problem of a repository: the config file, where in it, and what is wrong."""
    path: Path
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.message}"


def suggest(name: str, options: Iterable[str]) -> str:
    """A "did you mean" hint for a name that is not one of ``options``.

    Args:
        name: the name given.
        options: the valid names.

    Returns:
        `` (did you mean 'x'?)`` with the closest valid name, or '' when none is close.
    """
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def dtype_name(dt: int) -> str:
    """Triton's dtype name without TYPE_.

    Args:
        dt: a model_config DataType value.

    Returns:
        E.g. 'UINT8'.
    """
    return mc.DataType.Name(dt).removeprefix("TYPE_")


def dims_compatible(a: Sequence[int], b: Sequence[int]) -> bool:
    """Same rank and every dim equal or dynamic (-1).

    Args:
        a: one tensor's dims.
        b: the other's.

    Returns:
        Whether a tensor of dims ``a`` may feed one of dims ``b``.
    """
    return len(a) == len(b) and all(x == y or x == -1 or y == -1 for x, y in zip(a, b))


@dataclass(frozen=True)
class Tensor:
    """A tensor known at a point of an ensemble: dtype (0: unknown), dims, and which step made it."""
    dtype: int
    dims: tuple[int, ...]
    producer: str  # "ensemble input" or "step N (model)"


# Knows which config parameters a model understands; None means "unknown, don't check".
ParameterLookup = Callable[[ModelEntry], "set[str] | None"]


def check_ensemble(entry: ModelEntry, models: dict[str, ModelEntry]) -> list[Problem]:
    """All problems of one ensemble config.

    Checks double writes, missing models, input and output names, dtypes and dims along the
    steps, cycles, and outputs that a step also reads (which deadlock a request leaving them
    out).

    Args:
        entry: the ensemble.
        models: every model of the repository by name.

    Returns:
        The problems, in the order found (empty when valid).
    """
    cfg, path = entry.config, entry.path
    out: list[Problem] = []

    def problem(where: str, msg: str) -> None:
        out.append(Problem(path, where, msg))

    steps = list(cfg.ensemble_scheduling.step)
    if not steps:
        problem("ensemble_scheduling", "has no step")
        return out
    produced: dict[str, Tensor] = {t.name: Tensor(t.data_type, tuple(t.dims), "ensemble input")
                                   for t in cfg.input}
    # Which step writes each tensor, to order the steps and find cycles and double writes.
    writer: dict[str, int] = {}
    for i, step in enumerate(steps):
        for tensor in step.output_map.values():
            if tensor in writer or tensor in produced:
                first = "an ensemble input" if tensor in produced else f"step {writer[tensor]}"
                problem(f"step {i} ({step.model_name})",
                        f"tensor {tensor!r} is already produced by {first}")
            writer.setdefault(tensor, i)

    # Resolve steps in dependency order; what is left unresolved is a cycle or missing input.
    pending = set(range(len(steps)))
    order: list[int] = []
    while True:
        ready = [i for i in sorted(pending)
                 if all(t in produced or writer.get(t) is None or writer[t] in order
                        for t in steps[i].input_map.values())]
        if not ready:
            break
        for i in ready:
            pending.discard(i)
            order.append(i)
            _check_step(i, steps[i], models, produced, problem, set(produced) | set(writer))
    if pending:
        problem("ensemble_scheduling", "steps " + ", ".join(
            f"{i} ({steps[i].model_name})" for i in sorted(pending)) +
            " form a cycle: each waits for a tensor another of them produces")

    for t in cfg.output:
        where = f"output {t.name!r}"
        readers = [f"step {i} ({steps[i].model_name})" for i, step in enumerate(steps)
                   if t.name in step.input_map.values()]
        if readers:
            problem(where, f"is also read by {', '.join(readers)}: Triton skips the step that "
                           f"produces an ensemble output a request does not ask for, even when "
                           f"a later step reads it, so a request that leaves {t.name!r} out "
                           f"fails with 'unexpected deadlock' (ensemble_scheduler.cc: Triton 2.51 "
                           f"to the r26.06 sources). Fix: let the producing step write an internal "
                           f"tensor, and a step of its own hand it on twice: as {t.name!r}, and as "
                           f"another internal tensor (e.g. {t.name + '__internal'!r}) that those "
                           f"steps read; `python -m serving.pipeline generate` does this for a "
                           f"spec (a tee step, docs/pipelines.md)")
        got = produced.get(t.name)
        if got is None:
            problem(where, "is produced by no step" + suggest(t.name, produced))
            continue
        if got.dtype != t.data_type:
            problem(where, f"declared {dtype_name(t.data_type)} but {got.producer} produces "
                           f"{dtype_name(got.dtype)}")
        elif got.dims and not dims_compatible(got.dims, tuple(t.dims)):
            problem(where, f"declared dims {list(t.dims)} but {got.producer} produces {list(got.dims)}")
    return out


def _check_step(i: int, step: mc.ModelEnsembling.Step, models: dict[str, ModelEntry],
                produced: dict[str, Tensor], problem: Callable[[str, str], None],
                all_tensors: set[str] = frozenset()) -> None:
    where = f"step {i} ({step.model_name})"
    model = models.get(step.model_name)
    if model is None:
        problem(where, f"model {step.model_name!r} does not exist in the repository"
                + suggest(step.model_name, models))
        for tensor_out, tensor in step.output_map.items():
            produced.setdefault(tensor, Tensor(0, (), where))
        return
    inputs = {t.name: t for t in model.config.input}
    outputs = {t.name: t for t in model.config.output}
    for model_in, tensor in step.input_map.items():
        if model_in not in inputs:
            problem(where, f"input_map key {model_in!r} is not an input of {step.model_name}"
                    + suggest(model_in, inputs))
            continue
        src = produced.get(tensor)
        if src is None:
            problem(where, f"reads tensor {tensor!r}, which no earlier step or ensemble input "
                           f"produces" + suggest(tensor, set(produced) | all_tensors))
            continue
        want = inputs[model_in]
        if src.dtype and src.dtype != want.data_type:
            problem(where, f"input {model_in!r} wants {dtype_name(want.data_type)} but tensor "
                           f"{tensor!r} from {src.producer} is {dtype_name(src.dtype)}")
        elif src.dims and not dims_compatible(src.dims, tuple(want.dims)):
            problem(where, f"input {model_in!r} wants dims {list(want.dims)} but tensor "
                           f"{tensor!r} from {src.producer} has {list(src.dims)}")
    missing = [n for n, t in inputs.items() if n not in step.input_map and not t.optional]
    if missing:
        problem(where, f"required input(s) {', '.join(map(repr, missing))} of {step.model_name} "
                       f"are not mapped")
    for model_out, tensor in step.output_map.items():
        if model_out not in outputs:
            problem(where, f"output_map key {model_out!r} is not an output of {step.model_name}"
                    + suggest(model_out, outputs))
            produced[tensor] = Tensor(0, (), where)
            continue
        o = outputs[model_out]
        produced[tensor] = Tensor(o.data_type, tuple(o.dims), where)


def check_batching(entry: ModelEntry, models: dict[str, ModelEntry]) -> list[Problem]:
    """Triton refuses an ensemble whose max_batch_size exceeds a step model's.

    Args:
        entry: the ensemble.
        models: every model of the repository by name.

    Returns:
        One problem per such step.
    """
    out = []
    for i, step in enumerate(entry.config.ensemble_scheduling.step):
        m = models.get(step.model_name)
        if m is not None and entry.config.max_batch_size > m.config.max_batch_size:
            out.append(Problem(entry.path, f"step {i} ({step.model_name})",
                               f"ensemble max_batch_size {entry.config.max_batch_size} exceeds "
                               f"{step.model_name}'s {m.config.max_batch_size}"))
    return out


def validate_repository(repo: Path, known_parameters: ParameterLookup | None = None) -> list[str]:
    """Every problem of a repository, as printable lines; empty when valid.

    Args:
        repo: the model repository.
        known_parameters: the parameters a model understands (None: parameters are not
            checked); a non-ensemble config with another is a problem.

    Returns:
        The problems, sorted, each once: parse errors, ensemble problems, unknown parameters.
    """
    models, errors = load_repository(repo)
    problems: list[str] = list(errors)
    for entry in models.values():
        if entry.is_ensemble:
            problems += map(str, check_ensemble(entry, models))
            problems += map(str, check_batching(entry, models))
        elif known_parameters is not None:
            known = known_parameters(entry)
            if known is not None:
                problems += [f"{entry.path}: parameter {k!r} is not understood by {entry.name}"
                             + suggest(k, known) for k in entry.config.parameters if k not in known]
    return sorted(set(problems))


def report_problems(problems: list[str], repo: Path) -> int:
    """Print a repository's problems, one per line, and what that amounts to.

    Args:
        problems: what validate_repository found.
        repo: the repository, for the last line.

    Returns:
        The exit status: 0 without problems, 1 with.
    """
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {repo}", file=sys.stderr)
        return 1
    print(f"{repo}: all ensembles valid")
    return 0
