"""The base class of every operator model (Triton Python backend).

A subclass declares its inputs, outputs and config parameters and implements
``compute``: arrays in, arrays out, no Triton inside. The base class (with the Triton side
it inherits, serving/triton_instance.py) does the Triton part:

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

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .contract import Contract
from .device import MIB, DeviceGuard, device_scope
from .items import as_items, item_error
from .params import Param, integer, options, parse_all
from .placement import Placement
from .request_params import RequestParamsCache, apply_overrides
from .requests import DTYPES, ShapeRules
from .triton_instance import TritonInstance

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


# Placement outside Triton (tests, the steps inside a fused model before it places them).
OUTSIDE_TRITON = Placement(False, 0, "outside Triton")


class OpModel(TritonInstance):
    """Subclass and set CONTRACT (serving.contract: tensors, batching; INPUTS and OUTPUTS are
    its tensor names) and PARAMETERS; implement compute (and validate). The two are the
    model's whole config.pbtxt, which ``python -m serving.pipeline generate`` writes.

    HOST_TENSORS are small, host-decided inputs/outputs (sizes, ROIs, encoded files) that
    stay on the host on every instance; an input the config declares ``optional`` reaches
    validate and compute as None when a request leaves it out; ENTRY_INPUTS may arrive in
    host memory even under require_device=gpu (the pipeline's entry, where a client's frame
    is uploaded once)."""

    CONTRACT: Contract | None = None  # None: the config comes from elsewhere (a fused model)
    INPUTS: tuple[str, ...] = ()
    OUTPUTS: tuple[str, ...] = ()
    PARAMETERS: Mapping[str, Param] = {}
    HOST_TENSORS: frozenset[str] = frozenset()
    ENTRY_INPUTS: frozenset[str] = frozenset()
    # Limits other than MAX_SIDE on an input's variable dims (serving.requests.ShapeRules).
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
        """Typed parameters from config strings.

        Args:
            raw: parameter name -> config string; an absent one takes its default.
            where: what the strings come from, for the messages.
        Returns:
            Every parameter of the class by name, typed (serving.params).
        Raises:
            ValueError: an unknown name, or a value outside its parameter's range.
        """
        return parse_all(cls.PARAMETERS, raw, f"{cls.__name__} {where}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], model_dir: Path | None = None,
                    placement: Placement = OUTSIDE_TRITON) -> "OpModel":
        """An instance outside Triton (fused models, tests).

        Args:
            config: the model config as a dict (Triton's JSON form).
            model_dir: the model's folder (the one holding 1/), None outside a repository.
            placement: where the instance works.
        Returns:
            The configured instance (setup done, no Triton metrics).
        Raises:
            ValueError: a config parameter is unknown or out of range; what setup raises.
        """
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
        self._request_params = RequestParamsCache(self.request_params)
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
        """Raise RequestError for one unusable request item (override).

        Args:
            item: input name -> one item's array (a row of its request's (N, ...) tensor,
                NumPy or CuPy where it arrived: check shapes, not values), or None for an
                optional input the request leaves out.
            params: the request's typed parameters (request_params).
        Raises:
            RequestError: the item is unusable; its request alone fails, nothing is moved.
        """

    def compute(self, inputs: Mapping[str, list], params: Mapping[str, Any]) -> dict[str, Any]:
        """All items of a group of requests -> per output, an (N, ...) array or a list of N
        per-item arrays (override). An item that fails on its own (a file only the decoder
        finds corrupt) may be a RequestError in a list's place: its request alone fails.

        Args:
            inputs: input name (every one of INPUTS) -> a list of N per-item arrays, the
                requests' items in order, placed where the instance works (CuPy on a GPU
                instance's device, NumPy on the CPU; HOST_TENSORS always NumPy), None for an
                optional input an item lacks.
            params: the group's typed parameters (request_params), shared by all N items.
        Returns:
            Output name (every one of OUTPUTS) -> an (N, ...) array or a list of N per-item
            arrays (or RequestErrors).
        Raises:
            NotImplementedError: a subclass that does not implement it. What an override
                raises fails every request of the group.
        """
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
        """compute() over per-item inputs.

        Args:
            items: per item, input name -> array (an input an item lacks, an optional one
                a fused step does not map, is None).
            params: the request's parameters (request_params).
        Returns:
            Output name -> an (N, ...) array or a list of N items, as compute returns it.
        """
        return self.compute({n: [it.get(n) for it in items] for n in self.INPUTS}, params)

    def run_items(self, items: list[dict[str, Any]], params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """compute() over per-item inputs, with per-item outputs.

        Args:
            items, params: as compute_items.
        Returns:
            Per item, output name -> array.
        Raises:
            Exception: the first item error in the outputs (item_error), or what compute
                raised.
        """
        outs = self.compute_items(items, params)
        failed = item_error(outs, self.OUTPUTS, 0, len(items))
        if failed is not None:
            raise failed
        lists = {n: as_items(outs[n]) for n in self.OUTPUTS}
        return [{n: lists[n][k] for n in self.OUTPUTS} for k in range(len(items))]

    def request_params(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Config parameters with this request's overrides applied (overridable ones only),
        the values of every model's request parameters checked (serving.request_params).
        require_device may be tightened by a request, never relaxed.

        Args:
            overrides: the request's parameters, name -> JSON value.
        Returns:
            The typed parameters this request computes with.
        Raises:
            RequestError: a value any model of ours would refuse for that name.
        """
        params = apply_overrides(self.params, self.PARAMETERS, OpModel.REQUEST_PARAMETERS, overrides)
        if self.params["require_device"] == "gpu":
            params["require_device"] = "gpu"
        return params

    def parameters_of(self, raw: str) -> tuple[dict[str, Any], str]:
        """A request's parameter text applied to the config's, parsed once per distinct text
        (RequestParamsCache.get).

        Args:
            raw: the request's parameters, a JSON object as text ("" for none).
        Returns:
            (the typed parameters the request computes with, as request_params returns them;
            a key, equal for equal parameters, that groups requests for one compute).
        Raises:
            RequestError: ``raw`` is not JSON, or a value request_params refuses.
        """
        return self._request_params.get(raw)
