"""Pipeline specs: a short YAML file per ensemble, from which its config.pbtxt (and the
config of any step whose parameters it overrides) is generated.

    name: background_blur
    max_batch_size: 8
    inputs:  [{name: IMAGE, dtype: UINT8, dims: [-1, -1, 3]}]
    outputs: [{name: BLURRED, dtype: UINT8, dims: [-1, -1, 3]}]
    steps:
      - model: resize                       # a model of the repository
        inputs: {IMAGE: IMAGE}              # model input  <- pipeline tensor
        outputs: {OUTPUT: resized}          # model output -> pipeline tensor
        parameters: {interpolation: area}   # optional: overrides the model's config

What a spec generates (the ensemble, step copies, tees) is serving/pipeline/ensemble.py's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tritonclient.grpc import model_config_pb2 as mc

from ..registry import tee_name

DTYPES = sorted(n.removeprefix("TYPE_") for n in mc.DataType.keys() if n != "TYPE_INVALID")


class SpecError(ValueError):
    """A pipeline spec that is malformed; the message names the file and the field."""


@dataclass
class TensorSpec:
    """A pipeline input or output: name, Triton dtype without TYPE_, dims of one batch item."""
    name: str
    dtype: str
    dims: list[int]


@dataclass
class StepSpec:
    """One step: its model, model input -> pipeline tensor, model output -> pipeline tensor, and
    the config parameters its generated copy overrides (none: the model itself runs).
    """
    model: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelineSpec:
    """A parsed pipeline spec; ``path`` is the file it was loaded from, if any."""
    name: str
    max_batch_size: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    steps: list[StepSpec]
    description: str = ""
    path: Path | None = None

    def step_model_name(self, step: StepSpec) -> str:
        """The model a step runs: its own, or the generated copy carrying its parameters.

        Args:
            step: one of this pipeline's steps.

        Returns:
            ``<pipeline>__<model>`` for a step with parameters, else the step's model.
        """
        return f"{self.name}__{step.model}" if step.parameters else step.model

    def tees(self) -> dict[str, tuple[str, str]]:
        """The pipeline outputs that a step also reads, each with the names its tee step uses.

        Returns:
            Output -> (the tensor its producing step writes instead, the tensor the reading steps
            read instead), each ``<OUTPUT>__produced`` / ``<OUTPUT>__internal`` unless that name is
            taken (then a number is appended); its tee step turns the first into the output and
            the second.
        """
        read = {t for s in self.steps for t in s.inputs.values()}
        names = ({t.name for t in self.inputs + self.outputs}
                 | {t for s in self.steps for t in (*s.inputs.values(), *s.outputs.values())})

        def unused(name: str) -> str:
            free, k = name, 2
            while free in names:
                free, k = f"{name}{k}", k + 1
            names.add(free)
            return free

        return {t.name: (unused(f"{t.name}__produced"), unused(f"{t.name}__internal"))
                for t in self.outputs if t.name in read}

    def generated_models(self) -> set[str]:
        """The models generated for this pipeline: step copies and tees.

        Returns:
            Their names.
        """
        return ({self.step_model_name(s) for s in self.steps if s.parameters}
                | {tee_name(self.name, t) for t in self.tees()})

    def to_dict(self) -> dict[str, Any]:
        """The spec as the YAML file holds it (description and parameters only when set).

        Returns:
            A plain dict, keys in the file's order.
        """
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        d["max_batch_size"] = self.max_batch_size
        d["inputs"] = [vars(t) for t in self.inputs]
        d["outputs"] = [vars(t) for t in self.outputs]
        d["steps"] = []
        for s in self.steps:
            sd: dict[str, Any] = {"model": s.model, "inputs": s.inputs, "outputs": s.outputs}
            if s.parameters:
                sd["parameters"] = s.parameters
            d["steps"].append(sd)
        return d


def _need(d: dict, key: str, kind: type, where: str) -> Any:
    if key not in d:
        raise SpecError(f"{where}: missing {key!r}")
    if not isinstance(d[key], kind):
        raise SpecError(f"{where}: {key!r} must be a {kind.__name__}, got {d[key]!r}")
    return d[key]


def _tensor(d: Any, where: str) -> TensorSpec:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: expected {{name, dtype, dims}}, got {d!r}")
    dtype = str(_need(d, "dtype", str, where)).upper()
    if dtype not in DTYPES:
        raise SpecError(f"{where}: dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    dims = _need(d, "dims", list, where)
    if not all(isinstance(x, int) and (x == -1 or x > 0) for x in dims):
        raise SpecError(f"{where}: dims must be positive integers or -1, got {dims}")
    return TensorSpec(_need(d, "name", str, where), dtype, list(dims))


def _mapping(d: dict, key: str, where: str) -> dict[str, str]:
    m = _need(d, key, dict, where)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in m.items()):
        raise SpecError(f"{where}: {key!r} must map names to names, got {m!r}")
    return dict(m)


def parse_spec(data: Any, path: Path | None = None) -> PipelineSpec:
    """A pipeline spec from its YAML data.

    Args:
        data: what the YAML file holds.
        path: the file, for the messages and ``PipelineSpec.path``.

    Returns:
        The spec.

    Raises:
        SpecError: a missing or malformed field; the message names the file and the field.
    """
    where = str(path or "<spec>")
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping with name, inputs, outputs, steps")
    steps = []
    for i, s in enumerate(_need(data, "steps", list, where)):
        sw = f"{where}: steps[{i}]"
        if not isinstance(s, dict):
            raise SpecError(f"{sw}: expected {{model, inputs, outputs}}, got {s!r}")
        params = s.get("parameters") or {}
        if not isinstance(params, dict):
            raise SpecError(f"{sw}: parameters must be a mapping, got {params!r}")
        steps.append(StepSpec(_need(s, "model", str, sw), _mapping(s, "inputs", sw),
                              _mapping(s, "outputs", sw), {k: str(v) for k, v in params.items()}))
    mbs = data.get("max_batch_size", 0)
    if not isinstance(mbs, int) or mbs < 0:
        raise SpecError(f"{where}: max_batch_size must be an integer >= 0, got {mbs!r}")
    return PipelineSpec(
        name=_need(data, "name", str, where), max_batch_size=mbs,
        inputs=[_tensor(t, f"{where}: inputs[{i}]") for i, t in enumerate(_need(data, "inputs", list, where))],
        outputs=[_tensor(t, f"{where}: outputs[{i}]") for i, t in enumerate(_need(data, "outputs", list, where))],
        steps=steps, description=str(data.get("description", "")), path=path)


def load_spec(path: Path) -> PipelineSpec:
    """Load a pipeline spec file.

    Args:
        path: the YAML file.

    Returns:
        The spec, ``path`` set.

    Raises:
        SpecError: not valid YAML, or a missing or malformed field.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    return parse_spec(data, Path(path))


def save_spec(spec: PipelineSpec, path: Path) -> None:
    """Write a spec as YAML (fields in the file's order).

    Args:
        spec: the spec.
        path: the file to write.
    """
    Path(path).write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False, width=100))
