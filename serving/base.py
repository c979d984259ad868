"""The base class of every operator model (Triton Python backend).

A subclass declares its inputs, outputs and config parameters and implements
``compute``: arrays in, arrays out, no Triton inside. The base class does the Triton part:
reads the config, takes each request's tensors as CuPy arrays when they arrive on the GPU
(DLPack) and NumPy otherwise, validates each request on its own (a bad one gets its own
error, the others still succeed), runs ONE compute for all requests of an ``execute`` call
that share parameters, and returns GPU results through DLPack so they stay on the device
between ensemble steps.
"""
from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

# Inputs larger than this per side are refused (documented in README and docs/serving.md).
MAX_SIDE = 4096


class RequestError(ValueError):
    """A request the model cannot serve; its message goes back to that client."""


@dataclass(frozen=True)
class Param:
    """A config parameter: parser from the config's string, default, and meaning."""
    parse: Callable[[str], Any]
    default: str
    doc: str
    overridable: bool = False  # a request parameter of the same name may override it


def parse_bool(text: str) -> bool:
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def parse_floats(text: str) -> tuple[float, ...]:
    """'0.485 0.456 0.406', '0.5,0.5' or '1/255' -> floats."""
    out = []
    for part in str(text).replace(",", " ").split():
        a, _, b = part.partition("/")
        out.append(float(a) / float(b) if b else float(a))
    if not out:
        raise ValueError(f"expected one or more numbers, got {text!r}")
    return tuple(out)


def parse_float(text: str) -> float:
    vals = parse_floats(text)
    if len(vals) != 1:
        raise ValueError(f"expected one number, got {text!r}")
    return vals[0]


def parse_optional_float(text: str) -> float | None:
    return None if str(text).strip().lower() in ("", "none", "off") else parse_float(text)


def choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {text!r}")
        return text
    return parse


def is_cupy(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def stack(items: Sequence[Any]) -> Any:
    """(N, ...) array of equally shaped items (NumPy or CuPy)."""
    if is_cupy(items[0]):
        import cupy
        return cupy.stack(items)
    return np.stack(items)


def batch_or_list(items: Sequence[Any]) -> Any:
    """What ops take: one (N, ...) batch when all items share a shape, else a list."""
    return stack(items) if len({tuple(i.shape) for i in items}) == 1 else list(items)


def as_items(out: Any) -> list:
    """An op result (batch array or list) as a list of per-item arrays."""
    return list(out)


def check_image(img: Any, name: str = "IMAGE", channels: int = 3) -> None:
    """One request item must be a (H, W, channels) image with 0 < H, W <= MAX_SIDE."""
    if img.ndim != 3 or img.shape[2] != channels:
        raise RequestError(f"{name}: expected an (H, W, {channels}) image, got shape {tuple(img.shape)}")
    h, w = int(img.shape[0]), int(img.shape[1])
    if h == 0 or w == 0:
        raise RequestError(f"{name}: expected an image with height and width > 0, got {h}x{w}")
    if h > MAX_SIDE or w > MAX_SIDE:
        raise RequestError(f"{name}: {h}x{w} is over the size limit of {MAX_SIDE}x{MAX_SIDE}")


class OpModel:
    """Subclass and set INPUTS, OUTPUTS, PARAMETERS; implement compute (and validate)."""

    INPUTS: tuple[str, ...] = ()
    OUTPUTS: tuple[str, ...] = ()
    PARAMETERS: Mapping[str, Param] = {}

    # -- configuration ---------------------------------------------------------------
    @classmethod
    def parse_parameters(cls, raw: Mapping[str, str], where: str = "config") -> dict[str, Any]:
        """Typed parameters from config strings; unknown names are an error."""
        unknown = sorted(set(raw) - set(cls.PARAMETERS) - {"FORCE_CPU_ONLY_INPUT_TENSORS"})
        if unknown:
            raise ValueError(f"{cls.__name__} {where}: unknown parameter(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(cls.PARAMETERS))}")
        out = {}
        for name, p in cls.PARAMETERS.items():
            text = raw.get(name, p.default)
            try:
                out[name] = p.parse(text)
            except (ValueError, TypeError) as e:
                raise ValueError(f"{cls.__name__} {where}: parameter {name}: {e}") from None
        return out

    @classmethod
    def from_config(cls, config: Mapping[str, Any], model_dir: Path | None = None) -> "OpModel":
        """An instance outside Triton (fused models, tests) from a model config dict."""
        self = cls()
        self._configure(config, model_dir)
        return self

    def _configure(self, config: Mapping[str, Any], model_dir: Path | None) -> None:
        self.model_config = dict(config)
        self.model_dir = model_dir
        raw = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.params = self.parse_parameters(raw, f"model {config.get('name', '?')}")
        self.setup()

    def setup(self) -> None:
        """Load what the model needs once (override)."""

    # -- the operator ------------------------------------------------------------------
    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        """Raise RequestError for one unusable request item (override)."""

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, list]:
        """All items of a group of requests -> per-item outputs (override)."""
        raise NotImplementedError

    # -- Triton ------------------------------------------------------------------------
    def initialize(self, args: Mapping[str, str]) -> None:
        self._configure(json.loads(args["model_config"]),
                        Path(args["model_repository"]) if "model_repository" in args else None)

    def request_params(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Config parameters with this request's overrides applied (overridable ones only;
        other names are ignored because an ensemble may pass them on to every step)."""
        params = dict(self.params)
        for name, value in overrides.items():
            p = self.PARAMETERS.get(name)
            if p is None or not p.overridable:
                continue
            try:
                params[name] = p.parse(str(value))
            except (ValueError, TypeError) as e:
                raise RequestError(f"request parameter {name}: {e}") from None
        return params

    def run_items(self, items: list[dict[str, Any]], params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """compute() over a list of per-item input dicts -> per-item output dicts."""
        outs = self.compute({n: [it[n] for it in items] for n in self.INPUTS}, params)
        lists = {n: as_items(outs[n]) for n in self.OUTPUTS}
        return [{n: lists[n][k] for n in self.OUTPUTS} for k in range(len(items))]

    def execute(self, requests: list) -> list:
        import triton_python_backend_utils as pb_utils

        responses: list = [None] * len(requests)
        groups: dict[str, tuple[dict, list[tuple[int, list]]]] = {}
        for i, request in enumerate(requests):
            try:
                tensors = {n: from_triton(pb_utils.get_input_tensor_by_name(request, n))
                           for n in self.INPUTS}
                params = self.request_params(json.loads(request.parameters() or "{}"))
                n = int(next(iter(tensors.values())).shape[0])
                items = [{name: t[j] for name, t in tensors.items()} for j in range(n)]
                for item in items:
                    self.validate(item, params)
                key = json.dumps(params, sort_keys=True, default=str)
                groups.setdefault(key, (params, []))[1].append((i, items))
            except Exception as e:  # noqa: BLE001 - this request's own error
                responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(_message(self, e)))
        for params, reqs in groups.values():
            try:
                outs = self.run_items([it for _, items in reqs for it in items], params)
                k = 0
                for i, items in reqs:
                    mine = outs[k:k + len(items)]
                    k += len(items)
                    responses[i] = pb_utils.InferenceResponse(
                        [to_triton(pb_utils, n, stack([o[n] for o in mine])) for n in self.OUTPUTS])
            except Exception as e:  # noqa: BLE001 - the whole group failed
                for i, _ in reqs:
                    responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(_message(self, e)))
        return responses


def _message(model: OpModel, e: Exception) -> str:
    name = model.model_config.get("name", type(model).__name__)
    kind = "" if isinstance(e, (RequestError, ValueError, TypeError)) else f"{type(e).__name__}: "
    return f"{name}: {kind}{e}"


def from_triton(tensor: Any) -> Any:
    """A request tensor as a NumPy (host) or CuPy (device) array, zero copy, through DLPack.

    DLPack on the host too: the 2.51 stub's ``as_numpy`` is built with a pybind11 that
    predates NumPy 2 and hands out empty arrays under it (docs/serving.md); DLPack goes
    around the stub's NumPy API entirely."""
    if tensor is None:
        raise RequestError("a required input is missing")
    if tensor.is_cpu():
        return np.from_dlpack(tensor)
    import cupy
    return cupy.from_dlpack(tensor)


# NumPy's capsule deleter does not know the name the stub gives a consumed capsule
# ("used_dlpack") and reports a ValueError on stderr for every host output; renaming the
# capsule to NumPy's own "used_dltensor" after the hand-off silences it. The stub
# owns the memory from then on (it calls the DLPack deleter itself).
_set_capsule_name = ctypes.pythonapi.PyCapsule_SetName
_set_capsule_name.argtypes = [ctypes.py_object, ctypes.c_char_p]
_USED_CAPSULE = b"used_dltensor"  # module-level: the name must outlive every capsule


def to_triton(pb_utils: Any, name: str, value: Any) -> Any:
    """An output array as a Triton tensor through DLPack, staying where it is."""
    if is_cupy(value):
        import cupy
        # The array itself, not a capsule: the stub then passes its stream to __dlpack__
        # and synchronises, and CuPy 14's toDlpack() capsules are versioned, which the 2.51
        # stub misreads.
        return pb_utils.Tensor.from_dlpack(name, cupy.ascontiguousarray(value))
    arr = np.ascontiguousarray(value)
    if not arr.flags.writeable:  # NumPy refuses to export read-only arrays through DLPack
        arr = arr.copy()
    capsule = arr.__dlpack__()
    tensor = pb_utils.Tensor.from_dlpack(name, capsule)
    _set_capsule_name(capsule, _USED_CAPSULE)
    return tensor
