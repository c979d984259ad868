"""The base class of every operator model (Triton Python backend).

A subclass declares its inputs, outputs and config parameters and implements
``compute``: arrays in, arrays out, no Triton inside. The base class does the Triton part:

- reads the config (typed parameters, ``require_device`` for all);
- decides once per instance where it works (serving.placement: GPU instance with usable
  CUDA -> its device, else the CPU), and on a GPU compiles and warms the kernels at load;
- takes each request's tensors through DLPack (zero copy), validates each request on its own
  (a bad one gets its own error, the others still succeed), then moves each request tensor
  once to where the instance works (counted; refused under ``require_device=gpu``);
- runs ONE compute for all requests of an ``execute`` call that share parameters;
- returns each request's slice of the outputs through DLPack, on the device for a GPU
  instance, so tensors stay there between ensemble steps;
- on a GPU instance, leaves every execute with the device synchronised and the CuPy pool's
  cache trimmed (serving.device), however it went.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ops._batch import is_cupy

from .contract import Contract
from .device import MIB, DeviceGuard, PoolGauges, pool_metric_family
from .params import Param, integer, options, parse_all
from .malloc import apply_stub_settings
from .placement import (Placement, PlacementCounters, PlacementError, Placer, decide, move,
                        triton_metric_family)

# Inputs larger than this per side are refused (documented in README and docs/serving.md).
MAX_SIDE = 4096


class RequestError(ValueError):
    """A request the model cannot serve; its message goes back to that client."""


def stack(items: Sequence[Any]) -> Any:
    """(N, ...) array of equally shaped items (NumPy or CuPy); one item is a view of it."""
    if len(items) == 1:
        return items[0][None]
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


def check_mask(mask: Any, name: str = "MASK") -> None:
    """One request item must be a non-empty (H, W) mask with H, W <= MAX_SIDE."""
    if mask.ndim != 2 or 0 in mask.shape or max(mask.shape) > MAX_SIDE:
        raise RequestError(f"{name}: expected a non-empty (H, W) mask with H, W <= {MAX_SIDE}, "
                           f"got {tuple(mask.shape)}")


# Parameters every OpModel understands (merged into each subclass's PARAMETERS).
COMMON_PARAMETERS: Mapping[str, Param] = {
    "require_device": options(
        "none",
        "gpu: on a GPU instance, refuse a request whose image-sized tensors are in host memory "
        "(a host hop), and refuse to load or serve on the CPU; a request can set it, never "
        "relax it (docs/serving.md, Placement)", "none", "gpu", overridable=True,
        why="the placement guard (Placement, above)"),
    "device_cache_mib": integer(
        "256", "on a GPU instance, the MiB of freed device memory its CuPy pool keeps cached "
        "after an execute; above that, the cache is given back to the driver", 0, 65536,
        "0 frees the cache after every execute; 256 MiB holds about 40 1080p RGB frames, and a "
        "burst of 4K batches is given back (docs/serving.md, GPU memory per instance)"),
}

# What a request tensor may hold, whatever the model (checked before its data is touched).
DTYPES = {"TYPE_UINT8": np.uint8, "TYPE_FP32": np.float32, "TYPE_FP16": np.float16,
          "TYPE_INT32": np.int32}
# Values per request item: a MAX_SIDE x MAX_SIDE image of up to 4 values per pixel.
MAX_ITEM_VALUES = 4 * MAX_SIDE * MAX_SIDE
# Distinct request-parameter texts an instance keeps parsed (OpModel.parameters_of).
PARAMETER_CACHE = 64


def check_request_shapes(config: Mapping[str, Any], shapes: Mapping[str, Sequence[int] | None],
                         max_dims: Mapping[str, int] | None = None) -> None:
    """Refuse (RequestError) a request whose declared input shapes the model config does not
    allow, before anything reads the data (ShapeRules, compiled for this one call)."""
    ShapeRules(config, max_dims).check(shapes)


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
        """Refuse (RequestError, naming the input and what was wrong) the first shape that
        breaks a rule; the messages are built only for a refusal."""
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
    """A request's input tensors (pb_utils.Tensor) by name, None for an optional one it
    leaves out, their declared shapes checked (``rules``, check_request_shapes) before
    anything reads their data. Triton itself refuses a dtype other than the config's (400,
    naming the input)."""
    # One pass over the request's inputs (pb_utils.get_input_tensor_by_name lists them all
    # again for every name).
    arrived = {t.name(): t for t in request.inputs()}
    raw = {n: arrived.get(n) for n in names}
    rules.check({n: None if t is None else t.shape() for n, t in raw.items()})
    return raw


def request_tensors(request: Any, rules: ShapeRules, names: Sequence[str]) -> dict[str, Any]:
    """request_inputs as NumPy (host) or CuPy (device) arrays, zero copy (from_triton)."""
    return {n: None if t is None else from_triton(t)
            for n, t in request_inputs(request, rules, names).items()}


# Placement outside Triton (tests, the steps inside a fused model before it places them).
OUTSIDE_TRITON = Placement(False, 0, "outside Triton")


class OpModel:
    """Subclass and set CONTRACT (serving.contract: tensors, batching; INPUTS and OUTPUTS are
    its tensor names) and PARAMETERS; implement compute (and validate). The two are the
    model's whole config.pbtxt, which ``python -m serving.pipeline generate`` writes.

    HOST_TENSORS are small, host-decided inputs/outputs (sizes, ROIs, encoded files) that
    stay on the host on every instance; an input the config declares ``optional`` reaches
    validate and compute as None when a request leaves it out; ENTRY_INPUTS may arrive in host memory even under require_device=gpu
    (the pipeline's entry, where a client's frame is uploaded once)."""

    CONTRACT: Contract | None = None  # None: the config comes from elsewhere (a fused model)
    INPUTS: tuple[str, ...] = ()
    OUTPUTS: tuple[str, ...] = ()
    PARAMETERS: Mapping[str, Param] = {}
    HOST_TENSORS: frozenset[str] = frozenset()
    ENTRY_INPUTS: frozenset[str] = frozenset()
    # Limits other than MAX_SIDE on an input's variable dims (check_request_shapes).
    MAX_DIMS: Mapping[str, int] = {}
    # warm_up runs every batch size up to max_batch_size, not only one: a model whose
    # library prepares work per batch size (onnxruntime's cuDNN plans, its arena's growth).
    WARM_EVERY_BATCH_SIZE = False

    # Every request parameter of every model of ours, by name (filled as the classes are
    # defined): each model checks the values of all of them (request_params).
    REQUEST_PARAMETERS: dict[str, Param] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.PARAMETERS = {**COMMON_PARAMETERS, **cls.PARAMETERS}
        for name, p in cls.PARAMETERS.items():
            if p.overridable and OpModel.REQUEST_PARAMETERS.setdefault(name, p) is not p:
                raise TypeError(f"{cls.__name__}: request parameter {name} is another model's "
                                f"too, with another meaning; every step checks each by one "
                                f"definition (OpModel.request_params)")
        if "CONTRACT" in vars(cls) and cls.CONTRACT is not None:
            cls.INPUTS, cls.OUTPUTS = cls.CONTRACT.input_names, cls.CONTRACT.output_names

    # -- configuration ---------------------------------------------------------------
    @classmethod
    def parse_parameters(cls, raw: Mapping[str, str], where: str = "config") -> dict[str, Any]:
        """Typed parameters from config strings; unknown names are an error."""
        return parse_all(cls.PARAMETERS, raw, f"{cls.__name__} {where}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], model_dir: Path | None = None,
                    placement: Placement = OUTSIDE_TRITON) -> "OpModel":
        """An instance outside Triton (fused models, tests) from a model config dict."""
        self = cls()
        self._configure(config, model_dir, placement)
        return self

    def _configure(self, config: Mapping[str, Any], model_dir: Path | None,
                   placement: Placement) -> None:
        self.model_config = dict(config)
        self.name = str(config.get("name", type(self).__name__))
        self.model_dir = model_dir
        raw = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.params = self.parse_parameters(raw, f"model {self.name}")
        self._request_params: dict[str, tuple[dict[str, Any], str]] = {}
        self.placement = placement
        with device_scope(placement):
            self.setup()
        # After setup: a fused model learns its steps' limits there, and a model that cannot
        # work on the GPU has replaced its placement.
        self.shape_rules = ShapeRules(self.model_config, self.MAX_DIMS)
        self.device = DeviceGuard(self.placement, self.params["device_cache_mib"] * MIB)

    def setup(self) -> None:
        """Load what the model needs once (override). ``self.placement`` says where the
        instance works; a model that cannot work there may replace it (with the reason)."""

    # -- the operator ------------------------------------------------------------------
    def validate(self, item: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        """Raise RequestError for one unusable request item (override)."""

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        """All items of a group of requests -> per output, an (N, ...) array or a list of N
        per-item arrays (override). An item that fails on its own (a file only the decoder
        finds corrupt) may be a RequestError in a list's place: its request alone fails."""
        raise NotImplementedError

    def sample_items(self) -> list[dict[str, Any]]:
        """A tiny valid request item (host arrays) that runs every kernel this model needs:
        the warm-up at load. Default: zeros of each input's config dims, -1 read as 16."""
        item = {}
        for t in self.model_config.get("input", []):
            dims = [16 if int(d) < 0 else int(d) for d in t.get("dims", [])]
            item[t["name"]] = np.zeros(dims, dtype=DTYPES[t["data_type"]])
        return [item]

    def compute_items(self, items: list[dict[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
        """compute() over a list of per-item input dicts, outputs as compute returns them (an
        input an item lacks, an optional one a fused step does not map, is None)."""
        return self.compute({n: [it.get(n) for it in items] for n in self.INPUTS}, params)

    def run_items(self, items: list[dict[str, Any]], params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """compute() over a list of per-item input dicts -> per-item output dicts (the first
        item error raised)."""
        outs = self.compute_items(items, params)
        failed = item_error(outs, self.OUTPUTS, 0, len(items))
        if failed is not None:
            raise failed
        lists = {n: as_items(outs[n]) for n in self.OUTPUTS}
        return [{n: lists[n][k] for n in self.OUTPUTS} for k in range(len(items))]

    # -- Triton ------------------------------------------------------------------------
    def initialize(self, args: Mapping[str, str]) -> None:
        """Configure, decide the placement once, load, and on a GPU compile and warm the
        kernels on the instance's device so no request pays for it."""
        import triton_python_backend_utils as pb_utils

        apply_stub_settings()
        config = json.loads(args["model_config"])
        placement = decide(args.get("model_instance_kind", ""),
                           int(args.get("model_instance_device_id", 0) or 0))
        self._configure(config, Path(args["model_repository"]) if "model_repository" in args else None,
                        placement)
        if self.params["require_device"] == "gpu" and not self.placement.gpu:
            raise PlacementError(f"{self.name}: require_device=gpu, but this instance works on "
                                 f"the CPU ({self.placement.why})")
        instance = args.get("model_instance_name", self.name)
        self.placer = Placer(self.placement,
                             PlacementCounters(self.name, instance, triton_metric_family(pb_utils)),
                             self.HOST_TENSORS, self.ENTRY_INPUTS)
        if self.placement.gpu:
            self.placer.counters.extra_exports.append(
                PoolGauges(self.device, pool_metric_family(pb_utils), self.name, instance).flush)
        self.placer.counters.start()
        print(f"{instance}: placement {self.placement.label} ({self.placement.why})", flush=True)
        if self.placement.gpu:
            self.warm_up()

    def warm_up(self) -> None:
        """Run sample_items where the instance works (NVRTC compiles, CuPy's own kernels,
        memory pools), once, or at every batch size 1..max_batch_size for a model that
        prepares per batch size (WARM_EVERY_BATCH_SIZE: the DNN), so no request pays for
        it and its memory is at its high-water mark before serving."""
        # As an execute: on the instance's device, finished (synchronised) when it returns.
        with self.device.execute():
            items = [{n: None if x is None else move(x, self.placement, n in self.HOST_TENSORS)[0]
                      for n, x in it.items()}
                     for it in self.sample_items()]
            params = self.request_params({})
            for item in items:
                self.validate(item, params)
            for batch in self.warm_up_batches(items):
                self.compute_items(batch, params)

    def warm_up_batches(self, items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """The batches warm_up computes: the sample items, after, under
        WARM_EVERY_BATCH_SIZE, batches of max_batch_size..2 items made of them. Largest
        first: an arena that grows by what is asked (onnxruntime's kSameAsRequested) then
        grows once, to what the largest batch needs, and the smaller batches fit in it."""
        top = int(self.model_config.get("max_batch_size", 0)) if self.WARM_EVERY_BATCH_SIZE else 0
        return [(items * b)[:b] for b in range(top, 1, -1)] + [items]

    def request_params(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Config parameters with this request's overrides applied (overridable ones only).
        An ensemble passes every request parameter on to every step, so a step also checks
        the values of the other models' request parameters (REQUEST_PARAMETERS) and ignores
        only names no model of ours takes: a pipeline's first step refuses any bad value,
        before two steps of the request can run at once (a step that fails beside another
        can crash Triton 2.51: docs/pipelines.md, Triton behaviour). require_device may be
        tightened by a request, never relaxed."""
        params = dict(self.params)
        for name, value in overrides.items():
            p = self.PARAMETERS.get(name)
            mine = p is not None and p.overridable
            if not mine:
                p = OpModel.REQUEST_PARAMETERS.get(name)
                if p is None:
                    continue
            try:
                v = p.value(value)
            except ValueError as e:
                raise RequestError(f"request parameter {name}: {e}") from None
            if mine:
                params[name] = v
        if self.params["require_device"] == "gpu":
            params["require_device"] = "gpu"
        return params

    def parameters_of(self, raw: str) -> tuple[dict[str, Any], str]:
        """A request's parameters (its JSON, as Triton hands it over) applied to the config's,
        and a key that is equal for equal parameters. Parsed once per distinct text: most
        requests carry none, or the same few (a bounded cache; the result is read-only)."""
        hit = self._request_params.get(raw)
        if hit is None:
            try:
                overrides = json.loads(raw or "{}")
            except ValueError as e:
                raise RequestError(f"request parameters: not a JSON object ({e})") from None
            params = self.request_params(overrides if isinstance(overrides, dict) else {})
            hit = (params, json.dumps(params, sort_keys=True, default=str))
            if len(self._request_params) >= PARAMETER_CACHE:
                self._request_params.clear()
            self._request_params[raw] = hit
        return hit

    def _take_request(self, request: Any) -> tuple[dict[str, Any], str, list[dict[str, Any]], list]:
        """One request's parameters (and their key), per-item inputs, validated, then placed,
        and its host inputs as (pb_utils.Tensor, array) pairs (an output that is one of them
        is passed on, not copied: ``to_triton``)."""
        params, key = self.parameters_of(request.parameters())
        guard = params["require_device"] == "gpu"
        if guard and not self.placement.gpu:
            raise RequestError(f"the request asks require_device=gpu, but this "
                                 f"instance works on the CPU ({self.placement.why})")
        raw = request_inputs(request, self.shape_rules, self.INPUTS)
        tensors, absent, host = {}, {}, []
        for name, t in raw.items():
            if t is None:
                absent[name] = None  # an optional input the request leaves out
            else:
                tensors[name] = arr = from_triton(t)
                if not is_cupy(arr):
                    host.append((t, arr))
        n = int(next(iter(tensors.values())).shape[0])
        # Validate where the tensors arrived (shapes only): a refused request moves nothing.
        for j in range(n):
            self.validate({**absent, **{name: t[j] for name, t in tensors.items()}}, params)
        # One move per request tensor (a whole batch in one copy), then per-item views.
        placed = {name: self.placer.place_input(name, t, guard) for name, t in tensors.items()}
        return params, key, [{**absent, **{name: t[j] for name, t in placed.items()}}
                             for j in range(n)], host

    def execute(self, requests: list) -> list:
        import triton_python_backend_utils as pb_utils

        return self.serve(pb_utils, requests)

    def serve(self, pb_utils: Any, requests: list) -> list:
        """The responses to one execute's requests (pb_utils: Triton's module, or one with
        the same InferenceResponse and TritonError). On a GPU instance the device is
        synchronised before this returns, whatever happened (serving.device)."""
        responses: list = [None] * len(requests)
        groups: dict[str, tuple[dict, list[tuple[int, list, list]]]] = {}
        with self.device.execute():
            for i, request in enumerate(requests):
                try:
                    params, key, items, host = self._take_request(request)
                    groups.setdefault(key, (params, []))[1].append((i, items, host))
                except Exception as e:  # noqa: BLE001 - this request's own error
                    responses[i] = pb_utils.InferenceResponse(error=_error(pb_utils, self, e))
            for params, reqs in groups.values():
                self._respond(pb_utils, params, reqs, responses)
        return responses

    def finalize(self) -> None:
        """Triton unloads the instance: export the last counts."""
        placer = getattr(self, "placer", None)
        if placer is not None:
            placer.counters.close()

    def _respond(self, pb_utils: Any, params: dict[str, Any], reqs: list[tuple[int, list, list]],
                 responses: list) -> None:
        """One compute for a group of requests sharing parameters, and their responses. What
        only compute finds wrong with one item (a corrupt file behind a valid header) is an
        item error in its output: that request alone fails. ``reqs``: (index, items, host
        inputs) per request (_take_request)."""
        guard = params["require_device"] == "gpu"
        try:
            outs = self.compute_items([it for _, its, _ in reqs for it in its], params)
        except Exception as e:  # noqa: BLE001 - the whole group failed
            for i, _, _ in reqs:
                responses[i] = pb_utils.InferenceResponse(error=_error(pb_utils, self, e))
            return
        k = 0
        for i, its, inputs in reqs:
            try:
                failed = item_error(outs, self.OUTPUTS, k, len(its))
                if failed is not None:
                    raise failed
                responses[i] = pb_utils.InferenceResponse([
                    to_triton(pb_utils, n, self.placer.place_output(n, request_slice(outs[n], k, len(its)), guard),
                              inputs)
                    for n in self.OUTPUTS])
            except Exception as e:  # noqa: BLE001 - this request's outputs failed
                responses[i] = pb_utils.InferenceResponse(error=_error(pb_utils, self, e))
            k += len(its)


def item_error(outs: Mapping[str, Any], names: Sequence[str], start: int, n: int) -> Exception | None:
    """The first item error (an exception in an output list's place) of items
    start..start+n, or None."""
    for name in names:
        out = outs[name]
        if isinstance(out, (list, tuple)):
            for x in out[start:start + n]:
                if isinstance(x, Exception):
                    return x
    return None


def request_slice(out: Any, start: int, n: int) -> Any:
    """Items start..start+n of an op output as one (n, ...) array: a view of a batch array
    (contiguous, no copy), a view of a single list item, a stack only for several items
    of a variable-shape list. Files (1-D items of different lengths, encoded images) are
    zero-padded to the longest: a tensor has one length, and decoders stop at a file's end
    marker (docs/serving.md, Encoded images)."""
    if not isinstance(out, (list, tuple)):
        return out[start:start + n]
    if n == 1:
        return out[start][None]
    items = list(out[start:start + n])
    longest = max(int(i.shape[0]) for i in items)
    if all(i.ndim == 1 for i in items) and any(int(i.shape[0]) != longest for i in items):
        padded = np.zeros((n, longest), dtype=items[0].dtype)
        for row, i in zip(padded, items):
            row[:len(i)] = i
        return padded
    shapes = {tuple(i.shape) for i in items}
    if len(shapes) > 1:
        # A tensor has one shape: an ensemble's step cannot pass on one request's items of
        # different sizes (several files of one request that decode to different sizes).
        raise RequestError(f"the {n} items of this request have different shapes "
                           f"({', '.join(str(s) for s in sorted(shapes))}), which one tensor "
                           f"cannot hold: send them as separate requests (the server batches "
                           f"them)")
    return stack(items)


def device_scope(placement: Placement) -> Any:
    """The instance's CUDA device as the current one (nothing on the CPU)."""
    if not placement.gpu:
        return contextlib.nullcontext()
    import cupy
    return cupy.cuda.Device(placement.device_id)


def _error(pb_utils: Any, model: OpModel | str, e: Exception) -> Any:
    """The TritonError for one request: INVALID_ARG (HTTP 400 / gRPC INVALID_ARGUMENT) for
    what the client asked wrongly (RequestError), INTERNAL for the rest; the message starts
    with the step's name (a model, or its name)."""
    name = model if isinstance(model, str) else model.model_config.get("name", type(model).__name__)
    kind = "" if isinstance(e, (RequestError, PlacementError, ValueError, TypeError)) else f"{type(e).__name__}: "
    code = pb_utils.TritonError.INVALID_ARG if isinstance(e, RequestError) else pb_utils.TritonError.INTERNAL
    return pb_utils.TritonError(f"{name}: {kind}{e}", code)


class _HostCapsule:
    """A host tensor's DLPack capsule as the object np.from_dlpack takes. The 2.51 stub's
    own ``__dlpack__(stream)`` predates the versioned protocol: NumPy 2 first asks it with
    ``max_version``, pybind11 refuses that call with a TypeError (its message formatted
    with every signature), and NumPy asks again, for every input."""
    __slots__ = ("capsule",)

    def __init__(self, capsule: Any):
        self.capsule = capsule

    def __dlpack__(self, **_: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU


def from_triton(tensor: Any) -> Any:
    """A request tensor as a NumPy (host) or CuPy (device) array, zero copy, through DLPack.

    DLPack on the host too: the 2.51 stub's ``as_numpy`` is built with a pybind11 that
    predates NumPy 2 and hands out empty arrays under it (docs/serving.md); DLPack goes
    around the stub's NumPy API entirely."""
    if tensor.is_cpu():
        return np.from_dlpack(_HostCapsule(tensor.to_dlpack()))
    import cupy
    return cupy.from_dlpack(tensor)


# NumPy's capsule deleter does not know the name the stub gives a consumed capsule
# ("used_dlpack") and reports a ValueError on stderr for every host output; renaming the
# capsule to NumPy's own "used_dltensor" after the hand-off silences it. The stub
# owns the memory from then on (it calls the DLPack deleter itself).
_set_capsule_name = ctypes.pythonapi.PyCapsule_SetName
_set_capsule_name.argtypes = [ctypes.py_object, ctypes.c_char_p]
_USED_CAPSULE = b"used_dltensor"  # module-level: the name must outlive every capsule


def to_triton(pb_utils: Any, name: str, value: Any, inputs: Sequence[tuple[Any, Any]] = ()) -> Any:
    """An output array as a Triton tensor through DLPack, staying where it is. ``inputs``:
    the request's host inputs as (pb_utils.Tensor, array): an output that is the whole of
    one of them is that tensor, passed on as Triton's examples do (no copy, and the stub
    need not place a new one in shared memory)."""
    if is_cupy(value):
        import cupy
        # The array itself, not a capsule: the stub then passes its stream to __dlpack__
        # and synchronises, and CuPy 14's toDlpack() capsules are versioned, which the 2.51
        # stub misreads.
        return pb_utils.Tensor.from_dlpack(name, cupy.ascontiguousarray(value))
    arr = np.ascontiguousarray(value)
    if not arr.flags.writeable:
        # NumPy marks what it imports through DLPack read-only (a request's input, or a view
        # of one) and refuses to export it again.
        where = arr.__array_interface__["data"][0]
        for tensor, a in inputs:
            if a.shape == arr.shape and a.dtype == arr.dtype and a.__array_interface__["data"][0] == where:
                return pb_utils.Tensor.from_dlpack(name, tensor.to_dlpack())
        arr = arr.copy()
    capsule = arr.__dlpack__()
    tensor = pb_utils.Tensor.from_dlpack(name, capsule)
    _set_capsule_name(capsule, _USED_CAPSULE)
    return tensor
