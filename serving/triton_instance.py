"""The Triton side of an operator model: load (configure, place once, warm up), then serve
each ``execute`` — requests read and validated one by one, one compute per group of
requests with equal parameters, one response per request, the device synchronised on every
way out. ``OpModel`` (serving/base.py) inherits it; its methods use OpModel's declaration
(INPUTS, OUTPUTS, PARAMETERS, ...) and its operator (validate, compute_items)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ops.arrays import is_cupy

from .device import POOL_METRIC, POOL_METRIC_HELP, PoolGauges
from .dlpack import from_triton, to_triton
from .items import item_error, request_slice
from .malloc import apply_stub_settings
from .metrics import metric_family
from .placement import (METRIC_HELP, METRIC_NAME, PlacementCounters, PlacementError, Placer,
                        decide, move)
from .requests import RequestError, request_inputs, triton_error


class TritonInstance:
    """Triton's Python-model interface (initialize, execute, finalize) over an OpModel."""

    def initialize(self, args: Mapping[str, str]) -> None:
        """Configure, decide the placement once, load, and on a GPU compile and warm the
        kernels on the instance's device so no request pays for it.

        Args:
            args: what Triton hands a Python model (``model_config`` JSON,
                ``model_instance_kind``, ``model_instance_device_id``, ...).
        Raises:
            ValueError: a config parameter is unknown or out of range.
            PlacementError: require_device=gpu on an instance that works on the CPU.
        """
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
                             PlacementCounters(self.name, instance,
                                               metric_family(pb_utils, METRIC_NAME, METRIC_HELP, "COUNTER")),
                             self.HOST_TENSORS, self.ENTRY_INPUTS)
        if self.placement.gpu:
            self.placer.counters.extra_exports.append(
                PoolGauges(self.device, metric_family(pb_utils, POOL_METRIC, POOL_METRIC_HELP, "GAUGE"),
                           self.name, instance).flush)
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
        grows once, to what the largest batch needs, and the smaller batches fit in it.

        Args:
            items: the sample items (sample_items, placed).
        Returns:
            The batches, each a list of per-item input dicts.
        """
        top = int(self.model_config.get("max_batch_size", 0)) if self.WARM_EVERY_BATCH_SIZE else 0
        return [(items * b)[:b] for b in range(top, 1, -1)] + [items]

    def _read_request(self, request: Any) -> tuple[dict[str, Any], str, list[dict[str, Any]], list]:
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
        """Triton's entry for a batch of requests: ``serve`` with Triton's module.

        Args:
            requests: the execute's ``pb_utils.InferenceRequest`` objects.
        Returns:
            One ``pb_utils.InferenceResponse`` per request, in order: its outputs, or its own
            error.
        Raises:
            Exception: only a failed synchronisation of the device (``serve``).
        """
        import triton_python_backend_utils as pb_utils

        return self.serve(pb_utils, requests)

    def serve(self, pb_utils: Any, requests: list) -> list:
        """The responses to one execute's requests. On a GPU instance the device is
        synchronised before this returns, whatever happened (serving.device).

        Args:
            pb_utils: Triton's module, or one with the same InferenceResponse, Tensor and
                TritonError.
            requests: the execute's ``pb_utils.InferenceRequest`` objects.
        Returns:
            One InferenceResponse per request, in order: its outputs, or its own error
            (triton_error); a failing request never fails the others.
        Raises:
            Exception: only a failed synchronisation of the device (a sticky CUDA error),
                which Triton answers for every request of the execute.
        """
        responses: list = [None] * len(requests)
        groups: dict[str, tuple[dict, list[tuple[int, list, list]]]] = {}
        with self.device.execute():
            for i, request in enumerate(requests):
                try:
                    params, key, items, host = self._read_request(request)
                    groups.setdefault(key, (params, []))[1].append((i, items, host))
                except Exception as e:  # noqa: BLE001 - this request's own error
                    responses[i] = pb_utils.InferenceResponse(error=triton_error(pb_utils, self, e))
            for params, reqs in groups.values():
                self._respond_to_group(pb_utils, params, reqs, responses)
        return responses

    def finalize(self) -> None:
        """Triton unloads the instance: export the last counts."""
        placer = getattr(self, "placer", None)
        if placer is not None:
            placer.counters.close()

    def _respond_to_group(self, pb_utils: Any, params: dict[str, Any],
                          reqs: list[tuple[int, list, list]], responses: list) -> None:
        """One compute for a group of requests sharing parameters, and their responses. What
        only compute finds wrong with one item (a corrupt file behind a valid header) is an
        item error in its output: that request alone fails. ``reqs``: (index, items, host
        inputs) per request (_read_request)."""
        guard = params["require_device"] == "gpu"
        try:
            outs = self.compute_items([it for _, its, _ in reqs for it in its], params)
        except Exception as e:  # noqa: BLE001 - the whole group failed
            for i, _, _ in reqs:
                responses[i] = pb_utils.InferenceResponse(error=triton_error(pb_utils, self, e))
            return
        k = 0
        for i, its, inputs in reqs:
            try:
                failed = item_error(outs, self.OUTPUTS, k, len(its))
                if failed is not None:
                    raise failed
                responses[i] = pb_utils.InferenceResponse([
                    to_triton(pb_utils, n,
                              self.placer.place_output(n, request_slice(outs[n], k, len(its)), guard),
                              inputs)
                    for n in self.OUTPUTS])
            except Exception as e:  # noqa: BLE001 - this request's outputs failed
                responses[i] = pb_utils.InferenceResponse(error=triton_error(pb_utils, self, e))
            k += len(its)
