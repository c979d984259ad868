"""The step that hands a pipeline output on twice: to the client, and to the steps that read it.

Triton prunes an ensemble step whose outputs a request does not ask for, even when a later
step reads one of them (ensemble_scheduler.cc, from 2.51 to the r26.06 sources): an ensemble
output that a later step also reads deadlocks every request that leaves it out. So a
pipeline never makes a step's output both (``python -m serving.pipeline generate`` rewrites
it, serving/pipeline/ensemble.py): the producing step writes an internal tensor, the tee reads
it and gives it back twice, as the ensemble output (OUTPUT) and as the internal tensor the
later steps read (INTERNAL). A request that leaves the output out still runs the tee (the
later steps need INTERNAL); one that asks only for the output prunes the later steps.

The tee sits in the chain, not beside it: two steps of one request running at once can
crash Triton 2.51 when one of them fails (docs/pipelines.md), so it adds no such pair.

Not an OpModel: there is nothing to place, validate or compute. The tensor leaves as it
arrived (host or device memory, the DLPack hand-off of Triton's own examples); only its
declared shape is held to the limits of every model of ours before it is touched.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from .requests import MAX_ITEM_VALUES, ShapeRules, request_inputs, triton_error

INPUT, OUTPUT, INTERNAL = "INPUT", "OUTPUT", "INTERNAL"


class TeeModel:
    """INPUT -> OUTPUT and INTERNAL, the same tensor (a config per pipeline output: its
    dtype and dims)."""

    PARAMETERS: Mapping[str, Any] = {}

    def initialize(self, args: Mapping[str, str]) -> None:
        """Read the config: the model's name and the limits on INPUT's shape.

        Args:
            args: what Triton hands a Python model (``model_config`` JSON, ...).
        """
        config = json.loads(args["model_config"])
        self.name = config.get("name", "tee")
        # A file or a flat tensor may be longer than MAX_SIDE: the bound is the values.
        self.rules = ShapeRules(config, {INPUT: MAX_ITEM_VALUES})

    def execute(self, requests: list) -> list:
        """Each request's INPUT handed back as OUTPUT and INTERNAL, zero copy (DLPack).

        Args:
            requests: the execute's ``pb_utils.InferenceRequest`` objects, one INPUT each
                (the config's dtype and dims, host or device memory).
        Returns:
            One InferenceResponse per request, in order: OUTPUT and INTERNAL, the same tensor
            where it arrived, or the request's own error (triton_error), e.g. a shape over
            the limits.
        """
        import triton_python_backend_utils as pb_utils

        responses = []
        for request in requests:
            try:
                tensor = request_inputs(request, self.rules, (INPUT,))[INPUT]
                responses.append(pb_utils.InferenceResponse(
                    [pb_utils.Tensor.from_dlpack(name, tensor.to_dlpack()) for name in (OUTPUT, INTERNAL)]))
            except Exception as e:  # noqa: BLE001 - this request's own error
                responses.append(pb_utils.InferenceResponse(error=triton_error(pb_utils, self.name, e)))
        return responses
