"""What a request may be, checked before its data is touched, and how a refusal reaches
its client.

Every model of ours (and the tee, and the baseline) reads a request through
``request_inputs``: the shapes it declares are held to the model config and to the size
limits (``ShapeRules``) before anything reads a byte, and a model's own item checks
(``check_image``, ``check_mask``) raise ``RequestError``. ``triton_error`` turns any failure
into the TritonError of that one request: INVALID_ARG for what the client asked wrongly,
INTERNAL for the rest (docs/serving.md, Request limits).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from .dlpack import from_triton
from .placement import PlacementError

# Inputs larger than this per side are refused (documented in README and docs/serving.md).
MAX_SIDE = 4096
# What a request tensor may hold, whatever the model (checked before its data is touched).
DTYPES = {"TYPE_UINT8": np.uint8, "TYPE_FP32": np.float32, "TYPE_FP16": np.float16,
          "TYPE_INT32": np.int32}
# Values per request item: a MAX_SIDE x MAX_SIDE image of up to 4 values per pixel.
MAX_ITEM_VALUES = 4 * MAX_SIDE * MAX_SIDE


class RequestError(ValueError):
    """A request the model cannot serve; its message goes back to that client."""


def check_image(img: Any, name: str = "IMAGE", channels: int = 3) -> None:
    """Refuse a request item that is not an image a model takes.

    Args:
        img: one request item, a NumPy or CuPy array (any dtype: the config fixes it).
        name: the input's name, for the message.
        channels: the number of channels expected.
    Raises:
        RequestError: ``img`` is not (H, W, channels), or H or W is 0 or over MAX_SIDE.
    """
    if img.ndim != 3 or img.shape[2] != channels:
        raise RequestError(f"{name}: expected an (H, W, {channels}) image, got shape {tuple(img.shape)}")
    h, w = int(img.shape[0]), int(img.shape[1])
    if h == 0 or w == 0:
        raise RequestError(f"{name}: expected an image with height and width > 0, got {h}x{w}")
    if h > MAX_SIDE or w > MAX_SIDE:
        raise RequestError(f"{name}: {h}x{w} is over the size limit of {MAX_SIDE}x{MAX_SIDE}")


def check_mask(mask: Any, name: str = "MASK") -> None:
    """Refuse a request item that is not a mask a model takes.

    Args:
        mask: one request item, a NumPy or CuPy array.
        name: the input's name, for the message.
    Raises:
        RequestError: ``mask`` is not a non-empty (H, W) array with H, W <= MAX_SIDE.
    """
    if mask.ndim != 2 or 0 in mask.shape or max(mask.shape) > MAX_SIDE:
        raise RequestError(f"{name}: expected a non-empty (H, W) mask with H, W <= {MAX_SIDE}, "
                           f"got {tuple(mask.shape)}")


class ShapeRules:
    """A model config's rules for the shapes a request declares, compiled once per model.

    Triton checks the byte size in 64-bit arithmetic, which a shape such as [1, 2^32, 2^32,
    3] wraps to 0, so an empty body passes it. Each input: rank 1 + len(dims), the batch dim
    in 1..max_batch_size and the same for every input, fixed dims equal, variable dims in
    1..MAX_SIDE (0 is zero-size), at most MAX_ITEM_VALUES values per item. All in Python ints
    (no overflow). ``max_dims``: another limit than MAX_SIDE for an input's variable dims (an
    encoded file's length); an input the config declares optional may be missing."""

    def __init__(self, config: Mapping[str, Any], max_dims: Mapping[str, int] | None = None):
        self.max_batch = int(config.get("max_batch_size", 0))
        # name -> (dims, optional, limit, the shape expected, as the refusals say it)
        self.inputs: dict[str, tuple[tuple[int, ...], bool, int, str]] = {}
        for t in config.get("input", []):
            dims = tuple(int(d) for d in t.get("dims", []))
            limit = (max_dims or {}).get(t["name"], MAX_SIDE)
            full = ([f"1..{self.max_batch}"] if self.max_batch else []) + ["?" if d < 0 else str(d) for d in dims]
            self.inputs[t["name"]] = (dims, bool(t.get("optional")), limit,
                                      f"[{', '.join(full)}] with ? in 1..{limit}")

    def check(self, shapes: Mapping[str, Sequence[int] | None]) -> None:
        """Refuse the first declared shape that breaks a rule (the messages are built only
        for a refusal).

        Args:
            shapes: input name -> declared shape (ints), None for an input left out.
        Raises:
            RequestError: naming the input and what was wrong with its shape.
        """
        max_batch, batch = self.max_batch, None
        for name, shape in shapes.items():
            rule = self.inputs.get(name)
            if shape is None:
                if rule is not None and rule[1]:
                    continue
                raise RequestError(f"input {name} is missing")
            if rule is None:  # a model outside Triton without a config for it
                continue
            dims, _, limit, expected = rule
            shape = [int(d) for d in shape]
            if len(shape) != len(dims) + (1 if max_batch else 0):
                raise RequestError(f"{name}: expected a shape {expected}, got {shape} (rank {len(shape)})")
            item = shape[1:] if max_batch else shape
            if max_batch:
                if not 1 <= shape[0] <= max_batch:
                    raise RequestError(f"{name}: shape {shape}: batch size {shape[0]} is outside "
                                       f"1..{max_batch}")
                if batch is not None and shape[0] != batch:
                    raise RequestError(f"{name}: shape {shape}: batch size {shape[0]} differs from "
                                       f"the other inputs' {batch}")
                batch = shape[0]
            for i, (got, want) in enumerate(zip(item, dims), start=len(shape) - len(item)):
                if want >= 0 and got != want:
                    raise RequestError(f"{name}: expected a shape {expected}, got {shape} (dim {i})")
                if got <= 0:
                    raise RequestError(f"{name}: shape {shape} is zero-size: expected {expected}")
                if got > limit:
                    raise RequestError(f"{name}: shape {shape}: dim {i} = {got} is over the size "
                                       f"limit of {limit}")
            values = math.prod(item)
            if values > MAX_ITEM_VALUES:
                raise RequestError(f"{name}: shape {shape} holds {values} values per item, over the "
                                   f"limit of {MAX_ITEM_VALUES} (4 x {MAX_SIDE} x {MAX_SIDE})")


def request_inputs(request: Any, rules: ShapeRules, names: Sequence[str]) -> dict[str, Any]:
    """A request's input tensors, their declared shapes checked before anything reads their
    data. Triton itself refuses a dtype other than the config's (400, naming the input).

    Args:
        request: a ``pb_utils.InferenceRequest`` (or an object with its ``inputs()``).
        rules: the model's ShapeRules.
        names: the inputs the model reads.
    Returns:
        Input name -> its ``pb_utils.Tensor``, or None for an optional one left out.
    Raises:
        RequestError: a declared shape breaks ``rules``, or a required input is missing.
    """
    # One pass over the request's inputs (pb_utils.get_input_tensor_by_name lists them all
    # again for every name).
    arrived = {t.name(): t for t in request.inputs()}
    raw = {n: arrived.get(n) for n in names}
    rules.check({n: None if t is None else t.shape() for n, t in raw.items()})
    return raw


def request_tensors(request: Any, rules: ShapeRules, names: Sequence[str]) -> dict[str, Any]:
    """request_inputs as arrays, zero copy (serving.dlpack.from_triton).

    Args:
        request, rules, names: as request_inputs.
    Returns:
        Input name -> an (N, ...) NumPy (host) or CuPy (device) array, or None for an
        optional input left out.
    Raises:
        RequestError: as request_inputs.
    """
    return {n: None if t is None else from_triton(t)
            for n, t in request_inputs(request, rules, names).items()}


def triton_error(pb_utils: Any, model: Any, e: Exception) -> Any:
    """The TritonError that answers one request that failed.

    Args:
        pb_utils: Triton's ``triton_python_backend_utils`` (or a module with its
            ``TritonError``).
        model: the step that failed: a name, or a model with a ``model_config`` dict (its
            ``name``, else its class's name).
        e: what the request failed with.
    Returns:
        A ``pb_utils.TritonError`` whose message starts with the step's name: INVALID_ARG
        (HTTP 400 / gRPC INVALID_ARGUMENT) for what the client asked wrongly (RequestError),
        INTERNAL for the rest (with the exception's type, unless it is a ValueError,
        TypeError or PlacementError, whose message says it all).
    """
    name = model if isinstance(model, str) else model.model_config.get("name", type(model).__name__)
    kind = "" if isinstance(e, (RequestError, PlacementError, ValueError, TypeError)) else f"{type(e).__name__}: "
    code = pb_utils.TritonError.INVALID_ARG if isinstance(e, RequestError) else pb_utils.TritonError.INTERNAL
    return pb_utils.TritonError(f"{name}: {kind}{e}", code)
