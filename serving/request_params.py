"""A request's parameters applied to a model's config parameters, and the bounded cache
that parses each distinct parameter text of a model's requests once.

An ensemble passes every request parameter on to every step, so a step also checks the
values of the other models' request parameters and ignores only names no model of ours
takes: a pipeline's first step refuses any bad value, before two steps of the request can
run at once (a step that fails beside another can crash Triton 2.51: docs/pipelines.md,
Triton behaviour).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from .params import Param
from .requests import RequestError

# Distinct request-parameter texts an instance keeps parsed (RequestParamsCache).
PARAMETER_CACHE = 64


def apply_overrides(config: Mapping[str, Any], own: Mapping[str, Param],
                    known: Mapping[str, Param], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A model's config parameters with a request's overrides applied.

    Args:
        config: the model's typed config parameters.
        own: the model's Param declarations; only its overridable ones are applied.
        known: every request parameter of every model of ours (checked, not applied, when
            it is not the model's own).
        overrides: the request's parameters, name -> JSON value (a string, number or bool).
    Returns:
        A new dict: ``config`` with the model's own overridable parameters replaced.
    Raises:
        RequestError: a value its Param refuses, naming the parameter.
    """
    params = dict(config)
    for name, value in overrides.items():
        p = own.get(name)
        mine = p is not None and p.overridable
        if not mine:
            p = known.get(name)
            if p is None:
                continue
        try:
            v = p.value(value)
        except ValueError as e:
            raise RequestError(f"request parameter {name}: {e}") from None
        if mine:
            params[name] = v
    return params


class RequestParamsCache:
    """Request parameter texts (JSON, as Triton hands them over) parsed once each: most
    requests carry none, or the same few. Bounded (PARAMETER_CACHE texts, then emptied): a
    client sending ever new texts cannot grow it."""

    def __init__(self, resolve: Callable[[Mapping[str, Any]], dict[str, Any]],
                 size: int = PARAMETER_CACHE):
        self.resolve = resolve  # overrides -> the request's parameters (OpModel.request_params)
        self.size = size
        self._parsed: dict[str, tuple[dict[str, Any], str]] = {}

    def __len__(self) -> int:
        return len(self._parsed)

    def get(self, raw: str) -> tuple[dict[str, Any], str]:
        """The parameters of a request's text.

        Args:
            raw: the request's parameters as JSON text ("" for none).
        Returns:
            (resolve of the JSON object, a key equal for equal parameters: them as sorted
            JSON); read-only, shared by every request with the same text.
        Raises:
            RequestError: ``raw`` is not JSON, or what ``resolve`` raises.
        """
        hit = self._parsed.get(raw)
        if hit is None:
            try:
                overrides = json.loads(raw or "{}")
            except ValueError as e:
                raise RequestError(f"request parameters: not a JSON object ({e})") from None
            params = self.resolve(overrides if isinstance(overrides, dict) else {})
            hit = (params, json.dumps(params, sort_keys=True, default=str))
            if len(self._parsed) >= self.size:
                self._parsed.clear()
            self._parsed[raw] = hit
        return hit
